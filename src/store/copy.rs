//! `credstore migrate-data`: copies every row of one database into another (SQLite to
//! PostgreSQL when a deployment outgrows one machine). Rows move as they are — password
//! hashes, token digests, ciphertexts bound to credential uids, the activity chain — so
//! the copy serves under the same master key and verifies with `audit verify`.

use super::backend::Backend;
use super::query::{query, query_scalar, Value};
use super::sql::marks;
use super::{Store, StoreError, StoreResult};
use sqlx::Row;

/// Every table, parents before children.
const TABLES: [&str; 17] = [
    "meta",
    "users",
    "organizations",
    "teams",
    "credential_types",
    "credentials",
    "credential_secrets",
    "roles",
    "role_parents",
    "role_members",
    "role_ancestors",
    "tokens",
    "sessions",
    "credential_input_sources",
    "organization_galaxy_credentials",
    "activity_stream",
    "activity_stream_objects",
];

/// PostgreSQL accepts at most 65,535 parameters per statement.
const MAX_PARAMS: usize = 60_000;

pub(crate) use super::value::Kind;

/// One table's row counts after the copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub table: &'static str,
    pub source: i64,
    pub target: i64,
}

/// Copies everything from `from` into `to`, which must hold no users yet (a database
/// that was only migrated); then compares the row counts of every table.
pub async fn copy_all(from: &Store, to: &Store) -> StoreResult<Vec<Copied>> {
    if !to.is_postgres() {
        return Err(StoreError::Unsupported(
            "migrate-data copies into PostgreSQL (--to postgres://...)",
        ));
    }
    let users: i64 = query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(to.pool())
        .await?;
    if users > 0 {
        return Err(StoreError::Unsupported(
            "the target database already holds data; migrate into a fresh database",
        ));
    }
    let mut tx = to.begin().await?;
    // A migrated database already has its system roles and their closure rows.
    for table in TABLES.iter().rev() {
        query(&format!("DELETE FROM {table}"))
            .execute(&mut tx)
            .await?;
    }
    for table in TABLES {
        let columns = target_columns(&mut tx, table).await?;
        let rows = read_rows(from, table, &columns).await?;
        insert_rows(&mut tx, table, &columns, rows).await?;
        // An `id` column is an identity: its counter moves past the copied ids.
        if columns.iter().any(|(name, _)| name == "id") {
            query(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM {table}"
            ))
            .execute(&mut tx)
            .await?;
        }
    }
    tx.commit().await?;
    // Until the planner has statistics of the copied rows it plans for empty tables:
    // creates ran at 5/s on 100,000 copied credentials instead of 300/s, until autovacuum
    // came round to analyze them.
    query("ANALYZE").execute(to.pool()).await?;
    let mut report = Vec::new();
    for table in TABLES {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        report.push(Copied {
            table,
            source: query_scalar(&sql).fetch_one(from.pool()).await?,
            target: query_scalar(&sql).fetch_one(to.pool()).await?,
        });
    }
    Ok(report)
}

/// The target's columns and how each travels, from the database's own catalogue.
async fn target_columns(tx: &mut super::WriteTx, table: &str) -> StoreResult<Vec<(String, Kind)>> {
    let rows: Vec<(String, String)> = super::query::query_as(
        "SELECT column_name::text, data_type::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(&mut *tx)
    .await?;
    rows.into_iter()
        .map(|(name, ty)| {
            let kind = match ty.as_str() {
                "bigint" | "integer" | "smallint" => Kind::Int,
                "boolean" => Kind::Bool,
                "bytea" => Kind::Bytes,
                "text" | "character varying" => Kind::Text,
                _ => return Err(StoreError::Corrupt(format!("{table}.{name} has type {ty}"))),
            };
            Ok((name, kind))
        })
        .collect()
}

/// Every row of `table` in the source, decoded column by column.
async fn read_rows(
    from: &Store,
    table: &str,
    columns: &[(String, Kind)],
) -> StoreResult<Vec<Vec<Value>>> {
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    let sql = format!("SELECT {} FROM {table}", names.join(", "));
    match from.pool() {
        Backend::Sqlite(db) => {
            let kinds: Vec<Kind> = columns.iter().map(|(_, k)| *k).collect();
            db.with(|conn| Ok(super::sqlite::read_values(conn, &sql, &kinds)?))
        }
        Backend::Postgres(pool) => {
            let rows = sqlx::query(&sql).fetch_all(pool).await?;
            rows.iter().map(|r| decode_row(r, columns)).collect()
        }
    }
}

fn decode_row<R: Row>(row: &R, columns: &[(String, Kind)]) -> StoreResult<Vec<Value>>
where
    usize: sqlx::ColumnIndex<R>,
    Option<i64>: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<bool>: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<Vec<u8>>: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    columns
        .iter()
        .enumerate()
        .map(|(i, (_, kind))| {
            Ok(match kind {
                Kind::Int => Value::Int(row.try_get(i)?),
                Kind::Text => Value::Text(row.try_get(i)?),
                Kind::Bool => Value::Bool(row.try_get(i)?),
                Kind::Bytes => Value::Bytes(row.try_get(i)?),
            })
        })
        .collect()
}

/// Multi-row inserts, as many rows per statement as the parameter limit allows.
async fn insert_rows(
    tx: &mut super::WriteTx,
    table: &str,
    columns: &[(String, Kind)],
    rows: Vec<Vec<Value>>,
) -> StoreResult<()> {
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    let tuple = format!("({})", marks(names.len()));
    let per_statement = (MAX_PARAMS / names.len().max(1)).max(1);
    for chunk in rows.chunks(per_statement) {
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES {}",
            names.join(", "),
            vec![tuple.as_str(); chunk.len()].join(", ")
        );
        let mut q = query(&sql);
        for row in chunk {
            for v in row {
                q = q.bind(v.clone());
            }
        }
        q.execute(&mut *tx).await?;
    }
    Ok(())
}
