//! The node's peer-to-peer network: its settings, and starting the engine
//! ([`parthenon_net::p2p`]) over TLS (default) or plaintext TCP.

use parthenon_net::PeerSpec;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Default most outbound connections (the node dials these itself).
pub const DEFAULT_MAX_OUTBOUND: usize = 8;
/// Default most inbound connections accepted.
pub const DEFAULT_MAX_INBOUND: usize = 117;

/// Peer-to-peer settings of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct P2pSettings {
    /// Whether the node joins a P2P network at all.
    pub enabled: bool,
    /// Where to accept peers (`--p2p-listen`); `None`: do not listen.
    pub listen: Option<SocketAddr>,
    /// Connect only to these peers (`--connect`), no discovery.
    pub connect: Vec<PeerSpec>,
    /// Connect to these peers as well as discovered ones (`--addnode`).
    pub addnode: Vec<PeerSpec>,
    /// Plain TCP instead of TLS 1.3 (`--p2p-plaintext`), for trusted links only.
    pub plaintext: bool,
    /// Most outbound connections.
    pub max_outbound: usize,
    /// Most inbound connections.
    pub max_inbound: usize,
    /// Most inbound connections from one host (`--max-inbound-per-host`); a site (IPv4
    /// /24, IPv6 /48) gets four times as many; handshakes in progress are limited to half
    /// (at least 1) per host and twice that per site.
    pub max_inbound_per_host: usize,
    /// Connect only to these host-named peers, verifying their certificates against the
    /// system's trust roots (`--connect-verified`; public-CA mode).
    pub connect_verified: Vec<PeerSpec>,
    /// Where the served certificate comes from and how it is watched (`[tls]`).
    pub tls: TlsSettings,
}

/// The `[tls]` settings: the certificate the node serves to peers, and its rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// Certificate chain file (PEM), with `key_file` (`tls.cert_file`).
    pub cert_file: Option<PathBuf>,
    /// Private key file (PEM) (`tls.key_file`).
    pub key_file: Option<PathBuf>,
    /// A directory with `fullchain.pem` + `privkey.pem` (certbot) or `tls.crt` + `tls.key`
    /// (Kubernetes) (`tls.cert_dir`).
    pub cert_dir: Option<PathBuf>,
    /// Content check interval besides file-system events (`tls.check_interval`, 60 s).
    pub check_interval: Duration,
    /// Warn when fewer days remain (`tls.warn_days`, 30).
    pub warn_days: u32,
    /// Accept a new certificate expiring before the one in service
    /// (`tls.allow_earlier_expiry`, off; turn on when moving to shorter-lived certificates).
    pub allow_earlier_expiry: bool,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            cert_file: None,
            key_file: None,
            cert_dir: None,
            check_interval: parthenon_net::tls::rotation::DEFAULT_CHECK_INTERVAL,
            warn_days: parthenon_net::tls::rotation::DEFAULT_WARN_DAYS,
            allow_earlier_expiry: false,
        }
    }
}

impl P2pSettings {
    /// The default listen address of a network: loopback on the dev network (a local
    /// devnet needs nothing more and exposes nothing), every interface otherwise.
    pub fn default_listen(params: &parthenon_primitives::ChainParams) -> SocketAddr {
        if params.network == parthenon_primitives::Network::Dev {
            SocketAddr::from((Ipv4Addr::LOCALHOST, params.p2p_port))
        } else {
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, params.p2p_port))
        }
    }

    /// Defaults for `params`: listening on [`Self::default_listen`], TLS, no fixed peers.
    pub fn defaults(params: &parthenon_primitives::ChainParams) -> Self {
        P2pSettings {
            enabled: true,
            listen: Some(Self::default_listen(params)),
            connect: Vec::new(),
            addnode: Vec::new(),
            plaintext: false,
            max_outbound: DEFAULT_MAX_OUTBOUND,
            max_inbound: DEFAULT_MAX_INBOUND,
            max_inbound_per_host: parthenon_net::p2p::DEFAULT_MAX_INBOUND_PER_HOST,
            connect_verified: Vec::new(),
            tls: TlsSettings::default(),
        }
    }
}

