//! Stream errors (RFC 6120 §4.9): the conditions and the `<stream:error/>`
//! element that carries them, in both directions.
//!
//! ```
//! use xmpp_proto::stream_error::{StreamError, StreamErrorCondition};
//!
//! let err = StreamError::new(StreamErrorCondition::PolicyViolation).with_text("stanza too big");
//! let el = err.to_element();
//! assert_eq!(el.to_string(), "<error xmlns='http://etherx.jabber.org/streams'>\
//!     <policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>\
//!     <text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>stanza too big</text></error>");
//! assert_eq!(StreamError::from_element(&el).unwrap(), err);
//! ```

use std::fmt;

use crate::xml::{Element, ElementRef, ns};

/// The defined stream error conditions of RFC 6120 §4.9.3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StreamErrorCondition {
    /// §4.9.3.1: XML that cannot be processed.
    BadFormat,
    /// §4.9.3.2: an unsupported namespace prefix, or a missing one where required.
    BadNamespacePrefix,
    /// §4.9.3.3: a new stream conflicts with an existing one.
    Conflict,
    /// §4.9.3.4: no traffic for too long.
    ConnectionTimeout,
    /// §4.9.3.5: the `to` domain is no longer served.
    HostGone,
    /// §4.9.3.6: the `to` domain is not served.
    HostUnknown,
    /// §4.9.3.7: a stanza lacks a required `to` or `from`.
    ImproperAddressing,
    /// §4.9.3.8: the server has a misconfiguration or bug.
    InternalServerError,
    /// §4.9.3.9: the `from` address is not authorized.
    InvalidFrom,
    /// §4.9.3.10: wrong stream namespace or unsupported content namespace.
    InvalidNamespace,
    /// §4.9.3.11: invalid XML (e.g. against a schema).
    InvalidXml,
    /// §4.9.3.12: data sent before the stream was authenticated.
    NotAuthorized,
    /// §4.9.3.13: XML that violates the well-formedness rules of XML or XML namespaces.
    NotWellFormed,
    /// §4.9.3.14: a local policy was violated (for example a size limit).
    PolicyViolation,
    /// §4.9.3.15: a remote server needed for this stream could not be reached.
    RemoteConnectionFailed,
    /// §4.9.3.16: the stream must be renegotiated (credentials or features changed).
    Reset,
    /// §4.9.3.17: the server lacks resources to serve the stream.
    ResourceConstraint,
    /// §4.9.3.18: XML features RFC 6120 §11 forbids (DTD, comments, PIs, entities).
    RestrictedXml,
    /// §4.9.3.19: reconnect to another host, given in the element text.
    SeeOtherHost,
    /// §4.9.3.20: the server is shutting down.
    SystemShutdown,
    /// §4.9.3.21: none of the other conditions; details in an application element.
    UndefinedCondition,
    /// §4.9.3.22: an encoding other than UTF-8, or broken UTF-8.
    UnsupportedEncoding,
    /// §4.9.3.23: a mandatory stream feature is not supported by the peer.
    UnsupportedFeature,
    /// §4.9.3.24: a first-level child the receiver does not understand.
    UnsupportedStanzaType,
    /// §4.9.3.25: the stream `version` is not supported.
    UnsupportedVersion,
}

impl StreamErrorCondition {
    /// Every condition, in RFC order.
    pub const ALL: [StreamErrorCondition; 25] = [
        Self::BadFormat,
        Self::BadNamespacePrefix,
        Self::Conflict,
        Self::ConnectionTimeout,
        Self::HostGone,
        Self::HostUnknown,
        Self::ImproperAddressing,
        Self::InternalServerError,
        Self::InvalidFrom,
        Self::InvalidNamespace,
        Self::InvalidXml,
        Self::NotAuthorized,
        Self::NotWellFormed,
        Self::PolicyViolation,
        Self::RemoteConnectionFailed,
        Self::Reset,
        Self::ResourceConstraint,
        Self::RestrictedXml,
        Self::SeeOtherHost,
        Self::SystemShutdown,
        Self::UndefinedCondition,
        Self::UnsupportedEncoding,
        Self::UnsupportedFeature,
        Self::UnsupportedStanzaType,
        Self::UnsupportedVersion,
    ];

