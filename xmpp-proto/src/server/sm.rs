//! XEP-0198 on the server side: `<enable/>`, counting, acknowledgements,
//! `<resume/>` answered by the application, and handing the session over
//! when the connection breaks.

use std::time::Instant;

use super::negotiate::Phase;
use super::{CloseReason, CommandError, Event, Refused, Server, Timer};
use crate::sm::{Live, Nonza, SmSession};
use crate::stanza::DefinedCondition;
use crate::stream::random_id;
use crate::stream_error::StreamErrorCondition;
use crate::xml::{Element, ns};

/// How long a detached session is kept when the configuration does not
/// say (XEP-0198 leaves it to the server; Prosody and ejabberd use 600
/// and 300 seconds).
const DEFAULT_MAX: u32 = 300;

impl Server {
    /// Answers [`Event::ResumeRequest`]: `session` is the detached session
    /// the application kept (from [`Event::Detached`]). It must be this
    /// account's and carry the requested id; otherwise the client gets
    /// `<failed/>` with `item-not-found`, and the state comes back
    /// untouched in `Err` so that another user's session cannot be taken
    /// or destroyed.
    ///
    /// # Errors
    /// The state itself, when it was not used (not asked, closed, wrong
    /// account or id).
    pub fn accept_resume(
        &mut self,
        now: Instant,
        session: SmSession,
    ) -> Result<(), Box<SmSession>> {
        if self.closed.is_some() {
            return Err(Box::new(session));
        }
        let (previd, h) = match std::mem::replace(&mut self.phase, Phase::Closed) {
            Phase::ResumeAsked { previd, h } => (previd, h),
            other => {
                self.phase = other;
                return Err(Box::new(session));
            }
        };
        let ours = session.id.as_deref() == Some(previd.as_str())
            && self
                .user
                .as_ref()
                .is_some_and(|u| u.as_str() == session.jid.bare_str());
        if !ours {
            self.resume_failed();
            self.flush_trace();
            return Err(Box::new(session));
        }
        let config = self.config.sm.unwrap_or_default();
        let jid = session.jid.clone();
        let mut live = Live::resumed(&config, session);
        if let Err(e) = live.unacked.ack(h) {
            self.sm = Some(live);
            self.jid = Some(jid);
            let reason = CloseReason::ProtocolViolation {
                condition: StreamErrorCondition::UndefinedCondition,
                text: e.to_string(),
            };
            self.fail_with_error(e.stream_error(), reason);
            return Ok(());
        }
        let resumed = Nonza::Resumed {
            h: live.handled.value(),
            previd,
        };
        let _ = self.out.element(&resumed.to_element());
        live.resend_unacked(&mut self.out);
        self.sm = Some(live);
        self.jid = Some(jid.clone());
        self.phase = Phase::Online;
        self.timers.clear(Timer::Negotiation as usize);
        self.heard_from_client(now);
        self.events.push_back(Event::Resumed { jid });
        self.flush_trace();
        Ok(())
    }

    /// Answers [`Event::ResumeRequest`]: no such session (unknown,
    /// expired, another account's). The client gets `<failed/>` with
    /// `item-not-found` and may bind a new session.
    ///
    /// # Errors
    /// [`CommandError::NotAsked`] if no resumption was requested.
    pub fn reject_resume(&mut self, _now: Instant) -> Result<(), CommandError> {
        if self.closed.is_some() {
            return Err(CommandError::Closed);
        }
        match std::mem::replace(&mut self.phase, Phase::Closed) {
            Phase::ResumeAsked { .. } => {
                self.resume_failed();
                self.flush_trace();
                Ok(())
            }
            other => {
                self.phase = other;
                Err(CommandError::NotAsked)
            }
        }
    }

    /// Whether stream management is on for this session.
    pub fn sm_enabled(&self) -> bool {
        self.sm.is_some()
    }

    /// The resumption id of this session, when stream management with
    /// resumption is on.
    pub fn sm_id(&self) -> Option<&str> {
        self.sm.as_ref().and_then(|sm| sm.id.as_deref())
    }

    /// Ends this connection and hands its stream-managed session over, for
    /// a `<resume/>` that arrived on a new connection before this one was
    /// noticed dead (the usual order: clients see a broken connection
    /// first). The old connection is closed with `conflict`. `None` (and
    /// nothing done) if the session is not resumable.
    pub fn take_session(&mut self, now: Instant) -> Option<SmSession> {
        let (Some(_), Some(jid)) = (self.sm_id(), self.jid.clone()) else {
            return None;
        };
        let live = self.sm.take()?;
        self.close_with_error(
            now,
            StreamErrorCondition::Conflict,
            Some("the session was resumed on another connection"),
        );
        Some(live.into_session(jid))
    }

    /// How many stanzas sent to the client wait for its acknowledgement,
    /// when stream management is on.
    pub fn sm_unacked(&self) -> Option<usize> {
        self.sm.as_ref().map(|sm| sm.unacked.len())
    }

