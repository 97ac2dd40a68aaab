//! Credential types: rows, the start-up synchronisation of managed types, and writes.

use super::activity::append;
use super::query::{fetch_by_ids, order_like, query, query_as, query_scalar};
use super::roles::{create_object_roles, delete_object_roles, ParentLinks};
use super::{now, Store, StoreResult};
use crate::domain::activity::ActivityRecord;
use crate::domain::managed_types::ManagedType;
use crate::domain::rbac::{
    CREDENTIAL_TYPE_ORG_PARENTS, CREDENTIAL_TYPE_PARENTS, CREDENTIAL_TYPE_ROLES,
};

crate::row_struct! {
    /// A credential type row; `inputs`/`injectors` are JSON text.
    #[derive(Debug, Clone)]
    pub struct CredentialTypeRow {
        pub id: i64,
        pub name: String,
        pub description: String,
        pub kind: String,
        pub namespace: Option<String>,
        pub managed: bool,
        pub inputs: String,
        pub injectors: String,
        pub created: String,
        pub modified: String,
        pub created_by: Option<i64>,
        pub modified_by: Option<i64>,
        /// The organization that owns the type; `None` for AWX's global types.
        pub organization_id: Option<i64>,
        pub org_name: Option<String>,
        pub org_description: Option<String>,
    }
}

impl CredentialTypeRow {
    /// The inputs definition, decoded.
    pub fn inputs_json(&self) -> StoreResult<serde_json::Value> {
        super::decode_json("credential_types", "inputs", self.id, &self.inputs)
    }

    /// The injectors definition, decoded.
    pub fn injectors_json(&self) -> StoreResult<serde_json::Value> {
        super::decode_json("credential_types", "injectors", self.id, &self.injectors)
    }
}

/// The stored fields of a custom type write (its organization is set once, at creation).
#[derive(Debug, Clone)]
pub struct NewCredentialType {
    pub name: String,
    pub description: String,
    pub kind: String,
    pub inputs: String,
    pub injectors: String,
}

/// Columns are qualified: the organization's name and description come from a join.
const SELECT: &str = "SELECT credential_types.id, credential_types.name, credential_types.description, kind, \
     namespace, managed, inputs, injectors, credential_types.created, credential_types.modified, \
     credential_types.created_by, credential_types.modified_by, organization_id, o.name AS org_name, \
     o.description AS org_description \
     FROM credential_types LEFT JOIN organizations o ON o.id = credential_types.organization_id";

impl Store {
    /// One type.
    pub async fn credential_type(&self, id: i64) -> StoreResult<Option<CredentialTypeRow>> {
        query_as(&format!("{SELECT} WHERE credential_types.id = ?"))
            .bind(id)
            .fetch_optional(self.pool())
            .await
    }

    /// One type by its natural key (`name+kind` named URLs).
    pub async fn credential_type_by_name(
        &self,
        name: &str,
        kind: &str,
    ) -> StoreResult<Option<CredentialTypeRow>> {
        query_as(&format!(
            "{SELECT} WHERE credential_types.name = ? AND kind = ?"
        ))
        .bind(name)
        .bind(kind)
        .fetch_optional(self.pool())
        .await
    }

    /// Types by id, in the given order.
    pub async fn credential_types_by_ids(
        &self,
        ids: &[i64],
    ) -> StoreResult<Vec<CredentialTypeRow>> {
        let rows: Vec<CredentialTypeRow> = fetch_by_ids(self, SELECT, ids).await?;
        Ok(order_like(rows, ids, |r| r.id))
    }

