//! Serialization into one reusable output buffer.

use std::fmt;

use super::element::{ElementRef, Node, Ns};
use super::reader::StreamHeader;
use super::{Element, ns};

/// The most storage a drained writer keeps for its next writes: enough
/// for everyday stanzas, so that they need no allocation.
const KEPT_CAPACITY: usize = 8 * 1024;

/// Serializes stream headers, elements, keepalives and the stream close
/// into one buffer that the transport drains.
///
/// Inside a stream, elements in the stream's content namespace carry no
/// `xmlns` and elements in the stream namespace get the `stream:` prefix.
///
/// ```
/// use xmpp_proto::xml::{Element, StreamHeader, Writer, ns};
///
/// let mut w = Writer::new();
/// w.write_header(&StreamHeader::new(ns::CLIENT).to("example.org")).unwrap();
/// let msg = Element::builder("message", ns::CLIENT)
///     .attr("to", "juliet@example.com")
///     .append(Element::builder("body", ns::CLIENT).text("Fish & chips"))
///     .build();
/// w.write_element(&msg).unwrap();
/// w.write_close();
/// let out = std::str::from_utf8(w.buffer()).unwrap();
/// assert!(out.ends_with("<message to='juliet@example.com'><body>Fish &amp; chips</body></message></stream:stream>"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
    /// Bytes at the front of `buf` already handed out via [`Writer::consume`].
    start: usize,
    default_ns: String,
    in_stream: bool,
    /// Messages of XMPP over WebSocket (RFC 7395) instead of one stream.
    websocket: bool,
    /// A prefix the stream header declared besides `stream` (`db` for
    /// dialback on server-to-server streams), and its namespace:
    /// elements in it are written with the prefix, as peers expect.
    declared: Option<(String, String)>,
}

/// Why an element cannot be serialized.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriteError {
    /// An element or attribute name is not a valid XML name without colon.
    InvalidName(String),
    /// Text or an attribute value contains a character XML 1.0 cannot carry
    /// (a control character other than tab, newline or carriage return, or
    /// U+FFFE/U+FFFF).
    ForbiddenChar(char),
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidName(n) => write!(f, "{n:?} is not a valid XML name"),
            Self::ForbiddenChar(c) => write!(
                f,
                "U+{:04X} cannot be represented in XML 1.0; remove or encode it",
                u32::from(*c)
            ),
        }
    }
}

impl std::error::Error for WriteError {}

/// The stream prefix this writer declares.
const STREAM_PREFIX: &str = "stream";

impl Writer {
    /// An empty writer, outside any stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// A writer of XMPP over WebSocket (RFC 7395): the header is an
    /// `<open/>` element, the close a `<close/>` one, every element
    /// declares its namespaces (each WebSocket message is a document of
    /// its own), and keepalives write nothing (RFC 7395 §3.3.3 forbids
    /// whitespace ones; WebSocket pings do that job). Each write is one
    /// message.
    ///
    /// ```
    /// use xmpp_proto::xml::{Element, StreamHeader, Writer, ns};
    ///
    /// let mut w = Writer::for_websocket();
    /// w.write_header(&StreamHeader::new(ns::CLIENT).to("example.org")).unwrap();
    /// assert_eq!(
    ///     w.buffer(),
    ///     b"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.org' version='1.0'/>"
    /// );
    /// w.consume(w.len());
    /// w.write_element(&Element::builder("presence", ns::CLIENT).build()).unwrap();
    /// assert_eq!(w.buffer(), b"<presence xmlns='jabber:client'/>");
    /// ```
    pub fn for_websocket() -> Self {
        Writer {
            websocket: true,
            ..Self::default()
        }
    }

    /// Whether this writer writes WebSocket messages.
    pub fn is_websocket(&self) -> bool {
        self.websocket
    }

    /// Writes the optional XML declaration and the `<stream:stream>` opening
    /// tag; later elements are written relative to its namespaces. Call it
    /// again for a stream restart.
    pub fn write_header(&mut self, header: &StreamHeader) -> Result<(), WriteError> {
        let mark = self.buf.len();
        let r = self.header_inner(header);
        if r.is_err() {
            self.buf.truncate(mark);
        } else {
            self.default_ns.clear();
            self.default_ns.push_str(&header.default_ns);
            self.in_stream = true;
            self.declared = header.declarations.first().cloned();
        }
        r
    }

