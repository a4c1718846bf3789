//! Certificate rotation through real loopback sockets: rotation under load (files rewritten
//! in place, certbot symlink swaps, Kubernetes `..data` swaps), bad updates, expiry, and
//! public-CA dials.

use parthenon_net::tls::rotation::{
    CertSource, CheckOutcome, ExpiryState, PairError, RotatorConfig,
};
use parthenon_net::tls::{CertRotator, NodeIdentity, TlsTransport, TrustRoots};
use parthenon_net::transport::{
    CertFingerprint, PeerSpec, TcpTransport, Transport, TransportError,
};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::net::SocketAddr;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DAY: i64 = 86_400;
const STEP: Duration = Duration::from_secs(10);

/// A certificate (PEM) with its key (PEM) and fingerprint.
#[derive(Clone)]
struct Pem {
    cert: String,
    key: String,
    fingerprint: CertFingerprint,
}

/// A self-signed certificate for `key`, valid from `from_days` to `until_days` (relative to
/// now; fractions of a day allowed through seconds).
fn cert_for(key: &KeyPair, from_secs: i64, until_secs: i64) -> Pem {
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let now = OffsetDateTime::now_utc();
    params.not_before = now + time::Duration::seconds(from_secs);
    params.not_after = now + time::Duration::seconds(until_secs);
    let cert = params.self_signed(key).unwrap();
    Pem {
        fingerprint: CertFingerprint::of(cert.der()),
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

/// A new key and a certificate valid from an hour ago for `days` days.
fn fresh(days: i64) -> Pem {
    cert_for(&KeyPair::generate().unwrap(), -3600, days * DAY)
}

/// Writes `bytes` to `path` atomically (temporary file + rename in the same directory).
fn write_atomic(path: &Path, bytes: &str) {
    let tmp = path.with_extension("tmp-write");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn config(source: CertSource) -> RotatorConfig {
    let mut config = RotatorConfig::new(source);
    config.debounce = Duration::from_millis(200);
    config
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn client() -> TlsTransport<TcpTransport> {
    TlsTransport::new(TcpTransport::new(), &NodeIdentity::generate().unwrap()).unwrap()
}

/// Accepts and drops connections on `listener` until aborted, counting failed handshakes.
fn serve(
    mut listener: parthenon_net::transport::BoxedListener,
    failures: Arc<AtomicU64>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok(conn) => drop(conn),
                Err(error) => {
                    eprintln!("server handshake failed: {error}");
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    })
}

/// A site's certificates in service order, each with when it was put on disk.
type History = Arc<Mutex<Vec<(Instant, CertFingerprint)>>>;

/// One server of the load test: its layout on disk and how it rotates.
struct Site {
    rotator: CertRotator,
    addr: SocketAddr,
    /// Fingerprints in service order: the initial one, then one per rotation.
    history: History,
    layout: Layout,
    rotations: usize,
}

enum Layout {
    /// `node.crt` / `node.key` rewritten in place (truncate + write, not atomic).
    InPlace { cert: PathBuf, key: PathBuf },
    /// certbot: `live/site/{fullchain,privkey}.pem` -> `../../archive/site/{…}N.pem`,
    /// links replaced one at a time by unlink + symlink (as certbot does).
    Certbot { live: PathBuf, archive: PathBuf },
    /// Kubernetes secret volume: `tls.crt` -> `..data/tls.crt`, `..data` -> `..<stamp>`,
    /// swapped by renaming a new `..data_tmp` link over `..data`.
    Kubernetes { dir: PathBuf },
}

impl Layout {
    fn rotate(&self, n: usize, pem: &Pem) {
        match self {
            Layout::InPlace { cert, key } => {
                std::fs::write(cert, &pem.cert).unwrap();
                std::fs::write(key, &pem.key).unwrap();
            }
            Layout::Certbot { live, archive } => {
                let cert = archive.join(format!("fullchain{n}.pem"));
                let key = archive.join(format!("privkey{n}.pem"));
                std::fs::write(&cert, &pem.cert).unwrap();
                std::fs::write(&key, &pem.key).unwrap();
                for (link, target) in [("fullchain.pem", &cert), ("privkey.pem", &key)] {
                    let link = live.join(link);
                    std::fs::remove_file(&link).unwrap();
                    symlink(
                        Path::new("../../archive/site").join(target.file_name().unwrap()),
                        &link,
                    )
                    .unwrap();
                }
            }
            Layout::Kubernetes { dir } => {
                let old = std::fs::read_link(dir.join("..data")).unwrap();
                let stamp = format!("..2026_01_01_00_00_{n:02}.{}", std::process::id());
                std::fs::create_dir(dir.join(&stamp)).unwrap();
                std::fs::write(dir.join(&stamp).join("tls.crt"), &pem.cert).unwrap();
                std::fs::write(dir.join(&stamp).join("tls.key"), &pem.key).unwrap();
                symlink(&stamp, dir.join("..data_tmp")).unwrap();
                std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
                std::fs::remove_dir_all(dir.join(old)).unwrap();
            }
        }
    }
}

/// Lays out `kind`'s files under `root` holding `pem`; returns the layout and the source.
fn lay_out(kind: usize, root: &Path, pem: &Pem) -> (Layout, CertSource) {
    match kind {
        0 => {
            let (cert, key) = (root.join("node.crt"), root.join("node.key"));
            std::fs::write(&cert, &pem.cert).unwrap();
            std::fs::write(&key, &pem.key).unwrap();
            (
                Layout::InPlace {
                    cert: cert.clone(),
                    key: key.clone(),
                },
                CertSource::Files {
                    cert_file: cert,
                    key_file: key,
                },
            )
        }
        1 => {
            let live = root.join("live/site");
            let archive = root.join("archive/site");
            std::fs::create_dir_all(&live).unwrap();
            std::fs::create_dir_all(&archive).unwrap();
            std::fs::write(archive.join("fullchain0.pem"), &pem.cert).unwrap();
            std::fs::write(archive.join("privkey0.pem"), &pem.key).unwrap();
            symlink(
                "../../archive/site/fullchain0.pem",
                live.join("fullchain.pem"),
            )
            .unwrap();
            symlink("../../archive/site/privkey0.pem", live.join("privkey.pem")).unwrap();
            (
                Layout::Certbot {
                    live: live.clone(),
                    archive,
                },
                CertSource::Dir(live),
            )
        }
        _ => {
            let dir = root.join("secret");
            let stamp = "..2026_01_01_00_00_first";
            std::fs::create_dir_all(dir.join(stamp)).unwrap();
            std::fs::write(dir.join(stamp).join("tls.crt"), &pem.cert).unwrap();
            std::fs::write(dir.join(stamp).join("tls.key"), &pem.key).unwrap();
            symlink(stamp, dir.join("..data")).unwrap();
            symlink("..data/tls.crt", dir.join("tls.crt")).unwrap();
            symlink("..data/tls.key", dir.join("tls.key")).unwrap();
            (
                Layout::Kubernetes { dir: dir.clone() },
                CertSource::Dir(dir),
            )
        }
    }
}

/// Rotation under load: three servers (files in place, certbot, Kubernetes), a client
/// dialling them round robin with several handshakes in flight for 10 s, and 20 rotations
/// spread over the run. No handshake may fail, and a handshake that starts more than 1 s
/// after a rotation must see that rotation's (or a later) certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_under_load_loses_no_handshake_and_serves_the_new_certificate() {
    const RUN: Duration = Duration::from_secs(10);
    const ROTATIONS: usize = 20;
    const CLIENTS: usize = 4;
    const GRACE: Duration = Duration::from_secs(1);

    let dir = tempfile::tempdir().unwrap();
    let failures = Arc::new(AtomicU64::new(0));
    // Every rotation's pair, made up front: increasing expiry (a rotation may not shorten it).
    let pairs: Vec<Vec<Pem>> = (0..3)
        .map(|_| (0..=ROTATIONS).map(|i| fresh(100 + i as i64)).collect())
        .collect();

    let mut sites = Vec::new();
    let mut servers = Vec::new();
    for (kind, pems) in pairs.iter().enumerate() {
        let root = dir.path().join(format!("site{kind}"));
        std::fs::create_dir_all(&root).unwrap();
        let (layout, source) = lay_out(kind, &root, &pems[0]);
        let rotator = CertRotator::start(config(source)).unwrap();
        assert_eq!(rotator.fingerprint(), pems[0].fingerprint);
        let server = TlsTransport::with_rotator(TcpTransport::new(), &rotator).unwrap();
        let listener = server.bind(loopback()).await.unwrap();
        let addr = listener.local_addr();
        servers.push(serve(listener, failures.clone()));
        sites.push(Site {
            rotator,
            addr,
            history: Arc::new(Mutex::new(vec![(Instant::now(), pems[0].fingerprint)])),
            layout,
            rotations: 0,
        });
    }
    let targets: Arc<Vec<(SocketAddr, History)>> =
        Arc::new(sites.iter().map(|s| (s.addr, s.history.clone())).collect());

    let start = Instant::now();
    let deadline = start + RUN;
    // (site, started, fingerprint seen)
    let seen: Arc<Mutex<Vec<(usize, Instant, CertFingerprint)>>> = Arc::default();
    let client = Arc::new(client());
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (client, targets, seen, failures) = (
            client.clone(),
            targets.clone(),
            seen.clone(),
            failures.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut n = c;
            while Instant::now() < deadline {
                let site = n % targets.len();
                n += 1;
                let peer = PeerSpec::new("127.0.0.1", targets[site].0.port());
                let started = Instant::now();
                match tokio::time::timeout(STEP, client.dial(&peer)).await {
                    Ok(Ok(conn)) => {
                        let fp = conn.peer_fingerprint().expect("TLS reports the server's");
                        seen.lock().unwrap().push((site, started, fp));
                    }
                    Ok(Err(error)) => {
                        eprintln!("client handshake to site {site} failed: {error}");
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => {
                        eprintln!("client handshake to site {site} timed out");
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }

    // 20 rotations, round robin over the three layouts, every ~0.45 s from 0.3 s on.
    for r in 0..ROTATIONS {
        let at = start + Duration::from_millis(300 + 450 * r as u64);
        tokio::time::sleep_until(at.into()).await;
        let site = &mut sites[r % 3];
        site.rotations += 1;
        let pem = pairs[r % 3][site.rotations].clone();
        let layout = &site.layout;
        let n = site.rotations;
        let pem2 = pem.clone();
        // File-system work off the runtime threads the handshakes use.
        tokio::task::block_in_place(|| layout.rotate(n, &pem2));
        site.history
            .lock()
            .unwrap()
            .push((Instant::now(), pem.fingerprint));
    }
    for client in clients {
        client.await.unwrap();
    }
    let elapsed = start.elapsed();
    for server in &servers {
        server.abort();
    }

    let seen = seen.lock().unwrap();
    let rate = seen.len() as f64 / elapsed.as_secs_f64();
    println!(
        "rotation under load: {} handshakes in {:.2} s = {rate:.0}/s, {ROTATIONS} rotations, {} failures",
        seen.len(),
        elapsed.as_secs_f64(),
        failures.load(Ordering::Relaxed)
    );
    assert_eq!(failures.load(Ordering::Relaxed), 0, "no handshake may fail");
    assert!(rate >= 200.0, "only {rate:.0} handshakes/s");

    let mut checked_after_grace = 0;
    for (site, started, fp) in seen.iter() {
        let history = sites[*site].history.lock().unwrap();
        let index_of = |fp: &CertFingerprint| history.iter().position(|(_, f)| f == fp);
        let seen_index = index_of(fp)
            .unwrap_or_else(|| panic!("site {site} served an unknown certificate {fp}"));
        // The newest rotation that had been done more than GRACE before this handshake.
        let due = history
            .iter()
            .rposition(|(at, _)| *at + GRACE <= *started)
            .unwrap_or(0);
        if due > 0 {
            checked_after_grace += 1;
        }
        assert!(
            seen_index >= due,
            "site {site}: a handshake {:?} after rotation {due} saw certificate {seen_index}",
            started.saturating_duration_since(history[due].0)
        );
    }
    assert!(checked_after_grace > 1000, "{checked_after_grace}");
    for (kind, site) in sites.iter().enumerate() {
        let status = site.rotator.status();
        assert_eq!(
            site.rotator.fingerprint(),
            pairs[kind][site.rotations].fingerprint,
            "site {kind} serves its last certificate"
        );
        assert_eq!(
            status.reloads.ok, site.rotations as u64,
            "site {kind}: {status:?}"
        );
        println!(
            "site {kind}: {} rotations, reloads ok={} rejected={} error={}",
            site.rotations, status.reloads.ok, status.reloads.rejected, status.reloads.error
        );
    }
}

/// A connection made before a rotation keeps working after it; new handshakes get the new
/// certificate, and subscribers hear about it.
#[tokio::test]
async fn established_connections_survive_a_rotation_and_subscribers_are_told() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    let first = fresh(90);
    write_atomic(&cert, &first.cert);
    write_atomic(&key, &first.key);
    let rotator = CertRotator::start(config(CertSource::Files {
        cert_file: cert.clone(),
        key_file: key.clone(),
    }))
    .unwrap();
    let mut updates = rotator.subscribe();
    let server = TlsTransport::with_rotator(TcpTransport::new(), &rotator).unwrap();
    let mut listener = server.bind(loopback()).await.unwrap();
    let peer = PeerSpec::new("127.0.0.1", listener.local_addr().port());
    let client = client();

    let (dialled, accepted) = tokio::join!(client.dial(&peer), listener.accept());
    let (mut outbound, mut inbound) = (dialled.unwrap(), accepted.unwrap());
    assert_eq!(outbound.peer_fingerprint(), Some(first.fingerprint));

    let second = fresh(120);
    write_atomic(&key, &second.key);
    write_atomic(&cert, &second.cert);
    let info = tokio::time::timeout(STEP, updates.recv())
        .await
        .expect("rotation noticed in time")
        .unwrap();
    assert_eq!(info.fingerprint, second.fingerprint);
    assert_eq!(info.cert_path, cert);
    assert_eq!(info.key_path.as_deref(), Some(key.as_path()));
    assert_eq!(rotator.current(), info);
    assert_eq!(server.local_fingerprint(), second.fingerprint);

    outbound.stream.write_all(b"still here").await.unwrap();
    outbound.stream.flush().await.unwrap();
    let mut buf = [0u8; 10];
    inbound.stream.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"still here");

    let (dialled, accepted) = tokio::join!(client.dial(&peer), listener.accept());
    accepted.unwrap();
    assert_eq!(
        dialled.unwrap().peer_fingerprint(),
        Some(second.fingerprint)
    );
    assert_eq!(rotator.status().reloads.ok, 1);
}

/// Truncated certificate, foreign key, expired, not yet valid, expiring earlier: each leaves
/// the old certificate in service and counts one rejection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_updates_keep_the_old_certificate_and_count_rejections() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (
        dir.path().join("fullchain.pem"),
        dir.path().join("privkey.pem"),
    );
    let key_pair = KeyPair::generate().unwrap();
    let good = cert_for(&key_pair, -3600, 200 * DAY);
    write_atomic(&cert, &good.cert);
    write_atomic(&key, &good.key);
    let rotator = CertRotator::start(config(CertSource::Dir(dir.path().to_owned()))).unwrap();
    assert_eq!(rotator.paths(), (cert.as_path(), key.as_path()));
    let server = TlsTransport::with_rotator(TcpTransport::new(), &rotator).unwrap();
    let mut listener = server.bind(loopback()).await.unwrap();
    let peer = PeerSpec::new("127.0.0.1", listener.local_addr().port());
    let client = client();

    let renewed = cert_for(&key_pair, -3600, 300 * DAY);
    let foreign = fresh(300);
    let bad_updates: [(&str, String); 5] = [
        (
            "truncated",
            renewed.cert[..renewed.cert.len() / 2].to_owned(),
        ),
        ("foreign key", foreign.cert.clone()),
        ("expired", cert_for(&key_pair, -30 * DAY, -DAY).cert),
        ("not yet valid", cert_for(&key_pair, DAY, 400 * DAY).cert),
        (
            "expires earlier",
            cert_for(&key_pair, -3600, 100 * DAY).cert,
        ),
    ];
    for (n, (what, pem)) in bad_updates.iter().enumerate() {
        write_atomic(&cert, pem);
        let outcome = tokio::task::spawn_blocking({
            let rotator = rotator.clone();
            move || rotator.check_now()
        })
        .await
        .unwrap();
        match (*what, &outcome) {
            ("truncated", CheckOutcome::Rejected(PairError::BadCertificate { .. }))
            | ("foreign key", CheckOutcome::Rejected(PairError::KeyMismatch { .. }))
            | ("expired", CheckOutcome::Rejected(PairError::Expired { .. }))
            | ("not yet valid", CheckOutcome::Rejected(PairError::NotYetValid { .. }))
            | ("expires earlier", CheckOutcome::Rejected(PairError::ExpiresEarlier { .. })) => {}
            _ => panic!("{what}: {outcome:?}"),
        }
        // Give the watcher time to see the same files too: it must not count them again.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let status = rotator.status();
        assert_eq!(status.reloads.rejected, n as u64 + 1, "{what}: {status:?}");
        assert_eq!(status.reloads.ok, 0, "{what}");
        assert!(status.last_failure.is_some());
        assert_eq!(rotator.fingerprint(), good.fingerprint, "{what}");
        let (dialled, accepted) = tokio::join!(client.dial(&peer), listener.accept());
        accepted.unwrap();
        assert_eq!(
            dialled.unwrap().peer_fingerprint(),
            Some(good.fingerprint),
            "{what}: still served"
        );
    }

    // A missing file is an error, not a rejection; the old pair stays.
    std::fs::remove_file(&cert).unwrap();
    assert!(matches!(
        rotator.check_now(),
        CheckOutcome::Error(PairError::Read { .. })
    ));
    assert!(rotator.status().reloads.error >= 1);
    assert_eq!(rotator.fingerprint(), good.fingerprint);

    // The good renewal then goes through.
    write_atomic(&cert, &renewed.cert);
    let reloaded = match rotator.check_now() {
        CheckOutcome::Reloaded(info) => info,
        // The watcher got there first.
        CheckOutcome::Unchanged => rotator.current(),
        other => panic!("{other:?}"),
    };
    assert_eq!(reloaded.fingerprint, renewed.fingerprint);
    let status = rotator.status();
    assert_eq!(status.reloads.ok, 1);
    assert_eq!(status.last_failure, None);
    assert!(status.last_reload_unix.is_some() && status.last_check_unix.is_some());
    // Same content rewritten: not a reload.
    write_atomic(&cert, &renewed.cert);
    assert!(matches!(rotator.check_now(), CheckOutcome::Unchanged));
    assert_eq!(rotator.status().reloads.ok, 1);
}

/// A certificate with 10 days left puts the status in the warning state; the Prometheus text
/// shows it.
#[tokio::test]
async fn a_certificate_close_to_expiry_raises_the_warning_state() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    let pem = cert_for(&KeyPair::generate().unwrap(), -DAY, 10 * DAY + 3600);
    write_atomic(&cert, &pem.cert);
    write_atomic(&key, &pem.key);
    let rotator = CertRotator::start(config(CertSource::Dir(dir.path().to_owned()))).unwrap();
    let status = rotator.status();
    assert_eq!(status.expiry, ExpiryState::Expiring);
    assert!(status.expiry.needs_attention());
    assert_eq!(status.days_remaining, 10);
    assert_eq!(status.warn_days, 30);
    let text = status.to_prometheus_text();
    assert!(text.contains("\ntls_cert_days_remaining 10\n"), "{text}");
    assert!(text.contains(&format!(
        "\ntls_cert_not_after_seconds {}\n",
        status.not_after_unix
    )));
    assert!(text.contains("tls_cert_reloads_total{outcome=\"rejected\"} 0"));

    let dir2 = tempfile::tempdir().unwrap();
    let critical = cert_for(&KeyPair::generate().unwrap(), -DAY, 3 * DAY);
    write_atomic(&dir2.path().join("tls.crt"), &critical.cert);
    write_atomic(&dir2.path().join("tls.key"), &critical.key);
    let rotator = CertRotator::start(config(CertSource::Dir(dir2.path().to_owned()))).unwrap();
    assert_eq!(rotator.status().expiry, ExpiryState::Critical);
}

/// The default source makes the node's own pair in `<datadir>/tls/` and serves it; a
/// directory without a known pair of names is refused.
#[tokio::test]
async fn the_datadir_source_generates_the_node_identity() {
    let dir = tempfile::tempdir().unwrap();
    let rotator = CertRotator::start(config(CertSource::DataDir(dir.path().to_owned()))).unwrap();
    let identity = parthenon_net::tls::load_or_generate(&dir.path().join("tls")).unwrap();
    assert_eq!(rotator.fingerprint(), identity.fingerprint());
    assert_eq!(rotator.status().expiry, ExpiryState::Valid);
    assert_eq!(rotator.paths().0, dir.path().join("tls/node.crt"));

    let empty = tempfile::tempdir().unwrap();
    let err = CertRotator::start(config(CertSource::Dir(empty.path().to_owned()))).unwrap_err();
    assert!(err.to_string().contains("fullchain.pem"), "{err}");
}

/// A CA and a server certificate it issued for `names`.
fn issued(names: &[&str]) -> (String, Pem) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Test Root CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    (
        ca_cert.pem(),
        Pem {
            fingerprint: CertFingerprint::of(leaf.der()),
            cert: format!("{}{}", leaf.pem(), ca_cert.pem()),
            key: leaf_key.serialize_pem(),
        },
    )
}

