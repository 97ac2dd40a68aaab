//! Validators for the `format` values of credential input fields:
//! `ssh_private_key`, `url` and `vault_id`.
//!
//! AWX implements these checks with a Python regular expression plus
//! `base64.b64decode` (PEM data) and with `urllib.parse.urlparse` (URLs).
//! Clients match on the resulting messages, so this module reproduces the
//! observable behaviour of those Python routines by hand, including their
//! whitespace, base64-padding and IPv6-literal rules, and returns the very
//! same message strings. Everything here is pure (no I/O) and never panics,
//! whatever the input.

use super::python::py_str_repr;

/// What validating an `ssh_private_key` value found out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PrivateKeyInfo {
    /// True when at least one private key of the value is protected by a
    /// passphrase. The credential rules need it to demand (or forbid)
    /// `ssh_key_unlock`.
    pub encrypted: bool,
}

/// Validates a PEM private key (format `ssh_private_key`). Err = the AWX message.
///
/// The value must be a sequence of PEM blocks holding at least one private
/// key, optionally followed by certificates, exactly as AWX's `validate_pem`
/// accepts them; the literal escape `\u003d` is read as `=` first (AWX does so
/// for JSON-escaped keys pasted from GCE). An empty value is accepted as "no
/// key", mirroring the format checker, which skips empty values. The
/// `$encrypted$` placeholder is *not* special here: callers substitute the
/// stored key before validating.
///
/// One deliberate difference: bodies that Python's decoder rejects with an
/// exception AWX does not catch (bad padding, non-ASCII text; a 500 there)
/// get `Invalid base64-encoded data` here.
pub fn validate_ssh_private_key(text: &str) -> Result<PrivateKeyInfo, String> {
    if text.is_empty() {
        return Ok(PrivateKeyInfo::default());
    }
    let unescaped = text.replace(ESCAPED_EQUALS_SIGN, "=");
    let mut rest = unescaped.trim_start_matches(is_py_space);
    let mut key_count = 0_usize;
    let mut encrypted = false;
    while !rest.is_empty() {
        let Some(block) = match_pem_block(rest) else {
            let preview: String = rest.chars().take(100).collect();
            return Err(format!("Invalid certificate or key: {preview}..."));
        };
        rest = block.next.trim_start_matches(is_py_space);
        let kind = classify_pem_label(block.label)?;
        let decoded =
            decode_pem_body(block.body).ok_or_else(|| "Invalid base64-encoded data".to_owned())?;
        match kind {
            PemKind::Certificate => {}
            PemKind::PrivateKey { openssh } => {
                key_count += 1;
                let this_encrypted = if openssh {
                    !decoded.starts_with(OPENSSH_UNENCRYPTED_PREFIX)
                } else if block.label == "ENCRYPTED PRIVATE KEY" {
                    true
                } else {
                    block.body.contains("ENCRYPTED")
                };
                encrypted |= this_encrypted;
            }
        }
    }
    if key_count == 0 {
        return Err("At least one private key is required.".to_owned());
    }
    Ok(PrivateKeyInfo { encrypted })
}

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

/// Validates format `vault_id`. Err = the AWX message.
///
/// Ansible uses `@` to separate a vault id from its password source
/// (`--vault-id label@source`), so a label containing it would be ambiguous.
pub fn validate_vault_id(value: &str) -> Result<(), String> {
    if value.contains('@') {
        return Err("@ is not an allowed character".to_owned());
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// PEM parsing
// ---------------------------------------------------------------------------

/// JSON escape of `=` that survives when GCE keys are pasted un-decoded.
const ESCAPED_EQUALS_SIGN: &str = "\\u003d";

/// Start of an unencrypted `openssh-key-v1` blob: the NUL-terminated magic,
/// then the cipher name as an SSH string (u32 big-endian length 4, `none`).
const OPENSSH_UNENCRYPTED_PREFIX: &[u8] = b"openssh-key-v1\0\0\0\0\x04none";

/// One `-----BEGIN X----- ... -----END X-----` object found at the start of
/// the remaining text.
struct PemBlock<'a> {
    /// The `X` of `BEGIN X` (upper-case letters and spaces).
    label: &'a str,
    /// Everything between the BEGIN and END lines (minus surrounding blanks).
    body: &'a str,
    /// The text after the END line (a single final newline removed).
    next: &'a str,
}

/// What a PEM label stands for.
enum PemKind {
    PrivateKey { openssh: bool },
    Certificate,
}

/// Python's `str.isspace`: Unicode `White_Space` plus the ASCII information
/// separators U+001C..U+001F. Used wherever AWX strips or skips whitespace.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// The line boundaries of Python's `str.splitlines`.
fn is_py_line_boundary(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r'
            | '\u{0b}'
            | '\u{0c}'
            | '\u{1c}'
            | '\u{1d}'
            | '\u{1e}'
            | '\u{85}'
            | '\u{2028}'
            | '\u{2029}'
    )
}