    /// The element name of the condition, e.g. `not-well-formed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadFormat => "bad-format",
            Self::BadNamespacePrefix => "bad-namespace-prefix",
            Self::Conflict => "conflict",
            Self::ConnectionTimeout => "connection-timeout",
            Self::HostGone => "host-gone",
            Self::HostUnknown => "host-unknown",
            Self::ImproperAddressing => "improper-addressing",
            Self::InternalServerError => "internal-server-error",
            Self::InvalidFrom => "invalid-from",
            Self::InvalidNamespace => "invalid-namespace",
            Self::InvalidXml => "invalid-xml",
            Self::NotAuthorized => "not-authorized",
            Self::NotWellFormed => "not-well-formed",
            Self::PolicyViolation => "policy-violation",
            Self::RemoteConnectionFailed => "remote-connection-failed",
            Self::Reset => "reset",
            Self::ResourceConstraint => "resource-constraint",
            Self::RestrictedXml => "restricted-xml",
            Self::SeeOtherHost => "see-other-host",
            Self::SystemShutdown => "system-shutdown",
            Self::UndefinedCondition => "undefined-condition",
            Self::UnsupportedEncoding => "unsupported-encoding",
            Self::UnsupportedFeature => "unsupported-feature",
            Self::UnsupportedStanzaType => "unsupported-stanza-type",
            Self::UnsupportedVersion => "unsupported-version",
        }
    }

    /// The condition with this element name, if it is a defined one.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl fmt::Display for StreamErrorCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `<stream:error/>`: condition, optional text and optional
/// application-specific element (RFC 6120 §4.9.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamError {
    /// The defined condition.
    pub condition: StreamErrorCondition,
    /// For [`StreamErrorCondition::SeeOtherHost`]: the host (and port) to use.
    pub see_other_host: Option<String>,
    /// Human-readable description (`<text/>`).
    pub text: Option<String>,
    /// Language of `text` (`xml:lang`).
    pub lang: Option<String>,
    /// An application-specific condition element, if any.
    pub application: Option<Element>,
}

/// Why an element is not a stream error.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamErrorParseError {
    /// The element is not `<error xmlns='http://etherx.jabber.org/streams'/>`.
    NotAStreamError,
    /// The element has no child in the `urn:ietf:params:xml:ns:xmpp-streams`
    /// namespace naming a defined condition.
    MissingCondition,
}

impl fmt::Display for StreamErrorParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAStreamError => f.write_str("the element is not a <stream:error/>"),
            Self::MissingCondition => {
                f.write_str("the stream error names no defined condition of RFC 6120 §4.9.3")
            }
        }
    }
}

impl std::error::Error for StreamErrorParseError {}

impl StreamError {
    /// A stream error with only a condition.
    pub fn new(condition: StreamErrorCondition) -> Self {
        Self {
            condition,
            see_other_host: None,
            text: None,
            lang: None,
            application: None,
        }
    }

    /// A `see-other-host` error (RFC 6120 §4.9.3.19) sending the peer to
    /// `host`: a domain, IPv4 address or bracketed IPv6 address, with an
    /// optional `:port`.
    pub fn see_other_host(host: impl Into<String>) -> Self {
        Self {
            see_other_host: Some(host.into()),
            ..Self::new(StreamErrorCondition::SeeOtherHost)
        }
    }

    /// Adds a human-readable text.
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Reads a received `<stream:error/>` element.
    pub fn from_element(el: &Element) -> Result<Self, StreamErrorParseError> {
        Self::from_ref(el.as_ref())
    }