    fn header_inner(&mut self, h: &StreamHeader) -> Result<(), WriteError> {
        if self.websocket {
            return self.open_inner(h);
        }
        let b = &mut self.buf;
        b.extend_from_slice(b"<?xml version='1.0'?><stream:stream");
        if !h.default_ns.is_empty() {
            write_attr(b, "xmlns", &h.default_ns)?;
        }
        write_attr(b, "xmlns:stream", ns::STREAM)?;
        for (prefix, uri) in &h.declarations {
            check_name(prefix)?;
            b.extend_from_slice(b" xmlns:");
            b.extend_from_slice(prefix.as_bytes());
            b.extend_from_slice(b"='");
            escape(b, uri, true)?;
            b.push(b'\'');
        }
        write_header_attrs(b, h)?;
        b.push(b'>');
        Ok(())
    }

    /// The `<open/>` of RFC 7395 §3.4: the header's attributes, no
    /// namespace declarations (every message declares its own).
    fn open_inner(&mut self, h: &StreamHeader) -> Result<(), WriteError> {
        let b = &mut self.buf;
        b.extend_from_slice(b"<open");
        write_attr(b, "xmlns", ns::FRAMING)?;
        write_header_attrs(b, h)?;
        b.extend_from_slice(b"/>");
        Ok(())
    }

    /// Writes a top-level element. On error nothing is written.
    pub fn write_element(&mut self, el: &Element) -> Result<(), WriteError> {
        self.write_ref(el.as_ref())
    }

    /// Writes a top-level element given as a view. On error nothing is written.
    pub fn write_ref(&mut self, el: ElementRef<'_>) -> Result<(), WriteError> {
        let scope = if self.websocket {
            Scope::STANDALONE
        } else if self.in_stream {
            Scope {
                default_ns: &self.default_ns,
                stream_prefix: Some(STREAM_PREFIX),
                declare_stream_prefix: false,
                declared: self
                    .declared
                    .as_ref()
                    .map(|(p, n)| (p.as_str(), n.as_str())),
            }
        } else {
            Scope::EMPTY
        };
        write_fragment(&mut self.buf, el, scope)
    }

    /// Writes a whitespace keepalive (RFC 6120 §4.6.1); nothing over
    /// WebSocket.
    pub fn write_keepalive(&mut self) {
        if !self.websocket {
            self.buf.push(b' ');
        }
    }

    /// Writes the stream close tag `</stream:stream>` (over WebSocket,
    /// `<close/>`).
    pub fn write_close(&mut self) {
        if self.websocket {
            self.buf
                .extend_from_slice(b"<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>");
        } else {
            self.buf.extend_from_slice(b"</stream:stream>");
        }
        self.in_stream = false;
    }

    /// Over WebSocket: writes `<close/>` naming where the peer should
    /// connect instead (`see-other-uri`, RFC 7395 §3.6.1). On a TCP
    /// stream there is no such close; nothing is written.
    ///
    /// # Errors
    /// If `uri` holds a character XML cannot carry (nothing is written).
    pub fn write_close_redirect(&mut self, uri: &str) -> Result<(), WriteError> {
        if !self.websocket {
            return Ok(());
        }
        let mark = self.buf.len();
        self.buf.extend_from_slice(b"<close");
        let r = write_attr(&mut self.buf, "xmlns", ns::FRAMING)
            .and_then(|()| write_attr(&mut self.buf, "see-other-uri", uri));
        if r.is_err() {
            self.buf.truncate(mark);
            return r;
        }
        self.buf.extend_from_slice(b"/>");
        self.in_stream = false;
        Ok(())
    }

