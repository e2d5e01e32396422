//! Everything a server decides across sessions, once, pure: the
//! [`Hub`] beside the per-connection [`Server`](crate::server::Server)s,
//! as quinn-proto's `Endpoint` sits beside its `Connection`s.
//!
//! The hub owns the [`Router`] (who is bound where, RFC 6121 delivery),
//! the stream-managed sessions whose connection broke
//! ([`DetachedSessions`]) and the server's own services (ping,
//! disco#info). A transport hands it every event of every session and
//! applies what comes out; it never decides anything itself:
//!
//! 1. After a session's `Server` reports an event, pass it to
//!    [`Hub::handle_event`].
//! 2. Drain [`Hub::poll_command`]: apply each `(session, command)` with
//!    [`Server::apply`](crate::server::Server::apply) and give any
//!    feedback to [`Hub::handle_feedback`]; for a session that is gone,
//!    give [`ServerCommand::unapplied`] instead.
//! 3. Drain [`Hub::poll_event`]: questions for the application's store
//!    (credentials, a password, where to keep an offline message),
//!    answered with [`Hub::provide_credentials`], [`Hub::verdict`].
//! 4. Call [`Hub::handle_timeout`] at [`Hub::poll_timeout`] (detached
//!    sessions expire).
//!
//! ```
//! use xmpp_proto::hub::{Hub, HubEvent, ServerCommand};
//! use xmpp_proto::jid::{BareJid, FullJid};
//! use xmpp_proto::router::SessionId;
//! use xmpp_proto::sasl::{Mechanism, ScramHash};
//! use xmpp_proto::server::ServerEvent;
//! use xmpp_proto::time::Time;
//!
//! let mut hub = Hub::new("example.com")?;
//! let now = Time::ZERO;
//! let juliet = SessionId(1);
//!
//! // A SCRAM login asks for stored keys: the hub asks the application.
//! hub.handle_event(now, juliet, ServerEvent::NeedScramCredentials {
//!     username: "juliet".into(),
//!     hash: ScramHash::Sha256,
//! });
//! let Some(HubEvent::NeedScramCredentials { session, username, .. }) = hub.poll_event() else {
//!     panic!()
//! };
//! assert_eq!((session, username.as_str()), (juliet, "juliet"));
//! hub.provide_credentials(session, None); // no such user in this example
//! assert!(matches!(hub.poll_command(), Some((_, ServerCommand::ProvideCredentials(None)))));
//!
//! // A bind request: the resource is free, so the session gets it.
//! let jid = FullJid::new("juliet@example.com/balcony")?;
//! hub.handle_event(now, juliet, ServerEvent::BindRequest { jid, requested: true });
//! assert!(matches!(hub.poll_command(), Some((_, ServerCommand::Bind(Ok(()))))));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod backlog;
mod blocking;
mod carbons;
mod command;
mod components;
mod deliver;
mod detached;
mod event;
mod federation;
mod im;
mod im_remote;
mod private;
mod resume;
mod rooms;
mod services;
mod throttle;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::net::IpAddr;

pub use self::backlog::DEFAULT_MAX_BACKLOG;
pub use self::blocking::DEFAULT_MAX_BLOCKED;
pub use self::command::{CommandFeedback, Delivery, ServerCommand};
pub use self::components::ComponentConflict;
pub use self::detached::{
    DEFAULT_DETACHED_BUDGET, DEFAULT_DETACHED_LIMIT, DetachedSessions, Queued,
};
pub use self::event::{HubEvent, HubStats, OfflineMessage};
pub use self::federation::{DEFAULT_LINK_TIMEOUT, DEFAULT_MAX_VERIFYING};
pub use self::im::{DEFAULT_MAX_PENDING_REQUESTS, DEFAULT_MAX_ROSTER_ITEMS};
pub use self::private::DEFAULT_PRIVATE_BUDGET;
pub use self::rooms::WallClock;
pub use self::throttle::ThrottleConfig;

use self::services::Services;
use self::throttle::LoginThrottle;
use crate::jid::{BareJid, JidError};
use crate::router::{BindOutcome, ConflictPolicy, OfflinePolicy, Routed, Router, SessionId};
use crate::sasl::{FailureCondition, StoredCredentials};
use crate::server::ServerEvent;
use crate::sm::SmSession;
use crate::stanza::DefinedCondition;
use crate::stream_error::StreamErrorCondition;
use crate::time::Time;
use crate::xml::Element;

