//! The AWX query language as an AST: `?<path>[__<lookup>]=<value>` with `or__`, `not__`
//! and `chain__` prefixes, `search=`, and `order_by=`. Parsed once against a resource's
//! field table; the store translates it to SQL with bound parameters.

use super::errors::DomainError;
use super::resource::{resource_by_key, FieldSpec, FieldType, Resource};

/// Query parameters that are never field filters.
pub const RESERVED: [&str; 13] = [
    "page",
    "page_size",
    "format",
    "order",
    "order_by",
    "search",
    "type",
    "host_filter",
    "count_disabled",
    "no_truncate",
    "limit",
    "validate",
    "role_level",
];

/// The comparison a condition applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Exact,
    IExact,
    Contains,
    IContains,
    StartsWith,
    IStartsWith,
    EndsWith,
    IEndsWith,
    Regex,
    IRegex,
    Gt,
    Gte,
    Lt,
    Lte,
    In,
    IsNull,
    /// `<relation>__search=`: a substring of any text field of the related object.
    Search,
}

/// Every lookup suffix a filter may end in (`name__icontains=`), as the API description
/// lists them; `Lookup::parse` accepts each (a test holds the two together).
pub const LOOKUP_NAMES: [&str; 17] = [
    "exact",
    "iexact",
    "contains",
    "icontains",
    "startswith",
    "istartswith",
    "endswith",
    "iendswith",
    "regex",
    "iregex",
    "gt",
    "gte",
    "lt",
    "lte",
    "in",
    "isnull",
    "search",
];

impl Lookup {
    fn parse(s: &str) -> Option<Lookup> {
        use Lookup::*;
        Some(match s {
            "exact" => Exact,
            "iexact" => IExact,
            "contains" => Contains,
            "icontains" => IContains,
            "startswith" => StartsWith,
            "istartswith" => IStartsWith,
            "endswith" => EndsWith,
            "iendswith" => IEndsWith,
            "regex" => Regex,
            "iregex" => IRegex,
            "gt" => Gt,
            "gte" => Gte,
            "lt" => Lt,
            "lte" => Lte,
            "in" => In,
            "isnull" => IsNull,
            "search" => Search,
            _ => return None,
        })
    }
}

/// A coerced filter value.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Text(String),
}

/// One step through a foreign key: from `resource`, via `field`, to the target.
#[derive(Debug, Clone, Copy)]
pub struct Hop {
    pub resource: &'static Resource,
    pub field: &'static FieldSpec,
    pub target: &'static Resource,
}

/// A resolved field path: the foreign keys walked, then the final field.
#[derive(Debug, Clone)]
pub struct FieldPath {
    pub hops: Vec<Hop>,
    pub resource: &'static Resource,
    pub field: &'static FieldSpec,
}

/// One condition of the filter.
#[derive(Debug, Clone)]
pub struct Condition {
    pub path: FieldPath,
    pub lookup: Lookup,
    pub values: Vec<Scalar>,
    pub negate: bool,
}

/// The parsed filter: `all` are AND-ed, `any` form one OR group, each `search` term must
/// match one of the resource's search fields.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub all: Vec<Condition>,
    pub any: Vec<Condition>,
    pub search: Vec<String>,
}

/// One ordering key.
#[derive(Debug, Clone)]
pub struct OrderKey {
    pub path: FieldPath,
    pub descending: bool,
}

/// The most conditions (filter parameters and search terms) one request may give. Each
/// becomes part of one SQL expression, and databases cap an expression's size (SQLite
/// answered 1,000 of them with "Expression tree is too large"); no client needs more.
pub const MAX_CONDITIONS: usize = 100;

