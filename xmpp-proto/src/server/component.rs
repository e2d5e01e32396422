//! The accepting side of XEP-0114 on a server made with
//! `ServerConfig::for_components`: the component's header names the
//! domain it wants, our header gives the stream id, its `<handshake/>`
//! is checked by the application (the hub knows the secrets), and once
//! accepted its stanzas must come from inside its domain.

use super::negotiate::ServerPhase;
use super::{Server, ServerEvent, ServerTimer};
use crate::endpoint::{CloseReason, CommandError};
use crate::jid::JidRef;
use crate::stanza::{DefinedCondition, InvalidStanza, Stanza, StanzaError, error_reply};
use crate::stream::Role;
use crate::stream_error::{StreamError, StreamErrorCondition};
use crate::time::Time;
use crate::xml::{Element, StreamHeader, ns};

impl Server {
    /// The component's stream header: it must be a component stream and
    /// name a domain.
    pub(super) fn component_header(&mut self, header: &StreamHeader) {
        let domain = header.to.as_deref().and_then(super::s2s_in::as_domain);
        self.requested_component = domain.clone();
        self.peer_header = Some(header.clone());
        self.ensure_header();
        if header.default_ns != ns::COMPONENT_ACCEPT {
            self.fail(
                StreamErrorCondition::InvalidNamespace,
                "this port takes components (jabber:component:accept)",
            );
            return;
        }
        match domain {
            Some(domain) => self.phase = ServerPhase::AwaitHandshake { domain },
            None => self.fail(
                StreamErrorCondition::ImproperAddressing,
                "a component names its domain in 'to'",
            ),
        }
    }

    /// What a component sends before it is accepted: its handshake, once.
    pub(super) fn component_negotiation(&mut self, el: Element) {
        let phase = std::mem::replace(&mut self.phase, ServerPhase::Closed);
        match phase {
            ServerPhase::AwaitHandshake { domain } if el.is("handshake", ns::COMPONENT_ACCEPT) => {
                let stream_id = self.stream_id.clone().unwrap_or_default();
                self.core.events.push_back(ServerEvent::ComponentHandshake {
                    domain: domain.clone(),
                    stream_id,
                    digest: el.text().trim().to_owned(),
                });
                self.phase = ServerPhase::HandshakeAsked { domain };
            }
            phase => {
                self.phase = phase;
                self.fail(
                    StreamErrorCondition::NotAuthorized,
                    "nothing before the handshake is accepted",
                );
            }
        }
    }

    /// Accepts the component's handshake (the answer to
    /// [`ServerEvent::ComponentHandshake`]): `<handshake/>`, and stanzas
    /// flow.
    ///
    /// # Errors
    /// [`CommandError::NotAsked`] if no handshake waits for an answer.
    pub fn accept_component(&mut self, now: Time) -> Result<(), CommandError> {
        let ServerPhase::HandshakeAsked { domain } = &self.phase else {
            return Err(CommandError::NotAsked);
        };
        let domain = domain.clone();
        let _ = self
            .core
            .out
            .element(&Element::builder("handshake", ns::COMPONENT_ACCEPT).build());
        // Trusted now: full-size stanzas.
        if let Some(header) = self.peer_header.take() {
            self.core
                .reader
                .continue_with(self.config.limits.clone(), &header);
        }
        self.core.timers.clear(ServerTimer::Negotiation);
        self.component = Some(domain.clone());
        self.phase = ServerPhase::Online;
        self.last_heard = now;
        self.core
            .events
            .push_back(ServerEvent::ComponentOnline { domain });
        self.flush_trace();
        Ok(())
    }

    /// Refuses the component's handshake with a stream error:
    /// `not-authorized` for a wrong secret or an unknown domain,
    /// `conflict` when the domain is served already.
    ///
    /// # Errors
    /// [`CommandError::NotAsked`] if no handshake waits for an answer.
    pub fn reject_component(
        &mut self,
        _now: Time,
        condition: StreamErrorCondition,
    ) -> Result<(), CommandError> {
        if !matches!(self.phase, ServerPhase::HandshakeAsked { .. }) {
            return Err(CommandError::NotAsked);
        }
        let reason = CloseReason::ProtocolViolation {
            condition,
            text: "the component's handshake was refused".into(),
        };
        self.fail_with(StreamError::new(condition), reason);
        Ok(())
    }

    /// A stanza from the accepted component: in its namespace, addressed,
    /// and from inside its domain, or the stream ends (`invalid-from`).
    pub(super) fn component_stanza(&mut self, now: Time, mut el: Element) {
        let Some(domain) = &self.component else {
            return;
        };
        if el.ns() != ns::COMPONENT_ACCEPT {
            let text = format!(
                "<{}/> in {:?} is not a component stanza",
                el.name(),
                el.ns()
            );
            self.fail(StreamErrorCondition::UnsupportedStanzaType, &text);
            return;
        }
        let inside = el
            .attr("from")
            .and_then(|from| JidRef::parse(from).ok())
            .is_some_and(|from| from.domainpart() == domain);
        if !inside {
            self.fail(
                StreamErrorCondition::InvalidFrom,
                "a component's stanzas come from addresses of its own domain",
            );
            return;
        }
        el.rename_ns(ns::COMPONENT_ACCEPT, ns::CLIENT);
        let stanza = match Stanza::from_element(el) {
            Ok(stanza) => stanza,
            Err(e) if e.reason == InvalidStanza::NotAStanza => {
                let text = format!("<{}/> is not a stanza", e.element.name());
                self.fail(StreamErrorCondition::UnsupportedStanzaType, &text);
                return;
            }
            Err(e) => {
                if e.element.attr("type") != Some("error") {
                    let error = StanzaError::new(DefinedCondition::BadRequest);
                    let reply = error_reply(e.element.as_ref(), &error);
                    self.write_internal(now, reply);
                }
                return;
            }
        };
        if stanza.to().is_none() && stanza.element().attr("type") != Some("error") {
            // A component has no account for an unaddressed stanza to
            // belong to.
            let error = StanzaError::new(DefinedCondition::BadRequest);
            let reply = error_reply(stanza.element().as_ref(), &error);
            self.write_internal(now, reply);
            return;
        }
        self.core.events.push_back(ServerEvent::Stanza(stanza));
    }

    /// A stanza in `jabber:client` terms as it goes on this stream: in
    /// the component namespace on a component stream.
    pub(super) fn on_our_stream(&self, mut el: Element) -> Element {
        if self.config.components {
            el.rename_ns(ns::CLIENT, ns::COMPONENT_ACCEPT);
        } else if self.config.s2s.is_some() {
            el.rename_ns(ns::CLIENT, ns::SERVER);
        }
        el
    }

    /// Writes an answer of our own (an error reply).
    pub(super) fn write_internal(&mut self, now: Time, el: Element) {
        let el = self.on_our_stream(el);
        let _ = crate::stream::write_stanza(self, now, el, true);
    }

    /// Our header on a component stream: no version, from the domain the
    /// component asked for.
    pub(super) fn component_stream_header(&self, id: Option<&str>) -> StreamHeader {
        let from = self
            .requested_component
            .as_deref()
            .unwrap_or(self.config.domain.domainpart());
        let mut header = StreamHeader::new(ns::COMPONENT_ACCEPT).from(from);
        header.version = None;
        if let Some(id) = id {
            header = header.id(id);
        }
        header
    }
}
