//! Block and transaction validation in stages, each rule a small named `check_*` function
//! with its own [`ValidationError`] variant:
//!
//! 1. [`isolation`]: what a block or transaction must satisfy on its own (proof of work,
//!    size, coinbase placement, merkle root, amounts, key and signature shapes);
//! 2. [`context`]: what a block must satisfy given its ancestors (difficulty, timestamps,
//!    the time-warp bound, the coinbase's height commitment, transactions' lock times);
//! 3. [`utxo`]: what transactions must satisfy against the coins they spend (existence,
//!    maturity, per-asset conservation, the coinbase's claim);
//! 4. [`signatures`]: the BIP-340 signature of every input, checked in parallel last because
//!    it is the most expensive stage.

pub mod context;
pub mod isolation;
pub mod signatures;
pub mod utxo;

use parthenon_primitives::pow::PowError;
use parthenon_primitives::{Asset, Hash256, OutPoint, Txid};

/// A consensus rule that a block or transaction breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// Header proof of work or target is wrong.
    #[error("proof of work: {0}")]
    BadProofOfWork(#[from] PowError),
    /// Serialized block too large.
    #[error("block is {size} bytes, more than the maximum {max}")]
    BlockTooLarge {
        /// Size in bytes.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A block without transactions.
    #[error("block has no transactions")]
    NoTransactions,
    /// The first transaction is not a coinbase.
    #[error("the first transaction is not a coinbase")]
    FirstNotCoinbase,
    /// A coinbase other than the first transaction.
    #[error("transaction {index} is a second coinbase")]
    ExtraCoinbase {
        /// Its position in the block.
        index: usize,
    },
    /// The header's merkle root does not match the transactions.
    #[error("merkle root does not match the block's transactions")]
    BadMerkleRoot,
    /// The same transaction twice in a block.
    #[error("transaction {txid} appears twice in the block")]
    DuplicateTransaction {
        /// Its id.
        txid: Txid,
    },
    /// A transaction without inputs.
    #[error("transaction {txid} has no inputs")]
    NoInputs {
        /// The transaction.
        txid: Txid,
    },
    /// A transaction without outputs.
    #[error("transaction {txid} has no outputs")]
    NoOutputs {
        /// The transaction.
        txid: Txid,
    },
    /// An output above the asset's cap.
    #[error("output {vout} of {txid} pays {amount} {asset} base units, more than the cap {max}")]
    OutputTooLarge {
        /// The transaction.
        txid: Txid,
        /// Output index.
        vout: u32,
        /// Its asset.
        asset: Asset,
        /// Its amount.
        amount: u64,
        /// The cap.
        max: u64,
    },
    /// The outputs of one asset sum above the asset's cap.
    #[error("outputs of {txid} sum above the {asset} cap")]
    OutputTotalTooLarge {
        /// The transaction.
        txid: Txid,
        /// The asset.
        asset: Asset,
    },
    /// An output script that is not a 32-byte key.
    #[error("output {vout} of {txid} has a {len}-byte script; a script is one 32-byte x-only key")]
    BadOutputScript {
        /// The transaction.
        txid: Txid,
        /// Output index.
        vout: u32,
        /// Script length.
        len: usize,
    },
    /// One transaction spends the same coin twice.
    #[error("transaction {txid} spends {outpoint} twice")]
    DuplicateInput {
        /// The transaction.
        txid: Txid,
        /// The coin.
        outpoint: OutPoint,
    },
    /// A non-coinbase input names the null outpoint.
    #[error("transaction {txid} input {input} names the coinbase null outpoint")]
    NullPrevout {
        /// The transaction.
        txid: Txid,
        /// Input index.
        input: usize,
    },
    /// A spend whose signature field is not 64 bytes.
    #[error("transaction {txid} input {input} has a {len}-byte signature; BIP-340 signatures are 64 bytes")]
    BadSignatureLength {
        /// The transaction.
        txid: Txid,
        /// Input index.
        input: usize,
        /// Its length.
        len: usize,
    },
    /// Coinbase data too long.
    #[error("coinbase data is {len} bytes, more than {max}")]
    CoinbaseDataTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The coinbase's lock time does not commit to the block height.
    #[error("coinbase lock_time {lock_time} must equal the block height {height}")]
    BadCoinbaseHeight {
        /// What the coinbase says.
        lock_time: u32,
        /// The block's height.
        height: u32,
    },
    /// The parent block is invalid.
    #[error("parent block {parent} is invalid")]
    InvalidParent {
        /// The parent.
        parent: Hash256,
    },
    /// The header's target is not the one the chain requires here.
    #[error("difficulty bits {got:#010x}, expected {expected:#010x}")]
    BadDifficulty {
        /// The header's bits.
        got: u32,
        /// The required bits.
        expected: u32,
    },
    /// The timestamp is not after the median of the last 11 blocks.
    #[error("block time {time} is not after the median time {median} of the previous blocks")]
    TimeTooOld {
        /// The header's time.
        time: u32,
        /// The median time past.
        median: u32,
    },
    /// The timestamp is too far in the future (may become valid later).
    #[error("block time {time} is more than the allowed drift ahead of now ({max})")]
    TimeTooNew {
        /// The header's time.
        time: u32,
        /// The latest acceptable time.
        max: u64,
    },
    /// The first block of a retarget window is dated too far before its parent (BIP-94).
    #[error("block time {time} is more than 600 s before its parent's {parent_time} at the start of a retarget window (minimum {min})")]
    TimeWarp {
        /// The header's time.
        time: u32,
        /// The parent's time.
        parent_time: u32,
        /// The earliest acceptable time.
        min: u32,
    },
    /// A transaction whose lock time has not passed (and not every sequence is final).
    #[error("transaction {txid} is not final: lock_time {lock_time} at height {height}, median time past {median_time_past}")]
    NonFinalTransaction {
        /// The transaction.
        txid: Txid,
        /// Its lock time.
        lock_time: u32,
        /// The height it was checked at (the block's, or the next block's in the mempool).
        height: u32,
        /// The median time past it was checked against.
        median_time_past: u32,
    },
    /// An input names a coin that does not exist (never created, or already spent).
    #[error("transaction {txid} input {input} spends {outpoint}, which is not an unspent coin")]
    MissingInput {
        /// The transaction.
        txid: Txid,
        /// Input index.
        input: usize,
        /// The coin.
        outpoint: OutPoint,
    },
    /// A coinbase output spent before maturity.
    #[error("{outpoint} is a coinbase output from height {coin_height}, immature at height {spend_height}")]
    ImmatureSpend {
        /// The coin.
        outpoint: OutPoint,
        /// Where it was created.
        coin_height: u32,
        /// Where it is spent.
        spend_height: u32,
    },
    /// A transaction creates more of an asset than it spends.
    #[error("transaction {txid} spends {inputs} but creates {outputs} {asset} base units")]
    ValueNotConserved {
        /// The transaction.
        txid: Txid,
        /// The asset.
        asset: Asset,
        /// Sum of inputs.
        inputs: u64,
        /// Sum of outputs.
        outputs: u64,
    },
    /// A sum overflowed.
    #[error("amounts overflow in transaction {txid}")]
    AmountOverflow {
        /// The transaction.
        txid: Txid,
    },
    /// The coinbase pays more than subsidy plus fees.
    #[error("coinbase claims {claimed} {asset} base units, but subsidy plus fees allow {allowed}")]
    CoinbaseClaimTooHigh {
        /// The asset.
        asset: Asset,
        /// What it pays.
        claimed: u64,
        /// Subsidy + fees.
        allowed: u64,
    },
    /// A coinbase transaction outside a block (mempool).
    #[error("a coinbase transaction is only valid inside a block")]
    LooseCoinbase,
    /// A BIP-340 signature does not verify.
    #[error("invalid signature on transaction {txid} (block position {tx_index}) input {input} spending {outpoint}")]
    InvalidSignature {
        /// The transaction.
        txid: Txid,
        /// Its position in the block (0 outside a block).
        tx_index: usize,
        /// Input index.
        input: usize,
        /// The coin spent.
        outpoint: OutPoint,
    },
}

impl ValidationError {
    /// Whether the failure is a property of the block itself, so that its hash can be marked
    /// invalid forever. A block from the future may become valid later; a block whose body
    /// does not match its header (merkle root) may have been corrupted in transit while the
    /// header itself is fine, so neither marks the hash.
    pub fn marks_block_invalid(&self) -> bool {
        !matches!(
            self,
            ValidationError::TimeTooNew { .. }
                | ValidationError::BadMerkleRoot
                | ValidationError::DuplicateTransaction { .. }
                | ValidationError::BlockTooLarge { .. }
        )
    }
}
