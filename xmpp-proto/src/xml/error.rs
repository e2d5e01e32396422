//! What can go wrong while reading a stream.

use std::fmt;

use crate::stream_error::StreamErrorCondition;

/// Which of the [`Limits`](super::Limits) a peer exceeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// [`Limits::max_element_bytes`](super::Limits::max_element_bytes).
    ElementBytes,
    /// [`Limits::max_element_storage`](super::Limits::max_element_storage).
    ElementStorage,
    /// [`Limits::max_depth`](super::Limits::max_depth).
    Depth,
    /// [`Limits::max_attributes`](super::Limits::max_attributes).
    Attributes,
    /// [`Limits::max_header_bytes`](super::Limits::max_header_bytes).
    HeaderBytes,
    /// [`Limits::max_token_bytes`](super::Limits::max_token_bytes).
    TokenBytes,
    /// [`Limits::max_pending_input`](super::Limits::max_pending_input).
    PendingInput,
}

impl Limit {
    fn describe(self) -> &'static str {
        match self {
            Self::ElementBytes => "a top-level element is larger than",
            Self::ElementStorage => "a top-level element takes more storage than",
            Self::Depth => "elements are nested deeper than",
            Self::Attributes => "an element has more attributes than",
            Self::HeaderBytes => "the stream header is larger than",
            Self::TokenBytes => "a name or attribute value is longer than",
            Self::PendingInput => "more input was fed without polling than",
        }
    }
}

/// Why the reader stopped. Every variant maps to the stream error
/// condition to send to the peer ([`ReadError::condition`]); the reader
/// returns the same error for all later calls.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadError {
    /// The input is not well-formed XML or XML namespaces (`not-well-formed`).
    NotWellFormed(String),
    /// The input uses XML that RFC 6120 §11 forbids: a DTD (and with it
    /// entity declarations), a comment, a processing instruction, or an XML
    /// declaration other than version 1.0 (`restricted-xml`).
    RestrictedXml(&'static str),
    /// The input is not UTF-8, or not valid UTF-8 (`unsupported-encoding`).
    UnsupportedEncoding(String),
    /// A prefix is used that is not declared (`bad-namespace-prefix`).
    UndeclaredPrefix(String),
    /// A prefix or namespace reserved by XML is misused (`bad-namespace-prefix`).
    ReservedPrefix,
    /// The root element is not in the stream namespace (`invalid-namespace`).
    InvalidStreamNamespace(String),
    /// The root element is not `<stream>` (`bad-format`).
    NotAStream(String),
    /// Non-whitespace text directly inside the stream element (`bad-format`).
    TextUnderRoot,
    /// Data other than whitespace after `</stream:stream>` (`not-well-formed`).
    DataAfterClose,
    /// A limit was exceeded (`policy-violation`); the value is the limit.
    LimitExceeded(Limit, usize),
}

impl ReadError {
    /// The stream error condition to send to the peer (RFC 6120 §4.9.3).
    pub fn condition(&self) -> StreamErrorCondition {
        match self {
            Self::NotWellFormed(_) | Self::DataAfterClose => StreamErrorCondition::NotWellFormed,
            Self::RestrictedXml(_) => StreamErrorCondition::RestrictedXml,
            Self::UnsupportedEncoding(_) => StreamErrorCondition::UnsupportedEncoding,
            Self::UndeclaredPrefix(_) | Self::ReservedPrefix => {
                StreamErrorCondition::BadNamespacePrefix
            }
            Self::InvalidStreamNamespace(_) => StreamErrorCondition::InvalidNamespace,
            Self::NotAStream(_) | Self::TextUnderRoot => StreamErrorCondition::BadFormat,
            Self::LimitExceeded(..) => StreamErrorCondition::PolicyViolation,
        }
    }

    /// Classifies an rxml error.
    pub(crate) fn from_rxml(e: rxml::Error) -> Self {
        use rxml::Error as E;
        match e {
            E::RestrictedXml("comments") => Self::RestrictedXml("a comment"),
            E::RestrictedXml("processing instructions") => {
                Self::RestrictedXml("a processing instruction")
            }
            E::RestrictedXml("only utf-8 encoding is allowed") => Self::UnsupportedEncoding(
                "the XML declaration names an encoding other than UTF-8".into(),
            ),
            E::RestrictedXml("only XML version 1.0 is allowed") => {
                Self::RestrictedXml("an XML version other than 1.0")
            }
            E::RestrictedXml("only standalone documents are allowed") => {
                Self::RestrictedXml("a non-standalone document")
            }
            // `<!` not followed by `--` or `[CDATA[`: a DOCTYPE or another
            // markup declaration.
            E::InvalidSyntax("malformed cdata or comment section start") => {
                Self::RestrictedXml("a document type declaration (DTD)")
            }
            E::RestrictedXml("long name or reference") => Self::LimitExceeded(Limit::TokenBytes, 0),
            E::RestrictedXml(other) => Self::RestrictedXml(other),
            E::InvalidUtf8Byte(b) => {
                Self::UnsupportedEncoding(format!("byte 0x{b:02x} is not valid UTF-8 here"))
            }
            E::UndeclaredNamespacePrefix(_) => Self::UndeclaredPrefix(String::new()),
            E::ReservedNamespacePrefix | E::ReservedNamespaceName => Self::ReservedPrefix,
            other => Self::NotWellFormed(other.to_string()),
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotWellFormed(d) => write!(f, "the peer sent XML that is not well-formed: {d}"),
            Self::RestrictedXml(what) => {
                write!(f, "the peer sent {what}, which XMPP forbids (RFC 6120 §11)")
            }
            Self::UnsupportedEncoding(d) => write!(f, "the peer's stream is not UTF-8: {d}"),
            Self::UndeclaredPrefix(p) => {
                write!(
                    f,
                    "the peer used the namespace prefix {p:?} without declaring it"
                )
            }
            Self::ReservedPrefix => {
                f.write_str("the peer misused a namespace prefix or name reserved by XML")
            }
            Self::InvalidStreamNamespace(ns) => write!(
                f,
                "the peer's stream element is in namespace {ns:?}, not http://etherx.jabber.org/streams"
            ),
            Self::NotAStream(name) => {
                write!(
                    f,
                    "the peer's root element is <{name}>, not <stream:stream>"
                )
            }
            Self::TextUnderRoot => {
                f.write_str("the peer sent text directly inside the stream element")
            }
            Self::DataAfterClose => f.write_str("the peer sent data after closing its stream"),
            Self::LimitExceeded(limit, max) if *max > 0 => {
                write!(f, "{} the limit of {max}", limit.describe())
            }
            Self::LimitExceeded(limit, _) => write!(f, "{} the configured limit", limit.describe()),
        }
    }
}

impl std::error::Error for ReadError {}
