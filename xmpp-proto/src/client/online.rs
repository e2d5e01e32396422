//! The online session: sending stanzas, answering what the client answers
//! by itself (ping, unhandled IQs, receipts), and liveness.

use super::iqs::IqPurpose;
use super::muc::RoomStanza;
use super::negotiate::ClientPhase;
use super::{Client, ClientEvent, ClientTimer, StanzaId};
use crate::endpoint::CommandError;
use crate::jid::Jid;
use crate::negotiation::ping_request;
use crate::stanza::{
    DefinedCondition, InvalidStanza, Iq, IqType, Message, MessageType, Presence, PresenceType,
    Stanza, StanzaError,
};
use crate::stream::Role;
use crate::stream_error::StreamErrorCondition;
use crate::time::Time;
use crate::xml::{Element, ns};

/// Anything `Client::send` accepts.
#[derive(Clone, Debug, PartialEq)]
pub enum Outgoing {
    /// A `<message/>`.
    Message(Message),
    /// A `<presence/>`.
    Presence(Presence),
    /// An `<iq/>`; a `get` or `set` is tracked until its response.
    Iq(Iq),
    /// Any element in `jabber:client`, sent as is (an id is added to
    /// stanzas that lack one).
    Element(Element),
}

impl From<Message> for Outgoing {
    fn from(m: Message) -> Self {
        Outgoing::Message(m)
    }
}
impl From<Presence> for Outgoing {
    fn from(p: Presence) -> Self {
        Outgoing::Presence(p)
    }
}
impl From<Iq> for Outgoing {
    fn from(iq: Iq) -> Self {
        Outgoing::Iq(iq)
    }
}
impl From<Stanza> for Outgoing {
    fn from(stanza: Stanza) -> Self {
        match stanza {
            Stanza::Message(m) => Outgoing::Message(m),
            Stanza::Presence(p) => Outgoing::Presence(p),
            Stanza::Iq(iq) => Outgoing::Iq(iq),
        }
    }
}
impl From<Element> for Outgoing {
    fn from(el: Element) -> Self {
        Outgoing::Element(el)
    }
}

impl From<Outgoing> for Element {
    fn from(stanza: Outgoing) -> Element {
        match stanza {
            Outgoing::Message(m) => m.into_element(),
            Outgoing::Presence(p) => p.into_element(),
            Outgoing::Iq(iq) => iq.into_element(),
            Outgoing::Element(el) => el,
        }
    }
}

impl Client {
    /// Sends a stanza and returns its id (generated if it had none). An IQ
    /// request is tracked: its response arrives as
    /// [`ClientEvent::IqResponse`], or [`ClientEvent::IqTimeout`] after
    /// `ClientTimeouts::iq`.
    ///
    /// # Errors
    /// [`CommandError::NotOnline`] before [`ClientEvent::Online`],
    /// [`CommandError::Closed`] after the session ended or began closing,
    /// [`CommandError::InvalidStanza`] if it cannot be serialized,
    /// [`CommandError::OutputFull`] if the transport is not writing,
    /// [`CommandError::QueueFull`] if stream management is on and the
    /// server stopped acknowledging.
    pub fn send(
        &mut self,
        now: Time,
        stanza: impl Into<Outgoing>,
    ) -> Result<StanzaId, CommandError> {
        if self.core.closed.is_some() || matches!(self.phase, ClientPhase::Closing) {
            return Err(CommandError::Closed);
        }
        if !self.is_online() {
            return Err(CommandError::NotOnline);
        }
        if self.core.out.pending() > self.config.limits.max_pending_input {
            return Err(CommandError::OutputFull);
        }
        let mut el = Element::from(stanza.into());
        let id = match el.attr("id") {
            Some(id) => id.to_owned(),
            None => {
                let Some(id) = self.next_id() else {
                    return Err(CommandError::Closed);
                };
                el.set_attr("id", &id);
                id
            }
        };
        if el.is("presence", ns::CLIENT) {
            self.note_directed_presence(&el);
            // XEP-0115: available presence says what we can do.
            if el.attr("type").is_none() && el.child("c", ns::CAPS).is_none() {
                el = el.with_child(self.caps_element());
            }
        }
        let is_request = el.is("iq", ns::CLIENT) && matches!(el.attr("type"), Some("get" | "set"));
        let to = is_request
            .then(|| el.attr("to").map(str::to_owned))
            .flatten();
        crate::stream::write_stanza(self, now, el, false).map_err(|(e, _)| e)?;
        if is_request {
            self.track(now, id.clone(), IqPurpose::App, to.as_deref());
        }
        self.flush_trace();
        Ok(StanzaId(id))
    }

