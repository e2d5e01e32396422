//! `<presence/>` (RFC 6121 §4).

use std::borrow::Cow;

use super::{InvalidStanza, StanzaParseError, child_text, common_accessors};
use crate::xml::{Element, ElementBuilder, ElementRef, ns};

/// The `type` of a presence (RFC 6121 §4.7.1); no `type` means available.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum PresenceType {
    /// No `type`: the sender is available.
    #[default]
    Available,
    /// An error reply.
    Error,
    /// A request for the recipient's current presence.
    Probe,
    /// A subscription request.
    Subscribe,
    /// A subscription request was approved.
    Subscribed,
    /// The sender is no longer available.
    Unavailable,
    /// The sender unsubscribes.
    Unsubscribe,
    /// A subscription was denied or cancelled.
    Unsubscribed,
}

impl PresenceType {
    /// The attribute value; `None` for available.
    pub fn as_str(self) -> Option<&'static str> {
        Some(match self {
            Self::Available => return None,
            Self::Error => "error",
            Self::Probe => "probe",
            Self::Subscribe => "subscribe",
            Self::Subscribed => "subscribed",
            Self::Unavailable => "unavailable",
            Self::Unsubscribe => "unsubscribe",
            Self::Unsubscribed => "unsubscribed",
        })
    }
}

/// The `<show/>` of an available presence (RFC 6121 §4.7.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Show {
    /// Temporarily away.
    Away,
    /// Actively interested in chatting.
    Chat,
    /// Do not disturb.
    Dnd,
    /// Extended away.
    Xa,
}

impl Show {
    /// The element text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Away => "away",
            Self::Chat => "chat",
            Self::Dnd => "dnd",
            Self::Xa => "xa",
        }
    }
}

/// A `<presence/>` stanza.
#[derive(Clone, Debug, PartialEq)]
pub struct Presence {
    element: Element,
    kind: PresenceType,
}

common_accessors!(Presence);

impl Presence {
    /// Types an element known to be `<presence/>`.
    pub fn from_element(element: Element) -> Result<Self, StanzaParseError> {
        if element.name() != "presence" || !super::is_stanza_ns(element.ns()) {
            return Err(StanzaParseError {
                reason: InvalidStanza::NotAStanza,
                element,
            });
        }
        let kind = match element.attr("type") {
            None => PresenceType::Available,
            Some("error") => PresenceType::Error,
            Some("probe") => PresenceType::Probe,
            Some("subscribe") => PresenceType::Subscribe,
            Some("subscribed") => PresenceType::Subscribed,
            Some("unavailable") => PresenceType::Unavailable,
            Some("unsubscribe") => PresenceType::Unsubscribe,
            Some("unsubscribed") => PresenceType::Unsubscribed,
            Some(other) => {
                let reason = InvalidStanza::BadType(other.to_owned());
                return Err(StanzaParseError { reason, element });
            }
        };
        Ok(Self { element, kind })
    }

    /// Starts a presence of this type in `jabber:client`.
    pub fn builder(kind: PresenceType) -> PresenceBuilder {
        PresenceBuilder {
            inner: Element::builder("presence", ns::CLIENT).attr_opt("type", kind.as_str()),
            kind,
        }
    }

    /// The type.
    pub fn kind(&self) -> PresenceType {
        self.kind
    }

    /// `<show/>`; `None` if absent or not one of the four defined values.
    pub fn show(&self) -> Option<Show> {
        match child_text(&self.element, "show")?.as_ref() {
            "away" => Some(Show::Away),
            "chat" => Some(Show::Chat),
            "dnd" => Some(Show::Dnd),
            "xa" => Some(Show::Xa),
            _ => None,
        }
    }

    /// `<status/>` (the one without `xml:lang` if there are several).
    pub fn status(&self) -> Option<Cow<'_, str>> {
        child_text(&self.element, "status")
    }

    /// `<priority/>`, 0 when absent or not an integer in -128..=127
    /// (RFC 6121 §4.7.2.3).
    pub fn priority(&self) -> i8 {
        child_text(&self.element, "priority")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Extension payloads (caps, MUC, vCard updates, ...).
    pub fn payloads(&self) -> impl Iterator<Item = ElementRef<'_>> {
        let ns = self.element.ns();
        self.element.children().filter(move |c| {
            !(c.ns() == ns && matches!(c.name(), "show" | "status" | "priority" | "error"))
        })
    }
}

/// Builds a [`Presence`]; see [`Presence::builder`].
#[derive(Clone, Debug)]
#[must_use]
pub struct PresenceBuilder {
    inner: ElementBuilder,
    kind: PresenceType,
}

impl PresenceBuilder {
    /// Sets `to`.
    pub fn to(mut self, to: &str) -> Self {
        self.inner = self.inner.attr("to", to);
        self
    }

    /// Sets `id`.
    pub fn id(mut self, id: &str) -> Self {
        self.inner = self.inner.attr("id", id);
        self
    }

    /// Adds `<show/>`.
    pub fn show(mut self, show: Show) -> Self {
        self.inner = self
            .inner
            .append(Element::builder("show", ns::CLIENT).text(show.as_str()));
        self
    }

    /// Adds `<status/>`.
    pub fn status(mut self, status: &str) -> Self {
        self.inner = self
            .inner
            .append(Element::builder("status", ns::CLIENT).text(status));
        self
    }

    /// Adds `<priority/>`.
    pub fn priority(mut self, priority: i8) -> Self {
        self.inner = self
            .inner
            .append(Element::builder("priority", ns::CLIENT).text(&priority.to_string()));
        self
    }

    /// Adds an extension payload.
    pub fn payload(mut self, payload: impl Into<Element>) -> Self {
        self.inner = self.inner.append(payload);
        self
    }

    /// Finishes the presence.
    pub fn build(self) -> Presence {
        Presence {
            element: self.inner.build(),
            kind: self.kind,
        }
    }
}
