//! Encrypted key files: a 32-byte secret sealed with AES-256-GCM under a passphrase key.
//!
//! # Format (version 1), 97 bytes
//!
//! | offset | len | field |
//! | --- | --- | --- |
//! | 0 | 7 | magic `PTHNKEY` |
//! | 7 | 1 | version, `1` |
//! | 8 | 1 | KDF id, `1` = Argon2id (version 0x13) |
//! | 9 | 4 | Argon2 `m_cost` in KiB, little-endian |
//! | 13 | 4 | Argon2 `t_cost` (passes), little-endian |
//! | 17 | 4 | Argon2 `p_cost` (lanes), little-endian |
//! | 21 | 16 | random salt |
//! | 37 | 12 | random nonce |
//! | 49 | 32 | AES-256-GCM ciphertext of the secret |
//! | 81 | 16 | AES-256-GCM tag |
//!
//! The AES key is Argon2id(passphrase, salt, params) with a 32-byte output. The whole 49-byte
//! header is the associated data, so every header bit is authenticated, and the KDF
//! parameters are also inputs of the key: a file whose parameters were lowered by someone
//! without the passphrase does not open. That is why [`decrypt_secret`] accepts any
//! parameters the header states, within caps ([`KdfParams::MAX_M_COST_KIB`] and friends) that
//! stop a crafted file from making the node spend gigabytes and minutes; the minimums
//! ([`KdfParams::validate`]) guard only the files this module writes.
//!
//! # Errors and what they reveal
//!
//! AES-GCM cannot tell a wrong passphrase (hence a wrong key) from a file altered after it
//! was written: both are one tag mismatch, reported as the single
//! [`KeystoreError::WrongPassphraseOrCorrupt`]. Structural problems found before the KDF
//! runs (magic, version, KDF id, parameter bounds, length) have their own variants.
//!
//! # Secret hygiene
//!
//! The derived key, the Argon2 working memory, the plaintext buffers and the returned secret
//! are held in [`Zeroizing`] and erased on drop; the passphrase is only borrowed. The key
//! schedules inside the AEAD backends are outside this module's reach.

use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::RngCore;
use zeroize::Zeroizing;

use crate::aead::{AeadError, Aes256Gcm, AesMode, KEY_LEN, NONCE_LEN, TAG_LEN};

/// The magic bytes every key file starts with.
pub const MAGIC: &[u8; 7] = b"PTHNKEY";
/// The format version this module writes and reads.
pub const VERSION: u8 = 1;
/// KDF id of Argon2id (version 0x13).
pub const KDF_ARGON2ID: u8 = 1;
/// Length of the Argon2 salt.
pub const SALT_LEN: usize = 16;
/// Length of the authenticated header (the AEAD associated data).
pub const HEADER_LEN: usize = MAGIC.len() + 1 + 1 + 12 + SALT_LEN + NONCE_LEN;
/// Length of a version-1 key file.
pub const FILE_LEN: usize = HEADER_LEN + SECRET_LEN + TAG_LEN;
/// Length of the protected secret.
pub const SECRET_LEN: usize = 32;

/// Errors of the keystore.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeystoreError {
    /// The tag did not verify: the passphrase is wrong or the file was altered. AES-GCM gives
    /// no way to tell these apart.
    #[error("wrong passphrase, or the key file is corrupt")]
    WrongPassphraseOrCorrupt,
    /// The file does not start with [`MAGIC`]: it is not an encrypted key file.
    #[error("not an encrypted key file (no PTHNKEY header)")]
    NotEncrypted,
    /// The format version is not one this build reads.
    #[error("unsupported key file version {0}")]
    UnsupportedVersion(u8),
    /// The KDF id is not one this build knows.
    #[error("unsupported key file KDF id {0}")]
    UnsupportedKdf(u8),
    /// The file ends before the tag.
    #[error("key file truncated: {len} bytes, expected {FILE_LEN}")]
    Truncated {
        /// Length of the file given.
        len: usize,
    },
    /// The Argon2 parameters are outside the accepted range.
    #[error("bad Argon2 parameters: {0}")]
    BadParams(String),
    /// The AEAD layer refused (for example an invalid `PARTHENON_AES` value).
    #[error(transparent)]
    Aead(#[from] AeadError),
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Number of passes.
    pub t_cost: u32,
    /// Degree of parallelism (lanes; computed on one thread here).
    pub p_cost: u32,
}

