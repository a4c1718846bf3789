//! The peer-to-peer RPC methods: `getpeerinfo`, `getnetworkinfo`'s connection counts,
//! `addnode`, `disconnectnode`, `setban`, `listbanned`, `clearbanned`.
//!
//! RPC methods run on blocking threads; these wait for the engine's answer with the
//! runtime's `block_on`, which is allowed there.
//!
//! | method | params | result |
//! | --- | --- | --- |
//! | `getpeerinfo` | – | one object per connection (address, direction, TLS, fingerprint, version, heights, bytes, ban score) |
//! | `getconnectioncount` | – | connected peers |
//! | `addnode` | `node` (`HOST:PORT[#FP]`), `command` = `add` / `remove` / `onetry` | null |
//! | `disconnectnode` | `address` (`IP:PORT`) or `nodeid` | null (-29 if not connected) |
//! | `setban` | `subnet` (an IP address, or `ADDRESS/PREFIX` such as `1.2.3.0/24`, `2001:db8::/64`), `command` = `add` / `remove`, `bantime` seconds = 86400 | null |
//! | `listbanned` | – | `[{address, banned_until}]` (`address`: an IP address or `ADDRESS/PREFIX`) |
//! | `clearbanned` | – | null |

use super::codes;
use super::methods::{MethodError, Params};
use parthenon_net::netaddr::{Subnet, SubnetParseError};
use parthenon_net::p2p::{AddNodeAction, DisconnectTarget, P2pHandle, P2pRequestError};
use parthenon_net::sync::PeerId;
use parthenon_net::{parse_peer_spec, reputation::DEFAULT_BAN_SECS};
use serde_json::{json, Value};
use std::future::Future;
use std::net::SocketAddr;

/// Names of the methods [`call`] serves.
pub const NET_METHODS: &[&str] = &[
    "getpeerinfo",
    "getconnectioncount",
    "addnode",
    "disconnectnode",
    "setban",
    "listbanned",
    "clearbanned",
];

/// Bitcoin Core's code for "node not connected" / "node already added" and friends.
pub const CLIENT_NODE_NOT_CONNECTED: i64 = -29;
/// Node already added.
pub const CLIENT_NODE_ALREADY_ADDED: i64 = -23;
/// Node not added.
pub const CLIENT_NODE_NOT_ADDED: i64 = -24;
/// The P2P network is disabled.
pub const CLIENT_P2P_DISABLED: i64 = -9;

fn wait<T>(f: impl Future<Output = Result<T, P2pRequestError>>) -> Result<T, MethodError> {
    tokio::runtime::Handle::current()
        .block_on(f)
        .map_err(request_error)
}

fn request_error(e: P2pRequestError) -> MethodError {
    let code = match e {
        P2pRequestError::Stopped => CLIENT_P2P_DISABLED,
        P2pRequestError::AlreadyAdded(_) => CLIENT_NODE_ALREADY_ADDED,
        P2pRequestError::NotAdded(_) => CLIENT_NODE_NOT_ADDED,
        P2pRequestError::NotFound(_) => CLIENT_NODE_NOT_CONNECTED,
    };
    MethodError::new(code, e.to_string())
}

fn disabled() -> MethodError {
    MethodError::new(
        CLIENT_P2P_DISABLED,
        "the P2P network is disabled on this node (--no-p2p)",
    )
}

/// Runs a P2P method, or `None` when `method` is not one.
pub fn call(
    p2p: Option<&P2pHandle>,
    method: &str,
    params: &Value,
) -> Option<Result<Value, MethodError>> {
    if !NET_METHODS.contains(&method) {
        return None;
    }
    Some(match p2p {
        None => Err(disabled()),
        Some(h) => dispatch(h, method, params),
    })
}

