//! Transactions: inputs, outputs, the signature-free txid and the full wtxid.

use crate::amount::{Asset, AssetAmounts};
use crate::block::MAX_BLOCK_SIZE;
use crate::encode::{
    compact_size_len, write_compact_size, write_var_bytes, Decodable, DecodeError, Encodable,
    Reader,
};
use crate::hash::{sha256d, Hash256, Txid};
use crate::outpoint::OutPoint;

/// Largest signature field the decoder accepts. A spend's signature is exactly 64 bytes and a
/// coinbase's data at most [`MAX_COINBASE_DATA_LEN`]; the cap only bounds decoding.
pub const MAX_SIGNATURE_FIELD_LEN: usize = 520;
/// Largest output key script the decoder accepts (a valid output has exactly 32 bytes).
pub const MAX_SCRIPT_LEN: usize = 520;
/// Largest coinbase data (the coinbase input's signature field): height-independent extra
/// nonce and miner tag.
pub const MAX_COINBASE_DATA_LEN: usize = 100;
/// Lock times below this are block heights, at or above it Unix times in seconds (Bitcoin's
/// `LOCKTIME_THRESHOLD`).
pub const LOCKTIME_THRESHOLD: u32 = 500_000_000;
/// The sequence that opts an input out of lock time: a transaction whose every input has it
/// is final whatever its `lock_time`.
pub const SEQUENCE_FINAL: u32 = u32::MAX;
/// Smallest encoded input: 36-byte outpoint, empty signature (1), sequence (4).
const MIN_TXIN_SIZE: usize = 41;
/// Smallest encoded output: asset (1), amount (8), empty script (1).
const MIN_TXOUT_SIZE: usize = 10;

/// One input: the coin it spends and the BIP-340 signature that authorises it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxIn {
    /// The coin spent ([`OutPoint::NULL`] in a coinbase).
    pub prevout: OutPoint,
    /// A 64-byte BIP-340 signature (coinbase: free data, up to 100 bytes).
    pub signature: Vec<u8>,
    /// Sequence number. Its only consensus meaning: when every input of a transaction has
    /// [`SEQUENCE_FINAL`], the transaction's `lock_time` is not enforced. There is no relative
    /// lock time (BIP-68); other values are free (and, like every txid field, signed).
    pub sequence: u32,
}

/// One output: an amount of one asset locked to a 32-byte x-only public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxOut {
    /// Which asset.
    pub asset: Asset,
    /// Base units.
    pub amount: u64,
    /// The locking script: a 32-byte x-only public key.
    pub script_pubkey: Vec<u8>,
}

/// A transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    /// Version.
    pub version: u32,
    /// Inputs; a coinbase has exactly one, with the null outpoint.
    pub inputs: Vec<TxIn>,
    /// Outputs.
    pub outputs: Vec<TxOut>,
    /// Lock time. A coinbase sets it to its block's height, which makes coinbase txids unique.
    /// Any other transaction may be included only in a block at a height (below
    /// [`LOCKTIME_THRESHOLD`]) or a median time past (at or above it) greater than this, unless
    /// it is 0 or every input's sequence is [`SEQUENCE_FINAL`] ([`Transaction::is_final`]).
    pub lock_time: u32,
}

impl TxOut {
    /// An output of `amount` of `asset` to the x-only key `key`.
    pub fn to_key(asset: Asset, amount: u64, key: [u8; 32]) -> Self {
        TxOut {
            asset,
            amount,
            script_pubkey: key.to_vec(),
        }
    }

    /// The 32-byte key when the script is exactly one key.
    pub fn key(&self) -> Option<[u8; 32]> {
        self.script_pubkey.as_slice().try_into().ok()
    }
}

impl Transaction {
    /// Whether this is a coinbase: exactly one input, naming the null outpoint.
    pub fn is_coinbase(&self) -> bool {
        self.inputs.len() == 1 && self.inputs[0].prevout.is_null()
    }

