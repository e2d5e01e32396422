//! How a [`Client`](super::Client) behaves: who it is, how it protects the
//! stream, and its timers and limits.

use std::fmt;
use std::time::Duration;

use crate::jid::Jid;
use crate::negotiation::UserAgent;
use crate::random::RandomSource;
use crate::sasl;
use crate::sm::{SmConfig, SmSession};
use crate::xml::Limits;

/// How the client secures the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ClientTlsPolicy {
    /// Upgrade with STARTTLS (RFC 6120 §5); refuse to go on if the server
    /// does not offer it. The default.
    #[default]
    RequireStartTls,
    /// TLS from the first byte (XEP-0368 direct TLS, usually port 5223):
    /// the first transmit is `StartTls`.
    Direct,
    /// Use STARTTLS if offered, else continue in plaintext. Only for test
    /// set-ups on loopback: credentials may be exposed, and SASL still
    /// refuses PLAIN without TLS unless the SASL config allows it.
    InsecureOptional,
    /// Never start TLS. Only for tests on loopback.
    InsecureDisabled,
}

/// The client's timers. Each has a default that suits a desktop or mobile
/// client on the public network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientTimeouts {
    /// From start until the session is online (default 60 s). Covers TLS,
    /// SASL (including PBKDF2 on a slow device) and binding.
    pub negotiation: Duration,
    /// How long `close()` waits for the server's `</stream:stream>` before
    /// shutting the connection down anyway (default 5 s).
    pub close: Duration,
    /// How long an IQ request waits for its response before it is reported
    /// as timed out and forgotten (default 60 s).
    pub iq: Duration,
    /// Send a whitespace keepalive after this long without sending anything
    /// (default 90 s; `None` disables it).
    pub keepalive: Option<Duration>,
    /// After this long without hearing from the server, ping it (XEP-0199)
    /// (default 120 s; `None` disables dead-peer detection).
    pub ping_after: Option<Duration>,
    /// How long the ping may go unanswered (no byte at all from the server)
    /// before the connection is declared dead (default 30 s).
    pub ping_timeout: Duration,
}

impl Default for ClientTimeouts {
    fn default() -> Self {
        ClientTimeouts {
            negotiation: Duration::from_secs(60),
            close: Duration::from_secs(5),
            iq: Duration::from_secs(60),
            keepalive: Some(Duration::from_secs(90)),
            ping_after: Some(Duration::from_secs(120)),
            ping_timeout: Duration::from_secs(30),
        }
    }
}

/// Everything a [`Client`](super::Client) needs to know before it starts.
///
/// ```
/// use xmpp_proto::client::{ClientConfig, ClientTlsPolicy};
/// use xmpp_proto::jid::Jid;
///
/// let config = ClientConfig::new(Jid::new("juliet@example.com")?, "secret")
///     .with_tls(ClientTlsPolicy::Direct)
///     .with_resource("balcony");
/// assert_eq!(config.domain(), "example.com");
/// # Ok::<(), xmpp_proto::jid::JidError>(())
/// ```
pub struct ClientConfig {
    pub(crate) jid: Jid,
    pub(crate) credentials: sasl::Credentials,
    pub(crate) resource: Option<String>,
    pub(crate) tls: ClientTlsPolicy,
    pub(crate) sasl: sasl::SaslClientConfig,
    pub(crate) lang: String,
    pub(crate) timeouts: ClientTimeouts,
    pub(crate) limits: Limits,
    pub(crate) receipts: super::roster::ReceiptPolicy,
    pub(crate) discovery: super::disco::Discovery,
    pub(crate) learn_caps: bool,
    pub(crate) handled_iq_namespaces: Vec<String>,
    pub(crate) trace: bool,
    pub(crate) random: Option<Box<dyn RandomSource + Send>>,
    pub(crate) max_events: usize,
    pub(crate) sm: Option<SmConfig>,
    pub(crate) resumption: Option<SmSession>,
    pub(crate) sasl2: bool,
    pub(crate) user_agent: Option<UserAgent>,
    pub(crate) request_fast_token: bool,
    pub(crate) fast_token: Option<FastCredentials>,
    pub(crate) fast_invalidate: bool,
    pub(crate) known_sasl2: Option<crate::negotiation::Sasl2Offer>,
    pub(crate) websocket: bool,
}

