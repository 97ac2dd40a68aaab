//! One statement API over both databases. It mirrors sqlx's (`query`, `query_as`,
//! `query_scalar`, `.bind`, `.fetch_*`, `.execute`) so the store reads like plain sqlx,
//! but values are collected first and bound when the target database is known: SQLite
//! text as written, PostgreSQL text through [`postgres_text`].

use super::backend::{postgres_text, Backend, Db};
use super::sql::Bind;
use super::sqlite::{FromSqlite, SqliteDb, SqliteTx};
use super::{Store, StoreError, StoreResult, WriteTx};
use rusqlite::{params_from_iter, Connection};
use sqlx::postgres::{PgConnection, PgPool, PgRow};
use sqlx::{Arguments, Postgres};
use std::marker::PhantomData;

pub use super::value::Value;

/// What `.bind` accepts.
pub trait Param {
    fn into_value(self) -> Value;
}

macro_rules! params {
    ($variant:ident: $($t:ty => |$v:ident| $conv:expr),* $(,)?) => {
        $(impl Param for $t {
            fn into_value(self) -> Value {
                let $v = self;
                Value::$variant($conv)
            }
        })*
    };
}

params!(Int: i64 => |v| Some(v), &i64 => |v| Some(*v), u32 => |v| Some(i64::from(v)),
    Option<i64> => |v| v);
params!(Text: String => |v| Some(v), &String => |v| Some(v.clone()), &str => |v| Some(v.to_owned()),
    &&str => |v| Some((*v).to_owned()), Option<String> => |v| v,
    Option<&str> => |v| v.map(str::to_owned), Option<&String> => |v| v.cloned(),
    &Option<String> => |v| v.clone());
params!(Bool: bool => |v| Some(v));
params!(Bytes: Vec<u8> => |v| Some(v), &Vec<u8> => |v| Some(v.clone()), &[u8] => |v| Some(v.to_vec()));

impl Param for Value {
    fn into_value(self) -> Value {
        self
    }
}

impl Param for &Bind {
    fn into_value(self) -> Value {
        match self {
            Bind::Int(i) => Value::Int(Some(*i)),
            Bind::Text(t) => Value::Text(Some(t.clone())),
            Bind::Bool(b) => Value::Bool(Some(*b)),
        }
    }
}

fn arguments<'q, DB: sqlx::Database>(values: Vec<Value>) -> <DB as sqlx::Database>::Arguments<'q>
where
    Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<bool>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<Vec<u8>>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let mut args = <DB as sqlx::Database>::Arguments::<'q>::default();
    for v in values {
        // Plain values of built-in types always encode; there is no error to report.
        let _ = match v {
            Value::Int(x) => args.add(x),
            Value::Text(x) => args.add(x),
            Value::Bool(x) => args.add(x),
            Value::Bytes(x) => args.add(x),
        };
    }
    args
}

/// Where a statement runs: a pool or the connection of a write transaction.
pub enum Target<'a> {
    Sqlite(&'a SqliteDb),
    /// `None` once the transaction has ended.
    SqliteTx(Option<&'a SqliteTx>),
    PgPool(&'a PgPool),
    PgConn(&'a mut PgConnection),
}

impl<'a> From<&'a Db> for Target<'a> {
    fn from(db: &'a Db) -> Self {
        match db {
            Backend::Sqlite(p) => Target::Sqlite(p),
            Backend::Postgres(p) => Target::PgPool(p),
        }
    }
}

impl<'a> From<&'a mut WriteTx> for Target<'a> {
    fn from(tx: &'a mut WriteTx) -> Self {
        tx.target()
    }
}

/// A row type both databases can decode.
pub trait Row: for<'r> sqlx::FromRow<'r, PgRow> + FromSqlite + Send + Unpin {}
impl<T> Row for T where T: for<'r> sqlx::FromRow<'r, PgRow> + FromSqlite + Send + Unpin {}

/// A statement with its values, not yet sent.
#[must_use]
pub struct Query<'q, O> {
    sql: &'q str,
    values: Vec<Value>,
    out: PhantomData<O>,
}

