//! Credentials: rows with what their representation needs, secret ciphertexts, the role
//! wiring of ownership, and writes that commit row, secrets and roles together.

use super::activity::append;
use super::input_sources::copy_input_sources;
use super::query::{order_like, query, query_as, query_scalar};
use super::roles::{
    add_parent, create_object_roles, delete_object_roles, grant_user, remove_parent, role_id,
    ParentLinks, RoleInfo,
};
use super::sql::marks;
use super::WriteTx;
use super::{now, Store, StoreResult};
use crate::domain::activity::ActivityRecord;
use crate::domain::credential::Owner;
use crate::domain::rbac::{
    role, CREDENTIAL_ORG_PARENTS, CREDENTIAL_PARENTS, CREDENTIAL_ROLES, CREDENTIAL_TEAM_PARENTS,
};

crate::row_struct! {
    /// A credential with the names its `summary_fields` show.
    #[derive(Debug, Clone)]
    pub struct CredentialRow {
        pub id: i64,
        pub uid: String,
        pub name: String,
        pub description: String,
        pub organization_id: Option<i64>,
        pub credential_type_id: i64,
        pub managed: bool,
        /// Public inputs as JSON text: secrets appear only as the `$encrypted$` marker.
        pub inputs: String,
        pub created: String,
        pub modified: String,
        pub created_by: Option<i64>,
        pub modified_by: Option<i64>,
        pub org_name: Option<String>,
        pub org_description: Option<String>,
        pub type_name: String,
        pub type_description: String,
        pub type_kind: String,
        pub type_namespace: Option<String>,
    }
}

impl CredentialRow {
    /// The public inputs, decoded.
    pub fn public_inputs(&self) -> StoreResult<serde_json::Map<String, serde_json::Value>> {
        super::decode_json("credentials", "inputs", self.id, &self.inputs)
    }
}

crate::row_struct! {
    /// One stored secret: field and AEAD envelope.
    #[derive(Debug, Clone)]
    pub struct SecretRow {
        pub field: String,
        pub ciphertext: Vec<u8>,
    }
}

/// What a create or update writes. Secrets arrive already sealed for `uid`.
#[derive(Debug)]
pub struct CredentialSave {
    pub uid: String,
    pub name: String,
    pub description: String,
    pub organization_id: Option<i64>,
    pub credential_type_id: i64,
    pub managed: bool,
    pub inputs: String,
    /// New envelopes to write: (field, key version, ciphertext).
    pub new_secrets: Vec<(String, u32, Vec<u8>)>,
    /// Secret fields whose stored envelope stays; every other stored secret is removed.
    pub kept_secrets: Vec<String>,
}

/// A team's role that a user holds, seen from one credential.
#[derive(Debug, Clone)]
pub struct TeamGrant {
    pub team_id: i64,
    pub team_name: String,
    pub team_organization_name: String,
    /// Whether the team's role sits directly above one of the credential's roles (rather
    /// than above an organization role that does).
    pub direct: bool,
    /// The roles AWX names for it: the team member role's children among the credential's
    /// roles (direct), or among the roles above them.
    pub shown: Vec<i64>,
    /// The credential's role fields the team's member role implies.
    pub implied: Vec<String>,
}

crate::row_struct! {
    /// An owner entry of `summary_fields.owners`.
    #[derive(Debug, Clone)]
    pub struct OwnerSummary {
        pub credential_id: i64,
        pub kind: String,
        pub id: i64,
        pub name: String,
        pub description: String,
    }
}

const SELECT: &str = "SELECT credentials.id, credentials.uid, credentials.name, credentials.description, \
    credentials.organization_id, credentials.credential_type_id, credentials.managed, credentials.inputs, \
    credentials.created, credentials.modified, credentials.created_by, credentials.modified_by, \
    o.name AS org_name, o.description AS org_description, t.name AS type_name, \
    t.description AS type_description, t.kind AS type_kind, t.namespace AS type_namespace \
    FROM credentials JOIN credential_types t ON t.id = credentials.credential_type_id \
    LEFT JOIN organizations o ON o.id = credentials.organization_id";