/// A FAST token (XEP-0484) kept from an earlier login, to log in without
/// the password: what [`ClientEvent::FastToken`] gave.
///
/// [`ClientEvent::FastToken`]: super::ClientEvent::FastToken
#[derive(Clone, PartialEq, Eq)]
pub struct FastCredentials {
    /// The token mechanism it was issued for (`HT-SHA-256-NONE`, ...).
    pub mechanism: sasl::Mechanism,
    /// The secret.
    pub token: String,
}

impl core::fmt::Debug for FastCredentials {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FastCredentials")
            .field("mechanism", &self.mechanism)
            .field("token", &"<redacted>")
            .finish()
    }
}

impl ClientConfig {
    /// A client for the account `jid` (its localpart is the SASL username;
    /// a resourcepart, if any, is the resource to request) with a password.
    pub fn new(jid: Jid, password: impl Into<String>) -> Self {
        let username = jid.localpart().unwrap_or_default().to_owned();
        let resource = jid.resourcepart().map(str::to_owned);
        ClientConfig {
            credentials: sasl::Credentials::new(username, password),
            jid,
            resource,
            tls: ClientTlsPolicy::default(),
            sasl: sasl::SaslClientConfig::default(),
            lang: "en".to_owned(),
            timeouts: ClientTimeouts::default(),
            limits: Limits::default(),
            receipts: super::roster::ReceiptPolicy::default(),
            discovery: super::disco::Discovery::default(),
            learn_caps: false,
            handled_iq_namespaces: Vec::new(),
            trace: false,
            random: None,
            max_events: 4096,
            sm: None,
            resumption: None,
            sasl2: true,
            user_agent: None,
            request_fast_token: false,
            fast_token: None,
            fast_invalidate: false,
            known_sasl2: None,
            websocket: false,
        }
    }

    /// Speaks XMPP over WebSocket (RFC 7395) instead of a TCP stream: the
    /// transport hands every WebSocket message to
    /// [`handle_input`](crate::Endpoint::handle_input) whole and sends
    /// every `Transmit::Data` as one message. Everything above the framing
    /// (SASL, SASL2, binding, stream management) is unchanged. There is no
    /// STARTTLS over WebSocket: TLS is the transport's (`wss://`), so
    /// [`ClientTlsPolicy::RequireStartTls`] (the default) means
    /// [`ClientTlsPolicy::Direct`] here, the first transmit being
    /// `StartTls` for the TLS handshake and the WebSocket upgrade, and
    /// [`ClientTlsPolicy::InsecureOptional`] means
    /// [`ClientTlsPolicy::InsecureDisabled`] (plain `ws://`, for tests on
    /// loopback).
    ///
    /// ```
    /// use xmpp_proto::{Client, Endpoint, Time};
    /// use xmpp_proto::endpoint::Transmit;
    /// use xmpp_proto::client::{ClientConfig, ClientTlsPolicy};
    /// use xmpp_proto::jid::Jid;
    ///
    /// let config = ClientConfig::new(Jid::new("juliet@example.com")?, "secret")
    ///     .with_websocket()
    ///     .with_tls(ClientTlsPolicy::InsecureDisabled);
    /// let mut client = Client::new(config, Time::ZERO);
    /// let Some(Transmit::Data(open)) = client.poll_transmit() else { panic!() };
    /// assert_eq!(
    ///     open,
    ///     b"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.com' version='1.0' xml:lang='en'/>"
    /// );
    /// # Ok::<(), xmpp_proto::jid::JidError>(())
    /// ```
    pub fn with_websocket(mut self) -> Self {
        self.websocket = true;
        self
    }

    /// Whether the client speaks XMPP over WebSocket.
    pub fn is_websocket(&self) -> bool {
        self.websocket
    }

    /// Never uses Extensible SASL (XEP-0388), even where the server
    /// offers it: the classic login of RFC 6120 (SASL, stream restart,
    /// bind) every time. By default SASL2 is used when offered, which
    /// also binds, enables stream management and resumes in the same
    /// exchange (Bind 2, XEP-0386).
    pub fn without_sasl2(mut self) -> Self {
        self.sasl2 = false;
        self
    }

    /// Names this installation for SASL2 (`<user-agent/>`): `id` must be
    /// stable across runs (a UUID the application keeps). Servers show
    /// it in session lists and bind FAST tokens to it.
    pub fn with_user_agent(mut self, agent: UserAgent) -> Self {
        self.user_agent = Some(agent);
        self
    }

    /// Asks for a FAST token (XEP-0484) at each SASL2 login where the
    /// server offers FAST, so that the next login needs no password and
    /// one round trip. The token comes in [`ClientEvent::FastToken`]; keep
    /// it with the user agent's id. Needs [`with_user_agent`](Self::with_user_agent).
    ///
    /// [`ClientEvent::FastToken`]: super::ClientEvent::FastToken
    pub fn with_fast_token_request(mut self, on: bool) -> Self {
        self.request_fast_token = on;
        self
    }

