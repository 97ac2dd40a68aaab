//! Centrify Vault lookups (`centrify_vault_kv`, plugins.md §4.8) against an in-repo test
//! double of the three tenant endpoints: OAuth2 token, Redrock query, password checkout.

use crate::common;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use common::{As, TestApp};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Makes credential names unique within one app.
static NEXT: AtomicUsize = AtomicUsize::new(0);

const CLIENT_ID: &str = "api-user@corp";
const CLIENT_PASSWORD: &str = "Api-Pa55";
const TOKEN: &str = "cfy-token-1";

/// One request the double received.
#[derive(Clone, Debug)]
struct Hit {
    path: String,
    authorization: String,
    native_client: String,
    body: String,
}

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<Hit>>>);

impl Log {
    fn push(&self, path: &str, headers: &HeaderMap, body: &str) {
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        self.0.lock().unwrap().push(Hit {
            path: path.to_string(),
            authorization: get("authorization"),
            native_client: get("x-centrify-native-client"),
            body: body.to_string(),
        });
    }

    fn hits(&self) -> Vec<Hit> {
        self.0.lock().unwrap().clone()
    }
}

fn json_reply(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

fn bearer_ok(headers: &HeaderMap) -> bool {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    let native = headers
        .get("x-centrify-native-client")
        .and_then(|v| v.to_str().ok());
    auth == Some(&format!("Bearer {TOKEN}")) && native == Some("true")
}

async fn token(
    State(log): State<Log>,
    Path(app): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    log.push(&format!("/oauth2/token/{app}"), &headers, &body);
    match app.as_str() {
        "moved" => {
            return (
                StatusCode::PERMANENT_REDIRECT,
                [(header::LOCATION, "/oauth2/token/awx")],
            )
                .into_response()
        }
        "elsewhere" => {
            return (
                StatusCode::TEMPORARY_REDIRECT,
                [(header::LOCATION, "http://other.invalid/oauth2/token/awx")],
            )
                .into_response()
        }
        "awx" | "custom" | "notoken" | "html" => {}
        _ => return json_reply(StatusCode::NOT_FOUND, json!({"error": "not found"})),
    }
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_PASSWORD}"))
    );
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(basic.as_str()) {
        return json_reply(
            StatusCode::UNAUTHORIZED,
            json!({"error": "unauthorized_client"}),
        );
    }
    let form: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let scope = if app == "custom" { "vault-read" } else { "awx" };
    if form
        != [
            ("grant_type".to_string(), "client_credentials".to_string()),
            ("scope".to_string(), scope.to_string()),
        ]
    {
        return json_reply(StatusCode::BAD_REQUEST, json!({"error": "invalid_scope"}));
    }
    match app.as_str() {
        "notoken" => json_reply(StatusCode::OK, json!({"token_type": "Bearer"})),
        "html" => (StatusCode::OK, "<html>Sign in</html>").into_response(),
        _ => json_reply(
            StatusCode::OK,
            json!({"access_token": TOKEN, "token_type": "Bearer", "expires_in": 18000, "scope": scope}),
        ),
    }
}

/// Reads one `'...'` literal of the query language (`''` is a quote) from the start of `s`.
fn literal(s: &str) -> Option<(String, &str)> {
    let mut rest = s.strip_prefix('\'')?;
    let mut out = String::new();
    loop {
        let at = rest.find('\'')?;
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        match rest.strip_prefix('\'') {
            Some(more) => {
                out.push('\'');
                rest = more;
            }
            None => return Some((out, rest)),
        }
    }
}

/// Parses the one script the plugin sends into (system, account).
fn parse_script(script: &str) -> Option<(String, String)> {
    let rest = script.strip_prefix("Select ID from VaultAccount where  Name=")?;
    let (system, rest) = literal(rest)?;
    let rest = rest.strip_prefix(" and User=")?;
    let (account, rest) = literal(rest)?;
    rest.is_empty().then_some((system, account))
}

