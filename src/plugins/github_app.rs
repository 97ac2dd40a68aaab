//! GitHub App installation tokens (`github_app_lookup`): a JWT signed
//! with the app's RSA key (RS256; `iat` a minute in the past, `exp` five minutes ahead,
//! `iss` the app or client id) buys a short-lived installation token at
//! `POST {github_api_url}/app/installations/{install_id}/access_tokens`.
//!
//! Errors follow the Python plugin: a non-numeric installation id or a 404 (app not
//! installed) is `ValueError`, any other GitHub error or an answer without a token is
//! `RuntimeError`, a key that cannot sign is `InvalidKeyError` (PyJWT's class).

use super::{client, subscript, Kwargs, LookupError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivateKeyDer;
use secrecy::SecretString;
use serde_json::{json, Value};
use zeroize::Zeroizing;

/// PyGithub's default API endpoint, used when the stored URL is empty.
const PUBLIC_API: &str = "https://api.github.com";

/// How far `iat` is backdated and `exp` set ahead, in seconds (PyGithub's values).
const IAT_SKEW: i64 = 60;
const LIFETIME: i64 = 300;

/// Fetches an installation access token.
pub async fn lookup(kw: &Kwargs) -> Result<SecretString, LookupError> {
    // Every argument is keyword-only without a default in the plugin's signature.
    let api = kw
        .get("github_api_url")
        .ok_or(LookupError::Kind("TypeError"))?;
    let app = kw
        .get("app_or_client_id")
        .ok_or(LookupError::Kind("TypeError"))?;
    let key = kw
        .get("private_rsa_key")
        .ok_or(LookupError::Kind("TypeError"))?;
    let install = kw.get("install_id").ok_or(LookupError::Kind("TypeError"))?;
    let install: i64 = install
        .trim()
        .parse()
        .map_err(|_| LookupError::Kind("ValueError"))?;
    let jwt = app_jwt(app, key, chrono::Utc::now().timestamp())?;
    let base = if api.is_empty() { PUBLIC_API } else { api };
    let url = format!(
        "{}/app/installations/{install}/access_tokens",
        base.trim_end_matches('/')
    );
    let resp = client(None, None)?
        .post(url)
        .header(AUTHORIZATION, format!("Bearer {}", jwt.as_str()))
        .header(ACCEPT, "application/vnd.github.machine-man-preview+json")
        .header(CONTENT_TYPE, "application/json")
        .body(json!({"permissions": {}}).to_string())
        .send()
        .await
        .map_err(|e| LookupError::from_transport(&e))?;
    match resp.status().as_u16() {
        404 => return Err(LookupError::Kind("ValueError")),
        s if !(200..300).contains(&s) => return Err(LookupError::Kind("RuntimeError")),
        _ => {}
    }
    let body: Value = resp
        .json()
        .await
        .map_err(|_| LookupError::Kind("RuntimeError"))?;
    match subscript(&body, "token") {
        Ok(Value::String(token)) => Ok(SecretString::from(token.clone())),
        _ => Err(LookupError::Kind("RuntimeError")),
    }
}

/// The app's JWT at time `now` (seconds since the epoch), signed RS256 with `pem`
/// (PKCS#1 `RSA PRIVATE KEY` as GitHub issues it, or PKCS#8).
fn app_jwt(app: &str, pem: &str, now: i64) -> Result<Zeroizing<String>, LookupError> {
    let invalid = || LookupError::Kind("InvalidKeyError");
    let der = PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|_| invalid())?;
    let pair = match &der {
        PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
        PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
        _ => return Err(invalid()),
    }
    .map_err(|_| invalid())?;
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "RS256", "typ": "JWT"}).to_string());
    let claims = json!({"iat": now - IAT_SKEW, "exp": now + LIFETIME, "iss": app});
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{claims}");
    let mut signature = vec![0; pair.public().modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .map_err(|_| invalid())?;
    Ok(Zeroizing::new(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_that_is_not_rsa_pem_cannot_sign() {
        assert_eq!(
            app_jwt("1", "not a key", 0).unwrap_err(),
            LookupError::Kind("InvalidKeyError")
        );
        let ec = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIP\n-----END EC PRIVATE KEY-----\n";
        assert_eq!(
            app_jwt("1", ec, 0).unwrap_err(),
            LookupError::Kind("InvalidKeyError")
        );
    }
}
