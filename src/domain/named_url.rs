//! AWX's named URLs: an object's natural key in place of its id, e.g.
//! `/api/v2/credentials/prod-ssh++Machine+ssh++Default/`. Fields are joined by `+`,
//! related objects by `++`, and a literal `+` inside a value is written `[+]`.

/// A parsed natural key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NaturalKey {
    /// `name++type_name+type_kind++organization_name` (organization may be empty).
    Credential {
        name: String,
        type_name: String,
        type_kind: String,
        organization: String,
    },
    /// `name+kind`.
    CredentialType { name: String, kind: String },
    /// `name`.
    Organization { name: String },
    /// `name++organization_name`.
    Team { name: String, organization: String },
    /// `username`.
    User { username: String },
}

/// Which resource a path segment names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamedKind {
    Credential,
    CredentialType,
    Organization,
    Team,
    User,
}

impl NamedKind {
    /// The content type its roles and activity entries name it by.
    pub fn content_type(self) -> &'static str {
        match self {
            NamedKind::Credential => "credential",
            NamedKind::CredentialType => "credential_type",
            NamedKind::Organization => "organization",
            NamedKind::Team => "team",
            NamedKind::User => "user",
        }
    }
}

const ESCAPED_PLUS: &str = "[+]";
const PLACEHOLDER: char = '\u{0}';

/// Splits on `sep`, leaving escaped `+` as a placeholder until `restore`.
fn split_raw(s: &str, sep: &str) -> Vec<String> {
    s.split(sep).map(str::to_string).collect()
}

fn restore(s: &str) -> String {
    s.replace(PLACEHOLDER, "+")
}

/// Escapes a value for use inside a named URL.
pub fn escape(value: &str) -> String {
    value.replace('+', ESCAPED_PLUS)
}

/// Parses a path segment as a natural key of `kind`; `None` when it has the wrong shape.
pub fn parse(kind: NamedKind, segment: &str) -> Option<NaturalKey> {
    if segment.is_empty() || segment.contains(PLACEHOLDER) {
        return None;
    }
    let s = segment.replace(ESCAPED_PLUS, &PLACEHOLDER.to_string());
    match kind {
        NamedKind::Credential => {
            let parts = split_raw(&s, "++");
            let [name, ty, org] = parts.as_slice() else {
                return None;
            };
            let type_parts = split_raw(ty, "+");
            let [type_name, type_kind] = type_parts.as_slice() else {
                return None;
            };
            Some(NaturalKey::Credential {
                name: restore(name),
                type_name: restore(type_name),
                type_kind: restore(type_kind),
                organization: restore(org),
            })
        }
        NamedKind::CredentialType => {
            let parts = split_raw(&s, "+");
            let [name, kind] = parts.as_slice() else {
                return None;
            };
            Some(NaturalKey::CredentialType {
                name: restore(name),
                kind: restore(kind),
            })
        }
        NamedKind::Team => {
            let parts = split_raw(&s, "++");
            let [name, org] = parts.as_slice() else {
                return None;
            };
            Some(NaturalKey::Team {
                name: restore(name),
                organization: restore(org),
            })
        }
        NamedKind::Organization => {
            (!s.contains('+')).then(|| NaturalKey::Organization { name: restore(&s) })
        }
        NamedKind::User => Some(NaturalKey::User {
            username: segment.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn credential_keys() {
        assert_eq!(
            parse(NamedKind::Credential, "test_cred++Machine+ssh++"),
            Some(NaturalKey::Credential {
                name: "test_cred".into(),
                type_name: "Machine".into(),
                type_kind: "ssh".into(),
                organization: String::new()
            })
        );
        assert!(parse(NamedKind::Credential, "only-a-name").is_none());
    }

    #[test]
    fn type_and_team_keys_with_escaped_plus() {
        assert_eq!(
            parse(NamedKind::CredentialType, "Machine+ssh"),
            Some(NaturalKey::CredentialType {
                name: "Machine".into(),
                kind: "ssh".into()
            })
        );
        assert_eq!(
            parse(NamedKind::CredentialType, "a[+]b+cloud"),
            Some(NaturalKey::CredentialType {
                name: "a+b".into(),
                kind: "cloud".into()
            })
        );
        assert_eq!(
            parse(NamedKind::Team, "t++o"),
            Some(NaturalKey::Team {
                name: "t".into(),
                organization: "o".into()
            })
        );
        assert_eq!(escape("a+b"), "a[+]b");
    }

    proptest! {
        #[test]
        fn never_panics(s in ".{0,40}") {
            for kind in [NamedKind::Credential, NamedKind::CredentialType, NamedKind::Organization, NamedKind::Team, NamedKind::User] {
                let _ = parse(kind, &s);
            }
        }

        #[test]
        fn type_keys_round_trip(name in "[a-zA-Z +]{1,12}", kind in "[a-z]{1,8}") {
            let segment = format!("{}+{}", escape(&name), kind);
            prop_assert_eq!(parse(NamedKind::CredentialType, &segment), Some(NaturalKey::CredentialType { name, kind }));
        }
    }
}
