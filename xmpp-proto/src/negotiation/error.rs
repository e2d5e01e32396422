//! The error of the negotiation layer, and what to send back for it.

use std::fmt;

use crate::jid::JidError;
use crate::sasl::FailureCondition;
use crate::stanza::DefinedCondition;
use crate::stream_error::StreamErrorCondition;

/// Why a received negotiation element could not be read.
///
/// Every variant knows which side sent the element, so
/// [`NegotiationError::reply`] can say what the receiver answers: a stream
/// error for the server's messages and for broken framing, a SASL
/// `<failure/>` for a client's bad `<auth/>` or `<response/>` (RFC 6120
/// §6.4.5 lets the client retry), a stanza error for a bad bind request
/// (RFC 6120 §7.7).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NegotiationError {
    /// The element is not one this parser reads (another name or
    /// namespace): for example a `<message/>` where SASL was expected.
    UnexpectedElement {
        /// What the parser reads, e.g. `a SASL client message`.
        expected: &'static str,
        /// Local name of the element received.
        name: String,
        /// Namespace of the element received.
        ns: String,
    },
    /// A required attribute is absent (e.g. `mechanism` on `<auth/>`).
    MissingAttribute {
        /// The element.
        element: &'static str,
        /// The attribute.
        attribute: &'static str,
    },
    /// A required child element is absent (e.g. `<jid/>` in a bind result).
    MissingChild {
        /// The element.
        element: &'static str,
        /// The child.
        child: &'static str,
    },
    /// A SASL mechanism name is not 1 to 20 characters of `A-Z 0-9 - _`
    /// (RFC 4422 §3.1).
    InvalidMechanismName(String),
    /// The text of a SASL element is not base64 (RFC 4648 §4, no line
    /// breaks) nor the `=` that stands for empty data.
    InvalidBase64 {
        /// The element (`auth`, `challenge`, `response`, `success`).
        element: &'static str,
    },
    /// The decoded data of a SASL element would exceed the limit.
    DataTooLong {
        /// The element.
        element: &'static str,
        /// Upper bound of the decoded length, from the base64 length.
        len: usize,
        /// The limit (see [`DEFAULT_MAX_SASL_DATA`](super::DEFAULT_MAX_SASL_DATA)).
        max: usize,
    },
    /// An `<iq/>` of the wrong type for this step (a bind or session
    /// request must be `set`; an answer `result` or `error`).
    WrongIqType {
        /// The type or types allowed: `set`, or `result or error`.
        expected: &'static str,
        /// The `type` received.
        found: &'static str,
    },
    /// A JID or resourcepart in a bind element does not survive RFC 7622
    /// preparation.
    InvalidJid {
        /// The element holding it (`jid` or `resource`).
        element: &'static str,
        /// What is wrong with it.
        error: JidError,
    },
}

/// What the receiver of a bad element answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorReply {
    /// Close the stream with this stream error (RFC 6120 §4.9).
    Stream(StreamErrorCondition),
    /// Send `<failure/>` with this condition and await another `<auth/>`
    /// (RFC 6120 §6.4.5).
    SaslFailure(FailureCondition),
    /// Answer the IQ with this stanza error (RFC 6120 §7.7).
    Stanza(DefinedCondition),
}