/// How many resources one account may bind at a time by default: enough
/// for a person's devices and bots, few enough that one account cannot
/// take the server's memory.
pub const DEFAULT_MAX_SESSIONS_PER_ACCOUNT: usize = 32;

/// The cross-session state of one server. See the module documentation.
#[derive(Debug)]
pub struct Hub {
    router: Router,
    detached: DetachedSessions,
    services: Services,
    /// What the hub knows of each open session.
    sessions: HashMap<SessionId, SessionInfo>,
    commands: VecDeque<(SessionId, ServerCommand)>,
    events: VecDeque<HubEvent>,
    stats: HubStats,
    /// Reused between routing calls.
    routed: Vec<Routed>,
    /// Reused by `dispatch`: routing results with their reroute mark.
    work: VecDeque<(Routed, bool)>,
    /// Deliveries a resumable session refused because its connection had
    /// just ended, held until the hub hears whether it detached (then
    /// they join its queue for the resumption) or closed for good.
    held: HashMap<SessionId, Vec<Delivery>>,
    /// Resources one account may bind at a time.
    max_sessions_per_account: usize,
    /// Resumptions under way, by the session that asked.
    resumptions: HashMap<SessionId, resume::Resuming>,
    /// Sessions that ended while resuming with a state in hand, and the
    /// session whose state will come back from them.
    returned: HashMap<SessionId, SessionId>,
    /// Every known account's roster.
    rosters: im::Rosters,
    /// XEP-0191 block lists.
    blocklists: blocking::Blocklists,
    /// XEP-0049 private XML of every known account.
    private: private::PrivateStore,
    /// Roster interest, directed presence and carbons, per session.
    im_flags: HashMap<SessionId, ImFlags>,
    /// How many sessions have carbons on (none: messages are not looked
    /// at for copies).
    carbons_on: usize,
    /// For the ids of roster and block-list pushes.
    pushes: u64,
    /// Failed logins per address and per account.
    throttle: LoginThrottle,
    /// Login questions held back by the throttle, by when they may go
    /// out (at most one per session: a session asks one at a time).
    deferred: BinaryHeap<Reverse<(Time, SessionId)>>,
    waiting: HashMap<SessionId, HubEvent>,
    /// External components' domains and secrets.
    components: components::Components,
    /// Our own group chat service, if any.
    rooms: Option<crate::muc::service::RoomService>,
    /// The transport's time of day, for room history stamps.
    wall_clock: Option<rooms::Clock>,
    /// Server-to-server links and peers.
    links: federation::Links,
    /// Bounces waiting for their busy recipient.
    backlog: backlog::Backlog,
}

/// What the hub knows of one open session.
#[derive(Debug, Default)]
struct SessionInfo {
    /// The authenticated account.
    account: Option<BareJid>,
    /// The resumption id, while stream management with resumption is on.
    sm_id: Option<String>,
    /// The client's address, if the transport said.
    address: Option<IpAddr>,
}

/// What the IM layer remembers of one session; it follows the session
/// through a resumption (the flags of the stream, not of the connection).
#[derive(Debug, Default)]
struct ImFlags {
    /// It asked for the roster: it gets roster pushes (RFC 6121 §2.1.6).
    interested: bool,
    /// Where it sent directed available presence (told when it goes).
    directed: HashSet<String>,
    /// It enabled XEP-0280 message carbons.
    carbons: bool,
    /// It asked for its XEP-0191 block list: it gets block pushes.
    blocklist: bool,
}

impl Hub {
    /// A hub for the local domain `domain`, with the router's default
    /// policies (a newcomer replaces a session holding its resource;
    /// messages to offline accounts are refused with
    /// `service-unavailable`) and at most [`DEFAULT_DETACHED_LIMIT`]
    /// detached sessions.
    ///
    /// # Errors
    /// If `domain` is not a valid domainpart.
    pub fn new(domain: &str) -> Result<Self, JidError> {
        Ok(Hub {
            router: Router::new(domain)?,
            detached: DetachedSessions::new(),
            services: Services::default(),
            sessions: HashMap::new(),
            commands: VecDeque::new(),
            events: VecDeque::new(),
            stats: HubStats::default(),
            routed: Vec::new(),
            work: VecDeque::new(),
            held: HashMap::new(),
            max_sessions_per_account: DEFAULT_MAX_SESSIONS_PER_ACCOUNT,
            resumptions: HashMap::new(),
            returned: HashMap::new(),
            rosters: im::Rosters::default(),
            im_flags: HashMap::new(),
            private: private::PrivateStore::default(),
            blocklists: blocking::Blocklists::default(),
            carbons_on: 0,
            pushes: 0,
            throttle: LoginThrottle::default(),
            deferred: BinaryHeap::new(),
            waiting: HashMap::new(),
            components: components::Components::default(),
            rooms: None,
            wall_clock: None,
            links: federation::Links::default(),
            backlog: backlog::Backlog::default(),
        })
    }

