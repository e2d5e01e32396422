//! The stream reader: bytes in, stream events out.

use rxml::{Parse, RawEvent, RawParser, WithOptions};

use super::element::{Element, Ns, Span, Tree};
use super::error::{Limit, ReadError};
use super::ns;

/// Limits on what a peer may make the reader hold. Exceeding one is a
/// [`ReadError::LimitExceeded`] (stream error `policy-violation`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Bytes of one top-level element, as received (default 256 KiB, the
    /// c2s stanza limit Prosody uses).
    pub max_element_bytes: usize,
    /// Bytes the reader may store for one top-level element as it builds
    /// it (default 1 MiB). Storage can exceed the wire size when an
    /// element consists of tiny nodes (`<x/>` is 4 bytes on the wire, a
    /// stored node about 40), so this bounds what a peer can make us hold,
    /// rather than [`Limits::max_element_bytes`] alone.
    pub max_element_storage: usize,
    /// Nesting depth inside a top-level element; the top-level element
    /// itself is depth 1 (default 64).
    pub max_depth: usize,
    /// Attributes on one element, namespace declarations included (default 64).
    pub max_attributes: usize,
    /// Bytes of the XML declaration plus the stream header (default 8 KiB).
    pub max_header_bytes: usize,
    /// Bytes of one name or attribute value (default 16 KiB). Text is not
    /// limited by this (it is split); the parser keeps one buffer of this
    /// size per connection, so it is the reader's fixed memory cost.
    pub max_token_bytes: usize,
    /// Input handed to [`StreamReader::feed`] and not yet parsed by
    /// [`StreamReader::poll`] (default 256 KiB). [`StreamReader::read`]
    /// buffers no input at all.
    pub max_pending_input: usize,
}

impl Limits {
    /// Limits for a peer that has not authenticated yet: everything it
    /// may send before then is small (a stream header, STARTTLS, SASL
    /// messages of at most 16 KiB of data, a bind request), so an
    /// anonymous connection cannot make the server hold much (32 KiB
    /// elements stored in at most 64 KiB, 8 levels, 16 attributes, 4 KiB
    /// names and values, 64 KiB of pending input).
    pub fn before_authentication() -> Self {
        Self {
            max_element_bytes: 32 * 1024,
            max_element_storage: 64 * 1024,
            max_depth: 8,
            max_attributes: 16,
            max_header_bytes: 4 * 1024,
            max_token_bytes: 4 * 1024,
            max_pending_input: 64 * 1024,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_element_bytes: 256 * 1024,
            max_element_storage: 1024 * 1024,
            max_depth: 64,
            max_attributes: 64,
            max_header_bytes: 8 * 1024,
            max_token_bytes: 16 * 1024,
            max_pending_input: 256 * 1024,
        }
    }
}

/// What the reader produces.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum StreamEvent {
    /// The peer opened the stream (`<stream:stream ...>`).
    Header(StreamHeader),
    /// A complete top-level element (stanza or nonza).
    Element(Element),
    /// A run of whitespace between top-level elements (RFC 6120 §4.6.1); a
    /// run split across reads counts once.
    Keepalive,
    /// The peer closed the stream (`</stream:stream>`, or `<close/>` over
    /// WebSocket).
    Closed,
    /// WebSocket framing only: the peer closed the stream with a
    /// `<close/>` that names where to connect instead (`see-other-uri`,
    /// RFC 7395 §3.6.1).
    SeeOtherUri(String),
}

/// The attributes of a stream header (RFC 6120 §4.7), both received and
/// to be sent.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct StreamHeader {
    /// `from`.
    pub from: Option<String>,
    /// `to`.
    pub to: Option<String>,
    /// `id`.
    pub id: Option<String>,
    /// `version`, normally `1.0`.
    pub version: Option<String>,
    /// `xml:lang`.
    pub lang: Option<String>,
    /// The default namespace (`jabber:client`, `jabber:server`, ...); empty if none.
    pub default_ns: String,
    /// The prefix the peer bound to the stream namespace (usually `stream`);
    /// `None` if the stream element used it as the default namespace.
    pub stream_prefix: Option<String>,
    /// Other prefixes declared on the stream element, e.g. `db` for dialback.
    pub declarations: Vec<(String, String)>,
}

impl StreamHeader {
    /// A header with this content namespace and `version='1.0'`, for sending.
    pub fn new(default_ns: &str) -> Self {
        Self {
            default_ns: default_ns.to_owned(),
            version: Some("1.0".to_owned()),
            stream_prefix: Some("stream".to_owned()),
            ..Self::default()
        }
    }

