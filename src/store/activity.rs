//! The activity stream's storage: appending entries inside the transaction of the change
//! they describe, chaining their hashes, and walking the chain to verify it.

use super::query::{fetch_by_ids, order_like, query, query_as};
use super::WriteTx;
use super::{now, Store, StoreResult};
use crate::domain::activity::{entry_hash, ActivityRecord, HashInput, GENESIS};
use serde_json::{json, Value};

crate::row_struct! {
    /// An entry as stored.
    #[derive(Debug, Clone)]
    pub struct ActivityRow {
        pub id: i64,
        pub timestamp: String,
        pub actor_id: Option<i64>,
        pub actor_snapshot: Option<String>,
        pub operation: String,
        pub object1: String,
        pub object2: String,
        pub object_association: String,
        pub object_type: String,
        pub changes: String,
        pub objects: String,
        pub prev_hash: String,
        pub hash: String,
    }
}

impl ActivityRow {
    /// The objects the entry mentions, as `(content type, id)` pairs.
    pub fn mentioned(&self) -> StoreResult<Vec<(String, i64)>> {
        super::decode_json("activity_stream", "objects", self.id, &self.objects)
    }

    /// The recorded changes.
    pub fn changes(&self) -> StoreResult<Value> {
        super::decode_json("activity_stream", "changes", self.id, &self.changes)
    }

    /// The actor as it was when the entry was written, if one was recorded.
    pub fn actor(&self) -> StoreResult<Option<Value>> {
        self.actor_snapshot
            .as_deref()
            .map(|s| super::decode_json("activity_stream", "actor_snapshot", self.id, s))
            .transpose()
    }
}

const SELECT: &str =
    "SELECT id, timestamp, actor_id, actor_snapshot, operation, object1, object2, \
    object_association, object_type, changes, objects, prev_hash, hash FROM activity_stream";

fn hash_of(row: &ActivityRow) -> String {
    entry_hash(&HashInput {
        prev_hash: &row.prev_hash,
        id: row.id,
        timestamp: &row.timestamp,
        actor: row.actor_snapshot.as_deref().unwrap_or(""),
        operation: &row.operation,
        object1: &row.object1,
        object2: &row.object2,
        object_association: &row.object_association,
        object_type: &row.object_type,
        changes: &row.changes,
        objects: &row.objects,
    })
}

