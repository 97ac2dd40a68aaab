//! IP address literals as Python's `ipaddress` accepts them, for the bracketed hosts of
//! URLs.
//!
//! Apart from the URL splitting because these are a different Python module's rules.

/// `ipaddress.IPv4Address` acceptance: four decimal octets, at most three
/// ASCII digits each, no leading zeros, each at most 255.
pub(super) fn is_py_ipv4(text: &str) -> bool {
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
pub(super) fn is_py_ipv6(text: &str) -> bool {
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
}
