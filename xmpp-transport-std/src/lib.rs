//! A thin blocking transport for [`xmpp_proto`] over `std::net`.
//!
//! **Status: placeholder.** This crate will connect a `TcpStream`, wrap it in
//! rustls for STARTTLS or direct TLS (XEP-0368), feed the bytes it reads into
//! the sans-IO core and write out what the core asks to transmit, with read
//! timeouts driving the core's timers. Until the client state machine lands
//! it only re-exports the core, so that the workspace layout is fixed.

#![forbid(unsafe_code)]

pub use xmpp_proto as proto;
