//! HashiCorp Vault KV lookups (`hashivault_kv`): token, AppRole, userpass/LDAP, Kubernetes
//! and TLS-certificate authentication, Enterprise namespaces, KV v1 and v2 with versions.

use super::{check_status, client, Kwargs, LookupError};
use secrecy::SecretString;
use serde_json::{json, Value};
use std::time::Duration;

/// Where the Kubernetes service-account token is read from; `CREDSTORE_K8S_TOKEN_FILE`
/// overrides it (tests, and pods that mount it elsewhere).
fn kubernetes_token_file() -> String {
    std::env::var("CREDSTORE_K8S_TOKEN_FILE")
        .unwrap_or_else(|_| "/var/run/secrets/kubernetes.io/serviceaccount/token".to_string())
}

/// Builds `base` + `relative` the way Python's `urljoin` does for these paths: a base
/// path survives only when it ends in `/`, empty segments are dropped, no trailing `/`.
fn join(base: &str, relative: &str) -> Result<String, LookupError> {
    let base = url::Url::parse(base).map_err(|_| LookupError::Kind("InvalidURL"))?;
    let joined = base
        .join(relative)
        .map_err(|_| LookupError::Kind("InvalidURL"))?;
    let mut out = joined.to_string();
    while out.ends_with('/') {
        out.pop();
    }
    Ok(collapse_slashes(&out))
}

fn collapse_slashes(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let mut collapsed = String::with_capacity(rest.len());
            let mut previous_slash = false;
            for c in rest.chars() {
                if c == '/' && previous_slash {
                    continue;
                }
                previous_slash = c == '/';
                collapsed.push(c);
            }
            format!("{scheme}://{collapsed}")
        }
        None => url.to_string(),
    }
}

/// The identity PEM (certificate then key) for TLS-certificate auth, when configured.
pub(super) fn client_identity(kw: &Kwargs) -> Option<String> {
    match (
        kw.non_empty("client_cert_public"),
        kw.non_empty("client_cert_private"),
    ) {
        (Some(cert), Some(key)) => Some(format!("{cert}\n{key}")),
        _ => None,
    }
}

pub(super) fn with_namespace(req: reqwest::RequestBuilder, kw: &Kwargs) -> reqwest::RequestBuilder {
    match kw.non_empty("namespace") {
        Some(ns) => req.header("X-Vault-Namespace", ns),
        None => req,
    }
}

/// Obtains a Vault token: a given token, or a login with the first configured method.
pub(super) async fn token(
    http: &reqwest::Client,
    kw: &Kwargs,
) -> Result<SecretString, LookupError> {
    if let Some(t) = kw.non_empty("token") {
        return Ok(SecretString::from(t.to_string()));
    }
    let auth_path = || -> Result<String, LookupError> {
        match kw.non_empty("auth_path") {
            Some(p) => Ok(p.to_string()),
            None => kw.require("default_auth_path").map(str::to_string),
        }
    };
    let (path, body) =
        if let (Some(u), Some(p)) = (kw.non_empty("username"), kw.non_empty("password")) {
            (
                format!("{}/login/{u}", auth_path()?),
                json!({"username": u, "password": p}),
            )
        } else if let (Some(r), Some(s)) = (kw.non_empty("role_id"), kw.non_empty("secret_id")) {
            (auth_path()?, json!({"role_id": r, "secret_id": s}))
        } else if let Some(role) = kw.non_empty("kubernetes_role") {
            let jwt = std::fs::read_to_string(kubernetes_token_file())
                .map_err(|_| LookupError::Kind("FileNotFoundError"))?;
            (auth_path()?, json!({"role": role, "jwt": jwt.trim_end()}))
        } else if client_identity(kw).is_some() {
            (
                auth_path()?,
                json!({"name": kw.non_empty("client_cert_role")}),
            )
        } else {
            return Err(LookupError::Kind("Exception"));
        };
    let base = kw.require("url")?;
    let login = format!("{}/v1/auth/{path}", base.trim_end_matches('/'));
    let url = if path.contains("login/") {
        login
    } else {
        format!("{login}/login")
    };
    let req = with_namespace(http.post(&url).json(&body), kw);
    let resp = req
        .send()
        .await
        .map_err(|e| LookupError::from_transport(&e))?;
    check_status(&resp)?;
    let body: Value = resp
        .json()
        .await
        .map_err(|_| LookupError::Kind("JSONDecodeError"))?;
    body.pointer("/auth/client_token")
        .and_then(Value::as_str)
        .map(|t| SecretString::from(t.to_string()))
        .ok_or(LookupError::Kind("KeyError"))
}

