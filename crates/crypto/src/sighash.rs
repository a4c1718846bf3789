//! The signature hash of ARCHITECTURE §3.
//!
//! Every input signs `TaggedHash("Parthenon/SigHash", genesis_hash | version | lock_time |
//! sha_prevouts | sha_sequences | sha_spent_outputs | sha_outputs | input_index)`, where the
//! inner hashes are SHA-256 over the consensus encodings of all prevouts, all sequences
//! (4 bytes each, little-endian), all *spent* outputs (asset, amount, key) and all outputs.
//!
//! - Every byte of the txid (version, prevouts, sequences, outputs, lock_time and, through
//!   the concatenations, the input and output counts) is committed to by every signature, so
//!   nobody without the keys can change a transaction's id (the sequences were left out
//!   before, which let a relay flip one and re-id a signed transaction).
//! - The network's genesis hash comes first, so a spend signed for one network is invalid on
//!   every other (coinbases of equal height and key have equal txids on every network).
//! - Each input commits to exactly what it spends and what is created; signatures themselves
//!   are not signed.
//!
//! The inner hashes are computed once per transaction ([`SigHashCache`]), so signing or
//! verifying all inputs is linear in the transaction size (the quadratic hashing of legacy
//! Bitcoin sighashes cannot occur).

use parthenon_primitives::encode::Encodable;
use parthenon_primitives::hash::{sha256, tagged_hash};
use parthenon_primitives::{BlockHash, Transaction, TxOut};

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
    genesis: BlockHash,
    version: u32,
    lock_time: u32,
    inputs: usize,
    sha_prevouts: [u8; 32],
    sha_sequences: [u8; 32],
    sha_spent_outputs: [u8; 32],
    sha_outputs: [u8; 32],
}

impl SigHashCache {
    /// Precomputes the hashes of `tx` on the network whose genesis block is `genesis`
    /// ([`ChainParams::genesis_hash`](parthenon_primitives::ChainParams::genesis_hash)),
    /// given the outputs its inputs spend, in input order.
    pub fn new(
        genesis: &BlockHash,
        tx: &Transaction,
        spent: &[&TxOut],
    ) -> Result<Self, SigHashError> {
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
        for i in &tx.inputs {
            buf.extend_from_slice(&i.sequence.to_le_bytes());
        }
        let sha_sequences = sha256(&buf);
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
            genesis: *genesis,
            version: tx.version,
            lock_time: tx.lock_time,
            inputs: tx.inputs.len(),
            sha_prevouts,
            sha_sequences,
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
                &self.genesis.0,
                &self.version.to_le_bytes(),
                &self.lock_time.to_le_bytes(),
                &self.sha_prevouts,
                &self.sha_sequences,
                &self.sha_spent_outputs,
                &self.sha_outputs,
                &(index as u32).to_le_bytes(),
            ],
        ))
    }
}

/// The signature hash of one input on the network of `genesis` (convenience for a single
/// input; use [`SigHashCache`] for many).
pub fn signature_hash(
    genesis: &BlockHash,
    tx: &Transaction,
    index: usize,
    spent: &[&TxOut],
) -> Result<[u8; 32], SigHashError> {
    SigHashCache::new(genesis, tx, spent)?.sighash(index)
}