    /// Sets `to`.
    pub fn to(mut self, to: &str) -> Self {
        self.to = Some(to.to_owned());
        self
    }

    /// Sets `from`.
    pub fn from(mut self, from: &str) -> Self {
        self.from = Some(from.to_owned());
        self
    }

    /// Sets `id`.
    pub fn id(mut self, id: &str) -> Self {
        self.id = Some(id.to_owned());
        self
    }

    /// Sets `xml:lang`.
    pub fn lang(mut self, lang: &str) -> Self {
        self.lang = Some(lang.to_owned());
        self
    }

    /// Takes `from`, `to`, `id`, `version` and `xml:lang` from the
    /// attributes of a `<stream:stream>` or `<open/>` as read.
    fn take_attrs<'a>(&mut self, attrs: impl Iterator<Item = super::Attribute<'a>>) {
        for a in attrs {
            let slot = match (a.ns, a.name) {
                ("", "from") => &mut self.from,
                ("", "to") => &mut self.to,
                ("", "id") => &mut self.id,
                ("", "version") => &mut self.version,
                (ns::XML, "lang") => &mut self.lang,
                _ => continue,
            };
            *slot = Some(a.value.to_owned());
        }
    }
}

/// How many recycled trees a reader keeps: enough for the elements of one
/// large read (a 16 KiB read holds a hundred small messages), which are
/// handed back only after it.
const SPARE_TREES: usize = 128;
/// How many bytes of recycled trees a reader keeps (what an idle reader
/// may hold besides rxml's token buffer).
const SPARE_BYTES: usize = 32 * 1024;

/// Turns the bytes of one XML stream into [`StreamEvent`]s.
///
/// Input may be split anywhere (inside a tag, a UTF-8 sequence, an
/// entity). The reader returns after each event, so the caller can act on
/// an element (for example restart the stream with [`StreamReader::reset`]
/// after SASL success) before any later byte is parsed. Errors are sticky.
///
/// ```
/// use xmpp_proto::xml::{StreamEvent, StreamReader, Limits, ns};
///
/// let mut reader = StreamReader::new(Limits::default());
/// let mut input: &[u8] = b"<stream:stream xmlns='jabber:client' \
///     xmlns:stream='http://etherx.jabber.org/streams' from='example.org' version='1.0'>\
///     <message to='romeo@example.net'><body>hi</body></message> </stream:stream>";
/// let Some(StreamEvent::Header(h)) = reader.read(&mut input).unwrap() else { panic!() };
/// assert_eq!(h.from.as_deref(), Some("example.org"));
/// let Some(StreamEvent::Element(msg)) = reader.read(&mut input).unwrap() else { panic!() };
/// assert!(msg.is("message", ns::CLIENT));
/// assert_eq!(msg.child("body", ns::CLIENT).unwrap().text(), "hi");
/// reader.recycle(msg); // optional: lets the next element reuse the storage
/// assert_eq!(reader.read(&mut input).unwrap(), Some(StreamEvent::Keepalive));
/// assert_eq!(reader.read(&mut input).unwrap(), Some(StreamEvent::Closed));
/// assert!(input.is_empty());
/// ```
#[derive(Debug)]
pub struct StreamReader {
    limits: Limits,
    parser: RawParser,
    state: State,
    failed: Option<ReadError>,
    /// The element being built (or the stream header's attributes).
    tree: Tree,
    /// Storage handed back by [`StreamReader::recycle`], at most
    /// [`SPARE_TREES`] trees and [`SPARE_BYTES`] bytes.
    spares: Vec<Tree>,
    spare_bytes: usize,
    /// Open elements, the stream root first.
    levels: Vec<Level>,
    /// Prefix declarations in scope, innermost last.
    decls: Vec<Decl>,
    /// Prefixes, and namespaces declared on the stream root.
    scope_text: String,
    /// Attributes of the element head being read.
    pending: Vec<PendingAttr>,
    /// Prefix of the element head being read.
    pending_prefix: Option<rxml::NcName>,
    /// Attributes (declarations included) of the element head being read.
    head_attrs: usize,
    /// Bytes of the current top-level element or of the header so far.
    bytes: usize,
    in_whitespace: bool,
    keepalives: u64,
    /// Input from [`StreamReader::feed`] not yet parsed.
    inbuf: Vec<u8>,
    inpos: usize,
    /// WebSocket framing (RFC 7395), if the reader reads messages.
    framed: Option<Framed>,
}

