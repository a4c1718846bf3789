//! The minimal dev wallet: one BIP-340 key in `<datadir>/wallet.key`, its coins, and signed
//! sends of any asset.
//!
//! The key file is JSON written by [`parthenon_storage::write_secret`] (mode 0600 from
//! creation, a random `O_EXCL` temporary name, fsync, rename):
//! `{"version":1,"network":"dev","public_key":"<hex>","secret_key":"<hex>"}` in the clear, or
//! after `parthenon wallet encrypt`
//! `{"version":1,"network":"dev","public_key":"<hex>","encrypted_secret":"<hex>"}`, where the
//! encrypted secret is a [`parthenon_crypto::keystore`] container (Argon2id + AES-256-GCM,
//! parameters in an authenticated header). The public key stays readable so that a node can
//! mine to an encrypted wallet and show its balance without the passphrase; spending needs it.
//! An address is the 64-hex-digit x-only public key.

use parthenon_chain::Coin;
use parthenon_crypto::{
    decrypt_secret, encrypt_secret, sign_all_inputs, AesMode, KdfParams, KeyPair,
};
use parthenon_primitives::{Asset, Network, OutPoint, Transaction, TxIn, TxOut};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Current key-file version.
const KEY_FILE_VERSION: u32 = 1;

/// Wallet errors.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    /// No key file.
    #[error("no wallet at {0}; create one with `parthenon wallet new`")]
    Missing(PathBuf),
    /// A key file already exists.
    #[error("a wallet already exists at {0}; refusing to overwrite it")]
    Exists(PathBuf),
    /// I/O failure.
    #[error("wallet file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a valid key file.
    #[error("wallet file {path} is not valid: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An address that is not a valid key.
    #[error("invalid address {0:?}: an address is 64 hex digits of an x-only public key")]
    BadAddress(String),
    /// Not enough spendable coins.
    #[error(
        "insufficient {asset}: need {needed} base units (amount + fee), spendable {available}"
    )]
    InsufficientFunds {
        /// The asset.
        asset: Asset,
        /// Amount plus fee.
        needed: u64,
        /// Spendable total.
        available: u64,
    },
    /// Zero amount.
    #[error("the amount must be greater than zero")]
    ZeroAmount,
    /// The wallet is encrypted and was not unlocked.
    #[error("the wallet is encrypted; give its passphrase to spend")]
    Locked,
    /// Encrypting an already encrypted wallet (or decrypting a plain one).
    #[error("the wallet is already {0}")]
    AlreadyInState(&'static str),
    /// The keystore refused (wrong passphrase, corrupt file, bad parameters).
    #[error(transparent)]
    Keystore(#[from] parthenon_crypto::KeystoreError),
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    version: u32,
    network: Network,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    public_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    encrypted_secret: Option<String>,
}

/// A loaded wallet: its public key always, its secret key once unlocked.
pub struct Wallet {
    public: [u8; 32],
    key: Option<KeyPair>,
    encrypted: Option<Vec<u8>>,
    network: Network,
}

impl std::fmt::Debug for Wallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wallet")
            .field("address", &self.address())
            .finish()
    }
}

/// A coin of the wallet with whether it can be spent now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletCoin {
    /// The coin's outpoint in the canonical text form.
    pub outpoint: String,
    /// Its asset.
    pub asset: Asset,
    /// Base units.
    pub amount: u64,
    /// Height it was created at.
    pub height: u32,
    /// Whether it came from a coinbase.
    pub coinbase: bool,
    /// Mature and not already spent by a mempool transaction.
    pub spendable: bool,
}

/// Balances per asset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// Spendable now, per asset (TALANTON, DRACHMA, OBOLOS).
    pub spendable: [u64; 3],
    /// Immature coinbase or pending, per asset.
    pub pending: [u64; 3],
}

impl Balance {
    /// Sums `coins`.
    pub fn of(coins: &[WalletCoin]) -> Balance {
        let mut b = Balance::default();
        for c in coins {
            let slot = if c.spendable {
                &mut b.spendable
            } else {
                &mut b.pending
            };
            slot[c.asset as usize] = slot[c.asset as usize].saturating_add(c.amount);
        }
        b
    }
}

