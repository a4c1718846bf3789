//! Attacks on the node's connection slots and its bans, against a running engine over
//! loopback TCP and TLS (finding 6 of the P2P review: ~7 stalled connections a second shut
//! out every inbound peer, one IP could take all inbound slots, a banned IP still got a TLS
//! handshake; finding 8: automatic bans were not persisted, bans were per IP only).
//!
//! Linux routes all of 127.0.0.0/8 to loopback, so each attacker or honest peer here
//! connects from its own 127.a.b.c: distinct hosts, /24s and /16s as the node sees them.
//! The per-address limits apply to loopback only when `limit_loopback` is set, as here.

mod sync_common;

mod p2p_common;
mod p2p_raw;

use p2p_common::{test_config, wait_until, NodeState, TestNode};
use p2p_raw::{lo, tcp_from, RawPeer, REPLY_TIMEOUT};
use parthenon_net::netaddr::Subnet;
use parthenon_net::p2p::{InboundLimits, P2pConfig, DEFAULT_MAX_INBOUND_PER_HOST};
use parthenon_net::tls::{NodeIdentity, TlsTransport};
use parthenon_net::transport::{TcpTransport, Transport};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

fn listen_any() -> SocketAddr {
    (Ipv4Addr::LOCALHOST, 0).into()
}

fn plain() -> Arc<dyn Transport> {
    Arc::new(TcpTransport::new())
}

fn tls() -> Arc<dyn Transport> {
    Arc::new(
        TlsTransport::new(
            TcpTransport::new(),
            &NodeIdentity::generate().expect("identity"),
        )
        .expect("TLS transport"),
    )
}

/// A listening node with per-address limits applied to loopback too.
fn strict_config(seed: u64) -> P2pConfig {
    let mut c = test_config(seed);
    c.listen = Some(listen_any());
    c.max_outbound = 0;
    c.inbound_limits = InboundLimits {
        limit_loopback: true,
        ..InboundLimits::default()
    };
    c
}

