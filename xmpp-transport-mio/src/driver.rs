//! The event loop: one `mio::Poll`, a slab of connections, a timer heap.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use xmpp_proto::time::Time;
use xmpp_transport_std::clock;

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Registry, Token};
use xmpp_proto::endpoint::Endpoint;
use xmpp_transport_std::ServerTls;
use xmpp_transport_std::tls::ClientTls;

use crate::conn::{Conn, Ctx, TlsSide};
use crate::deadlines::Deadlines;
use crate::slab::Slab;
use crate::{ConnId, Error};

/// Connection tokens have this bit set; tokens below it are the user's.
const CONN_BIT: usize = 1 << (usize::BITS - 1);

/// The largest token you may use for sources of your own registered in
/// the driver's [`Registry`]; larger ones belong to the driver.
pub const MAX_USER_TOKEN: Token = Token(CONN_BIT - 1);

/// How big the one read buffer shared by all connections is.
const READ_BUF: usize = 16 * 1024;

/// How many reads one connection gets per wake-up before the others get
/// their turn (edge-triggered readiness is remembered, so it comes back
/// without waiting).
const READ_BUDGET: usize = 32;

/// The default [`DriverConfig::max_output`]: 512 KiB. A server endpoint
/// refuses stanzas for its client once 256 KiB wait (the core's
/// `server::DEFAULT_MAX_OUTPUT`), so a stanza of the largest size the core
/// accepts by default still fits on top.
pub const DEFAULT_MAX_OUTPUT: usize = 512 * 1024;

/// The default [`DriverConfig::linger`].
pub const DEFAULT_LINGER: Duration = Duration::from_secs(2);

/// The default [`DriverConfig::write_deadline`].
pub const DEFAULT_WRITE_DEADLINE: Duration = Duration::from_secs(60);

/// Past this many events waiting for the application, connections are
/// not read further until the next round: what one round can make the
/// driver hold stays bounded, however many connections send at once.
const MAX_READY: usize = 4096;

/// The driver's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DriverConfig {
    /// The output limit per connection (default [`DEFAULT_MAX_OUTPUT`]).
    ///
    /// The policy: output goes to the socket as soon as it is writable,
    /// straight from the endpoint's queue (rustls holds at most one
    /// 16 KiB chunk besides). When a peer does not read, the queue grows;
    /// once more than `max_output` bytes wait after a write attempt, the
    /// connection is dropped with [`Error::OutputLimit`] (its endpoint is
    /// told the connection was lost). Nothing is silently discarded from a
    /// live connection, and a slow reader costs at most about this much.
    /// Applications that would rather wait than lose a peer look at
    /// [`Driver::pending_output`] before sending. Keep it at or below the
    /// endpoints' `Limits::max_pending_input` (256 KiB by default), beyond
    /// which the endpoint itself refuses new stanzas (`OutputFull`).
    pub max_output: usize,
    /// How long to wait for the peer's close after ours (default
    /// [`DEFAULT_LINGER`]); it also bounds a TLS handshake a shutdown
    /// waits for.
    pub linger: Duration,
    /// How long output may wait for a peer that does not read it all
    /// (default [`DEFAULT_WRITE_DEADLINE`]): counted from when output
    /// started waiting until it is all written, however slowly the peer
    /// takes bytes meanwhile; past it the connection is dropped with
    /// [`Error::WriteDeadline`].
    pub write_deadline: Duration,
    /// How many readiness events one poll takes at most (default 1024).
    pub events_capacity: usize,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            max_output: DEFAULT_MAX_OUTPUT,
            linger: DEFAULT_LINGER,
            write_deadline: DEFAULT_WRITE_DEADLINE,
            events_capacity: 1024,
        }
    }
}

impl DriverConfig {
    /// Sets [`DriverConfig::max_output`].
    pub fn with_max_output(mut self, bytes: usize) -> Self {
        self.max_output = bytes;
        self
    }

    /// Sets [`DriverConfig::write_deadline`].
    pub fn with_write_deadline(mut self, deadline: Duration) -> Self {
        self.write_deadline = deadline;
        self
    }

    /// Sets [`DriverConfig::linger`].
    pub fn with_linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }
}