    /// What to do on resource conflicts.
    pub fn with_conflict_policy(mut self, policy: ConflictPolicy) -> Self {
        self.router = self.router.with_conflict_policy(policy);
        self
    }

    /// What to do with messages for accounts that are offline; under
    /// [`OfflinePolicy::Store`] they come out as
    /// [`HubEvent::StoreOffline`].
    pub fn with_offline_policy(mut self, policy: OfflinePolicy) -> Self {
        self.router = self.router.with_offline_policy(policy);
        self
    }

    /// Adds a feature to the server's disco#info answer (besides
    /// disco#info and ping, which are always there).
    pub fn with_feature(mut self, var: impl Into<String>) -> Self {
        self.services.features.push(var.into());
        self
    }

    /// Lets one account bind at most `max` resources at a time (default
    /// [`DEFAULT_MAX_SESSIONS_PER_ACCOUNT`]; detached sessions count, as
    /// they stay bound). A bind past it is refused with
    /// `resource-constraint` (RFC 6120 §7.6.2.1); taking over a resource
    /// the account already holds is not a new session.
    pub fn with_max_sessions_per_account(mut self, max: usize) -> Self {
        self.max_sessions_per_account = max.max(1);
        self
    }

    /// How fast failed logins may come per client address and per
    /// account (default [`ThrottleConfig::default`]; tell the hub each
    /// session's address with [`Hub::set_address`]). Past it, the next
    /// login questions of that address (or, from addresses that failed
    /// too, of that account) are held back until their time: the session
    /// waits, nobody else does, and the store is not asked meanwhile.
    pub fn with_login_throttle(mut self, config: ThrottleConfig) -> Self {
        self.throttle = LoginThrottle::new(config);
        self
    }

    /// Tells the hub where `session` connects from (for the login
    /// throttle); call it when the connection is accepted.
    pub fn set_address(&mut self, session: SessionId, address: IpAddr) {
        self.sessions.entry(session).or_default().address = Some(address);
    }

    /// Keeps at most `limit` detached sessions; past it the one closest
    /// to expiry expires early.
    pub fn with_detached_limit(mut self, limit: usize) -> Self {
        let detached = std::mem::take(&mut self.detached);
        self.detached = detached.with_limit(limit);
        self
    }

    /// Lets all detached sessions together queue at most `bytes` of
    /// stanzas (default [`DEFAULT_DETACHED_BUDGET`]); past it the sessions
    /// closest to expiry expire early, their stanzas rerouted, stored or
    /// bounced.
    pub fn with_detached_budget(mut self, bytes: usize) -> Self {
        let detached = std::mem::take(&mut self.detached);
        self.detached = detached.with_byte_budget(bytes);
        self
    }

    /// The domain served.
    pub fn domain(&self) -> &str {
        self.router.domain()
    }

    /// Who is bound where.
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// The sessions waiting to be resumed.
    pub fn detached(&self) -> &DetachedSessions {
        &self.detached
    }

    /// Counters since the hub started.
    pub fn stats(&self) -> HubStats {
        self.stats
    }

