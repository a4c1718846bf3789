//! Plain TCP through the `Transport` trait, over real loopback sockets.

use parthenon_net::transport::{
    ConnectionSecurity, Direction, PeerSpec, TcpTransport, Transport, TransportError,
};
use parthenon_net::CertFingerprint;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

/// Upper bound on every network step, so a broken test fails instead of hanging.
const STEP: Duration = Duration::from_secs(10);

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn spec_for(addr: SocketAddr) -> PeerSpec {
    PeerSpec::new(addr.ip().to_string(), addr.port())
}

#[tokio::test]
async fn dial_and_accept_exchange_bytes_both_ways() {
    let transport = TcpTransport::new();
    let mut listener = transport.bind(loopback()).await.unwrap();
    let addr = listener.local_addr();
    assert_ne!(addr.port(), 0, "port 0 resolves to the real port");

    let target = spec_for(addr);
    let (client, server) = tokio::join!(
        timeout(STEP, transport.dial(&target)),
        timeout(STEP, listener.accept())
    );
    let mut client = client.unwrap().unwrap();
    let mut server = server.unwrap().unwrap();

    assert_eq!(client.peer_addr, addr);
    assert_eq!(server.peer_addr, client.local_addr);
    assert_eq!(client.direction, Direction::Outbound);
    assert_eq!(server.direction, Direction::Inbound);
    assert_eq!(client.security, ConnectionSecurity::Plaintext);
    assert_eq!(client.peer_fingerprint(), None);

    client.stream.write_all(b"ping from client").await.unwrap();
    let mut buf = [0u8; 16];
    timeout(STEP, server.stream.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"ping from client");

    server.stream.write_all(b"pong from server").await.unwrap();
    timeout(STEP, client.stream.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"pong from server");

    // Closing one end is seen as end of stream by the other.
    drop(client);
    let read = timeout(STEP, server.stream.read(&mut buf)).await.unwrap();
    assert_eq!(read.unwrap(), 0);
}

#[tokio::test]
async fn dialling_a_closed_port_names_the_address() {
    let transport = TcpTransport::new();
    let listener = transport.bind(loopback()).await.unwrap();
    let addr = listener.local_addr();
    drop(listener);

    let err = timeout(STEP, transport.dial(&spec_for(addr)))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(&err, TransportError::Connect { peer, .. } if *peer == addr.to_string()),
        "{err:?}"
    );
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}

#[tokio::test]
async fn binding_a_taken_port_names_the_address() {
    let transport = TcpTransport::new();
    let listener = transport.bind(loopback()).await.unwrap();
    let addr = listener.local_addr();

    let err = transport.bind(addr).await.err().unwrap();
    assert!(
        matches!(&err, TransportError::Bind { addr: a, .. } if *a == addr),
        "{err:?}"
    );
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}

#[tokio::test]
async fn plaintext_refuses_to_dial_a_pinned_peer() {
    let transport = TcpTransport::new();
    let listener = transport.bind(loopback()).await.unwrap();
    let target = spec_for(listener.local_addr()).pinned(CertFingerprint::of(b"some cert"));

    let err = transport.dial(&target).await.unwrap_err();
    assert!(matches!(err, TransportError::PinNeedsTls { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&target.to_string()), "{message}");
    assert!(message.contains("--p2p-plaintext"), "{message}");
}

#[tokio::test]
async fn the_trait_object_dials_like_the_transport() {
    // The peer layer holds `Arc<dyn Transport>`; the same calls work through it.
    let transport: std::sync::Arc<dyn Transport> = std::sync::Arc::new(TcpTransport::new());
    let mut listener = transport.bind(loopback()).await.unwrap();
    let target = spec_for(listener.local_addr());
    let (client, server) = tokio::join!(transport.dial(&target), listener.accept());
    let mut client = client.unwrap();
    let mut server = server.unwrap();
    server.stream.write_all(b"hello").await.unwrap();
    let mut buf = [0u8; 5];
    timeout(STEP, client.stream.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"hello");
}
