//! A minimal XML serializer with two server "accents".
//!
//! Real servers differ in how they quote attributes and how much they escape,
//! and a parser benchmark should see both. [`Style`] is chosen per stanza;
//! namespace declarations are always written with `'` whatever the style,
//! as the common server libraries emit them from fixed templates.

use std::fmt::Write as _;

/// How one stanza is serialized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Style {
    /// `'`-quoted attributes; all five predefined entities escaped in text
    /// and attribute values (the Prosody habit).
    Apos,
    /// `"`-quoted attributes; text escapes only `& < >`, attribute values
    /// only `& < "`.
    Quot,
}

/// Appends markup to the stream being built. The caller is responsible for
/// nesting; the writer only quotes and escapes.
pub(crate) struct Xml<'a> {
    out: &'a mut String,
    style: Style,
}

impl<'a> Xml<'a> {
    pub(crate) fn new(out: &'a mut String, style: Style) -> Self {
        Xml { out, style }
    }

    /// Writes `<name`; follow with attributes and [`Self::open`] or
    /// [`Self::close`].
    pub(crate) fn start(&mut self, name: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        self
    }

    /// `<name xmlns='ns'`: the usual way a payload element starts.
    pub(crate) fn start_ns(&mut self, name: &str, ns: &str) -> &mut Self {
        self.start(name).xmlns(ns)
    }

    /// A default namespace declaration, always `'`-quoted.
    pub(crate) fn xmlns(&mut self, ns: &str) -> &mut Self {
        self.out.push_str(" xmlns='");
        self.out.push_str(ns);
        self.out.push('\'');
        self
    }

    /// A prefixed namespace declaration, always `'`-quoted.
    pub(crate) fn xmlns_prefix(&mut self, prefix: &str, ns: &str) -> &mut Self {
        let _ = write!(self.out, " xmlns:{prefix}='{ns}'");
        self
    }

    /// An attribute, quoted and escaped in the current style.
    pub(crate) fn attr(&mut self, name: &str, value: &str) -> &mut Self {
        let q = match self.style {
            Style::Apos => '\'',
            Style::Quot => '"',
        };
        self.out.push(' ');
        self.out.push_str(name);
        self.out.push('=');
        self.out.push(q);
        for c in value.chars() {
            match (c, self.style) {
                ('&', _) => self.out.push_str("&amp;"),
                ('<', _) => self.out.push_str("&lt;"),
                ('>', Style::Apos) => self.out.push_str("&gt;"),
                ('\'', Style::Apos) => self.out.push_str("&apos;"),
                ('"', _) => self.out.push_str("&quot;"),
                _ => self.out.push(c),
            }
        }
        self.out.push(q);
        self
    }

    /// A numeric attribute.
    pub(crate) fn attr_num(&mut self, name: &str, value: i64) -> &mut Self {
        let q = match self.style {
            Style::Apos => '\'',
            Style::Quot => '"',
        };
        let _ = write!(self.out, " {name}={q}{value}{q}");
        self
    }

    /// An attribute only when `value` is `Some`.
    pub(crate) fn attr_opt(&mut self, name: &str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value {
            self.attr(name, v);
        }
        self
    }

    /// Ends a start tag that will have content.
    pub(crate) fn open(&mut self) -> &mut Self {
        self.out.push('>');
        self
    }

    /// Ends an empty element (`/>`).
    pub(crate) fn close(&mut self) -> &mut Self {
        self.out.push_str("/>");
        self
    }

    /// `</name>`.
    pub(crate) fn end(&mut self, name: &str) -> &mut Self {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// Character data, escaped in the current style.
    pub(crate) fn text(&mut self, text: &str) -> &mut Self {
        for c in text.chars() {
            match (c, self.style) {
                ('&', _) => self.out.push_str("&amp;"),
                ('<', _) => self.out.push_str("&lt;"),
                ('>', _) => self.out.push_str("&gt;"),
                ('\'', Style::Apos) => self.out.push_str("&apos;"),
                ('"', Style::Apos) => self.out.push_str("&quot;"),
                _ => self.out.push(c),
            }
        }
        self
    }

    /// Text known to need no escaping (base64, hex, numbers).
    pub(crate) fn raw(&mut self, text: &str) -> &mut Self {
        self.out.push_str(text);
        self
    }

    /// Formatted text that needs no escaping.
    pub(crate) fn raw_fmt(&mut self, args: std::fmt::Arguments<'_>) -> &mut Self {
        let _ = self.out.write_fmt(args);
        self
    }

    /// `<name>text</name>` with escaped text.
    pub(crate) fn leaf(&mut self, name: &str, text: &str) -> &mut Self {
        self.start(name).open().text(text).end(name)
    }

    /// `<name xmlns='ns'/>`.
    pub(crate) fn empty_ns(&mut self, name: &str, ns: &str) -> &mut Self {
        self.start_ns(name, ns).close()
    }
}

#[cfg(test)]
mod tests {
    use super::{Style, Xml};

    fn render(style: Style) -> String {
        let mut s = String::new();
        Xml::new(&mut s, style)
            .start_ns("x", "urn:a")
            .attr("nick", "O'Brien & \"Who\" <kev>")
            .open()
            .text("it's <b> & \"q\"")
            .end("x");
        s
    }

    #[test]
    fn apos_style_escapes_all_five() {
        assert_eq!(
            render(Style::Apos),
            "<x xmlns='urn:a' nick='O&apos;Brien &amp; &quot;Who&quot; &lt;kev&gt;'>\
             it&apos;s &lt;b&gt; &amp; &quot;q&quot;</x>"
        );
    }

    #[test]
    fn quot_style_escapes_the_minimum() {
        assert_eq!(
            render(Style::Quot),
            "<x xmlns='urn:a' nick=\"O'Brien &amp; &quot;Who&quot; &lt;kev>\">\
             it's &lt;b&gt; &amp; \"q\"</x>"
        );
    }
}
