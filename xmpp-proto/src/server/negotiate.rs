//! Stream negotiation, server side (RFC 6120 §4-§7): the header answer,
//! the features of each stage, STARTTLS, and the dispatch of what the
//! client sends before it is bound. SASL is in `auth`, binding in `bind`;
//! the elements themselves are read and built by [`crate::negotiation`].

use super::config::S2sMode;
use super::{Server, ServerTlsPolicy};
use crate::endpoint::CloseReason;
use crate::jid::FullJid;
use crate::negotiation::sasl2::SASL2;
use crate::negotiation::{
    Requirement, SmVersion, StartTls, StreamFeatures, check_client_header, sasl_tls_state,
};
use crate::sasl::ServerMechanism;
use crate::stanza::Iq;
use crate::stream::Role;
use crate::stream_error::StreamErrorCondition;
use crate::time::Time;
use crate::xml::{Element, StreamHeader, ns};

/// Where the server's negotiation stands.
pub(super) enum ServerPhase {
    /// `Transmit::StartTls` is queued; waiting for the handshake. Any
    /// plaintext input now is an injection attack.
    AwaitTls,
    /// Waiting for the client's stream header.
    AwaitHeader,
    /// A FAST login waits for the account's tokens.
    FastAsked(Box<super::sasl2::FastAttempt>),
    /// A SASL2 login succeeded; its inline requests wait for answers.
    Sasl2Finishing(Box<super::sasl2::Sasl2Pending>),
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
    /// A component's header named `domain`: waiting for its handshake.
    AwaitHandshake { domain: String },
    /// The component's handshake waits for the application's answer.
    HandshakeAsked { domain: String },
    /// Our server-to-server link waits for the peer's features.
    S2sFeatures,
    /// Our link sent `<starttls/>`.
    S2sProceed,
    /// Our link sent SASL EXTERNAL.
    S2sExternal,
    /// Our link sent its `db:result`.
    S2sDialback,
    /// Bound (or the component accepted, or a server-to-server stream
    /// authenticated): stanzas flow.
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
    pub(super) fn handle_header(&mut self, header: &StreamHeader) {
        if !matches!(self.phase, ServerPhase::AwaitHeader) {
            self.fail(StreamErrorCondition::InvalidXml, "unexpected stream header");
            return;
        }
        if self.config.components {
            self.component_header(header);
            return;
        }
        match self.s2s_mode() {
            Some(S2sMode::Receiving(_)) => return self.s2s_in_header(header),
            Some(S2sMode::Initiating { .. }) => return self.s2s_out_header(header),
            None => {}
        }
        // Our header goes first, even when we refuse the client's
        // (RFC 6120 §4.9.1.2).
        self.ensure_header();
        let domain = self.config.domain.domainpart();
        match check_client_header(header, domain, self.user.as_ref()) {
            Ok(()) => self.send_features(),
            Err(e) => self.fail(e.condition, e.text),
        }
    }

    /// The features of the current stage, in RFC 6120 order.
    pub(super) fn send_features(&mut self) {
        let mut features = StreamFeatures::default();
        if self.user.is_some() {
            // RFC 6120 §7.2, and RFC 3921's session as optional (RFC 6121
            // Appendix E) for clients that still ask for it.
            features.bind = true;
            features.session = Some(Requirement::Optional);
            if self.config.sm.is_some() {
                features.sm = vec![SmVersion::V3];
            }
            // The hub keeps roster versions and pre-approvals (RFC 6121
            // §2.6, §3.4).
            features.roster_versioning = true;
            features.pre_approval = true;
            let _ = self.core.out.element(&features.to_element());
            self.phase = ServerPhase::AwaitBind;
            return;
        }
        if self.starttls_offered() {
            features.starttls = Some(if self.config.tls == ServerTlsPolicy::RequireStartTls {
                Requirement::Required
            } else {
                Requirement::Optional
            });
        }
        if !self.tls_missing() {
            // The SASL layer computes its XEP-0474 hash from this same offer.
            let offer = self
                .config
                .sasl
                .offer(&sasl_tls_state(self.core.tls.as_ref()));
            features.sasl2 = self.sasl2_offer(&offer.mechanisms);
            features.sasl = Some(offer);
        }
        let _ = self.core.out.element(&features.to_element());
        self.phase = ServerPhase::Unauthenticated;
    }

