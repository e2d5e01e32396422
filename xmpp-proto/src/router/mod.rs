//! Local delivery between the sessions of one server (RFC 6121 §8), pure
//! and sans-IO: a table of bound sessions and the rules that turn a
//! stanza from one session into deliveries to others, error replies,
//! stanzas for offline storage, or requests for the server's own services.
//!
//! The [`Hub`](crate::hub::Hub) owns a router and feeds it; applications
//! normally only look at it (who is bound). Sessions are named with
//! [`SessionId`]s the transport chooses. A delivery carries the stanza
//! serialized once ([`WireStanza`]): every recipient of a fan-out shares
//! the same bytes.
//!
//! ```
//! use xmpp_proto::jid::FullJid;
//! use xmpp_proto::router::{BindOutcome, Routed, Router, SessionId};
//! use xmpp_proto::stanza::{Message, MessageType, Stanza};
//!
//! let mut router = Router::new("example.com")?;
//! let juliet = FullJid::new("juliet@example.com/balcony")?;
//! let romeo = FullJid::new("romeo@example.com/orchard")?;
//! assert_eq!(router.bind(SessionId(1), &juliet), BindOutcome::Bound);
//! assert_eq!(router.bind(SessionId(2), &romeo), BindOutcome::Bound);
//!
//! // The Server stamped `from`; the router finds the recipient.
//! let msg = Message::builder(MessageType::Chat)
//!     .from(juliet.as_str())
//!     .to(romeo.as_str())
//!     .body("Wherefore art thou?")
//!     .build();
//! let mut out = Vec::new();
//! router.route(SessionId(1), Stanza::Message(msg), &mut out);
//! assert!(matches!(&out[..], [Routed::Deliver { session: SessionId(2), .. }]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod deliver;
pub(crate) mod pair_map;
pub mod remote;

use std::collections::HashMap;

use crate::jid::{BareJid, FullJid, JidError, JidErrorKind, JidPart};
use crate::stanza::{Iq, WireStanza};
use crate::xml::Element;

/// A session's name, chosen by the transport (a slab index, a counter).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u64);

/// The session id that stands for every other server: a stanza that
/// came over a server-to-server stream is routed from it, and what the
/// router delivers to it goes out to the domain of its `to`, as
/// [`Routed::Remote`]. Only on a router [`Router::with_federation`].
pub const REMOTE: SessionId = SessionId(u64::MAX - 1);

/// What to do when a new session asks for a full JID that another session
/// holds (RFC 6120 §7.7.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ConflictPolicy {
    /// The newcomer takes the resource; the old session must be closed with
    /// a `conflict` stream error. The default (what Prosody and ejabberd do).
    #[default]
    ReplaceOld,
    /// The newcomer's bind is refused with a `conflict` stanza error.
    RefuseNew,
}

/// What to do with a message for a local account with no available
/// resource (RFC 6121 §8.5.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OfflinePolicy {
    /// Answer the sender with `service-unavailable`. The default.
    #[default]
    Reject,
    /// Hand the message to the application as [`Routed::Offline`] to store
    /// and deliver later.
    Store,
}

/// The answer to [`Router::bind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindOutcome {
    /// The session has the JID: call `Server::accept_bind`.
    Bound,
    /// Another session holds it and the policy refuses newcomers: call
    /// `Server::reject_bind` with `conflict`.
    Refused,
    /// The session has the JID and `old` lost it: call
    /// `Server::accept_bind` on the new one and `Server::close_with_error`
    /// with `conflict` on the old one.
    Replaced {
        /// The session that held the JID.
        old: SessionId,
    },
}

/// One result of routing.
#[derive(Clone, Debug, PartialEq)]
pub enum Routed {
    /// Send `stanza` on `session`.
    Deliver {
        /// The receiving session (may be the sender, for error replies).
        session: SessionId,
        /// The stanza, serialized; the recipients of a fan-out share it.
        stanza: WireStanza,
    },
    /// A message for `to`, who has no available resource, under
    /// [`OfflinePolicy::Store`].
    Offline {
        /// The account.
        to: BareJid,
        /// The message, `from` stamped.
        message: Element,
    },
    /// A stanza for another server: hand it to the link from `local` to
    /// `domain`.
    Remote {
        /// The domain of its `to`.
        domain: String,
        /// Our domain it comes from (the main domain, a room service's, a
        /// component's): the link speaks for that domain.
        local: String,
        /// The session it came from ([`REMOTE`] for an answer to another
        /// server's stanza), to bounce it to if no link comes up.
        sender: SessionId,
        /// The stanza, serialized.
        stanza: WireStanza,
    },
    /// An IQ request the server answers itself: one to the domain
    /// (`account` is `None`), or one to an account, which the server
    /// handles on the account's behalf (RFC 6121 §8.5.2.1.3).
    ForServer {
        /// The asking session.
        from: SessionId,
        /// The account the request was addressed to, if not the domain.
        account: Option<BareJid>,
        /// The request, `from` stamped.
        iq: Iq,
    },
}

