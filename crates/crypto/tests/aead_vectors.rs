//! AES-256-GCM against published vectors, through every backend this machine can run:
//! - Wycheproof `aes_gcm_test.json`, its 256-bit-key groups
//!   (`tests/data/wycheproof_aes_gcm_256.json`, see `tests/data/README.md`);
//! - test cases 13-18 of McGrew and Viega, "The Galois/Counter Mode of Operation (GCM)"
//!   (the AES-256 cases, also used by NIST SP 800-38D validation).
//!
//! Valid vectors must seal to exactly the published ciphertext and tag and open back to the
//! message; invalid ones must fail to open and leave a zeroed buffer. The API takes 96-bit
//! nonces only, so vectors with other IV lengths are counted and skipped, and the counts are
//! asserted, so a change in what runs is noticed.

use parthenon_crypto::aead::{
    active_backend, cpu_features, AeadBackend, AeadError, Aes256Gcm, AesMode, SelectionReason,
    AES_MODE_ENV, NONCE_LEN, TAG_LEN,
};
use serde_json::Value;

const WYCHEPROOF: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/wycheproof_aes_gcm_256.json"
);
/// Test cases in the vendored file (every case of the upstream 256-bit-key groups).
const WYCHEPROOF_CASES: usize = 105;
/// Of which have a 96-bit IV and run: 39 valid, 27 invalid (all "ModifiedTag").
const WYCHEPROOF_RUN_VALID: usize = 39;
const WYCHEPROOF_RUN_INVALID: usize = 27;
/// Of which have another IV length (0, 8 to 80, 120, 128, 160, 256 to 2056 bits) and are
/// skipped: the API accepts 96-bit nonces only.
const WYCHEPROOF_SKIPPED: usize = 39;

/// The backends to test: the software one always, the hardware one wherever the CPU has it.
fn backends() -> Vec<AeadBackend> {
    let mut b = vec![AeadBackend::Software];
    if cpu_features().hardware_capable() {
        b.push(AeadBackend::Hardware);
    } else {
        eprintln!("CPU lacks AES-NI+PCLMULQDQ: hardware backend not tested");
    }
    b
}

fn unhex(v: &Value, field: &str, id: u64) -> Vec<u8> {
    let s = v[field]
        .as_str()
        .unwrap_or_else(|| panic!("tcId {id}: {field} missing"));
    hex::decode(s).unwrap_or_else(|e| panic!("tcId {id}: {field}: {e}"))
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    valid: usize,
    invalid: usize,
    skipped: usize,
}

/// One test vector (hex already decoded).
struct Case<'a> {
    id: String,
    key: [u8; 32],
    iv: &'a [u8],
    aad: &'a [u8],
    msg: &'a [u8],
    ct: &'a [u8],
    tag: &'a [u8],
    valid: bool,
}

/// Runs `case` through `backend`: `Some(case.valid)` if it ran, `None` if skipped for its IV.
fn run_case(case: &Case<'_>, backend: AeadBackend) -> Option<bool> {
    let Ok(nonce) = <[u8; NONCE_LEN]>::try_from(case.iv) else {
        return None;
    };
    let id = &case.id;
    let gcm = Aes256Gcm::with_backend(&case.key, backend).expect("backend available");
    assert_eq!(gcm.backend(), backend);
    let mut sealed_expected = case.ct.to_vec();
    sealed_expected.extend_from_slice(case.tag);

    if case.valid {
        let mut buf = case.msg.to_vec();
        gcm.seal_in_place(&nonce, case.aad, &mut buf)
            .unwrap_or_else(|e| panic!("{id} {backend}: seal: {e}"));
        assert_eq!(
            hex::encode(&buf),
            hex::encode(&sealed_expected),
            "{id} {backend}: ciphertext+tag"
        );
        let opened = gcm
            .open_in_place(&nonce, case.aad, &mut buf)
            .unwrap_or_else(|e| panic!("{id} {backend}: open: {e}"));
        assert_eq!(opened, case.msg, "{id} {backend}: plaintext");
    } else {
        let mut buf = sealed_expected;
        assert_eq!(
            gcm.open_in_place(&nonce, case.aad, &mut buf),
            Err(AeadError::Authentication),
            "{id} {backend}: invalid vector opened"
        );
        assert!(
            buf.iter().all(|&b| b == 0),
            "{id} {backend}: buffer not erased"
        );
    }
    Some(case.valid)
}

