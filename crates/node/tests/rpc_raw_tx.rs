//! The raw-transaction methods (`getrawtransaction`, `decoderawtransaction`,
//! `testmempoolaccept`) against a dev chainstate with mined blocks, over the JSON-RPC server.

mod rpc_common;

use parthenon_node::rpc::codes;
use parthenon_primitives::{Asset, Hash256, OutPoint, Transaction};
use rpc_common::{mine, tx_hex, TestNode};
use serde_json::{json, Value};

/// A node whose block-1 coinbase is mature (height 100), and that coinbase's first output.
async fn node_with_a_mature_coin() -> (TestNode, OutPoint, Asset, u64) {
    let node = TestNode::start(100, true, |_| {}).await;
    let h1 = node.ok("getblockhash", json!([1])).await;
    let cb = node.ok("getblock", json!([h1])).await["txids"][0]
        .as_str()
        .unwrap()
        .to_string();
    let coin = node.ok("gettxout", json!([cb, 0])).await;
    let asset = Asset::parse(coin["asset"].as_str().unwrap()).unwrap();
    let amount = coin["amount"].as_u64().unwrap();
    (
        node,
        OutPoint::new(Hash256::from_hex(&cb).unwrap(), 0),
        asset,
        amount,
    )
}

fn verdict(v: &Value) -> &Value {
    let list = v.as_array().expect("testmempoolaccept answers an array");
    assert_eq!(list.len(), 1, "{v}");
    &list[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decoderawtransaction_shows_every_field() {
    let (node, prevout, asset, amount) = node_with_a_mature_coin().await;
    let mut tx = node.spend(prevout, asset, amount, 1_000);
    tx.lock_time = 7;
    tx.inputs[0].sequence = 0xffff_fffe;
    let d = node.ok("decoderawtransaction", json!([tx_hex(&tx)])).await;
    let txid = tx.txid();
    assert_eq!(d["txid"], json!(txid.to_hex()));
    assert_eq!(d["wtxid"], json!(tx.wtxid().to_hex()));
    assert_ne!(d["txid"], d["wtxid"]);
    assert_eq!(d["size"], json!(tx.encoded_len()));
    assert_eq!(d["version"], json!(1));
    assert_eq!(d["lock_time"], json!(7));
    assert_eq!(
        d["inputs"],
        json!([{
            "outpoint": prevout.to_key_text(),
            "signature": hex::encode(&tx.inputs[0].signature),
            "sequence": 0xffff_fffeu32,
        }])
    );
    assert_eq!(
        d["outputs"],
        json!([{
            "n": 0,
            "outpoint": OutPoint::new(txid, 0).to_key_text(),
            "asset": asset.name(),
            "amount": amount - 1_000,
            "key": hex::encode(node.key.public_key().to_bytes()),
        }])
    );
    // The input's outpoint is the canonical text that gettxout takes.
    let text = d["inputs"][0]["outpoint"].as_str().unwrap();
    assert_eq!(OutPoint::parse_key_text(text).unwrap(), prevout);

    // A coinbase shows its data, not an outpoint.
    let h1 = node.ok("getblockhash", json!([1])).await;
    let raw_block = node.ok("getblock", json!([h1, 0])).await;
    let block: parthenon_primitives::Block =
        parthenon_primitives::deserialize(&hex::decode(raw_block.as_str().unwrap()).unwrap())
            .unwrap();
    let cb = node
        .ok("decoderawtransaction", json!([tx_hex(&block.txs[0])]))
        .await;
    assert!(cb["inputs"][0].get("outpoint").is_none(), "{cb}");
    assert!(cb["inputs"][0]["coinbase"].is_string(), "{cb}");

    // Not hex, not a transaction, trailing bytes: -22.
    let mut trailing = tx_hex(&tx);
    trailing.push_str("00");
    for bad in ["zz", "00", "", trailing.as_str()] {
        assert_eq!(
            node.code("decoderawtransaction", json!([bad])).await,
            codes::DESERIALIZATION_ERROR,
            "{bad:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn testmempoolaccept_judges_without_adding() {
    let (node, prevout, asset, amount) = node_with_a_mature_coin().await;
    let tx = node.spend(prevout, asset, amount, 1_000);

    let v = node.ok("testmempoolaccept", json!([[tx_hex(&tx)]])).await;
    let ok = verdict(&v);
    assert_eq!(ok["allowed"], json!(true), "{v}");
    assert_eq!(ok["txid"], json!(tx.txid().to_hex()));
    assert_eq!(ok["wtxid"], json!(tx.wtxid().to_hex()));
    assert_eq!(ok["size"], json!(tx.encoded_len()));
    assert_eq!(ok["fees"][asset.name()], json!(1_000));
    assert!(ok.get("reject-reason").is_none());
    // Nothing entered the mempool.
    assert_eq!(node.ok("getrawmempool", json!([])).await, json!([]));
    assert_eq!(node.state.mempool.lock().len(), 0);

    // A broken signature: refused with the signature error, word for word what
    // sendrawtransaction says.
    let mut forged = tx.clone();
    forged.inputs[0].signature[5] ^= 1;
    let v = node
        .ok("testmempoolaccept", json!({"rawtxs": [tx_hex(&forged)]}))
        .await;
    let bad = verdict(&v);
    assert_eq!(bad["allowed"], json!(false), "{v}");
    let reason = bad["reject-reason"].as_str().unwrap();
    assert!(reason.contains("invalid signature"), "{reason}");
    assert_eq!(bad["reject-code"], json!(codes::TX_REJECTED));
    match node
        .call("sendrawtransaction", json!([tx_hex(&forged)]))
        .await
    {
        Err(parthenon_node::rpc::client::RpcClientError::Remote { code, message }) => {
            assert_eq!((code, message.as_str()), (codes::TX_REJECTED, reason));
        }
        other => panic!("a forged signature was not refused: {other:?}"),
    }

    // Several at once, each judged alone: a missing input (-25's reason) and the good one.
    let missing = node.spend(OutPoint::new(Hash256([9; 32]), 0), asset, amount, 1);
    let v = node
        .ok(
            "testmempoolaccept",
            json!([[tx_hex(&missing), tx_hex(&tx)]]),
        )
        .await;
    assert_eq!(v[0]["allowed"], json!(false));
    assert_eq!(v[0]["reject-code"], json!(codes::TX_VERIFY_ERROR));
    assert!(
        v[0]["reject-reason"]
            .as_str()
            .unwrap()
            .contains("not an unspent coin"),
        "{v}"
    );
    assert_eq!(v[1]["allowed"], json!(true), "{v}");

    // Once it is in the mempool, testing it again says so; a conflicting spend is refused.
    node.ok("sendrawtransaction", json!([tx_hex(&tx)])).await;
    let again = node.ok("testmempoolaccept", json!([[tx_hex(&tx)]])).await;
    assert_eq!(verdict(&again)["allowed"], json!(false));
    assert!(verdict(&again)["reject-reason"]
        .as_str()
        .unwrap()
        .contains("already in the mempool"));
    let conflict = node.spend(prevout, asset, amount, 2_000);
    let v = node
        .ok("testmempoolaccept", json!([[tx_hex(&conflict)]]))
        .await;
    assert!(verdict(&v)["reject-reason"]
        .as_str()
        .unwrap()
        .contains("double-spends"));
    assert_eq!(node.state.mempool.lock().len(), 1);

    // Bad parameters: not an array, empty, too many, undecodable.
    for (params, code) in [
        (json!([tx_hex(&tx)]), codes::INVALID_PARAMS),
        (json!([[]]), codes::INVALID_PARAMS),
        (json!([vec![tx_hex(&tx); 26]]), codes::INVALID_PARAMS),
        (json!([[1]]), codes::INVALID_PARAMS),
        (json!([["zz"]]), codes::DESERIALIZATION_ERROR),
    ] {
        assert_eq!(
            node.code("testmempoolaccept", params.clone()).await,
            code,
            "{params}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn getrawtransaction_finds_mempool_and_block_transactions() {
    let (node, prevout, asset, amount) = node_with_a_mature_coin().await;
    let tx: Transaction = node.spend(prevout, asset, amount, 1_000);
    let txid = tx.txid().to_hex();

    // Unknown anywhere: the error says the node keeps no transaction index.
    let e = node.call("getrawtransaction", json!([txid])).await;
    match e {
        Err(parthenon_node::rpc::client::RpcClientError::Remote { code, message }) => {
            assert_eq!(code, codes::NOT_FOUND);
            assert!(message.contains("no transaction index"), "{message}");
            assert!(message.contains("blockhash"), "{message}");
        }
        other => panic!("expected not found, got {other:?}"),
    }

    node.ok("sendrawtransaction", json!([tx_hex(&tx)])).await;
    // From the mempool: hex by default, JSON with the hex when verbose.
    let raw = node.ok("getrawtransaction", json!([txid])).await;
    assert_eq!(raw, json!(tx_hex(&tx)));
    assert_eq!(
        node.ok("getrawtransaction", json!([txid, false])).await,
        raw
    );
    let v = node.ok("getrawtransaction", json!([txid, true])).await;
    assert_eq!(v["hex"], raw);
    assert_eq!(v["txid"], json!(txid));
    assert_eq!(v["inputs"][0]["outpoint"], json!(prevout.to_key_text()));
    assert!(v.get("blockhash").is_none());
    assert_eq!(
        node.ok("getrawtransaction", json!({"txid": txid, "verbose": 1}))
            .await,
        v
    );
    assert_eq!(
        node.code("getrawtransaction", json!([txid, 2])).await,
        codes::OUT_OF_RANGE
    );

    // Mined: gone from the mempool, found in its block given the block hash.
    let block_hash = mine(&node.miner, 1).await[0].to_hex();
    assert_eq!(node.ok("getrawmempool", json!([])).await, json!([]));
    assert_eq!(
        node.code("getrawtransaction", json!([txid])).await,
        codes::NOT_FOUND
    );
    let raw_confirmed = node
        .ok("getrawtransaction", json!([txid, false, block_hash]))
        .await;
    assert_eq!(raw_confirmed, raw);
    let v = node
        .ok("getrawtransaction", json!([txid, true, block_hash]))
        .await;
    assert_eq!(v["blockhash"], json!(block_hash));
    assert_eq!(v["confirmations"], json!(1));
    assert_eq!(v["in_active_chain"], json!(true));
    assert_eq!(v["hex"], raw);
    let block = node.ok("getblock", json!([block_hash])).await;
    assert_eq!(v["time"], block["time"]);
    mine(&node.miner, 1).await;
    let v = node
        .ok("getrawtransaction", json!([txid, true, block_hash]))
        .await;
    assert_eq!(v["confirmations"], json!(2));

    // The wrong block, an unknown block, a malformed hash.
    let other = node.ok("getblockhash", json!([1])).await;
    assert_eq!(
        node.code("getrawtransaction", json!([txid, true, other]))
            .await,
        codes::NOT_FOUND
    );
    assert_eq!(
        node.code(
            "getrawtransaction",
            json!([txid, true, Hash256([7; 32]).to_hex()])
        )
        .await,
        codes::NOT_FOUND
    );
    assert_eq!(
        node.code("getrawtransaction", json!(["xyz"])).await,
        codes::INVALID_PARAMS
    );
}