    /// An event of `session`'s `Server`. Every event may be passed; those
    /// the hub has no business with are ignored.
    ///
    /// Returns the element of a stanza the hub only read (routed stanzas
    /// travel serialized): hand it to the session's `Server::recycle` to
    /// spare the next stanza an allocation, or drop it.
    pub fn handle_event(
        &mut self,
        now: Time,
        session: SessionId,
        event: ServerEvent,
    ) -> Option<Element> {
        let mut spent = None;
        match event {
            ServerEvent::NeedScramCredentials { username, hash } => {
                let question = HubEvent::NeedScramCredentials {
                    session,
                    username,
                    hash,
                };
                self.ask(now, session, question);
            }
            ServerEvent::Authenticate {
                username,
                password,
                mechanism,
            } => {
                let question = HubEvent::Authenticate {
                    session,
                    username,
                    password,
                    mechanism,
                };
                self.ask(now, session, question);
            }
            ServerEvent::NeedFastToken {
                username,
                user_agent,
                mechanism,
            } => {
                // The name was prepared as a localpart, so this holds
                // unless the domain is too long to share a JID with it.
                match BareJid::new(&format!("{username}@{}", self.domain())) {
                    Ok(account) => {
                        let question = HubEvent::NeedFastToken {
                            session,
                            account,
                            user_agent,
                            mechanism,
                        };
                        self.ask(now, session, question);
                    }
                    Err(_) => self.command(session, ServerCommand::ProvideFastTokens(Vec::new())),
                }
            }
            ServerEvent::IssueFastToken {
                account,
                user_agent,
                mechanism,
                replacing,
            } => self.events.push_back(HubEvent::IssueFastToken {
                session,
                account,
                user_agent,
                mechanism,
                replacing,
            }),
            ServerEvent::FastTokensRevoked {
                account,
                user_agent,
            } => self.events.push_back(HubEvent::FastTokensRevoked {
                account,
                user_agent,
            }),
            ServerEvent::AuthenticationFailed { username } => {
                let address = self.sessions.get(&session).and_then(|s| s.address);
                self.throttle.failed(now, address, username.as_deref());
            }
            ServerEvent::Authenticated { jid, .. } => {
                self.add_account(&jid);
                self.sessions.entry(session).or_default().account = Some(jid);
            }
            ServerEvent::BindRequest { jid, .. } => self.bind(session, &jid),
            ServerEvent::SmEnabled { id } => {
                self.sessions.entry(session).or_default().sm_id = id;
            }
            ServerEvent::ResumeRequest { previd, .. } => self.resume_request(now, session, previd),
            ServerEvent::Resumed { .. } => self.resumed(session),
            ServerEvent::Stanza(stanza) if self.is_peer(session) => {
                spent = self.peer_stanza(now, stanza);
            }
            ServerEvent::Stanza(stanza) => {
                let mut out = std::mem::take(&mut self.routed);
                if self.blocked(session, &stanza, &mut out) {
                    spent = Some(stanza.into_element());
                } else {
                    let carbon = self.carbon_candidate(session, &stanza);
                    if let Some(stanza) = self.im_stanza(session, stanza, &mut out) {
                        spent = self.router.route(session, stanza, &mut out);
                    }
                    if let Some(message) = carbon {
                        self.carbon_copies(session, &message, &mut out);
                    }
                }
                self.dispatch(now, &mut out, false);
                self.routed = out;
            }
            ServerEvent::Detached(state) => self.detach(now, session, *state),
            ServerEvent::Undelivered { stanzas } => {
                self.stats.rerouted += stanzas.len() as u64;
                let mut out = std::mem::take(&mut self.routed);
                self.router.undeliverable_from(session, stanzas, &mut out);
                self.dispatch(now, &mut out, true);
                self.routed = out;
            }
            ServerEvent::ComponentHandshake {
                domain,
                stream_id,
                digest,
            } => self.component_handshake(session, &domain, &stream_id, &digest),
            ServerEvent::DialbackRequest {
                from,
                to,
                key,
                stream_id,
            } => self.dialback_request(session, from, to, &key, stream_id),
            ServerEvent::DialbackVerified(answer) => self.dialback_verified(&answer),
            ServerEvent::S2sAuthenticated { .. } => self.peer_authenticated(session),
            ServerEvent::S2sReady { local, remote } => self.link_ready(session, &local, &remote),
            ServerEvent::S2sOnline { local, remote } => self.link_online(session, &local, &remote),
            ServerEvent::Closed { .. } => self.closed(now, session),
            // Online needs nothing (the binding was made when it was
            // accepted); Trace is for logs.
            _ => {}
        }
        self.enforce_detached_budget(now);
        spent
    }

    /// Expires detached sessions early while their queues together hold
    /// more than the byte budget.
    fn enforce_detached_budget(&mut self, now: Time) {
        while let Some((session, state)) = self.detached.pop_over_budget() {
            self.expire(now, session, state);
        }
    }

