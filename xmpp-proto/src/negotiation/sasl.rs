//! The SASL elements of RFC 6120 §6.4 (`urn:ietf:params:xml:ns:xmpp-sasl`),
//! with their base64 payloads decoded.
//!
//! The mechanisms themselves live in [`crate::sasl`] and work on raw
//! bytes; this module is the XML framing around them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::NegotiationError;
use crate::sasl::FailureCondition;
use crate::xml::{Element, ElementRef, ns};

/// The default limit on the decoded data of one SASL element: 16 KiB.
///
/// SCRAM and PLAIN messages are well under 1 KiB; the limit only has to
/// leave room for mechanisms with tokens (e.g. GSSAPI) while stopping a
/// peer from making us decode megabytes.
pub const DEFAULT_MAX_SASL_DATA: usize = 16 * 1024;

/// What a client sends during SASL, as received by a server.
///
/// ```
/// use xmpp_proto::negotiation::{SaslClientMessage, DEFAULT_MAX_SASL_DATA};
///
/// let auth = SaslClientMessage::Auth {
///     mechanism: "PLAIN".into(),
///     initial: Some(b"\0juliet\0r0m30".to_vec()),
/// };
/// let el = auth.to_element();
/// assert_eq!(el.to_string(), "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' \
///     mechanism='PLAIN'>AGp1bGlldAByMG0zMA==</auth>");
/// assert_eq!(SaslClientMessage::from_element(&el, DEFAULT_MAX_SASL_DATA)?, auth);
/// # Ok::<(), xmpp_proto::negotiation::NegotiationError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SaslClientMessage {
    /// `<auth mechanism='...'>`: starts an exchange (RFC 6120 §6.4.2).
    Auth {
        /// The mechanism name, checked against the syntax of RFC 4422 §3.1
        /// but not against any list: whether it is offered is the
        /// server's question (answered with `invalid-mechanism`).
        mechanism: String,
        /// The initial response: `None` when the element has no text,
        /// `Some(empty)` when it is `=`.
        initial: Option<Vec<u8>>,
    },
    /// `<response/>`: the answer to a challenge (RFC 6120 §6.4.3).
    Response(Vec<u8>),
    /// `<abort/>`: the client gives up (RFC 6120 §6.4.4).
    Abort,
}

/// What a server sends during SASL, as received by a client.
///
/// ```
/// use xmpp_proto::negotiation::{SaslServerMessage, DEFAULT_MAX_SASL_DATA};
/// use xmpp_proto::sasl::FailureCondition;
///
/// let el = SaslServerMessage::Success(Some(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=".to_vec())).to_element();
/// match SaslServerMessage::from_element(&el, DEFAULT_MAX_SASL_DATA)? {
///     SaslServerMessage::Success(Some(data)) => assert!(data.starts_with(b"v=")),
///     other => panic!("{other:?}"),
/// }
///
/// let failure = SaslServerMessage::failure(FailureCondition::NotAuthorized);
/// assert_eq!(failure.to_element().to_string(), "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
///     <not-authorized/></failure>");
/// # Ok::<(), xmpp_proto::negotiation::NegotiationError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SaslServerMessage {
    /// `<challenge/>` (RFC 6120 §6.4.3).
    Challenge(Vec<u8>),
    /// `<success/>` (RFC 6120 §6.4.6), with its additional data: `None`
    /// when the element has no text, `Some(empty)` when it is `=`.
    Success(Option<Vec<u8>>),
    /// `<failure/>` (RFC 6120 §6.4.5).
    Failure(SaslFailure),
}

/// A SASL `<failure/>`: condition and optional text (RFC 6120 §6.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaslFailure {
    /// The condition. A condition this library does not know, or a
    /// failure without one, reads as `not-authorized`: the exchange has
    /// failed either way, and treating what we cannot interpret as a
    /// plain refusal never lets a client retry into something worse.
    pub condition: FailureCondition,
    /// When [`condition`](Self::condition) was substituted: the name of
    /// the unknown condition element as received, or an empty string if
    /// there was none. `None` for a defined condition. Kept for logs.
    pub unrecognized: Option<String>,
    /// The `<text/>`, if any.
    pub text: Option<String>,
    /// The `xml:lang` of the text.
    pub lang: Option<String>,
}

