//! Checks signing and verification against the official BIP-340 test vectors
//! (`tests/data/bip340_test_vectors.csv`, vendored unchanged from `bitcoin/bips`).

use parthenon_crypto::{verify, verify_key, KeyPair, Signature, VerifyError, XOnlyPublicKey};

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/bip340_test_vectors.csv"
);
/// The vendored file's row count; a silently shorter read must fail the test.
const EXPECTED_VECTORS: usize = 15;

fn fixed<const N: usize>(hex_str: &str, what: &str, index: &str) -> [u8; N] {
    let bytes = hex::decode(hex_str).unwrap_or_else(|e| panic!("vector {index}: {what}: {e}"));
    bytes.try_into().unwrap_or_else(|b: Vec<u8>| {
        panic!("vector {index}: {what} has {} bytes, want {N}", b.len())
    })
}

#[test]
fn bip340_official_vectors() {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(VECTORS)
        .expect("open vendored BIP-340 vectors");
    let headers = reader.headers().expect("header row").clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        [
            "index",
            "secret key",
            "public key",
            "aux_rand",
            "message",
            "signature",
            "verification result",
            "comment"
        ]
    );

    let mut checked = 0;
    let mut signed = 0;
    let mut bad_key_rejections = 0;
    for record in reader.records() {
        let record = record.expect("well-formed CSV row");
        let index = &record[0];
        let pubkey: [u8; 32] = fixed(&record[2], "public key", index);
        let msg: [u8; 32] = fixed(&record[4], "message", index);
        let sig: [u8; 64] = fixed(&record[5], "signature", index);
        let expected_ok = match &record[6] {
            "TRUE" => true,
            "FALSE" => false,
            other => panic!("vector {index}: unexpected result {other:?}"),
        };
        let comment = &record[7];

        if !record[1].is_empty() {
            let secret: [u8; 32] = fixed(&record[1], "secret key", index);
            let aux: [u8; 32] = fixed(&record[3], "aux_rand", index);
            let pair = KeyPair::from_secret_bytes(&secret)
                .unwrap_or_else(|e| panic!("vector {index}: secret key rejected: {e}"));
            assert_eq!(
                pair.public_key().to_bytes(),
                pubkey,
                "vector {index}: public key"
            );
            assert_eq!(
                pair.sign_with_aux(&msg, &aux),
                Signature(sig),
                "vector {index}: signature"
            );
            signed += 1;
        }

        let result = verify(&pubkey, &msg, &sig);
        if expected_ok {
            assert_eq!(result, Ok(()), "vector {index} ({comment})");
            let key = XOnlyPublicKey::from_bytes(&pubkey).expect("valid key in TRUE vector");
            assert_eq!(
                verify_key(&key, &msg, &Signature(sig)),
                Ok(()),
                "vector {index}"
            );
        } else if comment.starts_with("public key") {
            // Vectors whose comment blames the public key must fail on the key, not later.
            assert_eq!(
                result,
                Err(VerifyError::InvalidPublicKey),
                "vector {index} ({comment})"
            );
            assert!(
                XOnlyPublicKey::from_bytes(&pubkey).is_err(),
                "vector {index}"
            );
            bad_key_rejections += 1;
        } else {
            assert_eq!(
                result,
                Err(VerifyError::InvalidSignature),
                "vector {index} ({comment})"
            );
        }
        checked += 1;
    }

    assert_eq!(
        checked, EXPECTED_VECTORS,
        "every vendored vector must be checked"
    );
    // Vectors 0-3 carry a secret key; 5 and 14 carry an invalid public key.
    assert_eq!(signed, 4);
    assert_eq!(bad_key_rejections, 2);
}
