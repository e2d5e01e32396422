//! How a [`Server`](super::Server) behaves: which domain it serves, how it
//! protects the stream, which SASL mechanisms it offers, and its timers
//! and limits.

use std::fmt;
use std::time::Duration;

use crate::jid::{BareJid, JidError, JidErrorKind, JidPart};
use crate::random::RandomSource;
use crate::sasl;
use crate::sm::SmConfig;
use crate::xml::Limits;

/// How the server protects connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ServerTlsPolicy {
    /// Offer STARTTLS as required (RFC 6120 §5.3.1): nothing else is
    /// offered before TLS, and a client that tries to go on without it
    /// gets a `policy-violation` stream error. The default.
    #[default]
    RequireStartTls,
    /// TLS from the first byte (XEP-0368 direct TLS): the first transmit
    /// is `Transmit::StartTls`.
    Direct,
    /// Offer STARTTLS but also offer SASL on the plaintext stream. Only
    /// for test set-ups: PLAIN still needs TLS unless the SASL config
    /// allows it.
    OptionalStartTls,
    /// Never offer TLS. Only for tests on loopback.
    Disabled,
}

/// The server's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerTimeouts {
    /// From the accepted connection until the session is bound (default
    /// 30 s, time enough for a TLS handshake and a login on a slow link);
    /// a slower client gets `connection-timeout`. Bounds how long a
    /// connection that never logs in holds a slot and memory.
    pub negotiation: Duration,
    /// How long `close()` waits for the client's `</stream:stream>` before
    /// shutting the connection down anyway (default 5 s).
    pub close: Duration,
    /// After this long without a byte from a bound client, probe it: an
    /// `<r/>` when stream management is on, else an XEP-0199 ping
    /// (default 300 s; `None` disables it). A connection that died
    /// without a FIN (a phone that lost its network) is otherwise only
    /// noticed when TCP gives up, many minutes later.
    pub probe_after: Option<Duration>,
    /// How long a probe may go unanswered (no byte at all from the
    /// client) before the connection is declared dead (default 60 s): a
    /// stream-managed session is then detached for resumption.
    pub probe_timeout: Duration,
}

impl Default for ServerTimeouts {
    fn default() -> Self {
        ServerTimeouts {
            negotiation: Duration::from_secs(30),
            close: Duration::from_secs(5),
            probe_after: Some(Duration::from_secs(300)),
            probe_timeout: Duration::from_secs(60),
        }
    }
}

/// Which end of a server-to-server stream a server is.
#[derive(Clone, Debug)]
pub(crate) enum S2sMode {
    /// A peer connected to us.
    Receiving(crate::s2s::Federation),
    /// Our link to `remote`.
    Initiating {
        remote: String,
        federation: crate::s2s::Federation,
    },
}

impl S2sMode {
    pub(crate) fn federation(&self) -> &crate::s2s::Federation {
        match self {
            S2sMode::Receiving(f) | S2sMode::Initiating { federation: f, .. } => f,
        }
    }
}

/// The default [`ServerConfig::with_max_output`]: 256 KiB.
pub const DEFAULT_MAX_OUTPUT: usize = 256 * 1024;

/// Everything a [`Server`](super::Server) needs to know before it starts.
///
/// ```
/// use xmpp_proto::server::{ServerConfig, ServerTlsPolicy};
///
/// let config = ServerConfig::new("example.com")?
///     .with_tls(ServerTlsPolicy::Direct)
///     .with_max_auth_attempts(2);
/// assert_eq!(config.domain(), "example.com");
/// # Ok::<(), xmpp_proto::jid::JidError>(())
/// ```
pub struct ServerConfig {
    pub(crate) domain: BareJid,
    pub(crate) tls: ServerTlsPolicy,
    pub(crate) sasl: sasl::SaslServerConfig,
    pub(crate) timeouts: ServerTimeouts,
    pub(crate) limits: Limits,
    pub(crate) preauth_limits: Limits,
    pub(crate) max_auth_attempts: u32,
    pub(crate) max_bind_attempts: u32,
    pub(crate) max_events: usize,
    pub(crate) max_output: usize,
    pub(crate) lang: String,
    pub(crate) trace: bool,
    pub(crate) random: Option<Box<dyn RandomSource + Send>>,
    pub(crate) sm: Option<SmConfig>,
    pub(crate) components: bool,
    /// Server-to-server mode, either direction.
    pub(crate) s2s: Option<S2sMode>,
    pub(crate) sasl2: bool,
    pub(crate) fast: bool,
    pub(crate) websocket: bool,
}

