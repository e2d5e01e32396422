//! "Keep me online" for many clients on one [`Driver`]: each kept account
//! reconnects by itself when its connection breaks, with backoff and
//! jitter, resuming its session (inline with SASL2 where offered) and
//! logging in with its newest FAST token. The policy is the core's
//! [`Reconnector`]; this is its event-loop driver, next to the blocking
//! one (`xmpp_transport_std::KeepOnline`).
//!
//! Hand every [`DriverEvent`] to [`Keeper::handle`], which passes on what
//! the application must see; include [`Keeper::poll_timeout`] in the poll
//! timeout and call [`Keeper::handle_timeout`] after each poll.
//!
//! ```no_run
//! use std::sync::Arc;
//! use xmpp_proto::client::{ClientConfig, ReconnectPolicy};
//! use xmpp_proto::jid::Jid;
//! use xmpp_proto::sm::SmConfig;
//! use xmpp_transport_mio::{Driver, Keeper};
//! use xmpp_transport_std::{ClientTls, TrustAnchors};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut driver = Driver::new(Default::default())?;
//! let mut keeper = Keeper::new();
//! let tls = Arc::new(ClientTls::new(&TrustAnchors::webpki_roots(), "example.com")?);
//! let jid = Jid::new("juliet@example.com")?;
//! let _juliet = keeper.add(
//!     move || ClientConfig::new(jid.clone(), "secret").with_stream_management(SmConfig::default()),
//!     "192.0.2.1:5222".parse()?,
//!     tls,
//!     ReconnectPolicy::default(),
//! );
//! loop {
//!     for (account, event) in keeper.handle_timeout(&mut driver) {
//!         println!("{account:?}: {event:?}");
//!     }
//!     driver.poll(keeper.poll_timeout())?;
//!     while let Some(event) = driver.next_event() {
//!         if let Some((account, event)) = keeper.handle(&driver, event) {
//!             println!("{account:?}: {event:?}");
//!         }
//!     }
//! }
//! # }
//! ```

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use xmpp_proto::client::{
    Client, ClientConfig, ClientEvent, ReconnectPolicy, Reconnector, Verdict,
};
use xmpp_proto::endpoint::CloseReason;
use xmpp_proto::random::{OsRandom, RandomSource};
use xmpp_transport_std::{ClientTls, clock};

use crate::{ConnId, Driver, DriverEvent};

/// One kept account, as [`Keeper::add`] returned it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AccountId(usize);

/// What a [`Keeper`] passes on to the application.
#[derive(Debug)]
pub enum KeptEvent {
    /// An event of the account's client the application must see.
    Client(ClientEvent),
    /// The connection broke; the next attempt goes after `after`.
    Reconnecting {
        /// How it ended.
        reason: CloseReason,
        /// The wait before the next attempt.
        after: Duration,
    },
    /// Given up, for this reason; the account is forgotten.
    Stopped(CloseReason),
}

/// Where a kept account connects.
enum Target {
    /// Always this address.
    Addr(SocketAddr),
    /// The domain's server, found through DNS SRV before every attempt
    /// (on a helper thread: DNS never blocks the loop), asking `dns` or
    /// the system's resolver.
    Dns { dns: Option<SocketAddr> },
}

/// A connection on its way from the helper thread, and whether it is
/// direct TLS.
type Resolving = mpsc::Receiver<io::Result<(std::net::TcpStream, bool)>>;

/// How often the loop looks for a DNS answer while one is awaited.
const RESOLVE_POLL: Duration = Duration::from_millis(10);

struct Kept {
    make_config: Box<dyn FnMut() -> ClientConfig + Send>,
    target: Target,
    resolving: Option<Resolving>,
    domain: String,
    tls: Arc<ClientTls>,
    keeper: Reconnector,
    conn: Option<ConnId>,
    retry_at: Option<Instant>,
    last_reason: Option<CloseReason>,
    /// The server's SASL2 offer, seen when the client got online.
    offer: Option<xmpp_proto::negotiation::Sasl2Offer>,
}

/// The kept accounts of one event loop. See the module documentation.
#[derive(Default)]
pub struct Keeper {
    accounts: HashMap<AccountId, Kept>,
    by_conn: HashMap<ConnId, AccountId>,
    next_id: usize,
}

impl std::fmt::Debug for Keeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keeper")
            .field("accounts", &self.accounts.len())
            .field("connected", &self.by_conn.len())
            .finish()
    }
}

impl Keeper {
    /// No accounts yet.
    pub fn new() -> Self {
        Keeper::default()
    }

