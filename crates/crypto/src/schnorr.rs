//! BIP-340 Schnorr keys, signing and verification over secp256k1.
//!
//! All operations share one lazily created, randomised libsecp256k1 context (see `context()`),
//! so callers never build or pass contexts themselves.

use std::fmt;
use std::sync::OnceLock;

use rand::{CryptoRng, RngCore};
use secp256k1::{All, Secp256k1};

/// Length in bytes of an x-only public key.
const PUBLIC_KEY_LEN: usize = 32;
/// Length in bytes of a BIP-340 signature.
const SIGNATURE_LEN: usize = 64;

/// Errors from constructing keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The 32 bytes are zero or not below the curve order, so they are not a secret key.
    #[error("invalid secret key: must be a non-zero integer below the secp256k1 curve order")]
    InvalidSecretKey,
    /// The 32 bytes are not the x coordinate of a point on secp256k1.
    #[error("invalid x-only public key: not the x coordinate of a point on secp256k1")]
    InvalidPublicKey,
    /// A public key slice had the wrong length.
    #[error("x-only public key must be {PUBLIC_KEY_LEN} bytes, got {got}")]
    WrongLength {
        /// The length that was supplied.
        got: usize,
    },
}

/// Errors from parsing a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A signature slice had the wrong length.
    #[error("schnorr signature must be {SIGNATURE_LEN} bytes, got {got}")]
    WrongLength {
        /// The length that was supplied.
        got: usize,
    },
}

/// Why a BIP-340 verification failed.
///
/// The two cases are kept apart because they mean different things to a caller: a bad key
/// encoding is a malformed script or output, a bad signature is a failed authorisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The public key bytes are not a valid x-only public key.
    #[error("invalid x-only public key: not the x coordinate of a point on secp256k1")]
    InvalidPublicKey,
    /// The signature does not verify for this key and message.
    #[error("schnorr signature does not verify for this public key and message")]
    InvalidSignature,
}

/// The process-wide libsecp256k1 context used for signing and verification.
///
/// Building a context allocates and precomputes tables, so doing it per call would be
/// wasteful; one shared `All` context is safe to use from many threads (`Secp256k1` is
/// `Sync`). It is randomised once at creation: without the `rand` feature of `secp256k1` the
/// bindings do not do that themselves, and the blinding protects secret-key operations
/// against timing and power side channels.
fn context() -> &'static Secp256k1<All> {
    static CONTEXT: OnceLock<Secp256k1<All>> = OnceLock::new();
    CONTEXT.get_or_init(|| {
        let mut ctx = Secp256k1::new();
        let mut seed = [0u8; 32];
        rand::rng().fill_bytes(&mut seed);
        ctx.seeded_randomize(&seed);
        wipe(&mut seed);
        ctx
    })
}

/// Overwrites secret bytes on the stack before they go out of scope.
///
/// Best effort, like `secp256k1`'s `non_secure_erase`: `black_box` stops the compiler from
/// treating the zeroing as a dead store, but copies made elsewhere are not reached.
fn wipe(buf: &mut [u8; 32]) {
    buf.fill(0);
    std::hint::black_box(buf);
}

/// A 32-byte BIP-340 x-only public key, validated (on the curve).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct XOnlyPublicKey(secp256k1::XOnlyPublicKey);

impl XOnlyPublicKey {
    /// Parses a key, checking that the bytes are the x coordinate of a curve point.
    pub fn from_bytes(b: &[u8; 32]) -> Result<Self, KeyError> {
        secp256k1::XOnlyPublicKey::from_byte_array(*b)
            .map(Self)
            .map_err(|_| KeyError::InvalidPublicKey)
    }

    /// Parses a key from a slice, which must be exactly 32 bytes long.
    pub fn from_slice(b: &[u8]) -> Result<Self, KeyError> {
        let bytes: &[u8; PUBLIC_KEY_LEN] = b
            .try_into()
            .map_err(|_| KeyError::WrongLength { got: b.len() })?;
        Self::from_bytes(bytes)
    }

    /// The 32-byte BIP-340 encoding (big-endian x coordinate).
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.serialize()
    }
}

impl fmt::Display for XOnlyPublicKey {
    /// Lower-case hex of the 32-byte encoding, the form used in logs and RPC.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.to_bytes()))
    }
}

