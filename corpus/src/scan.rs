//! A naive attribute scanner over generated streams.

/// Returns the raw values of the attributes called `names` in every start
/// tag of `stream`, in document order.
///
/// Values are returned as they appear on the wire: still XML-escaped
/// (`&apos;`, `&amp;` …), without their quotes. Attribute names are
/// compared literally (`xml:lang` matches only that spelling).
///
/// This is a **naive scanner for trusted, generated data** such as the
/// output of [`c2s_stream`](crate::c2s_stream): it relies on `<` never
/// appearing unescaped outside markup and does not check well-formedness,
/// comments, CDATA or processing instructions (the XML declaration is
/// skipped). Do not use it on input from a peer; use a real parser there.
///
/// ```
/// let xml = b"<message from='a@b/c' to=\"d@e\"><body>x > y</body></message>";
/// assert_eq!(xmpp_corpus::attribute_values(xml, &["from", "to"]), ["a@b/c", "d@e"]);
/// ```
pub fn attribute_values<'a>(stream: &'a [u8], names: &[&str]) -> Vec<&'a str> {
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(offset) = memchr(b'<', &stream[i..]) {
        i += offset + 1;
        match stream.get(i) {
            Some(b'/' | b'?' | b'!') | None => continue,
            Some(_) => {}
        }
        i = scan_tag(stream, i, names, &mut found);
    }
    found
}

/// Scans the attributes of the start tag whose name begins at `i`; returns
/// the index just past the tag.
fn scan_tag<'a>(stream: &'a [u8], mut i: usize, names: &[&str], found: &mut Vec<&'a str>) -> usize {
    // Skip the element name.
    while i < stream.len() && !is_tag_delimiter(stream[i]) {
        i += 1;
    }
    loop {
        while i < stream.len() && stream[i].is_ascii_whitespace() {
            i += 1;
        }
        match stream.get(i) {
            None => return i,
            Some(b'>') => return i + 1,
            Some(b'/') => {
                i += 1;
                continue;
            }
            Some(_) => {}
        }
        let name_start = i;
        while i < stream.len() && stream[i] != b'=' && !is_tag_delimiter(stream[i]) {
            i += 1;
        }
        let name = &stream[name_start..i];
        while i < stream.len() && (stream[i] == b'=' || stream[i].is_ascii_whitespace()) {
            i += 1;
        }
        let Some(&quote @ (b'\'' | b'"')) = stream.get(i) else {
            // Not an attribute after all (malformed input): move on.
            i += 1;
            continue;
        };
        let value_start = i + 1;
        let Some(len) = memchr(quote, &stream[value_start..]) else {
            return stream.len();
        };
        i = value_start + len + 1;
        if names.iter().any(|n| n.as_bytes() == name) {
            if let Ok(value) = std::str::from_utf8(&stream[value_start..value_start + len]) {
                found.push(value);
            }
        }
    }
}

fn is_tag_delimiter(b: u8) -> bool {
    b.is_ascii_whitespace() || b == b'>' || b == b'/'
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

#[cfg(test)]
mod tests {
    use super::attribute_values;

    #[test]
    fn finds_values_in_both_quote_styles_and_keeps_escapes() {
        let xml = "<?xml version='1.0'?><s from='srv'><presence from=\"a@b/O'x &amp; y\" \
                   xml:lang='en'><x xmlns='u' jid='k@l'/></presence>\n\
                   <message to='m@n' from=\"p@q/r > s\"/></s>";
        assert_eq!(
            attribute_values(xml.as_bytes(), &["from", "jid", "to"]),
            ["srv", "a@b/O'x &amp; y", "k@l", "m@n", "p@q/r > s"]
        );
        assert_eq!(attribute_values(xml.as_bytes(), &["xml:lang"]), ["en"]);
        assert!(attribute_values(xml.as_bytes(), &["lang"]).is_empty());
    }

    #[test]
    fn ignores_text_and_end_tags() {
        let xml = b"<a><b>from='x' to=&apos;y&apos;</b></a>";
        assert!(attribute_values(xml, &["from", "to"]).is_empty());
    }
}
