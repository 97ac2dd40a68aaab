//! The web interface's rules, through its pages as a browser sends them (form posts with
//! cookies): signing in, the CSRF token on every change, security headers, what each role
//! is offered, errors beside fields, and no secret ever in a page. The same flows run in
//! a real Chromium in `tests/clients/web_ui.py`.

use crate::common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::{As, Reply, TestApp, ADMIN_PASSWORD};
use serde_json::json;

/// A form with nothing but its token.
const NO_FIELDS: [(&str, &str); 0] = [];

/// A browser's cookie jar for one site: the CSRF cookie, and the session once signed in.
struct Browser<'a> {
    app: &'a TestApp,
    csrf: String,
    session: Option<String>,
}

fn cookie_value(reply: &Reply, name: &str) -> Option<String> {
    reply
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .map(|rest| rest.split(';').next().unwrap_or_default().to_string())
}

fn form<V: AsRef<str>>(pairs: &[(&str, V)]) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        out.append_pair(k, v.as_ref());
    }
    out.finish()
}

impl<'a> Browser<'a> {
    /// Opens the sign-in page (which sets the CSRF cookie) and signs in.
    async fn signed_in(app: &'a TestApp, username: &str, password: &str) -> Browser<'a> {
        let page = app.get(As::Anon, "/login/").await;
        assert_eq!(page.status, StatusCode::OK);
        let csrf = cookie_value(&page, "csrftoken").expect("csrf cookie");
        let mut b = Browser {
            app,
            csrf,
            session: None,
        };
        let r = b
            .submit("/login/", &[("username", username), ("password", password)])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.raw);
        b.session = cookie_value(&r, "awx_sessionid");
        assert!(b.session.is_some(), "no session cookie");
        b
    }

    fn cookies(&self) -> String {
        let mut c = format!("csrftoken={}", self.csrf);
        if let Some(s) = &self.session {
            c.push_str(&format!("; awx_sessionid={s}"));
        }
        c
    }

    async fn get(&self, path: &str) -> Reply {
        let req = Request::builder()
            .method(Method::GET)
            .uri(path)
            .header(header::COOKIE, self.cookies())
            .body(Body::empty())
            .unwrap();
        self.app.call(req).await
    }

    async fn post<V: AsRef<str>>(&self, path: &str, pairs: &[(&str, V)]) -> Reply {
        let req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::COOKIE, self.cookies())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form(pairs)))
            .unwrap();
        self.app.call(req).await
    }

    /// Posts a form as the page would: with the CSRF token the sign-in page set.
    async fn submit<V: AsRef<str>>(&self, path: &str, pairs: &[(&str, V)]) -> Reply {
        let mut all = vec![("csrf_token", self.csrf.clone())];
        all.extend(pairs.iter().map(|(k, v)| (*k, v.as_ref().to_string())));
        self.post(path, &all).await
    }
}

fn location(r: &Reply) -> &str {
    r.headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test]
