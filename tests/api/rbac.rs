//! Access control: one matrix test (every actor against every credential endpoint over one
//! world), then one test per access rule.
//!
//! Expected answers come from api.md §0.2 (401/403/404 envelope), §0.5 (permission before
//! validation), §1.1 (endpoint permissions), §1.4 (sub-lists), §1.5 (grant rules), §2.3/§2.4
//! (capabilities, owners, owner fields), §8 (RBAC) and §13, and from the recorded real-AWX
//! answers for the normal user `u1` in awx-recorded.jsonl (seq 219–313, cited per test).
//!
//! Deliberate credstore choices followed here: team-owned credentials give team *admins* the
//! credential admin role (§8.9 intent), `user_capabilities.copy` is true only for superusers
//! (AWX parity, §8.7/§13), system auditors read everything but `use` is false for them.

use crate::common;

use axum::http::StatusCode;
use common::{As, Reply, TestApp};
use credstore::store::query::{query_as, query_scalar};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Matrix cells where the server currently disagrees with the spec, as
/// `"<actor>: <METHOD> <path template>"` (the key printed for each mismatch). The matrix test
/// passes when the mismatches are exactly these: a new mismatch fails it, and so does a listed
/// bug that got fixed (remove it from here then).
const KNOWN_SERVER_BUGS: &[&str] = &[];

const FORBIDDEN: &str = "You do not have permission to perform this action.";
const NOT_IN_ORG: &str =
    "You cannot grant credential access to a user not in the credentials' organization";
const PRIVATE: &str = "You cannot grant private credential access to another user";
const TEAM_ORG: &str = "You cannot grant credential access to a team when the Organization field isn't set, or belongs to a different organization";
const SYSTEM_TO_TEAM: &str = "You cannot grant system-level permissions to a team.";
/// An id that exists nowhere.
const MISSING: i64 = 987_654_321;

// ---------------------------------------------------------------------------------------------
// Users of the world (password `pw-<name>`, as `TestApp::user` makes them)
// ---------------------------------------------------------------------------------------------

const SYSAUD: &str = "sysaud";
const ORGADMIN: &str = "orgadmin";
const ORGCREDADMIN: &str = "orgcredadmin";
const ORGMEMBER: &str = "orgmember";
const ORGAUDITOR: &str = "orgauditor";
const CREDADMIN: &str = "credadmin";
const CREDUSE: &str = "creduse";
const CREDREAD: &str = "credread";
const TEAMMEMBER: &str = "teammember";
const TEAMADMIN: &str = "teamadmin";
const OTHERORG: &str = "otherorg";
/// An org-A member with no other role: the target of grants.
const GRANTEE: &str = "grantee";
/// A user in no organization.
const LONER: &str = "loner";
/// A member of organization B only.
const BMEMBER: &str = "bmember";

const LOGINS: &[(&str, &str)] = &[
    (SYSAUD, "pw-sysaud"),
    (ORGADMIN, "pw-orgadmin"),
    (ORGCREDADMIN, "pw-orgcredadmin"),
    (ORGMEMBER, "pw-orgmember"),
    (ORGAUDITOR, "pw-orgauditor"),
    (CREDADMIN, "pw-credadmin"),
    (CREDUSE, "pw-creduse"),
    (CREDREAD, "pw-credread"),
    (TEAMMEMBER, "pw-teammember"),
    (TEAMADMIN, "pw-teamadmin"),
    (OTHERORG, "pw-otherorg"),
    (GRANTEE, "pw-grantee"),
    (LONER, "pw-loner"),
    (BMEMBER, "pw-bmember"),
];

/// Basic authentication as one of the world's users.
fn login(name: &str) -> As<'static> {
    let (u, p) = LOGINS
        .iter()
        .copied()
        .find(|(u, _)| *u == name)
        .unwrap_or_else(|| panic!("no login for {name}"));
    As::Basic(u, p)
}

// ---------------------------------------------------------------------------------------------
// The world
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
struct CredRoles {
    admin: i64,
    use_: i64,
    read: i64,
}

/// Org A with credentials C (granted around) and D (granted to nobody), org B with
/// credential E, a personal credential P of `orgmember`, and team T of org A that holds use
/// on C. Org A also owns credential type T (granted to nobody: its org roles give it), and
/// org B has a team B. Every org-A actor is also a plain member of org A (so the org is readable to them
/// and they are valid grantees); `otherorg` is member and admin of org B only.
struct World {
    ssh: i64,
    org_a: i64,
    org_b: i64,
    team: i64,
    c: i64,
    d: i64,
    e: i64,
    p: i64,
    c_roles: CredRoles,
    users: BTreeMap<&'static str, i64>,
    /// Org A's own credential type T, its use role, and team B of org B.
    ty: i64,
    ty_use: i64,
    team_b: i64,
    superuser: i64,
}

impl World {
    fn uid(&self, name: &str) -> i64 {
        self.users[name]
    }

    /// The letters (C, D, E, P) of the world credentials among a page's results, in that order;
    /// `?` for anything else.
    fn letters(&self, page: &Value) -> String {
        let ids = ids_of(page);
        let mut out = String::new();
        for (id, letter) in [(self.c, 'C'), (self.d, 'D'), (self.e, 'E'), (self.p, 'P')] {
            if ids.contains(&id) {
                out.push(letter);
            }
        }
        let known = [self.c, self.d, self.e, self.p];
        for id in &ids {
            if !known.contains(id) {
                out.push('?');
            }
        }
        out
    }
}