fn roots_of(ca_pem: &str) -> TrustRoots {
    let mut roots = TrustRoots::empty();
    roots
        .add_der(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    roots
}

/// Public-CA mode with a local CA as the only root: a certificate it issued for the host
/// name verifies; another CA's, or a name the certificate does not carry, does not.
#[tokio::test]
async fn dial_verified_checks_the_chain_and_the_host_name() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, leaf) = issued(&["localhost"]);
    let (cert, key) = (
        dir.path().join("fullchain.pem"),
        dir.path().join("privkey.pem"),
    );
    write_atomic(&cert, &leaf.cert);
    write_atomic(&key, &leaf.key);
    let rotator = CertRotator::start(config(CertSource::Dir(dir.path().to_owned()))).unwrap();
    assert_eq!(rotator.current().chain_len, 2);
    assert_eq!(rotator.current().issuer, "CN=Test Root CA");
    let server = TlsTransport::with_rotator(TcpTransport::new(), &rotator).unwrap();
    let mut listener = server.bind(loopback()).await.unwrap();
    let port = listener.local_addr().port();
    let accept_loop = async {
        loop {
            let _ = listener.accept().await;
        }
    };
    let checks = async {
        let trusting = client().with_trust_roots(roots_of(&ca)).unwrap();
        let conn = trusting
            .dial_verified(&PeerSpec::new("localhost", port))
            .await
            .expect("a certificate from the trusted CA for the dialled name verifies");
        assert_eq!(conn.peer_fingerprint(), Some(leaf.fingerprint));

        let pinned = PeerSpec::new("localhost", port).pinned(leaf.fingerprint);
        trusting
            .dial_verified(&pinned)
            .await
            .expect("pin and chain both match");
        let wrong_pin = PeerSpec::new("localhost", port).pinned(CertFingerprint::of(b"x"));
        assert!(matches!(
            trusting.dial_verified(&wrong_pin).await,
            Err(TransportError::PinMismatch { .. })
        ));

        let wrong_name = trusting
            .dial_verified(&PeerSpec::new("127.0.0.1", port))
            .await;
        assert!(
            matches!(wrong_name, Err(TransportError::TlsHandshake { .. })),
            "the certificate does not name 127.0.0.1: {wrong_name:?}"
        );

        let (other_ca, _) = issued(&["localhost"]);
        let stranger = client().with_trust_roots(roots_of(&other_ca)).unwrap();
        let untrusted = stranger
            .dial_verified(&PeerSpec::new("localhost", port))
            .await;
        assert!(
            matches!(untrusted, Err(TransportError::TlsHandshake { .. })),
            "another CA's roots: {untrusted:?}"
        );

        // The ordinary dial still accepts it (pin-or-anything trust model).
        client()
            .dial(&PeerSpec::new("127.0.0.1", port))
            .await
            .unwrap();
    };
    tokio::select! {
        _ = accept_loop => unreachable!(),
        _ = tokio::time::timeout(STEP, checks) => {}
    }
    assert!(client().with_trust_roots(TrustRoots::empty()).is_err());
}