/// A bound session.
#[derive(Clone, Debug)]
struct Session {
    jid: FullJid,
    /// Its last available presence, once it sent one (RFC 6121 §4.2).
    presence: Option<Element>,
    priority: i8,
}

impl Session {
    fn is_available(&self) -> bool {
        self.presence.is_some()
    }
}

/// The table of bound sessions of one domain. See the module documentation.
#[derive(Debug)]
pub struct Router {
    domain: BareJid,
    conflict: ConflictPolicy,
    offline: OfflinePolicy,
    sessions: HashMap<SessionId, Session>,
    by_jid: HashMap<FullJid, SessionId>,
    /// Sessions per account, in binding order.
    by_account: HashMap<BareJid, Vec<SessionId>>,
    /// Reused to serialize deliveries.
    scratch: Vec<u8>,
    /// Reused for the recipients of one stanza.
    targets: Vec<SessionId>,
    /// External components (XEP-0114): every configured domain, with the
    /// session serving it while one is connected.
    components: HashMap<String, Option<SessionId>>,
    /// The domain each connected component serves.
    component_of: HashMap<SessionId, String>,
    /// Stanzas for other domains go out as [`Routed::Remote`] instead of
    /// being refused.
    federation: bool,
}

impl Router {
    /// A router for the local domain `domain`.
    ///
    /// # Errors
    /// If `domain` is not a valid domainpart.
    pub fn new(domain: &str) -> Result<Self, JidError> {
        let domain = BareJid::new(domain)?;
        if domain.localpart().is_some() {
            return Err(JidError::new(JidPart::Localpart, JidErrorKind::Unexpected));
        }
        Ok(Router {
            domain,
            conflict: ConflictPolicy::default(),
            offline: OfflinePolicy::default(),
            sessions: HashMap::new(),
            by_jid: HashMap::new(),
            by_account: HashMap::new(),
            scratch: Vec::new(),
            targets: Vec::new(),
            components: HashMap::new(),
            component_of: HashMap::new(),
            federation: false,
        })
    }

    /// Routes stanzas for other domains out as [`Routed::Remote`] (to a
    /// server-to-server link) rather than refusing them with
    /// `remote-server-not-found`, and takes stanzas from [`REMOTE`].
    pub fn with_federation(mut self) -> Self {
        self.enable_federation();
        self
    }

    pub(crate) fn enable_federation(&mut self) {
        self.federation = true;
    }

    /// Whether stanzas for other domains go out.
    pub fn is_federated(&self) -> bool {
        self.federation
    }

    /// Makes `domain` a component's (XEP-0114): stanzas for any address
    /// of it go to the session attached with
    /// [`Router::attach_component`], and while none is, requests and
    /// messages are answered with `service-unavailable`.
    pub fn add_component_domain(&mut self, domain: &str) {
        self.components.entry(domain.to_owned()).or_insert(None);
    }

    /// Whether `domain` is a configured component domain.
    pub fn is_component_domain(&self, domain: &str) -> bool {
        self.components.contains_key(domain)
    }

    /// The configured component domains, in no particular order.
    pub fn component_domains(&self) -> impl Iterator<Item = &str> {
        self.components.keys().map(String::as_str)
    }

    /// `session` now serves the component domain `domain` (configured
    /// with [`Router::add_component_domain`]); returns the session that
    /// served it before, if any, which no longer does.
    pub fn attach_component(&mut self, domain: &str, session: SessionId) -> Option<SessionId> {
        let previous = self
            .components
            .insert(domain.to_owned(), Some(session))
            .flatten();
        if let Some(previous) = previous {
            self.component_of.remove(&previous);
        }
        self.component_of.insert(session, domain.to_owned());
        previous
    }

    /// `session` no longer serves a component domain (it ended).
    pub fn detach_component(&mut self, session: SessionId) {
        if let Some(domain) = self.component_of.remove(&session) {
            if let Some(serving) = self.components.get_mut(&domain) {
                if *serving == Some(session) {
                    *serving = None;
                }
            }
        }
    }

    /// The session serving component domain `domain`, while connected.
    pub fn component_session(&self, domain: &str) -> Option<SessionId> {
        self.components.get(domain).copied().flatten()
    }

    /// The component domain `session` serves, if it is a component's.
    pub fn component_of(&self, session: SessionId) -> Option<&str> {
        self.component_of.get(&session).map(String::as_str)
    }

    /// What to do on resource conflicts (default: replace the old session).
    pub fn with_conflict_policy(mut self, policy: ConflictPolicy) -> Self {
        self.conflict = policy;
        self
    }

    /// What to do with messages for accounts that are offline (default:
    /// `service-unavailable`).
    pub fn with_offline_policy(mut self, policy: OfflinePolicy) -> Self {
        self.offline = policy;
        self
    }

