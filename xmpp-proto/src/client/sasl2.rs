//! Extensible SASL (XEP-0388) on the client side, with what rides inline:
//! Bind 2 (XEP-0386) and its stream management enable, resumption
//! (XEP-0198), and FAST tokens (XEP-0484), both requested and used.
//!
//! One `<authenticate/>` carries everything; the `<success/>` that
//! answers it says what happened to each request. There is no stream
//! restart. Where the server offers no Bind 2, or the application named
//! its own resource (Bind 2 lets the server choose), the server's next
//! `<stream:features/>` leads to the classic bind.

use super::negotiate::ClientPhase;
use super::{Client, ClientEvent, FastCredentials};
use crate::endpoint::CloseReason;
use crate::jid::FullJid;
use crate::negotiation::{
    Authenticate, Bind2Request, Bind2Result, DEFAULT_MAX_SASL_DATA, FastUse, Sasl2ClientMessage,
    Sasl2Offer, Sasl2ServerMessage, Sasl2Success, sasl_tls_state,
};
use crate::sasl::{ClientMechanism, FailureCondition, Mechanism, SaslError, ServerOffer, fast};
use crate::sm::Nonza;
use crate::stream::Role;
use crate::stream_error::StreamErrorCondition;
use crate::time::Time;
use crate::xml::{Element, ns};

/// A SASL2 exchange under way.
pub(super) struct Sasl2Login {
    mechanism: LoginMechanism,
    /// What the server offered, for a second attempt with the password
    /// after a refused token.
    offer: Sasl2Offer,
    /// The XEP-0440 channel binding types of the features (XEP-0474
    /// covers them).
    binding_types: Option<Vec<String>>,
    resume_requested: bool,
    /// The mechanism of the token we asked for, if we did.
    token_requested: Option<Mechanism>,
}

enum LoginMechanism {
    Sasl(Box<ClientMechanism>),
    Fast(FastCredentials),
}

/// Where a login sent ahead of the features stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Pipelined {
    /// Not sent ahead.
    No,
    /// `<authenticate/>` is out; the server's header is still to come.
    AwaitHeader,
    /// The header came; its features are still to come (and ignored).
    AwaitFeatures,
}

/// Bind 2's tag when the user agent names no software.
const DEFAULT_TAG: &str = "xmpp-proto";

impl Client {
    /// Whether to log in with SASL2 on these features.
    pub(super) fn sasl2_login_offer(
        &mut self,
        features: &crate::negotiation::StreamFeatures,
    ) -> Option<(Sasl2Offer, Option<Vec<String>>)> {
        self.seen_sasl2 = features.sasl2.clone();
        let offer = features.sasl2.clone().filter(|_| self.config.sasl2)?;
        let binding_types = features
            .sasl
            .as_ref()
            .and_then(|o| o.channel_binding_types.clone());
        Some((offer, binding_types))
    }

    /// Sends `<authenticate/>`: with the FAST token when `try_token` and
    /// the server takes it, else with the best password mechanism.
    pub(super) fn start_sasl2(
        &mut self,
        offer: Sasl2Offer,
        binding_types: Option<Vec<String>>,
        try_token: bool,
    ) {
        let tls = sasl_tls_state(self.core.tls.as_ref());
        let token = self
            .config
            .fast_token
            .clone()
            .filter(|_| try_token && self.config.user_agent.is_some())
            .filter(|t| {
                offered(offer.fast.as_deref(), t.mechanism) && fast::usable(t.mechanism, &tls)
            });
        let (mechanism, initial) = match token {
            Some(token) => {
                let username = self.config.credentials.username();
                match fast::initiator(token.mechanism, username, &token.token, &tls) {
                    Ok(initial) => (LoginMechanism::Fast(token), initial),
                    Err(e) => return self.refuse_to_start(e),
                }
            }
            None => {
                let Some(nonce) = self.sasl_nonce() else {
                    return;
                };
                let mut server_offer = ServerOffer::new(offer.mechanisms.iter());
                if let Some(types) = &binding_types {
                    server_offer = server_offer.with_channel_binding_types(types);
                }
                let config = &self.config;
                match ClientMechanism::start(
                    &config.sasl,
                    &config.credentials,
                    &server_offer,
                    &tls,
                    nonce,
                ) {
                    Ok(m) => {
                        let initial = m.initial_response().to_vec();
                        (LoginMechanism::Sasl(Box::new(m)), initial)
                    }
                    Err(e) => return self.refuse_to_start(e),
                }
            }
        };
        let name = match &mechanism {
            LoginMechanism::Sasl(m) => m.mechanism().name(),
            LoginMechanism::Fast(t) => t.mechanism.name(),
        };
        let mut auth = Authenticate::new(name, Some(initial));
        auth.user_agent = self.config.user_agent.clone();
        if let LoginMechanism::Fast(_) = mechanism {
            auth.fast = Some(FastUse {
                count: None,
                invalidate: self.config.fast_invalidate,
            });
        }
        auth.resume = self.inline_resume(&offer);
        auth.bind = self.inline_bind(&offer);
        // A token login is renewed by the server when due; ask only when
        // the password was used.
        let token_requested = match mechanism {
            LoginMechanism::Sasl(_) if self.config.request_fast_token => {
                let agent = self.config.user_agent.is_some();
                offer
                    .fast
                    .as_deref()
                    .and_then(|m| fast::select(m, &tls))
                    .filter(|_| agent)
            }
            _ => None,
        };
        auth.request_token = token_requested.map(|m| m.name().to_owned());
        let message = Sasl2ClientMessage::Authenticate(Box::new(auth));
        let _ = self.core.out.element(&message.to_element());
        self.phase = ClientPhase::Sasl2(Box::new(Sasl2Login {
            resume_requested: message_resumes(&message),
            mechanism,
            offer,
            binding_types,
            token_requested,
        }));
    }