/// A 64-byte BIP-340 signature.
///
/// Any 64 bytes are representable: BIP-340 defines out-of-range `r` or `s` values as
/// signatures that fail verification, not as encoding errors, so rejecting them is left to
/// [`verify`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 64]);

impl Signature {
    /// Takes a signature from a slice, which must be exactly 64 bytes long.
    pub fn from_slice(b: &[u8]) -> Result<Self, SignatureError> {
        b.try_into()
            .map(Self)
            .map_err(|_| SignatureError::WrongLength { got: b.len() })
    }
}

impl fmt::Debug for Signature {
    // Hex rather than the derived list of 64 decimal numbers, which is unreadable in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Signature")
            .field(&format_args!("{}", hex::encode(self.0)))
            .finish()
    }
}

impl fmt::Display for Signature {
    /// Lower-case hex of the 64 bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// A secret key with its public key; the secret is erased on drop.
///
/// Erasure is best effort (`secp256k1`'s `non_secure_erase`): it overwrites this value's
/// storage, not copies the compiler or caller made, such as the array returned by
/// [`KeyPair::secret_bytes`].
#[derive(Clone)]
pub struct KeyPair {
    inner: secp256k1::Keypair,
}

impl KeyPair {
    /// Generates a fresh key pair from OS-seeded randomness.
    pub fn generate() -> Self {
        Self::generate_with(&mut rand::rng())
    }

    /// Generates a key pair from the given cryptographic RNG.
    ///
    /// Draws 32 bytes until they form a valid secret key (non-zero, below the curve order),
    /// so the key is uniform over valid keys. A rejection happens with probability about
    /// 2^-128 per draw. A seeded RNG gives reproducible keys for tests.
    pub fn generate_with<R: RngCore + CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; 32];
        loop {
            rng.fill_bytes(&mut bytes);
            if let Ok(pair) = Self::from_secret_bytes(&bytes) {
                wipe(&mut bytes);
                return pair;
            }
        }
    }

    /// Builds a key pair from a 32-byte big-endian secret key.
    pub fn from_secret_bytes(b: &[u8; 32]) -> Result<Self, KeyError> {
        secp256k1::Keypair::from_seckey_byte_array(context(), *b)
            .map(|inner| Self { inner })
            .map_err(|_| KeyError::InvalidSecretKey)
    }

    /// The 32-byte secret key. The caller owns (and should erase) the returned copy.
    pub fn secret_bytes(&self) -> [u8; 32] {
        self.inner.secret_bytes()
    }

    /// The x-only public key of this pair.
    pub fn public_key(&self) -> XOnlyPublicKey {
        XOnlyPublicKey(self.inner.x_only_public_key().0)
    }

    /// Signs a 32-byte message per BIP-340 with fresh 32-byte auxiliary randomness.
    ///
    /// The aux randomness is not needed for security of the nonce (BIP-340 derives it from the
    /// secret and message too) but hardens against fault and side-channel attacks, as
    /// BIP-340 recommends.
    pub fn sign(&self, msg: &[u8; 32]) -> Signature {
        let mut aux = [0u8; 32];
        rand::rng().fill_bytes(&mut aux);
        self.sign_with_aux(msg, &aux)
    }

    /// Signs a 32-byte message per BIP-340 with the given auxiliary data; deterministic in
    /// `(secret, msg, aux)`, which is what the BIP-340 test vectors check.
    pub fn sign_with_aux(&self, msg: &[u8; 32], aux: &[u8; 32]) -> Signature {
        let sig = context().sign_schnorr_with_aux_rand(msg, &self.inner, aux);
        Signature(sig.to_byte_array())
    }
}

impl fmt::Debug for KeyPair {
    // Only the public half is printed so that secrets cannot leak through logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("public_key", &self.public_key())
            .finish_non_exhaustive()
    }
}

impl Drop for KeyPair {
    fn drop(&mut self) {
        self.inner.non_secure_erase();
    }
}

