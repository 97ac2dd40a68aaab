//! Credential types: rows, the start-up synchronisation of managed types, and writes.

use super::activity::append;
use super::query::{fetch_by_ids, order_like, query, query_as, query_scalar};
use super::{now, Store, StoreResult};
use crate::domain::activity::ActivityRecord;
use crate::domain::managed_types::ManagedType;

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

/// The stored fields of a custom type write.
#[derive(Debug, Clone)]
pub struct NewCredentialType {
    pub name: String,
    pub description: String,
    pub kind: String,
    pub inputs: String,
    pub injectors: String,
}

const SELECT: &str =
    "SELECT id, name, description, kind, namespace, managed, inputs, injectors, created, \
                      modified, created_by, modified_by FROM credential_types";

impl Store {
    /// One type.
    pub async fn credential_type(&self, id: i64) -> StoreResult<Option<CredentialTypeRow>> {
        query_as(&format!("{SELECT} WHERE id = ?"))
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
        query_as(&format!("{SELECT} WHERE name = ? AND kind = ?"))
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

    /// Creates a custom type and records it.
    pub async fn create_credential_type(
        &self,
        t: &NewCredentialType,
        actor: i64,
        activity: &ActivityRecord,
    ) -> StoreResult<i64> {
        let mut tx = self.begin().await?;
        let ts = now();
        let id: i64 = query_scalar(
            "INSERT INTO credential_types (name, description, kind, namespace, managed, inputs, injectors, \
             created, modified, created_by, modified_by) VALUES (?, ?, ?, NULL, FALSE, ?, ?, ?, ?, ?, ?) RETURNING id",
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
        .fetch_one(&mut tx)
        .await?;
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
        query("DELETE FROM credential_types WHERE id = ?")
            .bind(id)
            .execute(&mut tx)
            .await?;
        append(&mut tx, activity, None).await?;
        tx.commit().await?;
        Ok(())
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
