//! The initiating entity of a client-to-server stream (RFC 6120), as a
//! sans-IO state machine.
//!
//! A [`Client`] negotiates the stream (stream header, STARTTLS or direct
//! TLS, SASL, stream restart, resource binding, the legacy session when the
//! server requires it, XEP-0198 stream management when configured), then
//! carries stanzas both ways: IQ requests are tracked until their response
//! or a timeout, unhandled IQ requests are answered with
//! `service-unavailable`, XEP-0184 receipt requests are answered, and the
//! connection is kept alive (whitespace keepalives) and watched (XEP-0199
//! ping after a quiet period).
//!
//! It does no I/O: it implements [`Endpoint`](crate::endpoint::Endpoint).
//! Feed it bytes with `handle_input`, drain `poll_transmit` and
//! `poll_event` after every call, and call `handle_timeout` at
//! `poll_timeout`.
//!
//! ```
//! use xmpp_proto::endpoint::{Endpoint, Transmit};
//! use xmpp_proto::jid::Jid;
//! use xmpp_proto::time::Time;
//! use xmpp_proto::{Client, ClientConfig};
//!
//! let config = ClientConfig::new(Jid::new("juliet@example.com")?, "secret");
//! let mut client = Client::new(config, Time::ZERO);
//! // The first thing to send is the stream header.
//! let Some(Transmit::Data(bytes)) = client.poll_transmit() else { panic!() };
//! assert!(bytes.starts_with(b"<?xml version='1.0'?><stream:stream"));
//! # Ok::<(), xmpp_proto::jid::JidError>(())
//! ```

mod caps;
mod config;
mod disco;
mod event;
mod iqs;
mod muc;
mod negotiate;
mod online;
mod reconnect;
mod roster;
mod sasl2;
mod sm;
mod timer;

pub use self::config::{ClientConfig, ClientTimeouts, ClientTlsPolicy, FastCredentials};
use self::disco::caps_verification_of;
pub use self::disco::{DEFAULT_CAPS_NODE, caps_verification};
pub use self::event::{ClientEvent, StanzaId};
pub use self::muc::{Departure, MAX_OCCUPANTS, Room, RoomEvent};
pub use self::online::Outgoing;
pub use self::reconnect::{ReconnectPolicy, Reconnector, Verdict};
pub use self::roster::ReceiptPolicy;

use self::iqs::PendingIqs;
use self::negotiate::ClientPhase;
use self::timer::ClientTimer;
use crate::endpoint::{CloseReason, Direction};
use crate::jid::FullJid;
use crate::sm::SmSession;
use crate::stream::{Core, CoreConfig, Role};
use crate::stream_error::{StreamError, StreamErrorCondition};
use crate::time::Time;
use crate::tls::TlsInfo;
use crate::xml::{Element, StreamHeader};

/// A client-to-server session. See the module documentation.
pub struct Client {
    core: Core<ClientEvent, ClientTimer>,
    config: ClientConfig,
    phase: ClientPhase,
    jid: Option<FullJid>,
    iqs: PendingIqs,
    /// The server offered `urn:xmpp:sm:3` after authentication.
    sm_offered: bool,
    /// A session to resume instead of binding, until the server answers.
    resume_from: Option<SmSession>,
    /// The roster, contacts' presence, directed presence.
    contacts: roster::Contacts,
    /// Peers' capabilities (XEP-0115).
    caps: caps::CapsCache,
    /// Group chat rooms we are in or entering (XEP-0045).
    rooms: muc::Rooms,
    /// A login sent ahead of the server's header and features.
    pipelined: sasl2::Pipelined,
    /// The SASL2 offer of this server, once seen.
    seen_sasl2: Option<crate::negotiation::Sasl2Offer>,
}

impl Client {
    /// A client that starts negotiating at once: the stream header (or,
    /// for direct TLS, `Transmit::StartTls`) is the first transmit.
    pub fn new(mut config: ClientConfig, now: Time) -> Self {
        if config.websocket {
            // No STARTTLS over WebSocket: TLS is the transport's or none.
            config.tls = match config.tls {
                ClientTlsPolicy::RequireStartTls => ClientTlsPolicy::Direct,
                ClientTlsPolicy::InsecureOptional => ClientTlsPolicy::InsecureDisabled,
                other => other,
            };
        }
        let core = Core::new(CoreConfig {
            limits: config.limits.clone(),
            trace: config.trace,
            max_events: config.max_events,
            max_output: config.limits.max_pending_input,
            random: config.random.take(),
            websocket: config.websocket,
        });
        let mut client = Client {
            core,
            phase: ClientPhase::AwaitHeader {
                authenticated: false,
            },
            jid: None,
            iqs: PendingIqs::default(),
            sm_offered: false,
            resume_from: config.resumption.take(),
            contacts: roster::Contacts::default(),
            caps: caps::CapsCache::default(),
            rooms: muc::Rooms::default(),
            pipelined: sasl2::Pipelined::No,
            seen_sasl2: None,
            config,
        };
        client.core.timers.set(
            ClientTimer::Negotiation,
            now + client.config.timeouts.negotiation,
        );
        if client.config.tls == ClientTlsPolicy::Direct {
            client.core.out.start_tls();
            client.phase = ClientPhase::AwaitTls;
        } else {
            client.open_stream();
        }
        // Our header is traced now, before anything the server answers.
        client.flush_trace();
        client
    }

