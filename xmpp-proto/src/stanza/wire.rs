//! A stanza serialized once, in the form it takes inside a `jabber:client`
//! stream, and shared: every recipient of a routed stanza and every
//! acknowledgement queue holds the same bytes, so fan-out and stream
//! management cost no copy per recipient, and what a queue holds is
//! measured in the bytes it will send.

use std::fmt;
use std::sync::Arc;

use crate::xml::{Element, ReadError, WriteError};

/// A stanza as the bytes sent on a `jabber:client` stream (the content
/// namespace implied, as after the stream header). Cloning shares the
/// bytes.
///
/// ```
/// use xmpp_proto::stanza::WireStanza;
/// use xmpp_proto::xml::{Element, ns};
///
/// let msg = Element::builder("message", ns::CLIENT)
///     .attr("to", "romeo@example.net")
///     .append(Element::builder("body", ns::CLIENT).text("hi"))
///     .build();
/// let wire = WireStanza::from_element(&msg)?;
/// assert_eq!(wire.as_bytes(), b"<message to='romeo@example.net'><body>hi</body></message>");
/// let shared = wire.clone(); // no copy of the bytes
/// assert_eq!(shared.to_element()?, msg);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct WireStanza {
    bytes: Arc<[u8]>,
}

impl WireStanza {
    /// Serializes `el` as it is written inside a `jabber:client` stream.
    ///
    /// # Errors
    /// If the element cannot be serialized (a character XML cannot carry).
    pub fn from_element(el: &Element) -> Result<Self, WriteError> {
        let mut out = Vec::new();
        crate::xml::write_in_client_stream(&mut out, el)?;
        Ok(WireStanza::from_bytes(&out))
    }

    /// Bytes the caller serialized in stream form (the output queue's
    /// copy of what it just wrote).
    pub(crate) fn from_bytes(bytes: &[u8]) -> Self {
        WireStanza {
            bytes: Arc::from(bytes),
        }
    }

    /// The serialized stanza.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether it has no bytes (never, for a stanza).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Reads the stanza back into an element (to reroute or hand over one
    /// that was not delivered: the rare path).
    ///
    /// # Errors
    /// If the bytes are not one element (they always are when they came
    /// from [`WireStanza::from_element`]).
    pub fn to_element(&self) -> Result<Element, ReadError> {
        crate::xml::read_one(&self.bytes).map(|(element, _)| element)
    }
}

impl fmt::Debug for WireStanza {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WireStanza({:?})", String::from_utf8_lossy(&self.bytes))
    }
}

impl TryFrom<&Element> for WireStanza {
    type Error = WriteError;

    fn try_from(el: &Element) -> Result<Self, WriteError> {
        WireStanza::from_element(el)
    }
}
