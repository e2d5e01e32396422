//! What a [`Client`](super::Client) reports to the application.

use std::fmt;

use crate::jid::FullJid;
use crate::sm::SmSession;
use crate::stanza::{Iq, Message, Presence, StanzaError};
use crate::xml::Element;

use crate::endpoint::{CloseReason, Direction};

/// The `id` of a stanza we sent, as returned by `send`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StanzaId(pub(crate) String);

impl StanzaId {
    /// The id as written in the stanza's `id` attribute.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StanzaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Something the application should know about.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// Negotiation is complete: the stream is encrypted (unless the policy
    /// allowed otherwise), authenticated and bound to `jid`. Stanzas can
    /// be sent from now on.
    Online {
        /// The full JID the server bound.
        jid: FullJid,
    },
    /// A session was resumed (XEP-0198): stanzas flow again on `jid`, and
    /// the stanzas the server had not received were sent again, in order.
    Resumed {
        /// The full JID of the resumed session.
        jid: FullJid,
    },
    /// The connection broke while stream management with resumption was
    /// on: the session can be resumed with
    /// `ClientConfig::with_resumption` on a new connection (within the
    /// server's `max`). It holds the stanzas the server has not
    /// acknowledged; they are sent again on resumption. Followed by
    /// [`ClientEvent::Closed`].
    Resumable(Box<SmSession>),
    /// The server issued a FAST token (XEP-0484), new or replacing the
    /// one used: keep it (with the user agent's id) for
    /// `ClientConfig::with_fast_token` and forget any earlier one.
    FastToken {
        /// The token and the mechanism to use it with.
        credentials: super::FastCredentials,
        /// When it expires (XEP-0082 date and time, as the server said).
        expiry: String,
    },
    /// The server refused the FAST token this login tried: forget it. The
    /// client went on with the password if it had one.
    FastTokenRejected,
    /// Stanzas we sent that the server never acknowledged and that will
    /// not be sent again (a resumption was refused, or the session ended
    /// without resumption): the application decides what to do with them.
    /// Oldest first.
    Undelivered {
        /// The stanzas as sent.
        stanzas: Vec<Element>,
    },
    /// A message arrived. Receipt requests in it were answered already if
    /// automatic receipts are on. (Group chat comes as
    /// [`ClientEvent::Room`].)
    Message(Message),
    /// Something happened in a group chat room we are in or entering
    /// (XEP-0045), or an invitation to one.
    Room(crate::client::RoomEvent),
    /// A presence arrived (subscription requests come as
    /// [`ClientEvent::SubscriptionRequest`] instead).
    Presence(Presence),
    /// Someone asks to see our presence (RFC 6121 §3.1.3): answer with
    /// `Client::approve_subscription` or `Client::deny_subscription`.
    SubscriptionRequest {
        /// Who asks.
        from: crate::jid::BareJid,
        /// The request (it may carry a status text or a nickname).
        presence: Presence,
    },
    /// The answer to `Client::request_roster` arrived: `Client::roster`
    /// holds the roster (with versioning, confirmed or updated by the
    /// pushes that follow).
    RosterReceived,
    /// The server pushed a roster change (RFC 6121 §2.1.6), already
    /// applied to `Client::roster` and acknowledged.
    RosterPush {
        /// The item as it is now (`subscription` is `Remove` if the
        /// contact was removed).
        item: crate::roster::RosterItem,
        /// What the roster had for that contact before, if anything.
        previous: Option<crate::roster::RosterItem>,
    },
    /// An IQ request (`get` or `set`) for a namespace registered with
    /// `ClientConfig::handle_iq_namespace`. Answer it with `send` and
    /// `Iq::make_result` or `Iq::make_error`.
    IqRequest(Iq),
    /// The response (`result` or `error`) to an IQ request we sent.
    IqResponse {
        /// The id `send` returned for the request.
        id: StanzaId,
        /// The response stanza; see `Iq::kind` and `Iq::error`.
        response: Iq,
    },
    /// An IQ request we sent got no response in time; it is forgotten.
    IqTimeout {
        /// The id `send` returned for the request.
        id: StanzaId,
    },
    /// A message or presence we sent came back as an error (RFC 6120
    /// §8.3): the recipient does not exist, is not available, or the
    /// address was malformed. `id` is the one [`Client::send`] returned
    /// for it (an error keeps the id of the stanza it answers).
    ///
    /// [`Client::send`]: crate::Client::send
    Bounced {
        /// The id of the stanza that failed.
        id: StanzaId,
        /// Who reported the error (the recipient, or its server).
        from: Option<String>,
        /// Why; `undefined-condition` if the error element was unreadable.
        error: StanzaError,
    },
    /// A XEP-0184 receipt arrived for a message we sent. A message that
    /// carries only the receipt is reported as this event alone, not
    /// also as [`ClientEvent::Message`].
    ReceiptReceived {
        /// The id of our message that was received.
        id: StanzaId,
        /// Who sent the receipt.
        from: Option<String>,
    },
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
