//! XEP-0198 on the server side: `<enable/>`, counting, acknowledgements,
//! `<resume/>` answered by the application, and handing the session over
//! when the connection breaks.

use super::negotiate::ServerPhase;
use super::{Server, ServerEvent, ServerTimer};
use crate::endpoint::{CloseReason, CommandError};
use crate::sm::{Live, Nonza, SmSession};
use crate::stanza::DefinedCondition;
use crate::stream::Leftover;
use crate::stream::Role;
use crate::stream_error::StreamErrorCondition;
use crate::time::Time;
use crate::xml::Element;

/// How long a detached session is kept when the configuration does not
/// say (XEP-0198 leaves it to the server; Prosody and ejabberd use 600
/// and 300 seconds).
const DEFAULT_MAX: u32 = 300;

impl Server {
    /// Answers [`ServerEvent::ResumeRequest`]: `session` is the detached session
    /// the application kept (from [`ServerEvent::Detached`]). It must be this
    /// account's and carry the requested id; otherwise the client gets
    /// `<failed/>` with `item-not-found`, and the state comes back
    /// untouched in `Err` so that another user's session cannot be taken
    /// or destroyed.
    ///
    /// # Errors
    /// The state itself, when it was not used (not asked, closed, wrong
    /// account or id).
    pub fn accept_resume(&mut self, now: Time, session: SmSession) -> Result<(), Box<SmSession>> {
        if self.core.closed.is_some() {
            return Err(Box::new(session));
        }
        let inline = self
            .sasl2_resume_asked()
            .map(|(previd, h)| (previd.to_owned(), h));
        let inline_asked = inline.is_some();
        let (previd, h) = match inline {
            Some(asked) => asked,
            None => match std::mem::replace(&mut self.phase, ServerPhase::Closed) {
                ServerPhase::ResumeAsked { previd, h } => (previd, h),
                other => {
                    self.phase = other;
                    return Err(Box::new(session));
                }
            },
        };
        let ours = session.id.as_deref() == Some(previd.as_str())
            && self
                .user
                .as_ref()
                .is_some_and(|u| u.as_str() == session.jid.bare_str());
        if !ours {
            if inline_asked {
                let _ = self.sasl2_resume_refused();
            } else {
                self.resume_failed();
            }
            self.flush_trace();
            return Err(Box::new(session));
        }
        let config = self.config.sm.unwrap_or_default();
        let jid = session.jid.clone();
        let mut live = Live::resumed(&config, session);
        let acked = live.unacked.ack(h);
        self.core.sm = Some(live);
        self.jid = Some(jid.clone());
        if let Err(e) = acked {
            let error = e.stream_error();
            let reason = CloseReason::ProtocolViolation {
                condition: error.condition,
                text: e.to_string(),
            };
            self.fail_with(error, reason);
            return Ok(());
        }
        if inline_asked {
            let handled = self.core.sm.as_ref().map_or(0, |l| l.handled.value());
            self.sasl2_resumed(now, jid, handled);
            self.flush_trace();
            return Ok(());
        }
        if let Some(live) = &mut self.core.sm {
            let resumed = Nonza::Resumed {
                h: live.handled.value(),
                previd,
            };
            let _ = self.core.out.element(&resumed.to_element());
            live.resend_unacked(&mut self.core.out);
        }
        self.phase = ServerPhase::Online;
        self.core.timers.clear(ServerTimer::Negotiation);
        self.heard_from_client(now);
        self.core.events.push_back(ServerEvent::Resumed { jid });
        self.flush_trace();
        Ok(())
    }

