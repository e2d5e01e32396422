//! The one place TLS meets an endpoint: a sans-IO [`TlsPump`] wraps an
//! [`Endpoint`] and a rustls session over memory, and offers a transport
//! the bytes to write to the socket and takes the bytes read from it.
//! Everything between is here, once, for every transport (the blocking
//! one and the mio event loop): the STARTTLS boundary, the end of the
//! handshake reported with the channel-binding data
//! ([`TlsInfo`](xmpp_proto::tls::TlsInfo)), plaintext written only after the handshake, and
//! `close_notify` before the write side is shut down.
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use std::sync::Arc;
//! use xmpp_proto::{Client, ClientConfig};
//! use xmpp_proto::jid::Jid;
//! use xmpp_transport_std::tls_pump::{SocketOutput, TlsPump};
//! use xmpp_transport_std::{ClientTls, TrustAnchors, clock};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ClientConfig::new(Jid::new("alice@example.com")?, "secret");
//! let tls = Arc::new(ClientTls::new(&TrustAnchors::webpki_roots(), "example.com")?);
//! let mut socket = std::net::TcpStream::connect("example.com:5222")?;
//! let mut pump = TlsPump::client(Client::new(config, clock::now()), tls);
//! let mut buf = [0u8; 16 * 1024];
//! loop {
//!     while let Some(out) = pump.poll_socket_output() {
//!         match out {
//!             SocketOutput::Data(bytes) => {
//!                 let n = socket.write(bytes)?;
//!                 pump.consume_socket_output(n);
//!             }
//!             SocketOutput::ShutdownWrite => socket.shutdown(std::net::Shutdown::Write)?,
//!         }
//!     }
//!     while let Some(event) = pump.poll_event() {
//!         println!("{event:?}");
//!     }
//!     let n = socket.read(&mut buf)?;
//!     if n == 0 {
//!         pump.handle_socket_eof(clock::now());
//!         break;
//!     }
//!     pump.handle_socket_data(clock::now(), &buf[..n])?;
//! }
//! # Ok(()) }
//! ```

use std::io::{Read, Write};
use std::sync::Arc;

use xmpp_proto::endpoint::{Endpoint, Transmit};
use xmpp_proto::time::Time;

use crate::error::Error;
use crate::server_tls::ServerTls;
use crate::tls::{ClientTls, tls_info, tls_info_checking_peer};

/// How much plaintext is handed to rustls at once: rustls copies it into
/// records, so this bounds what sits in the pump besides the endpoint's
/// own queue (which is never copied).
const TLS_CHUNK: usize = 16 * 1024;

/// Which side of a TLS handshake the pump plays, with its settings.
#[derive(Clone)]
enum Side {
    Client(Arc<ClientTls>),
    Server(Arc<ServerTls>),
    /// No TLS settings: an endpoint asking for TLS is an error.
    Plain,
}

/// What to do with the socket next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketOutput<'a> {
    /// Write these bytes (plaintext before TLS, records after); report
    /// what was written with [`TlsPump::consume_socket_output`].
    Data(&'a [u8]),
    /// Everything is written (including TLS `close_notify`): shut the
    /// socket down for writing, then read until the peer closes. Handed
    /// out once.
    ShutdownWrite,
}

/// What the endpoint wants next, without its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Next {
    Data,
    StartTls,
    Shutdown,
}

/// An endpoint with TLS in front of it. See the module documentation.
pub struct TlsPump<E> {
    endpoint: E,
    side: Side,
    tls: Option<Box<rustls::Connection>>,
    /// TLS records ready for the socket, and how much of them was written.
    records: Vec<u8>,
    records_sent: usize,
    /// The endpoint asked to shut down; `close_notify` goes out once the
    /// handshake (if any) is over and everything before it is written.
    shutdown_asked: bool,
    /// `close_notify` is queued in the TLS session.
    close_notify_sent: bool,
    /// `ShutdownWrite` was handed out.
    shutdown_done: bool,
    /// The connection failed: nothing more goes to the socket but a
    /// pending alert.
    failed: bool,
    /// An endpoint mistake, until the transport takes it.
    endpoint_error: Option<Error>,
    /// The time of the last input, for reporting a failure found while
    /// writing.
    last_now: Time,
}

