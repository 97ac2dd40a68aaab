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

/// The WHERE condition for a parsed filter on `base`.
pub fn filter_sql(base: &Resource, filter: &Filter) -> Sql {
    let mut parts: Vec<Sql> = filter.all.iter().map(condition_sql).collect();
    if !filter.any.is_empty() {
        parts.push(join(
            filter.any.iter().map(condition_sql).collect(),
            " OR ",
            "1=0",
        ));
    }
    for term in &filter.search {
        parts.push(search_sql(base, base.table, term));
    }
    and_all(parts)
}

fn search_sql(resource: &Resource, table: &str, term: &str) -> Sql {
    let pattern = format!("%{}%", escape_like(&term.to_lowercase()));
    let parts = resource
        .search_fields
        .iter()
        .filter_map(|name| resource.field(name))
        .map(|f| {
            Sql::with(
                format!("LOWER({table}.{}) LIKE ? ESCAPE '\\'", f.column),
                vec![Bind::Text(pattern.clone())],
            )
        })
        .collect();
    join(parts, " OR ", "1=0")
}

fn condition_sql(c: &Condition) -> Sql {
    let inner = predicate_sql(c);
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

/// Wraps a predicate on the path's final resource in `fk IN (SELECT id ...)` per hop.
fn wrap_hops(path: &FieldPath, mut inner: Sql) -> Sql {
    for hop in path.hops.iter().rev() {
        let mut outer = Sql::raw(format!(
            "{}.{} IN (SELECT {t}.id FROM {t} WHERE ",
            hop.resource.table,
            hop.field.column,
            t = hop.target.table
        ));
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

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn predicate_sql(c: &Condition) -> Sql {
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
    let like = |pattern: String, lower: bool| {
        if lower {
            Sql::with(
                format!("LOWER({text_col}) LIKE ? ESCAPE '\\'"),
                vec![Bind::Text(pattern.to_lowercase())],
            )
        } else {
            Sql::with(
                format!("{text_col} LIKE ? ESCAPE '\\'"),
                vec![Bind::Text(pattern)],
            )
        }
    };
    let e = escape_like(&text);
    match c.lookup {
        Lookup::Exact if first == Scalar::Null => Sql::raw(format!("{col} IS NULL")),
        Lookup::Exact => Sql::with(format!("{col} = ?"), vec![bind_of(&first)]),
        Lookup::IExact => Sql::with(format!("LOWER({col}) = LOWER(?)"), vec![bind_of(&first)]),
        Lookup::Contains => like(format!("%{e}%"), false),
        Lookup::IContains => like(format!("%{e}%"), true),
        Lookup::StartsWith => like(format!("{e}%"), false),
        Lookup::IStartsWith => like(format!("{e}%"), true),
        Lookup::EndsWith => like(format!("%{e}"), false),
        Lookup::IEndsWith => like(format!("%{e}"), true),
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
            let marks = vec!["?"; non_null.len()].join(", ");
            let mut sql = Sql::with(format!("{col} IN ({marks})"), non_null);
            if c.values.contains(&Scalar::Null) {
                sql = join(vec![sql, Sql::raw(format!("{col} IS NULL"))], " OR ", "1=0");
            }
            sql
        }
        Lookup::Search => match c.path.field.ty {
            FieldType::ForeignKey(key) => match crate::domain::resource::resource_by_key(key) {
                Some(target) => {
                    let mut sql = Sql::raw(format!(
                        "{col} IN (SELECT {t}.id FROM {t} WHERE ",
                        t = target.table
                    ));
                    sql.push(search_sql(target, target.table, &text));
                    sql.text.push(')');
                    sql
                }
                None => Sql::raw("1=0"),
            },
            _ => like(format!("%{e}%"), true),
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
        let sql = filter_sql(&CREDENTIAL, &f);
        assert!(!sql.text.contains("DROP"));
        assert_eq!(
            sql.binds,
            vec![Bind::Text("x'; DROP TABLE users;--".into())]
        );
    }

    #[test]
    fn related_paths_use_subqueries() {
        let f = parse_filter(&CREDENTIAL, &[("organization__name".into(), "o".into())]).unwrap();
        let sql = filter_sql(&CREDENTIAL, &f);
        assert!(sql.text.contains("credentials.organization_id IN (SELECT organizations.id FROM organizations WHERE organizations.name = ?)"));
    }
}
