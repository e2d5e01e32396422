//! The bound session: stamping and handing over the client's stanzas,
//! answering the legacy session IQ, and sending stanzas to the client.

use std::fmt;

use super::negotiate::ServerPhase;
use super::{Server, ServerEvent};
use crate::endpoint::CommandError;
use crate::jid::JidRef;
use crate::negotiation::is_session_request;
use crate::stanza::{
    DefinedCondition, InvalidStanza, Stanza, StanzaError, WireStanza, error_reply,
};
use crate::stream::Role;
use crate::stream_error::StreamErrorCondition;
use crate::time::Time;
use crate::xml::{Element, ns};

/// A stanza [`Server::deliver`] could not send, handed back with the
/// reason.
#[derive(Debug)]
pub struct Refused {
    /// Why it was not sent.
    pub error: CommandError,
    /// The stanza, untouched.
    pub stanza: WireStanza,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stanza not sent: {}", self.error)
    }
}

impl std::error::Error for Refused {}

impl Server {
    /// Sends a stanza to the client (an answer of the application's). It
    /// is written as is: the application sets `from` and `to`.
    ///
    /// # Errors
    /// [`CommandError::NotOnline`] before [`ServerEvent::Online`],
    /// [`CommandError::Closed`] once the session ended or is closing,
    /// [`CommandError::InvalidStanza`] if it cannot be serialized,
    /// [`CommandError::OutputFull`] if the transport is not writing,
    /// [`CommandError::QueueFull`] if stream management is on and the
    /// client stopped acknowledging.
    pub fn send(&mut self, now: Time, stanza: impl Into<Element>) -> Result<(), CommandError> {
        self.check_can_send()?;
        let el = self.on_our_stream(stanza.into());
        crate::stream::write_stanza(self, now, el, false).map_err(|(e, _)| e)?;
        self.flush_trace();
        Ok(())
    }

    /// Sends a routed stanza, serialized once for all its recipients, and
    /// hands it back when it cannot be sent, so that it can be rerouted,
    /// bounced or stored rather than lost (what the hub's
    /// `ServerCommand::Deliver` does).
    ///
    /// # Errors
    /// [`Refused`] with the reason (as for [`Server::send`]) and the
    /// stanza.
    pub fn deliver(&mut self, now: Time, stanza: WireStanza) -> Result<(), Box<Refused>> {
        if let Err(error) = self.check_can_send() {
            return Err(Box::new(Refused { error, stanza }));
        }
        crate::stream::write_wire(self, now, stanza)
            .map_err(|(error, stanza)| Box::new(Refused { error, stanza }))?;
        self.flush_trace();
        Ok(())
    }

    fn check_can_send(&self) -> Result<(), CommandError> {
        if self.core.closed.is_some() || matches!(self.phase, ServerPhase::Closing) {
            return Err(CommandError::Closed);
        }
        if !self.is_online() {
            return Err(CommandError::NotOnline);
        }
        // A peer's stream to us carries our stanzas only if it asked
        // (XEP-0288).
        if self.config.s2s.is_some() && !self.is_s2s_link() && !self.is_bidi() {
            return Err(CommandError::NotOnline);
        }
        if self.core.out.pending() > self.config.max_output {
            return Err(CommandError::OutputFull);
        }
        Ok(())
    }

    /// A top-level element from the bound client.
    pub(super) fn handle_stanza(&mut self, now: Time, mut el: Element) {
        if self.component.is_some() {
            self.component_stanza(now, el);
            return;
        }
        if self.config.s2s.is_some() {
            if self.is_s2s_link() {
                self.s2s_out_stanza(now, el);
            } else {
                self.s2s_in_stanza(now, el);
            }
            return;
        }
        let Some(jid) = &self.jid else {
            return;
        };
        if el.ns() != ns::CLIENT {
            let text = format!("<{}/> in {:?} was not negotiated", el.name(), el.ns());
            self.fail(StreamErrorCondition::UnsupportedStanzaType, &text);
            return;
        }
        if let Some(from) = el.attr("from") {
            // RFC 6120 §8.1.2.1: the client may name its full or bare JID,
            // nothing else.
            let ok = JidRef::parse(from)
                .is_ok_and(|f| f.as_str() == jid.as_str() || f.as_str() == jid.bare_str());
            if !ok {
                self.fail(
                    StreamErrorCondition::InvalidFrom,
                    "the 'from' of a stanza is not the session's address",
                );
                return;
            }
        }
        el.set_attr("from", jid.as_str());
        let stanza = match Stanza::from_element(el) {
            Ok(s) => s,
            Err(e) if e.reason == InvalidStanza::NotAStanza => {
                let text = format!("<{}/> is not a stanza", e.element.name());
                self.fail(StreamErrorCondition::UnsupportedStanzaType, &text);
                return;
            }
            Err(e) => {
                // RFC 6120 §8.3.3.1; errors are never answered (§8.3.1).
                if e.element.attr("type") != Some("error") {
                    let error = StanzaError::new(DefinedCondition::BadRequest);
                    let reply = error_reply(e.element.as_ref(), &error);
                    let _ = crate::stream::write_stanza(self, now, reply, true);
                }
                return;
            }
        };
        if let Stanza::Iq(iq) = &stanza {
            let to_us = iq
                .to()
                .is_none_or(|to| to == self.config.domain.domainpart());
            if to_us && is_session_request(iq) {
                // RFC 3921 §3: a no-op today, answered for old clients.
                let _ = crate::stream::write_stanza(self, now, iq.make_result(None), true);
                return;
            }
        }
        self.core.events.push_back(ServerEvent::Stanza(stanza));
    }
}
