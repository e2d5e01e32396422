//! The initiating entity of a client-to-server stream (RFC 6120), as a
//! sans-IO state machine.
//!
//! A [`Client`] negotiates the stream (stream header, STARTTLS or direct
//! TLS, SASL, stream restart, resource binding, the legacy session when the
//! server requires it), then carries stanzas both ways: IQ requests are
//! tracked until their response or a timeout, unhandled IQ requests are
//! answered with `service-unavailable`, XEP-0184 receipt requests are
//! answered, and the connection is kept alive (whitespace keepalives) and
//! watched (XEP-0199 ping after a quiet period).
//!
//! It does no I/O: feed it bytes with [`Client::handle_input`], drain
//! [`Client::poll_transmit`] and [`Client::poll_event`] after every call,
//! and call [`Client::handle_timeout`] at [`Client::poll_timeout`]. The
//! [`Endpoint`] trait carries that contract for transports.
//!
//! ```
//! use std::time::Instant;
//! use xmpp_proto::client::{Client, ClientConfig, TlsPolicy};
//! use xmpp_proto::endpoint::Transmit;
//! use xmpp_proto::jid::Jid;
//!
//! let config = ClientConfig::new(Jid::new("juliet@example.com")?, "secret")
//!     .with_random(Box::new(|buf: &mut [u8]| buf.fill(7))); // tests only!
//! let mut client = Client::new(config, Instant::now());
//! // The first thing to send is the stream header.
//! let Some(Transmit::Data(bytes)) = client.poll_transmit() else { panic!() };
//! assert!(bytes.starts_with(b"<?xml version='1.0'?><stream:stream"));
//! # Ok::<(), xmpp_proto::jid::JidError>(())
//! ```

mod config;
mod error;
mod event;
mod negotiate;
mod online;
mod sm;

use std::collections::VecDeque;
use std::time::Instant;

pub use self::config::{ClientConfig, Timeouts, TlsPolicy};
pub use self::error::{CloseReason, Error, SendError};
pub use self::event::{Direction, Event, StanzaId};
pub use self::online::Outgoing;

use self::negotiate::Phase;
use self::online::PendingIqs;
use crate::endpoint::{Endpoint, RandomSource, Transmit};
use crate::jid::FullJid;
use crate::sm::{Live, SmSession};
use crate::stream::{Output, Timers};
use crate::stream_error::{StreamError, StreamErrorCondition};
use crate::tls::TlsInfo;
use crate::xml::{Element, StreamEvent, StreamReader, ns};

/// The client's timers, one slot each in the timer table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    Negotiation,
    Close,
    Keepalive,
    Ping,
    PingAnswer,
    Iq,
    SmRequest,
}
const TIMERS: usize = 7;

/// A client-to-server session. See the module documentation.
pub struct Client {
    config: ClientConfig,
    random: Box<dyn RandomSource + Send>,
    reader: StreamReader,
    out: Output,
    phase: Phase,
    tls: Option<TlsInfo>,
    jid: Option<FullJid>,
    events: VecDeque<Event>,
    timers: Timers<TIMERS>,
    iqs: PendingIqs,
    /// XEP-0198 state, once `<enabled/>` or `<resumed/>` arrived.
    sm: Option<Live>,
    /// The server offered `urn:xmpp:sm:3` after authentication.
    sm_offered: bool,
    /// A session to resume instead of binding, until the server answers.
    resume_from: Option<SmSession>,
    /// Set once `Event::Closed` has been queued.
    closed: Option<CloseReason>,
}

impl Client {
    /// A client that starts negotiating at once: the stream header (or,
    /// for direct TLS, `Transmit::StartTls`) is the first transmit.
    pub fn new(mut config: ClientConfig, now: Instant) -> Self {
        let random = config.random.take();
        let random_missing = random.is_none();
        let mut client = Client {
            reader: StreamReader::new(config.limits.clone()),
            out: Output::new(config.trace),
            phase: Phase::AwaitHeader {
                authenticated: false,
            },
            tls: None,
            jid: None,
            events: VecDeque::new(),
            timers: Timers::default(),
            iqs: PendingIqs::default(),
            sm: None,
            sm_offered: false,
            resume_from: config.resumption.take(),
            closed: None,
            random: random.unwrap_or_else(|| Box::new(|buf: &mut [u8]| buf.fill(0))),
            config,
        };
        if random_missing {
            client.finish(CloseReason::NoRandomSource);
            return client;
        }
        client.timers.set(
            Timer::Negotiation as usize,
            now + client.config.timeouts.negotiation,
        );
        if client.config.tls == TlsPolicy::Direct {
            client.out.start_tls();
            client.phase = Phase::AwaitTls;
        } else {
            client.open_stream();
        }
        client
    }