/// Number of leading bytes of `bytes` equal to `byte`.
fn count_leading(bytes: &[u8], byte: u8) -> usize {
    bytes.iter().take_while(|b| **b == byte).count()
}

/// Matches one PEM object at the start of `s`, with the semantics of AWX's
/// pattern
/// `^(-{4,}) *BEGIN ([A-Z ]+?) *\1\s*(.+?)\s*\1 *END \2 *\1(.*?)$` (DOTALL):
/// the END line must repeat the BEGIN line's dash count and label, and the
/// body is the shortest non-empty text before the first such END line.
fn match_pem_block(s: &str) -> Option<PemBlock<'_>> {
    let bytes = s.as_bytes();
    let dashes = count_leading(bytes, b'-');
    if dashes < 4 {
        return None;
    }
    let mut pos = dashes;
    pos += count_leading(bytes.get(pos..)?, b' ');
    if !bytes.get(pos..)?.starts_with(b"BEGIN ") {
        return None;
    }
    pos += "BEGIN ".len();

    // The label is lazy, so trailing spaces go to ` *`; it keeps at least one
    // character even when the run is all spaces.
    let label_start = pos;
    let run = bytes
        .get(pos..)?
        .iter()
        .take_while(|b| b.is_ascii_uppercase() || **b == b' ')
        .count();
    if run == 0 {
        return None;
    }
    let run_text = s.get(label_start..label_start + run)?;
    let label_len = run_text.trim_end_matches(' ').len().max(1);
    let label = s.get(label_start..label_start + label_len)?;
    pos = label_start + run;
    if count_leading(bytes.get(pos..)?, b'-') < dashes {
        return None;
    }
    let header_end = pos + dashes;

    let after_header = s.get(header_end..)?;
    let data_start =
        header_end + (after_header.len() - after_header.trim_start_matches(is_py_space).len());
    let first_char_len = s.get(data_start..)?.chars().next()?.len_utf8();
    let min_body_end = data_start + first_char_len;

    let (body, end) = match find_end_marker(s, min_body_end, dashes, label) {
        Some((marker_start, end)) => {
            let before_marker = s.get(..marker_start)?;
            let body_end = before_marker
                .trim_end_matches(is_py_space)
                .len()
                .max(min_body_end);
            (s.get(data_start..body_end)?, end)
        }
        None if data_start > header_end => {
            // Empty body: the regex backtracks so that the body is the last
            // blank character before an END line that directly follows.
            let end = match_end_marker(s, data_start, dashes, label)?;
            let blanks = s.get(header_end..data_start)?;
            let last_len = blanks.chars().next_back()?.len_utf8();
            (s.get(data_start - last_len..data_start)?, end)
        }
        None => return None,
    };

    let tail = s.get(end..)?;
    let next = tail.strip_suffix('\n').unwrap_or(tail);
    Some(PemBlock { label, body, next })
}

/// Finds the first END line starting at or after `from`. Returns the marker's
/// start and end offsets.
///
/// An END marker starts with exactly `dashes` dashes followed by a space or
/// `E`, so within a run of dashes only the position `dashes` before the run's
/// end can start one; checking that position alone keeps the scan linear.
fn find_end_marker(s: &str, from: usize, dashes: usize, label: &str) -> Option<(usize, usize)> {
    let bytes = s.as_bytes();
    let mut pos = from;
    while let Some(tail) = bytes.get(pos..) {
        let skip = tail.iter().take_while(|b| **b != b'-').count();
        pos += skip;
        let run = count_leading(bytes.get(pos..)?, b'-');
        if run == 0 {
            return None;
        }
        if run >= dashes {
            let candidate = pos + run - dashes;
            if let Some(end) = match_end_marker(s, candidate, dashes, label) {
                return Some((candidate, end));
            }
        }
        pos += run;
    }
    None
}

