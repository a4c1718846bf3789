//! Errors of the chain layer.

use crate::validation::ValidationError;
use parthenon_primitives::{BlockHash, DecodeError};
use parthenon_storage::StorageError;

/// Why a chain operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// A block breaks a consensus rule.
    #[error("block {hash} is invalid: {source}")]
    InvalidBlock {
        /// The offending block.
        hash: BlockHash,
        /// The rule it breaks.
        #[source]
        source: ValidationError,
    },
    /// A block previously found invalid (or a descendant of one) was offered again.
    #[error("block {hash} is known to be invalid")]
    KnownInvalid {
        /// The block.
        hash: BlockHash,
    },
    /// The storage layer failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// Stored data does not decode or contradicts itself.
    #[error("corrupt chainstate: {0}")]
    Corrupt(String),
    /// The store was written by an older node under rules that changed incompatibly (a
    /// chain validated under them would not validate now); it cannot be upgraded in place.
    #[error(
        "the data directory was written under chainstate schema version {found}; this node uses \
         version {expected}, whose signature hash commits to every input's sequence and to the \
         network, so the stored chain's spends no longer verify. It cannot be upgraded: delete \
         the data directory's chainstate/ and blocks/ and sync again (a dev chain is mined again)"
    )]
    OutdatedStore {
        /// The version the store records.
        found: u32,
        /// The version this node writes.
        expected: u32,
    },
    /// The store was written by another network or an incompatible version.
    #[error(
        "the data directory holds {found}, this node expects {expected}; use another --datadir"
    )]
    WrongStore {
        /// What the store holds.
        found: String,
        /// What was expected.
        expected: String,
    },
}

impl ChainError {
    /// A corruption error about a value that failed to decode.
    pub(crate) fn corrupt(what: &str, e: DecodeError) -> ChainError {
        ChainError::Corrupt(format!("{what}: {e}"))
    }

    /// The validation error, if this is one.
    pub fn validation(&self) -> Option<&ValidationError> {
        match self {
            ChainError::InvalidBlock { source, .. } => Some(source),
            _ => None,
        }
    }
}