/// `openssl s_client` sees the rotated certificate (skipped without openssl).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_s_client_sees_the_rotated_certificate() {
    if std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_err()
    {
        println!("openssl not installed: skipping the s_client check");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    let first = fresh(50);
    write_atomic(&cert, &first.cert);
    write_atomic(&key, &first.key);
    let rotator = CertRotator::start(config(CertSource::Dir(dir.path().to_owned()))).unwrap();
    let server = TlsTransport::with_rotator(TcpTransport::new(), &rotator).unwrap();
    let listener = server.bind(loopback()).await.unwrap();
    let port = listener.local_addr().port();
    let failures = Arc::new(AtomicU64::new(0));
    let serving = serve(listener, failures.clone());

    let s_client_fingerprint = move || {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "openssl s_client -connect 127.0.0.1:{port} -tls1_3 </dev/null 2>/dev/null \
                 | openssl x509 -noout -fingerprint -sha256"
            ))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let hex = text
            .trim()
            .rsplit('=')
            .next()
            .unwrap_or_default()
            .to_owned();
        hex.parse::<CertFingerprint>()
            .unwrap_or_else(|e| panic!("openssl printed {text:?}: {e}"))
    };
    let fp = tokio::task::spawn_blocking(s_client_fingerprint)
        .await
        .unwrap();
    assert_eq!(fp, first.fingerprint);
    let second = fresh(60);
    write_atomic(&key, &second.key);
    write_atomic(&cert, &second.cert);
    let waited = Instant::now();
    while rotator.fingerprint() != second.fingerprint {
        assert!(waited.elapsed() < STEP, "rotation not noticed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let fp = tokio::task::spawn_blocking(s_client_fingerprint)
        .await
        .unwrap();
    assert_eq!(fp, second.fingerprint);
    serving.abort();
}
