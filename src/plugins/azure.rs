//! Microsoft Azure Key Vault lookups (`azure_kv`): a secret (latest or a
//! given version) read with the Key Vault REST API 7.4, authenticated with a service
//! principal's client secret or, when tenant/client/secret are not all given, the managed
//! identity of the Azure VM (IMDS), as awx-plugins-core 0.2.0a0 does.
//!
//! The wire flow is the SDK's: the first read of a vault is sent without a token; the
//! vault's `401` `WWW-Authenticate: Bearer authorization=".../{tenant}", resource=...` (or
//! `scope=`) challenge names the token scope and tenant, and is remembered per vault for
//! the life of the process, so later reads fetch a token first. The challenge's resource
//! must be a parent domain of the vault host (else `ValueError`), its tenant must be the
//! credential's, and vault URLs must be `https`.
//!
//! The client secret only ever goes to the login host chosen from configuration, never to
//! one named by a server. That host is, in order:
//! * `CREDSTORE_AZURE_AUTHORITY_HOST`, then `AZURE_AUTHORITY_HOST` (azure-identity's own
//!   variable), read at every lookup — tests point these at a local double;
//! * the cloud of a well-known vault DNS suffix (`*.vault.azure.net` is AzureCloud, ...);
//! * the credential's `cloud_name` (`AzureCloud`, `AzureChinaCloud`, `AzureUSGovernment`,
//!   `AzureGermanCloud`); absent, empty or unknown means `AzureCloud`.
//!
//! Other environment read at every lookup: `AZURE_POD_IDENTITY_AUTHORITY_HOST` (the IMDS
//! base URL, default `http://169.254.169.254`), `AZURE_CLIENT_ID` (a user-assigned managed
//! identity), `REQUESTS_CA_BUNDLE` then `CURL_CA_BUNDLE` (a PEM file of extra trusted CAs,
//! as the Python SDK's HTTP library honours them).
//!
//! Errors: the Python plugin wraps every Azure SDK failure (not found, forbidden, bad
//! client secret, unreachable vault, ...) in `RuntimeError`; configuration mistakes the
//! SDK rejects before any call are `ValueError`, missing inputs `KeyError`. Transient
//! failures (connection refused, 408/429/5xx) are retried like azure-core does.

use super::{client, Kwargs, LookupError, LOOKUP_TIMEOUT};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// The Key Vault REST API version of the SDK AWX pins (azure-keyvault-secrets 4.7.0).
const API_VERSION: &str = "7.4";
const IMDS_API_VERSION: &str = "2018-02-01";
const DEFAULT_IMDS: &str = "http://169.254.169.254";
/// Retries after the first attempt, as azure-core's default policy.
const RETRIES: u32 = 3;
const RETRY_STATUSES: &[u16] = &[408, 429, 500, 502, 503, 504];
/// Vaults whose challenge is remembered at most (the cache starts over beyond).
const MAX_CACHED_CHALLENGES: usize = 1024;

/// The clouds `cloud_name` chooses from (AzureCloud first: the default), with the DNS
/// suffix of their vaults and their Azure AD login host.
const CLOUDS: &[(&str, &str, &str)] = &[
    (
        "AzureCloud",
        ".vault.azure.net",
        "https://login.microsoftonline.com",
    ),
    (
        "AzureChinaCloud",
        ".vault.azure.cn",
        "https://login.chinacloudapi.cn",
    ),
    (
        "AzureUSGovernment",
        ".vault.usgovcloudapi.net",
        "https://login.microsoftonline.us",
    ),
    (
        "AzureGermanCloud",
        ".vault.microsoftazure.de",
        "https://login.microsoftonline.de",
    ),
];

fn runtime_error() -> LookupError {
    LookupError::Kind("RuntimeError")
}

/// What a vault's authentication challenge asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Challenge {
    scope: String,
    tenant: Option<String>,
}

/// Challenges seen per vault (scheme-less `host[:port]`), for the life of the process.
fn challenges() -> &'static Mutex<HashMap<String, Challenge>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Challenge>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn cached_challenge(vault: &str) -> Option<Challenge> {
    challenges()
        .lock()
        .ok()
        .and_then(|cache| cache.get(vault).cloned())
}

