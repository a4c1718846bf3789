//! Where a block record's payload lives, in a form the block index can store.

use crate::error::StorageError;

/// Position of one record's payload inside the block files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BlockLocation {
    /// Number `N` of the file `blkNNNNN.dat`.
    pub file: u32,
    /// Byte offset of the payload (just past the 8-byte record header).
    pub offset: u64,
    /// Payload length in bytes.
    pub len: u32,
}

impl BlockLocation {
    /// Size of the encoding produced by [`BlockLocation::to_bytes`].
    pub const ENCODED_LEN: usize = 16;

    /// Fixed little-endian encoding: `file u32 | offset u64 | len u32`.
    pub fn to_bytes(&self) -> [u8; Self::ENCODED_LEN] {
        let mut out = [0u8; Self::ENCODED_LEN];
        out[0..4].copy_from_slice(&self.file.to_le_bytes());
        out[4..12].copy_from_slice(&self.offset.to_le_bytes());
        out[12..16].copy_from_slice(&self.len.to_le_bytes());
        out
    }

    /// Decodes [`BlockLocation::to_bytes`] output; any other length is an error.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StorageError> {
        let bytes: &[u8; Self::ENCODED_LEN] =
            bytes
                .try_into()
                .map_err(|_| StorageError::InvalidLocation {
                    len: bytes.len(),
                    expected: Self::ENCODED_LEN,
                })?;
        let [f0, f1, f2, f3, o0, o1, o2, o3, o4, o5, o6, o7, l0, l1, l2, l3] = *bytes;
        Ok(Self {
            file: u32::from_le_bytes([f0, f1, f2, f3]),
            offset: u64::from_le_bytes([o0, o1, o2, o3, o4, o5, o6, o7]),
            len: u32::from_le_bytes([l0, l1, l2, l3]),
        })
    }
}

/// A point in the sequence of block files: byte `offset` of file `blkNNNNN.dat`.
///
/// Ordered by file, then offset, which is the order records are appended
/// in; used to say "every record ending at or before here is durable".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockPosition {
    /// Number `N` of the file `blkNNNNN.dat`.
    pub file: u32,
    /// Byte offset inside that file.
    pub offset: u64,
}

impl BlockPosition {
    /// Size of the encoding produced by [`BlockPosition::to_bytes`].
    pub const ENCODED_LEN: usize = 12;

    /// Fixed little-endian encoding: `file u32 | offset u64`.
    pub fn to_bytes(&self) -> [u8; Self::ENCODED_LEN] {
        let mut out = [0u8; Self::ENCODED_LEN];
        out[0..4].copy_from_slice(&self.file.to_le_bytes());
        out[4..12].copy_from_slice(&self.offset.to_le_bytes());
        out
    }

    /// Decodes [`BlockPosition::to_bytes`] output; any other length is an error.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StorageError> {
        let bytes: &[u8; Self::ENCODED_LEN] =
            bytes
                .try_into()
                .map_err(|_| StorageError::InvalidLocation {
                    len: bytes.len(),
                    expected: Self::ENCODED_LEN,
                })?;
        let [f0, f1, f2, f3, o0, o1, o2, o3, o4, o5, o6, o7] = *bytes;
        Ok(Self {
            file: u32::from_le_bytes([f0, f1, f2, f3]),
            offset: u64::from_le_bytes([o0, o1, o2, o3, o4, o5, o6, o7]),
        })
    }
}

impl BlockLocation {
    /// Where this record's payload ends: every byte of the record lies
    /// before this position.
    pub fn end(&self) -> BlockPosition {
        BlockPosition {
            file: self.file,
            offset: self.offset + u64::from(self.len),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_and_layout() {
        let loc = BlockLocation {
            file: 0x0102_0304,
            offset: 0x1112_1314_1516_1718,
            len: 0x2122_2324,
        };
        let bytes = loc.to_bytes();
        assert_eq!(&bytes[0..4], &[4, 3, 2, 1]);
        assert_eq!(&bytes[12..16], &[0x24, 0x23, 0x22, 0x21]);
        assert_eq!(BlockLocation::from_bytes(&bytes).unwrap(), loc);
    }

    #[test]
    fn positions_round_trip_and_order_by_file_then_offset() {
        let p = BlockPosition {
            file: 3,
            offset: 0x0102_0304_0506_0708,
        };
        assert_eq!(BlockPosition::from_bytes(&p.to_bytes()).unwrap(), p);
        assert!(BlockPosition::from_bytes(&[0; 11]).is_err());
        let a = BlockPosition {
            file: 1,
            offset: 900,
        };
        let b = BlockPosition {
            file: 2,
            offset: 10,
        };
        assert!(a < b);
        let loc = BlockLocation {
            file: 2,
            offset: 8,
            len: 100,
        };
        assert_eq!(
            loc.end(),
            BlockPosition {
                file: 2,
                offset: 108
            }
        );
    }

    #[test]
    fn wrong_length_is_rejected() {
        for len in [0, 15, 17] {
            let err = BlockLocation::from_bytes(&vec![0u8; len]).unwrap_err();
            assert!(
                matches!(err, StorageError::InvalidLocation { len: l, expected: 16 } if l == len),
                "{err:?}"
            );
        }
    }
}
