//! A thin [`mio`] transport for [`xmpp_proto`]: many connections on one
//! thread.
//!
//! - [`Driver`]: one `mio::Poll`, a slab of connections, each a sans-IO
//!   endpoint (the core's `Client` or `Server`) over a non-blocking
//!   socket with rustls for STARTTLS and direct TLS, the earliest
//!   endpoint deadline as the poll timeout, and a per-connection output
//!   limit. Your own sources (a `mio::Waker`, sockets) share its `Poll`.
//! - [`serve`]: a server on top of it: listeners for STARTTLS and direct
//!   TLS, logins against stored SCRAM keys, the core's `Hub` for local
//!   delivery, all on one thread.
//!
//! The rustls set-up (trust anchors, certificates, channel-binding data),
//! the clock and the account store come from `xmpp-transport-std`; this
//! crate only adds the event loop.
//!
//! # Decisions
//! - **Reads**: readiness is edge-triggered, so a connection reads until
//!   `WouldBlock`, with a budget per wake-up (32 reads of up to 16 KiB,
//!   one buffer shared by all connections) after which it is put back in
//!   line, so one busy peer cannot starve the others.
//! - **Writes**: straight from the endpoint's queue (`poll_transmit`),
//!   partial writes reported with `consume_transmit`; under TLS at most
//!   16 KiB at a time goes into rustls, and only once its previous records
//!   are on the socket.
//! - **Deadlines**: a min-heap of (deadline, connection) with lazy deletion;
//!   the poll timeout is its top, found without scanning connections.
//! - **Backpressure**: a connection whose endpoint wants no input
//!   (`Endpoint::wants_read`: its output waits for a peer that does not
//!   read) is not read until it does; once 4096 events wait for the
//!   application, no connection reads more that round; output over
//!   [`DriverConfig::max_output`], or waiting longer than
//!   [`DriverConfig::write_deadline`], drops the connection.

#![forbid(unsafe_code)]

pub use mio;
pub use xmpp_proto as proto;

mod conn;
mod deadlines;
mod driver;
mod error;
mod keep;
pub mod serve;
mod slab;

pub use driver::{
    DEFAULT_LINGER, DEFAULT_MAX_OUTPUT, DEFAULT_WRITE_DEADLINE, Driver, DriverConfig, DriverEvent,
    MAX_USER_TOKEN,
};
pub use error::Error;
pub use keep::{AccountId, Keeper, KeptEvent};
/// Reconnect delays for an event loop: when a client connection ends with
/// `ClientEvent::Resumable`, wait [`Backoff::delay`] (for example as part of the
/// poll timeout) before adding a new client configured `with_resumption`.
/// The same type the blocking transport uses; its `retry` sleeps, so in an
/// event loop use `delay` only.
pub use xmpp_transport_std::Backoff;

/// A connection of a [`Driver`]. Ids are not reused while anyone could
/// still hold them: a slot taken again gets a new generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    slot: u32,
    generation: u32,
}

impl ConnId {
    /// The id as one number (for logs, or as a router's session id).
    pub fn as_u64(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.slot)
    }

    /// The id back from [`ConnId::as_u64`].
    pub fn from_u64(n: u64) -> Self {
        ConnId {
            slot: (n & 0xFFFF_FFFF) as u32,
            generation: (n >> 32) as u32,
        }
    }
}

impl std::fmt::Display for ConnId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.as_u64())
    }
}
