//! The mempool: unconfirmed transactions waiting for a block.
//!
//! Policy: a transaction spends only confirmed coins; the first transaction seen to spend a
//! coin wins and later conflicting ones are rejected; signatures are verified one by one on
//! entry (latency matters more than throughput here). The pool is bounded in bytes; when
//! full, the entries with the lowest fee rate are evicted; a newcomer that cannot make room
//! by evicting only entries of a lower rate is refused and evicts nothing. Fee rate is a
//! ranking policy, not consensus: base units of fee summed over the three assets, per 1,000
//! bytes. The relay policy ([`MempoolPolicy`]: minimum fee rate, dust, output keys) decides
//! what may enter at all.

use crate::chainstate::{ChainUpdate, Chainstate};
use crate::error::ChainError;
use crate::validation::signatures::{collect_tx_checks, verify_all};
use crate::validation::{context, isolation, utxo, ValidationError};
use crate::workers::Workers;
use parthenon_primitives::{AssetAmounts, Block, OutPoint, Transaction, TxOut, Txid};
use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

mod policy;

pub use policy::{
    MempoolPolicy, PolicyError, DEFAULT_DUST_THRESHOLD, DEFAULT_MIN_FEE_RATE, KEY_OUTPUT_BYTES,
    SPEND_INPUT_BYTES,
};

/// Default mempool size limit in bytes.
pub const DEFAULT_MEMPOOL_BYTES: usize = 64 * 1024 * 1024;
/// Largest transaction the mempool accepts (a tenth of a block).
pub const MAX_STANDARD_TX_SIZE: usize = 400_000;

/// Why a transaction was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum MempoolError {
    /// It breaks a consensus rule.
    #[error("invalid transaction: {0}")]
    Invalid(Box<ValidationError>),
    /// Already in the pool.
    #[error("transaction {0} is already in the mempool")]
    AlreadyKnown(Txid),
    /// Spends a coin that an earlier mempool transaction spends (first seen wins).
    #[error("transaction {txid} double-spends {outpoint}, already spent by mempool transaction {existing}")]
    Conflict {
        /// The rejected transaction.
        txid: Txid,
        /// The coin both spend.
        outpoint: OutPoint,
        /// The transaction that spent it first.
        existing: Txid,
    },
    /// Larger than [`MAX_STANDARD_TX_SIZE`] or than the whole pool.
    #[error("transaction is {size} bytes, more than the mempool limit {max}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The pool is full of transactions paying at least as much.
    #[error("mempool full: fee rate {rate} is not above the lowest in the pool ({lowest})")]
    Full {
        /// The newcomer's rate.
        rate: u64,
        /// The lowest rate held that the newcomer does not beat.
        lowest: u64,
    },
    /// Valid, but breaks this node's relay policy.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// Reading the chainstate failed.
    #[error(transparent)]
    Chain(Box<ChainError>),
}

impl From<ValidationError> for MempoolError {
    fn from(e: ValidationError) -> Self {
        MempoolError::Invalid(Box::new(e))
    }
}

impl From<ChainError> for MempoolError {
    fn from(e: ChainError) -> Self {
        MempoolError::Chain(Box::new(e))
    }
}

/// Whether a transaction that passes every check enters the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admission {
    /// Add it (evicting lower fee rates if the pool is full).
    Add,
    /// Only report whether it would be added.
    CheckOnly,
}

/// One transaction in the pool.
#[derive(Debug, Clone)]
pub struct MempoolEntry {
    /// The transaction.
    pub tx: Arc<Transaction>,
    /// Its id.
    pub txid: Txid,
    /// Fee per asset.
    pub fee: AssetAmounts,
    /// Encoded size.
    pub size: usize,
    /// Fee units per 1,000 bytes (ranking policy).
    pub fee_rate: u64,
    seq: u64,
}

/// The mempool.
#[derive(Debug)]
pub struct Mempool {
    entries: HashMap<Txid, MempoolEntry>,
    spends: HashMap<OutPoint, Txid>,
    by_rate: BTreeSet<(u64, Reverse<u64>, Txid)>,
    bytes: usize,
    max_bytes: usize,
    next_seq: u64,
    policy: MempoolPolicy,
}

impl Mempool {
    /// An empty pool of at most `max_bytes` with the default relay policy.
    pub fn new(max_bytes: usize) -> Self {
        Self::with_policy(max_bytes, MempoolPolicy::default())
    }

