//! Stream-managed sessions whose connection broke, kept for resumption
//! (XEP-0198 §5): their state, what was routed to them meanwhile, and
//! when they expire. The hub's bookkeeping; the router keeps these
//! sessions bound meanwhile.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use crate::time::Time;

use crate::jid::BareJid;
use crate::router::SessionId;
use crate::sm::SmSession;
use crate::stanza::WireStanza;

/// How long a session is kept when its state names no `max` (the server's
/// `SmConfig::max` default).
const DEFAULT_KEEP: Duration = Duration::from_secs(300);

/// How many detached sessions are kept unless
/// [`DetachedSessions::with_limit`] says otherwise.
pub const DEFAULT_DETACHED_LIMIT: usize = 10_000;

/// How many bytes of queued stanzas all detached sessions together may
/// hold unless [`DetachedSessions::with_byte_budget`] says otherwise.
pub const DEFAULT_DETACHED_BUDGET: usize = 64 * 1024 * 1024;

/// Detached sessions by id, with their expiry. Bounded: past the limit,
/// the session closest to expiry is expired early, so clients that
/// break connections on purpose cannot make the server hold state
/// without end (each session's queue is bounded by `SmConfig`).
///
/// The [`Hub`](super::Hub) answers the server's events with it:
/// `ServerEvent::Detached` → [`DetachedSessions::detach`] (the router
/// keeps the binding); a stanza routed to a detached session →
/// [`DetachedSessions::queue`]; `ServerEvent::ResumeRequest` →
/// [`DetachedSessions::take`]; its timer →
/// [`DetachedSessions::pop_expired`].
///
/// ```
/// use std::time::Duration;
/// use xmpp_proto::hub::{DetachedSessions, Queued};
/// use xmpp_proto::jid::{BareJid, FullJid};
/// use xmpp_proto::router::SessionId;
/// use xmpp_proto::sm::{Handled, SmSession, Unacked};
/// use xmpp_proto::stanza::WireStanza;
/// use xmpp_proto::time::Time;
/// use xmpp_proto::xml::Element;
///
/// let now = Time::ZERO;
/// let jid = FullJid::new("juliet@example.com/balcony")?;
/// let mut state = SmSession::new(Some("abc".into()), jid, Handled::default(), Unacked::new(16));
/// state.max = Some(60);
///
/// let mut detached = DetachedSessions::new();
/// assert!(detached.detach(SessionId(7), state, now).is_none());
/// let msg = WireStanza::from_element(&Element::builder("message", "jabber:client").build())?;
/// assert!(matches!(detached.queue(SessionId(7), msg), Queued::Kept));
/// assert_eq!(detached.next_expiry(), Some(now + Duration::from_secs(60)));
///
/// // Only the same account gets it back.
/// let romeo = BareJid::new("romeo@example.com")?;
/// assert!(detached.take("abc", &romeo, now).is_none());
/// let juliet = BareJid::new("juliet@example.com")?;
/// let (old, state) = detached.take("abc", &juliet, now).expect("kept");
/// assert_eq!(old, SessionId(7));
/// assert_eq!(state.unacked.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct DetachedSessions {
    sessions: HashMap<SessionId, Kept>,
    by_id: HashMap<String, SessionId>,
    /// Expiry order, for the next deadline and early expiry.
    expiries: BTreeSet<(Time, SessionId)>,
    limit: usize,
    /// Bytes of queued stanzas over all sessions, and the most allowed.
    bytes: usize,
    byte_budget: usize,
}

#[derive(Debug)]
struct Kept {
    state: SmSession,
    expires: Time,
}

/// What [`DetachedSessions::queue`] did with a stanza.
#[derive(Debug)]
#[must_use]
pub enum Queued {
    /// The session is detached: the stanza goes out on resumption.
    Kept,
    /// The session is detached and its queue is full: bounce the stanza
    /// (`Router::undeliverable_from`).
    Full(WireStanza),
    /// The session is not detached: deliver the stanza to its connection.
    NotDetached(WireStanza),
}

impl Default for DetachedSessions {
    fn default() -> Self {
        Self::new()
    }
}

impl DetachedSessions {
    /// An empty store holding at most [`DEFAULT_DETACHED_LIMIT`] sessions.
    pub fn new() -> Self {
        DetachedSessions {
            sessions: HashMap::new(),
            by_id: HashMap::new(),
            expiries: BTreeSet::new(),
            limit: DEFAULT_DETACHED_LIMIT,
            bytes: 0,
            byte_budget: DEFAULT_DETACHED_BUDGET,
        }
    }

