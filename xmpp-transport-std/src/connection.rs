//! The blocking driver: one socket, one sans-IO endpoint, one thread.

use std::fmt;
use std::io;
use std::net::TcpStream;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use xmpp_proto::time::Time;

use crate::clock;

use xmpp_proto::endpoint::{Endpoint, Transmit};

use crate::error::Error;
use crate::remote::{BoxedCommand, Command, DEFAULT_COMMAND_BUDGET, Inbox, Msg, Remote};
use crate::server_tls::ServerTls;
use crate::tls::ClientTls;
use crate::wire::{Input, Role, Wire};

/// How long [`Connection`] waits for the peer to close after we shut
/// down, unless [`Connection::set_linger`] says otherwise.
pub const DEFAULT_LINGER: Duration = Duration::from_secs(2);

/// How long a write may block before the peer is considered gone, unless
/// [`Connection::set_write_timeout`] says otherwise.
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
/// After the endpoint asks for TLS ([`Transmit::StartTls`]) every byte
/// read goes to rustls: plaintext read after that point never reaches the
/// endpoint. Bytes read *before* it (in the same read as `<proceed/>`) do,
/// and the endpoint treats them as the STARTTLS injection they are.
/// A client checks the server's certificate against the XMPP domain given
/// in [`ClientTls`]; a server presents the certificate of its
/// [`ServerTls`].
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
    endpoint: E,
    wire: Wire,
    linger: Duration,
    linger_until: Option<Time>,
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
    /// The client side: on [`Transmit::StartTls`] the connection runs a
    /// TLS client handshake checked against `tls`.
    ///
    /// # Errors
    /// If the socket refuses its options (write timeout).
    pub fn new_client(socket: TcpStream, endpoint: E, tls: ClientTls) -> io::Result<Self> {
        Self::with_role(socket, endpoint, Role::Client(tls))
    }

    /// The server side: on [`Transmit::StartTls`] the connection runs a
    /// TLS server handshake presenting the certificate of `tls`.
    ///
    /// # Errors
    /// If the socket refuses its options (write timeout).
    pub fn new_server(socket: TcpStream, endpoint: E, tls: ServerTls) -> io::Result<Self> {
        Self::with_role(socket, endpoint, Role::Server(tls))
    }

    /// Either side, without TLS: an endpoint asking for TLS gets
    /// [`Error::Endpoint`]. For tests on loopback.
    ///
    /// # Errors
    /// If the socket refuses its options (write timeout).
    pub fn new_plain(socket: TcpStream, endpoint: E) -> io::Result<Self> {
        Self::with_role(socket, endpoint, Role::Plain)
    }

    fn with_role(socket: TcpStream, endpoint: E, role: Role) -> io::Result<Self> {
        socket.set_write_timeout(Some(DEFAULT_WRITE_TIMEOUT))?;
        Ok(Connection {
            endpoint,
            wire: Wire::new(socket, role),
            linger: DEFAULT_LINGER,
            linger_until: None,
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
            endpoint: self.endpoint,
            wire: self.wire,
            linger: self.linger,
            linger_until: self.linger_until,
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

    /// How long one write may block before the peer is declared gone
    /// ([`DEFAULT_WRITE_TIMEOUT`] unless set; `None` waits forever).
    ///
    /// # Errors
    /// If `timeout` is zero.
    pub fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.wire.socket().set_write_timeout(timeout)
    }

    /// The endpoint, to look at its state.
    pub fn endpoint(&self) -> &E {
        &self.endpoint
    }

    /// The endpoint, to give it commands. What they queue is written on
    /// the next [`Connection::next_event`] (or [`Connection::flush`]).
    pub fn endpoint_mut(&mut self) -> &mut E {
        &mut self.endpoint
    }

    /// The socket (for its addresses).
    pub fn socket(&self) -> &TcpStream {
        self.wire.socket()
    }

    /// Takes the endpoint and the socket back (without closing anything,
    /// unless [`Connection::remote`] was used: the socket is then shut
    /// down, to end the reader thread).
    pub fn into_parts(self) -> (E, TcpStream) {
        drop(self.inbox);
        (self.endpoint, self.wire.into_socket())
    }

    /// Whether the TLS handshake has completed.
    pub fn is_encrypted(&self) -> bool {
        self.wire.is_encrypted()
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
        let inbox = Inbox::start(self.wire.socket(), budget)?;
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
        let r = f(&mut self.endpoint, clock::now());
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
                self.wire.abort();
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
            if let ControlFlow::Break(b) = f(&mut self.endpoint, event) {
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
            if let Some(event) = self.endpoint.poll_event() {
                return Ok(Next::Event(event));
            }
            if self.finished || self.is_over() {
                self.finished = true;
                return Ok(Next::Closed);
            }
            let now = clock::now();
            let timer = self.endpoint.poll_timeout();
            if timer.is_some_and(|t| t <= now) {
                self.endpoint.handle_timeout(now);
                continue;
            }
            if deadline.is_some_and(|d| d <= now) {
                return Ok(Next::Deadline);
            }
            if self.linger_until.is_some_and(|t| t <= now) {
                // The peer did not close (or finish the handshake) in
                // time; we are done anyway.
                self.wire.abort();
                continue;
            }
            let wake = [deadline, timer, self.linger_until]
                .into_iter()
                .flatten()
                .min();
            if self.wire.is_read_closed() {
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
            if self.inbox.is_some() {
                self.receive_inbox(timeout)?;
            } else {
                self.receive(timeout)?;
            }
        }
    }

    /// One read, each input handed to the endpoint and its answers
    /// written before the next (the endpoint contract).
    fn receive(&mut self, timeout: Option<Duration>) -> Result<(), Error> {
        if let Err(e) = self.wire.receive(timeout) {
            if self.linger_until.is_some() {
                // We already shut down: a reset from a peer that closed
                // first is the end of the connection, not a failure.
                self.wire.abort();
                return Ok(());
            }
            return Err(self.fail(e));
        }
        self.feed_inputs()
    }

    /// One message from the reader thread or a [`Remote`].
    fn receive_inbox(&mut self, timeout: Option<Duration>) -> Result<(), Error> {
        let Some(msg) = self.inbox.as_ref().and_then(|i| i.recv(timeout)) else {
            return Ok(());
        };
        match msg {
            Msg::Command(command, _) => {
                command.run(&mut self.endpoint, clock::now());
                Ok(())
            }
            Msg::Bytes(buf) => {
                let mut data = buf.as_slice();
                let mut result = Ok(());
                while !data.is_empty() && !self.wire.is_read_closed() && result.is_ok() {
                    result = match self.wire.receive_bytes(&mut data) {
                        Ok(()) => self.feed_inputs(),
                        Err(e) => Err(self.fail(e)),
                    };
                }
                if let Some(inbox) = &self.inbox {
                    inbox.recycle(buf);
                }
                result
            }
            Msg::Eof => {
                self.wire.tcp_closed();
                self.feed_inputs()
            }
            Msg::Failed(e) if self.wire.is_read_closed() || self.linger_until.is_some() => {
                // We shut the socket down ourselves.
                drop(e);
                Ok(())
            }
            Msg::Failed(e) => Err(self.fail(e.into())),
        }
    }

    /// Hands what the wire produced to the endpoint, one input at a time.
    fn feed_inputs(&mut self) -> Result<(), Error> {
        loop {
            let Some(input) = self.wire.next_input() else {
                return Ok(());
            };
            let now = clock::now();
            // Once the endpoint is done, what still arrives is dropped.
            if !self.endpoint.is_closed() {
                // An input refused means the endpoint has ended; it says
                // why in its events.
                match input {
                    Input::Data(data) => {
                        let _ = self.endpoint.handle_input(now, data);
                    }
                    Input::TlsEstablished(info) => {
                        let _ = self.endpoint.handle_tls_established(now, info);
                    }
                    Input::Eof => self.endpoint.handle_eof(now),
                }
            }
            self.flush()?;
        }
    }

    fn flush_inner(&mut self) -> Result<(), Error> {
        loop {
            let taken = match self.endpoint.poll_transmit() {
                None => break,
                Some(Transmit::Data(data)) if self.broken => data.len(),
                Some(Transmit::Data(data)) => self.wire.write(data)?,
                Some(Transmit::StartTls) if self.broken => continue,
                Some(Transmit::StartTls) => {
                    self.wire.start_tls()?;
                    continue;
                }
                Some(Transmit::Shutdown) => {
                    self.shutdown();
                    continue;
                }
            };
            if taken == 0 {
                // TLS is still handshaking and buffers no more: read first.
                break;
            }
            self.endpoint.consume_transmit(taken);
        }
        if self.endpoint.is_closed() && self.linger_until.is_none() {
            // An endpoint that ended without asking to shut down.
            self.shutdown();
        }
        Ok(())
    }

    /// Starts the close; the linger time also bounds a TLS handshake
    /// the shutdown has to wait for.
    fn shutdown(&mut self) {
        if self.linger_until.is_none() {
            self.wire.shutdown();
            self.linger_until = Some(clock::now() + self.linger);
        }
    }

    /// Whether the connection has run its course.
    fn is_over(&self) -> bool {
        self.broken
            || (self.endpoint.is_closed()
                && self.wire.is_write_closed()
                && self.wire.is_read_closed())
    }

    /// Marks the connection dead and tells the endpoint.
    fn fail(&mut self, e: Error) -> Error {
        if !self.broken {
            self.broken = true;
            self.wire.abort();
            if !self.endpoint.is_closed() {
                self.endpoint.handle_eof(clock::now());
            }
            // Drain what the endpoint queued in answer; it goes nowhere.
            let _ = self.flush_inner();
        }
        e
    }
}

impl<E: Endpoint + fmt::Debug, C: Command<E>> fmt::Debug for Connection<E, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("endpoint", &self.endpoint)
            .field("encrypted", &self.is_encrypted())
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}