    /// Sends a chat message, optionally with a XEP-0184 receipt request;
    /// the receipt arrives as [`ClientEvent::ReceiptReceived`] with the
    /// returned id.
    ///
    /// # Errors
    /// As for [`Client::send`].
    pub fn send_message(
        &mut self,
        now: Time,
        to: &str,
        body: &str,
        request_receipt: bool,
    ) -> Result<StanzaId, CommandError> {
        let to = Jid::new(to).map_err(CommandError::InvalidAddress)?;
        let Some(id) = self.next_id() else {
            return Err(CommandError::Closed);
        };
        let mut msg = Message::builder(MessageType::Chat)
            .to(to.as_str())
            .id(&id)
            .body(body);
        if request_receipt {
            msg = msg.payload(Element::builder("request", ns::RECEIPTS).build());
        }
        self.send(now, msg.build())
    }

    /// The server has been quiet: ping it and expect any byte back in time.
    pub(super) fn send_ping(&mut self, now: Time) {
        if self.sm_probe() {
            self.core.timers.set(
                ClientTimer::PingAnswer,
                now + self.config.timeouts.ping_timeout,
            );
            self.sent_to_server(now);
            return;
        }
        let Some(id) = self.next_id() else {
            return;
        };
        let iq = ping_request(&id).with_to(self.config.jid.domainpart());
        self.send_tracked(now, iq.into_element(), id, IqPurpose::Ping);
        self.core.timers.set(
            ClientTimer::PingAnswer,
            now + self.config.timeouts.ping_timeout,
        );
        self.sent_to_server(now);
    }

    /// A top-level element while online.
    pub(super) fn handle_stanza(&mut self, now: Time, el: Element) {
        if el.ns() != ns::CLIENT {
            // A nonza of an extension we did not negotiate: ignored.
            return;
        }
        let stanza = match Stanza::from_element(el) {
            Ok(s) => s,
            Err(e) if e.reason == InvalidStanza::NotAStanza => {
                let text = format!("<{}/> is not a stanza", e.element.name());
                self.fail(StreamErrorCondition::UnsupportedStanzaType, &text);
                return;
            }
            Err(e) => {
                let text = format!("invalid stanza: {:?}", e.reason);
                self.fail(StreamErrorCondition::BadFormat, &text);
                return;
            }
        };
        let stanza = match stanza {
            Stanza::Message(m) if self.may_concern_rooms(m.element()) => {
                match self.room_stanza(now, RoomStanza::Message(m)) {
                    None => return,
                    Some(RoomStanza::Message(m)) => Stanza::Message(m),
                    Some(RoomStanza::Presence(p)) => Stanza::Presence(p),
                }
            }
            Stanza::Presence(p) if self.may_concern_rooms(p.element()) => {
                match self.room_stanza(now, RoomStanza::Presence(p)) {
                    None => return,
                    Some(RoomStanza::Message(m)) => Stanza::Message(m),
                    Some(RoomStanza::Presence(p)) => Stanza::Presence(p),
                }
            }
            other => other,
        };
        match stanza {
            Stanza::Message(m) => self.handle_message(now, m),
            Stanza::Presence(p) if p.kind() == PresenceType::Error && p.id().is_some() => {
                let event = bounced(p.id(), p.from(), p.error());
                self.core.events.push_back(event);
            }
            Stanza::Presence(p) => {
                if p.kind() == PresenceType::Available {
                    self.learn_caps(now, &p);
                }
                self.handle_presence(p);
            }
            Stanza::Iq(iq) => self.handle_iq(now, iq),
        }
    }