async fn query(State(log): State<Log>, headers: HeaderMap, body: String) -> Response {
    log.push("/Redrock/query", &headers, &body);
    if !bearer_ok(&headers) {
        return json_reply(StatusCode::UNAUTHORIZED, json!({"success": false}));
    }
    let script = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v["Script"].as_str().map(str::to_string))
        .unwrap_or_default();
    let Some((system, account)) = parse_script(&script) else {
        return json_reply(
            StatusCode::BAD_REQUEST,
            json!({"success": false, "Message": "syntax error"}),
        );
    };
    let id = match (system.as_str(), account.as_str()) {
        ("web01", "root") => Some("acc-root"),
        ("db'01", "o'neil") => Some("acc-quote"),
        ("web01", "locked") => Some("acc-locked"),
        ("web01", "gone") => Some("acc-gone"),
        ("web01", "nopass") => Some("acc-nopass"),
        ("web01", "nullresult") => Some("acc-null"),
        _ => None,
    };
    let results: Vec<Value> = id
        .map(|id| json!({"Entities": [{"Type": "VaultAccount", "Key": id}], "Row": {"ID": id}}))
        .into_iter()
        .collect();
    json_reply(
        StatusCode::OK,
        json!({"success": true, "Result": {"Count": results.len(), "Columns": [{"Name": "ID"}], "Results": results}}),
    )
}

async fn checkout(State(log): State<Log>, headers: HeaderMap, body: String) -> Response {
    log.push("/ServerManage/CheckoutPassword", &headers, &body);
    if !bearer_ok(&headers) {
        return json_reply(StatusCode::UNAUTHORIZED, json!({"success": false}));
    }
    let id = serde_json::from_str::<Value>(&body).unwrap_or_default()["ID"].clone();
    match id.as_str().unwrap_or_default() {
        "acc-root" => json_reply(
            StatusCode::OK,
            json!({"success": true, "Result": {"Password": "Root-Secret-1", "COID": "co-1"}}),
        ),
        "acc-quote" => json_reply(
            StatusCode::OK,
            json!({"success": true, "Result": {"Password": "Quote-Secret-2", "COID": "co-2"}}),
        ),
        "acc-locked" => json_reply(
            StatusCode::FORBIDDEN,
            json!({"success": false, "Message": "Permission denied"}),
        ),
        "acc-nopass" => json_reply(
            StatusCode::OK,
            json!({"success": true, "Result": {"COID": "co-3"}}),
        ),
        "acc-null" => json_reply(
            StatusCode::OK,
            json!({"success": false, "Result": null, "Message": "Checkout failed"}),
        ),
        _ => json_reply(StatusCode::NOT_FOUND, json!({"success": false})),
    }
}

/// Starts the double on a free loopback port; returns its base URL.
async fn tenant() -> (String, Log) {
    let log = Log::default();
    let app = Router::new()
        .route("/oauth2/token/{app}", post(token))
        .route("/Redrock/query", post(query))
        .route("/ServerManage/CheckoutPassword", post(checkout))
        .with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), log)
}

/// A loopback URL nothing listens on.
async fn refused_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

struct World {
    app: TestApp,
    org: i64,
    ty: i64,
    url: String,
    log: Log,
}

async fn world() -> World {
    let app = TestApp::new().await;
    let (url, log) = tenant().await;
    let org = app.org("o").await;
    let ty = app.type_id("centrify_vault_kv").await;
    World {
        app,
        org,
        ty,
        url,
        log,
    }
}

