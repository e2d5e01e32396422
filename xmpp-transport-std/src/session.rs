//! The few-lines path: log in, send, close, for bots and scripts.
//!
//! [`Session`] wraps a [`Connection`] driving a [`Client`] with the
//! defaults a script wants: STARTTLS required and certificates checked
//! against the XMPP domain, the operating system's randomness, login
//! finished before [`Session::login`] returns.
//!
//! ```no_run
//! let mut xmpp = xmpp_transport_std::Session::login("alice@example.com", "secret")?;
//! xmpp.send_message("bob@example.com", "hello")?;
//! xmpp.close()?;
//! # Ok::<(), xmpp_transport_std::SessionError>(())
//! ```

use std::fmt;
use std::time::{Duration, Instant};

use xmpp_proto::client::{Client, ClientConfig, ClientEvent as Event, ClientTlsPolicy, StanzaId};
use xmpp_proto::endpoint::{CloseReason, CommandError};
use xmpp_proto::jid::{FullJid, Jid, JidError};
use xmpp_proto::resolve::{Plan, Security};
use xmpp_proto::sm::SmSession;
use xmpp_proto::stanza::StanzaError;

use crate::{ClientTls, Connection, Error, Next, TrustAnchors, clock};

/// A logged-in client session on a blocking connection.
pub struct Session {
    conn: Connection<Client>,
    jid: FullJid,
    /// Events that arrived while a helper waited for something else.
    backlog: std::collections::VecDeque<Event>,
}

/// Where and how to connect, beyond the defaults.
#[derive(Clone, Debug, Default)]
pub struct LoginOptions {
    /// `host:port` to connect to. Without it, the JID's domain is looked
    /// up in DNS (SRV, see [`crate::resolve`]), falling back to the
    /// domain on 5222.
    pub server: Option<String>,
    /// Trust these anchors instead of the public web PKI roots.
    pub trust: Option<TrustAnchors>,
    /// How long the whole login may take (default 30 s).
    pub timeout: Option<Duration>,
    /// The DNS server to ask instead of the system's (tests, private
    /// deployments).
    pub dns: Option<std::net::SocketAddr>,
}

/// The domain's server found through DNS SRV, the stream secured as its
/// record says (direct TLS or STARTTLS); without a usable resolver, the
/// domain on 5222. A domain that says it has no service (`.`) is an
/// error.
/// Whether the plan is only the no-SRV fallback (the domain on 5222).
fn is_fallback(candidates: &[xmpp_proto::resolve::Candidate], domain: &str) -> bool {
    matches!(candidates, [only] if only.host == domain && only.port == crate::DEFAULT_PORT)
}

/// A TCP connection to the server of `config`'s domain, as `options`
/// say: the given server, or DNS SRV (which may switch the stream to
/// direct TLS).
pub(crate) fn connect_for(
    config: ClientConfig,
    options: &LoginOptions,
) -> std::io::Result<(std::net::TcpStream, ClientConfig)> {
    match options.server.as_deref() {
        Some(server) => Ok((crate::connect(config.domain(), Some(server))?, config)),
        None => connect_by_dns(config, options.dns),
    }
}

fn connect_by_dns(
    config: ClientConfig,
    dns: Option<std::net::SocketAddr>,
) -> std::io::Result<(std::net::TcpStream, ClientConfig)> {
    let domain = config.domain();
    let local = domain == "localhost" || domain.ends_with(".localhost");
    if local
        || domain
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok()
    {
        // Nothing to ask DNS about.
        return Ok((crate::connect(domain, None)?, config));
    }
    let resolver = match dns {
        Some(server) => crate::resolve::Resolver::with_server(server),
        None => crate::resolve::Resolver::system(),
    };
    // Without DNS (no resolver configuration, no answer), or without SRV
    // records, the operating system finds the domain's address, as it
    // does for `localhost` and /etc/hosts.
    let plan = resolver.and_then(|r| r.plan(config.domain()).map(|plan| (r, plan)));
    let (resolver, candidates) = match plan {
        Ok((_, Plan::NoService)) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!(
                    "{} offers no XMPP client service (SRV target '.')",
                    config.domain()
                ),
            ));
        }
        Ok((resolver, Plan::Candidates(c))) if !is_fallback(&c, config.domain()) => (resolver, c),
        _ => return Ok((crate::connect(config.domain(), None)?, config)),
    };
    let connected = resolver.connect_to(candidates, crate::resolve::DEFAULT_ATTEMPT_TIMEOUT)?;
    connected.socket.set_nodelay(true)?;
    let config = match connected.candidate.security {
        Security::DirectTls => config.with_tls(ClientTlsPolicy::Direct),
        Security::StartTls => config,
    };
    Ok((connected.socket, config))
}

