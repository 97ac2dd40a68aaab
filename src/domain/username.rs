//! What a user name may be: AWX's (Django's) rule, 150 characters of letters, digits and
//! `@ . + - _`.

/// Django's limit on `username`.
pub const MAX_USERNAME_CHARS: usize = 150;

/// Checks a user name; the error is AWX's message for the field.
pub fn check_username(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("This field may not be blank.");
    }
    if name.chars().count() > MAX_USERNAME_CHARS {
        return Err("Ensure this field has no more than 150 characters.");
    }
    let allowed = |c: char| c.is_alphanumeric() || "@.+-_".contains(c);
    if !name.chars().all(allowed) {
        return Err("Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn awx_names_pass_and_others_do_not() {
        for ok in ["admin", "ann.lee@example.com", "r2-d2_+x", "Zoë"] {
            assert_eq!(check_username(ok), Ok(()), "{ok}");
        }
        for bad in ["", "a b", "nul\0", "semi;colon", "slash/"] {
            assert!(check_username(bad).is_err(), "{bad:?}");
        }
        assert!(check_username(&"a".repeat(150)).is_ok());
        assert!(check_username(&"a".repeat(151)).is_err());
    }

    proptest! {
        #[test]
        fn a_name_with_a_control_character_never_passes(prefix in "[a-z]{0,8}", c in 0u32..32) {
            let name = format!("{prefix}{}", char::from_u32(c).unwrap_or('\0'));
            prop_assert!(check_username(&name).is_err());
        }
    }
}
