//! The online session: sending stanzas, tracking IQ requests, answering
//! what the client answers by itself (ping, unhandled IQs, receipts), and
//! liveness.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use super::{Client, CloseReason, Event, SendError, StanzaId, Timer};
use crate::stanza::{
    DefinedCondition, InvalidStanza, Iq, IqType, Message, Presence, Stanza, StanzaError,
};
use crate::stream::{random_id, with_attr};
use crate::stream_error::StreamErrorCondition;
use crate::xml::{Element, ns};

/// Why we sent an IQ request, so its response goes to the right place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum IqPurpose {
    /// The application's: the response becomes `Event::IqResponse`.
    App,
    /// Resource binding.
    Bind,
    /// The legacy session.
    Session,
    /// Our XEP-0199 liveness ping.
    Ping,
}

/// IQ requests awaiting a response. All share one timeout, so deadlines
/// grow in sending order and expiry only looks at the front of a queue.
#[derive(Debug, Default)]
pub(super) struct PendingIqs {
    by_id: HashMap<String, IqPurpose>,
    deadlines: VecDeque<(Instant, String)>,
}

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
impl From<Element> for Outgoing {
    fn from(el: Element) -> Self {
        Outgoing::Element(el)
    }
}

impl Client {
    /// Sends a stanza and returns its id (generated if it had none). An IQ
    /// request is tracked: its response arrives as [`Event::IqResponse`],
    /// or [`Event::IqTimeout`] after `Timeouts::iq`.
    ///
    /// # Errors
    /// [`SendError::NotOnline`] before [`Event::Online`],
    /// [`SendError::Closed`] after the session ended or began closing,
    /// [`SendError::InvalidStanza`] if it cannot be serialized,
    /// [`SendError::OutputFull`] if the transport is not writing.
    pub fn send(
        &mut self,
        now: Instant,
        stanza: impl Into<Outgoing>,
    ) -> Result<StanzaId, SendError> {
        if self.closed.is_some() || matches!(self.phase, super::Phase::Closing) {
            return Err(SendError::Closed);
        }
        if !self.is_online() {
            return Err(SendError::NotOnline);
        }
        if self.out.pending() > self.config.limits.max_pending_input {
            return Err(SendError::OutputFull);
        }
        let el = match stanza.into() {
            Outgoing::Message(m) => m.into_element(),
            Outgoing::Presence(p) => p.into_element(),
            Outgoing::Iq(iq) => iq.into_element(),
            Outgoing::Element(el) => el,
        };
        let (el, id) = match el.attr("id") {
            Some(id) => {
                let id = id.to_owned();
                (el, id)
            }
            None => {
                let id = self.next_id();
                (with_attr(el.as_ref(), "id", &id), id)
            }
        };
        let is_request = el.is("iq", ns::CLIENT) && matches!(el.attr("type"), Some("get" | "set"));
        self.write_stanza(now, el, false)?;
        if is_request {
            self.track(now, id.clone(), IqPurpose::App);
        }
        self.flush_trace();
        Ok(StanzaId(id))
    }

    /// Sends a chat message, optionally with a XEP-0184 receipt request;
    /// the receipt arrives as [`Event::ReceiptReceived`] with the returned
    /// id.
    pub fn send_message(
        &mut self,
        now: Instant,
        to: &str,
        body: &str,
        request_receipt: bool,
    ) -> Result<StanzaId, SendError> {
        let id = self.next_id();
        let mut msg = Message::builder(crate::stanza::MessageType::Chat)
            .to(to)
            .id(&id)
            .body(body);
        if request_receipt {
            msg = msg.payload(Element::builder("request", ns::RECEIPTS).build());
        }
        self.send(now, msg.build())
    }

    pub(super) fn next_id(&mut self) -> String {
        random_id(&mut *self.random)
    }

    pub(super) fn send_tracked(
        &mut self,
        now: Instant,
        el: Element,
        id: String,
        purpose: IqPurpose,
    ) {
        if self.out.element(&el).is_ok() {
            self.track(now, id, purpose);
        }
    }

    fn track(&mut self, now: Instant, id: String, purpose: IqPurpose) {
        let deadline = now + self.config.timeouts.iq;
        self.iqs.by_id.insert(id.clone(), purpose);
        self.iqs.deadlines.push_back((deadline, id));
        if self.timers.get(Timer::Iq as usize).is_none() {
            self.timers.set(Timer::Iq as usize, deadline);
        }
    }

