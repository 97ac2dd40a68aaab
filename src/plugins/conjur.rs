//! CyberArk Conjur lookups (`conjur`): the API key is exchanged for an
//! access token at `authn/{account}/{login}/authenticate`, then the variable is read from
//! `secrets/{account}/variable/{id}` with `Authorization: Token token="<base64 token>"`.
//! Each call that fails with an HTTP error (4xx/5xx) is retried once under `api/` (Conjur
//! Cloud); the second answer is final. Identifiers are escaped completely (`/` → `%2F`,
//! space → `%20`).

use super::aim::{quote, urljoin};
use super::{check_status, client, Kwargs, LookupError};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::header::{HeaderValue, ACCEPT_ENCODING, AUTHORIZATION, CONTENT_TYPE};
use secrecy::SecretString;
use zeroize::Zeroizing;

/// Whether a token is already base64 (the plugin's test: decoding then re-encoding gives
/// the same text back).
fn is_base64(token: &str) -> bool {
    STANDARD
        .decode(token)
        .map(|raw| STANDARD.encode(raw) == token)
        .unwrap_or(false)
}

/// `requests.Response.raise_for_status()`: only 4xx and 5xx count as HTTP errors (a 3xx
/// does not trigger the Conjur Cloud retry; it is reported afterwards as `HTTP 3xx`).
fn is_http_error(resp: &reqwest::Response) -> bool {
    resp.status().as_u16() >= 400
}

async fn authenticate(
    http: &reqwest::Client,
    url: &str,
    api_key: &str,
) -> Result<reqwest::Response, LookupError> {
    http.post(url)
        .header(CONTENT_TYPE, "text/plain")
        .header(ACCEPT_ENCODING, "base64")
        .body(api_key.to_string())
        .send()
        .await
        .map_err(|e| LookupError::from_transport(&e))
}

async fn read(
    http: &reqwest::Client,
    url: &str,
    authorization: &HeaderValue,
) -> Result<reqwest::Response, LookupError> {
    http.get(url)
        .header(AUTHORIZATION, authorization.clone())
        .send()
        .await
        .map_err(|e| LookupError::from_transport(&e))
}

/// Reads one variable from Conjur.
pub async fn lookup(kw: &Kwargs) -> Result<SecretString, LookupError> {
    let base = kw.require("url")?;
    let api_key = kw.require("api_key")?;
    let account = quote(kw.require("account")?);
    let username = quote(kw.require("username")?);
    let secret_path = quote(kw.require("secret_path")?);
    let version = kw.non_empty("secret_version");
    // `requests` only loads the CA file for HTTPS connections.
    let cacert = kw
        .non_empty("cacert")
        .filter(|_| base.trim_start().to_ascii_lowercase().starts_with("https:"));
    let http = client(cacert, None)?;

    let authn = urljoin(base, &format!("authn/{account}/{username}/authenticate"))?;
    let mut resp = authenticate(&http, &authn, api_key).await?;
    if is_http_error(&resp) {
        let cloud = urljoin(
            base,
            &format!("api/authn/{account}/{username}/authenticate"),
        )?;
        resp = authenticate(&http, &cloud, api_key).await?;
    }
    if let Err(e) = check_status(&resp) {
        tracing::info!(reason = %e, "Conjur authentication failed");
        return Err(e);
    }
    let raw = Zeroizing::new(
        resp.bytes()
            .await
            .map_err(|e| LookupError::from_transport(&e))?
            .to_vec(),
    );
    let token = std::str::from_utf8(&raw).map_err(|_| LookupError::Kind("UnicodeDecodeError"))?;
    let header = Zeroizing::new(if is_base64(token) {
        format!("Token token=\"{token}\"")
    } else {
        format!("Token token=\"{}\"", STANDARD.encode(token))
    });
    let mut authorization =
        HeaderValue::from_str(&header).map_err(|_| LookupError::Kind("InvalidHeader"))?;
    authorization.set_sensitive(true);

    let mut path = urljoin(base, &format!("secrets/{account}/variable/{secret_path}"))?;
    let mut cloud = urljoin(
        base,
        &format!("api/secrets/{account}/variable/{secret_path}"),
    )?;
    if let Some(v) = version {
        path = format!("{path}?version={v}");
        cloud = format!("{cloud}?version={v}");
    }
    let mut resp = read(&http, &path, &authorization).await?;
    if is_http_error(&resp) {
        resp = read(&http, &cloud, &authorization).await?;
    }
    if let Err(e) = check_status(&resp) {
        tracing::info!(reason = %e, "Conjur secret read failed");
        return Err(e);
    }
    let text = resp
        .text()
        .await
        .map_err(|e| LookupError::from_transport(&e))?;
    Ok(SecretString::from(text))
}
