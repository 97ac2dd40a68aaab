//! External secret lookups: one module per backend behind one dispatch function. A lookup
//! receives the source credential's inputs (secrets decrypted) overlaid with the link's
//! metadata, and returns the secret. Failures are reported the way AWX reports them (the
//! HTTP status, or the class name of the error the Python plugin would raise), never with
//! the secret or the backend's response text.

mod aim;
mod aws;
mod azure;
mod centrify;
mod conjur;
pub mod egress;
mod github_app;
mod hashivault;
mod thycotic;
mod vault_ssh;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// How long one backend call may take.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(30);

/// The keyword arguments of a lookup: every value as text, zeroized when dropped.
#[derive(Default)]
pub struct Kwargs(BTreeMap<String, SecretString>);

impl std::fmt::Debug for Kwargs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl Kwargs {
    /// Overlays `key = value` (JSON strings as text, other JSON values as their text).
    pub fn set_json(&mut self, key: &str, value: &Value) {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Null => return,
            other => other.to_string(),
        };
        self.0.insert(key.to_string(), SecretString::from(text));
    }

    /// Overlays a secret value.
    pub fn set_secret(&mut self, key: &str, value: SecretString) {
        self.0.insert(key.to_string(), value);
    }

    /// Overlays every entry of a JSON object.
    pub fn extend_json(&mut self, map: &Map<String, Value>) {
        for (k, v) in map {
            self.set_json(k, v);
        }
    }

    /// Every value, for checks that look at all of them (the egress policy).
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.0.values().map(|v| v.expose_secret())
    }

    /// The values, for callers that own the result (effective inputs).
    pub fn into_inner(self) -> BTreeMap<String, SecretString> {
        self.0
    }

    /// The value of `key`, when present (empty strings count as present).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|s| s.expose_secret())
    }

    /// The value of `key` when present and not empty.
    pub fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|s| !s.is_empty())
    }

    /// The value of `key`, or the `KeyError` the Python plugin raises when it is missing.
    pub fn require(&self, key: &str) -> Result<&str, LookupError> {
        self.get(key).ok_or(LookupError::Kind("KeyError"))
    }
}

/// Why a lookup failed, as AWX's test endpoint reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The backend answered with this HTTP status (≥ 300).
    #[error("HTTP {0}")]
    Http(u16),
    /// The Python exception class the real plugin would raise (`KeyError`, `RuntimeError`,
    /// `ConnectionError`, `SSLError`, ...).
    #[error("{0}")]
    Kind(&'static str),
    /// A timeout, with its description.
    #[error("{0}")]
    Timeout(String),
}

impl LookupError {
    /// Classifies a transport error the way the Python `requests` library would.
    pub fn from_transport(e: &reqwest::Error) -> Self {
        if e.is_timeout() {
            return LookupError::Timeout(format!(
                "Connection to the secret store timed out. (connect timeout={}s)",
                LOOKUP_TIMEOUT.as_secs()
            ));
        }
        let mut source: Option<&dyn std::error::Error> = Some(e);
        while let Some(s) = source {
            let text = s.to_string().to_ascii_lowercase();
            if ["certificate", "tls", "handshake", "alert"]
                .iter()
                .any(|w| text.contains(w))
            {
                return LookupError::Kind("SSLError");
            }
            source = s.source();
        }
        LookupError::Kind("ConnectionError")
    }
}

/// Looks up a secret with the backend of the external type `namespace`, within the
/// plugins' own 30 s budget (plus a margin for the calls a lookup chains).
pub async fn lookup(namespace: &str, kwargs: &Kwargs) -> Result<SecretString, LookupError> {
    lookup_within(namespace, kwargs, LOOKUP_TIMEOUT + Duration::from_secs(5)).await
}

