//! Stream negotiation, client side (RFC 6120 §4-§7): the header, STARTTLS,
//! SASL, the stream restart, resource binding and the legacy session. The
//! elements are read and built by [`crate::negotiation`]; this is the
//! order in which the client uses them.

use super::iqs::IqPurpose;
use super::{Client, ClientEvent, ClientTimer, ClientTlsPolicy};
use crate::endpoint::CloseReason;
use crate::negotiation::{
    BindRequest, BindResponse, DEFAULT_MAX_SASL_DATA, NegotiationError, SaslClientMessage,
    SaslServerMessage, ServerHeader, SessionResponse, SmVersion, StartTls, StreamFeatures,
    check_server_header, session_request,
};
use crate::sasl::{ClientMechanism, Nonce, SaslError};
use crate::stanza::Iq;
use crate::stream::Role;
use crate::stream_error::StreamErrorCondition;
use crate::time::Time;
use crate::xml::{Element, StreamHeader, ns};

/// Where the client's negotiation stands.
pub(super) enum ClientPhase {
    /// `Transmit::StartTls` is queued; waiting for the handshake. Any
    /// plaintext input now is an injection attack.
    AwaitTls,
    /// Our header is sent; waiting for the server's.
    AwaitHeader { authenticated: bool },
    /// Waiting for `<stream:features/>`. `foreign` is set when the
    /// server's header named another domain: only a stream error may
    /// follow.
    AwaitFeatures { authenticated: bool, foreign: bool },
    /// `<starttls/>` sent.
    AwaitProceed,
    /// A SASL exchange is running.
    Sasl(Box<ClientMechanism>),
    /// A SASL2 exchange (XEP-0388) is running.
    Sasl2(Box<super::sasl2::Sasl2Login>),
    /// The bind IQ is sent.
    AwaitBind { session: SessionNeed },
    /// The legacy session IQ is sent.
    AwaitSession,
    /// Bound; `<enable/>` (XEP-0198) is sent.
    AwaitEnabled,
    /// `<resume/>` (XEP-0198) is sent instead of binding.
    AwaitResumed { session: SessionNeed },
    /// Negotiated: stanzas flow.
    Online,
    /// We sent `</stream:stream>` and wait for the server's.
    Closing,
    /// Ended.
    Closed,
}

/// Whether the server asked for the RFC 3921 session IQ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SessionNeed {
    NotRequired,
    Required,
}

impl Client {
    /// Writes our stream header (initial, after TLS, after SASL).
    pub(super) fn open_stream(&mut self) {
        let authenticated = matches!(
            self.phase,
            ClientPhase::AwaitHeader {
                authenticated: true
            }
        );
        let mut header = StreamHeader::new(ns::CLIENT)
            .to(self.config.jid.domainpart())
            .lang(&self.config.lang);
        if authenticated || self.core.tls.is_some() {
            // Under TLS we say who we are (RFC 6120 §4.7.1); Prosody
            // offers FAST only to a stream that names its account.
            header = header.from(self.config.jid.bare_str());
        }
        if self.core.out.header(&header).is_err() {
            self.finish(CloseReason::ProtocolViolation {
                condition: StreamErrorCondition::ImproperAddressing,
                text: "our own JID cannot be written in a stream header".into(),
            });
            return;
        }
        self.phase = ClientPhase::AwaitHeader { authenticated };
    }

    pub(super) fn handle_header(&mut self, header: &StreamHeader) {
        if self.pipelined_header(header) {
            return;
        }
        let ClientPhase::AwaitHeader { authenticated } = self.phase else {
            self.fail(StreamErrorCondition::InvalidXml, "unexpected stream header");
            return;
        };
        match check_server_header(header, self.config.jid.domainpart()) {
            Ok(checked) => {
                self.phase = ClientPhase::AwaitFeatures {
                    authenticated,
                    foreign: checked == ServerHeader::ForeignDomain,
                };
            }
            Err(e) => self.fail(e.condition, e.text),
        }
    }

