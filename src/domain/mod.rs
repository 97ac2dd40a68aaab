//! Pure rules of the credentials API: no I/O, no axum, no sqlx.

pub mod activity;
pub mod association;
pub mod credential;
pub mod credential_type;
pub mod custom_type;
pub mod errors;
pub mod filter;
pub mod formats;
pub mod injection;
pub mod input_source;
pub mod managed_types;
pub mod named_url;
pub mod organization;
pub mod pk;
pub mod python;
pub mod rbac;
pub mod resource;
pub mod user;
pub mod username;
