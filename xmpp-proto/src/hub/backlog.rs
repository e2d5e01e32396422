//! Bounces (error stanzas) that a live session was too busy to take: they
//! wait and are offered again a little later, a slice at a time, instead
//! of being dropped. An error is never answered with an error (RFC 6120
//! §8.3.1), so dropping one would lose the only word its sender gets
//! about a stanza that did not arrive; a burst of them (a hundred
//! detached sessions expiring at once, each bouncing its queue to the
//! same sender) easily outruns one connection's output bound. What
//! waits is bounded in bytes across all sessions.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use super::{Delivery, Hub, ServerCommand};
use crate::router::SessionId;
use crate::stanza::WireStanza;
use crate::time::Time;

/// How many bytes of bounces may wait for busy sessions, together; past
/// it a bounce that does not fit is dropped (and counted in
/// [`HubStats::bounces_dropped`](super::HubStats::bounces_dropped)).
pub const DEFAULT_MAX_BACKLOG: usize = 64 * 1024 * 1024;

/// How long a busy session is left alone before its bounces are offered
/// again.
const RETRY_AFTER: Duration = Duration::from_millis(10);

/// How many bytes of its bounces a session is offered at each retry
/// (about one output bound's worth).
const SLICE: usize = 256 * 1024;

#[derive(Debug)]
pub(super) struct Backlog {
    waiting: HashMap<SessionId, VecDeque<WireStanza>>,
    bytes: usize,
    max: usize,
    retry_at: Option<Time>,
}

impl Default for Backlog {
    fn default() -> Self {
        Backlog {
            waiting: HashMap::new(),
            bytes: 0,
            max: DEFAULT_MAX_BACKLOG,
            retry_at: None,
        }
    }
}

impl Backlog {
    /// Keeps `stanza` for `session`, unless it does not fit.
    fn push(
        &mut self,
        now: Time,
        session: SessionId,
        stanza: WireStanza,
    ) -> Result<(), WireStanza> {
        if self.bytes.saturating_add(stanza.len()) > self.max {
            return Err(stanza);
        }
        self.bytes += stanza.len();
        self.waiting.entry(session).or_default().push_back(stanza);
        self.retry_at.get_or_insert(now + RETRY_AFTER);
        Ok(())
    }

    /// A slice of every session's bounces, to offer again now.
    fn due(&mut self, now: Time) -> Vec<(SessionId, Vec<WireStanza>)> {
        if self.retry_at.is_none_or(|at| at > now) {
            return Vec::new();
        }
        let mut slices = Vec::new();
        for (session, queue) in &mut self.waiting {
            let mut slice = Vec::new();
            let mut taken = 0;
            while taken < SLICE {
                let Some(stanza) = queue.pop_front() else {
                    break;
                };
                taken += stanza.len();
                slice.push(stanza);
            }
            self.bytes -= taken;
            slices.push((*session, slice));
        }
        self.waiting.retain(|_, q| !q.is_empty());
        self.retry_at = (!self.waiting.is_empty()).then_some(now + RETRY_AFTER);
        slices
    }

    /// The session ended: its bounces, to hand elsewhere.
    fn take(&mut self, session: SessionId) -> VecDeque<WireStanza> {
        let queue = self.waiting.remove(&session).unwrap_or_default();
        self.bytes -= queue.iter().map(WireStanza::len).sum::<usize>();
        if self.waiting.is_empty() {
            self.retry_at = None;
        }
        queue
    }

    pub(super) fn next(&self) -> Option<Time> {
        self.retry_at
    }
}

impl Hub {
    /// A live session was too busy for `stanza`: an error waits in the
    /// backlog (returns `None`); anything else comes back to be rerouted.
    pub(super) fn hold_bounce(
        &mut self,
        now: Time,
        session: SessionId,
        stanza: WireStanza,
    ) -> Option<WireStanza> {
        let is_error = stanza
            .to_element()
            .is_ok_and(|el| el.attr("type") == Some("error"));
        if !is_error || !self.router.is_bound(session) {
            return Some(stanza);
        }
        match self.backlog.push(now, session, stanza) {
            Ok(()) => None,
            Err(stanza) => {
                self.stats.bounces_dropped += 1;
                Some(stanza)
            }
        }
    }

