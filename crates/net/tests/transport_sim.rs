//! The same `Transport` trait over turmoil's simulated network: plain TCP and TLS between two
//! simulated hosts, seeded and replayable.

use parthenon_net::tls::{NodeIdentity, TlsTransport};
use parthenon_net::transport::{Direction, PeerSpec, Transport, TransportError, TurmoilTransport};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PORT: u16 = 7333;
/// Messages the client sends, by size; the server echoes each back.
const MESSAGE_SIZES: [usize; 4] = [1, 80, 4_000, 300_000];

/// What happened, when (simulated time), in order: two runs with the same seed must agree.
type Trace = Arc<Mutex<Vec<String>>>;

fn record(trace: &Trace, event: String) {
    let at = turmoil::sim_elapsed().unwrap_or_default();
    trace.lock().unwrap().push(format!("{at:?} {event}"));
}

fn listen_addr() -> SocketAddr {
    (std::net::Ipv4Addr::UNSPECIFIED, PORT).into()
}

fn message(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ salt)
        .collect()
}

/// The server: accepts connections and echoes every byte back until the peer closes.
async fn echo_server(transport: Arc<dyn Transport>, trace: Trace) -> turmoil::Result {
    let mut listener = transport.bind(listen_addr()).await?;
    loop {
        let mut conn = match listener.accept().await {
            Ok(conn) => conn,
            Err(err) => {
                record(&trace, format!("server: {err}"));
                continue;
            }
        };
        assert_eq!(conn.direction, Direction::Inbound);
        record(&trace, format!("server: accepted {}", conn.peer_addr));
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = conn.stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            conn.stream.write_all(&buf[..n]).await?;
            conn.stream.flush().await?;
        }
        record(&trace, "server: peer closed".to_owned());
    }
}

/// The client: dials `target`, sends each message and checks its echo.
async fn echo_client(
    transport: Arc<dyn Transport>,
    target: PeerSpec,
    trace: Trace,
) -> turmoil::Result {
    let mut conn = transport.dial(&target).await?;
    record(
        &trace,
        format!(
            "client: connected to {} as {}, fingerprint {:?}",
            conn.peer_addr,
            conn.local_addr,
            conn.peer_fingerprint().map(|fp| fp.to_hex())
        ),
    );
    for (i, len) in MESSAGE_SIZES.into_iter().enumerate() {
        let sent = message(len, i as u8);
        conn.stream.write_all(&sent).await?;
        conn.stream.flush().await?;
        let mut echoed = vec![0u8; len];
        conn.stream.read_exact(&mut echoed).await?;
        assert_eq!(echoed, sent, "message {i} came back intact");
        record(&trace, format!("client: echo of {len} bytes"));
    }
    conn.stream.shutdown().await?;
    Ok(())
}

/// One simulated run: host "server" echoes, client "client" talks to it. `make` builds each
/// host's transport (inside the simulation).
fn run_echo(
    seed: u64,
    make: fn(&Identities) -> Arc<dyn Transport>,
    ids: &Identities,
) -> Vec<String> {
    let trace: Trace = Arc::default();
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(40))
        .simulation_duration(Duration::from_secs(60))
        .build();
    let server_trace = trace.clone();
    let server_ids = ids.clone();
    sim.host("server", move || {
        echo_server(make(&server_ids.as_server()), server_trace.clone())
    });
    let target = PeerSpec {
        host: "server".to_owned(),
        port: PORT,
        pin: ids.pin,
    };
    sim.client(
        "client",
        echo_client(make(&ids.as_client()), target, trace.clone()),
    );
    sim.run().unwrap();
    let events = trace.lock().unwrap().clone();
    events
}

/// The identities (and pin) a TLS run uses; ignored by plain runs.
#[derive(Clone)]
struct Identities {
    server: NodeIdentity,
    client: NodeIdentity,
    /// Whose identity `make` should serve: the server's or the client's.
    acting_as_server: bool,
    pin: Option<parthenon_net::CertFingerprint>,
}

impl Identities {
    fn new() -> Self {
        Self {
            server: NodeIdentity::generate().unwrap(),
            client: NodeIdentity::generate().unwrap(),
            acting_as_server: false,
            pin: None,
        }
    }

    fn as_server(&self) -> Self {
        Self {
            acting_as_server: true,
            ..self.clone()
        }
    }

    fn as_client(&self) -> Self {
        Self {
            acting_as_server: false,
            ..self.clone()
        }
    }

    fn own(&self) -> &NodeIdentity {
        if self.acting_as_server {
            &self.server
        } else {
            &self.client
        }
    }
}

fn plain(_: &Identities) -> Arc<dyn Transport> {
    Arc::new(TurmoilTransport::new())
}