impl ServerConfig {
    /// A server for the XMPP domain `domain` (prepared like a JID's
    /// domainpart).
    ///
    /// # Errors
    /// If `domain` is not a valid domainpart (or has a local or resource
    /// part).
    pub fn new(domain: &str) -> Result<Self, JidError> {
        let domain = BareJid::new(domain)?;
        if domain.localpart().is_some() {
            return Err(JidError::new(JidPart::Localpart, JidErrorKind::Unexpected));
        }
        Ok(ServerConfig {
            domain,
            tls: ServerTlsPolicy::default(),
            sasl: sasl::SaslServerConfig::default(),
            timeouts: ServerTimeouts::default(),
            limits: Limits::default(),
            preauth_limits: Limits::before_authentication(),
            max_auth_attempts: 3,
            max_bind_attempts: 5,
            max_events: 4096,
            max_output: DEFAULT_MAX_OUTPUT,
            lang: "en".to_owned(),
            trace: false,
            random: None,
            sm: None,
            components: false,
            s2s: None,
            sasl2: true,
            fast: false,
            websocket: false,
        })
    }

    /// Serves XMPP over WebSocket (RFC 7395) instead of a TCP stream: the
    /// transport does the WebSocket upgrade (checking the `xmpp`
    /// subprotocol), hands every message to
    /// [`handle_input`](crate::Endpoint::handle_input) whole and sends
    /// every `Transmit::Data` as one message. Everything above the framing
    /// is unchanged. STARTTLS is never offered over WebSocket: TLS is the
    /// transport's (`wss://`), so [`ServerTlsPolicy::RequireStartTls`]
    /// (the default) means [`ServerTlsPolicy::Direct`] here (the first
    /// transmit is `StartTls`, and the transport reports the TLS facts
    /// once the handshake and upgrade are done), and
    /// [`ServerTlsPolicy::OptionalStartTls`] means
    /// [`ServerTlsPolicy::Disabled`] (plain `ws://` on loopback, or behind
    /// a proxy that terminates TLS).
    ///
    /// ```
    /// use xmpp_proto::server::{ServerConfig, ServerTlsPolicy};
    ///
    /// let config = ServerConfig::new("example.com")?.with_websocket();
    /// assert!(config.is_websocket());
    /// # Ok::<(), xmpp_proto::jid::JidError>(())
    /// ```
    pub fn with_websocket(mut self) -> Self {
        self.websocket = true;
        self
    }

    /// Whether the server speaks XMPP over WebSocket.
    pub fn is_websocket(&self) -> bool {
        self.websocket
    }

    /// This listener takes external components (XEP-0114,
    /// `jabber:component:accept`) instead of clients: a component names
    /// the domain it wants in its header, proves the shared secret with
    /// `<handshake/>` (asked as [`ServerEvent::ComponentHandshake`]), and
    /// then sends stanzas from any address of that domain and receives
    /// every stanza for it. There is no STARTTLS in XEP-0114: unless TLS
    /// is [`ServerTlsPolicy::Direct`], the stream is plaintext (listen on
    /// loopback or a trusted network). No SASL, binding or stream
    /// management.
    ///
    /// [`ServerEvent::ComponentHandshake`]: super::ServerEvent::ComponentHandshake
    pub fn for_components(mut self) -> Self {
        self.components = true;
        if self.tls != ServerTlsPolicy::Direct {
            self.tls = ServerTlsPolicy::Disabled;
        }
        self
    }

    /// This listener takes other servers (RFC 6120 server-to-server
    /// streams, `jabber:server`): STARTTLS required, then each peer
    /// proves its domain by SASL EXTERNAL with its certificate or by
    /// Server Dialback, as `federation`'s policy allows
    /// ([`ServerEvent::DialbackRequest`] asks for the key checks that need
    /// another server), and its stanzas come in as
    /// [`ServerEvent::Stanza`], from the domains it proved, for the
    /// domains we serve. Nothing is sent to the peer on this stream but
    /// negotiation answers: our stanzas for it travel on our own link
    /// ([`ServerConfig::for_remote_domain`]).
    ///
    /// [`ServerEvent::DialbackRequest`]: super::ServerEvent::DialbackRequest
    /// [`ServerEvent::Stanza`]: super::ServerEvent::Stanza
    pub fn for_federation(mut self, federation: crate::s2s::Federation) -> Self {
        self.s2s = Some(S2sMode::Receiving(federation));
        self.sm = None;
        self.sasl2 = false;
        self
    }

