//! SASL, server side (RFC 6120 §6): the exchange, the questions it asks
//! the application (stored credentials, a password verdict) and the
//! commands that answer them, and the identity a success authenticates.

use super::negotiate::{Question, ServerPhase};
use super::{Password, Server, ServerEvent};
use crate::endpoint::CommandError;
use crate::jid::{BareJid, prepare_localpart};
use crate::negotiation::{
    DEFAULT_MAX_SASL_DATA, ErrorReply, Sasl2ServerMessage, SaslClientMessage, SaslServerMessage,
    sasl_tls_state,
};
use crate::sasl::{
    FailureCondition, Mechanism, Nonce, ScramHash, ServerMechanism, ServerStep, ServerSuccess,
    StoredCredentials,
};
use crate::stream::Role;
use crate::stream_error::StreamErrorCondition;
use crate::time::Time;
use crate::xml::Element;

impl Server {
    /// Answers [`ServerEvent::NeedScramCredentials`]: the user's stored
    /// credentials for the asked hash, or `None` if there is no such user
    /// (the client then gets `not-authorized`, as for a wrong password).
    ///
    /// # Errors
    /// [`CommandError::NotAsked`] if no credentials were asked for.
    pub fn provide_credentials(
        &mut self,
        _now: Time,
        credentials: Option<StoredCredentials>,
    ) -> Result<(), CommandError> {
        let mut mechanism = self.take_question(Question::Credentials)?;
        let step = mechanism.scram_credentials(credentials);
        self.sasl_step(mechanism, step);
        self.flush_trace();
        Ok(())
    }

    /// Answers [`ServerEvent::Authenticate`]: the password (or TLS
    /// identity) is good.
    ///
    /// # Errors
    /// [`CommandError::NotAsked`] if no verdict was asked for.
    pub fn accept_auth(&mut self, _now: Time) -> Result<(), CommandError> {
        let mut mechanism = self.take_question(Question::Verdict)?;
        let step = mechanism.verdict(true);
        self.sasl_step(mechanism, step);
        self.flush_trace();
        Ok(())
    }

    /// Answers [`ServerEvent::Authenticate`]: refused, with this condition
    /// (`not-authorized` for a wrong password, `account-disabled`, ...).
    ///
    /// # Errors
    /// [`CommandError::NotAsked`] if no verdict was asked for.
    pub fn reject_auth(
        &mut self,
        _now: Time,
        condition: FailureCondition,
    ) -> Result<(), CommandError> {
        let mut mechanism = self.take_question(Question::Verdict)?;
        let _ = mechanism.verdict(false);
        self.sasl_failure(condition);
        self.flush_trace();
        Ok(())
    }

    /// `<auth/>`: starts an exchange.
    pub(super) fn start_sasl(&mut self, el: &Element) {
        let (name, initial) = match SaslClientMessage::from_element(el, DEFAULT_MAX_SASL_DATA) {
            Ok(SaslClientMessage::Auth { mechanism, initial }) => (mechanism, initial),
            Ok(_) => {
                self.unexpected(el);
                return;
            }
            Err(e) => {
                self.refuse_message(e.reply());
                return;
            }
        };
        self.begin_exchange(&name, initial.as_deref());
    }

    /// Starts the mechanism `name` (for `<auth/>` or SASL2's
    /// `<authenticate/>`).
    pub(super) fn begin_exchange(&mut self, name: &str, initial: Option<&[u8]>) {
        let mut nonce_bytes = [0u8; 18];
        let nonce = if self.core.fill_random(&mut nonce_bytes) {
            Nonce::from_random_bytes(&nonce_bytes)
        } else {
            None
        };
        let Some(nonce) = nonce else {
            self.sasl_failure(FailureCondition::TemporaryAuthFailure);
            return;
        };
        let tls = sasl_tls_state(self.core.tls.as_ref());
        match ServerMechanism::start(&self.config.sasl, &tls, name, initial, nonce) {
            Ok((mechanism, step)) => self.sasl_step(Box::new(mechanism), step),
            Err(e) => self.sasl_failure(e.condition()),
        }
    }

    /// A SASL element during an exchange: `<response/>` or `<abort/>`.
    pub(super) fn sasl_message(&mut self, mut mechanism: Box<ServerMechanism>, el: &Element) {
        if self.sasl2_request.is_some() {
            self.sasl2_message(mechanism, el);
            return;
        }
        match SaslClientMessage::from_element(el, DEFAULT_MAX_SASL_DATA) {
            Ok(SaslClientMessage::Response(data)) => {
                let step = mechanism.respond(&data);
                self.sasl_step(mechanism, step);
            }
            Ok(SaslClientMessage::Abort) => self.sasl_abort(&mut mechanism),
            Ok(SaslClientMessage::Auth { .. }) => {
                self.phase = ServerPhase::Sasl(mechanism);
                self.unexpected(el);
            }
            Err(e) => self.refuse_message(e.reply()),
        }
    }

    /// `<abort/>` (RFC 6120 §6.4.4), also while the application is asked.
    pub(super) fn sasl_abort(&mut self, mechanism: &mut ServerMechanism) {
        let _ = mechanism.abort();
        self.sasl_failure(FailureCondition::Aborted);
    }

    /// A SASL element that cannot be read: a `<failure/>` the client may
    /// retry after, or the end of the stream.
    pub(super) fn refuse_message(&mut self, reply: ErrorReply) {
        match reply {
            ErrorReply::SaslFailure(condition) => self.sasl_failure(condition),
            ErrorReply::Stream(condition) => self.fail(condition, "unreadable SASL element"),
            ErrorReply::Stanza(_) => {
                self.fail(StreamErrorCondition::BadFormat, "unreadable SASL element")
            }
        }
    }

