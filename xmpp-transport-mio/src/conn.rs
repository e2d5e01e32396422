//! One connection of the driver: a non-blocking socket and a [`TlsPump`]
//! (the endpoint with TLS in front of it, shared with the blocking
//! transport), and the moves between them. Knows nothing of the `Poll`
//! or the other connections.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::Arc;
use std::time::Duration;

use mio::net::TcpStream;
use xmpp_proto::endpoint::Endpoint;
use xmpp_proto::time::Time;
use xmpp_transport_std::ServerTls;
use xmpp_transport_std::tls::ClientTls;
use xmpp_transport_std::tls_pump::{SocketOutput, TlsPump};

use crate::{ConnId, DriverEvent, Error};

/// Which side of a TLS handshake a connection plays.
#[derive(Clone)]
pub(crate) enum TlsSide {
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
    pub(crate) write_deadline: Duration,
    /// Past this many events waiting for the application, no connection
    /// reads more this round.
    pub(crate) max_ready: usize,
}

pub(crate) struct Conn<E> {
    pump: TlsPump<E>,
    pub(crate) socket: TcpStream,
    read_closed: bool,
    /// Our write side is shut: the peer has until then to close.
    linger_until: Option<Time>,
    /// The deadline this connection has in the driver's timer heap.
    pub(crate) timer_at: Option<Time>,
    /// Bytes waiting to be written after the last write attempt.
    pub(crate) pending_output: usize,
    /// Since when output has been waiting without ever being all
    /// written: the write deadline counts from here.
    output_since: Option<Time>,
    /// Reading stopped because the endpoint did not want input (its
    /// output waits for the peer); it resumes once it does.
    read_paused: bool,
    /// The failure that ends the connection; set once.
    pub(crate) error: Option<Error>,
    failed: bool,
}

impl<E: Endpoint> Conn<E> {
    pub(crate) fn new(socket: TcpStream, endpoint: E, side: TlsSide) -> Self {
        let pump = match side {
            TlsSide::Client(tls) => TlsPump::client(endpoint, tls),
            TlsSide::Server(tls) => TlsPump::server(endpoint, tls),
            TlsSide::Plain => TlsPump::plain(endpoint),
        };
        Conn {
            pump,
            socket,
            read_closed: false,
            linger_until: None,
            timer_at: None,
            pending_output: 0,
            output_since: None,
            read_paused: false,
            error: None,
            failed: false,
        }
    }

    pub(crate) fn endpoint(&self) -> &E {
        self.pump.endpoint()
    }

    pub(crate) fn is_encrypted(&self) -> bool {
        self.pump.is_encrypted()
    }

    /// Whether the connection has run its course and can be dropped.
    pub(crate) fn is_done(&self) -> bool {
        self.failed || (self.pump.is_done() && self.read_closed)
    }

    /// The next instant [`Conn::on_timer`] has work to do.
    pub(crate) fn deadline(&self, write_deadline: Duration) -> Option<Time> {
        if self.failed {
            return None;
        }
        let write_by = self.output_since.map(|since| since + write_deadline);
        [self.pump.poll_timeout(), self.linger_until, write_by]
            .into_iter()
            .flatten()
            .min()
    }

    /// Whether reading stopped for backpressure and may go on now.
    pub(crate) fn may_resume_reading(&self) -> bool {
        self.read_paused && !self.failed && self.pump.wants_read()
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
        if readable || self.read_paused {
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
            self.pump.handle_socket_error(ctx.now);
            self.fail(Error::LingerExpired, ctx);
            return;
        }
        if let Some(since) = self.output_since {
            let waited = ctx.now - since;
            if waited >= ctx.write_deadline {
                // However slowly it took some bytes, the peer has not
                // read what waited for it in all that time.
                self.fail(Error::WriteDeadline { waited }, ctx);
                return;
            }
        }
        if self.pump.poll_timeout().is_some_and(|t| t <= ctx.now) {
            self.pump.handle_timeout(ctx.now);
            self.flush_or_fail(ctx);
        }
    }

    /// Runs a command on the endpoint, then writes what it queued.
    pub(crate) fn command<R>(
        &mut self,
        f: impl FnOnce(&mut E, Time) -> R,
        ctx: &mut Ctx<'_, E::Event>,
    ) -> R {
        let r = f(self.pump.endpoint_mut(), ctx.now);
        self.flush_or_fail(ctx);
        r
    }

