//! Configuration, the acknowledgement-request policy, and the state of a
//! stream-managed session that outlives its connection.

use std::time::Duration;

use super::{Handled, Nonza, Unacked};
use crate::jid::FullJid;
use crate::stanza::WireStanza;
use crate::stream::{Output, TimerKind, Timers};
use crate::time::Time;

/// When to ask the peer for an acknowledgement (`<r/>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestPolicy {
    /// After this many stanzas sent since the last request (default 5;
    /// `Some(1)` asks after every stanza, which ejabberd needs for exact
    /// resumption, see tests/INTEROP.md).
    pub every_stanzas: Option<u32>,
    /// Or once the oldest stanza not yet covered by a request is this old
    /// (default 5 s).
    pub after: Option<Duration>,
}

impl Default for RequestPolicy {
    fn default() -> Self {
        RequestPolicy {
            every_stanzas: Some(5),
            after: Some(Duration::from_secs(5)),
        }
    }
}

impl RequestPolicy {
    /// A policy asking after `n` stanzas (0 turns the count off) or after
    /// `after`.
    pub fn new(n: u32, after: Option<Duration>) -> Self {
        RequestPolicy {
            every_stanzas: (n > 0).then_some(n),
            after,
        }
    }
}

/// Stream management settings, for either role.
///
/// ```
/// use xmpp_proto::sm::{RequestPolicy, SmConfig};
///
/// let sm = SmConfig::default().with_requests(RequestPolicy::new(1, None));
/// assert!(sm.resume);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SmConfig {
    /// Client: ask for resumption. Server: offer it. Default on.
    pub resume: bool,
    /// Client: the preferred longest detachment (`max` of `<enable/>`,
    /// default none). Server: how long a detached session is kept, in
    /// seconds (default 300; a client's smaller preference wins).
    pub max: Option<u32>,
    /// The bound of the unacknowledged queue in stanzas (default 1000).
    pub max_unacked: usize,
    /// The bound of the unacknowledged queue in bytes (default
    /// [`DEFAULT_MAX_UNACKED_BYTES`](super::DEFAULT_MAX_UNACKED_BYTES),
    /// 512 KiB): what a peer that never acknowledges can make us hold.
    pub max_unacked_bytes: usize,
    /// When to send `<r/>`.
    pub requests: RequestPolicy,
}

impl Default for SmConfig {
    fn default() -> Self {
        SmConfig {
            resume: true,
            max: None,
            max_unacked: 1000,
            max_unacked_bytes: super::DEFAULT_MAX_UNACKED_BYTES,
            requests: RequestPolicy::default(),
        }
    }
}

impl SmConfig {
    /// Sets when to send `<r/>`.
    pub fn with_requests(mut self, requests: RequestPolicy) -> Self {
        self.requests = requests;
        self
    }

    /// Sets the queue bound in stanzas.
    pub fn with_max_unacked(mut self, n: usize) -> Self {
        self.max_unacked = n.max(1);
        self
    }

    /// Sets the queue bound in bytes.
    pub fn with_max_unacked_bytes(mut self, bytes: usize) -> Self {
        self.max_unacked_bytes = bytes;
        self
    }

    /// Sets `max` (see the field).
    pub fn with_max(mut self, seconds: Option<u32>) -> Self {
        self.max = seconds;
        self
    }

    /// Turns resumption on or off.
    pub fn with_resume(mut self, on: bool) -> Self {
        self.resume = on;
        self
    }
}

/// Decides when to send `<r/>` under a [`RequestPolicy`].
///
/// ```
/// use std::time::Duration;
/// use xmpp_proto::sm::{RequestPolicy, Requests};
/// use xmpp_proto::time::Time;
///
/// let now = Time::ZERO;
/// let mut r = Requests::new(RequestPolicy::new(2, Some(Duration::from_secs(3))));
/// assert!(!r.on_stanza(now));
/// assert_eq!(r.deadline(), Some(now + Duration::from_secs(3)));
/// assert!(r.on_stanza(now)); // the second stanza: ask now
/// assert_eq!(r.deadline(), None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requests {
    policy: RequestPolicy,
    unrequested: u32,
    deadline: Option<Time>,
}

impl Requests {
    /// Nothing sent yet.
    pub fn new(policy: RequestPolicy) -> Self {
        Requests {
            policy,
            unrequested: 0,
            deadline: None,
        }
    }

    /// A stanza was sent at `now`; returns whether to send `<r/>` after it
    /// (if so, the request is counted as sent).
    pub fn on_stanza(&mut self, now: Time) -> bool {
        self.unrequested = self.unrequested.saturating_add(1);
        if self
            .policy
            .every_stanzas
            .is_some_and(|n| self.unrequested >= n)
        {
            self.requested();
            return true;
        }
        if self.deadline.is_none() {
            self.deadline = self.policy.after.map(|d| now + d);
        }
        false
    }

