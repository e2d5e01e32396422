//! Extensible SASL (XEP-0388) on the server side, with Bind 2
//! (XEP-0386), inline stream management (XEP-0198) and FAST tokens
//! (XEP-0484).
//!
//! The mechanism runs as in RFC 6120 SASL (`auth`), framed in the SASL2
//! namespace. Once it succeeds, the requests that rode in
//! `<authenticate/>` are answered one by one, each through the same
//! question to the application as its classic form (`ResumeRequest`,
//! `BindRequest`) or a FAST one (`IssueFastToken`), and one `<success/>`
//! carries every result. No stream restart follows.

use super::negotiate::ServerPhase;
use super::{Server, ServerEvent, ServerTimer};
use crate::endpoint::{CloseReason, CommandError};
use crate::jid::{BareJid, FullJid, prepare_localpart};
use crate::negotiation::{
    Authenticate, Bind2Result, DEFAULT_MAX_SASL_DATA, FastToken, Sasl2ClientMessage, Sasl2Offer,
    Sasl2Success, sasl_tls_state,
};
use crate::sasl::{FailureCondition, Mechanism, ServerMechanism, ServerSuccess, fast};
use crate::sm::Nonza;
use crate::stanza::DefinedCondition;
use crate::stream::Role;
use crate::stream_error::StreamErrorCondition;
use crate::time::Time;
use crate::xml::{Element, ns};

/// A SASL2 login whose mechanism succeeded, while its inline requests
/// are answered.
pub(super) struct Sasl2Pending {
    /// What is left of the client's requests.
    request: Box<Authenticate>,
    /// The results so far.
    success: Sasl2Success,
    /// The question the application is asked now.
    asked: Asked,
    /// The FAST mechanism and secret this login used.
    used_token: Option<(Mechanism, String)>,
    /// A resource was bound or a session resumed: online after success.
    online: Option<(FullJid, bool)>,
    /// The latest time we were given.
    now: Time,
}

/// Which answer a finishing SASL2 login waits for.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Asked {
    Nothing,
    Resume { previd: String, h: u32 },
    Bind { jid: FullJid, sm: Option<Nonza> },
    Token,
}

/// A FAST login waiting for the account's tokens.
pub(super) struct FastAttempt {
    request: Box<Authenticate>,
    mechanism: Mechanism,
    username: String,
    proof: Vec<u8>,
}

impl Server {
    /// The SASL2 feature for this stream, if offered.
    pub(super) fn sasl2_offer(&self, mechanisms: &[String]) -> Option<Sasl2Offer> {
        if !self.config.sasl2 {
            return None;
        }
        let tls = sasl_tls_state(self.core.tls.as_ref());
        let fast = self.config.fast.then(|| {
            Mechanism::FAST
                .into_iter()
                .filter(|m| *m != Mechanism::HtSha256Uniq && fast::usable(*m, &tls))
                .map(|m| m.name().to_owned())
                .collect()
        });
        let sm = self.config.sm.is_some();
        Some(Sasl2Offer {
            mechanisms: mechanisms.to_vec(),
            bind2: Some(if sm {
                vec![ns::SM.to_owned()]
            } else {
                Vec::new()
            }),
            sm,
            fast,
        })
    }

    /// `<authenticate/>`: starts a SASL2 exchange.
    pub(super) fn start_sasl2(&mut self, el: &Element) {
        let auth = match Sasl2ClientMessage::from_element(el, DEFAULT_MAX_SASL_DATA) {
            Ok(Sasl2ClientMessage::Authenticate(auth)) => auth,
            Ok(_) => {
                self.unexpected(el);
                return;
            }
            Err(e) => {
                // The failure is SASL2's.
                self.sasl2_request = Some(Box::new(Authenticate::new("", None)));
                self.refuse_message(e.reply());
                return;
            }
        };
        let mechanism = Mechanism::from_name(&auth.mechanism);
        if let Some(mechanism) = mechanism.filter(|m| m.is_fast()) {
            self.start_fast(auth, mechanism);
            return;
        }
        let name = auth.mechanism.clone();
        let initial = auth.initial.clone();
        self.sasl2_request = Some(auth);
        self.begin_exchange(&name, initial.as_deref());
    }

