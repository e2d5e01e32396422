//! What the hub asks of the application, and its counters.

use crate::jid::BareJid;
use crate::router::SessionId;
use crate::sasl::{Mechanism, ScramHash};
use crate::server::Password;
use crate::xml::Element;

/// A question for the application's store, or something to keep.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum HubEvent {
    /// Stanzas (or a dialback check) wait for a link from our domain
    /// `local` to `domain`: resolve `domain` (`_xmpps-server`/
    /// `_xmpp-server` SRV, or a static route), connect, start a `Server`
    /// made with `ServerConfig::new(local)?.for_remote_domain(domain, ..)`
    /// on the connection (a TLS client that verifies the peer for
    /// `domain`) and tell the hub with
    /// [`Hub::remote_connecting`](super::Hub::remote_connecting); or, if
    /// it cannot be reached at all,
    /// [`Hub::remote_unreachable`](super::Hub::remote_unreachable).
    /// `local` is the main domain for users' stanzas, a service's domain
    /// (rooms, a component) for the service's: each pair of domains has
    /// a link of its own, as with other servers.
    ConnectRemote {
        /// Our domain the link speaks for.
        local: String,
        /// The peer's domain.
        domain: String,
    },
    /// A SCRAM login on `session` needs the user's stored credentials for
    /// `hash` (never a password): answer with
    /// [`Hub::provide_credentials`](super::Hub::provide_credentials)
    /// (`None` for an unknown user). The answer may come later (a store
    /// on another thread); the session waits.
    NeedScramCredentials {
        /// The asking session.
        session: SessionId,
        /// The username (after SASLprep).
        username: String,
        /// The hash function of the mechanism.
        hash: ScramHash,
    },
    /// Check a password (PLAIN), or for EXTERNAL (`password` is `None`)
    /// the identity the TLS layer authenticated: answer with
    /// [`Hub::verdict`](super::Hub::verdict).
    Authenticate {
        /// The asking session.
        session: SessionId,
        /// The username (after SASLprep); for EXTERNAL, the requested
        /// authorization identity's localpart, if any.
        username: Option<String>,
        /// The password, for PLAIN.
        password: Option<Password>,
        /// The mechanism.
        mechanism: Mechanism,
    },
    /// A FAST login (XEP-0484) on `session`: answer with
    /// [`Hub::provide_fast_tokens`](super::Hub::provide_fast_tokens), the
    /// unexpired tokens kept for the three, newest first.
    NeedFastToken {
        /// The asking session.
        session: SessionId,
        /// The account.
        account: BareJid,
        /// The user agent's id.
        user_agent: String,
        /// The token mechanism.
        mechanism: Mechanism,
    },
    /// Issue a FAST token: keep a new random secret with its expiry (and
    /// `replacing`, the token just used, until the new one is used),
    /// forget the user agent's others, and answer with
    /// [`Hub::issue_fast_token`](super::Hub::issue_fast_token).
    IssueFastToken {
        /// The asking session.
        session: SessionId,
        /// The account.
        account: BareJid,
        /// The user agent's id.
        user_agent: String,
        /// The mechanism.
        mechanism: Mechanism,
        /// The secret of the token this login used, if any.
        replacing: Option<String>,
    },
    /// Forget every FAST token of `user_agent` of `account` (it signed
    /// out for good). No answer.
    FastTokensRevoked {
        /// The account.
        account: BareJid,
        /// The user agent's id.
        user_agent: String,
    },
    /// `account`'s roster changed (RFC 6121): keep `entry` for
    /// `contact` (`None`: forget the contact) and the roster's new
    /// `version`, so that [`Hub::restore_roster`](super::Hub::restore_roster)
    /// can bring it back after a restart.
    RosterChanged {
        /// The account whose roster it is.
        account: BareJid,
        /// The roster's version after the change.
        version: u64,
        /// The contact.
        contact: BareJid,
        /// What to keep about the contact, or `None` to forget it.
        entry: Option<Box<crate::roster::RosterEntry>>,
    },
    /// `account` stored `element` in its XEP-0049 private storage
    /// (replacing what it kept under the same namespace and name): keep
    /// it, so that [`Hub::restore_private`](super::Hub::restore_private)
    /// brings it back after a restart.
    PrivateChanged {
        /// The account.
        account: BareJid,
        /// The element.
        element: Element,
    },
    /// `account`'s XEP-0191 block list changed; `blocked` is the whole
    /// list now (keep it for
    /// [`Hub::restore_blocklist`](super::Hub::restore_blocklist)).
    BlocklistChanged {
        /// The account.
        account: BareJid,
        /// Every blocked address.
        blocked: Vec<String>,
    },
    /// `session` of `account` sent its initial presence with a
    /// non-negative priority, under `OfflinePolicy::Store`: hand it the
    /// messages kept for the account, oldest first, with
    /// [`Hub::deliver_offline`](super::Hub::deliver_offline) (RFC 6121
    /// §8.5.2.2.2), and forget them.
    OfflineWanted {
        /// The account.
        account: BareJid,
        /// The session to deliver to.
        session: SessionId,
    },
    /// A message for `to`, who has no available resource, under
    /// `OfflinePolicy::Store`: keep it for later. With nowhere to keep
    /// it, hand it to
    /// [`Hub::refuse_offline`](super::Hub::refuse_offline), which answers
    /// its sender with an error.
    StoreOffline {
        /// The account.
        to: BareJid,
        /// The message, `from` stamped.
        message: Element,
    },
}

/// A message kept for an account that was offline, as the store hands
/// it back: the message (`from` stamped) and when it arrived, a
/// XEP-0082 UTC date-time such as `2026-12-03T21:42:00Z`, given to the
/// recipient in a XEP-0203 `<delay/>`.
#[derive(Clone, Debug, PartialEq)]
pub struct OfflineMessage {
    /// The message.
    pub message: Element,
    /// When it arrived.
    pub stamp: String,
}

/// Counters of a [`Hub`](super::Hub) since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HubStats {
    /// Stream-managed sessions kept after their connection broke.
    pub detached: u64,
    /// Of those, resumed on a new connection.
    pub resumed: u64,
    /// Of those, expired (their queued stanzas rerouted, stored or
    /// bounced).
    pub expired: u64,
    /// Stanzas a session could not take that were given to another
    /// resource, stored or bounced instead.
    pub rerouted: u64,
    /// Messages handed out for offline storage.
    pub stored_offline: u64,
    /// Bounces (error stanzas) dropped because their recipient was busy
    /// and the backlog of bounces waiting for busy sessions was full
    /// ([`DEFAULT_MAX_BACKLOG`](super::DEFAULT_MAX_BACKLOG)).
    pub bounces_dropped: u64,
}
