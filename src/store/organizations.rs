//! Organizations and their membership roles.

use super::activity::append;
use super::query::{fetch_by_ids, order_like, query, query_as, query_scalar};
use super::roles::{create_object_roles, role_id, ParentLinks};
use super::{now, Store, StoreResult};
use crate::domain::activity::ActivityRecord;
use crate::domain::rbac::{ORGANIZATION_PARENTS, ORGANIZATION_ROLES};

crate::row_struct! {
    /// An organization row with its creator/modifier names for `summary_fields`.
    #[derive(Debug, Clone)]
    pub struct OrganizationRow {
        pub id: i64,
        pub name: String,
        pub description: String,
        pub created: String,
        pub modified: String,
        pub created_by: Option<i64>,
        pub modified_by: Option<i64>,
    }
}

const SELECT: &str =
    "SELECT id, name, description, created, modified, created_by, modified_by FROM organizations";

impl Store {
    /// One organization.
    pub async fn organization(&self, id: i64) -> StoreResult<Option<OrganizationRow>> {
        query_as(&format!("{SELECT} WHERE id = ?"))
            .bind(id)
            .fetch_optional(self.pool())
            .await
    }

    /// Organizations by id, in the given order.
    pub async fn organizations_by_ids(&self, ids: &[i64]) -> StoreResult<Vec<OrganizationRow>> {
        let rows: Vec<OrganizationRow> = fetch_by_ids(self, SELECT, ids).await?;
        Ok(order_like(rows, ids, |r| r.id))
    }

    /// Creates an organization and its roles in one transaction.
    pub async fn create_organization(
        &self,
        name: &str,
        description: &str,
        actor: Option<i64>,
        activity: &ActivityRecord,
    ) -> StoreResult<i64> {
        let mut tx = self.begin().await?;
        let ts = now();
        let id: i64 = query_scalar(
            "INSERT INTO organizations (name, description, created, modified, created_by, modified_by) \
             VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(name)
        .bind(description)
        .bind(&ts)
        .bind(&ts)
        .bind(actor)
        .bind(actor)
        .fetch_one(&mut tx)
        .await?;
        let links = [ParentLinks {
            parent: None,
            pairs: &ORGANIZATION_PARENTS,
        }];
        create_object_roles(&mut tx, "organization", id, &ORGANIZATION_ROLES, &links).await?;
        append(&mut tx, activity, Some(id)).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Changes name and description.
    pub async fn update_organization(
        &self,
        id: i64,
        name: &str,
        description: &str,
        actor: Option<i64>,
        activity: Option<&ActivityRecord>,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        query("UPDATE organizations SET name = ?, description = ?, modified = ?, modified_by = ? WHERE id = ?")
            .bind(name)
            .bind(description)
            .bind(now())
            .bind(actor)
            .bind(id)
            .execute(&mut tx)
            .await?;
        if let Some(a) = activity {
            append(&mut tx, a, None).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes an organization with its teams, credentials and credential types (as AWX
    /// cascades), and the roles of all of them.
    pub async fn delete_organization(&self, id: i64, activity: &ActivityRecord) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        for (ct, sql) in [
            (
                "credential",
                "SELECT id FROM credentials WHERE organization_id = ?",
            ),
            ("team", "SELECT id FROM teams WHERE organization_id = ?"),
            (
                "credential_type",
                "SELECT id FROM credential_types WHERE organization_id = ?",
            ),
        ] {
            let ids: Vec<i64> = query_scalar(sql).bind(id).fetch_all(&mut tx).await?;
            for oid in ids {
                super::roles::delete_object_roles(&mut tx, ct, oid).await?;
            }
        }
        super::roles::delete_object_roles(&mut tx, "organization", id).await?;
        // Children first, explicitly: the organization's types may only go once its
        // credentials have (a credential's type is a restricting reference).
        for sql in [
            "DELETE FROM credentials WHERE organization_id = ?",
            "DELETE FROM credential_types WHERE organization_id = ?",
            "DELETE FROM organizations WHERE id = ?",
        ] {
            query(sql).bind(id).execute(&mut tx).await?;
        }
        append(&mut tx, activity, None).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds or removes a user in some of the organization's roles (`member_role`, ...),
    /// in one transaction with an activity entry per role; false when a role is missing.
    pub async fn set_organization_roles(
        &self,
        org: i64,
        fields: &[&str],
        user_id: i64,
        grant: bool,
        actor: Option<i64>,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        for field in fields {
            let Some(role) = role_id(&mut tx, "organization", org, field).await? else {
                return Ok(false);
            };
            if grant {
                super::roles::grant_user(&mut tx, role, user_id).await?;
            } else {
                super::roles::revoke_user(&mut tx, role, user_id).await?;
            }
            let record = ActivityRecord::role_change(
                actor,
                grant,
                ("user", user_id),
                ("organization", org),
                "awx.main.models.rbac.Role_members",
                "organization",
                role,
            );
            append(&mut tx, &record, None).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}

impl Store {
    /// (direct members, direct admins, teams) of an organization.
    pub async fn organization_counts(&self, org: i64) -> StoreResult<(i64, i64, i64)> {
        let members = |field: &'static str| {
            query_scalar::<i64>(
                "SELECT COUNT(*) FROM role_members m JOIN roles r ON r.id = m.role_id \
                 WHERE r.content_type = 'organization' AND r.object_id = ? AND r.role_field = ?",
            )
            .bind(org)
            .bind(field)
        };
        let users = members("member_role").fetch_one(self.pool()).await?;
        let admins = members("admin_role").fetch_one(self.pool()).await?;
        let teams: i64 = query_scalar("SELECT COUNT(*) FROM teams WHERE organization_id = ?")
            .bind(org)
            .fetch_one(self.pool())
            .await?;
        Ok((users, admins, teams))
    }
}

impl Store {
    /// The Galaxy credentials of an organization, in the order they were attached.
    pub async fn galaxy_credential_ids(&self, org: i64) -> StoreResult<Vec<i64>> {
        query_scalar(
            "SELECT credential_id FROM organization_galaxy_credentials \
             WHERE organization_id = ? ORDER BY position",
        )
        .bind(org)
        .fetch_all(self.pool())
        .await
    }

    /// Attaches a Galaxy credential at the end of an organization's list, or detaches
    /// it, with its activity entry; nothing changes, and nothing is recorded, when it is
    /// attached (or detached) already.
    pub async fn set_galaxy_credential(
        &self,
        org: i64,
        credential: i64,
        attach: bool,
        activity: &ActivityRecord,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let changed = if attach {
            query(
                "INSERT INTO organization_galaxy_credentials (organization_id, credential_id, position) \
                 SELECT ?, ?, COALESCE(MAX(position), 0) + 1 FROM organization_galaxy_credentials \
                 WHERE organization_id = ? ON CONFLICT DO NOTHING",
            )
            .bind(org)
            .bind(credential)
            .bind(org)
            .execute(&mut tx)
            .await?
        } else {
            query(
                "DELETE FROM organization_galaxy_credentials \
                 WHERE organization_id = ? AND credential_id = ?",
            )
            .bind(org)
            .bind(credential)
            .execute(&mut tx)
            .await?
        };
        if changed > 0 {
            append(&mut tx, activity, None).await?;
        }
        tx.commit().await
    }
}