/// Inbound peers of `node` connected from `ip`.
async fn peers_from(node: &TestNode, ip: std::net::IpAddr) -> usize {
    node.handle
        .peers()
        .await
        .unwrap()
        .iter()
        .filter(|p| p.addr.ip() == ip && p.direction == "inbound")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handshake_flood_from_one_address_does_not_shut_out_honest_peers() {
    let node = TestNode::start(strict_config(1), NodeState::new(), tls()).await;
    let target = node.addr();
    // The attacker: 40 new connections a second from one /24 (two hosts), none of which
    // ever sends a byte, each held open for the whole test (TLS handshake timeout: 10 s).
    let flood = tokio::spawn(async move {
        let mut held = Vec::new();
        let mut opened = 0u32;
        for i in 0..400u32 {
            let from = lo(1, 1, 1 + (i % 2) as u8);
            if let Ok(s) = tcp_from(from, target).await {
                held.push(s);
                opened += 1;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        (held, opened)
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Mid-flood, an honest peer from another network completes TLS and the P2P handshake.
    let started = tokio::time::Instant::now();
    let mut honest =
        tokio::time::timeout(Duration::from_secs(5), RawPeer::tls(lo(2, 2, 2), target))
            .await
            .expect("the honest TLS handshake is not held up by the flood")
            .expect("the honest peer connects");
    honest.handshake(0).await;
    let took = started.elapsed();
    assert!(!flood.is_finished(), "the flood still runs");
    // Served all through the flood (its pings answered, N's pings answered by it).
    let mut pings = 0;
    while !flood.is_finished() {
        pings += 1;
        assert!(
            honest.ping(pings, REPLY_TIMEOUT).await.is_some(),
            "the honest peer is served during the flood"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (held, opened) = flood.await.unwrap();
    let refused = node.handle.counters().inbound_refused();
    // Two hosts of one /24 get at most 2 handshakes each in progress at once.
    assert!(
        refused >= u64::from(opened) - 40,
        "refused before the handshake: {refused} of {opened}"
    );
    drop(held);
    node.assert_responsive("after the handshake flood").await;
    println!(
        "handshake flood: {opened} stalled connections, {refused} refused before TLS, honest \
         peer ready in {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_take_more_than_its_share_of_inbound_slots() {
    let node = TestNode::start(strict_config(2), NodeState::new(), plain()).await;
    let attacker = lo(3, 3, 3);
    let mut kept = Vec::new();
    for _ in 0..20 {
        let Ok(mut p) = RawPeer::tcp(attacker, node.addr()).await else {
            continue;
        };
        if !p.closed_within(Duration::from_millis(300)).await {
            p.handshake(0).await;
            kept.push(p);
        }
    }
    let n = peers_from(&node, attacker).await;
    assert_eq!(n, DEFAULT_MAX_INBOUND_PER_HOST, "slots of one address");
    assert_eq!(kept.len(), DEFAULT_MAX_INBOUND_PER_HOST);
    // Another host still gets in.
    let mut other = RawPeer::tcp(lo(4, 4, 4), node.addr()).await.unwrap();
    other.handshake(0).await;
    assert_eq!(peers_from(&node, lo(4, 4, 4)).await, 1);
    assert!(node.handle.counters().inbound_refused() >= 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_banned_address_is_refused_before_the_tls_handshake() {
    let node = TestNode::start(strict_config(3), NodeState::new(), tls()).await;
    node.handle.ban(lo(5, 5, 5), 600).await.unwrap();
    // Not a byte sent: a refused connection is closed at once, an admitted one waits for
    // the TLS ClientHello.
    let mut banned =
        RawPeer::from_stream(Box::new(tcp_from(lo(5, 5, 5), node.addr()).await.unwrap()));
    assert!(
        banned.closed_within(Duration::from_secs(3)).await,
        "the banned address's socket is closed before any handshake"
    );
    let mut admitted =
        RawPeer::from_stream(Box::new(tcp_from(lo(5, 5, 6), node.addr()).await.unwrap()));
    assert!(
        !admitted.closed_within(Duration::from_secs(1)).await,
        "an address that is not banned is waited for"
    );
    assert!(
        RawPeer::tls(lo(5, 5, 5), node.addr()).await.is_err(),
        "no TLS for the banned"
    );
    let mut ok = RawPeer::tls(lo(5, 5, 7), node.addr()).await.unwrap();
    ok.handshake(0).await;
    assert!(node.handle.counters().inbound_refused() >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subnet_ban_refuses_every_address_in_it_and_drops_its_peers() {
    let node = TestNode::start(strict_config(4), NodeState::new(), plain()).await;
    let mut inside = RawPeer::tcp(lo(6, 6, 1), node.addr()).await.unwrap();
    inside.handshake(0).await;
    let mut outside = RawPeer::tcp(lo(6, 7, 1), node.addr()).await.unwrap();
    outside.handshake(0).await;
    let subnet: Subnet = "127.6.6.0/24".parse().unwrap();
    node.handle.ban(subnet, 600).await.unwrap();
    assert!(
        inside.closed_within(REPLY_TIMEOUT).await,
        "its connected peer dropped"
    );
    let mut other = RawPeer::tcp(lo(6, 6, 77), node.addr()).await.unwrap();
    assert!(
        other.closed_within(Duration::from_secs(3)).await,
        "another address of the subnet is refused"
    );
    assert!(
        outside.ping(1, REPLY_TIMEOUT).await.is_some(),
        "outside the subnet: served"
    );
    let listed = node.handle.banned().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].subnet.to_string(), "127.6.6.0/24");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_automatic_ban_is_written_to_the_ban_list_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("banlist.txt");
    let mut cfg = strict_config(5);
    cfg.ban_list = Some(path.clone());
    let node = TestNode::start(cfg.clone(), NodeState::new(), plain()).await;
    let offender = lo(7, 7, 7);
    let mut p = RawPeer::tcp(offender, node.addr()).await.unwrap();
    // Garbage instead of a frame: a malformed stream bans at once.
    let _ = p.send_bytes(&[0xAB; 64]).await;
    assert!(p.closed_within(REPLY_TIMEOUT).await);
    // Written within a tick, without waiting for a shutdown (a crash keeps it too).
    wait_until(
        "the ban list file names the offender",
        REPLY_TIMEOUT,
        || async {
            std::fs::read_to_string(&path)
                .map(|t| t.starts_with("127.7.7.7 "))
                .unwrap_or(false)
        },
    )
    .await;
    node.handle.shutdown().await;

    let again = TestNode::start(cfg, NodeState::new(), plain()).await;
    let listed = again.handle.banned().await.unwrap();
    assert!(
        listed.iter().any(|b| b.subnet.contains(&offender)),
        "the ban survived the restart: {listed:?}"
    );
    let mut back = RawPeer::tcp(offender, again.addr()).await.unwrap();
    assert!(
        back.closed_within(Duration::from_secs(3)).await,
        "still refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_names_no_local_interface_address() {
    let node = TestNode::start(strict_config(6), NodeState::new(), plain()).await;
    let mut p = RawPeer::tcp(lo(8, 8, 8), node.addr()).await.unwrap();
    let v = p.handshake(0).await;
    assert!(v.sender.ip().is_unspecified(), "sender {}", v.sender);
    assert_eq!(
        v.sender.port(),
        node.addr().port(),
        "the listen port, for the peer's book"
    );

    let mut cfg = strict_config(7);
    let public: SocketAddr = "203.0.113.7:7333".parse().unwrap();
    cfg.external_addr = Some(public);
    let node = TestNode::start(cfg, NodeState::new(), plain()).await;
    let mut p = RawPeer::tcp(lo(8, 8, 9), node.addr()).await.unwrap();
    assert_eq!(
        p.handshake(0).await.sender,
        public,
        "a configured public address"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_inbound_slots_evict_the_youngest_of_the_most_crowded_network() {
    let mut cfg = test_config(8);
    cfg.listen = Some(listen_any());
    cfg.max_outbound = 0;
    cfg.max_inbound = 30;
    // No pings during the test: every peer's ping time is unknown, so only groups and
    // connection age decide.
    cfg.peer.ping_interval_ms = 600_000;
    let node = TestNode::start(cfg, NodeState::new(), plain()).await;
    // 20 peers of one /16, then 10 of ten other /16s.
    let addrs: Vec<_> = (1..=20u8)
        .map(|i| lo(10, 0, i))
        .chain((21..=30u8).map(|g| lo(g, 0, 1)))
        .collect();
    let mut peers = Vec::new();
    for a in &addrs {
        let mut p = RawPeer::tcp(*a, node.addr()).await.unwrap();
        p.handshake(0).await;
        peers.push(p);
        // Distinct connection times.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(node.handle.status().await.unwrap().inbound, 30);
    let mut newcomer = RawPeer::tcp(lo(40, 0, 1), node.addr()).await.unwrap();
    newcomer.handshake(0).await;
    let youngest_of_crowd = &mut peers[19];
    assert!(
        youngest_of_crowd.closed_within(REPLY_TIMEOUT).await,
        "127.10.0.20 was evicted"
    );
    assert_eq!(node.handle.counters().evictions(), 1);
    let status = node.handle.status().await.unwrap();
    assert_eq!(status.inbound, 30);
    for (i, p) in peers.iter_mut().enumerate().filter(|(i, _)| *i != 19) {
        assert!(
            p.ping(i as u64, REPLY_TIMEOUT).await.is_some(),
            "peer {i} kept"
        );
    }
    assert!(
        newcomer.ping(99, REPLY_TIMEOUT).await.is_some(),
        "the newcomer is served"
    );
}
