//! Translation of the filter AST into SQL text with `?` placeholders and a bind list.
//! Every value reaches the database as a bound parameter.

use crate::domain::filter::{Condition, FieldPath, Filter, Lookup, OrderKey, Scalar};
use crate::domain::resource::{FieldType, Resource};

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    Int(i64),
    Text(String),
    Bool(bool),
}

/// SQL text plus the values for its placeholders, in order.
#[derive(Debug, Clone, Default)]
pub struct Sql {
    pub text: String,
    pub binds: Vec<Bind>,
}

impl Sql {
    /// A fragment without parameters.
    pub fn raw(text: impl Into<String>) -> Self {
        Sql {
            text: text.into(),
            binds: Vec::new(),
        }
    }

    /// A fragment with parameters.
    pub fn with(text: impl Into<String>, binds: Vec<Bind>) -> Self {
        Sql {
            text: text.into(),
            binds,
        }
    }

    /// Appends another fragment.
    pub fn push(&mut self, other: Sql) {
        self.text.push_str(&other.text);
        self.binds.extend(other.binds);
    }
}

/// `?, ?, …` for `n` values: the parameter list of an `IN (…)`.
pub fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Joins fragments with `AND`; `1=1` when there are none.
pub fn and_all(parts: Vec<Sql>) -> Sql {
    join(parts, " AND ", "1=1")
}

fn join(parts: Vec<Sql>, sep: &str, empty: &str) -> Sql {
    if parts.is_empty() {
        return Sql::raw(empty);
    }
    let mut out = Sql::raw("(");
    for (i, p) in parts.into_iter().enumerate() {
        if i > 0 {
            out.text.push_str(sep);
        }
        out.push(p);
    }
    out.text.push(')');
    out
}

/// Which database the text is for. Everything but substring matching is written once;
/// matching differs because the fast case-insensitive form differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// Where in the text a substring lookup matches.
#[derive(Debug, Clone, Copy)]
enum Anchor {
    Anywhere,
    Start,
    End,
}

/// `column` matches `text` (case-insensitively when `fold_case`), anchored as asked.
/// SQLite: `LIKE` folds ASCII case itself (as SQLite's `LOWER` does), so the insensitive
/// form needs no per-row `LOWER()` (3× faster over 100,000 names); the sensitive form is
/// `GLOB`. PostgreSQL: `ILIKE` and `LIKE`.
fn text_match(dialect: Dialect, column: &str, text: &str, anchor: Anchor, fold_case: bool) -> Sql {
    let wrap = |s: String, any: &str| match anchor {
        Anchor::Anywhere => format!("{any}{s}{any}"),
        Anchor::Start => format!("{s}{any}"),
        Anchor::End => format!("{any}{s}"),
    };
    let like = |op: &str| {
        Sql::with(
            format!("{column} {op} ? ESCAPE '\\'"),
            vec![Bind::Text(wrap(escape_like(text), "%"))],
        )
    };
    match (dialect, fold_case) {
        (Dialect::Sqlite, true) => like("LIKE"),
        (Dialect::Sqlite, false) => Sql::with(
            format!("{column} GLOB ?"),
            vec![Bind::Text(wrap(escape_glob(text), "*"))],
        ),
        (Dialect::Postgres, true) => like("ILIKE"),
        (Dialect::Postgres, false) => like("LIKE"),
    }
}

/// The WHERE condition for a parsed filter on `base`.
pub fn filter_sql(dialect: Dialect, base: &Resource, filter: &Filter) -> Sql {
    let condition = |c: &Condition| condition_sql(dialect, c);
    let mut parts: Vec<Sql> = filter.all.iter().map(condition).collect();
    if !filter.any.is_empty() {
        parts.push(join(
            filter.any.iter().map(condition).collect(),
            " OR ",
            "1=0",
        ));
    }
    for term in &filter.search {
        parts.push(search_sql(dialect, base, base.table, term));
    }
    and_all(parts)
}

fn search_sql(dialect: Dialect, resource: &Resource, table: &str, term: &str) -> Sql {
    let columns: Vec<String> = resource
        .search_fields
        .iter()
        .filter_map(|name| resource.field(name))
        .map(|f| format!("{table}.{}", f.column))
        .collect();
    let parts = columns
        .iter()
        .map(|column| text_match(dialect, column, term, Anchor::Anywhere, true))
        .collect();
    let exact = join(parts, " OR ", "1=0");
    // One index holding every searched column narrows the whole OR at once.
    let index = columns.first().and_then(|c| trigram_index(dialect, c));
    let one_index = columns.iter().all(|c| trigram_index(dialect, c) == index);
    match columns.first() {
        Some(first) if one_index => match trigram_candidates(dialect, first, term) {
            Some(candidates) => narrowed(candidates, exact),
            None => exact,
        },
        _ => exact,
    }
}

