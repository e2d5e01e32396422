//! XEP-0198 on the client side: enabling after bind, resuming a handed-over
//! session, probing with `<r/>`, and handing the session over when the
//! connection breaks. Counting and acknowledgements are the stream core's.

use super::negotiate::{ClientPhase, SessionNeed};
use super::{Client, ClientEvent, ClientTimer};
use crate::endpoint::CloseReason;
use crate::sm::{Live, Nonza};
use crate::stream::Leftover;
use crate::stream::Role;
use crate::stream_error::StreamErrorCondition;
use crate::time::Time;
use crate::xml::Element;

impl Client {
    /// Whether XEP-0198 stream management is on (after `<enabled/>` or
    /// `<resumed/>`).
    pub fn sm_enabled(&self) -> bool {
        self.core.sm.is_some()
    }

    /// The resumption id, when stream management with resumption is on.
    pub fn sm_id(&self) -> Option<&str> {
        self.core.sm.as_ref().and_then(|sm| sm.id.as_deref())
    }

    /// How many sent stanzas wait for the server's acknowledgement, when
    /// stream management is on.
    pub fn sm_unacked(&self) -> Option<usize> {
        self.core.sm.as_ref().map(|sm| sm.unacked.len())
    }

    /// Bound, and the server offers stream management: ask for it.
    pub(super) fn sm_enable(&mut self, now: Time) {
        let Some(config) = self.config.sm else {
            self.online(now, false);
            return;
        };
        let enable = Nonza::Enable {
            resume: config.resume,
            max: config.max,
        };
        let _ = self.core.out.element(&enable.to_element());
        self.phase = ClientPhase::AwaitEnabled;
    }

