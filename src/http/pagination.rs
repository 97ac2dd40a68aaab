//! The AWX pagination envelope: `count`, relative `next`/`previous`, `results`.

use crate::service::lists::{PageRequest, QueryPairs, MAX_PAGE_SIZE};
use serde_json::{json, Value};

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
}