/// Parses every non-reserved `(key, value)` pair into a filter for `base`.
pub fn parse_filter(
    base: &'static Resource,
    pairs: &[(String, String)],
) -> Result<Filter, DomainError> {
    let mut filter = Filter::default();
    let too_many = || {
        DomainError::detail(format!(
            "Too many filter conditions: at most {MAX_CONDITIONS} are allowed."
        ))
    };
    if pairs.len() > MAX_CONDITIONS {
        return Err(too_many());
    }
    for (key, value) in pairs {
        if key == "search" {
            filter.search.extend(search_terms(value));
            continue;
        }
        if RESERVED.contains(&key.as_str()) {
            continue;
        }
        let (rest, or, negate) = strip_prefixes(key);
        let condition = parse_condition(base, rest, value, negate)?;
        if or {
            filter.any.push(condition);
        } else {
            filter.all.push(condition);
        }
    }
    if filter.search.len() + filter.all.len() + filter.any.len() > MAX_CONDITIONS {
        return Err(too_many());
    }
    Ok(filter)
}

fn strip_prefixes(key: &str) -> (&str, bool, bool) {
    let mut rest = key;
    let (mut or, mut negate) = (false, false);
    loop {
        if let Some(r) = rest.strip_prefix("or__") {
            or = true;
            rest = r;
        } else if let Some(r) = rest.strip_prefix("not__") {
            negate = !negate;
            rest = r;
        } else if let Some(r) = rest.strip_prefix("chain__") {
            rest = r;
        } else {
            return (rest, or, negate);
        }
    }
}