    /// STARTTLS is offered on this stream.
    fn starttls_offered(&self) -> bool {
        self.core.tls.is_none()
            && matches!(
                self.config.tls,
                ServerTlsPolicy::RequireStartTls | ServerTlsPolicy::OptionalStartTls
            )
    }

    /// TLS is required and not yet on.
    pub(super) fn tls_missing(&self) -> bool {
        self.core.tls.is_none() && self.config.tls == ServerTlsPolicy::RequireStartTls
    }

    pub(super) fn handle_negotiation_element(&mut self, now: Time, el: Element) {
        if self.config.components {
            self.component_negotiation(el);
            return;
        }
        match self.s2s_mode() {
            Some(S2sMode::Receiving(_)) => return self.s2s_in_negotiation(now, el),
            Some(S2sMode::Initiating { .. }) => return self.s2s_out_negotiation(now, el),
            None => {}
        }
        let phase = std::mem::replace(&mut self.phase, ServerPhase::Closed);
        match phase {
            ServerPhase::Unauthenticated if el.is("starttls", ns::TLS) => self.starttls(),
            ServerPhase::Unauthenticated if el.is("auth", ns::SASL) => {
                self.phase = ServerPhase::Unauthenticated;
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
            ServerPhase::Unauthenticated if el.is("authenticate", SASL2) && self.config.sasl2 => {
                self.phase = ServerPhase::Unauthenticated;
                if self.tls_missing() {
                    self.fail(
                        StreamErrorCondition::PolicyViolation,
                        "authentication attempted before STARTTLS",
                    );
                } else {
                    self.start_sasl2(&el);
                }
            }
            ServerPhase::Sasl(mechanism) if el.ns() == self.sasl_ns() => {
                self.sasl_message(mechanism, &el)
            }
            ServerPhase::SaslAsked(mut mechanism, _) if el.is("abort", self.sasl_ns()) => {
                self.sasl_abort(&mut mechanism)
            }
            ServerPhase::AwaitBind if el.is("iq", ns::CLIENT) => self.handle_bind_iq(el),
            ServerPhase::AwaitBind if el.is("resume", ns::SM) && self.config.sm.is_some() => {
                self.phase = ServerPhase::AwaitBind;
                self.handle_resume(&el);
            }
            phase => {
                self.phase = phase;
                self.unexpected(&el);
            }
        }
    }

    /// The namespace of the SASL exchange under way.
    fn sasl_ns(&self) -> &'static str {
        if self.sasl2_request.is_some() {
            SASL2
        } else {
            ns::SASL
        }
    }

    /// Something the client may not send now.
    pub(super) fn unexpected(&mut self, el: &Element) {
        if crate::stanza::is_stanza_ns(el.ns())
            && matches!(el.name(), "message" | "presence" | "iq")
        {
            // RFC 6120 §6.1 / §7.1: nothing before authentication and
            // binding are complete.
            self.fail(
                StreamErrorCondition::NotAuthorized,
                "stanza before authentication and resource binding",
            );
        } else {
            let text = format!("unexpected <{}/> during negotiation", el.name());
            self.fail(StreamErrorCondition::UnsupportedStanzaType, &text);
        }
    }

    /// `<starttls/>`: proceed, or refuse and close (RFC 6120 §5.4.2.2).
    pub(super) fn starttls(&mut self) {
        if self.starttls_offered() {
            let _ = self.core.out.element(&StartTls::Proceed.to_element());
            self.core.out.start_tls();
            self.phase = ServerPhase::AwaitTls;
        } else {
            let _ = self.core.out.element(&StartTls::Failure.to_element());
            self.core.out.close_stream();
            self.finish(CloseReason::StartTlsRefused);
        }
    }
}
