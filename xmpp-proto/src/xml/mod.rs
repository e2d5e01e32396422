//! The XML stream layer: bytes in, stream events out; elements in, bytes out.
//!
//! - [`StreamReader`] turns the bytes of an XMPP stream, split anywhere,
//!   into the stream header, complete top-level elements, keepalives and
//!   the stream close, enforcing RFC 6120 §11 (restricted XML) and the
//!   [`Limits`] against hostile peers. It drives rxml's low-level
//!   `RawParser` and resolves namespaces itself (see `ARCHITECTURE.md`,
//!   "XML stream layer", for why).
//! - [`Element`] is the owned element tree, flat and cheap to build; its
//!   well-known namespaces ([`ns`]) cost no allocation.
//! - [`Writer`] serializes headers and elements into one reusable buffer.

mod builder;
mod element;
mod error;
pub mod ns;
mod reader;
mod writer;

#[cfg(test)]
mod tests;

pub use self::builder::ElementBuilder;
pub use self::element::{Attribute, Children, Element, ElementRef, Node, Nodes};
pub use self::error::{Limit, ReadError};
pub use self::reader::{Limits, StreamEvent, StreamHeader, StreamReader};
pub(crate) use self::reader::{read_one, without_xml_declaration};
pub(crate) use self::writer::write_in_client_stream;
pub use self::writer::{WriteError, Writer};
