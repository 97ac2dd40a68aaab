//! credstore: a credential store that speaks the AWX credentials API.
//!
//! Layers: `http` (axum: routing, extractors, error shapes) calls `domain` (pure rules) and
//! `store` (SQLite through rusqlite, PostgreSQL through sqlx); `crypto` owns the master key
//! and the AEAD envelope; `startup` wires them together for `credstore serve`; `keys`,
//! `backup` and `admin` are the operator's commands.

pub mod admin;
pub mod backup;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod files;
pub mod http;
pub mod keys;
pub mod logging;
pub mod plugins;
pub mod server;
pub mod service;
pub mod startup;
pub mod store;

pub use http::{router as app, AppState};
