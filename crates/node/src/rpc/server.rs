//! The JSON-RPC HTTP server: `POST /` with HTTP Basic authentication.
//!
//! The server speaks plain HTTP: bound to anything but loopback it logs a warning at start
//! ([`cleartext_warning`]) that credentials travel in clear text.
//!
//! HTTP statuses: 200 with a JSON-RPC response (errors included), 204 when a body held only
//! notifications, 401 without valid credentials (after a short delay that slows guessing),
//! 404 for another path, 405 for another method, 413 for a body over the cap.

use super::auth::{Authenticator, CookieError, Credentials};
use super::http::{bind, HttpServer};
use super::methods::{call, RpcContext};
use super::{codes, protocol};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use parthenon_primitives::ChainParams;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Default cap on a request body.
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Delay before answering a request with wrong or missing credentials.
const AUTH_FAILURE_DELAY: Duration = Duration::from_millis(250);

/// Settings of the JSON-RPC server.
#[derive(Debug, Clone)]
pub struct RpcConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Credentials accepted besides the cookie.
    pub user_password: Option<Credentials>,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Most requests in one batch.
    pub max_batch: usize,
}

impl RpcConfig {
    /// Listens on `listen` with the default limits and cookie authentication only.
    pub fn new(listen: SocketAddr) -> Self {
        RpcConfig {
            listen,
            user_password: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_batch: protocol::DEFAULT_MAX_BATCH,
        }
    }

    /// The default listen address of a network: 127.0.0.1 on its RPC port.
    pub fn default_listen(params: &ChainParams) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, params.rpc_port))
    }
}