    /// Logs in with a FAST token from an earlier login when the server
    /// offers its mechanism. If the server refuses it, the client reports
    /// [`ClientEvent::FastTokenRejected`] and logs in with the password,
    /// if the credentials hold one. Needs
    /// [`with_user_agent`](Self::with_user_agent) with the same id as
    /// when the token was issued.
    ///
    /// [`ClientEvent::FastTokenRejected`]: super::ClientEvent::FastTokenRejected
    pub fn with_fast_token(mut self, token: FastCredentials) -> Self {
        self.fast_token = Some(token);
        self
    }

    /// What this server offered under SASL2 last time
    /// ([`Client::sasl2_offer`](super::Client::sasl2_offer)). With a FAST
    /// token it can take, the client then sends `<authenticate/>` right
    /// behind its stream header once TLS is up, without waiting for the
    /// features: the login (and an inline resumption) takes one round
    /// trip after TLS instead of two. A server that no longer offers it
    /// refuses the login; connect again without.
    pub fn with_known_sasl2_offer(mut self, offer: crate::negotiation::Sasl2Offer) -> Self {
        self.known_sasl2 = Some(offer);
        self
    }

    /// Asks the server to invalidate the FAST token this login uses, and
    /// every other of this user agent, once it succeeds: for the last
    /// login of an installation that is signing out for good.
    pub fn with_fast_token_invalidation(mut self, on: bool) -> Self {
        self.fast_invalidate = on;
        self
    }

    /// Replaces the SASL credentials (cached SCRAM keys, authzid, no
    /// password for EXTERNAL or ANONYMOUS).
    pub fn with_credentials(mut self, credentials: sasl::Credentials) -> Self {
        self.credentials = credentials;
        self
    }

    /// The resource to ask the server for when binding (default: let the
    /// server choose, unless the JID has a resourcepart).
    pub fn with_resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// How to secure the connection (default: STARTTLS required).
    pub fn with_tls(mut self, tls: ClientTlsPolicy) -> Self {
        self.tls = tls;
        self
    }

    /// The SASL policy: allowed and denied mechanisms, channel binding,
    /// iteration limits, PLAIN without TLS.
    pub fn with_sasl(mut self, sasl: sasl::SaslClientConfig) -> Self {
        self.sasl = sasl;
        self
    }

    /// The `xml:lang` of the stream (default `en`).
    pub fn with_lang(mut self, lang: impl Into<String>) -> Self {
        self.lang = lang.into();
        self
    }

