//! The AWX pagination envelope: `count`, relative `next`/`previous`, `results`.

use super::error::ApiError;
use super::extract::QueryPairs;
use serde_json::{json, Value};

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
    pub fn from_query(q: &QueryPairs) -> Result<Self, ApiError> {
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
                    .ok_or(ApiError::InvalidPage)?,
            ),
        };
        Ok(PageRequest { page, size, capped })
    }

    /// The page number to serve for `count` rows; errors when out of range.
    pub fn resolve(&self, count: i64) -> Result<i64, ApiError> {
        let pages = ((count + self.size - 1) / self.size).max(1);
        let page = self.page.unwrap_or(pages);
        if page > pages {
            return Err(ApiError::InvalidPage);
        }
        Ok(page)
    }
}

/// Characters escaped in link query values: everything but unreserved characters and the
/// comma, which AWX leaves readable in `order_by=-kind,name`.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b',');

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, QUERY_VALUE).to_string()
}

/// Builds the envelope; links keep every query parameter, sorted, with `page` replaced.
pub fn envelope(
    path: &str,
    q: &QueryPairs,
    req: &PageRequest,
    page: i64,
    count: i64,
    results: Vec<Value>,
) -> Value {
    let pages = ((count + req.size - 1) / req.size).max(1);
    let link = |n: i64| -> Value {
        let mut pairs: Vec<(String, String)> =
            q.0.iter().filter(|(k, _)| k != "page").cloned().collect();
        pairs.push(("page".into(), n.to_string()));
        if req.capped {
            pairs.retain(|(k, _)| k != "page_size");
            pairs.push(("page_size".into(), MAX_PAGE_SIZE.to_string()));
        }
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let query = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        Value::String(format!("{path}?{query}"))
    };
    json!({
        "count": count,
        "next": if page < pages { link(page + 1) } else { Value::Null },
        "previous": if page > 1 { link(page - 1) } else { Value::Null },
        "results": results,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_sorted_relative_and_capped() {
        let q = QueryPairs::parse(Some("page_size=1000&name__startswith=a"));
        let r = PageRequest::from_query(&q).unwrap();
        assert_eq!(r.size, 200);
        let env = envelope("/api/v2/credentials/", &q, &r, 1, 450, vec![]);
        assert_eq!(
            env["next"],
            "/api/v2/credentials/?name__startswith=a&page=2&page_size=200"
        );
        let q2 = QueryPairs::parse(Some("page_size=2&page=2"));
        let r2 = PageRequest::from_query(&q2).unwrap();
        let env2 = envelope("/api/v2/x/", &q2, &r2, 2, 5, vec![]);
        assert_eq!(env2["previous"], "/api/v2/x/?page=1&page_size=2");
    }

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