    /// Appends raw bytes the caller vouches for: a top-level element
    /// serialized for a stream whose content namespace is the current
    /// header's (a pre-serialized stanza). Over WebSocket the element is
    /// given that namespace explicitly, as a message of its own needs.
    pub fn write_raw(&mut self, bytes: &[u8]) {
        if self.websocket && !self.default_ns.is_empty() {
            if let Some(at) = where_default_ns_goes(bytes) {
                let (head, tail) = bytes.split_at(at);
                self.buf.extend_from_slice(head);
                let _ = write_attr(&mut self.buf, "xmlns", &self.default_ns);
                self.buf.extend_from_slice(tail);
                return;
            }
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The bytes written and not yet consumed.
    pub fn buffer(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or(&[])
    }

    /// Number of bytes waiting in [`Writer::buffer`].
    pub fn len(&self) -> usize {
        self.buf.len().saturating_sub(self.start)
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Marks the first `n` bytes of [`Writer::buffer`] as sent. Partial
    /// writes need no copy; the storage is reused once everything is sent.
    pub fn consume(&mut self, n: usize) {
        self.start = self.start.saturating_add(n).min(self.buf.len());
        if self.start == self.buf.len() {
            if self.buf.capacity() > KEPT_CAPACITY {
                // A burst is over: its storage goes back rather than
                // staying with an idle connection.
                self.buf = Vec::new();
            }
            self.buf.clear();
            self.start = 0;
        } else if self.start > 64 * 1024 && self.start > self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }
}

/// Appends `el` as it is written as a top-level element of a
/// `jabber:client` stream (our streams' header: default namespace
/// `jabber:client`, the stream namespace on prefix `stream`).
pub(crate) fn write_in_client_stream(out: &mut Vec<u8>, el: &Element) -> Result<(), WriteError> {
    let scope = Scope {
        default_ns: ns::CLIENT,
        stream_prefix: Some(STREAM_PREFIX),
        declare_stream_prefix: false,
        declared: None,
    };
    write_fragment(out, el.as_ref(), scope)
}

/// Where ` xmlns='...'` goes in a serialized top-level element that has
/// no default namespace declaration of its own: right after its name.
/// `None` if it declares one already (or is not an element).
fn where_default_ns_goes(bytes: &[u8]) -> Option<usize> {
    let rest = bytes.strip_prefix(b"<")?;
    let name_len = rest
        .iter()
        .position(|b| matches!(b, b' ' | b'/' | b'>' | b'\t' | b'\r' | b'\n'))?;
    let end_of_name = 1 + name_len;
    // Scan the start tag's attributes, skipping quoted values.
    let mut quote = None;
    let mut i = end_of_name;
    while let Some(&b) = bytes.get(i) {
        match (quote, b) {
            (Some(q), _) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'\'' | b'"') => quote = Some(b),
            (None, b'>') => break,
            (None, b' ' | b'\t' | b'\r' | b'\n')
                if bytes.get(i + 1..i + 7) == Some(b"xmlns=".as_slice()) =>
            {
                return None;
            }
            (None, _) => {}
        }
        i += 1;
    }
    Some(end_of_name)
}

/// Namespace context an element is written in.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scope<'a> {
    default_ns: &'a str,
    stream_prefix: Option<&'a str>,
    /// The stream prefix is not declared yet: an element in the stream
    /// namespace declares it (a WebSocket message's root).
    declare_stream_prefix: bool,
    /// Another prefix the stream header declared, with its namespace.
    declared: Option<(&'a str, &'a str)>,
}

impl Scope<'static> {
    /// Outside any stream: the root declares its namespace.
    pub(crate) const EMPTY: Scope<'static> = Scope {
        default_ns: "",
        stream_prefix: None,
        declare_stream_prefix: false,
        declared: None,
    };

    /// A document of its own that keeps the `stream:` prefix for the
    /// stream namespace (`<stream:features xmlns:stream='...'>`), as XMPP
    /// over WebSocket writes it (RFC 7395 §3.4).
    const STANDALONE: Scope<'static> = Scope {
        default_ns: "",
        stream_prefix: Some(STREAM_PREFIX),
        declare_stream_prefix: true,
        declared: None,
    };
}

/// Appends `el` to `out`; on error `out` is left as it was.
pub(crate) fn write_fragment(
    out: &mut Vec<u8>,
    el: ElementRef<'_>,
    scope: Scope<'_>,
) -> Result<(), WriteError> {
    let mark = out.len();
    let r = write_element(out, el, scope);
    if r.is_err() {
        out.truncate(mark);
    }
    r
}