impl World {
    /// A Centrify credential for the double (`url` carries a path, which is dropped).
    async fn credential(&self, extra: Value) -> i64 {
        let mut inputs = json!({"url": format!("{}/tenant/path", self.url), "client_id": CLIENT_ID, "client_password": CLIENT_PASSWORD});
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            inputs[k] = v;
        }
        self.app
            .create(
                "/api/v2/credentials/",
                json!({"name": format!("cfy-{}", NEXT.fetch_add(1, Ordering::Relaxed)), "organization": self.org, "credential_type": self.ty, "inputs": inputs}),
            )
            .await
    }

    async fn test(&self, id: i64, body: Value) -> common::Reply {
        self.app
            .post(As::Admin, &format!("/api/v2/credentials/{id}/test/"), body)
            .await
    }

    async fn reason(&self, id: i64, system: &str, account: &str) -> Value {
        let r = self
            .test(
                id,
                json!({"metadata": {"system-name": system, "account-name": account}}),
            )
            .await;
        assert!(
            !r.raw.contains("Secret-") && !r.raw.contains(CLIENT_PASSWORD),
            "{}",
            r.raw
        );
        r.body
    }
}

/// Runs the backend directly, to see the value it returns.
async fn value(pairs: &[(&str, &str)]) -> Result<String, String> {
    let mut kw = credstore::plugins::Kwargs::default();
    for (k, v) in pairs {
        kw.set_json(k, &json!(v));
    }
    credstore::plugins::lookup("centrify_vault_kv", &kw)
        .await
        .map(|s| s.expose_secret().to_string())
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn checks_out_a_password() {
    let w = world().await;
    let id = w.credential(json!({})).await;
    let r = w
        .test(
            id,
            json!({"metadata": {"system-name": "web01", "account-name": "root"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.raw);
    assert_eq!(r.body, json!({}));
    assert!(!r.raw.contains("Root-Secret-1"));

    let hits = w.log.hits();
    let paths: Vec<&str> = hits.iter().map(|h| h.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/oauth2/token/awx",
            "/Redrock/query",
            "/ServerManage/CheckoutPassword"
        ],
        "the url's own path is dropped"
    );
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_PASSWORD}"));
    assert_eq!(hits[0].authorization, format!("Basic {basic}"));
    assert_eq!(hits[0].body, "grant_type=client_credentials&scope=awx");
    assert_eq!(
        serde_json::from_str::<Value>(&hits[1].body).unwrap(),
        json!({"Script": "Select ID from VaultAccount where  Name='web01' and User='root'"})
    );
    assert_eq!(
        serde_json::from_str::<Value>(&hits[2].body).unwrap(),
        json!({"ID": "acc-root"})
    );
    for hit in &hits[1..] {
        assert_eq!(hit.authorization, format!("Bearer {TOKEN}"));
        assert_eq!(hit.native_client, "true");
    }

    let got = value(&[
        ("url", &w.url),
        ("client_id", CLIENT_ID),
        ("client_password", CLIENT_PASSWORD),
        ("system-name", "web01"),
        ("account-name", "root"),
    ])
    .await;
    assert_eq!(got.as_deref(), Ok("Root-Secret-1"));
}

#[tokio::test]
async fn custom_application_and_scope() {
    let w = world().await;
    let id = w
        .credential(json!({"oauth_application_id": "custom", "oauth_scope": "vault-read"}))
        .await;
    assert_eq!(w.reason(id, "web01", "root").await, json!({}));
    let hits = w.log.hits();
    assert_eq!(hits[0].path, "/oauth2/token/custom");
    assert_eq!(
        hits[0].body,
        "grant_type=client_credentials&scope=vault-read"
    );

    let unknown = w.credential(json!({"oauth_application_id": "nope"})).await;
    assert_eq!(
        w.reason(unknown, "web01", "root").await,
        json!({"inputs": "HTTP 404"})
    );
}

#[tokio::test]
async fn names_are_quoted_not_injected() {
    let w = world().await;
    let id = w.credential(json!({})).await;
    assert_eq!(w.reason(id, "db'01", "o'neil").await, json!({}));
    let got = value(&[
        ("url", &w.url),
        ("client_id", CLIENT_ID),
        ("client_password", CLIENT_PASSWORD),
        ("system-name", "db'01"),
        ("account-name", "o'neil"),
    ])
    .await;
    assert_eq!(got.as_deref(), Ok("Quote-Secret-2"));

    let injected = w.reason(id, "web01' or '1'='1", "root").await;
    assert_eq!(injected, json!({"inputs": "RuntimeError"}));
    let script = w
        .log
        .hits()
        .iter()
        .rev()
        .find(|h| h.path == "/Redrock/query")
        .map(|h| h.body.clone())
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&script).unwrap()["Script"],
        "Select ID from VaultAccount where  Name='web01'' or ''1''=''1' and User='root'"
    );
}

