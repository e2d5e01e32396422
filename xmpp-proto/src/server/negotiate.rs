//! Stream negotiation, server side (RFC 6120 §4-§7): the header answer,
//! features, STARTTLS, SASL and resource binding, with the commands that
//! answer the application's questions.

use std::time::Instant;

use super::{CommandError, Event, Password, Server, ServerTlsPolicy, Timer};
use crate::jid::{BareJid, FullJid, Jid};
use crate::sasl::{
    FailureCondition, Mechanism, Nonce, ScramHash, ServerMechanism, ServerStep, ServerSuccess,
    StoredCredentials,
};
use crate::stanza::{DefinedCondition, Iq, IqType, StanzaError};
use crate::stream::{
    SASL_CB, decode_sasl, encode_sasl, random_id, sasl_tls_state, version_at_least_1,
};
use crate::stream_error::StreamErrorCondition;
use crate::xml::{Element, StreamHeader, ns};

/// Where the negotiation stands.
pub(super) enum Phase {
    /// `Transmit::StartTls` is queued; waiting for the handshake. Any
    /// plaintext input now is an injection attack.
    AwaitTls,
    /// Waiting for the client's stream header.
    AwaitHeader,
    /// Features before authentication are sent: waiting for `<starttls/>`
    /// or `<auth/>`.
    Unauthenticated,
    /// A SASL exchange waits for the client's `<response/>`.
    Sasl(Box<ServerMechanism>),
    /// A SASL exchange waits for the application's answer.
    SaslAsked(Box<ServerMechanism>, Question),
    /// Features after authentication are sent: waiting for the bind IQ.
    AwaitBind,
    /// A `<resume/>` waits for the application's answer.
    ResumeAsked { previd: String, h: u32 },
    /// A bind request waits for the application's answer.
    BindAsked { request: Box<Iq>, jid: FullJid },
    /// Bound: stanzas flow.
    Online,
    /// We sent `</stream:stream>` and wait for the client's.
    Closing,
    /// Ended.
    Closed,
}

/// Which answer a SASL exchange waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Question {
    Credentials,
    Verdict,
}

impl Server {
    /// Answers [`Event::NeedScramCredentials`]: the user's stored
    /// credentials for the asked hash, or `None` if there is no such user
    /// (the client then gets `not-authorized`, as for a wrong password).
    ///
    /// # Errors
    /// [`CommandError::NotAsked`] if no credentials were asked for.
    pub fn provide_credentials(
        &mut self,
        _now: Instant,
        credentials: Option<StoredCredentials>,
    ) -> Result<(), CommandError> {
        let mut mechanism = self.take_question(Question::Credentials)?;
        let step = mechanism.scram_credentials(credentials);
        self.sasl_step(mechanism, step);
        self.flush_trace();
        Ok(())
    }

    /// Answers [`Event::Authenticate`]: the password (or TLS identity) is
    /// good.
    ///
    /// # Errors
    /// [`CommandError::NotAsked`] if no verdict was asked for.
    pub fn accept_auth(&mut self, _now: Instant) -> Result<(), CommandError> {
        let mut mechanism = self.take_question(Question::Verdict)?;
        let step = mechanism.verdict(true);
        self.sasl_step(mechanism, step);
        self.flush_trace();
        Ok(())
    }

    /// Answers [`Event::Authenticate`]: refused, with this condition
    /// (`not-authorized` for a wrong password, `account-disabled`, ...).
    ///
    /// # Errors
    /// [`CommandError::NotAsked`] if no verdict was asked for.
    pub fn reject_auth(
        &mut self,
        _now: Instant,
        condition: FailureCondition,
    ) -> Result<(), CommandError> {
        let mut mechanism = self.take_question(Question::Verdict)?;
        let _ = mechanism.verdict(false);
        self.sasl_failure(condition);
        self.flush_trace();
        Ok(())
    }

    /// Answers [`Event::BindRequest`]: the session gets the JID.
    ///
    /// # Errors
    /// [`CommandError::NotAsked`] if no bind request is pending.
    pub fn accept_bind(&mut self, now: Instant) -> Result<(), CommandError> {
        let (request, jid) = self.take_bind()?;
        let bind = Element::builder("bind", ns::BIND)
            .append(Element::builder("jid", ns::BIND).text(jid.as_str()));
        let _ = self.out.element(&request.make_result(Some(bind.build())));
        self.timers.clear(Timer::Negotiation as usize);
        self.jid = Some(jid.clone());
        self.phase = Phase::Online;
        self.heard_from_client(now);
        self.events.push_back(Event::Online { jid });
        self.flush_trace();
        Ok(())
    }

