//! The client side of using a credential: `credstore run` and `credstore render
//! --runner-dir`. It speaks to a credstore server over HTTP the way the `awx` CLI does
//! (same environment variables), asks it to render credentials
//! (`POST /api/v2/credentials/{id}/render/`), and puts the answer where a job finds it:
//! files in a private directory with their placeholder paths replaced, then either a
//! command run with the env (and, for `ansible-playbook`, the arguments), or an
//! ansible-runner private data directory.
//!
//! Apart from the server's layers: nothing here touches the store or the use cases; the
//! HTTP API is the only contract, so the client works against any credstore.

pub mod connection;
pub mod job;
pub mod run;
pub mod runner_dir;

pub use connection::{ClientError, Connection, ConnectionArgs};