fn remember_challenge(vault: &str, challenge: &Challenge) {
    if let Ok(mut cache) = challenges().lock() {
        // Bounded: answers from many distinct hosts must not grow it without limit.
        if cache.len() >= MAX_CACHED_CHALLENGES && !cache.contains_key(vault) {
            cache.clear();
        }
        cache.insert(vault.to_string(), challenge.clone());
    }
}

/// Who asks for the token.
enum Identity<'a> {
    ServicePrincipal {
        tenant: &'a str,
        client: &'a str,
        secret: &'a str,
    },
    ManagedIdentity,
}

/// Service principal when tenant, client and secret are all given, else managed identity.
fn identity(kw: &Kwargs) -> Result<Identity<'_>, LookupError> {
    match (
        kw.non_empty("tenant"),
        kw.non_empty("client"),
        kw.non_empty("secret"),
    ) {
        (Some(tenant), Some(client), Some(secret)) => {
            // azure-identity refuses tenant ids that could not be a URL path segment.
            if !tenant
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            {
                return Err(LookupError::Kind("ValueError"));
            }
            Ok(Identity::ServicePrincipal {
                tenant,
                client,
                secret,
            })
        }
        // The server's own Azure identity is lent to credentials without a client secret
        // only when the operator opts in: otherwise anyone allowed to create an `azure_kv`
        // credential could read whatever the server's identity can.
        _ if managed_identity_allowed() => Ok(Identity::ManagedIdentity),
        _ => Err(LookupError::Kind("ValueError")),
    }
}

/// `CREDSTORE_AZURE_MANAGED_IDENTITY=1` lets credentials without a client secret use the
/// VM's managed identity (awx-plugins 0.2.0a0 does so unconditionally).
fn managed_identity_allowed() -> bool {
    std::env::var("CREDSTORE_AZURE_MANAGED_IDENTITY")
        .is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// Reads one secret's value.
pub async fn lookup(kw: &Kwargs) -> Result<SecretString, LookupError> {
    let vault = kw.require("url")?;
    let name = kw.require("secret_field")?;
    let version = kw.get("secret_version").unwrap_or_default();
    let identity = identity(kw)?;
    let base = vault.trim_matches(|c| c == ' ' || c == '/');
    if base.is_empty() {
        return Err(LookupError::Kind("ValueError"));
    }
    let target = url::Url::parse(&format!(
        "{base}/secrets/{}/{}?api-version={API_VERSION}",
        encode_segment(name),
        encode_segment(version)
    ))
    .map_err(|_| runtime_error())?;
    if target.scheme() != "https" {
        // The SDK refuses bearer authentication over plain HTTP.
        return Err(runtime_error());
    }
    let vault_key = host_and_port(&target);
    let http = client(ca_bundle()?.as_deref(), None).map_err(|_| runtime_error())?;

    let mut challenge = match cached_challenge(&vault_key) {
        Some(c) => c,
        None => {
            let first = send(|| http.get(target.clone())).await?;
            if first.status().is_success() {
                return secret_value(first).await;
            }
            let c = challenge_of(&first, base)?.ok_or_else(runtime_error)?;
            remember_challenge(&vault_key, &c);
            c
        }
    };
    let mut challenged_again = false;
    loop {
        let token = token(&http, &identity, &challenge, &target, kw).await?;
        let answer = send(|| http.get(target.clone()).bearer_auth(token.expose_secret())).await?;
        if answer.status().is_success() {
            return secret_value(answer).await;
        }
        // A new challenge (tenant moved, claims required) gets one more try, as the SDK.
        if answer.status().as_u16() == 401 && !challenged_again {
            if let Some(c) = challenge_of(&answer, base)? {
                remember_challenge(&vault_key, &c);
                challenge = c;
                challenged_again = true;
                continue;
            }
        }
        let status = answer.status().as_u16();
        let code = error_code(answer).await.unwrap_or_default();
        tracing::debug!(status, code, "Azure Key Vault refused the read");
        return Err(runtime_error());
    }
}

/// Percent-encodes one path segment (everything but RFC 3986 unreserved characters).
fn encode_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn host_and_port(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    }
}

/// The authority part of a URL as written (Python's `urlparse(...).netloc`).
fn netloc(url: &str) -> &str {
    let rest = url.split_once("://").map_or("", |(_, rest)| rest);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    &rest[..end]
}