    pub(super) fn handle_negotiation_element(&mut self, now: Time, el: Element) {
        if self.pipelined_features(&el) {
            return;
        }
        let phase = std::mem::replace(&mut self.phase, ClientPhase::Closed);
        match phase {
            ClientPhase::AwaitFeatures { foreign: true, .. } => {
                self.phase = phase;
                self.fail(
                    StreamErrorCondition::InvalidFrom,
                    "the server's stream is from another domain than ours",
                );
            }
            ClientPhase::AwaitFeatures { authenticated, .. } if el.is("features", ns::STREAM) => {
                self.phase = ClientPhase::AwaitFeatures {
                    authenticated,
                    foreign: false,
                };
                // Parsing features never fails on content.
                let features = StreamFeatures::from_element(&el).unwrap_or_default();
                if authenticated {
                    self.bind(now, &features);
                } else {
                    self.secure_or_authenticate(&features);
                }
            }
            ClientPhase::AwaitProceed if el.ns() == ns::TLS => match StartTls::from_element(&el) {
                Ok(StartTls::Proceed) => {
                    self.core.out.start_tls();
                    self.phase = ClientPhase::AwaitTls;
                }
                Ok(StartTls::Failure) => self.finish(CloseReason::TlsUnavailable),
                _ => self.unexpected(&el),
            },
            ClientPhase::Sasl(mechanism) if el.ns() == ns::SASL => self.sasl_step(mechanism, &el),
            ClientPhase::Sasl2(login) if el.ns() == crate::negotiation::sasl2::SASL2 => {
                self.sasl2_step(now, login, &el)
            }
            phase @ (ClientPhase::AwaitBind { .. } | ClientPhase::AwaitSession)
                if el.is("iq", ns::CLIENT) =>
            {
                self.phase = phase;
                self.negotiation_iq(now, el);
            }
            ClientPhase::AwaitEnabled if el.ns() == ns::SM => self.sm_enable_answer(now, &el),
            ClientPhase::AwaitEnabled if el.ns() == ns::CLIENT => {
                // The server may talk before answering <enable/>; such
                // stanzas precede counting (XEP-0198 §4).
                self.phase = ClientPhase::AwaitEnabled;
                self.handle_stanza(now, el);
            }
            ClientPhase::AwaitResumed { session } if el.ns() == ns::SM => {
                self.sm_resume_answer(now, &el, session)
            }
            phase => {
                self.phase = phase;
                self.unexpected(&el);
            }
        }
    }

    fn unexpected(&mut self, el: &Element) {
        let text = format!("unexpected <{}/> during negotiation", el.name());
        self.fail(StreamErrorCondition::UnsupportedStanzaType, &text);
    }

    /// A negotiation element from the server that cannot be read.
    fn malformed(&mut self, e: &NegotiationError) {
        self.fail(e.stream_condition(), &e.to_string());
    }

    /// Before authentication: STARTTLS if we must and can, else SASL.
    fn secure_or_authenticate(&mut self, features: &StreamFeatures) {
        if self.core.tls.is_none() {
            match (self.config.tls, features.starttls.is_some()) {
                (ClientTlsPolicy::RequireStartTls | ClientTlsPolicy::InsecureOptional, true) => {
                    let _ = self.core.out.element(&StartTls::Request.to_element());
                    self.phase = ClientPhase::AwaitProceed;
                    return;
                }
                (ClientTlsPolicy::RequireStartTls, false) => {
                    self.core.out.close_stream();
                    self.finish(CloseReason::TlsUnavailable);
                    return;
                }
                _ if features.starttls_required() => {
                    // InsecureDisabled against a server that insists.
                    self.core.out.close_stream();
                    self.finish(CloseReason::TlsUnavailable);
                    return;
                }
                _ => {}
            }
        }
        self.start_sasl(features);
    }

    fn start_sasl(&mut self, features: &StreamFeatures) {
        if let Some((offer, binding_types)) = self.sasl2_login_offer(features) {
            self.start_sasl2(offer, binding_types, true);
            return;
        }
        let Some(offer) = &features.sasl else {
            self.fail(
                StreamErrorCondition::UnsupportedFeature,
                "the server offers no SASL mechanisms",
            );
            return;
        };
        let tls = crate::negotiation::sasl_tls_state(self.core.tls.as_ref());
        let Some(nonce) = self.sasl_nonce() else {
            return;
        };
        match ClientMechanism::start(
            &self.config.sasl,
            &self.config.credentials,
            offer,
            &tls,
            nonce,
        ) {
            Ok(mechanism) => {
                let auth = SaslClientMessage::Auth {
                    mechanism: mechanism.mechanism().name().to_owned(),
                    initial: Some(mechanism.initial_response().to_vec()),
                };
                let _ = self.core.out.element(&auth.to_element());
                self.phase = ClientPhase::Sasl(Box::new(mechanism));
            }
            Err(e) => {
                self.core.out.close_stream();
                self.finish(CloseReason::Sasl(e));
            }
        }
    }

    /// A fresh SCRAM nonce, or `None` (and the session ended) if the
    /// random source failed.
    pub(super) fn sasl_nonce(&mut self) -> Option<Nonce> {
        let mut nonce_bytes = [0u8; 18];
        let nonce = if self.core.fill_random(&mut nonce_bytes) {
            Nonce::from_random_bytes(&nonce_bytes)
        } else {
            None
        };
        if nonce.is_none() {
            self.finish(CloseReason::RandomUnavailable);
        }
        nonce
    }