#[test]
fn wycheproof_aes_256_gcm() {
    let text = std::fs::read_to_string(WYCHEPROOF).expect("read vendored Wycheproof vectors");
    let doc: Value = serde_json::from_str(&text).expect("parse Wycheproof JSON");
    assert_eq!(doc["algorithm"], "AES-GCM");
    assert_eq!(doc["numberOfTests"], WYCHEPROOF_CASES as u64);

    for backend in backends() {
        let mut counts = Counts::default();
        let mut seen = 0usize;
        for group in doc["testGroups"].as_array().expect("testGroups") {
            assert_eq!(group["type"], "AeadTest");
            assert_eq!(group["keySize"], 256);
            assert_eq!(group["tagSize"], 128);
            let iv_bits = group["ivSize"].as_u64().expect("ivSize");
            for t in group["tests"].as_array().expect("tests") {
                seen += 1;
                let id = t["tcId"].as_u64().expect("tcId");
                let key: [u8; 32] = unhex(t, "key", id).try_into().expect("32-byte key");
                let (iv, aad, msg) = (unhex(t, "iv", id), unhex(t, "aad", id), unhex(t, "msg", id));
                let (ct, tag) = (unhex(t, "ct", id), unhex(t, "tag", id));
                assert_eq!(iv.len() as u64 * 8, iv_bits, "tcId {id}: ivSize");
                assert_eq!(tag.len(), TAG_LEN, "tcId {id}: tag length");
                let valid = match t["result"].as_str() {
                    Some("valid") => true,
                    Some("invalid") => false,
                    other => panic!("tcId {id}: unexpected result {other:?}"),
                };
                let case = Case {
                    id: format!("tcId {id}"),
                    key,
                    iv: &iv,
                    aad: &aad,
                    msg: &msg,
                    ct: &ct,
                    tag: &tag,
                    valid,
                };
                match run_case(&case, backend) {
                    Some(true) => counts.valid += 1,
                    Some(false) => counts.invalid += 1,
                    None => counts.skipped += 1,
                }
            }
        }
        eprintln!("wycheproof {backend}: {counts:?}");
        assert_eq!(seen, WYCHEPROOF_CASES);
        assert_eq!(
            counts,
            Counts {
                valid: WYCHEPROOF_RUN_VALID,
                invalid: WYCHEPROOF_RUN_INVALID,
                skipped: WYCHEPROOF_SKIPPED,
            },
            "{backend}"
        );
    }
}

/// McGrew-Viega GCM test cases 13-18 (AES-256):
/// (case, key, iv, plaintext, aad, ciphertext, tag).
const GCM_SPEC_CASES: [(u32, &str, &str, &str, &str, &str, &str); 6] = {
    const K0: &str = "0000000000000000000000000000000000000000000000000000000000000000";
    const K: &str = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
    const P64: &str = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
                       1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
    const P60: &str = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
                       1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
    const A: &str = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
    [
        (
            13,
            K0,
            "000000000000000000000000",
            "",
            "",
            "",
            "530f8afbc74536b9a963b4f1c4cb738b",
        ),
        (
            14,
            K0,
            "000000000000000000000000",
            "00000000000000000000000000000000",
            "",
            "cea7403d4d606b6e074ec5d3baf39d18",
            "d0d1c8a799996bf0265b98b5d48ab919",
        ),
        (
            15,
            K,
            "cafebabefacedbaddecaf888",
            P64,
            "",
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
             8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
            "b094dac5d93471bdec1a502270e3cc6c",
        ),
        (
            16,
            K,
            "cafebabefacedbaddecaf888",
            P60,
            A,
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
             8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
            "76fc6ece0f4e1768cddf8853bb2d551b",
        ),
        (
            17,
            K,
            "cafebabefacedbad",
            P60,
            A,
            "c3762df1ca787d32ae47c13bf19844cbaf1ae14d0b976afac52ff7d79bba9de0\
             feb582d33934a4f0954cc2363bc73f7862ac430e64abe499f47c9b1f",
            "3a337dbf46a792c45e454913fe2ea8f2",
        ),
        (
            18,
            K,
            "9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728\
             c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57a637b39b",
            P60,
            A,
            "5a8def2f0c9e53f1f75d7853659e2a20eeb2b22aafde6419a058ab4f6f746bf4\
             0fc0c3b780f244452da3ebf1c5d82cdea2418997200ef82e44ae7e3f",
            "a44a8266ee1c8eb0c8b5d4cf5ae9f19a",
        ),
    ]
};

