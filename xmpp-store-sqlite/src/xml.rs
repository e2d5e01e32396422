//! Reading a stored message back: it was written as a standalone element
//! (`Element::write_to`), and is read in a `jabber:client` stream.

use xmpp_proto::xml::{Element, Limits, StreamEvent, StreamReader};

const HEADER: &[u8] = b"<stream:stream xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams'>";

/// The element in `bytes`, or `None` if they are not one.
pub(crate) fn parse(bytes: &[u8]) -> Option<Element> {
    // What we stored ourselves: as large as it was, no more.
    let mut limits = Limits::default();
    limits.max_element_bytes = bytes.len().saturating_add(1);
    limits.max_token_bytes = bytes.len().saturating_add(1);
    limits.max_element_storage = usize::MAX;
    let mut reader = StreamReader::new(limits);
    let mut header = HEADER;
    while let Ok(Some(StreamEvent::Header(_))) = reader.read(&mut header) {}
    let mut input = bytes;
    loop {
        match reader.read(&mut input).ok()? {
            Some(StreamEvent::Element(el)) => return Some(el),
            Some(_) => {}
            None => return None,
        }
    }
}