#[tokio::test]
async fn bad_credentials_and_token_answers() {
    let w = world().await;
    let id = w.credential(json!({})).await;
    let wrong = w
        .test(
            id,
            json!({"inputs": {"client_password": "wrong"}, "metadata": {"system-name": "web01", "account-name": "root"}}),
        )
        .await;
    assert_eq!(wrong.body, json!({"inputs": "HTTP 401"}));
    assert!(!wrong.raw.contains("wrong"));

    let no_token = w
        .credential(json!({"oauth_application_id": "notoken"}))
        .await;
    assert_eq!(
        w.reason(no_token, "web01", "root").await,
        json!({"inputs": "RuntimeError"})
    );
    let html = w.credential(json!({"oauth_application_id": "html"})).await;
    assert_eq!(
        w.reason(html, "web01", "root").await,
        json!({"inputs": "JSONDecodeError"})
    );
}

#[tokio::test]
async fn unknown_account_and_checkout_errors() {
    let w = world().await;
    let id = w.credential(json!({})).await;
    assert_eq!(
        w.reason(id, "web01", "nobody").await,
        json!({"inputs": "RuntimeError"})
    );
    assert_eq!(
        w.reason(id, "web01", "locked").await,
        json!({"inputs": "HTTP 403"})
    );
    assert_eq!(
        w.reason(id, "web01", "gone").await,
        json!({"inputs": "HTTP 404"})
    );
    assert_eq!(
        w.reason(id, "web01", "nopass").await,
        json!({"inputs": "RuntimeError"}),
        "no Password in Result"
    );
    assert_eq!(
        w.reason(id, "web01", "nullresult").await,
        json!({"inputs": "TypeError"}),
        "Result is null"
    );
}

#[tokio::test]
async fn redirects_stay_on_the_tenant() {
    let w = world().await;
    let moved = w.credential(json!({"oauth_application_id": "moved"})).await;
    assert_eq!(w.reason(moved, "web01", "root").await, json!({}));
    let hits = w.log.hits();
    assert_eq!(hits[0].path, "/oauth2/token/moved");
    assert_eq!(
        hits[1].path, "/oauth2/token/awx",
        "308 re-sends the form on the same host"
    );
    assert_eq!(hits[1].body, "grant_type=client_credentials&scope=awx");

    let elsewhere = w
        .credential(json!({"oauth_application_id": "elsewhere"}))
        .await;
    assert_eq!(
        w.reason(elsewhere, "web01", "root").await,
        json!({"inputs": "HTTP 307"}),
        "a redirect to another host is not followed"
    );
}

#[tokio::test]
async fn transport_and_url_errors() {
    let w = world().await;
    let id = w.credential(json!({})).await;
    let refused = w
        .test(
            id,
            json!({"inputs": {"url": refused_url().await}, "metadata": {"system-name": "web01", "account-name": "root"}}),
        )
        .await;
    assert_eq!(refused.body, json!({"inputs": "ConnectionError"}));

    let type_test = format!("/api/v2/credential_types/{}/test/", w.ty);
    let no_url = w
        .app
        .post(
            As::Admin,
            &type_test,
            json!({"inputs": {"client_id": CLIENT_ID, "client_password": CLIENT_PASSWORD},
                   "metadata": {"system-name": "web01", "account-name": "root"}}),
        )
        .await;
    assert_eq!(no_url.body, json!({"inputs": "MissingSchema"}));
    let ok = w
        .app
        .post(
            As::Admin,
            &type_test,
            json!({"inputs": {"url": w.url, "client_id": CLIENT_ID, "client_password": CLIENT_PASSWORD},
                   "metadata": {"system-name": "web01", "account-name": "root"}}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.raw);
}
