//! The integration tests of the HTTP API and of the `credstore` binary, as one test binary
//! (`cargo test --test api`): one module per resource or concern, sharing `common/`. One
//! binary links the crate once instead of once per file.
//!
//! The modules share one process and their tests run on parallel threads, so process-wide
//! state goes through `common`: `common::lookup_env` for the environment variables the
//! lookup backends read, `common::in_own_process` for a test that needs the process to
//! itself (the global `tracing` subscriber of `secrets`).

mod common;

mod activity_stream;
mod awx_parity;
mod cli;
mod conformance;
mod credential_types;
mod credential_use;
mod credentials;
mod encryption;
mod galaxy_credentials;
mod input_sources;
mod instances;
mod keys;
mod lookup_aim;
mod lookup_aws;
mod lookup_azure;
mod lookup_centrify;
mod lookup_conjur;
mod lookup_github_app;
mod lookup_thycotic_dsv;
mod lookup_thycotic_tss;
mod lookup_vault_ssh;
mod lookups;
mod metrics;
mod migrate_data;
mod openapi;
mod options;
mod organization_credential_types;
mod organizations;
mod query_language;
mod rbac;
mod response_cache;
mod root;
mod secrets;
mod session;
mod stored_data;
mod teams;
mod tokens;
mod transactions;
mod users;
mod web;
