//! XEP-0198 resumption across sessions: keeping a broken session, handing
//! it to the connection that resumes it (from the detached store, or
//! taken from a connection not yet noticed dead), and expiring it.
//!
//! The binding moves to the resuming connection when the state is handed
//! to it, so that stanzas routed meanwhile follow the resumption (a
//! connection applies its commands in order: the state first, then
//! them); if the resumption fails, the binding moves back and the state
//! is kept detached again.

use super::{Hub, ServerCommand};
use crate::router::SessionId;
use crate::sm::SmSession;
use crate::time::Time;

/// A resumption under way.
#[derive(Clone, Copy, Debug)]
pub(super) struct Resuming {
    /// The session being resumed.
    old: SessionId,
    /// Whether the state was handed to the resuming connection (rather
    /// than still awaited from the old, live one).
    accepting: bool,
}

impl Hub {
    /// `<resume previd/>` on `session`.
    pub(super) fn resume_request(&mut self, now: Time, session: SessionId, previd: String) {
        let Some(account) = self.sessions.get(&session).and_then(|s| s.account.clone()) else {
            self.command(session, ServerCommand::RejectResume);
            return;
        };
        if let Some((old, state)) = self.detached.take(&previd, &account, now) {
            self.accept(session, old, state);
            return;
        }
        // The client noticed the broken connection before we did: its
        // session is still live on another connection.
        let live = self
            .sessions
            .iter()
            .find(|(id, info)| {
                **id != session
                    && info.account.as_ref() == Some(&account)
                    && info.sm_id.as_deref() == Some(previd.as_str())
            })
            .map(|(id, _)| *id);
        match live {
            Some(old) => {
                self.resumptions.insert(
                    session,
                    Resuming {
                        old,
                        accepting: false,
                    },
                );
                self.command(
                    old,
                    ServerCommand::HandOver {
                        to: session,
                        account,
                    },
                );
            }
            None => self.command(session, ServerCommand::RejectResume),
        }
    }

    /// Hands `state` (of `old`) to `session`.
    fn accept(&mut self, session: SessionId, old: SessionId, state: SmSession) {
        self.router.reattach(old, session);
        self.move_im_flags(old, session);
        if let Some(info) = self.sessions.get_mut(&session) {
            info.sm_id = state.id.clone();
        }
        self.resumptions.insert(
            session,
            Resuming {
                old,
                accepting: true,
            },
        );
        self.command(session, ServerCommand::AcceptResume(Box::new(state)));
    }

    /// `session` reports `Resumed`: done.
    pub(super) fn resumed(&mut self, session: SessionId) {
        if self.resumptions.remove(&session).is_some() {
            self.stats.resumed += 1;
        }
    }

    /// `session` could not take the state it was given.
    pub(super) fn resume_failed(&mut self, now: Time, session: SessionId, state: SmSession) {
        let old = match self.resumptions.remove(&session) {
            Some(resuming) => {
                self.router.reattach(session, resuming.old);
                self.move_im_flags(session, resuming.old);
                resuming.old
            }
            // Its connection ended first and gave the binding back.
            None => self.returned.remove(&session).unwrap_or(session),
        };
        self.detached.restore(old, state, now);
    }

    /// The answer of `from` to a hand-over for `to`.
    pub(super) fn handed_over(
        &mut self,
        now: Time,
        from: SessionId,
        to: SessionId,
        state: Option<SmSession>,
    ) {
        if let Some(info) = self.sessions.get_mut(&from) {
            info.sm_id = None;
        }
        let waiting = self
            .resumptions
            .get(&to)
            .is_some_and(|r| r.old == from && !r.accepting);
        match (state, waiting) {
            (Some(state), true) => self.accept(to, from, state),
            (Some(state), false) => {
                // The resuming connection is gone: keep the state for the
                // next attempt.
                self.detach(now, from, state);
            }
            (None, true) => {
                self.resumptions.remove(&to);
                self.command(to, ServerCommand::RejectResume);
            }
            (None, false) => {}
        }
    }

    /// The connection of `session` ended; if it was resuming with a state
    /// in hand, the binding goes back to the session it resumed (the state
    /// itself comes back as `ResumeFailed`). Returns whether it did.
    pub(super) fn resumption_ended(&mut self, session: SessionId) -> bool {
        match self.resumptions.remove(&session) {
            Some(Resuming {
                old,
                accepting: true,
            }) => {
                self.router.reattach(session, old);
                self.move_im_flags(session, old);
                self.returned.insert(session, old);
                true
            }
            _ => false,
        }
    }

    /// `ServerEvent::Detached`: keep the state (the router keeps the
    /// binding); the store may expire another to make room.
    pub(super) fn detach(&mut self, now: Time, session: SessionId, state: SmSession) {
        self.stats.detached += 1;
        if let Some(info) = self.sessions.get_mut(&session) {
            info.sm_id = None;
        }
        if let Some((gone, state)) = self.detached.detach(session, state, now) {
            self.expire(now, gone, state);
        }
        self.release_held(now, session);
    }

    /// A detached session is over: unbind it and reroute, store or bounce
    /// what was queued for it.
    pub(super) fn expire(&mut self, now: Time, session: SessionId, mut state: SmSession) {
        self.stats.expired += 1;
        let mut out = std::mem::take(&mut self.routed);
        self.im_session_gone(session, &mut out);
        self.forget_im_flags(session);
        self.router
            .expire(session, state.unacked.take_all_elements(), &mut out);
        self.dispatch(now, &mut out, true);
        self.routed = out;
    }
}
