//! Prometheus metrics: `GET /metrics` on the `--metrics HOST:PORT` address (off by default).
//!
//! The text is the OpenMetrics exposition format (which Prometheus scrapes natively):
//!
//! | metric | type | meaning |
//! | --- | --- | --- |
//! | `parthenon_chain_height` | gauge | height of the active tip |
//! | `parthenon_utxo_count` | gauge | unspent coins |
//! | `parthenon_mempool_transactions` | gauge | transactions in the mempool |
//! | `parthenon_mempool_bytes` | gauge | their encoded bytes |
//! | `parthenon_block_connect_seconds` | histogram | time to validate and connect a block (mined or received) |
//! | `parthenon_peers{direction}` | gauge | connected peers, `inbound` / `outbound` |
//! | `parthenon_header_height` | gauge | height of the best header known (the sync target) |
//! | `parthenon_p2p_messages_total{direction,command}` | counter | messages `received` / `sent` per command |
//! | `parthenon_p2p_bytes_total{direction,command}` | counter | their bytes (frame header included, before TLS) |
//! | `parthenon_p2p_bans_total` | counter | peers banned (misbehaviour or operator) |
//! | `parthenon_p2p_disconnects_total` | counter | connections closed |
//! | `tls_cert_not_after_seconds` | gauge | end of validity of the certificate served to peers |
//! | `tls_cert_days_remaining` | gauge | whole days it has left |
//! | `tls_cert_reloads_total{outcome}` | counter | certificate reloads, `ok` / `rejected` / `error` |
//!
//! Gauges are read from the node's state at each scrape; the histogram is observed where
//! blocks connect. The endpoint has no authentication: bind it to an address only trusted
//! scrapers reach.

use crate::control::NodeState;
use crate::rpc::http::{bind, HttpServer};
use crate::rpc::ServerError;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use parking_lot::Mutex;
use parthenon_net::p2p::NetCounters;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Label set of the per-command traffic counters.
type Labels = Vec<(String, String)>;

/// Content type of the exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The node's metrics and their registry.
#[derive(Debug)]
pub struct NodeMetrics {
    registry: Registry,
    chain_height: Gauge,
    utxo_count: Gauge,
    mempool_transactions: Gauge,
    mempool_bytes: Gauge,
    block_connect_seconds: Histogram,
    peers: Family<Labels, Gauge>,
    header_height: Gauge,
    messages: Family<Labels, Counter>,
    bytes: Family<Labels, Counter>,
    bans: Counter,
    disconnects: Counter,
    net: OnceLock<Arc<NetCounters>>,
    cert: OnceLock<parthenon_net::tls::CertRotator>,
    /// The totals already added to the counters, so each scrape adds only the difference.
    seen: Mutex<BTreeMap<(String, String, bool), u64>>,
}