/// A statement whose rows are single values.
#[must_use]
pub struct ScalarQuery<'q, O>(Query<'q, (O,)>);

/// A statement run for its effect.
pub fn query(sql: &str) -> Query<'_, ()> {
    Query {
        sql,
        values: Vec::new(),
        out: PhantomData,
    }
}

/// A statement whose rows decode into `O`.
pub fn query_as<O: Row>(sql: &str) -> Query<'_, O> {
    Query {
        sql,
        values: Vec::new(),
        out: PhantomData,
    }
}

/// A statement whose rows are one column each.
pub fn query_scalar<O>(sql: &str) -> ScalarQuery<'_, O>
where
    (O,): Row,
{
    ScalarQuery(query_as(sql))
}

/// Runs `$run` with `$e` the executor and `$b` the sqlx statement when `$target` is
/// PostgreSQL, or `$sqlite` with the connection and the values when it is SQLite.
macro_rules! dispatch {
    ($self:ident, $target:expr, |$conn:ident, $vals:ident| $sqlite:expr,
     |$q:ident| $make:expr, |$b:ident, $e:ident| $run:expr) => {{
        let $vals = $self.values;
        let sql: &str = $self.sql;
        match $target.into() {
            Target::Sqlite(db) => db.with(|$conn| $sqlite(sql)),
            Target::SqliteTx(tx) => {
                let $conn = tx
                    .and_then(SqliteTx::connection)
                    .ok_or(StoreError::Task("the transaction has ended".into()))?;
                $sqlite(sql)
            }
            Target::PgPool($e) => {
                let text = postgres_text(sql);
                let $q: &str = &text;
                let $b = $make(arguments::<Postgres>($vals));
                Ok($run?)
            }
            Target::PgConn($e) => {
                let text = postgres_text(sql);
                let $q: &str = &text;
                let $b = $make(arguments::<Postgres>($vals));
                Ok($run?)
            }
        }
    }};
}

impl<'q, O> Query<'q, O> {
    /// Adds the next positional value.
    pub fn bind(mut self, value: impl Param) -> Self {
        self.values.push(value.into_value());
        self
    }

    /// Adds a fragment's values in order.
    pub fn bind_all(mut self, binds: &[Bind]) -> Self {
        self.values.extend(binds.iter().map(Param::into_value));
        self
    }

    /// Adds the ids of an `IN (…)` list ([`super::sql::marks`]) in order.
    pub fn bind_ids(mut self, ids: &[i64]) -> Self {
        self.values.extend(ids.iter().map(|id| id.into_value()));
        self
    }
}

impl Query<'_, ()> {
    /// Runs the statement; returns the number of rows it changed.
    pub async fn execute<'e>(self, target: impl Into<Target<'e>>) -> StoreResult<u64> {
        dispatch!(
            self,
            target,
            |conn, values| |sql| sqlite_execute(conn, sql, &values),
            |q| |a| sqlx::query_with(q, a),
            |s, e| s.execute(e).await.map(|r| r.rows_affected())
        )
    }

    /// Runs a write statement in a write transaction of its own. Every write goes through
    /// the store's writer slot: one waiting inside SQLite for the write lock instead would
    /// block its runtime worker while the group holding the lock may need that worker
    /// to commit.
    pub async fn execute_write(self, store: &Store) -> StoreResult<u64> {
        let mut tx = store.begin().await?;
        let done = self.execute(&mut tx).await?;
        tx.commit().await?;
        Ok(done)
    }
}