    /// Reads a received `<stream:error/>` element from a view.
    pub fn from_ref(el: ElementRef<'_>) -> Result<Self, StreamErrorParseError> {
        if !el.is("error", ns::STREAM) {
            return Err(StreamErrorParseError::NotAStreamError);
        }
        let mut condition = None;
        let mut err = StreamError::new(StreamErrorCondition::UndefinedCondition);
        for child in el.children() {
            if child.ns() == ns::STREAMS {
                if child.name() == "text" {
                    err.text = Some(child.text().into_owned());
                    err.lang = child.lang().map(str::to_owned);
                } else if condition.is_none() {
                    if let Some(c) = StreamErrorCondition::from_name(child.name()) {
                        condition = Some(c);
                        let host = child.text();
                        if c == StreamErrorCondition::SeeOtherHost && !host.is_empty() {
                            err.see_other_host = Some(host.into_owned());
                        }
                    }
                }
            } else if err.application.is_none() {
                err.application = Some(child.to_owned());
            }
        }
        err.condition = condition.ok_or(StreamErrorParseError::MissingCondition)?;
        Ok(err)
    }

    /// The `<error xmlns='http://etherx.jabber.org/streams'/>` element to send.
    ///
    /// The writer gives it the stream prefix when it is written inside a
    /// stream.
    pub fn to_element(&self) -> Element {
        let mut cond = Element::builder(self.condition.as_str(), ns::STREAMS);
        if let Some(host) = &self.see_other_host {
            cond = cond.text(host);
        }
        let mut b = Element::builder("error", ns::STREAM).append(cond);
        if let Some(text) = &self.text {
            let mut t = Element::builder("text", ns::STREAMS);
            if let Some(lang) = &self.lang {
                t = t.lang(lang);
            }
            b = b.append(t.text(text));
        }
        if let Some(app) = &self.application {
            b = b.append(app.clone());
        }
        b.build()
    }
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stream error {}", self.condition)?;
        if let Some(text) = &self.text {
            write!(f, ": {text}")?;
        }
        Ok(())
    }
}

impl std::error::Error for StreamError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_condition_round_trips() {
        for c in StreamErrorCondition::ALL {
            assert_eq!(StreamErrorCondition::from_name(c.as_str()), Some(c));
            let err = StreamError::new(c);
            assert_eq!(StreamError::from_element(&err.to_element()).unwrap(), err);
        }
        assert_eq!(StreamErrorCondition::from_name("bad-request"), None);
    }

    #[test]
    fn see_other_host_text_and_application_round_trip() {
        let err = StreamError {
            condition: StreamErrorCondition::SeeOtherHost,
            see_other_host: Some("[2001:db8::1]:5222".into()),
            text: Some("moved".into()),
            lang: Some("en".into()),
            application: Some(Element::builder("x", "urn:example").build()),
        };
        let back = StreamError::from_element(&err.to_element()).unwrap();
        assert_eq!(back, err);
    }

    #[test]
    fn see_other_host_wire_form() {
        let err = StreamError::see_other_host("[2001:db8::1]:5222");
        assert_eq!(
            err.to_element().to_string(),
            "<error xmlns='http://etherx.jabber.org/streams'>\
             <see-other-host xmlns='urn:ietf:params:xml:ns:xmpp-streams'>[2001:db8::1]:5222</see-other-host></error>"
        );
        assert_eq!(StreamError::from_element(&err.to_element()).unwrap(), err);
    }

    #[test]
    fn rejects_other_elements() {
        let el = Element::builder("error", ns::CLIENT).build();
        assert_eq!(
            StreamError::from_element(&el),
            Err(StreamErrorParseError::NotAStreamError)
        );
        let el = Element::builder("error", ns::STREAM).build();
        assert_eq!(
            StreamError::from_element(&el),
            Err(StreamErrorParseError::MissingCondition)
        );
    }
}