    /// What applying a command handed back.
    pub fn handle_feedback(&mut self, now: Time, session: SessionId, feedback: CommandFeedback) {
        match feedback {
            CommandFeedback::Refused(delivery) if self.is_link(session) => {
                self.link_refused(now, session, delivery.stanza)
            }
            CommandFeedback::Busy(delivery) if self.is_link(session) => {
                self.link_busy(now, delivery.stanza)
            }
            CommandFeedback::VerifyFailed { request, .. } => self.refuse_claim(
                &request,
                crate::stanza::DefinedCondition::RemoteServerNotFound,
            ),
            CommandFeedback::Refused(delivery) => self.refused(now, session, delivery),
            CommandFeedback::Busy(delivery) => self.busy(now, session, delivery),
            CommandFeedback::ResumeFailed(state) => self.resume_failed(now, session, *state),
            CommandFeedback::HandedOver { to, state } => {
                self.handed_over(now, session, to, state.map(|s| *s))
            }
        }
        self.enforce_detached_budget(now);
    }

    /// Time has passed: detached sessions whose time is up expire, their
    /// queued stanzas rerouted, stored or bounced.
    pub fn handle_timeout(&mut self, now: Time) {
        while let Some((session, state)) = self.detached.pop_expired(now) {
            self.expire(now, session, state);
        }
        self.release_deferred(now);
        self.expire_links(now);
        self.retry_bounces(now);
    }