    pub(super) fn sasl_step(&mut self, mechanism: Box<ServerMechanism>, step: ServerStep) {
        match step {
            ServerStep::Challenge(data) => {
                let challenge = if self.sasl2_request.is_some() {
                    Sasl2ServerMessage::Challenge(data).to_element()
                } else {
                    SaslServerMessage::Challenge(data).to_element()
                };
                let _ = self.core.out.element(&challenge);
                self.phase = ServerPhase::Sasl(mechanism);
            }
            ServerStep::NeedScramCredentials { username, hash, .. } => {
                match prepare_localpart(&username) {
                    Ok(account) => self.ask_credentials(mechanism, account.into_owned(), hash),
                    // No account can have this name: answered as an
                    // unknown user is, so names cannot be probed.
                    Err(_) => {
                        let mut mechanism = mechanism;
                        let step = mechanism.scram_credentials(None);
                        self.sasl_step(mechanism, step);
                    }
                }
            }
            ServerStep::CheckPassword {
                username, password, ..
            } => {
                let Ok(account) = prepare_localpart(&username) else {
                    let mut mechanism = mechanism;
                    let _ = mechanism.verdict(false);
                    self.sasl_failure(FailureCondition::NotAuthorized);
                    return;
                };
                self.sasl_account = Some(account.clone().into_owned());
                self.core.events.push_back(ServerEvent::Authenticate {
                    username: Some(account.into_owned()),
                    password: Some(Password(password)),
                    mechanism: mechanism.mechanism(),
                });
                self.phase = ServerPhase::SaslAsked(mechanism, Question::Verdict);
            }
            ServerStep::CheckExternal { authzid } => {
                let username = authzid
                    .as_deref()
                    .and_then(|a| crate::jid::Jid::new(a).ok())
                    .and_then(|j| j.localpart().map(str::to_owned));
                self.core.events.push_back(ServerEvent::Authenticate {
                    username,
                    password: None,
                    mechanism: mechanism.mechanism(),
                });
                self.phase = ServerPhase::SaslAsked(mechanism, Question::Verdict);
            }
            ServerStep::Success(success) => self.sasl_success(success),
            ServerStep::Failure(e) => self.sasl_failure(e.condition()),
        }
    }

    fn ask_credentials(
        &mut self,
        mechanism: Box<ServerMechanism>,
        username: String,
        hash: ScramHash,
    ) {
        self.sasl_account = Some(username.clone());
        self.core
            .events
            .push_back(ServerEvent::NeedScramCredentials { username, hash });
        self.phase = ServerPhase::SaslAsked(mechanism, Question::Credentials);
    }

    fn sasl_success(&mut self, success: ServerSuccess) {
        self.sasl_account = None;
        let Some(user) = self.account_of(&success) else {
            self.sasl_failure(FailureCondition::InvalidAuthzid);
            return;
        };
        if let Some(request) = self.sasl2_request.take() {
            self.sasl2_authenticated(request, user, &success);
            return;
        }
        let answer = SaslServerMessage::Success(success.additional_data.clone());
        let _ = self.core.out.element(&answer.to_element());
        self.core.events.push_back(ServerEvent::Authenticated {
            jid: user.clone(),
            mechanism: success.mechanism,
            channel_binding: success.channel_binding,
        });
        self.user = Some(user);
        // RFC 6120 §6.4.6: the client restarts the stream.
        self.restart_stream();
    }

    /// The account a successful exchange authenticated, if the requested
    /// authorization identity (if any) is that account: this server lets
    /// nobody act for someone else.
    fn account_of(&mut self, success: &ServerSuccess) -> Option<BareJid> {
        let domain = self.config.domain.domainpart();
        let from_authzid = || {
            let jid = BareJid::new(success.authzid.as_deref()?).ok()?;
            (jid.localpart().is_some() && jid.domainpart() == domain).then_some(jid)
        };
        let user = match (&success.username, success.mechanism) {
            (Some(name), _) => BareJid::new(&format!("{name}@{domain}")).ok()?,
            (None, Mechanism::External) => return from_authzid(),
            (None, _) => {
                let local = self.core.random_id()?.to_ascii_lowercase();
                BareJid::new(&format!("{local}@{domain}")).ok()?
            }
        };
        match &success.authzid {
            Some(_) if from_authzid().as_ref() != Some(&user) => None,
            _ => Some(user),
        }
    }

    pub(super) fn sasl_failure(&mut self, condition: FailureCondition) {
        let failure = if self.sasl2_request.take().is_some() {
            let text = None;
            Sasl2ServerMessage::Failure { condition, text }.to_element()
        } else {
            SaslServerMessage::failure(condition).to_element()
        };
        let _ = self.core.out.element(&failure);
        self.auth_failures = self.auth_failures.saturating_add(1);
        let account = self.sasl_account.take();
        if condition == FailureCondition::NotAuthorized {
            self.core
                .events
                .push_back(ServerEvent::AuthenticationFailed { username: account });
        }
        self.phase = ServerPhase::Unauthenticated;
        if self.auth_failures >= self.config.max_auth_attempts {
            self.fail(
                StreamErrorCondition::PolicyViolation,
                "too many failed authentication attempts",
            );
        }
    }

    fn take_question(&mut self, question: Question) -> Result<Box<ServerMechanism>, CommandError> {
        if self.core.closed.is_some() {
            return Err(CommandError::Closed);
        }
        match std::mem::replace(&mut self.phase, ServerPhase::Closed) {
            ServerPhase::SaslAsked(mechanism, asked) if asked == question => Ok(mechanism),
            other => {
                self.phase = other;
                Err(CommandError::NotAsked)
            }
        }
    }
}