/// Why the node's network could not start.
#[derive(Debug, thiserror::Error)]
pub enum NetworkStartError {
    /// The served certificate could not be loaded, generated or watched.
    #[error("TLS certificate: {0}")]
    Rotation(#[from] parthenon_net::tls::rotation::RotationError),
    /// `--connect-verified` needs TLS.
    #[error("--connect-verified needs TLS: drop --p2p-plaintext")]
    VerifiedNeedsTls,
    /// rustls refused the configuration.
    #[error(transparent)]
    Tls(#[from] parthenon_net::tls::TlsSetupError),
    /// The P2P address is taken.
    #[error("cannot listen for peers on {addr} (is another node running? choose another address with --p2p-listen HOST:PORT, or --no-p2p): {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// What the transport said.
        #[source]
        source: parthenon_net::TransportError,
    },
    /// The engine could not start otherwise.
    #[error(transparent)]
    Start(parthenon_net::p2p::P2pStartError),
}

/// The node's running network.
#[derive(Debug)]
pub struct NodeNetwork {
    /// Talks to the engine.
    pub handle: parthenon_net::p2p::P2pHandle,
    /// Where peers are accepted (the real port when bound to port 0).
    pub listen: Option<SocketAddr>,
    /// Serves and rotates the certificate (TLS only).
    pub rotator: Option<parthenon_net::tls::CertRotator>,
    task: tokio::task::JoinHandle<()>,
}

impl NodeNetwork {
    /// Stops the engine and waits for it.
    pub async fn shutdown(self) {
        self.handle.shutdown().await;
        let _ = self.task.await;
        if let Some(r) = self.rotator {
            r.shutdown();
        }
    }
}

/// The TLS cipher suites for the node's AES setting: wherever the keystore would run the
/// software AES path (`crypto.aes = "software"`, `PARTHENON_AES=software`, or a CPU without
/// AES-NI and PCLMULQDQ), P2P connections run ChaCha20-Poly1305 only, so no AES code runs on
/// them either; otherwise AES-256-GCM first on ring's hardware path. An invalid
/// `PARTHENON_AES` value (an error for the keystore) chooses ChaCha20-Poly1305 too.
pub fn tls_cipher_suites(aes: parthenon_crypto::AesMode) -> parthenon_net::tls::CipherSuitePolicy {
    use parthenon_crypto::AeadBackend;
    use parthenon_net::tls::CipherSuitePolicy;
    match parthenon_crypto::active_backend(aes) {
        Ok(s) if s.backend == AeadBackend::Hardware => CipherSuitePolicy::AesFirst,
        Ok(_) | Err(_) => CipherSuitePolicy::ChaCha20Only,
    }
}

/// Starts the P2P engine for `settings` over TLS (certificate under `<datadir>/tls/`,
/// generated on first start, cipher suites `suites`) or, when asked, plaintext TCP.
pub async fn start_network(
    settings: &P2pSettings,
    params: &'static parthenon_primitives::ChainParams,
    datadir: &crate::DataDir,
    shared: parthenon_net::p2p::P2pShared,
    suites: parthenon_net::tls::CipherSuitePolicy,
) -> Result<NodeNetwork, NetworkStartError> {
    use parthenon_net::p2p::{self, P2pConfig, P2pStartError};
    use parthenon_net::tls::{CertRotator, CertSource, RotatorConfig};
    use parthenon_net::{TcpTransport, TlsTransport, Transport};
    use std::sync::Arc;

    let (transport, rotator): (Arc<dyn Transport>, _) = if settings.plaintext {
        if !settings.connect_verified.is_empty() {
            return Err(NetworkStartError::VerifiedNeedsTls);
        }
        tracing::warn!(
            "P2P connections are plaintext (--p2p-plaintext): use only on trusted links"
        );
        (Arc::new(TcpTransport::new()), None)
    } else {
        let t = &settings.tls;
        let source = CertSource::from_settings(
            datadir.root(),
            t.cert_file.clone(),
            t.key_file.clone(),
            t.cert_dir.clone(),
        )?;
        let mut rc = RotatorConfig::new(source);
        rc.check_interval = t.check_interval;
        rc.warn_days = t.warn_days;
        rc.allow_earlier_expiry = t.allow_earlier_expiry;
        let rotator = CertRotator::start(rc)?;
        let fp = rotator.fingerprint();
        let (cert, key) = rotator.paths();
        tracing::info!(
            fingerprint = %fp,
            cert = %cert.display(),
            key = %key.display(),
            "P2P over TLS 1.3; peers may pin this certificate"
        );
        let mut notices = rotator.subscribe();
        tokio::spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                match notices.recv().await {
                    Ok(info) => tracing::info!(
                        fingerprint = %info.fingerprint,
                        subject = %info.subject,
                        issuer = %info.issuer,
                        valid_until = %info.valid_until,
                        cert = %info.cert_path.display(),
                        "TLS certificate rotated"
                    ),
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "TLS rotation notices missed")
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        });
        let tls = Arc::new(
            TlsTransport::with_rotator(TcpTransport::new(), &rotator)?
                .with_cipher_suites(suites)?,
        );
        tracing::info!(
            cipher_suites = suites.suite_names().join(","),
            "P2P TLS cipher suites, most preferred first"
        );
        let verified = settings
            .connect_verified
            .iter()
            .map(PeerSpec::addr)
            .collect();
        (Arc::new(NodeTransport { tls, verified }), Some(rotator))
    };
    let mut config = P2pConfig::new(params);
    config.listen = settings.listen;
    config.connect = settings.connect.clone();
    config
        .connect
        .extend(settings.connect_verified.iter().cloned());
    config.addnode = settings.addnode.clone();
    config.max_outbound = settings.max_outbound;
    config.max_inbound = settings.max_inbound;
    config.inbound_limits = inbound_limits(settings.max_inbound_per_host);
    config.address_book = Some(datadir.peers_path());
    config.ban_list = Some(datadir.ban_list_path());
    config.certificate = rotator.clone();
    let node = p2p::start(config, shared, transport)
        .await
        .map_err(|e| match e {
            P2pStartError::Bind { addr, source } => NetworkStartError::Bind { addr, source },
            other => NetworkStartError::Start(other),
        })?;
    Ok(NodeNetwork {
        handle: node.handle,
        listen: node.listen,
        rotator,
        task: node.task,
    })
}

