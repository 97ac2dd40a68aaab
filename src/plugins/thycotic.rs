//! Thycotic (Delinea) lookups: Secret Server (`thycotic_tss`, the wire protocol of
//! python-tss-sdk 1.2.2 that AWX pins) and DevOps Secrets Vault (`thycotic_dsv`,
//! python-dsv-sdk 1.0.4).
//!
//! Failures carry the class names the SDKs raise:
//! * Secret Server: `SecretServerClientError` (any 4xx), `SecretServerServiceError` (any
//!   other non-2xx), `SecretServerError` (a body that is not JSON), `KeyError` (missing
//!   input, `access_token`, `items` or field), `AttributeError` (the field has no text
//!   value).
//! * DevOps Secrets Vault: `SecretsVaultAccessError` (a 4xx whose JSON body has a
//!   `message`), `SecretsVaultError` (any other non-2xx, or a 2xx that is not JSON),
//!   `KeyError` (missing input, `accessToken`, `data` or field), and for `Decode Base64`
//!   the errors of Python's `b64decode(...).decode()`: `Error` (bad padding), `ValueError`
//!   (non-ASCII text), `TypeError` (not a string), `UnicodeDecodeError` (not UTF-8).
//!
//! Like the `requests` library under both SDKs, redirects are followed, but only within the
//! same host (http may upgrade to https): a redirect elsewhere is not followed, so a
//! password or client secret in a request body never leaves the configured server.

use super::{render, same_host_redirects, subscript as index, Kwargs, LookupError, LOOKUP_TIMEOUT};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::Value;

/// Overrides the DevOps Secrets Vault base URL (tests, proxies, private deployments).
const DSV_BASE_URL_ENV: &str = "CREDSTORE_DSV_BASE_URL";

/// The top-level domains a DevOps Secrets Vault tenant can live under (the `tld` choices).
const DSV_TLDS: [&str; 4] = ["ca", "com", "com.au", "eu"];

/// Characters escaped in one URL path segment.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// Characters escaped in a multi-segment path (`/` kept).
const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

fn kind(name: &'static str) -> LookupError {
    LookupError::Kind(name)
}

/// The HTTP client of one lookup: the service-wide timeouts, system-independent webpki
/// roots (both SDKs verify TLS and take no CA input), same-host redirects.
fn http() -> Result<reqwest::Client, LookupError> {
    super::egress::guard(reqwest::Client::builder())
        .timeout(LOOKUP_TIMEOUT)
        .connect_timeout(LOOKUP_TIMEOUT)
        .redirect(same_host_redirects())
        .use_rustls_tls()
        .build()
        .map_err(|_| kind("SSLError"))
}

fn transport(e: reqwest::Error) -> LookupError {
    if e.is_redirect() {
        kind("TooManyRedirects")
    } else {
        LookupError::from_transport(&e)
    }
}

/// Checks a base URL the way `requests` would when it is used: `MissingSchema` without a
/// scheme, `InvalidSchema` for anything but http(s), `InvalidURL` without a host.
fn check_base_url(base: &str) -> Result<(), LookupError> {
    match url::Url::parse(base) {
        Err(url::ParseError::RelativeUrlWithoutBase) => Err(kind("MissingSchema")),
        Err(_) => Err(kind("InvalidURL")),
        Ok(u) if !matches!(u.scheme(), "http" | "https") => Err(kind("InvalidSchema")),
        Ok(u) if u.host_str().is_none_or(str::is_empty) => Err(kind("InvalidURL")),
        Ok(_) => Ok(()),
    }
}

/// A value used as text by `"Bearer " + value` (anything but a string is a `TypeError`).
fn text(value: &Value) -> Result<SecretString, LookupError> {
    match value {
        Value::String(s) => Ok(SecretString::from(s.clone())),
        _ => Err(kind("TypeError")),
    }
}

/// Python truthiness of a JSON value.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

// ---------------------------------------------------------------------------------------
// Secret Server
// ---------------------------------------------------------------------------------------

/// The SDK's `process`: 2xx passes, 4xx is a client error, anything else a service error.
fn tss_process(resp: &reqwest::Response) -> Result<(), LookupError> {
    match resp.status().as_u16() {
        200..=299 => Ok(()),
        400..=499 => Err(kind("SecretServerClientError")),
        _ => Err(kind("SecretServerServiceError")),
    }
}