    /// Drops the connection at once (no close_notify, no linger).
    pub(crate) fn abort(&mut self, ctx: &mut Ctx<'_, E::Event>) {
        self.fail(Error::Io(io::ErrorKind::ConnectionAborted.into()), ctx);
    }

    /// Reads until `WouldBlock`, the peer's close, or the budget; or
    /// until the endpoint wants no more input (backpressure: resumed when
    /// it does) or the application has enough events to take first
    /// (resumed next round). Returns whether to come back next round.
    fn read(&mut self, budget: usize, ctx: &mut Ctx<'_, E::Event>) -> bool {
        self.read_paused = false;
        for _ in 0..budget {
            if self.failed || self.read_closed {
                return false;
            }
            if !self.pump.wants_read() {
                // Its output waits for the peer: writable readiness
                // brings it back once that is written.
                self.read_paused = true;
                return false;
            }
            if ctx.events.len() >= ctx.max_ready {
                return true;
            }
            match self.socket.read(ctx.buf) {
                Ok(0) => {
                    self.read_closed = true;
                    self.pump.handle_socket_eof(ctx.now);
                    self.after_input(ctx);
                    return false;
                }
                Ok(n) => {
                    let data = ctx.buf.get(..n).unwrap_or_default();
                    if let Err(e) = self.pump.handle_socket_data(ctx.now, data) {
                        // The alert the pump prepared goes out if it can.
                        let _ = self.flush(ctx);
                        self.fail_or_end(e, ctx);
                        return false;
                    }
                    self.after_input(ctx);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.fail_or_end(e.into(), ctx);
                    return false;
                }
            }
        }
        true
    }

    /// The endpoint contract: after each input, write, then take events.
    fn after_input(&mut self, ctx: &mut Ctx<'_, E::Event>) {
        self.flush_or_fail(ctx);
    }

    fn take_events(&mut self, ctx: &mut Ctx<'_, E::Event>) {
        while let Some(event) = self.pump.poll_event() {
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
            let _ = self.socket.shutdown(Shutdown::Both);
            self.pump.handle_socket_error(ctx.now);
            self.take_events(ctx);
        } else {
            self.fail(e, ctx);
        }
    }

    /// Writes what the pump has for the socket, without copying the
    /// endpoint's plaintext: partial writes leave the rest in the pump.
    /// Then enforces the output limit.
    fn flush(&mut self, ctx: &mut Ctx<'_, E::Event>) -> Result<(), Error> {
        if self.failed {
            self.pending_output = 0;
            return Ok(());
        }
        while let Some(output) = self.pump.poll_socket_output() {
            match output {
                SocketOutput::Data(data) => {
                    let len = data.len();
                    match self.socket.write(data) {
                        Ok(0) if len > 0 => {
                            return Err(io::Error::from(io::ErrorKind::WriteZero).into());
                        }
                        Ok(n) => self.pump.consume_socket_output(n),
                        Err(e) if would_block(&e) => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                SocketOutput::ShutdownWrite => {
                    let _ = self.socket.shutdown(Shutdown::Write);
                    if self.linger_until.is_none() {
                        self.linger_until = Some(ctx.now + ctx.linger);
                    }
                }
            }
        }
        if let Some(e) = self.pump.take_endpoint_error() {
            return Err(e);
        }
        if self.pump.endpoint().is_closed() && !self.pump.is_shutting_down() {
            // An endpoint that ended without asking to shut down.
            self.pump.shutdown();
            return self.flush(ctx);
        }
        self.pending_output = self.pump.pending_output();
        if self.pending_output == 0 {
            self.output_since = None;
        } else if self.output_since.is_none() {
            self.output_since = Some(ctx.now);
        }
        if self.pending_output > ctx.max_output {
            return Err(Error::OutputLimit {
                pending: self.pending_output,
                limit: ctx.max_output,
            });
        }
        Ok(())
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
        self.pump.handle_socket_error(ctx.now);
        self.pending_output = 0;
        self.take_events(ctx);
    }
}

fn would_block(e: &io::Error) -> bool {
    // A socket still connecting reports "not connected" to a write.
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::NotConnected
    )
}
