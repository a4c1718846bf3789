//! Stage 4: BIP-340 signatures, checked last and in parallel on the [`Workers`] pool.

use super::ValidationError;
use crate::workers::Workers;
use parthenon_crypto::{SigHashCache, SigHashError};
use parthenon_primitives::{OutPoint, Transaction, TxOut, Txid};

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

/// Appends the checks of every input of `tx` (`spent[i]` is what input `i` spends). Shapes
/// were enforced by isolation checks; a key or signature of the wrong length here fails the
/// input rather than panicking.
pub fn collect_tx_checks(
    tx: &Transaction,
    txid: Txid,
    tx_index: usize,
    spent: &[&TxOut],
    out: &mut Vec<SigCheck>,
) -> Result<(), ValidationError> {
    let cache = SigHashCache::new(tx, spent).map_err(|e| match e {
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
