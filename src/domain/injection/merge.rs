//! Several credentials for one job: AWX allows at most one credential of each type,
//! except Vault credentials with distinct vault ids (`Credential.unique_hash`), and
//! refuses a launch that breaks the rule with `Cannot assign multiple <type> credentials.`

use super::Rendered;
use std::collections::HashSet;

/// Which job slot a credential takes, as AWX's `unique_hash` tells them apart.
pub struct Slot<'a> {
    pub type_id: i64,
    pub type_name: &'a str,
    pub kind: &'a str,
    /// The vault id of a Vault credential, when it has one.
    pub vault_id: Option<&'a str>,
}

/// Two credentials that a job cannot take together; the message is AWX's.
#[derive(Debug, thiserror::Error)]
#[error("Cannot assign multiple {0} credentials.")]
pub struct Conflict(pub String);

impl Slot<'_> {
    fn hash(&self) -> String {
        match self.vault_id.filter(|_| self.kind == "vault") {
            Some(id) => format!("{}_{id}", self.type_id),
            None => self.type_id.to_string(),
        }
    }

    fn display(&self) -> String {
        match self.vault_id.filter(|_| self.kind == "vault") {
            Some(id) => format!("{} (id={id})", self.type_name),
            None => self.type_name.to_string(),
        }
    }
}

/// The first conflict among `slots`, in the order given.
pub fn check_distinct(slots: &[Slot<'_>]) -> Result<(), Conflict> {
    let mut seen = HashSet::new();
    for slot in slots {
        if !seen.insert(slot.hash()) {
            return Err(Conflict(slot.display()));
        }
    }
    Ok(())
}

/// One job's view of several rendered credentials, in the order given: env and extra
/// vars laid over each other (later wins, as AWX's `env.update`), files and arguments
/// side by side (the Machine credential's arguments first, as `build_args` puts them),
/// and one answer per prompt (the first credential that answers it).
pub fn merge(parts: Vec<(bool, Rendered)>) -> Rendered {
    let mut out = Rendered::default();
    let (machine, others): (Vec<_>, Vec<_>) = parts.into_iter().partition(|(m, _)| *m);
    for (_, mut part) in machine.into_iter().chain(others) {
        out.env.extend(std::mem::take(&mut part.env));
        out.extra_vars.extend(std::mem::take(&mut part.extra_vars));
        out.safe_overrides
            .extend(std::mem::take(&mut part.safe_overrides));
        out.files.append(&mut part.files);
        out.args.append(&mut part.args);
        for prompt in part.passwords.drain(..) {
            if !out.passwords.iter().any(|p| p.prompt == prompt.prompt) {
                out.passwords.push(prompt);
            }
        }
    }
    out.mask_env();
    out
}