/// Matches `-{dashes} *END <label> *-{dashes}` at byte offset `at`; returns
/// the offset just past it.
fn match_end_marker(s: &str, at: usize, dashes: usize, label: &str) -> Option<usize> {
    let bytes = s.as_bytes().get(at..)?;
    if count_leading(bytes, b'-') < dashes {
        return None;
    }
    let mut pos = dashes;
    pos += count_leading(bytes.get(pos..)?, b' ');
    if !bytes.get(pos..)?.starts_with(b"END ") {
        return None;
    }
    pos += "END ".len();
    if !bytes.get(pos..)?.starts_with(label.as_bytes()) {
        return None;
    }
    pos += label.len();
    pos += count_leading(bytes.get(pos..)?, b' ');
    if count_leading(bytes.get(pos..)?, b'-') < dashes {
        return None;
    }
    Some(at + pos + dashes)
}

/// Classifies a PEM label the way AWX does: anything ending in `PRIVATE KEY`
/// is a key whose algorithm prefix must be known, `CERTIFICATE` is a
/// certificate, everything else is rejected.
fn classify_pem_label(label: &str) -> Result<PemKind, String> {
    if label.ends_with("PRIVATE KEY") {
        let stripped = label
            .replace("ENCRYPTED PRIVATE KEY", "")
            .replace("PRIVATE KEY", "");
        match stripped.trim_matches(' ') {
            // An empty prefix is PKCS#8, plain or encrypted.
            "RSA" | "DSA" | "EC" | "" => Ok(PemKind::PrivateKey { openssh: false }),
            "OPENSSH" => Ok(PemKind::PrivateKey { openssh: true }),
            other => Err(format!("Invalid private key: unsupported type \"{other}\"")),
        }
    } else if label == "CERTIFICATE" {
        Ok(PemKind::Certificate)
    } else {
        Err(format!("Unsupported PEM object type: \"{label}\""))
    }
}

/// Python's `re.match(r'^(.+?):\s*?(.+?)(\\??)$', line)` on a stripped line:
/// a colon that is neither the first nor the last character.
fn is_pem_header_line(line: &str) -> bool {
    line.char_indices()
        .any(|(i, c)| c == ':' && i > 0 && i + 1 < line.len())
}

/// Drops RFC 1421 header lines (`Proc-Type: ...`, with `\` continuations)
/// and blank lines, then base64-decodes the rest. `None` when the data does
/// not decode or decodes to nothing.
fn decode_pem_body(body: &str) -> Option<Vec<u8>> {
    let mut base64_text = String::with_capacity(body.len());
    let mut continues = false;
    for line in body.split(is_py_line_boundary) {
        let line = line.trim_matches(is_py_space);
        if line.is_empty() {
            continue;
        }
        if continues || is_pem_header_line(line) {
            continues = line.ends_with('\\');
            continue;
        }
        base64_text.push_str(line);
    }
    py_b64decode(&base64_text).filter(|decoded| !decoded.is_empty())
}

/// The value of a character of the standard base64 alphabet.
fn base64_value(byte: u8) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Python's lenient `base64.b64decode` (no `validate=`): characters outside
/// the alphabet are ignored, a complete padding sequence ends the data, and
/// a dangling partial quantum is an error. Non-ASCII text is an error too.
fn py_b64decode(text: &str) -> Option<Vec<u8>> {
    if !text.is_ascii() {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 3);
    let mut quad_pos = 0_usize;
    let mut left = 0_u8;
    let mut pads = 0_usize;
    for &byte in text.as_bytes() {
        if byte == b'=' {
            if quad_pos >= 2 {
                pads += 1;
                if quad_pos + pads >= 4 {
                    return Some(out);
                }
            }
            continue;
        }
        let Some(value) = base64_value(byte) else {
            continue;
        };
        pads = 0;
        match quad_pos {
            0 => {
                left = value;
                quad_pos = 1;
            }
            1 => {
                out.push((left << 2) | (value >> 4));
                left = value & 0x0f;
                quad_pos = 2;
            }
            2 => {
                out.push((left << 4) | (value >> 2));
                left = value & 0x03;
                quad_pos = 3;
            }
            _ => {
                out.push((left << 6) | value);
                left = 0;
                quad_pos = 0;
            }
        }
    }
    (quad_pos == 0).then_some(out)
}

