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

    /// Connects to the first of `candidates` that answers (every address
    /// of each in turn, `timeout` per attempt).
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
            for ip in addresses {
                let addr = SocketAddr::new(ip, candidate.port);
                match TcpStream::connect_timeout(&addr, timeout) {
                    Ok(socket) => {
                        return Ok(Connected {
                            socket,
                            candidate,
                            addr,
                        });
                    }
                    Err(e) => last = e,
                }
            }
        }
        Err(last)
    }
}
