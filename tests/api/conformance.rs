//! Conformance replay: the 329 requests that were recorded against a real AWX 24
//! (`tests/conformance/awx-recorded.jsonl`) are sent in order to a fresh credstore, and each
//! answer is compared with AWX's: status, the recorded headers and the JSON body.
//!
//! Ids differ between the two servers, so the recording holds placeholders: `{sym}` for an id
//! the scenario learned (bound here the first time AWX's body holds `"{sym}"` where
//! credstore's holds an integer), `<id>` for any other id, `<ts>`, `<uuid>`, `<token>`,
//! `{P}` for the run prefix and `{admin}` for the superuser. Comparison treats them as
//! patterns over credstore's answer, which amounts to normalising that answer the same way.
//!
//! Differences listed in `tests/conformance/known_differences.toml` are tolerated. The test
//! fails on any other difference and on any listed entry that no longer differs, so the list
//! only shrinks. The report goes to `target/conformance-report.txt`.

use crate::common;

use axum::body::Body;
use axum::http::{header, Method, Request};
use base64::Engine;
use common::{TestApp, ADMIN_PASSWORD};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The run prefix that stands for `{P}`.
const PREFIX: &str = "dxrun";
/// Passphrase of the encrypted keys the scenario uses.
const PASSPHRASE: &str = "dx-passphrase-1";
/// Headers the recording keeps (lower case, as recorded).
const KEPT_HEADERS: [&str; 7] = [
    "allow",
    "x-api-product-name",
    "x-api-product-version",
    "content-type",
    "location",
    "www-authenticate",
    "warning",
];
/// Lists compared as multisets: AWX orders them differently from one run to the next.
const SET_KEYS: [&str; 7] = [
    "descendant_roles",
    "search_fields",
    "related_search_fields",
    "renders",
    "parses",
    "types",
    "object_roles",
];
/// Differences shown per request in the report line.
const SHOWN: usize = 3;
/// Longest value shown in a difference.
const SHOWN_CHARS: usize = 70;

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

// ---------------------------------------------------------------------------------------
// Known differences: `[name]` tables with `reason`, `kind` and optional `issue`.

#[derive(Debug)]
struct Known {
    kind: String,
    reason: String,
    issue: Option<String>,
}

fn parse_known(text: &str) -> Result<BTreeMap<String, Known>, String> {
    let mut tables: Vec<(String, BTreeMap<String, String>, usize)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(inner) = line.strip_prefix('[') {
            let inner = inner
                .strip_suffix(']')
                .ok_or(format!("line {n}: unclosed table header"))?
                .trim();
            let name = if inner.starts_with('"') {
                let (s, rest) = toml_string(inner).map_err(|e| format!("line {n}: {e}"))?;
                if !rest.trim().is_empty() {
                    return Err(format!("line {n}: text after the table name"));
                }
                s
            } else {
                inner.to_string()
            };
            if tables.iter().any(|(t, _, _)| *t == name) {
                return Err(format!("line {n}: table [{name}] defined twice"));
            }
            tables.push((name, BTreeMap::new(), n));
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or(format!("line {n}: expected `key = \"value\"`"))?;
        let (value, rest) = toml_string(value.trim()).map_err(|e| format!("line {n}: {e}"))?;
        let rest = rest.trim();
        if !rest.is_empty() && !rest.starts_with('#') {
            return Err(format!("line {n}: text after the value"));
        }
        let (_, fields, _) = tables
            .last_mut()
            .ok_or(format!("line {n}: key outside a table"))?;
        let key = key.trim().to_string();
        if fields.insert(key.clone(), value).is_some() {
            return Err(format!("line {n}: key `{key}` given twice"));
        }
    }
    let mut out = BTreeMap::new();
    for (name, mut fields, n) in tables {
        let kind = fields
            .remove("kind")
            .ok_or(format!("[{name}] (line {n}): no kind"))?;
        let reason = fields
            .remove("reason")
            .ok_or(format!("[{name}] (line {n}): no reason"))?;
        let issue = fields.remove("issue");
        if reason.trim().is_empty() {
            return Err(format!("[{name}] (line {n}): empty reason"));
        }
        if let Some(key) = fields.keys().next() {
            return Err(format!("[{name}] (line {n}): unknown key `{key}`"));
        }
        match kind.as_str() {
            "deliberate" | "bug" => {}
            "not-built" if issue.is_some() => {}
            "not-built" => return Err(format!("[{name}] (line {n}): not-built needs an issue")),
            other => return Err(format!("[{name}] (line {n}): unknown kind `{other}`")),
        }
        out.insert(
            name,
            Known {
                kind,
                reason,
                issue,
            },
        );
    }
    Ok(out)
}