    /// `<response/>` or `<abort/>` during a SASL2 exchange.
    pub(super) fn sasl2_message(&mut self, mut mechanism: Box<ServerMechanism>, el: &Element) {
        match Sasl2ClientMessage::from_element(el, DEFAULT_MAX_SASL_DATA) {
            Ok(Sasl2ClientMessage::Response(data)) => {
                let step = mechanism.respond(&data);
                self.sasl_step(mechanism, step);
            }
            Ok(Sasl2ClientMessage::Abort) => self.sasl_abort(&mut mechanism),
            Ok(Sasl2ClientMessage::Authenticate(_)) => {
                self.phase = ServerPhase::Sasl(mechanism);
                self.unexpected(el);
            }
            Err(e) => self.refuse_message(e.reply()),
        }
    }

    /// A token login: ask for the account's tokens.
    fn start_fast(&mut self, auth: Box<Authenticate>, mechanism: Mechanism) {
        self.sasl2_request = Some(Box::new(Authenticate::new("", None)));
        let tls = sasl_tls_state(self.core.tls.as_ref());
        let agent = auth.user_agent.as_ref().map(|a| a.id.clone());
        let (Some(user_agent), true, true) = (
            agent,
            self.config.fast && auth.fast.is_some(),
            fast::usable(mechanism, &tls),
        ) else {
            self.sasl_failure(FailureCondition::InvalidMechanism);
            return;
        };
        let parsed = auth
            .initial
            .as_deref()
            .ok_or(FailureCondition::MalformedRequest)
            .and_then(|i| fast::parse_initial(i).map_err(|e| e.condition()))
            .map(|(u, p)| (u.to_owned(), p.to_vec()));
        let (username, proof) = match parsed {
            Ok(parsed) => parsed,
            Err(condition) => {
                self.sasl_failure(condition);
                return;
            }
        };
        let Ok(account) = prepare_localpart(&username) else {
            self.sasl_failure(FailureCondition::NotAuthorized);
            return;
        };
        let username = account.into_owned();
        self.sasl_account = Some(username.clone());
        self.core.events.push_back(ServerEvent::NeedFastToken {
            username: username.clone(),
            user_agent,
            mechanism,
        });
        self.sasl2_request = None;
        self.phase = ServerPhase::FastAsked(Box::new(FastAttempt {
            request: auth,
            mechanism,
            username,
            proof,
        }));
    }

    /// Answers [`ServerEvent::NeedFastToken`]: the account's unexpired
    /// tokens for the user agent and mechanism, newest first. The client's
    /// proof is checked against each in constant time.
    ///
    /// # Errors
    /// [`CommandError::NotAsked`] if no token was asked for.
    pub fn provide_fast_tokens(
        &mut self,
        now: Time,
        tokens: &[String],
    ) -> Result<(), CommandError> {
        if self.core.closed.is_some() {
            return Err(CommandError::Closed);
        }
        let attempt = match std::mem::replace(&mut self.phase, ServerPhase::Closed) {
            ServerPhase::FastAsked(attempt) => attempt,
            other => {
                self.phase = other;
                return Err(CommandError::NotAsked);
            }
        };
        self.last_heard = now;
        let FastAttempt {
            request,
            mechanism,
            username,
            proof,
        } = *attempt;
        let tls = sasl_tls_state(self.core.tls.as_ref());
        let matched = tokens.iter().find_map(|t| {
            fast::check(mechanism, t, &tls, &proof)
                .ok()
                .map(|answer| (t.clone(), answer))
        });
        let domain = self.config.domain.domainpart();
        let user = BareJid::new(&format!("{username}@{domain}")).ok();
        match (matched, user) {
            (Some((secret, answer)), Some(user)) => {
                self.sasl_account = None;
                let success = ServerSuccess {
                    mechanism,
                    username: Some(username),
                    authzid: None,
                    additional_data: Some(answer),
                    channel_binding: fast::binding(mechanism),
                };
                let mut request = request;
                if request.fast.as_ref().is_some_and(|f| f.invalidate) {
                    if let Some(agent) = &request.user_agent {
                        self.core.events.push_back(ServerEvent::FastTokensRevoked {
                            account: user.clone(),
                            user_agent: agent.id.clone(),
                        });
                    }
                    // Nothing to renew on the way out.
                    request.request_token = None;
                    self.sasl2_authenticated(request, user, &success);
                } else {
                    // Renewed at every use: a token lives for one login
                    // past its successor's issue.
                    request.request_token = Some(mechanism.name().to_owned());
                    self.sasl2_authenticated_with(
                        request,
                        user,
                        &success,
                        Some((mechanism, secret)),
                    );
                }
            }
            _ => {
                self.sasl2_request = Some(request);
                self.sasl_failure(FailureCondition::NotAuthorized);
            }
        }
        self.flush_trace();
        Ok(())
    }