/// [`lookup`] with an overall time limit: a backend that accepts the connection and then
/// never answers fails with `Timeout` when `limit` has passed.
pub async fn lookup_within(
    namespace: &str,
    kwargs: &Kwargs,
    limit: Duration,
) -> Result<SecretString, LookupError> {
    egress::check_literal_addresses(kwargs)?;
    let work = async {
        match namespace {
            "hashivault_kv" => hashivault::kv_lookup(kwargs).await,
            "hashivault_ssh" => vault_ssh::lookup(kwargs).await,
            "aws_secretsmanager_credential" => aws::lookup(kwargs).await,
            "azure_kv" => azure::lookup(kwargs).await,
            "aim" => aim::lookup(kwargs).await,
            "conjur" => conjur::lookup(kwargs).await,
            "centrify_vault_kv" => centrify::lookup(kwargs).await,
            "thycotic_tss" => thycotic::tss_lookup(kwargs).await,
            "thycotic_dsv" => thycotic::dsv_lookup(kwargs).await,
            "github_app_lookup" => github_app::lookup(kwargs).await,
            _ => Err(LookupError::Kind("NotImplementedError")),
        }
    };
    let started = std::time::Instant::now();
    let result = match tokio::time::timeout(limit, work).await {
        Ok(result) => result,
        Err(_) => Err(LookupError::Timeout("The secret lookup timed out.".into())),
    };
    let outcome = match &result {
        Ok(_) => "ok",
        Err(LookupError::Http(_)) => "http",
        Err(LookupError::Timeout(_)) => "timeout",
        Err(LookupError::Kind(_)) => "error",
    };
    crate::metrics::metrics().lookup(namespace, outcome, started.elapsed());
    result
}

/// An HTTP client for one lookup: timeouts on every call, no redirects followed (AWX
/// reports a redirect as `HTTP 3xx`), optional CA and client certificate.
pub fn client(
    ca_pem: Option<&str>,
    identity_pem: Option<String>,
) -> Result<reqwest::Client, LookupError> {
    let mut b = egress::guard(reqwest::Client::builder())
        .timeout(LOOKUP_TIMEOUT)
        .connect_timeout(LOOKUP_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .use_rustls_tls();
    if let Some(ca) = ca_pem.filter(|c| !c.trim().is_empty()) {
        let cert = reqwest::Certificate::from_pem(ca.as_bytes())
            .map_err(|_| LookupError::Kind("SSLError"))?;
        b = b.add_root_certificate(cert);
    }
    if let Some(id) = identity_pem {
        let identity = reqwest::Identity::from_pem(id.as_bytes())
            .map_err(|_| LookupError::Kind("SSLError"))?;
        b = b.identity(identity);
    }
    b.build().map_err(|_| LookupError::Kind("SSLError"))
}

/// Python's `value[key]` on decoded JSON: `KeyError` for a missing key of an object,
/// `TypeError` when the value is not an object at all.
pub(crate) fn subscript<'a>(value: &'a Value, key: &str) -> Result<&'a Value, LookupError> {
    match value {
        Value::Object(map) => map.get(key).ok_or(LookupError::Kind("KeyError")),
        _ => Err(LookupError::Kind("TypeError")),
    }
}

/// A looked-up JSON value as the secret text: strings as they are, anything else as JSON.
pub(crate) fn render(value: &Value) -> SecretString {
    match value {
        Value::String(s) => SecretString::from(s.clone()),
        other => SecretString::from(other.to_string()),
    }
}

/// How many redirects a `requests`-based plugin follows.
const MAX_REDIRECTS: usize = 30;

/// Redirects followed like `requests` does, but never to another host (an http → https
/// upgrade of the same host is allowed), so credentials in a request body stay with the
/// configured server.
pub(crate) fn same_host_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let previous = attempt.previous();
        if previous.len() > MAX_REDIRECTS {
            return attempt.error("TooManyRedirects");
        }
        let allowed = previous.first().is_some_and(|first| {
            let next = attempt.url();
            first.origin() == next.origin()
                || (first.host_str() == next.host_str()
                    && first.scheme() == "http"
                    && next.scheme() == "https")
        });
        if allowed {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

/// Fails with `HTTP <status>` for anything but a 2xx answer.
pub fn check_status(r: &reqwest::Response) -> Result<(), LookupError> {
    let status = r.status().as_u16();
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(LookupError::Http(status))
    }
}