/// A TOML basic string at the start of `s`; returns it and the rest of the text.
fn toml_string(s: &str) -> Result<(String, &str), String> {
    let body = s.strip_prefix('"').ok_or("expected a \"string\"")?;
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &body[i + 1..])),
            '\\' => {
                let (_, e) = chars.next().ok_or("dangling escape")?;
                match e {
                    '"' => out.push('"'),
                    '\\' => out.push('\\'),
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'u' | 'U' => {
                        let digits = if e == 'u' { 4 } else { 8 };
                        let hex: String = (0..digits)
                            .filter_map(|_| chars.next().map(|x| x.1))
                            .collect();
                        let code = u32::from_str_radix(&hex, 16).map_err(|_| "bad \\u escape")?;
                        out.push(char::from_u32(code).ok_or("bad \\u escape")?);
                    }
                    other => return Err(format!("unknown escape \\{other}")),
                }
            }
            c => out.push(c),
        }
    }
    Err("unterminated string".into())
}

// ---------------------------------------------------------------------------------------
// Placeholders.

#[derive(Clone, Debug, PartialEq)]
enum Seg {
    Lit(String),
    Prefix,
    Sym(String),
    Id,
    Ts,
    Uuid,
    Token,
}

/// Splits a recorded string into literal text and placeholders. `{name}` counts only when
/// not doubled (`{{host}}` is template text).
fn segments(s: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    while i < s.len() {
        if let Some((seg, len)) = placeholder_at(s, i) {
            if !lit.is_empty() {
                out.push(Seg::Lit(std::mem::take(&mut lit)));
            }
            out.push(seg);
            i += len;
            continue;
        }
        let c = s[i..].chars().next().expect("in bounds");
        lit.push(c);
        i += c.len_utf8();
    }
    if !lit.is_empty() {
        out.push(Seg::Lit(lit));
    }
    out
}

fn placeholder_at(s: &str, i: usize) -> Option<(Seg, usize)> {
    let rest = &s[i..];
    for (tag, seg) in [
        ("<id>", Seg::Id),
        ("<ts>", Seg::Ts),
        ("<uuid>", Seg::Uuid),
        ("<token>", Seg::Token),
    ] {
        if rest.starts_with(tag) {
            return Some((seg, tag.len()));
        }
    }
    if !rest.starts_with('{') || s[..i].ends_with('{') {
        return None;
    }
    let close = rest.find('}')?;
    let name = &rest[1..close];
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if !valid || rest[close + 1..].starts_with('}') {
        return None;
    }
    let seg = if name == "P" {
        Seg::Prefix
    } else {
        Seg::Sym(name.to_string())
    };
    Some((seg, close + 1))
}

/// What the scenario has learned so far.
#[derive(Clone, Debug, Default)]
struct Ctx {
    syms: HashMap<String, i64>,
    token: Option<String>,
    admin: String,
}

impl Ctx {
    fn bind(&mut self, name: &str, id: i64) {
        self.syms.entry(name.to_string()).or_insert(id);
    }