/// Text columns with a trigram index: the column, SQLite's FTS5 index of it
/// (`migrations/sqlite/0010`) and PostgreSQL's trigram table (`migrations/postgres/0005`).
const TRIGRAM_INDEXED: [(&str, &str, &str); 1] = [(
    "credentials.name",
    "credentials_name_trigram",
    "credential_name_trigrams",
)];

/// The trigram index holding `column`.
fn trigram_index(dialect: Dialect, column: &str) -> Option<&'static str> {
    let (_, sqlite, postgres) = TRIGRAM_INDEXED.iter().find(|(c, _, _)| *c == column)?;
    Some(match dialect {
        Dialect::Sqlite => sqlite,
        Dialect::Postgres => postgres,
    })
}

/// The rows whose indexed text contains `text` (three characters or more), found through
/// the trigram index: a superset of a substring condition's rows, since the index folds
/// case at least as far as `LIKE`/`ILIKE` do (SQLite's FTS5 folds Unicode case, LIKE only
/// ASCII's; on PostgreSQL both sides fold ASCII, as the "C" collation's ILIKE does).
/// `None` when the column has no index or the text is too short for one.
fn trigram_candidates(dialect: Dialect, column: &str, text: &str) -> Option<Sql> {
    let index = trigram_index(dialect, column)?;
    if text.chars().count() < 3 {
        return None;
    }
    let table = column.split('.').next()?;
    Some(match dialect {
        Dialect::Sqlite => {
            // One FTS5 phrase: the text literally (quotes doubled), any other character plain.
            let phrase = format!("\"{}\"", text.replace('"', "\"\""));
            Sql::with(
                format!("{table}.id IN (SELECT rowid FROM {index} WHERE {index} MATCH ?)"),
                vec![Bind::Text(phrase)],
            )
        }
        Dialect::Postgres => {
            let grams = trigrams(text);
            Sql::with(
                format!(
                    "{table}.id IN (SELECT credential_id FROM {index} WHERE trigram IN ({}) \
                     GROUP BY credential_id HAVING COUNT(*) = {})",
                    vec!["?"; grams.len()].join(", "),
                    grams.len()
                ),
                grams.into_iter().map(Bind::Text).collect(),
            )
        }
    })
}

/// The distinct trigrams of `text`, ASCII-lowercased, as PostgreSQL's
/// `credential_name_trigrams_of` cuts a name.
fn trigrams(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().map(|c| c.to_ascii_lowercase()).collect();
    let mut grams: Vec<String> = chars.windows(3).map(|w| w.iter().collect()).collect();
    grams.sort();
    grams.dedup();
    grams
}

/// `candidates AND exact`: the index narrows, the exact condition decides.
fn narrowed(candidates: Sql, exact: Sql) -> Sql {
    let mut out = Sql::raw("(");
    out.push(candidates);
    out.text.push_str(" AND ");
    out.push(exact);
    out.text.push(')');
    out
}

fn condition_sql(dialect: Dialect, c: &Condition) -> Sql {
    let inner = predicate_sql(dialect, c);
    let wrapped = wrap_hops(&c.path, inner);
    if c.negate {
        let mut out = Sql::raw("NOT COALESCE(");
        out.push(wrapped);
        out.text.push_str(", FALSE)");
        out
    } else {
        wrapped
    }
}

/// Wraps a predicate on the path's final resource in `fk IN (SELECT id ...)` per hop
/// (`id IN (SELECT fk ...)` for a reverse relation).
fn wrap_hops(path: &FieldPath, mut inner: Sql) -> Sql {
    for hop in path.hops.iter().rev() {
        let (from, to, t) = (hop.resource.table, hop.target.table, hop.field.column);
        let mut outer = Sql::raw(match hop.field.ty {
            FieldType::Reverse(_) => format!("{from}.id IN (SELECT {to}.{t} FROM {to} WHERE "),
            _ => format!("{from}.{t} IN (SELECT {to}.id FROM {to} WHERE "),
        });
        outer.push(inner);
        outer.text.push(')');
        inner = outer;
    }
    inner
}

fn bind_of(s: &Scalar) -> Bind {
    match s {
        Scalar::Null => Bind::Text(String::new()),
        Scalar::Bool(b) => Bind::Bool(*b),
        Scalar::Int(i) => Bind::Int(*i),
        Scalar::Text(t) => Bind::Text(t.clone()),
    }
}

