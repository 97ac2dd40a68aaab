//! Centrify Vault lookups (`centrify_vault_kv`): an OAuth2
//! client-credentials token, a Redrock query for the account's id, then a password
//! checkout.
//!
//! Failures are reported as AWX reports them: `HTTP <status>` for any answer outside 2xx,
//! `RuntimeError` when the token, the account or the password is missing from an answer,
//! `TypeError` when an answer has the wrong shape (e.g. `"Result": null`),
//! `JSONDecodeError` for a body that is not JSON, and the `requests` exception names for
//! transport failures (`ConnectionError`, `SSLError`, `ReadTimeout`, the connect-timeout
//! text, `MissingSchema`/`InvalidSchema`/`InvalidURL` for an unusable `url`).

use super::{
    check_status, same_host_redirects, subscript as index, Kwargs, LookupError, LOOKUP_TIMEOUT,
};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use std::time::Duration;

/// The plugin's `timeout=(5, 30)`: connect, then read.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Characters escaped in the OAuth application id (one path segment).
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

fn kind(name: &'static str) -> LookupError {
    LookupError::Kind(name)
}

/// The client: 5 s to connect, 30 s per read, TLS verified against the built-in roots (the
/// plugin has no CA input).
fn http() -> Result<reqwest::Client, LookupError> {
    super::egress::guard(reqwest::Client::builder())
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(LOOKUP_TIMEOUT)
        .redirect(same_host_redirects())
        .use_rustls_tls()
        .build()
        .map_err(|_| kind("SSLError"))
}

fn transport(e: reqwest::Error) -> LookupError {
    if e.is_redirect() {
        kind("TooManyRedirects")
    } else if e.is_timeout() && e.is_connect() {
        LookupError::Timeout(format!(
            "Connection to the secret store timed out. (connect timeout={}s)",
            CONNECT_TIMEOUT.as_secs()
        ))
    } else if e.is_timeout() {
        kind("ReadTimeout")
    } else {
        LookupError::from_transport(&e)
    }
}

/// `urljoin(url, path)` for an absolute `path`: the tenant URL's scheme and authority with
/// `path` (any path, query or fragment of `url` is dropped), then the checks `requests`
/// makes before sending.
fn endpoint(url: &str, path: &str) -> Result<url::Url, LookupError> {
    let base = match url::Url::parse(url) {
        Ok(base) => base,
        Err(url::ParseError::RelativeUrlWithoutBase) => return Err(kind("MissingSchema")),
        Err(_) => return Err(kind("InvalidURL")),
    };
    if !matches!(base.scheme(), "http" | "https") {
        return Err(kind("InvalidSchema"));
    }
    if base.host_str().is_none_or(str::is_empty) {
        return Err(kind("InvalidURL"));
    }
    base.join(path).map_err(|_| kind("InvalidURL"))
}

/// Python's `value[0]`: `IndexError` on an empty list or string, `KeyError` on an object,
/// `TypeError` otherwise (a character of a string would fail the next lookup anyway).
fn first(value: &Value) -> Result<&Value, LookupError> {
    match value {
        Value::Array(items) => items.first().ok_or(kind("IndexError")),
        Value::Object(_) => Err(kind("KeyError")),
        Value::String(s) if s.is_empty() => Err(kind("IndexError")),
        _ => Err(kind("TypeError")),
    }
}

/// The plugin turns a `KeyError` (and for the query an `IndexError`) into `RuntimeError`.
fn runtime(e: LookupError) -> LookupError {
    match e {
        LookupError::Kind("KeyError" | "IndexError") => kind("RuntimeError"),
        other => other,
    }
}

/// A string literal of the Redrock query language: single quotes doubled, so names cannot
/// change the query (the Python plugin inserts them unescaped).
fn quote(value: &str) -> String {
    value.replace('\'', "''")
}

/// The Redrock script that finds the account's id (the text the plugin sends).
fn id_query(system: &str, account: &str) -> String {
    format!(
        "Select ID from VaultAccount where  Name='{}' and User='{}'",
        quote(system),
        quote(account)
    )
}

async fn json_body(resp: reqwest::Response) -> Result<Value, LookupError> {
    check_status(&resp)?;
    let body = resp.bytes().await.map_err(transport)?;
    serde_json::from_slice(&body).map_err(|_| kind("JSONDecodeError"))
}