impl<E: Endpoint> TlsPump<E> {
    /// The initiating side: on the endpoint's `StartTls` a rustls client
    /// session checked against `tls` starts.
    pub fn client(endpoint: E, tls: Arc<ClientTls>) -> Self {
        Self::new(endpoint, Side::Client(tls))
    }

    /// The receiving side: on the endpoint's `StartTls` a rustls server
    /// session presenting the certificate of `tls` starts.
    pub fn server(endpoint: E, tls: Arc<ServerTls>) -> Self {
        Self::new(endpoint, Side::Server(tls))
    }

    /// Either side without TLS (tests on loopback): an endpoint that asks
    /// for TLS fails with [`Error::Endpoint`].
    pub fn plain(endpoint: E) -> Self {
        Self::new(endpoint, Side::Plain)
    }

    fn new(endpoint: E, side: Side) -> Self {
        TlsPump {
            endpoint,
            side,
            tls: None,
            records: Vec::new(),
            records_sent: 0,
            shutdown_asked: false,
            close_notify_sent: false,
            shutdown_done: false,
            failed: false,
            endpoint_error: None,
            last_now: Time::ZERO,
        }
    }

    /// The endpoint, to look at.
    pub fn endpoint(&self) -> &E {
        &self.endpoint
    }

    /// The endpoint, to give it commands; drain
    /// [`TlsPump::poll_socket_output`] afterwards.
    pub fn endpoint_mut(&mut self) -> &mut E {
        &mut self.endpoint
    }

    /// Takes the endpoint back.
    pub fn into_endpoint(self) -> E {
        self.endpoint
    }

    /// Whether the endpoint wants more input now
    /// ([`Endpoint::wants_read`]); a transport stops reading while it
    /// says no.
    pub fn wants_read(&self) -> bool {
        self.endpoint.wants_read()
    }

