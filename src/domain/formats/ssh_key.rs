//! Format `ssh_private_key`: a value of PEM blocks holding at least one private key of a
//! type AWX knows, optionally with certificates, and whether any key is passphrase-protected.
//!
//! Apart from the PEM framing (`pem`) because these are AWX's own rules on top of it: which
//! labels are keys, which are certificates, and how encryption shows.

use super::pem::{decode_pem_body, is_py_space, match_pem_block};

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

/// JSON escape of `=` that survives when GCE keys are pasted un-decoded.
const ESCAPED_EQUALS_SIGN: &str = "\\u003d";

/// Start of an unencrypted `openssh-key-v1` blob: the NUL-terminated magic,
/// then the cipher name as an SSH string (u32 big-endian length 4, `none`).
const OPENSSH_UNENCRYPTED_PREFIX: &[u8] = b"openssh-key-v1\0\0\0\0\x04none";

/// What a PEM label stands for.
enum PemKind {
    PrivateKey { openssh: bool },
    Certificate,
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Throw-away keys generated with ssh-keygen / openssl for these tests.
    const RSA: &str = include_str!("../testdata/rsa.pem");

    const RSA_ENC: &str = include_str!("../testdata/rsa_enc.pem");

    const DSA: &str = include_str!("../testdata/dsa.pem");

    const DSA_ENC: &str = include_str!("../testdata/dsa_enc.pem");

    const EC: &str = include_str!("../testdata/ec.pem");

    const EC_ENC: &str = include_str!("../testdata/ec_enc.pem");

    const ED25519: &str = include_str!("../testdata/ed25519.pem");

    const ED25519_ENC: &str = include_str!("../testdata/ed25519_enc.pem");

    const PKCS8: &str = include_str!("../testdata/pkcs8.pem");

    const PKCS8_ENC: &str = include_str!("../testdata/pkcs8_enc.pem");

    const CERT: &str = include_str!("../testdata/cert.pem");

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
        fn pem_like_input_never_panics(value in pem_like()) {
            let _ = validate_ssh_private_key(&value);
        }
    }
}