/// Splits a `search=` value into terms: whitespace or commas, double-quoted phrases kept.
pub fn search_terms(value: &str) -> Vec<String> {
    let mut terms = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in value.chars() {
        match c {
            '"' => quoted = !quoted,
            c if !quoted && (c.is_whitespace() || c == ',') => {
                if !current.is_empty() {
                    terms.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        terms.push(current);
    }
    terms
}

fn parse_condition(
    base: &'static Resource,
    key: &str,
    value: &str,
    negate: bool,
) -> Result<Condition, DomainError> {
    if key.is_empty() {
        return Err(DomainError::detail("Query string field name not provided."));
    }
    if !key.is_ascii() {
        return Err(DomainError::detail(format!(
            "{key} is not an allowed field name. Must be ascii encodable."
        )));
    }
    let (key, value) = without_int_suffix(key, value)?;
    let mut parts: Vec<&str> = key.split("__").collect();
    let lookup = match parts.last().and_then(|l| Lookup::parse(l)) {
        Some(l) if parts.len() > 1 => {
            parts.pop();
            l
        }
        _ => Lookup::Exact,
    };
    let path = through_reverse(resolve_path(base, &parts)?, lookup)?;
    let values = coerce_values(&path, lookup, &value)?;
    Ok(Condition {
        path,
        lookup,
        values,
        negate,
    })
}

/// A condition on a reverse relation itself (`input_sources=5`) is one on the related
/// rows' ids; `__search` stays on the relation and searches the related rows.
fn through_reverse(mut path: FieldPath, lookup: Lookup) -> Result<FieldPath, DomainError> {
    let FieldType::Reverse(key) = path.field.ty else {
        return Ok(path);
    };
    if lookup == Lookup::Search {
        return Ok(path);
    }
    let target = resource_by_key(key).ok_or_else(|| {
        DomainError::detail(format!("No related model for field {}.", path.field.name))
    })?;
    path.hops.push(Hop {
        resource: path.resource,
        field: path.field,
        target,
    });
    path.resource = target;
    path.field = field_of(target, "id")?;
    Ok(path)
}

/// AWX's `__int` suffix: the key without it, and the value read as an integer first.
fn without_int_suffix<'a>(
    key: &'a str,
    value: &'a str,
) -> Result<(&'a str, std::borrow::Cow<'a, str>), DomainError> {
    match key.strip_suffix("__int") {
        Some(stripped) if !stripped.is_empty() => Ok((stripped, int_value(value)?.into())),
        _ => Ok((key, value.into())),
    }
}

/// The value as Python's `int()` reads it (surrounding spaces, a sign, `_` between
/// digits), written back plainly; anything else is Python's message.
fn int_value(value: &str) -> Result<String, DomainError> {
    let trimmed = value.trim();
    let digits = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
    let well_placed = !digits.starts_with('_') && !digits.ends_with('_') && !digits.contains("__");
    let cleaned: String = trimmed.chars().filter(|c| *c != '_').collect();
    match cleaned.parse::<i64>() {
        Ok(n) if well_placed => Ok(n.to_string()),
        _ => Err(DomainError::detail(format!(
            "invalid literal for int() with base 10: {}",
            super::python::py_str_repr(value)
        ))),
    }
}

/// Walks `a__b__c` through foreign keys; refuses unknown, forbidden and looping paths.
pub fn resolve_path(base: &'static Resource, parts: &[&str]) -> Result<FieldPath, DomainError> {
    let mut resource = base;
    let mut hops = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    let (last, walk) = parts
        .split_last()
        .ok_or_else(|| DomainError::detail("Query string field name not provided."))?;
    for part in walk {
        let field = field_of(resource, part)?;
        if seen.contains(part) {
            return Err(DomainError::detail(format!(
                "Loops not allowed in filters, detected on field {part}."
            )));
        }
        seen.push(part);
        let (FieldType::ForeignKey(target_key) | FieldType::Reverse(target_key)) = field.ty else {
            return Err(DomainError::detail(format!(
                "No related model for field {part}."
            )));
        };
        let target = resource_by_key(target_key)
            .ok_or_else(|| DomainError::detail(format!("No related model for field {part}.")))?;
        hops.push(Hop {
            resource,
            field,
            target,
        });
        resource = target;
    }
    let field = field_of(resource, last)?;
    Ok(FieldPath {
        hops,
        resource,
        field,
    })
}

fn field_of(resource: &'static Resource, name: &str) -> Result<&'static FieldSpec, DomainError> {
    let field = resource.field(name).ok_or_else(|| {
        DomainError::detail(format!("{} has no field named '{name}'", resource.model))
    })?;
    if field.forbidden {
        return Err(DomainError::forbidden(format!(
            "Filtering on field {} is not allowed.",
            field.name
        )));
    }
    Ok(field)
}

fn coerce_values(
    path: &FieldPath,
    lookup: Lookup,
    value: &str,
) -> Result<Vec<Scalar>, DomainError> {
    match lookup {
        Lookup::IsNull => Ok(vec![Scalar::Bool(parse_bool(value)?)]),
        Lookup::In => {
            let items: Vec<&str> = value.split(',').filter(|s| !s.is_empty()).collect();
            if items.is_empty() {
                return Err(DomainError::detail("cannot provide empty value for __in"));
            }
            items.into_iter().map(|v| coerce(path.field, v)).collect()
        }
        Lookup::Search
        | Lookup::Contains
        | Lookup::IContains
        | Lookup::StartsWith
        | Lookup::IStartsWith
        | Lookup::EndsWith
        | Lookup::IEndsWith
        | Lookup::Regex
        | Lookup::IRegex => {
            if matches!(lookup, Lookup::Regex | Lookup::IRegex) {
                check_regex(value)?;
            }
            if matches!(
                path.field.ty,
                FieldType::ForeignKey(_) | FieldType::Reverse(_)
            ) && lookup != Lookup::Search
            {
                return Err(DomainError::detail(format!(
                    "Related Field got invalid lookup: {}",
                    lookup_name(lookup)
                )));
            }
            Ok(vec![Scalar::Text(value.to_string())])
        }
        Lookup::IExact if !matches!(path.field.ty, FieldType::Text | FieldType::Json) => {
            Err(DomainError::detail(format!(
                "{} is not a text field and cannot be filtered by case-insensitive search",
                path.field.name
            )))
        }
        _ => Ok(vec![coerce(path.field, value)?]),
    }
}

fn lookup_name(l: Lookup) -> &'static str {
    match l {
        Lookup::Contains => "contains",
        Lookup::IContains => "icontains",
        Lookup::StartsWith => "startswith",
        Lookup::IStartsWith => "istartswith",
        Lookup::EndsWith => "endswith",
        Lookup::IEndsWith => "iendswith",
        _ => "exact",
    }
}

fn coerce(field: &FieldSpec, value: &str) -> Result<Scalar, DomainError> {
    match field.ty {
        FieldType::Boolean => Ok(Scalar::Bool(parse_bool(value)?)),
        FieldType::ForeignKey(_) | FieldType::Reverse(_) => {
            match value.to_ascii_lowercase().as_str() {
                "null" | "none" => Ok(Scalar::Null),
                _ => value.trim().parse().map(Scalar::Int).map_err(|_| {
                    DomainError::detail(format!("Invalid {} id: {value}", field.name))
                }),
            }
        }
        FieldType::Id => value.trim().parse().map(Scalar::Int).map_err(|_| {
            DomainError::detail(format!(
                "Field '{}' expected a number but got '{value}'.",
                field.name
            ))
        }),
        FieldType::Text | FieldType::DateTime | FieldType::Json | FieldType::Computed => {
            Ok(Scalar::Text(value.to_string()))
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().last().unwrap_or(s).trim()
}

/// A pattern is refused here, as a 400, when it does not parse or when it compiles to
/// more than the matcher's size limit (`(a{1000}){1000}`): the database would otherwise
/// fail on it at query time.
fn check_regex(value: &str) -> Result<(), DomainError> {
    let invalid = |e: &dyn std::fmt::Display| {
        DomainError::detail(format!(
            "Invalid regular expression: {}",
            first_line(&e.to_string())
        ))
    };
    regex_syntax::Parser::new()
        .parse(value)
        .map_err(|e| invalid(&e))?;
    regex::RegexBuilder::new(value)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map(drop)
        .map_err(|e| invalid(&e))
}

/// The compiled size a filter's pattern may reach: the regex crate's default, which the
/// SQLite `REGEXP` function compiles with.
const REGEX_SIZE_LIMIT: usize = 10 * (1 << 20);

/// AWX's boolean coercion for filters.
pub fn parse_bool(value: &str) -> Result<bool, DomainError> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "t" | "yes" | "on" => Ok(true),
        "false" | "0" | "f" | "no" | "off" => Ok(false),
        _ => Err(DomainError::detail(format!(
            "Unable to convert \"{value}\" to boolean"
        ))),
    }
}

/// Parses `order_by=a,-b__c`; an empty value means the resource default.
pub fn parse_order(
    base: &'static Resource,
    value: Option<&str>,
) -> Result<Vec<OrderKey>, DomainError> {
    let keys: Vec<String> = match value.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => v
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        None => base.default_order.iter().map(|s| s.to_string()).collect(),
    };
    keys.iter()
        .map(|key| {
            let (name, descending) = match key.strip_prefix('-') {
                Some(rest) => (rest, true),
                None => (key.as_str(), false),
            };
            let parts: Vec<&str> = name.split("__").collect();
            let path = resolve_path(base, &parts)?;
            let reverse = |f: &FieldSpec| matches!(f.ty, FieldType::Reverse(_));
            if reverse(path.field) || path.hops.iter().any(|h| reverse(h.field)) {
                return Err(DomainError::detail(format!(
                    "Cannot order by {name}: it names many rows."
                )));
            }
            expand_related_order(path, descending)
        })
        .collect::<Result<Vec<Vec<OrderKey>>, DomainError>>()
        .map(|keys| keys.into_iter().flatten().collect())
}

/// Ordering by a foreign key orders by the related model's own default ordering, as
/// Django does (`order_by=credential_type` sorts by the type's kind, then name).
fn expand_related_order(path: FieldPath, descending: bool) -> Result<Vec<OrderKey>, DomainError> {
    let FieldType::ForeignKey(key) = path.field.ty else {
        return Ok(vec![OrderKey { path, descending }]);
    };
    let Some(target) = resource_by_key(key) else {
        return Ok(vec![OrderKey { path, descending }]);
    };
    let mut keys = Vec::new();
    for name in target.default_order {
        let Some(field) = target.field(name) else {
            continue;
        };
        if matches!(field.ty, FieldType::ForeignKey(_)) {
            continue;
        }
        let mut hops = path.hops.clone();
        hops.push(Hop {
            resource: path.resource,
            field: path.field,
            target,
        });
        keys.push(OrderKey {
            path: FieldPath {
                hops,
                resource: target,
                field,
            },
            descending,
        });
    }
    keys.push(OrderKey { path, descending });
    Ok(keys)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_listed_lookup_parses() {
        for name in super::LOOKUP_NAMES {
            assert!(super::Lookup::parse(name).is_some(), "{name}");
        }
    }

    use super::*;
    use crate::domain::resource::CREDENTIAL;
    use proptest::prelude::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn detail(e: DomainError) -> String {
        match e {
            DomainError::BadRequest(v) => v.as_str().unwrap_or_default().to_string(),
            DomainError::Forbidden(Some(m)) => format!("403 {m}"),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn lookups_and_prefixes() {
        let f = parse_filter(
            &CREDENTIAL,
            &pairs(&[
                ("name__icontains", "x"),
                ("or__id", "3"),
                ("not__organization__name", "o"),
                ("page", "2"),
                ("search", "a \"b c\",d"),
            ]),
        )
        .unwrap();
        assert_eq!(f.all.len(), 2);
        assert_eq!(f.any.len(), 1);
        assert!(f.all[1].negate);
        assert_eq!(f.all[1].path.hops.len(), 1);
        assert_eq!(f.search, vec!["a", "b c", "d"]);
    }

    #[test]
    fn the_int_suffix_reads_the_value_as_an_integer() {
        let f = parse_filter(
            &CREDENTIAL,
            &pairs(&[("id__int", " +1_0 "), ("organization__gt__int", "-3")]),
        )
        .unwrap();
        assert_eq!(f.all[0].values, vec![Scalar::Int(10)]);
        assert_eq!(f.all[1].lookup, Lookup::Gt);
        assert_eq!(f.all[1].values, vec![Scalar::Int(-3)]);
        for bad in ["x", "1.5", "_1", "1__0", ""] {
            let e = detail(parse_filter(&CREDENTIAL, &pairs(&[("id__int", bad)])).unwrap_err());
            assert!(
                e.starts_with("invalid literal for int() with base 10: "),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn awx_error_messages() {
        let e =
            |k: &str, v: &str| detail(parse_filter(&CREDENTIAL, &pairs(&[(k, v)])).unwrap_err());
        assert_eq!(
            e("nosuchfield", "1"),
            "Credential has no field named 'nosuchfield'"
        );
        assert_eq!(e("kind", "ssh"), "Credential has no field named 'kind'");
        assert_eq!(
            e("managed", "maybe"),
            "Unable to convert \"maybe\" to boolean"
        );
        assert_eq!(e("organization", "abc"), "Invalid organization id: abc");
        assert_eq!(e("id__in", ""), "cannot provide empty value for __in");
        assert_eq!(
            e("inputs__icontains", "x"),
            "403 Filtering on field inputs is not allowed."
        );
        assert_eq!(e("name__foo", "x"), "No related model for field name.");
    }

    #[test]
    fn null_foreign_key_and_booleans() {
        let f = parse_filter(
            &CREDENTIAL,
            &pairs(&[("organization", "null"), ("managed", "True")]),
        )
        .unwrap();
        assert_eq!(f.all[0].values, vec![Scalar::Null]);
        assert_eq!(f.all[1].values, vec![Scalar::Bool(true)]);
    }

    #[test]
    fn ordering() {
        let by_type = parse_order(&CREDENTIAL, Some("credential_type")).unwrap();
        let names: Vec<&str> = by_type.iter().map(|k| k.path.field.name).collect();
        assert_eq!(names, vec!["kind", "name", "credential_type"]);
        let o = parse_order(&CREDENTIAL, Some("-organization__name,name")).unwrap();
        assert!(o[0].descending);
        assert_eq!(o[0].path.field.name, "name");
        assert!(matches!(
            parse_order(&CREDENTIAL, Some("inputs")),
            Err(DomainError::Forbidden(_))
        ));
        assert!(matches!(
            parse_order(&CREDENTIAL, Some("password")),
            Err(DomainError::BadRequest(_))
        ));
        assert_eq!(parse_order(&CREDENTIAL, None).unwrap().len(), 1);
    }

    proptest! {
        #[test]
        fn parser_never_panics(k in "[a-z_]{0,30}", v in ".{0,20}") {
            let _ = parse_filter(&CREDENTIAL, &[(k.clone(), v.clone())]);
            let _ = parse_order(&CREDENTIAL, Some(&k));
        }
    }
}