    /// Answers [`Event::BindRequest`]: refused with this stanza error
    /// condition (`conflict` when the resource is taken, `not-allowed`,
    /// `resource-constraint` when the account has too many sessions). The
    /// client may try again, up to `ServerConfig::with_max_bind_attempts`.
    ///
    /// # Errors
    /// [`CommandError::NotAsked`] if no bind request is pending.
    pub fn reject_bind(
        &mut self,
        _now: Instant,
        condition: DefinedCondition,
    ) -> Result<(), CommandError> {
        let (request, _) = self.take_bind()?;
        self.refuse_bind(&request, condition);
        self.flush_trace();
        Ok(())
    }

    pub(super) fn handle_header(&mut self, header: &StreamHeader) {
        if !matches!(self.phase, Phase::AwaitHeader) {
            self.fail(StreamErrorCondition::InvalidXml, "unexpected stream header");
            return;
        }
        // Our header goes first, even when we refuse the client's
        // (RFC 6120 §4.9.1.2).
        self.ensure_header();
        if header.default_ns != ns::CLIENT {
            self.fail(
                StreamErrorCondition::InvalidNamespace,
                "content namespace is not jabber:client",
            );
            return;
        }
        if !header.version.as_deref().is_some_and(version_at_least_1) {
            self.fail(
                StreamErrorCondition::UnsupportedVersion,
                "stream version below 1.0",
            );
            return;
        }
        if let Some(to) = &header.to {
            let ours = Jid::new(to).is_ok_and(|j| {
                j.localpart().is_none()
                    && j.resourcepart().is_none()
                    && j.domainpart() == self.config.domain.domainpart()
            });
            if !ours {
                self.fail(
                    StreamErrorCondition::HostUnknown,
                    "this server does not serve that domain",
                );
                return;
            }
        }
        if let (Some(from), Some(user)) = (&header.from, &self.user) {
            if Jid::new(from).map_or(true, |j| j.bare_str() != user.as_str()) {
                self.fail(
                    StreamErrorCondition::InvalidFrom,
                    "stream from another account than the authenticated one",
                );
                return;
            }
        }
        self.send_features();
    }

    fn send_features(&mut self) {
        let mut features = Element::builder("features", ns::STREAM);
        if self.user.is_some() {
            // RFC 6120 §7.2, and RFC 3921's session as optional (RFC 6121
            // Appendix E) for clients that still ask for it.
            features = features.append(Element::builder("bind", ns::BIND)).append(
                Element::builder("session", ns::SESSION)
                    .append(Element::builder("optional", ns::SESSION)),
            );
            if self.config.sm.is_some() {
                features = features.append(Element::builder("sm", ns::SM));
            }
            let _ = self.out.element(&features.build());
            self.phase = Phase::AwaitBind;
            return;
        }
        let offer_tls = self.tls.is_none()
            && matches!(
                self.config.tls,
                ServerTlsPolicy::RequireStartTls | ServerTlsPolicy::OptionalStartTls
            );
        if offer_tls {
            let mut starttls = Element::builder("starttls", ns::TLS);
            if self.config.tls == ServerTlsPolicy::RequireStartTls {
                starttls = starttls.append(Element::builder("required", ns::TLS));
            }
            features = features.append(starttls);
        }
        if !self.tls_missing() {
            let offer = self.config.sasl.offer(&sasl_tls_state(self.tls.as_ref()));
            let mut mechanisms = Element::builder("mechanisms", ns::SASL);
            for m in &offer.mechanisms {
                mechanisms = mechanisms.append(Element::builder("mechanism", ns::SASL).text(m));
            }
            features = features.append(mechanisms);
            if let Some(types) = &offer.channel_binding_types {
                let mut cb = Element::builder("sasl-channel-binding", SASL_CB);
                for t in types {
                    cb = cb.append(Element::builder("channel-binding", SASL_CB).attr("type", t));
                }
                features = features.append(cb);
            }
        }
        let _ = self.out.element(&features.build());
        self.phase = Phase::Unauthenticated;
    }

    /// TLS is required and not yet on.
    fn tls_missing(&self) -> bool {
        self.tls.is_none() && self.config.tls == ServerTlsPolicy::RequireStartTls
    }

