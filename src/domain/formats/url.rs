//! Format `url`: CPython 3.11's `urllib.parse.urlsplit` reproduced as far as AWX's check
//! looks (scheme, network location, bracket and NFKC rules), with the parser's messages.

use super::ip::{is_py_ipv4, is_py_ipv6};
use crate::domain::python::py_str_repr;

/// Validates format `url`. Err = the AWX message.
///
/// AWX runs `urllib.parse.urlparse` and then insists on a scheme and a
/// network location; parser errors (unbalanced IPv6 brackets, bad bracketed
/// hosts, NFKC-unsafe host characters) surface with the parser's own message.
/// An empty value is accepted: empty inputs never reach the format check.
pub fn validate_url(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    let split = split_url(value)?;
    if !split.has_scheme {
        return Err("Invalid URL: Missing url scheme (http, https, etc.)".to_owned());
    }
    if !split.has_netloc {
        return Err(format!("Invalid URL: {value}"));
    }
    Ok(())
}

/// The parts of `urlsplit`'s result that the `url` format looks at.
struct UrlSplit {
    has_scheme: bool,
    has_netloc: bool,
}

/// Characters that a network location may not contain after NFKC
/// normalisation turns them into `/`, `?`, `#`, `@` or `:`; this is the
/// complete list for the Unicode database of CPython 3.11.
const NFKC_UNSAFE_NETLOC_CHARS: &[char] = &[
    '\u{2047}', '\u{2048}', '\u{2049}', '\u{2100}', '\u{2101}', '\u{2105}', '\u{2106}', '\u{2a74}',
    '\u{fe13}', '\u{fe16}', '\u{fe55}', '\u{fe56}', '\u{fe5f}', '\u{fe6b}', '\u{ff03}', '\u{ff0f}',
    '\u{ff1a}', '\u{ff1f}', '\u{ff20}',
];

/// Splits off the scheme and network location like `urlsplit`, raising its
/// errors as `Err(message)`.
fn split_url(value: &str) -> Result<UrlSplit, String> {
    // WHATWG-style cleanup: strip leading C0 controls and spaces, drop tabs
    // and newlines anywhere.
    let cleaned: String = value
        .trim_start_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
        .collect();

    let scheme_end = cleaned
        .find(':')
        .filter(|&colon| cleaned.get(..colon).is_some_and(is_url_scheme));
    let (has_scheme, rest) = match scheme_end {
        Some(colon) => (true, cleaned.get(colon + 1..).unwrap_or_default()),
        None => (false, cleaned.as_str()),
    };

    let mut netloc = "";
    if let Some(after_slashes) = rest.strip_prefix("//") {
        let end = after_slashes
            .find(['/', '?', '#'])
            .unwrap_or(after_slashes.len());
        netloc = after_slashes.get(..end).unwrap_or(after_slashes);
        check_netloc_brackets(netloc)?;
    }
    if !netloc.is_ascii() && netloc.contains(NFKC_UNSAFE_NETLOC_CHARS) {
        return Err(format!(
            "netloc '{netloc}' contains invalid characters under NFKC normalization"
        ));
    }
    Ok(UrlSplit {
        has_scheme,
        has_netloc: !netloc.is_empty(),
    })
}