/// A processed response decoded as JSON (`SecretServerError` when it is not JSON: Secret
/// Server answers some errors with a 200 HTML page).
async fn tss_json(resp: reqwest::Response) -> Result<Value, LookupError> {
    tss_process(&resp)?;
    let body = resp.bytes().await.map_err(transport)?;
    serde_json::from_slice(&body).map_err(|_| kind("SecretServerError"))
}

/// Reads one field of a Secret Server secret.
///
/// `POST {server_url}/oauth2/token` (form `username`, `password`, `grant_type=password`
/// and `domain` when one is set) gives `access_token`; `GET
/// {server_url}/api/v1/secrets/{secret_id}` with that bearer token gives the secret, whose
/// `items` are matched on `slug` against `secret_field`. A file-attachment item (truthy
/// `fileAttachmentId`) is read from `/api/v1/secrets/{secret_id}/fields/{slug}` and its body
/// text returned; any other item returns its `itemValue`, which must be a string
/// (`AttributeError` otherwise, as in AWX). `secret_id` must be a decimal integer: anything
/// else is refused as the `SecretServerClientError` Secret Server would answer, without
/// being sent.
pub async fn tss_lookup(kw: &Kwargs) -> Result<SecretString, LookupError> {
    let server_url = kw.require("server_url")?;
    let username = kw.require("username")?;
    let domain = kw.non_empty("domain");
    let password = kw.require("password")?;
    let secret_id = kw.require("secret_id")?;
    let base = server_url.trim_end_matches('/');
    check_base_url(base)?;
    let http = http()?;

    let mut grant = vec![("username", username), ("password", password)];
    if let Some(domain) = domain {
        grant.push(("domain", domain));
    }
    grant.push(("grant_type", "password"));
    let resp = http
        .post(format!("{base}/oauth2/token"))
        .form(&grant)
        .send()
        .await
        .map_err(transport)?;
    let access = tss_json(resp).await?;
    let token = text(index(&access, "access_token")?)?;

    if secret_id.is_empty() || !secret_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(kind("SecretServerClientError"));
    }
    let secret_url = format!("{base}/api/v1/secrets/{secret_id}");
    let resp = http
        .get(&secret_url)
        .bearer_auth(token.expose_secret())
        .send()
        .await
        .map_err(transport)?;
    let secret = tss_json(resp).await?;
    let Value::Array(items) = index(&secret, "items")? else {
        return Err(kind("TypeError"));
    };
    // The SDK reads `fileAttachmentId` of every item, then keys the fields by `slug`.
    for item in items {
        index(item, "fileAttachmentId")?;
    }
    for item in items {
        index(item, "slug")?;
    }
    let field = kw.require("secret_field")?;
    // Later items win, as in the SDK's dict of fields.
    let item = items
        .iter()
        .rev()
        .find(|item| item.get("slug").and_then(Value::as_str) == Some(field))
        .ok_or(kind("KeyError"))?;
    if item.get("fileAttachmentId").is_some_and(truthy) {
        let slug = utf8_percent_encode(field, SEGMENT);
        let resp = http
            .get(format!("{secret_url}/fields/{slug}"))
            .bearer_auth(token.expose_secret())
            .send()
            .await
            .map_err(transport)?;
        tss_process(&resp)?;
        let body = resp.text().await.map_err(transport)?;
        return Ok(SecretString::from(body));
    }
    match item.get("itemValue") {
        Some(Value::String(s)) => Ok(SecretString::from(s.clone())),
        _ => Err(kind("AttributeError")),
    }
}

// ---------------------------------------------------------------------------------------
// DevOps Secrets Vault
// ---------------------------------------------------------------------------------------

/// The tenant's base URL: `https://{tenant}.secretsvaultcloud.{tld}` (dots trimmed from
/// `tld`), or `override_template` with `{tenant}` and `{tld}` replaced. `tenant` must be one
/// DNS label and `tld` one of the choices (`InvalidURL` otherwise), so the secret can only
/// go to a Secrets Vault host.
fn dsv_base_url(
    tenant: &str,
    tld: &str,
    override_template: Option<&str>,
) -> Result<String, LookupError> {
    let tld = tld.trim_matches('.');
    let label_ok = !tenant.is_empty()
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !label_ok || !DSV_TLDS.contains(&tld) {
        return Err(kind("InvalidURL"));
    }
    let base = match override_template.map(str::trim).filter(|t| !t.is_empty()) {
        Some(template) => template.replace("{tenant}", tenant).replace("{tld}", tld),
        None => format!("https://{tenant}.secretsvaultcloud.{tld}"),
    };
    let base = base.trim_end_matches('/').to_string();
    check_base_url(&base)?;
    Ok(base)
}

