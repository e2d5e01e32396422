//! `<iq/>` (RFC 6120 §8.2.3).

use super::{InvalidStanza, StanzaError, StanzaParseError, common_accessors, error_reply};
use crate::xml::{Element, ElementRef, ns};

/// The `type` of an IQ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IqType {
    /// A request for data.
    Get,
    /// A request to change data.
    Set,
    /// A successful response.
    Result,
    /// An error response.
    Error,
}

impl IqType {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Set => "set",
            Self::Result => "result",
            Self::Error => "error",
        }
    }

    /// Whether this is a request (get or set), which must be answered.
    pub fn is_request(self) -> bool {
        matches!(self, Self::Get | Self::Set)
    }
}

/// An `<iq/>` stanza: has an id, a type and, for requests, exactly one payload.
#[derive(Clone, Debug, PartialEq)]
pub struct Iq {
    element: Element,
    kind: IqType,
}

common_accessors!(Iq);

impl Iq {
    /// Types an element known to be `<iq/>`, checking the rules of
    /// RFC 6120 §8.2.3 (id present, type defined, one payload for requests).
    /// The caller answers an invalid request with `bad-request`.
    pub fn from_element(element: Element) -> Result<Self, StanzaParseError> {
        let reason = if element.name() != "iq" || !super::is_stanza_ns(element.ns()) {
            InvalidStanza::NotAStanza
        } else if element.attr("id").is_none() {
            InvalidStanza::MissingId
        } else {
            let kind = match element.attr("type") {
                Some("get") => IqType::Get,
                Some("set") => IqType::Set,
                Some("result") => IqType::Result,
                Some("error") => IqType::Error,
                other => {
                    let reason = InvalidStanza::BadType(other.unwrap_or("").to_owned());
                    return Err(StanzaParseError { reason, element });
                }
            };
            let n = element.children().count();
            if kind.is_request() && n != 1 {
                InvalidStanza::BadPayloadCount(n)
            } else {
                return Ok(Self { element, kind });
            }
        };
        Err(StanzaParseError { reason, element })
    }

    /// A `get` request in `jabber:client`.
    pub fn get(id: &str, payload: impl Into<Element>) -> Self {
        Self::request(IqType::Get, id, payload.into())
    }

    /// A `set` request in `jabber:client`.
    pub fn set(id: &str, payload: impl Into<Element>) -> Self {
        Self::request(IqType::Set, id, payload.into())
    }

    fn request(kind: IqType, id: &str, payload: Element) -> Self {
        let element = Element::builder("iq", ns::CLIENT)
            .attr("id", id)
            .attr("type", kind.as_str())
            .append(payload)
            .build();
        Self { element, kind }
    }

    /// Sets `to` on a request.
    #[must_use]
    pub fn with_to(self, to: &str) -> Self {
        let el = self.element.as_ref();
        let mut b = Element::builder("iq", el.ns()).attr("to", to);
        for a in el.attrs().filter(|a| !(a.ns.is_empty() && a.name == "to")) {
            b = b.attr_ns(a.ns, a.name, a.value);
        }
        for c in el.children() {
            b = b.append_ref(c);
        }
        Self {
            element: b.build(),
            kind: self.kind,
        }
    }

    /// The type.
    pub fn kind(&self) -> IqType {
        self.kind
    }

    /// The payload: the first child other than `<error/>`.
    pub fn payload(&self) -> Option<ElementRef<'_>> {
        let ns = self.element.ns();
        self.element.children().find(|c| !c.is("error", ns))
    }

    /// The `result` reply to this request, with an optional payload: same
    /// id, `from` and `to` swapped.
    pub fn make_result(&self, payload: Option<Element>) -> Element {
        let el = self.element.as_ref();
        let mut b = Element::builder("iq", el.ns())
            .attr_opt("from", el.attr("to"))
            .attr_opt("to", el.attr("from"))
            .attr_opt("id", el.attr("id"))
            .attr("type", "result");
        if let Some(p) = payload {
            b = b.append(p);
        }
        b.build()
    }

    /// The `error` reply to this request.
    pub fn make_error(&self, error: &StanzaError) -> Element {
        error_reply(self.element.as_ref(), error)
    }
}
