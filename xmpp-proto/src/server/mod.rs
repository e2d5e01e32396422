//! The receiving entity of a client-to-server stream (RFC 6120), as a
//! sans-IO state machine: one [`Server`] per accepted connection.
//!
//! A [`Server`] answers the client's stream header, offers the stream
//! features in RFC 6120 order (STARTTLS, then SASL with XEP-0440 channel
//! binding types and XEP-0474 downgrade protection, then resource binding
//! with the legacy session marked optional, and XEP-0198 stream management
//! when configured), runs the server side of SASL, binds a resource and
//! then hands the client's stanzas to the application with `from` set to
//! the session's full JID, so a client cannot speak for anyone else. What
//! needs the application's data is asked through events and answered with
//! commands: [`ServerEvent::NeedScramCredentials`] →
//! [`Server::provide_credentials`], [`ServerEvent::Authenticate`] →
//! [`Server::accept_auth`] / [`Server::reject_auth`],
//! [`ServerEvent::BindRequest`] → [`Server::accept_bind`] /
//! [`Server::reject_bind`] (this is where a router says whether the
//! resource is free). Routing stanzas between sessions is the job of
//! [`crate::router`].
//!
//! It does no I/O, like [`crate::Client`]: it implements
//! [`Endpoint`](crate::endpoint::Endpoint).
//!
//! ```
//! use xmpp_proto::endpoint::{Endpoint, Transmit};
//! use xmpp_proto::time::Time;
//! use xmpp_proto::{Server, ServerConfig};
//!
//! let mut server = Server::new(ServerConfig::new("example.com")?, Time::ZERO);
//! server.handle_input(Time::ZERO, b"<?xml version='1.0'?><stream:stream to='example.com' \
//!     version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")?;
//! let Some(Transmit::Data(bytes)) = server.poll_transmit() else { panic!() };
//! let text = std::str::from_utf8(bytes).unwrap();
//! // Our header, then STARTTLS as the only (required) feature.
//! assert!(text.contains("from='example.com'"));
//! assert!(text.ends_with("<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>\
//!     <required/></starttls></stream:features>"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod auth;
mod bind;
mod component;
mod config;
mod event;
mod negotiate;
mod online;
mod probe;
mod s2s;
mod s2s_in;
mod s2s_out;
mod sasl2;
mod sm;
mod timer;

pub use self::config::{DEFAULT_MAX_OUTPUT, ServerConfig, ServerTimeouts, ServerTlsPolicy};
pub use self::event::{Password, ServerEvent};
pub use self::online::Refused;

use self::negotiate::ServerPhase;
use self::timer::ServerTimer;
use crate::endpoint::{CloseReason, Direction};
use crate::jid::{BareJid, FullJid};
use crate::stream::{Core, CoreConfig, Role};
use crate::stream_error::{StreamError, StreamErrorCondition};
use crate::time::Time;
use crate::tls::TlsInfo;
use crate::xml::{Element, StreamHeader, ns};

/// One client connection, server side. See the module documentation.
pub struct Server {
    core: Core<ServerEvent, ServerTimer>,
    config: ServerConfig,
    phase: ServerPhase,
    /// Our header for the current stream (they restart) is written.
    header_sent: bool,
    stream_id: Option<String>,
    /// The authenticated account, after SASL success.
    user: Option<BareJid>,
    /// The bound full JID, once online.
    jid: Option<FullJid>,
    auth_failures: u32,
    /// The account the current SASL exchange asked about, for
    /// `AuthenticationFailed`.
    sasl_account: Option<String>,
    bind_failures: u32,
    /// The `<authenticate/>` of a SASL2 exchange under way (XEP-0388):
    /// its mechanism runs as in SASL, its requests wait for the success.
    sasl2_request: Option<Box<crate::negotiation::Authenticate>>,
    /// When the client last sent a byte, while online (for the probe).
    last_heard: Time,
    /// Component mode: the domain the component asked for in its header.
    requested_component: Option<String>,
    /// Component mode: the component's header, kept until the handshake
    /// is accepted (the reader continues the stream under full limits).
    peer_header: Option<StreamHeader>,
    /// Component mode: the domain of the accepted component.
    component: Option<String>,
    /// Server-to-server mode: what the stream proved and waits for.
    s2s: Option<Box<s2s::S2sState>>,
}

