//! TLS 1.3 through the `Transport` trait, over real loopback sockets: fingerprints, pins,
//! forged handshakes and peers that do not speak TLS.

use parthenon_net::tls::{crypto_provider, NodeIdentity, TlsTransport};
use parthenon_net::transport::{
    BoxedListener, Connection, ConnectionSecurity, Direction, PeerSpec, TcpTransport, Transport,
    TransportError,
};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::timeout;

/// Upper bound on every network step, so a broken test fails instead of hanging.
const STEP: Duration = Duration::from_secs(10);

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn spec_for(addr: SocketAddr) -> PeerSpec {
    PeerSpec::new(addr.ip().to_string(), addr.port())
}

fn tls() -> (TlsTransport<TcpTransport>, NodeIdentity) {
    let identity = NodeIdentity::generate().unwrap();
    (
        TlsTransport::new(TcpTransport::new(), &identity).unwrap(),
        identity,
    )
}

/// Dials `target` while accepting on `listener`; both results, each within [`STEP`].
async fn connect(
    client: &impl Transport,
    target: &PeerSpec,
    listener: &mut BoxedListener,
) -> (
    Result<Connection, TransportError>,
    Result<Connection, TransportError>,
) {
    let (dialled, accepted) = tokio::join!(
        timeout(STEP, client.dial(target)),
        timeout(STEP, listener.accept())
    );
    (
        dialled.expect("dial finished in time"),
        accepted.expect("accept finished in time"),
    )
}

async fn assert_exchange(a: &mut Connection, b: &mut Connection) {
    a.stream.write_all(b"version: hello").await.unwrap();
    a.stream.flush().await.unwrap();
    let mut buf = [0u8; 14];
    timeout(STEP, b.stream.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"version: hello");
    b.stream.write_all(b"verack: hi too").await.unwrap();
    b.stream.flush().await.unwrap();
    timeout(STEP, a.stream.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"verack: hi too");
}

#[tokio::test]
async fn tls_dial_and_accept_exchange_bytes_and_report_the_server_fingerprint() {
    let (server, server_id) = tls();
    let (client, client_id) = tls();
    let mut listener = server.bind(loopback()).await.unwrap();
    let target = spec_for(listener.local_addr());

    let (dialled, accepted) = connect(&client, &target, &mut listener).await;
    let mut outbound = dialled.unwrap();
    let mut inbound = accepted.unwrap();

    assert_eq!(outbound.direction, Direction::Outbound);
    assert_eq!(outbound.peer_fingerprint(), Some(server_id.fingerprint()));
    assert_ne!(outbound.peer_fingerprint(), Some(client_id.fingerprint()));
    assert_eq!(inbound.direction, Direction::Inbound);
    assert_eq!(
        inbound.security,
        ConnectionSecurity::Tls {
            peer_fingerprint: None,
            cipher_suite: Some(rustls::CipherSuite::TLS13_AES_256_GCM_SHA384),
        },
        "peers present no client certificate"
    );
    assert_eq!(inbound.peer_addr, outbound.local_addr);
    assert_eq!(server.local_fingerprint(), server_id.fingerprint());

    assert_exchange(&mut outbound, &mut inbound).await;
}

#[tokio::test]
async fn a_matching_pin_connects() {
    let (server, server_id) = tls();
    let (client, _) = tls();
    let mut listener = server.bind(loopback()).await.unwrap();
    let target = spec_for(listener.local_addr()).pinned(server_id.fingerprint());

    let (dialled, accepted) = connect(&client, &target, &mut listener).await;
    let mut outbound = dialled.unwrap();
    let mut inbound = accepted.unwrap();
    assert_eq!(outbound.peer_fingerprint(), Some(server_id.fingerprint()));
    assert_exchange(&mut inbound, &mut outbound).await;
}

#[tokio::test]
async fn a_wrong_pin_fails_the_handshake_with_the_pin_error() {
    let (server, server_id) = tls();
    let (client, _) = tls();
    let other = NodeIdentity::generate().unwrap();
    let mut listener = server.bind(loopback()).await.unwrap();
    let addr = listener.local_addr();
    let target = spec_for(addr).pinned(other.fingerprint());

    let (dialled, accepted) = connect(&client, &target, &mut listener).await;
    let err = dialled.unwrap_err();
    match &err {
        TransportError::PinMismatch {
            peer,
            expected,
            actual,
        } => {
            assert_eq!(*peer, addr);
            assert_eq!(*expected, other.fingerprint());
            assert_eq!(*actual, server_id.fingerprint());
        }
        other => panic!("expected a pin mismatch, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains(&addr.to_string()), "{message}");
    assert!(message.contains(&other.fingerprint_hex()), "{message}");
    assert!(message.contains(&server_id.fingerprint_hex()), "{message}");
    // The client aborted the handshake; the server sees that as a failed handshake.
    let server_err = accepted.unwrap_err();
    assert!(
        matches!(
            server_err,
            TransportError::TlsHandshake {
                direction: Direction::Inbound,
                ..
            }
        ),
        "{server_err:?}"
    );
}

/// A server that presents `shown`'s certificate but signs the handshake with `signer`'s key:
/// what an impostor that copied a node's certificate (not its key) can do.
async fn impostor_server(shown: &NodeIdentity, signer: &NodeIdentity) -> SocketAddr {
    let forged = CertifiedKey::new(
        vec![shown.certificate_der().clone()],
        signer.certified_key().key.clone(),
    );
    let config = rustls::ServerConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SingleCertAndKey::from(forged)));
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            // The handshake fails on the client's side; what the impostor sees is irrelevant.
            let _ = acceptor.accept(stream).await;
        }
    });
    addr
}

