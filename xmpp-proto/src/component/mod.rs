//! The connecting side of an external component (XEP-0114), as a sans-IO
//! state machine: a trusted stream to a server that makes the component
//! the owner of a whole domain (`echo.example.com`), authenticated by a
//! secret both share.
//!
//! A [`Component`] opens a `jabber:component:accept` stream to its
//! domain, proves it knows the secret (the SHA-1 of the server's stream
//! id and the secret, never the secret itself), and then sends and
//! receives stanzas for any address of its domain. It stamps `from`
//! itself: a stanza without one comes from the domain, and a `from`
//! outside the domain is refused before anything is sent. Stanzas are
//! the same types as a client's (`Message`, `Presence`, `Iq`, in
//! `jabber:client` terms); the component's namespace is put on and taken
//! off at the wire.
//!
//! Like [`Client`](crate::Client), it implements
//! [`Endpoint`](crate::endpoint::Endpoint): feed it bytes, drain
//! `poll_transmit` and `poll_event`, call `handle_timeout` at
//! `poll_timeout`.
//!
//! ```
//! use xmpp_proto::component::{Component, ComponentConfig, ComponentEvent, ComponentTls};
//! use xmpp_proto::endpoint::{Endpoint, Transmit};
//! use xmpp_proto::time::Time;
//!
//! let config = ComponentConfig::new("echo.localhost", "secret")?
//!     .with_tls(ComponentTls::Plaintext);
//! let mut component = Component::new(config, Time::ZERO);
//! let Some(Transmit::Data(header)) = component.poll_transmit() else { panic!() };
//! assert!(header.ends_with(b"to='echo.localhost'>"));
//! let n = header.len();
//! component.consume_transmit(n);
//! // The server's header carries the stream id the handshake hashes.
//! component.handle_input(Time::ZERO, b"<stream:stream xmlns='jabber:component:accept' \
//!     xmlns:stream='http://etherx.jabber.org/streams' from='echo.localhost' id='s1'>")?;
//! let Some(Transmit::Data(handshake)) = component.poll_transmit() else { panic!() };
//! assert!(handshake.starts_with(b"<handshake>"));
//! let n = handshake.len();
//! component.consume_transmit(n);
//! component.handle_input(Time::ZERO, b"<handshake/>")?;
//! assert!(matches!(component.poll_event(), Some(ComponentEvent::Online { .. })));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod config;
mod event;
pub(crate) mod handshake;

pub use self::config::{ComponentConfig, ComponentTimeouts, ComponentTls};
pub use self::event::ComponentEvent;
pub use self::handshake::{handshake_digest, handshake_matches};

use crate::client::{Outgoing, StanzaId};
use crate::endpoint::{CloseReason, CommandError, Direction};
use crate::jid::Jid;
use crate::stanza::{InvalidStanza, Stanza};
use crate::stream::{Core, CoreConfig, Role, TimerKind};
use crate::stream_error::{StreamError, StreamErrorCondition};
use crate::time::Time;
use crate::xml::{Element, StreamHeader, ns};

/// Where the component's negotiation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// `Transmit::StartTls` is queued (direct TLS); plaintext input now
    /// is an injection.
    AwaitTls,
    /// Our header is sent; waiting for the server's, with its id.
    AwaitHeader,
    /// `<handshake>` is sent.
    AwaitHandshake,
    /// Accepted: stanzas flow.
    Online,
    /// We sent `</stream:stream>` and wait for the server's.
    Closing,
    /// Ended.
    Closed,
}

/// The component's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(unreachable_pub)] // named by the sealed `Role` trait
pub enum ComponentTimer {
    /// The handshake must be accepted by then.
    Negotiation,
    /// Our close was not answered.
    Close,
    /// Time for a whitespace keepalive.
    Keepalive,
    /// Unused: components have no stream management; the stream core
    /// asks every role for this slot.
    SmRequest,
}

impl TimerKind for ComponentTimer {
    const ALL: &'static [Self] = &[
        ComponentTimer::Negotiation,
        ComponentTimer::Close,
        ComponentTimer::Keepalive,
        ComponentTimer::SmRequest,
    ];
    const SM_REQUEST: Self = ComponentTimer::SmRequest;
}

/// A component session. See the module documentation.
pub struct Component {
    core: Core<ComponentEvent, ComponentTimer>,
    config: ComponentConfig,
    phase: Phase,
}

impl Component {
    /// A component that starts at once: its stream header (or, for
    /// direct TLS, `Transmit::StartTls`) is the first transmit.
    pub fn new(mut config: ComponentConfig, now: Time) -> Self {
        let core = Core::new(CoreConfig {
            limits: config.limits.clone(),
            trace: config.trace,
            max_events: config.max_events,
            max_output: config.limits.max_pending_input,
            random: config.random.take(),
            websocket: false,
        });
        let mut component = Component {
            core,
            config,
            phase: Phase::AwaitHeader,
        };
        component.core.timers.set(
            ComponentTimer::Negotiation,
            now + component.config.timeouts.negotiation,
        );
        if component.config.tls == ComponentTls::Direct {
            component.core.out.start_tls();
            component.phase = Phase::AwaitTls;
        } else {
            component.open_stream();
        }
        component.flush_trace();
        component
    }

