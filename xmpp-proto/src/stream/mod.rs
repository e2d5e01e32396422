//! The stream core both roles run on, private to the crate.
//!
//! [`Client`](crate::Client) and [`Server`](crate::Server) are separate
//! types with no role flag threaded through them; what they share lives
//! here once: the reader, the output queue with its TLS and shutdown
//! marks, the event queue, the timer table, the TLS facts, randomness,
//! stream management's live state ([`Core`]), and the code that drives
//! them: the input loop, timers, TLS, failing and finishing a session,
//! tracing, stream management's counting and acknowledgements ([`Role`]'s
//! provided methods), and [`Endpoint`](crate::endpoint::Endpoint), which
//! is implemented once for every role.
//!
//! A role supplies its state and the hooks of [`Role`]: what a stream
//! event, a timer or the end of TLS means to it.

mod ids;
mod output;
mod sm;
mod timers;

use std::collections::VecDeque;

pub(crate) use self::ids::random_id;
pub(crate) use self::output::Output;
pub(crate) use self::sm::{
    Leftover, acknowledged, answer_request, count_inbound, ended_broken, leftover, request_due,
    write_stanza, write_wire,
};
pub(crate) use self::timers::{TimerKind, Timers};

use crate::endpoint::{CloseReason, Closed, Direction, Endpoint, Transmit};
use crate::random::RandomSource;
use crate::sm::Live;
use crate::stream_error::{StreamError, StreamErrorCondition};
use crate::time::Time;
use crate::tls::TlsInfo;
use crate::xml::{Element, Limits, StreamEvent, StreamHeader, StreamReader, ns};

/// What every role keeps about its stream.
///
/// Public only in name, like [`Role`].
#[allow(unreachable_pub)]
pub struct Core<E, T> {
    pub(crate) reader: StreamReader,
    pub(crate) out: Output,
    pub(crate) events: VecDeque<E>,
    pub(crate) timers: Timers<T>,
    /// The TLS facts, once the stream is encrypted.
    pub(crate) tls: Option<TlsInfo>,
    pub(crate) random: Box<dyn RandomSource + Send>,
    /// XEP-0198 state, once enabled or resumed.
    pub(crate) sm: Option<Live>,
    /// Set once the `Closed` event has been queued.
    pub(crate) closed: Option<CloseReason>,
    trace: bool,
    max_events: usize,
    /// Output past which the endpoint stops wanting input.
    max_output: usize,
    /// Whether any byte came from the peer yet (the first bytes tell a
    /// TLS record on a plaintext port).
    seen_input: bool,
    /// The peer closed its stream while events were still queued: our
    /// close waits until the application has taken them.
    peer_closed: bool,
    /// The role asks the transport to stop reading for now (a peer over
    /// its rate); a timer of the role lifts it.
    pub(crate) read_paused: bool,
}

/// The settings [`Core::new`] takes from a role's configuration.
pub(crate) struct CoreConfig {
    pub(crate) limits: Limits,
    pub(crate) trace: bool,
    pub(crate) max_events: usize,
    /// Output past which [`Endpoint::wants_read`] says no.
    pub(crate) max_output: usize,
    pub(crate) random: Option<Box<dyn RandomSource + Send>>,
    /// XMPP over WebSocket (RFC 7395) instead of a TCP stream.
    pub(crate) websocket: bool,
}

impl<E, T: TimerKind> Core<E, T> {
    pub(crate) fn new(config: CoreConfig) -> Self {
        Core {
            reader: if config.websocket {
                StreamReader::for_websocket(config.limits, ns::CLIENT)
            } else {
                StreamReader::new(config.limits)
            },
            out: if config.websocket {
                Output::for_websocket(config.trace)
            } else {
                Output::new(config.trace)
            },
            events: VecDeque::new(),
            timers: Timers::default(),
            tls: None,
            random: config.random.unwrap_or_else(crate::random::default_source),
            sm: None,
            closed: None,
            trace: config.trace,
            max_events: config.max_events,
            max_output: config.max_output,
            read_paused: false,
            seen_input: false,
            peer_closed: false,
        }
    }

    /// A fresh unpredictable id, or `None` if the random source failed
    /// (the caller then ends the session with
    /// [`CloseReason::RandomUnavailable`]).
    pub(crate) fn random_id(&mut self) -> Option<String> {
        random_id(&mut *self.random)
    }

    /// Fills `buf` from the random source; `false` if it failed.
    pub(crate) fn fill_random(&mut self, buf: &mut [u8]) -> bool {
        self.random.fill(buf).is_ok()
    }
}

