//! The receiving entity of a client-to-server stream (RFC 6120), as a
//! sans-IO state machine: one [`Server`] per accepted connection.
//!
//! A [`Server`] answers the client's stream header, offers the stream
//! features in RFC 6120 order (STARTTLS, then SASL with XEP-0440 channel
//! binding types and XEP-0474 downgrade protection, then resource binding
//! with the legacy session marked optional), runs the server side of SASL,
//! binds a resource and then hands the client's stanzas to the application
//! with `from` set to the session's full JID, so a client cannot speak for
//! anyone else. What needs the application's data is asked through events
//! and answered with commands: [`Event::NeedScramCredentials`] →
//! [`Server::provide_credentials`], [`Event::Authenticate`] →
//! [`Server::accept_auth`] / [`Server::reject_auth`],
//! [`Event::BindRequest`] → [`Server::accept_bind`] /
//! [`Server::reject_bind`] (this is where a router says whether the
//! resource is free). Routing stanzas between sessions is the job of
//! [`crate::router`].
//!
//! It does no I/O, like [`crate::client::Client`]: feed it bytes with
//! [`Server::handle_input`], drain [`Server::poll_transmit`] and
//! [`Server::poll_event`] after every call, and call
//! [`Server::handle_timeout`] at [`Server::poll_timeout`]. The
//! [`Endpoint`] trait carries that contract for transports.
//!
//! ```
//! use std::time::Instant;
//! use xmpp_proto::endpoint::Transmit;
//! use xmpp_proto::server::{Server, ServerConfig};
//!
//! let config = ServerConfig::new("example.com")?
//!     .with_random(Box::new(|buf: &mut [u8]| buf.fill(7))); // tests only!
//! let now = Instant::now();
//! let mut server = Server::new(config, now);
//! server.handle_input(now, b"<?xml version='1.0'?><stream:stream to='example.com' \
//!     version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")?;
//! let Some(Transmit::Data(bytes)) = server.poll_transmit() else { panic!() };
//! let text = std::str::from_utf8(bytes).unwrap();
//! // Our header, then STARTTLS as the only (required) feature.
//! assert!(text.contains("from='example.com'"));
//! assert!(text.ends_with("<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>\
//!     <required/></starttls></stream:features>"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod config;
mod error;
mod event;
mod negotiate;
mod online;
mod probe;
mod sm;

use std::collections::VecDeque;
use std::time::Instant;

pub use self::config::{ServerConfig, ServerTimeouts, ServerTlsPolicy};
pub use self::error::{CloseReason, CommandError, Error, Refused};
pub use self::event::{Direction, Event, Password};

use self::negotiate::Phase;
use crate::endpoint::{Endpoint, RandomSource, Transmit};
use crate::jid::{BareJid, FullJid};
use crate::sm::Live;
use crate::stream::{Output, Timers, random_id};
use crate::stream_error::{StreamError, StreamErrorCondition};
use crate::tls::TlsInfo;
use crate::xml::{Element, StreamEvent, StreamHeader, StreamReader, ns};

/// The server's timers, one slot each in the timer table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    Negotiation,
    Close,
    SmRequest,
    /// Probe a bound client that has been silent.
    Probe,
    /// The probe's answer is late: the connection is dead.
    ProbeAnswer,
}
const TIMERS: usize = 5;

/// One client connection, server side. See the module documentation.
pub struct Server {
    config: ServerConfig,
    random: Box<dyn RandomSource + Send>,
    reader: StreamReader,
    out: Output,
    phase: Phase,
    tls: Option<TlsInfo>,
    /// Our header for the current stream (they restart) is written.
    header_sent: bool,
    stream_id: Option<String>,
    /// The authenticated account, after SASL success.
    user: Option<BareJid>,
    /// The bound full JID, once online.
    jid: Option<FullJid>,
    auth_failures: u32,
    bind_failures: u32,
    events: VecDeque<Event>,
    timers: Timers<TIMERS>,
    /// XEP-0198 state, once enabled or resumed.
    sm: Option<Live>,
    /// Set once `Event::Closed` has been queued.
    closed: Option<CloseReason>,
    /// When the client last sent a byte, while online (for the probe).
    last_heard: Instant,
}