impl Server {
    /// A server side for a freshly accepted connection. It waits for the
    /// client's stream header; with direct TLS, `Transmit::StartTls` is the
    /// first transmit.
    pub fn new(mut config: ServerConfig, now: Time) -> Self {
        if config.websocket {
            // No STARTTLS over WebSocket: TLS is the transport's or none.
            config.tls = match config.tls {
                ServerTlsPolicy::RequireStartTls => ServerTlsPolicy::Direct,
                ServerTlsPolicy::OptionalStartTls => ServerTlsPolicy::Disabled,
                other => other,
            };
        }
        let core = Core::new(CoreConfig {
            limits: config.effective_preauth_limits(),
            trace: config.trace,
            max_events: config.max_events,
            max_output: config.max_output,
            random: config.random.take(),
            websocket: config.websocket,
        });
        let mut server = Server {
            core,
            phase: ServerPhase::AwaitHeader,
            header_sent: false,
            stream_id: None,
            user: None,
            jid: None,
            auth_failures: 0,
            sasl_account: None,
            bind_failures: 0,
            sasl2_request: None,
            last_heard: now,
            requested_component: None,
            peer_header: None,
            component: None,
            s2s: None,
            config,
        };
        server.core.timers.set(
            ServerTimer::Negotiation,
            now + server.config.timeouts.negotiation,
        );
        if server.config.tls == ServerTlsPolicy::Direct {
            server.core.out.start_tls();
            server.phase = ServerPhase::AwaitTls;
        } else if server.is_s2s_link() {
            server.s2s_open();
        }
        server.flush_trace();
        server
    }

    /// Ends the session politely: sends `</stream:stream>`, waits for the
    /// client's close (up to `ServerTimeouts::close`), then asks the
    /// transport to shut the connection down.
    pub fn close(&mut self, now: Time) {
        if self.core.closed.is_some() || matches!(self.phase, ServerPhase::Closing) {
            return;
        }
        if matches!(self.phase, ServerPhase::AwaitTls) {
            // No stream to close yet.
            self.finish(CloseReason::Normal);
            return;
        }
        self.ensure_header();
        self.core.out.close_stream();
        self.phase = ServerPhase::Closing;
        self.core.timers.clear_all();
        self.core
            .timers
            .set(ServerTimer::Close, now + self.config.timeouts.close);
        self.flush_trace();
    }