/// The SDK's `process` plus its JSON decoding of the body. A 4xx becomes a
/// `SecretsVaultAccessError` when its JSON body has a `message` (`KeyError` when not,
/// `JSONDecodeError` when the body is not JSON); any other non-2xx is a
/// `SecretsVaultError`, and so is a 2xx body that is not JSON.
async fn dsv_json(resp: reqwest::Response) -> Result<Value, LookupError> {
    let status = resp.status().as_u16();
    let body = resp.bytes().await.map_err(transport)?;
    match status {
        200..=299 => serde_json::from_slice(&body).map_err(|_| kind("SecretsVaultError")),
        400..=499 => {
            let content: Value =
                serde_json::from_slice(&body).map_err(|_| kind("JSONDecodeError"))?;
            index(&content, "message")?;
            Err(kind("SecretsVaultAccessError"))
        }
        _ => Err(kind("SecretsVaultError")),
    }
}

/// The token request body (borrowed, so the secret is not copied into a JSON tree).
#[derive(Serialize)]
struct DsvGrant<'a> {
    client_id: &'a str,
    client_secret: &'a str,
    grant_type: &'static str,
}

/// Reads one field of a DevOps Secrets Vault secret.
///
/// `POST {base}/v1/token` JSON `{"client_id", "client_secret", "grant_type":
/// "client_credentials"}` gives `accessToken`; `GET {base}/v1/secrets/{path without leading
/// /}` with that bearer token gives the secret, whose `data[secret_field]` is returned,
/// base64-decoded to UTF-8 text when `secret_decoding` is `Decode Base64` (Python's lenient
/// decoder: characters outside the alphabet are skipped, text after complete padding is
/// ignored).
///
/// `{base}` is `https://{tenant}.secretsvaultcloud.{tld}` (`tld` defaults to `com`). The
/// environment variable `CREDSTORE_DSV_BASE_URL`, read on every call, replaces it: a URL in
/// which `{tenant}` and `{tld}` are substituted, e.g. `http://127.0.0.1:8200/{tenant}` (the
/// counterpart of the Python plugin's debug-only `url_template` input, which is not
/// accepted as an input here).
pub async fn dsv_lookup(kw: &Kwargs) -> Result<SecretString, LookupError> {
    let tenant = kw.require("tenant")?;
    let tld = kw.get("tld").unwrap_or("com");
    let client_id = kw.require("client_id")?;
    let client_secret = kw.require("client_secret")?;
    let path = kw.require("path")?;
    let field = kw.require("secret_field")?;
    let decode = kw.get("secret_decoding") == Some("Decode Base64");
    let template = std::env::var(DSV_BASE_URL_ENV).ok();
    let base = dsv_base_url(tenant, tld, template.as_deref())?;
    let http = http()?;

    let resp = http
        .post(format!("{base}/v1/token"))
        .json(&DsvGrant {
            client_id,
            client_secret,
            grant_type: "client_credentials",
        })
        .send()
        .await
        .map_err(transport)?;
    // The SDK decodes the token answer inside a `JSONDecodeError` handler.
    let access = match dsv_json(resp).await {
        Err(LookupError::Kind("JSONDecodeError")) => Err(kind("SecretsVaultError")),
        other => other,
    }?;
    let token = text(index(&access, "accessToken")?)?;

    let path = utf8_percent_encode(path.trim_start_matches('/'), PATH);
    let resp = http
        .get(format!("{base}/v1/secrets/{path}"))
        .bearer_auth(token.expose_secret())
        .send()
        .await
        .map_err(transport)?;
    let secret = dsv_json(resp).await?;
    let value = index(index(&secret, "data")?, field)?;
    if !decode {
        return Ok(render(value));
    }
    let Value::String(encoded) = value else {
        return Err(kind("TypeError"));
    };
    let bytes = b64decode(encoded)?;
    String::from_utf8(bytes)
        .map(SecretString::from)
        .map_err(|_| kind("UnicodeDecodeError"))
}