/// What [`Driver::next_event`] hands out.
#[derive(Debug)]
pub enum DriverEvent<Ev> {
    /// An event of a connection's endpoint.
    Endpoint {
        /// The connection.
        conn: ConnId,
        /// What its endpoint reported.
        event: Ev,
    },
    /// The connection is over and has been removed; its id is dead. The
    /// endpoint's own `Closed` event (if it got that far) came before.
    Closed {
        /// The connection.
        conn: ConnId,
        /// The socket, TLS or output-limit failure that ended it, if any.
        error: Option<Error>,
    },
    /// Readiness of a source of yours (a listener, a [`mio::Waker`], a
    /// socket), registered with a token up to [`MAX_USER_TOKEN`].
    Source {
        /// Its token.
        token: Token,
        /// Readable (a waker's wake-up is readable).
        readable: bool,
        /// Writable.
        writable: bool,
    },
}

/// Many sans-IO endpoints (all clients, or all server sides) over
/// non-blocking sockets on one thread.
///
/// Each connection is a socket registered edge-triggered in the driver's
/// `mio::Poll`, an endpoint, and a rustls session once the endpoint asks
/// for TLS (STARTTLS, or direct TLS as its first transmit; the handshake
/// side is the connection's: [`Driver::add_client`] or
/// [`Driver::add_server`]). [`Driver::poll`] waits for readiness or the
/// earliest endpoint deadline (kept in a heap, see the crate docs), reads
/// until `WouldBlock`, writes the endpoints' output without copying it,
/// and fires timers; [`Driver::next_event`] then hands out what the
/// endpoints reported. Commands go through [`Driver::command`].
///
/// A failing connection (reset, TLS alert, a peer that stops reading) is
/// removed with a [`DriverEvent::Closed`] carrying the error; the others
/// never notice.
///
/// Your own sources share the `Poll`: register them in
/// [`Driver::registry`] with tokens up to [`MAX_USER_TOKEN`] and they
/// come back as [`DriverEvent::Source`]; a [`mio::Waker`] made there lets
/// other threads wake the loop.
///
/// ```no_run
/// use xmpp_proto::client::{Client, ClientConfig, ClientEvent};
/// use xmpp_proto::jid::Jid;
/// use xmpp_transport_mio::{Driver, DriverEvent};
/// use xmpp_transport_std::{ClientTls, TrustAnchors, clock};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut driver = Driver::new(Default::default())?;
/// let tls = std::sync::Arc::new(ClientTls::new(&TrustAnchors::webpki_roots(), "example.com")?);
/// for name in ["alice", "bob"] {
///     let config = ClientConfig::new(Jid::new(&format!("{name}@example.com"))?, "secret");
///     let socket = mio::net::TcpStream::connect("192.0.2.1:5222".parse()?)?;
///     driver.add_client(socket, Client::new(config, clock::now()), tls.clone())?;
/// }
/// while !driver.is_empty() {
///     driver.poll(None)?;
///     while let Some(event) = driver.next_event() {
///         match event {
///             DriverEvent::Endpoint { conn, event: ClientEvent::Online { jid } } => {
///                 println!("{jid} online");
///                 driver.command(conn, |client, now| client.close(now));
///             }
///             DriverEvent::Closed { conn, error } => println!("{conn:?} closed: {error:?}"),
///             _ => {}
///         }
///     }
/// }
/// # Ok(()) }
/// ```
pub struct Driver<E: Endpoint> {
    poll: Poll,
    events: Events,
    conns: Slab<Conn<E>>,
    deadlines: Deadlines,
    ready: VecDeque<DriverEvent<E::Event>>,
    /// Connections whose read budget ran out: read again next round.
    again: Vec<ConnId>,
    buf: Box<[u8]>,
    config: DriverConfig,
    scratch: Vec<(Token, bool, bool)>,
}

