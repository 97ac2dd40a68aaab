//! GitHub App installation tokens (`github_app_lookup`, plugins.md §4.11) against an in-repo
//! GitHub double that verifies the RS256 JWT with the app's public key and checks its
//! `iat`/`exp`/`iss` claims, then issues an installation token; plus the error paths
//! (not installed, bad JWT, no token in the answer, bad installation id, refused
//! connection) and the API's test endpoint.

use crate::common;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{As, TestApp};
use credstore::plugins::{lookup, Kwargs, LookupError};
use ring::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex, OnceLock};

const APP_ID: &str = "1121547";
const INSTALLATION: i64 = 59980338;
const TOKEN: &str = "ghs_16C7e42F292c6912E7710c838347Ae178B4a";

/// A 2048-bit RSA key in GitHub's PKCS#1 PEM form, made once per test run.
fn app_key() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(common::rsa_private_key)
}

/// The public half, as ring verifies with it.
fn public_key() -> Vec<u8> {
    use rustls_pki_types::pem::PemObject;
    let der = rustls_pki_types::PrivateKeyDer::from_pem_slice(app_key().as_bytes()).unwrap();
    let rustls_pki_types::PrivateKeyDer::Pkcs1(k) = der else {
        panic!("PKCS#1 expected")
    };
    let pair = ring::signature::RsaKeyPair::from_der(k.secret_pkcs1_der()).unwrap();
    ring::signature::KeyPair::public_key(&pair)
        .as_ref()
        .to_vec()
}

#[derive(Clone, Default)]
struct GitHub {
    /// (path, accept header, body) of every call.
    seen: Arc<Mutex<Vec<(String, String, Value)>>>,
    /// Answer 201 without a token.
    broken: bool,
}

/// Checks the JWT as GitHub does: signature by the app's key, issuer, a lifetime that
/// covers now and is at most ten minutes.
fn verify_jwt(headers: &HeaderMap) -> Result<(), StatusCode> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(StatusCode::UNAUTHORIZED)?;
    let (signed, signature) = auth.rsplit_once('.').ok_or(StatusCode::UNAUTHORIZED)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| StatusCode::UNAUTHORIZED)?;
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public_key())
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| StatusCode::UNAUTHORIZED)?;
    let (header, claims) = signed.split_once('.').ok_or(StatusCode::UNAUTHORIZED)?;
    let decode = |part: &str| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap_or_default())
            .unwrap_or_default()
    };
    let (header, claims) = (decode(header), decode(claims));
    let now = chrono::Utc::now().timestamp();
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap_or(0),
        claims["exp"].as_i64().unwrap_or(0),
    );
    let valid = header == json!({"alg": "RS256", "typ": "JWT"})
        && claims["iss"] == APP_ID
        && iat <= now
        && now < exp
        && exp - iat <= 600;
    if valid {
        Ok(())
    } else {
        Err(StatusCode::UNAUTHORIZED)
    }
}

