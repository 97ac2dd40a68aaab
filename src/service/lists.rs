//! One page of a list: the query's filter, order and page, within a scope the use case
//! chose. Every list of the API and of other callers goes through [`page_of`].

use super::{Context, Error, Result};
use crate::domain::filter::{parse_filter, parse_order, RESERVED};
use crate::domain::rbac::{is_role_field, role, Caller};
use crate::domain::resource::Resource;
use crate::store::{Page, Scope};

/// The decoded query string as ordered pairs (a key may repeat).
#[derive(Debug, Clone, Default)]
pub struct QueryPairs(pub Vec<(String, String)>);

impl QueryPairs {
    /// Parses a raw query string.
    pub fn parse(raw: Option<&str>) -> Self {
        QueryPairs(
            form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The last value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether any parameter filters rows (anything but paging, ordering and search
    /// controls).
    pub fn filters(&self) -> bool {
        self.0.iter().any(|(k, _)| !RESERVED.contains(&k.as_str()))
    }
}

/// Default and maximum page sizes.
pub const DEFAULT_PAGE_SIZE: i64 = 25;
pub const MAX_PAGE_SIZE: i64 = 200;

/// The page a request asks for.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    /// 1-based; `None` means `last`.
    pub page: Option<i64>,
    pub size: i64,
    /// The client asked for more than the maximum (rewritten in links).
    pub capped: bool,
}

impl PageRequest {
    /// Reads `page` and `page_size`; a bad `page` is a 404 as in AWX.
    pub fn from_query(q: &QueryPairs) -> Result<Self> {
        let (size, capped) = match q.get("page_size").and_then(|s| s.parse::<i64>().ok()) {
            Some(n) if n > MAX_PAGE_SIZE => (MAX_PAGE_SIZE, true),
            Some(n) if n > 0 => (n, false),
            _ => (DEFAULT_PAGE_SIZE, false),
        };
        let page = match q.get("page") {
            None => Some(1),
            Some("last") => None,
            Some(p) => Some(
                p.parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or(Error::InvalidPage)?,
            ),
        };
        Ok(PageRequest { page, size, capped })
    }

    /// The page number to serve for `count` rows; errors when out of range.
    pub fn resolve(&self, count: i64) -> Result<i64> {
        let pages = ((count + self.size - 1) / self.size).max(1);
        let page = self.page.unwrap_or(pages);
        if page > pages {
            return Err(Error::InvalidPage);
        }
        Ok(page)
    }
}

/// Parses filter, ordering and page from the query and fetches one page of ids of
/// `resource` rows within `scope`.
pub async fn page_of(
    ctx: &Context,
    resource: &'static Resource,
    scope: &Scope,
    q: &QueryPairs,
) -> Result<(Page, PageRequest)> {
    let filter = parse_filter(resource, &q.0)?;
    let order = parse_order(resource, q.get("order_by").or_else(|| q.get("order")))?;
    let req = PageRequest::from_query(q)?;
    let page = ctx
        .store
        .list_ids(resource, scope, &filter, &order, req.size, req.page)
        .await?;
    if page.page.is_none() {
        return Err(Error::InvalidPage);
    }
    Ok((page, req))
}

/// Whether the row `id` of `resource` passes the query's filters (a detail URL may carry
/// them; AWX answers 404 when they exclude the object).
pub async fn passes_filters(
    ctx: &Context,
    resource: &'static Resource,
    id: i64,
    q: &QueryPairs,
) -> Result<bool> {
    if !q.filters() {
        return Ok(true);
    }
    let (page, _) = page_of(ctx, resource, &Scope::Id(id), q).await?;
    Ok(page.count > 0)
}

/// The objects (credentials, organizations, teams; input sources by their target) the
/// caller may read: those it holds the read role of, or all for superusers and auditors.
pub fn readable(caller: &Caller) -> Scope {
    if caller.sees_everything() {
        Scope::All
    } else {
        Scope::Holding {
            user: caller.user_id,
            role: role::READ.into(),
        }
    }
}

/// `?role_level=<role>`: only objects on which the caller holds that role (superusers
/// hold every role). Unknown role names are a 400, not AWX's 500.
pub fn role_level(caller: &Caller, q: &QueryPairs) -> Result<Scope> {
    let Some(level) = q.get("role_level") else {
        return Ok(Scope::All);
    };
    if !is_role_field(level) {
        return Err(Error::BadRequest(serde_json::Value::String(format!(
            "Invalid role_level: {level}"
        ))));
    }
    if caller.is_superuser {
        return Ok(Scope::All);
    }
    Ok(Scope::Holding {
        user: caller.user_id,
        role: level.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_pages() {
        assert!(PageRequest::from_query(&QueryPairs::parse(Some("page=abc"))).is_err());
        assert!(PageRequest::from_query(&QueryPairs::parse(Some("page=0"))).is_err());
        let r = PageRequest::from_query(&QueryPairs::parse(Some("page=3&page_size=2"))).unwrap();
        assert!(r.resolve(4).is_err());
        assert_eq!(r.resolve(5).unwrap(), 3);
        assert_eq!(
            PageRequest::from_query(&QueryPairs::parse(Some("page_size=0")))
                .unwrap()
                .size,
            25
        );
        assert_eq!(
            PageRequest::from_query(&QueryPairs::parse(Some("page=last&page_size=2")))
                .unwrap()
                .resolve(5)
                .unwrap(),
            3
        );
    }
}