    /// The answer to `<enable/>`.
    pub(super) fn sm_enable_answer(&mut self, now: Time, el: &Element) {
        let Some(config) = self.config.sm else {
            return;
        };
        match Nonza::from_element(el) {
            Ok(enabled @ Nonza::Enabled { .. }) => {
                self.sm_turned_on(config, enabled);
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

    /// The server's `<enabled/>` (alone, or inside Bind 2's `<bound/>`):
    /// counting starts.
    pub(super) fn sm_turned_on(&mut self, config: crate::sm::SmConfig, enabled: Nonza) {
        let Nonza::Enabled {
            id,
            resume,
            max,
            location,
        } = enabled
        else {
            return;
        };
        let mut live = Live::new(&config);
        live.id = id.filter(|id| resume && !id.is_empty());
        live.max = max;
        live.location = location;
        self.core.sm = Some(live);
    }

    /// Authenticated with a session to resume: ask for it.
    pub(super) fn sm_resume(&mut self, now: Time, session: SessionNeed) {
        let Some(previd) = self.resume_from.as_ref().and_then(|s| s.id.clone()) else {
            self.sm_resume_impossible();
            self.send_bind(now, session);
            return;
        };
        let h = self.resume_from.as_ref().map_or(0, |s| s.handled.value());
        let _ = self
            .core
            .out
            .element(&Nonza::Resume { h, previd }.to_element());
        self.phase = ClientPhase::AwaitResumed { session };
    }

    /// The session to resume cannot be: what it held goes to the
    /// application.
    pub(super) fn sm_resume_impossible(&mut self) {
        if let Some(mut s) = self.resume_from.take() {
            let stanzas = s.unacked.take_all_elements();
            if !stanzas.is_empty() {
                self.core
                    .events
                    .push_back(ClientEvent::Undelivered { stanzas });
            }
        }
    }

    /// The answer to `<resume/>`.
    pub(super) fn sm_resume_answer(&mut self, now: Time, el: &Element, session: SessionNeed) {
        let config = self.config.sm.unwrap_or_default();
        match Nonza::from_element(el) {
            Ok(Nonza::Resumed { h, previd }) => self.sm_resumed(now, config, h, &previd),
            Ok(Nonza::Failed { h, .. }) => {
                if self.sm_resume_refused(h) {
                    self.send_bind(now, session);
                }
            }
            Ok(_) => self.fail(
                StreamErrorCondition::UnsupportedStanzaType,
                "unexpected stream management element before <resumed/>",
            ),
            Err(e) => self.fail(StreamErrorCondition::BadFormat, &e.to_string()),
        }
    }

    /// The server's `<resumed/>` (alone, or inside SASL2's `<success/>`):
    /// the old session is back, and what it lacks is sent again.
    pub(super) fn sm_resumed(
        &mut self,
        now: Time,
        config: crate::sm::SmConfig,
        h: u32,
        previd: &str,
    ) {
        let Some(old) = self.resume_from.take() else {
            self.fail(
                StreamErrorCondition::UndefinedCondition,
                "<resumed/> for a resumption we did not ask for",
            );
            return;
        };
        if old.id.as_deref() != Some(previd) {
            self.resume_from = Some(old);
            self.fail(
                StreamErrorCondition::UndefinedCondition,
                "<resumed/> names another session",
            );
            return;
        }
        let jid = old.jid.clone();
        let mut live = Live::resumed(&config, old);
        let acked = live.unacked.ack(h);
        self.core.sm = Some(live);
        if let Err(e) = acked {
            let error = e.stream_error();
            let reason = CloseReason::ProtocolViolation {
                condition: error.condition,
                text: e.to_string(),
            };
            self.fail_with(error, reason);
            return;
        }
        if let Some(live) = &mut self.core.sm {
            live.resend_unacked(&mut self.core.out);
        }
        self.jid = Some(jid);
        self.online(now, true);
    }

    /// The server's `<failed/>` to a resumption: what the old session
    /// held goes to the application, less what `h` says arrived. `false`
    /// if `h` was impossible (the stream is then closed).
    pub(super) fn sm_resume_refused(&mut self, h: Option<u32>) -> bool {
        if let (Some(h), Some(old)) = (h, self.resume_from.as_mut()) {
            if let Err(e) = old.unacked.ack(h) {
                let error = e.stream_error();
                let reason = CloseReason::ProtocolViolation {
                    condition: error.condition,
                    text: e.to_string(),
                };
                self.fail_with(error, reason);
                return false;
            }
        }
        self.sm_resume_impossible();
        true
    }

    /// `<r/>` or `<a/>` while stream management is on.
    pub(super) fn handle_sm_nonza(&mut self, now: Time, el: &Element) {
        match Nonza::from_element(el) {
            Ok(Nonza::Request) => {
                if matches!(self.phase, ClientPhase::Online) {
                    crate::stream::answer_request(self, now);
                }
            }
            Ok(Nonza::Answer { h }) => crate::stream::acknowledged(self, h),
            Ok(_) => self.fail(
                StreamErrorCondition::UnsupportedStanzaType,
                "unexpected stream management element",
            ),
            Err(e) => self.fail(StreamErrorCondition::BadFormat, &e.to_string()),
        }
    }

    /// Dead-peer detection with stream management: `<r/>` instead of a
    /// ping. Returns false if stream management is off.
    pub(super) fn sm_probe(&mut self) -> bool {
        let Some(sm) = &mut self.core.sm else {
            return false;
        };
        sm.request(&mut self.core.out);
        self.core.timers.clear(ClientTimer::SmRequest);
        true
    }

    /// The session ends: hand over what stream management holds, so no
    /// stanza vanishes silently.
    pub(super) fn hand_over_sm(&mut self, reason: &CloseReason) {
        if let Some(mut old) = self.resume_from.take() {
            // A resumption whose handshake timed out (a server slow to
            // accept or answer) leaves the session resumable as much as
            // a broken connection does: the server still holds it.
            let retryable = crate::stream::ended_broken(reason)
                || matches!(reason, CloseReason::NegotiationTimeout);
            if retryable {
                self.core
                    .events
                    .push_back(ClientEvent::Resumable(Box::new(old)));
            } else {
                let stanzas = old.unacked.take_all_elements();
                if !stanzas.is_empty() {
                    self.core
                        .events
                        .push_back(ClientEvent::Undelivered { stanzas });
                }
            }
        }
        let Some(live) = self.core.sm.take() else {
            return;
        };
        let event = match crate::stream::leftover(live, reason, self.jid.clone()) {
            Some(Leftover::Resumable(session)) => ClientEvent::Resumable(Box::new(session)),
            Some(Leftover::Undelivered(stanzas)) => ClientEvent::Undelivered { stanzas },
            None => return,
        };
        self.core.events.push_back(event);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::client::{Client, ClientConfig, ClientEvent};
    use crate::endpoint::{Endpoint, Transmit};
    use crate::jid::{FullJid, Jid};
    use crate::sm::{Handled, SmSession, Unacked};
    use crate::stanza::{Message, MessageType, WireStanza};
    use crate::time::Time;

    #[test]
    fn a_resumption_that_times_out_stays_resumable() {
        let jid = FullJid::new("juliet@example.com/balcony").unwrap();
        let mut unacked = Unacked::new(10);
        let msg = Message::builder(MessageType::Chat)
            .to("romeo@example.net")
            .body("still owed")
            .build();
        unacked
            .push(WireStanza::from_element(&msg.into_element()).unwrap())
            .unwrap();
        let session = SmSession::new(Some("s1".into()), jid, Handled::default(), unacked);
        let config = ClientConfig::new(Jid::new("juliet@example.com").unwrap(), "pw")
            .with_resumption(session);
        let mut client = Client::new(config, Time::ZERO);
        while let Some(Transmit::Data(data)) = client.poll_transmit() {
            let n = data.len();
            client.consume_transmit(n);
        }
        // The server never answers the new connection.
        let late = Time::ZERO + Duration::from_secs(600);
        client.handle_timeout(late);
        let events: Vec<ClientEvent> = std::iter::from_fn(|| client.poll_event()).collect();
        assert!(
            events
                .iter()
                .any(|e| matches!(e, ClientEvent::Resumable(s) if s.unacked.len() == 1)),
            "{events:?}"
        );
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, ClientEvent::Undelivered { .. })),
            "{events:?}"
        );
    }
}