async fn access_tokens(
    State(gh): State<GitHub>,
    Path(installation): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let accept = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    gh.seen
        .lock()
        .unwrap()
        .push((installation.clone(), accept.to_string(), body));
    if let Err(status) = verify_jwt(&headers) {
        return (
            status,
            Json(json!({"message": "A JSON web token could not be decoded"})),
        )
            .into_response();
    }
    if installation != INSTALLATION.to_string() {
        return (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found"}))).into_response();
    }
    if gh.broken {
        return (
            StatusCode::CREATED,
            Json(json!({"expires_at": "2026-11-28T12:00:00Z"})),
        )
            .into_response();
    }
    (
        StatusCode::CREATED,
        Json(json!({"token": TOKEN, "expires_at": "2026-11-28T12:00:00Z", "permissions": {"contents": "read"}})),
    )
        .into_response()
}

async fn serve(gh: &GitHub) -> String {
    let app = Router::new()
        .route(
            "/api/v3/app/installations/{id}/access_tokens",
            post(access_tokens),
        )
        .with_state(gh.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/api/v3")
}

fn kwargs(url: &str, install: &str, key: &str) -> Kwargs {
    let mut k = Kwargs::default();
    k.extend_json(
        json!({"github_api_url": url, "app_or_client_id": APP_ID, "install_id": install,
               "private_rsa_key": key, "description": ""})
        .as_object()
        .unwrap(),
    );
    k
}

#[tokio::test]
async fn a_signed_app_jwt_buys_an_installation_token() {
    let gh = GitHub::default();
    let url = serve(&gh).await;
    let token = lookup(
        "github_app_lookup",
        &kwargs(&url, &INSTALLATION.to_string(), app_key()),
    )
    .await
    .unwrap();
    assert_eq!(token.expose_secret(), TOKEN);
    let seen = gh.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, INSTALLATION.to_string());
    assert_eq!(seen[0].1, "application/vnd.github.machine-man-preview+json");
    assert_eq!(seen[0].2, json!({"permissions": {}}));
    // A trailing slash on the endpoint is not doubled.
    let token = lookup(
        "github_app_lookup",
        &kwargs(&format!("{url}/"), " 59980338 ", app_key()),
    )
    .await
    .unwrap();
    assert_eq!(token.expose_secret(), TOKEN);
}

#[tokio::test]
async fn errors_are_reported_as_the_plugin_raises_them() {
    let gh = GitHub::default();
    let url = serve(&gh).await;
    let fail = |install: &'static str, key: String, url: String| async move {
        lookup("github_app_lookup", &kwargs(&url, install, &key))
            .await
            .unwrap_err()
    };
    // Not installed (404).
    assert_eq!(
        fail("42", app_key().into(), url.clone()).await,
        LookupError::Kind("ValueError")
    );
    // Not a number.
    assert_eq!(
        fail("abc", app_key().into(), url.clone()).await,
        LookupError::Kind("ValueError")
    );
    // A JWT signed by another key is refused by GitHub (401).
    let other = common::rsa_private_key();
    assert_eq!(
        fail("59980338", other, url.clone()).await,
        LookupError::Kind("RuntimeError")
    );
    // A key that cannot sign at all.
    assert_eq!(
        fail("59980338", "garbage".into(), url.clone()).await,
        LookupError::Kind("InvalidKeyError")
    );
    // An answer without a token.
    let broken = GitHub {
        broken: true,
        ..GitHub::default()
    };
    let broken_url = serve(&broken).await;
    assert_eq!(
        fail("59980338", app_key().into(), broken_url).await,
        LookupError::Kind("RuntimeError")
    );
    // Nobody listening.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    assert_eq!(
        fail("59980338", app_key().into(), closed).await,
        LookupError::Kind("ConnectionError")
    );
    // A field the credential never stored (defaults are not injected).
    let mut partial = Kwargs::default();
    partial.set_json("app_or_client_id", &json!(APP_ID));
    assert_eq!(
        lookup("github_app_lookup", &partial).await.unwrap_err(),
        LookupError::Kind("TypeError")
    );
}

#[tokio::test]
async fn the_type_and_its_test_endpoint() {
    let gh = GitHub::default();
    let url = serve(&gh).await;
    let app = TestApp::new().await;
    let ty = app.type_id("github_app_lookup").await;
    let detail = app
        .get(As::Admin, &format!("/api/v2/credential_types/{ty}/"))
        .await;
    assert_eq!(detail.body["kind"], "external");
    assert_eq!(
        detail.body["name"],
        "GitHub App Installation Access Token Lookup"
    );
    assert_eq!(
        detail.body["inputs"]["required"],
        json!(["app_or_client_id", "install_id", "private_rsa_key"])
    );
    let org = app.org("o").await;
    let cred = app
        .create(
            "/api/v2/credentials/",
            json!({"name": "gh", "organization": org, "credential_type": ty,
                   "inputs": {"github_api_url": url, "app_or_client_id": APP_ID,
                              "install_id": INSTALLATION.to_string(), "private_rsa_key": app_key()}}),
        )
        .await;
    let shown = app
        .get(As::Admin, &format!("/api/v2/credentials/{cred}/"))
        .await;
    assert_eq!(shown.body["inputs"]["private_rsa_key"], "$encrypted$");
    let ok = app
        .post(
            As::Admin,
            &format!("/api/v2/credentials/{cred}/test/"),
            json!({"metadata": {}}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.raw);
    let missing = app
        .post(
            As::Admin,
            &format!("/api/v2/credentials/{cred}/test/"),
            json!({"inputs": {"install_id": "7"}, "metadata": {}}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.body, json!({"inputs": "ValueError"}));
    // A key that is not a private key is refused when the credential is saved.
    let bad = app
        .post(
            As::Admin,
            "/api/v2/credentials/",
            json!({"name": "bad", "organization": org, "credential_type": ty,
                   "inputs": {"app_or_client_id": APP_ID, "install_id": "1", "private_rsa_key": "nope"}}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.raw);
}
