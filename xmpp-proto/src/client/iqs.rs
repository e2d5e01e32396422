//! IQ requests the client sent and awaits answers to: the application's,
//! and its own (bind, session, ping). All share one timeout, so deadlines
//! grow in sending order and expiry only looks at the front of a queue.

use std::collections::{HashMap, VecDeque};

use super::{Client, ClientEvent, ClientTimer, StanzaId};
use crate::endpoint::CloseReason;
use crate::stanza::Iq;
use crate::stream::Role;
use crate::time::Time;
use crate::xml::Element;

/// Why we sent an IQ request, so its response goes to the right place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum IqPurpose {
    /// The application's: the response becomes `ClientEvent::IqResponse`.
    App,
    /// Resource binding.
    Bind,
    /// The legacy session.
    Session,
    /// Our XEP-0199 liveness ping.
    Ping,
}

/// IQ requests awaiting a response.
#[derive(Debug, Default)]
pub(super) struct PendingIqs {
    by_id: HashMap<String, IqPurpose>,
    deadlines: VecDeque<(Time, String)>,
}

impl Client {
    /// Writes an IQ request the client sends for itself and tracks it.
    pub(super) fn send_tracked(&mut self, now: Time, el: Element, id: String, purpose: IqPurpose) {
        if self.core.out.element(&el).is_ok() {
            self.track(now, id, purpose);
        }
    }

    /// Remembers a request until its response or its timeout.
    pub(super) fn track(&mut self, now: Time, id: String, purpose: IqPurpose) {
        let deadline = now + self.config.timeouts.iq;
        self.iqs.by_id.insert(id.clone(), purpose);
        self.iqs.deadlines.push_back((deadline, id));
        if self.core.timers.get(ClientTimer::Iq).is_none() {
            self.core.timers.set(ClientTimer::Iq, deadline);
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

    /// The IQ timer fired: requests past their deadline are forgotten.
    pub(super) fn expire_iqs(&mut self, now: Time) {
        while let Some((deadline, _)) = self.iqs.deadlines.front() {
            if *deadline > now {
                break;
            }
            let Some((_, id)) = self.iqs.deadlines.pop_front() else {
                break;
            };
            match self.iqs.by_id.remove(&id) {
                Some(IqPurpose::App) => self
                    .core
                    .events
                    .push_back(ClientEvent::IqTimeout { id: StanzaId(id) }),
                Some(IqPurpose::Ping) | None => {}
                Some(IqPurpose::Bind | IqPurpose::Session) => {
                    self.finish(CloseReason::NegotiationTimeout);
                    return;
                }
            }
        }
        let next = self.iqs.deadlines.front().map(|(deadline, _)| *deadline);
        self.core.timers.set_or_clear(ClientTimer::Iq, next);
    }
}