    /// The mechanism succeeded for `user`: answer the inline requests.
    pub(super) fn sasl2_authenticated(
        &mut self,
        request: Box<Authenticate>,
        user: BareJid,
        success: &ServerSuccess,
    ) {
        self.sasl2_authenticated_with(request, user, success, None);
    }

    fn sasl2_authenticated_with(
        &mut self,
        request: Box<Authenticate>,
        user: BareJid,
        success: &ServerSuccess,
        used_token: Option<(Mechanism, String)>,
    ) {
        self.core.events.push_back(ServerEvent::Authenticated {
            jid: user.clone(),
            mechanism: success.mechanism,
            channel_binding: success.channel_binding,
        });
        let pending = Sasl2Pending {
            success: Sasl2Success {
                additional_data: success.additional_data.clone(),
                authorization_identifier: user.as_str().to_owned(),
                ..Sasl2Success::default()
            },
            request,
            asked: Asked::Nothing,
            used_token,
            online: None,
            now: self.last_heard,
        };
        self.user = Some(user);
        self.sasl2_next(Box::new(pending));
    }

    /// Asks the next question the requests need, or sends `<success/>`.
    fn sasl2_next(&mut self, mut pending: Box<Sasl2Pending>) {
        if let Some(Nonza::Resume { h, previd }) = pending.request.resume.take() {
            if self.config.sm.is_some() {
                self.core.events.push_back(ServerEvent::ResumeRequest {
                    previd: previd.clone(),
                    h,
                });
                pending.asked = Asked::Resume { previd, h };
                self.phase = ServerPhase::Sasl2Finishing(pending);
                return;
            }
        }
        if let Some(bind) = pending.request.bind.take() {
            if pending.online.is_none() {
                let Some(jid) = self.bind2_jid(bind.tag.as_deref()) else {
                    return;
                };
                self.core.events.push_back(ServerEvent::BindRequest {
                    jid: jid.clone(),
                    requested: false,
                });
                let sm = bind.sm.filter(|_| self.config.sm.is_some());
                pending.asked = Asked::Bind { jid, sm };
                self.phase = ServerPhase::Sasl2Finishing(pending);
                return;
            }
        }
        if let Some(name) = pending.request.request_token.take() {
            let mechanism = Mechanism::from_name(&name).filter(|m| m.is_fast());
            let agent = pending.request.user_agent.as_ref().map(|a| a.id.clone());
            let tls = sasl_tls_state(self.core.tls.as_ref());
            if let (Some(mechanism), Some(user_agent), Some(account), true) =
                (mechanism, agent, self.user.clone(), self.config.fast)
            {
                if fast::usable(mechanism, &tls) {
                    let replacing = pending.used_token.as_ref().map(|(_, s)| s.clone());
                    self.core.events.push_back(ServerEvent::IssueFastToken {
                        account,
                        user_agent,
                        mechanism,
                        replacing,
                    });
                    pending.asked = Asked::Token;
                    self.phase = ServerPhase::Sasl2Finishing(pending);
                    return;
                }
            }
        }
        self.sasl2_finish(*pending);
    }

    /// The full JID Bind 2 asks for: the client's tag (when it makes a
    /// valid resource) and a random part, as Prosody does.
    fn bind2_jid(&mut self, tag: Option<&str>) -> Option<FullJid> {
        let user = self.user.clone()?;
        let Some(random) = self.core.random_id() else {
            self.finish(CloseReason::RandomUnavailable);
            return None;
        };
        let tagged = tag
            .filter(|t| !t.is_empty() && t.len() <= 64)
            .and_then(|t| user.with_resource(&format!("{t}~{random}")).ok());
        match tagged.or_else(|| user.with_resource(&random).ok()) {
            Some(jid) => Some(jid),
            None => {
                self.fail(StreamErrorCondition::InternalServerError, "no resource");
                None
            }
        }
    }

    /// Sends `<success/>` with every result, and goes on from there.
    fn sasl2_finish(&mut self, pending: Sasl2Pending) {
        let Sasl2Pending {
            mut success,
            online,
            now,
            ..
        } = pending;
        if let Some((jid, _)) = &online {
            success.authorization_identifier = jid.as_str().to_owned();
        }
        let element = crate::negotiation::Sasl2ServerMessage::Success(Box::new(success));
        let _ = self.core.out.element(&element.to_element());
        let Some((jid, resumed)) = online else {
            // Authenticated only: the classic bind follows, on this stream.
            self.send_features();
            return;
        };
        self.jid = Some(jid.clone());
        self.phase = ServerPhase::Online;
        self.core.timers.clear(ServerTimer::Negotiation);
        self.heard_from_client(now);
        if resumed {
            if let Some(live) = &mut self.core.sm {
                live.resend_unacked(&mut self.core.out);
            }
            self.core.events.push_back(ServerEvent::Resumed { jid });
        } else {
            self.core.events.push_back(ServerEvent::Online { jid });
        }
    }

