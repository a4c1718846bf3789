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
