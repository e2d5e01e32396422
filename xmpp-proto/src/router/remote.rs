//! Stanzas for remote domains while their server-to-server link is being
//! set up (RFC 6120 §10.4): one queue per link (one of our domains to a
//! remote one), bounded in bytes, in the order the stanzas came. The
//! first stanza for a link says "open it"; when it is up, the queue is taken and sent in order; when it
//! fails or takes too long, every stanza waiting comes back for the
//! router to bounce (`remote-server-not-found`, `remote-server-timeout`):
//! nothing waiting is ever dropped without a word.

use std::collections::VecDeque;
use std::time::Duration;

use super::SessionId;
use super::pair_map::PairMap;
use crate::stanza::WireStanza;
use crate::time::Time;

/// The bytes that may wait for one link unless
/// [`RemoteQueues::new`] says otherwise: 256 KiB.
pub const DEFAULT_MAX_BYTES: usize = 256 * 1024;

/// How many links (pairs of domains) may have stanzas waiting at once
/// unless [`RemoteQueues::with_max_domains`] says otherwise: each is a
/// link on
/// its way (a connection attempt, a thread on the blocking transport),
/// so a sender writing to thousands of made-up domains is refused rather
/// than served.
pub const DEFAULT_MAX_DOMAINS: usize = 256;

/// A stanza waiting for its domain's link, with the session it came from
/// (to bounce it to).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiting {
    /// The sender's session.
    pub sender: SessionId,
    /// The stanza, serialized.
    pub stanza: WireStanza,
}

/// What [`RemoteQueues::push`] did with a stanza.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Queued {
    /// The domain had nothing waiting: open a link to it.
    OpenLink,
    /// It waits behind others; a link is on its way.
    Behind,
}

/// The stanza did not fit in its domain's queue, or too many domains
/// wait already: refuse it back to its sender (`resource-constraint`); it
/// was not kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueFull {
    /// The refused stanza.
    pub waiting: Waiting,
}

#[derive(Debug)]
struct Queue {
    stanzas: VecDeque<Waiting>,
    bytes: usize,
    /// When the first stanza came: the link has been on its way since.
    since: Time,
}

/// The queues of every link being set up, by its two domains: the local
/// one the stanzas come from (our main domain, a room service's, a
/// component's) and the remote one they go to.
///
/// ```
/// use std::time::Duration;
/// use xmpp_proto::router::SessionId;
/// use xmpp_proto::router::remote::{Queued, RemoteQueues};
/// use xmpp_proto::stanza::{Message, MessageType, WireStanza};
/// use xmpp_proto::time::Time;
///
/// let mut queues = RemoteQueues::new(64 * 1024);
/// let msg = |body: &str| {
///     let m = Message::builder(MessageType::Chat).to("romeo@example.net").body(body).build();
///     WireStanza::from_element(&m.into_element()).unwrap()
/// };
/// let now = Time::ZERO;
/// let ours = "example.com";
/// assert_eq!(queues.push(now, ours, "example.net", SessionId(1), msg("one")), Ok(Queued::OpenLink));
/// assert_eq!(queues.push(now, ours, "example.net", SessionId(1), msg("two")), Ok(Queued::Behind));
/// // The link is up: both go out, in order.
/// assert_eq!(queues.take(ours, "example.net").len(), 2);
/// // Another domain whose link never comes: after the timeout, its
/// // stanzas come back to be bounced.
/// queues.push(now, ours, "example.org", SessionId(2), msg("three")).unwrap();
/// let late = queues.expired(now + Duration::from_secs(61), Duration::from_secs(60));
/// assert_eq!((late[0].local.as_str(), late[0].remote.as_str()), (ours, "example.org"));
/// assert_eq!(late[0].stanzas[0].sender, SessionId(2));
/// ```
#[derive(Debug)]
pub struct RemoteQueues {
    links: PairMap<Queue>,
    max_bytes: usize,
    max_domains: usize,
}

/// The stanzas of a link that took too long to come up
/// ([`RemoteQueues::expired`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expired {
    /// Our domain the link was for.
    pub local: String,
    /// The peer's domain.
    pub remote: String,
    /// What waited, in order, to bounce.
    pub stanzas: Vec<Waiting>,
}

impl Default for RemoteQueues {
    fn default() -> Self {
        RemoteQueues::new(DEFAULT_MAX_BYTES)
    }
}

impl RemoteQueues {
    /// Queues holding at most `max_bytes` of stanzas per link.
    pub fn new(max_bytes: usize) -> Self {
        RemoteQueues {
            links: PairMap::default(),
            max_bytes,
            max_domains: DEFAULT_MAX_DOMAINS,
        }
    }

    /// At most `max` links with stanzas waiting at once (default
    /// [`DEFAULT_MAX_DOMAINS`]); a stanza for one more is refused.
    pub fn with_max_domains(mut self, max: usize) -> Self {
        self.max_domains = max.max(1);
        self
    }

    /// Queues `stanza` from `sender` for the link from `local` to
    /// `remote` (both lowercase, as prepared).
    ///
    /// # Errors
    /// [`QueueFull`], with the stanza, if it does not fit.
    pub fn push(
        &mut self,
        now: Time,
        local: &str,
        remote: &str,
        sender: SessionId,
        stanza: WireStanza,
    ) -> Result<Queued, Box<QueueFull>> {
        let waiting = Waiting { sender, stanza };
        let len = waiting.stanza.len();
        if let Some(queue) = self.links.get_mut(local, remote) {
            if queue.bytes.saturating_add(len) > self.max_bytes {
                return Err(Box::new(QueueFull { waiting }));
            }
            queue.bytes += len;
            queue.stanzas.push_back(waiting);
            return Ok(Queued::Behind);
        }
        if len > self.max_bytes || self.links.len() >= self.max_domains {
            return Err(Box::new(QueueFull { waiting }));
        }
        let mut stanzas = VecDeque::new();
        stanzas.push_back(waiting);
        let queue = Queue {
            stanzas,
            bytes: len,
            since: now,
        };
        self.links.insert(local, remote, queue);
        Ok(Queued::OpenLink)
    }

