//! The crypto and wallet-encryption commands as a user runs them.

mod common;

use common::run;

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn sign_verify_and_verify_batch_report_each_input_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("w");
    let d = d.to_str().unwrap();
    assert!(run(&["wallet", "new", "--datadir", d]).status.success());
    let msg = format!("{:064x}", 7);
    let signed = json(&run(&["crypto", "sign", "--datadir", d, "--msg", &msg]));
    let (pk, sig) = (
        signed["pubkey"].as_str().unwrap(),
        signed["sig"].as_str().unwrap(),
    );
    let ok = run(&[
        "crypto", "verify", "--pubkey", pk, "--msg", &msg, "--sig", sig,
    ]);
    assert!(ok.status.success());
    let other = format!("{:064x}", 8);
    let bad = run(&[
        "crypto", "verify", "--pubkey", pk, "--msg", &other, "--sig", sig,
    ]);
    assert_eq!(bad.status.code(), Some(1));

    let file = dir.path().join("batch.csv");
    let lines = [
        format!("{pk},{msg},{sig}"),
        format!("{pk},{other},{sig}"),
        "not,a,line".to_string(),
        format!("{pk},{msg},{sig}"),
    ];
    std::fs::write(&file, lines.join("\n")).unwrap();
    let out = run(&["crypto", "verify-batch", file.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "an invalid input makes the exit code 1"
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let results: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(results, ["0,true", "1,false", "2,false", "3,true"]);
    assert!(text.contains("4 signatures: 2 valid, 2 invalid (1 malformed)"));
}

#[test]
fn an_encrypted_wallet_keeps_its_address_and_needs_the_passphrase_to_sign() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("w");
    let d = d.to_str().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "correct horse\n").unwrap();
    let pw = pw.to_str().unwrap();
    let address = String::from_utf8(run(&["wallet", "new", "--datadir", d]).stdout).unwrap();
    assert!(
        run(&["wallet", "encrypt", "--datadir", d, "--passphrase-file", pw])
            .status
            .success()
    );
    let text = std::fs::read_to_string(dir.path().join("w/wallet.key")).unwrap();
    assert!(!text.contains("secret_key"));
    let again = String::from_utf8(run(&["wallet", "address", "--datadir", d]).stdout).unwrap();
    assert_eq!(address, again);

    let msg = format!("{:064x}", 1);
    let wrong = std::process::Command::new(common::bin())
        .args(["crypto", "sign", "--datadir", d, "--msg", &msg])
        .env("PARTHENON_WALLET_PASSPHRASE", "wrong")
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("wrong passphrase"));
    let signed = json(&run(&[
        "crypto",
        "sign",
        "--datadir",
        d,
        "--msg",
        &msg,
        "--passphrase-file",
        pw,
    ]));
    assert_eq!(signed["pubkey"].as_str().unwrap(), address.trim());
    assert!(
        run(&["wallet", "decrypt", "--datadir", d, "--passphrase-file", pw])
            .status
            .success()
    );
    let text = std::fs::read_to_string(dir.path().join("w/wallet.key")).unwrap();
    assert!(text.contains("secret_key"));
}
