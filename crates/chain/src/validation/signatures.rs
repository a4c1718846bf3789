//! Stage 4: BIP-340 signatures, checked last and in parallel on the [`Workers`] pool.

use super::ValidationError;
use crate::workers::Workers;
use parking_lot::Mutex;
use parthenon_crypto::{SigHashCache, SigHashError};
use parthenon_primitives::{BlockHash, OutPoint, Transaction, TxOut, Txid};

/// One signature to verify, with enough context to name the input if it fails.
#[derive(Debug, Clone)]
pub struct SigCheck {
    /// The transaction.
    pub txid: Txid,
    /// Its position in the block.
    pub tx_index: usize,
    /// The input.
    pub input: usize,
    /// The coin it spends.
    pub outpoint: OutPoint,
    /// The spent output's key.
    pub pubkey: [u8; 32],
    /// The signature hash.
    pub msg: [u8; 32],
    /// The signature.
    pub sig: [u8; 64],
}

impl SigCheck {
    /// Whether the signature verifies.
    pub fn verify(&self) -> bool {
        parthenon_crypto::verify(&self.pubkey, &self.msg, &self.sig).is_ok()
    }

    /// This check as an item of a batch verification.
    pub fn batch_item(&self) -> parthenon_crypto::batch::BatchItem {
        parthenon_crypto::batch::BatchItem {
            pubkey: self.pubkey,
            msg: self.msg,
            sig: self.sig,
        }
    }

    /// The error naming this input.
    pub fn error(&self) -> ValidationError {
        ValidationError::InvalidSignature {
            txid: self.txid,
            tx_index: self.tx_index,
            input: self.input,
            outpoint: self.outpoint,
        }
    }
}

/// Appends the checks of every input of `tx` (`spent[i]` is what input `i` spends) on the
/// network whose genesis block is `genesis`. Shapes were enforced by isolation checks; a key
/// or signature of the wrong length here fails the input rather than panicking.
pub fn collect_tx_checks(
    genesis: &BlockHash,
    tx: &Transaction,
    txid: Txid,
    tx_index: usize,
    spent: &[&TxOut],
    out: &mut Vec<SigCheck>,
) -> Result<(), ValidationError> {
    let cache = SigHashCache::new(genesis, tx, spent).map_err(|e| match e {
        SigHashError::SpentOutputsMismatch { .. } | SigHashError::InputOutOfRange { .. } => {
            ValidationError::InvalidSignature {
                txid,
                tx_index,
                input: 0,
                outpoint: OutPoint::NULL,
            }
        }
    })?;
    for (input, (txin, prev)) in tx.inputs.iter().zip(spent).enumerate() {
        let invalid = || ValidationError::InvalidSignature {
            txid,
            tx_index,
            input,
            outpoint: txin.prevout,
        };
        let pubkey = prev.key().ok_or_else(invalid)?;
        let sig: [u8; 64] = txin
            .signature
            .as_slice()
            .try_into()
            .map_err(|_| invalid())?;
        let msg = cache.sighash(input).map_err(|_| invalid())?;
        out.push(SigCheck {
            txid,
            tx_index,
            input,
            outpoint: txin.prevout,
            pubkey,
            msg,
            sig,
        });
    }
    Ok(())
}

/// Verifies every check; on failure names the first invalid input in block order.
pub fn verify_all(checks: &[SigCheck], workers: &Workers) -> Result<(), ValidationError> {
    let ok = workers.map(checks, SigCheck::verify);
    match ok.iter().position(|v| !v) {
        None => Ok(()),
        Some(i) => Err(checks[i].error()),
    }
}

/// Records `bad` in `slot` unless `slot` already holds a failure earlier in block order. A
/// block's signatures are verified in chunks that finish in any order; merging each chunk's
/// first failure through this keeps the block's error naming the first invalid signature.
pub fn keep_first_in_block_order(slot: &Mutex<Option<SigCheck>>, bad: SigCheck) {
    let mut first = slot.lock();
    let earlier = first
        .as_ref()
        .is_some_and(|f| (f.tx_index, f.input) < (bad.tx_index, bad.input));
    if !earlier {
        *first = Some(bad);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parthenon_crypto::{sign_all_inputs, KeyPair};
    use parthenon_primitives::{Asset, Hash256, Network, TxIn};

    fn check(tx_index: usize, input: usize) -> SigCheck {
        SigCheck {
            txid: Hash256([tx_index as u8; 32]),
            tx_index,
            input,
            outpoint: OutPoint::new(Hash256([1; 32]), input as u32),
            pubkey: [2; 32],
            msg: [3; 32],
            sig: [4; 64],
        }
    }

    #[test]
    fn the_earliest_failure_wins_in_any_arrival_order() {
        let order = [(3, 7), (3, 2), (9, 0), (1, 400), (1, 5), (2, 0)];
        for rotation in 0..order.len() {
            let slot = Mutex::new(None);
            for i in 0..order.len() {
                let (t, n) = order[(i + rotation) % order.len()];
                keep_first_in_block_order(&slot, check(t, n));
            }
            let first = slot.into_inner().unwrap();
            assert_eq!((first.tx_index, first.input), (1, 5), "rotation {rotation}");
        }
    }

    /// Issue 9.2: a spend signed for one network verifies on that network only.
    #[test]
    fn a_spend_signed_for_one_network_fails_on_the_other_two() {
        let key = KeyPair::from_secret_bytes(&[7; 32]).unwrap();
        let spent = TxOut::to_key(Asset::Talanton, 50, key.public_key().to_bytes());
        for signed_for in Network::ALL {
            let mut tx = Transaction {
                version: 1,
                inputs: vec![TxIn {
                    prevout: OutPoint::new(Hash256([5; 32]), 0),
                    signature: vec![],
                    sequence: u32::MAX,
                }],
                outputs: vec![TxOut::to_key(Asset::Talanton, 49, [8; 32])],
                lock_time: 0,
            };
            let genesis = signed_for.params().genesis_hash();
            sign_all_inputs(&genesis, &mut tx, &[&spent], &[&key]).unwrap();
            for verifier in Network::ALL {
                let mut checks = Vec::new();
                let g = verifier.params().genesis_hash();
                collect_tx_checks(&g, &tx, tx.txid(), 1, &[&spent], &mut checks).unwrap();
                let result = verify_all(&checks, &Workers::inline());
                if verifier == signed_for {
                    assert_eq!(result, Ok(()), "signed for {signed_for}");
                } else {
                    assert_eq!(
                        result,
                        Err(ValidationError::InvalidSignature {
                            txid: tx.txid(),
                            tx_index: 1,
                            input: 0,
                            outpoint: tx.inputs[0].prevout,
                        }),
                        "signed for {signed_for}, verified on {verifier}"
                    );
                }
            }
        }
    }
}
