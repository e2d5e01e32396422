//! A sans-IO XMPP protocol core.
//!
//! This crate implements XMPP (RFC 6120, RFC 6121, RFC 7622 and XEPs) as
//! pure state machines: bytes go in, events and bytes to send come out, and
//! time, randomness and TLS facts are passed in. It never touches a socket,
//! a clock, a thread, a resolver or a TLS library, so the same code runs in
//! any runtime and can be tested byte for byte and fuzzed as a whole.
//! Transports (`xmpp-transport-std`, `xmpp-transport-mio`) are thin
//! adapters around it.
//!
//! Modules, lowest layer first:
//! - [`time`] and [`random`]: the clock value every input carries, and
//!   where nonces and ids come from (the operating system by default).
//! - [`jid`]: RFC 7622 addresses (split, prepare, compare; borrowed and
//!   owned forms).
//! - [`xml`]: the stream reader, the element tree and the writer;
//!   [`stanza`]: typed messages, presences and IQs with stanza errors;
//!   [`stream_error`]: stream errors.
//! - [`sasl`]: SASL mechanisms, client and server sides, as step machines.
//! - [`negotiation`]: the elements of stream negotiation (header checks,
//!   features, STARTTLS, SASL framing, bind, session), typed for both
//!   roles.
//! - [`sm`]: XEP-0198 stream management counters, queue and nonzas.
//! - [`endpoint`]: the I/O contract between an endpoint and a transport,
//!   and the types both roles share (why a session closed, why a command
//!   was refused).
//! - [`client`] and [`server`]: the two ends of a client-to-server
//!   stream, over one private stream core.
//! - [`roster`]: rosters and presence subscriptions (RFC 6121): items,
//!   queries, and the subscription state machine of its Appendix A.
//! - [`router`]: local delivery between the sessions of one server;
//!   [`hub`]: everything a server decides across sessions (routing,
//!   resumption, its own services, questions for the store), beside the
//!   per-connection [`Server`]s.
//! - [`tls`]: what a transport reports about an established TLS session.
//!
//! ```
//! use xmpp_proto::jid::Jid;
//!
//! let jid = Jid::new("Juliet@Example.com/balcony")?;
//! assert_eq!(jid.to_string(), "juliet@example.com/balcony");
//! # Ok::<(), xmpp_proto::jid::JidError>(())
//! ```
//!
//! # The whole loop
//!
//! Two clients and a server wired together in memory: logins, a message
//! from one to the other, clean closes. Each side's output is fed to the
//! other; every server event goes to the [`hub::Hub`], whose commands are
//! applied before the next event is taken. A real transport differs only
//! in where the bytes go and where `now` comes from (this is
//! `examples/in_memory.rs`; `examples/tcp_client.rs` is a client over a
//! `TcpStream` with its own TLS).
//!
//! ```
#![doc = include_str!("../examples/in_memory.rs")]
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod client;
pub mod component;
pub mod endpoint;
pub mod hub;
pub mod jid;
pub mod muc;
pub mod negotiation;
pub mod random;
pub mod resolve;
pub mod roster;
pub mod router;
pub mod s2s;
pub mod sasl;
pub mod server;
pub mod sm;
pub mod stanza;
mod stream;
pub mod stream_error;
pub mod time;
pub mod tls;
pub mod xml;

pub use client::{Client, ClientConfig, ClientEvent};
pub use endpoint::{CloseReason, Closed, CommandError, Endpoint};
pub use server::{Server, ServerConfig, ServerEvent};
pub use time::Time;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
