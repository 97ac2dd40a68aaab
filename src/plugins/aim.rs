//! CyberArk Central Credential Provider lookups (`aim`): one `GET` of
//! `{url}/{webservice_id}/api/Accounts` with the application id and the object query in the
//! query string, an optional TLS client certificate, and a property picked out of the JSON
//! answer. Also home of the helpers the Conjur and Vault SSH backends share: Python-compatible
//! `quote`/`urljoin`, JSON subscripting with Python's error classes, and the classification
//! of TLS alerts as `SSLError`.

use super::{check_status, render, subscript, Kwargs, LookupError, LOOKUP_TIMEOUT};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use secrecy::SecretString;
use serde_json::Value;

/// The web service id used when the credential leaves it blank.
const DEFAULT_WEBSERVICE_ID: &str = "AIMWebService";

/// What Python's `urllib.parse.quote(s, safe='')` leaves alone: ASCII letters, digits, `_.-~`.
const QUOTE_ALL: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~');

/// Python's `quote(s, safe='')`: UTF-8, every byte but the unreserved ones escaped (a space
/// becomes `%20`, `/` becomes `%2F`).
pub(super) fn quote(s: &str) -> String {
    utf8_percent_encode(s, QUOTE_ALL).to_string()
}

/// Parses a base URL, failing the way `requests` does for URLs it cannot send.
fn parse_base(base: &str) -> Result<url::Url, LookupError> {
    match url::Url::parse(base) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(u),
        Ok(_) => Err(LookupError::Kind("InvalidSchema")),
        Err(url::ParseError::RelativeUrlWithoutBase) => Err(LookupError::Kind("MissingSchema")),
        Err(_) => Err(LookupError::Kind("InvalidURL")),
    }
}

/// Python's `urllib.parse.urljoin(base, relative)` for the relative references the plugins
/// build: the last segment of the base path is dropped unless the base ends in `/`, empty
/// segments in the middle of the result are removed, `.`/`..` are resolved, and the base's
/// query and fragment are discarded. Anything that is not a plain relative path (absolute
/// path, scheme, query, fragment) is resolved with RFC 3986 rules, as Python does.
pub(super) fn urljoin(base: &str, relative: &str) -> Result<String, LookupError> {
    let mut url = parse_base(base)?;
    if relative.is_empty() {
        return Ok(url.to_string());
    }
    let first_segment = relative.split('/').next().unwrap_or_default();
    let plain = !relative.starts_with('/')
        && !first_segment.contains(':')
        && !relative.contains(['?', '#']);
    if !plain {
        let joined = url
            .join(relative)
            .map_err(|_| LookupError::Kind("InvalidURL"))?;
        return parse_base(joined.as_str()).map(String::from);
    }
    let mut segments: Vec<&str> = url.path().split('/').collect();
    if segments.last().is_some_and(|s| !s.is_empty()) {
        segments.pop();
    }
    segments.extend(relative.split('/'));
    let last = segments.len().saturating_sub(1);
    let kept = segments
        .iter()
        .enumerate()
        .filter(|(i, s)| *i == 0 || *i == last || !s.is_empty())
        .map(|(_, s)| *s);
    let mut resolved: Vec<&str> = Vec::new();
    for segment in kept {
        match segment {
            ".." => {
                resolved.pop();
            }
            "." => {}
            other => resolved.push(other),
        }
    }
    if matches!(segments.last(), Some(&".") | Some(&"..")) {
        resolved.push("");
    }
    let path = resolved.join("/");
    url.set_path(if path.is_empty() { "/" } else { &path });
    url.set_query(None);
    url.set_fragment(None);
    Ok(url.to_string())
}

/// Whether `verify` asks for certificate checks. AWX's plugin reads the key unconditionally
/// (`KeyError` when the credential never stored it); the field's default, true, is used
/// instead. Falsy values (JSON `false`, `0`, empty) disable the checks.
fn verify(kw: &Kwargs) -> bool {
    !matches!(kw.get("verify"), Some("false" | "False" | "0" | ""))
}

