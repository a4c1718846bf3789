//! The node's TLS identity on disk: made on first start, reloaded unchanged, and clear errors
//! for damaged files.

use parthenon_net::tls::{
    load_or_generate, IdentityError, NodeIdentity, CERT_FILE, KEY_FILE, TLS_DIR,
};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn first_start_writes_a_private_key_and_certificate_that_reload_identically() {
    let datadir = tempfile::tempdir().unwrap();
    let dir = datadir.path().join(TLS_DIR);

    let first = load_or_generate(&dir).unwrap();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join(KEY_FILE)), 0o600, "the key is private");
    assert_eq!(mode(&dir.join(CERT_FILE)), 0o644);
    let key_pem = fs::read_to_string(dir.join(KEY_FILE)).unwrap();
    let cert_pem = fs::read_to_string(dir.join(CERT_FILE)).unwrap();
    assert!(
        key_pem.starts_with("-----BEGIN PRIVATE KEY-----"),
        "{key_pem}"
    );
    assert!(
        cert_pem.starts_with("-----BEGIN CERTIFICATE-----"),
        "{cert_pem}"
    );
    // Written through temporary files that were renamed into place: none is left.
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, [CERT_FILE, KEY_FILE]);

    // The certificate names the node as the issue requires.
    let der = first.certificate_der().as_ref();
    assert!(contains(der, b"parthenon-node"));
    assert!(contains(der, b"localhost"));

    let second = load_or_generate(&dir).unwrap();
    assert_eq!(second.fingerprint(), first.fingerprint());
    assert_eq!(second.certificate_der(), first.certificate_der());
    assert_eq!(fs::read_to_string(dir.join(KEY_FILE)).unwrap(), key_pem);

    let hex = first.fingerprint_hex();
    assert_eq!(hex.len(), 64);
    assert!(hex
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert_eq!(hex, first.fingerprint().to_string());
    assert!(
        format!("{first:?}").contains(&hex),
        "Debug shows the fingerprint"
    );
    assert!(
        !format!("{first:?}").contains("PRIVATE"),
        "and never the key"
    );
}

#[test]
fn two_identities_differ() {
    let a = NodeIdentity::generate().unwrap();
    let b = NodeIdentity::generate().unwrap();
    assert_ne!(a.fingerprint(), b.fingerprint());
}

#[test]
fn corrupted_key_file_is_an_error_naming_the_path() {
    let datadir = tempfile::tempdir().unwrap();
    let dir = datadir.path().join(TLS_DIR);
    load_or_generate(&dir).unwrap();
    let key_path = dir.join(KEY_FILE);
    fs::write(
        &key_path,
        "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();

    let err = load_or_generate(&dir).unwrap_err();
    assert!(
        matches!(&err, IdentityError::BadKey { path, .. } if *path == key_path),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains(&key_path.display().to_string()),
        "{message}"
    );
    assert!(message.contains("not a usable private key"), "{message}");

    // A key file that is not PEM at all says so too.
    fs::write(&key_path, "garbage").unwrap();
    let err = load_or_generate(&dir).unwrap_err();
    assert!(
        matches!(&err, IdentityError::BadKey { path, .. } if *path == key_path),
        "{err:?}"
    );
}

#[test]
fn corrupted_certificate_is_an_error_naming_the_path() {
    let datadir = tempfile::tempdir().unwrap();
    let dir = datadir.path().join(TLS_DIR);
    load_or_generate(&dir).unwrap();
    let cert_path = dir.join(CERT_FILE);
    fs::write(
        &cert_path,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();

    let err = load_or_generate(&dir).unwrap_err();
    assert!(
        matches!(&err, IdentityError::BadCertificate { path, .. } if *path == cert_path),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&cert_path.display().to_string()),
        "{err}"
    );
}

#[test]
fn another_nodes_certificate_does_not_pass_for_ours() {
    let datadir = tempfile::tempdir().unwrap();
    let ours = datadir.path().join("ours");
    let theirs = datadir.path().join("theirs");
    load_or_generate(&ours).unwrap();
    load_or_generate(&theirs).unwrap();
    fs::copy(theirs.join(CERT_FILE), ours.join(CERT_FILE)).unwrap();

    let err = load_or_generate(&ours).unwrap_err();
    assert!(matches!(err, IdentityError::KeyMismatch { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&ours.join(CERT_FILE).display().to_string()),
        "{message}"
    );
    assert!(
        message.contains(&ours.join(KEY_FILE).display().to_string()),
        "{message}"
    );
}

#[test]
fn a_key_without_its_certificate_gets_a_new_certificate_for_the_same_key() {
    // A first start that stopped between writing the key and the certificate.
    let datadir = tempfile::tempdir().unwrap();
    let dir = datadir.path().join(TLS_DIR);
    let before = load_or_generate(&dir).unwrap();
    let key_pem = fs::read_to_string(dir.join(KEY_FILE)).unwrap();
    fs::remove_file(dir.join(CERT_FILE)).unwrap();

    let after = load_or_generate(&dir).unwrap();
    assert_eq!(
        fs::read_to_string(dir.join(KEY_FILE)).unwrap(),
        key_pem,
        "key kept"
    );
    assert_eq!(
        after.certified_key().key.public_key(),
        before.certified_key().key.public_key(),
        "the new certificate is for the same key"
    );
    assert_eq!(
        load_or_generate(&dir).unwrap().fingerprint(),
        after.fingerprint()
    );
}

#[test]
fn a_certificate_without_its_key_is_refused() {
    let datadir = tempfile::tempdir().unwrap();
    let dir = datadir.path().join(TLS_DIR);
    load_or_generate(&dir).unwrap();
    fs::remove_file(dir.join(KEY_FILE)).unwrap();

    let err = load_or_generate(&dir).unwrap_err();
    assert!(matches!(err, IdentityError::KeyMissing { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&dir.join(KEY_FILE).display().to_string()),
        "{err}"
    );
    assert!(
        !dir.join(KEY_FILE).exists(),
        "nothing is made up in its place"
    );
}

#[test]
fn an_uncreatable_directory_is_an_error_naming_it() {
    let datadir = tempfile::tempdir().unwrap();
    let blocker = datadir.path().join("file");
    fs::write(&blocker, "not a directory").unwrap();
    let dir = blocker.join(TLS_DIR);

    let err = load_or_generate(&dir).unwrap_err();
    assert!(
        matches!(&err, IdentityError::CreateDir { path, .. } if *path == dir),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&dir.display().to_string()),
        "{err}"
    );
}

#[test]
fn the_key_is_not_written_through_a_symlink_planted_in_the_tls_directory() {
    // The old writer opened `.node.key.tmp` with O_CREAT|O_TRUNC: a symbolic link planted
    // there sent the private key into whatever file it named.
    let tmp = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tls");
    fs::create_dir(&dir).unwrap();
    let victim = elsewhere.path().join("victim");
    fs::write(&victim, b"untouched").unwrap();
    std::os::unix::fs::symlink(&victim, dir.join(format!(".{KEY_FILE}.tmp"))).unwrap();
    std::os::unix::fs::symlink(&victim, dir.join(format!(".{CERT_FILE}.tmp"))).unwrap();

    load_or_generate(&dir).unwrap();

    assert_eq!(fs::read(&victim).unwrap(), b"untouched");
    assert_eq!(mode(&dir.join(KEY_FILE)), 0o600);
    assert!(contains(
        &fs::read(dir.join(KEY_FILE)).unwrap(),
        b"PRIVATE KEY"
    ));
}
