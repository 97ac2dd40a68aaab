//! Use cases: one public function for each thing a client can do (create a credential,
//! grant a role, log in, ...). Each takes the caller and typed input, decides permissions,
//! calls `domain` for rules, `crypto` for secrets and `store` for data, owns its write
//! transaction (one store call), and returns typed output or an [`Error`]. The http
//! handlers, the command line and the web interface all call these functions; none of
//! them reaches the store or decides a permission itself.

pub mod activity;
pub mod auth;
pub mod capabilities;
pub mod credential_access;
pub mod credential_types;
pub mod credentials;
mod error;
pub mod health;
pub mod input_sources;
pub mod inputs;
pub mod lists;
pub mod lookups;
pub mod metrics;
pub mod named;
pub mod organizations;
pub mod related;
pub mod render;
pub mod resolve;
pub mod roles;
pub mod schemas;
pub mod teams;
mod throttle;
pub mod tokens;
pub mod users;

pub use error::{Error, Result};

use crate::crypto::KeyRing;
use crate::store::Store;
use std::sync::Arc;

/// What use cases need: the database, the key ring and the parsed type schemas. Cheap
/// to clone (every field is shared).
#[derive(Clone, Debug)]
pub struct Context {
    pub store: Store,
    pub keys: Arc<KeyRing>,
    pub schemas: Arc<schemas::SchemaCache>,
    /// Who is asking: verified passwords and tokens, failed-login throttling.
    pub auth: Arc<auth::Authenticator>,
    /// Where injector templates run (`crate::template_worker`).
    pub templates: Arc<crate::template_worker::Templates>,
}