fn tls(ids: &Identities) -> Arc<dyn Transport> {
    Arc::new(TlsTransport::new(TurmoilTransport::new(), ids.own()).unwrap())
}

#[test]
fn two_simulated_hosts_exchange_bytes_through_the_transport_trait() {
    let events = run_echo(1, plain, &Identities::new());
    let echoes = events
        .iter()
        .filter(|e| e.contains("client: echo of"))
        .count();
    assert_eq!(echoes, MESSAGE_SIZES.len(), "{events:#?}");
    assert!(
        events.iter().any(|e| e.contains("server: accepted")),
        "{events:#?}"
    );
    assert!(
        events.iter().any(|e| e.contains("fingerprint None")),
        "{events:#?}"
    );
}

#[test]
fn the_same_seed_replays_the_same_run() {
    let ids = Identities::new();
    let first = run_echo(7, plain, &ids);
    let second = run_echo(7, plain, &ids);
    assert_eq!(first, second);
    // Latencies are drawn from the seed: the run took simulated time.
    assert!(!first.last().unwrap().starts_with("0ns"), "{first:#?}");
}

#[test]
fn tls_runs_over_the_simulated_network_with_a_pin() {
    let mut ids = Identities::new();
    ids.pin = Some(ids.server.fingerprint());
    let events = run_echo(3, tls, &ids);
    let connected = format!("fingerprint Some(\"{}\")", ids.server.fingerprint_hex());
    assert!(events.iter().any(|e| e.contains(&connected)), "{events:#?}");
    let echoes = events
        .iter()
        .filter(|e| e.contains("client: echo of"))
        .count();
    assert_eq!(echoes, MESSAGE_SIZES.len(), "{events:#?}");
    // Handshake bytes differ between runs (fresh key shares), but not the order and timing
    // of what the node sees.
    assert_eq!(run_echo(3, tls, &ids), events);
}

#[test]
fn a_wrong_pin_fails_in_the_simulation_too() {
    let server = NodeIdentity::generate().unwrap();
    let client = NodeIdentity::generate().unwrap();
    let wrong = NodeIdentity::generate().unwrap().fingerprint();
    let mut sim = turmoil::Builder::new().rng_seed(5).build();
    sim.host("server", move || {
        let transport: Arc<dyn Transport> =
            Arc::new(TlsTransport::new(TurmoilTransport::new(), &server).unwrap());
        echo_server(transport, Arc::default())
    });
    sim.client("client", async move {
        let transport = TlsTransport::new(TurmoilTransport::new(), &client)?;
        let target = PeerSpec::new("server", PORT).pinned(wrong);
        match transport.dial(&target).await {
            Err(TransportError::PinMismatch { expected, .. }) => assert_eq!(expected, wrong),
            other => panic!("expected a pin mismatch, got {other:?}"),
        }
        Ok(())
    });
    sim.run().unwrap();
}

#[test]
fn held_and_partitioned_links_fail_dials_on_simulated_time() {
    let mut sim = turmoil::Builder::new()
        .rng_seed(11)
        .simulation_duration(Duration::from_secs(120))
        .build();
    sim.host("server", || {
        echo_server(Arc::new(TurmoilTransport::new()), Arc::default())
    });
    sim.client("client", async {
        let transport = TurmoilTransport::new().with_connect_timeout(Duration::from_secs(30));
        let target = PeerSpec::new("server", PORT);
        // Let the server start listening.
        tokio::time::sleep(Duration::from_secs(1)).await;

        // A link that delivers nothing: the connect times out, on simulated time.
        turmoil::hold("client", "server");
        let started = turmoil::sim_elapsed().unwrap();
        let err = transport.dial(&target).await.unwrap_err();
        assert!(
            matches!(&err, TransportError::ConnectTimeout { peer, after }
                if peer == "server:7333" && *after == Duration::from_secs(30)),
            "{err:?}"
        );
        assert!(turmoil::sim_elapsed().unwrap() - started >= Duration::from_secs(30));
        turmoil::release("client", "server");

        // A partitioned link refuses the connection, and the error names the peer dialled.
        turmoil::partition("client", "server");
        let err = transport.dial(&target).await.unwrap_err();
        assert!(
            matches!(&err, TransportError::Connect { peer, .. } if peer == "server:7333"),
            "{err:?}"
        );
        assert!(err.to_string().contains("server:7333"), "{err}");

        // Repaired, it connects again.
        turmoil::repair("client", "server");
        let conn = transport.dial(&target).await?;
        assert_eq!(conn.peer_addr.port(), PORT);
        Ok(())
    });
    sim.run().unwrap();
}