async fn pages_ask_to_sign_in_and_come_back_afterwards() {
    let app = TestApp::new().await;
    let r = app.get(As::Anon, "/credentials/?search=x").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login/?next=%2Fcredentials%2F%3Fsearch%3Dx");
    let r = app.get(As::Anon, "/").await;
    assert_eq!(location(&r), "/credentials/");
    // API credentials do not open pages: the web interface runs on its session only.
    let r = app.get(As::Admin, "/credentials/").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);

    let b = Browser::signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let r = b.get("/credentials/").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert!(r.raw.contains("Signed in as <strong>admin</strong>"));
    // Only paths of this site are followed after signing in.
    for (next, expected) in [
        ("/credential_types/", "/credential_types/"),
        ("//evil.example/", "/credentials/"),
        ("/\\evil.example", "/credentials/"),
        ("https://evil.example/", "/credentials/"),
    ] {
        let r = b
            .submit(
                "/login/",
                &[
                    ("username", "admin"),
                    ("password", ADMIN_PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(location(&r), expected, "next={next}");
    }
}

#[tokio::test]
async fn every_change_needs_the_form_token() {
    let app = TestApp::new().await;
    let page = app.get(As::Anon, "/login/").await;
    let csrf = cookie_value(&page, "csrftoken").unwrap();
    let no_token = Browser {
        app: &app,
        csrf,
        session: None,
    };
    let r = no_token
        .post(
            "/login/",
            &[
                ("username", "admin"),
                ("password", ADMIN_PASSWORD),
                ("csrf_token", "forged"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(cookie_value(&r, "awx_sessionid").is_none());

    let b = Browser::signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let ssh = app.type_id("ssh").await;
    let cred = app
        .create(
            "/api/v2/credentials/",
            json!({"name": "keep-me", "credential_type": ssh, "user": 1, "inputs": {"username": "u"}}),
        )
        .await;
    for (path, pairs) in [
        (format!("/credentials/{cred}/delete/"), vec![]),
        (
            format!("/credentials/{cred}/delete/"),
            vec![("csrf_token", "wrong")],
        ),
        (
            format!("/credentials/{cred}/edit/"),
            vec![("name", "renamed")],
        ),
        ("/logout/".to_string(), vec![]),
    ] {
        let r = b.post(&path, &pairs).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.raw);
    }
    let r = app
        .get(As::Admin, &format!("/api/v2/credentials/{cred}/"))
        .await;
    assert_eq!(r.body["name"], "keep-me");
    assert_eq!(
        b.get("/credentials/").await.status,
        StatusCode::OK,
        "still signed in"
    );

    let r = b
        .submit(&format!("/credentials/{cred}/delete/"), &NO_FIELDS)
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.raw);
    let r = app
        .get(As::Admin, &format!("/api/v2/credentials/{cred}/"))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn pages_carry_the_security_headers() {
    let app = TestApp::new().await;
    let b = Browser::signed_in(&app, "admin", ADMIN_PASSWORD).await;
    for path in [
        "/login/",
        "/credentials/",
        "/credential_types/",
        "/activity/",
    ] {
        let r = b.get(path).await;
        let h = |name: &str| {
            r.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let csp = h("content-security-policy");
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(h("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(h("x-frame-options"), "DENY", "{path}");
        assert_eq!(h("cache-control"), "no-store", "{path}");
        assert!(!r.raw.contains("<script>"), "{path}: an inline script");
    }
    let r = b.get("/static/app.js").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
}

#[tokio::test]
async fn a_secret_is_shown_as_set_and_never_placed_in_a_page() {
    let app = TestApp::new().await;
    let b = Browser::signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let ssh = app.type_id("ssh").await;
    let secret = "web-secret-Xq81";
    let ty = ssh.to_string();
    let r = b
        .submit(
            "/credentials/new/",
            &[
                ("credential_type", ty.as_str()),
                ("name", "from-a-form"),
                ("input.username", "deploy"),
                ("input.password", secret),
                ("input.ssh_key_data", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.raw);
    let detail = location(&r).to_string();
    let id: i64 = detail
        .trim_matches('/')
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let shown = b.get(&detail).await;
    assert!(
        shown.raw.contains(r#"<span class="secret-set">Set</span>"#),
        "{}",
        shown.raw
    );
    let edit = b.get(&format!("/credentials/{id}/edit/")).await;
    assert!(edit.raw.contains("Set. Leave empty to keep it."));
    for page in [&shown, &edit] {
        assert!(!page.raw.contains(secret), "the secret is in a page");
    }
    // Saving the edit form with the secret left empty keeps it.
    let r = b
        .submit(
            &format!("/credentials/{id}/edit/"),
            &[
                ("name", "renamed"),
                ("input.username", "deploy"),
                ("input.password", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.raw);
    let rendered = common::render(&app, id).await;
    assert!(
        rendered.raw.contains(secret),
        "the kept password: {}",
        rendered.raw
    );
    // A refused form shows the error beside its field and does not echo the secret.
    let r = b
        .submit(
            "/credentials/new/",
            &[
                ("credential_type", ty.as_str()),
                ("name", ""),
                ("input.password", secret),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.raw.contains(r#"id="name-error""#), "{}", r.raw);
    assert!(!r.raw.contains(secret));
}

#[tokio::test]
async fn a_user_with_use_sees_a_read_only_page() {
    let app = TestApp::new().await;
    let user = app.user("viewer").await;
    let ssh = app.type_id("ssh").await;
    let cred = app
        .create(
            "/api/v2/credentials/",
            json!({"name": "shared", "credential_type": ssh, "user": 1, "inputs": {"username": "u"}}),
        )
        .await;
    let admin = Browser::signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let r = admin
        .submit(
            &format!("/credentials/{cred}/access/"),
            &[
                ("action", "grant"),
                ("role", "use_role"),
                ("username", "viewer"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.raw);
    let r = app
        .get(As::Admin, &format!("/api/v2/users/{user}/roles/"))
        .await;
    assert!(r.raw.contains("\"Use\""), "{}", r.raw);

    let viewer = Browser::signed_in(&app, "viewer", "pw-viewer").await;
    let page = viewer.get(&format!("/credentials/{cred}/")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page
        .raw
        .contains("You can use this credential but not change it."));
    assert!(!page.raw.contains("/edit/\">Edit") && !page.raw.contains("/delete/\">Delete"));
    assert_eq!(
        viewer
            .get(&format!("/credentials/{cred}/edit/"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let r = viewer
        .submit(&format!("/credentials/{cred}/delete/"), &NO_FIELDS)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A credential the viewer cannot see at all.
    let hidden = app
        .create(
            "/api/v2/credentials/",
            json!({"name": "not-for-viewer", "credential_type": ssh, "user": 1}),
        )
        .await;
    let r = viewer.get(&format!("/credentials/{hidden}/")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(!r.raw.contains("not-for-viewer"));
    let list = viewer.get("/credentials/").await;
    assert!(list.raw.contains("shared") && !list.raw.contains("not-for-viewer"));
}

#[tokio::test]
async fn a_field_is_linked_to_a_lookup_tested_and_unlinked_from_the_pages() {
    let app = TestApp::new().await;
    let b = Browser::signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let (ssh, vault) = (app.type_id("ssh").await, app.type_id("hashivault_kv").await);
    let target = app
        .create(
            "/api/v2/credentials/",
            json!({"name": "target", "credential_type": ssh, "user": 1, "inputs": {"username": "u"}}),
        )
        .await;
    // A Vault nobody listens at: linking needs no answer, a test reports the failure.
    let source = app
        .create(
            "/api/v2/credentials/",
            json!({"name": "vault", "credential_type": vault, "user": 1,
                   "inputs": {"url": format!("http://127.0.0.1:{}", common::free_port()), "token": "vault-token-Zk3", "api_version": "v2"}}),
        )
        .await;
    let new = format!("/credentials/{target}/sources/new/");
    let chooser = b.get(&new).await;
    assert!(
        chooser
            .raw
            .contains(r#"<option value="password">Password</option>"#),
        "{}",
        chooser.raw
    );
    let form = b
        .get(&format!(
            "{new}?input_field_name=password&source_credential={source}"
        ))
        .await;
    // The same metadata form on the source's own Test page.
    let own_test = b.get(&format!("/credentials/{source}/test/")).await;
    assert_eq!(own_test.status, StatusCode::OK, "{}", own_test.raw);
    for field in ["meta.secret_path", "meta.secret_key", "meta.secret_version"] {
        for page in [&form, &own_test] {
            assert!(
                page.raw.contains(&format!(r#"id="{field}""#)),
                "{field}: {}",
                page.raw
            );
        }
    }
    let src = source.to_string();
    let fields = |action: &'static str| {
        vec![
            ("input_field_name", "password".to_string()),
            ("source_credential", src.clone()),
            ("meta.secret_path", "kv/app".to_string()),
            ("meta.secret_key", "password".to_string()),
            ("action", action.to_string()),
        ]
    };
    let r = b.submit(&new, &fields("test")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    assert!(
        r.raw
            .contains(r#"class="error-box" role="status" id="test-outcome""#),
        "{}",
        r.raw
    );
    let r = b.submit(&new, &fields("link")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.raw);
    let page = b.get(&format!("/credentials/{target}/")).await;
    // Values are escaped in the page ("/" too).
    assert!(
        page.raw.contains("secret_path: kv&#x2f;app") && page.raw.contains(">vault</a>"),
        "{}",
        page.raw
    );
    assert!(!page.raw.contains("vault-token-Zk3"));
    let api = app
        .get(
            As::Admin,
            &format!("/api/v2/credentials/{target}/input_sources/"),
        )
        .await;
    assert_eq!(api.body["count"], 1, "{}", api.raw);
    let id = api.body["results"][0]["id"].as_i64().unwrap();
    let r = b
        .submit(
            &format!("/credentials/{target}/sources/{id}/delete/"),
            &NO_FIELDS,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.raw);
    let api = app
        .get(
            As::Admin,
            &format!("/api/v2/credentials/{target}/input_sources/"),
        )
        .await;
    assert_eq!(api.body["count"], 0);
}

#[tokio::test]
async fn organization_admins_manage_members_and_teams_from_the_pages() {
    let app = TestApp::new().await;
    let admin = Browser::signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let r = admin
        .submit("/organizations/", &[("name", "web-org")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.raw);
    let org_page = location(&r).to_string();
    let org: i64 = org_page
        .trim_matches('/')
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    app.user("boss").await;
    app.user("worker").await;
    let members = format!("/organizations/{org}/members/");
    let r = admin
        .submit(
            &members,
            &[("list", "admins"), ("action", "add"), ("username", "boss")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.raw);

    let boss = Browser::signed_in(&app, "boss", "pw-boss").await;
    let r = boss
        .submit(
            &members,
            &[
                ("list", "members"),
                ("action", "add"),
                ("username", "worker"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.raw);
    let r = boss
        .submit(&format!("/organizations/{org}/teams/"), &[("name", "ops")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.raw);
    let team_page = location(&r).to_string();
    let team: i64 = team_page
        .trim_matches('/')
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let r = boss
        .submit(
            &format!("/teams/{team}/members/"),
            &[("action", "add"), ("username", "worker")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.raw);
    let page = boss.get(&team_page).await;
    assert!(page.raw.contains(">worker</a>"), "{}", page.raw);
    let page = boss.get(&org_page).await;
    assert!(
        page.raw.contains(">worker</a>") && page.raw.contains(">ops</a>"),
        "{}",
        page.raw
    );
    // An organization role, granted from the page to a user and to a team.
    let roles = format!("/organizations/{org}/roles/");
    let team_id = team.to_string();
    for grantee in [("username", "worker"), ("team", team_id.as_str())] {
        let r = boss
            .submit(
                &roles,
                &[
                    ("role", "credential_admin_role"),
                    ("action", "grant"),
                    grantee,
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.raw);
    }
    let held = app
        .get(As::Admin, &format!("/api/v2/teams/{team}/roles/"))
        .await;
    assert!(held.raw.contains("Credential Admin"), "{}", held.raw);
    let page = boss.get(&org_page).await;
    assert!(
        page.raw.contains(r#"<span class="tag">worker</span>"#),
        "{}",
        page.raw
    );

    // A plain member sees the organization but is offered no change, and none is taken.
    let worker = Browser::signed_in(&app, "worker", "pw-worker").await;
    let page = worker.get(&org_page).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.raw.contains("Add a user"));
    let r = worker
        .submit(
            &members,
            &[
                ("list", "members"),
                ("action", "remove"),
                ("username", "boss"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = worker
        .submit(
            &roles,
            &[
                ("role", "auditor_role"),
                ("action", "grant"),
                ("username", "worker"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = worker.submit("/organizations/", &[("name", "mine")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let users = worker.get("/users/").await;
    assert!(users.raw.contains(">boss</a>"), "{}", users.raw);
}

#[tokio::test]
async fn the_type_editor_reads_yaml_or_json_and_shows_errors_beside_the_documents() {
    let app = TestApp::new().await;
    let b = Browser::signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let inputs = "fields:\n  - id: token\n    label: Token\n    secret: true\nrequired: [token]\n";
    let editor = |name: &'static str, inputs: &'static str, injectors: &'static str| {
        vec![
            ("name", name.to_string()),
            ("kind", "cloud".to_string()),
            ("inputs", inputs.to_string()),
            ("injectors", injectors.to_string()),
        ]
    };
    let r = b
        .submit(
            "/credential_types/new/",
            &editor("yaml-type", inputs, "env: {Y_TOKEN: '{{ token }}'}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.raw);
    let id = location(&r)
        .trim_matches('/')
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let api = app
        .get(As::Admin, &format!("/api/v2/credential_types/{id}/"))
        .await;
    assert_eq!(
        api.body["inputs"]["fields"][0]["secret"], true,
        "{}",
        api.raw
    );
    assert_eq!(
        api.body["injectors"],
        json!({"env": {"Y_TOKEN": "{{ token }}"}})
    );

    let r = b
        .submit(
            "/credential_types/new/",
            &editor("bad", "fields: [unclosed", "{}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.raw.contains(r#"id="inputs-error""#) && r.raw.contains("neither YAML nor JSON"),
        "{}",
        r.raw
    );
    let r = b
        .submit(
            "/credential_types/new/",
            &editor("bad", r#"{"fields": [{"id": "x"}]}"#, "{}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.raw.contains(r#"id="inputs-error""#) && r.raw.contains("label"),
        "{}",
        r.raw
    );
    // What was typed comes back, so nothing has to be typed again.
    assert!(r.raw.contains("&quot;id&quot;: &quot;x&quot;"), "{}", r.raw);
}

#[tokio::test]
async fn a_team_is_granted_a_credential_role_and_loses_it_from_the_page() {
    let app = TestApp::new().await;
    let org = app.org("team-org").await;
    let team = app
        .create(
            "/api/v2/teams/",
            json!({"name": "ops", "organization": org}),
        )
        .await;
    let ssh = app.type_id("ssh").await;
    let cred = app
        .create(
            "/api/v2/credentials/",
            json!({"name": "team-cred", "credential_type": ssh, "organization": org}),
        )
        .await;
    let b = Browser::signed_in(&app, "admin", ADMIN_PASSWORD).await;
    let team_id = team.to_string();
    let access = format!("/credentials/{cred}/access/");
    let change = |action: &'static str| {
        vec![
            ("action", action.to_string()),
            ("role", "use_role".to_string()),
            ("team", team_id.clone()),
        ]
    };
    let r = b.submit(&access, &change("grant")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.raw);
    let page = b.get(&format!("/credentials/{cred}/")).await;
    assert!(
        page.raw.contains(r#"id="team-grants""#) && page.raw.contains("<td>ops</td>"),
        "{}",
        page.raw
    );
    let held = app
        .get(As::Admin, &format!("/api/v2/teams/{team}/roles/"))
        .await;
    assert_eq!(held.body["count"], 1, "{}", held.raw);
    let r = b.submit(&access, &change("revoke")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.raw);
    let held = app
        .get(As::Admin, &format!("/api/v2/teams/{team}/roles/"))
        .await;
    assert_eq!(held.body["count"], 0, "{}", held.raw);
}
