//! Finding a domain's server: DNS SRV (`_xmpps-client._tcp` for direct
//! TLS, `_xmpp-client._tcp` for STARTTLS) through the `hickory-resolver`
//! crate, ordered by the core's [`plan_client`], then the addresses of
//! each host tried in turn, IPv6 and IPv4 alternating, each attempt with
//! its own timeout.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

use hickory_resolver::Resolver as Hickory;
use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig, ResolverOpts};
use hickory_resolver::error::ResolveErrorKind;
use xmpp_proto::random::{OsRandom, RandomSource};
use xmpp_proto::resolve::{Candidate, Plan, SrvRecord, plan_client};

/// How long one connection attempt may take by default.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// A DNS resolver for finding XMPP servers.
pub struct Resolver {
    inner: Hickory,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver").finish_non_exhaustive()
    }
}

/// A connection made to a domain's server, and how to secure it.
#[derive(Debug)]
pub struct Connected {
    /// The socket.
    pub socket: TcpStream,
    /// The host and port it reached, and whether TLS starts at once.
    pub candidate: Candidate,
    /// The address it reached.
    pub addr: SocketAddr,
}

impl Resolver {
    /// The system's resolver configuration (`/etc/resolv.conf`).
    ///
    /// # Errors
    /// If it cannot be read.
    pub fn system() -> io::Result<Self> {
        Ok(Resolver {
            inner: Hickory::from_system_conf()?,
        })
    }

    /// Asks only the DNS server at `server` (plain UDP and TCP): for
    /// tests and private deployments.
    ///
    /// # Errors
    /// If the resolver cannot start.
    pub fn with_server(server: SocketAddr) -> io::Result<Self> {
        let servers = NameServerConfigGroup::from_ips_clear(&[server.ip()], server.port(), true);
        let config = ResolverConfig::from_parts(None, Vec::new(), servers);
        let mut opts = ResolverOpts::default();
        opts.timeout = Duration::from_secs(2);
        opts.attempts = 2;
        Ok(Resolver {
            inner: Hickory::new(config, opts)?,
        })
    }

    /// The SRV answers for `service` (`_xmpp-client._tcp`) of `domain`;
    /// none if the name has none.
    ///
    /// # Errors
    /// If DNS fails otherwise (no server answers).
    pub fn srv(&self, service: &str, domain: &str) -> io::Result<Vec<SrvRecord>> {
        let name = format!("{service}.{domain}.");
        match self.inner.srv_lookup(name.as_str()) {
            Ok(answers) => Ok(answers
                .iter()
                .map(|srv| {
                    let target = srv.target().to_ascii();
                    SrvRecord::new(srv.priority(), srv.weight(), srv.port(), &target)
                })
                .collect()),
            Err(e) if matches!(e.kind(), ResolveErrorKind::NoRecordsFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(io::Error::other(e)),
        }
    }

    /// Where to connect for `domain`, in order (see
    /// [`xmpp_proto::resolve`]).
    ///
    /// # Errors
    /// If DNS fails.
    pub fn plan(&self, domain: &str) -> io::Result<Plan> {
        let direct = self.srv("_xmpps-client._tcp", domain)?;
        let starttls = self.srv("_xmpp-client._tcp", domain)?;
        let mut bytes = [0u8; 64];
        // Without randomness, weights still order, only predictably.
        let _ = OsRandom.fill(&mut bytes);
        let mut random = bytes.into_iter().cycle();
        Ok(plan_client(domain, &direct, &starttls, &mut random))
    }

    /// Where to connect for a server-to-server stream to `domain`, in
    /// order: `_xmpps-server._tcp` and `_xmpp-server._tcp`, port 5269
    /// without records (see [`xmpp_proto::resolve::plan_server`]).
    ///
    /// # Errors
    /// If DNS fails.
    pub fn plan_server(&self, domain: &str) -> io::Result<Plan> {
        let direct = self.srv("_xmpps-server._tcp", domain)?;
        let starttls = self.srv("_xmpp-server._tcp", domain)?;
        let mut bytes = [0u8; 64];
        let _ = OsRandom.fill(&mut bytes);
        let mut random = bytes.into_iter().cycle();
        Ok(xmpp_proto::resolve::plan_server(
            domain,
            &direct,
            &starttls,
            &mut random,
        ))
    }

    /// The addresses of `host`, IPv6 and IPv4 alternating (so that a
    /// broken family costs one attempt, not all).
    ///
    /// # Errors
    /// If the host has no address or DNS fails.
    pub fn addresses(&self, host: &str) -> io::Result<Vec<IpAddr>> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let found = self
            .inner
            .lookup_ip(format!("{host}.").as_str())
            .map_err(io::Error::other)?;
        let (v6, v4): (Vec<IpAddr>, Vec<IpAddr>) = found.iter().partition(IpAddr::is_ipv6);
        let mut mixed = Vec::with_capacity(v6.len() + v4.len());
        let (mut a, mut b) = (v6.into_iter(), v4.into_iter());
        loop {
            match (a.next(), b.next()) {
                (None, None) => break,
                (x, y) => mixed.extend(x.into_iter().chain(y)),
            }
        }
        Ok(mixed)
    }