    /// `<resume/>` instead of a bind request.
    pub(super) fn handle_resume(&mut self, el: &Element) {
        match Nonza::from_element(el) {
            Ok(Nonza::Resume { h, previd }) => {
                self.events.push_back(Event::ResumeRequest {
                    previd: previd.clone(),
                    h,
                });
                self.phase = Phase::ResumeAsked { previd, h };
            }
            Ok(_) => {}
            Err(e) => self.fail(StreamErrorCondition::BadFormat, &e.to_string()),
        }
    }

    fn resume_failed(&mut self) {
        let failed = Nonza::Failed {
            h: None,
            condition: Some(DefinedCondition::ItemNotFound),
        };
        let _ = self.out.element(&failed.to_element());
        self.phase = Phase::AwaitBind;
    }

    /// A stream management element while online.
    pub(super) fn handle_sm_nonza(&mut self, el: &Element) {
        let Some(config) = self.config.sm else {
            self.fail(
                StreamErrorCondition::UnsupportedStanzaType,
                "stream management was not offered",
            );
            return;
        };
        let nonza = match Nonza::from_element(el) {
            Ok(n) => n,
            Err(e) => {
                self.fail(StreamErrorCondition::BadFormat, &e.to_string());
                return;
            }
        };
        match (nonza, &mut self.sm) {
            (Nonza::Enable { .. }, Some(_)) => {
                let failed = Nonza::Failed {
                    h: None,
                    condition: Some(DefinedCondition::UnexpectedRequest),
                };
                let _ = self.out.element(&failed.to_element());
            }
            (Nonza::Enable { resume, max }, None) => {
                let mut live = Live::new(&config);
                let resume = resume && config.resume;
                if resume {
                    let ours = config.max.unwrap_or(DEFAULT_MAX);
                    live.max = Some(max.map_or(ours, |m| m.min(ours)));
                    // 24 random bytes: the id is all a resumption needs
                    // besides the account's login.
                    let id = random_id(&mut *self.random) + &random_id(&mut *self.random);
                    live.id = Some(id);
                }
                let enabled = Nonza::Enabled {
                    id: live.id.clone(),
                    resume,
                    max: live.max,
                    location: None,
                };
                let _ = self.out.element(&enabled.to_element());
                self.sm = Some(live);
            }
            (Nonza::Request, Some(sm)) => {
                let h = sm.handled.value();
                let _ = self.out.element(&Nonza::Answer { h }.to_element());
            }
            (Nonza::Answer { h }, Some(sm)) => {
                if let Err(e) = sm.unacked.ack(h) {
                    let reason = CloseReason::ProtocolViolation {
                        condition: StreamErrorCondition::UndefinedCondition,
                        text: e.to_string(),
                    };
                    self.fail_with_error(e.stream_error(), reason);
                }
            }
            _ => self.fail(
                StreamErrorCondition::UnsupportedStanzaType,
                "unexpected stream management element",
            ),
        }
    }

    /// A stanza arrived from the client: count it.
    pub(super) fn count_inbound(&mut self, el: &Element) {
        if let Some(sm) = &mut self.sm {
            if el.ns() == ns::CLIENT {
                sm.handled.increment();
            }
        }
    }

    /// Writes a stanza, queueing it for acknowledgement when stream
    /// management is on. For a stanza the server sends by itself
    /// (`internal`), a full queue means the client stopped
    /// acknowledging: the connection is dropped as lost and the session
    /// detached.
    pub(super) fn write_stanza(
        &mut self,
        now: Instant,
        el: Element,
        internal: bool,
    ) -> Result<(), Box<Refused>> {
        let refuse = |error, stanza| Err(Box::new(Refused { error, stanza }));
        if self.sm.as_ref().is_some_and(|sm| sm.unacked.is_full()) {
            if internal {
                self.finish(CloseReason::ConnectionLost);
                return refuse(CommandError::Closed, el);
            }
            return refuse(CommandError::QueueFull, el);
        }
        if let Err(e) = self.out.element(&el) {
            return refuse(CommandError::InvalidStanza(e), el);
        }
        if let Some(sm) = &mut self.sm {
            let slot = Timer::SmRequest as usize;
            sm.stanza_written(el, now, &mut self.out, &mut self.timers, slot);
        }
        Ok(())
    }

    pub(super) fn sm_request_due(&mut self, now: Instant) {
        if let Some(sm) = &mut self.sm {
            sm.request_due(now, &mut self.out);
        }
    }

    /// The session ends: a broken resumable one is handed over to be kept,
    /// otherwise what the client never acknowledged is handed over to be
    /// bounced or stored.
    pub(super) fn hand_over_sm(&mut self, reason: &CloseReason) {
        let Some(mut live) = self.sm.take() else {
            return;
        };
        let broken = matches!(
            reason,
            CloseReason::ConnectionLost | CloseReason::PeerNotResponding
        );
        match (broken && live.id.is_some(), self.jid.clone()) {
            (true, Some(jid)) => {
                let session = live.into_session(jid);
                self.events.push_back(Event::Detached(Box::new(session)));
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