impl NegotiationError {
    /// What the receiving side sends back.
    ///
    /// The choices: a structurally broken element is `bad-format`
    /// (RFC 6120 §4.9.3.1, which it names as the catch-all for XML the
    /// receiver cannot process); an element that has no business here is
    /// `unsupported-stanza-type`; data over the limit from a server is
    /// `policy-violation`. A client's bad SASL data gets the SASL
    /// condition RFC 6120 §6.5 defines for it, and a bad bind request
    /// `bad-request` (§7.7.2.1).
    pub fn reply(&self) -> ErrorReply {
        use ErrorReply::{SaslFailure, Stanza, Stream};
        match self {
            Self::UnexpectedElement { .. } => Stream(StreamErrorCondition::UnsupportedStanzaType),
            Self::MissingAttribute {
                element: "auth" | "authenticate",
                ..
            }
            | Self::InvalidMechanismName(_) => SaslFailure(FailureCondition::InvalidMechanism),
            Self::InvalidBase64 { element } if sent_by_client(element) => {
                SaslFailure(FailureCondition::IncorrectEncoding)
            }
            Self::DataTooLong { element, .. } if sent_by_client(element) => {
                SaslFailure(FailureCondition::MalformedRequest)
            }
            Self::DataTooLong { .. } => Stream(StreamErrorCondition::PolicyViolation),
            Self::InvalidJid {
                element: "resource",
                ..
            }
            | Self::WrongIqType {
                expected: REQUEST_TYPE,
                ..
            } => Stanza(DefinedCondition::BadRequest),
            _ => Stream(StreamErrorCondition::BadFormat),
        }
    }

    /// The stream error condition to close with, when closing is the
    /// answer (or the caller decides to close anyway, e.g. a client whose
    /// own bind request was refused as malformed).
    pub fn stream_condition(&self) -> StreamErrorCondition {
        match self.reply() {
            ErrorReply::Stream(c) => c,
            ErrorReply::SaslFailure(_) | ErrorReply::Stanza(_) => StreamErrorCondition::BadFormat,
        }
    }
}

/// The IQ type of bind and session requests.
pub(super) const REQUEST_TYPE: &str = "set";

/// SASL elements only a client sends.
fn sent_by_client(element: &str) -> bool {
    matches!(element, "auth" | "response" | "initial-response")
}

impl fmt::Display for NegotiationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedElement { expected, name, ns } => {
                write!(f, "expected {expected}, got <{name}/> in namespace {ns:?}")
            }
            Self::MissingAttribute { element, attribute } => {
                write!(f, "<{element}/> lacks the required attribute {attribute:?}")
            }
            Self::MissingChild { element, child } => {
                write!(f, "<{element}/> lacks the required child <{child}/>")
            }
            Self::InvalidMechanismName(name) => write!(
                f,
                "{name:?} is not a SASL mechanism name (1 to 20 of A-Z, 0-9, '-', '_')"
            ),
            Self::InvalidBase64 { element } => {
                write!(f, "the text of <{element}/> is not valid base64")
            }
            Self::DataTooLong { element, len, max } => write!(
                f,
                "<{element}/> carries up to {len} bytes of data, more than the limit of {max}"
            ),
            Self::WrongIqType { expected, found } => {
                write!(f, "an IQ of type {found:?} where {expected} was expected")
            }
            Self::InvalidJid { element, error } => {
                write!(f, "the content of <{element}/> is not valid: {error}")
            }
        }
    }
}

impl std::error::Error for NegotiationError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::InvalidJid { error, .. } => Some(error),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_sasl_errors_are_sasl_failures_and_server_ones_stream_errors() {
        let bad = |element| NegotiationError::InvalidBase64 { element };
        assert_eq!(
            bad("auth").reply(),
            ErrorReply::SaslFailure(FailureCondition::IncorrectEncoding)
        );
        assert_eq!(
            bad("response").reply(),
            ErrorReply::SaslFailure(FailureCondition::IncorrectEncoding)
        );
        assert_eq!(
            bad("challenge").reply(),
            ErrorReply::Stream(StreamErrorCondition::BadFormat)
        );
        let long = |element| NegotiationError::DataTooLong {
            element,
            len: 10,
            max: 1,
        };
        assert_eq!(
            long("response").reply(),
            ErrorReply::SaslFailure(FailureCondition::MalformedRequest)
        );
        assert_eq!(
            long("success").reply(),
            ErrorReply::Stream(StreamErrorCondition::PolicyViolation)
        );
        assert_eq!(
            long("success").stream_condition(),
            StreamErrorCondition::PolicyViolation
        );
        assert_eq!(
            bad("auth").stream_condition(),
            StreamErrorCondition::BadFormat
        );
    }
}
