//! The JSON-RPC HTTP server: authentication, the cookie's life, HTTP limits, protocol error
//! codes, and random input that must never bring it down.

mod rpc_common;

use hyper::StatusCode;
use parthenon_node::rpc::client::RpcClient;
use parthenon_node::rpc::{
    codes, cookie_path, Credentials, RpcConfig, RpcContext, RpcServer, ServerError,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rpc_common::{loopback0, url_of, TestNode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PING: &str = r#"{"jsonrpc":"2.0","method":"getblockcount","id":1}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_valid_credentials_get_401() {
    let node = TestNode::start(1, false, |c| {
        c.user_password = Some(Credentials {
            user: "alice".into(),
            password: "s3cret".into(),
        })
    })
    .await;
    let with = |creds: Option<Credentials>| RpcClient::new(node.url(), creds);

    let none = with(None).post(PING).await.unwrap();
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    let cookie = Credentials::from_cookie_file(node.server().cookie_path()).unwrap();
    let wrong = Credentials {
        password: format!("{}0", &cookie.password[1..]),
        ..cookie.clone()
    };
    assert_eq!(
        with(Some(wrong)).post(PING).await.unwrap().status,
        StatusCode::UNAUTHORIZED
    );
    let bad_user = Credentials {
        user: "alice".into(),
        password: cookie.password.clone(),
    };
    assert_eq!(
        with(Some(bad_user)).post(PING).await.unwrap().status,
        StatusCode::UNAUTHORIZED
    );

    // The cookie and the configured user/password both work.
    assert_eq!(
        with(Some(cookie))
            .call("getblockcount", json!([]))
            .await
            .unwrap(),
        json!(1)
    );
    let alice = Credentials {
        user: "alice".into(),
        password: "s3cret".into(),
    };
    assert_eq!(
        with(Some(alice))
            .call("getblockcount", json!([]))
            .await
            .unwrap(),
        json!(1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cookie_is_private_fresh_and_removed_at_shutdown() {
    let mut node = TestNode::start(0, false, |_| {}).await;
    let path = cookie_path(&node.datadir);
    assert_eq!(node.server().cookie_path(), path);
    let text = std::fs::read_to_string(&path).unwrap();
    let (user, secret) = text.split_once(':').unwrap();
    assert_eq!(user, "__cookie__");
    assert_eq!(secret.len(), 64);
    assert!(secret.bytes().all(|b| b.is_ascii_hexdigit()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    // A second server on the same address fails, names the flag, and leaves the cookie.
    let addr = node.server().local_addr();
    let ctx = RpcContext {
        state: node.state.clone(),
        miner: None,
        aes: parthenon_crypto::AesMode::Auto,
        p2p: None,
        cert: None,
    };
    let err = RpcServer::start(&RpcConfig::new(addr), &path, ctx.clone())
        .await
        .unwrap_err();
    assert!(matches!(err, ServerError::Bind { .. }), "{err}");
    assert!(err.to_string().contains("--rpc-listen"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);

    node.server.take().unwrap().shutdown().await;
    assert!(!path.exists(), "the cookie is removed at shutdown");
    assert!(node.client.call("getblockcount", json!([])).await.is_err());

    // A restart writes a new secret; the old one no longer opens the door.
    let server = RpcServer::start(&RpcConfig::new(loopback0()), &path, ctx)
        .await
        .unwrap();
    let fresh = Credentials::from_cookie_file(&path).unwrap();
    assert_ne!(fresh.password, secret);
    let old = Credentials {
        user: user.into(),
        password: secret.into(),
    };
    let reply = RpcClient::new(url_of(server.local_addr()), Some(old))
        .post(PING)
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    server.shutdown().await;
}

async fn post_json(node: &TestNode, body: &str) -> (StatusCode, Value) {
    let reply = node.client.post(body.to_string()).await.unwrap();
    let v = if reply.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&reply.body).unwrap()
    };
    (reply.status, v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_errors_have_stable_codes() {
    let node = TestNode::start(2, false, |_| {}).await;
    let (status, v) = post_json(&node, r#"{"jsonrpc":"2.0","method":"getblockcount","id":1"#).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["error"]["code"], json!(codes::PARSE_ERROR));
    assert_eq!(v["id"], Value::Null);

    let (_, v) = post_json(
        &node,
        r#"{"jsonrpc":"2.0","method":"getblockcount","params":"x","id":4}"#,
    )
    .await;
    assert_eq!(
        (v["error"]["code"].as_i64(), &v["id"]),
        (Some(codes::INVALID_REQUEST), &json!(4))
    );

    // Over the default 8 MiB cap: refused on the declared length, before the body is read.
    let cookie = Credentials::from_cookie_file(node.server().cookie_path()).unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Length: {}\r\n\r\n{{",
        cookie.basic_authorization(),
        8 * 1024 * 1024 + 1
    );
    assert_eq!(raw_status(&node, head.as_bytes()).await, 413);

    assert_eq!(
        node.code("nosuchmethod", json!([])).await,
        codes::METHOD_NOT_FOUND
    );
    // `generate` is left out of a node without a miner.
    assert_eq!(
        node.code("generate", json!([1])).await,
        codes::METHOD_NOT_FOUND
    );

    for (method, params) in [
        ("getblockhash", json!(["abc"])),
        ("getblockhash", json!([])),
        ("getblockhash", json!([1, 2])),
        ("getblockhash", json!({"hight": 1})),
        ("getblock", json!([])),
        ("getblock", json!(["00"])),
        ("getblock", json!([7])),
        ("gettxout", json!([])),
        ("gettxout", json!(["not-an-outpoint"])),
        ("gettxout", json!([1, 2, 3])),
        ("gettxout", json!({"outpoint": "u1:0"})),
        ("sendrawtransaction", json!([12])),
        ("getblockcount", json!([1])),
        ("stop", json!({"now": true})),
    ] {
        assert_eq!(
            node.code(method, params.clone()).await,
            codes::INVALID_PARAMS,
            "{method} {params}"
        );
    }

    // Notifications run and get no answer; a batch answers in order.
    let (status, v) = post_json(&node, r#"{"jsonrpc":"2.0","method":"getblockcount"}"#).await;
    assert_eq!((status, v), (StatusCode::NO_CONTENT, Value::Null));
    let (status, v) = post_json(
        &node,
        r#"[{"jsonrpc":"2.0","method":"getblockcount","id":"a"},
            {"jsonrpc":"2.0","method":"getblockcount"},
            {"jsonrpc":"2.0","method":"getblockhash","params":[99],"id":"b"},
            17]"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v[0], json!({"jsonrpc":"2.0","result":2,"id":"a"}));
    assert_eq!(
        (v[1]["id"].clone(), v[1]["error"]["code"].as_i64()),
        (json!("b"), Some(codes::OUT_OF_RANGE))
    );
    assert_eq!(v[2]["error"]["code"], json!(codes::INVALID_REQUEST));
    assert_eq!(v.as_array().unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_limits_paths_and_methods() {
    let node = TestNode::start(0, false, |c| {
        c.max_body_bytes = 4096;
        c.max_batch = 3;
    })
    .await;
    // Declared too large.
    let big = format!(
        r#"{{"jsonrpc":"2.0","method":"getblockcount","id":"{}"}}"#,
        "x".repeat(5000)
    );
    assert_eq!(
        node.client.post(big.clone()).await.unwrap().status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // Just within the cap is served.
    let fits = format!(
        r#"{{"jsonrpc":"2.0","method":"getblockcount","id":"{}"}}"#,
        "x".repeat(4000)
    );
    assert_eq!(node.client.post(fits).await.unwrap().status, StatusCode::OK);
    // Chunked, with no declared length: cut off at the cap.
    let cookie = Credentials::from_cookie_file(node.server().cookie_path()).unwrap();
    let mut chunked = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        cookie.basic_authorization()
    );
    for _ in 0..3 {
        chunked.push_str(&format!("{:x}\r\n{}\r\n", 2000, "a".repeat(2000)));
    }
    chunked.push_str("0\r\n\r\n");
    assert_eq!(raw_status(&node, chunked.as_bytes()).await, 413);
    // Batch length cap.
    let batch = json!([
        {"jsonrpc":"2.0","method":"getblockcount","id":1},
        {"jsonrpc":"2.0","method":"getblockcount","id":2},
        {"jsonrpc":"2.0","method":"getblockcount","id":3},
        {"jsonrpc":"2.0","method":"getblockcount","id":4},
    ]);
    let (_, v) = post_json(&node, &batch.to_string()).await;
    assert_eq!(v["error"]["code"], json!(codes::INVALID_REQUEST));
    // Other paths and methods.
    let get = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
        cookie.basic_authorization()
    );
    assert_eq!(raw_status(&node, get.as_bytes()).await, 405);
    assert_eq!(
        raw_status(
            &node,
            b"POST /wallet HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .await,
        404
    );
}

/// Sends `request` as raw bytes and returns the HTTP status of the answer.
async fn raw_status(node: &TestNode, request: &[u8]) -> u16 {
    let mut s = tokio::net::TcpStream::connect(node.server().local_addr())
        .await
        .unwrap();
    s.write_all(request).await.unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(2).any(|w| w == b"\r\n") {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed before a status line");
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Random JSON values, nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-5i64..300).prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "[a-z0-9:u]{0,70}".prop_map(Value::String),
        ".{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{0,10}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A request-shaped body with random fields, a random body, or random bytes.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let methods = prop::sample::select(vec![
        "getblockchaininfo",
        "getblockcount",
        "getbestblockhash",
        "getblockhash",
        "getblock",
        "gettxout",
        "sendrawtransaction",
        "getrawmempool",
        "getmempoolinfo",
        "generate",
        "nosuch",
    ]);
    let request = (methods, json_value(), json_value(), any::<bool>())
        .prop_map(|(m, params, id, v2)| {
            let mut r = json!({ "method": m, "params": params, "id": id });
            if v2 {
                r["jsonrpc"] = json!("2.0");
            }
            r
        })
        .boxed();
    prop_oneof![
        request.clone().prop_map(|r| r.to_string().into_bytes()),
        prop::collection::vec(request, 0..5).prop_map(|b| Value::Array(b).to_string().into_bytes()),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..300),
        "[\\[\\]{}\",:0-9a-z ]{0,120}".prop_map(String::into_bytes),
    ]
}

fn check_response(v: &Value) {
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"));
    assert_eq!(obj["jsonrpc"], json!("2.0"), "{v}");
    assert!(obj.contains_key("id"), "{v}");
    assert!(
        obj.contains_key("result") != obj.contains_key("error"),
        "{v}"
    );
    if let Some(e) = obj.get("error") {
        assert!(e["code"].is_i64() && e["message"].is_string(), "{v}");
    }
}

#[test]
fn random_bodies_never_bring_the_server_down() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let node = rt.block_on(TestNode::start(3, false, |_| {}));
    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&body(), |bytes| {
            let reply = rt
                .block_on(node.client.post(bytes))
                .expect("the server answers");
            match reply.status {
                StatusCode::NO_CONTENT => prop_assert!(reply.body.is_empty()),
                StatusCode::OK => {
                    let v: Value = serde_json::from_slice(&reply.body).expect("JSON answer");
                    match &v {
                        Value::Array(items) => items.iter().for_each(check_response),
                        single => check_response(single),
                    }
                }
                other => prop_assert!(false, "HTTP {other}"),
            }
            Ok(())
        })
        .unwrap();
    // Still serving, and the chain is untouched.
    let height = rt.block_on(node.ok("getblockcount", json!([])));
    assert_eq!(height, json!(3));
}
