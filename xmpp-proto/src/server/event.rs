//! What a [`Server`](super::Server) reports to the application, including
//! the questions it must answer.

use std::fmt;

use crate::jid::{BareJid, FullJid};
use crate::sasl::{ChannelBindingType, Mechanism, ScramHash};
use crate::stanza::Stanza;

use super::CloseReason;
pub use crate::endpoint::Direction;

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
/// - [`Event::NeedScramCredentials`] → [`Server::provide_credentials`],
/// - [`Event::Authenticate`] → [`Server::accept_auth`] or [`Server::reject_auth`],
/// - [`Event::BindRequest`] → [`Server::accept_bind`] or [`Server::reject_bind`].
///
/// [`Server::provide_credentials`]: super::Server::provide_credentials
/// [`Server::accept_auth`]: super::Server::accept_auth
/// [`Server::reject_auth`]: super::Server::reject_auth
/// [`Server::accept_bind`]: super::Server::accept_bind
/// [`Server::reject_bind`]: super::Server::reject_bind
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A SCRAM exchange needs the user's stored credentials for `hash`
    /// (never a password). Answer with `provide_credentials` (`None` for an
    /// unknown user).
    NeedScramCredentials {
        /// The username (after SASLprep).
        username: String,
        /// The hash function of the mechanism.
        hash: ScramHash,
    },
    /// Check a password (PLAIN), or for EXTERNAL (`password` is `None`) the
    /// identity the TLS layer authenticated. Answer with `accept_auth` or
    /// `reject_auth`.
    Authenticate {
        /// The username (after SASLprep); for EXTERNAL, the requested
        /// authorization identity's localpart, if any.
        username: Option<String>,
        /// The password, for PLAIN.
        password: Option<Password>,
        /// The mechanism.
        mechanism: Mechanism,
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
    /// A stanza from the client, with `from` set to the session's full JID
    /// (whatever the client wrote). Route it, or answer it.
    Stanza(Stanza),
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