    /// Creates or refreshes every managed type (matched by name and kind).
    pub async fn sync_managed_types(&self, types: &[ManagedType]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let ts = now();
        for t in types {
            let inputs = t.inputs.to_string();
            let injectors = t.injectors.to_string();
            query(
                "INSERT INTO credential_types (name, description, kind, namespace, managed, inputs, injectors, created, modified) \
                 VALUES (?, ?, ?, ?, TRUE, ?, ?, ?, ?) \
                 ON CONFLICT(name, kind) DO UPDATE SET namespace = excluded.namespace, managed = TRUE, \
                 inputs = excluded.inputs, injectors = excluded.injectors, description = excluded.description \
                 WHERE credential_types.inputs IS DISTINCT FROM excluded.inputs \
                 OR credential_types.injectors IS DISTINCT FROM excluded.injectors \
                 OR credential_types.namespace IS DISTINCT FROM excluded.namespace OR credential_types.managed = FALSE",
            )
            .bind(&t.name)
            .bind(&t.description)
            .bind(&t.kind)
            .bind(&t.namespace)
            .bind(inputs)
            .bind(injectors)
            .bind(&ts)
            .bind(&ts)
            .execute(&mut tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Creates a custom type and records it; an organization's type gets its roles, hung
    /// under the organization's.
    pub async fn create_credential_type(
        &self,
        t: &NewCredentialType,
        organization: Option<i64>,
        actor: i64,
        activity: &ActivityRecord,
    ) -> StoreResult<i64> {
        let mut tx = self.begin().await?;
        let ts = now();
        let id: i64 = query_scalar(
            "INSERT INTO credential_types (name, description, kind, namespace, managed, inputs, injectors, \
             created, modified, created_by, modified_by, organization_id) \
             VALUES (?, ?, ?, NULL, FALSE, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&t.name)
        .bind(&t.description)
        .bind(&t.kind)
        .bind(&t.inputs)
        .bind(&t.injectors)
        .bind(&ts)
        .bind(&ts)
        .bind(actor)
        .bind(actor)
        .bind(organization)
        .fetch_one(&mut tx)
        .await?;
        if let Some(org) = organization {
            let links = [
                ParentLinks {
                    parent: None,
                    pairs: &CREDENTIAL_TYPE_PARENTS,
                },
                ParentLinks {
                    parent: Some(("organization", org)),
                    pairs: &CREDENTIAL_TYPE_ORG_PARENTS,
                },
            ];
            create_object_roles(
                &mut tx,
                "credential_type",
                id,
                &CREDENTIAL_TYPE_ROLES,
                &links,
            )
            .await?;
        }
        append(&mut tx, activity, Some(id)).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Replaces a custom type's writable fields and records what changed.
    pub async fn update_credential_type(
        &self,
        id: i64,
        t: &NewCredentialType,
        actor: i64,
        activity: Option<&ActivityRecord>,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        query(
            "UPDATE credential_types SET name = ?, description = ?, kind = ?, inputs = ?, injectors = ?, \
             modified = ?, modified_by = ? WHERE id = ?",
        )
        .bind(&t.name)
        .bind(&t.description)
        .bind(&t.kind)
        .bind(&t.inputs)
        .bind(&t.injectors)
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

    /// Deletes a type that no credential uses (the foreign key refuses otherwise).
    pub async fn delete_credential_type(
        &self,
        id: i64,
        activity: &ActivityRecord,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        delete_object_roles(&mut tx, "credential_type", id).await?;
        query("DELETE FROM credential_types WHERE id = ?")
            .bind(id)
            .execute(&mut tx)
            .await?;
        append(&mut tx, activity, None).await?;
        tx.commit().await?;
        Ok(())
    }

    /// True when a credential outside the organization (a member's personal one) has one
    /// of the organization's types, which deleting the organization would orphan.
    pub async fn organization_types_used_outside(&self, org: i64) -> StoreResult<bool> {
        let n: i64 = query_scalar(
            "SELECT COUNT(*) FROM credentials c JOIN credential_types t ON t.id = c.credential_type_id \
             WHERE t.organization_id = ? AND (c.organization_id IS NULL OR c.organization_id <> t.organization_id)",
        )
        .bind(org)
        .fetch_one(self.pool())
        .await?;
        Ok(n > 0)
    }

    /// True when any credential has this type.
    pub async fn credential_type_in_use(&self, id: i64) -> StoreResult<bool> {
        let n: i64 =
            query_scalar("SELECT COUNT(*) FROM credentials WHERE credential_type_id = ? LIMIT 1")
                .bind(id)
                .fetch_one(self.pool())
                .await?;
        Ok(n > 0)
    }
}