impl<O: Row> Query<'_, O> {
    /// Exactly one row.
    pub async fn fetch_one<'e>(self, target: impl Into<Target<'e>>) -> StoreResult<O> {
        dispatch!(
            self,
            target,
            |conn, values| |sql| {
                sqlite_first::<O>(conn, sql, &values).and_then(|row| {
                    row.ok_or(StoreError::Sqlite(rusqlite::Error::QueryReturnedNoRows))
                })
            },
            |q| |a| sqlx::query_as_with::<_, O, _>(q, a),
            |s, e| s.fetch_one(e).await
        )
    }

    /// At most one row.
    pub async fn fetch_optional<'e>(self, target: impl Into<Target<'e>>) -> StoreResult<Option<O>> {
        dispatch!(
            self,
            target,
            |conn, values| |sql| sqlite_first::<O>(conn, sql, &values),
            |q| |a| sqlx::query_as_with::<_, O, _>(q, a),
            |s, e| s.fetch_optional(e).await
        )
    }

    /// Every row.
    pub async fn fetch_all<'e>(self, target: impl Into<Target<'e>>) -> StoreResult<Vec<O>> {
        dispatch!(
            self,
            target,
            |conn, values| |sql| sqlite_all::<O>(conn, sql, &values),
            |q| |a| sqlx::query_as_with::<_, O, _>(q, a),
            |s, e| s.fetch_all(e).await
        )
    }
}

/// Steps through every row (a `PRAGMA` answers with one) and reports the changed rows.
fn sqlite_execute(conn: &Connection, sql: &str, values: &[Value]) -> StoreResult<u64> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(params_from_iter(values))?;
    while rows.next()?.is_some() {}
    Ok(conn.changes())
}

fn sqlite_first<O: FromSqlite>(
    conn: &Connection,
    sql: &str,
    values: &[Value],
) -> StoreResult<Option<O>> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(params_from_iter(values))?;
    Ok(rows.next()?.map(O::from_sqlite).transpose()?)
}

fn sqlite_all<O: FromSqlite>(
    conn: &Connection,
    sql: &str,
    values: &[Value],
) -> StoreResult<Vec<O>> {
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map(params_from_iter(values), O::from_sqlite)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

impl<'q, O> ScalarQuery<'q, O>
where
    (O,): Row,
{
    /// Adds the next positional value.
    pub fn bind(self, value: impl Param) -> Self {
        ScalarQuery(self.0.bind(value))
    }

    /// Adds a fragment's values in order.
    pub fn bind_all(self, binds: &[Bind]) -> Self {
        ScalarQuery(self.0.bind_all(binds))
    }

    /// Exactly one value.
    pub async fn fetch_one<'e>(self, target: impl Into<Target<'e>>) -> StoreResult<O> {
        Ok(self.0.fetch_one(target).await?.0)
    }

    /// At most one value.
    pub async fn fetch_optional<'e>(self, target: impl Into<Target<'e>>) -> StoreResult<Option<O>> {
        Ok(self.0.fetch_optional(target).await?.map(|(v,)| v))
    }

    /// Every value.
    pub async fn fetch_all<'e>(self, target: impl Into<Target<'e>>) -> StoreResult<Vec<O>> {
        Ok(self
            .0
            .fetch_all(target)
            .await?
            .into_iter()
            .map(|(v,)| v)
            .collect())
    }
}

/// Runs `select ... WHERE <table>.id IN (ids)` for any row type.
pub(crate) async fn fetch_by_ids<T>(store: &Store, select: &str, ids: &[i64]) -> StoreResult<Vec<T>>
where
    T: Row,
{
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let table_id = select
        .split_whitespace()
        .skip_while(|w| !w.eq_ignore_ascii_case("FROM"))
        .nth(1)
        .unwrap_or("id");
    let sql = format!(
        "{select} WHERE {table_id}.id IN ({})",
        super::sql::marks(ids.len())
    );
    query_as::<T>(&sql)
        .bind_ids(ids)
        .fetch_all(store.pool())
        .await
}

/// Reorders rows to follow `ids` (the order the list query chose).
pub(crate) fn order_like<T>(rows: Vec<T>, ids: &[i64], id_of: impl Fn(&T) -> i64) -> Vec<T> {
    let mut slots: Vec<Option<T>> = Vec::with_capacity(ids.len());
    slots.resize_with(ids.len(), || None);
    for row in rows {
        if let Some(pos) = ids.iter().position(|i| *i == id_of(&row)) {
            if let Some(slot) = slots.get_mut(pos) {
                *slot = Some(row);
            }
        }
    }
    slots.into_iter().flatten().collect()
}