async fn build_world() -> (TestApp, World) {
    let app = TestApp::new().await;
    let ssh = app.type_id("ssh").await;
    let org_a = app.org("org-a").await;
    let org_b = app.org("org-b").await;
    let mut users = BTreeMap::new();
    for (name, _) in LOGINS {
        users.insert(*name, app.user(name).await);
    }
    let r = app
        .patch(
            As::Admin,
            &format!("/api/v2/users/{}/", users[SYSAUD]),
            json!({"is_system_auditor": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);

    for name in [
        ORGADMIN,
        ORGCREDADMIN,
        ORGMEMBER,
        ORGAUDITOR,
        CREDADMIN,
        CREDUSE,
        CREDREAD,
        TEAMMEMBER,
        TEAMADMIN,
        GRANTEE,
    ] {
        add_org_member(&app, org_a, users[name]).await;
    }
    add_org_admin(&app, org_a, users[ORGADMIN]).await;
    grant_user(
        &app,
        org_role(&app, org_a, "credential_admin_role").await,
        users[ORGCREDADMIN],
    )
    .await;
    grant_user(
        &app,
        org_role(&app, org_a, "auditor_role").await,
        users[ORGAUDITOR],
    )
    .await;
    add_org_member(&app, org_b, users[OTHERORG]).await;
    add_org_admin(&app, org_b, users[OTHERORG]).await;
    add_org_member(&app, org_b, users[BMEMBER]).await;

    let team = new_team(&app, "team-t", org_a).await;
    add_team_member(&app, team, users[TEAMMEMBER]).await;
    grant_user(
        &app,
        team_role(&app, team, "admin_role").await,
        users[TEAMADMIN],
    )
    .await;

    let c = new_cred(&app, ssh, "w-C", json!({"organization": org_a})).await;
    let d = new_cred(&app, ssh, "w-D", json!({"organization": org_a})).await;
    let e = new_cred(&app, ssh, "w-E", json!({"organization": org_b})).await;
    let p = new_cred(&app, ssh, "w-P", json!({"user": users[ORGMEMBER]})).await;

    let ty = new_org_type(&app, "w-T", org_a).await;
    let ty_use = object_role(&app, &type_path(ty), "use_role").await;
    let team_b = new_team(&app, "team-b-types", org_b).await;
    let superuser = app.get(As::Admin, "/api/v2/me/").await.body["results"][0]["id"]
        .as_i64()
        .expect("superuser id");
    let mut world = World {
        ssh,
        org_a,
        org_b,
        team,
        c,
        d,
        e,
        p,
        c_roles: CredRoles {
            admin: 0,
            use_: 0,
            read: 0,
        },
        users,
        ty,
        ty_use,
        team_b,
        superuser,
    };
    world.c_roles = grant_like_c(&app, &world, c).await;
    (app, world)
}

/// Gives credential `cred` (of org A) the grants C has: admin to `credadmin`, use to
/// `creduse`, read to `credread`, use to team T.
async fn grant_like_c(app: &TestApp, w: &World, cred: i64) -> CredRoles {
    let roles = cred_roles(app, cred).await;
    grant_user(app, roles.admin, w.uid(CREDADMIN)).await;
    grant_user(app, roles.use_, w.uid(CREDUSE)).await;
    grant_user(app, roles.read, w.uid(CREDREAD)).await;
    grant_team(app, roles.use_, w.team).await;
    roles
}

// ---------------------------------------------------------------------------------------------
// Setup helpers (all as superuser)
// ---------------------------------------------------------------------------------------------

#[track_caller]
fn expect_204(r: &Reply, what: &str) {
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{what}: {}", r.raw);
}

async fn add_org_member(app: &TestApp, org: i64, user: i64) {
    let r = app
        .post(
            As::Admin,
            &format!("/api/v2/organizations/{org}/users/"),
            json!({"id": user}),
        )
        .await;
    expect_204(&r, "org member");
}

async fn add_org_admin(app: &TestApp, org: i64, user: i64) {
    let r = app
        .post(
            As::Admin,
            &format!("/api/v2/organizations/{org}/admins/"),
            json!({"id": user}),
        )
        .await;
    expect_204(&r, "org admin");
}

async fn add_team_member(app: &TestApp, team: i64, user: i64) {
    let r = app
        .post(
            As::Admin,
            &format!("/api/v2/teams/{team}/users/"),
            json!({"id": user}),
        )
        .await;
    expect_204(&r, "team member");
}

async fn new_team(app: &TestApp, name: &str, org: i64) -> i64 {
    app.create("/api/v2/teams/", json!({"name": name, "organization": org}))
        .await
}

async fn object_role(app: &TestApp, path: &str, field: &str) -> i64 {
    let r = app.get(As::Admin, path).await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.raw);
    r.body["summary_fields"]["object_roles"][field]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{path} {field}: {}", r.raw))
}

async fn org_role(app: &TestApp, org: i64, field: &str) -> i64 {
    object_role(app, &format!("/api/v2/organizations/{org}/"), field).await
}

async fn team_role(app: &TestApp, team: i64, field: &str) -> i64 {
    object_role(app, &format!("/api/v2/teams/{team}/"), field).await
}

async fn cred_roles(app: &TestApp, cred: i64) -> CredRoles {
    let path = cred_path(cred);
    CredRoles {
        admin: object_role(app, &path, "admin_role").await,
        use_: object_role(app, &path, "use_role").await,
        read: object_role(app, &path, "read_role").await,
    }
}

async fn grant_user(app: &TestApp, role: i64, user: i64) {
    let r = app
        .post(
            As::Admin,
            &format!("/api/v2/roles/{role}/users/"),
            json!({"id": user}),
        )
        .await;
    expect_204(&r, "grant role to user");
}

async fn grant_team(app: &TestApp, role: i64, team: i64) {
    let r = app
        .post(
            As::Admin,
            &format!("/api/v2/roles/{role}/teams/"),
            json!({"id": team}),
        )
        .await;
    expect_204(&r, "grant role to team");
}

/// An ssh credential with `owner` (`{"organization": N}`, `{"user": N}` or `{"team": N}`).
async fn new_cred(app: &TestApp, ssh: i64, name: &str, owner: Value) -> i64 {
    let mut body = json!({"name": name, "credential_type": ssh, "inputs": {"username": "u"}});
    for (k, v) in owner.as_object().expect("owner object") {
        body[k] = v.clone();
    }
    app.create("/api/v2/credentials/", body).await
}

/// A custom cloud type of organization `org`, with one secret field.
async fn new_org_type(app: &TestApp, name: &str, org: i64) -> i64 {
    app.create(
        "/api/v2/credential_types/",
        json!({"name": name, "kind": "cloud", "organization": org,
               "inputs": {"fields": [{"id": "token", "label": "Token", "secret": true}]}}),
    )
    .await
}

fn type_path(id: i64) -> String {
    format!("/api/v2/credential_types/{id}/")
}

fn cred_path(id: i64) -> String {
    format!("/api/v2/credentials/{id}/")
}

/// Ids of a list page's results.
fn ids_of(page: &Value) -> BTreeSet<i64> {
    page["results"]
        .as_array()
        .map(|rs| rs.iter().filter_map(|c| c["id"].as_i64()).collect())
        .unwrap_or_default()
}

/// Ids listed by a 200 page (asserting the 200).
#[track_caller]
fn listed(r: &Reply) -> BTreeSet<i64> {
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    ids_of(&r.body)
}

#[track_caller]
fn check(r: &Reply, status: StatusCode, body: Value) {
    assert_eq!(r.status, status, "{}", r.raw);
    assert_eq!(r.body, body, "{}", r.raw);
}

#[track_caller]
fn status(r: &Reply, status: StatusCode) {
    assert_eq!(r.status, status, "{}", r.raw);
}

#[track_caller]
fn forbidden(r: &Reply) {
    check(r, StatusCode::FORBIDDEN, json!({"detail": FORBIDDEN}));
}

/// `summary_fields.user_capabilities` as (edit, delete, copy, use).
#[track_caller]
fn caps(r: &Reply) -> (bool, bool, bool, bool) {
    assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
    let c = &r.body["summary_fields"]["user_capabilities"];
    let flag = |k: &str| {
        c[k].as_bool()
            .unwrap_or_else(|| panic!("user_capabilities.{k}: {c}"))
    };
    (flag("edit"), flag("delete"), flag("copy"), flag("use"))
}

// ---------------------------------------------------------------------------------------------
// The matrix
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Actor {
    Superuser,
    SystemAuditor,
    OrgAdmin,
    OrgCredentialAdmin,
    OrgMember,
    OrgAuditor,
    CredentialAdmin,
    CredentialUse,
    CredentialRead,
    TeamMember,
    TeamAdmin,
    OtherOrg,
    Anonymous,
}

/// The matrix columns, in this order.
const ACTORS: [Actor; 13] = [
    Actor::Superuser,
    Actor::SystemAuditor,
    Actor::OrgAdmin,
    Actor::OrgCredentialAdmin,
    Actor::OrgMember,
    Actor::OrgAuditor,
    Actor::CredentialAdmin,
    Actor::CredentialUse,
    Actor::CredentialRead,
    Actor::TeamMember,
    Actor::TeamAdmin,
    Actor::OtherOrg,
    Actor::Anonymous,
];

impl Actor {
    fn label(self) -> &'static str {
        match self {
            Actor::Superuser => "superuser",
            Actor::SystemAuditor => "system_auditor",
            Actor::OrgAdmin => "org_admin",
            Actor::OrgCredentialAdmin => "org_credential_admin",
            Actor::OrgMember => "org_member",
            Actor::OrgAuditor => "org_auditor",
            Actor::CredentialAdmin => "admin_on_C",
            Actor::CredentialUse => "use_on_C",
            Actor::CredentialRead => "read_on_C",
            Actor::TeamMember => "team_member",
            Actor::TeamAdmin => "team_admin",
            Actor::OtherOrg => "other_org_admin",
            Actor::Anonymous => "anonymous",
        }
    }

    /// The world user an actor signs in as (the superuser and anonymous have none).
    fn login_name(self) -> &'static str {
        match self {
            Actor::Superuser | Actor::Anonymous => "",
            Actor::SystemAuditor => SYSAUD,
            Actor::OrgAdmin => ORGADMIN,
            Actor::OrgCredentialAdmin => ORGCREDADMIN,
            Actor::OrgMember => ORGMEMBER,
            Actor::OrgAuditor => ORGAUDITOR,
            Actor::CredentialAdmin => CREDADMIN,
            Actor::CredentialUse => CREDUSE,
            Actor::CredentialRead => CREDREAD,
            Actor::TeamMember => TEAMMEMBER,
            Actor::TeamAdmin => TEAMADMIN,
            Actor::OtherOrg => OTHERORG,
        }
    }

    fn who(self) -> As<'static> {
        match self {
            Actor::Superuser => As::Admin,
            Actor::Anonymous => As::Anon,
            other => login(other.login_name()),
        }
    }
}