/// Verifies one BIP-340 signature over a 32-byte message.
///
/// Returns [`VerifyError::InvalidPublicKey`] when `pubkey` is not a valid x-only key and
/// [`VerifyError::InvalidSignature`] when the signature does not verify (including
/// out-of-range `r` or `s`).
pub fn verify(pubkey: &[u8; 32], msg: &[u8; 32], sig: &[u8; 64]) -> Result<(), VerifyError> {
    let key = XOnlyPublicKey::from_bytes(pubkey).map_err(|_| VerifyError::InvalidPublicKey)?;
    verify_key(&key, msg, &Signature(*sig))
}

/// Verifies one BIP-340 signature over a 32-byte message with an already parsed key.
///
/// Only [`VerifyError::InvalidSignature`] can result, since the key is valid by construction.
pub fn verify_key(
    pubkey: &XOnlyPublicKey,
    msg: &[u8; 32],
    sig: &Signature,
) -> Result<(), VerifyError> {
    let sig = secp256k1::schnorr::Signature::from_byte_array(sig.0);
    context()
        .verify_schnorr(&sig, msg, &pubkey.0)
        .map_err(|_| VerifyError::InvalidSignature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::{any, prop_assert_eq, prop_assume, proptest};
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn keypair_from_seed(seed: u64) -> KeyPair {
        KeyPair::generate_with(&mut StdRng::seed_from_u64(seed))
    }

    #[test]
    fn seeded_round_trip() {
        let mut rng = StdRng::seed_from_u64(7);
        let pair = KeyPair::generate_with(&mut rng);
        let mut msg = [0u8; 32];
        rng.fill_bytes(&mut msg);
        let sig = pair.sign(&msg);
        let pk = pair.public_key();
        assert_eq!(verify(&pk.to_bytes(), &msg, &sig.0), Ok(()));
        assert_eq!(verify_key(&pk, &msg, &sig), Ok(()));
    }

    #[test]
    fn seeded_generation_is_reproducible() {
        let a = keypair_from_seed(42);
        let b = keypair_from_seed(42);
        let c = keypair_from_seed(43);
        assert_eq!(a.secret_bytes(), b.secret_bytes());
        assert_eq!(a.public_key(), b.public_key());
        assert_ne!(a.public_key(), c.public_key());
    }

    #[test]
    fn secret_bytes_round_trip() {
        let pair = keypair_from_seed(1);
        let again = KeyPair::from_secret_bytes(&pair.secret_bytes()).unwrap();
        assert_eq!(again.public_key(), pair.public_key());
    }

    #[test]
    fn os_random_generation_and_signing() {
        let pair = KeyPair::generate();
        let msg = [0x5a; 32];
        let s1 = pair.sign(&msg);
        let s2 = pair.sign(&msg);
        // Fresh aux randomness per call: equal signatures would mean aux is not being used.
        assert_ne!(s1, s2);
        assert_eq!(verify_key(&pair.public_key(), &msg, &s1), Ok(()));
        assert_eq!(verify_key(&pair.public_key(), &msg, &s2), Ok(()));
    }

    #[test]
    fn sign_with_aux_is_deterministic() {
        let pair = keypair_from_seed(3);
        let msg = [1u8; 32];
        let aux = [2u8; 32];
        assert_eq!(
            pair.sign_with_aux(&msg, &aux),
            pair.sign_with_aux(&msg, &aux)
        );
        assert_ne!(
            pair.sign_with_aux(&msg, &aux),
            pair.sign_with_aux(&msg, &[3u8; 32])
        );
    }

    #[test]
    fn flipped_bits_fail() {
        let pair = keypair_from_seed(11);
        let msg = [0xabu8; 32];
        let sig = pair.sign_with_aux(&msg, &[0u8; 32]);
        let pk = pair.public_key().to_bytes();
        assert_eq!(verify(&pk, &msg, &sig.0), Ok(()));

        for i in 0..32 * 8 {
            let mut m = msg;
            m[i / 8] ^= 1 << (i % 8);
            assert_eq!(
                verify(&pk, &m, &sig.0),
                Err(VerifyError::InvalidSignature),
                "msg bit {i}"
            );
        }
        for i in 0..64 * 8 {
            let mut s = sig.0;
            s[i / 8] ^= 1 << (i % 8);
            assert_eq!(
                verify(&pk, &msg, &s),
                Err(VerifyError::InvalidSignature),
                "sig bit {i}"
            );
        }
        for i in 0..32 * 8 {
            let mut k = pk;
            k[i / 8] ^= 1 << (i % 8);
            // About half of all x values are not on the curve, so either error is correct;
            // what matters is that the signature is never accepted.
            let err = verify(&k, &msg, &sig.0).expect_err("flipped key bit must not verify");
            let key_valid = XOnlyPublicKey::from_bytes(&k).is_ok();
            let expected = if key_valid {
                VerifyError::InvalidSignature
            } else {
                VerifyError::InvalidPublicKey
            };
            assert_eq!(err, expected, "key bit {i}");
        }
    }

    #[test]
    fn wrong_length_signature_slice() {
        assert_eq!(
            Signature::from_slice(&[0u8; 63]),
            Err(SignatureError::WrongLength { got: 63 })
        );
        assert_eq!(
            Signature::from_slice(&[0u8; 65]),
            Err(SignatureError::WrongLength { got: 65 })
        );
        assert_eq!(
            Signature::from_slice(&[]),
            Err(SignatureError::WrongLength { got: 0 })
        );
        assert_eq!(Signature::from_slice(&[7u8; 64]), Ok(Signature([7u8; 64])));
    }

    #[test]
    fn public_key_parsing() {
        let pk = keypair_from_seed(5).public_key();
        let bytes = pk.to_bytes();
        assert_eq!(XOnlyPublicKey::from_slice(&bytes), Ok(pk));
        assert_eq!(
            XOnlyPublicKey::from_slice(&bytes[..31]),
            Err(KeyError::WrongLength { got: 31 })
        );
        // The field prime p is not a valid x coordinate (it is out of range).
        let mut p = [0xffu8; 32];
        p[27] = 0xfe;
        p[28..].copy_from_slice(&[0xff, 0xff, 0xfc, 0x2f]);
        assert_eq!(
            XOnlyPublicKey::from_bytes(&p),
            Err(KeyError::InvalidPublicKey)
        );
        assert_eq!(pk.to_string(), hex::encode(bytes));
    }

    #[test]
    fn invalid_secret_keys() {
        assert_eq!(
            KeyPair::from_secret_bytes(&[0u8; 32]).unwrap_err(),
            KeyError::InvalidSecretKey
        );
        // The curve order n itself is out of range; n - 1 is the largest valid secret.
        let n: [u8; 32] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c,
            0xd0, 0x36, 0x41, 0x41,
        ];
        assert_eq!(
            KeyPair::from_secret_bytes(&n).unwrap_err(),
            KeyError::InvalidSecretKey
        );
        let mut n_minus_1 = n;
        n_minus_1[31] -= 1;
        assert!(KeyPair::from_secret_bytes(&n_minus_1).is_ok());
    }

    #[test]
    fn debug_hides_secret() {
        let pair = keypair_from_seed(9);
        let shown = format!("{pair:?}");
        assert!(!shown.contains(&hex::encode(pair.secret_bytes())));
        assert!(shown.contains("KeyPair"));
    }

    #[test]
    fn error_messages_are_descriptive() {
        assert_eq!(
            SignatureError::WrongLength { got: 10 }.to_string(),
            "schnorr signature must be 64 bytes, got 10"
        );
        assert_eq!(
            KeyError::WrongLength { got: 33 }.to_string(),
            "x-only public key must be 32 bytes, got 33"
        );
    }

    proptest! {
        #[test]
        fn sign_then_verify(
            secret in any::<[u8; 32]>(),
            msg in any::<[u8; 32]>(),
            other in any::<[u8; 32]>(),
            aux in any::<[u8; 32]>(),
        ) {
            // Invalid secrets (zero or >= n) occur with probability ~2^-128; skip them rather
            // than bias the strategy.
            let pair = KeyPair::from_secret_bytes(&secret);
            prop_assume!(pair.is_ok());
            prop_assume!(msg != other);
            let pair = pair.unwrap();
            let pk = pair.public_key();
            let sig = pair.sign_with_aux(&msg, &aux);
            prop_assert_eq!(verify(&pk.to_bytes(), &msg, &sig.0), Ok(()));
            prop_assert_eq!(verify_key(&pk, &other, &sig), Err(VerifyError::InvalidSignature));
        }
    }
}
