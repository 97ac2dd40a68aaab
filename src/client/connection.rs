//! A connection to a credstore (or AWX-compatible) server, configured like the `awx`
//! CLI: `CONTROLLER_HOST`, `CONTROLLER_OAUTH_TOKEN`, or `CONTROLLER_USERNAME` and
//! `CONTROLLER_PASSWORD` (the older `TOWER_*` names too), `CONTROLLER_VERIFY_SSL`.

use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use std::time::Duration;

/// Where the server is when nothing says otherwise: `credstore serve`'s default bind.
pub const DEFAULT_HOST: &str = "http://127.0.0.1:8052";

/// How long one request to the server may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Why the client could not get what it asked for. Messages name the server, the
/// credential and the server's own explanation; never a secret.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Usage(String),
    #[error("cannot reach the credstore server at {host}: {reason}")]
    Unreachable { host: String, reason: String },
    #[error("the server at {0} refused the login (401): the token is expired or wrong, or the username or password is")]
    Unauthorized(String),
    #[error("{0}")]
    Refused(String),
    #[error("no credential named {0:?} is visible to you")]
    UnknownName(String),
    #[error("{count} credentials are named {name:?}: give the id instead")]
    Ambiguous { name: String, count: u64 },
    #[error("the server answered something that is not a render: {0}")]
    Unexpected(String),
    #[error("{0}")]
    Io(String),
}

/// The connection settings, from flags or the `awx` CLI's environment.
#[derive(clap::Args, Clone, Debug)]
pub struct ConnectionArgs {
    /// Server URL [default: http://127.0.0.1:8052].
    #[arg(long, env = "CONTROLLER_HOST")]
    pub host: Option<String>,
    /// OAuth2 token (also TOWER_OAUTH_TOKEN).
    #[arg(long, env = "CONTROLLER_OAUTH_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Username, with CONTROLLER_PASSWORD, when no token is given (also TOWER_USERNAME).
    #[arg(long, env = "CONTROLLER_USERNAME")]
    pub username: Option<String>,
    /// Whether to check the server's TLS certificate (false/0/no to skip).
    #[arg(long, env = "CONTROLLER_VERIFY_SSL", default_value = "true")]
    pub verify_ssl: String,
    /// A CA certificate (PEM) to trust for the server, beside the system's.
    #[arg(long, env = "CREDSTORE_CA_FILE", value_name = "PEM")]
    pub ca_file: Option<std::path::PathBuf>,
}

enum Auth {
    Token(SecretString),
    Basic(String, SecretString),
}

/// An authenticated HTTP client for one server.
pub struct Connection {
    host: String,
    auth: Auth,
    http: reqwest::Client,
}

fn env_either(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok())
        .filter(|v| !v.is_empty())
}