/// A URL scheme: an ASCII letter followed by letters, digits, `+`, `-`, `.`.
fn is_url_scheme(candidate: &str) -> bool {
    let mut bytes = candidate.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// `urlsplit`'s bracket rules: brackets must come in pairs, and the text
/// between the first `[` and the next `]` must be an IPv6 address or an
/// IPvFuture literal.
fn check_netloc_brackets(netloc: &str) -> Result<(), String> {
    let has_open = netloc.contains('[');
    let has_close = netloc.contains(']');
    if has_open != has_close {
        return Err("Invalid IPv6 URL".to_owned());
    }
    if !has_open {
        return Ok(());
    }
    let after_open = netloc.split_once('[').map_or("", |(_, after)| after);
    let host = after_open
        .split_once(']')
        .map_or(after_open, |(host, _)| host);
    check_bracketed_host(host)
}

/// CPython's `_check_bracketed_host`.
fn check_bracketed_host(host: &str) -> Result<(), String> {
    if let Some(future) = host.strip_prefix('v') {
        // \Av[a-fA-F0-9]+\..+\Z
        let hex_len = future.bytes().take_while(u8::is_ascii_hexdigit).count();
        let valid = hex_len > 0
            && future
                .get(hex_len..)
                .and_then(|tail| tail.strip_prefix('.'))
                .is_some_and(|tail| !tail.is_empty() && !tail.contains('\n'));
        return if valid {
            Ok(())
        } else {
            Err("IPvFuture address is invalid".to_owned())
        };
    }
    if is_py_ipv4(host) {
        return Err("An IPv4 address cannot be in brackets".to_owned());
    }
    if is_py_ipv6(host) {
        return Ok(());
    }
    Err(format!(
        "{} does not appear to be an IPv4 or IPv6 address",
        py_str_repr(host)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn url_examples_from_awx() {
        assert_eq!(
            validate_url("foo.com"),
            Err("Invalid URL: Missing url scheme (http, https, etc.)".to_owned())
        );
        assert_eq!(
            validate_url("https://[dead:beef"),
            Err("Invalid IPv6 URL".to_owned())
        );
        assert_eq!(
            validate_url("http:domain:8080"),
            Err("Invalid URL: http:domain:8080".to_owned())
        );
        assert_eq!(
            validate_url("http:/domain:8080"),
            Err("Invalid URL: http:/domain:8080".to_owned())
        );
        for ok in [
            "",
            "http://foo.com",
            "https://vault.example.com:8200",
            "https://k8s.example.com",
            "https://[::1]:8200/v1",
            "https://[fe80::1%25eth0]",
            "https://[v1.fe]",
            "  HTTPS://example.com",
            "ht\ttp://example.com",
            "git+ssh://host/repo",
        ] {
            assert_eq!(validate_url(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn url_edge_cases_follow_urlsplit() {
        let err = |value: &str| validate_url(value).err().unwrap_or_default();
        assert_eq!(err("http://"), "Invalid URL: http://");
        assert_eq!(err("http:///path"), "Invalid URL: http:///path");
        assert_eq!(err("foo.com:8080"), "Invalid URL: foo.com:8080");
        assert_eq!(
            err("1http://x"),
            "Invalid URL: Missing url scheme (http, https, etc.)"
        );
        assert_eq!(
            err("//host/path"),
            "Invalid URL: Missing url scheme (http, https, etc.)"
        );
        assert_eq!(err("//[host"), "Invalid IPv6 URL");
        assert_eq!(err("http://host]"), "Invalid IPv6 URL");
        assert_eq!(
            err("https://[dead:beef]"),
            "'dead:beef' does not appear to be an IPv4 or IPv6 address"
        );
        assert_eq!(
            err("https://[1.2.3.4]"),
            "An IPv4 address cannot be in brackets"
        );
        assert_eq!(err("https://[vz]"), "IPvFuture address is invalid");
        assert_eq!(
            err("https://[a'b]"),
            "\"a'b\" does not appear to be an IPv4 or IPv6 address"
        );
        assert_eq!(
            err("https://[\u{a0}\u{b}é]"),
            "'\\xa0\\x0bé' does not appear to be an IPv4 or IPv6 address"
        );
        assert_eq!(
            err("https://a\u{ff20}b"),
            "netloc 'a\u{ff20}b' contains invalid characters under NFKC normalization"
        );
        // Only the netloc is checked; paths may hold anything.
        assert_eq!(validate_url("https://host/[x"), Ok(()));
    }

    proptest! {
        #[test]
        fn url_like_input_never_panics(
            scheme in "[a-z0-9+.-]{0,5}",
            sep in prop_oneof![Just(""), Just(":"), Just("://"), Just(":/")],
            host in "[\\[\\]:.%a-fv0-9\u{ff20}\u{a0}/?#@ ]{0,16}",
        ) {
            let _ = validate_url(&format!("{scheme}{sep}{host}"));
        }
    }
}