/// Signs every input of `tx` in place for the network of `genesis`: input `i` spends
/// `spent[i]` and is signed by `keys[i]`.
pub fn sign_all_inputs(
    genesis: &BlockHash,
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
    let cache = SigHashCache::new(genesis, tx, spent)?;
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
    use parthenon_primitives::{Asset, Hash256, Network, OutPoint, TxIn};
    use proptest::prelude::*;

    fn dev() -> BlockHash {
        Network::Dev.params().genesis_hash()
    }

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
        let base = signature_hash(&dev(), &tx, 0, &refs).unwrap();
        assert_ne!(base, signature_hash(&dev(), &tx, 1, &refs).unwrap());

        let mut t2 = tx.clone();
        t2.outputs[0].amount = 11;
        assert_ne!(base, signature_hash(&dev(), &t2, 0, &refs).unwrap());
        let mut t3 = tx.clone();
        t3.lock_time = 1;
        assert_ne!(base, signature_hash(&dev(), &t3, 0, &refs).unwrap());
        let mut t4 = tx.clone();
        t4.inputs[1].sequence = 0;
        assert_ne!(base, signature_hash(&dev(), &t4, 0, &refs).unwrap());

        let mut s2 = spent.clone();
        s2[1].asset = Asset::Obolos;
        let refs2: Vec<&TxOut> = s2.iter().collect();
        assert_ne!(base, signature_hash(&dev(), &tx, 0, &refs2).unwrap());
    }

    #[test]
    fn every_network_signs_a_different_message() {
        let (tx, spent) = tx_and_spent();
        let refs: Vec<&TxOut> = spent.iter().collect();
        let msgs = Network::ALL
            .map(|n| signature_hash(&n.params().genesis_hash(), &tx, 0, &refs).unwrap());
        assert!(msgs[0] != msgs[1] && msgs[1] != msgs[2] && msgs[0] != msgs[2]);
    }

    #[test]
    fn signatures_are_not_signed() {
        let (mut tx, spent) = tx_and_spent();
        let refs: Vec<&TxOut> = spent.iter().collect();
        let before = signature_hash(&dev(), &tx, 0, &refs).unwrap();
        tx.inputs[1].signature = vec![7; 64];
        assert_eq!(before, signature_hash(&dev(), &tx, 0, &refs).unwrap());
    }

    #[test]
    fn mismatched_inputs_are_errors() {
        let (tx, spent) = tx_and_spent();
        let one = [&spent[0]];
        assert!(matches!(
            SigHashCache::new(&dev(), &tx, &one),
            Err(SigHashError::SpentOutputsMismatch {
                inputs: 2,
                spent: 1
            })
        ));
        let refs: Vec<&TxOut> = spent.iter().collect();
        assert!(signature_hash(&dev(), &tx, 2, &refs).is_err());
    }

    #[test]
    fn sign_and_verify_a_spend() {
        let (tx, spent) = tx_and_spent();
        let refs: Vec<&TxOut> = spent.iter().collect();
        let key = KeyPair::from_secret_bytes(&[3; 32]).unwrap();
        let msg = signature_hash(&dev(), &tx, 0, &refs).unwrap();
        let sig = key.sign(&msg);
        assert!(verify(&key.public_key().to_bytes(), &msg, &sig.0).is_ok());
    }

    /// One change to a field the txid covers.
    #[derive(Debug, Clone)]
    enum Mutation {
        Version(u32),
        PrevoutTxid(usize, u8),
        PrevoutVout(usize, u32),
        Sequence(usize, u32),
        OutputAsset(usize),
        OutputAmount(usize, u64),
        OutputKey(usize, u8),
        LockTime(u32),
        AddInput(u8),
        RemoveInput(usize),
        AddOutput(u64),
        RemoveOutput(usize),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            any::<u32>().prop_map(Mutation::Version),
            (any::<usize>(), 1..=255u8).prop_map(|(i, x)| Mutation::PrevoutTxid(i, x)),
            (any::<usize>(), 1..=u32::MAX).prop_map(|(i, x)| Mutation::PrevoutVout(i, x)),
            (any::<usize>(), 1..=u32::MAX).prop_map(|(i, x)| Mutation::Sequence(i, x)),
            any::<usize>().prop_map(Mutation::OutputAsset),
            (any::<usize>(), 1..=u64::MAX).prop_map(|(i, x)| Mutation::OutputAmount(i, x)),
            (any::<usize>(), 1..=255u8).prop_map(|(i, x)| Mutation::OutputKey(i, x)),
            (1..=u32::MAX).prop_map(Mutation::LockTime),
            any::<u8>().prop_map(Mutation::AddInput),
            any::<usize>().prop_map(Mutation::RemoveInput),
            any::<u64>().prop_map(Mutation::AddOutput),
            any::<usize>().prop_map(Mutation::RemoveOutput),
        ]
    }

    /// Applies `m` to `tx` and to the list of outputs its inputs spend (an added input spends
    /// a copy of the first spent output: the attacker's best case). Returns false when the
    /// mutation does not apply (removing the only input or output).
    fn apply(m: &Mutation, tx: &mut Transaction, spent: &mut Vec<TxOut>) -> bool {
        let (ni, no) = (tx.inputs.len(), tx.outputs.len());
        match *m {
            Mutation::Version(x) => tx.version ^= x.max(1),
            Mutation::PrevoutTxid(i, x) => tx.inputs[i % ni].prevout.txid.0[i % 32] ^= x,
            Mutation::PrevoutVout(i, x) => tx.inputs[i % ni].prevout.vout ^= x,
            Mutation::Sequence(i, x) => tx.inputs[i % ni].sequence ^= x,
            Mutation::OutputAsset(i) => {
                let o = &mut tx.outputs[i % no];
                o.asset = Asset::ALL[(o.asset as usize + 1) % Asset::ALL.len()];
            }
            Mutation::OutputAmount(i, x) => tx.outputs[i % no].amount ^= x,
            Mutation::OutputKey(i, x) => tx.outputs[i % no].script_pubkey[i % 32] ^= x,
            Mutation::LockTime(x) => tx.lock_time ^= x,
            Mutation::AddInput(x) => {
                tx.inputs.push(TxIn {
                    prevout: OutPoint::new(Hash256([x; 32]), 1_000 + x as u32),
                    signature: tx.inputs[0].signature.clone(),
                    sequence: u32::MAX,
                });
                spent.push(spent[0].clone());
            }
            Mutation::RemoveInput(i) => {
                if ni < 2 {
                    return false;
                }
                tx.inputs.remove(i % ni);
                spent.remove(i % ni);
            }
            Mutation::AddOutput(x) => tx.outputs.push(TxOut::to_key(Asset::Talanton, x, [9; 32])),
            Mutation::RemoveOutput(i) => {
                if no < 2 {
                    return false;
                }
                tx.outputs.remove(i % no);
            }
        }
        true
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Issue 9.1: for a signed transaction, any change to a field the txid covers changes
        /// the txid AND invalidates at least one of the original signatures (checked on
        /// the inputs the two versions share, against the same spent coins).
        #[test]
        fn changing_any_txid_field_invalidates_a_signature(
            n_in in 1usize..4,
            n_out in 1usize..4,
            seed in any::<u8>(),
            m in mutation(),
        ) {
            let keys: Vec<KeyPair> = (0..n_in)
                .map(|i| {
                    let mut secret = [0x22; 32];
                    secret[0] = i as u8 + 1;
                    secret[1] = seed;
                    KeyPair::from_secret_bytes(&secret).unwrap()
                })
                .collect();
            let mut tx = Transaction {
                version: 1,
                inputs: (0..n_in)
                    .map(|i| TxIn {
                        prevout: OutPoint::new(Hash256([seed.wrapping_add(i as u8); 32]), i as u32),
                        signature: vec![],
                        sequence: 0xFFFF_FFFE - i as u32,
                    })
                    .collect(),
                outputs: (0..n_out)
                    .map(|i| TxOut::to_key(Asset::ALL[i % 3], 1_000 + i as u64, [seed ^ i as u8; 32]))
                    .collect(),
                lock_time: 7,
            };
            let spent: Vec<TxOut> = keys
                .iter()
                .map(|k| TxOut::to_key(Asset::Talanton, 5_000, k.public_key().to_bytes()))
                .collect();
            let genesis = dev();
            let refs: Vec<&TxOut> = spent.iter().collect();
            let key_refs: Vec<&KeyPair> = keys.iter().collect();
            sign_all_inputs(&genesis, &mut tx, &refs, &key_refs).unwrap();

            let (mut changed, mut changed_spent) = (tx.clone(), spent.clone());
            prop_assume!(apply(&m, &mut changed, &mut changed_spent));
            prop_assert_ne!(changed.txid(), tx.txid(), "the mutation must change the txid");

            let changed_refs: Vec<&TxOut> = changed_spent.iter().collect();
            let cache = SigHashCache::new(&genesis, &changed, &changed_refs).unwrap();
            let shared = changed.inputs.len().min(tx.inputs.len());
            let all_valid = (0..shared).all(|i| {
                let sig: [u8; 64] = changed.inputs[i].signature.as_slice().try_into().unwrap();
                let key = changed_spent[i].key().unwrap();
                verify(&key, &cache.sighash(i).unwrap(), &sig).is_ok()
            });
            prop_assert!(!all_valid, "{m:?} kept every signature valid");
        }
    }
}
