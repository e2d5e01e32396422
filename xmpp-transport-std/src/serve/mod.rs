//! A small blocking XMPP server: an accept loop, one thread per
//! connection, the core's [`Hub`] deciding for all of them.
//!
//! [`Serve`] puts the pieces of this crate and the core together: each
//! accepted socket becomes a [`Server`](xmpp_proto::Server) endpoint (behind
//! WebSocket on a WebSocket listener) driven by a
//! [`Connection`](crate::Connection) (STARTTLS required, or direct TLS on a second
//! listener); every event of every session goes to one shared `Hub`
//! (logins, binding, routing, stream management resumption, the server's
//! own answers to ping and disco#info), whose questions are answered from
//! an [`AccountStore`] (stored SCRAM keys, never passwords) and whose
//! commands for other sessions reach their threads as typed commands on
//! a bounded queue ([`crate::Remote`]). [`ServeHandle::shutdown`] stops
//! it cleanly.
//!
//! A thread per connection is simple and fine for tests, demos, a home or
//! an embedded server; thousands of connections belong on an event loop
//! (`xmpp-transport-mio`).
//!
//! ```no_run
//! use std::net::{IpAddr, SocketAddr, TcpListener};
//! use xmpp_transport_std::ServerTls;
//! use xmpp_transport_std::serve::{Accounts, Serve, SessionLog};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut accounts = Accounts::new();
//! accounts.add("alice", "alice-secret")?;
//! accounts.add("bob", "bob-secret")?;
//! let tls = ServerTls::from_pem_files("fullchain.pem", "privkey.pem")?;
//!
//! let server = Serve::new("example.com", tls, accounts)?
//!     .with_log(|log: &SessionLog<'_>| eprintln!("{log}"))
//!     .start(TcpListener::bind("0.0.0.0:5222")?)?;
//! println!("serving on {}", server.local_addr());
//! // ... later:
//! server.shutdown();
//! # Ok(()) }
//! ```

mod accept;
mod accounts;
mod admission;
mod credentials;
mod fast;
mod federation;
mod handle;
mod log;
mod pump;
mod reaper;
mod session;
mod store;

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};

use xmpp_proto::hub::Hub;
use xmpp_proto::jid::JidError;
use xmpp_proto::router::SessionId;
use xmpp_proto::s2s::Federation;
use xmpp_proto::server::ServerConfig;

pub use self::accept::Listener;
use self::accept::spawn_acceptor;
pub use self::handle::ServeHandle;
use self::pump::HubCommand;
use self::reaper::Reaper;
use crate::remote::Remote;
use crate::s2s_tls::S2sTls;
use crate::server_tls::ServerTls;
use crate::websocket::ServerEndpoint;

pub use self::accounts::{
    AccountError, AccountStore, Accounts, DEFAULT_ITERATIONS, LoginAnswer, ManageAccounts,
    ManageError,
};
pub use self::admission::Admission;
pub use self::credentials::{Decoys, UserKeys};
pub use self::fast::{DEFAULT_FAST_LIFETIME, FastTokenBook, MintedToken, unix_seconds};
pub use self::federation::link_config;
pub use self::log::SessionLog;
pub use self::store::{OfflineQuota, OfflineRefused, StoredRoster, keep_for_hub, seed_hub};

/// The bytes that may wait for one peer domain's link while it comes up
/// (what does not fit is refused back to its sender).
pub const DEFAULT_LINK_QUEUE: usize = 256 * 1024;

/// How many sessions may be open at once unless
/// [`Serve::with_max_sessions`] says otherwise; connections beyond it are
/// closed at once.
pub const DEFAULT_MAX_SESSIONS: usize = 1000;

/// How many connections one IP address may hold at once unless
/// [`Serve::with_max_per_address`] says otherwise.
pub const DEFAULT_MAX_PER_ADDRESS: usize = 100;

/// How many connections may be unauthenticated at once unless
/// [`Serve::with_max_unauthenticated`] says otherwise.
pub const DEFAULT_MAX_UNAUTHENTICATED: usize = 500;

/// How many unauthenticated connections one IP address may hold at once
/// unless [`Serve::with_max_unauthenticated`] says otherwise.
pub const DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS: usize = 50;

