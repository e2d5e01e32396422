//! An XMPP server on one thread: listeners, logins against stored SCRAM
//! keys, and the core's [`Hub`] deciding for every session, all on a
//! [`Driver`].
//!
//! The thread-per-connection `xmpp_transport_std::serve` shares its hub
//! behind a mutex and hands commands between threads; here every session
//! lives on the driver's thread, so the hub is a plain field and applying
//! one of its commands is a direct call on the receiving connection's
//! `Server`. A receiver that does not read is dropped by the driver's
//! output limit ([`DriverConfig::max_output`]); the sender never waits.
//!
//! ```no_run
//! use std::net::TcpListener;
//! use xmpp_transport_mio::serve::MioServer;
//! use xmpp_transport_std::ServerTls;
//! use xmpp_transport_std::serve::Accounts;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut accounts = Accounts::new();
//! accounts.add("alice", "alice-secret")?;
//! let tls = ServerTls::from_pem_files("fullchain.pem", "privkey.pem")?;
//! let mut server = MioServer::new("example.com", tls, accounts, Default::default())?
//!     .with_log(|log| eprintln!("{log}"));
//! server.listen(TcpListener::bind("0.0.0.0:5222")?, false)?;
//! server.listen(TcpListener::bind("0.0.0.0:5223")?, true)?;
//! loop {
//!     server.poll(None, |_token| {})?;
//! }
//! # }
//! ```

mod accept;
mod federation;
mod hub_loop;
mod login_pool;

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use xmpp_transport_std::clock;

use mio::net::TcpListener;
use mio::{Interest, Registry, Token};
use xmpp_proto::endpoint::CloseReason;
use xmpp_proto::hub::{Hub, HubStats};
use xmpp_proto::jid::{FullJid, JidError};
use xmpp_proto::router::Router;
use xmpp_proto::server::ServerConfig;
use xmpp_transport_std::ServerTls;
pub use xmpp_transport_std::serve::SessionLog;
use xmpp_transport_std::serve::{AccountStore, Admission, Listener, seed_hub};
use xmpp_transport_std::websocket::ServerEndpoint;

use crate::{ConnId, Driver, DriverConfig, DriverEvent, MAX_USER_TOKEN};

/// The largest token for sources of your own in [`MioServer::registry`];
/// the few above it (up to [`MAX_USER_TOKEN`]) are the listeners'.
pub const MAX_SERVER_USER_TOKEN: Token = Token(MAX_USER_TOKEN.0 - 64);

/// How many connections a [`MioServer`] accepts at once unless
/// [`MioServer::with_max_sessions`] says otherwise.
pub const DEFAULT_MAX_CONNECTIONS: usize = 65_536;

/// How many connections one IP address may hold at once unless
/// [`MioServer::with_max_per_address`] says otherwise.
pub const DEFAULT_MAX_PER_ADDRESS: usize = 1024;

/// How many connections may be unauthenticated at once unless
/// [`MioServer::with_max_unauthenticated`] says otherwise.
pub const DEFAULT_MAX_UNAUTHENTICATED: usize = 8192;

/// How many unauthenticated connections one IP address may hold at once
/// unless [`MioServer::with_max_unauthenticated`] says otherwise.
pub const DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS: usize = 128;

/// How long a poll may sleep while login answers are due.
const LOGIN_POLL: Duration = Duration::from_millis(2);

/// How many listeners one server can have.
const MAX_LISTENERS: usize = 63;

type Configure = Box<dyn Fn(ServerConfig) -> ServerConfig>;
type LogHook = Box<dyn FnMut(&SessionLog<'_>)>;

/// Counters of a [`MioServer`] since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections refused because [`MioServer::with_max_sessions`] or
    /// [`MioServer::with_max_per_address`] was reached.
    pub refused: u64,
    /// Sessions that got online.
    pub online: u64,
    /// Connections that ended.
    pub ended: u64,
    /// Of those, ended by a socket, TLS or output-limit failure.
    pub failed: u64,
    /// Of those, dropped by the output limit.
    pub output_limit: u64,
    /// Stanzas received from clients and routed.
    pub stanzas: u64,
    /// Stream-managed sessions kept after their connection broke.
    pub detached: u64,
    /// Of those, resumed on a new connection.
    pub resumed: u64,
    /// Of those, expired (their queued stanzas bounced or stored).
    pub expired: u64,
    /// Stanzas that could not be delivered to their session and were
    /// given to another resource, stored or bounced instead.
    pub rerouted: u64,
}

/// A single-threaded XMPP server. See the module documentation.
pub struct MioServer {
    driver: Driver<ServerEndpoint>,
    listeners: Vec<(TcpListener, Listener)>,
    domain: String,
    tls: Arc<ServerTls>,
    /// Answers login questions off the loop's thread.
    logins: login_pool::LoginPool,
    hub: Hub,
    configure: Option<Configure>,
    log: Option<LogHook>,
    max_sessions: usize,
    /// Connections per client address, and those not logged in.
    admission: Admission,
    /// Each connection's address, and whether it has authenticated.
    addresses: HashMap<ConnId, (IpAddr, bool)>,
    /// Why sessions that just reported `Closed` ended, until the driver
    /// removes their connection.
    ending: HashMap<ConnId, CloseReason>,
    /// The JID of each session that got online, for its last log line.
    jids: HashMap<ConnId, FullJid>,
    stats: Stats,
    /// Rosters and offline messages (the same store as the logins').
    store: Arc<dyn AccountStore>,
    /// Federation, if on.
    s2s: Option<federation::S2s>,
}