/// Extra trusted CAs from `REQUESTS_CA_BUNDLE` / `CURL_CA_BUNDLE` (a PEM file).
fn ca_bundle() -> Result<Option<String>, LookupError> {
    let path = ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()));
    match path {
        Some(p) => std::fs::read_to_string(p.trim())
            .map(Some)
            .map_err(|_| LookupError::Kind("OSError")),
        None => Ok(None),
    }
}

/// Sends a request, retrying connection failures and transient statuses.
async fn send(
    request: impl Fn() -> reqwest::RequestBuilder,
) -> Result<reqwest::Response, LookupError> {
    let mut retries = 0;
    loop {
        let transient = match request().send().await {
            Ok(r) if RETRY_STATUSES.contains(&r.status().as_u16()) && retries < RETRIES => true,
            Ok(r) => return Ok(r),
            Err(e) if e.is_connect() && !e.is_timeout() && retries < RETRIES => true,
            Err(e) => {
                tracing::debug!(error = %e, "Azure request failed");
                return Err(runtime_error());
            }
        };
        if transient {
            retries += 1;
            // azure-core: no wait before the first retry, then 0.8 s doubling.
            if retries > 1 {
                let seconds = 0.8 * f64::from(1u32 << (retries - 1).min(5));
                tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
            }
        }
    }
}

/// The Bearer challenge of a `401` answer: `Ok(None)` when there is none to act on,
/// `ValueError` when it names a resource the vault host is not part of.
fn challenge_of(
    answer: &reqwest::Response,
    vault_base: &str,
) -> Result<Option<Challenge>, LookupError> {
    if answer.status().as_u16() != 401 {
        return Ok(None);
    }
    let Some(header) = answer
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(None);
    };
    let Some(params) = challenge_parameters(header) else {
        return Ok(None);
    };
    let Some(authorization) = params
        .get("authorization")
        .or_else(|| params.get("authorization_uri"))
    else {
        return Ok(None);
    };
    let tenant = url::Url::parse(authorization).ok().and_then(|u| {
        u.path_segments()
            .and_then(|mut s| s.next().map(str::to_string))
            .filter(|t| !t.is_empty())
    });
    let scope = match params.get("scope").filter(|s| !s.is_empty()) {
        Some(scope) => scope.clone(),
        None => {
            let resource = params
                .get("resource")
                .or_else(|| params.get("resource_id"))
                .map(String::as_str)
                .unwrap_or_default();
            format!("{resource}/.default")
        }
    };
    let resource_domain = netloc(&scope).to_ascii_lowercase();
    let vault_domain = netloc(vault_base).to_ascii_lowercase();
    if resource_domain.is_empty() || !vault_domain.ends_with(&format!(".{resource_domain}")) {
        tracing::debug!(
            resource = resource_domain.as_str(),
            "Key Vault challenge resource does not match the vault host"
        );
        return Err(LookupError::Kind("ValueError"));
    }
    Ok(Some(Challenge { scope, tenant }))
}

/// The `name=value` parameters of a `Bearer` challenge (values unquoted).
fn challenge_parameters(header: &str) -> Option<HashMap<String, String>> {
    let trimmed = header.trim();
    let (scheme, rest) = trimmed.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut params = HashMap::new();
    for item in rest.split(',') {
        let parts: Vec<&str> = item.split('=').collect();
        if let [key, value] = parts.as_slice() {
            let key = key.trim_matches(|c| c == ' ' || c == '"');
            let value = value.trim_matches(|c| c == ' ' || c == '"');
            if !key.is_empty() {
                params.insert(key.to_string(), value.to_string());
            }
        }
    }
    (!params.is_empty()).then_some(params)
}