/// The client-certificate PEM (`client_cert`, newline, `client_key`), when a certificate is set.
fn identity_pem(kw: &Kwargs) -> Option<String> {
    let cert = kw.non_empty("client_cert")?;
    Some(match kw.non_empty("client_key") {
        Some(key) => format!("{cert}\n{key}"),
        None => cert.to_string(),
    })
}

/// The HTTP client: the framework's settings (timeouts, no redirects, rustls) plus the
/// client certificate and, when `verify` is false, no certificate or host name checks. The
/// CCP field set has no CA input: the built-in trust store is used.
fn http_client(
    verify: bool,
    identity: Option<reqwest::Identity>,
) -> Result<reqwest::Client, LookupError> {
    let mut b = super::egress::guard(reqwest::Client::builder())
        .timeout(LOOKUP_TIMEOUT)
        .connect_timeout(LOOKUP_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .use_rustls_tls()
        .danger_accept_invalid_certs(!verify);
    if let Some(identity) = identity {
        b = b.identity(identity);
    }
    b.build().map_err(|_| LookupError::Kind("SSLError"))
}

/// The query string, `urlencode(..., quote_via=quote)`: `AppId`, `Query`, `QueryFormat` and
/// `reason` (only when non-empty), values fully escaped. `mask` replaces the sensitive values
/// with `****`, as the plugin does in its error text.
fn query_string(
    app_id: &str,
    query: &str,
    format: &str,
    reason: Option<&str>,
    mask: bool,
) -> String {
    let value = |v: &str| if mask { "****".to_string() } else { quote(v) };
    let mut out = format!(
        "AppId={}&Query={}&QueryFormat={}",
        value(app_id),
        value(query),
        quote(format)
    );
    if let Some(r) = reason {
        out.push_str(&format!("&reason={}", value(r)));
    }
    out
}

/// The JSON member an `object_property` names: empty or `password` → `Content`, `username`
/// → `UserName`, `address` → `Address` (any case). Any other property fails with `KeyError`
/// even when the answer has it: the plugin's membership test can never succeed.
fn member(property: &str) -> Result<&'static str, LookupError> {
    match property.to_lowercase().as_str() {
        "" | "password" => Ok("Content"),
        "username" => Ok("UserName"),
        "address" => Ok("Address"),
        _ => Err(LookupError::Kind("KeyError")),
    }
}

/// Fetches one account property from the Central Credential Provider.
pub async fn lookup(kw: &Kwargs) -> Result<SecretString, LookupError> {
    let base = kw.require("url")?;
    let verify = verify(kw);
    let webservice_id = match kw.get("webservice_id") {
        None | Some("") => DEFAULT_WEBSERVICE_ID,
        Some(id) => id,
    };
    let app_id = kw.require("app_id")?;
    let object_query = kw.require("object_query")?;
    // AWX reads this one unconditionally too (`KeyError`); the field's default is used.
    let format = kw.get("object_query_format").unwrap_or("Exact");
    let property = kw.get("object_property").unwrap_or_default();
    let reason = kw.non_empty("reason");

    let endpoint = urljoin(base, &format!("{webservice_id}/api/Accounts"))?;
    let url = format!(
        "{endpoint}?{}",
        query_string(app_id, object_query, format, reason, false)
    );
    // `requests` only loads the certificate file for HTTPS connections.
    let identity = match identity_pem(kw) {
        Some(pem) if endpoint.starts_with("https:") => Some(
            reqwest::Identity::from_pem(pem.as_bytes())
                .map_err(|_| LookupError::Kind("SSLError"))?,
        ),
        _ => None,
    };
    let http = http_client(verify, identity)?;
    let resp = http
        .get(&url)
        .send()
        .await
        .map_err(|e| LookupError::from_transport(&e))?;
    if let Err(e) = check_status(&resp) {
        tracing::info!(
            url = %format!("{endpoint}?{}", query_string(app_id, object_query, format, reason, true)),
            reason = %e,
            "CyberArk CCP lookup failed"
        );
        return Err(e);
    }
    let member = member(property)?;
    let body: Value = resp
        .json()
        .await
        .map_err(|_| LookupError::Kind("JSONDecodeError"))?;
    subscript(&body, member).map(render)
}