fn write_element(
    out: &mut Vec<u8>,
    el: ElementRef<'_>,
    scope: Scope<'_>,
) -> Result<(), WriteError> {
    let name = el.name();
    check_name(name)?;
    let el_ns = el.ns();
    let tree = el.tree();
    out.push(b'<');
    let mut child_scope = scope;
    let in_stream_ns = matches!(el.ns_tag(), Ns::Known(ns::STREAM_INDEX));
    let prefix = match (in_stream_ns, scope.stream_prefix, scope.declared) {
        (true, Some(p), _) => Some(p),
        (false, _, Some((p, declared_ns))) if el_ns == declared_ns => Some(p),
        _ => None,
    };
    let prefixed = prefix.is_some();
    if let Some(p) = prefix {
        out.extend_from_slice(p.as_bytes());
        out.push(b':');
    }
    out.extend_from_slice(name.as_bytes());
    if in_stream_ns && prefixed && scope.declare_stream_prefix {
        write_attr(out, "xmlns:stream", ns::STREAM)?;
        child_scope.declare_stream_prefix = false;
    }
    if !prefixed && el_ns != scope.default_ns {
        write_attr(out, "xmlns", el_ns)?;
        child_scope.default_ns = el_ns;
    }
    let mut extra_prefixes = 0u32;
    for a in el.attr_data() {
        let aname = tree.str(a.name);
        check_name(aname)?;
        out.push(b' ');
        match a.ns {
            Ns::None => {}
            Ns::Known(ns::XML_INDEX) => out.extend_from_slice(b"xml:"),
            Ns::Known(ns::STREAM_INDEX) if scope.stream_prefix.is_some() => {
                out.extend_from_slice(STREAM_PREFIX.as_bytes());
                out.push(b':');
            }
            other => {
                // A namespaced attribute needs a prefix; declare a fresh
                // one on this element. Rare in XMPP, so no reuse.
                let prefix = format!("ns{extra_prefixes}");
                extra_prefixes += 1;
                out.extend_from_slice(b"xmlns:");
                out.extend_from_slice(prefix.as_bytes());
                out.extend_from_slice(b"='");
                escape(out, tree.ns_str(other), true)?;
                out.extend_from_slice(b"' ");
                out.extend_from_slice(prefix.as_bytes());
                out.push(b':');
            }
        }
        out.extend_from_slice(aname.as_bytes());
        out.extend_from_slice(b"='");
        escape(out, tree.str(a.value), true)?;
        out.push(b'\'');
    }
    if el.is_empty() {
        out.extend_from_slice(b"/>");
        return Ok(());
    }
    out.push(b'>');
    for node in el.nodes() {
        match node {
            Node::Text(t) => escape(out, t, false)?,
            Node::Element(child) => write_element(out, child, child_scope)?,
        }
    }
    out.extend_from_slice(b"</");
    if let Some(p) = prefix {
        out.extend_from_slice(p.as_bytes());
        out.push(b':');
    }
    out.extend_from_slice(name.as_bytes());
    out.push(b'>');
    Ok(())
}

/// The attributes a stream header and an `<open/>` share.
fn write_header_attrs(out: &mut Vec<u8>, h: &StreamHeader) -> Result<(), WriteError> {
    for (name, value) in [
        ("from", &h.from),
        ("to", &h.to),
        ("id", &h.id),
        ("version", &h.version),
        ("xml:lang", &h.lang),
    ] {
        if let Some(v) = value {
            write_attr(out, name, v)?;
        }
    }
    Ok(())
}

fn write_attr(out: &mut Vec<u8>, name: &str, value: &str) -> Result<(), WriteError> {
    out.push(b' ');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"='");
    escape(out, value, true)?;
    out.push(b'\'');
    Ok(())
}

/// Checks that `name` is an XML name without colon (an NCName).
fn check_name(name: &str) -> Result<(), WriteError> {
    let bytes = name.as_bytes();
    let simple = match bytes.first() {
        Some(b) if b.is_ascii_alphabetic() || *b == b'_' => bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')),
        _ => false,
    };
    if simple || <&rxml::NcNameStr>::try_from(name).is_ok() {
        Ok(())
    } else {
        Err(WriteError::InvalidName(name.to_owned()))
    }
}

