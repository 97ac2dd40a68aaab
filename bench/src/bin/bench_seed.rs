//! `bench-seed`: fills a fresh credstore data directory for the load benchmark
//! (`scripts/bench.sh`, `docs/performance.md`).
//!
//! The directory is opened with `credstore::startup::prepare`, as `serve` opens it
//! (database, migrations, master key, the `admin` superuser, the Galaxy credential).
//! Users, organizations, teams and their memberships are created through the store API.
//! Credentials are written with direct SQL in a few large transactions: exactly the rows
//! `Store::create_credential` writes (the credential, its sealed secrets, its three
//! roles, their parent edges and closure rows, the owner's grant), only without an
//! activity-stream entry each. `--via-store` writes them through `Store::create_credential`
//! instead, to time that path; `--check` seeds a small world both ways and compares the
//! rows.
//!
//! The world is deterministic. Credentials are spread over the organizations and
//! credential types; 5% are personal (owned by a user), 20% belong to a team, the rest to
//! their organization. Every user is a member of one organization and most are in a team
//! of it; organizations have admins and some auditors; users also hold direct use/read
//! grants. `bench-user` sees 1% of the credentials: its personal ones, those of its five
//! teams, and direct grants for the rest.
//!
//! All users share one password (`--user-password`), hashed once. On success the
//! tool prints `key=value` lines for the benchmark script on standard output.

use clap::Parser;
use credstore::config::Config;
use credstore::crypto::password::hash as hash_password;
use credstore::domain::activity::{organization_fields, team_fields, user_fields, ActivityRecord};
use credstore::domain::credential::Owner;
use credstore::domain::managed_types::managed_types;
use credstore::store::{CredentialSave, Store, UserWrite};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use secrecy::SecretString;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Instant;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// Name of the user that sees about 1% of the credentials.
const BENCH_USER: &str = "bench-user";
/// Credentials written per transaction.
const BATCH: usize = 10_000;
/// Environments in credential names; `name__icontains=prod` matches one in ten.
const ENVS: [&str; 10] = [
    "prod", "staging", "dev", "qa", "test", "lab", "perf", "dr", "sandbox", "uat",
];
const PURPOSES: [&str; 8] = [
    "web", "db", "deploy", "backup", "network", "monitor", "ci", "cloud",
];

#[derive(Parser, Debug, Clone)]
#[command(about = "Seeds a credstore data directory for the load benchmark")]
struct Args {
    /// Data directory to create (must not hold a database yet).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[arg(long, default_value_t = 100_000)]
    credentials: usize,
    #[arg(long, default_value_t = 100)]
    organizations: usize,
    #[arg(long, default_value_t = 1_000)]
    users: usize,
    #[arg(long, default_value_t = 200)]
    teams: usize,
    /// Password of every seeded user (`admin` takes CREDSTORE_ADMIN_PASSWORD).
    #[arg(long, default_value = "bench-password")]
    user_password: String,
    /// Write credentials through `Store::create_credential`, one transaction each.
    #[arg(long)]
    via_store: bool,
    /// Seed a small world with both writers into temporary directories and compare.
    #[arg(long)]
    check: bool,
}

/// An organization with the roles credentials hang under and their ancestors.
struct Org {
    id: i64,
    credential_admin: i64,
    auditor: i64,
    credential_admin_up: Vec<i64>,
    auditor_up: Vec<i64>,
}

/// A team with its admin and member roles and their ancestors.
struct Team {
    id: i64,
    org: usize,
    admin: i64,
    member: i64,
    admin_up: Vec<i64>,
    member_up: Vec<i64>,
}

/// A credential type with how its seeded inputs look.
struct Kind {
    id: i64,
    namespace: &'static str,
}

/// Everything the credential writer needs.
struct World {
    admin: i64,
    users: Vec<i64>,
    orgs: Vec<Org>,
    teams: Vec<Team>,
    kinds: Vec<Kind>,
}

