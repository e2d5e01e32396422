//! The blocking driver: one socket, one sans-IO endpoint, one thread.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use xmpp_proto::endpoint::Endpoint;
use xmpp_proto::time::Time;

use crate::clock;
use crate::error::Error;
use crate::remote::{BoxedCommand, Command, DEFAULT_COMMAND_BUDGET, Inbox, Msg, Remote};
use crate::server_tls::ServerTls;
use crate::tls::ClientTls;
use crate::tls_pump::{SocketOutput, TlsPump};

/// How big one read is.
const READ_CHUNK: usize = 16 * 1024;

/// How long [`Connection`] waits for the peer to close after we shut
/// down, unless [`Connection::set_linger`] says otherwise.
pub const DEFAULT_LINGER: Duration = Duration::from_secs(2);

/// How long writing what is queued may take in all before the peer is
/// considered gone, unless [`Connection::set_write_timeout`] says
/// otherwise.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// A sans-IO endpoint (client or server role) driven over a blocking
/// `TcpStream`, with rustls for STARTTLS or direct TLS.
///
/// The connection owns the socket, the endpoint and the clock: it calls
/// the process clock ([`crate::clock`]) and hands the time to the endpoint. Everything happens
/// on the calling thread, inside [`Connection::next_event`] (or
/// [`Connection::run`]): write what the endpoint wants sent, run the TLS
/// handshake when it asks for TLS, fire its timers, and read (with a read
/// timeout set to its next deadline) until it has an event for you.
///
/// Commands (sending a stanza, closing) go to the endpoint, either through
/// [`Connection::command`], which passes the current time and writes the
/// result at once, or through [`Connection::endpoint_mut`]; what they
/// queue is written on the next call that drives the connection.
///
/// # TLS
/// TLS is the [`TlsPump`]'s (shared with the mio transport): after the
/// endpoint asks for TLS every byte read goes to rustls, so plaintext
/// read after that point never reaches the endpoint. Bytes read *before*
/// it (in the same read as `<proceed/>`) do, and the endpoint treats them
/// as the STARTTLS injection they are. A client checks the server's
/// certificate against the XMPP domain given in [`ClientTls`]; a server
/// presents the certificate of its [`ServerTls`].
///
/// # Closing
/// When the endpoint asks to shut down, the connection sends TLS
/// `close_notify`, shuts the socket down for writing and keeps reading
/// (discarding) until the peer closes too, for at most the linger time
/// ([`DEFAULT_LINGER`]); then [`Next::Closed`]. A socket or TLS failure
/// is returned once as an [`Error`]; the endpoint is told the connection
/// was lost, and its last events can still be taken.
///
/// ```no_run
/// use std::net::TcpListener;
/// use xmpp_proto::endpoint::Endpoint;
/// use xmpp_transport_std::{Connection, ServerTls};
///
/// // A thread-per-connection server: `make_endpoint` builds the sans-IO
/// // server role for each accepted socket.
/// fn serve<E: Endpoint + Send + 'static>(
///     listener: TcpListener,
///     tls: ServerTls,
///     make_endpoint: impl Fn() -> E,
/// ) -> std::io::Result<()>
/// where
///     E::Event: std::fmt::Debug,
/// {
///     for tcp in listener.incoming() {
///         let mut conn = Connection::new_server(tcp?, make_endpoint(), tls.clone())?;
///         std::thread::spawn(move || {
///             while let Ok(Some(event)) = conn.next_event() {
///                 println!("{event:?}");
///             }
///         });
///     }
///     Ok(())
/// }
/// ```
///
/// `C` is the type of the commands other threads send through a
/// [`Remote`]: closures unless a typed command is chosen with
/// [`Connection::remote_with_budget`].
pub struct Connection<E: Endpoint, C = BoxedCommand<E>> {
    pump: TlsPump<E>,
    socket: TcpStream,
    buf: Box<[u8]>,
    linger: Duration,
    /// How long writing what is queued may take in all.
    write_timeout: Option<Duration>,
    /// Set once our write side is shut: how long we wait for the peer's
    /// close.
    linger_until: Option<Time>,
    /// Nothing more will be read (the peer closed, or we gave up).
    read_closed: bool,
    /// A socket or TLS failure happened: nothing more goes over the wire.
    broken: bool,
    /// [`Next::Closed`] has been reached.
    finished: bool,
    /// Set once [`Connection::remote`] moved reading to another thread.
    inbox: Option<Inbox<C>>,
    command: std::marker::PhantomData<fn(C)>,
}

