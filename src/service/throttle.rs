//! Throttling of failed password checks, per user name and per client address: past the
//! limit, further password checks for that name or address are answered 429 with
//! `Retry-After` without computing a hash, so a flood of guesses neither guesses on nor
//! takes the hashing slots that honest logins need. Credentials already verified (the
//! authentication cache) are never throttled.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long failures are counted for.
const WINDOW: Duration = Duration::from_secs(60);
/// Failed checks of one user name from one address (or from an unknown one) within the
/// window before further ones wait.
const MAX_PER_USER: u32 = 10;
/// Failed checks of one user name from all addresses together: higher, so that a flood
/// from elsewhere does not lock the user out at once.
const MAX_PER_USER_ANYWHERE: u32 = 100;
/// Failed checks from one client address within the window before further ones wait.
const MAX_PER_CLIENT: u32 = 30;
/// Entries kept before the oldest windows are dropped (bounds memory under a spray).
const CAPACITY: usize = 50_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    UserFrom(String, IpAddr),
    Client(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

/// Failed password checks by user name and by client address.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    windows: Mutex<HashMap<Key, Window>>,
}

impl LoginThrottle {
    /// `Err(seconds to wait)` when this user name or address has failed too often lately.
    pub fn check(&self, username: &str, client: Option<IpAddr>) -> Result<(), u64> {
        let now = Instant::now();
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let wait = keys(username, client)
            .into_iter()
            .filter_map(|(key, limit)| {
                let w = windows.get(&key)?;
                let elapsed = now.duration_since(w.started);
                (elapsed < WINDOW && w.failures >= limit).then(|| WINDOW - elapsed)
            })
            .max();
        match wait {
            Some(d) => Err(d.as_secs().max(1)),
            None => Ok(()),
        }
    }

    /// Counts one failed check against the name and the address.
    pub fn failed(&self, username: &str, client: Option<IpAddr>) {
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() >= CAPACITY {
            windows.retain(|_, w| now.duration_since(w.started) < WINDOW);
            if windows.len() >= CAPACITY {
                windows.clear();
            }
        }
        for (key, _) in keys(username, client) {
            let w = windows.entry(key).or_insert(Window {
                started: now,
                failures: 0,
            });
            if now.duration_since(w.started) >= WINDOW {
                *w = Window {
                    started: now,
                    failures: 0,
                };
            }
            w.failures += 1;
        }
    }

    /// A correct password ends the counts of its user name (not of its address).
    pub fn succeeded(&self, username: &str, client: Option<IpAddr>) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        for (key, _) in keys(username, client) {
            if !matches!(key, Key::Client(_)) {
                windows.remove(&key);
            }
        }
    }
}

/// The counts one check touches, with their limits.
fn keys(username: &str, client: Option<IpAddr>) -> Vec<(Key, u32)> {
    let name = username.to_string();
    match client {
        None => vec![(Key::User(name), MAX_PER_USER)],
        Some(ip) => vec![
            (Key::User(name.clone()), MAX_PER_USER_ANYWHERE),
            (Key::UserFrom(name, ip), MAX_PER_USER),
            (Key::Client(ip), MAX_PER_CLIENT),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_waits_after_its_limit_and_a_success_clears_it() {
        let t = LoginThrottle::default();
        for _ in 0..MAX_PER_USER {
            assert!(t.check("ann", None).is_ok());
            t.failed("ann", None);
        }
        let wait = t.check("ann", None).unwrap_err();
        assert!((1..=60).contains(&wait));
        assert!(t.check("bob", None).is_ok(), "other names are not affected");
        t.succeeded("ann", None);
        assert!(t.check("ann", None).is_ok());
    }

    #[test]
    fn an_address_waits_after_its_limit_whatever_the_names() {
        let t = LoginThrottle::default();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        for i in 0..MAX_PER_CLIENT {
            t.failed(&format!("user{i}"), Some(ip));
        }
        assert!(t.check("someone-new", Some(ip)).is_err());
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        assert!(t.check("someone-new", Some(other)).is_ok());
    }

    #[test]
    fn a_flood_on_a_name_from_one_address_leaves_the_name_usable_elsewhere() {
        let t = LoginThrottle::default();
        let attacker: IpAddr = "198.51.100.1".parse().unwrap();
        let honest: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..MAX_PER_USER {
            t.failed("admin", Some(attacker));
        }
        assert!(t.check("admin", Some(attacker)).is_err());
        assert!(t.check("admin", Some(honest)).is_ok());
    }
}