/// Appends `s` escaped for text (`attr == false`) or a `'`-quoted attribute
/// value. Characters a parser would normalise away (CR in text; tab, CR and
/// LF in attribute values) are written as character references so that
/// they survive the round trip.
fn escape(out: &mut Vec<u8>, s: &str, attr: bool) -> Result<(), WriteError> {
    let bytes = s.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let rep: &[u8] = match b {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'\'' if attr => b"&apos;",
            b'"' if attr => b"&quot;",
            b'\r' => b"&#xD;",
            b'\n' if attr => b"&#xA;",
            b'\t' if attr => b"&#x9;",
            b'\n' | b'\t' => continue,
            0..=0x1f => return Err(WriteError::ForbiddenChar(char::from(b))),
            0xEF => {
                // U+FFFE and U+FFFF are EF BF BE and EF BF BF in UTF-8.
                if let (Some(0xBF), Some(0xBE | 0xBF)) = (bytes.get(i + 1), bytes.get(i + 2)) {
                    let c = s
                        .get(i..)
                        .and_then(|t| t.chars().next())
                        .unwrap_or('\u{FFFF}');
                    return Err(WriteError::ForbiddenChar(c));
                }
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(bytes.get(run..i).unwrap_or(&[]));
        out.extend_from_slice(rep);
        run = i + 1;
    }
    out.extend_from_slice(bytes.get(run..).unwrap_or(&[]));
    Ok(())
}

/// Escaping for test generators in sibling modules.
#[cfg(test)]
pub(crate) fn escape_for_tests(out: &mut Vec<u8>, s: &str, attr: bool) {
    escape(out, s, attr).expect("test text is valid XML");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(s: &str, attr: bool) -> Result<String, WriteError> {
        let mut v = Vec::new();
        escape(&mut v, s, attr)?;
        Ok(String::from_utf8(v).unwrap())
    }

    #[test]
    fn escapes_the_five_and_whitespace_that_would_be_normalised() {
        assert_eq!(
            esc("a&b<c>d'e\"f", false).unwrap(),
            "a&amp;b&lt;c&gt;d'e\"f"
        );
        assert_eq!(
            esc("a&b<c>d'e\"f", true).unwrap(),
            "a&amp;b&lt;c&gt;d&apos;e&quot;f"
        );
        assert_eq!(esc("x\r\n\ty", false).unwrap(), "x&#xD;\n\ty");
        assert_eq!(esc("x\r\n\ty", true).unwrap(), "x&#xD;&#xA;&#x9;y");
        assert_eq!(
            esc("ünïcödé ☕ \u{FFFD}", true).unwrap(),
            "ünïcödé ☕ \u{FFFD}"
        );
    }

    #[test]
    fn storage_of_a_burst_is_returned_once_it_is_sent() {
        let mut w = Writer::default();
        w.write_raw(&[b'x'; 100]);
        w.consume(100);
        w.write_raw(b"<a/>");
        let small = w.buf.capacity();
        assert!(small >= 100, "everyday writes keep their storage");
        w.write_raw(&vec![b'x'; 300 * 1024]);
        w.consume(1000);
        assert!(w.buf.capacity() >= 300 * 1024, "kept while unsent");
        w.consume(usize::MAX);
        assert!(w.buf.capacity() <= KEPT_CAPACITY, "{}", w.buf.capacity());
        assert!(w.is_empty());
    }

    #[test]
    fn refuses_characters_xml_cannot_carry() {
        assert_eq!(esc("a\0b", false), Err(WriteError::ForbiddenChar('\0')));
        assert_eq!(
            esc("\u{1b}", true),
            Err(WriteError::ForbiddenChar('\u{1b}'))
        );
        assert_eq!(
            esc("x\u{FFFE}", false),
            Err(WriteError::ForbiddenChar('\u{FFFE}'))
        );
        assert_eq!(
            esc("\u{FFFF}", false),
            Err(WriteError::ForbiddenChar('\u{FFFF}'))
        );
    }

    #[test]
    fn failed_writes_leave_the_buffer_untouched() {
        let mut w = Writer::new();
        w.write_keepalive();
        let bad = Element::builder("a", "urn:a").text("ok\u{7}").build();
        assert_eq!(
            w.write_element(&bad),
            Err(WriteError::ForbiddenChar('\u{7}'))
        );
        let bad = Element::builder("a b", "urn:a").build();
        assert!(matches!(
            w.write_element(&bad),
            Err(WriteError::InvalidName(_))
        ));
        assert_eq!(w.buffer(), b" ");
    }

    #[test]
    fn declares_namespaces_only_where_they_change() {
        let mut w = Writer::new();
        w.write_header(&StreamHeader::new(ns::CLIENT)).unwrap();
        w.consume(w.len());
        let el = Element::builder("iq", ns::CLIENT)
            .attr("type", "get")
            .append(
                Element::builder("query", ns::DISCO_INFO)
                    .append(Element::builder("feature", ns::DISCO_INFO).attr("var", "a"))
                    .append(Element::builder("x", ns::CLIENT)),
            )
            .build();
        w.write_element(&el).unwrap();
        assert_eq!(
            std::str::from_utf8(w.buffer()).unwrap(),
            "<iq type='get'><query xmlns='http://jabber.org/protocol/disco#info'>\
             <feature var='a'/><x xmlns='jabber:client'/></query></iq>"
        );
        w.consume(4);
        assert!(w.buffer().starts_with(b"type"));
    }

    #[test]
    fn stream_namespace_gets_the_prefix_and_attributes_get_declared() {
        let mut w = Writer::new();
        w.write_header(&StreamHeader::new(ns::SERVER)).unwrap();
        w.consume(w.len());
        let el = Element::builder("features", ns::STREAM)
            .append(Element::builder("starttls", ns::TLS))
            .build();
        w.write_element(&el).unwrap();
        let el = Element::builder("a", ns::SERVER)
            .attr_ns("urn:x", "b", "c")
            .lang("en")
            .build();
        w.write_element(&el).unwrap();
        assert_eq!(
            std::str::from_utf8(w.buffer()).unwrap(),
            "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>\
             <a xmlns:ns0='urn:x' ns0:b='c' xml:lang='en'/>"
        );
    }
}