/// A role on the stream core: its state and what stream events mean to it.
///
/// Public only in name: the module is private, so nothing outside the
/// crate can implement or call it (a sealed trait), yet the blanket
/// `Endpoint` implementation can name it.
#[allow(unreachable_pub)]
pub trait Role: Sized {
    /// What the role reports to the application.
    type Event;
    /// The role's timers.
    #[doc(hidden)]
    type Timer: TimerKind;

    #[doc(hidden)]
    fn core(&self) -> &Core<Self::Event, Self::Timer>;
    #[doc(hidden)]
    fn core_mut(&mut self) -> &mut Core<Self::Event, Self::Timer>;
    #[doc(hidden)]
    fn closed_event(reason: CloseReason) -> Self::Event;
    #[doc(hidden)]
    fn trace_event(direction: Direction, data: Vec<u8>) -> Self::Event;

    /// `Transmit::StartTls` is queued and the handshake has not completed:
    /// plaintext input now is an injection.
    #[doc(hidden)]
    fn awaiting_tls(&self) -> bool;
    /// We sent our `</stream:stream>` and wait for the peer's.
    #[doc(hidden)]
    fn is_closing(&self) -> bool;
    /// Bytes arrived from the peer (liveness).
    #[doc(hidden)]
    fn heard_from_peer(&mut self, now: Time);
    /// The peer's stream header (at the start and after each restart).
    #[doc(hidden)]
    fn on_header(&mut self, now: Time, header: &StreamHeader);
    /// Stream management nonzas are understood now (SM negotiated or
    /// negotiable).
    #[doc(hidden)]
    fn sm_nonzas_accepted(&self) -> bool;
    /// A stream management nonza (`<r/>`, `<a/>`, `<enable/>`, ...).
    #[doc(hidden)]
    fn on_sm_nonza(&mut self, now: Time, el: &Element);
    /// Negotiation is over and stanzas flow.
    #[doc(hidden)]
    fn is_online(&self) -> bool;
    /// A resource is bound, so stanzas have an address to belong to.
    #[doc(hidden)]
    fn is_bound(&self) -> bool;
    /// A stanza from the peer, counted for stream management already.
    #[doc(hidden)]
    fn on_stanza(&mut self, now: Time, el: Element);
    /// An element while the stream is being negotiated.
    #[doc(hidden)]
    fn on_negotiation_element(&mut self, now: Time, el: Element);
    /// `timer` is due.
    #[doc(hidden)]
    fn handle_timer(&mut self, now: Time, timer: Self::Timer);
    /// The TLS handshake completed; the facts are in the core and the
    /// reader is reset for the new stream.
    #[doc(hidden)]
    fn tls_established(&mut self, now: Time);
    /// A stanza was written to the peer (keepalive bookkeeping).
    #[doc(hidden)]
    fn wrote_to_peer(&mut self, _now: Time) {}
    /// About to write a stream error or the answer to the peer's close:
    /// the receiving role must have sent its stream header first
    /// (RFC 6120 §4.9.1.2).
    #[doc(hidden)]
    fn before_own_close(&mut self) {}
    /// The session ended: report what must not vanish with it (stream
    /// management's queue), before the `Closed` event.
    #[doc(hidden)]
    fn hand_over(&mut self, reason: &CloseReason);

    /// What a header, element, keepalive or the close of the peer's
    /// stream means, the same for both roles.
    #[doc(hidden)]
    fn handle_stream_event(&mut self, now: Time, event: StreamEvent) {
        match event {
            StreamEvent::Header(header) => self.on_header(now, &header),
            StreamEvent::Element(el) => {
                if el.is("error", ns::STREAM) {
                    self.handle_peer_stream_error(&el);
                } else if el.ns() == ns::SM && self.sm_nonzas_accepted() {
                    self.on_sm_nonza(now, &el);
                } else if self.is_online() {
                    count_inbound(self, &el);
                    self.on_stanza(now, el);
                } else if self.is_closing() {
                    // What the peer sent before it saw our close is still
                    // processed (RFC 6120 §4.4): handed over, not lost;
                    // the role writes no answers any more.
                    if self.is_bound() && crate::stanza::is_stanza_ns(el.ns()) {
                        count_inbound(self, &el);
                        self.on_stanza(now, el);
                    }
                } else {
                    self.on_negotiation_element(now, el);
                }
            }
            StreamEvent::Keepalive => {}
            StreamEvent::SeeOtherUri(uri) => {
                self.before_own_close();
                self.core_mut().out.close_stream();
                self.finish(CloseReason::SeeOtherUri { uri });
            }
            StreamEvent::Closed => {
                if self.is_closing() {
                    self.finish(CloseReason::Normal);
                } else if self.core().events.is_empty() {
                    self.answer_peer_close();
                } else {
                    // The peer waits for what we still have to send
                    // (RFC 6120 §4.4): answers to the stanzas it sent
                    // before closing, bounces among them, come from the
                    // application handling the events still queued. Our
                    // close follows once it has taken them all.
                    self.core_mut().peer_closed = true;
                }
            }
        }
    }

