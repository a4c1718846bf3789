//! Inventory entries: what `inv` announces and `getdata`/`notfound` name.

use super::MessageError;
use parthenon_primitives::encode::{Encodable, Reader};
use parthenon_primitives::Hash256;

/// Bytes of an encoded [`Inventory`]: kind (u32 LE) and hash (32).
pub const INVENTORY_SIZE: usize = 4 + 32;

/// What an inventory hash names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvKind {
    /// A transaction, by txid. Wire value 1.
    Tx,
    /// A block, by block hash. Wire value 2.
    Block,
}

impl InvKind {
    /// The wire value.
    pub fn to_u32(self) -> u32 {
        match self {
            InvKind::Tx => 1,
            InvKind::Block => 2,
        }
    }

    /// The kind with wire value `v`, if any.
    pub fn from_u32(v: u32) -> Option<InvKind> {
        match v {
            1 => Some(InvKind::Tx),
            2 => Some(InvKind::Block),
            _ => None,
        }
    }
}

/// One inventory entry: a transaction or block, by hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Inventory {
    /// Transaction or block.
    pub kind: InvKind,
    /// Its txid or block hash.
    pub hash: Hash256,
}

impl Encodable for Inventory {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.kind.to_u32().to_le_bytes());
        out.extend_from_slice(&self.hash.0);
    }
}

impl Inventory {
    /// Reads one entry; an unknown kind is an error.
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Inventory, MessageError> {
        let v = r.u32_le()?;
        let kind = InvKind::from_u32(v).ok_or(MessageError::UnknownInvKind(v))?;
        Ok(Inventory {
            kind,
            hash: r.hash()?,
        })
    }
}