impl SaslClientMessage {
    /// Reads a received `<auth/>`, `<response/>` or `<abort/>`.
    ///
    /// `max_data` limits the decoded length of the payload (see
    /// [`DEFAULT_MAX_SASL_DATA`]). On error, [`NegotiationError::reply`]
    /// gives the `<failure/>` condition to answer with.
    pub fn from_element(el: &Element, max_data: usize) -> Result<Self, NegotiationError> {
        Self::from_ref(el.as_ref(), max_data)
    }

    /// Reads a received client SASL element from a view.
    pub fn from_ref(el: ElementRef<'_>, max_data: usize) -> Result<Self, NegotiationError> {
        match (el.ns(), el.name()) {
            (ns::SASL, "auth") => {
                let mechanism = el
                    .attr("mechanism")
                    .ok_or(NegotiationError::MissingAttribute {
                        element: "auth",
                        attribute: "mechanism",
                    })?;
                if !is_mechanism_name(mechanism) {
                    return Err(NegotiationError::InvalidMechanismName(mechanism.to_owned()));
                }
                Ok(SaslClientMessage::Auth {
                    mechanism: mechanism.to_owned(),
                    initial: decode(el, "auth", max_data)?,
                })
            }
            (ns::SASL, "response") => Ok(SaslClientMessage::Response(
                decode(el, "response", max_data)?.unwrap_or_default(),
            )),
            (ns::SASL, "abort") => Ok(SaslClientMessage::Abort),
            (ns, name) => Err(unexpected("a SASL client message", name, ns)),
        }
    }

    /// The element to send.
    pub fn to_element(&self) -> Element {
        match self {
            SaslClientMessage::Auth { mechanism, initial } => {
                let b = Element::builder("auth", ns::SASL).attr("mechanism", mechanism);
                match initial {
                    Some(data) => b.text(&encode_present(data)).build(),
                    None => b.build(),
                }
            }
            SaslClientMessage::Response(data) => with_data("response", data),
            SaslClientMessage::Abort => Element::builder("abort", ns::SASL).build(),
        }
    }
}

impl SaslServerMessage {
    /// A failure with only a condition.
    pub fn failure(condition: FailureCondition) -> Self {
        SaslServerMessage::Failure(SaslFailure::new(condition))
    }

    /// Reads a received `<challenge/>`, `<success/>` or `<failure/>`.
    ///
    /// `max_data` limits the decoded length of the payload (see
    /// [`DEFAULT_MAX_SASL_DATA`]).
    pub fn from_element(el: &Element, max_data: usize) -> Result<Self, NegotiationError> {
        Self::from_ref(el.as_ref(), max_data)
    }

    /// Reads a received server SASL element from a view.
    pub fn from_ref(el: ElementRef<'_>, max_data: usize) -> Result<Self, NegotiationError> {
        match (el.ns(), el.name()) {
            (ns::SASL, "challenge") => Ok(SaslServerMessage::Challenge(
                decode(el, "challenge", max_data)?.unwrap_or_default(),
            )),
            (ns::SASL, "success") => {
                Ok(SaslServerMessage::Success(decode(el, "success", max_data)?))
            }
            (ns::SASL, "failure") => Ok(SaslServerMessage::Failure(SaslFailure::from_ref(el))),
            (ns, name) => Err(unexpected("a SASL server message", name, ns)),
        }
    }

    /// The element to send.
    pub fn to_element(&self) -> Element {
        match self {
            SaslServerMessage::Challenge(data) => with_data("challenge", data),
            SaslServerMessage::Success(None) => Element::builder("success", ns::SASL).build(),
            SaslServerMessage::Success(Some(data)) => Element::builder("success", ns::SASL)
                .text(&encode_present(data))
                .build(),
            SaslServerMessage::Failure(f) => f.to_element(),
        }
    }
}

