//! XEP-0198 on the client side: enabling after bind, counting, answering
//! and requesting acknowledgements, resuming a handed-over session, and
//! handing the session over when the connection breaks.

use std::time::Instant;

use super::negotiate::{Phase, SessionNeed};
use super::{Client, CloseReason, Event, SendError, Timer};
use crate::sm::{Live, Nonza};
use crate::stream_error::StreamErrorCondition;
use crate::xml::{Element, ns};

impl Client {
    /// Whether XEP-0198 stream management is on (after `<enabled/>` or
    /// `<resumed/>`).
    pub fn sm_enabled(&self) -> bool {
        self.sm.is_some()
    }

    /// The resumption id, when stream management with resumption is on.
    pub fn sm_id(&self) -> Option<&str> {
        self.sm.as_ref().and_then(|sm| sm.id.as_deref())
    }

    /// How many sent stanzas wait for the server's acknowledgement, when
    /// stream management is on.
    pub fn sm_unacked(&self) -> Option<usize> {
        self.sm.as_ref().map(|sm| sm.unacked.len())
    }

    /// Bound, and the server offers stream management: ask for it.
    pub(super) fn sm_enable(&mut self, now: Instant) {
        let Some(config) = self.config.sm else {
            self.online(now, false);
            return;
        };
        let enable = Nonza::Enable {
            resume: config.resume,
            max: config.max,
        };
        let _ = self.out.element(&enable.to_element());
        self.phase = Phase::AwaitEnabled;
    }

    /// The answer to `<enable/>`.
    pub(super) fn sm_enable_answer(&mut self, now: Instant, el: &Element) {
        let Some(config) = self.config.sm else {
            return;
        };
        match Nonza::from_element(el) {
            Ok(Nonza::Enabled {
                id,
                resume,
                max,
                location,
            }) => {
                let mut live = Live::new(&config);
                live.id = id.filter(|id| resume && !id.is_empty());
                live.max = max;
                live.location = location;
                self.sm = Some(live);
                self.online(now, false);
            }
            // Refused: the session goes on without stream management.
            Ok(Nonza::Failed { .. }) => self.online(now, false),
            Ok(_) => self.fail(
                StreamErrorCondition::UnsupportedStanzaType,
                "unexpected stream management element before <enabled/>",
            ),
            Err(e) => self.fail(StreamErrorCondition::BadFormat, &e.to_string()),
        }
    }

    /// Authenticated with a session to resume: ask for it.
    pub(super) fn sm_resume(&mut self, now: Instant, session: SessionNeed) {
        let Some(previd) = self.resume_from.as_ref().and_then(|s| s.id.clone()) else {
            self.sm_resume_impossible();
            self.send_bind(now, session);
            return;
        };
        let h = self.resume_from.as_ref().map_or(0, |s| s.handled.value());
        let _ = self.out.element(&Nonza::Resume { h, previd }.to_element());
        self.phase = Phase::AwaitResumed { session };
    }

    /// The session to resume cannot be: what it held goes to the
    /// application.
    pub(super) fn sm_resume_impossible(&mut self) {
        if let Some(mut s) = self.resume_from.take() {
            let stanzas = s.unacked.take_all();
            if !stanzas.is_empty() {
                self.events.push_back(Event::Undelivered { stanzas });
            }
        }
    }

    /// The answer to `<resume/>`.
    pub(super) fn sm_resume_answer(&mut self, now: Instant, el: &Element, session: SessionNeed) {
        let config = self.config.sm.unwrap_or_default();
        match Nonza::from_element(el) {
            Ok(Nonza::Resumed { h, previd }) => {
                let Some(old) = self.resume_from.take() else {
                    return;
                };
                if old.id.as_deref() != Some(previd.as_str()) {
                    self.resume_from = Some(old);
                    self.fail(
                        StreamErrorCondition::UndefinedCondition,
                        "<resumed/> names another session",
                    );
                    return;
                }
                let jid = old.jid.clone();
                let mut live = Live::resumed(&config, old);
                if let Err(e) = live.unacked.ack(h) {
                    self.sm = Some(live);
                    self.fail_with(e.stream_error(), &e.to_string());
                    return;
                }
                live.resend_unacked(&mut self.out);
                self.sm = Some(live);
                self.jid = Some(jid);
                self.online(now, true);
            }
            Ok(Nonza::Failed { h, .. }) => {
                if let (Some(h), Some(old)) = (h, self.resume_from.as_mut()) {
                    if let Err(e) = old.unacked.ack(h) {
                        self.fail_with(e.stream_error(), &e.to_string());
                        return;
                    }
                }
                self.sm_resume_impossible();
                self.send_bind(now, session);
            }
            Ok(_) => self.fail(
                StreamErrorCondition::UnsupportedStanzaType,
                "unexpected stream management element before <resumed/>",
            ),
            Err(e) => self.fail(StreamErrorCondition::BadFormat, &e.to_string()),
        }
    }

