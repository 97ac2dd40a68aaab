//! Credential input sources.

use super::activity::append;
use super::query::{query, query_as, query_scalar};
use super::users::{fetch_by_ids, order_like};
use super::{now, Store, StoreResult};
use crate::domain::activity::{input_source_fields, ActivityRecord};

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

    /// Creates an input source and records it (linked to both credentials).
    pub async fn create_input_source(&self, w: &InputSourceWrite, actor: i64) -> StoreResult<i64> {
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
        let record = ActivityRecord::create(Some(actor), "credential_input_source", fields_of(w))
            .linked("credential", w.target_credential_id)
            .linked("credential", w.source_credential_id);
        append(&mut tx, &record, Some(id)).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Replaces an input source's fields and records what changed.
    pub async fn update_input_source(
        &self,
        id: i64,
        w: &InputSourceWrite,
        actor: i64,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let before: Option<InputSourceRow> = query_as(&format!("{SELECT} WHERE id = ?"))
            .bind(id)
            .fetch_optional(&mut tx)
            .await?;
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
        if let Some(b) = before {
            let old = fields_of(&InputSourceWrite {
                target_credential_id: b.target_credential_id,
                source_credential_id: b.source_credential_id,
                input_field_name: b.input_field_name,
                metadata: b.metadata,
                description: b.description,
            });
            if let Some(record) = ActivityRecord::update(
                Some(actor),
                "credential_input_source",
                id,
                &old,
                &fields_of(w),
            ) {
                let record = record
                    .linked("credential", w.target_credential_id)
                    .linked("credential", w.source_credential_id);
                append(&mut tx, &record, None).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes an input source and records it against both credentials.
    pub async fn delete_input_source(&self, row: &InputSourceRow, actor: i64) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        query("DELETE FROM credential_input_sources WHERE id = ?")
            .bind(row.id)
            .execute(&mut tx)
            .await?;
        let w = InputSourceWrite {
            target_credential_id: row.target_credential_id,
            source_credential_id: row.source_credential_id,
            input_field_name: row.input_field_name.clone(),
            metadata: row.metadata.clone(),
            description: row.description.clone(),
        };
        let record = ActivityRecord::delete(
            Some(actor),
            "credential_input_source",
            row.id,
            fields_of(&w),
        )
        .linked("credential", row.target_credential_id)
        .linked("credential", row.source_credential_id);
        append(&mut tx, &record, None).await?;
        tx.commit().await?;
        Ok(())
    }
}

fn fields_of(w: &InputSourceWrite) -> serde_json::Map<String, serde_json::Value> {
    let mut m = input_source_fields(
        &w.input_field_name,
        w.target_credential_id,
        w.source_credential_id,
        &w.description,
    );
    m.insert(
        "metadata".into(),
        serde_json::from_str(&w.metadata).unwrap_or_default(),
    );
    m
}

impl Store {
    /// Gives `to` the same input sources as `from` (credential copy).
    pub async fn copy_input_sources(&self, from: i64, to: i64, actor: i64) -> StoreResult<()> {
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
        .execute_write(self)
        .await?;
        Ok(())
    }
}