    /// The domain this component serves.
    pub fn domain(&self) -> &str {
        &self.config.domain
    }

    /// Whether stanzas can be sent.
    pub fn is_online(&self) -> bool {
        self.phase == Phase::Online && self.core.closed.is_none()
    }

    /// Why the session ended, once it has.
    pub fn close_reason(&self) -> Option<&CloseReason> {
        self.core.closed.as_ref()
    }

    /// Sends a stanza and returns its id (generated if it had none). A
    /// stanza without `from` comes from the component's domain.
    ///
    /// # Errors
    /// [`CommandError::NotOnline`] before [`ComponentEvent::Online`],
    /// [`CommandError::Closed`] once ended or closing,
    /// [`CommandError::OutsideDomain`] for a `from` outside the domain,
    /// [`CommandError::InvalidAddress`] for a missing or invalid `to` or
    /// `from`, [`CommandError::InvalidStanza`] if it cannot be
    /// serialized, [`CommandError::OutputFull`] if the transport is not
    /// writing.
    pub fn send(
        &mut self,
        now: Time,
        stanza: impl Into<Outgoing>,
    ) -> Result<StanzaId, CommandError> {
        if self.core.closed.is_some() || self.phase == Phase::Closing {
            return Err(CommandError::Closed);
        }
        if self.phase != Phase::Online {
            return Err(CommandError::NotOnline);
        }
        if self.core.out.pending() > self.config.limits.max_pending_input {
            return Err(CommandError::OutputFull);
        }
        let mut el = Element::from(stanza.into());
        match el.attr("to") {
            Some(to) => {
                Jid::new(to).map_err(CommandError::InvalidAddress)?;
            }
            None => {
                return Err(CommandError::InvalidAddress(crate::jid::JidError::new(
                    crate::jid::JidPart::Domainpart,
                    crate::jid::JidErrorKind::Empty,
                )));
            }
        }
        match el.attr("from") {
            Some(from) => {
                let from = Jid::new(from).map_err(CommandError::InvalidAddress)?;
                if from.domainpart() != self.config.domain {
                    return Err(CommandError::OutsideDomain);
                }
            }
            None => {
                let domain = self.config.domain.clone();
                el.set_attr("from", &domain);
            }
        }
        let id = match el.attr("id") {
            Some(id) => id.to_owned(),
            None => {
                let Some(id) = self.core.random_id() else {
                    self.finish(CloseReason::RandomUnavailable);
                    return Err(CommandError::Closed);
                };
                el.set_attr("id", &id);
                id
            }
        };
        el.rename_ns(ns::CLIENT, ns::COMPONENT_ACCEPT);
        crate::stream::write_stanza(self, now, el, false).map_err(|(e, _)| e)?;
        self.flush_trace();
        Ok(StanzaId(id))
    }

    /// Ends the session politely: `</stream:stream>`, then waits for the
    /// server's (up to `ComponentTimeouts::close`).
    pub fn close(&mut self, now: Time) {
        if self.core.closed.is_some() || self.phase == Phase::Closing {
            return;
        }
        self.core.out.close_stream();
        self.phase = Phase::Closing;
        self.core.timers.clear_all();
        self.core
            .timers
            .set(ComponentTimer::Close, now + self.config.timeouts.close);
        self.flush_trace();
    }

    /// Gives the storage of an element handed out in an event back, so
    /// that the next element read is built in it. Optional.
    pub fn recycle(&mut self, element: Element) {
        self.core.reader.recycle(element);
    }

    fn open_stream(&mut self) {
        let mut header = StreamHeader::new(ns::COMPONENT_ACCEPT).to(&self.config.domain);
        // XEP-0114 streams carry no version: with one, some servers
        // expect RFC 6120 features and SASL instead of the handshake.
        header.version = None;
        if self.core.out.header(&header).is_err() {
            self.finish(CloseReason::ProtocolViolation {
                condition: StreamErrorCondition::ImproperAddressing,
                text: "our domain cannot be written in a stream header".into(),
            });
            return;
        }
        self.phase = Phase::AwaitHeader;
    }

    fn handle_header(&mut self, header: &StreamHeader) {
        if self.phase != Phase::AwaitHeader {
            self.fail(StreamErrorCondition::InvalidXml, "unexpected stream header");
            return;
        }
        if header.default_ns != ns::COMPONENT_ACCEPT {
            self.fail(
                StreamErrorCondition::InvalidNamespace,
                "the server's stream is not a component stream",
            );
            return;
        }
        let Some(id) = header.id.as_deref().filter(|id| !id.is_empty()) else {
            self.fail(
                StreamErrorCondition::InvalidXml,
                "the server's stream header has no id to hash",
            );
            return;
        };
        let digest = handshake_digest(id, &self.config.secret);
        let handshake = Element::builder("handshake", ns::COMPONENT_ACCEPT)
            .text(&digest)
            .build();
        let _ = self.core.out.element(&handshake);
        self.phase = Phase::AwaitHandshake;
    }