/// What a reader of WebSocket messages keeps: it runs inside a stream it
/// opened itself, so that every message parses as a top-level element in
/// the content namespace, and turns `<open/>` and `<close/>` into the
/// events of a stream header and a stream close.
#[derive(Debug)]
struct Framed {
    content_ns: String,
    /// The peer's `<open/>` was read since the last (re)start.
    opened: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Before the stream header: XML declaration, whitespace.
    Prolog,
    /// Inside the `<stream:stream ...` tag.
    Header,
    /// Between top-level elements.
    Idle,
    /// Inside a top-level element.
    Element,
    /// After `</stream:stream>`.
    Closed,
}

/// A namespace in reader scope.
#[derive(Clone, Copy, Debug)]
enum ScopeNs {
    None,
    Known(u8),
    /// In `scope_text` (declared on the stream root).
    Root(Span),
    /// In the tree being built.
    Tree(Span),
}

#[derive(Clone, Copy, Debug)]
struct Decl {
    prefix: (usize, usize),
    ns: ScopeNs,
}

#[derive(Clone, Copy, Debug)]
struct Level {
    node: u32,
    default_ns: ScopeNs,
    decls: usize,
    scope_text: usize,
    /// Last child so far is text (so the next text extends it).
    open_text: bool,
}

#[derive(Debug)]
struct PendingAttr {
    prefix: Option<rxml::NcName>,
    name: Span,
    value: Span,
}

impl StreamReader {
    /// A reader at the start of a stream.
    pub fn new(limits: Limits) -> Self {
        let parser = new_parser(&limits);
        Self {
            limits,
            parser,
            state: State::Prolog,
            failed: None,
            tree: Tree::default(),
            spares: Vec::new(),
            spare_bytes: 0,
            levels: Vec::new(),
            decls: Vec::new(),
            scope_text: String::new(),
            pending: Vec::new(),
            pending_prefix: None,
            head_attrs: 0,
            bytes: 0,
            in_whitespace: false,
            keepalives: 0,
            inbuf: Vec::new(),
            inpos: 0,
            framed: None,
        }
    }

    /// A reader of the messages of an XMPP-over-WebSocket connection (RFC
    /// 7395), in which `content_ns` (`jabber:client`) is the content
    /// namespace. Each message holds whole elements; the peer's `<open/>`
    /// is reported as [`StreamEvent::Header`] and its `<close/>` as
    /// [`StreamEvent::Closed`] (or [`StreamEvent::SeeOtherUri`]). After each
    /// message, [`between_elements`](Self::between_elements) tells whether
    /// it ended cleanly.
    ///
    /// ```
    /// use xmpp_proto::xml::{Limits, StreamEvent, StreamReader, ns};
    ///
    /// let mut reader = StreamReader::for_websocket(Limits::default(), ns::CLIENT);
    /// let mut open: &[u8] =
    ///     b"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.org' version='1.0'/>";
    /// let Some(StreamEvent::Header(h)) = reader.read(&mut open).unwrap() else { panic!() };
    /// assert_eq!(h.to.as_deref(), Some("example.org"));
    /// let mut msg: &[u8] = b"<message xmlns='jabber:client'><body>hi</body></message>";
    /// let Some(StreamEvent::Element(m)) = reader.read(&mut msg).unwrap() else { panic!() };
    /// assert!(m.is("message", ns::CLIENT));
    /// assert!(reader.between_elements());
    /// let mut close: &[u8] = b"<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>";
    /// assert_eq!(reader.read(&mut close).unwrap(), Some(StreamEvent::Closed));
    /// ```
    pub fn for_websocket(limits: Limits, content_ns: &str) -> Self {
        let mut reader = Self::new(limits);
        reader.framed = Some(Framed {
            content_ns: content_ns.to_owned(),
            opened: false,
        });
        reader.prime();
        reader
    }

    /// Whether the reader reads WebSocket messages.
    pub fn is_websocket(&self) -> bool {
        self.framed.is_some()
    }

    /// Whether the input so far ended between top-level elements, as every
    /// WebSocket message must (RFC 7395 §3.3.3), rather than inside one.
    pub fn between_elements(&self) -> bool {
        matches!(self.state, State::Idle | State::Closed)
    }