impl Default for NodeMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl NodeMetrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("parthenon");
        let chain_height = Gauge::default();
        let utxo_count = Gauge::default();
        let mempool_transactions = Gauge::default();
        let mempool_bytes = Gauge::default();
        // 0.1 ms .. ~13 s: an empty dev block connects in well under a millisecond.
        let block_connect_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 18));
        registry.register(
            "chain_height",
            "Height of the active chain tip",
            chain_height.clone(),
        );
        registry.register("utxo_count", "Unspent coins", utxo_count.clone());
        registry.register(
            "mempool_transactions",
            "Transactions in the mempool",
            mempool_transactions.clone(),
        );
        registry.register(
            "mempool_bytes",
            "Encoded bytes of the mempool's transactions",
            mempool_bytes.clone(),
        );
        registry.register(
            "block_connect_seconds",
            "Seconds to validate and connect a block",
            block_connect_seconds.clone(),
        );
        let peers = Family::<Labels, Gauge>::default();
        registry.register("peers", "Connected peers by direction", peers.clone());
        let header_height = Gauge::default();
        registry.register(
            "header_height",
            "Height of the best header known (the sync target)",
            header_height.clone(),
        );
        let messages = Family::<Labels, Counter>::default();
        registry.register(
            "p2p_messages",
            "P2P messages by direction and command",
            messages.clone(),
        );
        let bytes = Family::<Labels, Counter>::default();
        registry.register(
            "p2p_bytes",
            "P2P bytes (frame header included, before TLS) by direction and command",
            bytes.clone(),
        );
        let bans = Counter::default();
        registry.register("p2p_bans", "Peers banned", bans.clone());
        let disconnects = Counter::default();
        registry.register(
            "p2p_disconnects",
            "P2P connections closed",
            disconnects.clone(),
        );
        NodeMetrics {
            registry,
            chain_height,
            utxo_count,
            mempool_transactions,
            mempool_bytes,
            block_connect_seconds,
            peers,
            header_height,
            messages,
            bytes,
            bans,
            disconnects,
            net: OnceLock::new(),
            cert: OnceLock::new(),
            seen: Mutex::new(BTreeMap::new()),
        }
    }

    /// Reports the served TLS certificate's expiry and reloads from now on
    /// (`tls_cert_not_after_seconds`, `tls_cert_days_remaining`, `tls_cert_reloads_total`).
    pub fn set_certificate(&self, rotator: parthenon_net::tls::CertRotator) {
        let _ = self.cert.set(rotator);
    }

    /// Reports the P2P engine's counters from now on.
    pub fn set_network(&self, counters: Arc<NetCounters>) {
        let _ = self.net.set(counters);
    }

    fn refresh_network(&self) {
        let Some(net) = self.net.get() else {
            return;
        };
        let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let label = |d: &str| vec![("direction".to_string(), d.to_string())];
        self.peers
            .get_or_create(&label("inbound"))
            .set(gauge(net.peers_inbound()));
        self.peers
            .get_or_create(&label("outbound"))
            .set(gauge(net.peers_outbound()));
        self.header_height.set(i64::from(net.header_height()));
        let mut seen = self.seen.lock();
        let mut add = |counter: &Counter, key: (String, String, bool), total: u64| {
            let before = seen.insert(key, total).unwrap_or(0);
            counter.inc_by(total.saturating_sub(before));
        };
        for (dir, map) in [("received", net.received()), ("sent", net.sent())] {
            for (cmd, t) in map {
                let labels = vec![
                    ("direction".to_string(), dir.to_string()),
                    ("command".to_string(), cmd.clone()),
                ];
                add(
                    &self.messages.get_or_create(&labels),
                    (dir.to_string(), cmd.clone(), false),
                    t.messages,
                );
                add(
                    &self.bytes.get_or_create(&labels),
                    (dir.to_string(), cmd, true),
                    t.bytes,
                );
            }
        }
        add(
            &self.bans,
            ("bans".into(), String::new(), false),
            net.bans(),
        );
        add(
            &self.disconnects,
            ("disconnects".into(), String::new(), false),
            net.disconnects(),
        );
    }

    /// Records the time one block took to validate and connect.
    pub fn observe_block_connect(&self, elapsed: Duration) {
        self.block_connect_seconds.observe(elapsed.as_secs_f64());
    }

    /// Reads the gauges from the node's state.
    pub fn refresh(&self, state: &NodeState) {
        let (height, utxos) = {
            let chain = state.chain.read();
            (chain.height(), chain.stats().utxo_count)
        };
        let (txs, bytes) = {
            let m = state.mempool.lock();
            (m.len(), m.bytes())
        };
        let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.chain_height.set(i64::from(height));
        self.utxo_count.set(gauge(utxos));
        self.mempool_transactions.set(gauge(txs as u64));
        self.mempool_bytes.set(gauge(bytes as u64));
        self.refresh_network();
    }

    /// The exposition text of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        if let Some(r) = self.cert.get() {
            // The rotator renders its own families; they go before OpenMetrics' `# EOF`.
            let tls = r.status().to_prometheus_text();
            match out.rfind("# EOF") {
                Some(i) => out.insert_str(i, &tls),
                None => out.push_str(&tls),
            }
        }
        out
    }
}

/// A running metrics endpoint.
#[derive(Debug)]
pub struct MetricsServer {
    http: HttpServer,
}

impl MetricsServer {
    /// Binds `addr` and serves `metrics` (refreshed from `state` at each scrape).
    pub async fn start(
        addr: SocketAddr,
        metrics: Arc<NodeMetrics>,
        state: NodeState,
    ) -> Result<MetricsServer, ServerError> {
        let listener = bind(addr, "metrics", "--metrics").await?;
        let http = HttpServer::spawn(listener, move |req| {
            scrape(req, metrics.clone(), state.clone())
        })
        .map_err(|source| ServerError::Serve {
            what: "metrics",
            source,
        })?;
        tracing::info!(addr = %http.local_addr(), "metrics served at /metrics");
        Ok(MetricsServer { http })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.http.local_addr()
    }

    /// Stops serving.
    pub async fn shutdown(self) {
        self.http.shutdown().await;
    }
}

async fn scrape(
    req: Request<Incoming>,
    metrics: Arc<NodeMetrics>,
    state: NodeState,
) -> Response<Full<Bytes>> {
    let (status, content_type, body) = if req.uri().path() != "/metrics" {
        (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "metrics are served at /metrics\n".to_string(),
        )
    } else if req.method() != Method::GET {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "use GET\n".to_string(),
        )
    } else {
        // The chain lock may be held by a block being connected: read off the async threads.
        match tokio::task::spawn_blocking(move || {
            metrics.refresh(&state);
            metrics.encode()
        })
        .await
        {
            Ok(text) => (StatusCode::OK, CONTENT_TYPE, text),
            Err(e) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain; charset=utf-8",
                format!("{e}\n"),
            ),
        }
    };
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}
