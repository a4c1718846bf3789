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
//! | `parthenon_block_connect_seconds` | histogram | time to validate and connect a block the node mined |
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
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

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
        NodeMetrics {
            registry,
            chain_height,
            utxo_count,
            mempool_transactions,
            mempool_bytes,
            block_connect_seconds,
        }
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
    }

    /// The exposition text of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
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