    /// Whether TLS is up (the handshake completed).
    pub fn is_encrypted(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| !t.is_handshaking())
    }

    /// Whether a TLS handshake is running.
    pub fn is_handshaking(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.is_handshaking())
    }

    /// Whether `ShutdownWrite` was handed out.
    pub fn is_write_shut(&self) -> bool {
        self.shutdown_done
    }

    /// Whether the write side is being shut (asked by the endpoint or
    /// [`TlsPump::shutdown`]), or is.
    pub fn is_shutting_down(&self) -> bool {
        self.shutdown_asked || self.shutdown_done
    }

    /// Bytes read from the socket. With TLS they are decrypted first; the
    /// end of the handshake is reported to the endpoint (with the
    /// channel-binding data) before any plaintext that follows it.
    ///
    /// # Errors
    /// [`Error::Tls`] if TLS failed (a bad certificate, an alert, bytes
    /// that are not TLS); the endpoint has then been told the connection
    /// was lost, and an alert for the peer waits in the socket output.
    pub fn handle_socket_data(&mut self, now: Time, mut data: &[u8]) -> Result<(), Error> {
        self.last_now = now;
        if self.failed {
            return Ok(());
        }
        if self.tls.is_none() && self.endpoint.peek_transmit() == Some(Transmit::StartTls) {
            // Direct TLS, or STARTTLS whose <proceed/> is out: whatever
            // arrives now belongs to the handshake, even if the transport
            // reads before it drains our output.
            let _ = self.endpoint.poll_transmit();
            if let Err(e) = self.start_tls() {
                self.endpoint_error = Some(e);
                self.fail(now);
                return Ok(());
            }
        }
        if self.tls.is_none() {
            if !self.endpoint.is_closed() {
                // A refusal means the endpoint has ended; it says why in
                // its events.
                let _ = self.endpoint.handle_input(now, data);
            }
            return Ok(());
        }
        while !data.is_empty() {
            let Some(tls) = self.tls.as_deref_mut() else {
                break;
            };
            let was_handshaking = tls.is_handshaking();
            // Reading from a slice fails only when rustls' buffer is full,
            // which the processing below empties every round.
            if let Err(e) = tls.read_tls(&mut data) {
                self.fail(now);
                return Err(Error::Io(e));
            }
            let state = match tls.process_new_packets() {
                Ok(state) => state,
                Err(e) => {
                    // The alert for the peer is written by `write_tls`.
                    self.fail(now);
                    return Err(Error::Tls(e));
                }
            };
            let peer_closed = state.peer_has_closed();
            if was_handshaking && !tls.is_handshaking() {
                let info = match (&*tls, &self.side) {
                    (rustls::Connection::Server(c), Side::Server(s)) => {
                        tls_info_checking_peer(c, Some(s.leaf()), s.peer_roots())
                    }
                    (rustls::Connection::Server(c), _) => tls_info(c, None),
                    (rustls::Connection::Client(c), Side::Client(t)) => {
                        tls_info_checking_peer(c, None, t.peer_roots())
                    }
                    (rustls::Connection::Client(c), _) => tls_info(c, None),
                };
                if !self.endpoint.is_closed() {
                    let _ = self.endpoint.handle_tls_established(now, info);
                }
            }
            self.deliver_plaintext(now);
            if peer_closed {
                self.endpoint.handle_eof(now);
                break;
            }
        }
        Ok(())
    }

    /// The socket reached its end (read returned 0): TCP closed. Without
    /// `close_notify` this is still a close: XMPP ends streams in XML, so
    /// a truncation cannot go unnoticed.
    pub fn handle_socket_eof(&mut self, now: Time) {
        self.last_now = now;
        if !self.endpoint.is_closed() {
            self.endpoint.handle_eof(now);
        }
    }

    /// The socket failed: the endpoint is told the connection is lost, and
    /// nothing more will be written.
    pub fn handle_socket_error(&mut self, now: Time) {
        self.fail(now);
    }

    /// Fires the endpoint's timers.
    pub fn handle_timeout(&mut self, now: Time) {
        self.last_now = now;
        self.endpoint.handle_timeout(now);
    }

    /// Closes the write side now, after what is queued (and
    /// `close_notify`), for an endpoint that ended without asking.
    pub fn shutdown(&mut self) {
        self.shutdown_asked = true;
    }

    /// When [`TlsPump::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Time> {
        self.endpoint.poll_timeout()
    }

    /// The endpoint's next event.
    pub fn poll_event(&mut self) -> Option<E::Event> {
        self.endpoint.poll_event()
    }

    /// What to do with the socket next. Call until `None` after every
    /// input and command. An endpoint that asks for TLS without settings,
    /// or twice, fails the connection; [`TlsPump::take_endpoint_error`]
    /// says so.
    pub fn poll_socket_output(&mut self) -> Option<SocketOutput<'_>> {
        loop {
            if self.records_sent < self.records.len() {
                return self
                    .records
                    .get(self.records_sent..)
                    .map(SocketOutput::Data);
            }
            if self.records.capacity() > 0 {
                // Written: the storage goes back, so that an idle
                // connection holds no record buffer (a few KiB each,
                // multiplied by every session of a server).
                self.records = Vec::new();
            }
            self.records_sent = 0;
            if self.failed || self.shutdown_done {
                self.discard_endpoint_output();
                return None;
            }
            if let Some(tls) = self.tls.as_deref_mut() {
                if tls.wants_write() {
                    let _ = tls.write_tls(&mut self.records);
                    continue;
                }
            }
            if self.shutdown_asked {
                if self.is_handshaking() {
                    // The bytes before the shutdown can only go out
                    // encrypted: wait for the handshake (the transport's
                    // linger time bounds the wait).
                    return None;
                }
                if let Some(tls) = self.tls.as_deref_mut() {
                    if !self.close_notify_sent {
                        tls.send_close_notify();
                        self.close_notify_sent = true;
                        continue;
                    }
                }
                self.shutdown_done = true;
                return Some(SocketOutput::ShutdownWrite);
            }
            let handshaking = self.is_handshaking();
            // `poll_transmit` takes a mark but never data, and once it has
            // returned data, `peek_transmit` shows the same bytes: so an
            // endpoint that prepares its bytes when polled (a WebSocket
            // one frames its messages then) is asked the same way as any.
            let next = match self.endpoint.poll_transmit() {
                None => return None,
                Some(Transmit::Data(_)) => Next::Data,
                Some(Transmit::StartTls) => Next::StartTls,
                Some(Transmit::Shutdown) => Next::Shutdown,
            };
            match next {
                Next::Data if self.tls.is_none() => {
                    // Plaintext goes out straight from the endpoint's
                    // queue: no copy.
                    return match self.endpoint.peek_transmit() {
                        Some(Transmit::Data(data)) => Some(SocketOutput::Data(data)),
                        _ => None,
                    };
                }
                Next::Data if handshaking => {
                    // The endpoint's next bytes belong after the
                    // handshake.
                    return None;
                }
                Next::Data => {
                    let Some(Transmit::Data(data)) = self.endpoint.peek_transmit() else {
                        return None;
                    };
                    let chunk = data.get(..data.len().min(TLS_CHUNK)).unwrap_or(data);
                    let tls = self.tls.as_deref_mut()?;
                    let n = tls.writer().write(chunk).unwrap_or(0);
                    self.endpoint.consume_transmit(n);
                    let _ = tls.write_tls(&mut self.records);
                    if n == 0 && self.records.is_empty() {
                        return None;
                    }
                }
                Next::StartTls => {
                    if let Err(e) = self.start_tls() {
                        self.endpoint_error = Some(e);
                        self.fail(self.last_now);
                    }
                }
                Next::Shutdown => self.shutdown_asked = true,
            }
        }
    }

    /// `n` bytes of the last [`SocketOutput::Data`] were written.
    pub fn consume_socket_output(&mut self, n: usize) {
        if self.records_sent < self.records.len() {
            self.records_sent = (self.records_sent + n).min(self.records.len());
        } else if self.tls.is_none() {
            self.endpoint.consume_transmit(n);
        }
    }

    /// Bytes waiting to be written to the socket (TLS records, and the
    /// endpoint's queue up to its next mark).
    pub fn pending_output(&self) -> usize {
        let queued = match self.endpoint.peek_transmit() {
            Some(Transmit::Data(data)) => data.len(),
            _ => 0,
        };
        self.records.len() - self.records_sent + queued
    }

    /// Whether the connection has run its course on the pump's side: the
    /// endpoint is finished and the write side was shut (or the
    /// connection failed).
    pub fn is_done(&self) -> bool {
        self.failed || (self.endpoint.is_closed() && self.shutdown_done)
    }

    /// An endpoint mistake (asking for TLS without settings, or twice),
    /// once; the connection is then failed.
    pub fn take_endpoint_error(&mut self) -> Option<Error> {
        self.endpoint_error.take()
    }

    fn start_tls(&mut self) -> Result<(), Error> {
        if self.tls.is_some() {
            return Err(Error::Endpoint("asked for TLS on a connection that has it"));
        }
        let conn = match &self.side {
            Side::Client(c) => rustls::Connection::Client(c.connect()?),
            Side::Server(s) => rustls::Connection::Server(s.accept()?),
            Side::Plain => {
                return Err(Error::Endpoint(
                    "asked for TLS on a connection made without TLS settings",
                ));
            }
        };
        self.tls = Some(Box::new(conn));
        Ok(())
    }

    /// Hands decrypted bytes to the endpoint.
    fn deliver_plaintext(&mut self, now: Time) {
        let mut buf = [0u8; 4096];
        while let Some(tls) = self.tls.as_deref_mut() {
            // An error means no plaintext now, or the peer closed without
            // close_notify (reported as the socket's end).
            let n = tls.reader().read(&mut buf).unwrap_or(0);
            if n == 0 {
                break;
            }
            if !self.endpoint.is_closed() {
                let _ = self
                    .endpoint
                    .handle_input(now, buf.get(..n).unwrap_or_default());
            }
        }
    }

    /// The connection is dead: the endpoint hears, its output goes
    /// nowhere, and only a pending alert may still be written.
    fn fail(&mut self, now: Time) {
        if self.failed {
            return;
        }
        if let Some(tls) = self.tls.as_deref_mut() {
            // The alert telling the peer why.
            let _ = tls.write_tls(&mut self.records);
        }
        self.failed = true;
        if !self.endpoint.is_closed() {
            self.endpoint.handle_eof(now);
        }
        self.discard_endpoint_output();
    }

    fn discard_endpoint_output(&mut self) {
        while let Some(t) = self.endpoint.poll_transmit() {
            if let Transmit::Data(d) = t {
                let n = d.len();
                self.endpoint.consume_transmit(n);
            }
        }
    }
}
