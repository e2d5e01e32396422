//! A small blocking XMPP server: an accept loop, one thread per
//! connection, the core's [`Hub`] deciding for all of them.
//!
//! [`Serve`] puts the pieces of this crate and the core together: each
//! accepted socket becomes a [`Server`] endpoint driven by a
//! [`Connection`] (STARTTLS required, or direct TLS on a second
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
//! use std::net::TcpListener;
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

mod accounts;
mod log;
mod pump;
mod session;

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use xmpp_proto::hub::Hub;
use xmpp_proto::jid::{BareJid, JidError};
use xmpp_proto::router::{Router, SessionId};
use xmpp_proto::server::{Server, ServerConfig, ServerTlsPolicy};
use xmpp_proto::time::Time;
use xmpp_proto::xml::Element;

use self::pump::{HubCommand, pump};
use crate::clock;
use crate::connection::Connection;
use crate::remote::Remote;
use crate::server_tls::ServerTls;

pub use self::accounts::{AccountError, AccountStore, Accounts, DEFAULT_ITERATIONS, LoginAnswer};
pub use self::log::SessionLog;

/// How many sessions may be open at once unless
/// [`Serve::with_max_sessions`] says otherwise; connections beyond it are
/// closed at once.
pub const DEFAULT_MAX_SESSIONS: usize = 1000;

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
    max_sessions: usize,
    offline: Option<OfflineStore>,
}

