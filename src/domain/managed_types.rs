//! The managed credential types as data: AWX 24.6.1's 30, plus the GitHub App lookup of
//! awx-plugins-core 0.2.0a0 (docs/decisions.md). The definitions (ids, labels, help texts, flags,
//! `required`, external `metadata`, injectors) are embedded from `data/managed_types.json`
//! and synchronised into the database at every start.

use serde::Deserialize;
use serde_json::Value;

/// One built-in type as shipped with the binary.
#[derive(Debug, Clone, Deserialize)]
pub struct ManagedType {
    pub name: String,
    pub description: String,
    pub kind: String,
    pub namespace: String,
    pub inputs: Value,
    pub injectors: Value,
}

const DATA: &str = include_str!("data/managed_types.json");

/// All managed types. The data is compiled in and covered by tests, so a parse failure
/// can only be a build defect; it yields an empty list rather than a panic.
pub fn managed_types() -> Vec<ManagedType> {
    serde_json::from_str(DATA).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn awx_thirty_namespaces_and_the_github_app_lookup() {
        let got: BTreeSet<String> = managed_types().into_iter().map(|t| t.namespace).collect();
        let want: BTreeSet<String> = "aim aws aws_secretsmanager_credential azure_kv azure_rm \
            bitbucket_dc_token centrify_vault_kv conjur controller galaxy_api_token gce \
            github_app_lookup github_token gitlab_token gpg_public_key hashivault_kv hashivault_ssh insights \
            kubernetes_bearer_token net openstack registry rhv satellite6 scm ssh terraform \
            thycotic_dsv thycotic_tss vault vmware"
            .split_whitespace()
            .map(str::to_string)
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn external_types_carry_metadata() {
        for t in managed_types().iter().filter(|t| t.kind == "external") {
            assert!(t.inputs.get("metadata").is_some(), "{}", t.namespace);
        }
    }
}