impl Default for KdfParams {
    /// 64 MiB, 3 passes, 1 lane.
    fn default() -> Self {
        KdfParams {
            m_cost_kib: 64 * 1024,
            t_cost: 3,
            p_cost: 1,
        }
    }
}

impl KdfParams {
    /// Smallest memory [`encrypt_secret`] accepts: 8 MiB.
    pub const MIN_M_COST_KIB: u32 = 8 * 1024;
    /// Smallest pass count [`encrypt_secret`] accepts.
    pub const MIN_T_COST: u32 = 1;
    /// Largest memory accepted anywhere: 4 GiB.
    pub const MAX_M_COST_KIB: u32 = 4 * 1024 * 1024;
    /// Largest pass count accepted anywhere.
    pub const MAX_T_COST: u32 = 64;
    /// Largest lane count accepted anywhere.
    pub const MAX_P_COST: u32 = 16;

    /// Checks the parameters for writing a new file: at least [`Self::MIN_M_COST_KIB`] and
    /// [`Self::MIN_T_COST`], at least one lane, and within the caps.
    ///
    /// # Errors
    /// [`KeystoreError::BadParams`] naming the offending parameter.
    pub fn validate(&self) -> Result<(), KeystoreError> {
        if self.m_cost_kib < Self::MIN_M_COST_KIB {
            return Err(KeystoreError::BadParams(format!(
                "m_cost {} KiB below the minimum {} KiB",
                self.m_cost_kib,
                Self::MIN_M_COST_KIB
            )));
        }
        if self.t_cost < Self::MIN_T_COST {
            return Err(KeystoreError::BadParams(format!(
                "t_cost {} below the minimum {}",
                self.t_cost,
                Self::MIN_T_COST
            )));
        }
        self.check_caps()?;
        Ok(())
    }

    /// Checks what [`decrypt_secret`] requires: the caps, and what Argon2 itself needs.
    fn check_caps(&self) -> Result<Params, KeystoreError> {
        if self.m_cost_kib > Self::MAX_M_COST_KIB
            || self.t_cost > Self::MAX_T_COST
            || self.p_cost > Self::MAX_P_COST
        {
            return Err(KeystoreError::BadParams(format!(
                "m_cost {} KiB, t_cost {}, p_cost {} exceed the caps {} KiB, {}, {}",
                self.m_cost_kib,
                self.t_cost,
                self.p_cost,
                Self::MAX_M_COST_KIB,
                Self::MAX_T_COST,
                Self::MAX_P_COST
            )));
        }
        Params::new(self.m_cost_kib, self.t_cost, self.p_cost, Some(KEY_LEN))
            .map_err(|e| KeystoreError::BadParams(e.to_string()))
    }
}

/// Whether `file` starts like an encrypted key file (the magic bytes); says nothing about
/// whether it is intact.
#[must_use]
pub fn is_encrypted(file: &[u8]) -> bool {
    file.starts_with(MAGIC)
}

/// Encrypts `secret` under `passphrase` into a new key file (fresh random salt and nonce).
///
/// # Errors
/// [`KeystoreError::BadParams`] if `params` fail [`KdfParams::validate`];
/// [`KeystoreError::Aead`] if the AEAD backend cannot be set up.
pub fn encrypt_secret(
    secret: &[u8; SECRET_LEN],
    passphrase: &[u8],
    params: KdfParams,
    mode: AesMode,
) -> Result<Vec<u8>, KeystoreError> {
    params.validate()?;
    let mut salt = [0u8; SALT_LEN];
    let mut nonce = [0u8; NONCE_LEN];
    let mut rng = rand::rng();
    rng.fill_bytes(&mut salt);
    rng.fill_bytes(&mut nonce);

    let header = encode_header(params, &salt, &nonce);
    let key = derive_key(passphrase, &salt, params)?;
    let gcm = Aes256Gcm::new(&key, mode)?;

    let mut body = Zeroizing::new(Vec::with_capacity(SECRET_LEN + TAG_LEN));
    body.extend_from_slice(secret);
    gcm.seal_in_place(&nonce, &header, &mut body)?;

    let mut file = Vec::with_capacity(FILE_LEN);
    file.extend_from_slice(&header);
    file.extend_from_slice(&body);
    Ok(file)
}

