//! The node's peer-to-peer network: its settings, and starting the engine
//! ([`parthenon_net::p2p`]) over TLS (default) or plaintext TCP.

use parthenon_net::PeerSpec;
use std::net::{Ipv4Addr, SocketAddr};

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
        }
    }
}

/// Why the node's network could not start.
#[derive(Debug, thiserror::Error)]
pub enum NetworkStartError {
    /// The node certificate could not be loaded or generated.
    #[error("TLS identity: {0}")]
    Identity(#[from] parthenon_net::tls::IdentityError),
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
    /// This node's certificate fingerprint (TLS only), for peers that pin it.
    pub fingerprint: Option<parthenon_net::CertFingerprint>,
    task: tokio::task::JoinHandle<()>,
}

impl NodeNetwork {
    /// Stops the engine and waits for it.
    pub async fn shutdown(self) {
        self.handle.shutdown().await;
        let _ = self.task.await;
    }
}

/// Starts the P2P engine for `settings` over TLS (certificate under `<datadir>/tls/`,
/// generated on first start) or, when asked, plaintext TCP.
pub async fn start_network(
    settings: &P2pSettings,
    params: &'static parthenon_primitives::ChainParams,
    datadir: &crate::DataDir,
    shared: parthenon_net::p2p::P2pShared,
) -> Result<NodeNetwork, NetworkStartError> {
    use parthenon_net::p2p::{self, P2pConfig, P2pStartError};
    use parthenon_net::{TcpTransport, TlsTransport, Transport};
    use std::sync::Arc;

    let (transport, fingerprint): (Arc<dyn Transport>, _) = if settings.plaintext {
        tracing::warn!(
            "P2P connections are plaintext (--p2p-plaintext): use only on trusted links"
        );
        (Arc::new(TcpTransport::new()), None)
    } else {
        let identity = parthenon_net::load_or_generate(&datadir.tls_dir())?;
        let fp = identity.fingerprint();
        tracing::info!(fingerprint = %fp, "P2P over TLS 1.3; peers may pin this certificate");
        (
            Arc::new(TlsTransport::new(TcpTransport::new(), &identity)?),
            Some(fp),
        )
    };
    let mut config = P2pConfig::new(params);
    config.listen = settings.listen;
    config.connect = settings.connect.clone();
    config.addnode = settings.addnode.clone();
    config.max_outbound = settings.max_outbound;
    config.max_inbound = settings.max_inbound;
    config.address_book = Some(datadir.peers_path());
    config.local_fingerprint = fingerprint;
    let node = p2p::start(config, shared, transport)
        .await
        .map_err(|e| match e {
            P2pStartError::Bind { addr, source } => NetworkStartError::Bind { addr, source },
            other => NetworkStartError::Start(other),
        })?;
    Ok(NodeNetwork {
        handle: node.handle,
        listen: node.listen,
        fingerprint,
        task: node.task,
    })
}