impl<E: Endpoint> Driver<E> {
    /// A driver with a fresh `Poll`.
    ///
    /// # Errors
    /// If the operating system refuses a new poll instance.
    pub fn new(config: DriverConfig) -> io::Result<Self> {
        Ok(Driver {
            poll: Poll::new()?,
            events: Events::with_capacity(config.events_capacity.max(1)),
            conns: Slab::new(),
            deadlines: Deadlines::default(),
            ready: VecDeque::new(),
            again: Vec::new(),
            buf: vec![0; READ_BUF].into_boxed_slice(),
            config,
            scratch: Vec::new(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &DriverConfig {
        &self.config
    }

    /// The poll's registry, for sources of your own (tokens up to
    /// [`MAX_USER_TOKEN`]) and for `mio::Waker::new`.
    pub fn registry(&self) -> &Registry {
        self.poll.registry()
    }

    /// How many connections are open.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// Whether no connection is open.
    pub fn is_empty(&self) -> bool {
        self.conns.len() == 0
    }

    /// The ids of the open connections.
    pub fn conn_ids(&self) -> Vec<ConnId> {
        self.conns.ids()
    }

    /// Adds a client-side connection (a socket connected or still
    /// connecting); TLS is checked against `tls`. Writing starts at once.
    ///
    /// # Errors
    /// If the socket cannot be registered.
    pub fn add_client(
        &mut self,
        socket: TcpStream,
        endpoint: E,
        tls: Arc<ClientTls>,
    ) -> io::Result<ConnId> {
        self.add(socket, endpoint, TlsSide::Client(tls))
    }

    /// Adds an accepted connection; TLS presents the certificate of `tls`.
    ///
    /// # Errors
    /// If the socket cannot be registered.
    pub fn add_server(
        &mut self,
        socket: TcpStream,
        endpoint: E,
        tls: Arc<ServerTls>,
    ) -> io::Result<ConnId> {
        self.add(socket, endpoint, TlsSide::Server(tls))
    }

    /// Adds a connection without TLS settings (an endpoint asking for TLS
    /// fails it). For tests on loopback.
    ///
    /// # Errors
    /// If the socket cannot be registered.
    pub fn add_plain(&mut self, socket: TcpStream, endpoint: E) -> io::Result<ConnId> {
        self.add(socket, endpoint, TlsSide::Plain)
    }

    fn add(&mut self, mut socket: TcpStream, endpoint: E, role: TlsSide) -> io::Result<ConnId> {
        let id = self.conns.next_id();
        self.poll.registry().register(
            &mut socket,
            Token(CONN_BIT | id.slot as usize),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        let id = self.conns.insert(Conn::new(socket, endpoint, role));
        self.with_conn(id, clock::now(), |conn, ctx| {
            conn.command(|_, _| (), ctx);
        });
        Ok(id)
    }

    /// The endpoint of a connection, to look at its state.
    pub fn endpoint(&self, conn: ConnId) -> Option<&E> {
        self.conns.get(conn).map(|c| c.endpoint())
    }

    /// The socket of a connection (for its addresses).
    pub fn socket(&self, conn: ConnId) -> Option<&TcpStream> {
        self.conns.get(conn).map(|c| &c.socket)
    }

    /// Whether the connection's TLS handshake has completed.
    pub fn is_encrypted(&self, conn: ConnId) -> bool {
        self.conns.get(conn).is_some_and(Conn::is_encrypted)
    }

    /// Bytes the connection's endpoint has queued that the socket has not
    /// taken yet (after the last write attempt). See
    /// [`DriverConfig::max_output`].
    pub fn pending_output(&self, conn: ConnId) -> Option<usize> {
        self.conns.get(conn).map(|c| c.pending_output)
    }

    /// Gives a connection's endpoint a command with the current time,
    /// then writes what it queued; `None` if the connection is gone.
    /// Events it causes are handed out by [`Driver::next_event`].
    pub fn command<R>(&mut self, conn: ConnId, f: impl FnOnce(&mut E, Time) -> R) -> Option<R> {
        self.with_conn(conn, clock::now(), |c, ctx| c.command(f, ctx))
    }

    /// Drops a connection at once, without closing the stream (for a
    /// graceful end, use the endpoint's `close` through
    /// [`Driver::command`]). Its `Closed` event follows.
    pub fn abort(&mut self, conn: ConnId) {
        self.with_conn(conn, clock::now(), |c, ctx| c.abort(ctx));
    }

    /// The next thing to hand to the application, if any.
    pub fn next_event(&mut self) -> Option<DriverEvent<E::Event>> {
        self.ready.pop_front()
    }

    /// The earliest deadline of all connections.
    pub fn next_deadline(&mut self) -> Option<Time> {
        let conns = &self.conns;
        self.deadlines
            .peek(|id, at| conns.get(id).is_some_and(|c| c.timer_at == Some(at)))
    }

    /// Waits for readiness, the earliest connection deadline, or
    /// `timeout` (whichever comes first; no wait at all while events are
    /// ready to be taken), then does the I/O and fires the timers. Take
    /// the results with [`Driver::next_event`].
    ///
    /// # Errors
    /// If polling itself fails (not a connection's failure, which only
    /// ends that connection).
    pub fn poll(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let now = clock::now();
        let mut wait = timeout;
        if let Some(deadline) = self.next_deadline() {
            let until = deadline.saturating_duration_since(now);
            wait = Some(wait.map_or(until, |w| w.min(until)));
        }
        if !self.ready.is_empty() || !self.again.is_empty() {
            wait = Some(Duration::ZERO);
        }
        match self.poll.poll(&mut self.events, wait) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        self.scratch.clear();
        self.scratch.extend(self.events.iter().map(|e| {
            (
                e.token(),
                e.is_readable() || e.is_read_closed() || e.is_error(),
                e.is_writable() || e.is_write_closed(),
            )
        }));
        let now = clock::now();
        let mut scratch = std::mem::take(&mut self.scratch);
        for &(token, readable, writable) in &scratch {
            if token.0 & CONN_BIT == 0 {
                self.ready.push_back(DriverEvent::Source {
                    token,
                    readable,
                    writable,
                });
                continue;
            }
            let Some(id) = u32::try_from(token.0 & !CONN_BIT)
                .ok()
                .and_then(|slot| self.conns.id_at(slot))
            else {
                continue;
            };
            self.ready_conn(id, readable, writable, now);
        }
        scratch.clear();
        self.scratch = scratch;
        for id in std::mem::take(&mut self.again) {
            self.ready_conn(id, true, false, now);
        }
        self.fire_timers(now);
        Ok(())
    }

    fn ready_conn(&mut self, id: ConnId, readable: bool, writable: bool, now: Time) {
        let more = self
            .with_conn(id, now, |c, ctx| {
                c.on_ready(readable, writable, READ_BUDGET, ctx)
            })
            .unwrap_or(false);
        if more && self.conns.get(id).is_some() {
            self.again.push(id);
        }
    }

    fn fire_timers(&mut self, now: Time) {
        while let Some((at, id)) = self.deadlines.pop_due(now) {
            let live = self.conns.get(id).is_some_and(|c| c.timer_at == Some(at));
            if !live {
                continue;
            }
            if let Some(conn) = self.conns.get_mut(id) {
                conn.timer_at = None;
            }
            self.with_conn(id, now, |c, ctx| c.on_timer(ctx));
        }
        // Stale entries are bounded by the live ones.
        if self.deadlines.len() > 2 * self.conns.len() + 64 {
            let conns = &self.conns;
            self.deadlines
                .rebuild(|id, at| conns.get(id).is_some_and(|c| c.timer_at == Some(at)));
        }
    }

    /// Runs `f` on one connection, then reschedules its timer or removes
    /// it if it is over.
    fn with_conn<R>(
        &mut self,
        id: ConnId,
        now: Time,
        f: impl FnOnce(&mut Conn<E>, &mut Ctx<'_, E::Event>) -> R,
    ) -> Option<R> {
        let conn = self.conns.get_mut(id)?;
        let mut ctx = Ctx {
            id,
            now,
            buf: &mut self.buf,
            events: &mut self.ready,
            max_output: self.config.max_output,
            linger: self.config.linger,
            write_deadline: self.config.write_deadline,
            max_ready: MAX_READY,
        };
        let r = f(conn, &mut ctx);
        if conn.may_resume_reading() {
            // Its output got written: read what waits in the socket
            // (its readable edge came while reading was stopped).
            self.again.push(id);
        }
        if conn.is_done() {
            if let Some(mut conn) = self.conns.remove(id) {
                let _ = self.poll.registry().deregister(&mut conn.socket);
                self.ready.push_back(DriverEvent::Closed {
                    conn: id,
                    error: conn.error.take(),
                });
            }
        } else {
            let deadline = conn.deadline(self.config.write_deadline);
            if deadline != conn.timer_at {
                conn.timer_at = deadline;
                if let Some(at) = deadline {
                    self.deadlines.push(at, id);
                }
            }
        }
        Some(r)
    }
}

impl<E: Endpoint> std::fmt::Debug for Driver<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("connections", &self.conns.len())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