/// An access token for the challenge's scope.
async fn token(
    http: &reqwest::Client,
    identity: &Identity<'_>,
    challenge: &Challenge,
    target: &url::Url,
    kw: &Kwargs,
) -> Result<SecretString, LookupError> {
    match identity {
        Identity::ServicePrincipal {
            tenant,
            client,
            secret,
        } => {
            // azure-identity only serves the tenant it was built for.
            if challenge.tenant.as_deref().is_some_and(|t| t != *tenant) {
                tracing::debug!("Key Vault challenge names another tenant");
                return Err(runtime_error());
            }
            let authority = authority(
                target.host_str().unwrap_or_default(),
                kw.get("cloud_name"),
                |name| std::env::var(name).ok(),
            )?;
            let body = form_urlencoded::Serializer::new(String::new())
                .append_pair("client_id", client)
                .append_pair("client_secret", secret)
                .append_pair("grant_type", "client_credentials")
                .append_pair("scope", &challenge.scope)
                .finish();
            let url = format!("{authority}/{tenant}/oauth2/v2.0/token");
            let answer = send(|| {
                http.post(&url)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(body.clone())
            })
            .await?;
            access_token(answer).await
        }
        Identity::ManagedIdentity => {
            let resource = challenge
                .scope
                .strip_suffix("/.default")
                .unwrap_or(&challenge.scope);
            let base = std::env::var("AZURE_POD_IDENTITY_AUTHORITY_HOST")
                .ok()
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_IMDS.to_string());
            let mut url = url::Url::parse(&format!(
                "{}/metadata/identity/oauth2/token",
                base.trim().trim_end_matches('/')
            ))
            .map_err(|_| runtime_error())?;
            url.query_pairs_mut()
                .append_pair("api-version", IMDS_API_VERSION)
                .append_pair("resource", resource);
            if let Some(id) = std::env::var("AZURE_CLIENT_ID")
                .ok()
                .filter(|v| !v.is_empty())
            {
                url.query_pairs_mut().append_pair("client_id", &id);
            }
            // Off Azure the metadata address does not answer: give up quickly, no proxy.
            let imds = reqwest::Client::builder()
                .no_proxy()
                .connect_timeout(Duration::from_secs(2))
                .timeout(LOOKUP_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|_| runtime_error())?;
            let answer = imds
                .get(url)
                .header("Metadata", "true")
                .send()
                .await
                .map_err(|e| {
                    tracing::debug!(error = %e, "no managed identity endpoint (not on an Azure VM?)");
                    runtime_error()
                })?;
            access_token(answer).await
        }
    }
}