    /// WebSocket framing: opens the stream the messages are read in, with
    /// the content namespace as default namespace.
    fn prime(&mut self) {
        let Some(framed) = &mut self.framed else {
            return;
        };
        framed.opened = false;
        let mut writer = super::Writer::default();
        let header = StreamHeader::new(&framed.content_ns);
        if writer.write_header(&header).is_err() {
            self.failed = Some(ReadError::NotWellFormed("invalid content namespace".into()));
            return;
        }
        let mut bytes = writer.buffer();
        while let Ok(Some(_)) = self.read_inner(&mut bytes) {}
    }

    /// WebSocket framing: what an event read inside the primed stream
    /// means on the peer's stream.
    fn unframe(&mut self, event: Option<StreamEvent>) -> Result<Option<StreamEvent>, ReadError> {
        let Some(framed) = &mut self.framed else {
            return Ok(event);
        };
        let el = match event {
            Some(StreamEvent::Element(el)) => el,
            Some(StreamEvent::Closed) => {
                return Err(ReadError::NotWellFormed(
                    "</stream:stream> over WebSocket, where <close/> ends the stream".into(),
                ));
            }
            other => return Ok(other),
        };
        if el.is("open", ns::FRAMING) {
            if framed.opened {
                return Err(ReadError::NotWellFormed(
                    "a second <open/> without a stream restart".into(),
                ));
            }
            framed.opened = true;
            return Ok(Some(StreamEvent::Header(open_header(
                &el,
                &framed.content_ns,
            ))));
        }
        if !framed.opened {
            return Err(ReadError::NotWellFormed(format!(
                "<{}/> before the stream's <open/>",
                el.name()
            )));
        }
        if el.is("close", ns::FRAMING) {
            self.state = State::Closed;
            return Ok(Some(match el.attr("see-other-uri") {
                Some(uri) => StreamEvent::SeeOtherUri(uri.to_owned()),
                None => StreamEvent::Closed,
            }));
        }
        Ok(Some(StreamEvent::Element(el)))
    }

    /// Starts a fresh XML document on the same connection (the stream
    /// restart after STARTTLS or SASL, RFC 6120 §5.4.3.3 and §6.4.6).
    /// Input given to [`feed`](Self::feed) and not yet parsed is kept: it
    /// belongs to the new stream.
    pub fn reset(&mut self) {
        self.parser = new_parser(&self.limits);
        self.state = State::Prolog;
        self.failed = None;
        self.tree.clear();
        self.levels.clear();
        self.decls.clear();
        self.scope_text.clear();
        self.pending.clear();
        self.pending_prefix = None;
        self.bytes = 0;
        self.in_whitespace = false;
        self.prime();
    }

    /// Starts a fresh XML document, as [`reset`](Self::reset) does, under
    /// new limits (a server raises them once the peer authenticated).
    pub fn reset_with(&mut self, limits: Limits) {
        self.limits = limits;
        self.reset();
    }