impl MioServer {
    /// A server for `domain`, presenting `tls`, checking logins against
    /// `accounts`. Defaults: STARTTLS required on plain listeners, the
    /// core's SASL mechanisms, a router with its default policies, at
    /// most [`DEFAULT_MAX_CONNECTIONS`] connections and
    /// [`DEFAULT_MAX_PER_ADDRESS`] from one address, no log.
    ///
    /// # Errors
    /// If `domain` is not a valid XMPP domain, or the poll cannot be made.
    pub fn new(
        domain: &str,
        tls: ServerTls,
        accounts: impl AccountStore + 'static,
        config: DriverConfig,
    ) -> io::Result<Self> {
        let hub = Hub::new(domain)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let driver = Driver::new(config)?;
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
        let store: Arc<dyn AccountStore> = Arc::new(accounts);
        let mut hub = hub;
        seed_hub(&mut hub, store.as_ref());
        let logins = login_pool::LoginPool::new(store.clone(), workers)?;
        Ok(MioServer {
            driver,
            listeners: Vec::new(),
            domain: hub.domain().to_owned(),
            tls: Arc::new(tls),
            logins,
            hub,
            configure: None,
            log: None,
            max_sessions: DEFAULT_MAX_CONNECTIONS,
            admission: Admission::new(
                DEFAULT_MAX_PER_ADDRESS,
                DEFAULT_MAX_UNAUTHENTICATED,
                DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS,
            ),
            addresses: HashMap::new(),
            ending: HashMap::new(),
            jids: HashMap::new(),
            stats: Stats::default(),
            store,
            s2s: None,
        })
    }

    /// Adjusts each session's [`ServerConfig`] (limits, timeouts, SASL)
    /// before it starts; the TLS policy is then set by the listener.
    pub fn with_config(
        mut self,
        configure: impl Fn(ServerConfig) -> ServerConfig + 'static,
    ) -> Self {
        self.configure = Some(Box::new(configure));
        self
    }

    /// Configures the hub (conflict and offline policies, disco
    /// features, the detached-session limit).
    pub fn with_hub(mut self, configure: impl FnOnce(Hub) -> Hub) -> Self {
        self.hub = configure(self.hub);
        self
    }

    /// Calls `log` when a connection starts and ends.
    pub fn with_log(mut self, log: impl FnMut(&SessionLog<'_>) + 'static) -> Self {
        self.log = Some(Box::new(log));
        self
    }

    /// At most `max` connections at once; more are closed on accept.
    pub fn with_max_sessions(mut self, max: usize) -> Self {
        self.max_sessions = max;
        self
    }

    /// At most `max` connections at once from one IP address; more are
    /// closed on accept (one host cannot take every slot).
    pub fn with_max_per_address(mut self, max: usize) -> Self {
        self.admission.set_max_per_address(max);
        self
    }

    /// At most `max` connections at once that have not authenticated
    /// yet, and `per_address` of them from one IP address; more are
    /// closed on accept (defaults [`DEFAULT_MAX_UNAUTHENTICATED`] and
    /// [`DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS`]). Connections that
    /// never log in cannot take the room of those that do.
    pub fn with_max_unauthenticated(mut self, max: usize, per_address: usize) -> Self {
        self.admission.set_max_unauthenticated(max, per_address);
        self
    }

    /// Accepts connections on `listener`: STARTTLS required, or TLS from
    /// the first byte if `direct_tls` (XEP-0368). Returns its address.
    ///
    /// # Errors
    /// If it cannot be made non-blocking or registered, or there are too
    /// many listeners.
    pub fn listen(
        &mut self,
        listener: std::net::TcpListener,
        direct_tls: bool,
    ) -> io::Result<SocketAddr> {
        let kind = if direct_tls {
            Listener::DirectTls
        } else {
            Listener::StartTls
        };
        self.add_listener(listener, kind)
    }

    /// Accepts clients over WebSocket (RFC 7395) on `listener`: plain
    /// `ws://` (on loopback, or behind a proxy that terminates TLS), or
    /// `wss://` with the server's certificate if `tls`. Any path; the
    /// `xmpp` subprotocol is required. Returns its address.
    ///
    /// # Errors
    /// As for [`MioServer::listen`].
    pub fn listen_websocket(
        &mut self,
        listener: std::net::TcpListener,
        tls: bool,
    ) -> io::Result<SocketAddr> {
        let kind = if tls {
            Listener::WebSocketTls
        } else {
            Listener::WebSocket
        };
        self.add_listener(listener, kind)
    }

    /// Accepts external components (XEP-0114) on `listener`, plaintext:
    /// give it a loopback or otherwise trusted address. Each domain a
    /// component may serve is named with [`MioServer::with_component`].
    /// Returns its address.
    ///
    /// # Errors
    /// As for [`MioServer::listen`].
    pub fn listen_components(&mut self, listener: std::net::TcpListener) -> io::Result<SocketAddr> {
        self.add_listener(listener, Listener::Component)
    }

    /// Accepts external components on `listener` with TLS from the first
    /// byte (the server's certificate, as for clients). Returns its
    /// address.
    ///
    /// # Errors
    /// As for [`MioServer::listen`].
    pub fn listen_components_tls(
        &mut self,
        listener: std::net::TcpListener,
    ) -> io::Result<SocketAddr> {
        self.add_listener(listener, Listener::ComponentTls)
    }

    /// Lets an external component serve `domain` with `secret` (see
    /// `Hub::with_component`).
    ///
    /// # Errors
    /// If `domain` is not a domain.
    pub fn with_component(mut self, domain: &str, secret: &str) -> Result<Self, JidError> {
        self.hub = self.hub.with_component(domain, secret)?;
        Ok(self)
    }

    fn add_listener(
        &mut self,
        listener: std::net::TcpListener,
        kind: Listener,
    ) -> io::Result<SocketAddr> {
        if self.listeners.len() >= MAX_LISTENERS {
            return Err(io::Error::other("too many listeners"));
        }
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let mut listener = TcpListener::from_std(listener);
        let token = Token(MAX_SERVER_USER_TOKEN.0 + 1 + self.listeners.len());
        self.driver
            .registry()
            .register(&mut listener, token, Interest::READABLE)?;
        self.listeners.push((listener, kind));
        Ok(addr)
    }

    /// The poll's registry, for sources of your own (tokens up to
    /// [`MAX_SERVER_USER_TOKEN`]; a `mio::Waker` for other threads).
    pub fn registry(&self) -> &Registry {
        self.driver.registry()
    }

    /// The driver underneath (connection count, pending output).
    pub fn driver(&self) -> &Driver<ServerEndpoint> {
        &self.driver
    }

    /// The router (who is online).
    pub fn router(&self) -> &Router {
        self.hub.router()
    }

    /// The hub (routing, detached sessions, its counters).
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        let hub: HubStats = self.hub.stats();
        Stats {
            detached: hub.detached,
            resumed: hub.resumed,
            expired: hub.expired,
            rerouted: hub.rerouted,
            ..self.stats
        }
    }

