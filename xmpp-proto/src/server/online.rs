//! The bound session: stamping and handing over the client's stanzas,
//! answering the legacy session IQ, and sending stanzas to the client.

use std::time::Instant;

use super::{CommandError, Event, Refused, Server};
use crate::jid::JidRef;
use crate::stanza::{DefinedCondition, InvalidStanza, Stanza, StanzaError, error_reply};
use crate::stream::with_attr;
use crate::stream_error::StreamErrorCondition;
use crate::xml::{Element, ns};

impl Server {
    /// Sends a stanza to the client (a routed message, presence or IQ, or
    /// an answer). It is written as is: the router or application sets
    /// `from` and `to`. A refused stanza is dropped; a transport that
    /// routes stanzas between sessions uses [`Server::deliver`], which
    /// hands it back to be bounced.
    ///
    /// # Errors
    /// [`CommandError::NotOnline`] before [`Event::Online`],
    /// [`CommandError::Closed`] once the session ended or is closing,
    /// [`CommandError::InvalidStanza`] if it cannot be serialized,
    /// [`CommandError::OutputFull`] if the transport is not writing,
    /// [`CommandError::QueueFull`] if stream management is on and the
    /// client stopped acknowledging.
    pub fn send(&mut self, now: Instant, stanza: impl Into<Element>) -> Result<(), CommandError> {
        self.deliver(now, stanza.into())
            .map_err(|refused| refused.error)
    }

    /// Sends a stanza to the client like [`Server::send`], and hands it
    /// back when it cannot be sent, so that it can be bounced or stored
    /// (`Router::undeliverable_from`) rather than lost.
    ///
    /// # Errors
    /// [`Refused`] with the reason (as for [`Server::send`]) and the
    /// stanza.
    pub fn deliver(&mut self, now: Instant, stanza: Element) -> Result<(), Box<Refused>> {
        let refuse = |error, stanza| Err(Box::new(Refused { error, stanza }));
        if self.closed.is_some() || matches!(self.phase, super::Phase::Closing) {
            return refuse(CommandError::Closed, stanza);
        }
        if !self.is_online() {
            return refuse(CommandError::NotOnline, stanza);
        }
        if self.out.pending() > self.config.limits.max_pending_input {
            return refuse(CommandError::OutputFull, stanza);
        }
        self.write_stanza(now, stanza, false)?;
        self.flush_trace();
        Ok(())
    }

    /// A top-level element from the bound client.
    pub(super) fn handle_stanza(&mut self, now: Instant, el: Element) {
        let Some(jid) = self.jid.clone() else {
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
        let stamped = with_attr(el.as_ref(), "from", jid.as_str());
        let stanza = match Stanza::from_element(stamped) {
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
                    let _ = self.write_stanza(now, reply, true);
                }
                return;
            }
        };
        if let Stanza::Iq(iq) = &stanza {
            let is_session = iq.kind().is_request()
                && iq.payload().is_some_and(|p| p.is("session", ns::SESSION))
                && iq
                    .to()
                    .is_none_or(|to| to == self.config.domain.domainpart());
            if is_session {
                // RFC 3921 §3: a no-op today, answered for old clients.
                let _ = self.write_stanza(now, iq.make_result(None), true);
                return;
            }
        }
        self.events.push_back(Event::Stanza(stanza));
    }
}
