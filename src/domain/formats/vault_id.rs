//! Format `vault_id`: the one character Ansible's `--vault-id` syntax reserves. A file of its
//! own so that every format's rule is found under the format's name.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_id_rejects_at_sign() {
        assert_eq!(validate_vault_id(""), Ok(()));
        assert_eq!(validate_vault_id("prod"), Ok(()));
        assert_eq!(
            validate_vault_id("prod@prompt"),
            Err("@ is not an allowed character".to_owned())
        );
    }
}
