//! Encrypted key files: round trips, wrong passphrases, every single-bit flip, every
//! truncation, and files written by one AEAD backend read by the other.

use parthenon_crypto::aead::{active_backend, cpu_features, AeadBackend, AesMode, AES_MODE_ENV};
use parthenon_crypto::keystore::{
    decrypt_secret, encrypt_secret, is_encrypted, KdfParams, KeystoreError, FILE_LEN, HEADER_LEN,
};

/// The cheapest parameters `encrypt_secret` accepts (8 MiB, one pass), to keep the
/// exhaustive tests fast.
const SMALL: KdfParams = KdfParams {
    m_cost_kib: KdfParams::MIN_M_COST_KIB,
    t_cost: 1,
    p_cost: 1,
};

const SECRET: [u8; 32] = [
    0x1f, 0x2e, 0x3d, 0x4c, 0x5b, 0x6a, 0x79, 0x88, 0x97, 0xa6, 0xb5, 0xc4, 0xd3, 0xe2, 0xf1, 0x00,
    0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78, 0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0,
];
const PASS: &[u8] = b"correct horse battery staple";

#[test]
fn round_trip_with_default_params() {
    let file = encrypt_secret(&SECRET, PASS, KdfParams::default(), AesMode::Auto).unwrap();
    assert_eq!(file.len(), FILE_LEN);
    assert!(is_encrypted(&file));
    assert_eq!(*decrypt_secret(&file, PASS, AesMode::Auto).unwrap(), SECRET);
}

#[test]
fn round_trip_small_params_and_fresh_randomness() {
    let a = encrypt_secret(&SECRET, PASS, SMALL, AesMode::Software).unwrap();
    let b = encrypt_secret(&SECRET, PASS, SMALL, AesMode::Software).unwrap();
    assert_ne!(a, b, "salt and nonce must be fresh per file");
    assert_ne!(a[21..49], b[21..49]);
    for f in [&a, &b] {
        assert_eq!(*decrypt_secret(f, PASS, AesMode::Software).unwrap(), SECRET);
    }
    // An empty passphrase is allowed (the caller decides policy) and still round-trips.
    let e = encrypt_secret(&SECRET, b"", SMALL, AesMode::Software).unwrap();
    assert_eq!(*decrypt_secret(&e, b"", AesMode::Software).unwrap(), SECRET);
    assert_eq!(
        decrypt_secret(&e, b" ", AesMode::Software),
        Err(KeystoreError::WrongPassphraseOrCorrupt)
    );
}

#[test]
fn wrong_passphrase_fails() {
    let file = encrypt_secret(&SECRET, PASS, SMALL, AesMode::Auto).unwrap();
    for wrong in [
        &b"correct horse battery stapl"[..],
        b"correct horse battery staple ",
        b"Correct horse battery staple",
        b"",
    ] {
        assert_eq!(
            decrypt_secret(&file, wrong, AesMode::Auto),
            Err(KeystoreError::WrongPassphraseOrCorrupt)
        );
    }
}

#[test]
fn files_interoperate_across_backends() {
    // Which backends `Auto` and `Software` resolve to here (the environment can force both
    // to software; then this still checks the files, on one backend).
    let auto = active_backend(AesMode::Auto).unwrap().backend;
    let env_set = std::env::var_os(AES_MODE_ENV).is_some();
    if !env_set && cpu_features().hardware_capable() {
        assert_eq!(auto, AeadBackend::Hardware);
    }
    let modes = [AesMode::Auto, AesMode::Software];
    for writer in modes {
        let file = encrypt_secret(&SECRET, PASS, SMALL, writer).unwrap();
        for reader in modes {
            assert_eq!(
                *decrypt_secret(&file, PASS, reader).unwrap(),
                SECRET,
                "written by {writer}, read by {reader}"
            );
        }
    }
}

