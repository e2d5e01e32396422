//! Who may connect: caps on open connections per client address, and on
//! connections that have not logged in yet, overall and per address.
//! Shared by the thread-per-connection [`Serve`](super::Serve) and the
//! mio server, which call it from their accept and end paths, each with
//! defaults of its own.

use std::collections::HashMap;
use std::net::IpAddr;

/// The caps and the counts they are checked against.
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use xmpp_transport_std::serve::Admission;
///
/// let mut admission = Admission::new(10, 100, 1);
/// let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// assert!(admission.admit(ip));
/// assert!(!admission.admit(ip), "one anonymous connection per address");
/// admission.authenticated(ip);
/// assert!(admission.admit(ip), "a logged-in one does not count as anonymous");
/// admission.release(ip, false);
/// admission.release(ip, true);
/// assert_eq!(admission.open(), 0);
/// ```
#[derive(Clone, Debug)]
pub struct Admission {
    max_per_address: usize,
    max_unauthenticated: usize,
    max_unauthenticated_per_address: usize,
    per_address: HashMap<IpAddr, Counts>,
    unauthenticated: usize,
    open: usize,
}

#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    open: usize,
    unauthenticated: usize,
}

impl Admission {
    /// At most `per_address` connections from one address, at most
    /// `unauthenticated` connections not logged in yet, and
    /// `unauthenticated_per_address` of those from one address.
    pub fn new(
        per_address: usize,
        unauthenticated: usize,
        unauthenticated_per_address: usize,
    ) -> Self {
        Admission {
            max_per_address: per_address,
            max_unauthenticated: unauthenticated,
            max_unauthenticated_per_address: unauthenticated_per_address,
            per_address: HashMap::new(),
            unauthenticated: 0,
            open: 0,
        }
    }

    /// Sets the per-address cap.
    pub fn set_max_per_address(&mut self, max: usize) {
        self.max_per_address = max;
    }

    /// Sets the caps on unauthenticated connections, overall and per
    /// address.
    pub fn set_max_unauthenticated(&mut self, max: usize, per_address: usize) {
        self.max_unauthenticated = max;
        self.max_unauthenticated_per_address = per_address;
    }

    /// A new connection from `ip`: counted (as unauthenticated) and
    /// `true` if it fits under every cap, else `false` and nothing
    /// counted (close it).
    pub fn admit(&mut self, ip: IpAddr) -> bool {
        let counts = self.per_address.get(&ip).copied().unwrap_or_default();
        if counts.open >= self.max_per_address
            || self.unauthenticated >= self.max_unauthenticated
            || counts.unauthenticated >= self.max_unauthenticated_per_address
        {
            return false;
        }
        let counts = self.per_address.entry(ip).or_default();
        counts.open += 1;
        counts.unauthenticated += 1;
        self.unauthenticated += 1;
        self.open += 1;
        true
    }

    /// An admitted connection from `ip` authenticated (call once per
    /// connection).
    pub fn authenticated(&mut self, ip: IpAddr) {
        if let Some(counts) = self.per_address.get_mut(&ip) {
            if counts.unauthenticated > 0 {
                counts.unauthenticated -= 1;
                self.unauthenticated -= 1;
            }
        }
    }

    /// An admitted connection from `ip` ended; `authenticated` says
    /// whether [`Admission::authenticated`] was called for it.
    pub fn release(&mut self, ip: IpAddr, authenticated: bool) {
        let Some(counts) = self.per_address.get_mut(&ip) else {
            return;
        };
        if !authenticated && counts.unauthenticated > 0 {
            counts.unauthenticated -= 1;
            self.unauthenticated -= 1;
        }
        counts.open = counts.open.saturating_sub(1);
        self.open = self.open.saturating_sub(1);
        if counts.open == 0 {
            self.per_address.remove(&ip);
        }
    }

    /// Connections admitted and not yet released.
    pub fn open(&self) -> usize {
        self.open
    }

    /// Of those, the ones that have not authenticated.
    pub fn unauthenticated(&self) -> usize {
        self.unauthenticated
    }
}
