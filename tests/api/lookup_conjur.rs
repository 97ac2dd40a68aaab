//! CyberArk Conjur lookups (`conjur`, plugins.md §4.7) against an in-repo Conjur double:
//! API-key authentication then the variable read, identifiers escaped with `%2F`/`%20`, the
//! base64 access token in the `Authorization` header, the Conjur Cloud `/api` fallback,
//! versions, HTTP errors, TLS with a CA, and refused connections.

use crate::common;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::{As, TestApp};
use credstore::plugins::{lookup, Kwargs, LookupError};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

const API_KEY: &str = "3x4mpl3-api-key";
/// The raw access token (Conjur's signed JSON).
const TOKEN: &str = r#"{"protected":"eyJhbGciOiJjb25qdXIifQ==","payload":"eyJzdWIiOiJob3N0L2F3eCJ9","signature":"c2lnbmF0dXJl"}"#;

/// Which URL layout the double serves.
#[derive(Clone, Copy, Default, PartialEq)]
enum Layout {
    /// Self-hosted Conjur: no `/api` prefix (those paths are 404).
    #[default]
    SelfHosted,
    /// Conjur Cloud: only under `/api` (the plain paths are 404).
    Cloud,
}

#[derive(Clone, Debug)]
struct Seen {
    method: Method,
    target: String,
    content_type: Option<String>,
    accept_encoding: Option<String>,
    authorization: Option<String>,
    body: String,
}

#[derive(Clone, Default)]
struct Conjur {
    seen: Arc<Mutex<Vec<Seen>>>,
    layout: Layout,
    /// Answer authentication in base64 when asked to (real Conjur does).
    base64: bool,
}

impl Conjur {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
    fn targets(&self) -> Vec<String> {
        self.seen().into_iter().map(|s| s.target).collect()
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn status(code: StatusCode) -> Response {
    (code, "").into_response()
}

async fn conjur_handler(
    State(c): State<Conjur>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = String::from_utf8_lossy(&body).to_string();
    c.seen.lock().unwrap().push(Seen {
        method: method.clone(),
        target: uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
        content_type: header(&headers, "content-type"),
        accept_encoding: header(&headers, "accept-encoding"),
        authorization: header(&headers, "authorization"),
        body: body.clone(),
    });
    let path = uri.path();
    let rest = match (c.layout, path.strip_prefix("/api")) {
        (Layout::Cloud, Some(rest)) => rest,
        (Layout::SelfHosted, None) => path,
        _ => return status(StatusCode::NOT_FOUND),
    };
    // Raw (still escaped) segments: `/` inside an identifier must arrive as `%2F`.
    let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        (Method::POST, ["authn", "moved", _, "authenticate"]) => {
            (StatusCode::MOVED_PERMANENTLY, [("location", "/elsewhere")]).into_response()
        }
        (Method::POST, ["authn", "dev%20org", "host%2Fawx", "authenticate"]) => {
            if body != API_KEY {
                return status(StatusCode::UNAUTHORIZED);
            }
            let asked = header(&headers, "accept-encoding").as_deref() == Some("base64");
            if c.base64 && asked {
                STANDARD.encode(TOKEN).into_response()
            } else {
                TOKEN.into_response()
            }
        }
        (Method::POST, ["authn", ..]) => status(StatusCode::UNAUTHORIZED),
        (Method::GET, ["secrets", "dev%20org", "variable", id]) => {
            let want = format!("Token token=\"{}\"", STANDARD.encode(TOKEN));
            if header(&headers, "authorization") != Some(want) {
                return status(StatusCode::UNAUTHORIZED);
            }
            let version = uri
                .query()
                .and_then(|q| q.strip_prefix("version="))
                .map(|v| v.parse::<usize>().unwrap_or(0));
            let versions = ["old-pw", "new-pw"];
            match *id {
                "prod%2Fdb%20password" => match version {
                    None => versions[1].into_response(),
                    Some(n) if (1..=versions.len()).contains(&n) => versions[n - 1].into_response(),
                    Some(_) => status(StatusCode::NOT_FOUND),
                },
                "locked" => status(StatusCode::FORBIDDEN),
                _ => status(StatusCode::NOT_FOUND),
            }
        }
        _ => status(StatusCode::NOT_FOUND),
    }
}

fn router(c: &Conjur) -> Router {
    Router::new().fallback(conjur_handler).with_state(c.clone())
}

async fn conjur_http(c: &Conjur) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(c);
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

struct World {
    app: TestApp,
    org: i64,
    ty: i64,
}

async fn world() -> World {
    let app = TestApp::new().await;
    let org = app.org("o").await;
    let ty = app.type_id("conjur").await;
    World { app, org, ty }
}

fn inputs(url: &str) -> Value {
    json!({"url": url, "api_key": API_KEY, "account": "dev org", "username": "host/awx"})
}

impl World {
    async fn cred(&self, inputs: Value) -> i64 {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let name = format!("conjur-{}", N.fetch_add(1, Ordering::Relaxed));
        self.app
            .create(
                "/api/v2/credentials/",
                json!({"name": name, "organization": self.org, "credential_type": self.ty,
                       "inputs": inputs}),
            )
            .await
    }

