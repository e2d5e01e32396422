//! A thin tokio transport for [`xmpp_proto`]: one task per connection,
//! driving any sans-IO endpoint (client, server, component, or one behind
//! WebSocket) over a tokio `TcpStream`, with timers from tokio's clock and
//! a channel-based [`Session`] handle for the application.
//!
//! TLS is the sans-IO [`TlsPump`] of `xmpp-transport-std` (rustls over
//! memory: STARTTLS, direct TLS, channel binding), and WebSocket its
//! [`WsEndpoint`](xmpp_transport_std::websocket::WsEndpoint): the task
//! only moves their bytes, so every runtime shares one implementation of
//! each. Nothing here blocks a tokio thread.
//!
//! ```no_run
//! use xmpp_proto::client::{Client, ClientConfig, ClientEvent};
//! use xmpp_proto::jid::Jid;
//! use xmpp_transport_std::{ClientTls, TrustAnchors};
//! use xmpp_transport_tokio::{Session, now};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ClientConfig::new(Jid::new("alice@example.com")?, "secret");
//! let tls = ClientTls::new(&TrustAnchors::webpki_roots(), config.domain())?;
//! let tcp = tokio::net::TcpStream::connect(("example.com", 5222)).await?;
//! let mut session = Session::client(tcp, Client::new(config, now()), tls);
//! while let Some(event) = session.next_event().await {
//!     if let ClientEvent::Online { jid } = event {
//!         println!("online as {jid}");
//!         session
//!             .command(|client, now| client.send_message(now, "bob@example.com", "hi", false))
//!             .await??;
//!         session.command(|client, now| client.close(now)).await?;
//!     }
//! }
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

use std::fmt;
use std::sync::Arc;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use xmpp_proto::endpoint::Endpoint;
use xmpp_proto::time::Time;
use xmpp_transport_std::tls_pump::{SocketOutput, TlsPump};
use xmpp_transport_std::{ClientTls, ServerTls};

pub use xmpp_transport_std::Error;

/// Events that may wait for the application before the task stops
/// reading (backpressure: a slow application slows its peer down).
pub const EVENT_QUEUE: usize = 256;

/// Commands that may wait for the task.
pub const COMMAND_QUEUE: usize = 256;

/// How long the task waits for the peer's close after ours.
pub const LINGER: Duration = Duration::from_secs(2);

/// How big one read is.
const READ_CHUNK: usize = 16 * 1024;

/// The time on tokio's clock, as the core counts it (from the first call
/// in this process). Pass it to endpoints you create; the task uses the
/// same clock, so tokio's paused time in tests moves the core's too.
pub fn now() -> Time {
    static EPOCH: OnceLock<tokio::time::Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(tokio::time::Instant::now);
    Time::from_duration(tokio::time::Instant::now().saturating_duration_since(epoch))
}

/// The tokio instant at which core time `at` comes.
fn instant_of(at: Time) -> tokio::time::Instant {
    let now = now();
    tokio::time::Instant::now() + at.saturating_duration_since(now)
}

type Command<E> = Box<dyn FnOnce(&mut E, Time) + Send>;

/// The application's side of one connection: its events, and commands for
/// its endpoint. Dropping it leaves the connection running until the
/// endpoint ends (close it first for a clean end).
pub struct Session<E: Endpoint> {
    events: mpsc::Receiver<E::Event>,
    handle: SessionHandle<E>,
    task: JoinHandle<Result<(), Error>>,
}

/// A clonable way to give a session's endpoint commands from other
/// tasks.
pub struct SessionHandle<E> {
    commands: mpsc::Sender<Command<E>>,
}

impl<E> Clone for SessionHandle<E> {
    fn clone(&self) -> Self {
        SessionHandle {
            commands: self.commands.clone(),
        }
    }
}

impl<E> fmt::Debug for SessionHandle<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionHandle").finish_non_exhaustive()
    }
}

/// The connection's task has ended; the command did not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gone;

impl fmt::Display for Gone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the connection has ended; the command did not run")
    }
}

impl std::error::Error for Gone {}

impl<E> SessionHandle<E>
where
    E: Endpoint + Send + 'static,
{
    /// Runs `f` on the endpoint inside the connection's task, with the
    /// current time, and returns its result; what it queues is written at
    /// once.
    ///
    /// # Errors
    /// [`Gone`] if the connection's task has ended.
    pub async fn command<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut E, Time) -> R + Send + 'static,
    ) -> Result<R, Gone> {
        let (tx, rx) = oneshot::channel();
        let command: Command<E> = Box::new(move |endpoint, now| {
            let _ = tx.send(f(endpoint, now));
        });
        self.commands.send(command).await.map_err(|_| Gone)?;
        rx.await.map_err(|_| Gone)
    }
}