    /// An empty pool of at most `max_bytes` admitting what `policy` allows.
    pub fn with_policy(max_bytes: usize, policy: MempoolPolicy) -> Self {
        Mempool {
            entries: HashMap::new(),
            spends: HashMap::new(),
            by_rate: BTreeSet::new(),
            bytes: 0,
            max_bytes,
            next_seq: 0,
            policy,
        }
    }

    /// The relay policy.
    pub fn policy(&self) -> &MempoolPolicy {
        &self.policy
    }

    /// Number of transactions.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Total encoded bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The size limit in bytes.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Whether `txid` is held.
    pub fn contains(&self, txid: &Txid) -> bool {
        self.entries.contains_key(txid)
    }

    /// The entry of `txid`.
    pub fn get(&self, txid: &Txid) -> Option<&MempoolEntry> {
        self.entries.get(txid)
    }

    /// The mempool transaction spending `outpoint`, if any.
    pub fn spender_of(&self, outpoint: &OutPoint) -> Option<Txid> {
        self.spends.get(outpoint).copied()
    }

    /// All txids, highest fee rate first.
    pub fn txids(&self) -> Vec<Txid> {
        self.by_rate.iter().rev().map(|(_, _, t)| *t).collect()
    }

    /// Validates `tx` against the chain tip and adds it.
    pub fn accept(&mut self, tx: Transaction, chain: &Chainstate) -> Result<Txid, MempoolError> {
        self.admit(tx, chain, Admission::Add).map(|(txid, _)| txid)
    }

    /// Runs every check [`Mempool::accept`] runs (consensus, policy, conflicts, room in a full
    /// pool) without adding `tx` or evicting anything: `testmempoolaccept`. Its outcome is
    /// what `accept` would return now; on success, the txid and the fee paid per asset. Valid
    /// signatures are remembered in the signature cache, as `accept` does.
    pub fn test_accept(
        &mut self,
        tx: Transaction,
        chain: &Chainstate,
    ) -> Result<(Txid, AssetAmounts), MempoolError> {
        self.admit(tx, chain, Admission::CheckOnly)
    }

    /// [`Mempool::accept`] or [`Mempool::test_accept`]: the txid and fee per asset.
    fn admit(
        &mut self,
        tx: Transaction,
        chain: &Chainstate,
        admission: Admission,
    ) -> Result<(Txid, AssetAmounts), MempoolError> {
        let txid = tx.txid();
        if self.entries.contains_key(&txid) {
            return Err(MempoolError::AlreadyKnown(txid));
        }
        if tx.is_coinbase() {
            return Err(ValidationError::LooseCoinbase.into());
        }
        isolation::check_transaction(&tx)?;
        // Lock time as the next block will judge it (Bitcoin Core's rule for its mempool).
        let next = chain.next_block_context();
        context::check_final(&tx, txid, next.height, next.median_time_past)?;
        let size = tx.encoded_len();
        let max_size = MAX_STANDARD_TX_SIZE.min(self.max_bytes);
        if size > max_size {
            return Err(MempoolError::TooLarge {
                size,
                max: max_size,
            });
        }
        self.policy.check_outputs(&tx)?;
        for i in &tx.inputs {
            if let Some(existing) = self.spends.get(&i.prevout) {
                return Err(MempoolError::Conflict {
                    txid,
                    outpoint: i.prevout,
                    existing: *existing,
                });
            }
        }
        let mut coins = Vec::with_capacity(tx.inputs.len());
        for (input, i) in tx.inputs.iter().enumerate() {
            let coin = chain
                .coin(&i.prevout)?
                .ok_or(ValidationError::MissingInput {
                    txid,
                    input,
                    outpoint: i.prevout,
                })?;
            coins.push(coin);
        }
        let fee =
            utxo::check_tx_against_coins(&tx, txid, &coins, chain.height() + 1, chain.params())?;
        self.policy.check_fee(&fee, size)?;
        let spent: Vec<&TxOut> = coins.iter().map(|c| &c.output).collect();
        let mut checks = Vec::with_capacity(tx.inputs.len());
        collect_tx_checks(&chain.genesis_hash(), &tx, txid, 0, &spent, &mut checks)?;
        verify_all(&checks, &Workers::inline())?;
        for c in &checks {
            chain.sig_cache().insert(&c.pubkey, &c.msg, &c.sig);
        }

        let fee_rate =
            (fee.total_units().saturating_mul(1000) / size as u128).min(u64::MAX as u128) as u64;
        // Choose the victims before evicting any: a newcomer that cannot make room by
        // displacing lower-rate entries only is refused and the pool is left untouched.
        let mut victims = Vec::new();
        let mut freed = 0;
        for &(rate, _, victim) in &self.by_rate {
            if self.bytes - freed + size <= self.max_bytes {
                break;
            }
            if rate >= fee_rate {
                return Err(MempoolError::Full {
                    rate: fee_rate,
                    lowest: rate,
                });
            }
            freed += self.entries[&victim].size;
            victims.push(victim);
        }
        if admission == Admission::CheckOnly {
            return Ok((txid, fee));
        }
        for victim in victims {
            tracing::debug!(%victim, "evicting lowest fee-rate transaction");
            self.remove(&victim);
        }
        self.next_seq += 1;
        for i in &tx.inputs {
            self.spends.insert(i.prevout, txid);
        }
        self.by_rate
            .insert((fee_rate, Reverse(self.next_seq), txid));
        self.bytes += size;
        self.entries.insert(
            txid,
            MempoolEntry {
                tx: Arc::new(tx),
                txid,
                fee,
                size,
                fee_rate,
                seq: self.next_seq,
            },
        );
        Ok((txid, fee))
    }