    pub(super) fn handle_negotiation_element(&mut self, el: Element) {
        let phase = std::mem::replace(&mut self.phase, Phase::Closed);
        match phase {
            Phase::Unauthenticated if el.is("starttls", ns::TLS) => {
                if self.tls.is_none()
                    && matches!(
                        self.config.tls,
                        ServerTlsPolicy::RequireStartTls | ServerTlsPolicy::OptionalStartTls
                    )
                {
                    let _ = self
                        .out
                        .element(&Element::builder("proceed", ns::TLS).build());
                    self.out.start_tls();
                    self.phase = Phase::AwaitTls;
                } else {
                    // RFC 6120 §5.4.2.2: <failure/>, then close.
                    let _ = self
                        .out
                        .element(&Element::builder("failure", ns::TLS).build());
                    self.out.close_stream();
                    self.finish(super::CloseReason::StartTlsRefused);
                }
            }
            Phase::Unauthenticated if el.is("auth", ns::SASL) => {
                if self.tls_missing() {
                    // RFC 6120 §5.3.1: TLS is mandatory-to-negotiate here.
                    self.fail(
                        StreamErrorCondition::PolicyViolation,
                        "authentication attempted before STARTTLS",
                    );
                } else {
                    self.start_sasl(&el);
                }
            }
            Phase::Sasl(mut mechanism) if el.is("response", ns::SASL) => match decode_sasl(&el) {
                Ok(data) => {
                    let step = mechanism.respond(data.as_deref().unwrap_or_default());
                    self.sasl_step(mechanism, step);
                }
                Err(_) => self.sasl_failure(FailureCondition::IncorrectEncoding),
            },
            Phase::Sasl(mut mechanism) | Phase::SaslAsked(mut mechanism, _)
                if el.is("abort", ns::SASL) =>
            {
                let _ = mechanism.abort();
                self.sasl_failure(FailureCondition::Aborted);
            }
            Phase::AwaitBind if el.is("iq", ns::CLIENT) => self.handle_bind_iq(el),
            Phase::AwaitBind if el.is("resume", ns::SM) && self.config.sm.is_some() => {
                self.phase = Phase::AwaitBind;
                self.handle_resume(&el);
            }
            phase => {
                self.phase = phase;
                if crate::stanza::is_stanza_ns(el.ns())
                    && matches!(el.name(), "message" | "presence" | "iq")
                {
                    // RFC 6120 §6.1 / §7.1: nothing before authentication
                    // and binding are complete.
                    self.fail(
                        StreamErrorCondition::NotAuthorized,
                        "stanza before authentication and resource binding",
                    );
                } else {
                    let text = format!("unexpected <{}/> during negotiation", el.name());
                    self.fail(StreamErrorCondition::UnsupportedStanzaType, &text);
                }
            }
        }
    }

    fn start_sasl(&mut self, el: &Element) {
        let Some(name) = el.attr("mechanism") else {
            self.sasl_failure(FailureCondition::InvalidMechanism);
            return;
        };
        let data = match decode_sasl(el) {
            Ok(data) => data,
            Err(_) => {
                self.sasl_failure(FailureCondition::IncorrectEncoding);
                return;
            }
        };
        let mut nonce_bytes = [0u8; 18];
        self.random.fill(&mut nonce_bytes);
        let Some(nonce) = Nonce::from_random_bytes(&nonce_bytes) else {
            self.sasl_failure(FailureCondition::TemporaryAuthFailure);
            return;
        };
        let tls = sasl_tls_state(self.tls.as_ref());
        match ServerMechanism::start(&self.config.sasl, &tls, name, data.as_deref(), nonce) {
            Ok((mechanism, step)) => self.sasl_step(Box::new(mechanism), step),
            Err(e) => self.sasl_failure(e.condition()),
        }
    }

