//! The element tree: one owned, flat value per top-level element.
//!
//! An [`Element`] keeps its whole subtree in three vectors: the nodes in
//! document order, the attributes of all nodes, and one string buffer that
//! holds every name, attribute value and text as a byte range. Building or
//! dropping an element therefore costs three allocations at most, whatever
//! its size, and none when the storage is reused (see
//! [`StreamReader::recycle`](super::StreamReader::recycle)). Namespaces from
//! [`ns`](super::ns) are stored as a one-byte index.

use std::borrow::Cow;
use std::fmt;

use super::ns;

/// An XML element with its attributes and children, owned.
///
/// Navigate it through [`Element::as_ref`] (an [`ElementRef`]), or with the
/// shortcuts defined here for the most common questions.
///
/// ```
/// use xmpp_proto::xml::{Element, ns};
///
/// let iq = Element::builder("iq", ns::CLIENT)
///     .attr("type", "get")
///     .attr("id", "p1")
///     .append(Element::builder("ping", ns::PING))
///     .build();
/// assert_eq!(iq.attr("type"), Some("get"));
/// assert!(iq.child("ping", ns::PING).is_some());
/// assert_eq!(iq.to_string(), "<iq xmlns='jabber:client' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>");
/// ```
#[derive(Clone)]
pub struct Element {
    pub(crate) tree: Tree,
}

/// A borrowed view of one element inside an [`Element`] tree.
#[derive(Clone, Copy)]
pub struct ElementRef<'a> {
    tree: &'a Tree,
    index: u32,
}

/// One child node: an element or a run of text.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Node<'a> {
    /// A child element.
    Element(ElementRef<'a>),
    /// Character data, with entities already expanded.
    Text(&'a str),
}

/// One attribute of an element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attribute<'a> {
    /// Namespace name, empty for the usual unprefixed attributes.
    pub ns: &'a str,
    /// Local name.
    pub name: &'a str,
    /// Value, with entities expanded and whitespace normalised as XML requires.
    pub value: &'a str,
}

impl Element {
    /// Sets the unqualified attribute `name` of this element (not of its
    /// children) to `value`, replacing any value it had, in place: the
    /// cheap way to stamp a `from`, `to` or `id` on a stanza.
    ///
    /// ```
    /// use xmpp_proto::xml::{Element, ns};
    ///
    /// let mut msg = Element::builder("message", ns::CLIENT)
    ///     .attr("from", "mallory@example.com")
    ///     .append(Element::builder("thread", ns::CLIENT).attr("parent", "t0").text("t1"))
    ///     .build();
    /// msg.set_attr("from", "juliet@example.com/balcony");
    /// msg.set_attr("id", "m1");
    /// assert_eq!(msg.to_string(), "<message xmlns='jabber:client' \
    ///     from='juliet@example.com/balcony' id='m1'><thread parent='t0'>t1</thread></message>");
    /// ```
    pub fn set_attr(&mut self, name: &str, value: &str) {
        self.tree.set_root_attr(name, value);
    }