    /// Ends the session politely: sends `</stream:stream>`, waits for the
    /// server's close (up to `ClientTimeouts::close`), then asks the
    /// transport to shut the connection down.
    pub fn close(&mut self, now: Time) {
        if self.core.closed.is_some() || matches!(self.phase, ClientPhase::Closing) {
            return;
        }
        if self
            .core
            .sm
            .as_ref()
            .is_some_and(|sm| !sm.unacked.is_empty())
        {
            // Ask before closing: the server's <a/> comes before its close,
            // so only stanzas it really lacks are reported undelivered.
            let _ = self
                .core
                .out
                .element(&crate::sm::Nonza::Request.to_element());
        }
        self.core.out.close_stream();
        self.phase = ClientPhase::Closing;
        self.core.timers.clear_all();
        self.core
            .timers
            .set(ClientTimer::Close, now + self.config.timeouts.close);
        self.flush_trace();
    }

    /// The bound full JID, once online.
    pub fn jid(&self) -> Option<&FullJid> {
        self.jid.as_ref()
    }

    /// Whether stanzas can be sent.
    pub fn is_online(&self) -> bool {
        matches!(self.phase, ClientPhase::Online) && self.core.closed.is_none()
    }

    /// What the server offered under SASL2 (XEP-0388), once seen: keep it
    /// for `ClientConfig::with_known_sasl2_offer` to log in one round
    /// trip sooner next time.
    pub fn sasl2_offer(&self) -> Option<&crate::negotiation::Sasl2Offer> {
        self.seen_sasl2.as_ref()
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

    /// A fresh stanza id, or `None` (and the session ended) if the random
    /// source failed.
    fn next_id(&mut self) -> Option<String> {
        let id = self.core.random_id();
        if id.is_none() {
            self.finish(CloseReason::RandomUnavailable);
        }
        id
    }

    /// Any byte from the server proves it alive: restart the ping clock.
    fn heard_from_server(&mut self, now: Time) {
        self.core.timers.clear(ClientTimer::PingAnswer);
        if matches!(self.phase, ClientPhase::Online) {
            if let Some(after) = self.config.timeouts.ping_after {
                self.core.timers.set(ClientTimer::Ping, now + after);
            }
        }
    }

    /// We wrote to the server: the keepalive can wait.
    fn sent_to_server(&mut self, now: Time) {
        if matches!(self.phase, ClientPhase::Online) {
            if let Some(every) = self.config.timeouts.keepalive {
                self.core.timers.set(ClientTimer::Keepalive, now + every);
            }
        }
    }
}

impl Role for Client {
    type Event = ClientEvent;
    type Timer = ClientTimer;

    fn core(&self) -> &Core<ClientEvent, ClientTimer> {
        &self.core
    }

    fn core_mut(&mut self) -> &mut Core<ClientEvent, ClientTimer> {
        &mut self.core
    }

    fn closed_event(reason: CloseReason) -> ClientEvent {
        ClientEvent::Closed { reason }
    }

    fn trace_event(direction: Direction, data: Vec<u8>) -> ClientEvent {
        ClientEvent::Trace { direction, data }
    }

    fn awaiting_tls(&self) -> bool {
        matches!(self.phase, ClientPhase::AwaitTls)
    }

    fn is_closing(&self) -> bool {
        matches!(self.phase, ClientPhase::Closing)
    }

    fn heard_from_peer(&mut self, now: Time) {
        self.heard_from_server(now);
    }

    fn on_header(&mut self, _now: Time, header: &StreamHeader) {
        self.handle_header(header);
    }

    fn sm_nonzas_accepted(&self) -> bool {
        self.core.sm.is_some()
    }

    fn on_sm_nonza(&mut self, now: Time, el: &Element) {
        self.handle_sm_nonza(now, el);
    }

    fn is_online(&self) -> bool {
        matches!(self.phase, ClientPhase::Online)
    }

    fn is_bound(&self) -> bool {
        self.jid.is_some()
    }

    fn on_stanza(&mut self, now: Time, el: Element) {
        self.handle_stanza(now, el);
    }

    fn on_negotiation_element(&mut self, now: Time, el: Element) {
        self.handle_negotiation_element(now, el);
    }

    fn handle_timer(&mut self, now: Time, timer: ClientTimer) {
        match timer {
            ClientTimer::Negotiation => {
                self.fail_with(
                    StreamError::new(StreamErrorCondition::ConnectionTimeout),
                    CloseReason::NegotiationTimeout,
                );
            }
            ClientTimer::Close => self.finish(CloseReason::CloseTimeout),
            ClientTimer::Keepalive => {
                self.core.out.keepalive();
                self.sent_to_server(now);
            }
            ClientTimer::Ping => self.send_ping(now),
            ClientTimer::PingAnswer => {
                self.core.out.close_stream();
                self.finish(CloseReason::PeerNotResponding);
            }
            ClientTimer::Iq => self.expire_iqs(now),
            ClientTimer::SmRequest => crate::stream::request_due(self, now),
        }
    }

    fn tls_established(&mut self, now: Time) {
        self.phase = ClientPhase::AwaitHeader {
            authenticated: false,
        };
        self.open_stream();
        self.pipeline_login();
        self.sent_to_server(now);
    }

    fn wrote_to_peer(&mut self, now: Time) {
        self.sent_to_server(now);
    }

    fn hand_over(&mut self, reason: &CloseReason) {
        self.phase = ClientPhase::Closed;
        self.hand_over_sm(reason);
    }
}
