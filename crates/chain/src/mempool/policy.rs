//! Relay policy: what this node admits to its mempool beyond the consensus rules.
//!
//! These rules keep cheap, permanent growth of every node's coin set out of the mempool;
//! they are not consensus (a block with a transaction that breaks them is still valid) and
//! coinbases are never subject to them. Each is a setting of the node:
//!
//! - **minimum relay fee rate**: the fee, summed in base units over the assets the
//!   transaction pays it in, must be at least `min_fee_rate` × the transaction's serialized
//!   size in bytes. Fees in any asset count alike (policy does not price the assets against
//!   each other; the pool ranks by the same sum).
//! - **dust**: every output must carry at least `dust_threshold` base units, whatever the
//!   asset. The default is three times what spending the output costs at the default fee
//!   rate (an input that spends it plus the output itself), the multiple Bitcoin Core uses.
//! - **output keys**: every output key must be a valid x-only secp256k1 point; an output to
//!   anything else can never be spent and would stay in the coin set forever.

use parthenon_crypto::XOnlyPublicKey;
use parthenon_primitives::{AssetAmounts, Transaction, TxOut};

/// Default minimum fee rate: 1 base unit per byte (Bitcoin Core's 1 sat/vB; this chain has
/// no witness discount, so bytes are vbytes).
pub const DEFAULT_MIN_FEE_RATE: u64 = 1;

/// Bytes of an input spending a key output: outpoint (36), signature with its length
/// (1 + 64), sequence (4).
pub const SPEND_INPUT_BYTES: u64 = 105;

/// Bytes of an output to a key: asset (1), amount (8), key with its length (1 + 32).
pub const KEY_OUTPUT_BYTES: u64 = 42;

/// Default dust threshold: three times the cost of creating and spending an output at the
/// default fee rate, 3 × (105 + 42) × 1 = 441 base units.
pub const DEFAULT_DUST_THRESHOLD: u64 =
    3 * (SPEND_INPUT_BYTES + KEY_OUTPUT_BYTES) * DEFAULT_MIN_FEE_RATE;

/// The relay policy of one mempool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MempoolPolicy {
    /// Least fee per byte of serialized transaction, in base units summed over assets.
    pub min_fee_rate: u64,
    /// Least amount of any output, in base units of its asset.
    pub dust_threshold: u64,
}

impl Default for MempoolPolicy {
    fn default() -> Self {
        MempoolPolicy {
            min_fee_rate: DEFAULT_MIN_FEE_RATE,
            dust_threshold: DEFAULT_DUST_THRESHOLD,
        }
    }
}

/// A policy rule a transaction breaks; the message names the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Pays less than the minimum relay fee rate.
    #[error(
        "policy min-relay-fee: pays {fee} base units for {size} bytes, below the minimum \
         {min_fee} ({rate} per byte)"
    )]
    FeeTooLow {
        /// The fee, summed over assets.
        fee: u128,
        /// Serialized size in bytes.
        size: usize,
        /// The least fee accepted for this size.
        min_fee: u128,
        /// The configured rate per byte.
        rate: u64,
    },
    /// An output below the dust threshold.
    #[error("policy dust: output {vout} carries {amount} base units, below the dust threshold {threshold}")]
    Dust {
        /// Index of the output.
        vout: usize,
        /// Its amount.
        amount: u64,
        /// The threshold.
        threshold: u64,
    },
    /// An output whose key is not a valid x-only point (so it can never be spent).
    #[error("policy output-key: output {vout} does not pay a valid x-only public key")]
    InvalidOutputKey {
        /// Index of the output.
        vout: usize,
    },
}

impl MempoolPolicy {
    /// The rules on outputs alone (dust, keys): no coin lookup needed, so they run first.
    pub fn check_outputs(&self, tx: &Transaction) -> Result<(), PolicyError> {
        for (vout, out) in tx.outputs.iter().enumerate() {
            if out.amount < self.dust_threshold {
                return Err(PolicyError::Dust {
                    vout,
                    amount: out.amount,
                    threshold: self.dust_threshold,
                });
            }
            if !is_valid_key(out) {
                return Err(PolicyError::InvalidOutputKey { vout });
            }
        }
        Ok(())
    }

    /// The fee rule for a transaction of `size` bytes paying `fee`.
    pub fn check_fee(&self, fee: &AssetAmounts, size: usize) -> Result<(), PolicyError> {
        let min_fee = u128::from(self.min_fee_rate) * size as u128;
        let paid = fee.total_units();
        if paid < min_fee {
            return Err(PolicyError::FeeTooLow {
                fee: paid,
                size,
                min_fee,
                rate: self.min_fee_rate,
            });
        }
        Ok(())
    }
}