    /// Answers [`ServerEvent::ResumeRequest`]: no such session (unknown,
    /// expired, another account's). The client gets `<failed/>` with
    /// `item-not-found` and may bind a new session.
    ///
    /// # Errors
    /// [`CommandError::NotAsked`] if no resumption was requested.
    pub fn reject_resume(&mut self, _now: Time) -> Result<(), CommandError> {
        if self.core.closed.is_some() {
            return Err(CommandError::Closed);
        }
        if self.sasl2_resume_asked().is_some() {
            let result = self.sasl2_resume_refused();
            self.flush_trace();
            return result;
        }
        match std::mem::replace(&mut self.phase, ServerPhase::Closed) {
            ServerPhase::ResumeAsked { .. } => {
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
        self.core.sm.is_some()
    }

    /// The resumption id of this session, when stream management with
    /// resumption is on.
    pub fn sm_id(&self) -> Option<&str> {
        self.core.sm.as_ref().and_then(|sm| sm.id.as_deref())
    }

    /// Ends this connection and hands its stream-managed session over, for
    /// a `<resume/>` that arrived on a new connection before this one was
    /// noticed dead (the usual order: clients see a broken connection
    /// first). The old connection is closed with `conflict`. `None` (and
    /// nothing done) if the session is not resumable.
    pub fn take_session(&mut self, now: Time) -> Option<SmSession> {
        let (Some(_), Some(jid)) = (self.sm_id(), self.jid.clone()) else {
            return None;
        };
        let live = self.core.sm.take()?;
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
        self.core.sm.as_ref().map(|sm| sm.unacked.len())
    }

    /// `<resume/>` instead of a bind request.
    pub(super) fn handle_resume(&mut self, el: &Element) {
        match Nonza::from_element(el) {
            Ok(Nonza::Resume { h, previd }) => {
                self.core.events.push_back(ServerEvent::ResumeRequest {
                    previd: previd.clone(),
                    h,
                });
                self.phase = ServerPhase::ResumeAsked { previd, h };
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
        let _ = self.core.out.element(&failed.to_element());
        self.phase = ServerPhase::AwaitBind;
    }

    /// A stream management element while online.
    pub(super) fn handle_sm_nonza(&mut self, now: Time, el: &Element) {
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
        match (nonza, self.core.sm.is_some()) {
            (Nonza::Enable { .. }, true) => {
                let failed = Nonza::Failed {
                    h: None,
                    condition: Some(DefinedCondition::UnexpectedRequest),
                };
                let _ = self.core.out.element(&failed.to_element());
            }
            (Nonza::Enable { resume, max }, false) => {
                if let Some(enabled) = self.sm_turn_on(config, resume, max) {
                    let _ = self.core.out.element(&enabled.to_element());
                }
            }
            (Nonza::Request, true) => crate::stream::answer_request(self, now),
            (Nonza::Answer { h }, true) => crate::stream::acknowledged(self, h),
            _ => self.fail(
                StreamErrorCondition::UnsupportedStanzaType,
                "unexpected stream management element",
            ),
        }
    }

    /// `<enable/>` (alone or inside Bind 2): on, with a resumption id if
    /// both sides want one. Returns the `<enabled/>` to send; `None` if
    /// the random source failed (the session is then closed).
    pub(super) fn sm_turn_on(
        &mut self,
        config: crate::sm::SmConfig,
        resume: bool,
        max: Option<u32>,
    ) -> Option<Nonza> {
        let mut live = Live::new(&config);
        let resume = resume && config.resume;
        if resume {
            let ours = config.max.unwrap_or(DEFAULT_MAX);
            live.max = Some(max.map_or(ours, |m| m.min(ours)));
            // 24 random bytes: the id is all a resumption needs besides
            // the account's login.
            let (Some(a), Some(b)) = (self.core.random_id(), self.core.random_id()) else {
                self.finish(CloseReason::RandomUnavailable);
                return None;
            };
            live.id = Some(a + &b);
        }
        let enabled = Nonza::Enabled {
            id: live.id.clone(),
            resume,
            max: live.max,
            location: None,
        };
        let id = live.id.clone();
        self.core.sm = Some(live);
        self.core.events.push_back(ServerEvent::SmEnabled { id });
        Some(enabled)
    }

    /// The session ends: a broken resumable one is handed over to be kept,
    /// otherwise what the client never acknowledged is handed over to be
    /// bounced or stored.
    pub(super) fn hand_over_sm(&mut self, reason: &CloseReason) {
        let Some(live) = self.core.sm.take() else {
            return;
        };
        let event = match crate::stream::leftover(live, reason, self.jid.clone()) {
            Some(Leftover::Resumable(session)) => ServerEvent::Detached(Box::new(session)),
            Some(Leftover::Undelivered(stanzas)) => ServerEvent::Undelivered { stanzas },
            None => return,
        };
        self.core.events.push_back(event);
    }
}
