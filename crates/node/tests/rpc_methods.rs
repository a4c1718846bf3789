//! The JSON-RPC methods against a dev chainstate with mined blocks.

mod rpc_common;

use parthenon_node::control;
use parthenon_node::rpc::codes;
use parthenon_primitives::{deserialize, Asset, Block, Hash256, OutPoint};
use rpc_common::{tx_hex, TestNode};
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_queries() {
    let node = TestNode::start(3, false, |_| {}).await;
    let info = node.ok("getblockchaininfo", json!([])).await;
    assert_eq!(info["network"], json!("dev"));
    assert_eq!(info["height"], json!(3));
    assert_eq!(info["initial_block_download"], json!(false));
    assert_eq!(info["verification_progress"], json!(1.0));
    assert!(info["utxo_count"].as_u64().unwrap() >= 3, "{info}");
    assert!(info["supply"]["TALANTON"].as_u64().unwrap() > 0, "{info}");
    assert_eq!(info["chain_work"].as_str().unwrap().len(), 64);

    let best = node.ok("getbestblockhash", json!([])).await;
    assert_eq!(info["best_hash"], best);
    assert_eq!(node.ok("getblockhash", json!([3])).await, best);
    assert_eq!(node.ok("getblockhash", json!({"height": 3})).await, best);
    assert_eq!(node.ok("getblockcount", Value::Null).await, json!(3));
    let genesis = node.ok("getblockhash", json!([0])).await;
    assert_eq!(
        genesis,
        json!(parthenon_primitives::Network::Dev
            .params()
            .genesis_block()
            .hash()
            .to_hex())
    );
    for height in [json!(4), json!(-1), json!(u64::MAX)] {
        assert_eq!(
            node.code("getblockhash", json!([height])).await,
            codes::OUT_OF_RANGE
        );
    }

    // Verbosity 0: the block's bytes.
    let h2 = node.ok("getblockhash", json!([2])).await;
    let raw = node.ok("getblock", json!([h2, 0])).await;
    let block: Block = deserialize(&hex::decode(raw.as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(json!(block.hash().to_hex()), h2);
    assert_eq!(
        node.ok("getblock", json!({"blockhash": h2, "verbosity": false}))
            .await,
        raw
    );

    // Verbosity 1 (the default): JSON.
    let b = node.ok("getblock", json!([h2])).await;
    assert_eq!(b, node.ok("getblock", json!([h2, 1])).await);
    assert_eq!(b["hash"], h2);
    assert_eq!(b["height"], json!(2));
    assert_eq!(b["confirmations"], json!(2));
    assert_eq!(b["size"], json!(block.encoded_len()));
    assert_eq!(b["prev_hash"], node.ok("getblockhash", json!([1])).await);
    assert_eq!(b["next_hash"], best);
    assert_eq!(b["merkle_root"], json!(block.header.merkle_root.to_hex()));
    assert_eq!(b["time"], json!(block.header.time));
    assert_eq!(b["nonce"], json!(block.header.nonce));
    assert_eq!(b["bits"], json!(format!("{:08x}", block.header.bits)));
    let txids: Vec<Value> = block.txs.iter().map(|t| json!(t.txid().to_hex())).collect();
    assert_eq!(b["txids"], json!(txids));
    assert_eq!(b["tx_count"], json!(txids.len()));
    let tip = node.ok("getblock", json!([best])).await;
    assert_eq!(tip["confirmations"], json!(1));
    assert!(tip.get("next_hash").is_none());
    assert_eq!(
        node.ok("getblock", json!([genesis])).await["prev_hash"],
        Value::Null
    );

    let unknown = Hash256([7; 32]).to_hex();
    assert_eq!(
        node.code("getblock", json!([unknown])).await,
        codes::NOT_FOUND
    );
    assert_eq!(
        node.code("getblock", json!([h2, 2])).await,
        codes::OUT_OF_RANGE
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gettxout_takes_txid_and_vout_or_the_outpoint_text() {
    let node = TestNode::start(2, false, |_| {}).await;
    let h1 = node.ok("getblockhash", json!([1])).await;
    let coinbase = node.ok("getblock", json!([h1])).await["txids"][0].clone();
    let txid = coinbase.as_str().unwrap().to_string();
    let text = OutPoint::new(Hash256::from_hex(&txid).unwrap(), 0).to_key_text();

    let by_pair = node.ok("gettxout", json!([txid, 0])).await;
    assert_eq!(by_pair["outpoint"], json!(text));
    assert_eq!(by_pair["height"], json!(1));
    assert_eq!(by_pair["coinbase"], json!(true));
    assert_eq!(by_pair["confirmations"], json!(2));
    assert_eq!(
        by_pair["key"],
        json!(hex::encode(node.key.public_key().to_bytes()))
    );
    assert!(by_pair["amount"].as_u64().unwrap() > 0);
    assert_eq!(node.ok("gettxout", json!([text])).await, by_pair);
    assert_eq!(
        node.ok("gettxout", json!({"outpoint": text})).await,
        by_pair
    );
    assert_eq!(
        node.ok("gettxout", json!({"txid": txid, "vout": 0})).await,
        by_pair
    );
    // The control socket's get_coin is the same function.
    let via_control =
        control::dispatch(&node.state, "get_coin", &json!({ "outpoint": text })).unwrap();
    assert_eq!(via_control, by_pair);

    // No such output: null. Malformed forms: invalid params.
    assert_eq!(node.ok("gettxout", json!([txid, 99])).await, Value::Null);
    let upper = text.to_uppercase().replacen('U', "u", 1);
    for bad in [
        json!([format!("{text}x")]),
        json!([upper]),
        json!([txid]),
        json!([txid, -1]),
    ] {
        assert_eq!(
            node.code("gettxout", bad.clone()).await,
            codes::INVALID_PARAMS,
            "{bad}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sendrawtransaction_round_trip_through_the_mempool_into_a_block() {
    // Block 1's coinbase matures at height 100.
    let node = TestNode::start(100, true, |_| {}).await;
    let h1 = node.ok("getblockhash", json!([1])).await;
    let cb_txid = node.ok("getblock", json!([h1])).await["txids"][0]
        .as_str()
        .unwrap()
        .to_string();
    let coin = node.ok("gettxout", json!([cb_txid, 0])).await;
    let asset = Asset::parse(coin["asset"].as_str().unwrap()).unwrap();
    let amount = coin["amount"].as_u64().unwrap();
    let prevout = OutPoint::new(Hash256::from_hex(&cb_txid).unwrap(), 0);

    let empty = node.ok("getmempoolinfo", json!([])).await;
    assert_eq!(empty["size"], json!(0));
    assert_eq!(empty["bytes"], json!(0));
    assert!(empty["max_bytes"].as_u64().unwrap() > 0);

    let tx = node.spend(prevout, asset, amount, 1_000);
    let txid = node.ok("sendrawtransaction", json!([tx_hex(&tx)])).await;
    assert_eq!(txid, json!(tx.txid().to_hex()));
    // Sending it again answers the same txid.
    assert_eq!(
        node.ok("sendrawtransaction", json!({"hexstring": tx_hex(&tx)}))
            .await,
        txid
    );
    assert_eq!(node.ok("getrawmempool", json!([])).await, json!([txid]));
    let info = node.ok("getmempoolinfo", json!([])).await;
    assert_eq!(info["size"], json!(1));
    assert_eq!(info["bytes"], json!(tx.encoded_len()));
    // The control socket's view is the same.
    let m = control::dispatch(&node.state, "mempool", &Value::Null).unwrap();
    assert_eq!(
        (m["size"].clone(), m["txids"].clone()),
        (json!(1), json!([txid]))
    );

    // A conflicting spend is rejected (-26); a spend of a coin that does not exist (-25);
    // bytes that are not a transaction (-22).
    let conflict = node.spend(prevout, asset, amount, 2_000);
    assert_eq!(
        node.code("sendrawtransaction", json!([tx_hex(&conflict)]))
            .await,
        codes::TX_REJECTED
    );
    let missing = node.spend(OutPoint::new(Hash256([9; 32]), 0), asset, amount, 1);
    assert_eq!(
        node.code("sendrawtransaction", json!([tx_hex(&missing)]))
            .await,
        codes::TX_VERIFY_ERROR
    );
    for garbage in ["zz", "00", ""] {
        assert_eq!(
            node.code("sendrawtransaction", json!([garbage])).await,
            codes::DESERIALIZATION_ERROR
        );
    }

    // Mining takes it out of the mempool and into the UTXO set.
    let mined = node.ok("generate", json!([1])).await;
    let block = node.ok("getblock", json!([mined[0]])).await;
    assert_eq!(block["txids"][1], txid);
    assert_eq!(node.ok("getrawmempool", json!([])).await, json!([]));
    assert_eq!(node.ok("gettxout", json!([cb_txid, 0])).await, Value::Null);
    let out = node.ok("gettxout", json!([txid, 0])).await;
    assert_eq!(out["amount"], json!(amount - 1_000));
    assert_eq!(out["coinbase"], json!(false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generate_mines_blocks_to_the_node_wallet() {
    let node = TestNode::start(1, true, |_| {}).await;
    let hashes = node.ok("generate", json!([3])).await;
    let hashes = hashes.as_array().unwrap();
    assert_eq!(hashes.len(), 3);
    assert_eq!(node.ok("getblockcount", json!([])).await, json!(4));
    for (i, h) in hashes.iter().enumerate() {
        assert_eq!(node.ok("getblockhash", json!([2 + i])).await, *h);
    }
    assert_eq!(node.ok("getbestblockhash", json!([])).await, hashes[2]);
    let coinbase = node.ok("getblock", json!([hashes[2]])).await["txids"][0].clone();
    let paid = node.ok("gettxout", json!([coinbase, 0])).await;
    assert_eq!(
        paid["key"],
        json!(hex::encode(node.key.public_key().to_bytes()))
    );
    assert_eq!(node.ok("generate", json!({"nblocks": 0})).await, json!([]));
    assert_eq!(
        node.code("generate", json!([-1])).await,
        codes::OUT_OF_RANGE
    );
    assert_eq!(
        node.code("generate", json!([1_000_000])).await,
        codes::OUT_OF_RANGE
    );
    assert_eq!(
        node.code("generate", json!(["two"])).await,
        codes::INVALID_PARAMS
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_asks_the_node_to_shut_down() {
    let node = TestNode::start(0, false, |_| {}).await;
    let stopped = node.state.shutdown.clone();
    let waiter = tokio::spawn(async move { stopped.notified().await });
    assert!(node
        .ok("stop", json!([]))
        .await
        .as_str()
        .unwrap()
        .contains("stopping"));
    tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("the shutdown signal fires")
        .unwrap();
}