    /// Answers the peer's close with ours and ends the session cleanly.
    #[doc(hidden)]
    fn answer_peer_close(&mut self) {
        self.core_mut().peer_closed = false;
        self.before_own_close();
        self.core_mut().out.close_stream();
        self.finish(CloseReason::Normal);
    }

    /// A stream error from the peer ends the session; a `see-other-host`
    /// redirect is kept in the reason.
    #[doc(hidden)]
    fn handle_peer_stream_error(&mut self, el: &Element) {
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
        self.core_mut().out.close_stream();
        self.finish(reason);
    }

    /// Sends a stream error and ends the session: the peer misbehaved.
    #[doc(hidden)]
    fn fail(&mut self, condition: StreamErrorCondition, text: &str) {
        let reason = CloseReason::ProtocolViolation {
            condition,
            text: text.to_owned(),
        };
        self.fail_with(StreamError::new(condition), reason);
    }

    /// Sends `error` and ends the session with `reason`.
    #[doc(hidden)]
    fn fail_with(&mut self, error: StreamError, reason: CloseReason) {
        if self.core().closed.is_some() {
            return;
        }
        self.before_own_close();
        let out = &mut self.core_mut().out;
        let _ = out.element(&error.to_element());
        out.close_stream();
        self.finish(reason);
    }

    /// Queues the shutdown and the final event.
    #[doc(hidden)]
    fn finish(&mut self, reason: CloseReason) {
        if self.core().closed.is_some() {
            return;
        }
        let core = self.core_mut();
        core.out.shutdown();
        core.timers.clear_all();
        core.closed = Some(reason.clone());
        self.flush_trace();
        self.hand_over(&reason);
        self.core_mut().events.push_back(Self::closed_event(reason));
    }

    /// Ok while open or after a clean close; the reason otherwise.
    #[doc(hidden)]
    fn check_open(&self) -> Result<(), Closed> {
        match &self.core().closed {
            Some(reason) if !reason.is_normal() => Err(Closed::new(reason.clone())),
            _ => Ok(()),
        }
    }

    /// Moves traced output into `Trace` events.
    #[doc(hidden)]
    fn flush_trace(&mut self) {
        let core = self.core_mut();
        if core.trace {
            for data in core.out.take_trace() {
                core.events
                    .push_back(Self::trace_event(Direction::Out, data));
            }
        }
    }
}

impl<R: Role> Endpoint for R {
    type Event = R::Event;

    fn handle_input(&mut self, now: Time, data: &[u8]) -> Result<(), Closed> {
        if self.core().closed.is_some() {
            return self.check_open();
        }
        let core = self.core_mut();
        if core.trace && !data.is_empty() {
            core.events
                .push_back(R::trace_event(Direction::In, data.to_vec()));
        }
        if !data.is_empty() {
            self.heard_from_peer(now);
            let core = self.core_mut();
            if !core.seen_input {
                core.seen_input = true;
                let websocket = core.reader.is_websocket();
                if !self.awaiting_tls() && !websocket && looks_like_tls_record(data) {
                    self.fail(
                        StreamErrorCondition::BadFormat,
                        "the peer speaks TLS from the first byte, where STARTTLS was expected \
                         (a direct TLS port mixed up with a STARTTLS one?)",
                    );
                    return self.check_open();
                }
            }
        }
        let websocket = self.core().reader.is_websocket();
        let mut input = if websocket {
            // Each message is a document of its own, where a declaration
            // is allowed; inside our reader's stream it would not be.
            crate::xml::without_xml_declaration(data)
        } else {
            data
        };
        // Nothing can follow the peer's close.
        while self.core().closed.is_none() && !self.core().peer_closed {
            if self.awaiting_tls() && !input.is_empty() {
                // Whitespace after `<starttls/>` in the same write (go-
                // sendxmpp adds a newline) carries nothing: it is dropped,
                // never parsed. Anything else that did not come through
                // TLS is an attacker's, never the peer's.
                if input
                    .iter()
                    .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
                {
                    break;
                }
                self.finish(CloseReason::StartTlsInjection);
                break;
            }
            let core = self.core_mut();
            if core.events.len() >= core.max_events {
                self.fail(
                    StreamErrorCondition::ResourceConstraint,
                    "the application is not draining events",
                );
                break;
            }
            match self.core_mut().reader.read(&mut input) {
                Ok(Some(event)) => self.handle_stream_event(now, event),
                Ok(None) => break,
                Err(e) => {
                    let text = e.to_string();
                    self.fail(e.condition(), &text);
                }
            }
        }
        if websocket && self.core().closed.is_none() && !self.core().reader.between_elements() {
            self.fail(
                StreamErrorCondition::NotWellFormed,
                "a WebSocket message ended inside an element (RFC 7395 §3.3.3: whole elements only)",
            );
        }
        self.flush_trace();
        self.check_open()
    }

