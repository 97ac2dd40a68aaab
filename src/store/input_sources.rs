//! Credential input sources.

use super::activity::append;
use super::query::{fetch_by_ids, order_like, query, query_as, query_scalar};
use super::{now, Store, StoreResult, WriteTx};
use crate::domain::activity::ActivityRecord;

crate::row_struct! {
    /// An input source row.
    #[derive(Debug, Clone)]
    pub struct InputSourceRow {
        pub id: i64,
        pub target_credential_id: i64,
        pub source_credential_id: i64,
        pub input_field_name: String,
        /// JSON text.
        pub metadata: String,
        pub description: String,
        pub created: String,
        pub modified: String,
        pub created_by: Option<i64>,
        pub modified_by: Option<i64>,
    }
}

impl InputSourceRow {
    /// The metadata, decoded.
    pub fn metadata_json(&self) -> StoreResult<serde_json::Map<String, serde_json::Value>> {
        super::decode_json(
            "credential_input_sources",
            "metadata",
            self.id,
            &self.metadata,
        )
    }
}

/// The writable fields of an input source.
#[derive(Debug, Clone)]
pub struct InputSourceWrite {
    pub target_credential_id: i64,
    pub source_credential_id: i64,
    pub input_field_name: String,
    pub metadata: String,
    pub description: String,
}

const SELECT: &str = "SELECT id, target_credential_id, source_credential_id, input_field_name, metadata, \
                      description, created, modified, created_by, modified_by FROM credential_input_sources";

impl Store {
    /// One input source.
    pub async fn input_source(&self, id: i64) -> StoreResult<Option<InputSourceRow>> {
        query_as(&format!("{SELECT} WHERE id = ?"))
            .bind(id)
            .fetch_optional(self.pool())
            .await
    }

    /// Input sources by id, in the given order.
    pub async fn input_sources_by_ids(&self, ids: &[i64]) -> StoreResult<Vec<InputSourceRow>> {
        let rows: Vec<InputSourceRow> = fetch_by_ids(self, SELECT, ids).await?;
        Ok(order_like(rows, ids, |r| r.id))
    }

    /// The input sources whose target is this credential.
    pub async fn input_sources_of(&self, target: i64) -> StoreResult<Vec<InputSourceRow>> {
        query_as(&format!(
            "{SELECT} WHERE target_credential_id = ? ORDER BY input_field_name"
        ))
        .bind(target)
        .fetch_all(self.pool())
        .await
    }

    /// Creates an input source and records it.
    pub async fn create_input_source(
        &self,
        w: &InputSourceWrite,
        actor: i64,
        activity: &ActivityRecord,
    ) -> StoreResult<i64> {
        let mut tx = self.begin().await?;
        let ts = now();
        let id: i64 = query_scalar(
            "INSERT INTO credential_input_sources (target_credential_id, source_credential_id, input_field_name, \
             metadata, description, created, modified, created_by, modified_by) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(w.target_credential_id)
        .bind(w.source_credential_id)
        .bind(&w.input_field_name)
        .bind(&w.metadata)
        .bind(&w.description)
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

    /// Replaces an input source's fields and records what changed (if anything did).
    pub async fn update_input_source(
        &self,
        id: i64,
        w: &InputSourceWrite,
        actor: i64,
        activity: Option<&ActivityRecord>,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        query(
            "UPDATE credential_input_sources SET target_credential_id = ?, source_credential_id = ?, \
             input_field_name = ?, metadata = ?, description = ?, modified = ?, modified_by = ? WHERE id = ?",
        )
        .bind(w.target_credential_id)
        .bind(w.source_credential_id)
        .bind(&w.input_field_name)
        .bind(&w.metadata)
        .bind(&w.description)
        .bind(now())
        .bind(actor)
        .bind(id)
        .execute(&mut tx)
        .await?;
        if let Some(record) = activity {
            append(&mut tx, record, None).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes an input source and records it.
    pub async fn delete_input_source(&self, id: i64, activity: &ActivityRecord) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        query("DELETE FROM credential_input_sources WHERE id = ?")
            .bind(id)
            .execute(&mut tx)
            .await?;
        append(&mut tx, activity, None).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Gives credential `to` a copy of every input source of credential `from`.
pub(super) async fn copy_input_sources(
    tx: &mut WriteTx,
    from: i64,
    to: i64,
    actor: i64,
) -> StoreResult<()> {
    let ts = now();
    query(
        "INSERT INTO credential_input_sources (target_credential_id, source_credential_id, input_field_name, \
         metadata, description, created, modified, created_by, modified_by) \
         SELECT ?, source_credential_id, input_field_name, metadata, description, ?, ?, ?, ? \
         FROM credential_input_sources WHERE target_credential_id = ?",
    )
    .bind(to)
    .bind(&ts)
    .bind(&ts)
    .bind(actor)
    .bind(actor)
    .bind(from)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
