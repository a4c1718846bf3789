//! Block headers, blocks and the merkle root.

use crate::encode::{write_compact_size, Decodable, DecodeError, Encodable, Reader};
use crate::hash::{sha256d, BlockHash, Hash256};
use crate::transaction::Transaction;

/// Largest serialized block in bytes (consensus).
pub const MAX_BLOCK_SIZE: usize = 4_000_000;
/// Size of an encoded header.
pub const HEADER_SIZE: usize = 80;
/// Smallest encoded transaction: version, two empty counts, lock time.
const MIN_TX_SIZE: usize = 10;

/// The 80-byte block header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    /// Block version.
    pub version: u32,
    /// Hash of the previous block's header.
    pub prev_hash: BlockHash,
    /// Merkle root over the block's wtxids.
    pub merkle_root: Hash256,
    /// Seconds since the Unix epoch.
    pub time: u32,
    /// Compact proof-of-work target.
    pub bits: u32,
    /// Nonce varied by miners.
    pub nonce: u32,
}

/// A block: header and transactions, the first of which is the coinbase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// The header.
    pub header: BlockHeader,
    /// The transactions.
    pub txs: Vec<Transaction>,
}

impl BlockHeader {
    /// The header's 80-byte encoding.
    pub fn to_bytes(&self) -> [u8; HEADER_SIZE] {
        let mut b = [0u8; HEADER_SIZE];
        b[0..4].copy_from_slice(&self.version.to_le_bytes());
        b[4..36].copy_from_slice(&self.prev_hash.0);
        b[36..68].copy_from_slice(&self.merkle_root.0);
        b[68..72].copy_from_slice(&self.time.to_le_bytes());
        b[72..76].copy_from_slice(&self.bits.to_le_bytes());
        b[76..80].copy_from_slice(&self.nonce.to_le_bytes());
        b
    }

    /// The block hash: SHA-256d of the header.
    pub fn hash(&self) -> BlockHash {
        sha256d(&self.to_bytes())
    }
}

impl Encodable for BlockHeader {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_bytes());
    }
}

impl Decodable for BlockHeader {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(BlockHeader {
            version: r.u32_le()?,
            prev_hash: r.hash()?,
            merkle_root: r.hash()?,
            time: r.u32_le()?,
            bits: r.u32_le()?,
            nonce: r.u32_le()?,
        })
    }
}

impl Block {
    /// The block hash.
    pub fn hash(&self) -> BlockHash {
        self.header.hash()
    }

    /// The merkle root of this block's transactions as they are now.
    pub fn compute_merkle_root(&self) -> Hash256 {
        merkle_root(self.txs.iter().map(|t| t.wtxid()).collect())
    }

    /// Length of the full encoding.
    pub fn encoded_len(&self) -> usize {
        HEADER_SIZE
            + crate::encode::compact_size_len(self.txs.len() as u64)
            + self.txs.iter().map(|t| t.encoded_len()).sum::<usize>()
    }
}

impl Encodable for Block {
    fn encode(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        self.header.encode(out);
        write_compact_size(out, self.txs.len() as u64);
        for t in &self.txs {
            t.encode(out);
        }
    }
}

impl Decodable for Block {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        if r.remaining() > MAX_BLOCK_SIZE {
            return Err(DecodeError::LengthTooLarge {
                what: "block size",
                len: r.remaining() as u64,
                max: MAX_BLOCK_SIZE as u64,
            });
        }
        let header = BlockHeader::decode(r)?;
        let n = r.count(
            "transaction count",
            MAX_BLOCK_SIZE / MIN_TX_SIZE,
            MIN_TX_SIZE,
        )?;
        let mut txs = Vec::with_capacity(n);
        for _ in 0..n {
            txs.push(Transaction::decode(r)?);
        }
        Ok(Block { header, txs })
    }
}

/// Bitcoin-style merkle root: SHA-256d of concatenated pairs, the last element of an odd
/// level paired with itself. Because that pairing lets two different lists share a root
/// (CVE-2012-2459), validation also rejects blocks with duplicate transactions.
/// The root of an empty list is zero.
pub fn merkle_root(mut level: Vec<Hash256>) -> Hash256 {
    if level.is_empty() {
        return Hash256::ZERO;
    }
    let mut buf = [0u8; 64];
    while level.len() > 1 {
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        for pair in level.chunks(2) {
            buf[..32].copy_from_slice(&pair[0].0);
            buf[32..].copy_from_slice(&pair.get(1).unwrap_or(&pair[0]).0);
            next.push(sha256d(&buf));
        }
        level = next;
    }
    level[0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::{deserialize, serialize};

    #[test]
    fn header_is_80_bytes_and_round_trips() {
        let h = BlockHeader {
            version: 1,
            prev_hash: Hash256([1; 32]),
            merkle_root: Hash256([2; 32]),
            time: 3,
            bits: 0x207fffff,
            nonce: 5,
        };
        let b = serialize(&h);
        assert_eq!(b.len(), HEADER_SIZE);
        assert_eq!(deserialize::<BlockHeader>(&b), Ok(h));
    }

    #[test]
    fn merkle_root_of_one_is_the_element_and_odd_levels_duplicate() {
        let a = Hash256([1; 32]);
        let b = Hash256([2; 32]);
        let c = Hash256([3; 32]);
        assert_eq!(merkle_root(vec![a]), a);
        assert_eq!(merkle_root(vec![a, b, c]), merkle_root(vec![a, b, c, c]));
        assert_ne!(merkle_root(vec![a, b]), merkle_root(vec![b, a]));
    }

    #[test]
    fn oversized_block_input_is_rejected_before_decoding() {
        let big = vec![0u8; MAX_BLOCK_SIZE + 1];
        assert!(matches!(
            deserialize::<Block>(&big),
            Err(DecodeError::LengthTooLarge { .. })
        ));
    }
}
