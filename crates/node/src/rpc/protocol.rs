//! The JSON-RPC 2.0 envelope: requests, notifications, batches and error objects.
//!
//! A request is an object with `"jsonrpc": "2.0"`, a string `method`, optional `params`
//! (array or object) and an `id` (string, number or null); without `id` it is a
//! notification, which runs but gets no response. A batch is a non-empty array of requests
//! of at most the configured length; its response holds one entry per request that is not a
//! notification. Whatever the input, the answer is a response value (or nothing), never a
//! panic: invalid JSON gives -32700 and anything that is not a request gives -32600, both
//! with id null.

use super::codes;
use super::methods::MethodError;
use serde_json::{json, Map, Value};

/// Default cap on the number of requests in one batch.
pub const DEFAULT_MAX_BATCH: usize = 1_000;

/// A success response.
pub fn success(id: Value, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "result": result, "id": id })
}

/// An error response.
pub fn failure(id: Value, code: i64, message: impl Into<String>) -> Value {
    json!({
        "jsonrpc": "2.0",
        "error": { "code": code, "message": message.into() },
        "id": id,
    })
}

/// Answers one HTTP body: `Some(response)` to send, `None` when every request was a
/// notification. `exec` runs one method.
pub fn handle_body(
    body: &[u8],
    max_batch: usize,
    exec: &dyn Fn(&str, &Value) -> Result<Value, MethodError>,
) -> Option<Value> {
    let parsed: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return Some(failure(
                Value::Null,
                codes::PARSE_ERROR,
                format!("parse error: {e}"),
            ))
        }
    };
    match parsed {
        Value::Array(batch) => {
            if batch.is_empty() {
                return Some(failure(
                    Value::Null,
                    codes::INVALID_REQUEST,
                    "an empty batch is not a request",
                ));
            }
            if batch.len() > max_batch {
                return Some(failure(
                    Value::Null,
                    codes::INVALID_REQUEST,
                    format!(
                        "a batch of {} requests exceeds the limit of {max_batch}",
                        batch.len()
                    ),
                ));
            }
            let responses: Vec<Value> = batch
                .iter()
                .filter_map(|request| handle_request(request, exec))
                .collect();
            (!responses.is_empty()).then_some(Value::Array(responses))
        }
        single => handle_request(&single, exec),
    }
}

/// A request object, checked.
struct Request<'a> {
    /// `None` for a notification.
    id: Option<Value>,
    method: &'a str,
    params: Value,
}

fn parse_request(request: &Value) -> Result<Request<'_>, (Value, String)> {
    let Some(obj) = request.as_object() else {
        return Err((Value::Null, "a request is a JSON object".to_string()));
    };
    let id = match obj.get("id") {
        None => None,
        Some(id @ (Value::Null | Value::String(_) | Value::Number(_))) => Some(id.clone()),
        Some(_) => {
            return Err((
                Value::Null,
                "the id of a request is a string, a number or null".to_string(),
            ))
        }
    };
    let reply_id = id.clone().unwrap_or(Value::Null);
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err((reply_id, "a request has \"jsonrpc\": \"2.0\"".to_string()));
    }
    let Some(method) = obj.get("method").and_then(Value::as_str) else {
        return Err((reply_id, "a request has a string \"method\"".to_string()));
    };
    let params = match obj.get("params") {
        None => Value::Null,
        Some(p @ (Value::Array(_) | Value::Object(_))) => p.clone(),
        Some(_) => {
            return Err((
                reply_id,
                "\"params\" is an array or an object when present".to_string(),
            ))
        }
    };
    Ok(Request { id, method, params })
}

fn handle_request(
    request: &Value,
    exec: &dyn Fn(&str, &Value) -> Result<Value, MethodError>,
) -> Option<Value> {
    let request = match parse_request(request) {
        Ok(r) => r,
        Err((id, message)) => return Some(failure(id, codes::INVALID_REQUEST, message)),
    };
    tracing::debug!(method = request.method, "rpc call");
    let outcome = exec(request.method, &request.params);
    let id = request.id?;
    Some(match outcome {
        Ok(result) => success(id, result),
        Err(e) => failure(id, e.code, e.message),
    })
}

/// The `error` member of a response, if it has one: `(code, message)`.
pub fn error_of(response: &Map<String, Value>) -> Option<(i64, String)> {
    let e = response.get("error")?;
    Some((
        e.get("code").and_then(Value::as_i64).unwrap_or(0),
        e.get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo(method: &str, params: &Value) -> Result<Value, MethodError> {
        match method {
            "echo" => Ok(params.clone()),
            _ => Err(MethodError::new(codes::METHOD_NOT_FOUND, "no such method")),
        }
    }

    fn run(body: &str) -> Option<Value> {
        handle_body(body.as_bytes(), 3, &echo)
    }

    fn code(v: &Value) -> i64 {
        v["error"]["code"].as_i64().unwrap()
    }

    #[test]
    fn single_requests_and_notifications() {
        let r = run(r#"{"jsonrpc":"2.0","method":"echo","params":[1,"a"],"id":7}"#).unwrap();
        assert_eq!(r, json!({"jsonrpc":"2.0","result":[1,"a"],"id":7}));
        let r = run(r#"{"jsonrpc":"2.0","method":"nope","id":"x"}"#).unwrap();
        assert_eq!((code(&r), &r["id"]), (codes::METHOD_NOT_FOUND, &json!("x")));
        assert_eq!(run(r#"{"jsonrpc":"2.0","method":"echo"}"#), None);
        // id null is a request, not a notification.
        let r = run(r#"{"jsonrpc":"2.0","method":"echo","id":null}"#).unwrap();
        assert_eq!(r["result"], Value::Null);
    }

    #[test]
    fn malformed_input_gets_the_right_error_codes() {
        assert_eq!(code(&run("{not json").unwrap()), codes::PARSE_ERROR);
        assert_eq!(code(&run("").unwrap()), codes::PARSE_ERROR);
        for bad in [
            "42",
            r#""echo""#,
            r#"{"method":"echo","id":1}"#,
            r#"{"jsonrpc":"1.0","method":"echo","id":1}"#,
            r#"{"jsonrpc":"2.0","method":5,"id":1}"#,
            r#"{"jsonrpc":"2.0","method":"echo","params":3,"id":1}"#,
            r#"{"jsonrpc":"2.0","method":"echo","id":[1]}"#,
            "[]",
            "[1,2,3,4]",
        ] {
            let r = run(bad).unwrap();
            assert_eq!(code(&r), codes::INVALID_REQUEST, "{bad}");
        }
        let r = run(r#"{"jsonrpc":"1.0","method":"echo","id":9}"#).unwrap();
        assert_eq!(r["id"], json!(9));
    }

    #[test]
    fn batches_answer_each_request_in_order() {
        let r = run(
            r#"[{"jsonrpc":"2.0","method":"echo","params":{"k":1},"id":1},
                {"jsonrpc":"2.0","method":"echo"},
                7]"#,
        )
        .unwrap();
        let items = r.as_array().unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["result"], json!({"k":1}));
        assert_eq!(code(&items[1]), codes::INVALID_REQUEST);
        assert_eq!(run(r#"[{"jsonrpc":"2.0","method":"echo"}]"#), None);
    }
}