/// The read path for the API version and optional mount.
fn read_path(kw: &Kwargs) -> Result<String, LookupError> {
    let secret_path = kw.require("secret_path")?;
    let backend = kw.non_empty("secret_backend");
    let v2 = kw.get("api_version") == Some("v2");
    let path = match (v2, backend) {
        (false, Some(b)) => format!("v1/{b}/{secret_path}"),
        (false, None) => format!("v1/{secret_path}"),
        (true, Some(b)) => format!("v1/{b}/data/{secret_path}"),
        (true, None) => {
            let trimmed = secret_path.trim_start_matches('/');
            let (mount, rest) = trimmed.split_once('/').unwrap_or((trimmed, ""));
            format!("v1/{mount}/data/{rest}")
        }
    };
    match (v2, kw.non_empty("secret_version")) {
        (true, Some(version)) => Ok(format!("{path}?version={version}")),
        _ => Ok(path),
    }
}

/// Picks the value out of the secret's data.
fn extract(body: &Value, kw: &Kwargs) -> Result<String, LookupError> {
    let v2 = kw.get("api_version") == Some("v2");
    let data = if v2 {
        body.pointer("/data/data")
    } else {
        body.get("data")
    }
    .ok_or(LookupError::Kind("KeyError"))?;
    let render = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let Some(key) = kw.non_empty("secret_key") else {
        return Ok(render(data));
    };
    if key != "data" && data.get(key).is_none() {
        if let Some(inner) = data.get("data").and_then(|d| d.get(key)) {
            return Ok(render(inner));
        }
    }
    data.get(key)
        .map(render)
        .ok_or(LookupError::Kind("RuntimeError"))
}

/// Reads one value from a Vault KV engine.
pub async fn kv_lookup(kw: &Kwargs) -> Result<SecretString, LookupError> {
    let http = client(kw.non_empty("cacert"), client_identity(kw))?;
    let token = token(&http, kw).await?;
    let url = join(
        &format!("{}/", kw.require("url")?.trim_end_matches('/')),
        &read_path(kw)?,
    )?;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let req = http
            .get(&url)
            .bearer_auth(secrecy::ExposeSecret::expose_secret(&token))
            .header(
                "X-Vault-Token",
                secrecy::ExposeSecret::expose_secret(&token),
            );
        let resp = with_namespace(req, kw)
            .send()
            .await
            .map_err(|e| LookupError::from_transport(&e))?;
        // Vault Enterprise answers 412 until a replica catches up: retry a few times.
        if resp.status().as_u16() == 412 && attempts < 5 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        check_status(&resp)?;
        let body: Value = resp
            .json()
            .await
            .map_err(|_| LookupError::Kind("JSONDecodeError"))?;
        return extract(&body, kw).map(SecretString::from);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kw(pairs: &[(&str, &str)]) -> Kwargs {
        let mut k = Kwargs::default();
        for (a, b) in pairs {
            k.set_json(a, &json!(b));
        }
        k
    }

    #[test]
    fn read_paths_follow_awx() {
        assert_eq!(
            read_path(&kw(&[("secret_path", "/kv/app"), ("api_version", "v1")])).unwrap(),
            "v1//kv/app"
        );
        assert_eq!(
            read_path(&kw(&[
                ("secret_path", "app/db"),
                ("secret_backend", "secret"),
                ("api_version", "v2")
            ]))
            .unwrap(),
            "v1/secret/data/app/db"
        );
        assert_eq!(
            read_path(&kw(&[
                ("secret_path", "/kv/app/db"),
                ("api_version", "v2"),
                ("secret_version", "3")
            ]))
            .unwrap(),
            "v1/kv/data/app/db?version=3"
        );
        assert!(matches!(
            read_path(&kw(&[])),
            Err(LookupError::Kind("KeyError"))
        ));
    }

    #[test]
    fn urls_join_like_python() {
        assert_eq!(
            join("https://h/", "v1//kv/app").unwrap(),
            "https://h/v1/kv/app"
        );
        assert_eq!(
            join("https://h/vault/", "v1/kv/app").unwrap(),
            "https://h/vault/v1/kv/app"
        );
    }

    #[test]
    fn extraction_rules() {
        let v1 = json!({"data": {"password": "p", "n": 5}});
        assert_eq!(
            extract(&v1, &kw(&[("secret_key", "password")])).unwrap(),
            "p"
        );
        assert_eq!(extract(&v1, &kw(&[("secret_key", "n")])).unwrap(), "5");
        assert_eq!(
            extract(&v1, &kw(&[("secret_key", "nope")])),
            Err(LookupError::Kind("RuntimeError"))
        );
        let v2 = json!({"data": {"data": {"k": "v"}, "metadata": {}}});
        assert_eq!(
            extract(&v2, &kw(&[("secret_key", "k"), ("api_version", "v2")])).unwrap(),
            "v"
        );
        let v1_on_v2 = json!({"data": {"data": {"k": "v"}}});
        assert_eq!(
            extract(&v1_on_v2, &kw(&[("secret_key", "k")])).unwrap(),
            "v"
        );
    }
}