/// Decrypts a key file. Checks the structure first, then derives the key (with the
/// parameters the header states, within the caps) and verifies the tag.
///
/// # Errors
/// [`KeystoreError::NotEncrypted`], [`KeystoreError::UnsupportedVersion`],
/// [`KeystoreError::UnsupportedKdf`], [`KeystoreError::Truncated`] and
/// [`KeystoreError::BadParams`] before the KDF runs;
/// [`KeystoreError::WrongPassphraseOrCorrupt`] if the tag does not verify or bytes follow the
/// tag; [`KeystoreError::Aead`] if the AEAD backend cannot be set up.
pub fn decrypt_secret(
    file: &[u8],
    passphrase: &[u8],
    mode: AesMode,
) -> Result<Zeroizing<[u8; SECRET_LEN]>, KeystoreError> {
    if file.len() < MAGIC.len() {
        return Err(if MAGIC.starts_with(file) {
            KeystoreError::Truncated { len: file.len() }
        } else {
            KeystoreError::NotEncrypted
        });
    }
    if !is_encrypted(file) {
        return Err(KeystoreError::NotEncrypted);
    }
    let version = *file
        .get(7)
        .ok_or(KeystoreError::Truncated { len: file.len() })?;
    if version != VERSION {
        return Err(KeystoreError::UnsupportedVersion(version));
    }
    let kdf = *file
        .get(8)
        .ok_or(KeystoreError::Truncated { len: file.len() })?;
    if kdf != KDF_ARGON2ID {
        return Err(KeystoreError::UnsupportedKdf(kdf));
    }
    if file.len() < FILE_LEN {
        return Err(KeystoreError::Truncated { len: file.len() });
    }
    if file.len() > FILE_LEN {
        return Err(KeystoreError::WrongPassphraseOrCorrupt);
    }

    let (header, body) = file.split_at(HEADER_LEN);
    let word = |at: usize| u32::from_le_bytes([file[at], file[at + 1], file[at + 2], file[at + 3]]);
    let params = KdfParams {
        m_cost_kib: word(9),
        t_cost: word(13),
        p_cost: word(17),
    };
    params.check_caps()?;
    let mut salt = [0u8; SALT_LEN];
    salt.copy_from_slice(&header[21..21 + SALT_LEN]);
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&header[37..37 + NONCE_LEN]);

    let key = derive_key(passphrase, &salt, params)?;
    let gcm = Aes256Gcm::new(&key, mode)?;
    let mut buf = Zeroizing::new([0u8; SECRET_LEN + TAG_LEN]);
    buf.copy_from_slice(body);
    let plaintext = gcm
        .open_in_place(&nonce, header, &mut buf[..])
        .map_err(|_| KeystoreError::WrongPassphraseOrCorrupt)?;
    let mut secret = Zeroizing::new([0u8; SECRET_LEN]);
    secret.copy_from_slice(plaintext);
    Ok(secret)
}

fn encode_header(
    params: KdfParams,
    salt: &[u8; SALT_LEN],
    nonce: &[u8; NONCE_LEN],
) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..7].copy_from_slice(MAGIC);
    h[7] = VERSION;
    h[8] = KDF_ARGON2ID;
    h[9..13].copy_from_slice(&params.m_cost_kib.to_le_bytes());
    h[13..17].copy_from_slice(&params.t_cost.to_le_bytes());
    h[17..21].copy_from_slice(&params.p_cost.to_le_bytes());
    h[21..37].copy_from_slice(salt);
    h[37..49].copy_from_slice(nonce);
    h
}

