//! The I/O surface every sans-IO endpoint (the client, and
//! the server role) offers, so one transport can drive either.
//!
//! The contract, for a transport:
//! 1. After every input (`handle_*`) and every command, drain
//!    [`Endpoint::poll_transmit`] until it returns `None`, then
//!    [`Endpoint::poll_event`] until it returns `None`.
//! 2. For [`Transmit::Data`], write what you can and report it with
//!    [`Endpoint::consume_transmit`]; the same bytes (minus those) come back
//!    on the next poll, so a partial write needs no copy.
//! 3. [`Transmit::StartTls`] means every byte before it has been handed
//!    out: run the TLS handshake on the socket now (client or server side,
//!    per role), then call [`Endpoint::handle_tls_established`]. Bytes
//!    read before the handshake completes must not be passed in as
//!    plaintext.
//! 4. [`Transmit::Shutdown`] means the endpoint is done: send TLS
//!    `close_notify` if TLS is on, shut the socket down for writing, and
//!    stop reading once the peer closes.
//! 5. Call [`Endpoint::handle_timeout`] when the instant returned by
//!    [`Endpoint::poll_timeout`] is reached (early or late calls are
//!    harmless).

use std::time::Instant;

use crate::tls::TlsInfo;

/// Which way traced bytes went (`Event::Trace` of either role).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Received from the peer.
    In,
    /// Sent to the peer.
    Out,
}

/// Something the endpoint asks the transport to do with the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transmit<'a> {
    /// Write these bytes; report how many were written with
    /// [`Endpoint::consume_transmit`].
    Data(&'a [u8]),
    /// Start TLS on the connection now (STARTTLS after `<proceed/>`, or
    /// direct TLS (XEP-0368) as the very first transmit). Returned once.
    StartTls,
    /// Close the connection (after TLS `close_notify`). Returned once; no
    /// transmit follows it.
    Shutdown,
}

/// The calls a transport makes on a sans-IO endpoint. See the module
/// documentation for the contract.
pub trait Endpoint {
    /// What the endpoint reports to the application.
    type Event;
    /// Why an input was refused (the endpoint is closed, or closing).
    type Error: std::error::Error;

    /// Bytes read from the connection (after TLS decryption). Always
    /// consumes all of `data`.
    fn handle_input(&mut self, now: Instant, data: &[u8]) -> Result<(), Self::Error>;

    /// The peer closed the connection (read returned 0 bytes, or TLS
    /// `close_notify` arrived).
    fn handle_eof(&mut self, now: Instant);

    /// Time has passed; fires expired timers.
    fn handle_timeout(&mut self, now: Instant);

    /// The TLS handshake requested by [`Transmit::StartTls`] completed.
    fn handle_tls_established(&mut self, now: Instant, tls: TlsInfo) -> Result<(), Self::Error>;

    /// The next thing to do with the connection, if any.
    fn poll_transmit(&mut self) -> Option<Transmit<'_>>;

    /// `n` bytes of the last [`Transmit::Data`] were written.
    fn consume_transmit(&mut self, n: usize);

    /// The next event for the application, if any.
    fn poll_event(&mut self) -> Option<Self::Event>;

    /// When [`Endpoint::handle_timeout`] should next be called.
    fn poll_timeout(&self) -> Option<Instant>;

    /// Whether the endpoint is finished: nothing more will be transmitted
    /// or reported. The transport can drop the connection.
    fn is_closed(&self) -> bool;
}

/// A source of unpredictable bytes (SCRAM nonces, stream ids, stanza ids).
///
/// The core never draws randomness itself, so tests can be reproducible;
/// transports supply a cryptographically secure source (the std and mio
/// transports use the TLS library's).
pub trait RandomSource {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

impl<F: FnMut(&mut [u8])> RandomSource for F {
    fn fill(&mut self, buf: &mut [u8]) {
        self(buf)
    }
}