/// The error a flip of `bit` (0 = least significant bit of byte 0) must cause.
fn check_flip(file: &[u8], bit: usize) {
    let (byte, mask) = (bit / 8, 1u8 << (bit % 8));
    let mut bad = file.to_vec();
    bad[byte] ^= mask;
    let err = match decrypt_secret(&bad, PASS, AesMode::Auto) {
        Ok(key) => panic!("bit {bit}: tampered file opened (key {:02x?})", &key[..4]),
        Err(e) => e,
    };
    let ok = match byte {
        0..=6 => err == KeystoreError::NotEncrypted,
        7 => err == KeystoreError::UnsupportedVersion(1 ^ mask),
        8 => err == KeystoreError::UnsupportedKdf(1 ^ mask),
        // Parameters: out of range, or in range but then a different key.
        9..=20 => matches!(
            err,
            KeystoreError::BadParams(_) | KeystoreError::WrongPassphraseOrCorrupt
        ),
        // Salt, nonce, ciphertext, tag.
        _ => err == KeystoreError::WrongPassphraseOrCorrupt,
    };
    assert!(ok, "bit {bit} (byte {byte}): unexpected error {err:?}");
}

#[test]
fn every_single_bit_flip_fails() {
    let file = encrypt_secret(&SECRET, PASS, SMALL, AesMode::Auto).unwrap();
    assert_eq!(*decrypt_secret(&file, PASS, AesMode::Auto).unwrap(), SECRET);
    let bits = file.len() * 8;
    // Most flips cost one Argon2 run; spread them over two threads.
    std::thread::scope(|s| {
        for lane in 0..2 {
            let file = &file;
            s.spawn(move || {
                for bit in (lane..bits).step_by(2) {
                    check_flip(file, bit);
                }
            });
        }
    });
}

#[test]
fn every_truncation_fails() {
    let file = encrypt_secret(&SECRET, PASS, SMALL, AesMode::Auto).unwrap();
    for len in 0..file.len() {
        assert_eq!(
            decrypt_secret(&file[..len], PASS, AesMode::Auto),
            Err(KeystoreError::Truncated { len }),
            "length {len}"
        );
    }
    // A byte too many is corruption too.
    let mut longer = file.clone();
    longer.push(0);
    assert_eq!(
        decrypt_secret(&longer, PASS, AesMode::Auto),
        Err(KeystoreError::WrongPassphraseOrCorrupt)
    );
}

#[test]
fn crafted_headers_are_refused_before_the_kdf() {
    let file = encrypt_secret(&SECRET, PASS, SMALL, AesMode::Software).unwrap();
    let with_word = |at: usize, v: u32| {
        let mut f = file.clone();
        f[at..at + 4].copy_from_slice(&v.to_le_bytes());
        f
    };
    // Beyond the caps: 4 GiB + 1 KiB of memory, 65 passes, 17 lanes. Refused without
    // allocating or hashing (this test would take minutes otherwise).
    for f in [
        with_word(9, KdfParams::MAX_M_COST_KIB + 1),
        with_word(9, u32::MAX),
        with_word(13, KdfParams::MAX_T_COST + 1),
        with_word(17, KdfParams::MAX_P_COST + 1),
        with_word(13, 0),
        with_word(17, 0),
    ] {
        assert!(matches!(
            decrypt_secret(&f, PASS, AesMode::Software),
            Err(KeystoreError::BadParams(_))
        ));
    }
    let mut v2 = file.clone();
    v2[7] = 2;
    assert_eq!(
        decrypt_secret(&v2, PASS, AesMode::Software),
        Err(KeystoreError::UnsupportedVersion(2))
    );
    assert_eq!(
        decrypt_secret(&SECRET, PASS, AesMode::Software),
        Err(KeystoreError::NotEncrypted)
    );
    assert!(!is_encrypted(&SECRET));
    assert!(!is_encrypted(b"PTHNKE"));
    assert!(is_encrypted(&file[..HEADER_LEN]));
}

#[test]
fn encrypt_refuses_weak_params() {
    let weak = KdfParams {
        m_cost_kib: 1024,
        ..SMALL
    };
    assert!(matches!(
        encrypt_secret(&SECRET, PASS, weak, AesMode::Software),
        Err(KeystoreError::BadParams(_))
    ));
}
