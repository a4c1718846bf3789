//! Raw-transaction tools end to end on a running dev node: `wallet send --no-broadcast`,
//! `decoderawtransaction`, `testmempoolaccept`, `sendrawtransaction`, `getrawtransaction`;
//! and a signed transaction altered in a field its txid covers (`sequence`, `lock_time`) is
//! refused by both submitters with a signature error.

mod common;

use common::{run, NodeProcess, Rpc};
use parthenon_node::rpc::client::RpcClientError;
use parthenon_primitives::{deserialize, serialize, Transaction};
use serde_json::{json, Value};
use std::path::Path;

/// Error code of a transaction refused by consensus or policy.
const TX_REJECTED: i64 = -26;

/// A dev node (not mining on its own) with 101 blocks, so block 1's coinbase is spendable.
fn node_with_mature_coins(datadir: &Path) -> (NodeProcess, Rpc) {
    let mut node = NodeProcess::start(datadir, &["--no-mine"]);
    let rpc = node.rpc();
    let mined = rpc.call("generate", json!([101]));
    assert_eq!(mined.as_array().unwrap().len(), 101);
    (node, rpc)
}

/// `wallet send --no-broadcast`: the signed transaction it printed (checked against its
/// printed txid and wtxid).
fn sign_without_sending(datadir: &Path) -> Transaction {
    let out = run(&[
        "wallet",
        "send",
        "--datadir",
        datadir.to_str().unwrap(),
        "--to",
        "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
        "--amount",
        "1.5",
        "--fee",
        "0.001",
        "--no-broadcast",
    ]);
    assert!(
        out.status.success(),
        "send --no-broadcast: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let tx: Transaction =
        deserialize(&hex::decode(printed["hex"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(printed["txid"], json!(tx.txid().to_hex()));
    assert_eq!(printed["wtxid"], json!(tx.wtxid().to_hex()));
    tx
}

fn hex_of(tx: &Transaction) -> String {
    hex::encode(serialize(tx))
}

fn stop(node: NodeProcess) {
    // SAFETY: kill(2) on the child's pid, which this test owns.
    unsafe { libc::kill(node.child.id() as i32, libc::SIGTERM) };
    let (status, _) = node.wait();
    assert!(status.success());
}

/// `tx` is refused by `testmempoolaccept` and by `sendrawtransaction`, both with a signature
/// error, and the mempool stays empty.
fn assert_refused_for_its_signature(rpc: &Rpc, tx: &Transaction, what: &str) {
    let verdict = rpc.call("testmempoolaccept", json!([[hex_of(tx)]]));
    let v = &verdict[0];
    assert_eq!(v["txid"], json!(tx.txid().to_hex()), "{what}: {verdict}");
    assert_eq!(v["allowed"], json!(false), "{what} was allowed: {verdict}");
    let reason = v["reject-reason"].as_str().unwrap();
    assert!(
        reason.contains("invalid signature"),
        "{what}: not a signature error: {reason}"
    );
    match rpc.try_call("sendrawtransaction", json!([hex_of(tx)])) {
        Err(RpcClientError::Remote { code, message }) => {
            assert_eq!(code, TX_REJECTED, "{what}: {message}");
            assert!(message.contains("invalid signature"), "{what}: {message}");
        }
        other => panic!("{what} was not refused by sendrawtransaction: {other:?}"),
    }
    assert_eq!(rpc.call("getrawmempool", Value::Null), json!([]), "{what}");
}

#[test]
fn a_signed_transaction_is_checked_sent_and_found_without_a_tx_index() {
    let dir = tempfile::tempdir().unwrap();
    let datadir = dir.path().join("dev");
    let (node, rpc) = node_with_mature_coins(&datadir);

    // Signed, printed, and in no mempool.
    let tx = sign_without_sending(&datadir);
    let txid = tx.txid().to_hex();
    assert_eq!(rpc.call("getrawmempool", Value::Null), json!([]));
    assert_eq!(rpc.call("getmempoolinfo", Value::Null)["size"], json!(0));

    // Decoded: ids, outpoints in the canonical form, sequences, outputs, lock time.
    let d = rpc.call("decoderawtransaction", json!([hex_of(&tx)]));
    assert_eq!(d["txid"], json!(txid));
    assert_eq!(d["wtxid"], json!(tx.wtxid().to_hex()));
    assert_eq!(d["lock_time"], json!(tx.lock_time));
    for (i, input) in tx.inputs.iter().enumerate() {
        assert_eq!(
            d["inputs"][i]["outpoint"],
            json!(input.prevout.to_key_text())
        );
        assert_eq!(d["inputs"][i]["sequence"], json!(input.sequence));
    }
    assert_eq!(d["outputs"][0]["asset"], json!("TALANTON"));
    assert_eq!(d["outputs"][0]["amount"], json!(150_000_000u64));

    // Judged acceptable, still not added.
    let verdict = rpc.call("testmempoolaccept", json!([[hex_of(&tx)]]));
    assert_eq!(verdict[0]["allowed"], json!(true), "{verdict}");
    assert_eq!(verdict[0]["fees"]["TALANTON"], json!(100_000u64));
    assert_eq!(rpc.call("getrawmempool", Value::Null), json!([]));

    // Not in the mempool and no index: the error says how to find it.
    match rpc.try_call("getrawtransaction", json!([txid])) {
        Err(RpcClientError::Remote { code, message }) => {
            assert_eq!(code, -5);
            assert!(message.contains("no transaction index"), "{message}");
        }
        other => panic!("expected -5, got {other:?}"),
    }

    // Sent: found in the mempool; mined: found in its block.
    assert_eq!(
        rpc.call("sendrawtransaction", json!([hex_of(&tx)])),
        json!(txid)
    );
    assert_eq!(
        rpc.call("getrawtransaction", json!([txid])),
        json!(hex_of(&tx))
    );
    let block = rpc.call("generate", json!([1]))[0].clone();
    let found = rpc.call("getrawtransaction", json!([txid, true, block]));
    assert_eq!(found["hex"], json!(hex_of(&tx)));
    assert_eq!(found["blockhash"], block);
    assert_eq!(found["confirmations"], json!(1));
    assert_eq!(found["in_active_chain"], json!(true));

    stop(node);
    common::assert_consistent(&datadir);

    // With the node stopped, --no-broadcast signs from the stored chainstate.
    let offline = sign_without_sending(&datadir);
    assert_ne!(offline.txid(), tx.txid());
    assert!(offline.inputs.iter().all(|i| i.signature.len() == 64));
}

#[test]
fn a_signed_transaction_with_its_lock_time_version_or_an_output_changed_is_refused_for_its_signature(
) {
    let dir = tempfile::tempdir().unwrap();
    let datadir = dir.path().join("dev");
    let (node, rpc) = node_with_mature_coins(&datadir);
    let tx = sign_without_sending(&datadir);

    let mut altered = tx.clone();
    altered.lock_time ^= 1;
    assert_ne!(altered.txid(), tx.txid());
    assert_refused_for_its_signature(&rpc, &altered, "lock_time changed");
    // The other txid fields a relayer could touch without breaking the decoding.
    let mut altered = tx.clone();
    altered.version ^= 2;
    assert_refused_for_its_signature(&rpc, &altered, "version changed");
    let mut altered = tx.clone();
    altered.outputs[0].amount -= 1;
    assert_refused_for_its_signature(&rpc, &altered, "an output amount changed");
    let mut altered = tx.clone();
    altered.outputs[0].script_pubkey[31] ^= 1;
    assert_refused_for_its_signature(&rpc, &altered, "an output key changed");

    // The original, untouched, still goes through.
    let verdict = rpc.call("testmempoolaccept", json!([[hex_of(&tx)]]));
    assert_eq!(verdict[0]["allowed"], json!(true), "{verdict}");
    stop(node);
}

/// Fails before the signature hash committed to every input's sequence (issue 9, point 1):
/// the altered transaction was accepted under a new txid.
#[test]
fn a_signed_transaction_with_a_sequence_changed_is_refused_for_its_signature() {
    let dir = tempfile::tempdir().unwrap();
    let datadir = dir.path().join("dev");
    let (node, rpc) = node_with_mature_coins(&datadir);
    let tx = sign_without_sending(&datadir);

    let mut altered = tx.clone();
    altered.inputs[0].sequence ^= 1;
    assert_ne!(altered.txid(), tx.txid());
    assert_refused_for_its_signature(&rpc, &altered, "sequence changed");

    let verdict = rpc.call("testmempoolaccept", json!([[hex_of(&tx)]]));
    assert_eq!(verdict[0]["allowed"], json!(true), "{verdict}");
    stop(node);
}
