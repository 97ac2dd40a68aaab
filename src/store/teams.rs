//! Teams: rows, roles, and membership.

use super::activity::append;
use super::query::{fetch_by_ids, order_like, query, query_as, query_scalar};
use super::roles::{create_object_roles, delete_object_roles, link_parents, role_id, ParentLinks};
use super::{now, Store, StoreResult};
use crate::domain::activity::ActivityRecord;
use crate::domain::rbac::{TEAM_ORG_PARENTS, TEAM_PARENTS, TEAM_ROLES};

crate::row_struct! {
    /// A team row.
    #[derive(Debug, Clone)]
    pub struct TeamRow {
        pub id: i64,
        pub name: String,
        pub description: String,
        pub organization_id: i64,
        pub created: String,
        pub modified: String,
        pub created_by: Option<i64>,
        pub modified_by: Option<i64>,
    }
}

const SELECT: &str =
    "SELECT id, name, description, organization_id, created, modified, created_by, modified_by FROM teams";

impl Store {
    /// One team.
    pub async fn team(&self, id: i64) -> StoreResult<Option<TeamRow>> {
        query_as(&format!("{SELECT} WHERE id = ?"))
            .bind(id)
            .fetch_optional(self.pool())
            .await
    }

    /// Teams by id, in the given order.
    pub async fn teams_by_ids(&self, ids: &[i64]) -> StoreResult<Vec<TeamRow>> {
        let rows: Vec<TeamRow> = fetch_by_ids(self, SELECT, ids).await?;
        Ok(order_like(rows, ids, |r| r.id))
    }

    /// Creates a team with its roles, under its organization's roles.
    pub async fn create_team(
        &self,
        name: &str,
        description: &str,
        org: i64,
        actor: Option<i64>,
        activity: &ActivityRecord,
    ) -> StoreResult<i64> {
        let mut tx = self.begin().await?;
        let ts = now();
        let id: i64 = query_scalar(
            "INSERT INTO teams (name, description, organization_id, created, modified, created_by, modified_by) \
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(name)
        .bind(description)
        .bind(org)
        .bind(&ts)
        .bind(&ts)
        .bind(actor)
        .bind(actor)
        .fetch_one(&mut tx)
        .await?;
        let links = [
            ParentLinks {
                parent: None,
                pairs: &TEAM_PARENTS,
            },
            ParentLinks {
                parent: Some(("organization", org)),
                pairs: &TEAM_ORG_PARENTS,
            },
        ];
        create_object_roles(&mut tx, "team", id, &TEAM_ROLES, &links).await?;
        append(&mut tx, activity, Some(id)).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Changes a team's fields; moving it re-links its roles to the new organization.
    pub async fn update_team(
        &self,
        id: i64,
        name: &str,
        description: &str,
        org: i64,
        actor: Option<i64>,
        activity: Option<&ActivityRecord>,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let old_org: i64 = query_scalar("SELECT organization_id FROM teams WHERE id = ?")
            .bind(id)
            .fetch_one(&mut tx)
            .await?;
        query("UPDATE teams SET name = ?, description = ?, organization_id = ?, modified = ?, modified_by = ? WHERE id = ?")
            .bind(name)
            .bind(description)
            .bind(org)
            .bind(now())
            .bind(actor)
            .bind(id)
            .execute(&mut tx)
            .await?;
        if old_org != org {
            for (field, _) in TEAM_ORG_PARENTS {
                if let Some(r) = role_id(&mut tx, "team", id, field).await? {
                    super::roles::remove_parents_of_type(&mut tx, r, "organization").await?;
                }
            }
            link_parents(
                &mut tx,
                ("team", id),
                ("organization", org),
                &TEAM_ORG_PARENTS,
            )
            .await?;
        }
        if let Some(a) = activity {
            append(&mut tx, a, None).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a team and its roles.
    pub async fn delete_team(&self, id: i64, activity: &ActivityRecord) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        delete_object_roles(&mut tx, "team", id).await?;
        query("DELETE FROM teams WHERE id = ?")
            .bind(id)
            .execute(&mut tx)
            .await?;
        append(&mut tx, activity, None).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds or removes a user as a member of the team.
    pub async fn set_team_member(
        &self,
        team: i64,
        user_id: i64,
        grant: bool,
        actor: Option<i64>,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        if let Some(role) = role_id(&mut tx, "team", team, "member_role").await? {
            if grant {
                super::roles::grant_user(&mut tx, role, user_id).await?;
            } else {
                super::roles::revoke_user(&mut tx, role, user_id).await?;
            }
            let record = ActivityRecord::role_change(
                actor,
                grant,
                ("user", user_id),
                ("team", team),
                "awx.main.models.rbac.Role_members",
                "team",
                role,
            );
            append(&mut tx, &record, None).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
