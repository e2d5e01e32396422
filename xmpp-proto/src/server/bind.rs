//! Resource binding, server side (RFC 6120 §7): the bind request, the
//! question it asks the application, and the commands that answer it.

use super::negotiate::ServerPhase;
use super::{Server, ServerEvent, ServerTimer};
use crate::endpoint::CommandError;
use crate::jid::FullJid;
use crate::negotiation::{BindRequest, ErrorReply, bind_result};
use crate::stanza::{DefinedCondition, Iq, StanzaError};
use crate::stream::Role;
use crate::stream_error::StreamErrorCondition;
use crate::time::Time;
use crate::xml::{Element, ns};

impl Server {
    /// Answers [`ServerEvent::BindRequest`]: the session gets the JID.
    ///
    /// # Errors
    /// [`CommandError::NotAsked`] if no bind request is pending.
    pub fn accept_bind(&mut self, now: Time) -> Result<(), CommandError> {
        if matches!(self.phase, ServerPhase::Sasl2Finishing(_)) && self.core.closed.is_none() {
            return self.sasl2_bind_answer(now, None);
        }
        let (request, jid) = self.take_bind()?;
        let _ = self.core.out.element(&bind_result(&request, &jid));
        self.core.timers.clear(ServerTimer::Negotiation);
        self.jid = Some(jid.clone());
        self.phase = ServerPhase::Online;
        self.heard_from_client(now);
        self.core.events.push_back(ServerEvent::Online { jid });
        self.flush_trace();
        Ok(())
    }

    /// Answers [`ServerEvent::BindRequest`]: refused with this stanza error
    /// condition (`conflict` when the resource is taken, `not-allowed`,
    /// `resource-constraint` when the account has too many sessions). The
    /// client may try again, up to `ServerConfig::with_max_bind_attempts`.
    ///
    /// # Errors
    /// [`CommandError::NotAsked`] if no bind request is pending.
    pub fn reject_bind(
        &mut self,
        _now: Time,
        condition: DefinedCondition,
    ) -> Result<(), CommandError> {
        if matches!(self.phase, ServerPhase::Sasl2Finishing(_)) && self.core.closed.is_none() {
            return self.sasl2_bind_answer(_now, Some(condition));
        }
        let (request, _) = self.take_bind()?;
        self.refuse_bind(&request, condition);
        self.flush_trace();
        Ok(())
    }

    fn take_bind(&mut self) -> Result<(Box<Iq>, FullJid), CommandError> {
        if self.core.closed.is_some() {
            return Err(CommandError::Closed);
        }
        match std::mem::replace(&mut self.phase, ServerPhase::Closed) {
            ServerPhase::BindAsked { request, jid } => Ok((request, jid)),
            other => {
                self.phase = other;
                Err(CommandError::NotAsked)
            }
        }
    }

    /// An IQ after authentication: it must be the bind request.
    pub(super) fn handle_bind_iq(&mut self, el: Element) {
        self.phase = ServerPhase::AwaitBind;
        let iq = match Iq::from_element(el) {
            Ok(iq)
                if iq.kind().is_request()
                    && iq.payload().is_some_and(|p| p.is("bind", ns::BIND)) =>
            {
                iq
            }
            // RFC 6120 §7.1: no other stanza before binding.
            _ => {
                self.fail(
                    StreamErrorCondition::NotAuthorized,
                    "stanza before resource binding",
                );
                return;
            }
        };
        let request = match BindRequest::from_iq(&iq) {
            Ok(request) => request,
            Err(e) => {
                let condition = match e.reply() {
                    ErrorReply::Stanza(condition) => condition,
                    _ => DefinedCondition::BadRequest,
                };
                self.refuse_bind(&iq, condition);
                return;
            }
        };
        let Some(user) = self.user.clone() else {
            return;
        };
        let (resource, requested) = match request.resource {
            Some(resource) => (resource, true),
            None => {
                let Some(generated) = self.core.random_id() else {
                    self.finish(crate::endpoint::CloseReason::RandomUnavailable);
                    return;
                };
                (generated, false)
            }
        };
        match user.with_resource(&resource) {
            Ok(jid) => {
                self.core.events.push_back(ServerEvent::BindRequest {
                    jid: jid.clone(),
                    requested,
                });
                self.phase = ServerPhase::BindAsked {
                    request: Box::new(iq),
                    jid,
                };
            }
            Err(_) => self.refuse_bind(&iq, DefinedCondition::BadRequest),
        }
    }

    fn refuse_bind(&mut self, request: &Iq, condition: DefinedCondition) {
        let _ = self
            .core
            .out
            .element(&request.make_error(&StanzaError::new(condition)));
        self.bind_failures = self.bind_failures.saturating_add(1);
        self.phase = ServerPhase::AwaitBind;
        if self.bind_failures >= self.config.max_bind_attempts {
            self.fail(
                StreamErrorCondition::PolicyViolation,
                "too many refused resource bindings",
            );
        }
    }
}