    /// Sends the client elsewhere and ends the session: over WebSocket a
    /// `<close see-other-uri='…'/>` naming `target`, a `wss://` URI (RFC
    /// 7395 §3.6.1), then the wait for the client's close as in
    /// [`Server::close`]; on a TCP stream a `see-other-host` stream error
    /// naming `target`, a host with an optional `:port` (RFC 6120
    /// §4.9.3.19).
    ///
    /// ```
    /// use xmpp_proto::{Endpoint, Server, ServerConfig, Time};
    /// use xmpp_proto::endpoint::Transmit;
    /// use xmpp_proto::server::ServerTlsPolicy;
    ///
    /// let config = ServerConfig::new("example.com")?
    ///     .with_websocket()
    ///     .with_tls(ServerTlsPolicy::Disabled);
    /// let mut server = Server::new(config, Time::ZERO);
    /// let open = b"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.com' version='1.0'/>";
    /// server.handle_input(Time::ZERO, open).unwrap();
    /// server.redirect(Time::ZERO, "wss://other.example.com/xmpp");
    /// let mut last = Vec::new();
    /// while let Some(Transmit::Data(d)) = server.poll_transmit() {
    ///     last = d.to_vec();
    ///     server.consume_transmit(last.len());
    /// }
    /// assert_eq!(
    ///     last,
    ///     b"<close xmlns='urn:ietf:params:xml:ns:xmpp-framing' see-other-uri='wss://other.example.com/xmpp'/>"
    /// );
    /// # Ok::<(), xmpp_proto::jid::JidError>(())
    /// ```
    pub fn redirect(&mut self, now: Time, target: &str) {
        if self.core.closed.is_some() || matches!(self.phase, ServerPhase::Closing) {
            return;
        }
        if !self.config.websocket {
            let reason = CloseReason::Kicked {
                condition: StreamErrorCondition::SeeOtherHost,
            };
            self.fail_with(StreamError::see_other_host(target), reason);
            return;
        }
        if matches!(self.phase, ServerPhase::AwaitTls) {
            self.finish(CloseReason::Normal);
            return;
        }
        self.ensure_header();
        if self.core.out.close_stream_redirect(target).is_err() {
            // A target XML cannot carry: a plain close instead.
            self.core.out.close_stream();
        }
        self.phase = ServerPhase::Closing;
        self.core.timers.clear_all();
        self.core
            .timers
            .set(ServerTimer::Close, now + self.config.timeouts.close);
        self.flush_trace();
    }

    /// Ends the session at once with a stream error, for reasons of the
    /// application: `conflict` when another session took over this
    /// resource, `system-shutdown`, `policy-violation`, ...
    pub fn close_with_error(
        &mut self,
        _now: Time,
        condition: StreamErrorCondition,
        text: Option<&str>,
    ) {
        let mut error = StreamError::new(condition);
        if let Some(text) = text {
            error = error.with_text(text);
        }
        self.fail_with(error, CloseReason::Kicked { condition });
    }

    /// The session's full JID, once bound.
    pub fn jid(&self) -> Option<&FullJid> {
        self.jid.as_ref()
    }

    /// The domain of the accepted component, on a component stream.
    pub fn component(&self) -> Option<&str> {
        self.component.as_deref()
    }

    /// The authenticated account, once SASL succeeded.
    pub fn user(&self) -> Option<&BareJid> {
        self.user.as_ref()
    }

    /// The id we gave the current stream, once the client opened it.
    pub fn stream_id(&self) -> Option<&str> {
        self.stream_id.as_deref()
    }

    /// Whether this server speaks XMPP over WebSocket (RFC 7395).
    pub fn is_websocket(&self) -> bool {
        self.config.websocket
    }

    /// Whether stanzas flow (bound and not closing).
    pub fn is_online(&self) -> bool {
        matches!(self.phase, ServerPhase::Online) && self.core.closed.is_none()
    }

    /// The TLS facts of the stream, once encrypted.
    pub fn tls(&self) -> Option<&TlsInfo> {
        self.core.tls.as_ref()
    }

    /// Gives the storage of an element this endpoint handed out (in an
    /// event) back, so that the next element it reads is built in it
    /// without allocating. Optional; for hot loops.
    pub fn recycle(&mut self, element: Element) {
        self.core.reader.recycle(element);
    }

    /// Why the session ended, once it has.
    pub fn close_reason(&self) -> Option<&CloseReason> {
        self.core.closed.as_ref()
    }

    /// Starts a new stream after TLS or SASL: the client sends a fresh
    /// header and gets a fresh id.
    fn restart_stream(&mut self) {
        if self.user.is_some() {
            // Authenticated: the client may now send full-size stanzas.
            self.core.reader.reset_with(self.config.limits.clone());
        } else {
            self.core.reader.reset();
        }
        self.header_sent = false;
        self.phase = ServerPhase::AwaitHeader;
    }