/// Who owns credential `j`.
#[derive(Clone, Copy)]
enum Plan {
    Org(usize),
    Team(usize),
    User(usize),
}

fn plan(j: usize, a: &Args) -> Plan {
    match j % 20 {
        0 => Plan::User((j / 20) % a.users),
        k @ 1..=4 => Plan::Team(((j / 20) * 4 + k - 1) % a.teams),
        _ => Plan::Org(j % a.organizations),
    }
}

/// (type namespace, weight in percent).
const MIX: [(&str, u32); 8] = [
    ("ssh", 35),
    ("scm", 20),
    ("aws", 10),
    ("vault", 10),
    ("net", 8),
    ("vmware", 7),
    ("registry", 5),
    ("insights", 5),
];

/// One credential as it will be stored: public inputs and the secrets to seal.
struct Row {
    id: i64,
    uid: String,
    name: String,
    description: String,
    organization: Option<i64>,
    type_id: i64,
    inputs: String,
    created: String,
    modified: String,
    secrets: Vec<(&'static str, String)>,
    owner: Plan,
}

fn timestamp(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

fn hex_uid(rng: &mut StdRng) -> String {
    let b: [u8; 16] = rng.gen();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn make_row(j: usize, id: i64, w: &World, a: &Args, rng: &mut StdRng) -> Row {
    let owner = plan(j, a);
    let organization = match owner {
        Plan::Org(o) => Some(w.orgs[o].id),
        Plan::Team(t) => Some(w.orgs[w.teams[t].org].id),
        Plan::User(_) => None,
    };
    let mut pick = (j as u32 * 37) % 100;
    let mut kind = &w.kinds[0];
    for (k, (_, weight)) in w.kinds.iter().zip(MIX) {
        if pick < weight {
            kind = k;
            break;
        }
        pick -= weight;
    }
    // Shifted every 20 credentials so that no owner kind keeps one environment.
    let env = ENVS[(j + j / 20) % ENVS.len()];
    let purpose = PURPOSES[(j / ENVS.len()) % PURPOSES.len()];
    let name = format!("{env}-{purpose}-{}-{j:06}", kind.namespace);
    let user = format!("svc-{purpose}-{:04}", j % 5000);
    let password = format!("pw-{:016x}", rng.gen::<u64>());
    let host = format!("{purpose}{:03}.{env}.example.com", j % 1000);
    let (inputs, mut secrets) = match kind.namespace {
        "ssh" => (
            serde_json::json!({"username": user, "password": "$encrypted$", "become_method": "sudo"}),
            vec![("password", password)],
        ),
        "vault" => (
            serde_json::json!({"vault_password": "$encrypted$", "vault_id": env}),
            vec![("vault_password", password)],
        ),
        "net" => (
            serde_json::json!({"username": user, "password": "$encrypted$", "authorize": false}),
            vec![("password", password)],
        ),
        "vmware" => (
            serde_json::json!({"host": host, "username": user, "password": "$encrypted$"}),
            vec![("password", password)],
        ),
        "registry" => (
            serde_json::json!({"host": host, "username": user, "password": "$encrypted$", "verify_ssl": true}),
            vec![("password", password)],
        ),
        _ => (
            serde_json::json!({"username": user, "password": "$encrypted$"}),
            vec![("password", password)],
        ),
    };
    let mut inputs = inputs;
    if kind.namespace == "ssh" && j.is_multiple_of(3) {
        inputs["become_password"] = "$encrypted$".into();
        secrets.push(("become_password", format!("bp-{:016x}", rng.gen::<u64>())));
    }
    // Created over about two years, modified up to 30 days later.
    let created = 1_672_531_200 + j as i64 * 600 + rng.gen_range(0..600);
    let modified = created + rng.gen_range(0..30 * 86_400);
    Row {
        id,
        uid: hex_uid(rng),
        name,
        description: format!("{purpose} access for {env}"),
        organization,
        type_id: kind.id,
        inputs: inputs.to_string(),
        created: timestamp(created),
        modified: timestamp(modified),
        secrets,
        owner,
    }
}

async fn ancestors(store: &Store, role: i64) -> Res<Vec<i64>> {
    let mut tx = begin(store).await?;
    let up = sqlx::query_scalar("SELECT ancestor_id FROM role_ancestors WHERE role_id = ?")
        .bind(role)
        .fetch_all(&mut *tx)
        .await?;
    tx.rollback().await?;
    Ok(up)
}

async fn role(store: &Store, ct: &str, id: i64, field: &str) -> Res<i64> {
    store
        .object_role_id(ct, id, field)
        .await?
        .ok_or_else(|| format!("missing {ct} {id} {field}").into())
}

/// Users, organizations, teams and memberships, through the store API.
async fn build_world(store: &Store, a: &Args) -> Res<World> {
    let admin = store
        .user_by_name("admin")
        .await?
        .ok_or("admin user missing")?
        .id;
    let hash = hash_password(&SecretString::from(a.user_password.clone()))
        .map_err(|e| format!("{e:?}"))?;
    let mut users = Vec::with_capacity(a.users);
    for i in 0..a.users {
        let w = UserWrite {
            username: if i == 0 {
                BENCH_USER.to_string()
            } else {
                format!("user{i:04}")
            },
            first_name: format!("First{i}"),
            last_name: format!("Last{i}"),
            email: format!("user{i:04}@example.com"),
            is_superuser: false,
            is_system_auditor: false,
        };
        let fields = user_fields(&w.username, &w.first_name, &w.last_name, &w.email, false);
        let record = ActivityRecord::create(Some(admin), "user", fields);
        users.push(store.create_user(&w, &hash, &record).await?);
    }
    let mut orgs = Vec::with_capacity(a.organizations);
    let mut org_names = Vec::with_capacity(a.organizations);
    for o in 0..a.organizations {
        let name = format!("org-{o:03}");
        let desc = format!("Business unit {o}");
        let record = ActivityRecord::create(
            Some(admin),
            "organization",
            organization_fields(&name, &desc),
        );
        let id = store
            .create_organization(&name, &desc, Some(admin), &record)
            .await?;
        let credential_admin = role(store, "organization", id, "credential_admin_role").await?;
        let auditor = role(store, "organization", id, "auditor_role").await?;
        orgs.push(Org {
            id,
            credential_admin,
            auditor,
            credential_admin_up: ancestors(store, credential_admin).await?,
            auditor_up: ancestors(store, auditor).await?,
        });
        org_names.push(name);
    }
    let mut teams = Vec::with_capacity(a.teams);
    for t in 0..a.teams {
        let org = t % a.organizations;
        let name = format!("team-{t:03}");
        let desc = format!("Team {t}");
        let record = ActivityRecord::create(
            Some(admin),
            "team",
            team_fields(&name, &desc, (&org_names[org], orgs[org].id)),
        );
        let id = store
            .create_team(&name, &desc, orgs[org].id, Some(admin), &record)
            .await?;
        let admin_role = role(store, "team", id, "admin_role").await?;
        let member = role(store, "team", id, "member_role").await?;
        teams.push(Team {
            id,
            org,
            admin: admin_role,
            member,
            admin_up: ancestors(store, admin_role).await?,
            member_up: ancestors(store, member).await?,
        });
    }
    // Every user is a member of one organization; the next users administer one each
    // (AWX makes admins members too); some audit one.
    for (i, u) in users.iter().enumerate() {
        let org = orgs[i % a.organizations].id;
        store
            .set_organization_roles(org, &["member_role"], *u, true, Some(admin))
            .await?;
        let rank = i / a.organizations;
        if rank == 1 {
            store
                .set_organization_roles(org, &["admin_role"], *u, true, Some(admin))
                .await?;
        } else if rank == 2 && i % 2 == 0 {
            store
                .set_organization_roles(org, &["auditor_role"], *u, true, Some(admin))
                .await?;
        }
    }
    // A team takes members from its organization's users: the first of the two teams
    // of an organization the first six, the second the last six. bench-user is also in
    // four teams of other organizations: five teams in all.
    for (t, team) in teams.iter().enumerate() {
        let per_org: Vec<i64> = users
            .iter()
            .enumerate()
            .filter(|(i, _)| i % a.organizations == team.org)
            .map(|(_, u)| *u)
            .collect();
        let n = per_org.len();
        let range = if (t / a.organizations).is_multiple_of(2) {
            0..n.min(6)
        } else {
            n.saturating_sub(6)..n
        };
        for u in &per_org[range] {
            store
                .set_team_member(team.id, *u, true, Some(admin))
                .await?;
        }
    }
    for team in teams.iter().skip(1).take(4) {
        store
            .set_team_member(team.id, users[0], true, Some(admin))
            .await?;
    }
    let mut kinds = Vec::new();
    let managed = managed_types();
    for (ns, _) in MIX {
        let t = managed
            .iter()
            .find(|t| t.namespace == ns)
            .ok_or_else(|| format!("managed type {ns} missing"))?;
        let row = store
            .credential_type_by_name(&t.name, &t.kind)
            .await?
            .ok_or_else(|| format!("credential type {ns} not in the database"))?;
        kinds.push(Kind {
            id: row.id,
            namespace: ns,
        });
    }
    Ok(World {
        admin,
        users,
        orgs,
        teams,
        kinds,
    })
}

/// Runs `head VALUES (...), (...)` over `rows` in statements of at most `per` rows.
async fn insert<T>(
    conn: &mut SqliteConnection,
    head: &str,
    rows: &[T],
    per: usize,
    bind: impl Fn(&mut sqlx::query_builder::Separated<'_, '_, Sqlite, &'static str>, &T),
) -> Res<()> {
    for chunk in rows.chunks(per) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(head);
        qb.push_values(chunk, |mut b, row| bind(&mut b, row));
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The rows one credential adds to `roles`, `role_parents`, `role_ancestors` and
/// `role_members`: what `create_object_roles` (edges, and the closure walked up them) and
/// `grant_user` write in `Store::create_credential`.
#[derive(Default)]
struct RoleRows {
    roles: Vec<(i64, &'static str, i64)>,
    parents: Vec<(i64, i64)>,
    ancestors: Vec<(i64, i64)>,
    members: Vec<(i64, i64)>,
}

fn role_rows(out: &mut RoleRows, row: &Row, first_role: i64, w: &World) {
    let (admin, usage, read) = (first_role, first_role + 1, first_role + 2);
    out.roles.push((admin, "admin_role", row.id));
    out.roles.push((usage, "use_role", row.id));
    out.roles.push((read, "read_role", row.id));
    out.parents.push((usage, admin));
    out.parents.push((read, usage));
    let mut up_admin: BTreeSet<i64> = BTreeSet::from([admin]);
    let mut up_use: BTreeSet<i64> = BTreeSet::from([usage]);
    let mut up_read: BTreeSet<i64> = BTreeSet::from([read]);
    let org = match row.owner {
        Plan::Org(o) => Some(o),
        Plan::Team(t) => Some(w.teams[t].org),
        Plan::User(_) => None,
    };
    if let Some(o) = org {
        let o = &w.orgs[o];
        out.parents.push((admin, o.credential_admin));
        out.parents.push((read, o.auditor));
        up_admin.extend(&o.credential_admin_up);
        up_read.extend(&o.auditor_up);
    }
    match row.owner {
        Plan::Team(t) => {
            let t = &w.teams[t];
            out.parents.push((admin, t.admin));
            out.parents.push((usage, t.member));
            up_admin.extend(&t.admin_up);
            up_use.extend(&t.member_up);
        }
        Plan::User(u) => out.members.push((admin, w.users[u])),
        Plan::Org(_) => {}
    }
    up_use.extend(&up_admin);
    up_read.extend(&up_use);
    for (role, up) in [(admin, up_admin), (usage, up_use), (read, up_read)] {
        out.ancestors.extend(up.into_iter().map(|a| (role, a)));
    }
}

async fn next_id(store: &Store, table: &str) -> Res<i64> {
    let mut tx = begin(store).await?;
    let sql = format!("SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = '{table}'");
    let max: i64 = sqlx::query_scalar(&sql).fetch_one(&mut *tx).await?;
    tx.rollback().await?;
    Ok(max + 1)
}

/// Seals a row's secrets for its uid: (field, key version, envelope).
fn seal(state: &credstore::AppState, row: &Row) -> Res<Vec<(String, u32, Vec<u8>)>> {
    let mut out = Vec::new();
    for (field, value) in &row.secrets {
        let (version, ct) =
            state
                .ctx
                .keys
                .seal(&row.uid, field, &SecretString::from(value.clone()))?;
        out.push((field.to_string(), version, ct));
    }
    Ok(out)
}

async fn write_credentials_sql(
    state: &credstore::AppState,
    w: &World,
    a: &Args,
    rng: &mut StdRng,
) -> Res<()> {
    let store = &state.ctx.store;
    let mut next_cred = next_id(store, "credentials").await?;
    let mut next_role = next_id(store, "roles").await?;
    let mut j = 0;
    while j < a.credentials {
        let end = (j + BATCH).min(a.credentials);
        let mut rows = Vec::with_capacity(end - j);
        let mut roles = RoleRows::default();
        let mut secrets: Vec<(i64, String, u32, Vec<u8>)> = Vec::new();
        for k in j..end {
            let row = make_row(k, next_cred, w, a, rng);
            for (field, version, ct) in seal(state, &row)? {
                secrets.push((row.id, field, version, ct));
            }
            role_rows(&mut roles, &row, next_role, w);
            next_cred += 1;
            next_role += 3;
            rows.push(row);
        }
        let mut tx = begin(store).await?;
        let admin = w.admin;
        insert(
            &mut tx,
            "INSERT INTO credentials (id, uid, name, description, organization_id, credential_type_id, \
             managed, inputs, created, modified, created_by, modified_by) ",
            &rows,
            500,
            |b, r| {
                b.push_bind(r.id)
                    .push_bind(r.uid.clone())
                    .push_bind(r.name.clone())
                    .push_bind(r.description.clone())
                    .push_bind(r.organization)
                    .push_bind(r.type_id)
                    .push_bind(false)
                    .push_bind(r.inputs.clone())
                    .push_bind(r.created.clone())
                    .push_bind(r.modified.clone())
                    .push_bind(admin)
                    .push_bind(admin);
            },
        )
        .await?;
        insert(
            &mut tx,
            "INSERT INTO credential_secrets (credential_id, field, key_version, ciphertext) ",
            &secrets,
            1000,
            |b, s| {
                b.push_bind(s.0)
                    .push_bind(s.1.clone())
                    .push_bind(i64::from(s.2))
                    .push_bind(s.3.clone());
            },
        )
        .await?;
        insert(
            &mut tx,
            "INSERT INTO roles (id, role_field, content_type, object_id) ",
            &roles.roles,
            2000,
            |b, r| {
                b.push_bind(r.0)
                    .push_bind(r.1)
                    .push_bind("credential")
                    .push_bind(r.2);
            },
        )
        .await?;
        for (head, pairs) in [
            (
                "INSERT INTO role_parents (role_id, parent_id) ",
                &roles.parents,
            ),
            (
                "INSERT INTO role_ancestors (role_id, ancestor_id) ",
                &roles.ancestors,
            ),
            (
                "INSERT INTO role_members (role_id, user_id) ",
                &roles.members,
            ),
        ] {
            insert(&mut tx, head, pairs, 4000, |b, p| {
                b.push_bind(p.0).push_bind(p.1);
            })
            .await?;
        }
        tx.commit().await?;
        eprintln!("bench-seed: {end} credentials");
        j = end;
    }
    Ok(())
}

async fn write_credentials_store(
    state: &credstore::AppState,
    w: &World,
    a: &Args,
    rng: &mut StdRng,
) -> Res<()> {
    let store = &state.ctx.store;
    let mut next_cred = next_id(store, "credentials").await?;
    for j in 0..a.credentials {
        let row = make_row(j, next_cred, w, a, rng);
        let owner = match row.owner {
            Plan::Org(o) => Owner::Organization(w.orgs[o].id),
            Plan::Team(t) => Owner::Team(w.teams[t].id),
            Plan::User(u) => Owner::User(w.users[u]),
        };
        let save = CredentialSave {
            new_secrets: seal(state, &row)?,
            uid: row.uid,
            name: row.name,
            description: row.description,
            organization_id: row.organization,
            credential_type_id: row.type_id,
            managed: false,
            inputs: row.inputs,
            kept_secrets: Vec::new(),
        };
        let id = store
            .create_credential(&save, Some(owner), Some(w.admin), None, None)
            .await?;
        if id != next_cred {
            return Err(format!("credential id {id}, expected {next_cred}").into());
        }
        next_cred += 1;
        if (j + 1) % BATCH == 0 {
            eprintln!("bench-seed: {} credentials", j + 1);
        }
    }
    Ok(())
}

/// Direct use/read grants: about 20 per user, and enough for bench-user to see 1% of
/// the credentials in all (with its personal credentials and its teams').
async fn write_grants(store: &Store, w: &World, a: &Args, rng: &mut StdRng) -> Res<()> {
    let first_cred = next_id(store, "credentials").await? - a.credentials as i64;
    let first_role: i64 = {
        let mut tx = begin(store).await?;
        let r = sqlx::query_scalar(
            "SELECT id FROM roles WHERE content_type = 'credential' AND object_id = ? AND role_field = 'admin_role'",
        )
        .bind(first_cred)
        .fetch_one(&mut *tx)
        .await?;
        tx.rollback().await?;
        r
    };
    let role_of = |j: usize, field: usize| first_role + 3 * j as i64 + field as i64;
    let org_owned: Vec<usize> = (0..a.credentials)
        .filter(|j| matches!(plan(*j, a), Plan::Org(_)))
        .collect();
    let mut grants: BTreeSet<(i64, i64)> = BTreeSet::new();
    if !org_owned.is_empty() {
        let personal = (0..a.credentials)
            .filter(|j| matches!(plan(*j, a), Plan::User(0)))
            .count();
        let teams = (0..a.credentials)
            .filter(|j| matches!(plan(*j, a), Plan::Team(t) if t < 5))
            .count();
        let wanted = (a.credentials / 100).saturating_sub(personal + teams);
        let mut chosen = BTreeSet::new();
        for _ in 0..wanted * 20 {
            if chosen.len() >= wanted.min(org_owned.len()) {
                break;
            }
            chosen.insert(org_owned[rng.gen_range(0..org_owned.len())]);
        }
        for (n, j) in chosen.into_iter().enumerate() {
            grants.insert((role_of(j, 1 + n % 2), w.users[0]));
        }
        for u in w.users.iter().skip(1) {
            for _ in 0..20 {
                let j = org_owned[rng.gen_range(0..org_owned.len())];
                grants.insert((role_of(j, rng.gen_range(1..3)), *u));
            }
        }
    }
    let grants: Vec<(i64, i64)> = grants.into_iter().collect();
    let mut tx = begin(store).await?;
    insert(
        &mut tx,
        "INSERT OR IGNORE INTO role_members (role_id, user_id) ",
        &grants,
        4000,
        |b, p| {
            b.push_bind(p.0).push_bind(p.1);
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Seeds one data directory; returns the facts the benchmark needs.
async fn seed(a: &Args, dir: &std::path::Path) -> Res<Vec<(String, String)>> {
    if dir.join("credstore.db").exists() {
        return Err(format!("{} already holds a database", dir.display()).into());
    }
    let admin_password = std::env::var("CREDSTORE_ADMIN_PASSWORD").ok();
    let config = Config::resolve(
        "127.0.0.1:0".parse()?,
        dir.to_path_buf(),
        None,
        None,
        admin_password,
    );
    let started = Instant::now();
    let prepared = credstore::startup::prepare(&config).await?;
    let state = prepared.state;
    let mut rng = StdRng::seed_from_u64(9);
    let world = build_world(&state.ctx.store, a).await?;
    let world_secs = started.elapsed().as_secs_f64();
    let creds_started = Instant::now();
    if a.via_store {
        write_credentials_store(&state, &world, a, &mut rng).await?;
    } else {
        write_credentials_sql(&state, &world, a, &mut rng).await?;
    }
    let creds_secs = creds_started.elapsed().as_secs_f64();
    write_grants(&state.ctx.store, &world, a, &mut rng).await?;
    let facts = facts(&state, &world, a).await?;
    // Closing the last connection checkpoints the WAL into the database file.
    state.ctx.store.close().await;
    let mut out = vec![
        ("world_seconds".to_string(), format!("{world_secs:.1}")),
        (
            "credential_writer".to_string(),
            if a.via_store { "store" } else { "sql" }.to_string(),
        ),
        ("credential_seconds".to_string(), format!("{creds_secs:.1}")),
        (
            "seed_seconds".to_string(),
            format!("{:.1}", started.elapsed().as_secs_f64()),
        ),
    ];
    out.extend(facts);
    Ok(out)
}

/// Ids and counts for the benchmark, and a round trip through one sealed secret.
async fn facts(state: &credstore::AppState, w: &World, a: &Args) -> Res<Vec<(String, String)>> {
    let store = &state.ctx.store;
    let mut tx = begin(store).await?;
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM credentials")
        .fetch_one(&mut *tx)
        .await?;
    let visible: i64 = sqlx::query_scalar(
        "SELECT COUNT(DISTINCT ro.object_id) FROM roles ro JOIN role_ancestors ra ON ra.role_id = ro.id \
         JOIN role_members rm ON rm.role_id = ra.ancestor_id \
         WHERE ro.content_type = 'credential' AND ro.role_field = 'read_role' AND rm.user_id = ?",
    )
    .bind(w.users[0])
    .fetch_one(&mut *tx)
    .await?;
    let (first, last): (i64, i64) = sqlx::query_as(
        "SELECT MIN(id), MAX(id) FROM credentials WHERE id > (SELECT MAX(id) FROM credentials) - ?",
    )
    .bind(a.credentials as i64)
    .fetch_one(&mut *tx)
    .await?;
    let members: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM role_members")
        .fetch_one(&mut *tx)
        .await?;
    let (uid, field, ct): (String, String, Vec<u8>) = sqlx::query_as(
        "SELECT c.uid, s.field, s.ciphertext FROM credentials c JOIN credential_secrets s ON s.credential_id = c.id \
         WHERE c.id = ? ORDER BY s.field LIMIT 1",
    )
    .bind(last)
    .fetch_one(&mut *tx)
    .await?;
    tx.rollback().await?;
    state.ctx.keys.open(&uid, &field, &ct)?;
    // A team-owned credential in the middle: its detail shows owners and roles.
    let detail = (a.credentials / 2..a.credentials)
        .find(|j| matches!(plan(*j, a), Plan::Team(_)))
        .map_or(first, |j| first + j as i64);
    let ssh = w
        .kinds
        .iter()
        .find(|k| k.namespace == "ssh")
        .map_or(0, |k| k.id);
    Ok(vec![
        ("credentials".into(), total.to_string()),
        ("bench_user".into(), BENCH_USER.into()),
        ("bench_user_visible".into(), visible.to_string()),
        ("role_members".into(), members.to_string()),
        ("first_id".into(), first.to_string()),
        ("last_id".into(), last.to_string()),
        ("detail_id".into(), detail.to_string()),
        ("org_id".into(), w.orgs[0].id.to_string()),
        ("ssh_type_id".into(), ssh.to_string()),
    ])
}

/// The rows that must agree between the two writers (timestamps, uids and ciphertexts
/// are random or taken at write time).
const COMPARED: [&str; 8] = [
    "SELECT json_array(id, name, description, organization_id, credential_type_id, managed, inputs, created_by, modified_by) FROM credentials ORDER BY id",
    "SELECT json_array(credential_id, field, key_version, length(ciphertext)) FROM credential_secrets ORDER BY 1",
    "SELECT json_array(id, role_field, content_type, object_id) FROM roles ORDER BY id",
    "SELECT json_array(role_id, parent_id) FROM role_parents ORDER BY role_id, parent_id",
    "SELECT json_array(role_id, ancestor_id) FROM role_ancestors ORDER BY role_id, ancestor_id",
    "SELECT json_array(role_id, user_id) FROM role_members ORDER BY role_id, user_id",
    "SELECT json_array(name, seq) FROM sqlite_sequence WHERE name IN ('credentials', 'roles') ORDER BY name",
    "SELECT json_array(COUNT(*)) FROM credentials WHERE length(uid) = 32",
];

async fn dump(dir: &std::path::Path) -> Res<Vec<Vec<String>>> {
    let store = Store::open(&format!("sqlite://{}", dir.join("credstore.db").display())).await?;
    let mut tx = begin(&store).await?;
    let mut out = Vec::new();
    for sql in COMPARED {
        out.push(sqlx::query_scalar(sql).fetch_all(&mut *tx).await?);
    }
    tx.rollback().await?;
    store.close().await;
    Ok(out)
}

/// Seeds a small world with each writer and compares the rows.
async fn check(a: &Args) -> Res<()> {
    let base = std::env::temp_dir().join(format!("bench-seed-check-{}", std::process::id()));
    let small = Args {
        credentials: 2_000,
        organizations: 10,
        users: 100,
        teams: 20,
        ..a.clone()
    };
    let mut dumps = Vec::new();
    for via_store in [false, true] {
        let dir = base.join(if via_store { "store" } else { "sql" });
        let args = Args {
            via_store,
            ..small.clone()
        };
        let facts = seed(&args, &dir).await?;
        eprintln!(
            "bench-seed --check: {} writer: {facts:?}",
            if via_store { "store" } else { "sql" }
        );
        dumps.push(dump(&dir).await?);
    }
    let _ = std::fs::remove_dir_all(&base);
    for (n, (x, y)) in dumps[0].iter().zip(&dumps[1]).enumerate() {
        if x != y {
            let at = x.iter().zip(y).position(|(p, q)| p != q);
            return Err(format!(
                "writers differ in `{}` ({} vs {} rows; first difference at row {at:?})",
                COMPARED[n],
                x.len(),
                y.len()
            )
            .into());
        }
        eprintln!(
            "bench-seed --check: {} rows agree: {}",
            x.len(),
            COMPARED[n]
        );
    }
    println!("check=ok");
    Ok(())
}

/// The seeder writes SQLite directly, through a sqlx connection of its own to the store's
/// file (its bulk inserts use sqlx's query builder); the store it opens is always SQLite.
async fn begin(store: &Store) -> Res<sqlx::Transaction<'static, Sqlite>> {
    let credstore::store::backend::Backend::Sqlite(db) = store.pool() else {
        return Err("the benchmark seeds a SQLite database".into());
    };
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(db.path())
        .foreign_keys(true)
        .busy_timeout(std::time::Duration::from_secs(10));
    let pool = sqlx::SqlitePool::connect_with(options).await?;
    Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let a = Args::parse();
    let result = if a.check {
        check(&a).await
    } else if let Some(dir) = a.data_dir.clone() {
        seed(&a, &dir).await.map(|facts| {
            for (k, v) in facts {
                println!("{k}={v}");
            }
        })
    } else {
        Err("--data-dir is required".into())
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-seed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