    /// Our link to the server of `remote`, the initiating side of a
    /// server-to-server stream: the first transmit is our header (or,
    /// with [`ServerTlsPolicy::Direct`], `Transmit::StartTls`, for a peer
    /// found through `_xmpps-server`). STARTTLS is required; then the link
    /// authenticates our domain with SASL EXTERNAL where the peer offers
    /// it, else with Server Dialback (the key from `federation`'s
    /// secret). [`ServerEvent::S2sReady`] says when `db:verify` requests
    /// can go out on it, [`ServerEvent::S2sOnline`] when stanzas can
    /// (`Server::deliver`). Drive it with a TLS *client* that verifies
    /// the peer's certificate for `remote` and presents ours.
    ///
    /// ```
    /// use xmpp_proto::endpoint::{Endpoint, Transmit};
    /// use xmpp_proto::s2s::Federation;
    /// use xmpp_proto::{Server, ServerConfig, Time};
    ///
    /// let config = ServerConfig::new("example.com")?
    ///     .for_remote_domain("example.net", Federation::new("secret"))?;
    /// let mut link = Server::new(config, Time::ZERO);
    /// let Some(Transmit::Data(header)) = link.poll_transmit() else { panic!() };
    /// let header = std::str::from_utf8(header).unwrap();
    /// assert!(header.contains("xmlns='jabber:server'"));
    /// assert!(header.contains("xmlns:db='jabber:server:dialback'"));
    /// assert!(header.contains("from='example.com' to='example.net'"));
    /// # Ok::<(), xmpp_proto::jid::JidError>(())
    /// ```
    ///
    /// [`ServerEvent::S2sReady`]: super::ServerEvent::S2sReady
    /// [`ServerEvent::S2sOnline`]: super::ServerEvent::S2sOnline
    ///
    /// # Errors
    /// If `remote` is not a domain.
    pub fn for_remote_domain(
        mut self,
        remote: &str,
        federation: crate::s2s::Federation,
    ) -> Result<Self, JidError> {
        let remote = BareJid::new(remote)?;
        if remote.localpart().is_some() {
            return Err(JidError::new(JidPart::Localpart, JidErrorKind::Unexpected));
        }
        self.s2s = Some(S2sMode::Initiating {
            remote: remote.as_str().to_owned(),
            federation,
        });
        if self.tls != ServerTlsPolicy::Direct {
            self.tls = ServerTlsPolicy::RequireStartTls;
        }
        self.sm = None;
        self.sasl2 = false;
        Ok(self)
    }

    /// Offers XEP-0198 stream management (`urn:xmpp:sm:3`) after
    /// authentication: `<enabled/>` with a resumption id and `max` (from
    /// `sm.max`, default 300 s) when `sm.resume` is on, counting,
    /// acknowledgements, and `<resume/>` on a new connection
    /// (`ServerEvent::ResumeRequest`). Off by default.
    pub fn with_stream_management(mut self, sm: SmConfig) -> Self {
        self.sm = Some(sm);
        self
    }

    /// Whether to offer Extensible SASL (XEP-0388) beside RFC 6120's SASL,
    /// with Bind 2 (XEP-0386) and, when stream management is on, inline
    /// enable and resumption. On by default: clients that do not know it
    /// use the classic profile as before.
    pub fn with_sasl2(mut self, on: bool) -> Self {
        self.sasl2 = on;
        self
    }

    /// Offers FAST (XEP-0484) under SASL2: the HT-SHA-256 token mechanisms
    /// this stream's TLS can bind, token requests, renewal at every token
    /// login and invalidation. The tokens are the application's to keep:
    /// it answers [`ServerEvent::NeedFastToken`] and
    /// [`ServerEvent::IssueFastToken`]. Off by default.
    ///
    /// [`ServerEvent::NeedFastToken`]: super::ServerEvent::NeedFastToken
    /// [`ServerEvent::IssueFastToken`]: super::ServerEvent::IssueFastToken
    pub fn with_fast(mut self, on: bool) -> Self {
        self.fast = on;
        self
    }

    /// How to protect the stream (default: STARTTLS required).
    pub fn with_tls(mut self, tls: ServerTlsPolicy) -> Self {
        self.tls = tls;
        self
    }

    /// The SASL policy: mechanisms in order of preference, PLAIN without
    /// TLS, XEP-0440 and XEP-0474.
    pub fn with_sasl(mut self, sasl: sasl::SaslServerConfig) -> Self {
        self.sasl = sasl;
        self
    }

