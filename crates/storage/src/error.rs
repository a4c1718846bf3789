//! The one error type of this crate.

use std::path::PathBuf;

use crate::kv::Partition;

/// Everything that can go wrong in the storage layer.
///
/// Every variant names the place it happened (a path, a block file number
/// and offset, or a partition) so a log line alone is enough to find the
/// damaged file.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// An operating-system I/O call failed on `path`.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// File or directory the failing call touched.
        path: PathBuf,
        /// The underlying OS error.
        #[source]
        source: std::io::Error,
    },

    /// The fjall engine reported an error.
    #[error("fjall: {action} failed in {path}: {source}")]
    Fjall {
        /// What the store was doing, e.g. "get from partition `coins`".
        action: String,
        /// Directory of the fjall database.
        path: PathBuf,
        /// The engine's error.
        #[source]
        source: fjall::Error,
    },

    /// Another process (or another handle in this process) already holds the
    /// store at `path`; two writers on one datadir would corrupt it.
    #[error("storage at {path} is locked by another process or handle")]
    Locked {
        /// Directory whose lock could not be taken.
        path: PathBuf,
    },

    /// A block file does not contain what its index entry or its own framing
    /// promises.
    #[error("corrupt block file {path} (file {file}, offset {offset}): {reason}")]
    Corrupt {
        /// Path of the damaged block file.
        path: PathBuf,
        /// Number `N` of `blkN.dat`.
        file: u32,
        /// Byte offset of the offending record header or payload.
        offset: u64,
        /// What was found instead of a valid record.
        reason: String,
    },

    /// A key-value entry that cannot be what its partition holds.
    #[error("corrupt entry in partition `{partition}`: {reason}")]
    CorruptEntry {
        /// The partition.
        partition: Partition,
        /// What is wrong.
        reason: String,
    },

    /// A block record payload is larger than [`crate::block_files::MAX_RECORD_LEN`].
    #[error("block record of {len} bytes exceeds the {max}-byte limit")]
    RecordTooLarge {
        /// Requested payload length.
        len: u64,
        /// The limit it exceeds.
        max: u32,
    },

    /// A serialized [`crate::block_files::BlockLocation`] has the wrong size.
    #[error("encoded block location has {len} bytes, expected {expected}")]
    InvalidLocation {
        /// Length of the bytes given.
        len: usize,
        /// The only valid length.
        expected: usize,
    },

    /// A key that no store can hold: empty or longer than
    /// [`crate::kv::MAX_KEY_LEN`] (fjall's on-disk format limit).
    #[error("key of {len} bytes cannot be stored in partition `{partition}` (allowed: 1..={max})")]
    InvalidKey {
        /// Target partition.
        partition: Partition,
        /// Length of the rejected key.
        len: usize,
        /// Longest allowed key.
        max: usize,
    },

    /// A value longer than [`crate::kv::MAX_VALUE_LEN`].
    #[error("value of {len} bytes cannot be stored in partition `{partition}` (max {max})")]
    ValueTooLarge {
        /// Target partition.
        partition: Partition,
        /// Length of the rejected value.
        len: usize,
        /// Longest allowed value.
        max: usize,
    },
}

impl StorageError {
    /// Builds an [`StorageError::Io`] for `path`; used with `map_err`.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Errors travel across threads and into `anyhow`, which needs all three bounds.
    #[test]
    fn error_is_send_sync_static() {
        fn assert_bounds<E: std::error::Error + Send + Sync + 'static>() {}
        assert_bounds::<StorageError>();
    }

    #[test]
    fn display_names_the_location() {
        let err = StorageError::Corrupt {
            path: PathBuf::from("/d/blk00003.dat"),
            file: 3,
            offset: 4096,
            reason: "bad magic".into(),
        };
        let text = err.to_string();
        assert!(text.contains("blk00003.dat"), "{text}");
        assert!(text.contains("file 3"), "{text}");
        assert!(text.contains("offset 4096"), "{text}");
    }
}
