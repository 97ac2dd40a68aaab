//! Fixed query-planner statistics for SQLite.
//!
//! SQLite plans each statement from `sqlite_stat1`. Statistics gathered from the data
//! describe the data *when they were gathered*: a server that started on a nearly empty
//! file and then grew through its own API kept plans made for a handful of rows, such as
//! scanning every role to find three by id, and its creates slowed from 545/s to 40/s
//! over 20,000 credentials (issue 24) until a restart re-analyzed the tables. So the
//! planner is given one fixed description instead, of a grown installation (the 100,000
//! credentials of `scripts/bench.sh`, with a long activity stream), and it is never
//! re-analyzed: plans no longer depend on the data's history. On a small database these
//! plans are index lookups as well, which cost no more there.
//!
//! PostgreSQL keeps its own statistics (autovacuum), which follow the data as it grows.

use rusqlite::Connection;

/// `sqlite_stat1` rows: table, index (empty for the table's row count), and the row count
/// followed by the average rows per distinct prefix of the index's columns.
const STATISTICS: &[(&str, &str, &str)] = &[
    ("activity_stream", "", "1000000"),
    (
        "activity_stream_objects",
        "activity_stream_objects",
        "2000000 3 1 1",
    ),
    (
        "activity_stream_objects",
        "activity_stream_objects_object",
        "2000000 200000 5",
    ),
    ("credential_secrets", "credential_secrets", "111668 2 1"),
    (
        "credential_secrets",
        "credential_secrets_key_version",
        "111668 111668",
    ),
    ("credential_types", "credential_types_organization", "31 31"),
    (
        "credential_types",
        "sqlite_autoindex_credential_types_1",
        "31 1 1",
    ),
    ("credentials", "credentials_modified", "100001 1"),
    ("credentials", "credentials_name", "100001 1"),
    (
        "credentials",
        "credentials_org_name_type_unique",
        "95000 950 1 1",
    ),
    ("credentials", "credentials_organization", "100001 991"),
    ("credentials", "credentials_type", "100001 11112"),
    ("credentials", "sqlite_autoindex_credentials_1", "100001 1"),
    (
        "credentials_name_trigram_config",
        "credentials_name_trigram_config",
        "1 1",
    ),
    ("credentials_name_trigram_data", "", "1561"),
    ("credentials_name_trigram_docsize", "", "100001"),
    (
        "credentials_name_trigram_idx",
        "credentials_name_trigram_idx",
        "1093 122 1",
    ),
    ("meta", "sqlite_autoindex_meta_1", "4 1"),
    ("organizations", "sqlite_autoindex_organizations_1", "100 1"),
    ("role_ancestors", "role_ancestors", "1369708 5 1"),
    ("role_ancestors", "role_ancestors_ancestor", "1369708 5 1"),
    ("role_members", "role_members", "27828 2 1"),
    ("role_members", "role_members_user", "27828 28"),
    ("role_parents", "role_parents", "432102 2 1"),
    ("role_parents", "role_parents_parent", "432102 3"),
    ("roles", "sqlite_autoindex_roles_1", "301905 75477 4 1"),
    ("teams", "sqlite_autoindex_teams_1", "200 2 1"),
    ("users", "sqlite_autoindex_users_1", "1001 1"),
];

/// Replaces whatever statistics the file has (an older version's `ANALYZE` included) with
/// [`STATISTICS`], and makes this connection plan with them. Connections opened later read
/// them when they load the schema.
pub fn install(conn: &Connection) -> rusqlite::Result<()> {
    // Creates sqlite_stat1 when missing, without reading any table.
    conn.execute_batch("ANALYZE sqlite_schema")?;
    let tx = conn.unchecked_transaction()?;
    tx.execute("DELETE FROM sqlite_stat1", [])?;
    {
        let mut insert =
            tx.prepare("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, NULLIF(?, ''), ?)")?;
        for (table, index, stat) in STATISTICS {
            insert.execute((table, index, stat))?;
        }
    }
    tx.commit()?;
    // Reloads the statistics into this connection's schema.
    conn.execute_batch("ANALYZE sqlite_schema")
}

#[cfg(test)]
mod tests {
    use super::super::{roles::ancestors_sql, Backend, Store};

    /// The plan SQLite chooses for `sql` on a fresh connection to the store's file.
    fn plan(store: &Store, sql: &str) -> String {
        let Backend::Sqlite(db) = &store.db else {
            unreachable!("the test opens SQLite");
        };
        db.drop_idle();
        db.with(|conn| {
            let mut explain = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
            let steps = explain.query_map([1, 2, 3], |row| row.get::<_, String>(3))?;
            steps.collect::<rusqlite::Result<Vec<_>>>()
        })
        .unwrap()
        .join("\n")
    }

    /// Statistics an `ANALYZE` of a nearly empty file would write: two roles.
    const EMPTY_FILE: &str = "DELETE FROM sqlite_stat1; \
         INSERT INTO sqlite_stat1 VALUES ('roles', 'sqlite_autoindex_roles_1', '2 2 2 1'); \
         ANALYZE sqlite_schema;";

    /// A server that started on an empty file planned the closure insert of every new
    /// object as a scan of all roles (a create's cost grew with the table); with the
    /// fixed statistics it finds them by id, on a fresh file as on one analyzed when empty.
    #[tokio::test]
    async fn a_fresh_database_plans_as_a_grown_one() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("plan.db").display());
        let store = Store::open(&url).await.unwrap();
        let closure = ancestors_sql(3);
        let fixed = plan(&store, &closure);
        assert!(fixed.contains("USING INTEGER PRIMARY KEY"), "{fixed}");
        assert!(!fixed.contains("SCAN roles"), "{fixed}");

        let Backend::Sqlite(db) = &store.db else {
            unreachable!()
        };
        db.with(|conn| conn.execute_batch(EMPTY_FILE)).unwrap();
        let stale = plan(&store, &closure);
        assert!(
            stale.contains("SCAN roles"),
            "the stale statistics mislead: {stale}"
        );

        store.install_planner_statistics().await.unwrap();
        assert_eq!(plan(&store, &closure), fixed);
    }
}
