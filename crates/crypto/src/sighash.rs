//! The signature hash of ARCHITECTURE §3.
//!
//! Every input signs `TaggedHash("Parthenon/SigHash", version | lock_time | sha_prevouts |
//! sha_spent_outputs | sha_outputs | input_index)`, where the three inner hashes are SHA-256
//! over the consensus encodings of all prevouts, all *spent* outputs (asset, amount, key) and
//! all outputs. Each input therefore commits to exactly what it spends and what is created;
//! signatures themselves are not signed. The inner hashes are computed once per transaction
//! ([`SigHashCache`]), so signing or verifying all inputs is linear in the transaction size
//! (the quadratic hashing of legacy Bitcoin sighashes cannot occur).

use parthenon_primitives::encode::Encodable;
use parthenon_primitives::hash::{sha256, tagged_hash};
use parthenon_primitives::{Transaction, TxOut};

/// The BIP-340 tag of the signature hash.
pub const SIGHASH_TAG: &str = "Parthenon/SigHash";

/// Why a signature hash cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigHashError {
    /// The spent outputs do not match the inputs one to one.
    #[error("{inputs} inputs but {spent} spent outputs were given")]
    SpentOutputsMismatch {
        /// Number of inputs.
        inputs: usize,
        /// Number of spent outputs supplied.
        spent: usize,
    },
    /// The input index is out of range.
    #[error("input index {index} out of range for {inputs} inputs")]
    InputOutOfRange {
        /// The index asked for.
        index: usize,
        /// Number of inputs.
        inputs: usize,
    },
}

/// Per-transaction precomputed hashes for the signature hash of each input.
#[derive(Debug, Clone)]
pub struct SigHashCache {
    version: u32,
    lock_time: u32,
    inputs: usize,
    sha_prevouts: [u8; 32],
    sha_spent_outputs: [u8; 32],
    sha_outputs: [u8; 32],
}

impl SigHashCache {
    /// Precomputes the hashes of `tx` given the outputs its inputs spend, in input order.
    pub fn new(tx: &Transaction, spent: &[&TxOut]) -> Result<Self, SigHashError> {
        if spent.len() != tx.inputs.len() {
            return Err(SigHashError::SpentOutputsMismatch {
                inputs: tx.inputs.len(),
                spent: spent.len(),
            });
        }
        let mut buf = Vec::with_capacity(tx.inputs.len() * 64);
        for i in &tx.inputs {
            i.prevout.encode(&mut buf);
        }
        let sha_prevouts = sha256(&buf);
        buf.clear();
        for o in spent {
            o.encode(&mut buf);
        }
        let sha_spent_outputs = sha256(&buf);
        buf.clear();
        for o in &tx.outputs {
            o.encode(&mut buf);
        }
        let sha_outputs = sha256(&buf);
        Ok(SigHashCache {
            version: tx.version,
            lock_time: tx.lock_time,
            inputs: tx.inputs.len(),
            sha_prevouts,
            sha_spent_outputs,
            sha_outputs,
        })
    }

    /// The message that input `index` signs.
    pub fn sighash(&self, index: usize) -> Result<[u8; 32], SigHashError> {
        if index >= self.inputs {
            return Err(SigHashError::InputOutOfRange {
                index,
                inputs: self.inputs,
            });
        }
        Ok(tagged_hash(
            SIGHASH_TAG,
            &[
                &self.version.to_le_bytes(),
                &self.lock_time.to_le_bytes(),
                &self.sha_prevouts,
                &self.sha_spent_outputs,
                &self.sha_outputs,
                &(index as u32).to_le_bytes(),
            ],
        ))
    }
}

/// The signature hash of one input (convenience for a single input; use [`SigHashCache`]
/// for many).
pub fn signature_hash(
    tx: &Transaction,
    index: usize,
    spent: &[&TxOut],
) -> Result<[u8; 32], SigHashError> {
    SigHashCache::new(tx, spent)?.sighash(index)
}

/// Signs every input of `tx` in place: input `i` spends `spent[i]` and is signed by `keys[i]`.
pub fn sign_all_inputs(
    tx: &mut Transaction,
    spent: &[&TxOut],
    keys: &[&crate::schnorr::KeyPair],
) -> Result<(), SigHashError> {
    if keys.len() != tx.inputs.len() {
        return Err(SigHashError::SpentOutputsMismatch {
            inputs: tx.inputs.len(),
            spent: keys.len(),
        });
    }
    let cache = SigHashCache::new(tx, spent)?;
    for (i, key) in keys.iter().enumerate() {
        let msg = cache.sighash(i)?;
        tx.inputs[i].signature = key.sign(&msg).0.to_vec();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schnorr::{verify, KeyPair};
    use parthenon_primitives::{Asset, Hash256, OutPoint, TxIn};

    fn tx_and_spent() -> (Transaction, Vec<TxOut>) {
        let tx = Transaction {
            version: 1,
            inputs: (0..2)
                .map(|i| TxIn {
                    prevout: OutPoint::new(Hash256([i; 32]), i as u32),
                    signature: vec![],
                    sequence: u32::MAX,
                })
                .collect(),
            outputs: vec![TxOut::to_key(Asset::Talanton, 10, [5; 32])],
            lock_time: 0,
        };
        let spent = vec![
            TxOut::to_key(Asset::Talanton, 6, [1; 32]),
            TxOut::to_key(Asset::Drachma, 6, [2; 32]),
        ];
        (tx, spent)
    }

    #[test]
    fn each_input_and_each_committed_field_changes_the_hash() {
        let (tx, spent) = tx_and_spent();
        let refs: Vec<&TxOut> = spent.iter().collect();
        let base = signature_hash(&tx, 0, &refs).unwrap();
        assert_ne!(base, signature_hash(&tx, 1, &refs).unwrap());

        let mut t2 = tx.clone();
        t2.outputs[0].amount = 11;
        assert_ne!(base, signature_hash(&t2, 0, &refs).unwrap());
        let mut t3 = tx.clone();
        t3.lock_time = 1;
        assert_ne!(base, signature_hash(&t3, 0, &refs).unwrap());

        let mut s2 = spent.clone();
        s2[1].asset = Asset::Obolos;
        let refs2: Vec<&TxOut> = s2.iter().collect();
        assert_ne!(base, signature_hash(&tx, 0, &refs2).unwrap());
    }

    #[test]
    fn signatures_are_not_signed() {
        let (mut tx, spent) = tx_and_spent();
        let refs: Vec<&TxOut> = spent.iter().collect();
        let before = signature_hash(&tx, 0, &refs).unwrap();
        tx.inputs[1].signature = vec![7; 64];
        assert_eq!(before, signature_hash(&tx, 0, &refs).unwrap());
    }

    #[test]
    fn mismatched_inputs_are_errors() {
        let (tx, spent) = tx_and_spent();
        let one = [&spent[0]];
        assert!(matches!(
            SigHashCache::new(&tx, &one),
            Err(SigHashError::SpentOutputsMismatch {
                inputs: 2,
                spent: 1
            })
        ));
        let refs: Vec<&TxOut> = spent.iter().collect();
        assert!(signature_hash(&tx, 2, &refs).is_err());
    }

    #[test]
    fn sign_and_verify_a_spend() {
        let (tx, spent) = tx_and_spent();
        let refs: Vec<&TxOut> = spent.iter().collect();
        let key = KeyPair::from_secret_bytes(&[3; 32]).unwrap();
        let msg = signature_hash(&tx, 0, &refs).unwrap();
        let sig = key.sign(&msg);
        assert!(verify(&key.public_key().to_bytes(), &msg, &sig.0).is_ok());
    }
}