impl fmt::Debug for TrustAnchors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrustAnchors({} anchors)", self.len())
    }
}

/// What [`Session::abandon`] leaves.
#[derive(Debug)]
#[non_exhaustive]
pub struct Abandoned {
    /// The state to resume the session with, if stream management with
    /// resumption was on.
    pub resumable: Option<SmSession>,
    /// The other events that were still pending, in order (messages that
    /// arrived last, `Undelivered`, `Closed`).
    pub events: Vec<Event>,
}

/// Why a [`Session`] call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum SessionError {
    /// The JID is not valid.
    Jid(JidError),
    /// Connecting, TLS or the socket failed.
    Transport(Error),
    /// The session ended (login refused, stream error, ...).
    Closed(CloseReason),
    /// The client refused the command.
    Send(CommandError),
    /// The stanza came back as an error from the recipient or its server
    /// (no such user, not available, malformed address, ...).
    Bounced {
        /// Who reported the error.
        from: Option<String>,
        /// The error (boxed: it is large and rare).
        error: Box<StanzaError>,
    },
    /// What was waited for did not happen in time.
    Timeout,
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Jid(e) => e.fmt(f),
            SessionError::Transport(e) => e.fmt(f),
            SessionError::Closed(r) => r.fmt(f),
            SessionError::Send(e) => e.fmt(f),
            SessionError::Bounced { from, error } => {
                let by = from.as_deref().unwrap_or("the server");
                write!(f, "refused by {by}: {error}")
            }
            SessionError::Timeout => f.write_str("timed out"),
        }
    }
}

impl std::error::Error for SessionError {}

impl From<Error> for SessionError {
    fn from(e: Error) -> Self {
        SessionError::Transport(e)
    }
}

impl From<std::io::Error> for SessionError {
    fn from(e: std::io::Error) -> Self {
        SessionError::Transport(Error::Io(e))
    }
}

impl Session {
    /// Connects to the JID's domain on port 5222, upgrades with STARTTLS
    /// (certificate checked against the domain with the public roots),
    /// authenticates with the strongest mechanism both sides support, and
    /// binds a resource.
    pub fn login(jid: &str, password: &str) -> Result<Session, SessionError> {
        Self::login_with(jid, password, LoginOptions::default())
    }

    /// [`Session::login`] with a server address, trust anchors or timeout.
    pub fn login_with(
        jid: &str,
        password: &str,
        options: LoginOptions,
    ) -> Result<Session, SessionError> {
        let jid = Jid::new(jid).map_err(SessionError::Jid)?;
        let config = ClientConfig::new(jid, password);
        Self::login_config(config, options)
    }

    /// Logs in with a full client configuration (SASL policy, direct TLS,
    /// timeouts, tracing, stream management). With `ClientConfig::with_resumption` it returns
    /// once the old session is resumed (or a new one bound, when the
    /// server refused).
    pub fn login_config(
        config: ClientConfig,
        options: LoginOptions,
    ) -> Result<Session, SessionError> {
        let anchors = options
            .trust
            .clone()
            .unwrap_or_else(TrustAnchors::webpki_roots);
        let tls = ClientTls::new(&anchors, config.domain())?;
        let (tcp, config) = connect_for(config, &options)?;
        let mut conn = Connection::new_client(tcp, Client::new(config, clock::now()), tls)?;
        let deadline = Instant::now() + options.timeout.unwrap_or(Duration::from_secs(30));
        let mut backlog = std::collections::VecDeque::new();
        loop {
            match conn.next_event_until(deadline)? {
                Next::Event(Event::Online { jid }) => return Ok(Session { conn, jid, backlog }),
                // With `ClientConfig::with_resumption`: the old session
                // goes on (events before the `Resumed` stay in the
                // backlog, `Undelivered` among them if it was not).
                Next::Event(Event::Resumed { jid }) => {
                    return Ok(Session { conn, jid, backlog });
                }
                Next::Event(Event::Closed { reason }) => return Err(SessionError::Closed(reason)),
                Next::Event(other) => backlog.push_back(other),
                Next::Deadline => return Err(SessionError::Timeout),
                Next::Closed => return Err(SessionError::Closed(CloseReason::ConnectionLost)),
            }
        }
    }