#[test]
fn gcm_spec_test_cases_13_to_18() {
    for backend in backends() {
        let mut counts = Counts::default();
        for (n, key, iv, msg, aad, ct, tag) in GCM_SPEC_CASES {
            let (iv, msg, aad) = (
                hex::decode(iv).unwrap(),
                hex::decode(msg).unwrap(),
                hex::decode(aad).unwrap(),
            );
            let (ct, tag) = (hex::decode(ct).unwrap(), hex::decode(tag).unwrap());
            let case = Case {
                id: format!("GCM test case {n}"),
                key: hex::decode(key).unwrap().try_into().unwrap(),
                iv: &iv,
                aad: &aad,
                msg: &msg,
                ct: &ct,
                tag: &tag,
                valid: true,
            };
            match run_case(&case, backend) {
                Some(_) => counts.valid += 1,
                None => counts.skipped += 1,
            }
            // Every case also gets a tampered-tag twin, which must fail.
            let mut bad_tag = tag.clone();
            bad_tag[0] ^= 0x80;
            let tampered = Case {
                id: format!("GCM test case {n}, tag bit flipped"),
                tag: &bad_tag,
                valid: false,
                ..case
            };
            if run_case(&tampered, backend).is_some() {
                counts.invalid += 1;
            }
        }
        // Cases 17 (64-bit IV) and 18 (480-bit IV) need other nonce lengths.
        assert_eq!(
            counts,
            Counts {
                valid: 4,
                invalid: 4,
                skipped: 2
            },
            "{backend}"
        );
    }
}

/// Both backends produce identical output across lengths around block boundaries, with and
/// without associated data, and each opens what the other sealed.
#[test]
fn backends_agree_and_interoperate() {
    let all = backends();
    let key: [u8; 32] = core::array::from_fn(|i| (i * 7 + 3) as u8);
    let nonce = [0x42u8; NONCE_LEN];
    for len in (0..=80).chain([127, 128, 129, 255, 256, 257, 1000, 4096, 16_384 + 5]) {
        let msg: Vec<u8> = (0..len).map(|i| (i * 31 + len) as u8).collect();
        let aad: Vec<u8> = (0..len % 37).map(|i| i as u8).collect();
        let sealed: Vec<Vec<u8>> = all
            .iter()
            .map(|&b| {
                let mut buf = msg.clone();
                Aes256Gcm::with_backend(&key, b)
                    .unwrap()
                    .seal_in_place(&nonce, &aad, &mut buf)
                    .unwrap();
                buf
            })
            .collect();
        for s in &sealed {
            assert_eq!(s, &sealed[0], "len {len}: backends disagree");
        }
        for &b in &all {
            let mut buf = sealed[0].clone();
            let gcm = Aes256Gcm::with_backend(&key, b).unwrap();
            assert_eq!(gcm.open_in_place(&nonce, &aad, &mut buf).unwrap(), msg);
            // Wrong associated data and wrong nonce both fail.
            let mut other_aad = aad.clone();
            other_aad.push(1);
            let mut buf = sealed[0].clone();
            assert!(gcm.open_in_place(&nonce, &other_aad, &mut buf).is_err());
            let mut buf = sealed[0].clone();
            assert!(gcm
                .open_in_place(&[0u8; NONCE_LEN], &aad, &mut buf)
                .is_err());
        }
    }
}

/// `Aes256Gcm::new` follows the configuration (unless the environment forces software).
#[test]
fn new_follows_mode() {
    let key = [5u8; 32];
    let sw = Aes256Gcm::new(&key, AesMode::Software).unwrap();
    assert_eq!(sw.backend(), AeadBackend::Software);

    let auto = Aes256Gcm::new(&key, AesMode::Auto).unwrap();
    let env_forces =
        std::env::var(AES_MODE_ENV).is_ok_and(|v| v.trim().eq_ignore_ascii_case("software"));
    let expected = if !env_forces && cpu_features().hardware_capable() {
        AeadBackend::Hardware
    } else {
        AeadBackend::Software
    };
    assert_eq!(auto.backend(), expected);
    let selection = active_backend(AesMode::Auto).unwrap();
    assert_eq!(selection.backend, expected);
    if env_forces {
        assert_eq!(selection.reason, SelectionReason::ForcedByEnv);
    }
    eprintln!("{selection}");
}