    /// The root of this element as a view, for navigation.
    pub fn as_ref(&self) -> ElementRef<'_> {
        ElementRef {
            tree: &self.tree,
            index: 0,
        }
    }

    /// Local name, e.g. `message`.
    pub fn name(&self) -> &str {
        self.as_ref().name()
    }

    /// Namespace name, e.g. `jabber:client`; empty if the element has none.
    pub fn ns(&self) -> &str {
        self.as_ref().ns()
    }

    /// Whether the element has this local name and namespace.
    pub fn is(&self, name: &str, ns: &str) -> bool {
        self.as_ref().is(name, ns)
    }

    /// Value of the unprefixed attribute `name`.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.as_ref().attr(name)
    }

    /// The `xml:lang` attribute of this element itself (not inherited).
    pub fn lang(&self) -> Option<&str> {
        self.as_ref().lang()
    }

    /// Child elements, in document order.
    pub fn children(&self) -> Children<'_> {
        self.as_ref().children()
    }

    /// The first child element with this name and namespace.
    pub fn child(&self, name: &str, ns: &str) -> Option<ElementRef<'_>> {
        self.as_ref().child(name, ns)
    }

    /// Text content of the element's own text children, concatenated.
    pub fn text(&self) -> Cow<'_, str> {
        self.as_ref().text()
    }

    /// Bytes of heap this element holds (capacity of its three buffers).
    pub fn heap_size(&self) -> usize {
        self.tree.heap_size()
    }

    /// Serializes the element as a standalone document fragment (namespace
    /// declared on the root) and appends it to `out`.
    ///
    /// Fails, leaving `out` unchanged, if a name is not a valid XML name or
    /// a text or attribute value contains a character XML 1.0 forbids.
    pub fn write_to(&self, out: &mut Vec<u8>) -> Result<(), super::WriteError> {
        super::writer::write_fragment(out, self.as_ref(), super::writer::Scope::EMPTY)
    }

    /// Moves the element and every descendant in namespace `from` to
    /// namespace `to` (both well-known; otherwise nothing changes): how a
    /// stanza crosses between `jabber:client` and a component's or a
    /// server's stream namespace.
    pub(crate) fn rename_ns(&mut self, from: &str, to: &str) {
        if let (Some(from), Some(to)) = (ns::lookup(from), ns::lookup(to)) {
            self.tree.rename_known_ns(from, to);
        }
    }

    /// Reads back an element [`Element::write_to`] wrote (a store keeping
    /// messages, for instance): `None` if `bytes` are not exactly one
    /// element. The same rules as on a stream apply (no comments,
    /// processing instructions or DTDs), without its size limits: the
    /// bytes are the caller's own.
    ///
    /// ```
    /// use xmpp_proto::xml::Element;
    ///
    /// let note = Element::builder("note", "urn:example").text("hi").build();
    /// let mut bytes = Vec::new();
    /// note.write_to(&mut bytes)?;
    /// assert_eq!(Element::read_from(&bytes), Some(note));
    /// # Ok::<(), xmpp_proto::xml::WriteError>(())
    /// ```
    pub fn read_from(bytes: &[u8]) -> Option<Element> {
        let (element, rest) = super::reader::read_one(bytes).ok()?;
        // Trailing bytes other than whitespace mean it was not one element.
        rest.iter().all(u8::is_ascii_whitespace).then_some(element)
    }
}

impl<'a> ElementRef<'a> {
    fn node(&self) -> &'a NodeData {
        // `index` always points at an element node of `tree`; it is only
        // built by this module.
        &self.tree.nodes[self.index as usize]
    }

    /// Local name.
    pub fn name(&self) -> &'a str {
        self.tree.str(self.node().name)
    }

    /// Namespace name; empty if the element has none.
    pub fn ns(&self) -> &'a str {
        self.tree.ns_str(self.node().ns)
    }

    pub(crate) fn ns_tag(&self) -> Ns {
        self.node().ns
    }

    pub(crate) fn tree(&self) -> &'a Tree {
        self.tree
    }

    /// Whether the element has this local name and namespace.
    pub fn is(&self, name: &str, ns: &str) -> bool {
        self.name() == name && self.ns() == ns
    }

    /// Value of the unprefixed attribute `name`.
    pub fn attr(&self, name: &str) -> Option<&'a str> {
        self.attr_data()
            .iter()
            .find(|a| matches!(a.ns, Ns::None) && self.tree.str(a.name) == name)
            .map(|a| self.tree.str(a.value))
    }

    /// Value of the attribute `name` in namespace `ns`.
    pub fn attr_ns(&self, ns: &str, name: &str) -> Option<&'a str> {
        self.attr_data()
            .iter()
            .find(|a| self.tree.str(a.name) == name && self.tree.ns_str(a.ns) == ns)
            .map(|a| self.tree.str(a.value))
    }

    /// The `xml:lang` attribute of this element itself (not inherited).
    pub fn lang(&self) -> Option<&'a str> {
        self.attr_data()
            .iter()
            .find(|a| matches!(a.ns, Ns::Known(ns::XML_INDEX)) && self.tree.str(a.name) == "lang")
            .map(|a| self.tree.str(a.value))
    }

    /// All attributes, in document order (namespace declarations excluded).
    pub fn attrs(&self) -> impl ExactSizeIterator<Item = Attribute<'a>> + 'a {
        let tree = self.tree;
        self.attr_data().iter().map(move |a| Attribute {
            ns: tree.ns_str(a.ns),
            name: tree.str(a.name),
            value: tree.str(a.value),
        })
    }

    pub(crate) fn attr_data(&self) -> &'a [AttrData] {
        let n = self.node();
        self.tree
            .attrs
            .get(n.attr_start as usize..n.attr_end as usize)
            .unwrap_or(&[])
    }

    /// Child nodes (elements and text), in document order.
    pub fn nodes(&self) -> Nodes<'a> {
        Nodes {
            tree: self.tree,
            next: self.index + 1,
            end: self.node().end,
        }
    }

    /// Child elements, in document order.
    pub fn children(&self) -> Children<'a> {
        Children(self.nodes())
    }

    /// The first child element with this name and namespace.
    pub fn child(&self, name: &str, ns: &str) -> Option<ElementRef<'a>> {
        self.children().find(|c| c.is(name, ns))
    }

    /// Whether the element has neither children nor text.
    pub fn is_empty(&self) -> bool {
        self.node().end == self.index + 1
    }

    /// Text content of the element's own text children, concatenated.
    ///
    /// Borrowed unless the element mixes text and child elements.
    pub fn text(&self) -> Cow<'a, str> {
        let mut texts = self.nodes().filter_map(|n| match n {
            Node::Text(t) => Some(t),
            Node::Element(_) => None,
        });
        let Some(first) = texts.next() else {
            return Cow::Borrowed("");
        };
        match texts.next() {
            None => Cow::Borrowed(first),
            Some(second) => {
                let mut s = String::from(first);
                s.push_str(second);
                texts.for_each(|t| s.push_str(t));
                Cow::Owned(s)
            }
        }
    }

    /// A deep copy of this element as an owned [`Element`].
    pub fn to_owned(&self) -> Element {
        let mut tree = Tree::default();
        tree.copy_subtree(*self);
        Element { tree }
    }
}