    /// If `el` answers one of our IQ requests, forgets the request and
    /// returns why we sent it, with the response.
    pub(super) fn take_response(&mut self, el: Element) -> Option<(IqPurpose, Iq)> {
        if !matches!(el.attr("type"), Some("result" | "error")) {
            return None;
        }
        let purpose = self.iqs.by_id.remove(el.attr("id")?)?;
        Iq::from_element(el).ok().map(|iq| (purpose, iq))
    }

    pub(super) fn expire_iqs(&mut self, now: Instant) {
        while let Some((deadline, _)) = self.iqs.deadlines.front() {
            if *deadline > now {
                break;
            }
            let Some((_, id)) = self.iqs.deadlines.pop_front() else {
                break;
            };
            match self.iqs.by_id.remove(&id) {
                Some(IqPurpose::App) => {
                    self.events.push_back(Event::IqTimeout { id: StanzaId(id) })
                }
                Some(IqPurpose::Ping) | None => {}
                Some(IqPurpose::Bind | IqPurpose::Session) => {
                    self.finish(CloseReason::NegotiationTimeout);
                    return;
                }
            }
        }
        match self.iqs.deadlines.front() {
            Some((deadline, _)) => self.timers.set(Timer::Iq as usize, *deadline),
            None => self.timers.clear(Timer::Iq as usize),
        }
    }

    /// The server has been quiet: ping it and expect any byte back in time.
    pub(super) fn send_ping(&mut self, now: Instant) {
        if self.sm_probe() {
            self.timers.set(
                Timer::PingAnswer as usize,
                now + self.config.timeouts.ping_timeout,
            );
            self.sent_to_server(now);
            return;
        }
        let id = self.next_id();
        let iq = Iq::get(&id, Element::builder("ping", ns::PING).build())
            .with_to(self.config.jid.domainpart());
        self.send_tracked(now, iq.into_element(), id, IqPurpose::Ping);
        self.timers.set(
            Timer::PingAnswer as usize,
            now + self.config.timeouts.ping_timeout,
        );
        self.sent_to_server(now);
    }

    /// A top-level element while online.
    pub(super) fn handle_stanza(&mut self, now: Instant, el: Element) {
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
        match stanza {
            Stanza::Message(m) => self.handle_message(now, m),
            Stanza::Presence(p) => self.events.push_back(Event::Presence(p)),
            Stanza::Iq(iq) => self.handle_iq(now, iq),
        }
    }

    fn handle_iq(&mut self, now: Instant, iq: Iq) {
        if !iq.kind().is_request() {
            if let Some((purpose, response)) = self.take_response(iq.into_element()) {
                if purpose == IqPurpose::App {
                    let id = StanzaId(response.id().unwrap_or_default().to_owned());
                    self.events.push_back(Event::IqResponse { id, response });
                }
            }
            return;
        }
        let payload_ns = iq.payload().map(|p| p.ns().to_owned()).unwrap_or_default();
        let reply = if iq.kind() == IqType::Get && payload_ns == ns::PING {
            Some(iq.make_result(None))
        } else if self.config.handled_iq_namespaces.contains(&payload_ns) {
            self.events.push_back(Event::IqRequest(iq));
            None
        } else {
            // RFC 6120 §8.4: nobody here handles it.
            Some(iq.make_error(&StanzaError::new(DefinedCondition::ServiceUnavailable)))
        };
        if let Some(reply) = reply {
            let _ = self.write_stanza(now, reply, true);
        }
    }

    fn handle_message(&mut self, now: Instant, m: Message) {
        let el = m.element();
        if let Some(received) = el.child("received", ns::RECEIPTS) {
            if let Some(id) = received.attr("id") {
                self.events.push_back(Event::ReceiptReceived {
                    id: id.to_owned(),
                    from: m.from().map(str::to_owned),
                });
            }
        }
        // XEP-0184 §5.4: answer requests, never for errors or group chat,
        // and only when the message has an id to refer to.
        let wants_receipt = self.config.auto_receipts
            && el.child("request", ns::RECEIPTS).is_some()
            && !matches!(
                m.kind(),
                crate::stanza::MessageType::Error | crate::stanza::MessageType::Groupchat
            );
        if let (true, Some(id), Some(from)) = (wants_receipt, m.id(), m.from()) {
            let receipt = Element::builder("message", ns::CLIENT)
                .attr("to", from)
                .attr("id", self.next_id())
                .append(Element::builder("received", ns::RECEIPTS).attr("id", id))
                .build();
            let _ = self.write_stanza(now, receipt, true);
        }
        self.events.push_back(Event::Message(m));
    }
}