fn dispatch(h: &P2pHandle, method: &str, params: &Value) -> Result<Value, MethodError> {
    match method {
        "getpeerinfo" => {
            Params::new(params, &[])?;
            let peers = wait(h.peers())?;
            Ok(serde_json::to_value(peers).unwrap_or(Value::Null))
        }
        "getconnectioncount" => {
            Params::new(params, &[])?;
            let s = wait(h.status())?;
            Ok(json!(s.inbound + s.outbound))
        }
        "addnode" => {
            let p = Params::new(params, &["node", "command"])?;
            let spec = parse_peer_spec(p.str(0)?)
                .map_err(|e| MethodError::new(codes::INVALID_PARAMS, e.to_string()))?;
            let action = match p.str(1)? {
                "add" => AddNodeAction::Add,
                "remove" => AddNodeAction::Remove,
                "onetry" => AddNodeAction::OneTry,
                other => {
                    return Err(MethodError::new(
                        codes::INVALID_PARAMS,
                        format!("command {other:?}: expected add, remove or onetry"),
                    ))
                }
            };
            wait(h.add_node(spec, action))?;
            Ok(Value::Null)
        }
        "disconnectnode" => {
            let p = Params::new(params, &["address", "nodeid"])?;
            let target = match (p.get(0), p.get(1)) {
                (Some(Value::String(a)), None) if !a.is_empty() => {
                    let addr: SocketAddr = a.parse().map_err(|_| {
                        MethodError::new(
                            codes::INVALID_PARAMS,
                            format!("address {a:?}: expected IP:PORT as getpeerinfo shows it"),
                        )
                    })?;
                    DisconnectTarget::Addr(addr)
                }
                (None | Some(Value::Null), Some(_)) | (Some(Value::String(_)), Some(_)) => {
                    let id = p.integer(1)?;
                    let id = u64::try_from(id).map_err(|_| {
                        MethodError::new(codes::INVALID_PARAMS, format!("nodeid {id} is negative"))
                    })?;
                    DisconnectTarget::Id(PeerId(id))
                }
                _ => {
                    return Err(MethodError::new(
                        codes::INVALID_PARAMS,
                        "give an address (IP:PORT) or a nodeid",
                    ))
                }
            };
            wait(h.disconnect(target))?;
            Ok(Value::Null)
        }
        "setban" => {
            let p = Params::new(params, &["subnet", "command", "bantime"])?;
            let text = p.str(0)?;
            let subnet: Subnet = text.parse().map_err(|e: SubnetParseError| {
                MethodError::new(codes::INVALID_PARAMS, e.to_string())
            })?;
            match p.str(1)? {
                "add" => {
                    let secs = match p.get(2) {
                        None | Some(Value::Null) => DEFAULT_BAN_SECS,
                        Some(_) => u64::try_from(p.integer(2)?).map_err(|_| {
                            MethodError::new(codes::INVALID_PARAMS, "bantime must be positive")
                        })?,
                    };
                    wait(h.ban(subnet, secs))?;
                }
                "remove" => wait(h.unban(subnet))?,
                other => {
                    return Err(MethodError::new(
                        codes::INVALID_PARAMS,
                        format!("command {other:?}: expected add or remove"),
                    ))
                }
            }
            Ok(Value::Null)
        }
        "listbanned" => {
            Params::new(params, &[])?;
            let list = wait(h.banned())?;
            Ok(Value::Array(
                list.into_iter()
                    .map(|b| json!({ "address": b.subnet.to_string(), "banned_until": b.banned_until }))
                    .collect(),
            ))
        }
        "clearbanned" => {
            Params::new(params, &[])?;
            wait(h.clear_banned())?;
            Ok(Value::Null)
        }
        _ => unreachable!("NET_METHODS lists only the methods above"),
    }
}

/// The engine's sync state, if it runs and answers.
pub fn sync_status(p2p: Option<&P2pHandle>) -> Option<parthenon_net::p2p::NetStatus> {
    p2p.and_then(|h| wait(h.status()).ok())
}

/// The `connections` part of `getnetworkinfo`.
pub fn network_section(p2p: Option<&P2pHandle>) -> Value {
    let Some(h) = p2p else {
        return json!({ "networkactive": false, "connections": 0 });
    };
    match wait(h.status()) {
        Ok(s) => json!({
            "networkactive": true,
            "connections": s.inbound + s.outbound,
            "connections_in": s.inbound,
            "connections_out": s.outbound,
            "localaddresses": s.listen.map(|a| vec![a.to_string()]).unwrap_or_default(),
            "tls": s.tls,
            "cert_fingerprint": s.cert_fingerprint,
            "header_height": s.header_height,
            "initial_block_download": s.initial_block_download,
            "blocks_in_flight": s.blocks_in_flight,
            "known_addresses": s.known_addresses,
            "orphan_transactions": s.orphan_txs,
        }),
        Err(_) => json!({ "networkactive": false, "connections": 0 }),
    }
}