    /// Offers the waiting bounces again, a slice per session.
    pub(super) fn retry_bounces(&mut self, now: Time) {
        for (session, stanzas) in self.backlog.due(now) {
            for stanza in stanzas {
                self.command(
                    session,
                    ServerCommand::Deliver(Delivery {
                        stanza,
                        rerouted: true,
                    }),
                );
            }
        }
    }

    /// `session`'s connection ended: its waiting bounces join its
    /// detached queue if it detached (else they have no one to go to).
    pub(super) fn release_bounces(&mut self, now: Time, session: SessionId) {
        for stanza in self.backlog.take(session) {
            let delivery = Delivery {
                stanza,
                rerouted: true,
            };
            self.refused_after_end(now, session, delivery);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::endpoint::CloseReason;
    use crate::hub::{CommandFeedback, Hub, ServerCommand};
    use crate::jid::FullJid;
    use crate::router::SessionId;
    use crate::server::ServerEvent;
    use crate::stanza::{Message, MessageType, Stanza};
    use crate::time::Time;

    /// Juliet (session 1) writes to an account that does not exist; the
    /// bounce is her only delivery.
    fn bounced() -> (Hub, crate::hub::Delivery) {
        let mut hub = Hub::new("example.com").unwrap();
        let juliet = FullJid::new("juliet@example.com/balcony").unwrap();
        hub.add_account(&juliet.to_bare());
        let now = Time::ZERO;
        hub.handle_event(
            now,
            SessionId(1),
            ServerEvent::BindRequest {
                jid: juliet,
                requested: true,
            },
        );
        while hub.poll_command().is_some() {}
        let msg = Message::builder(MessageType::Chat)
            .from("juliet@example.com/balcony")
            .to("nobody@example.com")
            .body("hello?")
            .build();
        hub.handle_event(now, SessionId(1), ServerEvent::Stanza(Stanza::Message(msg)));
        let delivery = std::iter::from_fn(|| hub.poll_command())
            .find_map(|(session, command)| match command {
                ServerCommand::Deliver(d) if session == SessionId(1) => Some(d),
                _ => None,
            })
            .expect("a bounce for juliet");
        assert!(String::from_utf8_lossy(delivery.stanza().as_bytes()).contains("type='error'"));
        (hub, delivery)
    }

    fn redelivered(hub: &mut Hub) -> usize {
        std::iter::from_fn(|| hub.poll_command())
            .filter(|(s, c)| *s == SessionId(1) && matches!(c, ServerCommand::Deliver(_)))
            .count()
    }

    #[test]
    fn a_bounce_for_a_busy_session_waits_and_comes_again() {
        let (mut hub, bounce) = bounced();
        let now = Time::ZERO;
        hub.handle_feedback(now, SessionId(1), CommandFeedback::Busy(bounce));
        assert_eq!(redelivered(&mut hub), 0, "not at once");
        let later = hub.poll_timeout().expect("a retry is due");
        assert!(later <= now + Duration::from_millis(10));
        hub.handle_timeout(later);
        assert_eq!(redelivered(&mut hub), 1, "offered again");
        assert_eq!(hub.stats().bounces_dropped, 0);
        assert_eq!(hub.poll_timeout(), None, "nothing more waits");
    }

    #[test]
    fn a_busy_session_that_ends_takes_its_bounces_with_it() {
        let (mut hub, bounce) = bounced();
        let now = Time::ZERO;
        hub.handle_feedback(now, SessionId(1), CommandFeedback::Busy(bounce));
        hub.handle_event(
            now,
            SessionId(1),
            ServerEvent::Closed {
                reason: CloseReason::Normal,
            },
        );
        hub.handle_timeout(now + Duration::from_secs(1));
        assert_eq!(redelivered(&mut hub), 0);
        assert_eq!(hub.poll_timeout(), None);
    }

    #[test]
    fn a_full_backlog_drops_and_counts() {
        let (mut hub, bounce) = bounced();
        hub.backlog.max = 1;
        hub.handle_feedback(Time::ZERO, SessionId(1), CommandFeedback::Busy(bounce));
        assert_eq!(hub.stats().bounces_dropped, 1);
        assert_eq!(hub.poll_timeout(), None);
    }
}