/// What [`Connection::next_event_until`] came back with.
#[derive(Debug)]
pub enum Next<Ev> {
    /// The endpoint reported something.
    Event(Ev),
    /// The deadline passed with no event.
    Deadline,
    /// The connection is over: the endpoint is closed and has no events
    /// left, and the socket is shut down (or the peer has closed and
    /// nothing can happen any more).
    Closed,
}

impl<E: Endpoint> Connection<E> {
    /// The client side: on the endpoint's `StartTls` the connection runs a
    /// TLS client handshake checked against `tls`.
    ///
    /// # Errors
    /// If the socket refuses its options (write timeout).
    pub fn new_client(socket: TcpStream, endpoint: E, tls: ClientTls) -> io::Result<Self> {
        Self::with_pump(socket, TlsPump::client(endpoint, Arc::new(tls)))
    }

    /// The server side: on the endpoint's `StartTls` the connection runs a
    /// TLS server handshake presenting the certificate of `tls`.
    ///
    /// # Errors
    /// If the socket refuses its options (write timeout).
    pub fn new_server(socket: TcpStream, endpoint: E, tls: ServerTls) -> io::Result<Self> {
        Self::with_pump(socket, TlsPump::server(endpoint, Arc::new(tls)))
    }

    /// Either side, without TLS: an endpoint asking for TLS gets
    /// [`Error::Endpoint`]. For tests on loopback.
    ///
    /// # Errors
    /// If the socket refuses its options (write timeout).
    pub fn new_plain(socket: TcpStream, endpoint: E) -> io::Result<Self> {
        Self::with_pump(socket, TlsPump::plain(endpoint))
    }

    fn with_pump(socket: TcpStream, pump: TlsPump<E>) -> io::Result<Self> {
        socket.set_write_timeout(Some(DEFAULT_WRITE_TIMEOUT))?;
        Ok(Connection {
            pump,
            socket,
            buf: vec![0; READ_CHUNK].into_boxed_slice(),
            linger: DEFAULT_LINGER,
            write_timeout: Some(DEFAULT_WRITE_TIMEOUT),
            linger_until: None,
            read_closed: false,
            broken: false,
            finished: false,
            inbox: None,
            command: std::marker::PhantomData,
        })
    }

    /// The same connection, with typed commands of type `C` for its
    /// [`Remote`]s instead of closures; the connection back in `Err` if a
    /// remote exists already.
    pub fn with_command_type<C: Command<E>>(self) -> Result<Connection<E, C>, Box<Self>> {
        if self.inbox.is_some() {
            return Err(Box::new(self));
        }
        Ok(Connection {
            pump: self.pump,
            socket: self.socket,
            buf: self.buf,
            linger: self.linger,
            write_timeout: self.write_timeout,
            linger_until: self.linger_until,
            read_closed: self.read_closed,
            broken: self.broken,
            finished: self.finished,
            inbox: None,
            command: std::marker::PhantomData,
        })
    }
}

impl<E: Endpoint, C: Command<E>> Connection<E, C> {
    /// How long to wait for the peer's close after ours
    /// ([`DEFAULT_LINGER`] unless set).
    pub fn set_linger(&mut self, linger: Duration) {
        self.linger = linger;
    }

