//! What a component reports to its application.

use crate::client::StanzaId;
use crate::endpoint::{CloseReason, Direction};
use crate::stanza::{Iq, Message, Presence};

/// An event of a [`Component`](super::Component). Stanzas arrive in
/// `jabber:client` terms, like a client's.
#[derive(Debug)]
#[non_exhaustive]
pub enum ComponentEvent {
    /// The server accepted the handshake: the component now owns its
    /// domain and stanzas flow.
    Online {
        /// The domain served.
        domain: String,
    },
    /// A message to an address of the domain.
    Message(Message),
    /// A presence to an address of the domain.
    Presence(Presence),
    /// An IQ request (`get` or `set`) to an address of the domain; answer
    /// it with `send` and `Iq::make_result` or `Iq::make_error` (with
    /// `from` set to the address it was sent to).
    IqRequest(Iq),
    /// An IQ response (`result` or `error`); `id` is its `id` attribute,
    /// the one `send` returned for the request.
    IqResponse {
        /// The id of the request it answers.
        id: StanzaId,
        /// The response.
        response: Iq,
    },
    /// Bytes sent or received, when tracing is on.
    Trace {
        /// Which way.
        direction: Direction,
        /// The bytes.
        data: Vec<u8>,
    },
    /// The session ended; nothing follows. A wrong secret ends it with a
    /// `not-authorized` stream error from the server.
    Closed {
        /// Why.
        reason: CloseReason,
    },
}
