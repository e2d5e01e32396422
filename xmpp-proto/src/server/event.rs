//! What a [`Server`](super::Server) reports to the application, including
//! the questions it must answer.

use std::fmt;

use crate::jid::{BareJid, FullJid};
use crate::sasl::{ChannelBindingType, Mechanism, ScramHash};
use crate::sm::SmSession;
use crate::stanza::Stanza;
use crate::xml::Element;

use crate::endpoint::{CloseReason, Direction};

/// A password the client sent with PLAIN; `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(pub(crate) String);

impl Password {
    /// The password (after SASLprep).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(..)")
    }
}

/// Something the application should know about or answer.
///
/// Three events are questions; negotiation waits until the matching
/// command is called:
/// - [`ServerEvent::NeedScramCredentials`] → [`Server::provide_credentials`],
/// - [`ServerEvent::Authenticate`] → [`Server::accept_auth`] or [`Server::reject_auth`],
/// - [`ServerEvent::BindRequest`] → [`Server::accept_bind`] or [`Server::reject_bind`].
///
/// [`Server::provide_credentials`]: super::Server::provide_credentials
/// [`Server::accept_auth`]: super::Server::accept_auth
/// [`Server::reject_auth`]: super::Server::reject_auth
/// [`Server::accept_bind`]: super::Server::accept_bind
/// [`Server::reject_bind`]: super::Server::reject_bind
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// A SCRAM exchange needs the user's stored credentials for `hash`
    /// (never a password). Answer with `provide_credentials` (`None` for an
    /// unknown user).
    NeedScramCredentials {
        /// The account: the SASL username prepared as a JID's localpart
        /// ([`prepare_localpart`](crate::jid::prepare_localpart): `Alice`
        /// asks for `alice`). A name no localpart can have is refused
        /// without asking.
        username: String,
        /// The hash function of the mechanism.
        hash: ScramHash,
    },
    /// Check a password (PLAIN), or for EXTERNAL (`password` is `None`) the
    /// identity the TLS layer authenticated. Answer with `accept_auth` or
    /// `reject_auth`.
    Authenticate {
        /// The account (the SASL username prepared as a localpart, as for
        /// `NeedScramCredentials`); for EXTERNAL, the requested
        /// authorization identity's localpart, if any.
        username: Option<String>,
        /// The password, for PLAIN.
        password: Option<Password>,
        /// The mechanism.
        mechanism: Mechanism,
    },
    /// A login failed with `not-authorized` (a wrong password, an unknown
    /// user, a bad SCRAM proof); `<failure/>` was sent. For throttling
    /// guessers: the hub counts these per address and per account.
    AuthenticationFailed {
        /// The account tried (the username prepared as a localpart), if
        /// the exchange got that far.
        username: Option<String>,
    },
    /// The client is authenticated as `jid`; `<success/>` was sent.
    Authenticated {
        /// The account.
        jid: BareJid,
        /// The mechanism used.
        mechanism: Mechanism,
        /// The channel binding type the exchange was bound to, if any.
        channel_binding: Option<ChannelBindingType>,
    },
    /// The client asks to bind `jid` (its requested resource, or one we
    /// generated). Answer with `accept_bind`, or `reject_bind` (for
    /// example with `conflict` if the resource is taken and the policy is
    /// to refuse the newcomer).
    BindRequest {
        /// The full JID the session would have.
        jid: FullJid,
        /// Whether the client chose the resource (`false`: we generated it).
        requested: bool,
    },
    /// The session is bound to `jid`: stanzas flow from now on.
    Online {
        /// The session's full JID.
        jid: FullJid,
    },
    /// The client enabled XEP-0198 stream management; with resumption,
    /// `id` is the session's resumption id (a later `<resume/>` on another
    /// connection names it).
    SmEnabled {
        /// The resumption id, if resumption is on.
        id: Option<String>,
    },
    /// A stream-managed session was resumed on this connection
    /// (`accept_resume`): it is bound to `jid` again, and the stanzas the
    /// client lacked were sent again.
    Resumed {
        /// The session's full JID.
        jid: FullJid,
    },
    /// The client asks to resume the detached session `previd`
    /// (XEP-0198 §5). Look it up among the sessions this account
    /// ([`Server::user`]) left detached and answer with `accept_resume`,
    /// or `reject_resume` if there is none (unknown, expired, or
    /// another account's).
    ///
    /// [`Server::user`]: super::Server::user
    ResumeRequest {
        /// The resumption id the client names.
        previd: String,
        /// How many of our stanzas the client says it handled.
        h: u32,
    },
    /// A FAST login (XEP-0484): the client proves it holds a token of
    /// `username` issued to `user_agent` for `mechanism`. Answer with
    /// `provide_fast_tokens`: the unexpired tokens kept for these three,
    /// newest first (none for an unknown user; the client then gets
    /// `not-authorized`). The proof is checked here.
    NeedFastToken {
        /// The account, prepared as for `NeedScramCredentials`.
        username: String,
        /// The user agent's id from `<user-agent/>`.
        user_agent: String,
        /// The token mechanism.
        mechanism: Mechanism,
    },
    /// A FAST token is to be issued to `user_agent` of `account` (the client
    /// asked, or it logged in with a token, which is renewed at each use).
    /// Keep a new random secret with its expiry, keep `replacing` (the
    /// token just used) too until the new one has been used once, forget
    /// the others of this user agent, and answer with `issue_fast_token`
    /// (`None`: no token this time).
    IssueFastToken {
        /// The account.
        account: BareJid,
        /// The user agent's id.
        user_agent: String,
        /// The mechanism the token is for.
        mechanism: Mechanism,
        /// The secret of the token this login used, if it was a FAST login.
        replacing: Option<String>,
    },
    /// The client logged in with a FAST token and asked for it to be
    /// invalidated (it is logging out for good): forget every token of
    /// `user_agent` of `account`. No answer.
    FastTokensRevoked {
        /// The account.
        account: BareJid,
        /// The user agent's id.
        user_agent: String,
    },
    /// The connection broke while stream management with resumption was
    /// on: keep this state for `max` seconds (the session still counts as
    /// present for routing; queue what is routed to it with
    /// [`SmSession::unacked`]) and give it to `accept_resume` if the client
    /// comes back. On expiry its queued stanzas must be bounced or stored
    /// (`Router::expire`). Followed by [`ServerEvent::Closed`].
    ///
    /// [`SmSession::unacked`]: crate::sm::SmSession::unacked
    Detached(Box<SmSession>),
    /// Stanzas we sent that the client never acknowledged, when the
    /// session ended without a way to resume: bounce or store them
    /// (`Router::undeliverable`). Oldest first.
    Undelivered {
        /// The stanzas as sent.
        stanzas: Vec<Element>,
    },
    /// A stanza from the client, with `from` set to the session's full JID
    /// (whatever the client wrote). Route it, or answer it. From a
    /// component, `from` is the component's own (checked to be inside its
    /// domain) and the stanza is in `jabber:client` terms.
    Stanza(Stanza),
    /// A component (XEP-0114, on a server made with
    /// `ServerConfig::for_components`) asks to serve `domain` and sent its
    /// handshake: check `digest` against the domain's secret with
    /// [`handshake_matches`](crate::component::handshake_matches)`(stream_id,
    /// secret, digest)`, then answer with `accept_component` or
    /// `reject_component`.
    ComponentHandshake {
        /// The domain the component asks for (its stream's `to`),
        /// prepared.
        domain: String,
        /// The id of this stream, which the digest hashes.
        stream_id: String,
        /// The hex SHA-1 the component sent.
        digest: String,
    },
    /// The component was accepted: it owns `domain`, stanzas flow.
    ComponentOnline {
        /// The domain served.
        domain: String,
    },
    /// A peer server (on a `for_federation` stream) claims `from` for
    /// stanzas to `to` with a dialback key, and its certificate does not
    /// vouch for it: ask `from`'s authoritative server, on our link to
    /// it, with [`Dialback::verify_request`]`(to, from, stream_id, key)`
    /// ([`Server::verify_dialback`]), then pass its answer back with
    /// [`Server::dialback_verdict`] (or a refusal, such as
    /// `remote-server-not-found` when no link came up). The hub does all
    /// of this.
    ///
    /// [`Dialback::verify_request`]: crate::s2s::dialback::Dialback::verify_request
    /// [`Server::verify_dialback`]: super::Server::verify_dialback
    /// [`Server::dialback_verdict`]: super::Server::dialback_verdict
    DialbackRequest {
        /// The domain claimed (prepared).
        from: String,
        /// Our domain it is claimed for.
        to: String,
        /// The key the peer sent.
        key: String,
        /// The id of this stream, which the key hashes.
        stream_id: String,
    },
    /// A peer server proved `domain` for stanzas to our `local` on this
    /// (`for_federation`) stream: its stanzas from that domain to `local`
    /// are accepted from now on.
    S2sAuthenticated {
        /// The peer's domain.
        domain: String,
        /// Ours.
        local: String,
        /// How it proved it.
        method: crate::s2s::S2sAuth,
    },
    /// Our link to `remote` is encrypted: `db:verify` questions can go
    /// out on it ([`Server::verify_dialback`]).
    ///
    /// [`Server::verify_dialback`]: super::Server::verify_dialback
    S2sReady {
        /// Our domain the link speaks for.
        local: String,
        /// The peer's domain.
        remote: String,
    },
    /// Our link to `remote` is accepted: stanzas from our domain to it
    /// can go out (`Server::deliver`).
    S2sOnline {
        /// Our domain the link speaks for.
        local: String,
        /// The peer's domain.
        remote: String,
    },
    /// The answer of `dialback.from`'s authoritative server to a
    /// `db:verify` we sent on this link.
    DialbackVerified(crate::s2s::dialback::Dialback),
    /// Bytes sent or received, when tracing is on.
    Trace {
        /// Which way.
        direction: Direction,
        /// The raw bytes (UTF-8 XML, possibly cut anywhere).
        data: Vec<u8>,
    },
    /// The session has ended; nothing follows this event.
    Closed {
        /// Why.
        reason: CloseReason,
    },
}