    /// At most `bytes` of queued stanzas over all sessions; past it,
    /// [`DetachedSessions::pop_over_budget`] hands out sessions to expire
    /// early, closest to expiry first.
    pub fn with_byte_budget(mut self, bytes: usize) -> Self {
        self.byte_budget = bytes;
        self
    }

    /// Bytes of stanzas queued in all detached sessions.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// While the queued stanzas exceed the byte budget: one session to
    /// expire now (the one closest to expiry), whose stanzas then go the
    /// way of an expired session's (rerouted, stored or bounced, never
    /// dropped unseen). Call until `None`.
    pub fn pop_over_budget(&mut self) -> Option<(SessionId, SmSession)> {
        if self.bytes <= self.byte_budget {
            return None;
        }
        let (_, session) = *self.expiries.first()?;
        self.remove(session).map(|state| (session, state))
    }

    /// At most `limit` sessions at once (at least one).
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = limit.max(1);
        self
    }

    /// Keeps the state of `session` (from `ServerEvent::Detached`) until `now`
    /// plus its `max`. Returns a session to expire now
    /// (`Router::expire`): this one if it has no resumption id, or the
    /// one closest to expiry when the store is full.
    pub fn detach(
        &mut self,
        session: SessionId,
        state: SmSession,
        now: Time,
    ) -> Option<(SessionId, SmSession)> {
        if state.id.is_none() {
            return Some((session, state));
        }
        // A session detached twice (it cannot happen with one server per
        // connection) keeps its newest state.
        let replaced = self.remove(session);
        let evicted = if replaced.is_none() && self.sessions.len() >= self.limit {
            self.expiries
                .first()
                .map(|(_, oldest)| *oldest)
                .and_then(|oldest| self.remove(oldest).map(|state| (oldest, state)))
        } else {
            None
        };
        self.keep(session, state, now);
        evicted
    }

    /// Whether `session` is detached.
    pub fn contains(&self, session: SessionId) -> bool {
        self.sessions.contains_key(&session)
    }

    /// The state kept for `session`, if it is detached.
    pub fn get(&self, session: SessionId) -> Option<&SmSession> {
        self.sessions.get(&session).map(|kept| &kept.state)
    }

    /// Queues a stanza routed to `session` if it is detached.
    pub fn queue(&mut self, session: SessionId, stanza: WireStanza) -> Queued {
        match self.sessions.get_mut(&session) {
            Some(kept) => {
                let before = kept.state.unacked.bytes();
                match kept.state.unacked.push(stanza) {
                    Ok(()) => {
                        self.bytes += kept.state.unacked.bytes().saturating_sub(before);
                        Queued::Kept
                    }
                    Err(full) => Queued::Full(full.0),
                }
            }
            None => Queued::NotDetached(stanza),
        }
    }

    /// Takes the detached session with resumption id `previd` if it is
    /// `account`'s and has not expired at `now`; another account's
    /// session stays where it is.
    pub fn take(
        &mut self,
        previd: &str,
        account: &BareJid,
        now: Time,
    ) -> Option<(SessionId, SmSession)> {
        let session = *self.by_id.get(previd)?;
        let kept = self.sessions.get(&session)?;
        if kept.state.jid.bare_str() != account.as_str() || kept.expires <= now {
            return None;
        }
        self.remove(session).map(|state| (session, state))
    }

    /// Puts back a session taken with [`DetachedSessions::take`] (or from
    /// a live connection) that could not be resumed after all (the new
    /// connection ended first), kept from `now` as by
    /// [`DetachedSessions::detach`] but never evicting another.
    pub fn restore(&mut self, session: SessionId, state: SmSession, now: Time) {
        if state.id.is_some() {
            self.remove(session);
            self.keep(session, state, now);
        }
    }

    /// When the next session expires.
    pub fn next_expiry(&self) -> Option<Time> {
        self.expiries.first().map(|(at, _)| *at)
    }

    /// When `session` expires, if it is detached.
    pub fn expiry(&self, session: SessionId) -> Option<Time> {
        self.sessions.get(&session).map(|kept| kept.expires)
    }

    /// One session whose time is up at `now`, to hand to
    /// `Router::expire` with its queued stanzas
    /// (`state.unacked.take_all_elements()`). Call until `None`.
    pub fn pop_expired(&mut self, now: Time) -> Option<(SessionId, SmSession)> {
        let (at, session) = *self.expiries.first()?;
        if at > now {
            return None;
        }
        self.remove(session).map(|state| (session, state))
    }

    /// How many sessions are detached.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Files a state that has an id, until `now` plus its `max`.
    fn keep(&mut self, session: SessionId, state: SmSession, now: Time) {
        let Some(id) = state.id.clone() else {
            return;
        };
        let keep = state
            .max
            .map_or(DEFAULT_KEEP, |max| Duration::from_secs(u64::from(max)));
        let expires = now + keep;
        self.bytes += state.unacked.bytes();
        self.by_id.insert(id, session);
        self.expiries.insert((expires, session));
        self.sessions.insert(session, Kept { state, expires });
    }

    fn remove(&mut self, session: SessionId) -> Option<SmSession> {
        let kept = self.sessions.remove(&session)?;
        self.bytes = self.bytes.saturating_sub(kept.state.unacked.bytes());
        self.expiries.remove(&(kept.expires, session));
        if let Some(id) = &kept.state.id {
            if self.by_id.get(id) == Some(&session) {
                self.by_id.remove(id);
            }
        }
        Some(kept.state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jid::FullJid;
    use crate::sm::{Handled, Unacked};

    fn state(id: &str, user: &str, max: u32, capacity: usize) -> SmSession {
        let jid = FullJid::new(&format!("{user}@example.com/r")).unwrap();
        let mut s = SmSession::new(
            Some(id.into()),
            jid,
            Handled::default(),
            Unacked::new(capacity),
        );
        s.max = Some(max);
        s
    }

    fn msg() -> WireStanza {
        let el = crate::xml::Element::builder("message", crate::xml::ns::CLIENT).build();
        WireStanza::from_element(&el).unwrap()
    }

    fn account(user: &str) -> BareJid {
        BareJid::new(&format!("{user}@example.com")).unwrap()
    }

    #[test]
    fn a_session_without_id_is_expired_at_once() {
        let mut d = DetachedSessions::new();
        let mut s = state("x", "a", 60, 4);
        s.id = None;
        let back = d.detach(SessionId(1), s, Time::ZERO);
        assert_eq!(back.map(|(id, _)| id), Some(SessionId(1)));
        assert!(d.is_empty());
    }

    #[test]
    fn queue_keeps_until_full_then_hands_back() {
        let mut d = DetachedSessions::new();
        d.detach(SessionId(1), state("x", "a", 60, 2), Time::ZERO);
        assert!(matches!(d.queue(SessionId(1), msg()), Queued::Kept));
        assert!(matches!(d.queue(SessionId(1), msg()), Queued::Kept));
        assert!(matches!(d.queue(SessionId(1), msg()), Queued::Full(_)));
        assert!(matches!(
            d.queue(SessionId(2), msg()),
            Queued::NotDetached(_)
        ));
    }

    #[test]
    fn take_checks_account_id_and_expiry() {
        let now = Time::ZERO;
        let mut d = DetachedSessions::new();
        d.detach(SessionId(1), state("x", "a", 60, 2), now);
        assert!(d.take("y", &account("a"), now).is_none());
        assert!(d.take("x", &account("b"), now).is_none());
        let later = now + Duration::from_secs(60);
        assert!(d.take("x", &account("a"), later).is_none());
        assert!(d.contains(SessionId(1)), "a refused take leaves it");
        let (id, _) = d.take("x", &account("a"), now).unwrap();
        assert_eq!(id, SessionId(1));
        assert!(d.is_empty() && d.next_expiry().is_none());
    }

    #[test]
    fn expiry_in_order_and_restore() {
        let now = Time::ZERO;
        let mut d = DetachedSessions::new();
        d.detach(SessionId(1), state("x", "a", 30, 2), now);
        d.detach(SessionId(2), state("y", "b", 10, 2), now);
        assert_eq!(d.next_expiry(), Some(now + Duration::from_secs(10)));
        assert!(d.pop_expired(now + Duration::from_secs(9)).is_none());
        let at = now + Duration::from_secs(30);
        assert_eq!(d.pop_expired(at).map(|(id, _)| id), Some(SessionId(2)));
        let (id, s) = d.pop_expired(at).unwrap();
        assert_eq!(id, SessionId(1));
        assert!(d.pop_expired(at).is_none());
        d.restore(id, s, at);
        assert_eq!(d.expiry(SessionId(1)), Some(at + Duration::from_secs(30)));
    }

    #[test]
    fn the_limit_expires_the_oldest_early() {
        let now = Time::ZERO;
        let mut d = DetachedSessions::new().with_limit(2);
        assert!(
            d.detach(SessionId(1), state("x", "a", 10, 2), now)
                .is_none()
        );
        assert!(
            d.detach(SessionId(2), state("y", "b", 20, 2), now)
                .is_none()
        );
        let evicted = d.detach(SessionId(3), state("z", "c", 30, 2), now);
        assert_eq!(evicted.map(|(id, _)| id), Some(SessionId(1)));
        assert_eq!(d.len(), 2);
        assert!(d.take("x", &account("a"), now).is_none());
    }
}
