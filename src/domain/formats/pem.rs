//! PEM framing and body decoding as AWX's `validate_pem` sees them: its regular expression
//! matched by hand (dash counts, lazy labels, DOTALL bodies), RFC 1421 header lines skipped,
//! and Python's lenient `base64.b64decode`.
//!
//! Apart because it reproduces Python's regex and base64 semantics, which a reader of the key
//! rules does not need to follow.

/// One `-----BEGIN X----- ... -----END X-----` object found at the start of
/// the remaining text.
pub(super) struct PemBlock<'a> {
    /// The `X` of `BEGIN X` (upper-case letters and spaces).
    pub(super) label: &'a str,
    /// Everything between the BEGIN and END lines (minus surrounding blanks).
    pub(super) body: &'a str,
    /// The text after the END line (a single final newline removed).
    pub(super) next: &'a str,
}

/// Python's `str.isspace`: Unicode `White_Space` plus the ASCII information
/// separators U+001C..U+001F. Used wherever AWX strips or skips whitespace.
pub(super) fn is_py_space(c: char) -> bool {
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
pub(super) fn match_pem_block(s: &str) -> Option<PemBlock<'_>> {
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

/// Python's `re.match(r'^(.+?):\s*?(.+?)(\\??)$', line)` on a stripped line:
/// a colon that is neither the first nor the last character.
fn is_pem_header_line(line: &str) -> bool {
    line.char_indices()
        .any(|(i, c)| c == ':' && i > 0 && i + 1 < line.len())
}

/// Drops RFC 1421 header lines (`Proc-Type: ...`, with `\` continuations)
/// and blank lines, then base64-decodes the rest. `None` when the data does
/// not decode or decodes to nothing.
pub(super) fn decode_pem_body(body: &str) -> Option<Vec<u8>> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