    /// A stanza arrived from the server: count it.
    pub(super) fn count_inbound(&mut self, el: &Element) {
        if let Some(sm) = &mut self.sm {
            if el.ns() == ns::CLIENT {
                sm.handled.increment();
            }
        }
    }

    /// `<r/>` or `<a/>` while stream management is on.
    pub(super) fn handle_sm_nonza(&mut self, now: Instant, el: &Element) {
        let Some(sm) = &mut self.sm else {
            return;
        };
        match Nonza::from_element(el) {
            Ok(Nonza::Request) => {
                if !matches!(self.phase, Phase::Online) {
                    return;
                }
                let h = sm.handled.value();
                let _ = self.out.element(&Nonza::Answer { h }.to_element());
                self.sent_to_server(now);
            }
            Ok(Nonza::Answer { h }) => {
                if let Err(e) = sm.unacked.ack(h) {
                    self.fail_with(e.stream_error(), &e.to_string());
                }
            }
            Ok(_) => self.fail(
                StreamErrorCondition::UnsupportedStanzaType,
                "unexpected stream management element",
            ),
            Err(e) => self.fail(StreamErrorCondition::BadFormat, &e.to_string()),
        }
    }

    /// Writes a stanza, queueing it for acknowledgement when stream
    /// management is on. `internal` marks stanzas the client sends by
    /// itself: if the queue is full for one of those, the server stopped
    /// acknowledging and the connection is treated as dead.
    pub(super) fn write_stanza(
        &mut self,
        now: Instant,
        el: Element,
        internal: bool,
    ) -> Result<(), SendError> {
        if self.sm.as_ref().is_some_and(|sm| sm.unacked.is_full()) {
            if internal {
                self.out.close_stream();
                self.finish(CloseReason::PeerNotResponding);
                return Err(SendError::Closed);
            }
            return Err(SendError::QueueFull);
        }
        self.out.element(&el).map_err(SendError::InvalidStanza)?;
        if let Some(sm) = &mut self.sm {
            let slot = Timer::SmRequest as usize;
            sm.stanza_written(el, now, &mut self.out, &mut self.timers, slot);
        }
        self.sent_to_server(now);
        Ok(())
    }

    /// The request timer fired.
    pub(super) fn sm_request_due(&mut self, now: Instant) {
        if self
            .sm
            .as_mut()
            .is_some_and(|sm| sm.request_due(now, &mut self.out))
        {
            self.sent_to_server(now);
        }
    }

    /// Dead-peer detection with stream management: `<r/>` instead of a
    /// ping. Returns false if stream management is off.
    pub(super) fn sm_probe(&mut self) -> bool {
        let Some(sm) = &mut self.sm else {
            return false;
        };
        sm.request(&mut self.out);
        self.timers.clear(Timer::SmRequest as usize);
        true
    }

    /// The session ends: hand over what stream management holds, so no
    /// stanza vanishes silently.
    pub(super) fn hand_over_sm(&mut self, reason: &CloseReason) {
        let broken = matches!(
            reason,
            CloseReason::ConnectionLost | CloseReason::PeerNotResponding
        );
        if let Some(mut old) = self.resume_from.take() {
            if broken {
                self.events.push_back(Event::Resumable(Box::new(old)));
            } else {
                let stanzas = old.unacked.take_all();
                if !stanzas.is_empty() {
                    self.events.push_back(Event::Undelivered { stanzas });
                }
            }
        }
        let Some(mut live) = self.sm.take() else {
            return;
        };
        match (broken && live.id.is_some(), self.jid.clone()) {
            (true, Some(jid)) => {
                let session = live.into_session(jid);
                self.events.push_back(Event::Resumable(Box::new(session)));
            }
            _ => {
                let stanzas = live.unacked.take_all();
                if !stanzas.is_empty() {
                    self.events.push_back(Event::Undelivered { stanzas });
                }
            }
        }
    }
}