    /// Timers (see [`ServerTimeouts`]).
    pub fn with_timeouts(mut self, timeouts: ServerTimeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Limits on what a client may make the reader hold (element size,
    /// depth, attributes, buffered input; all refused with
    /// `policy-violation`).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Limits on what a client may make the reader hold before it has
    /// authenticated (default [`Limits::before_authentication`]: small,
    /// since nothing a client needs to send before then is large). Each
    /// is capped by the corresponding [`with_limits`](Self::with_limits)
    /// value.
    pub fn with_preauth_limits(mut self, limits: Limits) -> Self {
        self.preauth_limits = limits;
        self
    }

    /// The limits in force before authentication: the pre-authentication
    /// ones, none above the general ones.
    pub(crate) fn effective_preauth_limits(&self) -> Limits {
        let (pre, all) = (&self.preauth_limits, &self.limits);
        let mut limits = all.clone();
        limits.max_element_bytes = pre.max_element_bytes.min(all.max_element_bytes);
        limits.max_element_storage = pre.max_element_storage.min(all.max_element_storage);
        limits.max_depth = pre.max_depth.min(all.max_depth);
        limits.max_attributes = pre.max_attributes.min(all.max_attributes);
        limits.max_header_bytes = pre.max_header_bytes.min(all.max_header_bytes);
        limits.max_token_bytes = pre.max_token_bytes.min(all.max_token_bytes);
        limits.max_pending_input = pre.max_pending_input.min(all.max_pending_input);
        limits
    }

    /// How many failed SASL attempts a connection gets before it is closed
    /// with `policy-violation` (default 3; RFC 6120 §6.4.5 suggests 2 to 5).
    pub fn with_max_auth_attempts(mut self, n: u32) -> Self {
        self.max_auth_attempts = n.max(1);
        self
    }

    /// How many refused resource bindings a connection gets before it is
    /// closed with `policy-violation` (default 5).
    pub fn with_max_bind_attempts(mut self, n: u32) -> Self {
        self.max_bind_attempts = n.max(1);
        self
    }

    /// How many undrained events may pile up before the server stops the
    /// connection with `resource-constraint` (default 4096).
    pub fn with_max_events(mut self, max: usize) -> Self {
        self.max_events = max.max(16);
        self
    }

    /// How many bytes may wait for the transport before stanzas for
    /// this client are refused (default [`DEFAULT_MAX_OUTPUT`]): a
    /// routed stanza then goes back to the hub, which gives it to another
    /// resource or answers its sender with an error, so a client that
    /// reads slowly costs at most about this much plus one stanza. Our own
    /// answers (IQ results, errors, stream management) are still written.
    pub fn with_max_output(mut self, bytes: usize) -> Self {
        self.max_output = bytes;
        self
    }

    /// The `xml:lang` of our stream header (default `en`).
    pub fn with_lang(mut self, lang: impl Into<String>) -> Self {
        self.lang = lang.into();
        self
    }

    /// Reports every byte sent and received as
    /// [`ServerEvent::Trace`](super::ServerEvent::Trace). Off by default.
    pub fn with_trace(mut self, on: bool) -> Self {
        self.trace = on;
        self
    }

    /// The source of stream ids, SCRAM nonces, resumption ids and
    /// generated resources, replacing the operating system's
    /// ([`OsRandom`](crate::random::OsRandom), the default): for tests that
    /// must repeat.
    pub fn with_random(mut self, random: Box<dyn RandomSource + Send>) -> Self {
        self.random = Some(random);
        self
    }

    /// The XMPP domain served.
    pub fn domain(&self) -> &str {
        self.domain.domainpart()
    }

    /// The TLS policy.
    pub fn tls(&self) -> ServerTlsPolicy {
        self.tls
    }

    /// The configuration for a connection accepted on a direct TLS
    /// listener (`direct_tls`, XEP-0368: TLS from the first byte) or on a
    /// STARTTLS one, where a `Direct` policy becomes `RequireStartTls`
    /// and any other policy stays.
    ///
    /// ```
    /// use xmpp_proto::server::{ServerConfig, ServerTlsPolicy};
    ///
    /// let config = || ServerConfig::new("example.com");
    /// let direct = config()?.with_tls(ServerTlsPolicy::Direct);
    /// assert_eq!(direct.for_listener(false).tls(), ServerTlsPolicy::RequireStartTls);
    /// assert_eq!(config()?.for_listener(true).tls(), ServerTlsPolicy::Direct);
    /// # Ok::<(), xmpp_proto::jid::JidError>(())
    /// ```
    pub fn for_listener(self, direct_tls: bool) -> Self {
        match (direct_tls, self.tls) {
            (true, _) => self.with_tls(ServerTlsPolicy::Direct),
            (false, ServerTlsPolicy::Direct) => self.with_tls(ServerTlsPolicy::RequireStartTls),
            (false, _) => self,
        }
    }
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("domain", &self.domain)
            .field("tls", &self.tls)
            .field("sasl", &self.sasl)
            .field("timeouts", &self.timeouts)
            .field("max_auth_attempts", &self.max_auth_attempts)
            .field("trace", &self.trace)
            .finish_non_exhaustive()
    }
}