impl<E> Session<E>
where
    E: Endpoint + Send + 'static,
    E::Event: Send + 'static,
{
    /// A client side on `tcp`: the endpoint's `StartTls` runs a TLS
    /// client handshake checked against `tls`.
    pub fn client(tcp: TcpStream, endpoint: E, tls: ClientTls) -> Self {
        Self::spawn(tcp, TlsPump::client(endpoint, Arc::new(tls)))
    }

    /// A server side on an accepted `tcp`: the endpoint's `StartTls` runs
    /// a TLS server handshake presenting `tls`.
    pub fn server(tcp: TcpStream, endpoint: E, tls: ServerTls) -> Self {
        Self::spawn(tcp, TlsPump::server(endpoint, Arc::new(tls)))
    }

    /// Either side without TLS (tests on loopback, components on a
    /// trusted network).
    pub fn plain(tcp: TcpStream, endpoint: E) -> Self {
        Self::spawn(tcp, TlsPump::plain(endpoint))
    }

    /// Starts the connection's task on the current tokio runtime.
    pub fn spawn(tcp: TcpStream, pump: TlsPump<E>) -> Self {
        let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
        let (commands, commands_rx) = mpsc::channel(COMMAND_QUEUE);
        let task = tokio::spawn(drive(tcp, pump, events_tx, commands_rx));
        Session {
            events,
            handle: SessionHandle { commands },
            task,
        }
    }

    /// The endpoint's next event; `None` once the connection is over and
    /// every event was taken.
    pub async fn next_event(&mut self) -> Option<E::Event> {
        self.events.recv().await
    }

    /// See [`SessionHandle::command`].
    ///
    /// # Errors
    /// [`Gone`] if the connection's task has ended.
    pub async fn command<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut E, Time) -> R + Send + 'static,
    ) -> Result<R, Gone> {
        self.handle.command(f).await
    }

    /// A handle for other tasks.
    pub fn handle(&self) -> SessionHandle<E> {
        self.handle.clone()
    }

    /// Waits for the connection's task to end (after the last event was
    /// taken, or the session dropped its events); the socket or TLS
    /// failure that ended it, if one did.
    ///
    /// # Errors
    /// The failure; a task that panicked is reported as an I/O error.
    pub async fn finish(self) -> Result<(), Error> {
        drop(self.events);
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(Error::Io(std::io::Error::other(e.to_string()))),
        }
    }
}

impl<E: Endpoint> fmt::Debug for Session<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

/// The connection's task: write what the pump has, hand events over,
/// then wait for the socket, a command or the next timer.
async fn drive<E: Endpoint>(
    mut tcp: TcpStream,
    mut pump: TlsPump<E>,
    events: mpsc::Sender<E::Event>,
    mut commands: mpsc::Receiver<Command<E>>,
) -> Result<(), Error> {
    let _ = tcp.set_nodelay(true);
    let mut buf = vec![0u8; READ_CHUNK];
    let mut read_closed = false;
    let mut commands_open = true;
    let mut linger_until: Option<tokio::time::Instant> = None;
    let mut failure: Option<Error> = None;
    let mut discard = false;
    loop {
        if failure.is_none() {
            if let Err(e) = write_out(&mut tcp, &mut pump, &mut linger_until, &mut discard).await {
                pump.handle_socket_error(now());
                failure = Some(e);
            }
        }
        if let Some(e) = pump.take_endpoint_error() {
            pump.handle_socket_error(now());
            failure.get_or_insert(e);
        }
        while let Some(event) = pump.poll_event() {
            // A dropped receiver only means nobody listens any more.
            let _ = events.send(event).await;
        }
        let over = failure.is_some() || (pump.is_done() && (read_closed || discard));
        let lingered = linger_until.is_some_and(|t| tokio::time::Instant::now() >= t);
        if over || lingered {
            break;
        }
        if pump.endpoint().is_closed() && !pump.is_shutting_down() {
            pump.shutdown();
            continue;
        }
        let timer = pump.poll_timeout().map(instant_of);
        let wake = match (timer, linger_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let reading = !read_closed && (pump.wants_read() || pump.is_shutting_down());
        tokio::select! {
            read = tcp.read(&mut buf), if reading => match read {
                Ok(0) => {
                    read_closed = true;
                    pump.handle_socket_eof(now());
                }
                Ok(n) => {
                    if let Err(e) = pump.handle_socket_data(now(), buf.get(..n).unwrap_or_default()) {
                        failure = Some(e);
                    }
                }
                Err(e) => {
                    read_closed = true;
                    pump.handle_socket_error(now());
                    failure = Some(Error::Io(e));
                }
            },
            command = commands.recv(), if commands_open => match command {
                Some(command) => command(pump.endpoint_mut(), now()),
                None => commands_open = false,
            },
            () = sleep_until(wake), if wake.is_some() => {
                pump.handle_timeout(now());
            }
        }
    }
    // Whatever is left goes to the application before the channel closes.
    while let Some(event) = pump.poll_event() {
        let _ = events.send(event).await;
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Writes everything the pump has for the socket; with `discard` (the
/// peer has gone), takes it without writing.
async fn write_out<E: Endpoint>(
    tcp: &mut TcpStream,
    pump: &mut TlsPump<E>,
    linger_until: &mut Option<tokio::time::Instant>,
    discard: &mut bool,
) -> Result<(), Error> {
    while let Some(output) = pump.poll_socket_output() {
        match output {
            SocketOutput::Data(data) if *discard => {
                let n = data.len();
                pump.consume_socket_output(n);
            }
            SocketOutput::Data(data) => match tcp.write(data).await {
                Ok(0) => return Err(Error::Io(std::io::ErrorKind::WriteZero.into())),
                Ok(n) => pump.consume_socket_output(n),
                // Our farewell (a close frame, close_notify) met a peer
                // that had closed first: nothing of the session is lost.
                Err(e) if pump.is_shutting_down() && peer_went_away(&e) => *discard = true,
                Err(e) => return Err(Error::Io(e)),
            },
            SocketOutput::ShutdownWrite => {
                let _ = tcp.shutdown().await;
                *linger_until = Some(tokio::time::Instant::now() + LINGER);
            }
        }
    }
    Ok(())
}

fn peer_went_away(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::BrokenPipe
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
    )
}