impl PartialEq for ElementRef<'_> {
    /// Equal when names, namespaces, attributes (in order) and child nodes
    /// are equal; prefixes and how the namespaces were declared do not count.
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
            && self.ns() == other.ns()
            && self.attrs().eq(other.attrs())
            && self.nodes().eq(other.nodes())
    }
}

impl PartialEq for Element {
    fn eq(&self, other: &Self) -> bool {
        self.as_ref() == other.as_ref()
    }
}

impl Eq for Element {}

impl fmt::Display for ElementRef<'_> {
    /// Standalone serialization; characters XML cannot carry are shown as
    /// U+FFFD so that display never fails.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Vec::new();
        match super::writer::write_fragment(&mut out, *self, super::writer::Scope::EMPTY) {
            Ok(()) => f.write_str(&String::from_utf8_lossy(&out)),
            Err(e) => write!(f, "<!-- unserializable element: {e} -->"),
        }
    }
}

impl fmt::Display for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_ref().fmt(f)
    }
}

impl fmt::Debug for ElementRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ElementRef({self})")
    }
}

impl fmt::Debug for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Element({self})")
    }
}

/// Iterator over the child nodes of an element.
#[derive(Clone, Debug)]
pub struct Nodes<'a> {
    tree: &'a Tree,
    next: u32,
    end: u32,
}

impl<'a> Iterator for Nodes<'a> {
    type Item = Node<'a>;

    fn next(&mut self) -> Option<Node<'a>> {
        if self.next >= self.end {
            return None;
        }
        let index = self.next;
        let node = self.tree.nodes.get(index as usize)?;
        self.next = node.end;
        Some(if node.is_text {
            Node::Text(self.tree.str(node.name))
        } else {
            Node::Element(ElementRef {
                tree: self.tree,
                index,
            })
        })
    }
}

/// Iterator over the child elements of an element.
#[derive(Clone, Debug)]
pub struct Children<'a>(Nodes<'a>);

impl<'a> Iterator for Children<'a> {
    type Item = ElementRef<'a>;

    fn next(&mut self) -> Option<ElementRef<'a>> {
        loop {
            match self.0.next()? {
                Node::Element(e) => return Some(e),
                Node::Text(_) => continue,
            }
        }
    }
}

impl fmt::Debug for Tree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tree")
            .field("nodes", &self.nodes.len())
            .field("attrs", &self.attrs.len())
            .field("text", &self.text.len())
            .finish()
    }
}

// ---------------------------------------------------------------------------
// storage

/// A byte range in [`Tree::text`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct Span {
    start: u32,
    len: u32,
}

impl Span {
    pub(crate) fn new(start: usize, len: usize) -> Span {
        Span {
            start: to_u32(start),
            len: to_u32(len),
        }
    }

    pub(crate) fn range(self) -> std::ops::Range<usize> {
        self.start as usize..(self.start as usize).saturating_add(self.len as usize)
    }
}

