//! Building elements in code, for the send path.

use super::element::{Element, ElementRef, Ns, Span, Tree};
use super::ns;

/// Builds an [`Element`]; start with [`Element::builder`].
///
/// Names and values are not checked here; the writer refuses to serialize
/// an element whose names are not XML names or whose text contains
/// characters XML 1.0 forbids.
#[derive(Clone, Debug)]
#[must_use]
pub struct ElementBuilder {
    tree: Tree,
    /// The root's attributes (their text is in the tree already), added to
    /// the tree's attribute list at the end so that attributes may be set
    /// after children were appended.
    root_attrs: Vec<(Span, Ns, Span)>,
    open_text: bool,
}

impl Element {
    /// Starts an element with this local name and namespace.
    ///
    /// ```
    /// use xmpp_proto::xml::{Element, ns};
    /// let msg = Element::builder("message", ns::CLIENT)
    ///     .attr("to", "juliet@example.com")
    ///     .append(Element::builder("body", ns::CLIENT).text("Wherefore art thou?"))
    ///     .build();
    /// assert_eq!(msg.child("body", ns::CLIENT).unwrap().text(), "Wherefore art thou?");
    /// ```
    pub fn builder(name: &str, ns: &str) -> ElementBuilder {
        // Room for a small stanza, so that building one does not grow
        // the storage step by step.
        let mut tree = Tree::shaped_like(&Tree::default());
        let name = tree.push_str(name);
        let ns = tree.ns_from_str(ns);
        tree.open(name, ns);
        ElementBuilder {
            tree,
            root_attrs: Vec::with_capacity(4),
            open_text: false,
        }
    }
}

impl Element {
    /// A copy of this element with `child` appended as its last child (to
    /// add a `<delay/>` to a stored message, say).
    ///
    /// ```
    /// use xmpp_proto::xml::{Element, ns};
    /// let msg = Element::builder("message", ns::CLIENT).attr("to", "juliet@example.com").build();
    /// let delayed = msg.with_child(Element::builder("delay", ns::DELAY).attr("stamp", "2002-09-10T23:08:25Z"));
    /// assert_eq!(delayed.attr("to"), Some("juliet@example.com"));
    /// assert!(delayed.child("delay", ns::DELAY).is_some());
    /// ```
    pub fn with_child(&self, child: impl Into<Element>) -> Element {
        let el = self.as_ref();
        let mut copy = Element::builder(el.name(), el.ns());
        for a in el.attrs() {
            copy = match a.ns {
                "" => copy.attr(a.name, a.value),
                ns => copy.attr_ns(ns, a.name, a.value),
            };
        }
        for node in el.nodes() {
            copy = match node {
                super::Node::Element(c) => copy.append_ref(c),
                super::Node::Text(t) => copy.text(t),
            };
        }
        copy.append(child).build()
    }
}

impl ElementBuilder {
    /// Sets an unprefixed attribute.
    pub fn attr(self, name: &str, value: impl AsRef<str>) -> Self {
        self.attr_in(Ns::None, name, value.as_ref())
    }

    /// Sets an unprefixed attribute if `value` is `Some`.
    pub fn attr_opt(self, name: &str, value: Option<impl AsRef<str>>) -> Self {
        match value {
            Some(v) => self.attr(name, v),
            None => self,
        }
    }

    /// Sets an attribute in namespace `ns`.
    pub fn attr_ns(mut self, ns: &str, name: &str, value: impl AsRef<str>) -> Self {
        let ns = if ns.is_empty() {
            Ns::None
        } else {
            // Attribute namespaces live in the tree like element ones.
            self.tree.ns_from_str(ns)
        };
        self.attr_in(ns, name, value.as_ref())
    }

    fn attr_in(mut self, ns: Ns, name: &str, value: &str) -> Self {
        let name = self.tree.push_str(name);
        let value = self.tree.push_str(value);
        self.root_attrs.push((name, ns, value));
        // Text after this is not a continuation of earlier text.
        self.open_text = false;
        self
    }