#[tokio::test]
async fn a_forged_handshake_signature_is_rejected_even_when_the_pin_matches() {
    let victim = NodeIdentity::generate().unwrap();
    let impostor = NodeIdentity::generate().unwrap();
    let addr = impostor_server(&victim, &impostor).await;
    let (client, _) = tls();

    for target in [spec_for(addr), spec_for(addr).pinned(victim.fingerprint())] {
        let err = timeout(STEP, client.dial(&target))
            .await
            .unwrap()
            .unwrap_err();
        match &err {
            TransportError::TlsHandshake {
                peer,
                direction: Direction::Outbound,
                source,
            } => {
                assert_eq!(*peer, addr);
                let rustls_error = source
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<rustls::Error>());
                assert!(
                    matches!(
                        rustls_error,
                        Some(rustls::Error::InvalidCertificate(
                            rustls::CertificateError::BadSignature
                        ))
                    ),
                    "{source:?}"
                );
            }
            other => panic!("expected a rejected handshake signature, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_plaintext_client_against_a_tls_server_fails_cleanly() {
    let (server, _) = tls();
    let mut listener = server.bind(loopback()).await.unwrap();
    let target = spec_for(listener.local_addr());
    let plain = TcpTransport::new();

    let (dialled, accepted) = tokio::join!(
        async {
            let mut conn = plain.dial(&target).await.unwrap();
            // A plaintext node starts with its version message; here, any non-TLS bytes.
            conn.stream
                .write_all(b"\x01\x02\x03\x04version\0\0\0\0\0plaintext payload")
                .await
                .unwrap();
            // The server answers with at most an alert, then closes: no hang.
            let mut reply = Vec::new();
            let read = timeout(STEP, conn.stream.read_to_end(&mut reply)).await;
            (conn.local_addr, read, reply)
        },
        timeout(STEP, listener.accept())
    );
    let (client_addr, read, reply) = dialled;
    assert!(read.is_ok(), "the client saw the connection end in time");
    assert!(
        reply.is_empty() || reply[0] == 0x15,
        "only a TLS alert record comes back, got {reply:02x?}"
    );
    let err = accepted.expect("accept finished in time").unwrap_err();
    match &err {
        TransportError::TlsHandshake {
            peer,
            direction: Direction::Inbound,
            ..
        } => assert_eq!(*peer, client_addr),
        other => panic!("expected a failed inbound handshake, got {other:?}"),
    }
    assert!(err.to_string().contains(&client_addr.to_string()), "{err}");
}

#[tokio::test]
async fn a_tls_client_against_a_silent_plaintext_server_times_out() {
    let plain = TcpTransport::new();
    let mut listener = plain.bind(loopback()).await.unwrap();
    let addr = listener.local_addr();
    let identity = NodeIdentity::generate().unwrap();
    let client = TlsTransport::new(TcpTransport::new(), &identity)
        .unwrap()
        .with_handshake_timeout(Duration::from_millis(300));

    let (dialled, accepted) = connect(&client, &spec_for(addr), &mut listener).await;
    let _held_open = accepted.unwrap();
    let err = dialled.unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::HandshakeTimeout {
                peer,
                direction: Direction::Outbound,
                after,
            } if peer == addr && after == Duration::from_millis(300)
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}

#[tokio::test]
async fn a_tls_client_against_a_plaintext_server_that_answers_fails() {
    let plain = TcpTransport::new();
    let mut listener = plain.bind(loopback()).await.unwrap();
    let addr = listener.local_addr();
    let (client, _) = tls();
    let target = spec_for(addr);

    let (dialled, _) = tokio::join!(timeout(STEP, client.dial(&target)), async {
        let mut conn = listener.accept().await.unwrap();
        let mut hello = [0u8; 5];
        conn.stream.read_exact(&mut hello).await.unwrap();
        assert_eq!(
            hello[0], 0x16,
            "the client opened with a TLS handshake record"
        );
        conn.stream
            .write_all(b"\x01\x02\x03\x04version\0\0\0\0\0")
            .await
            .unwrap();
        conn
    });
    let err = dialled.expect("dial finished in time").unwrap_err();
    assert!(
        matches!(
            &err,
            TransportError::TlsHandshake { peer, direction: Direction::Outbound, .. } if *peer == addr
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_stalled_inbound_handshake_does_not_hold_up_the_next_peer() {
    let (server, _) = tls();
    let mut listener = server.bind(loopback()).await.unwrap();
    let target = spec_for(listener.local_addr());

    // A peer that connects and never sends its ClientHello.
    let staller = TcpTransport::new().dial(&target).await.unwrap();
    let (client, _) = tls();
    let (dialled, accepted) = connect(&client, &target, &mut listener).await;
    let mut outbound = dialled.unwrap();
    let mut inbound = accepted.unwrap();
    assert_eq!(inbound.peer_addr, outbound.local_addr);
    assert_ne!(inbound.peer_addr, staller.local_addr);
    assert_exchange(&mut outbound, &mut inbound).await;
}

#[tokio::test]
async fn a_stalled_inbound_handshake_times_out() {
    let identity = NodeIdentity::generate().unwrap();
    let server = TlsTransport::new(TcpTransport::new(), &identity)
        .unwrap()
        .with_handshake_timeout(Duration::from_millis(200));
    let mut listener = server.bind(loopback()).await.unwrap();
    let staller = TcpTransport::new()
        .dial(&spec_for(listener.local_addr()))
        .await
        .unwrap();

    let err = timeout(STEP, listener.accept()).await.unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::HandshakeTimeout { peer, direction: Direction::Inbound, .. }
                if peer == staller.local_addr
        ),
        "{err:?}"
    );
}