/// Why an HTTP server (JSON-RPC or metrics) could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The address could not be bound (typically in use by another node).
    #[error("cannot listen for {what} on {addr} (is another node running? choose another address with {flag} HOST:PORT)")]
    Bind {
        /// Which server.
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The command-line flag that sets it.
        flag: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The bound socket could not be served.
    #[error("cannot serve {what}")]
    Serve {
        /// Which server.
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The cookie file could not be written.
    #[error(transparent)]
    Cookie(#[from] CookieError),
}

/// A running JSON-RPC server. Shut it down with [`RpcServer::shutdown`], which removes the
/// cookie file (dropping it does too, without waiting for in-flight requests).
#[derive(Debug)]
pub struct RpcServer {
    http: Option<HttpServer>,
    cookie_path: PathBuf,
}

struct Shared {
    ctx: RpcContext,
    auth: Authenticator,
    max_body_bytes: usize,
    max_batch: usize,
}

impl RpcServer {
    /// Binds `config.listen`, writes a fresh cookie to `cookie_path` and serves `ctx`.
    pub async fn start(
        config: &RpcConfig,
        cookie_path: &Path,
        ctx: RpcContext,
    ) -> Result<RpcServer, ServerError> {
        let listener = bind(config.listen, "JSON-RPC", "--rpc-listen").await?;
        let cookie = Credentials::random_cookie();
        cookie.write_cookie_file(cookie_path)?;
        let mut accepted = vec![cookie];
        accepted.extend(config.user_password.clone());
        let shared = Arc::new(Shared {
            ctx,
            auth: Authenticator::new(accepted),
            max_body_bytes: config.max_body_bytes,
            max_batch: config.max_batch,
        });
        let http = HttpServer::spawn(listener, move |req| handle(req, shared.clone()));
        let http = match http {
            Ok(h) => h,
            Err(source) => {
                let _ = std::fs::remove_file(cookie_path);
                return Err(ServerError::Serve {
                    what: "JSON-RPC",
                    source,
                });
            }
        };
        tracing::info!(addr = %http.local_addr(), cookie = %cookie_path.display(), "JSON-RPC server listening");
        if let Some(warning) = cleartext_warning(http.local_addr()) {
            tracing::warn!("{warning}");
        }
        Ok(RpcServer {
            http: Some(http),
            cookie_path: cookie_path.to_path_buf(),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.http
            .as_ref()
            .map(HttpServer::local_addr)
            .expect("the server runs until shut down")
    }

    /// The cookie file this server wrote.
    pub fn cookie_path(&self) -> &Path {
        &self.cookie_path
    }

    /// Stops accepting, lets in-flight requests finish and removes the cookie file.
    pub async fn shutdown(mut self) {
        if let Some(http) = self.http.take() {
            http.shutdown().await;
        }
        self.remove_cookie();
    }

    fn remove_cookie(&self) {
        match std::fs::remove_file(&self.cookie_path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %self.cookie_path.display(), error = %e, "cannot remove the RPC cookie")
            }
        }
    }
}

impl Drop for RpcServer {
    fn drop(&mut self) {
        if self.http.take().is_some() {
            self.remove_cookie();
        }
    }
}

/// The warning for an RPC server reachable beyond this host: HTTP Basic credentials (the
/// cookie or the configured password) travel in clear text, readable by anyone on the path.
/// `None` on a loopback address.
pub fn cleartext_warning(listen: SocketAddr) -> Option<String> {
    if listen.ip().is_loopback() {
        return None;
    }
    Some(format!(
        "JSON-RPC listens on {listen}, beyond this host: HTTP Basic credentials and every \
         request travel in clear text, readable and replayable by anyone on the network path. \
         Bind it to 127.0.0.1 (the default) and reach it through an SSH tunnel \
         (ssh -L {port}:127.0.0.1:{port} HOST) or a TLS-terminating reverse proxy",
        port = listen.port()
    ))
}

fn reply(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    reply(status, "text/plain; charset=utf-8", text)
}

fn json_reply(status: StatusCode, v: &serde_json::Value) -> Response<Full<Bytes>> {
    reply(status, "application/json", v.to_string())
}

async fn handle(req: Request<Incoming>, shared: Arc<Shared>) -> Response<Full<Bytes>> {
    if req.uri().path() != "/" {
        return plain(
            StatusCode::NOT_FOUND,
            "not found: JSON-RPC is served at POST /\n",
        );
    }
    if req.method() != Method::POST {
        let mut r = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "JSON-RPC requests are POSTed\n",
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return r;
    }
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    if !shared.auth.check(authorization) {
        tokio::time::sleep(AUTH_FAILURE_DELAY).await;
        let mut r = plain(StatusCode::UNAUTHORIZED, "authentication required\n");
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"jsonrpc\""),
        );
        return r;
    }
    let too_large = || plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n");
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > shared.max_body_bytes as u64) {
        return too_large();
    }
    let body = match Limited::new(req.into_body(), shared.max_body_bytes)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return too_large(),
        Err(e) => {
            tracing::debug!(error = %e, "reading an RPC request body failed");
            return plain(StatusCode::BAD_REQUEST, "could not read the request body\n");
        }
    };
    let answer = tokio::task::spawn_blocking({
        let shared = shared.clone();
        move || {
            protocol::handle_body(&body, shared.max_batch, &|method, params| {
                call(&shared.ctx, method, params)
            })
        }
    })
    .await;
    match answer {
        Ok(Some(v)) => json_reply(StatusCode::OK, &v),
        Ok(None) => {
            let mut r = Response::new(Full::new(Bytes::new()));
            *r.status_mut() = StatusCode::NO_CONTENT;
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "an RPC handler failed");
            json_reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                &protocol::failure(serde_json::Value::Null, codes::INTERNAL, "internal error"),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_non_loopback_rpc_address_warns_of_clear_text() {
        for quiet in ["127.0.0.1:27332", "[::1]:27332", "127.0.0.2:1"] {
            assert_eq!(cleartext_warning(quiet.parse().unwrap()), None, "{quiet}");
        }
        for exposed in ["0.0.0.0:27332", "192.168.1.5:27332", "[::]:27332"] {
            let w = cleartext_warning(exposed.parse().unwrap()).expect(exposed);
            assert!(w.contains("clear text") && w.contains("SSH tunnel"), "{w}");
        }
    }
}
