//! One connection of the driver: a non-blocking socket, an optional
//! rustls session and the sans-IO endpoint, and the moves between them.
//! Knows nothing of the `Poll` or the other connections.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::Arc;
use std::time::Duration;

use xmpp_proto::time::Time;

use mio::net::TcpStream;
use xmpp_proto::endpoint::{Endpoint, Transmit};
use xmpp_transport_std::ServerTls;
use xmpp_transport_std::tls::{ClientTls, tls_info};

use crate::{ConnId, DriverEvent, Error};

/// How much plaintext is handed to rustls at once: rustls copies it into
/// records, so this bounds what sits in its buffers besides the core's
/// own queue (which is never copied).
const TLS_CHUNK: usize = 16 * 1024;

/// Which side of a TLS handshake a connection plays.
#[derive(Clone)]
pub(crate) enum Role {
    Client(Arc<ClientTls>),
    Server(Arc<ServerTls>),
    Plain,
}

/// What a connection needs from the driver while it runs.
pub(crate) struct Ctx<'a, Ev> {
    pub(crate) id: ConnId,
    pub(crate) now: Time,
    pub(crate) buf: &'a mut [u8],
    pub(crate) events: &'a mut VecDeque<DriverEvent<Ev>>,
    pub(crate) max_output: usize,
    pub(crate) linger: Duration,
}

pub(crate) struct Conn<E> {
    pub(crate) endpoint: E,
    pub(crate) socket: TcpStream,
    role: Role,
    tls: Option<Box<rustls::Connection>>,
    handshaking: bool,
    /// The endpoint asked to shut down while TLS was still handshaking.
    shutdown_after_handshake: bool,
    /// close_notify is queued: shut TCP down once it is written.
    tcp_shutdown_pending: bool,
    read_closed: bool,
    write_closed: bool,
    linger_until: Option<Time>,
    /// The deadline this connection has in the driver's timer heap.
    pub(crate) timer_at: Option<Time>,
    /// Bytes the endpoint has queued that could not be written yet.
    pub(crate) pending_output: usize,
    /// The failure that ends the connection; set once.
    pub(crate) error: Option<Error>,
    failed: bool,
}

impl<E: Endpoint> Conn<E> {
    pub(crate) fn new(socket: TcpStream, endpoint: E, role: Role) -> Self {
        Conn {
            endpoint,
            socket,
            role,
            tls: None,
            handshaking: false,
            shutdown_after_handshake: false,
            tcp_shutdown_pending: false,
            read_closed: false,
            write_closed: false,
            linger_until: None,
            timer_at: None,
            pending_output: 0,
            error: None,
            failed: false,
        }
    }

    pub(crate) fn is_encrypted(&self) -> bool {
        self.tls.is_some() && !self.handshaking
    }

    /// Whether the connection has run its course and can be dropped.
    pub(crate) fn is_done(&self) -> bool {
        self.failed || (self.endpoint.is_closed() && self.write_closed && self.read_closed)
    }