/// The login host for a vault: configured, else by vault DNS suffix, else by cloud name.
fn authority(
    vault_host: &str,
    cloud_name: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<String, LookupError> {
    let configured = ["CREDSTORE_AZURE_AUTHORITY_HOST", "AZURE_AUTHORITY_HOST"]
        .iter()
        .find_map(|name| env(name).filter(|v| !v.trim().is_empty()));
    if let Some(host) = configured {
        let host = host.trim().trim_end_matches('/');
        let lower = host.to_ascii_lowercase();
        return if lower.starts_with("https://") {
            Ok(host.to_string())
        } else if lower.starts_with("http://") {
            // azure-identity only talks to TLS-protected authorities.
            Err(LookupError::Kind("ValueError"))
        } else {
            Ok(format!("https://{host}"))
        };
    }
    let vault_host = vault_host.to_ascii_lowercase();
    let by_vault = CLOUDS
        .iter()
        .find(|(_, suffix, _)| vault_host.ends_with(suffix));
    let by_name = CLOUDS.iter().find(|(name, _, _)| Some(*name) == cloud_name);
    let (_, _, login) = by_vault.or(by_name).unwrap_or(&CLOUDS[0]);
    Ok((*login).to_string())
}

/// The `access_token` of a token answer; anything else is the SDK's authentication error.
async fn access_token(answer: reqwest::Response) -> Result<SecretString, LookupError> {
    if !answer.status().is_success() {
        let status = answer.status().as_u16();
        let code = error_code(answer).await.unwrap_or_default();
        tracing::debug!(status, code, "Azure token request refused");
        return Err(runtime_error());
    }
    let body: Value = answer.json().await.map_err(|_| runtime_error())?;
    body.get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(|t| SecretString::from(t.to_string()))
        .ok_or_else(runtime_error)
}

/// The `value` of a secret bundle.
async fn secret_value(answer: reqwest::Response) -> Result<SecretString, LookupError> {
    let body: Value = answer.json().await.map_err(|_| runtime_error())?;
    body.get("value")
        .and_then(Value::as_str)
        .map(|v| SecretString::from(v.to_string()))
        .ok_or_else(runtime_error)
}

/// The error code of an Azure error body (`{"error": {"code": ...}}` or
/// `{"error": "invalid_client"}`), for logs.
async fn error_code(answer: reqwest::Response) -> Option<String> {
    let body: Value = answer.json().await.ok()?;
    let error = body.get("error")?;
    error
        .get("code")
        .and_then(Value::as_str)
        .or_else(|| error.as_str())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse_like_the_sdk() {
        let p = challenge_parameters(
            r#"Bearer authorization="https://login.microsoftonline.com/t1", resource="https://vault.azure.net""#,
        )
        .unwrap();
        assert_eq!(p["authorization"], "https://login.microsoftonline.com/t1");
        assert_eq!(p["resource"], "https://vault.azure.net");
        let p = challenge_parameters(
            r#"Bearer authorization_uri="https://login.microsoftonline.com/t1/", scope="https://vault.azure.net/.default""#,
        )
        .unwrap();
        assert_eq!(p["scope"], "https://vault.azure.net/.default");
        assert!(challenge_parameters("Basic realm=\"x\"").is_none());
        assert!(challenge_parameters("Bearer").is_none());
    }

    #[test]
    fn authorities_come_from_configuration_never_from_servers() {
        let none = |_: &str| None;
        assert_eq!(
            authority("myvault.vault.azure.net", Some("AzureChinaCloud"), none).unwrap(),
            "https://login.microsoftonline.com",
            "the vault's DNS suffix wins over a (possibly defaulted) cloud name"
        );
        assert_eq!(
            authority("v.vault.usgovcloudapi.net", None, none).unwrap(),
            "https://login.microsoftonline.us"
        );
        assert_eq!(
            authority("vault.internal", Some("AzureChinaCloud"), none).unwrap(),
            "https://login.chinacloudapi.cn"
        );
        assert_eq!(
            authority("vault.internal", Some(""), none).unwrap(),
            "https://login.microsoftonline.com"
        );
        let ours = |name: &str| match name {
            "CREDSTORE_AZURE_AUTHORITY_HOST" => Some("https://127.0.0.1:8443/".to_string()),
            _ => Some("https://other".to_string()),
        };
        assert_eq!(
            authority("v.vault.azure.net", None, ours).unwrap(),
            "https://127.0.0.1:8443"
        );
        let sdk =
            |name: &str| (name == "AZURE_AUTHORITY_HOST").then(|| "login.example".to_string());
        assert_eq!(
            authority("v.vault.azure.net", None, sdk).unwrap(),
            "https://login.example"
        );
        let plain = |name: &str| (name == "AZURE_AUTHORITY_HOST").then(|| "http://x".to_string());
        assert_eq!(
            authority("v", None, plain),
            Err(LookupError::Kind("ValueError"))
        );
    }

    #[test]
    fn paths_and_hosts() {
        assert_eq!(encode_segment("db/pass word"), "db%2Fpass%20word");
        assert_eq!(
            netloc("https://Vault.azure.net:443/x?y"),
            "Vault.azure.net:443"
        );
        assert_eq!(netloc("https://0.0.1:8443/.default"), "0.0.1:8443");
        assert_eq!(netloc("/.default"), "");
        let url = url::Url::parse("https://V.vault.azure.net:443/secrets/a/").unwrap();
        assert_eq!(host_and_port(&url), "v.vault.azure.net");
    }

    #[test]
    fn identities() {
        let mut kw = Kwargs::default();
        for (k, v) in [("tenant", "t-1"), ("client", "c"), ("secret", "s")] {
            kw.set_json(k, &Value::String(v.into()));
        }
        assert!(matches!(
            identity(&kw),
            Ok(Identity::ServicePrincipal { tenant: "t-1", .. })
        ));
        kw.set_json("tenant", &Value::String("bad/tenant".into()));
        assert!(matches!(
            identity(&kw),
            Err(LookupError::Kind("ValueError"))
        ));
        kw.set_json("client", &Value::String(String::new()));
        std::env::remove_var("CREDSTORE_AZURE_MANAGED_IDENTITY");
        assert!(
            matches!(identity(&kw), Err(LookupError::Kind("ValueError"))),
            "opt-in only"
        );
        std::env::set_var("CREDSTORE_AZURE_MANAGED_IDENTITY", "1");
        assert!(matches!(identity(&kw), Ok(Identity::ManagedIdentity)));
        std::env::remove_var("CREDSTORE_AZURE_MANAGED_IDENTITY");
    }
}