fn sextet(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Python's `base64.b64decode(text)` (non-strict): `ValueError` for non-ASCII text,
/// characters outside the alphabet skipped, decoding stops at complete padding, and an
/// incomplete final quantum is a `binascii.Error` (reported as `Error`).
fn b64decode(text: &str) -> Result<Vec<u8>, LookupError> {
    if !text.is_ascii() {
        return Err(kind("ValueError"));
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut quad = 0u8;
    let mut left = 0u8;
    let mut pads = 0u8;
    for &c in text.as_bytes() {
        if c == b'=' {
            if quad >= 2 {
                pads += 1;
                if quad + pads >= 4 {
                    return Ok(out);
                }
            }
            continue;
        }
        let Some(v) = sextet(c) else {
            continue;
        };
        pads = 0;
        match quad {
            0 => {
                left = v;
                quad = 1;
            }
            1 => {
                out.push((left << 2) | (v >> 4));
                left = v & 0x0f;
                quad = 2;
            }
            2 => {
                out.push((left << 4) | (v >> 2));
                left = v & 0x03;
                quad = 3;
            }
            _ => {
                out.push((left << 6) | v);
                quad = 0;
            }
        }
    }
    if quad == 0 {
        Ok(out)
    } else {
        Err(kind("Error"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_like_python() {
        let ok = |s: &str| b64decode(s).map(|b| String::from_utf8_lossy(&b).to_string());
        assert_eq!(ok("aGVsbG8=").unwrap(), "hello");
        assert_eq!(ok("aGVs\nbG8=\n").unwrap(), "hello");
        assert_eq!(ok("aGVs*bG8=").unwrap(), "hello", "junk is skipped");
        assert_eq!(ok("aGVsbG8=trailing").unwrap(), "hello");
        assert_eq!(ok("aGVsbA==").unwrap(), "hell");
        assert_eq!(ok("").unwrap(), "");
        assert_eq!(ok("aGVsbA=").unwrap_err(), kind("Error"));
        assert_eq!(ok("aGVsbG8").unwrap_err(), kind("Error"));
        assert_eq!(ok("a").unwrap_err(), kind("Error"));
        assert_eq!(ok("é").unwrap_err(), kind("ValueError"));
        // Padding too early is skipped, as Python does.
        assert_eq!(ok("=aGVsbG8=").unwrap(), "hello");
    }

    #[test]
    fn dsv_base_urls() {
        assert_eq!(
            dsv_base_url("ex", "com", None).unwrap(),
            "https://ex.secretsvaultcloud.com"
        );
        assert_eq!(
            dsv_base_url("ex", ".com.au.", None).unwrap(),
            "https://ex.secretsvaultcloud.com.au"
        );
        assert_eq!(
            dsv_base_url("ex", "eu", Some("http://127.0.0.1:9/{tenant}/{tld}/")).unwrap(),
            "http://127.0.0.1:9/ex/eu"
        );
        assert_eq!(
            dsv_base_url("ex", "ca", Some("  ")).unwrap(),
            "https://ex.secretsvaultcloud.ca"
        );
        for (tenant, tld) in [
            ("ex", "org"),
            ("", "com"),
            ("evil.com/x?", "com"),
            ("ex", ""),
        ] {
            assert_eq!(
                dsv_base_url(tenant, tld, None).unwrap_err(),
                kind("InvalidURL"),
                "{tenant} {tld}"
            );
        }
    }

    #[test]
    fn base_url_checks() {
        assert_eq!(check_base_url("host/ss"), Err(kind("MissingSchema")));
        assert_eq!(check_base_url("ftp://host"), Err(kind("InvalidSchema")));
        assert_eq!(check_base_url("http://"), Err(kind("InvalidURL")));
        assert_eq!(check_base_url("https://host/SecretServer"), Ok(()));
    }

    #[test]
    fn python_indexing() {
        let v = serde_json::json!({"a": {"b": 1}, "n": null});
        assert!(index(&v, "a").is_ok());
        assert_eq!(index(&v, "x"), Err(kind("KeyError")));
        assert_eq!(index(&v["n"], "x"), Err(kind("TypeError")));
        assert!(!truthy(&v["n"]) && truthy(&serde_json::json!(77)));
        assert!(!truthy(&serde_json::json!(0)));
    }
}