    /// The next instant [`Conn::on_timer`] has work to do.
    pub(crate) fn deadline(&self) -> Option<Time> {
        if self.failed {
            return None;
        }
        match (self.endpoint.poll_timeout(), self.linger_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Readiness from the poll. Returns `true` when the read budget ran
    /// out before `WouldBlock` (the driver comes back without waiting).
    pub(crate) fn on_ready(
        &mut self,
        readable: bool,
        writable: bool,
        budget: usize,
        ctx: &mut Ctx<'_, E::Event>,
    ) -> bool {
        if writable {
            self.flush_or_fail(ctx);
        }
        let mut more = false;
        if readable {
            more = self.read(budget, ctx);
        }
        self.flush_or_fail(ctx);
        more
    }

    /// A timer of this connection may be due.
    pub(crate) fn on_timer(&mut self, ctx: &mut Ctx<'_, E::Event>) {
        if self.failed {
            return;
        }
        if self.linger_until.is_some_and(|t| t <= ctx.now) {
            // The peer did not close (or finish the handshake) in time.
            if !self.endpoint.is_closed() {
                self.endpoint.handle_eof(ctx.now);
            }
            self.fail(Error::LingerExpired, ctx);
            return;
        }
        if self.endpoint.poll_timeout().is_some_and(|t| t <= ctx.now) {
            self.endpoint.handle_timeout(ctx.now);
            self.flush_or_fail(ctx);
        }
    }

    /// Runs a command on the endpoint, then writes what it queued.
    pub(crate) fn command<R>(
        &mut self,
        f: impl FnOnce(&mut E, Time) -> R,
        ctx: &mut Ctx<'_, E::Event>,
    ) -> R {
        let r = f(&mut self.endpoint, ctx.now);
        self.flush_or_fail(ctx);
        r
    }

    /// Drops the connection at once (no close_notify, no linger).
    pub(crate) fn abort(&mut self, ctx: &mut Ctx<'_, E::Event>) {
        if !self.endpoint.is_closed() {
            self.endpoint.handle_eof(ctx.now);
        }
        self.fail(Error::Io(io::ErrorKind::ConnectionAborted.into()), ctx);
    }

    /// Reads until `WouldBlock`, the peer's close, or the budget.
    fn read(&mut self, budget: usize, ctx: &mut Ctx<'_, E::Event>) -> bool {
        for _ in 0..budget {
            if self.failed || self.read_closed {
                return false;
            }
            let step = if self.tls.is_some() {
                self.read_tls(ctx)
            } else {
                self.read_plain(ctx)
            };
            match step {
                Ok(true) => {}
                Ok(false) => return false,
                Err(e) => {
                    self.fail_or_end(e, ctx);
                    return false;
                }
            }
        }
        true
    }

    /// One plaintext read; `Ok(false)` once the socket is drained.
    fn read_plain(&mut self, ctx: &mut Ctx<'_, E::Event>) -> Result<bool, Error> {
        match self.socket.read(ctx.buf) {
            Ok(0) => {
                self.peer_closed(ctx);
                Ok(false)
            }
            Ok(n) => {
                let data = ctx.buf.get(..n).unwrap_or_default();
                if !self.endpoint.is_closed() {
                    // A refused input means the endpoint has ended; it
                    // says why in its events.
                    let _ = self.endpoint.handle_input(ctx.now, data);
                }
                self.after_input(ctx)?;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(true),
            Err(e) => Err(e.into()),
        }
    }

    /// One read of TLS records, then everything they decrypt to.
    fn read_tls(&mut self, ctx: &mut Ctx<'_, E::Event>) -> Result<bool, Error> {
        let Some(tls) = self.tls.as_deref_mut() else {
            return Ok(false);
        };
        let tcp_eof = match tls.read_tls(&mut self.socket) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(true),
            Err(e) => return Err(e.into()),
        };
        let state = match tls.process_new_packets() {
            Ok(state) => state,
            Err(e) => {
                // Tell the peer why (an alert) before giving up.
                let _ = tls.write_tls(&mut self.socket);
                return Err(Error::Tls(e));
            }
        };
        let peer_closed = state.peer_has_closed() || tcp_eof;
        if self.handshaking && !tls.is_handshaking() {
            self.handshaking = false;
            let info = match (&*tls, &self.role) {
                (rustls::Connection::Server(c), Role::Server(s)) => tls_info(c, Some(s.leaf())),
                (rustls::Connection::Server(c), _) => tls_info(c, None),
                (rustls::Connection::Client(c), _) => tls_info(c, None),
            };
            if !self.endpoint.is_closed() {
                let _ = self.endpoint.handle_tls_established(ctx.now, info);
            }
            if self.shutdown_after_handshake {
                self.close_notify();
            }
            self.after_input(ctx)?;
        }
        while let Some(tls) = self.tls.as_deref_mut() {
            // An error means no plaintext now, or the peer closed without
            // close_notify (reported as the close below).
            let n: usize = tls.reader().read(ctx.buf).unwrap_or_default();
            if n == 0 {
                break;
            }
            if !self.endpoint.is_closed() {
                let data = ctx.buf.get(..n).unwrap_or_default();
                let _ = self.endpoint.handle_input(ctx.now, data);
            }
            self.after_input(ctx)?;
        }
        if peer_closed {
            // TCP closed without close_notify counts as a close too: XMPP
            // ends streams in XML, so a truncation cannot go unnoticed.
            self.peer_closed(ctx);
            return Ok(false);
        }
        Ok(true)
    }

    fn peer_closed(&mut self, ctx: &mut Ctx<'_, E::Event>) {
        if self.read_closed {
            return;
        }
        self.read_closed = true;
        if !self.endpoint.is_closed() {
            self.endpoint.handle_eof(ctx.now);
        }
        self.flush_or_fail(ctx);
    }

    /// The endpoint contract: after each input, write, then take events.
    fn after_input(&mut self, ctx: &mut Ctx<'_, E::Event>) -> Result<(), Error> {
        let r = self.flush(ctx);
        self.take_events(ctx);
        r
    }

    fn take_events(&mut self, ctx: &mut Ctx<'_, E::Event>) {
        while let Some(event) = self.endpoint.poll_event() {
            ctx.events.push_back(DriverEvent::Endpoint {
                conn: ctx.id,
                event,
            });
        }
    }

    fn flush_or_fail(&mut self, ctx: &mut Ctx<'_, E::Event>) {
        if let Err(e) = self.flush(ctx) {
            self.fail_or_end(e, ctx);
        }
        self.take_events(ctx);
    }

    /// A socket error after our own shutdown is the end of the
    /// connection (a peer that closed first may reset), not a failure.
    fn fail_or_end(&mut self, e: Error, ctx: &mut Ctx<'_, E::Event>) {
        if self.linger_until.is_some() && !matches!(e, Error::OutputLimit { .. }) {
            self.read_closed = true;
            self.write_closed = true;
            let _ = self.socket.shutdown(Shutdown::Both);
            if !self.endpoint.is_closed() {
                self.endpoint.handle_eof(ctx.now);
            }
            self.discard_output();
            self.take_events(ctx);
        } else {
            self.fail(e, ctx);
        }
    }

    /// Writes what the endpoint queued, without copying it: partial
    /// writes are reported through `consume_transmit` and the rest stays
    /// in the endpoint. Then enforces the output limit.
    fn flush(&mut self, ctx: &mut Ctx<'_, E::Event>) -> Result<(), Error> {
        if self.failed {
            self.discard_output();
            return Ok(());
        }
        self.pending_output = 0;
        loop {
            if !self.flush_tls()? {
                // The socket is full with TLS records: leave the rest in
                // the endpoint until the next writable event.
                self.pending_output = self.peek_pending();
                break;
            }
            let closed = self.endpoint.is_closed();
            let Some(transmit) = self.endpoint.poll_transmit() else {
                if closed && self.linger_until.is_none() {
                    // An endpoint that ended without asking to shut down.
                    self.begin_shutdown(ctx);
                    continue;
                }
                break;
            };
            match transmit {
                Transmit::Data(data) => {
                    let len = data.len();
                    let written = if self.write_closed {
                        // Nobody will read it; the endpoint still wants
                        // it consumed.
                        len
                    } else if let Some(tls) = self.tls.as_deref_mut() {
                        if self.handshaking {
                            // Our next bytes belong after the handshake.
                            self.pending_output = len;
                            break;
                        }
                        let chunk = data.get(..len.min(TLS_CHUNK)).unwrap_or(data);
                        tls.writer().write(chunk)?
                    } else {
                        match self.socket.write(data) {
                            Ok(0) if len > 0 => {
                                return Err(io::Error::from(io::ErrorKind::WriteZero).into());
                            }
                            Ok(n) => n,
                            Err(e) if would_block(&e) => {
                                self.pending_output = len;
                                break;
                            }
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
                            Err(e) => return Err(e.into()),
                        }
                    };
                    self.endpoint.consume_transmit(written);
                }
                Transmit::StartTls => self.start_tls()?,
                Transmit::Shutdown => self.begin_shutdown(ctx),
            }
        }
        if self.pending_output > ctx.max_output {
            return Err(Error::OutputLimit {
                pending: self.pending_output,
                limit: ctx.max_output,
            });
        }
        Ok(())
    }

    /// How many bytes the endpoint holds before its next mark. Only
    /// looks when data comes first: a mark is handed out once.
    fn peek_pending(&mut self) -> usize {
        // After a Data transmit the same bytes come back, so looking is
        // harmless; a StartTls or Shutdown mark cannot be looked at
        // without taking it, and nothing before it is pending then.
        match self.endpoint.poll_transmit() {
            Some(Transmit::Data(d)) => d.len(),
            Some(Transmit::StartTls) => {
                // Taken: act on it now, the socket is merely full.
                if let Err(e) = self.start_tls() {
                    self.error.get_or_insert(e);
                    self.failed = true;
                }
                0
            }
            Some(Transmit::Shutdown) => {
                self.shutdown_now();
                0
            }
            None => 0,
        }
    }

    /// Pushes rustls' records to the socket; `false` if it is full.
    fn flush_tls(&mut self) -> Result<bool, Error> {
        if let Some(tls) = self.tls.as_deref_mut() {
            if !self.write_closed {
                while tls.wants_write() {
                    match tls.write_tls(&mut self.socket) {
                        Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero).into()),
                        Ok(_) => {}
                        Err(e) if would_block(&e) => return Ok(false),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        if self.tcp_shutdown_pending {
            self.tcp_shutdown_pending = false;
            let _ = self.socket.shutdown(Shutdown::Write);
            self.write_closed = true;
        }
        Ok(true)
    }

    fn start_tls(&mut self) -> Result<(), Error> {
        if self.tls.is_some() {
            return Err(Error::Endpoint("asked for TLS on a connection that has it"));
        }
        let conn = match &self.role {
            Role::Client(c) => rustls::Connection::Client(c.connect()?),
            Role::Server(s) => rustls::Connection::Server(s.accept()?),
            Role::Plain => {
                return Err(Error::Endpoint(
                    "asked for TLS on a connection made without TLS settings",
                ));
            }
        };
        self.tls = Some(Box::new(conn));
        self.handshaking = true;
        Ok(())
    }

    /// Starts the close; the linger time bounds both a handshake it has
    /// to wait for and the peer's own close.
    fn begin_shutdown(&mut self, ctx: &mut Ctx<'_, E::Event>) {
        if self.linger_until.is_none() {
            self.linger_until = Some(ctx.now + ctx.linger);
        }
        self.shutdown_now();
    }

    fn shutdown_now(&mut self) {
        if self.write_closed || self.tcp_shutdown_pending {
            return;
        }
        if self.handshaking {
            self.shutdown_after_handshake = true;
        } else {
            self.close_notify();
        }
    }

    fn close_notify(&mut self) {
        if let Some(tls) = self.tls.as_deref_mut() {
            tls.send_close_notify();
        }
        self.tcp_shutdown_pending = true;
    }

    /// Marks the connection dead (the socket closed both ways) and tells
    /// the endpoint; it is removed by the driver.
    fn fail(&mut self, e: Error, ctx: &mut Ctx<'_, E::Event>) {
        if self.failed {
            return;
        }
        self.failed = true;
        self.error.get_or_insert(e);
        let _ = self.socket.shutdown(Shutdown::Both);
        self.read_closed = true;
        self.write_closed = true;
        if !self.endpoint.is_closed() {
            self.endpoint.handle_eof(ctx.now);
        }
        self.discard_output();
        self.take_events(ctx);
    }

    /// Drains the endpoint's output into nothing.
    fn discard_output(&mut self) {
        while let Some(t) = self.endpoint.poll_transmit() {
            if let Transmit::Data(d) = t {
                let n = d.len();
                self.endpoint.consume_transmit(n);
            }
        }
        self.pending_output = 0;
    }
}

fn would_block(e: &io::Error) -> bool {
    // A socket still connecting reports "not connected" to a write.
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::NotConnected
    )
}