    /// Sets `xml:lang`.
    pub fn lang(self, lang: &str) -> Self {
        self.attr_ns(ns::XML, "lang", lang)
    }

    /// Appends a child element (an [`Element`] or another builder).
    pub fn append(mut self, child: impl Into<Element>) -> Self {
        let child = child.into();
        self.tree.copy_subtree(child.as_ref());
        self.open_text = false;
        self
    }

    /// Appends a copy of a child element taken from another tree.
    pub fn append_ref(mut self, child: ElementRef<'_>) -> Self {
        self.tree.copy_subtree(child);
        self.open_text = false;
        self
    }

    /// Appends text.
    pub fn text(mut self, text: &str) -> Self {
        if !text.is_empty() {
            self.tree.push_text(text, self.open_text);
            self.open_text = true;
        }
        self
    }

    /// Finishes the element.
    pub fn build(mut self) -> Element {
        let start = self.tree.attr_count();
        for (name, ns, value) in &self.root_attrs {
            self.tree.push_attr_raw(*name, *ns, *value);
        }
        self.tree.set_attr_range(0, start);
        self.tree.close(0);
        Element { tree: self.tree }
    }
}

impl From<ElementBuilder> for Element {
    fn from(b: ElementBuilder) -> Element {
        b.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Node;

    #[test]
    fn attributes_after_children_stay_with_the_root() {
        let el = Element::builder("a", "urn:a")
            .append(Element::builder("b", "urn:a").attr("x", "1"))
            .attr("y", "2")
            .text("t")
            .text("u")
            .build();
        assert_eq!(el.attr("y"), Some("2"));
        assert_eq!(el.attr("x"), None);
        let b = el.children().next().unwrap();
        assert_eq!(b.attr("x"), Some("1"));
        assert_eq!(el.text(), "tu");
        assert_eq!(el.as_ref().nodes().count(), 2);
        assert!(matches!(el.as_ref().nodes().nth(1), Some(Node::Text("tu"))));
    }

    #[test]
    fn a_parsed_stanza_with_a_child_added_is_written_whole() {
        use crate::xml::{Limits, StreamEvent, StreamReader};
        let doc = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>\
                   <message from='a@b/c' to='d@b' type='chat' xml:lang='en'><body>hi</body>\
                   <x xmlns='urn:x' y='1'/></message>";
        let mut reader = StreamReader::new(Limits::default());
        let mut input = doc.as_bytes();
        let el = loop {
            if let Some(StreamEvent::Element(el)) = reader.read(&mut input).unwrap() {
                break el;
            }
        };
        let copy = el.with_child(Element::builder("delay", ns::DELAY).attr("stamp", "s"));
        let mut out = Vec::new();
        crate::xml::write_in_client_stream(&mut out, &copy).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "<message from='a@b/c' to='d@b' type='chat' xml:lang='en'><body>hi</body>\
             <x xmlns='urn:x' y='1'/><delay xmlns='urn:xmpp:delay' stamp='s'/></message>"
        );
    }

    #[test]
    fn nested_appends_keep_structure() {
        let inner = Element::builder("c", "urn:c").text("deep").build();
        let mid = Element::builder("b", "urn:b").append(inner.clone()).build();
        let outer = Element::builder("a", "urn:a")
            .append(mid.clone())
            .append(Element::builder("d", "urn:a"))
            .build();
        let kids: Vec<_> = outer.children().map(|c| c.name().to_owned()).collect();
        assert_eq!(kids, ["b", "d"]);
        assert_eq!(outer.child("b", "urn:b").unwrap().to_owned(), mid);
        assert_eq!(
            outer
                .child("b", "urn:b")
                .unwrap()
                .child("c", "urn:c")
                .unwrap()
                .to_owned(),
            inner
        );
    }
}
