//! The elements of c2s stream negotiation (RFC 6120 §4-§7), typed, for
//! both roles.
//!
//! Every element exchanged between the stream header and the first stanza
//! has a type here that parses a received [`Element`](crate::xml::Element)
//! once and builds the one to send. Nothing here keeps state: the
//! [`Client`](crate::client::Client) and the server decide what comes
//! next; this module only says what arrived, or why it is wrong
//! ([`NegotiationError`], whose [`reply`](NegotiationError::reply) names
//! the stream error, SASL failure or stanza error to answer with).
//!
//! | step | client sends | server sends |
//! |---|---|---|
//! | features | | [`StreamFeatures`] |
//! | STARTTLS (§5) | [`StartTls::Request`] | [`StartTls::Proceed`], [`StartTls::Failure`] |
//! | SASL (§6) | [`SaslClientMessage`] | [`SaslServerMessage`] |
//! | bind (§7) | [`BindRequest`] | [`bind_result`] / [`BindResponse`] |
//! | session (RFC 3921 §3) | [`session_request`] | [`SessionResponse`] |
//! | keepalive (XEP-0199), either way | [`ping_request`] | [`is_ping`] |
//!
//! The stream header checks of both directions are here too
//! ([`check_server_header`], [`check_client_header`]).
//!
//! ```
//! use xmpp_proto::negotiation::{StreamFeatures, StartTls};
//! use xmpp_proto::xml::{Element, ns};
//!
//! // What Prosody sends first (recorded from Prosody 0.12).
//! let features = Element::builder("features", ns::STREAM)
//!     .append(Element::builder("starttls", ns::TLS).append(Element::builder("required", ns::TLS)))
//!     .build();
//! let features = StreamFeatures::from_element(&features)?;
//! assert!(features.starttls_required());
//! let reply = StartTls::Request.to_element();
//! assert_eq!(reply.name(), "starttls");
//! # Ok::<(), xmpp_proto::negotiation::NegotiationError>(())
//! ```

mod bind;
mod error;
mod features;
mod header;
mod ping;
mod sasl;
pub mod sasl2;
mod session;
mod starttls;

#[cfg(test)]
mod interop_tests;

pub use self::bind::{BindRequest, BindResponse, bind_result};
pub use self::error::{ErrorReply, NegotiationError};
pub use self::features::{Caps, Requirement, SmVersion, StreamFeatures};
pub use self::header::{HeaderError, ServerHeader, check_client_header, check_server_header};
pub use self::ping::{is_ping, ping_request};
pub use self::sasl::{DEFAULT_MAX_SASL_DATA, SaslClientMessage, SaslFailure, SaslServerMessage};
pub use self::sasl2::{
    Authenticate, Bind2Request, Bind2Result, FastToken, FastUse, Sasl2ClientMessage, Sasl2Offer,
    Sasl2ServerMessage, Sasl2Success, UserAgent,
};
pub use self::session::{SessionResponse, is_session_request, session_request};
pub use self::starttls::StartTls;

/// XEP-0440 SASL channel-binding type capability.
pub const SASL_CB: &str = "urn:xmpp:sasl-cb:0";

/// What SASL needs to know about the stream's TLS session, for both roles.
pub(crate) fn sasl_tls_state(tls: Option<&crate::tls::TlsInfo>) -> crate::sasl::TlsState {
    use crate::sasl::{ChannelBindings, TlsState};
    match tls {
        Some(info) => TlsState::encrypted(ChannelBindings {
            tls_exporter: info.tls_exporter().map(<[u8]>::to_vec),
            tls_server_end_point: info.tls_server_end_point().map(<[u8]>::to_vec),
        }),
        None => TlsState::plaintext(),
    }
}
/// XEP-0198 stream management, version 2 (version 3 is [`crate::xml::ns::SM`]).
pub const SM_2: &str = "urn:xmpp:sm:2";
/// Subscription pre-approval stream feature (RFC 6121 §3.4).
pub const PRE_APPROVAL: &str = "urn:xmpp:features:pre-approval";

#[cfg(test)]
pub(crate) mod test_support {
    use crate::xml::{Element, Limits, StreamEvent, StreamReader};

    /// Parses one element as it would arrive inside a client stream.
    pub(crate) fn parse(xml: &str) -> Element {
        let doc = format!(
            "<stream:stream xmlns='jabber:client' \
             xmlns:stream='http://etherx.jabber.org/streams'>{xml}"
        );
        let mut r = StreamReader::new(Limits::default());
        let mut input = doc.as_bytes();
        assert!(matches!(
            r.read(&mut input),
            Ok(Some(StreamEvent::Header(_)))
        ));
        match r.read(&mut input) {
            Ok(Some(StreamEvent::Element(e))) => e,
            other => panic!("{other:?} for {xml}"),
        }
    }
}
