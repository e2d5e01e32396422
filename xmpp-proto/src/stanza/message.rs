//! `<message/>` (RFC 6121 §5).

use std::borrow::Cow;

use super::{InvalidStanza, StanzaParseError, child_text, common_accessors};
use crate::xml::{Element, ElementBuilder, ElementRef, ns};

/// The `type` of a message (RFC 6121 §5.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum MessageType {
    /// One-to-one chat.
    Chat,
    /// An error reply.
    Error,
    /// Multi-user chat.
    Groupchat,
    /// An alert or notification that expects no reply.
    Headline,
    /// A standalone message (also what an absent or unknown type means).
    #[default]
    Normal,
}

impl MessageType {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::Error => "error",
            Self::Groupchat => "groupchat",
            Self::Headline => "headline",
            Self::Normal => "normal",
        }
    }
}

/// A `<message/>` stanza.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    element: Element,
    kind: MessageType,
}

common_accessors!(Message);

impl Message {
    /// Types an element known to be `<message/>`.
    ///
    /// An unknown `type` is read as `normal`, as RFC 6121 §5.2.2 asks.
    pub fn from_element(element: Element) -> Result<Self, StanzaParseError> {
        if element.name() != "message" || !super::is_stanza_ns(element.ns()) {
            return Err(StanzaParseError {
                reason: InvalidStanza::NotAStanza,
                element,
            });
        }
        let kind = match element.attr("type") {
            Some("chat") => MessageType::Chat,
            Some("error") => MessageType::Error,
            Some("groupchat") => MessageType::Groupchat,
            Some("headline") => MessageType::Headline,
            _ => MessageType::Normal,
        };
        Ok(Self { element, kind })
    }

    /// Starts a message of this type in `jabber:client`.
    pub fn builder(kind: MessageType) -> MessageBuilder {
        MessageBuilder {
            inner: Element::builder("message", ns::CLIENT),
            kind,
        }
    }

    /// The type.
    pub fn kind(&self) -> MessageType {
        self.kind
    }

    /// The body (the one without `xml:lang` if there are several).
    pub fn body(&self) -> Option<Cow<'_, str>> {
        child_text(&self.element, "body")
    }

    /// All bodies with their `xml:lang`.
    pub fn bodies(&self) -> impl Iterator<Item = (Option<&str>, Cow<'_, str>)> {
        let ns = self.element.ns();
        self.element
            .children()
            .filter(move |c| c.is("body", ns))
            .map(|c| (c.lang(), c.text()))
    }

    /// The subject.
    pub fn subject(&self) -> Option<Cow<'_, str>> {
        child_text(&self.element, "subject")
    }

    /// The thread identifier.
    pub fn thread(&self) -> Option<Cow<'_, str>> {
        child_text(&self.element, "thread")
    }

    /// Children other than body, subject, thread and error: the extension
    /// payloads (receipts, chat states, OMEMO, ...).
    pub fn payloads(&self) -> impl Iterator<Item = ElementRef<'_>> {
        let ns = self.element.ns();
        self.element.children().filter(move |c| {
            !(c.ns() == ns && matches!(c.name(), "body" | "subject" | "thread" | "error"))
        })
    }
}

/// Builds a [`Message`]; see [`Message::builder`].
#[derive(Clone, Debug)]
#[must_use]
pub struct MessageBuilder {
    inner: ElementBuilder,
    kind: MessageType,
}

impl MessageBuilder {
    /// Sets `to`.
    pub fn to(mut self, to: &str) -> Self {
        self.inner = self.inner.attr("to", to);
        self
    }

    /// Sets `from`.
    pub fn from(mut self, from: &str) -> Self {
        self.inner = self.inner.attr("from", from);
        self
    }

    /// Sets `id`.
    pub fn id(mut self, id: &str) -> Self {
        self.inner = self.inner.attr("id", id);
        self
    }

    /// Sets `xml:lang`.
    pub fn lang(mut self, lang: &str) -> Self {
        self.inner = self.inner.lang(lang);
        self
    }

    /// Adds a `<body/>`.
    pub fn body(mut self, body: &str) -> Self {
        self.inner = self
            .inner
            .append(Element::builder("body", ns::CLIENT).text(body));
        self
    }

    /// Adds a `<subject/>`.
    pub fn subject(mut self, subject: &str) -> Self {
        self.inner = self
            .inner
            .append(Element::builder("subject", ns::CLIENT).text(subject));
        self
    }

    /// Adds a `<thread/>`.
    pub fn thread(mut self, thread: &str) -> Self {
        self.inner = self
            .inner
            .append(Element::builder("thread", ns::CLIENT).text(thread));
        self
    }

    /// Adds an extension payload.
    pub fn payload(mut self, payload: impl Into<Element>) -> Self {
        self.inner = self.inner.append(payload);
        self
    }

    /// Finishes the message.
    pub fn build(self) -> Message {
        let inner = match self.kind {
            MessageType::Normal => self.inner,
            k => self.inner.attr("type", k.as_str()),
        };
        Message {
            element: inner.build(),
            kind: self.kind,
        }
    }
}