/// A namespace as stored in a tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum Ns {
    /// No namespace (unprefixed attributes, or `xmlns=''`).
    #[default]
    None,
    /// One of [`ns::WELL_KNOWN`].
    Known(u8),
    /// Any other name, stored in the tree's text.
    Other(Span),
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct NodeData {
    /// Local name of an element, or the content of a text node.
    name: Span,
    ns: Ns,
    attr_start: u32,
    attr_end: u32,
    /// Index one past the last node of this subtree.
    end: u32,
    is_text: bool,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct AttrData {
    pub(crate) name: Span,
    pub(crate) ns: Ns,
    pub(crate) value: Span,
}

/// The flat storage behind an [`Element`].
#[derive(Clone, Default)]
pub(crate) struct Tree {
    nodes: Vec<NodeData>,
    attrs: Vec<AttrData>,
    text: String,
}

/// Converts a length to `u32`; trees are limited to 4 GiB of text, far
/// beyond any reader limit, and builder input beyond that is cut off.
fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Tree {
    /// Empty storage with room for an element shaped like `like` (the
    /// last one read), so that building the next one does not grow it
    /// step by step.
    pub(crate) fn shaped_like(like: &Tree) -> Tree {
        Tree {
            nodes: Vec::with_capacity(like.nodes.len().max(4)),
            attrs: Vec::with_capacity(like.attrs.len().max(4)),
            text: String::with_capacity(like.text.len().max(64)),
        }
    }

    /// Every node in well-known namespace `from` moves to `to`.
    pub(crate) fn rename_known_ns(&mut self, from: u8, to: u8) {
        for node in &mut self.nodes {
            if node.ns == Ns::Known(from) {
                node.ns = Ns::Known(to);
            }
        }
    }

    pub(crate) fn clear(&mut self) {
        self.nodes.clear();
        self.attrs.clear();
        self.text.clear();
    }

    pub(crate) fn heap_size(&self) -> usize {
        self.nodes.capacity() * size_of::<NodeData>()
            + self.attrs.capacity() * size_of::<AttrData>()
            + self.text.capacity()
    }

    /// What the stored nodes, attributes and text take, whatever the
    /// spare capacity.
    pub(crate) fn stored_bytes(&self) -> usize {
        self.nodes.len() * size_of::<NodeData>()
            + self.attrs.len() * size_of::<AttrData>()
            + self.text.len()
    }

    pub(crate) fn text_len(&self) -> usize {
        self.text.len()
    }

    pub(crate) fn str(&self, span: Span) -> &str {
        self.text
            .get(span.start as usize..(span.start as usize).saturating_add(span.len as usize))
            .unwrap_or("")
    }

    pub(crate) fn ns_str(&self, ns: Ns) -> &str {
        match ns {
            Ns::None => "",
            Ns::Known(i) => ns::name(i),
            Ns::Other(span) => self.str(span),
        }
    }

    pub(crate) fn push_str(&mut self, s: &str) -> Span {
        let start = to_u32(self.text.len());
        self.text.push_str(s);
        Span {
            start,
            len: to_u32(s.len()),
        }
    }

    /// Interns `name` if it is well known, otherwise stores it.
    pub(crate) fn ns_from_str(&mut self, name: &str) -> Ns {
        if name.is_empty() {
            Ns::None
        } else if let Some(i) = ns::lookup(name) {
            Ns::Known(i)
        } else {
            Ns::Other(self.push_str(name))
        }
    }

    /// Re-homes a namespace taken from `other` into this tree.
    fn import_ns(&mut self, other: &Tree, ns: Ns) -> Ns {
        match ns {
            Ns::Other(span) => Ns::Other(self.push_str(other.str(span))),
            known => known,
        }
    }

    /// Starts an element; its attributes and children follow. Returns its index.
    pub(crate) fn open(&mut self, name: Span, ns: Ns) -> u32 {
        let index = to_u32(self.nodes.len());
        let at = to_u32(self.attrs.len());
        self.nodes.push(NodeData {
            name,
            ns,
            attr_start: at,
            attr_end: at,
            end: index + 1,
            is_text: false,
        });
        index
    }

    /// Adds an attribute to element `index`, which must be the last one opened.
    pub(crate) fn push_attr_at(&mut self, index: u32, name: Span, ns: Ns, value: Span) {
        self.attrs.push(AttrData { name, ns, value });
        let n = to_u32(self.attrs.len());
        if let Some(node) = self.nodes.get_mut(index as usize) {
            node.attr_end = n;
        }
    }

    /// Sets the namespace of element `index`, known only once its head is read.
    pub(crate) fn set_ns(&mut self, index: u32, ns: Ns) {
        if let Some(node) = self.nodes.get_mut(index as usize) {
            node.ns = ns;
        }
    }

    /// Points element `index` at attributes already pushed (builder use).
    pub(crate) fn set_attr_range(&mut self, index: u32, start: usize) {
        let end = to_u32(self.attrs.len());
        if let Some(node) = self.nodes.get_mut(index as usize) {
            node.attr_start = to_u32(start);
            node.attr_end = end;
        }
    }

    pub(crate) fn attr_count(&self) -> usize {
        self.attrs.len()
    }

    pub(crate) fn push_attr_raw(&mut self, name: Span, ns: Ns, value: Span) {
        self.attrs.push(AttrData { name, ns, value });
    }

    /// Attributes of element `index`.
    pub(crate) fn attrs_of(&self, index: u32) -> &[AttrData] {
        match self.nodes.get(index as usize) {
            Some(n) => self
                .attrs
                .get(n.attr_start as usize..n.attr_end as usize)
                .unwrap_or(&[]),
            None => &[],
        }
    }

    /// Ends element `index`: everything pushed since belongs to it.
    pub(crate) fn close(&mut self, index: u32) {
        let end = to_u32(self.nodes.len());
        if let Some(node) = self.nodes.get_mut(index as usize) {
            node.end = end;
        }
    }

    /// Appends text as a child of the open element; `merge` extends the
    /// previous text node, which the caller knows to be the last child.
    pub(crate) fn push_text(&mut self, s: &str, merge: bool) {
        if merge {
            if let Some(last) = self.nodes.last_mut() {
                if last.is_text
                    && (last.name.start as usize).saturating_add(last.name.len as usize)
                        == self.text.len()
                {
                    self.text.push_str(s);
                    last.name.len = last.name.len.saturating_add(to_u32(s.len()));
                    return;
                }
            }
        }
        let name = self.push_str(s);
        let index = to_u32(self.nodes.len());
        self.nodes.push(NodeData {
            name,
            ns: Ns::None,
            attr_start: 0,
            attr_end: 0,
            end: index + 1,
            is_text: true,
        });
    }

    /// Appends a copy of `el` and its subtree as the last node(s).
    pub(crate) fn copy_subtree(&mut self, el: ElementRef<'_>) {
        let src = el.tree;
        let first = el.index as usize;
        let last = src.nodes.get(first).map_or(first, |n| n.end as usize);
        let offset = to_u32(self.nodes.len()).wrapping_sub(el.index);
        for node in src.nodes.get(first..last).unwrap_or(&[]) {
            let name = self.push_str(src.str(node.name));
            if node.is_text {
                let index = to_u32(self.nodes.len());
                self.nodes.push(NodeData {
                    name,
                    ns: Ns::None,
                    attr_start: 0,
                    attr_end: 0,
                    end: index + 1,
                    is_text: true,
                });
                continue;
            }
            let ns = self.import_ns(src, node.ns);
            let attr_start = to_u32(self.attrs.len());
            for a in src
                .attrs
                .get(node.attr_start as usize..node.attr_end as usize)
                .unwrap_or(&[])
            {
                let an = self.push_str(src.str(a.name));
                let ans = self.import_ns(src, a.ns);
                let av = self.push_str(src.str(a.value));
                self.attrs.push(AttrData {
                    name: an,
                    ns: ans,
                    value: av,
                });
            }
            self.nodes.push(NodeData {
                name,
                ns,
                attr_start,
                attr_end: to_u32(self.attrs.len()),
                end: node.end.wrapping_add(offset),
                is_text: false,
            });
        }
    }

    /// Sets an unqualified attribute of the root element, replacing its
    /// value if present. The old value's bytes stay in the buffer unused.
    fn set_root_attr(&mut self, name: &str, value: &str) {
        let Some(root) = self.nodes.first().copied() else {
            return;
        };
        let value = self.push_str(value);
        let (start, end) = (root.attr_start as usize, root.attr_end as usize);
        let existing = self.attrs.get(start..end).and_then(|attrs| {
            attrs
                .iter()
                .position(|a| a.ns == Ns::None && self.str(a.name) == name)
        });
        if let Some(i) = existing {
            if let Some(a) = self.attrs.get_mut(start + i) {
                a.value = value;
            }
            return;
        }
        let name = self.push_str(name);
        self.attrs.insert(
            end.min(self.attrs.len()),
            AttrData {
                name,
                ns: Ns::None,
                value,
            },
        );
        let end = to_u32(end);
        if let Some(root) = self.nodes.first_mut() {
            root.attr_end = root.attr_end.saturating_add(1);
        }
        // Attributes stored after the root's moved up by one.
        for node in self.nodes.iter_mut().skip(1) {
            if node.attr_start >= end && node.attr_end > node.attr_start {
                node.attr_start += 1;
                node.attr_end += 1;
            }
        }
    }

    /// Element `index` as a view.
    pub(crate) fn element(&self, index: u32) -> ElementRef<'_> {
        ElementRef { tree: self, index }
    }
}