    /// Removes a transaction; returns it if it was held.
    pub fn remove(&mut self, txid: &Txid) -> Option<MempoolEntry> {
        let e = self.entries.remove(txid)?;
        for i in &e.tx.inputs {
            self.spends.remove(&i.prevout);
        }
        self.by_rate.remove(&(e.fee_rate, Reverse(e.seq), e.txid));
        self.bytes -= e.size;
        Some(e)
    }

    /// Removes what `block` confirms and whatever conflicts with it.
    pub fn remove_for_block(&mut self, block: &Block) {
        for tx in &block.txs {
            self.remove(&tx.txid());
            for i in &tx.inputs {
                if let Some(conflict) = self.spends.get(&i.prevout).copied() {
                    self.remove(&conflict);
                }
            }
        }
    }

    /// Brings the pool in line with a chain update: transactions of disconnected blocks come
    /// back (when still valid), confirmed and conflicting ones leave, and after a reorg every
    /// entry is re-checked against the new tip.
    pub fn apply_chain_update(&mut self, update: &ChainUpdate, chain: &Chainstate) {
        for b in &update.connected {
            self.remove_for_block(&b.0);
        }
        if update.disconnected.is_empty() {
            return;
        }
        self.revalidate(chain);
        for b in &update.disconnected {
            for tx in b.txs.iter().skip(1) {
                if let Err(e) = self.accept(tx.clone(), chain) {
                    tracing::debug!(txid = %tx.txid(), error = %e, "disconnected transaction not returned to the mempool");
                }
            }
        }
    }

    /// Drops entries whose inputs are no longer unspent coins or no longer mature, and
    /// entries no longer final (a reorganisation to a shorter or earlier-dated chain).
    pub fn revalidate(&mut self, chain: &Chainstate) {
        let next = chain.next_block_context();
        let all: Vec<Txid> = self.entries.keys().copied().collect();
        for txid in all {
            let Some(e) = self.entries.get(&txid) else {
                continue;
            };
            let tx = e.tx.clone();
            let mut coins = Vec::with_capacity(tx.inputs.len());
            let mut ok = true;
            for i in &tx.inputs {
                match chain.coin(&i.prevout) {
                    Ok(Some(c)) => coins.push(c),
                    _ => {
                        ok = false;
                        break;
                    }
                }
            }
            ok = ok
                && tx.is_final(next.height, next.median_time_past)
                && utxo::check_tx_against_coins(
                    &tx,
                    txid,
                    &coins,
                    chain.height() + 1,
                    chain.params(),
                )
                .is_ok();
            if !ok {
                self.remove(&txid);
            }
        }
    }

    /// Transactions for a block, highest fee rate first, within `max_bytes`, with their
    /// summed fees.
    pub fn select_for_block(&self, max_bytes: usize) -> (Vec<Arc<Transaction>>, AssetAmounts) {
        let mut out = Vec::new();
        let mut fees = AssetAmounts::default();
        let mut used = 0;
        for (_, _, txid) in self.by_rate.iter().rev() {
            let e = &self.entries[txid];
            if used + e.size > max_bytes {
                continue;
            }
            let Some(f) = fees.checked_add_all(&e.fee) else {
                continue;
            };
            fees = f;
            used += e.size;
            out.push(e.tx.clone());
        }
        (out, fees)
    }
}
