//! HashiCorp Vault signed SSH certificates (`hashivault_ssh`): the same
//! authentication as the KV backend, then `POST {url}/v1/{secret_path}/sign/{role}` with the
//! public key (and the principals, when given); the answer's `data.signed_key` is returned
//! unchanged (trailing newline included).

use super::aim::urljoin;
use super::hashivault::{client_identity, token, with_namespace};
use super::{check_status, client, render, subscript, Kwargs, LookupError};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use std::time::Duration;

/// How many times a `412` (Enterprise replication lag) is tried before it is reported.
const ATTEMPTS: u32 = 5;

/// Signs the link's public key with the SSH secrets engine.
pub async fn lookup(kw: &Kwargs) -> Result<SecretString, LookupError> {
    // `requests` only loads certificate files for HTTPS connections.
    let https = kw
        .get("url")
        .is_some_and(|u| u.trim_start().to_ascii_lowercase().starts_with("https:"));
    let cacert = kw.non_empty("cacert").filter(|_| https);
    let login = client(cacert, client_identity(kw).filter(|_| https))?;
    let token = token(&login, kw).await?;

    let v1 = urljoin(kw.require("url")?, "v1")?;
    let secret_path = kw.require("secret_path")?;
    let role = kw.require("role")?;
    let mut body = json!({"public_key": kw.require("public_key")?});
    if let Some(principals) = kw.non_empty("valid_principals") {
        body["valid_principals"] = json!(principals);
    }
    // Plain string joining, as the plugin does: a `secret_path` such as `/ssh/` yields `//`,
    // which Vault answers with a redirect that is reported, not followed.
    let url = format!("{v1}/{secret_path}/sign/{role}");
    let url = url.trim_end_matches('/');

    // The signing call presents no client certificate (only the login does).
    let http = client(cacert, None)?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let req = http
            .post(url)
            .bearer_auth(token.expose_secret())
            .header("X-Vault-Token", token.expose_secret())
            .json(&body);
        let resp = with_namespace(req, kw)
            .send()
            .await
            .map_err(|e| LookupError::from_transport(&e))?;
        if resp.status().as_u16() == 412 && attempt < ATTEMPTS {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        if let Err(e) = check_status(&resp) {
            tracing::info!(reason = %e, "Vault SSH signing failed");
            return Err(e);
        }
        let answer: Value = resp
            .json()
            .await
            .map_err(|_| LookupError::Kind("JSONDecodeError"))?;
        return subscript(subscript(&answer, "data")?, "signed_key").map(render);
    }
}