    fn handle_iq(&mut self, now: Time, iq: Iq) {
        if !iq.kind().is_request() {
            match self.take_response(iq.into_element()) {
                Some((IqPurpose::App, response)) => {
                    let id = StanzaId(response.id().unwrap_or_default().to_owned());
                    self.core
                        .events
                        .push_back(ClientEvent::IqResponse { id, response });
                }
                Some((IqPurpose::Roster, response)) => self.roster_result(response),
                Some((IqPurpose::Caps, response)) => self.caps_answer(response),
                Some((IqPurpose::RoomConfig, response)) => {
                    if let Some(room) = response.from() {
                        let room = room.to_owned();
                        self.room_configured(&room);
                    }
                }
                _ => {}
            }
            return;
        }
        if let Some(reply) = self.roster_push(&iq) {
            let _ = crate::stream::write_stanza(self, now, reply, true);
            return;
        }
        let payload_ns = iq.payload().map(|p| p.ns().to_owned()).unwrap_or_default();
        let reply = if iq.kind() == IqType::Get && payload_ns == ns::PING {
            Some(iq.make_result(None))
        } else if self.config.handled_iq_namespaces.contains(&payload_ns) {
            self.core.events.push_back(ClientEvent::IqRequest(iq));
            None
        } else if let Some(answer) = self.discovery_answer(&iq) {
            Some(answer)
        } else {
            // RFC 6120 §8.4: nobody here handles it.
            Some(iq.make_error(&StanzaError::new(DefinedCondition::ServiceUnavailable)))
        };
        if let Some(reply) = reply {
            let _ = crate::stream::write_stanza(self, now, reply, true);
        }
    }

    fn handle_message(&mut self, now: Time, m: Message) {
        if m.kind() == MessageType::Error && m.id().is_some() {
            let event = bounced(m.id(), m.from(), m.error());
            self.core.events.push_back(event);
            return;
        }
        let el = m.element();
        if let Some(received) = el.child("received", ns::RECEIPTS) {
            if let Some(id) = received.attr("id") {
                self.core.events.push_back(ClientEvent::ReceiptReceived {
                    id: StanzaId(id.to_owned()),
                    from: m.from().map(str::to_owned),
                });
                if m.body().is_none() {
                    // Only a receipt: reported once, as the receipt.
                    return;
                }
            }
        }
        // XEP-0184 §5.4: answer requests, never for errors or group chat,
        // and only when the message has an id to refer to.
        let wants_receipt = el.child("request", ns::RECEIPTS).is_some()
            && !matches!(m.kind(), MessageType::Error | MessageType::Groupchat)
            && m.from().is_some_and(|from| self.receipt_allowed(from));
        if let (true, Some(id), Some(from)) = (wants_receipt, m.id(), m.from()) {
            if let Some(receipt_id) = self.next_id() {
                let receipt = Element::builder("message", ns::CLIENT)
                    .attr("to", from)
                    .attr("id", receipt_id)
                    .append(Element::builder("received", ns::RECEIPTS).attr("id", id))
                    .build();
                let _ = crate::stream::write_stanza(self, now, receipt, true);
            }
        }
        self.core.events.push_back(ClientEvent::Message(m));
    }
}

/// The event for an error stanza answering one of ours.
fn bounced(id: Option<&str>, from: Option<&str>, error: Option<StanzaError>) -> ClientEvent {
    ClientEvent::Bounced {
        id: StanzaId(id.unwrap_or_default().to_owned()),
        from: from.map(str::to_owned),
        error: error.unwrap_or_else(|| StanzaError::new(DefinedCondition::UndefinedCondition)),
    }
}
