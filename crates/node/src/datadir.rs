//! The data directory: where a node keeps its chainstate, block files, wallet and socket.
//!
//! ```text
//! <datadir>/chainstate/   fjall key-value store (block index, coins, undo, meta)
//! <datadir>/blocks/       append-only block files blk00000.dat …
//! <datadir>/wallet.key    the dev wallet's key (mode 0600)
//! <datadir>/control.sock  control socket of a running node (mode 0600)
//! ```

use parthenon_chain::{ChainError, Chainstate, ChainstateConfig, Workers};
use parthenon_primitives::ChainParams;
use parthenon_storage::{BlockFiles, Durability, FjallStore, StorageError};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Largest block file before a new one is started.
pub const BLOCK_FILE_SIZE: u64 = 128 * 1024 * 1024;

/// Why a data directory could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// The store is held by a running node.
    #[error("{path} is in use by a running node (stop it, or ask it through its control socket)")]
    InUse {
        /// The chainstate directory.
        path: PathBuf,
    },
    /// Creating the directory failed.
    #[error("cannot create data directory {path}: {source}")]
    Create {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The storage layer failed.
    #[error(transparent)]
    Storage(StorageError),
    /// The chainstate was written by an older node under incompatible rules.
    #[error(
        "{error}\nTo start afresh, stop the node and run: rm -rf {} {}\n\
         (the wallet key and TLS certificate in {} stay valid and are kept)",
        .chainstate.display(),
        .blocks.display(),
        .root.display()
    )]
    Outdated {
        /// The data directory.
        root: PathBuf,
        /// Its chainstate store, to delete.
        chainstate: PathBuf,
        /// Its block files, to delete.
        blocks: PathBuf,
        /// The chainstate's error, naming the versions (in the message, not as a source, so
        /// that printing the error chain does not say it twice).
        error: ChainError,
    },
    /// The chainstate could not be opened.
    #[error(transparent)]
    Chain(#[from] ChainError),
}

impl From<StorageError> for DataDirError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Locked { path } => DataDirError::InUse { path },
            other => DataDirError::Storage(other),
        }
    }
}

/// A data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The data directory at `root` (not created yet).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DataDir { root: root.into() }
    }

    /// The default for a network: `./parthenon-data/<network>`.
    pub fn default_for(params: &ChainParams) -> Self {
        DataDir::new(Path::new("parthenon-data").join(params.network.name()))
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The chainstate store directory.
    pub fn chainstate_dir(&self) -> PathBuf {
        self.root.join("chainstate")
    }

    /// The block files directory.
    pub fn blocks_dir(&self) -> PathBuf {
        self.root.join("blocks")
    }

    /// The wallet key file.
    pub fn wallet_path(&self) -> PathBuf {
        self.root.join("wallet.key")
    }

    /// The node's TLS certificate and key directory.
    pub fn tls_dir(&self) -> PathBuf {
        self.root.join(parthenon_net::tls::TLS_DIR)
    }

    /// The address book (known peer addresses).
    pub fn peers_path(&self) -> PathBuf {
        self.root.join("peers.txt")
    }

    /// The banned peer addresses, kept across restarts.
    pub fn ban_list_path(&self) -> PathBuf {
        self.root.join("banlist.txt")
    }

    /// The control socket of a running node.
    pub fn control_socket(&self) -> PathBuf {
        self.root.join("control.sock")
    }

    /// Creates the directory (owner-only on Unix) if needed.
    pub fn create(&self) -> Result<(), DataDirError> {
        std::fs::create_dir_all(&self.root).map_err(|source| DataDirError::Create {
            path: self.root.clone(),
            source,
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(0o700));
        }
        Ok(())
    }

    /// Opens (creating on first use) the chainstate of this directory.
    pub fn open_chainstate(
        &self,
        params: &'static ChainParams,
        workers: Workers,
        config: ChainstateConfig,
        durability: Durability,
    ) -> Result<Chainstate, DataDirError> {
        self.create()?;
        let store = FjallStore::open(&self.chainstate_dir(), durability)?;
        // Block bytes get the store's durability: with `PowerLoss` each block is fsynced
        // before the index entry that points at it is written.
        let blocks = BlockFiles::open(&self.blocks_dir(), params.magic, BLOCK_FILE_SIZE)?
            .with_durability(durability);
        Chainstate::open(params, Arc::new(store), blocks, workers, config).map_err(|e| match e {
            ChainError::OutdatedStore { .. } => DataDirError::Outdated {
                root: self.root.clone(),
                chainstate: self.chainstate_dir(),
                blocks: self.blocks_dir(),
                error: e,
            },
            other => DataDirError::Chain(other),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parthenon_primitives::Network;
    use parthenon_storage::{KvStore, Partition, WriteBatch};

    #[test]
    fn a_data_directory_of_the_previous_rules_is_refused_naming_what_to_delete() {
        let tmp = tempfile::tempdir().unwrap();
        let dd = DataDir::new(tmp.path().join("dev"));
        let params = Network::Dev.params();
        let open = || {
            dd.open_chainstate(
                params,
                Workers::inline(),
                ChainstateConfig::default(),
                Durability::Process,
            )
        };
        drop(open().unwrap());
        {
            // Rewrite the schema record as a node before the signature-hash change wrote it.
            let store = FjallStore::open(&dd.chainstate_dir(), Durability::Process).unwrap();
            let mut old = 1u32.to_le_bytes().to_vec();
            old.extend_from_slice(&params.magic);
            let mut batch = WriteBatch::new();
            batch.put(Partition::Meta, b"schema".to_vec(), old);
            store.write(batch).unwrap();
        }
        let err = open().unwrap_err();
        assert!(matches!(err, DataDirError::Outdated { .. }), "{err:?}");
        let text = err.to_string();
        let rm = format!(
            "rm -rf {} {}",
            dd.chainstate_dir().display(),
            dd.blocks_dir().display()
        );
        assert!(text.contains(&rm), "{text}");
        assert!(text.contains("schema version 1"), "{text}");
    }
}
