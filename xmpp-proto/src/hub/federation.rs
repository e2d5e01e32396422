//! Federation on the hub: stanzas for other domains go to our link to
//! that domain (opened on demand by the transport, with a queue bounded
//! in bytes while it negotiates; everything bounced if it never comes
//! up), stanzas from peer servers come in from the domains they proved,
//! and dialback keys are checked with the authoritative server over our
//! link to it. A link joins one of our domains to one of theirs (as
//! Prosody's and ejabberd's do): a room service's stanzas go out on a
//! link of its own, which proves the service's domain.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use super::{Hub, HubEvent, ServerCommand};
use crate::router::pair_map::PairMap;
use crate::router::remote::{Expired, QueueFull, Queued, RemoteQueues, Waiting};
use crate::router::{REMOTE, Routed, SessionId};
use crate::s2s::dialback::Dialback;
use crate::stanza::{DefinedCondition, Stanza, WireStanza};
use crate::stream_error::StreamErrorCondition;
use crate::time::Time;

/// How long a link may take to come up before what waits for it is
/// bounced with `remote-server-timeout`, by default.
pub const DEFAULT_LINK_TIMEOUT: Duration = Duration::from_secs(60);

/// How many dialback checks may be under way at once, by default; a
/// claim past it is refused with `resource-constraint`.
pub const DEFAULT_MAX_VERIFYING: usize = 256;

/// How many `db:verify` questions may wait for one link.
const MAX_WAITING_VERIFIES_PER_LINK: usize = 64;

/// Where our link to one domain stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Link {
    /// The transport was asked to connect; `session` once it said which.
    Connecting { session: Option<SessionId> },
    /// Encrypted: `db:verify` questions can go out.
    Ready(SessionId),
    /// Accepted: stanzas go out.
    Online(SessionId),
}

impl Link {
    fn session(self) -> Option<SessionId> {
        match self {
            Link::Connecting { session } => session,
            Link::Ready(s) | Link::Online(s) => Some(s),
        }
    }
}

/// The hub's federation state.
#[derive(Debug)]
pub(super) struct Links {
    queues: RemoteQueues,
    /// By (our domain, the peer's).
    links: PairMap<Link>,
    /// Our link sessions, with their (local, remote) domains.
    link_of: HashMap<SessionId, (String, String)>,
    /// Incoming streams that proved a domain (and our bidirectional
    /// links, which carry the peer's stanzas too).
    peers: HashSet<SessionId>,
    /// Peers' bidirectional streams (XEP-0288) that carry our stanzas
    /// for a pair, by (our domain, theirs): used while we have no link
    /// of our own for it.
    bidi: PairMap<SessionId>,
    /// The pair each of those streams carries.
    bidi_of: HashMap<SessionId, (String, String)>,
    /// Dialback claims being checked, by (claimed domain, stream id):
    /// the stream the claim came on and the domain it was for.
    verifying: HashMap<(String, String), (SessionId, String)>,
    /// `db:verify` questions waiting for their link (from the domain
    /// that was claimed to, to the claimed one).
    waiting_verifies: PairMap<Vec<Dialback>>,
    timeout: Duration,
    max_verifying: usize,
}

impl Default for Links {
    fn default() -> Self {
        Links {
            queues: RemoteQueues::default(),
            links: PairMap::default(),
            link_of: HashMap::new(),
            peers: HashSet::new(),
            bidi: PairMap::default(),
            bidi_of: HashMap::new(),
            verifying: HashMap::new(),
            waiting_verifies: PairMap::default(),
            timeout: DEFAULT_LINK_TIMEOUT,
            max_verifying: DEFAULT_MAX_VERIFYING,
        }
    }
}

