//! What a use case can fail with, independent of the transport: the http layer turns each
//! variant into AWX's status and body (`http::error`), a CLI command into a message.

use crate::crypto::CryptoError;
use crate::domain::errors::{DomainError, FieldErrors};
use crate::store::StoreError;
use serde_json::Value;

/// A refused or failed use case. Messages never carry secrets or bound values.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not authenticated")]
    Unauthorized,
    /// The caller may not do this; the payload replaces AWX's default sentence.
    #[error("forbidden")]
    Forbidden(Option<String>),
    /// The payload is AWX's model name (`Credential`), as its message names it.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// An object named by its name that the caller may not see: AWX's bare 404.
    #[error("not found")]
    Hidden,
    #[error("invalid page")]
    InvalidPage,
    /// Field errors in AWX's `{"field": ["message"]}` shape.
    #[error("validation failed")]
    Validation(Value),
    /// A request AWX answers with `{"detail": ...}` and 400.
    #[error("bad request")]
    BadRequest(Value),
    /// A concurrent request changed what this one relied on.
    #[error("conflict")]
    Conflict,
    /// Too many failed password checks lately; the payload is the seconds to wait.
    #[error("throttled")]
    Throttled(u64),
    /// Anything the client cannot fix; the detail is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Result alias for use cases.
pub type Result<T> = std::result::Result<T, Error>;

impl From<DomainError> for Error {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Validation(errors) => Error::Validation(errors.into_json()),
            DomainError::BadRequest(v) => Error::BadRequest(v),
            DomainError::Forbidden(msg) => Error::Forbidden(msg),
            DomainError::NotFound(model) => Error::NotFound(model),
            DomainError::Message(msg) => Error::Validation(serde_json::json!({ "msg": msg })),
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        let unique = |msg: &str| Error::Validation(FieldErrors::one("__all__", msg).into_json());
        match e {
            StoreError::Unique("credential_name") => unique(
                "Credential with this Organization, Name and Credential type already exists.",
            ),
            StoreError::Unique("credential_type_name") => {
                unique("Credential type with this Name and Kind already exists.")
            }
            StoreError::Unique("input_source_field") => unique(
                "Credential input source with this Target credential and Input field name already exists.",
            ),
            StoreError::Unique("team_name") => {
                unique("Team with this Organization and Name already exists.")
            }
            StoreError::Unique("organization_name") => Error::Validation(
                FieldErrors::one("name", "organization with this name already exists.").into_json(),
            ),
            StoreError::Unique("username") => Error::Validation(
                FieldErrors::one("username", "A user with that username already exists.")
                    .into_json(),
            ),
            StoreError::Gone => Error::Conflict,
            StoreError::Unrepresentable => Error::BadRequest(Value::from(
                "The database cannot store or match this value (text may not contain NUL characters).",
            )),
            other => Error::Internal(other.to_string()),
        }
    }
}

impl From<CryptoError> for Error {
    fn from(e: CryptoError) -> Self {
        Error::Internal(e.to_string())
    }
}
