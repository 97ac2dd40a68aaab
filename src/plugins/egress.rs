//! Where lookups may connect. Any logged-in user can create a personal lookup credential
//! and test it, so without a policy the server would probe its own network for them
//! (cloud metadata at 169.254.169.254, services on loopback). Every address a lookup
//! connects to — resolved names, redirects (which resolve again) and IP literals — is
//! checked against the deny list; a refusal looks exactly like a host that cannot be
//! reached (`ConnectionError`), so the policy itself cannot be probed.
//!
//! The policy is process-wide configuration (`credstore serve --lookup-deny`), installed
//! once at start-up; it is not per request, and the backends deep below the dispatch would
//! otherwise all need it threaded through.

use super::{Kwargs, LookupError};
use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};

/// The default deny list: link-local addresses, where clouds serve instance metadata
/// (credentials included).
pub const DEFAULT_DENY: &str = "169.254.0.0/16,fe80::/10";

/// Networks lookups may not connect to.
#[derive(Debug, Clone)]
pub struct EgressPolicy {
    deny: Vec<IpNet>,
}

static POLICY: OnceLock<EgressPolicy> = OnceLock::new();

impl EgressPolicy {
    /// Parses a comma-separated list of networks (`10.0.0.0/8`) or addresses; empty
    /// denies nothing.
    pub fn parse(list: &str) -> Result<Self, String> {
        let deny = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("`{s}` is not a network (10.0.0.0/8) or an address"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(EgressPolicy { deny })
    }

    /// True when lookups may connect to `ip`.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        !self.deny.iter().any(|net| net.contains(&ip))
    }

    /// Makes this the policy of every lookup of the process; only the first call counts.
    pub fn install(self) {
        let _ = POLICY.set(self);
    }
}

impl Default for EgressPolicy {
    fn default() -> Self {
        EgressPolicy::parse(DEFAULT_DENY).unwrap_or(EgressPolicy { deny: Vec::new() })
    }
}

fn policy() -> &'static EgressPolicy {
    POLICY.get_or_init(EgressPolicy::default)
}

/// Resolves names as the system does, then drops the addresses the policy denies.
struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let resolved = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = resolved.filter(|a| policy().allows(a.ip())).collect();
            if allowed.is_empty() {
                return Err("no address of this host may be reached".into());
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// Applies the policy to a lookup's HTTP client (every backend builds its client here).
pub fn guard(builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
    builder.dns_resolver(Arc::new(GuardedResolver))
}

/// Refuses a lookup whose inputs name a denied address literally (`http://169.254.169.254/`):
/// the HTTP client resolves names only, so literals are checked before anything connects.
pub fn check_literal_addresses(kwargs: &Kwargs) -> Result<(), LookupError> {
    let denied = kwargs
        .values()
        .filter_map(literal_address)
        .any(|ip| !policy().allows(ip));
    if denied {
        return Err(LookupError::Kind("ConnectionError"));
    }
    Ok(())
}

/// The IP address a URL-like value names as its host, if it names one.
fn literal_address(value: &str) -> Option<IpAddr> {
    let url = url::Url::parse(value.trim()).ok()?;
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_denies_link_local_only() {
        let p = EgressPolicy::default();
        assert!(!p.allows("169.254.169.254".parse().unwrap()));
        assert!(!p.allows("fe80::1".parse().unwrap()));
        assert!(
            !p.allows("::ffff:169.254.169.254".parse().unwrap()),
            "mapped v4"
        );
        assert!(p.allows("127.0.0.1".parse().unwrap()));
        assert!(p.allows("10.1.2.3".parse().unwrap()));
    }

    #[test]
    fn lists_parse_networks_and_addresses_and_refuse_the_rest() {
        let p = EgressPolicy::parse("10.0.0.0/8, 192.0.2.7 ,").unwrap();
        assert!(!p.allows("10.9.9.9".parse().unwrap()));
        assert!(!p.allows("192.0.2.7".parse().unwrap()));
        assert!(p.allows("192.0.2.8".parse().unwrap()));
        assert!(EgressPolicy::parse("")
            .unwrap()
            .allows("169.254.169.254".parse().unwrap()));
        assert!(EgressPolicy::parse("10.0.0.0/33").is_err());
        assert!(EgressPolicy::parse("example.com").is_err());
    }

    #[test]
    fn literal_addresses_are_found_in_urls() {
        assert_eq!(
            literal_address("http://169.254.169.254/latest/"),
            Some("169.254.169.254".parse().unwrap())
        );
        assert_eq!(
            literal_address("https://[fe80::1]:8200"),
            Some("fe80::1".parse().unwrap())
        );
        assert_eq!(literal_address("https://vault.example"), None);
        assert_eq!(literal_address("not a url"), None);
    }
}
