//! The one place where failures become AWX-shaped HTTP responses.

use crate::crypto::CryptoError;
use crate::domain::errors::DomainError;
use crate::service::Error as ServiceError;
use crate::store::StoreError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("not authenticated")]
    Unauthorized,
    #[error("forbidden")]
    Forbidden(Option<String>),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// An object asked for by a name the caller may not see: 404 `{"detail": "Not
    /// found."}` without the API's product and `Allow` headers, as AWX answers it.
    #[error("not found")]
    Hidden,
    #[error("invalid page")]
    InvalidPage,
    #[error("method {0} not allowed")]
    MethodNotAllowed(String),
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("validation failed")]
    Validation(Value),
    #[error("bad request")]
    BadRequest(Value),
    /// The client stopped sending the request body.
    #[error("request body timed out")]
    RequestTimeout,
    /// Too many failed password checks lately; the payload is the seconds to wait.
    #[error("throttled")]
    TooManyRequests(u64),
    /// A concurrent request changed what this one relied on.
    #[error("conflict")]
    Conflict,
    /// Anything the client cannot fix; the detail is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Marks a response that goes out without the API's product and `Allow` headers.
#[derive(Debug, Clone, Copy)]
pub struct WithoutApiHeaders;

/// The 401 text AWX sends for missing and for wrong credentials alike.
pub const NOT_AUTHENTICATED: &str =
    "Authentication credentials were not provided. To establish a login session, visit /api/login/.";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                json!({"detail": NOT_AUTHENTICATED}),
            ),
            ApiError::Forbidden(msg) => (
                StatusCode::FORBIDDEN,
                json!({"detail": msg.as_deref().unwrap_or("You do not have permission to perform this action.")}),
            ),
            ApiError::NotFound(model) => (
                StatusCode::NOT_FOUND,
                json!({"detail": format!("No {model} matches the given query.")}),
            ),
            ApiError::InvalidPage => (StatusCode::NOT_FOUND, json!({"detail": "Invalid page."})),
            ApiError::Hidden => (StatusCode::NOT_FOUND, json!({"detail": "Not found."})),
            ApiError::MethodNotAllowed(m) => (
                StatusCode::METHOD_NOT_ALLOWED,
                json!({"detail": format!("Method \"{m}\" not allowed.")}),
            ),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                json!({"detail": "You did not use correct Content-Type in your HTTP request. If you are using our REST API, the Content-Type must be application/json"}),
            ),
            ApiError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"detail": "Request body is larger than the 1 MiB limit."}),
            ),
            ApiError::Validation(v) => (StatusCode::BAD_REQUEST, v.clone()),
            ApiError::BadRequest(v) => (StatusCode::BAD_REQUEST, json!({"detail": v})),
            ApiError::RequestTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                json!({"detail": "The request body did not arrive in time."}),
            ),
            ApiError::TooManyRequests(seconds) => (
                StatusCode::TOO_MANY_REQUESTS,
                json!({"detail": format!("Request was throttled. Expected available in {seconds} seconds.")}),
            ),
            ApiError::Conflict => (
                StatusCode::CONFLICT,
                json!({"detail": "The object was changed or deleted by another request; retry."}),
            ),
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"detail": "A server error occurred."}),
                )
            }
        };
        let mut response = (status, Json(body)).into_response();
        if let ApiError::TooManyRequests(seconds) = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if matches!(self, ApiError::Hidden) {
            response.extensions_mut().insert(WithoutApiHeaders);
        }
        if matches!(self, ApiError::Unauthorized) {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=api authorization_url=/api/o/authorize/"),
            );
        }
        response
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Unauthorized => ApiError::Unauthorized,
            ServiceError::Forbidden(msg) => ApiError::Forbidden(msg),
            ServiceError::NotFound(model) => ApiError::NotFound(model),
            ServiceError::InvalidPage => ApiError::InvalidPage,
            ServiceError::Hidden => ApiError::Hidden,
            ServiceError::Validation(v) => ApiError::Validation(v),
            ServiceError::BadRequest(v) => ApiError::BadRequest(v),
            ServiceError::Conflict => ApiError::Conflict,
            ServiceError::Throttled(seconds) => ApiError::TooManyRequests(seconds),
            ServiceError::Internal(detail) => ApiError::Internal(detail),
        }
    }
}

/// Lower layers' errors reach a response through the service's mapping, the one place
/// that knows AWX's messages for them.
macro_rules! through_service {
    ($($source:ty),*) => {$(
        impl From<$source> for ApiError {
            fn from(e: $source) -> Self {
                ServiceError::from(e).into()
            }
        }
    )*};
}
through_service!(DomainError, StoreError, CryptoError);

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    fn status(e: ApiError) -> StatusCode {
        e.into_response().status()
    }

    #[test]
    fn every_variant_has_its_status() {
        assert_eq!(status(ApiError::Unauthorized), StatusCode::UNAUTHORIZED);
        assert_eq!(status(ApiError::Forbidden(None)), StatusCode::FORBIDDEN);
        assert_eq!(
            status(ApiError::NotFound("Credential")),
            StatusCode::NOT_FOUND
        );
        assert_eq!(status(ApiError::InvalidPage), StatusCode::NOT_FOUND);
        assert_eq!(
            status(ApiError::MethodNotAllowed("DELETE".into())),
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(
            status(ApiError::UnsupportedMediaType),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        assert_eq!(
            status(ApiError::PayloadTooLarge),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            status(ApiError::Validation(json!({}))),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(ApiError::BadRequest(json!("x"))),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(ApiError::Internal("db".into())),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            status(StoreError::Unique("credential_name").into()),
            StatusCode::BAD_REQUEST
        );
    }
}