    /// Whether this (non-coinbase) transaction may be in a block at `height` whose previous
    /// block has median time past `median_time_past`: Bitcoin's `IsFinalTx` with BIP-113
    /// (time locks compare against the median time past, not the block's own time).
    pub fn is_final(&self, height: u32, median_time_past: u32) -> bool {
        if self.lock_time == 0 {
            return true;
        }
        let reference = if self.lock_time < LOCKTIME_THRESHOLD {
            height
        } else {
            median_time_past
        };
        self.lock_time < reference || self.inputs.iter().all(|i| i.sequence == SEQUENCE_FINAL)
    }

    /// The transaction id: SHA-256d of the encoding with every signature field left out, so
    /// that signatures cannot change the id (no malleability of outpoints).
    pub fn txid(&self) -> Txid {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_parts(&mut out, false);
        sha256d(&out)
    }

    /// The witness id: SHA-256d of the full encoding, signatures included. The merkle root
    /// commits to these.
    pub fn wtxid(&self) -> Hash256 {
        sha256d(&crate::encode::serialize(self))
    }

    /// Length of the full encoding in bytes.
    pub fn encoded_len(&self) -> usize {
        let ins: usize = self
            .inputs
            .iter()
            .map(|i| 36 + compact_size_len(i.signature.len() as u64) + i.signature.len() + 4)
            .sum();
        let outs: usize = self
            .outputs
            .iter()
            .map(|o| 9 + compact_size_len(o.script_pubkey.len() as u64) + o.script_pubkey.len())
            .sum();
        4 + compact_size_len(self.inputs.len() as u64)
            + ins
            + compact_size_len(self.outputs.len() as u64)
            + outs
            + 4
    }

    /// The sum of outputs per asset; `None` on overflow.
    pub fn output_totals(&self) -> Option<AssetAmounts> {
        let mut t = AssetAmounts::default();
        for o in &self.outputs {
            t.checked_add(o.asset, o.amount)?;
        }
        Some(t)
    }

    fn encode_parts(&self, out: &mut Vec<u8>, with_signatures: bool) {
        out.extend_from_slice(&self.version.to_le_bytes());
        write_compact_size(out, self.inputs.len() as u64);
        for i in &self.inputs {
            i.prevout.encode(out);
            if with_signatures {
                write_var_bytes(out, &i.signature);
            }
            out.extend_from_slice(&i.sequence.to_le_bytes());
        }
        write_compact_size(out, self.outputs.len() as u64);
        for o in &self.outputs {
            o.encode(out);
        }
        out.extend_from_slice(&self.lock_time.to_le_bytes());
    }
}

impl Encodable for TxOut {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.asset.id());
        out.extend_from_slice(&self.amount.to_le_bytes());
        write_var_bytes(out, &self.script_pubkey);
    }
}

impl Decodable for TxOut {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let id = r.u8()?;
        let asset = Asset::from_id(id).ok_or(DecodeError::UnknownAsset(id))?;
        let amount = r.u64_le()?;
        let script_pubkey = r.var_bytes("output script", MAX_SCRIPT_LEN)?;
        Ok(TxOut {
            asset,
            amount,
            script_pubkey,
        })
    }
}

impl Encodable for TxIn {
    fn encode(&self, out: &mut Vec<u8>) {
        self.prevout.encode(out);
        write_var_bytes(out, &self.signature);
        out.extend_from_slice(&self.sequence.to_le_bytes());
    }
}

impl Decodable for TxIn {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(TxIn {
            prevout: OutPoint::decode(r)?,
            signature: r.var_bytes("input signature", MAX_SIGNATURE_FIELD_LEN)?,
            sequence: r.u32_le()?,
        })
    }
}

impl Encodable for Transaction {
    fn encode(&self, out: &mut Vec<u8>) {
        self.encode_parts(out, true);
    }
}