    /// Raises the limits in the middle of a stream that does not restart
    /// (a component accepted after its handshake): the parser starts over
    /// as if `header` (the peer's, as read) had just opened the stream,
    /// so what follows parses in the same namespaces. Only for a peer
    /// that binds the stream namespace to `stream`, as every real one
    /// does; for any other the limits stay (`false`).
    pub(crate) fn continue_with(&mut self, limits: Limits, header: &StreamHeader) -> bool {
        if header.stream_prefix.as_deref() != Some("stream") {
            return false;
        }
        let mut writer = super::Writer::default();
        if writer.write_header(header).is_err() {
            return false;
        }
        self.reset_with(limits);
        let mut bytes = writer.buffer();
        matches!(self.read(&mut bytes), Ok(Some(StreamEvent::Header(_))))
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Whitespace keepalives received so far (never reset).
    pub fn keepalives(&self) -> u64 {
        self.keepalives
    }

    /// Bytes of peer input the reader currently holds: input fed and not
    /// parsed, plus the part of the current element or header read so far.
    /// Bounded by the limits, whatever the peer sends.
    pub fn buffered_len(&self) -> usize {
        let partial = match self.state {
            State::Prolog | State::Header | State::Element => self.tree.text_len().max(self.bytes),
            State::Idle | State::Closed => 0,
        };
        self.inbuf.len().saturating_sub(self.inpos) + partial
    }

    /// Heap bytes the reader's element storage holds (for tests of bounds).
    #[cfg(test)]
    pub(crate) fn heap_size(&self) -> usize {
        self.tree.heap_size() + self.spare_bytes
    }

    /// Gives an element's storage back so that a later element is built in
    /// it without allocating. Optional. A few trees are kept (elements
    /// read in one batch are often handed back only after it), bounded in
    /// bytes so that an idle reader holds little; storage grown by an
    /// unusually large element is not kept.
    pub fn recycle(&mut self, element: Element) {
        let mut tree = element.tree;
        let size = tree.heap_size();
        if size == 0
            || size > SPARE_BYTES / 4
            || self.spares.len() >= SPARE_TREES
            || self.spare_bytes + size > SPARE_BYTES
        {
            return;
        }
        tree.clear();
        self.spare_bytes += size;
        self.spares.push(tree);
    }

    /// Takes a recycled tree, if there is one.
    fn take_spare(&mut self) -> Option<Tree> {
        let tree = self.spares.pop()?;
        self.spare_bytes = self.spare_bytes.saturating_sub(tree.heap_size());
        Some(tree)
    }

    /// Queues input for [`poll`](Self::poll). Call `poll` until it returns
    /// `Ok(None)` after each `feed`; input beyond
    /// [`Limits::max_pending_input`] is refused.
    pub fn feed(&mut self, data: &[u8]) -> Result<(), ReadError> {
        if self.inpos == self.inbuf.len() {
            self.inbuf.clear();
            self.inpos = 0;
        }
        let pending = self.inbuf.len() - self.inpos;
        if pending.saturating_add(data.len()) > self.limits.max_pending_input {
            return Err(self.fail(ReadError::LimitExceeded(
                Limit::PendingInput,
                self.limits.max_pending_input,
            )));
        }
        if self.inpos > 0 && self.inpos >= self.inbuf.len() / 2 {
            self.inbuf.drain(..self.inpos);
            self.inpos = 0;
        }
        self.inbuf.extend_from_slice(data);
        Ok(())
    }

    /// The next event from input queued with [`feed`](Self::feed), or
    /// `Ok(None)` once all of it is consumed without completing one.
    pub fn poll(&mut self) -> Result<Option<StreamEvent>, ReadError> {
        let buf = std::mem::take(&mut self.inbuf);
        let mut input = buf.get(self.inpos..).unwrap_or(&[]);
        let before = input.len();
        let r = self.read(&mut input);
        self.inpos += before - input.len();
        self.inbuf = buf;
        r
    }

    /// Parses from the front of `input` until one event is complete
    /// (returned, with `input` advanced past it) or `input` is used up
    /// (`Ok(None)`, `input` empty). Nothing of `input` is kept except
    /// what rxml holds of a token in progress.
    pub fn read(&mut self, input: &mut &[u8]) -> Result<Option<StreamEvent>, ReadError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match self.read_inner(input).and_then(|ev| self.unframe(ev)) {
            Ok(ev) => Ok(ev),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn fail(&mut self, e: ReadError) -> ReadError {
        self.failed = Some(e.clone());
        // Release what the failed element held; the stream is over.
        self.tree = Tree::default();
        self.pending = Vec::new();
        e
    }

    fn read_inner(&mut self, input: &mut &[u8]) -> Result<Option<StreamEvent>, ReadError> {
        loop {
            match self.state {
                State::Idle => {
                    // Whitespace between top-level elements is handled
                    // here, not by rxml: it is a keepalive, not text, and
                    // this way it costs no allocation and is counted as
                    // soon as it arrives.
                    let ws = input
                        .iter()
                        .take_while(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
                        .count();
                    *input = input.get(ws..).unwrap_or(&[]);
                    if ws > 0 && !self.in_whitespace {
                        self.in_whitespace = true;
                        self.keepalives += 1;
                        return Ok(Some(StreamEvent::Keepalive));
                    }
                    match input.first() {
                        None => return Ok(None),
                        Some(b'<') => {
                            // From here on rxml owns the bytes until the
                            // element (or the stream close) is complete.
                            self.state = State::Element;
                            self.in_whitespace = false;
                            self.bytes = 0;
                            if self.tree.heap_size() == 0 {
                                if let Some(spare) = self.take_spare() {
                                    self.tree = spare;
                                }
                            }
                            self.tree.clear();
                        }
                        Some(_) => return Err(ReadError::TextUnderRoot),
                    }
                }
                State::Closed => {
                    let ws = input
                        .iter()
                        .take_while(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
                        .count();
                    *input = input.get(ws..).unwrap_or(&[]);
                    return if input.is_empty() {
                        Ok(None)
                    } else {
                        Err(ReadError::DataAfterClose)
                    };
                }
                State::Prolog if self.bytes == 0 => {
                    // UTF-16 and UTF-32 start with a byte order mark or a
                    // NUL byte; say so instead of "not well-formed".
                    if let Some(0x00 | 0xFE | 0xFF) = input.first() {
                        return Err(ReadError::UnsupportedEncoding(
                            "the stream starts like UTF-16 or UTF-32".into(),
                        ));
                    }
                }
                _ => {}
            }
            let before = input.len();
            let r = self.parser.parse(input, false);
            self.bytes = self.bytes.saturating_add(before - input.len());
            let ev = match r {
                Ok(Some(ev)) => ev,
                Ok(None) => {
                    return Err(ReadError::NotWellFormed("unexpected end of stream".into()));
                }
                Err(rxml::error::EndOrError::NeedMoreData) => {
                    self.check_bytes()?;
                    return Ok(None);
                }
                Err(rxml::error::EndOrError::Error(e)) => {
                    // rxml may have read far past our limits before it
                    // found the error (text in the prolog is taken up to
                    // the next `<`): a limit crossed in what it consumed
                    // wins, as it does when the same bytes come in small
                    // pieces, so the error does not depend on chunking.
                    self.check_bytes()?;
                    return Err(match ReadError::from_rxml(e) {
                        ReadError::LimitExceeded(Limit::TokenBytes, _) => {
                            ReadError::LimitExceeded(Limit::TokenBytes, self.limits.max_token_bytes)
                        }
                        other => other,
                    });
                }
            };
            self.check_bytes()?;
            if let Some(out) = self.handle(ev)? {
                return Ok(Some(out));
            }
        }
    }

    fn check_bytes(&self) -> Result<(), ReadError> {
        match self.state {
            State::Prolog | State::Header if self.bytes > self.limits.max_header_bytes => Err(
                ReadError::LimitExceeded(Limit::HeaderBytes, self.limits.max_header_bytes),
            ),
            State::Element if self.bytes > self.limits.max_element_bytes => Err(
                ReadError::LimitExceeded(Limit::ElementBytes, self.limits.max_element_bytes),
            ),
            State::Element if self.tree.stored_bytes() > self.limits.max_element_storage => Err(
                ReadError::LimitExceeded(Limit::ElementStorage, self.limits.max_element_storage),
            ),
            _ => Ok(()),
        }
    }

    fn handle(&mut self, ev: RawEvent) -> Result<Option<StreamEvent>, ReadError> {
        match ev {
            RawEvent::XmlDeclaration(..) => Ok(None),
            RawEvent::ElementHeadOpen(_, (prefix, name)) => {
                let depth = self.levels.len();
                if depth > self.limits.max_depth {
                    return Err(ReadError::LimitExceeded(
                        Limit::Depth,
                        self.limits.max_depth,
                    ));
                }
                match self.state {
                    State::Prolog => self.state = State::Header,
                    State::Idle => self.state = State::Element,
                    _ => {}
                }
                if let Some(parent) = self.levels.last_mut() {
                    parent.open_text = false;
                }
                let name = self.tree.push_str(&name);
                let node = self.tree.open(name, Ns::None);
                let parent_default = self.levels.last().map_or(ScopeNs::None, |l| l.default_ns);
                self.levels.push(Level {
                    node,
                    default_ns: parent_default,
                    decls: self.decls.len(),
                    scope_text: self.scope_text.len(),
                    open_text: false,
                });
                self.pending_prefix = prefix;
                self.head_attrs = 0;
                Ok(None)
            }
            RawEvent::Attribute(_, (prefix, name), value) => {
                self.head_attrs += 1;
                if self.head_attrs > self.limits.max_attributes {
                    return Err(ReadError::LimitExceeded(
                        Limit::Attributes,
                        self.limits.max_attributes,
                    ));
                }
                self.attribute(prefix, &name, &value);
                Ok(None)
            }
            RawEvent::ElementHeadClose(_) => self.head_close(),
            RawEvent::Text(_, text) => {
                // Plain text directly under the root never reaches rxml
                // (see `read_inner`), but a CDATA section does.
                if self.state != State::Element || self.levels.len() < 2 {
                    return Err(ReadError::TextUnderRoot);
                }
                if let Some(level) = self.levels.last_mut() {
                    self.tree.push_text(&text, level.open_text);
                    level.open_text = true;
                }
                Ok(None)
            }
            RawEvent::ElementFoot(_) => {
                let Some(level) = self.levels.pop() else {
                    return Err(ReadError::NotWellFormed("unbalanced end tag".into()));
                };
                self.decls.truncate(level.decls);
                self.scope_text.truncate(level.scope_text);
                self.tree.close(level.node);
                match self.levels.len() {
                    0 => {
                        self.state = State::Closed;
                        Ok(Some(StreamEvent::Closed))
                    }
                    1 => {
                        self.state = State::Idle;
                        self.bytes = 0;
                        let tree = std::mem::take(&mut self.tree);
                        self.tree = match self.take_spare() {
                            Some(spare) => spare,
                            None => Tree::shaped_like(&tree),
                        };
                        Ok(Some(StreamEvent::Element(Element { tree })))
                    }
                    _ => Ok(None),
                }
            }
        }
    }

    /// Records one attribute of the head being read; namespace
    /// declarations take effect at once (they apply to the whole head).
    fn attribute(&mut self, prefix: Option<rxml::NcName>, name: &str, value: &str) {
        let root = self.state == State::Header;
        match prefix.as_deref().map(rxml::NcNameStr::as_str) {
            None if name == "xmlns" => {
                let ns = self.scope_ns(value, root);
                if let Some(level) = self.levels.last_mut() {
                    level.default_ns = ns;
                }
            }
            Some("xmlns") => {
                let ns = self.scope_ns(value, root);
                let start = self.scope_text.len();
                self.scope_text.push_str(name);
                self.decls.push(Decl {
                    prefix: (start, self.scope_text.len()),
                    ns,
                });
            }
            _ => {
                let name = self.tree.push_str(name);
                let value = self.tree.push_str(value);
                self.pending.push(PendingAttr {
                    prefix,
                    name,
                    value,
                });
            }
        }
    }

    /// Interns a declared namespace name.
    fn scope_ns(&mut self, value: &str, root: bool) -> ScopeNs {
        if value.is_empty() {
            ScopeNs::None
        } else if let Some(i) = ns::lookup(value) {
            ScopeNs::Known(i)
        } else if root {
            let start = self.scope_text.len();
            self.scope_text.push_str(value);
            ScopeNs::Root(Span::new(start, value.len()))
        } else {
            ScopeNs::Tree(self.tree.push_str(value))
        }
    }

    fn lookup_prefix(&self, prefix: &str) -> Option<ScopeNs> {
        if prefix == "xml" {
            return Some(ScopeNs::Known(ns::XML_INDEX));
        }
        self.decls
            .iter()
            .rev()
            .find(|d| self.scope_text.get(d.prefix.0..d.prefix.1) == Some(prefix))
            .map(|d| d.ns)
    }

    /// Turns a scope namespace into one stored in the tree.
    fn tree_ns(&mut self, ns: ScopeNs) -> Ns {
        match ns {
            ScopeNs::None => Ns::None,
            ScopeNs::Known(i) => Ns::Known(i),
            ScopeNs::Tree(span) => Ns::Other(span),
            ScopeNs::Root(span) => {
                let s = self.scope_text.get(span.range()).unwrap_or("").to_owned();
                Ns::Other(self.tree.push_str(&s))
            }
        }
    }

    fn head_close(&mut self) -> Result<Option<StreamEvent>, ReadError> {
        let Some(level) = self.levels.last().copied() else {
            return Err(ReadError::NotWellFormed(
                "element head outside an element".into(),
            ));
        };
        let el_ns = match self.pending_prefix.take() {
            None => level.default_ns,
            // Elements in the XML namespace itself cannot be written back
            // (it may not be bound as a default namespace) and no XMPP
            // protocol uses them (found by fuzzing).
            Some(p) if p.as_str() == "xml" => return Err(ReadError::ReservedPrefix),
            Some(p) => self
                .lookup_prefix(&p)
                .ok_or_else(|| ReadError::UndeclaredPrefix(p.to_string()))?,
        };
        let el_ns = self.tree_ns(el_ns);
        self.tree.set_ns(level.node, el_ns);
        let mut pending = std::mem::take(&mut self.pending);
        for (i, a) in pending.iter().enumerate() {
            let ns = match a.prefix.as_deref().map(rxml::NcNameStr::as_str) {
                None => Ns::None,
                Some(p) => {
                    let scope = self
                        .lookup_prefix(p)
                        .ok_or_else(|| ReadError::UndeclaredPrefix(p.to_owned()))?;
                    self.tree_ns(scope)
                }
            };
            let name = self.tree.str(a.name);
            let duplicate = self.tree.attrs_of(level.node).iter().take(i).any(|b| {
                self.tree.str(b.name) == name && self.tree.ns_str(b.ns) == self.tree.ns_str(ns)
            });
            if duplicate {
                return Err(ReadError::NotWellFormed(format!(
                    "attribute {name:?} appears twice"
                )));
            }
            self.tree.push_attr_at(level.node, a.name, ns, a.value);
        }
        pending.clear();
        self.pending = pending;
        if self.state == State::Header {
            let header = self.header(el_ns)?;
            // The header was only scratch space; stanzas start clean.
            self.tree.clear();
            if let Some(root) = self.levels.first_mut() {
                root.default_ns = match root.default_ns {
                    ScopeNs::Tree(_) => ScopeNs::None,
                    other => other,
                };
            }
            self.state = State::Idle;
            return Ok(Some(StreamEvent::Header(header)));
        }
        Ok(None)
    }

    /// Builds the header event from the root element just read.
    fn header(&self, el_ns: Ns) -> Result<StreamHeader, ReadError> {
        let root = self.tree.element(0);
        if el_ns != Ns::Known(ns::STREAM_INDEX) {
            return Err(ReadError::InvalidStreamNamespace(root.ns().to_owned()));
        }
        if root.name() != "stream" {
            return Err(ReadError::NotAStream(root.name().to_owned()));
        }
        let scope_str = |ns: ScopeNs| -> String {
            match ns {
                ScopeNs::None => String::new(),
                ScopeNs::Known(i) => ns::name(i).to_owned(),
                ScopeNs::Root(span) => self.scope_text.get(span.range()).unwrap_or("").to_owned(),
                ScopeNs::Tree(span) => self.tree.str(span).to_owned(),
            }
        };
        let mut header = StreamHeader {
            default_ns: self
                .levels
                .first()
                .map_or(String::new(), |l| scope_str(l.default_ns)),
            ..StreamHeader::default()
        };
        for d in &self.decls {
            let prefix = self.scope_text.get(d.prefix.0..d.prefix.1).unwrap_or("");
            if matches!(d.ns, ScopeNs::Known(ns::STREAM_INDEX)) {
                header.stream_prefix = Some(prefix.to_owned());
            } else {
                header
                    .declarations
                    .push((prefix.to_owned(), scope_str(d.ns)));
            }
        }
        header.take_attrs(root.attrs());
        Ok(header)
    }
}

/// `document` without the XML declaration in front of it, if it has one
/// (a WebSocket message, a host-meta document); unchanged otherwise, or
/// if the declaration never ends.
pub(crate) fn without_xml_declaration(document: &[u8]) -> &[u8] {
    let trimmed = document.trim_ascii_start();
    if !trimmed.starts_with(b"<?xml") {
        return document;
    }
    trimmed
        .windows(2)
        .position(|w| w == b"?>")
        .and_then(|end| trimmed.get(end + 2..))
        .unwrap_or(document)
}

/// The stream header an `<open/>` element stands for (RFC 7395 §3.4).
fn open_header(open: &Element, content_ns: &str) -> StreamHeader {
    let mut header = StreamHeader {
        default_ns: content_ns.to_owned(),
        stream_prefix: Some("stream".to_owned()),
        ..StreamHeader::default()
    };
    header.take_attrs(open.as_ref().attrs());
    header
}

fn new_parser(limits: &Limits) -> RawParser {
    RawParser::with_options(rxml::Options {
        max_token_length: limits.max_token_bytes.max(64),
        ..rxml::Options::default()
    })
}

/// The first element of `bytes`, read as a top-level element of a
/// `jabber:client` stream, and what follows it: for bytes we serialized
/// ourselves (stored or routed stanzas), so the limits are their size.
///
/// # Errors
/// If `bytes` do not start with a whole element.
pub(crate) fn read_one(bytes: &[u8]) -> Result<(Element, &[u8]), ReadError> {
    const HEADER: &[u8] =
        b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";
    let limits = Limits {
        max_element_bytes: bytes.len().saturating_add(1),
        max_token_bytes: bytes.len().saturating_add(1),
        max_element_storage: usize::MAX,
        ..Limits::default()
    };
    let mut reader = StreamReader::new(limits);
    let mut header = HEADER;
    while let Some(StreamEvent::Header(_)) = reader.read(&mut header)? {}
    let mut input = bytes;
    loop {
        match reader.read(&mut input)? {
            Some(StreamEvent::Element(el)) => return Ok((el, input)),
            Some(_) => {}
            None => return Err(ReadError::NotWellFormed("an incomplete element".into())),
        }
    }
}