    /// Keeps an account online: `make_config` is called for every
    /// connection (turn stream management on in it, or there is nothing
    /// to resume); it connects to `server` at the next
    /// [`handle_timeout`](Self::handle_timeout).
    pub fn add(
        &mut self,
        make_config: impl FnMut() -> ClientConfig + Send + 'static,
        server: SocketAddr,
        tls: Arc<ClientTls>,
        policy: ReconnectPolicy,
    ) -> AccountId {
        self.insert(make_config, Target::Addr(server), tls, policy)
    }

    /// Keeps an account online at the server its domain's DNS SRV
    /// records name (`_xmpps-client` direct TLS first, then
    /// `_xmpp-client`, then the domain on 5222), looked up again before
    /// every attempt on a helper thread. `dns`: a DNS server to ask
    /// instead of the system's.
    pub fn add_by_dns(
        &mut self,
        make_config: impl FnMut() -> ClientConfig + Send + 'static,
        dns: Option<SocketAddr>,
        tls: Arc<ClientTls>,
        policy: ReconnectPolicy,
    ) -> AccountId {
        self.insert(make_config, Target::Dns { dns }, tls, policy)
    }

    fn insert(
        &mut self,
        mut make_config: impl FnMut() -> ClientConfig + Send + 'static,
        target: Target,
        tls: Arc<ClientTls>,
        policy: ReconnectPolicy,
    ) -> AccountId {
        let id = AccountId(self.next_id);
        self.next_id += 1;
        let domain = make_config().domain().to_owned();
        self.accounts.insert(
            id,
            Kept {
                make_config: Box::new(make_config),
                target,
                resolving: None,
                domain,
                tls,
                keeper: Reconnector::new(policy),
                conn: None,
                retry_at: Some(Instant::now()),
                last_reason: None,
                offer: None,
            },
        );
        id
    }

    /// The account's current connection, to send through
    /// ([`Driver::command`]); `None` while it reconnects.
    pub fn conn(&self, account: AccountId) -> Option<ConnId> {
        self.accounts.get(&account).and_then(|k| k.conn)
    }

    /// The account's newest FAST token, to keep across runs.
    pub fn fast_token(&self, account: AccountId) -> Option<&xmpp_proto::client::FastCredentials> {
        self.accounts.get(&account)?.keeper.fast_token()
    }

    /// Stops keeping the account online and closes its connection
    /// cleanly.
    pub fn remove(&mut self, driver: &mut Driver<Client>, account: AccountId) {
        if let Some(kept) = self.accounts.remove(&account) {
            if let Some(conn) = kept.conn {
                self.by_conn.remove(&conn);
                driver.command(conn, |c, now| c.close(now));
            }
        }
    }

    /// Takes a driver event; returns what the application must see, with
    /// its account. Events of connections that are not kept accounts'
    /// come back as `None`: handle those before calling this.
    pub fn handle(
        &mut self,
        driver: &Driver<Client>,
        event: DriverEvent<ClientEvent>,
    ) -> Option<(AccountId, KeptEvent)> {
        match event {
            DriverEvent::Endpoint { conn, event } => {
                let account = *self.by_conn.get(&conn)?;
                let kept = self.accounts.get_mut(&account)?;
                if let ClientEvent::Closed { reason } = &event {
                    kept.last_reason = Some(reason.clone());
                }
                if let ClientEvent::Online { .. } | ClientEvent::Resumed { .. } = &event {
                    kept.offer = driver.endpoint(conn).and_then(|c| c.sasl2_offer().cloned());
                }
                kept.keeper
                    .observe(event)
                    .map(|e| (account, KeptEvent::Client(e)))
            }
            DriverEvent::Closed { conn, .. } => {
                let account = self.by_conn.remove(&conn)?;
                self.connection_over(account)
            }
            DriverEvent::Source { .. } => None,
        }
    }

    fn connection_over(&mut self, account: AccountId) -> Option<(AccountId, KeptEvent)> {
        let kept = self.accounts.get_mut(&account)?;
        kept.conn = None;
        kept.keeper.note_offer(kept.offer.take().as_ref());
        let mut random = [0u8; 4];
        let _ = OsRandom.fill(&mut random);
        let reason = kept
            .last_reason
            .take()
            .unwrap_or(CloseReason::ConnectionLost);
        match kept.keeper.verdict(u32::from_le_bytes(random)) {
            Verdict::Retry { after } => {
                kept.retry_at = Some(Instant::now() + after);
                Some((account, KeptEvent::Reconnecting { reason, after }))
            }
            Verdict::Stop(reason) => {
                self.accounts.remove(&account);
                Some((account, KeptEvent::Stopped(reason)))
            }
        }
    }

