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
//!
//! One file per format family: `ssh_key` (over the PEM framing in `pem`), `url` (over the
//! IP literal rules in `ip`) and `vault_id`.

mod ip;
mod pem;
mod ssh_key;
mod url;
mod vault_id;

pub use ssh_key::{validate_ssh_private_key, PrivateKeyInfo};
pub use url::validate_url;
pub use vault_id::validate_vault_id;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn validators_never_panic(value in any::<String>()) {
            let _ = validate_ssh_private_key(&value);
            let _ = validate_url(&value);
            let _ = validate_vault_id(&value);
        }
    }
}