    /// When [`Hub::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Time> {
        let deferred = self.deferred.peek().map(|Reverse((at, _))| *at);
        let bounces = self.backlog.next();
        [
            self.detached.next_expiry(),
            deferred,
            self.links_timeout(),
            bounces,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// A login question: to the application now, or once the throttle
    /// lets it go.
    fn ask(&mut self, now: Time, session: SessionId, question: HubEvent) {
        let address = self.sessions.get(&session).and_then(|s| s.address);
        let account = match &question {
            HubEvent::NeedScramCredentials { username, .. } => Some(username.as_str()),
            HubEvent::Authenticate { username, .. } => username.as_deref(),
            HubEvent::NeedFastToken { account, .. } => account.localpart(),
            _ => None,
        };
        let at = self.throttle.allowed_at(now, address, account);
        if at <= now {
            self.events.push_back(question);
        } else {
            self.deferred.push(Reverse((at, session)));
            self.waiting.insert(session, question);
        }
    }

    /// Hands out the held-back questions whose time has come (those of
    /// sessions that ended meanwhile are gone).
    fn release_deferred(&mut self, now: Time) {
        while let Some(Reverse((at, session))) = self.deferred.peek().copied() {
            if at > now {
                break;
            }
            self.deferred.pop();
            if let Some(question) = self.waiting.remove(&session) {
                self.events.push_back(question);
            }
        }
    }

    /// The next command for a session.
    pub fn poll_command(&mut self) -> Option<(SessionId, ServerCommand)> {
        self.commands.pop_front()
    }

    /// The next question or report for the application.
    pub fn poll_event(&mut self) -> Option<HubEvent> {
        self.events.pop_front()
    }

    /// Answers [`HubEvent::NeedScramCredentials`]: the stored credentials,
    /// or `None` for an unknown user.
    pub fn provide_credentials(
        &mut self,
        session: SessionId,
        credentials: Option<StoredCredentials>,
    ) {
        self.command(session, ServerCommand::ProvideCredentials(credentials));
    }

    /// Answers [`HubEvent::NeedFastToken`]: the tokens kept, newest first.
    pub fn provide_fast_tokens(&mut self, session: SessionId, tokens: Vec<String>) {
        self.command(session, ServerCommand::ProvideFastTokens(tokens));
    }

    /// Answers [`HubEvent::IssueFastToken`]: the token kept (`None`: none
    /// this time).
    pub fn issue_fast_token(
        &mut self,
        session: SessionId,
        token: Option<crate::negotiation::FastToken>,
    ) {
        self.command(session, ServerCommand::IssueFastToken(token));
    }

    /// Answers [`HubEvent::Authenticate`]: the password (or identity) is
    /// good, or refused with this condition (`not-authorized` for a wrong
    /// password).
    pub fn verdict(&mut self, session: SessionId, verdict: Result<(), FailureCondition>) {
        self.command(session, ServerCommand::Verdict(verdict));
    }

    /// Keeps a stream-managed session as detached under `session`, bound
    /// to its JID, as if its connection had just broken: for an
    /// application that keeps detached sessions across a restart (and
    /// for tests). Returns `false`, keeping nothing, if its JID is bound
    /// to another session or the state has no resumption id.
    pub fn restore_detached(&mut self, now: Time, session: SessionId, state: SmSession) -> bool {
        if state.id.is_none() || self.router.session(state.jid.as_str()).is_some() {
            return false;
        }
        if self.router.bind(session, &state.jid) != BindOutcome::Bound {
            return false;
        }
        self.detach(now, session, state);
        true
    }

    /// Ends every session with `system-shutdown` (the transport then
    /// drives them until they are gone).
    pub fn shutdown(&mut self) {
        let mut sessions: Vec<SessionId> = self.sessions.keys().copied().collect();
        sessions.extend(self.s2s_sessions());
        sessions.sort();
        sessions.dedup();
        for session in sessions {
            self.command(
                session,
                ServerCommand::Close {
                    condition: StreamErrorCondition::SystemShutdown,
                    text: None,
                },
            );
        }
    }

    /// An IQ set carrying `payload` to every session of `account` whose
    /// flags `wants` (roster and block-list pushes go only to the
    /// resources that asked for the list).
    fn push_to(
        &mut self,
        account: &BareJid,
        wants: fn(&ImFlags) -> bool,
        payload: &Element,
        out: &mut Vec<Routed>,
    ) {
        let targets: Vec<(SessionId, String)> = self
            .router
            .sessions_of(account)
            .iter()
            .filter(|s| self.im_flags.get(s).is_some_and(wants))
            .filter_map(|s| self.router.jid(*s).map(|j| (*s, j.as_str().to_owned())))
            .collect();
        for (session, to) in targets {
            self.pushes += 1;
            let push = Element::builder("iq", crate::xml::ns::CLIENT)
                .attr("type", "set")
                .attr("id", format!("push{}", self.pushes))
                .attr("to", to)
                .append(payload.clone())
                .build();
            self.router.deliver(session, &push, out);
        }
    }

    /// The IM flags of `from` now belong to `to` (a resumption moved the
    /// binding).
    fn move_im_flags(&mut self, from: SessionId, to: SessionId) {
        if let Some(flags) = self.im_flags.remove(&from) {
            self.im_flags.insert(to, flags);
        }
    }

    /// The session is over for good.
    fn forget_im_flags(&mut self, session: SessionId) {
        if self.im_flags.remove(&session).is_some_and(|f| f.carbons) {
            self.carbons_on = self.carbons_on.saturating_sub(1);
        }
    }

    fn command(&mut self, session: SessionId, command: ServerCommand) {
        self.commands.push_back((session, command));
    }

    /// `BindRequest`: ask the router.
    fn bind(&mut self, session: SessionId, jid: &crate::jid::FullJid) {
        let taken_over = self.router.session(jid.as_str()).is_some();
        let held = self.router.sessions_of(&jid.to_bare()).len();
        if !taken_over && held >= self.max_sessions_per_account {
            self.command(
                session,
                ServerCommand::Bind(Err(DefinedCondition::ResourceConstraint)),
            );
            return;
        }
        match self.router.bind(session, jid) {
            BindOutcome::Bound => self.command(session, ServerCommand::Bind(Ok(()))),
            BindOutcome::Refused => self.command(
                session,
                ServerCommand::Bind(Err(DefinedCondition::Conflict)),
            ),
            BindOutcome::Replaced { old } => {
                self.command(session, ServerCommand::Bind(Ok(())));
                self.command(
                    old,
                    ServerCommand::Close {
                        condition: StreamErrorCondition::Conflict,
                        text: Some("another session took this resource".into()),
                    },
                );
            }
        }
    }

    /// The connection of `session` is over.
    fn closed(&mut self, now: Time, session: SessionId) {
        self.s2s_closed(now, session);
        self.router.detach_component(session);
        self.sessions.remove(&session);
        self.waiting.remove(&session);
        self.release_held(now, session);
        self.release_bounces(now, session);
        if self.resumption_ended(session) {
            // The binding went back to the session it was resuming.
            return;
        }
        // A detached session stays bound until it is resumed or expires.
        if !self.detached.contains(session) {
            let mut out = std::mem::take(&mut self.routed);
            self.im_session_gone(session, &mut out);
            self.forget_im_flags(session);
            self.router.unbind(session, &mut out);
            self.dispatch(now, &mut out, true);
            self.routed = out;
        }
    }
}