impl Store {
    /// One credential.
    pub async fn credential(&self, id: i64) -> StoreResult<Option<CredentialRow>> {
        query_as(&format!("{SELECT} WHERE credentials.id = ?"))
            .bind(id)
            .fetch_optional(self.pool())
            .await
    }

    /// Credentials by id, in the given order.
    pub async fn credentials_by_ids(&self, ids: &[i64]) -> StoreResult<Vec<CredentialRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("{SELECT} WHERE credentials.id IN ({})", marks(ids.len()));
        let rows = query_as::<CredentialRow>(&sql)
            .bind_ids(ids)
            .fetch_all(self.pool())
            .await?;
        Ok(order_like(rows, ids, |r| r.id))
    }

    /// The sealed secrets of one credential.
    pub async fn credential_secrets(&self, id: i64) -> StoreResult<Vec<SecretRow>> {
        query_as("SELECT field, ciphertext FROM credential_secrets WHERE credential_id = ? ORDER BY field")
            .bind(id)
            .fetch_all(self.pool())
            .await
    }

    /// Inserts a credential, its secrets, its roles and its ownership in one transaction.
    /// `creator` receives the admin role when given (the creator rule).
    pub async fn create_credential(
        &self,
        save: &CredentialSave,
        owner: Option<Owner>,
        actor: Option<i64>,
        creator: Option<i64>,
        activity: Option<&ActivityRecord>,
    ) -> StoreResult<i64> {
        let mut tx = self.begin_addition().await?;
        let id = insert_credential(&mut tx, save, owner, actor, creator).await?;
        if let Some(a) = activity {
            append(&mut tx, a, Some(id)).await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// Writes a copy of credential `from` (sealed anew in `save`) with copies of its
    /// input sources, in one transaction. Nobody is granted the copy's admin role: whoever
    /// may copy holds it already (a superuser, or a credential admin of the organization),
    /// and AWX then adds no grant.
    pub async fn copy_credential(
        &self,
        from: i64,
        save: &CredentialSave,
        actor: i64,
        activity: &ActivityRecord,
    ) -> StoreResult<i64> {
        let mut tx = self.begin_addition().await?;
        let id = insert_credential(&mut tx, save, None, Some(actor), None).await?;
        copy_input_sources(&mut tx, from, id, actor).await?;
        append(&mut tx, activity, Some(id)).await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn update_credential(
        &self,
        id: i64,
        save: &CredentialSave,
        actor: Option<i64>,
        activity: Option<&ActivityRecord>,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let old_org: Option<i64> =
            query_scalar("SELECT organization_id FROM credentials WHERE id = ?")
                .bind(id)
                .fetch_one(&mut tx)
                .await?;
        query(
            "UPDATE credentials SET name = ?, description = ?, organization_id = ?, credential_type_id = ?, \
             inputs = ?, modified = ?, modified_by = ? WHERE id = ?",
        )
        .bind(&save.name)
        .bind(&save.description)
        .bind(save.organization_id)
        .bind(save.credential_type_id)
        .bind(&save.inputs)
        .bind(now())
        .bind(actor)
        .bind(id)
        .execute(&mut tx)
        .await?;
        write_secrets(&mut tx, id, save).await?;
        if let Some(a) = activity {
            append(&mut tx, a, None).await?;
        }
        if old_org != save.organization_id {
            move_to_organization(&mut tx, id, old_org, save.organization_id, actor).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a credential with its secrets, roles and input sources.
    pub async fn delete_credential(&self, id: i64, activity: &ActivityRecord) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        delete_object_roles(&mut tx, "credential", id).await?;
        query("DELETE FROM credentials WHERE id = ?")
            .bind(id)
            .execute(&mut tx)
            .await?;
        append(&mut tx, activity, None).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Owners of each credential: users holding its admin role directly, then the
    /// organizations and teams whose roles imply it.
    pub async fn credential_owners(&self, ids: &[i64]) -> StoreResult<Vec<OwnerSummary>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let id_list = marks(ids.len());
        let sql = format!(
            "SELECT r.object_id AS credential_id, 'user' AS kind, u.id AS id, u.username AS name, \
                    u.first_name || ' ' || u.last_name AS description \
             FROM roles r JOIN role_members m ON m.role_id = r.id JOIN users u ON u.id = m.user_id \
             WHERE r.content_type = 'credential' AND r.role_field = ? AND r.object_id IN ({id_list}) \
             UNION ALL \
             SELECT r.object_id, p.content_type, COALESCE(o.id, t.id), COALESCE(o.name, t.name), \
                    COALESCE(o.description, t.description) \
             FROM roles r JOIN role_parents rp ON rp.role_id = r.id JOIN roles p ON p.id = rp.parent_id \
             LEFT JOIN organizations o ON p.content_type = 'organization' AND o.id = p.object_id \
             LEFT JOIN teams t ON p.content_type = 'team' AND t.id = p.object_id \
             WHERE r.content_type = 'credential' AND r.role_field = ? AND r.object_id IN ({id_list}) \
                   AND p.content_type IN ('organization', 'team') \
             ORDER BY 1, 2 DESC, 3"
        );
        query_as::<OwnerSummary>(&sql)
            .bind(role::ADMIN)
            .bind_ids(ids)
            .bind(role::ADMIN)
            .bind_ids(ids)
            .fetch_all(self.pool())
            .await
    }
}

async fn write_secrets(conn: &mut WriteTx, id: i64, save: &CredentialSave) -> StoreResult<()> {
    let existing: Vec<String> =
        query_scalar("SELECT field FROM credential_secrets WHERE credential_id = ?")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
    for field in existing.iter().filter(|f| !save.kept_secrets.contains(f)) {
        query("DELETE FROM credential_secrets WHERE credential_id = ? AND field = ?")
            .bind(id)
            .bind(field)
            .execute(&mut *conn)
            .await?;
    }
    for (field, version, ciphertext) in &save.new_secrets {
        query(
            "INSERT INTO credential_secrets (credential_id, field, key_version, ciphertext) VALUES (?, ?, ?, ?) \
             ON CONFLICT(credential_id, field) DO UPDATE SET key_version = excluded.key_version, ciphertext = excluded.ciphertext",
        )
        .bind(id)
        .bind(field)
        .bind(i64::from(*version))
        .bind(ciphertext)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

crate::row_struct! {
    /// One way a user reaches a credential role: through a direct grant of `via_role`.
    #[derive(Debug, Clone)]
    pub struct AccessPath {
        pub user_id: i64,
        pub via_role: i64,
        pub role_field: String,
    }
}

impl Store {
    /// Every (user, granted role, credential role it implies) for one credential.
    pub async fn credential_access(&self, credential_id: i64) -> StoreResult<Vec<AccessPath>> {
        query_as(
            "SELECT m.user_id, m.role_id AS via_role, r.role_field FROM roles r \
             JOIN role_ancestors a ON a.role_id = r.id JOIN role_members m ON m.role_id = a.ancestor_id \
             WHERE r.content_type = 'credential' AND r.object_id = ? ORDER BY m.user_id, m.role_id, r.id",
        )
        .bind(credential_id)
        .fetch_all(self.pool())
        .await
    }

    /// How a team's role that a user holds reaches `credential`, as AWX's access list shows
    /// it: `None` when the role is not a team's.
    pub async fn team_grant(
        &self,
        held: &RoleInfo,
        credential: i64,
    ) -> StoreResult<Option<TeamGrant>> {
        let (Some("team"), Some(team_id)) = (held.content_type.as_deref(), held.object_id) else {
            return Ok(None);
        };
        let (team_role, field) = (held.id, held.role_field.as_str());
        let team_organization_name: String = query_scalar(
            "SELECT o.name FROM teams t JOIN organizations o ON o.id = t.organization_id \
             WHERE t.id = ?",
        )
        .bind(team_id)
        .fetch_one(self.pool())
        .await?;
        let team_name = held.resource_name.clone().unwrap_or_default();
        // AWX shows a team admin's access through the team's member role.
        let member = if field == role::ADMIN {
            query_scalar(
                "SELECT id FROM roles WHERE content_type = 'team' AND object_id = ? AND role_field = ?",
            )
            .bind(team_id)
            .bind(role::MEMBER)
            .fetch_optional(self.pool())
            .await?
            .unwrap_or(team_role)
        } else {
            team_role
        };
        let direct = !self
            .children_on(team_role, credential, false)
            .await?
            .is_empty();
        let shown = self.children_on(member, credential, !direct).await?;
        let implied = query_scalar(
            "SELECT r.role_field FROM roles r JOIN role_ancestors a ON a.role_id = r.id \
             WHERE r.content_type = 'credential' AND r.object_id = ? AND a.ancestor_id = ? ORDER BY r.id",
        )
        .bind(credential)
        .bind(member)
        .fetch_all(self.pool())
        .await?;
        Ok(Some(TeamGrant {
            team_id,
            team_name,
            team_organization_name,
            direct,
            shown,
            implied,
        }))
    }

    /// The roles directly below `parent` that are `credential`'s own, or with `above` the
    /// ones that sit above them (the credential's roles included).
    async fn children_on(
        &self,
        parent: i64,
        credential: i64,
        above: bool,
    ) -> StoreResult<Vec<i64>> {
        let sql = if above {
            "SELECT rp.role_id FROM role_parents rp WHERE rp.parent_id = ? AND rp.role_id IN \
             (SELECT a.ancestor_id FROM role_ancestors a JOIN roles r ON r.id = a.role_id \
              WHERE r.content_type = 'credential' AND r.object_id = ?) ORDER BY rp.role_id"
        } else {
            "SELECT rp.role_id FROM role_parents rp JOIN roles r ON r.id = rp.role_id \
             WHERE rp.parent_id = ? AND r.content_type = 'credential' AND r.object_id = ? \
             ORDER BY rp.role_id"
        };
        query_scalar(sql)
            .bind(parent)
            .bind(credential)
            .fetch_all(self.pool())
            .await
    }
}

crate::row_struct! {
    /// A sealed secret with what is needed to re-seal it.
    #[derive(Debug, Clone)]
    pub struct SealedSecret {
        pub credential_id: i64,
        pub uid: String,
        pub field: String,
        pub ciphertext: Vec<u8>,
    }
}

impl Store {
    /// (key version, number of secrets sealed with it).
    pub async fn secret_key_versions(&self) -> StoreResult<Vec<(u32, i64)>> {
        let rows: Vec<(i64, i64)> =
            query_as("SELECT key_version, COUNT(*) FROM credential_secrets GROUP BY key_version ORDER BY key_version")
                .fetch_all(self.pool())
                .await?;
        Ok(rows
            .into_iter()
            .map(|(v, n)| (u32::try_from(v).unwrap_or(0), n))
            .collect())
    }

    /// Up to `limit` secrets sealed with a version older than `version`.
    pub async fn secrets_older_than(
        &self,
        version: u32,
        limit: i64,
    ) -> StoreResult<Vec<SealedSecret>> {
        query_as(
            "SELECT s.credential_id, c.uid, s.field, s.ciphertext FROM credential_secrets s \
             JOIN credentials c ON c.id = s.credential_id WHERE s.key_version < ? ORDER BY s.credential_id, s.field LIMIT ?",
        )
        .bind(i64::from(version))
        .bind(limit)
        .fetch_all(self.pool())
        .await
    }

    /// Replaces one envelope only if it is still the one that was read (compare and swap),
    /// so a rotation never overwrites a value a server wrote meanwhile.
    pub async fn swap_secret(
        &self,
        credential_id: i64,
        field: &str,
        old: &[u8],
        version: u32,
        new: &[u8],
    ) -> StoreResult<bool> {
        let done = query(
            "UPDATE credential_secrets SET key_version = ?, ciphertext = ? \
             WHERE credential_id = ? AND field = ? AND ciphertext = ?",
        )
        .bind(i64::from(version))
        .bind(new)
        .bind(credential_id)
        .bind(field)
        .bind(old)
        .execute_write(self)
        .await?;
        Ok(done == 1)
    }

    /// Writes a consistent copy of the database to `path` while the service runs.
    pub async fn backup_to(&self, path: &str) -> StoreResult<()> {
        if self.is_postgres() {
            return Err(super::StoreError::Unsupported(
                "`credstore backup` copies the SQLite database; back up PostgreSQL with pg_dump",
            ));
        }
        query("VACUUM INTO ?")
            .bind(path)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// How much a database holds, for what `credstore restore` reports.
    pub async fn inventory(&self) -> StoreResult<Inventory> {
        let count = |table: &'static str| async move {
            query_scalar::<i64>(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(self.pool())
                .await
        };
        Ok(Inventory {
            credentials: count("credentials").await?,
            users: count("users").await?,
            organizations: count("organizations").await?,
            teams: count("teams").await?,
        })
    }
}

/// Row counts of the main resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inventory {
    pub credentials: i64,
    pub users: i64,
    pub organizations: i64,
    pub teams: i64,
}

/// Where a new credential's roles hang: under each other, under its organization's
/// credential roles, and under its owning team's roles.
fn credential_links(organization: Option<i64>, owner: Option<Owner>) -> Vec<ParentLinks<'static>> {
    let mut links = vec![ParentLinks {
        parent: None,
        pairs: &CREDENTIAL_PARENTS,
    }];
    if let Some(org) = organization {
        links.push(ParentLinks {
            parent: Some(("organization", org)),
            pairs: &CREDENTIAL_ORG_PARENTS,
        });
    }
    if let Some(Owner::Team(team)) = owner {
        links.push(ParentLinks {
            parent: Some(("team", team)),
            pairs: &CREDENTIAL_TEAM_PARENTS,
        });
    }
    links
}

/// Inserts a credential row, its secrets and its roles (linked to its owner), and grants
/// the owning user and `creator` its admin role.
async fn insert_credential(
    tx: &mut WriteTx,
    save: &CredentialSave,
    owner: Option<Owner>,
    actor: Option<i64>,
    creator: Option<i64>,
) -> StoreResult<i64> {
    let ts = now();
    let id: i64 = query_scalar(
        "INSERT INTO credentials (uid, name, description, organization_id, credential_type_id, managed, inputs, \
         created, modified, created_by, modified_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(&save.uid)
    .bind(&save.name)
    .bind(&save.description)
    .bind(save.organization_id)
    .bind(save.credential_type_id)
    .bind(save.managed)
    .bind(&save.inputs)
    .bind(&ts)
    .bind(&ts)
    .bind(actor)
    .bind(actor)
    .fetch_one(&mut *tx)
    .await?;
    write_secrets(tx, id, save).await?;
    let roles = create_object_roles(
        tx,
        "credential",
        id,
        &CREDENTIAL_ROLES,
        &credential_links(save.organization_id, owner),
    )
    .await?;
    let owning_user = match owner {
        Some(Owner::User(u)) => Some(u),
        _ => None,
    };
    if let Some(&admin_role) = roles.get(role::ADMIN) {
        for user in [owning_user, creator].into_iter().flatten() {
            grant_user(tx, admin_role, user).await?;
        }
    }
    Ok(id)
}

/// Moves a credential's roles from one organization's to another's, recording each link
/// taken away and made as AWX does (after the update's own entry): per credential role,
/// the old organization's link goes, then the new one's comes; `object2_pk` is the
/// organization's role, as AWX writes it.
async fn move_to_organization(
    tx: &mut WriteTx,
    credential: i64,
    from: Option<i64>,
    to: Option<i64>,
    actor: Option<i64>,
) -> StoreResult<()> {
    for (field, org_field) in CREDENTIAL_ORG_PARENTS {
        let Some(role) = role_id(tx, "credential", credential, field).await? else {
            continue;
        };
        for (org, link) in [(from, false), (to, true)] {
            let Some(org) = org else { continue };
            let Some(parent) = role_id(tx, "organization", org, org_field).await? else {
                continue;
            };
            if link {
                add_parent(tx, role, parent).await?;
            } else {
                remove_parent(tx, role, parent).await?;
            }
            let mut record = ActivityRecord::role_change(
                actor,
                link,
                ("credential", credential),
                ("organization", org),
                "awx.main.models.rbac.Role_parents",
                "credential",
                role,
            );
            record.changes.insert("object2_pk".into(), parent.into());
            append(tx, &record, None).await?;
        }
    }
    Ok(())
}