    fn sasl_step(&mut self, mechanism: Box<ServerMechanism>, step: ServerStep) {
        match step {
            ServerStep::Challenge(data) => {
                let el = Element::builder("challenge", ns::SASL)
                    .text(&encode_sasl(&data))
                    .build();
                let _ = self.out.element(&el);
                self.phase = Phase::Sasl(mechanism);
            }
            ServerStep::NeedScramCredentials { username, hash, .. } => {
                self.ask_credentials(mechanism, username, hash)
            }
            ServerStep::CheckPassword {
                username, password, ..
            } => {
                self.events.push_back(Event::Authenticate {
                    username: Some(username),
                    password: Some(Password(password)),
                    mechanism: mechanism.mechanism(),
                });
                self.phase = Phase::SaslAsked(mechanism, Question::Verdict);
            }
            ServerStep::CheckExternal { authzid } => {
                let username = authzid
                    .as_deref()
                    .and_then(|a| Jid::new(a).ok())
                    .and_then(|j| j.localpart().map(str::to_owned));
                self.events.push_back(Event::Authenticate {
                    username,
                    password: None,
                    mechanism: mechanism.mechanism(),
                });
                self.phase = Phase::SaslAsked(mechanism, Question::Verdict);
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
        self.events
            .push_back(Event::NeedScramCredentials { username, hash });
        self.phase = Phase::SaslAsked(mechanism, Question::Credentials);
    }

    fn sasl_success(&mut self, success: ServerSuccess) {
        let Some(user) = self.account_of(&success) else {
            self.sasl_failure(FailureCondition::InvalidAuthzid);
            return;
        };
        let mut el = Element::builder("success", ns::SASL);
        if let Some(data) = &success.additional_data {
            el = el.text(&encode_sasl(data));
        }
        let _ = self.out.element(&el.build());
        self.events.push_back(Event::Authenticated {
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
                let local = random_id(&mut *self.random).to_ascii_lowercase();
                BareJid::new(&format!("{local}@{domain}")).ok()?
            }
        };
        match &success.authzid {
            Some(_) if from_authzid().as_ref() != Some(&user) => None,
            _ => Some(user),
        }
    }

    fn sasl_failure(&mut self, condition: FailureCondition) {
        let el = Element::builder("failure", ns::SASL)
            .append(Element::builder(condition.element_name(), ns::SASL))
            .build();
        let _ = self.out.element(&el);
        self.auth_failures = self.auth_failures.saturating_add(1);
        self.phase = Phase::Unauthenticated;
        if self.auth_failures >= self.config.max_auth_attempts {
            self.fail(
                StreamErrorCondition::PolicyViolation,
                "too many failed authentication attempts",
            );
        }
    }

    fn take_question(&mut self, question: Question) -> Result<Box<ServerMechanism>, CommandError> {
        if self.closed.is_some() {
            return Err(CommandError::Closed);
        }
        match std::mem::replace(&mut self.phase, Phase::Closed) {
            Phase::SaslAsked(mechanism, asked) if asked == question => Ok(mechanism),
            other => {
                self.phase = other;
                Err(CommandError::NotAsked)
            }
        }
    }

    fn take_bind(&mut self) -> Result<(Box<Iq>, FullJid), CommandError> {
        if self.closed.is_some() {
            return Err(CommandError::Closed);
        }
        match std::mem::replace(&mut self.phase, Phase::Closed) {
            Phase::BindAsked { request, jid } => Ok((request, jid)),
            other => {
                self.phase = other;
                Err(CommandError::NotAsked)
            }
        }
    }

    /// The bind IQ (RFC 6120 §7.6).
    fn handle_bind_iq(&mut self, el: Element) {
        let iq = match Iq::from_element(el) {
            Ok(iq) if iq.kind() == IqType::Set => iq,
            _ => {
                self.fail(
                    StreamErrorCondition::NotAuthorized,
                    "stanza before resource binding",
                );
                return;
            }
        };
        let Some(bind) = iq.payload().filter(|p| p.is("bind", ns::BIND)) else {
            self.fail(
                StreamErrorCondition::NotAuthorized,
                "stanza before resource binding",
            );
            return;
        };
        let requested = bind
            .child("resource", ns::BIND)
            .map(|r| r.text().trim().to_owned())
            .filter(|r| !r.is_empty());
        let Some(user) = self.user.clone() else {
            return;
        };
        let (resource, asked) = match requested {
            Some(r) => (r, true),
            None => (random_id(&mut *self.random), false),
        };
        match user.with_resource(&resource) {
            Ok(jid) => {
                self.events.push_back(Event::BindRequest {
                    jid: jid.clone(),
                    requested: asked,
                });
                self.phase = Phase::BindAsked {
                    request: Box::new(iq),
                    jid,
                };
            }
            Err(_) => self.refuse_bind(&iq, DefinedCondition::BadRequest),
        }
    }

    fn refuse_bind(&mut self, request: &Iq, condition: DefinedCondition) {
        let _ = self
            .out
            .element(&request.make_error(&StanzaError::new(condition)));
        self.bind_failures = self.bind_failures.saturating_add(1);
        self.phase = Phase::AwaitBind;
        if self.bind_failures >= self.config.max_bind_attempts {
            self.fail(
                StreamErrorCondition::PolicyViolation,
                "too many refused resource bindings",
            );
        }
    }
}
