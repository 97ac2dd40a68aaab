//! credstore: a credential store that speaks the AWX credentials API.
//!
//! Layers (docs/architecture.md): `http` (axum: extract, render, AWX's error shapes) calls
//! `service` (one function per use case), which calls `domain` (pure rules), `store`
//! (SQLite through rusqlite, PostgreSQL through sqlx), `crypto` (master key, AEAD envelope,
//! password hashes) and `plugins` (external lookups). `startup` wires them together for
//! `credstore serve`; `keys`, `backup` and `admin` are the operator's commands.

pub mod admin;
pub mod backup;
pub mod client;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod files;
pub mod http;
pub mod keys;
pub mod logging;
pub mod metrics;
pub mod plugins;
pub mod server;
pub mod service;
pub mod startup;
pub mod store;
pub mod template_worker;
pub mod tls;

pub use http::{router as app, AppState};