/// A GLOB pattern matching `s` literally: each metacharacter in its own bracket.
fn escape_glob(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '*' | '?' | '[' => {
                out.push('[');
                out.push(c);
                out.push(']');
            }
            _ => out.push(c),
        }
    }
    out
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn predicate_sql(dialect: Dialect, c: &Condition) -> Sql {
    let col = format!("{}.{}", c.path.resource.table, c.path.field.column);
    // Text lookups on numbers and booleans match their text form, on both databases.
    let text_col = match c.path.field.ty {
        FieldType::Text | FieldType::DateTime | FieldType::Json => col.clone(),
        _ => format!("CAST({col} AS TEXT)"),
    };
    let first = c.values.first().cloned().unwrap_or(Scalar::Null);
    let text = match &first {
        Scalar::Text(t) => t.clone(),
        _ => String::new(),
    };
    let matching = |anchor: Anchor, fold_case: bool| {
        let exact = text_match(dialect, &text_col, &text, anchor, fold_case);
        match trigram_candidates(dialect, &text_col, &text) {
            Some(candidates) => narrowed(candidates, exact),
            None => exact,
        }
    };
    match c.lookup {
        Lookup::Exact if first == Scalar::Null => Sql::raw(format!("{col} IS NULL")),
        Lookup::Exact => Sql::with(format!("{col} = ?"), vec![bind_of(&first)]),
        Lookup::IExact => Sql::with(format!("LOWER({col}) = LOWER(?)"), vec![bind_of(&first)]),
        Lookup::Contains => matching(Anchor::Anywhere, false),
        Lookup::IContains => matching(Anchor::Anywhere, true),
        Lookup::StartsWith => matching(Anchor::Start, false),
        Lookup::IStartsWith => matching(Anchor::Start, true),
        Lookup::EndsWith => matching(Anchor::End, false),
        Lookup::IEndsWith => matching(Anchor::End, true),
        // Ordering against null matches nothing, as in SQL.
        Lookup::Gt | Lookup::Gte | Lookup::Lt | Lookup::Lte if first == Scalar::Null => {
            Sql::raw("1=0")
        }
        Lookup::Gt => Sql::with(format!("{col} > ?"), vec![bind_of(&first)]),
        Lookup::Gte => Sql::with(format!("{col} >= ?"), vec![bind_of(&first)]),
        Lookup::Lt => Sql::with(format!("{col} < ?"), vec![bind_of(&first)]),
        Lookup::Lte => Sql::with(format!("{col} <= ?"), vec![bind_of(&first)]),
        Lookup::IsNull if first == Scalar::Bool(true) => Sql::raw(format!("{col} IS NULL")),
        Lookup::IsNull => Sql::raw(format!("{col} IS NOT NULL")),
        Lookup::In => {
            let non_null: Vec<Bind> = c
                .values
                .iter()
                .filter(|v| **v != Scalar::Null)
                .map(bind_of)
                .collect();
            let mut sql = Sql::with(format!("{col} IN ({})", marks(non_null.len())), non_null);
            if c.values.contains(&Scalar::Null) {
                sql = join(vec![sql, Sql::raw(format!("{col} IS NULL"))], " OR ", "1=0");
            }
            sql
        }
        Lookup::Search => match c.path.field.ty {
            FieldType::ForeignKey(key) | FieldType::Reverse(key) => {
                match crate::domain::resource::resource_by_key(key) {
                    Some(target) => {
                        let mut sql = Sql::raw(match c.path.field.ty {
                            FieldType::Reverse(_) => format!(
                                "{}.id IN (SELECT {t}.{} FROM {t} WHERE ",
                                c.path.resource.table,
                                c.path.field.column,
                                t = target.table
                            ),
                            _ => {
                                format!("{col} IN (SELECT {t}.id FROM {t} WHERE ", t = target.table)
                            }
                        });
                        sql.push(search_sql(dialect, target, target.table, &text));
                        sql.text.push(')');
                        sql
                    }
                    None => Sql::raw("1=0"),
                }
            }
            _ => matching(Anchor::Anywhere, true),
        },
        Lookup::Regex => Sql::with(format!("{text_col} REGEXP ?"), vec![Bind::Text(text)]),
        Lookup::IRegex => Sql::with(
            format!("{text_col} REGEXP ?"),
            vec![Bind::Text(format!("(?i){text}"))],
        ),
    }
}

/// `ORDER BY` text for the keys, with `id` appended so pages are stable.
pub fn order_sql(base: &Resource, keys: &[OrderKey]) -> String {
    let mut parts: Vec<String> = keys
        .iter()
        .map(|k| {
            // PostgreSQL's (and so AWX's) NULL placement, on every backend.
            let dir = if k.descending {
                "DESC NULLS FIRST"
            } else {
                "ASC NULLS LAST"
            };
            format!("{} {dir}", order_expr(base, &k.path))
        })
        .collect();
    parts.push(format!("{}.id ASC", base.table));
    parts.join(", ")
}