impl Hub {
    /// Federates: stanzas for other domains go out on server-to-server
    /// links instead of being refused with `remote-server-not-found`.
    /// When a domain has no link, [`HubEvent::ConnectRemote`] asks the
    /// transport for one (answered with [`Hub::remote_connecting`] or
    /// [`Hub::remote_unreachable`]); stanzas wait for it in a queue of at
    /// most `max_queue` bytes per link, for at most
    /// [`DEFAULT_LINK_TIMEOUT`], with at most
    /// [`DEFAULT_MAX_DOMAINS`](crate::router::remote::DEFAULT_MAX_DOMAINS)
    /// links waiting at once (what does not fit is refused with
    /// `resource-constraint`). At most [`DEFAULT_MAX_VERIFYING`] dialback
    /// checks run at once.
    /// Stanzas from peer servers (on `Server`s made with
    /// `ServerConfig::for_federation`) are routed like local ones.
    ///
    /// ```
    /// use xmpp_proto::hub::{Hub, HubEvent, ServerCommand};
    /// use xmpp_proto::jid::FullJid;
    /// use xmpp_proto::router::SessionId;
    /// use xmpp_proto::server::ServerEvent;
    /// use xmpp_proto::stanza::{Message, MessageType, Stanza};
    /// use xmpp_proto::time::Time;
    ///
    /// let mut hub = Hub::new("example.com")?.with_federation(64 * 1024);
    /// let now = Time::ZERO;
    /// let juliet = FullJid::new("juliet@example.com/balcony")?;
    /// hub.handle_event(now, SessionId(1), ServerEvent::BindRequest { jid: juliet.clone(), requested: true });
    /// let msg = Message::builder(MessageType::Chat)
    ///     .from(juliet.as_str())
    ///     .to("romeo@example.net")
    ///     .body("hi")
    ///     .build();
    /// hub.handle_event(now, SessionId(1), ServerEvent::Stanza(Stanza::Message(msg)));
    /// // No link to example.net yet: the transport is asked for one.
    /// let wanted = HubEvent::ConnectRemote { local: "example.com".into(), domain: "example.net".into() };
    /// assert_eq!(hub.poll_event(), Some(wanted));
    /// hub.remote_connecting(SessionId(9), "example.com", "example.net");
    /// // ... the link negotiates; once it reports S2sOnline, the message goes out on it.
    /// let online = ServerEvent::S2sOnline { local: "example.com".into(), remote: "example.net".into() };
    /// hub.handle_event(now, SessionId(9), online);
    /// let delivered = std::iter::from_fn(|| hub.poll_command())
    ///     .any(|(session, command)| session == SessionId(9) && matches!(command, ServerCommand::Deliver(_)));
    /// assert!(delivered);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_federation(mut self, max_queue: usize) -> Self {
        self.router.enable_federation();
        self.links.queues = RemoteQueues::new(max_queue);
        self
    }

    /// How long a link may take to come up (default
    /// [`DEFAULT_LINK_TIMEOUT`]).
    pub fn with_link_timeout(mut self, timeout: Duration) -> Self {
        self.links.timeout = timeout;
        self
    }

    /// The transport connected (or is connecting) `session` as our link
    /// from `local` to `domain`, for a [`HubEvent::ConnectRemote`]: give
    /// it every event of that `Server` as for any session.
    pub fn remote_connecting(&mut self, session: SessionId, local: &str, domain: &str) {
        match self.links.links.get_mut(local, domain) {
            Some(Link::Connecting { session: s }) => *s = Some(session),
            Some(_) => return,
            None => {
                let link = Link::Connecting {
                    session: Some(session),
                };
                self.links.links.insert(local, domain, link);
            }
        }
        let pair = (local.to_owned(), domain.to_owned());
        self.links.link_of.insert(session, pair);
    }

    /// The transport could not reach `domain` (no address, every
    /// connection refused) for the link from `local`: what waits for it
    /// is bounced with `remote-server-not-found`.
    pub fn remote_unreachable(&mut self, now: Time, local: &str, domain: &str) {
        if let Some(Link::Connecting { session }) = self.links.links.get(local, domain).copied() {
            self.links.links.remove(local, domain);
            if let Some(session) = session {
                self.links.link_of.remove(&session);
            }
        }
        self.link_failed(now, local, domain, DefinedCondition::RemoteServerNotFound);
    }

    /// Whether `session` carries our stanzas to another server: one of
    /// our links, or a peer's bidirectional stream.
    pub fn is_link(&self, session: SessionId) -> bool {
        self.links.link_of.contains_key(&session) || self.links.bidi_of.contains_key(&session)
    }

    /// Whether `session` is a peer server's stream that proved a domain.
    pub fn is_peer(&self, session: SessionId) -> bool {
        self.links.peers.contains(&session)
    }

    /// Our links and the peers' streams, for a shutdown.
    pub(super) fn s2s_sessions(&self) -> Vec<SessionId> {
        let links = self.links.link_of.keys();
        links.chain(self.links.peers.iter()).copied().collect()
    }

    /// A stanza from our `local` domain (or an account of it) for
    /// `domain`, from `sender`.
    pub(super) fn send_remote(
        &mut self,
        now: Time,
        local: &str,
        domain: &str,
        sender: SessionId,
        stanza: WireStanza,
        out: &mut Vec<Routed>,
    ) {
        let online = match self.links.links.get(local, domain) {
            Some(Link::Online(link)) => Some(*link),
            _ => self.links.bidi.get(local, domain).copied(),
        };
        if let Some(link) = online {
            self.command(
                link,
                ServerCommand::Deliver(super::Delivery {
                    stanza,
                    rerouted: false,
                }),
            );
            return;
        }
        match self.links.queues.push(now, local, domain, sender, stanza) {
            Ok(Queued::OpenLink) => self.open_link(local, domain),
            Ok(_) => {}
            Err(full) => {
                let QueueFull { waiting } = *full;
                self.bounce_waiting(waiting, DefinedCondition::ResourceConstraint, out);
            }
        }
    }

    /// Asks the transport for a link from `local` to `domain`, unless
    /// one is on its way.
    fn open_link(&mut self, local: &str, domain: &str) {
        if self.links.links.contains(local, domain) {
            return;
        }
        let link = Link::Connecting { session: None };
        self.links.links.insert(local, domain, link);
        self.events.push_back(HubEvent::ConnectRemote {
            local: local.to_owned(),
            domain: domain.to_owned(),
        });
    }

    /// Answers the sender of a stanza that will not reach its server.
    fn bounce_waiting(
        &mut self,
        waiting: Waiting,
        condition: DefinedCondition,
        out: &mut Vec<Routed>,
    ) {
        self.bounce_wire(Some(waiting.sender), &waiting.stanza, condition, out);
    }

    /// Answers `sender` (or, without one, whoever the router finds by the
    /// stanza's `from`) about a serialized stanza that will not go out.
    fn bounce_wire(
        &mut self,
        sender: Option<SessionId>,
        stanza: &WireStanza,
        condition: DefinedCondition,
        out: &mut Vec<Routed>,
    ) {
        let Ok(el) = stanza.to_element() else {
            return;
        };
        let Some(sender) = sender.or_else(|| self.router.sender(&el)) else {
            return;
        };
        if let Ok(stanza) = Stanza::from_element(el) {
            self.router.refuse(sender, &stanza, condition, out);
        }
    }

    /// The link from `local` to `domain` will not come: bounce what
    /// waits for it and refuse the dialback claims that needed it.
    fn link_failed(&mut self, now: Time, local: &str, domain: &str, condition: DefinedCondition) {
        let mut out = std::mem::take(&mut self.routed);
        for waiting in self.links.queues.fail(local, domain) {
            self.bounce_waiting(waiting, condition, &mut out);
        }
        for request in self
            .links
            .waiting_verifies
            .remove(local, domain)
            .unwrap_or_default()
        {
            self.refuse_claim(&request, condition);
        }
        self.dispatch(now, &mut out, true);
        self.routed = out;
    }

    /// Our link from `local` to `remote` is encrypted: the questions
    /// waiting for it go out.
    pub(super) fn link_ready(&mut self, session: SessionId, local: &str, remote: &str) {
        if !self.link_is(session, local, remote) {
            return;
        }
        if let Some(Link::Connecting { .. }) = self.links.links.get(local, remote) {
            self.links.links.insert(local, remote, Link::Ready(session));
        }
        for request in self
            .links
            .waiting_verifies
            .remove(local, remote)
            .unwrap_or_default()
        {
            self.command(session, ServerCommand::VerifyDialback(request));
        }
    }

    /// Our link from `local` to `remote` is accepted: what waits goes
    /// out.
    pub(super) fn link_online(&mut self, session: SessionId, local: &str, remote: &str) {
        if self.is_peer(session) && !self.links.link_of.contains_key(&session) {
            self.bidi_online(session, local, remote);
            return;
        }
        if !self.link_is(session, local, remote) {
            return;
        }
        self.link_ready(session, local, remote);
        self.links
            .links
            .insert(local, remote, Link::Online(session));
        self.send_waiting(session, local, remote);
    }

    /// What waits for a link from `local` to `remote` goes out on
    /// `session`, in order.
    fn send_waiting(&mut self, session: SessionId, local: &str, remote: &str) {
        for waiting in self.links.queues.take(local, remote) {
            self.command(
                session,
                ServerCommand::Deliver(super::Delivery {
                    stanza: waiting.stanza,
                    rerouted: false,
                }),
            );
        }
    }

    /// A peer's stream to us is bidirectional (XEP-0288) and proved
    /// `remote` for `local`: our stanzas for that pair may go out on it,
    /// and what waits for a link of ours goes now.
    fn bidi_online(&mut self, session: SessionId, local: &str, remote: &str) {
        if self.links.bidi.contains(local, remote) || self.links.bidi_of.contains_key(&session) {
            return;
        }
        self.links.bidi.insert(local, remote, session);
        let pair = (local.to_owned(), remote.to_owned());
        self.links.bidi_of.insert(session, pair);
        self.send_waiting(session, local, remote);
    }

    /// Forgets a peer's bidirectional stream (it ended or refused).
    fn bidi_gone(&mut self, session: SessionId) -> Option<(String, String)> {
        let (local, remote) = self.links.bidi_of.remove(&session)?;
        if self.links.bidi.get(&local, &remote) == Some(&session) {
            self.links.bidi.remove(&local, &remote);
        }
        Some((local, remote))
    }

    /// Whether `session` is our link from `local` to `remote` (a session
    /// the transport did not announce is taken at its word once).
    fn link_is(&mut self, session: SessionId, local: &str, remote: &str) -> bool {
        if !self.links.link_of.contains_key(&session) {
            self.remote_connecting(session, local, remote);
        }
        self.links
            .link_of
            .get(&session)
            .is_some_and(|(l, r)| l == local && r == remote)
    }

    /// A peer claims `from` with a dialback key on `session`: ask `from`'s
    /// authoritative server over our link to it.
    pub(super) fn dialback_request(
        &mut self,
        session: SessionId,
        from: String,
        to: String,
        key: &str,
        stream_id: String,
    ) {
        let request = Dialback::verify_request(&to, &from, &stream_id, key);
        if self.links.verifying.len() >= self.links.max_verifying {
            self.refuse_claim(&request, DefinedCondition::ResourceConstraint);
            return;
        }
        self.links
            .verifying
            .insert((from.clone(), stream_id), (session, to.clone()));
        // Asked on our link from the domain the claim was made to.
        match self.links.links.get(&to, &from).copied() {
            Some(Link::Ready(link) | Link::Online(link)) => {
                self.command(link, ServerCommand::VerifyDialback(request));
            }
            _ => {
                let waiting = self
                    .links
                    .waiting_verifies
                    .get_or_insert_with(&to, &from, Vec::new);
                if waiting.len() >= MAX_WAITING_VERIFIES_PER_LINK {
                    self.refuse_claim(&request, DefinedCondition::ResourceConstraint);
                    return;
                }
                waiting.push(request);
                self.open_link(&to, &from);
            }
        }
    }

    /// The authoritative server answered a `db:verify`: the claim's
    /// stream gets the verdict.
    pub(super) fn dialback_verified(&mut self, answer: &Dialback) {
        let id = answer.id.clone().unwrap_or_default();
        let Some((session, local)) = self.links.verifying.remove(&(answer.from.clone(), id)) else {
            return;
        };
        if local != answer.to {
            return;
        }
        let verdict = Dialback {
            verify: false,
            from: local,
            to: answer.from.clone(),
            id: None,
            key: None,
            verdict: answer.verdict,
            error: answer.error,
        };
        self.command(session, ServerCommand::DialbackVerdict(verdict));
    }

    /// A claim cannot be checked (`request` is the `db:verify` it would
    /// have needed): its stream gets a refusal.
    pub(super) fn refuse_claim(&mut self, request: &Dialback, condition: DefinedCondition) {
        let id = request.id.clone().unwrap_or_default();
        let Some((session, local)) = self.links.verifying.remove(&(request.to.clone(), id)) else {
            return;
        };
        let claim = Dialback::result_request(&request.to, &local, "");
        self.command(
            session,
            ServerCommand::DialbackVerdict(claim.refusal(condition)),
        );
    }

    /// A peer stream proved a domain: its stanzas are routed from now.
    pub(super) fn peer_authenticated(&mut self, session: SessionId) {
        self.links.peers.insert(session);
    }

    /// A stanza from a peer server.
    pub(super) fn peer_stanza(&mut self, now: Time, stanza: Stanza) -> Option<crate::xml::Element> {
        let mut out = std::mem::take(&mut self.routed);
        let spent = if self.remote_presence(&stanza, &mut out) {
            Some(stanza.into_element())
        } else {
            self.router.route(REMOTE, stanza, &mut out)
        };
        self.dispatch(now, &mut out, false);
        self.routed = out;
        spent
    }

    /// A link or peer stream ended.
    pub(super) fn s2s_closed(&mut self, now: Time, session: SessionId) {
        self.links.peers.remove(&session);
        self.bidi_gone(session);
        let Some((local, domain)) = self.links.link_of.remove(&session) else {
            return;
        };
        let ours = self
            .links
            .links
            .get(&local, &domain)
            .is_some_and(|l| l.session() == Some(session));
        if ours {
            self.links.links.remove(&local, &domain);
            // What waits was never sent: the link did not come up.
            self.link_failed(now, &local, &domain, DefinedCondition::RemoteServerNotFound);
        }
    }

    /// A delivery our link could not take (it ended, or is closing for
    /// idleness): it waits for the next link.
    pub(super) fn link_refused(&mut self, now: Time, session: SessionId, stanza: WireStanza) {
        let (local, domain) = if let Some(pair) = self.bidi_gone(session) {
            pair
        } else if let Some(pair) = self.links.link_of.get(&session).cloned() {
            let link = self.links.links.get(&pair.0, &pair.1);
            if link.and_then(|l| l.session()) == Some(session) {
                self.links.links.remove(&pair.0, &pair.1);
            }
            pair
        } else {
            return;
        };
        let mut out = std::mem::take(&mut self.routed);
        self.send_remote(now, &local, &domain, REMOTE, stanza, &mut out);
        self.dispatch(now, &mut out, true);
        self.routed = out;
    }

    /// Our link is live but its peer does not read fast enough: the
    /// stanza's sender gets `resource-constraint`; nothing piles up.
    pub(super) fn link_busy(&mut self, now: Time, stanza: WireStanza) {
        let mut out = std::mem::take(&mut self.routed);
        self.bounce_wire(
            None,
            &stanza,
            DefinedCondition::ResourceConstraint,
            &mut out,
        );
        self.dispatch(now, &mut out, true);
        self.routed = out;
    }

    /// Bounces what waited too long for its link, and gives up on the
    /// link.
    pub(super) fn expire_links(&mut self, now: Time) {
        let timeout = self.links.timeout;
        for expired in self.links.queues.expired(now, timeout) {
            let Expired {
                local,
                remote: domain,
                stanzas,
            } = expired;
            let mut out = std::mem::take(&mut self.routed);
            for waiting in stanzas {
                self.bounce_waiting(waiting, DefinedCondition::RemoteServerTimeout, &mut out);
            }
            self.dispatch(now, &mut out, true);
            self.routed = out;
            if let Some(Link::Connecting { session }) =
                self.links.links.get(&local, &domain).copied()
            {
                self.links.links.remove(&local, &domain);
                if let Some(session) = session {
                    self.links.link_of.remove(&session);
                    self.command(
                        session,
                        ServerCommand::Close {
                            condition: StreamErrorCondition::ConnectionTimeout,
                            text: None,
                        },
                    );
                }
                self.link_failed(now, &local, &domain, DefinedCondition::RemoteServerTimeout);
            }
        }
    }

    /// When waiting stanzas next time out.
    pub(super) fn links_timeout(&self) -> Option<Time> {
        self.links.queues.next_expiry(self.links.timeout)
    }
}
