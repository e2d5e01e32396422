//! Typed stanzas (RFC 6120 §8, RFC 6121): `<message/>`, `<presence/>`,
//! `<iq/>` and stanza errors.
//!
//! A typed stanza wraps the received [`Element`] and answers questions
//! about it without copying: the `type` is parsed once on construction,
//! everything else is read from the element on demand. Children the types
//! do not model stay in the element and are reachable through
//! [`Message::payloads`] and friends, or the element itself.
//!
//! Addresses are available as the peer wrote them (`from()`, `to()`) and
//! parsed as JIDs (`from_jid()`, `to_jid()`, zero-copy when the address is
//! already prepared). Parsing is on demand, so stringprep runs only for
//! addresses that are actually used.
//!
//! ```
//! use xmpp_proto::stanza::{Iq, IqType, Stanza, StanzaError, DefinedCondition};
//! use xmpp_proto::xml::{Element, ns};
//!
//! let el = Element::builder("iq", ns::CLIENT)
//!     .attr("from", "juliet@example.com/balcony")
//!     .attr("id", "v1")
//!     .attr("type", "get")
//!     .append(Element::builder("query", ns::VERSION))
//!     .build();
//! let Ok(Stanza::Iq(iq)) = Stanza::from_element(el) else { panic!() };
//! assert_eq!(iq.kind(), IqType::Get);
//! assert_eq!(iq.payload().unwrap().ns(), ns::VERSION);
//! let reply = iq.make_error(&StanzaError::new(DefinedCondition::FeatureNotImplemented));
//! assert_eq!(reply.attr("to"), Some("juliet@example.com/balcony"));
//! assert_eq!(reply.attr("type"), Some("error"));
//! ```

mod error;
mod iq;
mod message;
mod presence;
mod wire;

use std::fmt;

pub use self::error::{DefinedCondition, ErrorType, StanzaError};
pub use self::iq::{Iq, IqType};
pub use self::message::{Message, MessageBuilder, MessageType};
pub use self::presence::{Presence, PresenceBuilder, PresenceType, Show};
pub use self::wire::WireStanza;

use crate::xml::{Element, ElementRef, ns};

/// Any of the three stanza kinds.
#[derive(Clone, Debug, PartialEq)]
pub enum Stanza {
    /// `<message/>`.
    Message(Message),
    /// `<presence/>`.
    Presence(Presence),
    /// `<iq/>`.
    Iq(Iq),
}

/// Why an element is not a valid stanza; the element is handed back.
#[derive(Clone, Debug, PartialEq)]
pub struct StanzaParseError {
    /// What is wrong.
    pub reason: InvalidStanza,
    /// The element that was given.
    pub element: Element,
}

/// The reason inside a [`StanzaParseError`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidStanza {
    /// Not `message`, `presence` or `iq` in `jabber:client`, `jabber:server`
    /// or `jabber:component:accept` (it may be a nonza such as `<r/>`).
    NotAStanza,
    /// The `type` attribute has a value the RFC does not define for this stanza.
    BadType(String),
    /// An `<iq/>` without `id` (RFC 6120 §8.2.3).
    MissingId,
    /// An `<iq/>` of type `get` or `set` without exactly one payload child
    /// (RFC 6120 §8.2.3).
    BadPayloadCount(usize),
}

impl fmt::Display for StanzaParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reason {
            InvalidStanza::NotAStanza => write!(
                f,
                "<{}/> in {:?} is not a stanza",
                self.element.name(),
                self.element.ns()
            ),
            InvalidStanza::BadType(t) => {
                write!(
                    f,
                    "type {t:?} is not defined for <{}/>",
                    self.element.name()
                )
            }
            InvalidStanza::MissingId => f.write_str("<iq/> without id"),
            InvalidStanza::BadPayloadCount(n) => {
                write!(f, "<iq/> get or set must have exactly one child, not {n}")
            }
        }
    }
}

impl std::error::Error for StanzaParseError {}

/// Whether `ns` is a namespace stanzas live in.
pub fn is_stanza_ns(ns: &str) -> bool {
    ns == ns::CLIENT || ns == ns::SERVER || ns == ns::COMPONENT_ACCEPT
}

impl Stanza {
    /// Types a top-level element. Nonzas and invalid stanzas come back in
    /// the error, so the caller can handle or answer them.
    pub fn from_element(element: Element) -> Result<Stanza, StanzaParseError> {
        if !is_stanza_ns(element.ns()) {
            return Err(StanzaParseError {
                reason: InvalidStanza::NotAStanza,
                element,
            });
        }
        match element.name() {
            "message" => Message::from_element(element).map(Stanza::Message),
            "presence" => Presence::from_element(element).map(Stanza::Presence),
            "iq" => Iq::from_element(element).map(Stanza::Iq),
            _ => Err(StanzaParseError {
                reason: InvalidStanza::NotAStanza,
                element,
            }),
        }
    }

