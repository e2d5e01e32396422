//! Slowing down password guessing: failed logins are counted per client
//! address and per account, and once either has failed too often, its
//! next login questions wait (the session waits; nobody else does).
//!
//! Each key holds one instant (the "generic cell rate" scheme): every
//! failure pushes it `interval` further; while it lies more than
//! `(burst - 1) × interval` ahead, new attempts wait for it to come back
//! within that distance. So a key gets `burst` failures at once, then one per
//! `interval`, and a key whose instant has passed is forgotten.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::Duration;

use crate::time::Time;

/// How fast failed logins may come, per client address and per account
/// (see [`Hub::with_login_throttle`](super::Hub::with_login_throttle)).
///
/// ```
/// use std::time::Duration;
/// use xmpp_proto::hub::ThrottleConfig;
///
/// let strict = ThrottleConfig::default()
///     .with_address(3, Duration::from_secs(5))
///     .with_account(5, Duration::from_secs(30));
/// assert_eq!(strict.address_burst, 3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThrottleConfig {
    /// Failures one address may have at once before its logins wait
    /// (default 5).
    pub address_burst: u32,
    /// Then one more per this much time (default 2 s).
    pub address_interval: Duration,
    /// Failures one account may have at once before logins to it wait
    /// (default 10). Only addresses that have failed themselves wait, so
    /// that guessing at an account does not lock its owner out.
    pub account_burst: u32,
    /// Then one more per this much time (default 10 s).
    pub account_interval: Duration,
    /// How many addresses and how many accounts are tracked at most
    /// (default 65,536 each); past it the entry nearest its end is
    /// forgotten.
    pub max_tracked: usize,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            address_burst: 5,
            address_interval: Duration::from_secs(2),
            account_burst: 10,
            account_interval: Duration::from_secs(10),
            max_tracked: 65_536,
        }
    }
}

impl ThrottleConfig {
    /// No throttling at all (for tests, or a deployment that throttles
    /// in front of the server).
    pub fn off() -> Self {
        ThrottleConfig {
            address_burst: u32::MAX,
            address_interval: Duration::ZERO,
            account_burst: u32::MAX,
            account_interval: Duration::ZERO,
            max_tracked: 0,
        }
    }

    /// Sets the per-address burst and interval.
    pub fn with_address(mut self, burst: u32, interval: Duration) -> Self {
        self.address_burst = burst;
        self.address_interval = interval;
        self
    }

    /// Sets the per-account burst and interval.
    pub fn with_account(mut self, burst: u32, interval: Duration) -> Self {
        self.account_burst = burst;
        self.account_interval = interval;
        self
    }
}

/// The addresses that count as one: an IPv4 address, or an IPv6 /64 (one
/// host is usually given a whole /64).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum AddressKey {
    V4(u32),
    V6(u64),
}

impl From<IpAddr> for AddressKey {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => AddressKey::V4(u32::from(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => AddressKey::V4(u32::from(v4)),
                None => AddressKey::V6((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

/// Failure instants per key, bounded in entries.
#[derive(Debug)]
struct Cells<K> {
    burst: u32,
    interval: Duration,
    max: usize,
    cells: HashMap<K, Time>,
}

impl<K: Hash + Eq + Clone> Cells<K> {
    fn new(burst: u32, interval: Duration, max: usize) -> Self {
        Cells {
            burst,
            interval,
            max,
            cells: HashMap::new(),
        }
    }

    /// How far ahead a key's instant may lie with attempts still
    /// allowed: `burst` failures at once leave it exactly one interval
    /// beyond this.
    fn allowance(&self) -> Duration {
        self.interval.saturating_mul(self.burst.saturating_sub(1))
    }

    /// When `key` may try next (`now` or earlier: at once).
    fn allowed_at<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<Time>
    where
        K: Borrow<Q>,
    {
        self.cells.get(key).map(|&at| at - self.allowance())
    }

    /// Whether `key` has failures not yet forgotten.
    fn has_failed(&self, key: &K, now: Time) -> bool {
        self.cells.get(key).is_some_and(|&at| at > now)
    }

    fn charge(&mut self, key: K, now: Time) {
        if self.max == 0 || self.interval.is_zero() {
            return;
        }
        if !self.cells.contains_key(&key) && self.cells.len() >= self.max {
            self.make_room(now);
        }
        let at = self.cells.entry(key).or_insert(now);
        *at = (*at).max(now) + self.interval;
    }

    /// Forgets every key whose failures are over; if none is, the one
    /// closest to being over.
    fn make_room(&mut self, now: Time) {
        self.cells.retain(|_, at| *at > now);
        if self.cells.len() >= self.max {
            let nearest = self
                .cells
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(k, _)| k.clone());
            if let Some(key) = nearest {
                self.cells.remove(&key);
            }
        }
    }
}

/// Failed logins per address and per account. See the module
/// documentation.
#[derive(Debug)]
pub(super) struct LoginThrottle {
    addresses: Cells<AddressKey>,
    accounts: Cells<String>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::new(ThrottleConfig::default())
    }
}

impl LoginThrottle {
    pub(super) fn new(config: ThrottleConfig) -> Self {
        LoginThrottle {
            addresses: Cells::new(
                config.address_burst,
                config.address_interval,
                config.max_tracked,
            ),
            accounts: Cells::new(
                config.account_burst,
                config.account_interval,
                config.max_tracked,
            ),
        }
    }

    /// When a login from `address` to `account` may be answered. An
    /// address that has not failed lately is never held back by its
    /// account's failures; a session whose address is unknown is.
    pub(super) fn allowed_at(
        &self,
        now: Time,
        address: Option<IpAddr>,
        account: Option<&str>,
    ) -> Time {
        let address = address.map(AddressKey::from);
        let mut at = now;
        if let Some(key) = &address {
            at = at.max(self.addresses.allowed_at(key).unwrap_or(now));
        }
        let clean = address.is_some_and(|key| !self.addresses.has_failed(&key, now));
        if let (Some(account), false) = (account, clean) {
            if let Some(account_at) = self.accounts.allowed_at(account) {
                at = at.max(account_at);
            }
        }
        at
    }

    /// A login from `address` to `account` failed.
    pub(super) fn failed(&mut self, now: Time, address: Option<IpAddr>, account: Option<&str>) {
        if let Some(ip) = address {
            self.addresses.charge(AddressKey::from(ip), now);
        }
        if let Some(account) = account {
            self.accounts.charge(account.to_owned(), now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Time {
        Time::from_duration(Duration::from_secs(s))
    }

    const ATTACKER: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1)));
    const OWNER: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 7)));