    /// Writes our stream header if this stream has none yet (a stream
    /// error or close needs one before it, RFC 6120 §4.9.1.2).
    fn ensure_header(&mut self) {
        if self.header_sent {
            return;
        }
        // Without randomness the header goes out without an id; the
        // session ends right after.
        let id = self.core.random_id();
        let header = if self.config.components {
            self.component_stream_header(id.as_deref())
        } else if self.config.s2s.is_some() {
            self.s2s_stream_header(id.as_deref())
        } else {
            let mut header = StreamHeader::new(ns::CLIENT)
                .from(self.config.domain.domainpart())
                .lang(&self.config.lang);
            if let Some(id) = &id {
                header = header.id(id);
            }
            header
        };
        // Our domain and a base64 id always serialize; a failure here
        // would leave the stream without a header, which the close below
        // makes harmless.
        let _ = self.core.out.header(&header);
        self.header_sent = true;
        match id {
            Some(id) => self.stream_id = Some(id),
            None => self.finish(CloseReason::RandomUnavailable),
        }
    }
}

impl Role for Server {
    type Event = ServerEvent;
    type Timer = ServerTimer;

    fn core(&self) -> &Core<ServerEvent, ServerTimer> {
        &self.core
    }

    fn core_mut(&mut self) -> &mut Core<ServerEvent, ServerTimer> {
        &mut self.core
    }

    fn closed_event(reason: CloseReason) -> ServerEvent {
        ServerEvent::Closed { reason }
    }

    fn trace_event(direction: Direction, data: Vec<u8>) -> ServerEvent {
        ServerEvent::Trace { direction, data }
    }

    fn awaiting_tls(&self) -> bool {
        matches!(self.phase, ServerPhase::AwaitTls)
    }

    fn is_closing(&self) -> bool {
        matches!(self.phase, ServerPhase::Closing)
    }

    fn heard_from_peer(&mut self, now: Time) {
        self.heard_from_client(now);
    }

    fn on_header(&mut self, _now: Time, header: &StreamHeader) {
        self.handle_header(header);
    }

    fn sm_nonzas_accepted(&self) -> bool {
        matches!(self.phase, ServerPhase::Online)
            && !self.config.components
            && self.config.s2s.is_none()
    }

    fn on_sm_nonza(&mut self, now: Time, el: &Element) {
        self.handle_sm_nonza(now, el);
    }

    fn is_online(&self) -> bool {
        matches!(self.phase, ServerPhase::Online)
    }

    fn is_bound(&self) -> bool {
        self.jid.is_some()
            || self.component.is_some()
            || self
                .s2s
                .as_deref()
                .is_some_and(|s| !s.authenticated.is_empty())
    }

    fn on_stanza(&mut self, now: Time, el: Element) {
        self.handle_stanza(now, el);
    }

    fn on_negotiation_element(&mut self, now: Time, el: Element) {
        self.handle_negotiation_element(now, el);
    }

    fn handle_timer(&mut self, now: Time, timer: ServerTimer) {
        match timer {
            ServerTimer::Negotiation => self.fail_with(
                StreamError::new(StreamErrorCondition::ConnectionTimeout),
                CloseReason::NegotiationTimeout,
            ),
            ServerTimer::Close => self.finish(CloseReason::CloseTimeout),
            ServerTimer::SmRequest => crate::stream::request_due(self, now),
            ServerTimer::Probe => self.probe(now),
            ServerTimer::ProbeAnswer => self.finish(CloseReason::PeerNotResponding),
            ServerTimer::Idle => self.s2s_idle(now),
            ServerTimer::VerifyWindow => self.s2s_verify_window_over(),
        }
    }

    fn tls_established(&mut self, _now: Time) {
        self.restart_stream();
        if self.is_s2s_link() {
            self.s2s_open();
        }
    }

    fn wrote_to_peer(&mut self, now: Time) {
        if self.config.s2s.is_some() {
            self.s2s_activity(now);
        }
    }

    fn before_own_close(&mut self) {
        self.ensure_header();
    }

    fn hand_over(&mut self, reason: &CloseReason) {
        self.phase = ServerPhase::Closed;
        self.hand_over_sm(reason);
    }
}
