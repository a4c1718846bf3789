//! `parthenon cert generate|show|check` as an operator runs them, on certificates made by
//! rcgen at test time.

mod common;

use common::run;
use rcgen::{CertificateParams, KeyPair};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use time::{Duration, OffsetDateTime};

/// Writes a self-signed certificate valid from `from` to `until` (relative to now) to `path`.
fn fixture(path: &Path, from: Duration, until: Duration) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["node.example".to_owned()]).unwrap();
    let now = OffsetDateTime::now_utc();
    params.not_before = now + from;
    params.not_after = now + until;
    std::fs::write(path, params.self_signed(&key).unwrap().pem()).unwrap();
}

fn check(path: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let mut args = vec!["cert", "check", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = run(&args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn check_exits_0_valid_1_expiring_2_expired_or_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let valid = dir.path().join("valid.pem");
    let expiring = dir.path().join("expiring.pem");
    let expired = dir.path().join("expired.pem");
    let future = dir.path().join("future.pem");
    let garbage = dir.path().join("garbage.pem");
    fixture(&valid, Duration::hours(-1), Duration::days(200));
    fixture(&expiring, Duration::days(-80), Duration::days(10));
    fixture(&expired, Duration::days(-90), Duration::days(-1));
    fixture(&future, Duration::days(1), Duration::days(90));
    std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\nnot base64\n").unwrap();

    let (code, out) = check(&valid, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("OK:"), "{out}");
    let (code, out) = check(&expiring, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("9 days left") || out.contains("10 days left"),
        "{out}"
    );
    assert_eq!(check(&expiring, &["--warn-days", "5"]).0, Some(0));
    assert_eq!(check(&valid, &["--warn-days", "365"]).0, Some(1));
    let (code, out) = check(&expired, &[]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.starts_with("EXPIRED:"), "{out}");
    assert_eq!(check(&future, &[]).0, Some(2));
    assert_eq!(check(&garbage, &[]).0, Some(2));
    assert_eq!(check(&dir.path().join("missing.pem"), &[]).0, Some(2));
}

#[test]
fn generate_writes_a_private_key_and_a_certificate_that_show_describes() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("tls");
    let d = out_dir.to_str().unwrap();
    let out = run(&[
        "cert",
        "generate",
        "--dir",
        d,
        "--days",
        "90",
        "--san",
        "node.example",
        "--san",
        "10.0.0.7",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cert = out_dir.join("fullchain.pem");
    let key = out_dir.join("privkey.pem");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&key), 0o600);
    assert_eq!(mode(&out_dir), 0o700);
    let entries = std::fs::read_dir(&out_dir).unwrap().count();
    assert_eq!(entries, 2, "no temporary files left");

    let shown = run(&["cert", "show", cert.to_str().unwrap(), "--json"]);
    assert!(shown.status.success());
    let info: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(info["subject"], "CN=node.example");
    assert_eq!(info["issuer"], "CN=node.example");
    assert_eq!(
        info["names"],
        serde_json::json!(["node.example", "10.0.0.7"])
    );
    let days = info["days_remaining"].as_i64().unwrap();
    assert!((89..=90).contains(&days), "{days}");
    assert_eq!(info["fingerprint"].as_str().unwrap().len(), 64);

    let text = run(&["cert", "show", cert.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains(info["fingerprint"].as_str().unwrap()),
        "{text}"
    );
    assert!(text.contains("days remaining:"), "{text}");

    assert_eq!(check(&cert, &[]).0, Some(0));
    assert_eq!(check(&cert, &["--warn-days", "100"]).0, Some(1));

    // Existing files are kept unless --force.
    let again = run(&["cert", "generate", "--dir", d]);
    assert!(!again.status.success());
    let forced = run(&["cert", "generate", "--dir", d, "--force"]);
    assert!(forced.status.success());
    let replaced = run(&["cert", "show", cert.to_str().unwrap(), "--json"]);
    let replaced: serde_json::Value = serde_json::from_slice(&replaced.stdout).unwrap();
    assert_ne!(replaced["fingerprint"], info["fingerprint"]);
    assert_eq!(replaced["subject"], "CN=parthenon-node");
}