impl Connection {
    /// Builds the connection: a token wins over a username and password.
    pub fn new(args: &ConnectionArgs) -> Result<Self, ClientError> {
        let host = args
            .host
            .clone()
            .or_else(|| env_either(&["TOWER_HOST"]))
            .unwrap_or_else(|| DEFAULT_HOST.to_string());
        let host = if host.contains("://") {
            host
        } else {
            format!("https://{host}")
        };
        let host = host.trim_end_matches('/').to_string();
        let token = args
            .token
            .clone()
            .or_else(|| env_either(&["TOWER_OAUTH_TOKEN"]));
        let username = args
            .username
            .clone()
            .or_else(|| env_either(&["TOWER_USERNAME"]));
        let password = env_either(&["CONTROLLER_PASSWORD", "TOWER_PASSWORD"]);
        let auth = match (token, username, password) {
            (Some(token), _, _) => Auth::Token(token.into()),
            (None, Some(user), Some(password)) => Auth::Basic(user, password.into()),
            _ => {
                return Err(ClientError::Usage(
                    "no login: set CONTROLLER_OAUTH_TOKEN (or --token), or CONTROLLER_USERNAME and CONTROLLER_PASSWORD"
                        .into(),
                ))
            }
        };
        let verify = !matches!(
            args.verify_ssl.to_ascii_lowercase().as_str(),
            "false" | "0" | "no" | "off"
        );
        let mut builder = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .use_rustls_tls()
            .danger_accept_invalid_certs(!verify);
        if let Some(path) = &args.ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| ClientError::Usage(format!("--ca-file {}: {e}", path.display())))?;
            let ca = reqwest::Certificate::from_pem(&pem).map_err(|e| {
                ClientError::Usage(format!(
                    "--ca-file {}: not a PEM certificate: {e}",
                    path.display()
                ))
            })?;
            builder = builder.add_root_certificate(ca);
        }
        let http = builder
            .build()
            .map_err(|e| ClientError::Io(format!("cannot set up HTTP: {e}")))?;
        Ok(Connection { host, auth, http })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let builder = self.http.request(method, format!("{}{path}", self.host));
        match &self.auth {
            Auth::Token(token) => builder.bearer_auth(token.expose_secret()),
            Auth::Basic(user, password) => builder.basic_auth(user, Some(password.expose_secret())),
        }
    }

    async fn send(&self, builder: reqwest::RequestBuilder) -> Result<Value, ClientError> {
        let response = builder.send().await.map_err(|e| ClientError::Unreachable {
            host: self.host.clone(),
            reason: transport_reason(&e),
        })?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(ClientError::Unauthorized(self.host.clone()));
        }
        if !status.is_success() {
            return Err(ClientError::Refused(refusal(status, &body)));
        }
        Ok(body)
    }

    /// The id of the credential `name_or_id` names: a number is an id, anything else the
    /// name of exactly one credential the caller can see.
    pub async fn credential_id(&self, name_or_id: &str) -> Result<i64, ClientError> {
        if let Ok(id) = name_or_id.parse::<i64>() {
            return Ok(id);
        }
        let builder = self
            .request(reqwest::Method::GET, "/api/v2/credentials/")
            .query(&[("name", name_or_id), ("page_size", "2")]);
        let page = self.send(builder).await?;
        match page["count"].as_u64() {
            Some(1) => page["results"][0]["id"]
                .as_i64()
                .ok_or_else(|| ClientError::Unexpected("a credential without an id".into())),
            Some(0) => Err(ClientError::UnknownName(name_or_id.to_string())),
            Some(count) => Err(ClientError::Ambiguous {
                name: name_or_id.to_string(),
                count,
            }),
            None => Err(ClientError::Unexpected("not a list of credentials".into())),
        }
    }

    /// Renders credentials for one job; the server writes the audit entry.
    pub async fn render(&self, ids: &[i64], purpose: &str) -> Result<Value, ClientError> {
        let (path, body) = match ids {
            [one] => (
                format!("/api/v2/credentials/{one}/render/"),
                json!({"purpose": purpose}),
            ),
            _ => (
                "/api/v2/credentials/render/".to_string(),
                json!({"credentials": ids, "purpose": purpose}),
            ),
        };
        let answer = self
            .send(self.request(reqwest::Method::POST, &path).json(&body))
            .await?;
        if !answer["env"].is_object() {
            return Err(ClientError::Unexpected(format!("POST {path}")));
        }
        Ok(answer)
    }
}

/// The server's explanation of a refusal: AWX's `detail`, or its field messages.
fn refusal(status: reqwest::StatusCode, body: &Value) -> String {
    let detail = match body {
        Value::Object(map) => match map.get("detail") {
            Some(Value::String(d)) => d.clone(),
            _ => map
                .iter()
                .map(|(k, v)| match v {
                    Value::Array(items) => format!(
                        "{k}: {}",
                        items
                            .iter()
                            .map(|i| i
                                .as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| i.to_string()))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ),
                    other => format!(
                        "{k}: {}",
                        other
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| other.to_string())
                    ),
                })
                .collect::<Vec<_>>()
                .join("; "),
        },
        _ => String::new(),
    };
    format!("the server refused ({}): {detail}", status.as_u16())
}

fn transport_reason(error: &reqwest::Error) -> String {
    let mut reason = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        reason = format!("{reason}: {inner}");
        source = inner.source();
    }
    reason
}