    #[test]
    fn an_address_gets_its_burst_then_one_failure_per_interval() {
        let config = ThrottleConfig::default().with_address(3, Duration::from_secs(2));
        let mut t = LoginThrottle::new(config);
        let now = secs(100);
        for _ in 0..3 {
            assert_eq!(t.allowed_at(now, ATTACKER, None), now);
            t.failed(now, ATTACKER, None);
        }
        // Three failures at once: the fourth attempt waits one interval.
        assert_eq!(t.allowed_at(now, ATTACKER, None), secs(102));
        t.failed(secs(102), ATTACKER, None);
        assert_eq!(t.allowed_at(secs(102), ATTACKER, None), secs(104));
        // Other addresses are not concerned.
        assert_eq!(t.allowed_at(now, OWNER, None), now);
    }

    #[test]
    fn guessing_at_an_account_holds_back_the_guessers_not_the_owner() {
        let config = ThrottleConfig::default()
            .with_address(1000, Duration::from_secs(1))
            .with_account(2, Duration::from_secs(10));
        let mut t = LoginThrottle::new(config);
        let now = secs(100);
        for _ in 0..4 {
            t.failed(now, ATTACKER, Some("juliet"));
        }
        assert_eq!(t.allowed_at(now, ATTACKER, Some("juliet")), secs(130));
        assert_eq!(t.allowed_at(now, OWNER, Some("juliet")), now);
        assert_eq!(t.allowed_at(now, ATTACKER, Some("romeo")), now);
        // Without an address, the account's count applies.
        assert_eq!(t.allowed_at(now, None, Some("juliet")), secs(130));
    }

    #[test]
    fn ipv6_addresses_of_one_slash_64_count_as_one() {
        let mut t =
            LoginThrottle::new(ThrottleConfig::default().with_address(1, Duration::from_secs(5)));
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        t.failed(secs(0), Some(a), None);
        t.failed(secs(0), Some(a), None);
        assert_eq!(t.allowed_at(secs(0), Some(b), None), secs(10));
        assert_eq!(t.allowed_at(secs(0), Some(c), None), secs(0));
    }

    #[test]
    fn the_hub_holds_back_the_questions_of_an_address_that_keeps_failing() {
        use crate::hub::{Hub, HubEvent};
        use crate::router::SessionId;
        use crate::sasl::ScramHash;
        use crate::server::ServerEvent;

        let config = ThrottleConfig::default().with_address(2, Duration::from_secs(3));
        let mut hub = Hub::new("example.com").unwrap().with_login_throttle(config);
        let now = secs(10);
        let ask = |hub: &mut Hub, session: u64| {
            hub.handle_event(
                now,
                SessionId(session),
                ServerEvent::NeedScramCredentials {
                    username: "juliet".into(),
                    hash: ScramHash::Sha256,
                },
            );
        };
        for session in 1..=4 {
            let address = if session == 4 { OWNER } else { ATTACKER };
            hub.set_address(SessionId(session), address.unwrap());
        }
        for session in 1..=2 {
            ask(&mut hub, session);
            assert!(matches!(
                hub.poll_event(),
                Some(HubEvent::NeedScramCredentials { .. })
            ));
            let failed = ServerEvent::AuthenticationFailed {
                username: Some("juliet".into()),
            };
            hub.handle_event(now, SessionId(session), failed);
        }
        // The third try from there waits; the store is not asked.
        ask(&mut hub, 3);
        assert_eq!(hub.poll_event(), None);
        assert_eq!(hub.poll_timeout(), Some(secs(13)));
        // Someone else is answered at once meanwhile.
        ask(&mut hub, 4);
        assert!(matches!(
            hub.poll_event(),
            Some(HubEvent::NeedScramCredentials {
                session: SessionId(4),
                ..
            })
        ));
        hub.handle_timeout(secs(12));
        assert_eq!(hub.poll_event(), None);
        hub.handle_timeout(secs(13));
        assert!(matches!(
            hub.poll_event(),
            Some(HubEvent::NeedScramCredentials {
                session: SessionId(3),
                ..
            })
        ));
        assert_eq!(hub.poll_timeout(), None);
    }

    #[test]
    fn tracking_is_bounded_and_forgets_what_is_over() {
        let mut config = ThrottleConfig::default().with_address(1, Duration::from_secs(1));
        config.max_tracked = 100;
        let mut t = LoginThrottle::new(config);
        for i in 0..10_000u32 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(i));
            t.failed(
                secs(u64::from(i / 1000)),
                Some(ip),
                Some(&format!("user{i}")),
            );
            assert!(t.addresses.cells.len() <= 100);
            assert!(t.accounts.cells.len() <= 100);
        }
        let off = LoginThrottle::new(ThrottleConfig::off());
        assert_eq!(off.allowed_at(secs(1), ATTACKER, Some("x")), secs(1));
    }
}