    /// The full JID the server bound.
    pub fn jid(&self) -> &FullJid {
        &self.jid
    }

    /// Sends a chat message to `to`.
    pub fn send_message(&mut self, to: &str, body: &str) -> Result<StanzaId, SessionError> {
        self.conn
            .command(|c, now| c.send_message(now, to, body, false))?
            .map_err(SessionError::Send)
    }

    /// Sends a chat message with a XEP-0184 receipt request and waits up
    /// to `timeout` for the receipt; an error answering the message ends
    /// the wait at once with [`SessionError::Bounced`].
    pub fn send_message_with_receipt(
        &mut self,
        to: &str,
        body: &str,
        timeout: Duration,
    ) -> Result<StanzaId, SessionError> {
        let id = self
            .conn
            .command(|c, now| c.send_message(now, to, body, true))?
            .map_err(SessionError::Send)?;
        let deadline = Instant::now() + timeout;
        loop {
            match self.conn.next_event_until(deadline)? {
                Next::Event(Event::ReceiptReceived { id: got, .. }) if got == id => {
                    return Ok(id);
                }
                Next::Event(Event::Bounced {
                    id: got,
                    from,
                    error,
                }) if got == id => {
                    return Err(SessionError::Bounced {
                        from,
                        error: Box::new(error),
                    });
                }
                Next::Event(Event::Closed { reason }) => return Err(SessionError::Closed(reason)),
                Next::Event(other) => self.backlog.push_back(other),
                Next::Deadline => return Err(SessionError::Timeout),
                Next::Closed => return Err(SessionError::Closed(CloseReason::ConnectionLost)),
            }
        }
    }

    /// The next event (blocking); `None` once the connection is over.
    pub fn next_event(&mut self) -> Result<Option<Event>, SessionError> {
        match self.backlog.pop_front() {
            Some(e) => Ok(Some(e)),
            None => Ok(self.conn.next_event()?),
        }
    }

    /// The next event, waiting at most until `deadline`
    /// ([`Next::Deadline`] then); events that arrived while another call
    /// waited come first.
    pub fn next_event_until(&mut self, deadline: Instant) -> Result<Next<Event>, SessionError> {
        match self.backlog.pop_front() {
            Some(e) => Ok(Next::Event(e)),
            None => Ok(self.conn.next_event_until(deadline)?),
        }
    }

    /// The underlying connection, for everything else (`command`, `run`).
    pub fn connection(&mut self) -> &mut Connection<Client> {
        &mut self.conn
    }

    /// Gives the connection up the way a network failure ends it (no
    /// closing tag, the socket shut down), for an application that knows
    /// the network changed and wants to resume at once on a new one
    /// instead of waiting for timeouts. With stream management and
    /// resumption on, [`Abandoned::resumable`] is the state to log in
    /// again with (`ClientConfig::with_resumption`); otherwise what the
    /// server never acknowledged is in an `ClientEvent::Undelivered` among
    /// [`Abandoned::events`].
    ///
    /// ```no_run
    /// # use xmpp_transport_std::{LoginOptions, Session};
    /// # use xmpp_transport_std::proto::client::ClientConfig;
    /// # fn f(session: Session, config: ClientConfig) -> Result<(), Box<dyn std::error::Error>> {
    /// // The phone moved from Wi-Fi to mobile data:
    /// if let Some(state) = session.abandon().resumable {
    ///     let session = Session::login_config(config.with_resumption(state), LoginOptions::default())?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn abandon(mut self) -> Abandoned {
        let _ = self.conn.socket().shutdown(std::net::Shutdown::Both);
        let mut abandoned = Abandoned {
            resumable: None,
            events: self.backlog.drain(..).collect(),
        };
        // The connection reports its failure once, then hands out the
        // client's last events.
        let mut failures = 0;
        loop {
            match self.conn.next_event() {
                Ok(Some(Event::Resumable(state))) => abandoned.resumable = Some(*state),
                Ok(Some(event)) => abandoned.events.push(event),
                Ok(None) => break,
                Err(_) if failures == 0 => failures += 1,
                Err(_) => break,
            }
        }
        abandoned
    }

    /// Closes the stream and waits for the server's close.
    pub fn close(mut self) -> Result<(), SessionError> {
        self.conn.command(|c, now| c.close(now))?;
        while let Some(event) = self.conn.next_event()? {
            if let Event::Closed { reason } = event {
                if reason != CloseReason::Normal {
                    return Err(SessionError::Closed(reason));
                }
            }
        }
        Ok(())
    }
}