/// Appends an entry in the caller's transaction. Call it after the change's own writes, so
/// the transaction already holds the write lock and the chain cannot fork.
pub async fn append(
    conn: &mut WriteTx,
    record: &ActivityRecord,
    new_id: Option<i64>,
) -> StoreResult<()> {
    let mut changes = record.changes.clone();
    let mut objects = record.objects.clone();
    if let (true, Some(id)) = (record.link_new, new_id) {
        changes.insert("id".into(), json!(id));
        objects.insert(0, (record.object1, id));
    }
    let actor_snapshot: Option<String> = match record.actor {
        Some(a) => query_as::<(i64, String, String, String)>(
            "SELECT id, username, first_name, last_name FROM users WHERE id = ?",
        )
        .bind(a)
        .fetch_optional(&mut *conn)
        .await?
        .map(|(id, u, f, l)| {
            json!({"id": id, "username": u, "first_name": f, "last_name": l}).to_string()
        }),
        None => None,
    };
    let objects_json =
        Value::Array(objects.iter().map(|(ct, id)| json!([ct, id])).collect()).to_string();
    // Entries are never deleted, so the next id follows the last; giving it explicitly
    // lets the hash, which covers the id, be written with the row.
    conn.lock_activity_chain().await?;
    let prev: Option<(i64, String)> =
        query_as("SELECT id, hash FROM activity_stream ORDER BY id DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
    let (prev_id, prev_hash) = prev.unwrap_or_else(|| (0, GENESIS.to_string()));
    let mut row = ActivityRow {
        id: prev_id + 1,
        timestamp: now(),
        actor_id: record.actor,
        actor_snapshot,
        operation: record.operation.to_string(),
        object1: record.object1.to_string(),
        object2: record.object2.to_string(),
        object_association: record.object_association.to_string(),
        object_type: record.object_type.to_string(),
        changes: Value::Object(changes).to_string(),
        objects: objects_json,
        prev_hash,
        hash: String::new(),
    };
    row.hash = hash_of(&row);
    query(
        "INSERT INTO activity_stream (id, timestamp, actor_id, actor_snapshot, operation, object1, object2, \
         object_association, object_type, changes, objects, prev_hash, hash) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(row.id)
    .bind(&row.timestamp)
    .bind(row.actor_id)
    .bind(&row.actor_snapshot)
    .bind(&row.operation)
    .bind(&row.object1)
    .bind(&row.object2)
    .bind(&row.object_association)
    .bind(&row.object_type)
    .bind(&row.changes)
    .bind(&row.objects)
    .bind(&row.prev_hash)
    .bind(&row.hash)
    .execute(&mut *conn)
    .await?;
    // The head detects entries removed from the end of the chain.
    query(
        "INSERT INTO meta (key, value) VALUES ('activity_head', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    )
    .bind(format!("{}:{}", row.id, row.hash))
    .execute(&mut *conn)
    .await?;
    if objects.is_empty() {
        return Ok(());
    }
    let links_sql = format!(
        "INSERT INTO activity_stream_objects (entry_id, content_type, object_id) VALUES {} ON CONFLICT DO NOTHING",
        vec!["(?, ?, ?)"; objects.len()].join(", ")
    );
    let mut links = query(&links_sql);
    for (ct, id) in &objects {
        links = links.bind(row.id).bind(*ct).bind(*id);
    }
    links.execute(&mut *conn).await?;
    Ok(())
}

/// The first problem `credstore audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainBreak {
    /// The entry's content no longer matches its hash.
    Altered { id: i64 },
    /// The entry does not follow the one before it (removed or reordered entries).
    Unlinked { id: i64, previous_id: Option<i64> },
    /// The last entry is not the recorded head: entries were removed from the end.
    Truncated { head_id: i64, last_id: Option<i64> },
}

impl Store {
    /// Entries by id, in the given order.
    /// Writes an entry that goes with no other change (a lookup test).
    pub async fn record_activity(&self, record: &ActivityRecord) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        append(&mut tx, record, None).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Writes entries that go with no other change, in one transaction (the credentials
    /// of one render).
    pub async fn record_activities(&self, records: &[ActivityRecord]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        for record in records {
            append(&mut tx, record, None).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn activity_by_ids(&self, ids: &[i64]) -> StoreResult<Vec<ActivityRow>> {
        let rows: Vec<ActivityRow> = fetch_by_ids(self, SELECT, ids).await?;
        Ok(order_like(rows, ids, |r| r.id))
    }

    /// One entry.
    pub async fn activity(&self, id: i64) -> StoreResult<Option<ActivityRow>> {
        Ok(self.activity_by_ids(&[id]).await?.pop())
    }

    /// Compares the chain's last entry with the head recorded at the last append.
    async fn check_head(
        &self,
        last_id: Option<i64>,
        last_hash: &str,
    ) -> StoreResult<Option<ChainBreak>> {
        let Some(head) = self.meta("activity_head").await? else {
            return Ok(None);
        };
        let (id, hash) = head.split_once(':').unwrap_or(("0", ""));
        let head_id: i64 = id.parse().unwrap_or(0);
        if Some(head_id) != last_id || hash != last_hash {
            return Ok(Some(ChainBreak::Truncated { head_id, last_id }));
        }
        Ok(None)
    }

    /// Walks the whole chain; returns the number of entries checked and the first break.
    pub async fn verify_activity_chain(&self) -> StoreResult<(u64, Option<ChainBreak>)> {
        let mut expected_prev = GENESIS.to_string();
        let mut previous_id: Option<i64> = None;
        let mut checked = 0;
        loop {
            let batch: Vec<ActivityRow> =
                query_as(&format!("{SELECT} WHERE id > ? ORDER BY id LIMIT 1000"))
                    .bind(previous_id.unwrap_or(0))
                    .fetch_all(self.pool())
                    .await?;
            if batch.is_empty() {
                return Ok((checked, self.check_head(previous_id, &expected_prev).await?));
            }
            for row in batch {
                checked += 1;
                if row.prev_hash != expected_prev {
                    return Ok((
                        checked,
                        Some(ChainBreak::Unlinked {
                            id: row.id,
                            previous_id,
                        }),
                    ));
                }
                if hash_of(&row) != row.hash {
                    return Ok((checked, Some(ChainBreak::Altered { id: row.id })));
                }
                expected_prev = row.hash.clone();
                previous_id = Some(row.id);
            }
        }
    }
}