    /// Bytes read from the connection. Always consumes all of `data`.
    ///
    /// # Errors
    /// Once the session has ended (by this input or before); the reason is
    /// also reported as [`Event::Closed`].
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) -> Result<(), Error> {
        self.check_open()?;
        if self.config.trace && !data.is_empty() {
            self.events.push_back(Event::Trace {
                direction: Direction::In,
                data: data.to_vec(),
            });
        }
        self.heard_from_server(now);
        let mut input = data;
        while self.closed.is_none() {
            if matches!(self.phase, Phase::AwaitTls) && !input.is_empty() {
                // Bytes after <proceed/> (or before direct TLS) that did not
                // come through TLS: an attacker's, never the server's.
                self.finish(CloseReason::StartTlsInjection);
                break;
            }
            if self.events.len() >= self.config.max_events {
                self.fail(
                    StreamErrorCondition::ResourceConstraint,
                    "application is not draining events",
                );
                break;
            }
            match self.reader.read(&mut input) {
                Ok(Some(event)) => self.handle_stream_event(now, event),
                Ok(None) => break,
                Err(e) => {
                    let text = e.to_string();
                    self.fail(e.condition(), &text);
                }
            }
        }
        self.flush_trace();
        self.check_open()
    }

    /// The server closed the connection.
    pub fn handle_eof(&mut self, _now: Instant) {
        if self.closed.is_none() {
            let reason = match self.phase {
                Phase::Closing => CloseReason::Normal,
                _ => CloseReason::ConnectionLost,
            };
            self.finish(reason);
        }
    }

    /// Fires the timers that are due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while self.closed.is_none() {
            let Some(slot) = self.timers.pop_expired(now) else {
                break;
            };
            match slot {
                s if s == Timer::Negotiation as usize => {
                    self.fail(
                        StreamErrorCondition::ConnectionTimeout,
                        "negotiation took too long",
                    );
                    self.replace_reason(CloseReason::NegotiationTimeout);
                }
                s if s == Timer::Close as usize => self.finish(CloseReason::CloseTimeout),
                s if s == Timer::Keepalive as usize => {
                    self.out.keepalive();
                    self.sent_to_server(now);
                }
                s if s == Timer::Ping as usize => self.send_ping(now),
                s if s == Timer::SmRequest as usize => self.sm_request_due(now),
                s if s == Timer::PingAnswer as usize => {
                    self.out.close_stream();
                    self.finish(CloseReason::PeerNotResponding);
                }
                _ => self.expire_iqs(now),
            }
        }
        self.flush_trace();
    }

    /// The TLS handshake asked for by [`Transmit::StartTls`] has completed.
    ///
    /// # Errors
    /// If the session has ended, or TLS was not expected now (the session
    /// is then ended).
    pub fn handle_tls_established(&mut self, now: Instant, tls: TlsInfo) -> Result<(), Error> {
        self.check_open()?;
        if !matches!(self.phase, Phase::AwaitTls) {
            self.fail(
                StreamErrorCondition::UndefinedCondition,
                "unexpected TLS handshake",
            );
            return self.check_open();
        }
        self.tls = Some(tls);
        self.reader.reset();
        self.open_stream();
        self.sent_to_server(now);
        self.flush_trace();
        self.check_open()
    }

    /// Ends the session politely: sends `</stream:stream>`, waits for the
    /// server's close (up to `Timeouts::close`), then asks the transport to
    /// shut the connection down.
    pub fn close(&mut self, now: Instant) {
        if self.closed.is_some() || matches!(self.phase, Phase::Closing) {
            return;
        }
        if self.sm.as_ref().is_some_and(|sm| !sm.unacked.is_empty()) {
            // Ask before closing: the server's <a/> comes before its close,
            // so only stanzas it really lacks are reported undelivered.
            let _ = self.out.element(&crate::sm::Nonza::Request.to_element());
        }
        self.out.close_stream();
        self.phase = Phase::Closing;
        self.timers.clear_all();
        self.timers
            .set(Timer::Close as usize, now + self.config.timeouts.close);
        self.flush_trace();
    }

    /// The next thing the transport must do with the connection.
    pub fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        self.out.poll_transmit()
    }

    /// `n` bytes of the last [`Transmit::Data`] were written.
    pub fn consume_transmit(&mut self, n: usize) {
        self.out.consume(n);
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Client::handle_timeout`] should be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed.is_some() {
            return None;
        }
        self.timers.next()
    }

    /// The bound full JID, once online.
    pub fn jid(&self) -> Option<&FullJid> {
        self.jid.as_ref()
    }

    /// Whether stanzas can be sent.
    pub fn is_online(&self) -> bool {
        matches!(self.phase, Phase::Online) && self.closed.is_none()
    }

    /// Whether the session has ended (after [`Event::Closed`]).
    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
    }

    /// The TLS facts of the stream, once encrypted.
    pub fn tls(&self) -> Option<&TlsInfo> {
        self.tls.as_ref()
    }

    fn handle_stream_event(&mut self, now: Instant, event: StreamEvent) {
        match event {
            StreamEvent::Header(header) => self.handle_header(now, &header),
            StreamEvent::Element(el) => {
                if el.is("error", ns::STREAM) {
                    self.handle_stream_error(&el);
                } else if el.ns() == ns::SM && self.sm.is_some() {
                    self.handle_sm_nonza(now, &el);
                } else if matches!(self.phase, Phase::Online) {
                    self.count_inbound(&el);
                    self.handle_stanza(now, el);
                } else if matches!(self.phase, Phase::Closing) {
                    // The server may still deliver what it had under way
                    // before it answers our close (RFC 6120 §4.4): hand it
                    // over rather than lose it; answers are not written.
                    if self.jid.is_some() && el.ns() == ns::CLIENT {
                        self.count_inbound(&el);
                        self.handle_stanza(now, el);
                    }
                } else {
                    self.handle_negotiation_element(now, el);
                }
            }
            StreamEvent::Keepalive => {}
            StreamEvent::Closed => {
                if !matches!(self.phase, Phase::Closing) {
                    // Answer the server's close with ours (RFC 6120 §4.4).
                    self.out.close_stream();
                }
                self.finish(CloseReason::Normal);
            }
        }
    }

    fn handle_stream_error(&mut self, el: &Element) {
        let reason = match StreamError::from_element(el) {
            Ok(e) => CloseReason::StreamError {
                see_other_host: (e.condition == StreamErrorCondition::SeeOtherHost)
                    .then(|| see_other_host(el))
                    .flatten(),
                condition: e.condition,
                text: e.text,
            },
            Err(_) => CloseReason::StreamError {
                condition: StreamErrorCondition::UndefinedCondition,
                text: None,
                see_other_host: None,
            },
        };
        self.out.close_stream();
        self.finish(reason);
    }

    /// Sends a stream error and ends the session: the server misbehaved.
    fn fail(&mut self, condition: StreamErrorCondition, text: &str) {
        self.fail_with(StreamError::new(condition), text);
    }

    /// Like [`Client::fail`], with a full stream error (text, application
    /// condition).
    fn fail_with(&mut self, error: StreamError, text: &str) {
        if self.closed.is_some() {
            return;
        }
        let condition = error.condition;
        let _ = self.out.element(&error.to_element());
        self.out.close_stream();
        self.finish(CloseReason::ProtocolViolation {
            condition,
            text: text.to_owned(),
        });
    }

    /// Queues the shutdown and the final event.
    fn finish(&mut self, reason: CloseReason) {
        if self.closed.is_some() {
            return;
        }
        self.out.shutdown();
        self.timers.clear_all();
        self.phase = Phase::Closed;
        self.closed = Some(reason.clone());
        self.flush_trace();
        self.hand_over_sm(&reason);
        self.events.push_back(Event::Closed { reason });
    }

    /// Refines the reason of a just-queued close.
    fn replace_reason(&mut self, reason: CloseReason) {
        if let Some(Event::Closed { reason: r }) = self.events.back_mut() {
            *r = reason.clone();
        }
        self.closed = Some(reason);
    }

    fn check_open(&self) -> Result<(), Error> {
        match &self.closed {
            Some(reason) => Err(Error::new(reason.clone())),
            None => Ok(()),
        }
    }

    fn flush_trace(&mut self) {
        if self.config.trace {
            for data in self.out.take_trace() {
                self.events.push_back(Event::Trace {
                    direction: Direction::Out,
                    data,
                });
            }
        }
    }

    /// Any byte from the server proves it alive: restart the ping clock.
    fn heard_from_server(&mut self, now: Instant) {
        self.timers.clear(Timer::PingAnswer as usize);
        if matches!(self.phase, Phase::Online) {
            if let Some(after) = self.config.timeouts.ping_after {
                self.timers.set(Timer::Ping as usize, now + after);
            }
        }
    }

    fn sent_to_server(&mut self, now: Instant) {
        if matches!(self.phase, Phase::Online) {
            if let Some(every) = self.config.timeouts.keepalive {
                self.timers.set(Timer::Keepalive as usize, now + every);
            }
        }
    }
}

/// The text of `<see-other-host/>` in a stream error.
fn see_other_host(el: &Element) -> Option<String> {
    el.child("see-other-host", ns::STREAMS)
        .map(|c| c.text().trim().to_owned())
        .filter(|h| !h.is_empty())
}

impl Endpoint for Client {
    type Event = Event;
    type Error = Error;

    fn handle_input(&mut self, now: Instant, data: &[u8]) -> Result<(), Error> {
        Client::handle_input(self, now, data)
    }
    fn handle_eof(&mut self, now: Instant) {
        Client::handle_eof(self, now)
    }
    fn handle_timeout(&mut self, now: Instant) {
        Client::handle_timeout(self, now)
    }
    fn handle_tls_established(&mut self, now: Instant, tls: TlsInfo) -> Result<(), Error> {
        Client::handle_tls_established(self, now, tls)
    }
    fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        Client::poll_transmit(self)
    }
    fn consume_transmit(&mut self, n: usize) {
        Client::consume_transmit(self, n)
    }
    fn poll_event(&mut self) -> Option<Event> {
        Client::poll_event(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Client::poll_timeout(self)
    }
    fn is_closed(&self) -> bool {
        Client::is_closed(self) && self.events.is_empty() && self.out.is_drained()
    }
}