    /// How long the loop may sleep before a reconnection is due.
    pub fn poll_timeout(&self) -> Option<Duration> {
        let now = Instant::now();
        let retry = self
            .accounts
            .values()
            .filter_map(|k| k.retry_at)
            .min()
            .map(|at| at.saturating_duration_since(now));
        if self.accounts.values().any(|k| k.resolving.is_some()) {
            return Some(retry.map_or(RESOLVE_POLL, |r| r.min(RESOLVE_POLL)));
        }
        retry
    }

    /// Starts the reconnections that are due. A connection that cannot
    /// even be started counts as a failed attempt; its verdict comes back
    /// here (a `Stopped` account is forgotten).
    pub fn handle_timeout(&mut self, driver: &mut Driver<Client>) -> Vec<(AccountId, KeptEvent)> {
        let now = Instant::now();
        let mut reports = Vec::new();
        let due: Vec<AccountId> = self
            .accounts
            .iter()
            .filter(|(_, k)| k.retry_at.is_some_and(|at| at <= now) || k.resolving.is_some())
            .map(|(id, _)| *id)
            .collect();
        for account in due {
            let Some(kept) = self.accounts.get_mut(&account) else {
                continue;
            };
            kept.retry_at = None;
            let (socket, direct) = match kept.target {
                Target::Addr(addr) => (mio::net::TcpStream::connect(addr), false),
                Target::Dns { dns } => match kept.resolving.take() {
                    None => {
                        kept.resolving = Some(resolve_in_background(kept.domain.clone(), dns));
                        continue;
                    }
                    Some(rx) => match rx.try_recv() {
                        Ok(Ok((socket, direct))) => {
                            let socket = socket
                                .set_nonblocking(true)
                                .map(|()| mio::net::TcpStream::from_std(socket));
                            (socket, direct)
                        }
                        Err(mpsc::TryRecvError::Empty) => {
                            kept.resolving = Some(rx);
                            continue;
                        }
                        Ok(Err(_)) | Err(mpsc::TryRecvError::Disconnected) => {
                            kept.keeper.connect_failed();
                            reports.extend(self.connection_over(account));
                            continue;
                        }
                    },
                },
            };
            let mut config = kept.keeper.prepare((kept.make_config)());
            if direct {
                config = config.with_tls(xmpp_proto::client::ClientTlsPolicy::Direct);
            }
            let added = socket.and_then(|socket| {
                let _ = socket.set_nodelay(true);
                driver.add_client(socket, Client::new(config, clock::now()), kept.tls.clone())
            });
            match added {
                Ok(conn) => {
                    kept.conn = Some(conn);
                    self.by_conn.insert(conn, account);
                }
                Err(_) => {
                    kept.keeper.connect_failed();
                    reports.extend(self.connection_over(account));
                }
            }
        }
        reports
    }
}

/// Finds and connects to `domain`'s server on a helper thread, as the
/// blocking transport does (SRV candidates in order, the addresses of
/// each raced, the domain on 5222 without SRV): the loop only takes the
/// connected socket.
fn resolve_in_background(domain: String, dns: Option<SocketAddr>) -> Resolving {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(connect_by_dns(&domain, dns));
    });
    rx
}

fn connect_by_dns(
    domain: &str,
    dns: Option<SocketAddr>,
) -> io::Result<(std::net::TcpStream, bool)> {
    use xmpp_proto::resolve::{Plan, Security};
    use xmpp_transport_std::resolve::{DEFAULT_ATTEMPT_TIMEOUT, Resolver};
    let resolver = match dns {
        Some(server) => Resolver::with_server(server),
        None => Resolver::system(),
    };
    let plan = resolver.and_then(|r| r.plan(domain).map(|p| (r, p)));
    match plan {
        Ok((_, Plan::NoService)) => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{domain} offers no XMPP client service"),
        )),
        Ok((resolver, Plan::Candidates(candidates))) => {
            match resolver.connect_to(candidates, DEFAULT_ATTEMPT_TIMEOUT) {
                Ok(c) => Ok((c.socket, c.candidate.security == Security::DirectTls)),
                // The DNS asked may not know the host: the system's.
                Err(_) => Ok((xmpp_transport_std::connect(domain, None)?, false)),
            }
        }
        Err(_) => Ok((xmpp_transport_std::connect(domain, None)?, false)),
    }
}
