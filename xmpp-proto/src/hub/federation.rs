//! Federation on the hub: stanzas for other domains go to our link to
//! that domain (opened on demand by the transport, with a queue bounded
//! in bytes while it negotiates; everything bounced if it never comes
//! up), stanzas from peer servers come in from the domains they proved,
//! and dialback keys are checked with the authoritative server over our
//! link to it.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use super::{Hub, HubEvent, ServerCommand};
use crate::router::remote::{QueueFull, Queued, RemoteQueues, Waiting};
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

/// How many `db:verify` questions may wait for one domain's link.
const MAX_WAITING_VERIFIES_PER_DOMAIN: usize = 64;

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
    links: HashMap<String, Link>,
    /// Our link sessions, with their domain.
    link_of: HashMap<SessionId, String>,
    /// Incoming streams that proved a domain.
    peers: HashSet<SessionId>,
    /// Dialback claims being checked, by (claimed domain, stream id):
    /// the stream the claim came on and the domain it was for.
    verifying: HashMap<(String, String), (SessionId, String)>,
    /// `db:verify` questions waiting for the link to their domain.
    waiting_verifies: HashMap<String, Vec<Dialback>>,
    timeout: Duration,
    max_verifying: usize,
}

impl Default for Links {
    fn default() -> Self {
        Links {
            queues: RemoteQueues::default(),
            links: HashMap::new(),
            link_of: HashMap::new(),
            peers: HashSet::new(),
            verifying: HashMap::new(),
            waiting_verifies: HashMap::new(),
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
    /// most `max_queue` bytes per domain, for at most
    /// [`DEFAULT_LINK_TIMEOUT`], with at most
    /// [`DEFAULT_MAX_DOMAINS`](crate::router::remote::DEFAULT_MAX_DOMAINS)
    /// domains waiting at once (what does not fit is refused with
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
    /// assert_eq!(hub.poll_event(), Some(HubEvent::ConnectRemote { domain: "example.net".into() }));
    /// hub.remote_connecting(SessionId(9), "example.net");
    /// // ... the link negotiates; once it reports S2sOnline, the message goes out on it.
    /// hub.handle_event(now, SessionId(9), ServerEvent::S2sOnline { remote: "example.net".into() });
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
    /// to `domain`, for a [`HubEvent::ConnectRemote`]: give it every
    /// event of that `Server` as for any session.
    pub fn remote_connecting(&mut self, session: SessionId, domain: &str) {
        match self.links.links.get_mut(domain) {
            Some(Link::Connecting { session: s }) => *s = Some(session),
            Some(_) => return,
            None => {
                self.links.links.insert(
                    domain.to_owned(),
                    Link::Connecting {
                        session: Some(session),
                    },
                );
            }
        }
        self.links.link_of.insert(session, domain.to_owned());
    }

    /// The transport could not reach `domain` (no address, every
    /// connection refused): what waits for it is bounced with
    /// `remote-server-not-found`.
    pub fn remote_unreachable(&mut self, now: Time, domain: &str) {
        if let Some(Link::Connecting { session }) = self.links.links.get(domain).copied() {
            self.links.links.remove(domain);
            if let Some(session) = session {
                self.links.link_of.remove(&session);
            }
        }
        self.link_failed(now, domain, DefinedCondition::RemoteServerNotFound);
    }

    /// Whether `session` is one of our links to another server.
    pub fn is_link(&self, session: SessionId) -> bool {
        self.links.link_of.contains_key(&session)
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

    /// A stanza for another domain, from `sender`.
    pub(super) fn send_remote(
        &mut self,
        now: Time,
        domain: String,
        sender: SessionId,
        stanza: WireStanza,
        out: &mut Vec<Routed>,
    ) {
        if let Some(Link::Online(link)) = self.links.links.get(&domain).copied() {
            self.command(
                link,
                ServerCommand::Deliver(super::Delivery {
                    stanza,
                    rerouted: false,
                }),
            );
            return;
        }
        match self.links.queues.push(now, &domain, sender, stanza) {
            Ok(Queued::OpenLink) => self.open_link(domain),
            Ok(_) => {}
            Err(full) => {
                let QueueFull { waiting } = *full;
                self.bounce_waiting(waiting, DefinedCondition::ResourceConstraint, out);
            }
        }
    }

    /// Asks the transport for a link to `domain`, unless one is on its
    /// way.
    fn open_link(&mut self, domain: String) {
        if self.links.links.contains_key(&domain) {
            return;
        }
        self.links
            .links
            .insert(domain.clone(), Link::Connecting { session: None });
        self.events.push_back(HubEvent::ConnectRemote { domain });
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

    /// The link to `domain` will not come: bounce what waits for it and
    /// refuse the dialback claims that needed it.
    fn link_failed(&mut self, now: Time, domain: &str, condition: DefinedCondition) {
        let mut out = std::mem::take(&mut self.routed);
        for waiting in self.links.queues.fail(domain) {
            self.bounce_waiting(waiting, condition, &mut out);
        }
        for request in self
            .links
            .waiting_verifies
            .remove(domain)
            .unwrap_or_default()
        {
            self.refuse_claim(&request, condition);
        }
        self.dispatch(now, &mut out, true);
        self.routed = out;
    }

    /// Our link to `remote` is encrypted: the questions waiting for it
    /// go out.
    pub(super) fn link_ready(&mut self, session: SessionId, remote: &str) {
        if !self.link_is(session, remote) {
            return;
        }
        if let Some(Link::Connecting { .. }) = self.links.links.get(remote) {
            self.links
                .links
                .insert(remote.to_owned(), Link::Ready(session));
        }
        for request in self
            .links
            .waiting_verifies
            .remove(remote)
            .unwrap_or_default()
        {
            self.command(session, ServerCommand::VerifyDialback(request));
        }
    }

    /// Our link to `remote` is accepted: what waits goes out.
    pub(super) fn link_online(&mut self, session: SessionId, remote: &str) {
        if !self.link_is(session, remote) {
            return;
        }
        self.link_ready(session, remote);
        self.links
            .links
            .insert(remote.to_owned(), Link::Online(session));
        for waiting in self.links.queues.take(remote) {
            self.command(
                session,
                ServerCommand::Deliver(super::Delivery {
                    stanza: waiting.stanza,
                    rerouted: false,
                }),
            );
        }
    }

    /// Whether `session` is our link to `remote` (a session the
    /// transport did not announce is taken at its word once).
    fn link_is(&mut self, session: SessionId, remote: &str) -> bool {
        match self.links.link_of.get(&session) {
            Some(domain) => domain == remote,
            None => {
                self.remote_connecting(session, remote);
                self.links
                    .link_of
                    .get(&session)
                    .is_some_and(|d| d == remote)
            }
        }
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
            .insert((from.clone(), stream_id), (session, to));
        match self.links.links.get(&from).copied() {
            Some(Link::Ready(link) | Link::Online(link)) => {
                self.command(link, ServerCommand::VerifyDialback(request));
            }
            _ => {
                let waiting = self.links.waiting_verifies.entry(from.clone()).or_default();
                if waiting.len() >= MAX_WAITING_VERIFIES_PER_DOMAIN {
                    self.refuse_claim(&request, DefinedCondition::ResourceConstraint);
                    return;
                }
                waiting.push(request);
                self.open_link(from);
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
        let Some(domain) = self.links.link_of.remove(&session) else {
            return;
        };
        let ours = self
            .links
            .links
            .get(&domain)
            .is_some_and(|l| l.session() == Some(session));
        if ours {
            self.links.links.remove(&domain);
            // What waits was never sent: the link did not come up.
            self.link_failed(now, &domain, DefinedCondition::RemoteServerNotFound);
        }
    }

    /// A delivery our link could not take (it ended, or is closing for
    /// idleness): it waits for the next link.
    pub(super) fn link_refused(&mut self, now: Time, session: SessionId, stanza: WireStanza) {
        let Some(domain) = self.links.link_of.get(&session).cloned() else {
            return;
        };
        if self.links.links.get(&domain).and_then(|l| l.session()) == Some(session) {
            self.links.links.remove(&domain);
        }
        let mut out = std::mem::take(&mut self.routed);
        self.send_remote(now, domain, REMOTE, stanza, &mut out);
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
        for (domain, stanzas) in self.links.queues.expired(now, timeout) {
            let mut out = std::mem::take(&mut self.routed);
            for waiting in stanzas {
                self.bounce_waiting(waiting, DefinedCondition::RemoteServerTimeout, &mut out);
            }
            self.dispatch(now, &mut out, true);
            self.routed = out;
            if let Some(Link::Connecting { session }) = self.links.links.get(&domain).copied() {
                self.links.links.remove(&domain);
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
                self.link_failed(now, &domain, DefinedCondition::RemoteServerTimeout);
            }
        }
    }

    /// When waiting stanzas next time out.
    pub(super) fn links_timeout(&self) -> Option<Time> {
        self.links.queues.next_expiry(self.links.timeout)
    }
}