impl Decodable for Transaction {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let version = r.u32_le()?;
        let n_in = r.count("input count", MAX_BLOCK_SIZE / MIN_TXIN_SIZE, MIN_TXIN_SIZE)?;
        let mut inputs = Vec::with_capacity(n_in);
        for _ in 0..n_in {
            inputs.push(TxIn::decode(r)?);
        }
        let n_out = r.count(
            "output count",
            MAX_BLOCK_SIZE / MIN_TXOUT_SIZE,
            MIN_TXOUT_SIZE,
        )?;
        let mut outputs = Vec::with_capacity(n_out);
        for _ in 0..n_out {
            outputs.push(TxOut::decode(r)?);
        }
        let lock_time = r.u32_le()?;
        Ok(Transaction {
            version,
            inputs,
            outputs,
            lock_time,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::{deserialize, serialize};

    fn sample() -> Transaction {
        Transaction {
            version: 1,
            inputs: vec![TxIn {
                prevout: OutPoint::new(Hash256([3; 32]), 1),
                signature: vec![9; 64],
                sequence: u32::MAX,
            }],
            outputs: vec![
                TxOut::to_key(Asset::Drachma, 5, [7; 32]),
                TxOut::to_key(Asset::Obolos, 6, [8; 32]),
            ],
            lock_time: 0,
        }
    }

    #[test]
    fn round_trip_and_length() {
        let tx = sample();
        let bytes = serialize(&tx);
        assert_eq!(bytes.len(), tx.encoded_len());
        assert_eq!(deserialize::<Transaction>(&bytes), Ok(tx));
    }

    #[test]
    fn txid_ignores_signatures_but_wtxid_does_not() {
        let a = sample();
        let mut b = sample();
        b.inputs[0].signature = vec![1; 64];
        assert_eq!(a.txid(), b.txid());
        assert_ne!(a.wtxid(), b.wtxid());
    }

    #[test]
    fn finality_follows_bitcoin_is_final_tx() {
        let mut tx = sample();
        tx.inputs[0].sequence = 0;
        assert!(tx.is_final(0, 0), "lock_time 0 is always final");
        // Heights: final strictly after the lock height.
        tx.lock_time = 100;
        assert!(!tx.is_final(99, u32::MAX));
        assert!(!tx.is_final(100, u32::MAX));
        assert!(tx.is_final(101, 0));
        tx.lock_time = LOCKTIME_THRESHOLD - 1;
        assert!(!tx.is_final(LOCKTIME_THRESHOLD - 1, u32::MAX));
        assert!(tx.is_final(LOCKTIME_THRESHOLD, 0));
        // Times: compared with the median time past, strictly.
        tx.lock_time = LOCKTIME_THRESHOLD;
        assert!(!tx.is_final(u32::MAX, LOCKTIME_THRESHOLD));
        assert!(tx.is_final(0, LOCKTIME_THRESHOLD + 1));
        // Every sequence final: the lock time is not enforced.
        tx.lock_time = u32::MAX;
        assert!(!tx.is_final(0, 0));
        tx.inputs[0].sequence = SEQUENCE_FINAL;
        assert!(tx.is_final(0, 0));
        tx.inputs.push(tx.inputs[0].clone());
        tx.inputs[1].sequence = SEQUENCE_FINAL - 1;
        assert!(!tx.is_final(0, 0), "one non-final sequence enforces it");
    }

    #[test]
    fn trailing_bytes_and_unknown_assets_are_rejected() {
        let mut bytes = serialize(&sample());
        bytes.push(0);
        assert_eq!(
            deserialize::<Transaction>(&bytes),
            Err(DecodeError::TrailingBytes(1))
        );
        let mut out = Vec::new();
        TxOut::to_key(Asset::Talanton, 1, [0; 32]).encode(&mut out);
        out[0] = 9;
        assert_eq!(
            deserialize::<TxOut>(&out),
            Err(DecodeError::UnknownAsset(9))
        );
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = serialize(&sample());
        for n in 0..bytes.len() {
            assert!(
                deserialize::<Transaction>(&bytes[..n]).is_err(),
                "prefix {n} decoded"
            );
        }
    }
}