    fn sasl_step(&mut self, mut mechanism: Box<ClientMechanism>, el: &Element) {
        let message = match SaslServerMessage::from_element(el, DEFAULT_MAX_SASL_DATA) {
            Ok(message) => message,
            Err(e) => {
                self.malformed(&e);
                return;
            }
        };
        match message {
            SaslServerMessage::Challenge(data) => match mechanism.challenge(&data) {
                Ok(response) => {
                    let response = SaslClientMessage::Response(response);
                    let _ = self.core.out.element(&response.to_element());
                    self.phase = ClientPhase::Sasl(mechanism);
                }
                Err(e) => self.abort_sasl(e),
            },
            SaslServerMessage::Success(data) => match mechanism.success(data.as_deref()) {
                Ok(_authenticated) => {
                    // RFC 6120 §6.4.6: restart the stream, no TLS in between.
                    self.core.reader.reset();
                    self.phase = ClientPhase::AwaitHeader {
                        authenticated: true,
                    };
                    self.open_stream();
                }
                Err(e) => self.abort_sasl(e),
            },
            SaslServerMessage::Failure(failure) => {
                self.core.out.close_stream();
                self.finish(CloseReason::AuthenticationFailed {
                    condition: failure.condition,
                    text: failure.text,
                });
            }
        }
    }

    /// Our side of SASL failed (bad server message, bad signature): abort
    /// and close, reporting why.
    fn abort_sasl(&mut self, error: SaslError) {
        let _ = self
            .core
            .out
            .element(&SaslClientMessage::Abort.to_element());
        self.core.out.close_stream();
        self.finish(CloseReason::Sasl(error));
    }

    /// After authentication: resume a session, or bind a resource (RFC
    /// 6120 §7).
    fn bind(&mut self, now: Time, features: &StreamFeatures) {
        if !features.bind {
            self.fail(
                StreamErrorCondition::UnsupportedFeature,
                "the server offers no resource binding",
            );
            return;
        }
        let session = if features.session_required() {
            SessionNeed::Required
        } else {
            SessionNeed::NotRequired
        };
        self.sm_offered = self.config.sm.is_some() && features.sm.contains(&SmVersion::V3);
        self.contacts.versioning = features.roster_versioning;
        if self.resume_from.is_some() {
            if self.sm_offered {
                self.sm_resume(now, session);
                return;
            }
            self.sm_resume_impossible();
        }
        self.send_bind(now, session);
    }

    /// Sends the bind IQ.
    pub(super) fn send_bind(&mut self, now: Time, session: SessionNeed) {
        let Some(id) = self.next_id() else {
            return;
        };
        let iq = BindRequest::new(self.config.resource.as_deref()).to_iq(&id);
        self.send_tracked(now, iq.into_element(), id, IqPurpose::Bind);
        self.phase = ClientPhase::AwaitBind { session };
    }

    /// Results of the bind and session IQs.
    fn negotiation_iq(&mut self, now: Time, el: Element) {
        let Some((purpose, response)) = self.take_response(el) else {
            // Not an answer to us; nothing else is allowed before we are bound.
            self.fail(
                StreamErrorCondition::NotAuthorized,
                "stanza before resource binding",
            );
            return;
        };
        match (purpose, &self.phase) {
            (IqPurpose::Bind, ClientPhase::AwaitBind { session }) => {
                let session = *session;
                self.bind_answer(now, &response, session);
            }
            (IqPurpose::Session, ClientPhase::AwaitSession) => {
                match SessionResponse::from_iq(&response) {
                    Ok(SessionResponse::Established) => self.go_online(now),
                    Ok(SessionResponse::Refused(error)) => {
                        self.core.out.close_stream();
                        self.finish(CloseReason::BindFailed {
                            condition: error.map(|e| e.condition.as_str().to_owned()),
                        });
                    }
                    Err(e) => self.malformed(&e),
                }
            }
            _ => self.fail(
                StreamErrorCondition::NotAuthorized,
                "stanza before resource binding",
            ),
        }
    }

    fn bind_answer(&mut self, now: Time, response: &Iq, session: SessionNeed) {
        match BindResponse::from_iq(response) {
            Ok(BindResponse::Bound(jid)) => {
                self.jid = Some(jid);
                if session == SessionNeed::Required {
                    let Some(id) = self.next_id() else {
                        return;
                    };
                    let iq = session_request(&id);
                    self.send_tracked(now, iq.into_element(), id, IqPurpose::Session);
                    self.phase = ClientPhase::AwaitSession;
                } else {
                    self.go_online(now);
                }
            }
            Ok(BindResponse::Refused(error)) => {
                self.core.out.close_stream();
                self.finish(CloseReason::BindFailed {
                    condition: error.map(|e| e.condition.as_str().to_owned()),
                });
            }
            Err(_) => self.fail(
                StreamErrorCondition::InvalidXml,
                "bind result without a valid full JID",
            ),
        }
    }

    fn go_online(&mut self, now: Time) {
        if self.sm_offered && self.core.sm.is_none() {
            self.sm_enable(now);
            return;
        }
        self.online(now, false);
    }

    /// Negotiation is over (or a session resumed): stanzas flow.
    pub(super) fn online(&mut self, now: Time, resumed: bool) {
        self.phase = ClientPhase::Online;
        self.core.timers.clear(ClientTimer::Negotiation);
        self.heard_from_server(now);
        self.sent_to_server(now);
        if let Some(jid) = self.jid.clone() {
            self.core.events.push_back(if resumed {
                ClientEvent::Resumed { jid }
            } else {
                ClientEvent::Online { jid }
            });
        }
    }
}
