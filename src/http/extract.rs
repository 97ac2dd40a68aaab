//! Request extractors that answer bad input in AWX's shapes instead of axum's plain text.

use super::error::ApiError;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde_json::{Map, Value};

/// Largest request body accepted.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Whether reading a body failed because the client stopped sending it.
fn caused_by_timeout(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<crate::server::BodyTimedOut>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// A JSON object body. An empty body reads as `{}`, as in AWX.
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            });
        let bytes = axum::body::to_bytes(req.into_body(), BODY_LIMIT)
            .await
            .map_err(|e| {
                if caused_by_timeout(&e) {
                    ApiError::RequestTimeout
                } else {
                    ApiError::PayloadTooLarge
                }
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonObject(Map::new()));
        }
        if content_type.as_deref() != Some("application/json") {
            return Err(ApiError::UnsupportedMediaType);
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(JsonObject(map)),
            Ok(_) => Err(ApiError::BadRequest(Value::String(
                "JSON parse error - not a JSON object".into(),
            ))),
            Err(e) => Err(ApiError::BadRequest(Value::String(format!(
                "JSON parse error - {}\nPossible cause: trailing comma.",
                describe_json_error(&e)
            )))),
        }
    }
}

/// serde_json's message without any echo of the input.
fn describe_json_error(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Eof => "unexpected end of data",
        serde_json::error::Category::Syntax => "invalid syntax",
        serde_json::error::Category::Data => "invalid data",
        serde_json::error::Category::Io => "unreadable body",
    };
    format!("{what}: line {} column {}", e.line(), e.column())
}

pub use crate::service::lists::QueryPairs;

/// Parses an `{id}` path segment; anything but a positive integer is a 404.
pub fn parse_id(raw: &str, model: &'static str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(ApiError::NotFound(model))
}