    /// Open connections.
    pub fn session_count(&self) -> usize {
        self.driver.len()
    }

    /// The XMPP domain served.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// One round: waits up to `timeout` (or the earliest session
    /// deadline), accepts, reads, routes, writes. Readiness of your own
    /// sources is handed to `on_source`.
    ///
    /// # Errors
    /// If polling fails (a connection's failure only ends it).
    pub fn poll(
        &mut self,
        timeout: Option<Duration>,
        mut on_source: impl FnMut(Token),
    ) -> io::Result<()> {
        let timeout = match self.hub.poll_timeout() {
            Some(at) => {
                let until = at.saturating_duration_since(clock::now());
                Some(timeout.map_or(until, |t| t.min(until)))
            }
            None => timeout,
        };
        // Answers from the login workers are collected after each poll;
        // while some are due, polls are short.
        // So are connection attempts to peers.
        let connecting = self.s2s.as_ref().is_some_and(|s| s.is_connecting());
        let timeout = match self.logins.waiting() || connecting {
            true => Some(timeout.map_or(LOGIN_POLL, |t| t.min(LOGIN_POLL))),
            false => timeout,
        };
        self.driver.poll(timeout)?;
        self.hub.handle_timeout(clock::now());
        self.take_login_answers();
        self.take_links();
        while let Some(event) = self.driver.next_event() {
            match event {
                DriverEvent::Source { token, .. } if token > MAX_SERVER_USER_TOKEN => {
                    self.accept(token.0 - MAX_SERVER_USER_TOKEN.0 - 1);
                }
                DriverEvent::Source { token, .. } => on_source(token),
                DriverEvent::Endpoint { conn, event } => self.handle(conn, event),
                DriverEvent::Closed { conn, error } => self.ended(conn, error),
            }
        }
        Ok(())
    }

    /// Stops accepting, closes every session with a `system-shutdown`
    /// stream error, and drives them until all are gone or `timeout`
    /// passed.
    ///
    /// # Errors
    /// If polling fails.
    pub fn shutdown(&mut self, timeout: Duration) -> io::Result<()> {
        for (mut listener, _) in self.listeners.drain(..) {
            let _ = self.driver.registry().deregister(&mut listener);
        }
        self.hub.shutdown();
        self.pump();
        let deadline = clock::now() + timeout;
        while !self.driver.is_empty() {
            let now = clock::now();
            if now >= deadline {
                for conn in self.driver.conn_ids() {
                    self.driver.abort(conn);
                }
                self.poll(Some(Duration::ZERO), |_| {})?;
                break;
            }
            self.poll(Some(deadline - now), |_| {})?;
        }
        Ok(())
    }
}

impl fmt::Debug for MioServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MioServer")
            .field("domain", &self.domain)
            .field("sessions", &self.driver.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}