    fn handle_negotiation_element(&mut self, now: Time, el: &Element) {
        if self.phase == Phase::AwaitHandshake && el.is("handshake", ns::COMPONENT_ACCEPT) {
            self.phase = Phase::Online;
            self.core.timers.clear(ComponentTimer::Negotiation);
            self.wrote(now);
            self.core.events.push_back(ComponentEvent::Online {
                domain: self.config.domain.clone(),
            });
        } else {
            let text = format!("<{}/> before the handshake was accepted", el.name());
            self.fail(StreamErrorCondition::UnsupportedStanzaType, &text);
        }
    }

    fn handle_stanza(&mut self, mut el: Element) {
        el.rename_ns(ns::COMPONENT_ACCEPT, ns::CLIENT);
        let stanza = match Stanza::from_element(el) {
            Ok(stanza) => stanza,
            Err(e) if e.reason == InvalidStanza::NotAStanza => {
                let text = format!("<{}/> is not a stanza", e.element.name());
                self.fail(StreamErrorCondition::UnsupportedStanzaType, &text);
                return;
            }
            Err(e) => {
                let text = format!("invalid stanza: {:?}", e.reason);
                self.fail(StreamErrorCondition::BadFormat, &text);
                return;
            }
        };
        let event = match stanza {
            Stanza::Message(m) => ComponentEvent::Message(m),
            Stanza::Presence(p) => ComponentEvent::Presence(p),
            Stanza::Iq(iq) if iq.kind().is_request() => ComponentEvent::IqRequest(iq),
            Stanza::Iq(iq) => ComponentEvent::IqResponse {
                id: StanzaId(iq.id().unwrap_or_default().to_owned()),
                response: iq,
            },
        };
        self.core.events.push_back(event);
    }

    /// We wrote to the server: the keepalive can wait.
    fn wrote(&mut self, now: Time) {
        if self.phase == Phase::Online {
            if let Some(every) = self.config.timeouts.keepalive {
                self.core.timers.set(ComponentTimer::Keepalive, now + every);
            }
        }
    }
}

impl Role for Component {
    type Event = ComponentEvent;
    type Timer = ComponentTimer;

    fn core(&self) -> &Core<ComponentEvent, ComponentTimer> {
        &self.core
    }

    fn core_mut(&mut self) -> &mut Core<ComponentEvent, ComponentTimer> {
        &mut self.core
    }

    fn closed_event(reason: CloseReason) -> ComponentEvent {
        ComponentEvent::Closed { reason }
    }

    fn trace_event(direction: Direction, data: Vec<u8>) -> ComponentEvent {
        ComponentEvent::Trace { direction, data }
    }

    fn awaiting_tls(&self) -> bool {
        self.phase == Phase::AwaitTls
    }

    fn is_closing(&self) -> bool {
        self.phase == Phase::Closing
    }

    fn heard_from_peer(&mut self, _now: Time) {}

    fn on_header(&mut self, _now: Time, header: &StreamHeader) {
        self.handle_header(header);
    }

    fn sm_nonzas_accepted(&self) -> bool {
        false
    }

    fn on_sm_nonza(&mut self, _now: Time, _el: &Element) {}

    fn is_online(&self) -> bool {
        self.phase == Phase::Online
    }

    fn is_bound(&self) -> bool {
        self.phase == Phase::Online || self.phase == Phase::Closing
    }

    fn on_stanza(&mut self, _now: Time, el: Element) {
        self.handle_stanza(el);
    }

    fn on_negotiation_element(&mut self, now: Time, el: Element) {
        self.handle_negotiation_element(now, &el);
    }

    fn handle_timer(&mut self, now: Time, timer: ComponentTimer) {
        match timer {
            ComponentTimer::Negotiation => self.fail_with(
                StreamError::new(StreamErrorCondition::ConnectionTimeout),
                CloseReason::NegotiationTimeout,
            ),
            ComponentTimer::Close => self.finish(CloseReason::CloseTimeout),
            ComponentTimer::Keepalive => {
                self.core.out.keepalive();
                self.wrote(now);
            }
            ComponentTimer::SmRequest => {}
        }
    }

    fn tls_established(&mut self, now: Time) {
        self.open_stream();
        self.wrote(now);
    }

    fn wrote_to_peer(&mut self, now: Time) {
        self.wrote(now);
    }

    fn hand_over(&mut self, _reason: &CloseReason) {
        self.phase = Phase::Closed;
    }
}

#[cfg(test)]
mod tests;