    /// Right after our post-TLS header: with a known SASL2 offer and a FAST
    /// token it takes, `<authenticate/>` goes at once.
    pub(super) fn pipeline_login(&mut self) {
        let Some(offer) = self.config.known_sasl2.clone() else {
            return;
        };
        let tls = sasl_tls_state(self.core.tls.as_ref());
        let usable = self.config.sasl2
            && self.config.user_agent.is_some()
            && self.config.fast_token.as_ref().is_some_and(|t| {
                offered(offer.fast.as_deref(), t.mechanism) && fast::usable(t.mechanism, &tls)
            });
        if !usable || !matches!(self.phase, ClientPhase::AwaitHeader { .. }) {
            return;
        }
        self.start_sasl2(offer, None, true);
        if matches!(self.phase, ClientPhase::Sasl2(_)) {
            self.pipelined = Pipelined::AwaitHeader;
        }
    }

    /// The server's header while a login is sent ahead; `false` when no
    /// login is.
    pub(super) fn pipelined_header(&mut self, header: &crate::xml::StreamHeader) -> bool {
        if self.pipelined != Pipelined::AwaitHeader {
            return false;
        }
        match crate::negotiation::check_server_header(header, self.config.jid.domainpart()) {
            Ok(crate::negotiation::ServerHeader::ForeignDomain) => self.fail(
                StreamErrorCondition::InvalidFrom,
                "the server's stream is from another domain than ours",
            ),
            Ok(_) => self.pipelined = Pipelined::AwaitFeatures,
            Err(e) => self.fail(e.condition, e.text),
        }
        true
    }

    /// The features the login sent ahead did not wait for: read for the
    /// record, otherwise ignored. `false` for any other element.
    pub(super) fn pipelined_features(&mut self, el: &Element) -> bool {
        if self.pipelined != Pipelined::AwaitFeatures || !el.is("features", ns::STREAM) {
            return false;
        }
        self.pipelined = Pipelined::No;
        if let Ok(features) = crate::negotiation::StreamFeatures::from_element(el) {
            self.seen_sasl2 = features.sasl2;
        }
        true
    }

    /// `<resume/>` to send inline, if a session waits and the server
    /// resumes inline.
    fn inline_resume(&self, offer: &Sasl2Offer) -> Option<Nonza> {
        if !offer.sm {
            return None;
        }
        let session = self.resume_from.as_ref()?;
        Some(Nonza::Resume {
            h: session.handled.value(),
            previd: session.id.clone()?,
        })
    }

    /// Bind 2's request, if the server offers it and the application did
    /// not insist on a resource of its own.
    fn inline_bind(&self, offer: &Sasl2Offer) -> Option<Bind2Request> {
        let features = offer.bind2.as_ref()?;
        if self.config.resource.is_some() {
            return None;
        }
        let tag = self
            .config
            .user_agent
            .as_ref()
            .and_then(|a| a.software.clone())
            .unwrap_or_else(|| DEFAULT_TAG.to_owned());
        let sm = self
            .config
            .sm
            .filter(|_| features.iter().any(|f| f == ns::SM))
            .map(|c| Nonza::Enable {
                resume: c.resume,
                max: c.max,
            });
        Some(Bind2Request {
            tag: Some(tag),
            sm,
            carbons: false,
        })
    }