/// Argon2id(passphrase, salt, params) -> 32-byte key, with erased working memory.
fn derive_key(
    passphrase: &[u8],
    salt: &[u8; SALT_LEN],
    params: KdfParams,
) -> Result<Zeroizing<[u8; KEY_LEN]>, KeystoreError> {
    let argon_params = params.check_caps()?;
    let mut memory = Zeroizing::new(vec![Block::default(); argon_params.block_count()]);
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params);
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    argon
        .hash_password_into_with_memory(passphrase, salt, &mut key[..], &mut memory[..])
        .map_err(|e| KeystoreError::BadParams(e.to_string()))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: KdfParams = KdfParams {
        m_cost_kib: KdfParams::MIN_M_COST_KIB,
        t_cost: 1,
        p_cost: 1,
    };

    #[test]
    fn layout_constants() {
        assert_eq!(HEADER_LEN, 49);
        assert_eq!(FILE_LEN, 97);
    }

    #[test]
    fn header_fields_are_where_documented() {
        let file = encrypt_secret(&[3; 32], b"pw", SMALL, AesMode::Software).unwrap();
        assert_eq!(file.len(), FILE_LEN);
        assert_eq!(&file[..7], b"PTHNKEY");
        assert_eq!(file[7], 1);
        assert_eq!(file[8], 1);
        assert_eq!(&file[9..13], &8192u32.to_le_bytes());
        assert_eq!(&file[13..17], &1u32.to_le_bytes());
        assert_eq!(&file[17..21], &1u32.to_le_bytes());
        assert!(!file.windows(32).any(|w| w == [3u8; 32]), "secret in clear");
    }

    /// Known answer from the reference implementation (the `argon2` command of
    /// phc-winner-argon2): `echo -n "correct horse battery staple" | argon2 0123456789abcdef
    /// -id -t 1 -k 8192 -p 1 -l 32 -r`.
    #[test]
    fn derivation_matches_reference_argon2id() {
        let key = derive_key(b"correct horse battery staple", b"0123456789abcdef", SMALL).unwrap();
        assert_eq!(
            hex::encode(*key),
            "134d180cae7bf730852877729435966ede036ffdf67eac851183c21a9a855d7c"
        );
    }

    #[test]
    fn derivation_depends_on_every_input() {
        let salt = [1u8; SALT_LEN];
        let base = derive_key(b"pw", &salt, SMALL).unwrap();
        let variants = [
            derive_key(b"pW", &salt, SMALL).unwrap(),
            derive_key(b"pw", &[2u8; SALT_LEN], SMALL).unwrap(),
            derive_key(
                b"pw",
                &salt,
                KdfParams {
                    m_cost_kib: SMALL.m_cost_kib + 1,
                    ..SMALL
                },
            )
            .unwrap(),
            derive_key(b"pw", &salt, KdfParams { t_cost: 2, ..SMALL }).unwrap(),
            derive_key(b"pw", &salt, KdfParams { p_cost: 2, ..SMALL }).unwrap(),
        ];
        for v in &variants {
            assert_ne!(**v, *base);
        }
    }

    #[test]
    fn validate_enforces_minimums_and_caps() {
        assert!(KdfParams::default().validate().is_ok());
        assert!(SMALL.validate().is_ok());
        for bad in [
            KdfParams {
                m_cost_kib: KdfParams::MIN_M_COST_KIB - 1,
                ..SMALL
            },
            KdfParams { t_cost: 0, ..SMALL },
            KdfParams { p_cost: 0, ..SMALL },
            KdfParams {
                m_cost_kib: KdfParams::MAX_M_COST_KIB + 1,
                ..SMALL
            },
            KdfParams {
                t_cost: 65,
                ..SMALL
            },
            KdfParams {
                p_cost: 17,
                ..SMALL
            },
        ] {
            assert!(
                matches!(bad.validate(), Err(KeystoreError::BadParams(_))),
                "{bad:?}"
            );
        }
    }
}