    /// The underlying element.
    pub fn element(&self) -> &Element {
        match self {
            Stanza::Message(m) => m.element(),
            Stanza::Presence(p) => p.element(),
            Stanza::Iq(i) => i.element(),
        }
    }

    /// The underlying element, owned.
    pub fn into_element(self) -> Element {
        match self {
            Stanza::Message(m) => m.into_element(),
            Stanza::Presence(p) => p.into_element(),
            Stanza::Iq(i) => i.into_element(),
        }
    }

    /// `from`, as sent.
    pub fn from(&self) -> Option<&str> {
        self.element().attr("from")
    }

    /// `to`, as sent.
    pub fn to(&self) -> Option<&str> {
        self.element().attr("to")
    }

    /// `id`.
    pub fn id(&self) -> Option<&str> {
        self.element().attr("id")
    }
}

impl From<Stanza> for Element {
    fn from(stanza: Stanza) -> Self {
        stanza.into_element()
    }
}

impl From<Message> for Stanza {
    fn from(m: Message) -> Self {
        Stanza::Message(m)
    }
}

impl From<Presence> for Stanza {
    fn from(p: Presence) -> Self {
        Stanza::Presence(p)
    }
}

impl From<Iq> for Stanza {
    fn from(iq: Iq) -> Self {
        Stanza::Iq(iq)
    }
}

/// Accessors every stanza type shares.
macro_rules! common_accessors {
    ($t:ty) => {
        impl From<$t> for $crate::xml::Element {
            fn from(stanza: $t) -> Self {
                stanza.element
            }
        }

        impl $t {
            /// The underlying element.
            pub fn element(&self) -> &$crate::xml::Element {
                &self.element
            }

            /// The underlying element, owned (e.g. to forward or recycle it).
            pub fn into_element(self) -> $crate::xml::Element {
                self.element
            }

            /// `from`, as sent (not yet validated as a JID).
            pub fn from(&self) -> Option<&str> {
                self.element.attr("from")
            }

            /// `to`, as sent (not yet validated as a JID).
            pub fn to(&self) -> Option<&str> {
                self.element.attr("to")
            }

            /// `id`.
            pub fn id(&self) -> Option<&str> {
                self.element.attr("id")
            }

            /// `from`, parsed and prepared as a JID (RFC 7622); `None` if
            /// absent. A malformed address calls for `jid-malformed`.
            pub fn from_jid(
                &self,
            ) -> Option<Result<$crate::jid::JidRef<'_>, $crate::jid::JidError>> {
                self.from().map($crate::jid::JidRef::parse)
            }

            /// `to`, parsed and prepared as a JID (RFC 7622); `None` if absent.
            pub fn to_jid(&self) -> Option<Result<$crate::jid::JidRef<'_>, $crate::jid::JidError>> {
                self.to().map($crate::jid::JidRef::parse)
            }

            /// `xml:lang` of the stanza itself.
            pub fn lang(&self) -> Option<&str> {
                self.element.lang()
            }

            /// The `<error/>` child, parsed (for stanzas of type `error`).
            pub fn error(&self) -> Option<$crate::stanza::StanzaError> {
                self.element
                    .child("error", self.element.ns())
                    .and_then(|e| $crate::stanza::StanzaError::from_ref(e).ok())
            }
        }
    };
}
pub(crate) use common_accessors;

/// Builds the error reply to `el` (RFC 6120 §8.3.1): same name, id and
/// namespace, `from` and `to` swapped, `type='error'`, with the error child.
pub(crate) fn error_reply(el: ElementRef<'_>, err: &StanzaError) -> Element {
    Element::builder(el.name(), el.ns())
        .attr_opt("from", el.attr("to"))
        .attr_opt("to", el.attr("from"))
        .attr_opt("id", el.attr("id"))
        .attr("type", "error")
        .append(err.to_element(el.ns()))
        .build()
}

/// Text of the first child `name` in the stanza's namespace, preferring
/// one without `xml:lang` (RFC 6121 §5.2.3 allows one per language).
pub(crate) fn child_text<'a>(el: &'a Element, name: &str) -> Option<std::borrow::Cow<'a, str>> {
    let ns = el.ns();
    let mut first = None;
    for c in el.children().filter(|c| c.is(name, ns)) {
        if c.lang().is_none() {
            return Some(c.text());
        }
        first.get_or_insert(c);
    }
    first.map(|c| c.text())
}

#[cfg(test)]
mod tests;