    async fn test(&self, id: i64, body: Value) -> common::Reply {
        self.app
            .post(As::Admin, &format!("/api/v2/credentials/{id}/test/"), body)
            .await
    }
}

fn secret(path: &str) -> Value {
    json!({"metadata": {"secret_path": path}})
}

fn kwargs(url: &str, extra: &[(&str, &str)]) -> Kwargs {
    let mut k = Kwargs::default();
    k.extend_json(inputs(url).as_object().unwrap());
    for (key, value) in extra {
        k.set_json(key, &json!(value));
    }
    k
}

const AUTHN: &str = "/authn/dev%20org/host%2Fawx/authenticate";
const VARIABLE: &str = "/secrets/dev%20org/variable/prod%2Fdb%20password";

#[tokio::test]
async fn authenticates_then_reads() {
    let c = Conjur::default();
    let url = conjur_http(&c).await;
    let w = world().await;
    let id = w.cred(inputs(&url)).await;
    let ok = w.test(id, secret("prod/db password")).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.raw);
    assert_eq!(ok.body, json!({}));
    let seen = c.seen();
    assert_eq!(c.targets(), [AUTHN, VARIABLE]);
    assert_eq!(seen[0].method, Method::POST);
    assert_eq!(seen[0].content_type.as_deref(), Some("text/plain"));
    assert_eq!(seen[0].accept_encoding.as_deref(), Some("base64"));
    assert_eq!(seen[0].body, API_KEY);
    assert_eq!(seen[0].authorization, None);
    assert_eq!(seen[1].method, Method::GET);
    assert_eq!(
        seen[1].authorization,
        Some(format!("Token token=\"{}\"", STANDARD.encode(TOKEN))),
        "a raw token is base64-encoded"
    );
    assert!(!ok.raw.contains("new-pw"));

    let value = |extra: &'static [(&'static str, &'static str)]| {
        let k = kwargs(&url, extra);
        async move {
            lookup("conjur", &k)
                .await
                .map(|s| s.expose_secret().to_string())
        }
    };
    assert_eq!(
        value(&[("secret_path", "prod/db password")]).await,
        Ok("new-pw".to_string())
    );
    assert_eq!(
        value(&[("secret_path", "prod/db password"), ("secret_version", "1")]).await,
        Ok("old-pw".to_string())
    );
    assert_eq!(
        c.targets().last().cloned(),
        Some(format!("{VARIABLE}?version=1"))
    );
    assert_eq!(
        value(&[("secret_path", "prod/db password"), ("secret_version", "")]).await,
        Ok("new-pw".to_string()),
        "an empty version means the latest"
    );
    assert_eq!(c.targets().last().map(String::as_str), Some(VARIABLE));
}

#[tokio::test]
async fn base64_tokens_are_used_as_they_are() {
    let c = Conjur {
        base64: true,
        ..Conjur::default()
    };
    let url = conjur_http(&c).await;
    let w = world().await;
    let id = w.cred(inputs(&url)).await;
    let ok = w.test(id, secret("prod/db password")).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.raw);
    assert_eq!(
        c.seen()[1].authorization,
        Some(format!("Token token=\"{}\"", STANDARD.encode(TOKEN))),
        "not encoded twice"
    );
}

#[tokio::test]
async fn conjur_cloud_fallback_and_errors() {
    let c = Conjur {
        layout: Layout::Cloud,
        ..Conjur::default()
    };
    let url = conjur_http(&c).await;
    let w = world().await;
    let id = w.cred(inputs(&url)).await;
    let ok = w.test(id, secret("prod/db password")).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.raw);
    assert_eq!(
        c.targets(),
        [
            AUTHN.to_string(),
            format!("/api{AUTHN}"),
            VARIABLE.to_string(),
            format!("/api{VARIABLE}")
        ]
    );

    for (metadata, want) in [
        (secret("missing"), "HTTP 404"),
        (secret("locked"), "HTTP 403"),
        (
            json!({"metadata": {"secret_path": "prod/db password", "secret_version": "7"}}),
            "HTTP 404",
        ),
    ] {
        assert_eq!(w.test(id, metadata).await.body, json!({"inputs": want}));
    }
    assert_eq!(
        c.targets().last().cloned(),
        Some(format!("/api{VARIABLE}?version=7"))
    );
    let bad_key = w
        .test(
            id,
            json!({"inputs": {"api_key": "wrong"}, "metadata": {"secret_path": "prod/db password"}}),
        )
        .await;
    assert_eq!(bad_key.body, json!({"inputs": "HTTP 401"}));
}