/// A server being set up; [`Serve::start`] runs it. See the module
/// documentation.
pub struct Serve {
    domain: String,
    tls: ServerTls,
    accounts: Arc<dyn AccountStore>,
    hub: Hub,
    configure: Option<Configure>,
    log: Option<LogHook>,
    direct_tls: Option<TcpListener>,
    websocket: Option<TcpListener>,
    websocket_tls: Option<TcpListener>,
    components: Option<TcpListener>,
    components_tls: Option<TcpListener>,
    s2s: Option<federation::S2s>,
    s2s_listener: Option<TcpListener>,
    max_sessions: usize,
    admission: Admission,
}

type Configure = Box<dyn Fn(ServerConfig) -> ServerConfig + Send + Sync>;
type LogHook = Box<dyn Fn(&SessionLog<'_>) + Send + Sync>;

impl Serve {
    /// A server for the XMPP domain `domain`, presenting `tls`, checking
    /// logins against `accounts`. Defaults: STARTTLS required, the core's
    /// SASL mechanisms (SCRAM first; PLAIN only under TLS), a
    /// [`Router`](xmpp_proto::router::Router) with its default policies, at most
    /// [`DEFAULT_MAX_SESSIONS`] sessions and [`DEFAULT_MAX_PER_ADDRESS`]
    /// from one address, no log.
    ///
    /// # Errors
    /// If `domain` is not a valid XMPP domain.
    pub fn new(
        domain: &str,
        tls: ServerTls,
        accounts: impl AccountStore + 'static,
    ) -> Result<Self, JidError> {
        let hub = Hub::new(domain)?;
        Ok(Serve {
            domain: hub.domain().to_owned(),
            tls,
            accounts: Arc::new(accounts),
            hub,
            configure: None,
            log: None,
            direct_tls: None,
            websocket: None,
            websocket_tls: None,
            components: None,
            components_tls: None,
            s2s: None,
            s2s_listener: None,
            max_sessions: DEFAULT_MAX_SESSIONS,
            admission: Admission::new(
                DEFAULT_MAX_PER_ADDRESS,
                DEFAULT_MAX_UNAUTHENTICATED,
                DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS,
            ),
        })
    }

    /// Adjusts each session's [`ServerConfig`] (SASL mechanisms, timeouts,
    /// limits, tracing) before it starts. The domain and the random
    /// source are set already; the TLS policy is the listener's (a
    /// `Direct` policy on the STARTTLS listener becomes
    /// `RequireStartTls`).
    pub fn with_config(
        mut self,
        configure: impl Fn(ServerConfig) -> ServerConfig + Send + Sync + 'static,
    ) -> Self {
        self.configure = Some(Box::new(configure));
        self
    }

    /// Configures the hub (conflict and offline policies, disco
    /// features, the detached-session limit), which starts as
    /// `Hub::new(domain)`.
    pub fn with_hub(mut self, configure: impl FnOnce(Hub) -> Hub) -> Self {
        self.hub = configure(self.hub);
        self
    }

    /// Calls `log` when a session starts, comes online and ends (and,
    /// with tracing on, with every chunk of XML), on the session's
    /// thread.
    pub fn with_log(mut self, log: impl Fn(&SessionLog<'_>) + Send + Sync + 'static) -> Self {
        self.log = Some(Box::new(log));
        self
    }

    /// Also accepts direct TLS connections (XEP-0368) on `listener`.
    pub fn with_direct_tls(mut self, listener: TcpListener) -> Self {
        self.direct_tls = Some(listener);
        self
    }

    /// Also accepts clients over WebSocket (RFC 7395) on `listener`,
    /// plain `ws://` (any path; the `xmpp` subprotocol required): give it
    /// a loopback address, or put a proxy that terminates TLS in front.
    pub fn with_websocket(mut self, listener: TcpListener) -> Self {
        self.websocket = Some(listener);
        self
    }

    /// Also accepts clients over WebSocket with TLS (`wss://`, the
    /// server's certificate) on `listener`.
    pub fn with_websocket_tls(mut self, listener: TcpListener) -> Self {
        self.websocket_tls = Some(listener);
        self
    }

    /// Accepts external components (XEP-0114) on `listener`, plaintext:
    /// give it a loopback or otherwise trusted address. Each domain a
    /// component may serve is named with [`Serve::with_component`].
    pub fn with_component_listener(mut self, listener: TcpListener) -> Self {
        self.components = Some(listener);
        self
    }

    /// Accepts external components on `listener` with TLS from the first
    /// byte (the server's certificate, as for clients): for components
    /// that connect over a network.
    pub fn with_component_tls_listener(mut self, listener: TcpListener) -> Self {
        self.components_tls = Some(listener);
        self
    }

    /// Lets an external component serve `domain` with `secret` (see
    /// `Hub::with_component`); it connects to the
    /// [`Serve::with_component_listener`] listener.
    ///
    /// # Errors
    /// If `domain` is not a domain.
    pub fn with_component(mut self, domain: &str, secret: &str) -> Result<Self, JidError> {
        self.hub = self.hub.with_component(domain, secret)?;
        Ok(self)
    }

    /// Federates with other servers (RFC 6120 server-to-server): stanzas
    /// for other domains go out on links this server opens on demand
    /// (resolved with [`Serve::with_s2s_route`] first, then DNS SRV
    /// through the system's resolver), with `tls` (our certificate both
    /// ways; peers' verified against its anchors) and `federation`'s
    /// dialback secret and policy. Peers connect to the
    /// [`Serve::with_s2s_listener`] listener.
    pub fn with_federation(mut self, federation: Federation, tls: S2sTls) -> Self {
        self.hub = self.hub.with_federation(DEFAULT_LINK_QUEUE);
        self.s2s = Some(federation::S2s {
            federation,
            tls,
            peers: crate::resolve::PeerFinder::new(crate::resolve::Resolver::system().ok()),
        });
        self
    }

    /// Finds `domain`'s server at `addr` instead of through DNS (tests,
    /// private deployments). Needs [`Serve::with_federation`] first.
    pub fn with_s2s_route(mut self, domain: &str, addr: SocketAddr) -> Self {
        if let Some(s2s) = &mut self.s2s {
            s2s.peers.add_route(domain, addr);
        }
        self
    }

    /// Finds peers through this resolver instead of the system's.
    pub fn with_s2s_resolver(mut self, resolver: crate::resolve::Resolver) -> Self {
        if let Some(s2s) = &mut self.s2s {
            s2s.peers.set_resolver(resolver);
        }
        self
    }

    /// Takes server-to-server streams from peers on `listener` (port 5269
    /// by convention). Needs [`Serve::with_federation`].
    pub fn with_s2s_listener(mut self, listener: TcpListener) -> Self {
        self.s2s_listener = Some(listener);
        self
    }

    /// At most `max` sessions at once (default
    /// [`DEFAULT_MAX_SESSIONS`]); each is a thread.
    pub fn with_max_sessions(mut self, max: usize) -> Self {
        self.max_sessions = max;
        self
    }

    /// At most `max` connections at once from one IP address; more are
    /// closed at once (one host cannot take every slot).
    pub fn with_max_per_address(mut self, max: usize) -> Self {
        self.admission.set_max_per_address(max);
        self
    }

    /// At most `max` connections at once that have not authenticated
    /// yet, and `per_address` of them from one IP address (defaults
    /// [`DEFAULT_MAX_UNAUTHENTICATED`] and
    /// [`DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS`]); more are closed at
    /// once. Connections that never log in cannot take the room of those
    /// that do.
    pub fn with_max_unauthenticated(mut self, max: usize, per_address: usize) -> Self {
        self.admission.set_max_unauthenticated(max, per_address);
        self
    }

    /// Starts accepting STARTTLS connections on `listener` (and direct
    /// TLS ones on the [`Serve::with_direct_tls`] listener), each
    /// listener on a thread of its own; returns at once.
    ///
    /// # Errors
    /// If a listener's address cannot be read or a thread cannot start.
    pub fn start(self, listener: TcpListener) -> io::Result<ServeHandle> {
        let addr = listener.local_addr()?;
        let direct_addr = match &self.direct_tls {
            Some(l) => Some(l.local_addr()?),
            None => None,
        };
        let component_addr = match &self.components {
            Some(l) => Some(l.local_addr()?),
            None => None,
        };
        let component_tls_addr = match &self.components_tls {
            Some(l) => Some(l.local_addr()?),
            None => None,
        };
        let websocket_addr = match &self.websocket {
            Some(l) => Some(l.local_addr()?),
            None => None,
        };
        let websocket_tls_addr = match &self.websocket_tls {
            Some(l) => Some(l.local_addr()?),
            None => None,
        };
        let s2s_addr = match &self.s2s_listener {
            Some(l) => Some(l.local_addr()?),
            None => None,
        };
        let mut hub = self.hub;
        seed_hub(&mut hub, self.accounts.as_ref());
        let mut s2s = self.s2s;
        if let Some(s2s) = &mut s2s {
            // Peers may address our services (rooms, components) too.
            let services = hub.router().component_domains();
            s2s.federation = services.fold(s2s.federation.clone(), Federation::serving);
        }
        let shared = Arc::new(Shared {
            domain: self.domain,
            tls: self.tls,
            accounts: self.accounts,
            hub: Mutex::new(hub),
            configure: self.configure,
            log: self.log,
            max_sessions: self.max_sessions,
            s2s,
            admission: Mutex::new(self.admission),
            sessions: Mutex::new(HashMap::new()),
            threads: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
            stopping: AtomicBool::new(false),
            reaper: Reaper::default(),
        });
        let reaper = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("xmpp-detached".into())
                .spawn(move || shared.reap())?
        };
        let mut acceptors = vec![spawn_acceptor(&shared, listener, Listener::StartTls)?];
        if let Some(direct) = self.direct_tls {
            acceptors.push(spawn_acceptor(&shared, direct, Listener::DirectTls)?);
        }
        if let Some(ws) = self.websocket {
            acceptors.push(spawn_acceptor(&shared, ws, Listener::WebSocket)?);
        }
        if let Some(wss) = self.websocket_tls {
            acceptors.push(spawn_acceptor(&shared, wss, Listener::WebSocketTls)?);
        }
        if let Some(components) = self.components {
            acceptors.push(spawn_acceptor(&shared, components, Listener::Component)?);
        }
        if let Some(components) = self.components_tls {
            acceptors.push(spawn_acceptor(&shared, components, Listener::ComponentTls)?);
        }
        if let (Some(s2s), true) = (self.s2s_listener, shared.s2s.is_some()) {
            acceptors.push(spawn_acceptor(&shared, s2s, Listener::S2s)?);
        }
        Ok(ServeHandle {
            addr,
            direct_addr,
            component_addr,
            component_tls_addr,
            websocket_addr,
            websocket_tls_addr,
            s2s_addr,
            shared,
            acceptors,
            reaper: Some(reaper),
        })
    }
}

impl fmt::Debug for Serve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Serve")
            .field("domain", &self.domain)
            .field("max_sessions", &self.max_sessions)
            .finish_non_exhaustive()
    }
}