/// The per-address inbound limits for `per_host` connections per host: the defaults scaled
/// (a site four times a host; handshakes half of connections, at least one).
fn inbound_limits(per_host: usize) -> parthenon_net::p2p::InboundLimits {
    let per_host = per_host.max(1);
    let handshakes = (per_host / 2).max(1);
    parthenon_net::p2p::InboundLimits {
        max_handshakes_per_host: handshakes,
        max_handshakes_per_site: handshakes * 4,
        max_inbound_per_host: per_host,
        max_inbound_per_site: per_host * 4,
        limit_loopback: false,
    }
}

/// The node's TLS transport: peers named by `--connect-verified` are dialled with their
/// certificate checked against the trust roots and their host name; every other peer with
/// the self-signed/pinned policy.
struct NodeTransport {
    tls: std::sync::Arc<parthenon_net::TlsTransport<parthenon_net::TcpTransport>>,
    verified: std::collections::HashSet<String>,
}

impl parthenon_net::Transport for NodeTransport {
    fn dial<'a>(
        &'a self,
        peer: &'a PeerSpec,
    ) -> parthenon_net::transport::TransportFuture<'a, parthenon_net::Connection> {
        if self.verified.contains(&peer.addr()) {
            self.tls.dial_verified(peer)
        } else {
            self.tls.dial(peer)
        }
    }

    fn bind_gated(
        &self,
        addr: SocketAddr,
        gate: std::sync::Arc<dyn parthenon_net::transport::AcceptGate>,
    ) -> parthenon_net::transport::TransportFuture<'_, parthenon_net::transport::BoxedListener>
    {
        self.tls.bind_gated(addr, gate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parthenon_crypto::{AeadBackend, AesMode};
    use parthenon_net::tls::CipherSuitePolicy;

    #[test]
    fn the_default_per_host_setting_gives_the_engine_defaults() {
        assert_eq!(
            inbound_limits(parthenon_net::p2p::DEFAULT_MAX_INBOUND_PER_HOST),
            parthenon_net::p2p::InboundLimits::default()
        );
        let one = inbound_limits(0);
        assert_eq!(
            (one.max_inbound_per_host, one.max_handshakes_per_host),
            (1, 1)
        );
    }

    #[test]
    fn the_tls_suites_follow_the_keystore_aes_path() {
        assert_eq!(
            tls_cipher_suites(AesMode::Software),
            CipherSuitePolicy::ChaCha20Only
        );
        // Auto: AES first exactly when the keystore runs ring's hardware AES (CPU and
        // PARTHENON_AES decide both the same way).
        let hardware = parthenon_crypto::active_backend(AesMode::Auto)
            .is_ok_and(|s| s.backend == AeadBackend::Hardware);
        assert_eq!(
            tls_cipher_suites(AesMode::Auto).uses_aes(),
            hardware,
            "auto"
        );
    }
}