#[tokio::test]
async fn self_hosted_errors_and_parity_quirks() {
    let c = Conjur::default();
    let url = conjur_http(&c).await;
    let w = world().await;
    let id = w.cred(inputs(&url)).await;

    // The `/api` retry's answer is final, even when the first one was more telling.
    let bad_key = w
        .test(
            id,
            json!({"inputs": {"api_key": "wrong"}, "metadata": {"secret_path": "prod/db password"}}),
        )
        .await;
    assert_eq!(bad_key.body, json!({"inputs": "HTTP 404"}));
    assert_eq!(c.targets(), [AUTHN.to_string(), format!("/api{AUTHN}")]);

    // A redirect is no HTTP error for the retry: reported at once.
    let before = c.seen().len();
    let moved = w
        .test(
            id,
            json!({"inputs": {"account": "moved"}, "metadata": {"secret_path": "x"}}),
        )
        .await;
    assert_eq!(moved.body, json!({"inputs": "HTTP 301"}));
    assert_eq!(c.seen().len(), before + 1);

    // `secret_path` is not in `required` but is read unconditionally; nothing is sent.
    let before = c.seen().len();
    assert_eq!(
        w.test(id, json!({})).await.body,
        json!({"inputs": "KeyError"})
    );
    let no_account = w
        .cred(json!({"url": url, "api_key": API_KEY, "username": "host/awx"}))
        .await;
    assert_eq!(
        w.test(no_account, secret("prod/db password")).await.body,
        json!({"inputs": "KeyError"})
    );
    assert_eq!(c.seen().len(), before);

    // URL-join semantics: a base path needs a trailing slash; empty segments are dropped.
    let prefixed = w
        .cred(json!({"url": format!("{url}/conjur/"), "api_key": API_KEY,
                     "account": "dev org", "username": "host/awx"}))
        .await;
    assert_eq!(
        w.test(prefixed, secret("x")).await.body,
        json!({"inputs": "HTTP 404"})
    );
    assert_eq!(
        c.targets()[c.seen().len() - 2..],
        [format!("/conjur{AUTHN}"), format!("/conjur/api{AUTHN}")]
    );
    let dropped = w
        .cred(json!({"url": format!("{url}/conjur"), "api_key": API_KEY,
                     "account": "dev org", "username": "host/awx"}))
        .await;
    assert_eq!(
        w.test(dropped, secret("prod/db password")).await.status,
        StatusCode::ACCEPTED
    );
    let k = {
        let mut k = kwargs(&url, &[("secret_path", "x")]);
        k.set_json("account", &json!(""));
        k
    };
    assert_eq!(
        lookup("conjur", &k).await.err(),
        Some(LookupError::Http(404))
    );
    assert_eq!(
        c.targets()[c.seen().len() - 2],
        "/authn/host%2Fawx/authenticate",
        "urljoin drops the empty account segment"
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = w.cred(inputs(&format!("http://127.0.0.1:{port}"))).await;
    assert_eq!(
        w.test(down, secret("prod/db password")).await.body,
        json!({"inputs": "ConnectionError"})
    );
}

#[tokio::test]
async fn tls_with_a_ca() {
    let pki = common::tls::pki();
    let c = Conjur::default();
    let url = common::tls::serve(router(&c), false).await;
    let w = world().await;
    let mut trusted = inputs(&url);
    trusted["cacert"] = json!(pki.ca);
    let id = w.cred(trusted).await;
    let ok = w.test(id, secret("prod/db password")).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.raw);
    assert_eq!(c.targets(), [AUTHN, VARIABLE]);

    let mut wrong = inputs(&url);
    wrong["cacert"] = json!(pki.other_ca);
    let wrong = w.cred(wrong).await;
    assert_eq!(
        w.test(wrong, secret("prod/db password")).await.body,
        json!({"inputs": "SSLError"})
    );
    let none = w.cred(inputs(&url)).await;
    assert_eq!(
        w.test(none, secret("prod/db password")).await.body,
        json!({"inputs": "SSLError"})
    );
    assert_eq!(c.seen().len(), 2, "no request got through");

    // Over plain HTTP the CA is not loaded at all (requests ignores it).
    let plain = Conjur::default();
    let plain_url = conjur_http(&plain).await;
    let mut ignored = inputs(&plain_url);
    ignored["cacert"] = json!("not a certificate");
    let ignored = w.cred(ignored).await;
    assert_eq!(
        w.test(ignored, secret("prod/db password")).await.status,
        StatusCode::ACCEPTED
    );
}