type Configure = Box<dyn Fn(ServerConfig) -> ServerConfig + Send + Sync>;
type LogHook = Box<dyn Fn(&SessionLog<'_>) + Send + Sync>;
type OfflineStore = Box<dyn Fn(&BareJid, Element) + Send + Sync>;

impl Serve {
    /// A server for the XMPP domain `domain`, presenting `tls`, checking
    /// logins against `accounts`. Defaults: STARTTLS required, the core's
    /// SASL mechanisms (SCRAM first; PLAIN only under TLS), a
    /// [`Router`] with its default policies, at most
    /// [`DEFAULT_MAX_SESSIONS`] sessions, no log.
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
            max_sessions: DEFAULT_MAX_SESSIONS,
            offline: None,
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

    /// At most `max` sessions at once (default
    /// [`DEFAULT_MAX_SESSIONS`]); each is a thread.
    pub fn with_max_sessions(mut self, max: usize) -> Self {
        self.max_sessions = max;
        self
    }

    /// Hands messages for accounts with no available resource to
    /// `store` (the account, the message with `from` stamped), on the
    /// sending session's thread, for a hub set to
    /// `OfflinePolicy::Store` ([`Serve::with_hub`]). Without a store
    /// such messages are refused back to their sender with
    /// `service-unavailable`.
    pub fn with_offline_store(
        mut self,
        store: impl Fn(&BareJid, Element) + Send + Sync + 'static,
    ) -> Self {
        self.offline = Some(Box::new(store));
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
        let shared = Arc::new(Shared {
            domain: self.domain,
            tls: self.tls,
            accounts: self.accounts,
            hub: Mutex::new(self.hub),
            configure: self.configure,
            log: self.log,
            max_sessions: self.max_sessions,
            sessions: Mutex::new(HashMap::new()),
            threads: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
            stopping: AtomicBool::new(false),
            reaper: Reaper::default(),
            offline: self.offline,
        });
        let reaper = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("xmpp-detached".into())
                .spawn(move || shared.reap())?
        };
        let mut acceptors = vec![spawn_acceptor(&shared, listener, false)?];
        if let Some(direct) = self.direct_tls {
            acceptors.push(spawn_acceptor(&shared, direct, true)?);
        }
        Ok(ServeHandle {
            addr,
            direct_addr,
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

/// A running server; [`ServeHandle::shutdown`] (or dropping it) stops it.
pub struct ServeHandle {
    addr: SocketAddr,
    direct_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    acceptors: Vec<JoinHandle<()>>,
    reaper: Option<JoinHandle<()>>,
}

impl ServeHandle {
    /// Where the STARTTLS listener listens (with its real port when it was
    /// bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where the direct TLS listener listens, if there is one.
    pub fn direct_tls_addr(&self) -> Option<SocketAddr> {
        self.direct_addr
    }

    /// The XMPP domain served.
    pub fn domain(&self) -> &str {
        &self.shared.domain
    }

    /// Looks at the hub all sessions share (who is bound, detached
    /// sessions, counters); every event of every session waits while `f`
    /// runs, so keep it short.
    pub fn with_hub<R>(&self, f: impl FnOnce(&Hub) -> R) -> R {
        f(&lock(&self.shared.hub))
    }

    /// Looks at the router: who is bound where.
    pub fn with_router<R>(&self, f: impl FnOnce(&Router) -> R) -> R {
        f(lock(&self.shared.hub).router())
    }

    /// How many sessions are open (accepted and not yet ended).
    pub fn session_count(&self) -> usize {
        lock(&self.shared.sessions).len()
    }

    /// Stops the server: no new connections, every open session is
    /// closed with a `system-shutdown` stream error, and this returns
    /// once every thread has ended (each waits at most the connection's
    /// linger time for its client to close).
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if self.shared.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        // An accept() only returns for a connection: make one.
        for addr in [Some(self.addr), self.direct_addr].into_iter().flatten() {
            let _ = TcpStream::connect(reachable(addr));
        }
        for acceptor in self.acceptors.drain(..) {
            let _ = acceptor.join();
        }
        lock(&self.shared.hub).shutdown();
        pump(&self.shared, None);
        let threads = std::mem::take(&mut *lock(&self.shared.threads));
        for thread in threads {
            let _ = thread.join();
        }
        self.shared.reaper.wake();
        if let Some(reaper) = self.reaper.take() {
            let _ = reaper.join();
        }
        // Nobody can resume now: what waited for detached sessions is
        // rerouted, stored or bounced like on expiry.
        let end_of_time = clock::now() + Duration::from_secs(u64::from(u32::MAX));
        lock(&self.shared.hub).handle_timeout(end_of_time);
        pump(&self.shared, None);
    }

    /// How many stream-managed sessions wait to be resumed.
    pub fn detached_count(&self) -> usize {
        lock(&self.shared.hub).detached().len()
    }
}

impl Drop for ServeHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

impl fmt::Debug for ServeHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeHandle")
            .field("addr", &self.addr)
            .field("direct_addr", &self.direct_addr)
            .field("domain", &self.shared.domain)
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
    /// The open sessions, to reach with the hub's commands.
    sessions: Mutex<HashMap<SessionId, Remote<Server, HubCommand>>>,
    /// Session threads, joined on shutdown (finished ones are pruned as
    /// new ones start).
    threads: Mutex<Vec<JoinHandle<()>>>,
    next_id: AtomicU64,
    stopping: AtomicBool,
    reaper: Reaper,
    offline: Option<OfflineStore>,
}

/// The thread that runs the hub's timer (detached sessions expire): it
/// sleeps until the hub's next deadline, and is woken when that moves
/// earlier or the server stops.
#[derive(Default)]
struct Reaper {
    woken: Mutex<bool>,
    signal: Condvar,
    /// The deadline the reaper sleeps towards.
    expected: Mutex<Option<Time>>,
}

impl Reaper {
    fn wake(&self) {
        *lock(&self.woken) = true;
        self.signal.notify_one();
    }

    /// The hub's next deadline is `next`: wake the reaper if that is
    /// sooner than it expects.
    fn expect(&self, next: Option<Time>) {
        let sooner = {
            let mut expected = lock(&self.expected);
            let sooner = match (next, *expected) {
                (Some(n), Some(e)) => n < e,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if sooner {
                *expected = next;
            }
            sooner
        };
        if sooner {
            self.wake();
        }
    }

    /// Sleeps until woken or `until`.
    fn sleep(&self, until: Option<Time>) {
        let mut woken = lock(&self.woken);
        if !*woken {
            let wait = until.map_or(Duration::from_secs(3600), |at| {
                at.saturating_duration_since(clock::now())
            });
            woken = self
                .signal
                .wait_timeout(woken, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *woken = false;
    }
}

impl Shared {
    fn log(&self, entry: &SessionLog<'_>) {
        if let Some(log) = &self.log {
            log(entry);
        }
    }

    /// The reaper thread: runs the hub's timer.
    fn reap(self: Arc<Self>) {
        while !self.stopping.load(Ordering::SeqCst) {
            let next = {
                let mut hub = lock(&self.hub);
                hub.handle_timeout(clock::now());
                hub.poll_timeout()
            };
            pump(&self, None);
            *lock(&self.reaper.expected) = next;
            self.reaper.sleep(next);
        }
    }

    /// The sans-IO server for one new connection.
    fn endpoint(&self, direct_tls: bool) -> Result<Server, JidError> {
        let mut config = ServerConfig::new(&self.domain)?;
        if let Some(configure) = &self.configure {
            config = configure(config);
        }
        config = match (direct_tls, config.tls()) {
            (true, _) => config.with_tls(ServerTlsPolicy::Direct),
            (false, ServerTlsPolicy::Direct) => config.with_tls(ServerTlsPolicy::RequireStartTls),
            (false, _) => config,
        };
        Ok(Server::new(config, clock::now()))
    }

    /// Sets up one accepted connection and starts its thread.
    fn accept(self: &Arc<Self>, tcp: TcpStream, direct_tls: bool) -> io::Result<()> {
        let peer = tcp.peer_addr()?;
        if lock(&self.sessions).len() >= self.max_sessions {
            // Dropping the socket closes it: no room.
            return Ok(());
        }
        tcp.set_nodelay(true)?;
        let endpoint = self
            .endpoint(direct_tls)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let conn = Connection::new_server(tcp, endpoint, self.tls.clone())?;
        let Ok(mut conn) = conn.with_command_type::<HubCommand>() else {
            return Ok(());
        };
        let remote = conn.remote()?;
        let id = SessionId(self.next_id.fetch_add(1, Ordering::Relaxed));
        // Registered before the thread runs, so a session is reachable
        // as soon as the hub can name it.
        lock(&self.sessions).insert(id, remote);
        let shared = Arc::clone(self);
        let spawned = thread::Builder::new()
            .name(format!("xmpp-session-{}", id.0))
            .spawn(move || session::run(&shared, id, peer, direct_tls, conn));
        match spawned {
            Ok(thread) => {
                let mut threads = lock(&self.threads);
                threads.retain(|t| !t.is_finished());
                threads.push(thread);
                Ok(())
            }
            Err(e) => {
                lock(&self.sessions).remove(&id);
                Err(e)
            }
        }
    }
}

fn spawn_acceptor(
    shared: &Arc<Shared>,
    listener: TcpListener,
    direct_tls: bool,
) -> io::Result<JoinHandle<()>> {
    let shared = Arc::clone(shared);
    thread::Builder::new()
        .name("xmpp-accept".into())
        .spawn(move || {
            for tcp in listener.incoming() {
                if shared.stopping.load(Ordering::SeqCst) {
                    break;
                }
                // A failed accept or set-up concerns one client only
                // (it reset the connection, or we are out of threads):
                // drop it and go on.
                match tcp {
                    Ok(tcp) => {
                        let _ = shared.accept(tcp, direct_tls);
                    }
                    // Out of file descriptors, say: give the system a
                    // moment rather than spin.
                    Err(_) => thread::sleep(Duration::from_millis(50)),
                }
            }
        })
}

/// The address to connect to for waking a listener bound to `addr` (an
/// unspecified address means any local one).
fn reachable(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

/// Locks a mutex; a thread that panicked while holding it leaves data
/// that is still consistent here (maps and lists updated in one call).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