/// Checks out the password of `account-name` on `system-name` from a Centrify tenant.
///
/// 1. `POST {url}/oauth2/token/{oauth_application_id}` (default `awx`), HTTP Basic
///    `client_id:client_password`, form `grant_type=client_credentials&scope={oauth_scope}`
///    (default `awx`) → `access_token`.
/// 2. `POST {url}/Redrock/query` with `Authorization: Bearer`, `X-CENTRIFY-NATIVE-CLIENT:
///    true` and JSON `{"Script": "Select ID from VaultAccount where  Name='<system>' and
///    User='<account>'"}` (quotes in the names doubled) → `Result.Results[0].Row.ID`.
/// 3. `POST {url}/ServerManage/CheckoutPassword`, same headers, JSON `{"ID": <id>}` →
///    `Result.Password`.
///
/// Paths are absolute, so a path in `url` is dropped. Like the plugin, which reads every
/// input with `.get()`, a missing input is not a `KeyError`: a missing `url` fails as
/// `MissingSchema`, other missing inputs are sent empty and the tenant refuses them.
pub async fn lookup(kw: &Kwargs) -> Result<SecretString, LookupError> {
    let url = kw.get("url").unwrap_or_default();
    let account = kw.get("account-name").unwrap_or_default();
    let system = kw.get("system-name").unwrap_or_default();
    let client_id = kw.get("client_id").unwrap_or_default();
    let client_password = kw.get("client_password").unwrap_or_default();
    let app_id = kw.get("oauth_application_id").unwrap_or("awx");
    let scope = kw.get("oauth_scope").unwrap_or("awx");
    let token_url = endpoint(
        url,
        &format!("/oauth2/token/{}", utf8_percent_encode(app_id, SEGMENT)),
    )?;
    let http = http()?;

    let resp = http
        .post(token_url)
        .basic_auth(client_id, Some(client_password))
        .form(&[("grant_type", "client_credentials"), ("scope", scope)])
        .send()
        .await
        .map_err(transport)?;
    let grant = json_body(resp).await?;
    let token = match index(&grant, "access_token").map_err(runtime)? {
        Value::String(t) => SecretString::from(t.clone()),
        _ => return Err(kind("TypeError")),
    };

    let resp = http
        .post(endpoint(url, "/Redrock/query")?)
        .bearer_auth(token.expose_secret())
        .header("X-CENTRIFY-NATIVE-CLIENT", "true")
        .json(&json!({"Script": id_query(system, account)}))
        .send()
        .await
        .map_err(transport)?;
    let found = json_body(resp).await?;
    let results = index(index(&found, "Result").map_err(runtime)?, "Results").map_err(runtime)?;
    let row = index(first(results).map_err(runtime)?, "Row").map_err(runtime)?;
    let id = index(row, "ID").map_err(runtime)?.clone();

    let resp = http
        .post(endpoint(url, "/ServerManage/CheckoutPassword")?)
        .bearer_auth(token.expose_secret())
        .header("X-CENTRIFY-NATIVE-CLIENT", "true")
        .json(&json!({"ID": id}))
        .send()
        .await
        .map_err(transport)?;
    let checkout = json_body(resp).await?;
    let password =
        index(index(&checkout, "Result").map_err(runtime)?, "Password").map_err(runtime)?;
    Ok(match password {
        Value::String(p) => SecretString::from(p.clone()),
        other => SecretString::from(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_escapes_quotes() {
        assert_eq!(
            id_query("web01", "root"),
            "Select ID from VaultAccount where  Name='web01' and User='root'"
        );
        assert_eq!(
            id_query("x' or '1'='1", "o'neil"),
            "Select ID from VaultAccount where  Name='x'' or ''1''=''1' and User='o''neil'"
        );
    }

    #[test]
    fn endpoints_drop_the_url_path() {
        assert_eq!(
            endpoint("https://t.my.centrify.net/some/path?q=1", "/Redrock/query")
                .unwrap()
                .as_str(),
            "https://t.my.centrify.net/Redrock/query"
        );
        assert_eq!(
            endpoint("", "/x").unwrap_err(),
            LookupError::Kind("MissingSchema")
        );
        assert_eq!(
            endpoint("ftp://h", "/x").unwrap_err(),
            LookupError::Kind("InvalidSchema")
        );
    }

    #[test]
    fn shapes_map_like_python() {
        let v = json!({"Result": {"Results": []}});
        assert_eq!(
            first(&v["Result"]["Results"]).map_err(runtime),
            Err(kind("RuntimeError"))
        );
        assert_eq!(index(&json!(null), "Password"), Err(kind("TypeError")));
        assert_eq!(runtime(kind("TypeError")), kind("TypeError"));
    }
}