    /// An `<r/>` was sent for another reason.
    pub fn requested(&mut self) {
        self.unrequested = 0;
        self.deadline = None;
    }

    /// When [`Requests::on_timeout`] wants to be called.
    pub fn deadline(&self) -> Option<Time> {
        self.deadline
    }

    /// Time passed; returns whether to send `<r/>` now.
    pub fn on_timeout(&mut self, now: Time) -> bool {
        if self.deadline.is_some_and(|d| d <= now) {
            let due = self.unrequested > 0;
            self.requested();
            return due;
        }
        false
    }
}

/// A stream-managed session, separated from its connection: what the
/// client hands the application when the connection breaks (to resume
/// with `ClientConfig::with_resumption`), and what the server hands the
/// application to keep while the session is detached (to give back with
/// `Server::accept_resume`).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SmSession {
    /// The resumption id; `None` if the peer did not allow resumption.
    pub id: Option<String>,
    /// Where to reconnect for resumption, if the server said.
    pub location: Option<String>,
    /// How long the server keeps the session, in seconds, if it said.
    pub max: Option<u32>,
    /// The bound full JID.
    pub jid: FullJid,
    /// Stanzas handled from the peer.
    pub handled: Handled,
    /// Stanzas sent to the peer and not acknowledged, with the outbound
    /// counter.
    pub unacked: Unacked,
}

impl SmSession {
    /// A session state built by hand: for tests, or for an application
    /// that persists detached sessions and restores them.
    pub fn new(id: Option<String>, jid: FullJid, handled: Handled, unacked: Unacked) -> Self {
        SmSession {
            id,
            location: None,
            max: None,
            jid,
            handled,
            unacked,
        }
    }
}

/// The live stream-management state of an endpoint.
#[derive(Clone, Debug)]
pub(crate) struct Live {
    pub(crate) id: Option<String>,
    pub(crate) location: Option<String>,
    pub(crate) max: Option<u32>,
    pub(crate) handled: Handled,
    pub(crate) unacked: Unacked,
    pub(crate) requests: Requests,
}

impl Live {
    pub(crate) fn new(config: &SmConfig) -> Self {
        Live {
            id: None,
            location: None,
            max: None,
            handled: Handled::new(),
            unacked: Unacked::new(config.max_unacked).with_max_bytes(config.max_unacked_bytes),
            requests: Requests::new(config.requests),
        }
    }

    /// Queues a stanza the endpoint just wrote for acknowledgement, writes
    /// `<r/>` when the request policy asks for one and re-arms the request
    /// timer `slot`. The caller checked that the queue has room.
    pub(crate) fn stanza_written<T: TimerKind>(
        &mut self,
        stanza: WireStanza,
        now: Time,
        out: &mut Output,
        timers: &mut Timers<T>,
        timer: T,
    ) {
        // Cannot fail: the caller checked that the queue has room.
        let _ = self.unacked.push(stanza);
        if self.requests.on_stanza(now) {
            let _ = out.element(&Nonza::Request.to_element());
        }
        timers.set_or_clear(timer, self.requests.deadline());
    }

    /// The request timer fired: writes `<r/>` if the policy says so and
    /// stanzas wait for an acknowledgement. Returns whether it wrote.
    pub(crate) fn request_due(&mut self, now: Time, out: &mut Output) -> bool {
        let due = self.requests.on_timeout(now) && !self.unacked.is_empty();
        if due {
            let _ = out.element(&Nonza::Request.to_element());
        }
        due
    }

    /// Writes `<r/>` now (a probe, or after a resend) and restarts the
    /// request policy's count.
    pub(crate) fn request(&mut self, out: &mut Output) {
        self.requests.requested();
        let _ = out.element(&Nonza::Request.to_element());
    }

    /// After a resumption: writes again, in order and keeping their place
    /// in the count, the stanzas the peer lacks (XEP-0198 §5), then
    /// `<r/>` if there were any.
    pub(crate) fn resend_unacked(&mut self, out: &mut Output) {
        for stanza in self.unacked.iter() {
            out.raw(stanza.as_bytes());
        }
        if !self.unacked.is_empty() {
            self.request(out);
        }
    }

    /// Continues a session handed over by [`Live::into_session`].
    pub(crate) fn resumed(config: &SmConfig, session: SmSession) -> Self {
        Live {
            id: session.id,
            location: session.location,
            max: session.max,
            handled: session.handled,
            unacked: session.unacked,
            requests: Requests::new(config.requests),
        }
    }

    pub(crate) fn into_session(self, jid: FullJid) -> SmSession {
        SmSession {
            id: self.id,
            location: self.location,
            max: self.max,
            jid,
            handled: self.handled,
            unacked: self.unacked,
        }
    }
}