    /// Takes the finishing login if it waits for `asked`'s kind of answer.
    fn take_sasl2(&mut self, kind: fn(&Asked) -> bool) -> Option<Box<Sasl2Pending>> {
        match std::mem::replace(&mut self.phase, ServerPhase::Closed) {
            ServerPhase::Sasl2Finishing(pending) if kind(&pending.asked) => Some(pending),
            other => {
                self.phase = other;
                None
            }
        }
    }

    /// `accept_bind` or `reject_bind` for a Bind 2 request.
    pub(super) fn sasl2_bind_answer(
        &mut self,
        now: Time,
        refused: Option<DefinedCondition>,
    ) -> Result<(), CommandError> {
        let mut pending = self
            .take_sasl2(|a| matches!(a, Asked::Bind { .. }))
            .ok_or(CommandError::NotAsked)?;
        let Asked::Bind { jid, sm } = std::mem::replace(&mut pending.asked, Asked::Nothing) else {
            return Err(CommandError::NotAsked);
        };
        pending.now = now;
        if refused.is_some() {
            pending.success.bound = Some(Bind2Result::Failed);
        } else {
            let sm = match sm {
                Some(Nonza::Enable { resume, max }) => self.config.sm.and_then(|config| {
                    let enabled = self.sm_turn_on(config, resume, max);
                    if enabled.is_none() {
                        self.phase = ServerPhase::Closed;
                    }
                    enabled
                }),
                _ => None,
            };
            if self.core.closed.is_some() {
                return Ok(());
            }
            pending.success.bound = Some(Bind2Result::Bound { sm, carbons: false });
            pending.online = Some((jid, false));
        }
        self.sasl2_next(pending);
        self.flush_trace();
        Ok(())
    }

    /// The resumption a SASL2 login asked for, if it is the one pending.
    pub(super) fn sasl2_resume_asked(&self) -> Option<(&str, u32)> {
        match &self.phase {
            ServerPhase::Sasl2Finishing(p) => match &p.asked {
                Asked::Resume { previd, h } => Some((previd, *h)),
                _ => None,
            },
            _ => None,
        }
    }

    /// The session was restored (`accept_resume`): `<resumed/>` goes into
    /// the success, and the unacknowledged stanzas after it.
    pub(super) fn sasl2_resumed(&mut self, now: Time, jid: FullJid, handled: u32) {
        let Some(mut pending) = self.take_sasl2(|a| matches!(a, Asked::Resume { .. })) else {
            return;
        };
        let Asked::Resume { previd, .. } = std::mem::replace(&mut pending.asked, Asked::Nothing)
        else {
            return;
        };
        pending.success.resumed = Some(Nonza::Resumed { h: handled, previd });
        pending.online = Some((jid, true));
        pending.now = now;
        self.sasl2_next(pending);
    }

    /// The resumption was refused: `<failed/>` goes into the success, and
    /// Bind 2, if asked, binds afresh.
    pub(super) fn sasl2_resume_refused(&mut self) -> Result<(), CommandError> {
        let mut pending = self
            .take_sasl2(|a| matches!(a, Asked::Resume { .. }))
            .ok_or(CommandError::NotAsked)?;
        pending.asked = Asked::Nothing;
        pending.success.resumed = Some(Nonza::Failed {
            h: None,
            condition: Some(DefinedCondition::ItemNotFound),
        });
        self.sasl2_next(pending);
        Ok(())
    }

    /// Answers [`ServerEvent::IssueFastToken`]: the token to give the
    /// client (`None`: none this time; the login succeeds without).
    ///
    /// # Errors
    /// [`CommandError::NotAsked`] if no token was asked for.
    pub fn issue_fast_token(
        &mut self,
        now: Time,
        token: Option<FastToken>,
    ) -> Result<(), CommandError> {
        if self.core.closed.is_some() {
            return Err(CommandError::Closed);
        }
        let mut pending = self
            .take_sasl2(|a| *a == Asked::Token)
            .ok_or(CommandError::NotAsked)?;
        pending.asked = Asked::Nothing;
        pending.now = now;
        pending.success.token = token;
        self.sasl2_next(pending);
        self.flush_trace();
        Ok(())
    }
}