    /// A SASL2 element from the server during the exchange.
    pub(super) fn sasl2_step(&mut self, now: Time, mut login: Box<Sasl2Login>, el: &Element) {
        let message = match Sasl2ServerMessage::from_element(el, DEFAULT_MAX_SASL_DATA) {
            Ok(message) => message,
            Err(e) => {
                self.fail(e.stream_condition(), &e.to_string());
                return;
            }
        };
        match message {
            Sasl2ServerMessage::Challenge(data) => match &mut login.mechanism {
                LoginMechanism::Sasl(m) => match m.challenge(&data) {
                    Ok(response) => {
                        let response = Sasl2ClientMessage::Response(response);
                        let _ = self.core.out.element(&response.to_element());
                        self.phase = ClientPhase::Sasl2(login);
                    }
                    Err(e) => self.abort_sasl2(e),
                },
                LoginMechanism::Fast(_) => self.abort_sasl2(SaslError::UnexpectedMessage),
            },
            Sasl2ServerMessage::Success(success) => self.sasl2_success(now, *login, *success),
            Sasl2ServerMessage::Failure { condition, text } => {
                let token_refused = matches!(login.mechanism, LoginMechanism::Fast(_))
                    && matches!(
                        condition,
                        FailureCondition::NotAuthorized | FailureCondition::CredentialsExpired
                    );
                if token_refused {
                    self.config.fast_token = None;
                    self.core.events.push_back(ClientEvent::FastTokenRejected);
                    if self.config.credentials.has_password() {
                        self.start_sasl2(login.offer, login.binding_types, false);
                        return;
                    }
                }
                self.core.out.close_stream();
                self.finish(CloseReason::AuthenticationFailed { condition, text });
            }
            // Tasks (XEP-0388 §2.6.3) are not something this client does.
            Sasl2ServerMessage::Continue { .. } => self.abort_sasl2(SaslError::UnexpectedMessage),
        }
    }

    fn sasl2_success(&mut self, now: Time, login: Sasl2Login, success: Sasl2Success) {
        let tls = sasl_tls_state(self.core.tls.as_ref());
        let data = success.additional_data.as_deref();
        let (verified, token_mechanism) = match login.mechanism {
            LoginMechanism::Sasl(mut m) => (m.success(data).map(|_| ()), login.token_requested),
            LoginMechanism::Fast(t) => {
                let verified = match data {
                    Some(data) => fast::verify_responder(t.mechanism, &t.token, &tls, data),
                    None => Err(SaslError::ServerSignatureMissing),
                };
                (verified, Some(t.mechanism))
            }
        };
        if let Err(e) = verified {
            // The server did not prove itself: nothing it says is trusted.
            self.core.out.close_stream();
            self.finish(CloseReason::Sasl(e));
            return;
        }
        if let (Some(token), Some(mechanism)) = (success.token, token_mechanism) {
            self.core.events.push_back(ClientEvent::FastToken {
                credentials: FastCredentials {
                    mechanism,
                    token: token.token,
                },
                expiry: token.expiry,
            });
        }
        let config = self.config.sm.unwrap_or_default();
        if login.resume_requested {
            match success.resumed {
                Some(Nonza::Resumed { h, previd }) => {
                    self.sm_resumed(now, config, h, &previd);
                    return;
                }
                Some(Nonza::Failed { h, .. }) if !self.sm_resume_refused(h) => return,
                // No answer: the classic <resume/> may still work after
                // the features.
                _ => {}
            }
        }
        match success.bound {
            Some(Bind2Result::Bound { sm, .. }) => {
                let Ok(jid) = FullJid::new(&success.authorization_identifier) else {
                    self.fail(
                        StreamErrorCondition::InvalidXml,
                        "Bind 2 success without a full JID",
                    );
                    return;
                };
                // Bound afresh: a session still waiting to resume will not.
                self.sm_resume_impossible();
                self.jid = Some(jid);
                if let Some(enabled @ Nonza::Enabled { .. }) = sm {
                    self.sm_turned_on(config, enabled);
                }
                self.online(now, false);
            }
            Some(Bind2Result::Failed) => {
                self.core.out.close_stream();
                self.finish(CloseReason::BindFailed { condition: None });
            }
            None => {
                // Authenticated; the features for binding come on this
                // same stream (XEP-0388: no restart).
                self.phase = ClientPhase::AwaitFeatures {
                    authenticated: true,
                    foreign: false,
                };
            }
        }
    }

    /// Our side of a SASL2 exchange failed: abort and close.
    fn abort_sasl2(&mut self, error: SaslError) {
        let abort = Sasl2ClientMessage::Abort;
        let _ = self.core.out.element(&abort.to_element());
        self.core.out.close_stream();
        self.finish(CloseReason::Sasl(error));
    }

    /// No exchange can start (no usable mechanism, missing binding data).
    fn refuse_to_start(&mut self, error: SaslError) {
        self.core.out.close_stream();
        self.finish(CloseReason::Sasl(error));
    }
}

fn offered(mechanisms: Option<&[String]>, mechanism: Mechanism) -> bool {
    mechanisms.is_some_and(|m| m.iter().any(|n| n == mechanism.name()))
}

fn message_resumes(message: &Sasl2ClientMessage) -> bool {
    matches!(message, Sasl2ClientMessage::Authenticate(a) if a.resume.is_some())
}