fn is_valid_key(out: &TxOut) -> bool {
    out.key()
        .is_some_and(|k| XOnlyPublicKey::from_bytes(&k).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use parthenon_primitives::{Asset, OutPoint, TxIn};

    fn key() -> [u8; 32] {
        parthenon_crypto::KeyPair::from_secret_bytes(&[7; 32])
            .unwrap()
            .public_key()
            .to_bytes()
    }

    fn tx_with_outputs(outputs: Vec<TxOut>) -> Transaction {
        Transaction {
            version: 1,
            inputs: vec![TxIn {
                prevout: OutPoint::new(parthenon_primitives::Hash256([1; 32]), 0),
                signature: vec![0; 64],
                sequence: u32::MAX,
            }],
            outputs,
            lock_time: 0,
        }
    }

    #[test]
    fn size_constants_are_the_encoded_sizes() {
        let one = tx_with_outputs(vec![TxOut::to_key(Asset::Talanton, 1000, key())]);
        let mut two_in = one.clone();
        two_in.inputs.push(two_in.inputs[0].clone());
        let mut two_out = one.clone();
        two_out.outputs.push(two_out.outputs[0].clone());
        assert_eq!(
            (two_in.encoded_len() - one.encoded_len()) as u64,
            SPEND_INPUT_BYTES
        );
        assert_eq!(
            (two_out.encoded_len() - one.encoded_len()) as u64,
            KEY_OUTPUT_BYTES
        );
        assert_eq!(DEFAULT_DUST_THRESHOLD, 441);
    }

    #[test]
    fn dust_threshold_is_inclusive() {
        let p = MempoolPolicy::default();
        let at = tx_with_outputs(vec![TxOut::to_key(
            Asset::Obolos,
            DEFAULT_DUST_THRESHOLD,
            key(),
        )]);
        assert_eq!(p.check_outputs(&at), Ok(()));
        let below = tx_with_outputs(vec![
            TxOut::to_key(Asset::Talanton, 10_000, key()),
            TxOut::to_key(Asset::Drachma, DEFAULT_DUST_THRESHOLD - 1, key()),
        ]);
        let e = p.check_outputs(&below).unwrap_err();
        assert_eq!(
            e,
            PolicyError::Dust {
                vout: 1,
                amount: 440,
                threshold: 441
            }
        );
        assert!(e.to_string().starts_with("policy dust:"), "{e}");
        // A zero threshold admits zero-value outputs.
        let zero = tx_with_outputs(vec![TxOut::to_key(Asset::Talanton, 0, key())]);
        let off = MempoolPolicy {
            dust_threshold: 0,
            ..p
        };
        assert_eq!(off.check_outputs(&zero), Ok(()));
    }

    #[test]
    fn output_keys_must_be_points_on_the_curve() {
        let p = MempoolPolicy::default();
        // x = 5 is not the x coordinate of a secp256k1 point (5^3 + 7 = 132 is not a
        // square mod p); x = 1 is.
        let mut off_curve = [0u8; 32];
        off_curve[31] = 5;
        let mut on_curve = [0u8; 32];
        on_curve[31] = 1;
        assert!(XOnlyPublicKey::from_bytes(&on_curve).is_ok());
        let ok = tx_with_outputs(vec![TxOut::to_key(Asset::Talanton, 1000, on_curve)]);
        assert_eq!(p.check_outputs(&ok), Ok(()));
        for bad in [
            TxOut::to_key(Asset::Talanton, 1000, off_curve),
            TxOut::to_key(Asset::Talanton, 1000, [0xFF; 32]),
            TxOut {
                asset: Asset::Talanton,
                amount: 1000,
                script_pubkey: vec![2; 33],
            },
        ] {
            let tx = tx_with_outputs(vec![TxOut::to_key(Asset::Talanton, 1000, key()), bad]);
            let e = p.check_outputs(&tx).unwrap_err();
            assert_eq!(e, PolicyError::InvalidOutputKey { vout: 1 });
            assert!(e.to_string().starts_with("policy output-key:"), "{e}");
        }
    }

    #[test]
    fn fee_rate_boundary_counts_every_asset() {
        let p = MempoolPolicy {
            min_fee_rate: 2,
            dust_threshold: 0,
        };
        // 200 bytes at 2 per byte: 400 base units, paid in any mix of assets.
        assert_eq!(p.check_fee(&AssetAmounts([400, 0, 0]), 200), Ok(()));
        assert_eq!(p.check_fee(&AssetAmounts([100, 100, 200]), 200), Ok(()));
        let e = p.check_fee(&AssetAmounts([0, 399, 0]), 200).unwrap_err();
        assert_eq!(
            e,
            PolicyError::FeeTooLow {
                fee: 399,
                size: 200,
                min_fee: 400,
                rate: 2
            }
        );
        assert!(e.to_string().starts_with("policy min-relay-fee:"), "{e}");
        // A zero rate admits zero-fee transactions.
        let free = MempoolPolicy {
            min_fee_rate: 0,
            ..p
        };
        assert_eq!(free.check_fee(&AssetAmounts::default(), 200), Ok(()));
    }
}