    /// The link from `local` to `remote` is up: everything waiting for
    /// it, in order, to send; the queue is gone.
    pub fn take(&mut self, local: &str, remote: &str) -> Vec<Waiting> {
        self.links
            .remove(local, remote)
            .map(|q| q.stanzas.into())
            .unwrap_or_default()
    }

    /// The link from `local` to `remote` failed: everything waiting for
    /// it, to bounce (`remote-server-not-found`); the queue is gone.
    pub fn fail(&mut self, local: &str, remote: &str) -> Vec<Waiting> {
        self.take(local, remote)
    }

    /// The queues whose link has been on its way for `timeout` or longer
    /// at `now`, each with its stanzas, to bounce
    /// (`remote-server-timeout`); they are gone.
    pub fn expired(&mut self, now: Time, timeout: Duration) -> Vec<Expired> {
        let late: Vec<(String, String)> = self
            .links
            .iter()
            .filter(|(_, _, q)| now.saturating_duration_since(q.since) >= timeout)
            .map(|(local, remote, _)| (local.to_owned(), remote.to_owned()))
            .collect();
        late.into_iter()
            .map(|(local, remote)| {
                let stanzas = self.take(&local, &remote);
                Expired {
                    local,
                    remote,
                    stanzas,
                }
            })
            .collect()
    }

    /// When the oldest queue times out, for the caller's timer.
    pub fn next_expiry(&self, timeout: Duration) -> Option<Time> {
        self.links.values().map(|q| q.since + timeout).min()
    }

    /// The bytes waiting for the link from `local` to `remote`.
    pub fn bytes(&self, local: &str, remote: &str) -> usize {
        self.links.get(local, remote).map_or(0, |q| q.bytes)
    }

    /// Whether nothing waits for any link.
    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{Element, ns};

    fn stanza(bytes: usize) -> WireStanza {
        let body = "x".repeat(bytes);
        let el = Element::builder("message", ns::CLIENT)
            .attr("to", "a@remote.example")
            .append(Element::builder("body", ns::CLIENT).text(&body))
            .build();
        WireStanza::from_element(&el).unwrap()
    }

    #[test]
    fn a_full_queue_refuses_and_keeps_what_it_had() {
        let mut queues = RemoteQueues::new(1000);
        let now = Time::ZERO;
        assert_eq!(
            queues.push(now, "l.example", "r.example", SessionId(1), stanza(400)),
            Ok(Queued::OpenLink)
        );
        assert_eq!(
            queues.push(now, "l.example", "r.example", SessionId(1), stanza(400)),
            Ok(Queued::Behind)
        );
        let refused = queues
            .push(now, "l.example", "r.example", SessionId(2), stanza(400))
            .unwrap_err();
        assert_eq!(refused.waiting.sender, SessionId(2));
        assert!(queues.bytes("l.example", "r.example") <= 1000);
        // A stanza larger than a whole queue is refused at once.
        assert!(
            queues
                .push(now, "l.example", "big.example", SessionId(3), stanza(2000))
                .is_err()
        );
        assert_eq!(queues.bytes("l.example", "big.example"), 0);
        // A failed link hands back everything, in order.
        let back = queues.fail("l.example", "r.example");
        assert_eq!(back.len(), 2);
        assert!(queues.is_empty());
    }

    #[test]
    fn too_many_waiting_domains_are_refused() {
        let mut queues = RemoteQueues::new(1000).with_max_domains(2);
        let now = Time::ZERO;
        for d in ["a.example", "b.example"] {
            assert_eq!(
                queues.push(now, "l.example", d, SessionId(1), stanza(10)),
                Ok(Queued::OpenLink)
            );
        }
        assert!(
            queues
                .push(now, "l.example", "c.example", SessionId(1), stanza(10))
                .is_err()
        );
        // A domain already waiting still takes more.
        assert_eq!(
            queues.push(now, "l.example", "a.example", SessionId(1), stanza(10)),
            Ok(Queued::Behind)
        );
        // Once one is served, a new domain fits again.
        queues.take("l.example", "b.example");
        assert!(
            queues
                .push(now, "l.example", "c.example", SessionId(1), stanza(10))
                .is_ok()
        );
    }

    #[test]
    fn only_queues_past_the_timeout_expire() {
        let mut queues = RemoteQueues::default();
        let t = Duration::from_secs(60);
        queues
            .push(
                Time::ZERO,
                "l.example",
                "old.example",
                SessionId(1),
                stanza(10),
            )
            .unwrap();
        let later = Time::ZERO + Duration::from_secs(30);
        queues
            .push(later, "l.example", "new.example", SessionId(1), stanza(10))
            .unwrap();
        assert_eq!(queues.next_expiry(t), Some(Time::ZERO + t));
        let expired = queues.expired(Time::ZERO + t, t);
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].remote, "old.example");
        assert!(
            queues.bytes("l.example", "new.example") > 0,
            "the younger queue stays"
        );
        assert_eq!(queues.next_expiry(t), Some(later + t));
    }
}
