//! IQ requests the client sent and awaits answers to: the application's,
//! and its own (bind, session, ping). All share one timeout, so deadlines
//! grow in sending order and expiry only looks at the front of a queue.

use std::collections::{HashMap, VecDeque};

use super::{Client, ClientEvent, ClientTimer, StanzaId};
use crate::endpoint::CloseReason;
use crate::jid::Jid;
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
    /// A roster get: the result updates the client's roster.
    Roster,
    /// A disco#info about a peer's XEP-0115 capabilities.
    Caps,
    /// The instant-room configuration of a room our join created.
    RoomConfig,
}

/// IQ requests awaiting a response.
#[derive(Debug, Default)]
pub(super) struct PendingIqs {
    by_id: HashMap<String, Pending>,
    deadlines: VecDeque<(Time, String)>,
}

/// One request: why we sent it and whom to.
#[derive(Debug)]
struct Pending {
    purpose: IqPurpose,
    /// The `to` of the request, prepared; `None` for the server acting
    /// for our account (no `to`).
    to: Option<Jid>,
}

impl Client {
    /// Writes an IQ request the client sends for itself and tracks it.
    pub(super) fn send_tracked(&mut self, now: Time, el: Element, id: String, purpose: IqPurpose) {
        if self.core.out.element(&el).is_ok() {
            self.track(now, id, purpose, el.attr("to"));
        }
    }

    /// Remembers a request sent to `to` until its response or its
    /// timeout.
    pub(super) fn track(&mut self, now: Time, id: String, purpose: IqPurpose, to: Option<&str>) {
        let deadline = now + self.config.timeouts.iq;
        let to = to.and_then(|to| Jid::new(to).ok());
        self.iqs.by_id.insert(id.clone(), Pending { purpose, to });
        self.iqs.deadlines.push_back((deadline, id));
        if self.core.timers.get(ClientTimer::Iq).is_none() {
            self.core.timers.set(ClientTimer::Iq, deadline);
        }
    }

    /// Changes why a tracked request was sent (it was sent through the
    /// application's path and is the client's own).
    pub(super) fn retrack(&mut self, id: &StanzaId, purpose: IqPurpose) {
        if let Some(pending) = self.iqs.by_id.get_mut(id.as_str()) {
            pending.purpose = purpose;
        }
    }

    /// If `el` answers one of our IQ requests, forgets the request and
    /// returns why we sent it, with the response.
    pub(super) fn take_response(&mut self, el: Element) -> Option<(IqPurpose, Iq)> {
        if !matches!(el.attr("type"), Some("result" | "error")) {
            return None;
        }
        let id = el.attr("id")?;
        let pending = self.iqs.by_id.get(id)?;
        if !self.answered_by(pending.to.as_ref(), el.attr("from")) {
            // Our id from someone we did not ask: not the answer (RFC
            // 6120 §8.1.2.1); the request still waits for its own.
            return None;
        }
        let purpose = self.iqs.by_id.remove(id)?.purpose;
        Iq::from_element(el).ok().map(|iq| (purpose, iq))
    }

    /// Whether a response from `from` can answer a request sent to `to`:
    /// the addressee itself, or for a request to our server or account
    /// (no `to`, our bare JID, our domain) the server answering for it
    /// (no `from`, our bare or full JID, our domain).
    fn answered_by(&self, to: Option<&Jid>, from: Option<&str>) -> bool {
        let from = match from.map(Jid::new) {
            None => None,
            Some(Ok(jid)) => Some(jid),
            Some(Err(_)) => return false,
        };
        let own_bare = self.config.jid.to_bare();
        let domain = self.config.jid.domainpart();
        let is_ours = |jid: &Jid| {
            jid.to_bare() == own_bare
                || (jid.localpart().is_none()
                    && jid.resourcepart().is_none()
                    && jid.domainpart() == domain)
        };
        let asked_ours = to.is_none_or(is_ours);
        match (&from, to) {
            (Some(from), Some(to)) if from == to => true,
            (None, _) => asked_ours,
            (Some(from), _) => asked_ours && is_ours(from),
        }
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
            let pending = self.iqs.by_id.remove(&id);
            if let Some(Pending {
                purpose: IqPurpose::RoomConfig,
                to: Some(room),
            }) = &pending
            {
                // No answer: we are in all the same.
                let room = room.bare_str().to_owned();
                self.room_configured(&room);
                continue;
            }
            match pending.map(|p| p.purpose) {
                Some(IqPurpose::App | IqPurpose::Roster) => self
                    .core
                    .events
                    .push_back(ClientEvent::IqTimeout { id: StanzaId(id) }),
                Some(IqPurpose::Ping | IqPurpose::Caps | IqPurpose::RoomConfig) | None => {}
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