/// What every thread of one server shares.
struct Shared {
    domain: String,
    tls: ServerTls,
    accounts: Arc<dyn AccountStore>,
    /// Every session's decisions. Never held while another lock is taken.
    hub: Mutex<Hub>,
    configure: Option<Configure>,
    log: Option<LogHook>,
    max_sessions: usize,
    /// Federation, if on.
    s2s: Option<federation::S2s>,
    /// Connections per client address, and those not logged in.
    admission: Mutex<Admission>,
    /// The open sessions, to reach with the hub's commands.
    sessions: Mutex<HashMap<SessionId, Remote<ServerEndpoint, HubCommand>>>,
    /// Session threads, joined on shutdown (finished ones are pruned as
    /// new ones start).
    threads: Mutex<Vec<JoinHandle<()>>>,
    next_id: AtomicU64,
    stopping: AtomicBool,
    reaper: Reaper,
}

/// Locks a mutex; a thread that panicked while holding it leaves data
/// that is still consistent here (maps and lists updated in one call).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn log(&self, entry: &SessionLog<'_>) {
        if let Some(log) = &self.log {
            log(entry);
        }
    }
}

impl Shared {
    /// Takes a connection slot for `ip`, if it has one left.
    fn admit(&self, ip: IpAddr) -> bool {
        lock(&self.admission).admit(ip)
    }

    /// The connection from `ip` authenticated.
    fn authenticated(&self, ip: IpAddr) {
        lock(&self.admission).authenticated(ip);
    }

    /// Gives back the slot of a connection from `ip` that ended.
    fn release(&self, ip: IpAddr, authenticated: bool) {
        lock(&self.admission).release(ip, authenticated);
    }
}