    /// A value of credstore's as the recording would write it; used for messages only, the
    /// comparison itself matches the recording's placeholders against the raw value.
    fn normalise(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.normalise_str(s)),
            Value::Array(items) => Value::Array(items.iter().map(|x| self.normalise(x)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, x)| (k.clone(), self.normalise(x)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn normalise_str(&self, s: &str) -> String {
        let mut s = s.replace(PREFIX, "{P}");
        if let Some(t) = self.token.as_deref().filter(|t| !t.is_empty()) {
            s = s.replace(t, "<token>");
        }
        let mut out = String::new();
        let mut i = 0;
        while i < s.len() {
            let rest = &s[i..];
            let mid_word = s[..i].ends_with(|c: char| c.is_ascii_alphanumeric());
            if !mid_word {
                if let Some(n) = ts_len(rest) {
                    out.push_str("<ts>");
                    i += n;
                    continue;
                }
                if rest.len() >= 36 && is_uuid(&rest[..36]) {
                    out.push_str("<uuid>");
                    i += 36;
                    continue;
                }
            }
            if let Some((text, n)) = self.url_id(rest) {
                out.push_str(&text);
                i += n;
                continue;
            }
            let c = rest.chars().next().expect("in bounds");
            out.push(c);
            i += c.len_utf8();
        }
        out
    }

    /// `/api/v2/<collection>/<n>/` at the start of `s`, with `<n>` as `{sym}` or `<id>`.
    fn url_id(&self, s: &str) -> Option<(String, usize)> {
        let rest = s.strip_prefix("/api/v2/")?;
        let (coll, tail) = rest.split_once('/')?;
        let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || !tail[digits..].starts_with('/') {
            return None;
        }
        let id: i64 = tail[..digits].parse().ok()?;
        let fits = |sym: &str| match coll {
            "credentials" => sym.starts_with("cred.") && !sym.ends_with("_role"),
            "credential_types" => sym.starts_with("ct."),
            "organizations" => sym.starts_with("org") && !sym.contains('.'),
            "users" => sym == "admin" || (sym.starts_with('u') && !sym.contains('.')),
            "teams" => sym.starts_with("team") && !sym.contains('.'),
            "roles" => sym.ends_with("_role"),
            "tokens" => sym == "token",
            "credential_input_sources" => sym.starts_with("cis"),
            _ => false,
        };
        let mut names: Vec<&String> = self
            .syms
            .iter()
            .filter(|(name, v)| **v == id && fits(name))
            .map(|(name, _)| name)
            .collect();
        names.sort();
        let shown = names
            .first()
            .map_or("<id>".to_string(), |name| format!("{{{name}}}"));
        let len = "/api/v2/".len() + coll.len() + 1 + digits;
        Some((format!("/api/v2/{coll}/{shown}"), len))
    }
}

/// Length of an ISO-8601 timestamp at the start of `s`, if there is one.
fn ts_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let shape = b"dddd-dd-ddTdd:dd:dd";
    if b.len() < shape.len() {
        return None;
    }
    for (x, p) in b.iter().zip(shape) {
        let ok = if *p == b'd' {
            x.is_ascii_digit()
        } else {
            x == p || (*p == b'T' && *x == b' ')
        };
        if !ok {
            return None;
        }
    }
    let mut n = shape.len();
    if b.get(n) == Some(&b'.') {
        let digits = b[n + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        n += 1 + digits;
    }
    match b.get(n) {
        Some(b'Z') => Some(n + 1),
        Some(b'+') | Some(b'-') => {
            let tz = b.get(n + 1..n + 6)?;
            let ok = tz[0].is_ascii_digit()
                && tz[1].is_ascii_digit()
                && tz[2] == b':'
                && tz[3].is_ascii_digit()
                && tz[4].is_ascii_digit();
            ok.then_some(n + 6)
        }
        _ => Some(n),
    }
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Matches `s` against placeholder segments, collecting the ids of unbound symbols.
fn match_str(segs: &[Seg], s: &str, ctx: &Ctx, binds: &mut Vec<(String, i64)>) -> bool {
    let Some((first, rest)) = segs.split_first() else {
        return s.is_empty();
    };
    let then = |lit: &str, binds: &mut Vec<(String, i64)>| {
        s.strip_prefix(lit)
            .is_some_and(|r| match_str(rest, r, ctx, binds))
    };
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    match first {
        Seg::Lit(l) => then(l, binds),
        Seg::Prefix => then(PREFIX, binds),
        Seg::Sym(name) => {
            let known = ctx
                .syms
                .get(name)
                .copied()
                .or_else(|| binds.iter().find(|(n, _)| n == name).map(|(_, v)| *v));
            match known {
                Some(v) => {
                    if then(&v.to_string(), binds) {
                        return true;
                    }
                }
                None => {
                    for n in (1..=digits).rev() {
                        if let Ok(v) = s[..n].parse::<i64>() {
                            binds.push((name.clone(), v));
                            if match_str(rest, &s[n..], ctx, binds) {
                                return true;
                            }
                            binds.pop();
                        }
                    }
                }
            }
            if name == "admin" && then(&ctx.admin, binds) {
                return true;
            }
            // Text that merely looks like a placeholder.
            then(&format!("{{{name}}}"), binds)
        }
        Seg::Id => (1..=digits)
            .rev()
            .any(|n| match_str(rest, &s[n..], ctx, binds)),
        Seg::Ts => ts_len(s).is_some_and(|n| match_str(rest, &s[n..], ctx, binds)),
        Seg::Uuid => s.len() >= 36 && is_uuid(&s[..36]) && match_str(rest, &s[36..], ctx, binds),
        Seg::Token => match &ctx.token {
            Some(t) => then(t, binds),
            None => (1..=s.len())
                .filter(|&i| s.is_char_boundary(i))
                .any(|i| match_str(rest, &s[i..], ctx, binds)),
        },
    }
}

/// Replaces `{P}` and `{sym}` in request text; an unbound symbol is an error.
fn subst_text(s: &str, ctx: &Ctx) -> Result<String, String> {
    let mut out = String::new();
    for seg in segments(s) {
        match seg {
            Seg::Lit(l) => out.push_str(&l),
            Seg::Prefix => out.push_str(PREFIX),
            Seg::Sym(name) => match ctx.syms.get(&name) {
                Some(v) => out.push_str(&v.to_string()),
                None => return Err(format!("request needs unbound {{{name}}}")),
            },
            Seg::Id => out.push_str("<id>"),
            Seg::Ts => out.push_str("<ts>"),
            Seg::Uuid => out.push_str("<uuid>"),
            Seg::Token => out.push_str("<token>"),
        }
    }
    Ok(out)
}

/// Request bodies: a whole-string `{sym}` becomes the integer id, `<ssh-key:NAME>` the key,
/// and `{P}` is replaced inside strings.
fn subst_json(v: &Value, ctx: &Ctx, keys: &HashMap<String, String>) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => {
            if let Some(name) = s
                .strip_prefix("<ssh-key:")
                .and_then(|r| r.strip_suffix('>'))
            {
                let key = keys.get(name).ok_or(format!("no ssh key {name}"))?;
                return Ok(Value::String(key.clone()));
            }
            let segs = segments(s);
            if let [Seg::Sym(name)] = segs.as_slice() {
                let id = ctx
                    .syms
                    .get(name)
                    .ok_or(format!("request needs unbound {{{name}}}"))?;
                return Ok(Value::from(*id));
            }
            Value::String(s.replace("{P}", PREFIX))
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|x| subst_json(x, ctx, keys))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, x) in map {
                out.insert(k.clone(), subst_json(x, ctx, keys)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

// ---------------------------------------------------------------------------------------
// Comparison.

fn short(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > SHOWN_CHARS {
        let cut: String = text.chars().take(SHOWN_CHARS).collect();
        format!("{cut}...")
    } else {
        text
    }
}

/// Two strings as JSON, each cut to the neighbourhood of their first difference.
fn around_difference(exp: &str, act: &str) -> (String, String) {
    let same = exp
        .chars()
        .zip(act.chars())
        .take_while(|(x, y)| x == y)
        .count();
    let skip = same.saturating_sub(SHOWN_CHARS / 3);
    let cut = |s: &str| {
        let tail: String = s.chars().skip(skip).collect();
        short(&Value::String(if skip > 0 {
            format!("...{tail}")
        } else {
            tail
        }))
    };
    (cut(exp), cut(act))
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn shown(path: &str) -> &str {
    if path.is_empty() {
        "body"
    } else {
        path
    }
}

/// Compares one recorded answer with credstore's, binding symbols as it goes.
struct Cmp {
    ctx: Ctx,
    diffs: Vec<String>,
    options: bool,
}

impl Cmp {
    fn diff(&mut self, path: &str, what: String) {
        self.diffs.push(format!("{}: {what}", shown(path)));
    }

    fn value(&mut self, exp: &Value, act: &Value, path: &str) {
        match (exp, act) {
            (Value::Object(e), Value::Object(a)) => self.object(e, a, path),
            (Value::Array(e), Value::Array(a)) => self.list(e, a, path),
            (Value::String(e), _) => self.string(e, act, path),
            _ if exp == act => {}
            _ => self.diff(
                path,
                format!("expected {}, got {}", short(exp), self.short_act(act)),
            ),
        }
    }

    fn string(&mut self, exp: &str, act: &Value, path: &str) {
        let segs = segments(exp);
        match (segs.as_slice(), act) {
            ([Seg::Sym(name)], Value::Number(n)) if n.is_i64() => {
                let id = n.as_i64().expect("i64");
                match self.ctx.syms.get(name) {
                    Some(v) if *v == id => {}
                    Some(v) => self.diff(path, format!("expected {{{name}}} (= {v}), got {id}")),
                    None => self.ctx.bind(name, id),
                }
            }
            ([Seg::Id], Value::Number(n)) if n.is_i64() => {}
            (_, Value::String(a)) => {
                let mut binds = Vec::new();
                if match_str(&segs, a, &self.ctx, &mut binds) {
                    for (name, id) in binds {
                        self.ctx.bind(&name, id);
                    }
                } else {
                    let (e, a) = around_difference(exp, &self.ctx.normalise_str(a));
                    self.diff(path, format!("expected {e}, got {a}"));
                }
            }
            _ => self.diff(
                path,
                format!(
                    "expected {}, got {}",
                    short(&exp.into()),
                    self.short_act(act)
                ),
            ),
        }
    }

    fn object(&mut self, e: &Map<String, Value>, a: &Map<String, Value>, path: &str) {
        if e.contains_key("_results_truncated_from") {
            return self.truncated(e, a, path);
        }
        for (k, ev) in e {
            let p = join(path, k);
            let Some(av) = a.get(k) else {
                self.diff(&p, format!("missing (expected {})", short(ev)));
                continue;
            };
            if self.options && path.is_empty() && k == "description" {
                continue;
            }
            let as_set = SET_KEYS.contains(&k.as_str())
                || (k == "choices" && e.get("id").and_then(Value::as_str) == Some("cloud_name"));
            match (ev, av) {
                (Value::Array(el), Value::Array(al)) if as_set => self.set(el, al, &p),
                _ => self.value(ev, av, &p),
            }
        }
        for (k, av) in a {
            if !e.contains_key(k) {
                self.diff(
                    &join(path, k),
                    format!("unexpected key (= {})", self.short_act(av)),
                );
            }
        }
    }

    fn list(&mut self, e: &[Value], a: &[Value], path: &str) {
        if e.len() != a.len() {
            self.diff(path, format!("expected {} items, got {}", e.len(), a.len()));
        }
        for (i, (ev, av)) in e.iter().zip(a).enumerate() {
            self.value(ev, av, &format!("{path}[{i}]"));
        }
    }

    /// Would `exp` match `act` entirely? Binds only on success.
    fn trial(&mut self, exp: &Value, act: &Value) -> bool {
        let mut sub = Cmp {
            ctx: self.ctx.clone(),
            diffs: Vec::new(),
            options: self.options,
        };
        sub.value(exp, act, "");
        if sub.diffs.is_empty() {
            self.ctx = sub.ctx;
            true
        } else {
            false
        }
    }

    fn set(&mut self, e: &[Value], a: &[Value], path: &str) {
        let mut used = vec![false; a.len()];
        let mut missing = Vec::new();
        for ev in e {
            let found = (0..a.len()).find(|&j| !used[j] && self.trial(ev, &a[j]));
            match found {
                Some(j) => used[j] = true,
                None => missing.push(ev),
            }
        }
        for ev in missing {
            self.diff(path, format!("missing set item {}", short(ev)));
        }
        for (av, _) in a.iter().zip(&used).filter(|(_, u)| !**u) {
            self.diff(path, format!("unexpected set item {}", self.short_act(av)));
        }
    }

    /// A list the recording cut to its first items: only count-independent structure counts.
    fn truncated(&mut self, e: &Map<String, Value>, a: &Map<String, Value>, path: &str) {
        for (k, ev) in e {
            if k == "_results_truncated_from" {
                continue;
            }
            let p = join(path, k);
            match (k.as_str(), a.get(k)) {
                (_, None) => self.diff(&p, format!("missing (expected {})", short(ev))),
                ("count", Some(av)) if !av.is_u64() => {
                    self.diff(&p, format!("expected a count, got {}", self.short_act(av)))
                }
                ("next" | "previous", Some(av)) if !(av.is_null() || av.is_string()) => self.diff(
                    &p,
                    format!("expected a link or null, got {}", self.short_act(av)),
                ),
                // The list items only to their own keys: which objects come first
                // depends on the rest of the database.
                (_, Some(av)) => self.shape(ev, av, &p, 2),
            }
        }
        for (k, av) in a {
            if !e.contains_key(k) {
                self.diff(
                    &join(path, k),
                    format!("unexpected key (= {})", self.short_act(av)),
                );
            }
        }
    }

    /// Keys and value types only, `depth` levels down (null goes with any type).
    fn shape(&mut self, exp: &Value, act: &Value, path: &str, depth: usize) {
        let id_like = |s: &str| matches!(segments(s).as_slice(), [Seg::Sym(_)] | [Seg::Id]);
        match (exp, act) {
            (Value::Null, _) | (_, Value::Null) => return,
            (Value::String(s), Value::Number(_)) if id_like(s) => return,
            _ if kind_of(exp) == kind_of(act) => {}
            _ => {
                let got = self.short_act(act);
                return self.diff(path, format!("expected a {}, got {got}", kind_of(exp)));
            }
        }
        if depth == 0 {
            return;
        }
        match (exp, act) {
            (Value::Object(e), Value::Object(a)) => {
                for (k, ev) in e {
                    match a.get(k) {
                        Some(av) => self.shape(ev, av, &join(path, k), depth - 1),
                        None => self.diff(&join(path, k), "missing key".into()),
                    }
                }
                for k in a.keys().filter(|k| !e.contains_key(*k)) {
                    self.diff(&join(path, k), "unexpected key".into());
                }
            }
            (Value::Array(e), Value::Array(a)) => {
                for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                    self.shape(ev, av, &format!("{path}[{i}]"), depth - 1);
                }
            }
            _ => {}
        }
    }

    /// credstore's value as the recording would show it (for messages only).
    fn short_act(&self, v: &Value) -> String {
        short(&self.ctx.normalise(v))
    }
}

// ---------------------------------------------------------------------------------------
// The replay.

fn ssh_keys(dir: &Path) -> HashMap<String, String> {
    let specs: [(&str, &[&str], &str); 5] = [
        ("ed25519", &["-t", "ed25519"], ""),
        ("rsa-pem", &["-t", "rsa", "-b", "2048", "-m", "PEM"], ""),
        ("ed25519-encrypted", &["-t", "ed25519"], PASSPHRASE),
        (
            "rsa-pem-encrypted",
            &["-t", "rsa", "-b", "2048", "-m", "PEM"],
            PASSPHRASE,
        ),
        (
            "rsa-pkcs8-encrypted",
            &["-t", "rsa", "-b", "2048", "-m", "PKCS8"],
            PASSPHRASE,
        ),
    ];
    let mut keys = HashMap::new();
    for (name, args, pass) in specs {
        let file = dir.join(name);
        let status = std::process::Command::new("ssh-keygen")
            .args(["-q", "-C", "conformance", "-N", pass, "-f"])
            .arg(&file)
            .args(args)
            .status()
            .expect("ssh-keygen (openssh-client) is needed");
        assert!(status.success(), "ssh-keygen {name}");
        let text = std::fs::read_to_string(&file).expect("key file");
        keys.insert(name.to_string(), text);
    }
    keys
}

fn basic(user: &str, password: &str) -> String {
    let pair = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// The answer as the recording stores it: JSON, `{"text": ...}` for other text, null if empty.
fn body_of(raw: &str) -> Value {
    if raw.is_empty() {
        return Value::Null;
    }
    serde_json::from_str(raw).unwrap_or_else(|_| serde_json::json!({ "text": raw }))
}

struct Replayed {
    status: u16,
    headers: axum::http::HeaderMap,
    body: Value,
}

#[derive(Default)]
struct Totals {
    same: usize,
    different: usize,
    known: usize,
    skipped: usize,
}

#[tokio::test]
async fn replay_matches_recorded_awx() {
    let recording = std::fs::read_to_string(repo_file("tests/conformance/awx-recorded.jsonl"))
        .expect("recording");
    let rows: Vec<Value> = recording
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("recording line"))
        .collect();
    let mut order: Vec<&Value> = rows.iter().collect();
    order.sort_by_key(|r| r["seq"].as_u64());

    let known_text = std::fs::read_to_string(repo_file("tests/conformance/known_differences.toml"))
        .expect("known differences file");
    let known = parse_known(&known_text).unwrap_or_else(|e| panic!("known_differences.toml: {e}"));

    let keydir = tempfile::tempdir().expect("tempdir");
    let keys = ssh_keys(keydir.path());

    // The normal user's password is in its create request.
    let u1_name = format!("{PREFIX}-u1");
    let u1_password = rows
        .iter()
        .find(|r| r["method"] == "POST" && r["request_body"]["username"] == "{P}-u1")
        .and_then(|r| r["request_body"]["password"].as_str())
        .expect("the scenario creates {P}-u1")
        .to_string();

    let app = TestApp::new().await;
    let admin_auth = basic("admin", ADMIN_PASSWORD);
    let mut ctx = Ctx {
        admin: "admin".into(),
        ..Ctx::default()
    };
    // Managed types and the superuser are known before the scenario starts.
    let get = |path: &str| {
        Request::builder()
            .uri(path)
            .header(header::AUTHORIZATION, &admin_auth)
            .body(Body::empty())
            .expect("request")
    };
    let types = app
        .call(get("/api/v2/credential_types/?managed=true&page_size=200"))
        .await;
    for t in types.body["results"].as_array().expect("managed types") {
        if let (Some(ns), Some(id)) = (t["namespace"].as_str(), t["id"].as_i64()) {
            ctx.bind(&format!("ct.{ns}"), id);
        }
    }
    // AWX's superuser had logged in through a session before the recording (its
    // `last_login` is set); do the same here.
    let login = Request::builder()
        .method(Method::POST)
        .uri("/api/login/")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(
            form_urlencoded::Serializer::new(String::new())
                .append_pair("username", "admin")
                .append_pair("password", ADMIN_PASSWORD)
                .append_pair("next", "/api/")
                .finish(),
        ))
        .expect("request");
    let login = app.call(login).await;
    assert!(login.status.is_redirection(), "admin login: {}", login.raw);
    let me = app.call(get("/api/v2/me/")).await;
    if let Some(id) = me.body["results"][0]["id"].as_i64() {
        ctx.bind("admin", id);
    }

    let mut lines = Vec::new();
    let mut details = Vec::new();
    let mut sections: Vec<(String, Totals)> = Vec::new();
    let mut unexpected = Vec::new();
    let mut stale = Vec::new();

    for row in order {
        let name = row["name"].as_str().expect("name").to_string();
        let section = row["section"].as_str().unwrap_or("").to_string();
        if sections.last().map(|s| &s.0) != Some(&section) {
            sections.push((section.clone(), Totals::default()));
        }
        let totals = &mut sections.last_mut().expect("section").1;
        let Some(exp_status) = row.get("status").and_then(Value::as_u64) else {
            totals.skipped += 1;
            lines.push(format!("SKIP {name}"));
            if known.contains_key(&name) {
                stale.push(format!("{name} (skipped, listed as known)"));
            }
            continue;
        };

        let mut diffs = Vec::new();
        match replay(&app, row, &mut ctx, &keys, &u1_name, &u1_password).await {
            Err(e) => diffs.push(e),
            Ok(got) => {
                let mut cmp = Cmp {
                    ctx: std::mem::take(&mut ctx),
                    diffs: Vec::new(),
                    options: row["method"] == "OPTIONS",
                };
                if u64::from(got.status) != exp_status {
                    cmp.diffs
                        .push(format!("status: expected {exp_status}, got {}", got.status));
                }
                compare_headers(&mut cmp, &row["headers"], &got.headers);
                cmp.value(&row["body"], &got.body, "");
                ctx = cmp.ctx;
                diffs = cmp.diffs;
            }
        }

        if diffs.is_empty() {
            totals.same += 1;
            lines.push(format!("SAME {name}"));
            if known.contains_key(&name) {
                stale.push(name.clone());
            }
            continue;
        }
        let mut what = diffs[..diffs.len().min(SHOWN)].join("; ");
        if diffs.len() > SHOWN {
            what.push_str(&format!(" (+{} more)", diffs.len() - SHOWN));
        }
        details.push(format!("{name}\n  {}", diffs.join("\n  ")));
        match known.get(&name) {
            Some(k) => {
                details.push(format!("  listed as {}: {}", k.kind, k.reason));
                totals.known += 1;
                let issue = k.issue.as_ref().map(|i| format!(", {i}"));
                lines.push(format!(
                    "DIFF {name}: {what} [known {}{}]",
                    k.kind,
                    issue.unwrap_or_default()
                ));
            }
            None => {
                totals.different += 1;
                lines.push(format!("DIFF {name}: {what}"));
                unexpected.push(format!("{name}: {what}"));
            }
        }
    }

    let names: Vec<&str> = rows.iter().filter_map(|r| r["name"].as_str()).collect();
    let strays: Vec<&String> = known
        .keys()
        .filter(|k| !names.contains(&k.as_str()))
        .collect();

    let mut summary = vec![format!(
        "{:<70} {:>5} {:>9} {:>5} {:>7}",
        "section", "same", "different", "known", "skipped"
    )];
    let mut all = Totals::default();
    for (section, t) in &sections {
        summary.push(format!(
            "{section:<70} {:>5} {:>9} {:>5} {:>7}",
            t.same, t.different, t.known, t.skipped
        ));
        all.same += t.same;
        all.different += t.different;
        all.known += t.known;
        all.skipped += t.skipped;
    }
    summary.push(format!(
        "{:<70} {:>5} {:>9} {:>5} {:>7}",
        "total", all.same, all.different, all.known, all.skipped
    ));
    let kinds = known.values().fold(BTreeMap::new(), |mut m, k| {
        *m.entry(k.kind.as_str()).or_insert(0) += 1;
        m
    });
    summary.push(format!("known differences listed: {kinds:?}"));
    let report = format!("{}\n\n{}\n", lines.join("\n"), summary.join("\n"));
    let out = repo_file("target");
    std::fs::create_dir_all(&out).expect("target dir");
    std::fs::write(out.join("conformance-report.txt"), &report).expect("report");
    std::fs::write(
        out.join("conformance-details.txt"),
        details.join("\n") + "\n",
    )
    .expect("details");
    println!("{}", summary.join("\n"));
    println!("report: {}", out.join("conformance-report.txt").display());

    let mut failures = Vec::new();
    if !unexpected.is_empty() {
        failures.push(format!(
            "{} differences not in known_differences.toml:\n  {}",
            unexpected.len(),
            unexpected.join("\n  ")
        ));
    }
    if !stale.is_empty() {
        failures.push(format!(
            "{} known differences no longer differ; remove them from known_differences.toml:\n  {}",
            stale.len(),
            stale.join("\n  ")
        ));
    }
    if !strays.is_empty() {
        failures.push(format!(
            "known_differences.toml names requests the recording does not have: {strays:?}"
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn compare_headers(cmp: &mut Cmp, exp: &Value, got: &axum::http::HeaderMap) {
    for name in KEPT_HEADERS {
        let e = exp.get(name).and_then(Value::as_str);
        let a = got.get(name).map(|v| v.to_str().unwrap_or("<not text>"));
        let path = format!("header {name}");
        match (e, a) {
            (None, None) => {}
            (Some(e), None) => cmp.diffs.push(format!("{path}: missing (expected {e:?})")),
            (None, Some(a)) => cmp.diffs.push(format!("{path}: unexpected ({a:?})")),
            // Only its presence: the version string itself is a deliberate difference.
            (Some(_), Some(_)) if name == "x-api-product-version" => {}
            (Some(e), Some(a)) => {
                let mut binds = Vec::new();
                if match_str(&segments(e), a, &cmp.ctx, &mut binds) {
                    for (n, id) in binds {
                        cmp.ctx.bind(&n, id);
                    }
                } else {
                    cmp.diffs.push(format!(
                        "{path}: expected {e:?}, got {:?}",
                        cmp.ctx.normalise_str(a)
                    ));
                }
            }
        }
    }
}

/// Sends one recorded request (following redirects as the recording client did).
async fn replay(
    app: &TestApp,
    row: &Value,
    ctx: &mut Ctx,
    keys: &HashMap<String, String>,
    u1_name: &str,
    u1_password: &str,
) -> Result<Replayed, String> {
    let method = Method::from_bytes(row["method"].as_str().unwrap_or("GET").as_bytes())
        .map_err(|e| format!("method: {e}"))?;
    let mut path = subst_text(row["path"].as_str().unwrap_or("/"), ctx)?;
    let auth = match row["auth"].as_str().unwrap_or("anon") {
        "admin" => Some(basic("admin", ADMIN_PASSWORD)),
        "u1" => Some(basic(u1_name, u1_password)),
        "anon" => None,
        "badpw" => Some(basic("admin", "not-the-admin-password")),
        "token" => Some(format!(
            "Bearer {}",
            ctx.token.as_deref().ok_or("request needs the token")?
        )),
        "bearer-garbage" => Some("Bearer garbage".to_string()),
        other => return Err(format!("unknown auth {other}")),
    };
    let extra: Vec<(String, String)> = row
        .get("request_headers")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let payload = if let Some(raw) = row.get("request_raw").and_then(Value::as_str) {
        Some(subst_text(raw, ctx)?)
    } else if let Some(body) = row.get("request_body") {
        Some(subst_json(body, ctx, keys)?.to_string())
    } else {
        None
    };

    for _hop in 0..3 {
        let mut req = Request::builder().method(method.clone()).uri(&path);
        if let Some(auth) = &auth {
            req = req.header(header::AUTHORIZATION, auth);
        }
        let mut has_type = false;
        for (k, v) in &extra {
            has_type |= k.eq_ignore_ascii_case("content-type");
            req = req.header(k.as_str(), v.as_str());
        }
        let body = match &payload {
            Some(p) => {
                if !has_type {
                    req = req.header(header::CONTENT_TYPE, "application/json");
                }
                Body::from(p.clone())
            }
            None => Body::empty(),
        };
        let reply = app.call(req.body(body).map_err(|e| e.to_string())?).await;
        let status = reply.status.as_u16();
        let location = reply
            .headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let recorded_redirect = row["status"]
            .as_u64()
            .is_some_and(|s| (300..400).contains(&s));
        let follow = matches!(status, 301 | 302 | 307 | 308)
            && !recorded_redirect
            && (method == Method::GET || method == Method::HEAD);
        if let (true, Some(loc)) = (follow, location) {
            path = loc;
            continue;
        }
        // The token the scenario issues is the bearer of `token` requests.
        if row["body"]["token"] == "<token>" {
            if let Some(t) = reply.body["token"].as_str() {
                ctx.token.get_or_insert_with(|| t.to_string());
            }
        }
        return Ok(Replayed {
            status,
            headers: reply.headers,
            body: body_of(&reply.raw),
        });
    }
    Err("too many redirects".into())
}
