//! A minimal JSON-RPC client over hyper's HTTP/1.1 connection API: one connection per
//! call, HTTP Basic credentials (normally the cookie). `parthenon rpc` and the tests use it.

use super::auth::Credentials;
use super::protocol;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::str::FromStr;

/// Largest response body read (a block as hex fits many times over).
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum RpcClientError {
    /// The URL is not `http://HOST[:PORT][/PATH]`.
    #[error("invalid RPC URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// No connection could be made.
    #[error("cannot connect to the node at {url} (is `parthenon node` running with this --rpc-listen address?)")]
    Connect {
        /// The URL.
        url: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The HTTP exchange failed.
    #[error("HTTP exchange with {url} failed")]
    Http {
        /// The URL.
        url: String,
        /// hyper's error.
        source: hyper::Error,
    },
    /// The node refused the credentials.
    #[error(
        "the node at {0} refused the credentials (401); is the cookie from this node's --datadir?"
    )]
    Unauthorized(String),
    /// An HTTP status other than 200.
    #[error("the node answered HTTP {status}: {body}")]
    Status {
        /// The status.
        status: StatusCode,
        /// The body, as text.
        body: String,
    },
    /// The answer is not a JSON-RPC response to the call.
    #[error("unexpected answer from the node: {0}")]
    BadResponse(String),
    /// The method failed on the node.
    #[error("RPC error {code}: {message}")]
    Remote {
        /// The error code.
        code: i64,
        /// Its message.
        message: String,
    },
}

/// Where a node's JSON-RPC server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcUrl {
    text: String,
    host: String,
    port: u16,
    authority: String,
    path: String,
}

impl FromStr for RpcUrl {
    type Err = RpcClientError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &str| RpcClientError::InvalidUrl {
            url: s.to_string(),
            reason: reason.to_string(),
        };
        let uri: Uri = s
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| invalid(&e.to_string()))?;
        if uri.scheme_str() != Some("http") {
            return Err(invalid(
                "only http:// is supported (bind the node to loopback)",
            ));
        }
        let authority = uri.authority().ok_or_else(|| invalid("no host"))?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        Ok(RpcUrl {
            text: s.to_string(),
            host: host.to_string(),
            port: authority.port_u16().unwrap_or(80),
            authority: authority.as_str().to_string(),
            path: uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/".to_string()),
        })
    }
}

impl std::fmt::Display for RpcUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// An HTTP answer: status and body.
#[derive(Debug, Clone)]
pub struct HttpReply {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body bytes.
    pub body: Bytes,
}

/// A client of one node.
#[derive(Debug, Clone)]
pub struct RpcClient {
    url: RpcUrl,
    credentials: Option<Credentials>,
}

impl RpcClient {
    /// A client of the node at `url`, sending `credentials` (none: unauthenticated).
    pub fn new(url: RpcUrl, credentials: Option<Credentials>) -> Self {
        RpcClient { url, credentials }
    }

    /// POSTs `body` as it is and returns the HTTP answer (any status).
    pub async fn post(&self, body: impl Into<Bytes>) -> Result<HttpReply, RpcClientError> {
        let url = self.url.to_string();
        let stream = tokio::net::TcpStream::connect((self.url.host.as_str(), self.url.port))
            .await
            .map_err(|source| RpcClientError::Connect {
                url: url.clone(),
                source,
            })?;
        let http = |source| RpcClientError::Http {
            url: url.clone(),
            source,
        };
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(http)?;
        let driver = tokio::spawn(conn);
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(self.url.path.as_str())
            .header(header::HOST, self.url.authority.as_str())
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(c) = &self.credentials {
            let value = HeaderValue::from_str(&c.basic_authorization())
                .map_err(|e| RpcClientError::BadResponse(format!("credentials: {e}")))?;
            builder = builder.header(header::AUTHORIZATION, value);
        }
        let request =
            builder
                .body(Full::new(body.into()))
                .map_err(|e| RpcClientError::InvalidUrl {
                    url: url.clone(),
                    reason: e.to_string(),
                })?;
        let response = sender.send_request(request).await.map_err(http)?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| RpcClientError::BadResponse(format!("reading the body: {e}")))?
            .to_bytes();
        driver.abort();
        Ok(HttpReply { status, body })
    }

    /// Calls `method` with `params` (an array, an object, or null for none) and returns its
    /// result.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, RpcClientError> {
        let mut request = json!({ "jsonrpc": "2.0", "method": method, "id": 1 });
        if !params.is_null() {
            request["params"] = params;
        }
        let reply = self.post(request.to_string()).await?;
        match reply.status {
            StatusCode::OK => {}
            StatusCode::UNAUTHORIZED => {
                return Err(RpcClientError::Unauthorized(self.url.to_string()))
            }
            status => {
                return Err(RpcClientError::Status {
                    status,
                    body: String::from_utf8_lossy(&reply.body).trim().to_string(),
                })
            }
        }
        let response: Value = serde_json::from_slice(&reply.body)
            .map_err(|e| RpcClientError::BadResponse(format!("{e}")))?;
        let obj = response
            .as_object()
            .filter(|o| o.get("id") == Some(&json!(1)) || o.contains_key("error"))
            .ok_or_else(|| RpcClientError::BadResponse(response.to_string()))?;
        if let Some((code, message)) = protocol::error_of(obj) {
            return Err(RpcClientError::Remote { code, message });
        }
        obj.get("result")
            .cloned()
            .ok_or_else(|| RpcClientError::BadResponse(response.to_string()))
    }

    /// [`RpcClient::call`] on a runtime of its own, for synchronous callers.
    pub fn call_blocking(&self, method: &str, params: Value) -> Result<Value, RpcClientError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| RpcClientError::Connect {
                url: self.url.to_string(),
                source,
            })?;
        rt.block_on(self.call(method, params))
    }
}

/// One command-line argument of `parthenon rpc` as a parameter: its JSON value when it
/// parses as JSON (numbers, booleans, null, arrays, objects, quoted strings), else the
/// string itself.
pub fn parse_cli_arg(arg: &str) -> Value {
    serde_json::from_str(arg).unwrap_or_else(|_| Value::String(arg.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_args_are_json_when_they_parse() {
        assert_eq!(parse_cli_arg("12"), json!(12));
        assert_eq!(parse_cli_arg("true"), json!(true));
        assert_eq!(parse_cli_arg(r#"{"a":1}"#), json!({"a":1}));
        assert_eq!(parse_cli_arg(r#""12""#), json!("12"));
        let hash = "00000f3c6f1a6a3c2d7e1c2b4c7a4e3f1d5c0b9a8f7e6d5c4b3a291807f6e5d4";
        assert_eq!(parse_cli_arg(hash), json!(hash));
        assert_eq!(parse_cli_arg("u00ab:0"), json!("u00ab:0"));
    }

    #[test]
    fn urls_need_http_and_a_host() {
        let u: RpcUrl = "http://127.0.0.1:27332/".parse().unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("127.0.0.1", 27332, "/")
        );
        let u: RpcUrl = "http://[::1]:9/".parse().unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 9));
        let u: RpcUrl = "http://localhost".parse().unwrap();
        assert_eq!((u.port, u.path.as_str()), (80, "/"));
        assert!("https://127.0.0.1/".parse::<RpcUrl>().is_err());
        assert!("127.0.0.1:27332".parse::<RpcUrl>().is_err());
        assert!("not a url at all".parse::<RpcUrl>().is_err());
    }
}
