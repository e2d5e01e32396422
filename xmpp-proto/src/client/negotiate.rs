//! Stream negotiation, client side (RFC 6120 §4-§7): header checks,
//! STARTTLS, SASL, the stream restart, resource binding and the legacy
//! session.

use std::time::Instant;

use super::online::IqPurpose;
use super::{Client, CloseReason, Event, Timer, TlsPolicy};
use crate::jid::FullJid;
use crate::sasl::{ClientMechanism, FailureCondition, Nonce, ServerOffer};
use crate::stanza::{Iq, IqType};
use crate::stream::{SASL_CB, decode_sasl, encode_sasl, sasl_tls_state, version_at_least_1};
use crate::stream_error::StreamErrorCondition;
use crate::xml::{Element, ElementRef, StreamHeader, ns};

/// Where the negotiation stands.
pub(super) enum Phase {
    /// `Transmit::StartTls` is queued; waiting for the handshake. Any
    /// plaintext input now is an injection attack.
    AwaitTls,
    /// Our header is sent; waiting for the server's.
    AwaitHeader { authenticated: bool },
    /// Waiting for `<stream:features/>`.
    AwaitFeatures { authenticated: bool },
    /// `<starttls/>` sent.
    AwaitProceed,
    /// A SASL exchange is running.
    Sasl(Box<ClientMechanism>),
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
        let header = StreamHeader::new(ns::CLIENT)
            .to(self.config.jid.domainpart())
            .lang(&self.config.lang);
        let header = match &self.phase {
            // Once authenticated we may say who we are (RFC 6120 §4.7.1).
            Phase::AwaitHeader {
                authenticated: true,
            } => header.from(self.config.jid.bare_str()),
            _ => header,
        };
        let authenticated = matches!(
            self.phase,
            Phase::AwaitHeader {
                authenticated: true
            }
        );
        if self.out.header(&header).is_err() {
            self.finish(CloseReason::ProtocolViolation {
                condition: StreamErrorCondition::ImproperAddressing,
                text: "our own JID cannot be written in a stream header".into(),
            });
            return;
        }
        self.phase = Phase::AwaitHeader { authenticated };
    }

    pub(super) fn handle_header(&mut self, _now: Instant, header: &StreamHeader) {
        let Phase::AwaitHeader { authenticated } = self.phase else {
            self.fail(StreamErrorCondition::InvalidXml, "unexpected stream header");
            return;
        };
        if header.default_ns != ns::CLIENT {
            self.fail(
                StreamErrorCondition::InvalidNamespace,
                "content namespace is not jabber:client",
            );
            return;
        }
        match header.version.as_deref() {
            Some(v) if version_at_least_1(v) => {}
            _ => {
                self.fail(
                    StreamErrorCondition::UnsupportedVersion,
                    "stream version below 1.0",
                );
                return;
            }
        }
        if header.id.as_deref().is_none_or(str::is_empty) {
            self.fail(
                StreamErrorCondition::InvalidXml,
                "the server's stream header has no id",
            );
            return;
        }
        if let Some(from) = &header.from {
            if !from.eq_ignore_ascii_case(self.config.jid.domainpart()) {
                self.fail(
                    StreamErrorCondition::InvalidFrom,
                    "stream from another domain",
                );
                return;
            }
        }
        self.phase = Phase::AwaitFeatures { authenticated };
    }

    pub(super) fn handle_negotiation_element(&mut self, now: Instant, el: Element) {
        let phase = std::mem::replace(&mut self.phase, Phase::Closed);
        match phase {
            Phase::AwaitFeatures { authenticated } if el.is("features", ns::STREAM) => {
                self.phase = Phase::AwaitFeatures { authenticated };
                if authenticated {
                    self.bind(now, &el);
                } else {
                    self.secure_or_authenticate(now, &el);
                }
            }
            Phase::AwaitProceed if el.is("proceed", ns::TLS) => {
                self.out.start_tls();
                self.phase = Phase::AwaitTls;
            }
            Phase::AwaitProceed if el.is("failure", ns::TLS) => {
                self.finish(CloseReason::TlsUnavailable);
            }
            Phase::Sasl(mechanism) if el.ns() == ns::SASL => self.sasl_step(mechanism, &el),
            phase @ (Phase::AwaitBind { .. } | Phase::AwaitSession) if el.is("iq", ns::CLIENT) => {
                self.phase = phase;
                self.negotiation_iq(now, el);
            }
            Phase::AwaitEnabled if el.ns() == ns::SM => self.sm_enable_answer(now, &el),
            Phase::AwaitEnabled if el.ns() == ns::CLIENT => {
                // The server may talk before answering <enable/>; such
                // stanzas precede counting (XEP-0198 §4).
                self.phase = Phase::AwaitEnabled;
                self.handle_stanza(now, el);
            }
            Phase::AwaitResumed { session } if el.ns() == ns::SM => {
                self.sm_resume_answer(now, &el, session)
            }
            phase => {
                self.phase = phase;
                let text = format!("unexpected <{}/> during negotiation", el.name());
                self.fail(StreamErrorCondition::UnsupportedStanzaType, &text);
            }
        }
    }

    /// Before authentication: STARTTLS if we must and can, else SASL.
    fn secure_or_authenticate(&mut self, _now: Instant, features: &Element) {
        let starttls = features.child("starttls", ns::TLS);
        if self.tls.is_none() {
            match (self.config.tls, starttls) {
                (TlsPolicy::RequireStartTls | TlsPolicy::InsecureOptional, Some(_)) => {
                    let _ = self
                        .out
                        .element(&Element::builder("starttls", ns::TLS).build());
                    self.phase = Phase::AwaitProceed;
                    return;
                }
                (TlsPolicy::RequireStartTls, None) => {
                    self.out.close_stream();
                    self.finish(CloseReason::TlsUnavailable);
                    return;
                }
                (_, Some(st)) if st.child("required", ns::TLS).is_some() => {
                    // InsecureDisabled against a server that insists.
                    self.out.close_stream();
                    self.finish(CloseReason::TlsUnavailable);
                    return;
                }
                _ => {}
            }
        }
        self.start_sasl(features);
    }

    fn start_sasl(&mut self, features: &Element) {
        let Some(mechanisms) = features.child("mechanisms", ns::SASL) else {
            self.fail(
                StreamErrorCondition::UnsupportedFeature,
                "the server offers no SASL mechanisms",
            );
            return;
        };
        let offer = server_offer(mechanisms, features);
        let tls = sasl_tls_state(self.tls.as_ref());
        let mut nonce_bytes = [0u8; 18];
        self.random.fill(&mut nonce_bytes);
        let Some(nonce) = Nonce::from_random_bytes(&nonce_bytes) else {
            self.finish(CloseReason::NoRandomSource);
            return;
        };
        match ClientMechanism::start(
            &self.config.sasl,
            &self.config.credentials,
            &offer,
            &tls,
            nonce,
        ) {
            Ok(mechanism) => {
                let auth = Element::builder("auth", ns::SASL)
                    .attr("mechanism", mechanism.mechanism().name())
                    .text(&encode_sasl(mechanism.initial_response()))
                    .build();
                let _ = self.out.element(&auth);
                self.phase = Phase::Sasl(Box::new(mechanism));
            }
            Err(e) => {
                self.out.close_stream();
                self.finish(CloseReason::Sasl(e));
            }
        }
    }

    fn sasl_step(&mut self, mut mechanism: Box<ClientMechanism>, el: &Element) {
        let data = match decode_sasl(el) {
            Ok(data) => data,
            Err(text) => {
                self.fail(StreamErrorCondition::BadFormat, text);
                return;
            }
        };
        match el.name() {
            "challenge" => match mechanism.challenge(data.as_deref().unwrap_or_default()) {
                Ok(response) => {
                    let el = Element::builder("response", ns::SASL)
                        .text(&encode_sasl(&response))
                        .build();
                    let _ = self.out.element(&el);
                    self.phase = Phase::Sasl(mechanism);
                }
                Err(e) => self.abort_sasl(e),
            },
            "success" => match mechanism.success(data.as_deref()) {
                Ok(_authenticated) => {
                    // RFC 6120 §6.4.6: restart the stream, no TLS in between.
                    self.reader.reset();
                    self.phase = Phase::AwaitHeader {
                        authenticated: true,
                    };
                    self.open_stream();
                }
                Err(e) => self.abort_sasl(e),
            },
            "failure" => {
                let condition = el
                    .children()
                    .find(|c| c.ns() == ns::SASL && c.name() != "text")
                    .and_then(|c| FailureCondition::from_element_name(c.name()))
                    // RFC 6120 §6.5: an unknown condition is treated as not-authorized.
                    .unwrap_or(FailureCondition::NotAuthorized);
                let text = el.child("text", ns::SASL).map(|t| t.text().into_owned());
                self.out.close_stream();
                self.finish(CloseReason::AuthenticationFailed { condition, text });
            }
            other => {
                let text = format!("unexpected SASL element <{other}/>");
                self.fail(StreamErrorCondition::UnsupportedStanzaType, &text);
            }
        }
    }

    /// Our side of SASL failed (bad server message, bad signature): abort
    /// and close, reporting why.
    fn abort_sasl(&mut self, error: crate::sasl::SaslError) {
        let _ = self
            .out
            .element(&Element::builder("abort", ns::SASL).build());
        self.out.close_stream();
        self.finish(CloseReason::Sasl(error));
    }

    /// After authentication: bind a resource (RFC 6120 §7).
    fn bind(&mut self, now: Instant, features: &Element) {
        if features.child("bind", ns::BIND).is_none() {
            self.fail(
                StreamErrorCondition::UnsupportedFeature,
                "the server offers no resource binding",
            );
            return;
        }
        let session = match features.child("session", ns::SESSION) {
            Some(s) if s.child("optional", ns::SESSION).is_none() => SessionNeed::Required,
            _ => SessionNeed::NotRequired,
        };
        self.sm_offered = self.config.sm.is_some() && features.child("sm", ns::SM).is_some();
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
    pub(super) fn send_bind(&mut self, now: Instant, session: SessionNeed) {
        let mut bind = Element::builder("bind", ns::BIND);
        if let Some(resource) = &self.config.resource {
            bind = bind.append(Element::builder("resource", ns::BIND).text(resource));
        }
        let id = self.next_id();
        let iq = Iq::set(&id, bind.build());
        self.send_tracked(now, iq.into_element(), id, IqPurpose::Bind);
        self.phase = Phase::AwaitBind { session };
    }

    /// Results of the bind and session IQs.
    fn negotiation_iq(&mut self, now: Instant, el: Element) {
        let Some((purpose, response)) = self.take_response(el) else {
            // Not an answer to us; nothing else is allowed before we are bound.
            self.fail(
                StreamErrorCondition::NotAuthorized,
                "stanza before resource binding",
            );
            return;
        };
        match (purpose, &self.phase) {
            (IqPurpose::Bind, Phase::AwaitBind { session }) => {
                let session = *session;
                if response.kind() != IqType::Result {
                    let condition = response.error().map(|e| e.condition.as_str().to_owned());
                    self.out.close_stream();
                    self.finish(CloseReason::BindFailed { condition });
                    return;
                }
                let Some(jid) = bound_jid(response.element().as_ref()) else {
                    self.fail(
                        StreamErrorCondition::InvalidXml,
                        "bind result without a valid full JID",
                    );
                    return;
                };
                self.jid = Some(jid);
                if session == SessionNeed::Required {
                    let id = self.next_id();
                    let iq = Iq::set(&id, Element::builder("session", ns::SESSION).build());
                    self.send_tracked(now, iq.into_element(), id, IqPurpose::Session);
                    self.phase = Phase::AwaitSession;
                } else {
                    self.go_online(now);
                }
            }
            (IqPurpose::Session, Phase::AwaitSession) => {
                if response.kind() == IqType::Result {
                    self.go_online(now);
                } else {
                    let condition = response.error().map(|e| e.condition.as_str().to_owned());
                    self.out.close_stream();
                    self.finish(CloseReason::BindFailed { condition });
                }
            }
            _ => self.fail(
                StreamErrorCondition::NotAuthorized,
                "stanza before resource binding",
            ),
        }
    }

    fn go_online(&mut self, now: Instant) {
        if self.sm_offered && self.sm.is_none() {
            self.sm_enable(now);
            return;
        }
        self.online(now, false);
    }

    /// Negotiation is over (or a session resumed): stanzas flow.
    pub(super) fn online(&mut self, now: Instant, resumed: bool) {
        self.phase = Phase::Online;
        self.timers.clear(Timer::Negotiation as usize);
        self.heard_from_server(now);
        self.sent_to_server(now);
        if let Some(jid) = self.jid.clone() {
            self.events.push_back(if resumed {
                Event::Resumed { jid }
            } else {
                Event::Online { jid }
            });
        }
    }
}

/// The offer as received: mechanism names in order, XEP-0440 types if the
/// server listed them.
fn server_offer(mechanisms: ElementRef<'_>, features: &Element) -> ServerOffer {
    let names = mechanisms
        .children()
        .filter(|c| c.is("mechanism", ns::SASL))
        .map(|c| c.text().trim().to_owned());
    let offer = ServerOffer::new(names);
    match features.child("sasl-channel-binding", SASL_CB) {
        Some(cb) => offer.with_channel_binding_types(
            cb.children()
                .filter(|c| c.is("channel-binding", SASL_CB))
                .filter_map(|c| c.attr("type").map(str::to_owned)),
        ),
        None => offer,
    }
}

fn bound_jid(iq: ElementRef<'_>) -> Option<FullJid> {
    let jid = iq.child("bind", ns::BIND)?.child("jid", ns::BIND)?.text();
    FullJid::new(jid.trim()).ok()
}