    fn handle_eof(&mut self, _now: Time) {
        if self.core().peer_closed {
            self.answer_peer_close();
        } else if self.core().closed.is_none() {
            let reason = if self.is_closing() {
                CloseReason::Normal
            } else {
                CloseReason::ConnectionLost
            };
            self.finish(reason);
        }
    }

    fn handle_timeout(&mut self, now: Time) {
        while self.core().closed.is_none() {
            let Some(timer) = self.core_mut().timers.pop_expired(now) else {
                break;
            };
            self.handle_timer(now, timer);
        }
        self.flush_trace();
    }

    fn handle_tls_established(&mut self, now: Time, tls: TlsInfo) -> Result<(), Closed> {
        if self.core().closed.is_some() {
            return self.check_open();
        }
        if !self.awaiting_tls() {
            self.fail(
                StreamErrorCondition::UndefinedCondition,
                "unexpected TLS handshake",
            );
            return self.check_open();
        }
        let core = self.core_mut();
        core.tls = Some(tls);
        core.reader.reset();
        self.tls_established(now);
        self.flush_trace();
        self.check_open()
    }

    fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        self.core_mut().out.poll_transmit()
    }

    fn peek_transmit(&self) -> Option<Transmit<'_>> {
        self.core().out.peek_transmit()
    }

    fn consume_transmit(&mut self, n: usize) {
        self.core_mut().out.consume(n);
    }

    fn poll_event(&mut self) -> Option<R::Event> {
        let event = self.core_mut().events.pop_front();
        if event.is_none() && self.core().peer_closed {
            // Every event before the peer's close was taken (and acted
            // on): now our close, and the `Closed` event.
            self.answer_peer_close();
            self.flush_trace();
            return self.core_mut().events.pop_front();
        }
        event
    }

    fn poll_timeout(&self) -> Option<Time> {
        let core = self.core();
        if core.closed.is_some() {
            return None;
        }
        core.timers.next()
    }

    fn wants_read(&self) -> bool {
        let core = self.core();
        core.closed.is_some()
            || (!core.read_paused
                && core.events.len() < core.max_events / 2
                && core.out.pending() <= core.max_output)
    }

    fn is_closed(&self) -> bool {
        let core = self.core();
        core.closed.is_some() && core.events.is_empty() && core.out.is_drained()
    }
}

/// Whether `data` starts like a TLS record (content type 20 to 23, major
/// version 3), which can never begin an XML stream.
fn looks_like_tls_record(data: &[u8]) -> bool {
    matches!(data, [0x14..=0x17] | [0x14..=0x17, 0x03, ..])
}

/// The host a `see-other-host` stream error points to (RFC 6120
/// §4.9.3.19).
fn see_other_host(el: &Element) -> Option<String> {
    el.child("see-other-host", ns::STREAMS)
        .map(|c| c.text().trim().to_owned())
        .filter(|h| !h.is_empty())
}

/// 1.0, 1.1, 2.0: any stream version whose major number is at least 1
/// (RFC 6120 §4.7.5).
pub(crate) fn version_at_least_1(v: &str) -> bool {
    v.split_once('.')
        .and_then(|(major, _)| major.parse::<u32>().ok())
        .is_some_and(|major| major >= 1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions() {
        use super::version_at_least_1;
        assert!(version_at_least_1("1.0"));
        assert!(version_at_least_1("2.5"));
        assert!(!version_at_least_1("0.9"));
        assert!(!version_at_least_1("1"));
        assert!(!version_at_least_1("x.0"));
    }
}
