//! Undo data: the coins a block spent, so the block can be disconnected in a reorg.

use crate::coin::Coin;
use parthenon_primitives::encode::{
    deserialize, write_compact_size, Decodable, DecodeError, Encodable, Reader,
};
use parthenon_primitives::OutPoint;

/// The coins one block spent, in the order it spent them.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct BlockUndo {
    /// `(outpoint, coin)` for every input of every non-coinbase transaction.
    pub spent: Vec<(OutPoint, Coin)>,
}

impl BlockUndo {
    /// The database value.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.spent.len() * 90);
        self.encode(&mut out);
        out
    }

    /// Parses a database value.
    pub fn from_bytes(b: &[u8]) -> Result<BlockUndo, DecodeError> {
        deserialize(b)
    }
}

impl Encodable for BlockUndo {
    fn encode(&self, out: &mut Vec<u8>) {
        write_compact_size(out, self.spent.len() as u64);
        for (op, coin) in &self.spent {
            op.encode(out);
            coin.encode(out);
        }
    }
}

impl Decodable for BlockUndo {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        // 36-byte outpoint + at least 15 bytes of coin.
        let n = r.count("undo entries", usize::MAX, 51)?;
        let mut spent = Vec::with_capacity(n);
        for _ in 0..n {
            spent.push((OutPoint::decode(r)?, Coin::decode(r)?));
        }
        Ok(BlockUndo { spent })
    }
}