impl SaslFailure {
    /// A failure with only a condition.
    pub fn new(condition: FailureCondition) -> Self {
        SaslFailure {
            condition,
            unrecognized: None,
            text: None,
            lang: None,
        }
    }

    /// Adds a human-readable text.
    #[must_use]
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Reads a `<failure/>` known to be in the SASL namespace; never fails
    /// (see [`condition`](Self::condition)).
    fn from_ref(el: ElementRef<'_>) -> Self {
        let mut failure = SaslFailure::new(FailureCondition::NotAuthorized);
        let mut condition = None;
        for child in el.children().filter(|c| c.ns() == ns::SASL) {
            if child.name() == "text" {
                if failure.text.is_none() {
                    failure.text = Some(child.text().into_owned());
                    failure.lang = child.lang().map(str::to_owned);
                }
            } else if condition.is_none() {
                condition = Some(child.name());
            }
        }
        match condition.map(|c| (c, FailureCondition::from_element_name(c))) {
            Some((_, Some(c))) => failure.condition = c,
            Some((name, None)) => failure.unrecognized = Some(name.to_owned()),
            None => failure.unrecognized = Some(String::new()),
        }
        failure
    }

    /// The `<failure/>` element to send.
    pub fn to_element(&self) -> Element {
        let mut b = Element::builder("failure", ns::SASL)
            .append(Element::builder(self.condition.element_name(), ns::SASL));
        if let Some(text) = &self.text {
            let mut t = Element::builder("text", ns::SASL);
            if let Some(lang) = &self.lang {
                t = t.lang(lang);
            }
            b = b.append(t.text(text));
        }
        b.build()
    }
}

/// RFC 4422 §3.1: `1*20` of upper-case letters, digits, `-` and `_`.
pub(super) fn is_mechanism_name(name: &str) -> bool {
    (1..=20).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// The payload of a SASL element: `None` without text, `Some(empty)` for
/// `=` (RFC 6120 §6.4.2), else the base64 text decoded. Whitespace around
/// the text is tolerated (pretty-printing servers); inside it is not.
pub(super) fn decode(
    el: ElementRef<'_>,
    element: &'static str,
    max: usize,
) -> Result<Option<Vec<u8>>, NegotiationError> {
    let text = el.text();
    let text = text.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
    match text {
        "" => return Ok(None),
        "=" => return Ok(Some(Vec::new())),
        _ => {}
    }
    // The exact decoded length of well-formed base64, computed before
    // decoding so that an oversized payload costs nothing.
    let padding = text.bytes().rev().take(2).filter(|&b| b == b'=').count();
    let len = (text.len() / 4).saturating_mul(3).saturating_sub(padding);
    if len > max {
        return Err(NegotiationError::DataTooLong { element, len, max });
    }
    STANDARD
        .decode(text)
        .map(Some)
        .map_err(|_| NegotiationError::InvalidBase64 { element })
}

/// Present data as element text: `=` when empty.
pub(super) fn encode_present(data: &[u8]) -> String {
    if data.is_empty() {
        "=".to_owned()
    } else {
        STANDARD.encode(data)
    }
}

/// `<challenge/>` or `<response/>`: empty data is an empty element, as in
/// RFC 6120's examples, since these have no absent-versus-empty distinction.
fn with_data(name: &str, data: &[u8]) -> Element {
    let b = Element::builder(name, ns::SASL);
    if data.is_empty() {
        b.build()
    } else {
        b.text(&STANDARD.encode(data)).build()
    }
}

fn unexpected(expected: &'static str, name: &str, ns: &str) -> NegotiationError {
    NegotiationError::UnexpectedElement {
        expected,
        name: name.to_owned(),
        ns: ns.to_owned(),
    }
}

#[cfg(test)]
#[path = "sasl_tests.rs"]
mod tests;
