//! Signature cryptography of ParthenonChain.
//!
//! This crate owns the BIP-340 Schnorr layer that consensus relies on to authorise spends:
//! key parsing, key generation, signing and verification over secp256k1 (via the
//! `secp256k1` bindings to Bitcoin Core's libsecp256k1), and [`sighash`], the one definition
//! of what an input signs.
//!
//! Main types, all in [`schnorr`] and re-exported here:
//! - [`XOnlyPublicKey`]: a 32-byte x-only public key. Holding one proves the bytes are a valid
//!   x coordinate on the curve, so verification never re-parses it;
//! - [`Signature`]: 64 raw signature bytes. Any 64 bytes are accepted here; whether they form
//!   a valid signature is only decided by [`verify`] / [`verify_key`];
//! - [`KeyPair`]: a valid secret key and its public key. The secret is erased (best effort)
//!   when the value is dropped and never appears in `Debug` output;
//! - [`verify`], [`verify_key`]: BIP-340 verification returning a typed [`VerifyError`] that
//!   distinguishes a malformed public key from a signature that does not verify.
//!
//! Batch verification: [`batch`] checks many BIP-340 signatures with one randomised
//! multi-scalar multiplication ([`verify_batch`], [`batch_is_valid`], [`CpuBatchVerifier`]);
//! its per-item result equals [`verify`] on each item.
//!
//! Encryption at rest: [`aead`] (AES-256-GCM on ring's hardware code or a forced constant-time
//! software backend) and [`keystore`] (Argon2id + AES-256-GCM key files).
//!
//! Invariants:
//! - verification is exactly BIP-340 with 32-byte messages; the vendored official vectors
//!   (`tests/bip340_vectors.rs`) pin it, including deterministic signing given `aux_rand`;
//! - every operation uses one process-wide libsecp256k1 context, created on first use and
//!   randomised once from OS randomness (side-channel blinding), so no call allocates a
//!   context and signing never runs with an unblinded context.

pub mod aead;
pub mod batch;
pub mod keystore;
pub mod schnorr;
pub mod sighash;

pub use aead::{active_backend, AeadBackend, AeadError, Aes256Gcm, AesMode};
pub use batch::{
    batch_is_valid, verify_batch, BatchError, BatchItem, BatchResult, BatchVerifier,
    CpuBatchVerifier,
};
pub use keystore::{decrypt_secret, encrypt_secret, is_encrypted, KdfParams, KeystoreError};
pub use schnorr::{
    verify, verify_key, KeyError, KeyPair, Signature, SignatureError, VerifyError, XOnlyPublicKey,
};
pub use sighash::{sign_all_inputs, signature_hash, SigHashCache, SigHashError};