impl Server {
    /// A server side for a freshly accepted connection. It waits for the
    /// client's stream header; with direct TLS, `Transmit::StartTls` is the
    /// first transmit.
    pub fn new(mut config: ServerConfig, now: Instant) -> Self {
        let random = config.random.take();
        let random_missing = random.is_none();
        let mut server = Server {
            reader: StreamReader::new(config.limits.clone()),
            out: Output::new(config.trace),
            phase: Phase::AwaitHeader,
            tls: None,
            header_sent: false,
            stream_id: None,
            user: None,
            jid: None,
            auth_failures: 0,
            bind_failures: 0,
            events: VecDeque::new(),
            timers: Timers::default(),
            sm: None,
            closed: None,
            last_heard: now,
            random: random.unwrap_or_else(|| Box::new(|buf: &mut [u8]| buf.fill(0))),
            config,
        };
        if random_missing {
            server.finish(CloseReason::NoRandomSource);
            return server;
        }
        server.timers.set(
            Timer::Negotiation as usize,
            now + server.config.timeouts.negotiation,
        );
        if server.config.tls == ServerTlsPolicy::Direct {
            server.out.start_tls();
            server.phase = Phase::AwaitTls;
        }
        server
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
        if !data.is_empty() {
            self.heard_from_client(now);
        }
        let mut input = data;
        while self.closed.is_none() {
            if matches!(self.phase, Phase::AwaitTls) && !input.is_empty() {
                // Bytes after <proceed/> (or before direct TLS) that did not
                // come through TLS: an attacker's, never the client's.
                self.finish(CloseReason::StartTlsInjection);
                break;
            }
            if self.events.len() >= self.config.max_events {
                self.fail(
                    StreamErrorCondition::ResourceConstraint,
                    "the application is not draining events",
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

    /// The client closed the connection.
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
            if slot == Timer::SmRequest as usize {
                self.sm_request_due(now);
            } else if slot == Timer::Probe as usize {
                self.probe(now);
            } else if slot == Timer::ProbeAnswer as usize {
                self.finish(CloseReason::PeerNotResponding);
            } else if slot == Timer::Negotiation as usize {
                self.fail_with_reason(
                    StreamErrorCondition::ConnectionTimeout,
                    CloseReason::NegotiationTimeout,
                );
            } else {
                self.finish(CloseReason::CloseTimeout);
            }
        }
        self.flush_trace();
    }

    /// The TLS handshake asked for by [`Transmit::StartTls`] has completed.
    /// `tls` carries the channel-binding data the `-PLUS` mechanisms use.
    ///
    /// # Errors
    /// If the session has ended, or TLS was not expected now (the session
    /// is then ended).
    pub fn handle_tls_established(&mut self, _now: Instant, tls: TlsInfo) -> Result<(), Error> {
        self.check_open()?;
        if !matches!(self.phase, Phase::AwaitTls) {
            self.fail(
                StreamErrorCondition::UndefinedCondition,
                "unexpected TLS handshake",
            );
            return self.check_open();
        }
        self.tls = Some(tls);
        self.restart_stream();
        self.check_open()
    }

    /// Ends the session politely: sends `</stream:stream>`, waits for the
    /// client's close (up to `ServerTimeouts::close`), then asks the
    /// transport to shut the connection down.
    pub fn close(&mut self, now: Instant) {
        if self.closed.is_some() || matches!(self.phase, Phase::Closing) {
            return;
        }
        if matches!(self.phase, Phase::AwaitTls) {
            // No stream to close yet.
            self.finish(CloseReason::Normal);
            return;
        }
        self.ensure_header();
        self.out.close_stream();
        self.phase = Phase::Closing;
        self.timers.clear_all();
        self.timers
            .set(Timer::Close as usize, now + self.config.timeouts.close);
        self.flush_trace();
    }

    /// Ends the session at once with a stream error, for reasons of the
    /// application: `conflict` when another session took over this
    /// resource, `system-shutdown`, `policy-violation`, ...
    pub fn close_with_error(
        &mut self,
        _now: Instant,
        condition: StreamErrorCondition,
        text: Option<&str>,
    ) {
        if self.closed.is_some() {
            return;
        }
        let mut error = StreamError::new(condition);
        if let Some(text) = text {
            error = error.with_text(text);
        }
        self.send_stream_error(&error);
        self.finish(CloseReason::Kicked { condition });
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

    /// When [`Server::handle_timeout`] should be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed.is_some() {
            return None;
        }
        self.timers.next()
    }

    /// The session's full JID, once bound.
    pub fn jid(&self) -> Option<&FullJid> {
        self.jid.as_ref()
    }

    /// The authenticated account, once SASL succeeded.
    pub fn user(&self) -> Option<&BareJid> {
        self.user.as_ref()
    }

    /// The id we gave the current stream, once the client opened it.
    pub fn stream_id(&self) -> Option<&str> {
        self.stream_id.as_deref()
    }

    /// Whether stanzas flow (bound and not closing).
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
            StreamEvent::Header(header) => self.handle_header(&header),
            StreamEvent::Element(el) => {
                if el.is("error", ns::STREAM) {
                    self.handle_stream_error(&el);
                } else if el.ns() == ns::SM && matches!(self.phase, Phase::Online) {
                    self.handle_sm_nonza(&el);
                } else if matches!(self.phase, Phase::Online) {
                    self.count_inbound(&el);
                    self.handle_stanza(now, el);
                } else if matches!(self.phase, Phase::Closing) {
                    // What the client sent before it saw our close is still
                    // processed (RFC 6120 §4.4); nothing is written back.
                    if self.jid.is_some() && el.ns() == ns::CLIENT {
                        self.count_inbound(&el);
                        self.handle_stanza(now, el);
                    }
                } else {
                    self.handle_negotiation_element(el);
                }
            }
            StreamEvent::Keepalive => {}
            StreamEvent::Closed => {
                if !matches!(self.phase, Phase::Closing) {
                    // Answer the client's close with ours (RFC 6120 §4.4).
                    self.ensure_header();
                    self.out.close_stream();
                }
                self.finish(CloseReason::Normal);
            }
        }
    }

    fn handle_stream_error(&mut self, el: &Element) {
        let (condition, text) = match StreamError::from_element(el) {
            Ok(e) => (e.condition, e.text),
            Err(_) => (StreamErrorCondition::UndefinedCondition, None),
        };
        self.out.close_stream();
        self.finish(CloseReason::StreamError { condition, text });
    }

    /// Starts a new stream after TLS or SASL: the client sends a fresh
    /// header and gets a fresh id.
    fn restart_stream(&mut self) {
        self.reader.reset();
        self.header_sent = false;
        self.phase = Phase::AwaitHeader;
    }

    /// Writes our stream header if this stream has none yet (a stream
    /// error or close needs one before it, RFC 6120 §4.9.1.2).
    fn ensure_header(&mut self) {
        if self.header_sent {
            return;
        }
        let id = random_id(&mut *self.random);
        let header = StreamHeader::new(ns::CLIENT)
            .from(self.config.domain.domainpart())
            .id(&id)
            .lang(&self.config.lang);
        // Our domain and a base64 id always serialize; a failure here
        // would leave the stream without a header, which the close below
        // makes harmless.
        let _ = self.out.header(&header);
        self.stream_id = Some(id);
        self.header_sent = true;
    }

    fn send_stream_error(&mut self, error: &StreamError) {
        self.ensure_header();
        let _ = self.out.element(&error.to_element());
        self.out.close_stream();
    }

    /// Sends a stream error and ends the session: the client misbehaved.
    fn fail(&mut self, condition: StreamErrorCondition, text: &str) {
        self.fail_with_reason(
            condition,
            CloseReason::ProtocolViolation {
                condition,
                text: text.to_owned(),
            },
        );
    }

    fn fail_with_reason(&mut self, condition: StreamErrorCondition, reason: CloseReason) {
        self.fail_with_error(StreamError::new(condition), reason);
    }

    fn fail_with_error(&mut self, error: StreamError, reason: CloseReason) {
        if self.closed.is_some() {
            return;
        }
        self.send_stream_error(&error);
        self.finish(reason);
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
}

impl Endpoint for Server {
    type Event = Event;
    type Error = Error;

    fn handle_input(&mut self, now: Instant, data: &[u8]) -> Result<(), Error> {
        Server::handle_input(self, now, data)
    }
    fn handle_eof(&mut self, now: Instant) {
        Server::handle_eof(self, now)
    }
    fn handle_timeout(&mut self, now: Instant) {
        Server::handle_timeout(self, now)
    }
    fn handle_tls_established(&mut self, now: Instant, tls: TlsInfo) -> Result<(), Error> {
        Server::handle_tls_established(self, now, tls)
    }
    fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        Server::poll_transmit(self)
    }
    fn consume_transmit(&mut self, n: usize) {
        Server::consume_transmit(self, n)
    }
    fn poll_event(&mut self) -> Option<Event> {
        Server::poll_event(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Server::poll_timeout(self)
    }
    fn is_closed(&self) -> bool {
        Server::is_closed(self) && self.events.is_empty() && self.out.is_drained()
    }
}