/// What one cell expects.
#[derive(Clone, Copy, Debug)]
enum Exp {
    /// Exactly this status.
    S(u16),
    /// A 4xx other than 401/403/404/405: allowed past the permission check, then refused (the
    /// test POST of a non-external credential, §6.4: 400).
    Refused,
    /// 200 and exactly these of the world credentials C, D, E, P (letters in that order).
    Set(&'static str),
    /// 200 `{"can_copy": b}`.
    CanCopy(bool),
    /// 200 and C's `summary_fields.user_capabilities` (detail, or C's item in a list page) as
    /// four characters edit/delete/copy/use, `-` meaning false (e.g. `ed-u`).
    Caps(&'static str),
    /// 200 list page without C.
    Absent,
    /// 200 list page with (true) or without (false) the credential type T.
    TypeListed(bool),
}

const OK: Exp = Exp::S(200);
const CREATED: Exp = Exp::S(201);
const NO_CONTENT: Exp = Exp::S(204);
const DENY: Exp = Exp::S(403);
const GONE: Exp = Exp::S(404);
const AUTH: Exp = Exp::S(401);
const REFUSED: Exp = Exp::Refused;
const NOCOPY: Exp = Exp::CanCopy(false);
const LISTED: Exp = Exp::TypeListed(true);
const UNLISTED: Exp = Exp::TypeListed(false);
const COPY: Exp = Exp::CanCopy(true);

/// One endpoint × method, with the expectation for each actor (columns as in `ACTORS`).
struct Row {
    method: &'static str,
    /// Path under `/api/v2`, with `{C}`, `{D}`, `{E}`, `{P}`, `{A}`, `{C.use_role}`,
    /// `{missing}` and `{C'}` (a fresh credential granted like C, made for each actor).
    path: &'static str,
    exp: [Exp; 13],
}

#[rustfmt::skip]
fn matrix() -> Vec<Row> {
    let row = |method, path, exp| Row { method, path, exp };
    let set = Exp::Set;
    let caps = Exp::Caps;
    vec![
        // ---- reads (§8.3 visibility, §8.7 capabilities, §1.1 sub-resources) ----
        //                                                       superuser       sys_auditor  org_admin    org_cred_adm org_member   org_auditor  admin_on_C   use_on_C     read_on_C    team_member  team_admin   other_org    anonymous
        row("GET", "/credentials/?name__startswith=w-",           [set("CDEP"),   set("CDEP"), set("CD"),   set("CD"),   set("P"),    set("CD"),   set("C"),    set("C"),    set("C"),    set("C"),    set("C"),    set("E"),    AUTH]),
        row("GET", "/credentials/?name=w-C",                      [caps("edcu"),  caps("----"),caps("ed-u"),caps("ed-u"),Exp::Absent, caps("----"),caps("ed-u"),caps("---u"),caps("----"),caps("---u"),caps("---u"),Exp::Absent, AUTH]),
        row("GET", "/organizations/{A}/credentials/?name__startswith=w-",
                                                                  [set("CD"),     set("CD"),   set("CD"),   set("CD"),   set(""),     set("CD"),   set("C"),    set("C"),    set("C"),    set("C"),    set("C"),    DENY,        AUTH]),
        row("GET", "/credentials/{C}/",                           [caps("edcu"),  caps("----"),caps("ed-u"),caps("ed-u"),DENY,        caps("----"),caps("ed-u"),caps("---u"),caps("----"),caps("---u"),caps("---u"),DENY,        AUTH]),
        row("GET", "/credentials/{D}/",                           [OK,            OK,          OK,          OK,          DENY,        OK,          DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        AUTH]),
        row("GET", "/credentials/{E}/",                           [OK,            OK,          DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        OK,          AUTH]),
        row("GET", "/credentials/{P}/",                           [OK,            OK,          DENY,        DENY,        OK,          DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        AUTH]),
        row("GET", "/credentials/{C}/copy/",                      [COPY,          NOCOPY,      COPY,        COPY,        DENY,        NOCOPY,      NOCOPY,      NOCOPY,      NOCOPY,      NOCOPY,      NOCOPY,      DENY,        AUTH]),
        row("GET", "/credentials/{C}/test/",                      [OK,            OK,          OK,          OK,          DENY,        OK,          OK,          OK,          OK,          OK,          OK,          DENY,        AUTH]),
        row("GET", "/credentials/{C}/owner_users/",               [OK,            OK,          OK,          OK,          DENY,        OK,          OK,          OK,          OK,          OK,          OK,          DENY,        AUTH]),
        row("GET", "/credentials/{C}/owner_teams/",               [OK,            OK,          OK,          OK,          DENY,        OK,          OK,          OK,          OK,          OK,          OK,          DENY,        AUTH]),
        row("GET", "/credentials/{C}/object_roles/",              [OK,            OK,          OK,          OK,          DENY,        OK,          OK,          OK,          OK,          OK,          OK,          DENY,        AUTH]),
        row("GET", "/credentials/{C}/access_list/",               [OK,            OK,          OK,          OK,          DENY,        OK,          OK,          OK,          OK,          OK,          OK,          DENY,        AUTH]),
        // ---- a credential that does not exist (§0.2: 404 for every authenticated caller) ----
        row("GET", "/credentials/{missing}/",                     [GONE,          GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        AUTH]),
        row("PATCH", "/credentials/{missing}/",                   [GONE,          GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        AUTH]),
        row("DELETE", "/credentials/{missing}/",                  [GONE,          GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        AUTH]),
        row("GET", "/credentials/{missing}/copy/",                [GONE,          GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        AUTH]),
        row("POST", "/credentials/{missing}/test/",               [GONE,          GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        AUTH]),
        row("GET", "/credentials/{missing}/access_list/",         [GONE,          GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        GONE,        AUTH]),
        // ---- writes (§8.5 change/delete, §1.1 test needs use, §8.6 copy, §8.4 create, §1.5 grants) ----
        row("PATCH", "/credentials/{C}/",                         [OK,            DENY,        OK,          OK,          DENY,        DENY,        OK,          DENY,        DENY,        DENY,        DENY,        DENY,        AUTH]),
        row("PUT", "/credentials/{C}/",                           [OK,            DENY,        OK,          OK,          DENY,        DENY,        OK,          DENY,        DENY,        DENY,        DENY,        DENY,        AUTH]),
        row("PATCH", "/credentials/{D}/",                         [OK,            DENY,        OK,          OK,          DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        AUTH]),
        row("POST", "/credentials/{C}/test/",                     [REFUSED,       DENY,        REFUSED,     REFUSED,     DENY,        DENY,        REFUSED,     REFUSED,     DENY,        REFUSED,     REFUSED,     DENY,        AUTH]),
        row("POST", "/credentials/{C}/copy/",                     [CREATED,       DENY,        CREATED,     CREATED,     DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        AUTH]),
        row("POST", "/credentials/",                              [CREATED,       DENY,        CREATED,     CREATED,     DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        AUTH]),
        row("POST", "/organizations/{A}/credentials/",            [CREATED,       DENY,        CREATED,     CREATED,     DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        AUTH]),
        row("POST", "/roles/{C.use_role}/users/",                 [NO_CONTENT,    DENY,        NO_CONTENT,  NO_CONTENT,  DENY,        DENY,        NO_CONTENT,  DENY,        DENY,        DENY,        DENY,        DENY,        AUTH]),
        row("DELETE", "/credentials/{C'}/",                       [NO_CONTENT,    DENY,        NO_CONTENT,  NO_CONTENT,  DENY,        DENY,        NO_CONTENT,  DENY,        DENY,        DENY,        DENY,        DENY,        AUTH]),
        // ---- org A's credential type T (issue 26: org admins manage, members use, outsiders see nothing) ----
        row("GET", "/credential_types/?name=w-T",                 [LISTED,        LISTED,      LISTED,      LISTED,      LISTED,      LISTED,      LISTED,      LISTED,      LISTED,      LISTED,      LISTED,      UNLISTED,    AUTH]),
        row("GET", "/credential_types/{T}/",                      [OK,            OK,          OK,          OK,          OK,          OK,          OK,          OK,          OK,          OK,          OK,          DENY,        AUTH]),
        row("GET", "/credential_types/w-T+cloud/",                [OK,            OK,          OK,          OK,          OK,          OK,          OK,          OK,          OK,          OK,          OK,          GONE,        AUTH]),
        row("GET", "/credential_types/{T}/object_roles/",         [OK,            OK,          OK,          OK,          OK,          OK,          OK,          OK,          OK,          OK,          OK,          DENY,        AUTH]),
        row("GET", "/credential_types/{T}/credentials/",          [OK,            OK,          OK,          OK,          OK,          OK,          OK,          OK,          OK,          OK,          OK,          DENY,        AUTH]),
        row("PATCH", "/credential_types/{T}/",                    [OK,            DENY,        OK,          DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        AUTH]),
        row("POST", "/credential_types/",                         [CREATED,       DENY,        CREATED,     DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        AUTH]),
        row("POST", "/credential_types/{T}/credentials/",         [CREATED,       DENY,        CREATED,     CREATED,     DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        AUTH]),
        row("POST", "/credentials/?personal-of-T",                [CREATED,       DENY,        CREATED,     CREATED,     CREATED,     CREATED,     CREATED,     CREATED,     CREATED,     CREATED,     CREATED,     REFUSED,     AUTH]),
        row("POST", "/roles/{T.use_role}/teams/",                 [NO_CONTENT,    DENY,        NO_CONTENT,  DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        AUTH]),
        row("DELETE", "/credential_types/{T'}/",                  [NO_CONTENT,    DENY,        NO_CONTENT,  DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        DENY,        AUTH]),
    ]
}

/// The request body a row sends for an actor.
fn body_for(w: &World, row: &Row, actor: Actor) -> Value {
    let who = actor.label();
    match (row.method, row.path) {
        ("PUT", _) => json!({
            "name": "w-C",
            "description": format!("put by {who}"),
            "credential_type": w.ssh,
            "organization": w.org_a,
            "inputs": {"username": "u"},
        }),
        ("PATCH", _) => json!({"description": format!("patched by {who}")}),
        ("POST", "/credentials/{C}/copy/") => json!({"name": format!("copy-{who}")}),
        ("POST", "/credentials/") => json!({
            "name": format!("new-{who}"),
            "credential_type": w.ssh,
            "organization": w.org_a,
            "inputs": {"username": "n"},
        }),
        ("POST", "/organizations/{A}/credentials/") => json!({
            "name": format!("sub-{who}"),
            "credential_type": w.ssh,
            "inputs": {"username": "n"},
        }),
        ("POST", "/roles/{C.use_role}/users/") => json!({"id": w.uid(GRANTEE)}),
        ("POST", "/credential_types/") => json!({
            "name": format!("type-{who}"),
            "kind": "cloud",
            "organization": w.org_a,
        }),
        ("POST", "/credential_types/{T}/credentials/") => json!({
            "name": format!("tc-{who}"),
            "organization": w.org_a,
            "inputs": {"token": "t"},
        }),
        ("POST", "/credentials/?personal-of-T") => json!({
            "name": format!("pt-{who}"),
            "credential_type": w.ty,
            "user": match actor {
                Actor::Superuser | Actor::Anonymous => w.superuser,
                _ => w.uid(actor.login_name()),
            },
            "inputs": {"token": "t"},
        }),
        ("POST", "/roles/{T.use_role}/teams/") => json!({"id": w.team_b}),
        _ => json!({}),
    }
}

/// Sends a row's request as `actor`. For `{C'}` rows a fresh C-like credential is made first,
/// for `{T'}` rows a fresh type of org A; its path is returned alongside the reply.
async fn perform(app: &TestApp, w: &World, row: &Row, actor: Actor) -> (Reply, Option<String>) {
    let mut fresh = None;
    let mut path = format!("/api/v2{}", row.path)
        .replace("{C}", &w.c.to_string())
        .replace("{D}", &w.d.to_string())
        .replace("{E}", &w.e.to_string())
        .replace("{P}", &w.p.to_string())
        .replace("{A}", &w.org_a.to_string())
        .replace("{C.use_role}", &w.c_roles.use_.to_string())
        .replace("{T.use_role}", &w.ty_use.to_string())
        .replace("{T}", &w.ty.to_string())
        .replace("{missing}", &MISSING.to_string());
    if path.contains("{C'}") {
        let id = new_cred(
            app,
            w.ssh,
            &format!("del-{}", actor.label()),
            json!({"organization": w.org_a}),
        )
        .await;
        grant_like_c(app, w, id).await;
        path = path.replace("{C'}", &id.to_string());
        fresh = Some(cred_path(id));
    }
    if path.contains("{T'}") {
        let id = new_org_type(app, &format!("del-{}", actor.label()), w.org_a).await;
        path = path.replace("{T'}", &id.to_string());
        fresh = Some(type_path(id));
    }
    // The personal-credential row's marker is not part of the request.
    let path = path.replace("?personal-of-T", "");
    let who = actor.who();
    let reply = match row.method {
        "GET" => app.get(who, &path).await,
        "DELETE" => app.delete(who, &path).await,
        "POST" => app.post(who, &path, body_for(w, row, actor)).await,
        "PATCH" => app.patch(who, &path, body_for(w, row, actor)).await,
        "PUT" => app.put(who, &path, body_for(w, row, actor)).await,
        other => panic!("method {other}"),
    };
    (reply, fresh)
}

fn snippet(raw: &str) -> String {
    raw.chars().take(160).collect()
}

/// Compares one answer with its cell; `Err` describes the difference.
fn judge(w: &World, exp: Exp, r: &Reply) -> Result<(), String> {
    let got = r.status.as_u16();
    let fail = |want: String| Err(format!("expected {want}, got {got} {}", snippet(&r.raw)));
    let c_caps = |item: &Value| -> String {
        let c = &item["summary_fields"]["user_capabilities"];
        ["edit", "delete", "copy", "use"]
            .iter()
            .zip(['e', 'd', 'c', 'u'])
            .map(|(k, ch)| match c[*k].as_bool() {
                Some(true) => ch,
                Some(false) => '-',
                None => '?',
            })
            .collect()
    };
    let c_item = |page: &Value| -> Option<Value> {
        page["results"]
            .as_array()?
            .iter()
            .find(|i| i["id"].as_i64() == Some(w.c))
            .cloned()
    };
    match exp {
        Exp::S(want) if got == want => Ok(()),
        Exp::S(want) => fail(want.to_string()),
        Exp::Refused if (400..500).contains(&got) && ![401, 403, 404, 405].contains(&got) => Ok(()),
        Exp::Refused => fail("a 4xx other than 401/403/404/405".into()),
        Exp::Set(want) => {
            let seen = w.letters(&r.body);
            if got == 200 && seen == want {
                Ok(())
            } else {
                Err(format!(
                    "expected 200 with {{{want}}}, got {got} with {{{seen}}}"
                ))
            }
        }
        Exp::CanCopy(want) => {
            if got == 200 && r.body == json!({"can_copy": want}) {
                Ok(())
            } else {
                fail(format!("200 {{\"can_copy\": {want}}}"))
            }
        }
        Exp::Caps(want) => {
            let item = if r.body.get("results").is_some() {
                c_item(&r.body)
            } else {
                Some(r.body.clone())
            };
            match item {
                Some(item) if got == 200 && c_caps(&item) == want => Ok(()),
                Some(item) if got == 200 => Err(format!(
                    "expected capabilities {want}, got {}",
                    c_caps(&item)
                )),
                _ => fail(format!("200 with C and capabilities {want}")),
            }
        }
        Exp::TypeListed(want) => {
            let listed = r.body["results"]
                .as_array()
                .is_some_and(|items| items.iter().any(|i| i["id"].as_i64() == Some(w.ty)));
            if got == 200 && listed == want {
                Ok(())
            } else {
                fail(format!("200 {} T", if want { "with" } else { "without" }))
            }
        }
        Exp::Absent => {
            if got == 200 && r.body.get("results").is_some() && c_item(&r.body).is_none() {
                Ok(())
            } else {
                fail("200 without C".into())
            }
        }
    }
}

#[tokio::test]
async fn access_matrix_for_every_actor_and_credential_endpoint() {
    let (app, w) = build_world().await;
    let rows = matrix();
    let endpoints: BTreeSet<&str> = rows
        .iter()
        .map(|r| r.path.split('?').next().unwrap_or(r.path))
        .collect();
    let methods: BTreeSet<&str> = rows.iter().map(|r| r.method).collect();
    eprintln!(
        "rbac matrix: {} actors x {} endpoint/method rows ({} endpoints, {} methods) = {} checks",
        ACTORS.len(),
        rows.len(),
        endpoints.len(),
        methods.len(),
        ACTORS.len() * rows.len()
    );

    // key -> description of the difference
    let mut mismatches: BTreeMap<String, String> = BTreeMap::new();
    for row in &rows {
        for (actor, exp) in ACTORS.iter().copied().zip(row.exp) {
            let key = format!("{}: {} {}", actor.label(), row.method, row.path);
            let (reply, fresh) = perform(&app, &w, row, actor).await;
            if let Err(why) = judge(&w, exp, &reply) {
                mismatches.insert(key.clone(), why);
            }
            // A delete must really delete, and a refused one must leave the credential alone.
            if let Some(fresh_path) = fresh {
                let after = app.get(As::Admin, &fresh_path).await.status;
                let want_gone = matches!(exp, Exp::S(204));
                let is_gone = after == StatusCode::NOT_FOUND;
                if want_gone != is_gone {
                    mismatches.insert(
                        format!("{key} (afterwards)"),
                        format!(
                            "object should be {}, GET as superuser answers {after}",
                            if want_gone { "gone" } else { "kept" }
                        ),
                    );
                }
            }
        }
    }

    for (key, why) in &mismatches {
        let tag = if KNOWN_SERVER_BUGS.contains(&key.as_str()) {
            "known server bug"
        } else {
            "MISMATCH"
        };
        eprintln!("{tag}: {key}: {why}");
    }
    let new: Vec<String> = mismatches
        .iter()
        .filter(|(k, _)| !KNOWN_SERVER_BUGS.contains(&k.as_str()))
        .map(|(k, why)| format!("{k}: {why}"))
        .collect();
    let fixed: Vec<&str> = KNOWN_SERVER_BUGS
        .iter()
        .copied()
        .filter(|k| !mismatches.contains_key(*k))
        .collect();
    assert!(
        new.is_empty() && fixed.is_empty(),
        "{} new mismatch(es):\n  {}\n{} listed server bug(s) now pass (remove them from KNOWN_SERVER_BUGS):\n  {}",
        new.len(),
        new.join("\n  "),
        fixed.len(),
        fixed.join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------------
// Creation owner rules (§8.4, §2.4, §0.5)
// ---------------------------------------------------------------------------------------------

/// §0.5/§8.4: the permission check runs on the raw body before validation, so a caller without
/// rights on the organization gets 403 even for a body that would be a 400.
#[tokio::test]
async fn create_without_rights_is_403_before_validation() {
    let (app, w) = build_world().await;
    let invalid =
        json!({"name": "", "organization": w.org_a, "credential_type": "not-a-pk", "inputs": []});
    for who in [ORGMEMBER, CREDADMIN, OTHERORG, SYSAUD] {
        let r = app
            .post(login(who), "/api/v2/credentials/", invalid.clone())
            .await;
        forbidden(&r);
        // Also when only the name is missing.
        forbidden(
            &app.post(
                login(who),
                "/api/v2/credentials/",
                json!({"organization": w.org_a, "credential_type": w.ssh}),
            )
            .await,
        );
    }
    // The same body from a superuser reaches validation.
    status(
        &app.post(As::Admin, "/api/v2/credentials/", invalid).await,
        StatusCode::BAD_REQUEST,
    );
}

/// §8.4: every owner given must pass the owner rule; no owner passes only for superusers, who
/// then get the 400 for the missing owner (seq 288, 291, §2.4, §12).
#[tokio::test]
async fn create_needs_rights_on_every_given_owner() {
    let (app, w) = build_world().await;
    // A valid organization credential from a caller without rights on the organization (seq 288).
    for who in [ORGMEMBER, CREDADMIN, ORGAUDITOR, OTHERORG, SYSAUD] {
        forbidden(
            &app.post(
                login(who),
                "/api/v2/credentials/",
                json!({"name": "org-cred", "credential_type": w.ssh, "organization": w.org_a}),
            )
            .await,
        );
        forbidden(
            &app.post(
                login(who),
                &format!("/api/v2/organizations/{}/credentials/", w.org_a),
                json!({"name": "org-cred", "credential_type": w.ssh}),
            )
            .await,
        );
    }
    // No owner at all: 403 for a normal user (seq 291), 400 for the superuser (§2.4).
    let no_owner = json!({"name": "none", "credential_type": w.ssh});
    forbidden(
        &app.post(login(CREDUSE), "/api/v2/credentials/", no_owner.clone())
            .await,
    );
    check(
        &app.post(As::Admin, "/api/v2/credentials/", no_owner).await,
        StatusCode::BAD_REQUEST,
        json!({"detail": ["Missing 'user', 'team', or 'organization'."]}),
    );
    // `user: self` plus an organization without rights is refused (§12).
    forbidden(
        &app.post(
            login(CREDUSE),
            "/api/v2/credentials/",
            json!({"name": "mixed", "credential_type": w.ssh, "user": w.uid(CREDUSE), "organization": w.org_a}),
        )
        .await,
    );
    // The org credential admin passes the organization rule.
    status(
        &app.post(
            login(ORGCREDADMIN),
            "/api/v2/credentials/",
            json!({"name": "org-cred", "credential_type": w.ssh, "organization": w.org_a}),
        )
        .await,
        StatusCode::CREATED,
    );
    // Nothing else was created by the refused requests.
    let r = app
        .get(
            As::Admin,
            "/api/v2/credentials/?name__in=none,mixed,org-cred",
        )
        .await;
    assert_eq!(r.body["count"], 1, "{}", r.raw);
}

/// §2.4/§8.4: the permission check reads the raw owner ids, so for a non-superuser an owner id
/// that does not exist is a 400 with a `detail` message (not the superuser's field error).
#[tokio::test]
async fn unknown_owner_id_is_400_detail_for_non_superusers() {
    let (app, w) = build_world().await;
    for (field, model) in [
        ("organization", "Organization"),
        ("user", "User"),
        ("team", "Team"),
    ] {
        let mut body = json!({"name": "ghost", "credential_type": w.ssh});
        body[field] = json!(MISSING);
        let r = app
            .post(login(ORGADMIN), "/api/v2/credentials/", body.clone())
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.raw);
        let allowed = [
            json!({"detail": format!("{model} matching query does not exist.")}),
            json!({"detail": format!("Bad data found in related field {field}.")}),
        ];
        assert!(allowed.contains(&r.body), "{body}: {}", r.raw);
        // The superuser gets the field error instead.
        let r = app
            .post(As::Admin, "/api/v2/credentials/", body.clone())
            .await;
        check(
            &r,
            StatusCode::BAD_REQUEST,
            json!({field: [format!("Invalid pk \"{MISSING}\" - object does not exist.")]}),
        );
    }
}

/// §8.4 `user: U` with U = caller; §2.4 U receives the admin role directly, so U is the one
/// owner user (seq 289, 292); the same through `/users/{self}/credentials/` (§12).
#[tokio::test]
async fn user_creates_personal_credential_for_self() {
    let (app, w) = build_world().await;
    let me = w.uid(CREDUSE);
    let r = app
        .post(
            login(CREDUSE),
            "/api/v2/credentials/",
            json!({"name": "mine", "credential_type": w.ssh, "user": me, "inputs": {"username": "own"}}),
        )
        .await;
    status(&r, StatusCode::CREATED);
    let id = r.body["id"].as_i64().expect("id");
    assert!(r.body["organization"].is_null(), "{}", r.raw);

    let owners = app
        .get(
            login(CREDUSE),
            &format!("/api/v2/credentials/{id}/owner_users/"),
        )
        .await;
    assert_eq!(listed(&owners), BTreeSet::from([me]));
    assert_eq!(owners.body["count"], 1);
    // Admin on it: edit, delete, use; copy only for superusers (§8.7).
    assert_eq!(
        caps(&app.get(login(CREDUSE), &cred_path(id)).await),
        (true, true, false, true)
    );
    // Nobody else in the organization sees it.
    for other in [ORGADMIN, ORGAUDITOR, GRANTEE] {
        forbidden(&app.get(login(other), &cred_path(id)).await);
    }

    let r = app
        .post(
            login(CREDUSE),
            &format!("/api/v2/users/{me}/credentials/"),
            json!({"name": "mine-2", "credential_type": w.ssh}),
        )
        .await;
    status(&r, StatusCode::CREATED);
    let id2 = r.body["id"].as_i64().expect("id");
    let owners = app
        .get(
            login(CREDUSE),
            &format!("/api/v2/credentials/{id2}/owner_users/"),
        )
        .await;
    assert_eq!(listed(&owners), BTreeSet::from([me]));
}

/// §8.4: a normal user cannot create a personal credential for someone else, through either
/// endpoint (seq 290, §12).
#[tokio::test]
async fn normal_user_cannot_create_for_another_user() {
    let (app, w) = build_world().await;
    let other = w.uid(GRANTEE);
    forbidden(
        &app.post(
            login(CREDUSE),
            "/api/v2/credentials/",
            json!({"name": "theirs", "credential_type": w.ssh, "user": other}),
        )
        .await,
    );
    forbidden(
        &app.post(
            login(CREDUSE),
            &format!("/api/v2/users/{other}/credentials/"),
            json!({"name": "theirs", "credential_type": w.ssh}),
        )
        .await,
    );
    let r = app.get(As::Admin, "/api/v2/credentials/?name=theirs").await;
    assert_eq!(r.body["count"], 0, "{}", r.raw);
}

/// §8.4: an org admin administers the users whose organizations they all administer, and may
/// give them personal credentials; §2.4: the member owns it and the creator (not SU) gets the
/// admin role too. Users in no organization or in another one are out of reach.
#[tokio::test]
async fn org_admin_creates_personal_credential_for_org_member() {
    let (app, w) = build_world().await;
    let member = w.uid(GRANTEE);
    let r = app
        .post(
            login(ORGADMIN),
            "/api/v2/credentials/",
            json!({"name": "for-member", "credential_type": w.ssh, "user": member}),
        )
        .await;
    status(&r, StatusCode::CREATED);
    let id = r.body["id"].as_i64().expect("id");
    let owners = app
        .get(As::Admin, &format!("/api/v2/credentials/{id}/owner_users/"))
        .await;
    assert_eq!(
        listed(&owners),
        BTreeSet::from([member, w.uid(ORGADMIN)]),
        "{}",
        owners.raw
    );
    assert_eq!(
        caps(&app.get(login(GRANTEE), &cred_path(id)).await),
        (true, true, false, true)
    );

    for (target, name) in [(LONER, "for-loner"), (BMEMBER, "for-bmember")] {
        forbidden(
            &app.post(
                login(ORGADMIN),
                "/api/v2/credentials/",
                json!({"name": name, "credential_type": w.ssh, "user": w.uid(target)}),
            )
            .await,
        );
    }
}

/// §8.4 `team: T` (org admin), §2.4: organization := team's, team members can use it (§12:
/// listed in `/teams/{id}/credentials/`), the team is its owner team.
#[tokio::test]
async fn org_admin_creates_team_credential_that_members_use() {
    let (app, w) = build_world().await;
    let r = app
        .post(
            login(ORGADMIN),
            "/api/v2/credentials/",
            json!({"name": "team-cred", "credential_type": w.ssh, "team": w.team}),
        )
        .await;
    status(&r, StatusCode::CREATED);
    let id = r.body["id"].as_i64().expect("id");
    assert_eq!(r.body["organization"], w.org_a, "{}", r.raw);
    assert_eq!(
        r.body["summary_fields"]["organization"]["id"], w.org_a,
        "{}",
        r.raw
    );

    let listed_for_member = app
        .get(
            login(TEAMMEMBER),
            &format!("/api/v2/teams/{}/credentials/", w.team),
        )
        .await;
    assert!(
        listed(&listed_for_member).contains(&id),
        "{}",
        listed_for_member.raw
    );
    assert_eq!(
        caps(&app.get(login(TEAMMEMBER), &cred_path(id)).await),
        (false, false, false, true)
    );
    forbidden(
        &app.patch(
            login(TEAMMEMBER),
            &cred_path(id),
            json!({"description": "x"}),
        )
        .await,
    );
    let teams = app
        .get(As::Admin, &format!("/api/v2/credentials/{id}/owner_teams/"))
        .await;
    assert_eq!(listed(&teams), BTreeSet::from([w.team]), "{}", teams.raw);
    // Outside the team it stays invisible.
    forbidden(&app.get(login(CREDUSE), &cred_path(id)).await);
}

/// Deliberate credstore choice (§8.9 intent): the team's admin role is a parent of a
/// team-owned credential's admin role, so team admins administer it. A team admin may also
/// create team credentials (§8.4: caller can change T).
#[tokio::test]
async fn team_admin_administers_team_credentials() {
    let (app, w) = build_world().await;
    let id = new_cred(&app, w.ssh, "team-cred", json!({"team": w.team})).await;
    assert_eq!(
        caps(&app.get(login(TEAMADMIN), &cred_path(id)).await),
        (true, true, false, true)
    );
    status(
        &app.patch(
            login(TEAMADMIN),
            &cred_path(id),
            json!({"description": "by team admin"}),
        )
        .await,
        StatusCode::OK,
    );
    let r = app
        .post(
            login(TEAMADMIN),
            "/api/v2/credentials/",
            json!({"name": "by-team-admin", "credential_type": w.ssh, "team": w.team}),
        )
        .await;
    status(&r, StatusCode::CREATED);
    assert_eq!(r.body["organization"], w.org_a, "{}", r.raw);
}

/// §8.4/§12: plain team members and unrelated users cannot create team credentials, through
/// either endpoint.
#[tokio::test]
async fn plain_team_member_cannot_create_team_credential() {
    let (app, w) = build_world().await;
    for who in [TEAMMEMBER, CREDUSE, OTHERORG] {
        forbidden(
            &app.post(
                login(who),
                "/api/v2/credentials/",
                json!({"name": "nope", "credential_type": w.ssh, "team": w.team}),
            )
            .await,
        );
        forbidden(
            &app.post(
                login(who),
                &format!("/api/v2/teams/{}/credentials/", w.team),
                json!({"name": "nope", "credential_type": w.ssh}),
            )
            .await,
        );
    }
    let r = app.get(As::Admin, "/api/v2/credentials/?name=nope").await;
    assert_eq!(r.body["count"], 0, "{}", r.raw);
}

// ---------------------------------------------------------------------------------------------
// Change of organization (§8.5)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn changing_organization_needs_rights_on_old_and_new() {
    let (app, w) = build_world().await;
    // Admin on C but no rights on org B (seq 295).
    forbidden(
        &app.patch(
            login(CREDADMIN),
            &cred_path(w.c),
            json!({"organization": w.org_b}),
        )
        .await,
    );
    // Admin of org A only: no rights on the new organization.
    forbidden(
        &app.patch(
            login(ORGADMIN),
            &cred_path(w.c),
            json!({"organization": w.org_b}),
        )
        .await,
    );
    // Admin of org B only cannot even change C.
    forbidden(
        &app.patch(
            login(OTHERORG),
            &cred_path(w.c),
            json!({"organization": w.org_b}),
        )
        .await,
    );
    let r = app.get(As::Admin, &cred_path(w.c)).await;
    assert_eq!(r.body["organization"], w.org_a, "C must not have moved");

    // Sending the current organization is no change: the direct admin may.
    status(
        &app.patch(
            login(CREDADMIN),
            &cred_path(w.c),
            json!({"organization": w.org_a, "description": "same org"}),
        )
        .await,
        StatusCode::OK,
    );

    // Admin of both organizations moves it.
    add_org_member(&app, w.org_b, w.uid(ORGADMIN)).await;
    add_org_admin(&app, w.org_b, w.uid(ORGADMIN)).await;
    let r = app
        .patch(
            login(ORGADMIN),
            &cred_path(w.c),
            json!({"organization": w.org_b}),
        )
        .await;
    status(&r, StatusCode::OK);
    assert_eq!(r.body["organization"], w.org_b, "{}", r.raw);

    // Moving an org credential out (to null) needs rights on the old organization only.
    let r = app
        .patch(
            login(ORGCREDADMIN),
            &cred_path(w.d),
            json!({"organization": null}),
        )
        .await;
    status(&r, StatusCode::OK);
    assert!(r.body["organization"].is_null(), "{}", r.raw);

    // A direct admin of a personal credential may send `organization: null` (unchanged, §12).
    status(
        &app.patch(
            login(ORGMEMBER),
            &cred_path(w.p),
            json!({"organization": null, "description": "mine"}),
        )
        .await,
        StatusCode::OK,
    );
    // ...but cannot move it into an organization without rights there.
    forbidden(
        &app.patch(
            login(ORGMEMBER),
            &cred_path(w.p),
            json!({"organization": w.org_a}),
        )
        .await,
    );
}

/// Access that came from the old organization ends with the move: its auditor no longer
/// reads the credential, its credential admin no longer edits it; the new one's do.
#[tokio::test]
async fn a_moved_credential_leaves_the_old_organizations_roles() {
    let (app, w) = build_world().await;
    status(
        &app.get(login(ORGAUDITOR), &cred_path(w.d)).await,
        StatusCode::OK,
    );
    let r = app
        .patch(As::Admin, &cred_path(w.d), json!({"organization": w.org_b}))
        .await;
    status(&r, StatusCode::OK);
    forbidden(&app.get(login(ORGAUDITOR), &cred_path(w.d)).await);
    forbidden(
        &app.patch(
            login(ORGCREDADMIN),
            &cred_path(w.d),
            json!({"description": "x"}),
        )
        .await,
    );
    status(
        &app.get(login(OTHERORG), &cred_path(w.d)).await,
        StatusCode::OK,
    );
}

// ---------------------------------------------------------------------------------------------
// Grant rules (§1.5, §8.8)
// ---------------------------------------------------------------------------------------------

/// The organization rule for users, checked before the permission test (seq 241, 242, 305,
/// 306); revoking is not subject to it.
#[tokio::test]
async fn grant_to_user_outside_the_organization_is_400() {
    let (app, w) = build_world().await;
    let not_in_org = json!({"msg": NOT_IN_ORG});
    let loner = w.uid(LONER);
    let role_users = format!("/api/v2/roles/{}/users/", w.c_roles.use_);
    check(
        &app.post(As::Admin, &role_users, json!({"id": loner})).await,
        StatusCode::BAD_REQUEST,
        not_in_org.clone(),
    );
    check(
        &app.post(
            As::Admin,
            &format!("/api/v2/users/{loner}/roles/"),
            json!({"id": w.c_roles.read}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        not_in_org.clone(),
    );
    // A user in organization B only is not in C's organization either.
    check(
        &app.post(As::Admin, &role_users, json!({"id": w.uid(BMEMBER)}))
            .await,
        StatusCode::BAD_REQUEST,
        not_in_org.clone(),
    );
    // Rule before permission: a caller without admin on C still gets the 400 (seq 306)...
    for who in [CREDUSE, OTHERORG] {
        check(
            &app.post(login(who), &role_users, json!({"id": loner}))
                .await,
            StatusCode::BAD_REQUEST,
            not_in_org.clone(),
        );
    }
    // ...and the 403 once the grantee is acceptable (seq 305).
    forbidden(
        &app.post(login(CREDUSE), &role_users, json!({"id": w.uid(GRANTEE)}))
            .await,
    );
    forbidden(
        &app.post(login(CREDUSE), &role_users, json!({"id": w.uid(CREDUSE)}))
            .await,
    );
    // Revoking from a non-member is allowed.
    status(
        &app.post(
            As::Admin,
            &role_users,
            json!({"id": loner, "disassociate": true}),
        )
        .await,
        StatusCode::NO_CONTENT,
    );
    // An org admin grants to an org member through either endpoint (§12).
    status(
        &app.post(login(ORGADMIN), &role_users, json!({"id": w.uid(GRANTEE)}))
            .await,
        StatusCode::NO_CONTENT,
    );
    status(
        &app.post(
            login(ORGADMIN),
            &format!("/api/v2/users/{}/roles/", w.uid(GRANTEE)),
            json!({"id": w.c_roles.read}),
        )
        .await,
        StatusCode::NO_CONTENT,
    );
    status(
        &app.get(login(GRANTEE), &cred_path(w.c)).await,
        StatusCode::OK,
    );
}

/// Private credentials are shared only by superusers, never by others (grant and revoke),
/// whatever their rights (§1.5, §12, seq 255).
#[tokio::test]
async fn private_credential_is_shared_only_by_superusers() {
    let (app, w) = build_world().await;
    let p_roles = cred_roles(&app, w.p).await;
    let private = json!({"msg": PRIVATE});
    let grantee = w.uid(GRANTEE);
    let role_users = format!("/api/v2/roles/{}/users/", p_roles.read);
    for who in [ORGMEMBER, ORGADMIN] {
        check(
            &app.post(login(who), &role_users, json!({"id": grantee}))
                .await,
            StatusCode::BAD_REQUEST,
            private.clone(),
        );
        check(
            &app.post(
                login(who),
                &format!("/api/v2/users/{grantee}/roles/"),
                json!({"id": p_roles.read}),
            )
            .await,
            StatusCode::BAD_REQUEST,
            private.clone(),
        );
    }
    forbidden(&app.get(login(GRANTEE), &cred_path(w.p)).await);

    status(
        &app.post(As::Admin, &role_users, json!({"id": grantee}))
            .await,
        StatusCode::NO_CONTENT,
    );
    status(
        &app.get(login(GRANTEE), &cred_path(w.p)).await,
        StatusCode::OK,
    );
    // The owner cannot revoke either.
    check(
        &app.post(
            login(ORGMEMBER),
            &role_users,
            json!({"id": grantee, "disassociate": true}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        private,
    );
    status(
        &app.get(login(GRANTEE), &cred_path(w.p)).await,
        StatusCode::OK,
    );
    status(
        &app.post(
            As::Admin,
            &role_users,
            json!({"id": grantee, "disassociate": true}),
        )
        .await,
        StatusCode::NO_CONTENT,
    );
    forbidden(&app.get(login(GRANTEE), &cred_path(w.p)).await);
}

/// Teams must be in the credential's organization; a private credential never goes to a team,
/// even from a superuser and even on revoke (§1.5, seq 250, 254).
#[tokio::test]
async fn team_grants_need_the_credentials_organization() {
    let (app, w) = build_world().await;
    let team_org = json!({"msg": TEAM_ORG});
    let team_b = new_team(&app, "team-b", w.org_b).await;
    let c_teams = format!("/api/v2/roles/{}/teams/", w.c_roles.use_);
    check(
        &app.post(As::Admin, &c_teams, json!({"id": team_b})).await,
        StatusCode::BAD_REQUEST,
        team_org.clone(),
    );
    check(
        &app.post(
            As::Admin,
            &format!("/api/v2/teams/{team_b}/roles/"),
            json!({"id": w.c_roles.use_}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        team_org.clone(),
    );
    check(
        &app.post(
            As::Admin,
            &c_teams,
            json!({"id": team_b, "disassociate": true}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        team_org.clone(),
    );
    let p_roles = cred_roles(&app, w.p).await;
    check(
        &app.post(
            As::Admin,
            &format!("/api/v2/roles/{}/teams/", p_roles.use_),
            json!({"id": w.team}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        team_org.clone(),
    );
    check(
        &app.post(
            As::Admin,
            &format!("/api/v2/teams/{}/roles/", w.team),
            json!({"id": p_roles.read}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        team_org,
    );
    forbidden(&app.get(login(TEAMMEMBER), &cred_path(w.p)).await);
    // Same organization: fine.
    status(
        &app.post(
            As::Admin,
            &format!("/api/v2/roles/{}/teams/", cred_roles(&app, w.d).await.read),
            json!({"id": w.team}),
        )
        .await,
        StatusCode::NO_CONTENT,
    );
    status(
        &app.get(login(TEAMMEMBER), &cred_path(w.d)).await,
        StatusCode::OK,
    );
}

/// Id of a system singleton role, found by name in `/roles/` as superuser.
async fn system_role(app: &TestApp, name: &str) -> i64 {
    let mut page = 1;
    loop {
        let r = app
            .get(
                As::Admin,
                &format!("/api/v2/roles/?page_size=200&page={page}"),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.raw);
        let results = r.body["results"].as_array().expect("results");
        if let Some(role) = results.iter().find(|role| role["name"] == name) {
            return role["id"].as_i64().expect("role id");
        }
        assert!(!r.body["next"].is_null(), "no system role {name}");
        page += 1;
    }
}

/// §1.5: a singleton (system) role never goes to a team.
#[tokio::test]
async fn system_role_cannot_go_to_a_team() {
    let (app, w) = build_world().await;
    let system = json!({"msg": SYSTEM_TO_TEAM});
    for name in ["System Auditor", "System Administrator"] {
        let role = system_role(&app, name).await;
        check(
            &app.post(
                As::Admin,
                &format!("/api/v2/roles/{role}/teams/"),
                json!({"id": w.team}),
            )
            .await,
            StatusCode::BAD_REQUEST,
            system.clone(),
        );
        check(
            &app.post(
                As::Admin,
                &format!("/api/v2/teams/{}/roles/", w.team),
                json!({"id": role}),
            )
            .await,
            StatusCode::BAD_REQUEST,
            system.clone(),
        );
    }
    // The team's members did not become auditors.
    forbidden(&app.get(login(TEAMMEMBER), &cred_path(w.e)).await);
}

/// §1.5 body errors with AWX's exact messages (seq 257, 260, 261; the non-integer id is the
/// 400 api.md names instead of AWX's 500, seq 258/259).
#[tokio::test]
async fn grant_body_errors_have_awx_messages() {
    let (app, w) = build_world().await;
    let role_users = format!("/api/v2/roles/{}/users/", w.c_roles.use_);
    let role_teams = format!("/api/v2/roles/{}/teams/", w.c_roles.use_);
    let user_roles = format!("/api/v2/users/{}/roles/", w.uid(GRANTEE));
    let team_roles = format!("/api/v2/teams/{}/roles/", w.team);
    let (role_users, role_teams) = (role_users.as_str(), role_teams.as_str());
    let (user_roles, team_roles) = (user_roles.as_str(), team_roles.as_str());
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            role_users,
            json!({}),
            json!({"msg": "User 'id' field is missing."}),
        ),
        (
            role_teams,
            json!({}),
            json!({"msg": "Team 'id' field is missing."}),
        ),
        (
            user_roles,
            json!({}),
            json!({"msg": "Role 'id' field is missing."}),
        ),
        (
            team_roles,
            json!({}),
            json!({"msg": "Role 'id' field is missing."}),
        ),
        (
            role_users,
            json!({"id": "abc"}),
            json!({"msg": "\"id\" field must be an integer."}),
        ),
        (
            user_roles,
            json!({"id": "abc"}),
            json!({"msg": "\"id\" field must be an integer."}),
        ),
        (
            role_users,
            json!({"id": MISSING}),
            json!({"detail": "User matching query does not exist."}),
        ),
        (
            role_teams,
            json!({"id": MISSING}),
            json!({"detail": "Team matching query does not exist."}),
        ),
        (
            user_roles,
            json!({"id": MISSING}),
            json!({"detail": "Role matching query does not exist."}),
        ),
    ];
    for (path, body, want) in cases {
        let r = app.post(As::Admin, path, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{path} {body}: {}",
            r.raw
        );
        assert_eq!(r.body, want, "{path} {body}: {}", r.raw);
    }
    // Nothing was granted by the refused requests.
    let members = app.get(As::Admin, role_users).await;
    assert_eq!(listed(&members), BTreeSet::from([w.uid(CREDUSE)]));
}

/// §1.5: the same grant seen from the user and the team side, `{"id": role, "associate":
/// true}` → 204; revoking with `disassociate` → 204 and the access is gone (403 again).
#[tokio::test]
async fn grant_and_revoke_through_user_and_team_role_lists() {
    let (app, w) = build_world().await;
    let grantee = w.uid(GRANTEE);
    forbidden(&app.get(login(GRANTEE), &cred_path(w.d)).await);
    let d_roles = cred_roles(&app, w.d).await;

    let user_roles = format!("/api/v2/users/{grantee}/roles/");
    status(
        &app.post(
            As::Admin,
            &user_roles,
            json!({"id": d_roles.read, "associate": true}),
        )
        .await,
        StatusCode::NO_CONTENT,
    );
    assert_eq!(
        caps(&app.get(login(GRANTEE), &cred_path(w.d)).await),
        (false, false, false, false)
    );
    let members = app
        .get(As::Admin, &format!("/api/v2/roles/{}/users/", d_roles.read))
        .await;
    assert_eq!(listed(&members), BTreeSet::from([grantee]));
    status(
        &app.post(
            As::Admin,
            &user_roles,
            json!({"id": d_roles.read, "disassociate": true}),
        )
        .await,
        StatusCode::NO_CONTENT,
    );
    forbidden(&app.get(login(GRANTEE), &cred_path(w.d)).await);

    let team2 = new_team(&app, "team-2", w.org_a).await;
    add_team_member(&app, team2, grantee).await;
    let team_roles = format!("/api/v2/teams/{team2}/roles/");
    status(
        &app.post(
            As::Admin,
            &team_roles,
            json!({"id": d_roles.use_, "associate": true}),
        )
        .await,
        StatusCode::NO_CONTENT,
    );
    assert_eq!(
        caps(&app.get(login(GRANTEE), &cred_path(w.d)).await),
        (false, false, false, true)
    );
    let teams = app
        .get(As::Admin, &format!("/api/v2/roles/{}/teams/", d_roles.use_))
        .await;
    assert_eq!(listed(&teams), BTreeSet::from([team2]));
    status(
        &app.post(
            As::Admin,
            &team_roles,
            json!({"id": d_roles.use_, "disassociate": true}),
        )
        .await,
        StatusCode::NO_CONTENT,
    );
    forbidden(&app.get(login(GRANTEE), &cred_path(w.d)).await);

    // Revoking through the role's own user list works the same way.
    let c_use_users = format!("/api/v2/roles/{}/users/", w.c_roles.use_);
    status(
        &app.post(
            As::Admin,
            &c_use_users,
            json!({"id": w.uid(CREDUSE), "disassociate": true}),
        )
        .await,
        StatusCode::NO_CONTENT,
    );
    forbidden(&app.get(login(CREDUSE), &cred_path(w.c)).await);
}

/// §8.1 team grants apply to the team's members: leaving the team loses them.
#[tokio::test]
async fn leaving_the_team_removes_its_access() {
    let (app, w) = build_world().await;
    status(
        &app.get(login(TEAMMEMBER), &cred_path(w.c)).await,
        StatusCode::OK,
    );
    status(
        &app.post(
            As::Admin,
            &format!("/api/v2/teams/{}/users/", w.team),
            json!({"id": w.uid(TEAMMEMBER), "disassociate": true}),
        )
        .await,
        StatusCode::NO_CONTENT,
    );
    forbidden(&app.get(login(TEAMMEMBER), &cred_path(w.c)).await);
    let r = app
        .get(
            login(TEAMMEMBER),
            "/api/v2/credentials/?name__startswith=w-",
        )
        .await;
    assert_eq!(w.letters(&r.body), "", "{}", r.raw);
    // The team admin keeps it.
    status(
        &app.get(login(TEAMADMIN), &cred_path(w.c)).await,
        StatusCode::OK,
    );
}

/// Deleting a team takes away what it was granted.
#[tokio::test]
async fn deleting_the_team_removes_its_access() {
    let (app, w) = build_world().await;
    let team_cred = new_cred(&app, w.ssh, "w-T", json!({"team": w.team})).await;
    for who in [TEAMMEMBER, TEAMADMIN] {
        status(&app.get(login(who), &cred_path(w.c)).await, StatusCode::OK);
        status(
            &app.get(login(who), &cred_path(team_cred)).await,
            StatusCode::OK,
        );
    }
    status(
        &app.delete(As::Admin, &format!("/api/v2/teams/{}/", w.team))
            .await,
        StatusCode::NO_CONTENT,
    );
    for who in [TEAMMEMBER, TEAMADMIN] {
        forbidden(&app.get(login(who), &cred_path(w.c)).await);
        forbidden(&app.get(login(who), &cred_path(team_cred)).await);
    }
    // Direct grants are untouched.
    status(
        &app.get(login(CREDUSE), &cred_path(w.c)).await,
        StatusCode::OK,
    );
}

// ---------------------------------------------------------------------------------------------
// Organization roles (§8.1, §8.3, §12)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn org_auditor_reads_org_credentials_and_org_member_sees_none() {
    let (app, w) = build_world().await;
    let org_creds = format!(
        "/api/v2/organizations/{}/credentials/?name__startswith=w-",
        w.org_a
    );
    for id in [w.c, w.d] {
        assert_eq!(
            caps(&app.get(login(ORGAUDITOR), &cred_path(id)).await),
            (false, false, false, false)
        );
    }
    let r = app
        .get(
            login(ORGAUDITOR),
            "/api/v2/credentials/?name__startswith=w-",
        )
        .await;
    assert_eq!(w.letters(&r.body), "CD", "{}", r.raw);
    let r = app.get(login(ORGAUDITOR), &org_creds).await;
    assert_eq!(w.letters(&r.body), "CD", "{}", r.raw);
    forbidden(
        &app.patch(
            login(ORGAUDITOR),
            &cred_path(w.d),
            json!({"description": "x"}),
        )
        .await,
    );

    // Plain members: nothing (§12: 0 in both lists).
    for path in [
        "/api/v2/credentials/?organization__isnull=false".to_string(),
        format!("/api/v2/organizations/{}/credentials/", w.org_a),
    ] {
        let r = app.get(login(GRANTEE), &path).await;
        status(&r, StatusCode::OK);
        assert_eq!(r.body["count"], 0, "{path}: {}", r.raw);
    }

    // Once a credential has the organization, the org's auditors read it (§12).
    forbidden(&app.get(login(ORGAUDITOR), &cred_path(w.p)).await);
    status(
        &app.patch(As::Admin, &cred_path(w.p), json!({"organization": w.org_a}))
            .await,
        StatusCode::OK,
    );
    status(
        &app.get(login(ORGAUDITOR), &cred_path(w.p)).await,
        StatusCode::OK,
    );
    let r = app.get(login(ORGAUDITOR), &org_creds).await;
    assert_eq!(w.letters(&r.body), "CDP", "{}", r.raw);
}

// ---------------------------------------------------------------------------------------------
// Lists
// ---------------------------------------------------------------------------------------------

/// §7.1/§7.2: `role_level` is optional — without it a list holds everything the caller can
/// read, read-only grants and organization audit included (seq 282).
#[tokio::test]
async fn role_level_is_not_required() {
    let (app, w) = build_world().await;
    for (who, want) in [
        (CREDREAD, "C"),
        (CREDUSE, "C"),
        (CREDADMIN, "C"),
        (TEAMMEMBER, "C"),
        (ORGAUDITOR, "CD"),
        (SYSAUD, "CDEP"),
    ] {
        let r = app
            .get(login(who), "/api/v2/credentials/?name__startswith=w-")
            .await;
        status(&r, StatusCode::OK);
        assert_eq!(w.letters(&r.body), want, "{who}: {}", r.raw);
    }
}

/// §7.2 `role_level=<role_field>` keeps only what the caller holds at that level (seq 310,
/// 311: u1's admin subset and use subset differ from the readable set).
#[tokio::test]
async fn role_level_narrows_to_the_callers_level() {
    let (app, w) = build_world().await;
    let cases = [
        (CREDREAD, "read_role", "C"),
        (CREDREAD, "use_role", ""),
        (CREDUSE, "use_role", "C"),
        (CREDUSE, "admin_role", ""),
        (TEAMMEMBER, "use_role", "C"),
        (CREDADMIN, "admin_role", "C"),
        (ORGCREDADMIN, "admin_role", "CD"),
        (ORGAUDITOR, "use_role", ""),
        (ORGMEMBER, "admin_role", "P"),
    ];
    for (who, level, want) in cases {
        let r = app
            .get(
                login(who),
                &format!("/api/v2/credentials/?name__startswith=w-&role_level={level}"),
            )
            .await;
        status(&r, StatusCode::OK);
        assert_eq!(w.letters(&r.body), want, "{who} {level}: {}", r.raw);
    }
}

/// §7.2/§13: an unknown `role_level` is a 400 (AWX crashes with a 500; api.md recommends 400).
#[tokio::test]
async fn unknown_role_level_is_400() {
    let (app, _w) = build_world().await;
    let r = app
        .get(login(CREDUSE), "/api/v2/credentials/?role_level=bogus_role")
        .await;
    status(&r, StatusCode::BAD_REQUEST);
}

/// §7: filters apply after visibility, so no filter reveals an invisible credential.
#[tokio::test]
async fn filters_never_reveal_invisible_credentials() {
    let (app, w) = build_world().await;
    let queries = [
        "organization__name=org-b".to_string(),
        format!("organization={}", w.org_b),
        "search=w-E".to_string(),
        "name=w-E".to_string(),
        "name__icontains=w-e".to_string(),
        format!("id={}", w.e),
        format!("id__in={},{}", w.e, w.p),
        "or__name=w-E&or__name=w-P".to_string(),
        "organization__name__startswith=org-b".to_string(),
    ];
    for q in &queries {
        let path = format!("/api/v2/credentials/?{q}");
        // The filter does match something for the superuser...
        let r = app.get(As::Admin, &path).await;
        status(&r, StatusCode::OK);
        assert!(r.body["count"].as_i64().unwrap_or(0) >= 1, "{q}: {}", r.raw);
        // ...but nothing for callers who cannot see E (or P).
        for who in [CREDUSE, ORGADMIN, GRANTEE] {
            let r = app.get(login(who), &path).await;
            status(&r, StatusCode::OK);
            assert_eq!(r.body["count"], 0, "{who} ?{q}: {}", r.raw);
            assert_eq!(r.body["results"], json!([]), "{who} ?{q}");
        }
    }
}

/// Ordering never changes what is visible.
#[tokio::test]
async fn ordering_does_not_change_the_visible_count() {
    let (app, w) = build_world().await;
    for who in [CREDUSE, ORGADMIN, ORGMEMBER] {
        let base = app.get(login(who), "/api/v2/credentials/").await;
        let base_ids = listed(&base);
        let base_count = base.body["count"].clone();
        assert_eq!(base_count, json!(base_ids.len()), "{who}: {}", base.raw);
        for order in [
            "name",
            "-name",
            "id",
            "-id",
            "-modified",
            "created",
            "organization__name",
            "-organization__name",
            "credential_type__name",
            "-description,id",
        ] {
            let r = app
                .get(
                    login(who),
                    &format!("/api/v2/credentials/?order_by={order}"),
                )
                .await;
            assert_eq!(listed(&r), base_ids, "{who} order_by={order}: {}", r.raw);
            assert_eq!(r.body["count"], base_count, "{who} order_by={order}");
        }
    }
    // The world is not empty for the superuser, so the narrower counts mean something.
    let all = app.get(As::Admin, "/api/v2/credentials/").await;
    assert!(listed(&all).is_superset(&BTreeSet::from([w.c, w.d, w.e, w.p])));
}

/// §7.5 `count` counts visible rows only, and the pages walk exactly the visible rows.
#[tokio::test]
async fn pagination_counts_only_visible_rows() {
    let (app, w) = build_world().await;
    grant_user(&app, cred_roles(&app, w.d).await.read, w.uid(CREDUSE)).await;
    let page1 = app
        .get(
            login(CREDUSE),
            "/api/v2/credentials/?page_size=1&order_by=id",
        )
        .await;
    status(&page1, StatusCode::OK);
    assert_eq!(page1.body["count"], 2, "{}", page1.raw);
    assert_eq!(page1.body["results"].as_array().map(Vec::len), Some(1));
    assert!(page1.body["previous"].is_null(), "{}", page1.raw);
    let next = page1.body["next"].as_str().expect("next page").to_string();
    let page2 = app.get(login(CREDUSE), &next).await;
    status(&page2, StatusCode::OK);
    assert_eq!(page2.body["count"], 2, "{}", page2.raw);
    assert!(page2.body["next"].is_null(), "{}", page2.raw);
    let mut seen = ids_of(&page1.body);
    seen.extend(ids_of(&page2.body));
    assert_eq!(seen, BTreeSet::from([w.c, w.d]));

    // A default page holds the same rows.
    let r = app.get(login(CREDUSE), "/api/v2/credentials/").await;
    assert_eq!(listed(&r), BTreeSet::from([w.c, w.d]));
    assert_eq!(r.body["count"], 2);
}

/// §1.4 `/users/{id}/credentials/`: the user must be readable by the caller — another user
/// outside the caller's organizations is 403 (seq 308); an org admin administers its members
/// and sees the credentials both can read; the user themself sees their own.
#[tokio::test]
async fn users_credentials_of_another_user_need_rights_on_that_user() {
    let (app, w) = build_world().await;
    let path = |u: &str| format!("/api/v2/users/{}/credentials/", w.uid(u));
    forbidden(&app.get(login(CREDUSE), &path(LONER)).await);
    forbidden(&app.get(login(LONER), &path(ORGMEMBER)).await);
    forbidden(&app.get(login(BMEMBER), &path(ORGMEMBER)).await);

    let r = app.get(login(ORGMEMBER), &path(ORGMEMBER)).await;
    assert_eq!(listed(&r), BTreeSet::from([w.p]), "{}", r.raw);
    let r = app.get(As::Admin, &path(ORGMEMBER)).await;
    assert_eq!(listed(&r), BTreeSet::from([w.p]), "{}", r.raw);
    // The org admin cannot read P, so it is not listed to them.
    let r = app.get(login(ORGADMIN), &path(ORGMEMBER)).await;
    assert_eq!(listed(&r), BTreeSet::new(), "{}", r.raw);
    // Credentials both can read: C for the org admin looking at the use grantee.
    let r = app.get(login(ORGADMIN), &path(CREDUSE)).await;
    assert_eq!(listed(&r), BTreeSet::from([w.c]), "{}", r.raw);
}

/// Every access check reads the ancestor table, so it must be exactly the transitive closure
/// of the parent edges (each role its own ancestor) after objects are created under
/// organizations, teams and their own roles, granted to teams and moved between
/// organizations. The closure is recomputed here from the edges alone.
#[tokio::test]
async fn the_ancestor_table_is_the_closure_of_the_parent_edges() {
    let (app, w) = build_world().await;
    new_cred(&app, w.ssh, "w-T", json!({"team": w.team})).await;
    assert_closure_matches_edges(&app).await;

    let r = app
        .patch(As::Admin, &cred_path(w.d), json!({"organization": w.org_b}))
        .await;
    status(&r, StatusCode::OK);
    let r = app
        .patch(
            As::Admin,
            &format!("/api/v2/teams/{}/", w.team),
            json!({"organization": w.org_b}),
        )
        .await;
    status(&r, StatusCode::OK);
    new_team(&app, "team-b", w.org_b).await;
    assert_closure_matches_edges(&app).await;
}

/// Revoking a team's organization role rebuilds the closure below that role: here more
/// roles than one statement of the rebuild takes (200 credentials, three roles each), and
/// the team's members lose every credential the grant gave them.
#[tokio::test]
async fn revoking_a_team_org_role_repairs_the_closure_of_hundreds_of_roles() {
    let (app, w) = build_world().await;
    let mut last = 0;
    for i in 0..200 {
        let owner = json!({"organization": w.org_b});
        last = new_cred(&app, w.ssh, &format!("bulk-{i}"), owner).await;
    }
    let cred_admin = org_role(&app, w.org_b, "credential_admin_role").await;
    let grants = format!("/api/v2/teams/{}/roles/", w.team);
    let grant = app
        .post(As::Admin, &grants, json!({"id": cred_admin}))
        .await;
    status(&grant, StatusCode::NO_CONTENT);
    status(
        &app.get(login(TEAMMEMBER), &cred_path(last)).await,
        StatusCode::OK,
    );
    assert_closure_matches_edges(&app).await;

    let revoke = json!({"id": cred_admin, "disassociate": true});
    status(
        &app.post(As::Admin, &grants, revoke).await,
        StatusCode::NO_CONTENT,
    );
    forbidden(&app.get(login(TEAMMEMBER), &cred_path(last)).await);
    assert_closure_matches_edges(&app).await;
}

async fn assert_closure_matches_edges(app: &TestApp) {
    let db = app.state.ctx.store.pool();
    let roles: Vec<i64> = query_scalar("SELECT id FROM roles")
        .fetch_all(db)
        .await
        .expect("roles");
    let edges: Vec<(i64, i64)> = query_as("SELECT role_id, parent_id FROM role_parents")
        .fetch_all(db)
        .await
        .expect("edges");
    let stored: BTreeSet<(i64, i64)> =
        query_as::<(i64, i64)>("SELECT role_id, ancestor_id FROM role_ancestors")
            .fetch_all(db)
            .await
            .expect("ancestors")
            .into_iter()
            .collect();
    let mut closure = BTreeSet::new();
    for role in roles {
        let mut todo = vec![role];
        while let Some(next) = todo.pop() {
            if closure.insert((role, next)) {
                todo.extend(edges.iter().filter(|(r, _)| *r == next).map(|(_, p)| *p));
            }
        }
    }
    assert!(stored.len() > 50, "a world has many ancestor rows");
    assert_eq!(stored, closure);
}