    /// How long writing what is queued may take in all before the peer
    /// is declared gone ([`DEFAULT_WRITE_TIMEOUT`] unless set; `None`
    /// waits forever): a total, so a peer that takes a few bytes now and
    /// then cannot hold a write forever ([`Error::WriteDeadline`]).
    ///
    /// # Errors
    /// If `timeout` is zero.
    pub fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.socket.set_write_timeout(timeout)?;
        self.write_timeout = timeout;
        Ok(())
    }

    /// The endpoint, to look at its state.
    pub fn endpoint(&self) -> &E {
        self.pump.endpoint()
    }

    /// The endpoint, to give it commands. What they queue is written on
    /// the next [`Connection::next_event`] (or [`Connection::flush`]).
    pub fn endpoint_mut(&mut self) -> &mut E {
        self.pump.endpoint_mut()
    }

    /// The socket (for its addresses).
    pub fn socket(&self) -> &TcpStream {
        &self.socket
    }

    /// Takes the endpoint and the socket back (without closing anything,
    /// unless [`Connection::remote`] was used: the socket is then shut
    /// down, to end the reader thread).
    pub fn into_parts(self) -> (E, TcpStream) {
        drop(self.inbox);
        (self.pump.into_endpoint(), self.socket)
    }

    /// Whether the TLS handshake has completed.
    pub fn is_encrypted(&self) -> bool {
        self.pump.is_encrypted()
    }

    /// Whether [`Next::Closed`] has been reached.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// A handle through which other threads give the endpoint commands
    /// (a server's router delivering a stanza to this session, say).
    ///
    /// The first call moves socket reads to a helper thread, so that this
    /// connection's thread, inside [`Connection::next_event`], wakes up
    /// for socket bytes and commands alike. The helper thread ends when
    /// the connection is dropped.
    ///
    /// ```no_run
    /// # use xmpp_transport_std::Connection;
    /// # fn f<E: xmpp_proto::endpoint::Endpoint + Send + 'static>(mut conn: Connection<E>) -> std::io::Result<()>
    /// # where E::Event: Send {
    /// let remote = conn.remote()?;
    /// std::thread::spawn(move || while let Ok(Some(_event)) = conn.next_event() {});
    /// // From any thread:
    /// remote.command(|endpoint, now| { /* endpoint.send(now, ...) */ }).ok();
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// If the socket cannot be cloned or the thread cannot be started.
    pub fn remote(&mut self) -> io::Result<Remote<E, C>> {
        self.remote_with_budget(DEFAULT_COMMAND_BUDGET)
    }

    /// [`Connection::remote`], with at most `budget` bytes in the typed
    /// commands waiting (see [`Command::weight`]); the budget is fixed by
    /// the first call.
    ///
    /// # Errors
    /// If the socket cannot be cloned or the thread cannot be started.
    pub fn remote_with_budget(&mut self, budget: usize) -> io::Result<Remote<E, C>> {
        if let Some(inbox) = &self.inbox {
            return Ok(inbox.remote());
        }
        let inbox = Inbox::start(&self.socket, budget)?;
        let remote = inbox.remote();
        self.inbox = Some(inbox);
        Ok(remote)
    }

    /// Gives the endpoint a command with the current time, then writes
    /// what it queued.
    ///
    /// ```no_run
    /// # use xmpp_proto::client::Client;
    /// # fn f(conn: &mut xmpp_transport_std::Connection<Client>) -> Result<(), Box<dyn std::error::Error>> {
    /// conn.command(|client, now| client.send_message(now, "romeo@example.net", "hi", false))??;
    /// conn.command(|client, now| client.close(now))?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// If writing fails; the command has been given all the same.
    pub fn command<R>(&mut self, f: impl FnOnce(&mut E, Time) -> R) -> Result<R, Error> {
        let r = f(self.pump.endpoint_mut(), clock::now());
        self.flush()?;
        Ok(r)
    }

    /// Writes everything the endpoint has queued (and runs the TLS
    /// handshake or the shutdown if it asks for them).
    ///
    /// # Errors
    /// If the socket or TLS fails; see [`Error`].
    pub fn flush(&mut self) -> Result<(), Error> {
        match self.flush_inner() {
            // After our shutdown, a peer that already closed may refuse
            // the close_notify; the connection is over either way.
            Err(_) if self.linger_until.is_some() => {
                self.abort();
                Ok(())
            }
            r => r.map_err(|e| self.fail(e)),
        }
    }

    /// Blocks until the endpoint reports an event; `None` once the
    /// connection is over (see [`Next::Closed`]).
    ///
    /// # Errors
    /// A socket or TLS failure, once; see [`Error`].
    pub fn next_event(&mut self) -> Result<Option<E::Event>, Error> {
        match self.drive(None)? {
            Next::Event(ev) => Ok(Some(ev)),
            Next::Deadline | Next::Closed => Ok(None),
        }
    }

    /// Like [`Connection::next_event`], but gives up at `deadline` (for
    /// an application that also has timers of its own, or must look at a
    /// channel now and then).
    ///
    /// # Errors
    /// A socket or TLS failure, once; see [`Error`].
    pub fn next_event_until(&mut self, deadline: Instant) -> Result<Next<E::Event>, Error> {
        self.drive(Some(clock::time(deadline)))
    }

    /// Hands every event to `f` (with the endpoint, to answer it) until
    /// `f` breaks (`Some(value)`) or the connection is over (`None`).
    ///
    /// ```no_run
    /// # use std::ops::ControlFlow;
    /// # use xmpp_proto::client::{Client, ClientEvent};
    /// # fn f(conn: &mut xmpp_transport_std::Connection<Client>) -> Result<(), xmpp_transport_std::Error> {
    /// // Wait until logged in.
    /// let jid = conn.run(|_, event| match event {
    ///     ClientEvent::Online { jid } => ControlFlow::Break(jid),
    ///     _ => ControlFlow::Continue(()),
    /// })?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// A socket or TLS failure, once; see [`Error`].
    pub fn run<B>(
        &mut self,
        mut f: impl FnMut(&mut E, E::Event) -> ControlFlow<B>,
    ) -> Result<Option<B>, Error> {
        while let Some(event) = self.next_event()? {
            if let ControlFlow::Break(b) = f(self.pump.endpoint_mut(), event) {
                self.flush()?;
                return Ok(Some(b));
            }
        }
        Ok(None)
    }

    /// The driving loop: write, hand out events, fire timers, read.
    fn drive(&mut self, deadline: Option<Time>) -> Result<Next<E::Event>, Error> {
        loop {
            self.flush()?;
            if let Some(event) = self.pump.poll_event() {
                return Ok(Next::Event(event));
            }
            if self.finished || self.is_over() {
                self.finished = true;
                return Ok(Next::Closed);
            }
            let now = clock::now();
            let timer = self.pump.poll_timeout();
            if timer.is_some_and(|t| t <= now) {
                self.pump.handle_timeout(now);
                continue;
            }
            if deadline.is_some_and(|d| d <= now) {
                return Ok(Next::Deadline);
            }
            if self.linger_until.is_some_and(|t| t <= now) {
                // The peer did not close (or finish the handshake) in
                // time; we are done anyway.
                self.abort();
                continue;
            }
            let wake = [deadline, timer, self.linger_until]
                .into_iter()
                .flatten()
                .min();
            if self.read_closed {
                // Nothing can arrive any more; only a timer (or a
                // command) can move on.
                let Some(wake) = wake else {
                    self.finished = true;
                    return Ok(Next::Closed);
                };
                if self.inbox.is_none() {
                    std::thread::sleep(wake.saturating_duration_since(now));
                    continue;
                }
            }
            let timeout = wake.map(|t| t.saturating_duration_since(now));
            // We only read with every event taken and all output written
            // (the flush above blocks until it is, or the write timeout
            // ends the connection): the endpoint's `wants_read` holds.
            if self.inbox.is_some() {
                self.receive_inbox(timeout)?;
            } else {
                self.receive(timeout)?;
            }
        }
    }

    /// One read from the socket, handed to the endpoint through the pump.
    fn receive(&mut self, timeout: Option<Duration>) -> Result<(), Error> {
        // A zero timeout means "block forever" to std; never ask for it.
        let timeout = timeout.map(|t| t.max(Duration::from_millis(1)));
        if let Err(e) = self.socket.set_read_timeout(timeout) {
            return Err(self.fail(e.into()));
        }
        let n = loop {
            match self.socket.read(&mut self.buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => return Ok(()),
                Err(_) if self.linger_until.is_some() => {
                    // We already shut down: a reset from a peer that
                    // closed first is the end of the connection.
                    self.abort();
                    return Ok(());
                }
                Err(e) => return Err(self.fail(e.into())),
            }
        };
        self.feed(n)
    }

    /// Hands `self.buf[..n]` (0: the peer closed) to the pump.
    fn feed(&mut self, n: usize) -> Result<(), Error> {
        let now = clock::now();
        if n == 0 {
            self.read_closed = true;
            self.pump.handle_socket_eof(now);
            return Ok(());
        }
        let data = self.buf.get(..n).unwrap_or_default();
        match self.pump.handle_socket_data(now, data) {
            Ok(()) => Ok(()),
            Err(e) => {
                // The pump told the endpoint; send the alert it prepared.
                let _ = self.flush_inner();
                Err(self.fail(e))
            }
        }
    }

    /// One message from the reader thread or a [`Remote`].
    fn receive_inbox(&mut self, timeout: Option<Duration>) -> Result<(), Error> {
        let Some(msg) = self.inbox.as_ref().and_then(|i| i.recv(timeout)) else {
            return Ok(());
        };
        match msg {
            Msg::Command(command, _) => {
                command.run(self.pump.endpoint_mut(), clock::now());
                Ok(())
            }
            Msg::Bytes(buf) => {
                let result = if self.read_closed {
                    Ok(())
                } else {
                    let now = clock::now();
                    match self.pump.handle_socket_data(now, &buf) {
                        Ok(()) => Ok(()),
                        Err(e) => {
                            let _ = self.flush_inner();
                            Err(self.fail(e))
                        }
                    }
                };
                if let Some(inbox) = &self.inbox {
                    inbox.recycle(buf);
                }
                result
            }
            Msg::Eof => {
                if !self.read_closed {
                    self.read_closed = true;
                    self.pump.handle_socket_eof(clock::now());
                }
                Ok(())
            }
            Msg::Failed(e) if self.read_closed || self.linger_until.is_some() => {
                // We shut the socket down ourselves.
                drop(e);
                self.read_closed = true;
                Ok(())
            }
            Msg::Failed(e) => Err(self.fail(e.into())),
        }
    }

    /// Writes what the pump has for the socket.
    fn flush_inner(&mut self) -> Result<(), Error> {
        let started = Instant::now();
        let mut shortened = false;
        let r = self.write_queued(started, &mut shortened);
        if shortened {
            // Back to the whole allowance for the next flush.
            let _ = self.socket.set_write_timeout(self.write_timeout);
        }
        r
    }

    /// Writes until the pump has nothing more; after the first write,
    /// each one may only block for what is left of the write timeout.
    fn write_queued(&mut self, started: Instant, shortened: &mut bool) -> Result<(), Error> {
        let mut first = true;
        while let Some(output) = self.pump.poll_socket_output() {
            match output {
                SocketOutput::Data(data) if self.broken => {
                    let n = data.len();
                    self.pump.consume_socket_output(n);
                }
                SocketOutput::Data(data) => {
                    if let (Some(total), false) = (self.write_timeout, first) {
                        let waited = started.elapsed();
                        let left = total.saturating_sub(waited);
                        if left.is_zero() || self.socket.set_write_timeout(Some(left)).is_err() {
                            return Err(Error::WriteDeadline { waited });
                        }
                        *shortened = true;
                    }
                    first = false;
                    let written = loop {
                        match self.socket.write(data) {
                            Ok(0) if !data.is_empty() => {
                                return Err(io::Error::from(io::ErrorKind::WriteZero).into());
                            }
                            Ok(n) => break Ok(n),
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => break Err(e),
                        }
                    };
                    match written {
                        Ok(n) => self.pump.consume_socket_output(n),
                        // Our farewell (a close frame, TLS close_notify)
                        // met a peer that had already closed: the session
                        // is over either way and nothing of it is lost.
                        Err(e) if self.pump.is_shutting_down() && peer_went_away(&e) => {
                            self.broken = true;
                        }
                        Err(e) => return Err(write_error(e)),
                    }
                }
                SocketOutput::ShutdownWrite => {
                    let _ = self.socket.shutdown(Shutdown::Write);
                    self.linger_until = Some(clock::now() + self.linger);
                }
            }
        }
        if let Some(e) = self.pump.take_endpoint_error() {
            return Err(e);
        }
        if self.pump.endpoint().is_closed() && !self.pump.is_shutting_down() && !self.broken {
            // An endpoint that ended without asking to shut down.
            self.pump.shutdown();
            return self.write_queued(started, shortened);
        }
        Ok(())
    }

    /// Whether the connection has run its course.
    fn is_over(&self) -> bool {
        self.broken || (self.pump.is_done() && self.read_closed)
    }

    /// Drops the connection at once, both ways.
    fn abort(&mut self) {
        let _ = self.socket.shutdown(Shutdown::Both);
        self.read_closed = true;
        if !self.pump.is_write_shut() {
            self.pump.handle_socket_error(clock::now());
        }
        self.broken = self.broken || !self.pump.is_done();
    }

    /// Marks the connection dead and tells the endpoint.
    fn fail(&mut self, e: Error) -> Error {
        if !self.broken {
            self.broken = true;
            let _ = self.socket.shutdown(Shutdown::Both);
            self.read_closed = true;
            self.pump.handle_socket_error(clock::now());
            // Drain what the endpoint queued in answer; it goes nowhere.
            let _ = self.flush_inner();
        }
        e
    }
}

/// A write failed because the peer closed the connection first.
fn peer_went_away(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
    )
}

/// A read that timed out: nothing happened.
fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// A write timeout means the peer stopped reading; say so.
fn write_error(e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Io(io::Error::new(
            io::ErrorKind::TimedOut,
            "the peer stopped reading (write timeout)",
        )),
        _ => Error::Io(e),
    }
}

impl<E: Endpoint + fmt::Debug, C: Command<E>> fmt::Debug for Connection<E, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("endpoint", self.pump.endpoint())
            .field("encrypted", &self.is_encrypted())
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}