impl Wallet {
    /// Creates a new key file at `path` (refuses to overwrite).
    pub fn create(path: &Path, network: Network) -> Result<Wallet, WalletError> {
        if path.exists() {
            return Err(WalletError::Exists(path.to_path_buf()));
        }
        let key = KeyPair::generate();
        let w = Wallet {
            public: key.public_key().to_bytes(),
            key: Some(key),
            encrypted: None,
            network,
        };
        // No-clobber: a key file that appeared since the check above is kept, not replaced.
        w.write(path, parthenon_storage::secret_file::create_secret)
            .map_err(|e| match e {
                WalletError::Io { source, .. }
                    if source.kind() == std::io::ErrorKind::AlreadyExists =>
                {
                    WalletError::Exists(path.to_path_buf())
                }
                other => other,
            })?;
        Ok(w)
    }

    /// Writes the key file (mode 0600, atomically, see [`parthenon_storage::secret_file`]).
    fn save(&self, path: &Path) -> Result<(), WalletError> {
        self.write(path, parthenon_storage::write_secret)
    }

    /// Serialises the key file and hands it to `writer` (a secret-file writer).
    fn write(
        &self,
        path: &Path,
        writer: fn(&Path, &[u8]) -> std::io::Result<()>,
    ) -> Result<(), WalletError> {
        let file = KeyFile {
            version: KEY_FILE_VERSION,
            network: self.network,
            public_key: Some(hex::encode(self.public)),
            secret_key: match (&self.encrypted, &self.key) {
                (None, Some(k)) => Some(hex::encode(*zeroize::Zeroizing::new(k.secret_bytes()))),
                _ => None,
            },
            encrypted_secret: self.encrypted.as_ref().map(hex::encode),
        };
        let text = zeroize::Zeroizing::new(
            serde_json::to_string_pretty(&file).expect("key file serialises"),
        );
        write_key_file(path, text.as_bytes(), writer).map_err(|source| WalletError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Whether the secret key is stored encrypted.
    pub fn is_encrypted(&self) -> bool {
        self.encrypted.is_some()
    }

    /// Whether the secret key is available (plain, or encrypted and unlocked).
    pub fn is_unlocked(&self) -> bool {
        self.key.is_some()
    }

    /// Decrypts the secret key with `passphrase` for this session (the file is unchanged).
    pub fn unlock(&mut self, passphrase: &[u8], mode: AesMode) -> Result<(), WalletError> {
        let Some(blob) = &self.encrypted else {
            return Ok(());
        };
        let secret = decrypt_secret(blob, passphrase, mode)?;
        let key = KeyPair::from_secret_bytes(&secret).map_err(|e| WalletError::Invalid {
            path: PathBuf::new(),
            reason: e.to_string(),
        })?;
        if key.public_key().to_bytes() != self.public {
            return Err(WalletError::Invalid {
                path: PathBuf::new(),
                reason: "the decrypted key does not match the stored public key".into(),
            });
        }
        self.key = Some(key);
        Ok(())
    }

    /// Encrypts the key file at `path` under `passphrase` (the wallet must be plain).
    pub fn encrypt(
        &mut self,
        path: &Path,
        passphrase: &[u8],
        params: KdfParams,
        mode: AesMode,
    ) -> Result<(), WalletError> {
        if self.encrypted.is_some() {
            return Err(WalletError::AlreadyInState("encrypted"));
        }
        self.seal(path, passphrase, params, mode)
    }

    /// Stores the unlocked secret encrypted under `passphrase` and writes the file.
    fn seal(
        &mut self,
        path: &Path,
        passphrase: &[u8],
        params: KdfParams,
        mode: AesMode,
    ) -> Result<(), WalletError> {
        let key = self.key.as_ref().ok_or(WalletError::Locked)?;
        let secret = zeroize::Zeroizing::new(key.secret_bytes());
        self.encrypted = Some(encrypt_secret(&secret, passphrase, params, mode)?);
        self.save(path)
    }

    /// Rewrites the key file at `path` in the clear (the wallet must be unlocked).
    pub fn decrypt(&mut self, path: &Path) -> Result<(), WalletError> {
        if self.encrypted.is_none() {
            return Err(WalletError::AlreadyInState("unencrypted"));
        }
        if self.key.is_none() {
            return Err(WalletError::Locked);
        }
        self.encrypted = None;
        self.save(path)
    }

    /// Re-encrypts the key file at `path` under `new` (the wallet must be unlocked).
    pub fn change_passphrase(
        &mut self,
        path: &Path,
        new: &[u8],
        params: KdfParams,
        mode: AesMode,
    ) -> Result<(), WalletError> {
        if self.encrypted.is_none() {
            return Err(WalletError::AlreadyInState("unencrypted"));
        }
        self.seal(path, new, params, mode)
    }

    /// Loads the key file at `path`.
    pub fn load(path: &Path) -> Result<Wallet, WalletError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(WalletError::Missing(path.to_path_buf()))
            }
            Err(source) => {
                return Err(WalletError::Io {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let invalid = |reason: String| WalletError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        let file: KeyFile = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        if file.version != KEY_FILE_VERSION {
            return Err(invalid(format!("unsupported version {}", file.version)));
        }
        let decode32 = |field: &str, v: &str| {
            let mut out = zeroize::Zeroizing::new([0u8; 32]);
            hex::decode_to_slice(v, &mut *out).map_err(|e| invalid(format!("{field}: {e}")))?;
            Ok::<_, WalletError>(out)
        };
        let stored_public = file
            .public_key
            .as_deref()
            .map(|p| decode32("public_key", p))
            .transpose()?;
        match (file.secret_key, file.encrypted_secret) {
            (Some(secret_hex), None) => {
                let secret = decode32("secret_key", &secret_hex)?;
                let key =
                    KeyPair::from_secret_bytes(&secret).map_err(|e| invalid(e.to_string()))?;
                let public = key.public_key().to_bytes();
                if stored_public.is_some_and(|p| *p != public) {
                    return Err(invalid("public_key does not match secret_key".into()));
                }
                Ok(Wallet {
                    public,
                    key: Some(key),
                    encrypted: None,
                    network: file.network,
                })
            }
            (None, Some(blob_hex)) => {
                let public = *stored_public
                    .ok_or_else(|| invalid("an encrypted wallet needs public_key".into()))?;
                let blob =
                    hex::decode(blob_hex).map_err(|e| invalid(format!("encrypted_secret: {e}")))?;
                if !parthenon_crypto::is_encrypted(&blob) {
                    return Err(invalid(
                        "encrypted_secret is not a keystore container".into(),
                    ));
                }
                Ok(Wallet {
                    public,
                    key: None,
                    encrypted: Some(blob),
                    network: file.network,
                })
            }
            _ => Err(invalid(
                "exactly one of secret_key and encrypted_secret is required".into(),
            )),
        }
    }

    /// Loads the wallet at `path`, creating it if it does not exist.
    pub fn load_or_create(path: &Path, network: Network) -> Result<Wallet, WalletError> {
        match Wallet::load(path) {
            Err(WalletError::Missing(_)) => Wallet::create(path, network),
            other => other,
        }
    }

    /// The network the key file was made for.
    pub fn network(&self) -> Network {
        self.network
    }

    /// The wallet's address (x-only public key, hex).
    pub fn address(&self) -> String {
        hex::encode(self.public)
    }

    /// The x-only public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.public
    }

    /// Signs a 32-byte message with the wallet's key (BIP-340).
    pub fn sign_message(&self, msg: &[u8; 32]) -> Result<[u8; 64], WalletError> {
        Ok(self.key.as_ref().ok_or(WalletError::Locked)?.sign(msg).0)
    }

    /// Builds and signs a transaction paying `amount` of `asset` to `to`, with `fee` of the
    /// same asset, from `coins` (largest first); change returns to the wallet.
    pub fn build_send(
        &self,
        coins: &[WalletCoin],
        to: [u8; 32],
        asset: Asset,
        amount: u64,
        fee: u64,
    ) -> Result<Transaction, WalletError> {
        if amount == 0 {
            return Err(WalletError::ZeroAmount);
        }
        let key = self.key.as_ref().ok_or(WalletError::Locked)?;
        let needed = amount.saturating_add(fee);
        let mut candidates: Vec<&WalletCoin> = coins
            .iter()
            .filter(|c| c.spendable && c.asset == asset)
            .collect();
        candidates.sort_by_key(|c| std::cmp::Reverse(c.amount));
        let available: u64 = candidates.iter().map(|c| c.amount).sum();
        let mut chosen = Vec::new();
        let mut total = 0u64;
        for c in candidates {
            if total >= needed {
                break;
            }
            total += c.amount;
            chosen.push(c);
        }
        if total < needed {
            return Err(WalletError::InsufficientFunds {
                asset,
                needed,
                available,
            });
        }
        let mut outputs = vec![TxOut::to_key(asset, amount, to)];
        if total > needed {
            outputs.push(TxOut::to_key(asset, total - needed, self.public_key()));
        }
        let inputs = chosen
            .iter()
            .map(|c| {
                let prevout = OutPoint::parse_key_text(&c.outpoint)
                    .map_err(|e| WalletError::BadAddress(format!("{}: {e}", c.outpoint)))?;
                Ok(TxIn {
                    prevout,
                    signature: Vec::new(),
                    sequence: u32::MAX,
                })
            })
            .collect::<Result<Vec<_>, WalletError>>()?;
        let spent: Vec<TxOut> = chosen
            .iter()
            .map(|c| TxOut::to_key(c.asset, c.amount, self.public_key()))
            .collect();
        let spent_refs: Vec<&TxOut> = spent.iter().collect();
        let keys: Vec<&KeyPair> = chosen.iter().map(|_| key).collect();
        let mut tx = Transaction {
            version: 1,
            inputs,
            outputs,
            lock_time: 0,
        };
        let genesis = self.network.params().genesis_hash();
        sign_all_inputs(&genesis, &mut tx, &spent_refs, &keys).map_err(|e| {
            WalletError::Invalid {
                path: PathBuf::new(),
                reason: e.to_string(),
            }
        })?;
        Ok(tx)
    }
}

/// Writes a key file with `writer` (one of [`parthenon_storage::secret_file`]'s), creating
/// its directory first.
fn write_key_file(
    path: &Path,
    data: &[u8],
    writer: fn(&Path, &[u8]) -> std::io::Result<()>,
) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    writer(path, data)
}

/// Parses an address.
pub fn parse_address(s: &str) -> Result<[u8; 32], WalletError> {
    let mut k = [0u8; 32];
    hex::decode_to_slice(s, &mut k).map_err(|_| WalletError::BadAddress(s.to_string()))?;
    parthenon_crypto::XOnlyPublicKey::from_bytes(&k)
        .map_err(|_| WalletError::BadAddress(s.to_string()))?;
    Ok(k)
}

/// The wallet coins of `key` among `coins`, at chain height `height`, given which outpoints
/// the mempool already spends.
pub fn wallet_coins(
    coins: impl IntoIterator<Item = (OutPoint, Coin)>,
    key: [u8; 32],
    height: u32,
    maturity: u32,
    spent_in_mempool: impl Fn(&OutPoint) -> bool,
) -> Vec<WalletCoin> {
    coins
        .into_iter()
        .filter(|(_, c)| c.output.key() == Some(key))
        .map(|(op, c)| {
            let mature = !c.is_coinbase || (height + 1).saturating_sub(c.height) >= maturity;
            WalletCoin {
                outpoint: op.to_key_text(),
                asset: c.output.asset,
                amount: c.output.amount,
                height: c.height,
                coinbase: c.is_coinbase,
                spendable: mature && !spent_in_mempool(&op),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_round_trip_and_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wallet.key");
        let w = Wallet::create(&p, Network::Dev).unwrap();
        let again = Wallet::load(&p).unwrap();
        assert_eq!(w.address(), again.address());
        assert!(matches!(
            Wallet::create(&p, Network::Dev),
            Err(WalletError::Exists(_))
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        std::fs::write(&p, "{not json").unwrap();
        assert!(matches!(Wallet::load(&p), Err(WalletError::Invalid { .. })));
    }

    #[cfg(unix)]
    #[test]
    fn the_key_file_is_not_written_through_a_planted_symlink() {
        // The old writer opened `.wallet.key.tmp` with O_CREAT|O_TRUNC, following a symbolic
        // link planted there into any file the node's user may write.
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let victim = elsewhere.path().join("victim");
        std::fs::write(&victim, "untouched").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join(".wallet.key.tmp")).unwrap();
        let p = dir.path().join("wallet.key");
        let w = Wallet::create(&p, Network::Dev).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
        assert_eq!(Wallet::load(&p).unwrap().address(), w.address());
    }

    #[test]
    fn encrypt_unlock_change_passphrase_and_decrypt() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wallet.key");
        let small = KdfParams {
            m_cost_kib: KdfParams::MIN_M_COST_KIB,
            t_cost: 1,
            p_cost: 1,
        };
        let mut w = Wallet::create(&p, Network::Dev).unwrap();
        let address = w.address();
        w.encrypt(&p, b"first", small, AesMode::Auto).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            !text.contains("secret_key"),
            "no clear secret after encrypt: {text}"
        );

        let mut locked = Wallet::load(&p).unwrap();
        assert!(locked.is_encrypted() && !locked.is_unlocked());
        assert_eq!(
            locked.address(),
            address,
            "the address is readable without a passphrase"
        );
        assert!(matches!(
            locked.build_send(&[], [1; 32], Asset::Talanton, 1, 0),
            Err(WalletError::Locked)
        ));
        assert!(matches!(
            locked.unlock(b"wrong", AesMode::Auto),
            Err(WalletError::Keystore(
                parthenon_crypto::KeystoreError::WrongPassphraseOrCorrupt
            ))
        ));
        locked.unlock(b"first", AesMode::Software).unwrap();
        locked
            .change_passphrase(&p, b"second", small, AesMode::Auto)
            .unwrap();

        let mut again = Wallet::load(&p).unwrap();
        assert!(again.unlock(b"first", AesMode::Auto).is_err());
        again.unlock(b"second", AesMode::Auto).unwrap();
        again.decrypt(&p).unwrap();
        let plain = Wallet::load(&p).unwrap();
        assert!(plain.is_unlocked() && !plain.is_encrypted());
        assert_eq!(plain.address(), address);
    }

    #[test]
    fn a_flipped_byte_in_the_encrypted_secret_never_yields_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wallet.key");
        let small = KdfParams {
            m_cost_kib: KdfParams::MIN_M_COST_KIB,
            t_cost: 1,
            p_cost: 1,
        };
        let mut w = Wallet::create(&p, Network::Dev).unwrap();
        w.encrypt(&p, b"pw", small, AesMode::Auto).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let blob = hex::decode(v["encrypted_secret"].as_str().unwrap()).unwrap();
        for i in [10usize, blob.len() / 2, blob.len() - 1] {
            let mut bad = blob.clone();
            bad[i] ^= 0x01;
            let mut v2 = v.clone();
            v2["encrypted_secret"] = serde_json::json!(hex::encode(&bad));
            std::fs::write(&p, v2.to_string()).unwrap();
            let mut loaded = Wallet::load(&p).unwrap();
            assert!(
                loaded.unlock(b"pw", AesMode::Auto).is_err(),
                "byte {i} flipped still unlocked"
            );
            assert!(!loaded.is_unlocked());
        }
    }

    #[test]
    fn send_selects_coins_signs_and_returns_change() {
        let dir = tempfile::tempdir().unwrap();
        let w = Wallet::create(&dir.path().join("w"), Network::Dev).unwrap();
        let coin = |n: u8, amount| WalletCoin {
            outpoint: OutPoint::new(parthenon_primitives::Hash256([n; 32]), 0).to_key_text(),
            asset: Asset::Drachma,
            amount,
            height: 1,
            coinbase: false,
            spendable: true,
        };
        let coins = vec![coin(1, 10), coin(2, 50), coin(3, 30)];
        let to = [7u8; 32];
        let tx = w.build_send(&coins, to, Asset::Drachma, 60, 1).unwrap();
        assert_eq!(tx.inputs.len(), 2); // 50 + 30
        assert_eq!(tx.outputs[0].amount, 60);
        assert_eq!(tx.outputs[1].amount, 19);
        assert!(tx.inputs.iter().all(|i| i.signature.len() == 64));
        assert!(matches!(
            w.build_send(&coins, to, Asset::Drachma, 1000, 0),
            Err(WalletError::InsufficientFunds { available: 90, .. })
        ));
        assert!(matches!(
            w.build_send(&coins, to, Asset::Obolos, 1, 0),
            Err(WalletError::InsufficientFunds { available: 0, .. })
        ));
    }
}