    /// The domain served.
    pub fn domain(&self) -> &str {
        self.domain.domainpart()
    }

    /// The policy for resource conflicts.
    pub fn conflict_policy(&self) -> ConflictPolicy {
        self.conflict
    }

    /// The policy for messages to accounts that are offline.
    pub fn offline_policy(&self) -> OfflinePolicy {
        self.offline
    }

    /// Records that `session` wants `jid` (answers `ServerEvent::BindRequest`).
    /// A JID of another domain is refused.
    pub fn bind(&mut self, session: SessionId, jid: &FullJid) -> BindOutcome {
        if jid.domainpart() != self.domain.domainpart() {
            return BindOutcome::Refused;
        }
        let old = match self.by_jid.get(jid).copied() {
            Some(old) if old == session => return BindOutcome::Bound,
            Some(_) if self.conflict == ConflictPolicy::RefuseNew => {
                return BindOutcome::Refused;
            }
            Some(old) => {
                self.forget(old);
                Some(old)
            }
            None => None,
        };
        self.forget(session);
        self.sessions.insert(
            session,
            Session {
                jid: jid.clone(),
                presence: None,
                priority: 0,
            },
        );
        self.by_jid.insert(jid.clone(), session);
        self.by_account
            .entry(jid.to_bare())
            .or_default()
            .push(session);
        match old {
            Some(old) => BindOutcome::Replaced { old },
            None => BindOutcome::Bound,
        }
    }

    /// Forgets a closed session (answers `ServerEvent::Closed`). If it was
    /// available, its other resources get its unavailable presence.
    pub fn unbind(&mut self, session: SessionId, out: &mut Vec<Routed>) {
        let Some(gone) = self.forget(session) else {
            return;
        };
        if gone.is_available() {
            let unavailable = Element::builder("presence", crate::xml::ns::CLIENT)
                .attr("from", gone.jid.as_str())
                .attr("type", "unavailable")
                .build();
            let account = gone.jid.bare_str().to_owned();
            self.send_to_account_resources(&account, &unavailable, None, out);
        }
    }

    /// A stream-managed session was resumed on a new connection: `new`
    /// takes over `old`'s binding and presence (answers the server's
    /// `ServerEvent::Resumed`). While a session is detached the router keeps it
    /// bound, so stanzas keep being routed to it; the transport queues
    /// them in the detached state. Returns whether `old` was bound.
    pub fn reattach(&mut self, old: SessionId, new: SessionId) -> bool {
        if old == new {
            return self.sessions.contains_key(&old);
        }
        let Some(session) = self.sessions.remove(&old) else {
            return false;
        };
        self.forget(new);
        self.by_jid.insert(session.jid.clone(), new);
        if let Some(list) = self.by_account.get_mut(&session.jid.to_bare()) {
            for id in list.iter_mut().filter(|id| **id == old) {
                *id = new;
            }
        }
        self.sessions.insert(new, session);
        true
    }

    /// A detached session expired without being resumed: forgets it (as
    /// [`Router::unbind`]) and gives the stanzas queued for it the
    /// RFC 6121 treatment ([`Router::undeliverable`]).
    pub fn expire(&mut self, session: SessionId, queued: Vec<Element>, out: &mut Vec<Routed>) {
        self.unbind(session, out);
        self.undeliverable(queued, out);
    }

    /// Whether `session` is bound.
    pub fn is_bound(&self, session: SessionId) -> bool {
        self.sessions.contains_key(&session)
    }

    /// The sessions bound to resources of `account`, in binding order
    /// (to find the live session a `<resume/>` names, with
    /// `Server::sm_id`).
    pub fn sessions_of(&self, account: &BareJid) -> &[SessionId] {
        self.sessions_of_account(account.as_str())
    }

    /// [`Router::sessions_of`] for an account's bare JID as text
    /// (prepared), without building a `BareJid`.
    pub(crate) fn sessions_of_account(&self, account: &str) -> &[SessionId] {
        self.by_account.get(account).map_or(&[], Vec::as_slice)
    }

    /// The JID bound to `session`.
    pub fn jid(&self, session: SessionId) -> Option<&FullJid> {
        self.sessions.get(&session).map(|s| &s.jid)
    }

    /// The session bound to `jid` (a full JID's text, prepared).
    pub fn session(&self, jid: &str) -> Option<SessionId> {
        self.by_jid.get(jid).copied()
    }

    /// How many sessions are bound.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no session is bound.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    fn forget(&mut self, session: SessionId) -> Option<Session> {
        let gone = self.sessions.remove(&session)?;
        self.by_jid.remove(&gone.jid);
        let bare = gone.jid.to_bare();
        if let Some(list) = self.by_account.get_mut(&bare) {
            list.retain(|s| *s != session);
            if list.is_empty() {
                self.by_account.remove(&bare);
            }
        }
        Some(gone)
    }
}