// ---------------------------------------------------------------------------
// URL parsing (CPython 3.11 `urllib.parse.urlsplit`)
// ---------------------------------------------------------------------------

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

/// `ipaddress.IPv4Address` acceptance: four decimal octets, at most three
/// ASCII digits each, no leading zeros, each at most 255.
fn is_py_ipv4(text: &str) -> bool {
    let octets: Vec<&str> = text.split('.').collect();
    octets.len() == 4
        && octets.iter().all(|octet| {
            !octet.is_empty()
                && octet.len() <= 3
                && octet.bytes().all(|b| b.is_ascii_digit())
                && (*octet == "0" || !octet.starts_with('0'))
                && octet.parse::<u16>().is_ok_and(|n| n <= 255)
        })
}

/// `ipaddress.IPv6Address` acceptance, including an optional `%scope` suffix
/// and an embedded IPv4 tail.
fn is_py_ipv6(text: &str) -> bool {
    if text.contains('/') {
        return false;
    }
    let address = match text.split_once('%') {
        None => text,
        Some((address, scope)) if !scope.is_empty() && !scope.contains('%') => address,
        Some(_) => return false,
    };
    if address.is_empty() {
        return false;
    }
    let mut parts: Vec<&str> = address.split(':').collect();
    if parts.len() < 3 {
        return false;
    }
    if parts.last().is_some_and(|last| last.contains('.')) {
        // The IPv4 tail stands for two hextets; only its validity matters.
        if !parts.pop().is_some_and(is_py_ipv4) {
            return false;
        }
        parts.extend(["0", "0"]);
    }
    if parts.len() > 9 {
        return false;
    }
    let count = parts.len();
    let inner_empty: Vec<usize> = (1..count.saturating_sub(1))
        .filter(|&i| parts.get(i).is_some_and(|p| p.is_empty()))
        .collect();
    let first_empty = parts.first().is_some_and(|p| p.is_empty());
    let last_empty = parts.last().is_some_and(|p| p.is_empty());
    let (hi, lo) = match inner_empty.as_slice() {
        [] => {
            if count != 8 {
                return false;
            }
            (count, 0)
        }
        [skip] => {
            let mut hi = *skip;
            let mut lo = count - skip - 1;
            if first_empty {
                hi -= 1;
                if hi != 0 {
                    return false;
                }
            }
            if last_empty {
                lo -= 1;
                if lo != 0 {
                    return false;
                }
            }
            if hi + lo >= 8 {
                return false;
            }
            (hi, lo)
        }
        _ => return false,
    };
    let is_hextet = |part: &&str| {
        !part.is_empty() && part.len() <= 4 && part.bytes().all(|b| b.is_ascii_hexdigit())
    };
    parts.iter().take(hi).all(is_hextet) && parts.iter().skip(count - lo).all(is_hextet)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Throw-away keys generated with ssh-keygen / openssl for these tests.
    const RSA: &str = include_str!("testdata/rsa.pem");
    const RSA_ENC: &str = include_str!("testdata/rsa_enc.pem");
    const DSA: &str = include_str!("testdata/dsa.pem");
    const DSA_ENC: &str = include_str!("testdata/dsa_enc.pem");
    const EC: &str = include_str!("testdata/ec.pem");
    const EC_ENC: &str = include_str!("testdata/ec_enc.pem");
    const ED25519: &str = include_str!("testdata/ed25519.pem");
    const ED25519_ENC: &str = include_str!("testdata/ed25519_enc.pem");
    const PKCS8: &str = include_str!("testdata/pkcs8.pem");
    const PKCS8_ENC: &str = include_str!("testdata/pkcs8_enc.pem");
    const CERT: &str = include_str!("testdata/cert.pem");

    fn encrypted(text: &str) -> bool {
        match validate_ssh_private_key(text) {
            Ok(info) => info.encrypted,
            Err(message) => panic!("key rejected: {message}"),
        }
    }

    fn key_error(text: &str) -> String {
        match validate_ssh_private_key(text) {
            Ok(info) => panic!("key accepted: {info:?}"),
            Err(message) => message,
        }
    }

    #[test]
    fn fixtures_have_the_expected_labels() {
        assert!(RSA_ENC.starts_with("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED"));
        assert!(DSA.starts_with("-----BEGIN DSA PRIVATE KEY-----"));
        assert!(EC_ENC.starts_with("-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED"));
        assert!(ED25519_ENC.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
        assert!(PKCS8.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(PKCS8_ENC.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
        assert!(CERT.starts_with("-----BEGIN CERTIFICATE-----"));
    }

    #[test]
    fn unencrypted_keys_of_every_type_are_accepted() {
        for key in [RSA, DSA, EC, ED25519, PKCS8] {
            assert!(!encrypted(key), "{key}");
        }
    }

    #[test]
    fn encrypted_keys_of_every_type_are_detected() {
        for key in [RSA_ENC, DSA_ENC, EC_ENC, ED25519_ENC, PKCS8_ENC] {
            assert!(encrypted(key), "{key}");
        }
    }

    #[test]
    fn key_followed_by_certificate_is_accepted() {
        assert!(!encrypted(&format!("{RSA}{CERT}")));
        assert!(!encrypted(&format!("{PKCS8}\n\n  {CERT}\n")));
        assert!(encrypted(&format!("{ED25519_ENC}{CERT}")));
        // AWX does not enforce the order.
        assert!(!encrypted(&format!("{CERT}{EC}")));
    }

    #[test]
    fn any_encrypted_key_makes_the_value_encrypted() {
        assert!(encrypted(&format!("{RSA}{PKCS8_ENC}")));
        assert!(!encrypted(&format!("{RSA}{ED25519}")));
    }

    #[test]
    fn certificate_alone_is_not_enough() {
        assert_eq!(key_error(CERT), "At least one private key is required.");
        assert_eq!(
            key_error(&format!("{CERT}{CERT}")),
            "At least one private key is required."
        );
        assert_eq!(key_error(" \n\t"), "At least one private key is required.");
    }

    #[test]
    fn empty_value_is_not_checked() {
        assert_eq!(validate_ssh_private_key(""), Ok(PrivateKeyInfo::default()));
    }

    #[test]
    fn unknown_pem_types_are_rejected() {
        assert_eq!(
            key_error("-----BEGIN FOO-----\nQUFB\n-----END FOO-----\n"),
            "Unsupported PEM object type: \"FOO\""
        );
        assert_eq!(
            key_error("-----BEGIN PUBLIC KEY-----\nQUFB\n-----END PUBLIC KEY-----"),
            "Unsupported PEM object type: \"PUBLIC KEY\""
        );
        assert_eq!(
            key_error("-----BEGIN FOO PRIVATE KEY-----\nQUFB\n-----END FOO PRIVATE KEY-----"),
            "Invalid private key: unsupported type \"FOO\""
        );
        // The type check comes before the base64 check.
        assert_eq!(
            key_error("-----BEGIN FOO-----\n!!!!\n-----END FOO-----"),
            "Unsupported PEM object type: \"FOO\""
        );
    }

    #[test]
    fn bad_base64_is_rejected() {
        for body in ["!!!!", "QQ", "QUFBQ", "QQ=", "é"] {
            let pem =
                format!("-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----");
            assert_eq!(key_error(&pem), "Invalid base64-encoded data", "{body}");
        }
        // An empty body decodes to nothing.
        assert_eq!(
            key_error("-----BEGIN RSA PRIVATE KEY-----\n-----END RSA PRIVATE KEY-----"),
            "Invalid base64-encoded data"
        );
        assert_eq!(
            key_error("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n-----END RSA PRIVATE KEY-----"),
            "Invalid base64-encoded data"
        );
    }

    #[test]
    fn base64_is_decoded_leniently_like_python() {
        assert_eq!(py_b64decode("QUFB"), Some(b"AAA".to_vec()));
        assert_eq!(py_b64decode("QQ=="), Some(b"A".to_vec()));
        assert_eq!(py_b64decode("QQ==trailing"), Some(b"A".to_vec()));
        assert_eq!(py_b64decode("Q!U$F B"), Some(b"AAA".to_vec()));
        assert_eq!(py_b64decode("QUE="), Some(b"AA".to_vec()));
        assert_eq!(py_b64decode("QQ="), None);
        assert_eq!(py_b64decode("Q"), None);
        assert_eq!(py_b64decode(""), Some(Vec::new()));
    }

    #[test]
    fn garbage_is_quoted_in_the_message() {
        assert_eq!(
            key_error("invalid-key-text"),
            "Invalid certificate or key: invalid-key-text..."
        );
        assert_eq!(
            key_error("  \n invalid-key-text"),
            "Invalid certificate or key: invalid-key-text..."
        );
        let long = "x".repeat(150);
        assert_eq!(
            key_error(&long),
            format!("Invalid certificate or key: {}...", "x".repeat(100))
        );
        // 100 characters, not bytes.
        let wide = "é".repeat(120);
        assert_eq!(
            key_error(&wide),
            format!("Invalid certificate or key: {}...", "é".repeat(100))
        );
    }

    #[test]
    fn trailing_garbage_is_reported_after_a_valid_block() {
        assert_eq!(
            key_error(&format!("{RSA}garbage\n")),
            "Invalid certificate or key: garbage..."
        );
        let unterminated = "-----BEGIN RSA PRIVATE KEY-----\nQUFB\n";
        assert_eq!(
            key_error(&format!("{EC}\n{unterminated}")),
            format!("Invalid certificate or key: {}...", unterminated.trim_end())
        );
    }

    #[test]
    fn escaped_equals_sign_is_unescaped_first() {
        assert!(EC.contains("=="));
        assert!(!encrypted(&EC.replace('=', "\\u003d")));
        assert_eq!(key_error("a\\u003db"), "Invalid certificate or key: a=b...");
        let body =
            "-----BEGIN RSA PRIVATE KEY-----\nQQ\\u003d\\u003d\n-----END RSA PRIVATE KEY-----";
        assert!(!encrypted(body));
    }

    #[test]
    fn pem_framing_follows_awx() {
        // Four dashes are enough, but BEGIN and END must agree.
        assert!(!encrypted(
            "----BEGIN RSA PRIVATE KEY----\nQUFB\n----END RSA PRIVATE KEY----"
        ));
        assert!(!encrypted(
            "-----BEGIN RSA PRIVATE KEY-----QUFB-----END RSA PRIVATE KEY-----"
        ));
        assert!(!encrypted(
            "-----  BEGIN RSA PRIVATE KEY  -----\r\nQU\r\n FB \r\n----- END RSA PRIVATE KEY -----\r\n"
        ));
        assert_eq!(
            key_error("---BEGIN RSA PRIVATE KEY---\nQUFB\n---END RSA PRIVATE KEY---"),
            "Invalid certificate or key: ---BEGIN RSA PRIVATE KEY---\nQUFB\n---END RSA PRIVATE KEY---..."
        );
        assert_eq!(
            key_error("-----BEGIN RSA PRIVATE KEY-----\nQUFB\n-----END EC PRIVATE KEY-----"),
            "Invalid certificate or key: -----BEGIN RSA PRIVATE KEY-----\nQUFB\n-----END EC PRIVATE KEY-----..."
        );
        assert!(
            key_error("-----BEGIN rsa PRIVATE KEY-----\nQUFB\n-----END rsa PRIVATE KEY-----")
                .starts_with("Invalid certificate or key: ")
        );
        // Extra dashes on the END line spill over into the next block.
        assert_eq!(
            key_error("-----BEGIN RSA PRIVATE KEY-----\nQUFB\n-----END RSA PRIVATE KEY------"),
            "Invalid certificate or key: -..."
        );
    }

    #[test]
    fn pem_header_lines_are_skipped() {
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nComment: first \\\n  continued\\\n  again\nQUFB\n-----END RSA PRIVATE KEY-----";
        assert!(!encrypted(pem));
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nQUFB\n-----END RSA PRIVATE KEY-----";
        assert!(encrypted(pem));
    }

    #[test]
    fn openssh_encryption_comes_from_the_cipher_name() {
        use base64::Engine as _;
        let encode = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        let wrap = |body: &str| {
            format!(
                "-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----\n"
            )
        };
        let plain = encode(b"openssh-key-v1\0\0\0\0\x04none\0\0\0\x04none");
        let aes = encode(b"openssh-key-v1\0\0\0\0\x0aaes256-ctr");
        let other = encode(b"not an openssh key");
        assert!(!encrypted(&wrap(&plain)));
        assert!(encrypted(&wrap(&aes)));
        assert!(encrypted(&wrap(&other)));
        // A Proc-Type header does not matter for OpenSSH keys.
        assert!(!encrypted(&wrap(&format!(
            "Proc-Type: 4,ENCRYPTED\n{plain}"
        ))));
    }

    #[test]
    fn key_type_prefixes_follow_awx() {
        let pem = |label: &str| format!("-----BEGIN {label}-----\nQUFB\n-----END {label}-----");
        assert!(!encrypted(&pem("RSA PRIVATE KEY")));
        assert!(encrypted(&pem("ENCRYPTED PRIVATE KEY")));
        assert_eq!(
            key_error(&pem("ENCRYPTED RSA PRIVATE KEY")),
            "Invalid private key: unsupported type \"ENCRYPTED RSA\""
        );
        assert_eq!(
            key_error(&pem("SSH2 PRIVATE KEY")),
            "Invalid certificate or key: -----BEGIN SSH2 PRIVATE KEY-----\nQUFB\n-----END SSH2 PRIVATE KEY-----..."
        );
    }

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

    #[test]
    fn ip_literals_follow_python_ipaddress() {
        for ok in ["1.2.3.4", "0.0.0.0", "255.255.255.255"] {
            assert!(is_py_ipv4(ok), "{ok}");
        }
        for bad in [
            "1.2.3",
            "01.2.3.4",
            "256.1.1.1",
            "1.2.3.4.5",
            "1..3.4",
            "+1.2.3.4",
        ] {
            assert!(!is_py_ipv4(bad), "{bad}");
        }
        for ok in [
            "::",
            "::1",
            "1::",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "::ffff:1.2.3.4",
            "1:2:3:4:5:6:1.2.3.4",
            "fe80::1%eth0",
        ] {
            assert!(is_py_ipv6(ok), "{ok}");
        }
        for bad in [
            "",
            ":",
            "1:2",
            ":1::",
            "1:::2",
            "1::2::3",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7::8",
            "12345::",
            "g::",
            "::1%",
            "::1%a%b",
            "::1/64",
            "::01.2.3.4",
            "1:2:3:4:5:6:7:1.2.3.4",
        ] {
            assert!(!is_py_ipv6(bad), "{bad}");
        }
    }

    #[test]
    fn vault_id_rejects_at_sign() {
        assert_eq!(validate_vault_id(""), Ok(()));
        assert_eq!(validate_vault_id("prod"), Ok(()));
        assert_eq!(
            validate_vault_id("prod@prompt"),
            Err("@ is not an allowed character".to_owned())
        );
    }

    /// Strings assembled from PEM-ish fragments, to reach deep parser paths.
    fn pem_like() -> impl Strategy<Value = String> {
        let fragment = prop_oneof![
            Just("-----".to_owned()),
            Just("----".to_owned()),
            Just("BEGIN ".to_owned()),
            Just("END ".to_owned()),
            Just("RSA PRIVATE KEY".to_owned()),
            Just("OPENSSH PRIVATE KEY".to_owned()),
            Just("CERTIFICATE".to_owned()),
            Just("Proc-Type: 4,ENCRYPTED\\".to_owned()),
            Just("\\u003d".to_owned()),
            Just("QUFB".to_owned()),
            Just("=".to_owned()),
            Just("\n".to_owned()),
            Just("\r\n".to_owned()),
            Just(" ".to_owned()),
            any::<char>().prop_map(String::from),
        ];
        proptest::collection::vec(fragment, 0..40).prop_map(|parts| parts.concat())
    }

    proptest! {
        #[test]
        fn validators_never_panic(value in any::<String>()) {
            let _ = validate_ssh_private_key(&value);
            let _ = validate_url(&value);
            let _ = validate_vault_id(&value);
        }

        #[test]
        fn pem_like_input_never_panics(value in pem_like()) {
            let _ = validate_ssh_private_key(&value);
        }

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