    /// Timers (see [`ClientTimeouts`]).
    pub fn with_timeouts(mut self, timeouts: ClientTimeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Limits on what the server may make the reader hold.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Whether to answer XEP-0184 receipt requests automatically:
    /// [`ReceiptPolicy::Always`](super::ReceiptPolicy::Always) (to anyone)
    /// or [`ReceiptPolicy::Never`](super::ReceiptPolicy::Never). The
    /// default answers only those allowed to see our presence
    /// ([`ClientConfig::with_receipts`]).
    pub fn with_auto_receipts(mut self, on: bool) -> Self {
        self.receipts = match on {
            true => super::roster::ReceiptPolicy::Always,
            false => super::roster::ReceiptPolicy::Never,
        };
        self
    }

    /// To whom receipt requests are answered automatically (default
    /// [`ReceiptPolicy::ToPresenceAllowed`](super::ReceiptPolicy::ToPresenceAllowed)).
    pub fn with_receipts(mut self, policy: super::roster::ReceiptPolicy) -> Self {
        self.receipts = policy;
        self
    }

    /// The XEP-0030 identity the client gives when asked (default
    /// `client`/`bot` named `xmpp-proto`); it is part of the XEP-0115
    /// verification string sent with presence.
    pub fn with_identity(
        mut self,
        category: impl Into<String>,
        kind: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        self.discovery.category = category.into();
        self.discovery.kind = kind.into();
        self.discovery.name = name.into();
        self
    }

    /// The software name and version a XEP-0092 version request is
    /// answered with (default this library's).
    pub fn with_software(mut self, name: impl Into<String>, version: impl Into<String>) -> Self {
        self.discovery.software = Some((name.into(), version.into()));
        self
    }

    /// Refuses XEP-0092 version requests (`service-unavailable`) and stops
    /// advertising them: for clients that would rather not tell.
    pub fn without_software_version(mut self) -> Self {
        self.discovery.software = None;
        self
    }

    /// Learns what peers can do (XEP-0115): the first presence with an
    /// unknown verification string makes the client ask its sender, check
    /// the answer against the string and keep it (see
    /// `Client::features_of`). Off by default: it costs a disco#info
    /// exchange per new string, which bots rarely need.
    pub fn with_peer_capabilities(mut self, on: bool) -> Self {
        self.learn_caps = on;
        self
    }

    /// Advertises one more feature in disco#info and entity capabilities
    /// (for what the application handles itself).
    pub fn with_feature(mut self, var: impl Into<String>) -> Self {
        self.discovery.features.push(var.into());
        self
    }

    /// The XEP-0115 node naming the software (default
    /// [`DEFAULT_CAPS_NODE`](super::DEFAULT_CAPS_NODE)).
    pub fn with_caps_node(mut self, node: impl Into<String>) -> Self {
        self.discovery.caps_node = node.into();
        self
    }

    /// Delivers IQ requests (`get`/`set`) whose payload is in namespace `ns`
    /// to the application as events. IQ requests for namespaces nobody
    /// registered are answered with `service-unavailable` automatically
    /// (RFC 6120 §8.4); XEP-0199 pings are answered by the client itself.
    pub fn handle_iq_namespace(mut self, ns: impl Into<String>) -> Self {
        self.handled_iq_namespaces.push(ns.into());
        self
    }

    /// Reports every byte sent and received as
    /// [`ClientEvent::Trace`](super::ClientEvent::Trace) (an XML console).
    /// Off by default, and free when off.
    pub fn with_trace(mut self, on: bool) -> Self {
        self.trace = on;
        self
    }

    /// The source of nonces and ids, replacing the operating system's
    /// ([`OsRandom`](crate::random::OsRandom), the default): for tests
    /// that must repeat, or platforms with a generator of their own.
    pub fn with_random(mut self, random: Box<dyn RandomSource + Send>) -> Self {
        self.random = Some(random);
        self
    }

    /// How many undrained events may pile up before the client stops
    /// reading (default 4096); a safety net for applications that forget
    /// to call `poll_event`.
    pub fn with_max_events(mut self, max: usize) -> Self {
        self.max_events = max.max(16);
        self
    }

    /// Turns on XEP-0198 stream management (`urn:xmpp:sm:3`) when the
    /// server offers it: after binding the client sends `<enable/>` (with
    /// resumption unless `sm.resume` is off) and waits for the answer
    /// before reporting [`ClientEvent::Online`]; from then on stanzas are
    /// counted, acknowledgements requested and answered, and dead-peer
    /// detection uses `<r/>`. Off by default.
    ///
    /// [`ClientEvent::Online`]: super::ClientEvent::Online
    pub fn with_stream_management(mut self, sm: SmConfig) -> Self {
        self.sm = Some(sm);
        self
    }

    /// Resumes the session a broken connection handed over in
    /// [`ClientEvent::Resumable`] instead of binding a new one: after
    /// authentication the client sends `<resume/>`, then resends what the
    /// server did not get, and reports [`ClientEvent::Resumed`]. If the server
    /// refuses, the client binds afresh and reports the stanzas that were
    /// not delivered in [`ClientEvent::Undelivered`]. Implies
    /// [`ClientConfig::with_stream_management`] (with defaults) if it was
    /// not set.
    ///
    /// [`ClientEvent::Resumable`]: super::ClientEvent::Resumable
    /// [`ClientEvent::Resumed`]: super::ClientEvent::Resumed
    /// [`ClientEvent::Undelivered`]: super::ClientEvent::Undelivered
    pub fn with_resumption(mut self, session: SmSession) -> Self {
        self.sm.get_or_insert_with(SmConfig::default);
        self.resumption = Some(session);
        self
    }

    /// The XMPP domain: the stream's `to` and the TLS server name.
    pub fn domain(&self) -> &str {
        self.jid.domainpart()
    }

    /// The account's JID as configured.
    pub fn jid(&self) -> &Jid {
        &self.jid
    }

    /// The TLS policy.
    pub fn tls(&self) -> ClientTlsPolicy {
        self.tls
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("jid", &self.jid)
            .field("credentials", &self.credentials)
            .field("resource", &self.resource)
            .field("tls", &self.tls)
            .field("timeouts", &self.timeouts)
            .field("trace", &self.trace)
            .field("sm", &self.sm)
            .finish_non_exhaustive()
    }
}