    /// Connects to `domain`'s server: every candidate of the plan in
    /// order, every address of each, `timeout` per attempt.
    ///
    /// # Errors
    /// `NotFound` if the domain offers no service (SRV target `.`);
    /// otherwise the last attempt's error.
    pub fn connect(&self, domain: &str, timeout: Duration) -> io::Result<Connected> {
        match self.plan(domain)? {
            Plan::Candidates(candidates) => self.connect_to(candidates, timeout),
            Plan::NoService => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{domain} offers no XMPP client service (SRV target '.')"),
            )),
        }
    }

    /// Connects to the first of `candidates` that answers: the candidates
    /// in order, the addresses of each raced ([`race`]: IPv6 and IPv4
    /// alternating, a new attempt every [`CONNECTION_ATTEMPT_DELAY`] while
    /// the earlier ones are still pending), `timeout` per attempt.
    ///
    /// # Errors
    /// The last attempt's error.
    pub fn connect_to(
        &self,
        candidates: Vec<Candidate>,
        timeout: Duration,
    ) -> io::Result<Connected> {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no candidate to connect to");
        for candidate in candidates {
            let addresses = match self.addresses(&candidate.host) {
                Ok(addresses) => addresses,
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            let addrs: Vec<SocketAddr> = addresses
                .into_iter()
                .map(|ip| SocketAddr::new(ip, candidate.port))
                .collect();
            match race(&addrs, CONNECTION_ATTEMPT_DELAY, timeout) {
                Ok((socket, addr)) => {
                    return Ok(Connected {
                        socket,
                        candidate,
                        addr,
                    });
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

/// How long an attempt runs alone before the next address is tried beside
/// it (RFC 8305 §5 recommends 250 ms).
pub const CONNECTION_ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// Happy eyeballs (RFC 8305): connects to the first of `addrs` that
/// answers, starting the attempts in order, each `stagger` after the
/// previous one (or at once when all earlier ones have failed), each given
/// `timeout`. Put the families alternating, as
/// [`Resolver::addresses`] does, so that a broken family costs at most
/// `stagger`. Attempts still pending when one succeeds are dropped.
///
/// ```
/// use std::net::{SocketAddr, TcpListener};
/// use std::time::Duration;
/// use xmpp_transport_std::resolve::race;
///
/// let closed: SocketAddr = {
///     let l = TcpListener::bind("127.0.0.1:0")?;
///     l.local_addr()?
/// }; // dropped: nothing listens there any more
/// let open = TcpListener::bind("127.0.0.1:0")?;
/// let (_socket, addr) = race(&[closed, open.local_addr()?], Duration::from_millis(250), Duration::from_secs(5))?;
/// assert_eq!(addr, open.local_addr()?);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
/// `NotFound` for no address; otherwise the last attempt's error.
pub fn race(
    addrs: &[SocketAddr],
    stagger: Duration,
    timeout: Duration,
) -> io::Result<(TcpStream, SocketAddr)> {
    use std::sync::mpsc::{RecvTimeoutError, channel};
    use std::time::Instant;
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address to connect to");
    let (tx, rx) = channel();
    let (mut started, mut failed) = (0, 0);
    let mut next_start = Instant::now();
    loop {
        let now = Instant::now();
        if started < addrs.len() && (now >= next_start || failed == started) {
            let (addr, tx) = (addrs[started], tx.clone());
            std::thread::spawn(move || {
                // A late winner's socket is dropped with the message.
                let _ = tx.send((addr, TcpStream::connect_timeout(&addr, timeout)));
            });
            started += 1;
            next_start = now + stagger;
            continue;
        }
        if failed == addrs.len() {
            return Err(last);
        }
        let wait = if started < addrs.len() {
            next_start.saturating_duration_since(now)
        } else {
            timeout + Duration::from_secs(1)
        };
        match rx.recv_timeout(wait) {
            Ok((addr, Ok(socket))) => return Ok((socket, addr)),
            Ok((_, Err(e))) => {
                failed += 1;
                last = e;
            }
            Err(RecvTimeoutError::Timeout) => {
                if started == addrs.len() {
                    // Every attempt outlived its own timeout: give up.
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no address answered",
                    ));
                }
            }
            Err(RecvTimeoutError::Disconnected) => return Err(last),
        }
    }
}

#[cfg(test)]
mod race_tests {
    use super::*;
    use std::net::TcpListener;

    fn closed() -> SocketAddr {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    }

    #[test]
    fn the_first_address_that_answers_wins_whatever_its_place() {
        let open = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = open.local_addr().unwrap();
        for addrs in [vec![addr, closed()], vec![closed(), closed(), addr]] {
            let (_, won) = race(&addrs, Duration::from_secs(10), Duration::from_secs(5)).unwrap();
            // The refusals start the next attempt at once: no 10 s stagger.
            assert_eq!(won, addr);
        }
    }

    #[test]
    fn all_refused_is_the_last_error_and_none_is_not_found() {
        let e = race(
            &[closed(), closed()],
            Duration::from_millis(1),
            Duration::from_secs(5),
        )
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
        let e = race(&[], Duration::from_millis(1), Duration::from_secs(5)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }
}

/// Where other servers are, for server-to-server links: a table of
/// static routes (tests, private deployments) tried first, then DNS SRV
/// (`_xmpps-server._tcp`, `_xmpp-server._tcp`, port 5269 without
/// records) through a [`Resolver`]. Blocking: both servers call it on a
/// thread of its own.
///
/// ```
/// use std::net::TcpListener;
/// use xmpp_transport_std::resolve::PeerFinder;
///
/// let peer = TcpListener::bind("127.0.0.1:0")?;
/// let finder = PeerFinder::new(None).with_route("example.net", peer.local_addr()?);
/// let connected = finder.connect("example.net")?;
/// assert_eq!(connected.addr, peer.local_addr()?);
/// // Without a route or a resolver, nothing else is reachable.
/// assert!(finder.connect("example.org").is_err());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct PeerFinder {
    routes: std::collections::HashMap<String, SocketAddr>,
    resolver: Option<Resolver>,
}

impl PeerFinder {
    /// No routes; DNS through `resolver`, or nothing but routes.
    pub fn new(resolver: Option<Resolver>) -> Self {
        PeerFinder {
            routes: std::collections::HashMap::new(),
            resolver,
        }
    }

    /// `domain`'s server is at `addr` (STARTTLS), whatever DNS says.
    pub fn with_route(mut self, domain: &str, addr: SocketAddr) -> Self {
        self.add_route(domain, addr);
        self
    }

    /// As [`PeerFinder::with_route`], in place.
    pub fn add_route(&mut self, domain: &str, addr: SocketAddr) {
        self.routes.insert(domain.to_ascii_lowercase(), addr);
    }

    /// Uses `resolver` for the domains without a route.
    pub fn set_resolver(&mut self, resolver: Resolver) {
        self.resolver = Some(resolver);
    }

    /// Connects to `domain`'s server: its route, else every candidate of
    /// its SRV plan in order.
    ///
    /// # Errors
    /// `NotFound` without a route or resolver, or when the domain offers
    /// no service (SRV target `.`); otherwise the last attempt's error.
    pub fn connect(&self, domain: &str) -> io::Result<Connected> {
        if let Some(addr) = self.routes.get(domain) {
            let (socket, addr) = race(&[*addr], Duration::ZERO, DEFAULT_ATTEMPT_TIMEOUT)?;
            let candidate = Candidate {
                host: addr.ip().to_string(),
                port: addr.port(),
                security: xmpp_proto::resolve::Security::StartTls,
            };
            return Ok(Connected {
                socket,
                candidate,
                addr,
            });
        }
        let Some(resolver) = &self.resolver else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no route to {domain} and no resolver"),
            ));
        };
        match resolver.plan_server(domain)? {
            Plan::Candidates(candidates) => {
                resolver.connect_to(candidates, DEFAULT_ATTEMPT_TIMEOUT)
            }
            Plan::NoService => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{domain} takes no server-to-server streams (SRV target '.')"),
            )),
        }
    }
}