/// A correlated scalar subquery per hop, so related paths order without joins.
fn order_expr(base: &Resource, path: &FieldPath) -> String {
    let mut expr = format!("{}.{}", path.resource.table, path.field.column);
    for hop in path.hops.iter().rev() {
        expr = format!(
            "(SELECT {expr} FROM {t} WHERE {t}.id = {}.{})",
            hop.resource.table,
            hop.field.column,
            t = hop.target.table
        );
    }
    let _ = base;
    expr
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::filter::parse_filter;
    use crate::domain::resource::CREDENTIAL;

    #[test]
    fn values_are_bound_not_formatted() {
        let f = parse_filter(
            &CREDENTIAL,
            &[("name".into(), "x'; DROP TABLE users;--".into())],
        )
        .unwrap();
        let sql = filter_sql(Dialect::Sqlite, &CREDENTIAL, &f);
        assert!(!sql.text.contains("DROP"));
        assert_eq!(
            sql.binds,
            vec![Bind::Text("x'; DROP TABLE users;--".into())]
        );
    }

    #[test]
    fn substring_lookups_match_metacharacters_literally_on_both_databases() {
        let f = parse_filter(&CREDENTIAL, &[("name__contains".into(), "a*?[b%_".into())]).unwrap();
        let sqlite = filter_sql(Dialect::Sqlite, &CREDENTIAL, &f);
        assert!(
            sqlite.text.contains("credentials.name GLOB ?"),
            "{}",
            sqlite.text
        );
        assert_eq!(
            sqlite.binds,
            vec![
                Bind::Text("\"a*?[b%_\"".into()),
                Bind::Text("*a[*][?][[]b%_*".into())
            ]
        );
        let postgres = filter_sql(Dialect::Postgres, &CREDENTIAL, &f);
        assert!(
            postgres.text.contains("credentials.name LIKE ? ESCAPE"),
            "{}",
            postgres.text
        );
        assert_eq!(
            postgres.binds.last(),
            Some(&Bind::Text("%a*?[b\\%\\_%".into()))
        );
        let f = parse_filter(&CREDENTIAL, &[("name__icontains".into(), "Prod".into())]).unwrap();
        assert!(filter_sql(Dialect::Sqlite, &CREDENTIAL, &f)
            .text
            .contains("credentials.name LIKE ?"));
        assert!(filter_sql(Dialect::Postgres, &CREDENTIAL, &f)
            .text
            .contains("credentials.name ILIKE ?"));
    }

    #[test]
    fn the_trigram_index_narrows_long_enough_substrings_on_names_only() {
        let sql = |dialect, pairs: &[(&str, &str)]| {
            let pairs: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            filter_sql(
                dialect,
                &CREDENTIAL,
                &parse_filter(&CREDENTIAL, &pairs).unwrap(),
            )
        };
        let narrowed = sql(Dialect::Sqlite, &[("name__icontains", "pr\"od")]);
        assert!(
            narrowed.text.contains("(credentials.id IN (SELECT rowid FROM credentials_name_trigram WHERE credentials_name_trigram MATCH ?) AND credentials.name LIKE ?"),
            "{}",
            narrowed.text
        );
        assert_eq!(narrowed.binds[0], Bind::Text("\"pr\"\"od\"".into()));
        let narrowed = sql(Dialect::Postgres, &[("name__icontains", "ProdPro")]);
        assert!(
            narrowed.text.contains("(credentials.id IN (SELECT credential_id FROM credential_name_trigrams WHERE trigram IN (?, ?, ?, ?) GROUP BY credential_id HAVING COUNT(*) = 4) AND credentials.name ILIKE ?"),
            "{}",
            narrowed.text
        );
        let grams: Vec<Bind> = ["dpr", "odp", "pro", "rod"]
            .into_iter()
            .map(|g| Bind::Text(g.into()))
            .collect();
        assert_eq!(narrowed.binds[..4], grams[..]);
        for (dialect, pairs) in [
            (Dialect::Sqlite, &[("name__icontains", "pr")][..]),
            // `search=` also looks in descriptions, which have no index.
            (Dialect::Sqlite, &[("search", "prod")][..]),
            (Dialect::Sqlite, &[("description__icontains", "prod")][..]),
            (
                Dialect::Sqlite,
                &[("organization__name__icontains", "prod")][..],
            ),
            (Dialect::Postgres, &[("name__icontains", "pr")][..]),
            (Dialect::Postgres, &[("search", "prod")][..]),
        ] {
            let text = sql(dialect, pairs).text;
            assert!(!text.contains("trigram"), "{pairs:?}: {text}");
        }
    }

    #[test]
    fn related_paths_use_subqueries() {
        let f = parse_filter(&CREDENTIAL, &[("organization__name".into(), "o".into())]).unwrap();
        let sql = filter_sql(Dialect::Sqlite, &CREDENTIAL, &f);
        assert!(sql.text.contains("credentials.organization_id IN (SELECT organizations.id FROM organizations WHERE organizations.name = ?)"));
    }
}
