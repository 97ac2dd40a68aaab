//! The two databases behind one `Store`: the embedded SQLite default and PostgreSQL for
//! several instances. Every statement is written once, in SQLite's dialect with `?`
//! placeholders; [`postgres_text`] is the one place where it becomes PostgreSQL's.

use super::sqlite::SqliteDb;
use sqlx::postgres::PgPool;

/// Something that exists once per database kind: a pool, a transaction, a connection.
#[derive(Debug, Clone)]
pub enum Backend<S, P> {
    Sqlite(S),
    Postgres(P),
}

/// The pools.
pub type Db = Backend<SqliteDb, PgPool>;

/// Rewrites a statement from the SQLite dialect the store is written in:
/// `?` placeholders become `$1, $2, …`; `REGEXP` becomes `~` (both take the same
/// patterns for what the filter parser admits, `(?i)` included); `CROSS JOIN … ON`,
/// SQLite's join-order hint, becomes a plain `JOIN`. Quoted literals are left alone.
pub fn postgres_text(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    let mut in_quote = false;
    let mut rest = sql;
    while let Some(c) = rest.chars().next() {
        if in_quote {
            in_quote = c != '\'';
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        }
        if let Some(tail) = rest.strip_prefix(" REGEXP ") {
            out.push_str(" ~ ");
            rest = tail;
            continue;
        }
        if let Some(tail) = rest.strip_prefix(" CROSS JOIN ") {
            out.push_str(" JOIN ");
            rest = tail;
            continue;
        }
        match c {
            '?' => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            '\'' => {
                in_quote = true;
                out.push(c);
            }
            _ => out.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::postgres_text;
    use proptest::prelude::*;

    #[test]
    fn numbers_placeholders_outside_literals() {
        assert_eq!(
            postgres_text("SELECT a FROM t WHERE b = ? AND c LIKE ? ESCAPE '\\' AND d = '?'"),
            "SELECT a FROM t WHERE b = $1 AND c LIKE $2 ESCAPE '\\' AND d = '?'"
        );
    }

    #[test]
    fn translates_regexp_and_join_hints() {
        assert_eq!(
            postgres_text("SELECT x FROM a CROSS JOIN b ON b.id = a.id WHERE a.n REGEXP ?"),
            "SELECT x FROM a JOIN b ON b.id = a.id WHERE a.n ~ $1"
        );
    }

    proptest! {
        #[test]
        fn one_numbered_placeholder_per_question_mark(parts in proptest::collection::vec("[a-z =,()]{0,8}", 0..12)) {
            let sql = parts.join("?");
            let converted = postgres_text(&sql);
            prop_assert!(!converted.contains('?'));
            for i in 1..parts.len() {
                let mark = format!("${i}");
                prop_assert!(converted.contains(&mark));
            }
        }
    }
}
