//! Turning the router's decisions into commands: a delivery goes to a
//! live session's connection or a detached session's queue; what a
//! session cannot take goes to the account's other resources once, then
//! is bounced (stored, or answered with an error): never dropped unseen.

use super::{Delivery, Hub, HubEvent, ServerCommand};
use crate::router::{Routed, SessionId};
use crate::stanza::WireStanza;
use crate::time::Time;
use crate::xml::Element;

use super::detached::Queued;

impl Hub {
    /// Carries out routing results; `rerouted` marks results of a reroute
    /// (their failures are bounced). Reroutes this causes are carried out
    /// too, in order, until nothing is left; `out` is left empty.
    pub(super) fn dispatch(&mut self, now: Time, out: &mut Vec<Routed>, rerouted: bool) {
        let mut work = std::mem::take(&mut self.work);
        work.extend(out.drain(..).map(|routed| (routed, rerouted)));
        while let Some((routed, mark)) = work.pop_front() {
            self.carry_out(now, routed, mark, out);
            work.extend(out.drain(..).map(|routed| (routed, true)));
        }
        self.work = work;
    }

    fn carry_out(&mut self, now: Time, routed: Routed, rerouted: bool, out: &mut Vec<Routed>) {
        match routed {
            Routed::Deliver { session, stanza } if session == super::rooms::ROOMS => {
                self.deliver_to_rooms(&stanza, out);
            }
            Routed::Deliver { session, stanza } => match self.detached.queue(session, stanza) {
                Queued::Kept => {}
                Queued::Full(stanza) => self.undelivered(session, stanza, rerouted, out),
                Queued::NotDetached(stanza) => self.command(
                    session,
                    ServerCommand::Deliver(Delivery { stanza, rerouted }),
                ),
            },
            Routed::Remote {
                domain,
                local,
                sender,
                stanza,
            } => self.send_remote(now, &local, &domain, sender, stanza, out),
            Routed::Offline { to, message } => {
                self.stats.stored_offline += 1;
                self.events
                    .push_back(HubEvent::StoreOffline { to, message });
            }
            Routed::ForServer { from, account, iq } => {
                let Some(asker) = self.router.jid(from).cloned() else {
                    return;
                };
                if super::im::is_own_roster_request(&iq, account.as_ref(), &asker) {
                    self.roster_iq(from, &iq, out);
                    return;
                }
                let own = account
                    .as_ref()
                    .is_none_or(|a| a.as_str() == asker.bare_str());
                if let Some(answer) = own.then(|| self.carbons_iq(from, &iq)).flatten() {
                    self.router.deliver(from, &answer, out);
                    return;
                }
                let account_of_asker = asker.to_bare();
                if let Some(answer) = own
                    .then(|| self.private_iq(&account_of_asker, &iq))
                    .flatten()
                {
                    self.router.deliver(from, &answer, out);
                    return;
                }
                if let Some(answer) = own
                    .then(|| self.blocking_iq(from, &account_of_asker, &iq, out))
                    .flatten()
                {
                    self.router.deliver(from, &answer, out);
                    return;
                }
                let mut items: Vec<&str> = self.router.component_domains().collect();
                items.sort_unstable();
                let answer = self.services.answer(&iq, account.as_ref(), &items);
                if let Some(stanza) = self.router.wire(&answer) {
                    out.push(Routed::Deliver {
                        session: from,
                        stanza,
                    });
                }
            }
        }
    }

    /// `session` could not take `stanza`: to the account's other
    /// resources if it was not rerouted already, else bounced.
    fn undelivered(
        &mut self,
        session: SessionId,
        stanza: WireStanza,
        rerouted: bool,
        out: &mut Vec<Routed>,
    ) {
        self.stats.rerouted += 1;
        let Ok(el) = stanza.to_element() else {
            return;
        };
        if rerouted {
            self.router.bounce(vec![el], out);
        } else {
            self.router.undeliverable_from(session, vec![el], out);
        }
    }

    /// A delivery the session refused.
    ///
    /// A session refuses when its connection has just ended. If it was
    /// resumable, the stanza belongs in its queue for the resumption:
    /// at once if the hub already knows it detached, else held until its
    /// end is reported (the refusal can overtake that report).
    pub(super) fn refused(&mut self, now: Time, session: SessionId, delivery: Delivery) {
        let delivery = match self.detached.queue(session, delivery.stanza) {
            Queued::Kept => return,
            Queued::Full(stanza) | Queued::NotDetached(stanza) => Delivery {
                stanza,
                rerouted: delivery.rerouted,
            },
        };
        let resumable = self
            .sessions
            .get(&session)
            .is_some_and(|info| info.sm_id.is_some());
        if resumable && !self.detached.contains(session) {
            self.held.entry(session).or_default().push(delivery);
            return;
        }
        let mut out = std::mem::take(&mut self.routed);
        self.undelivered(session, delivery.stanza, delivery.rerouted, &mut out);
        self.dispatch(now, &mut out, true);
        self.routed = out;
    }

    /// A live session could not take a stanza (its client reads or
    /// acknowledges too slowly): another resource gets it, or its sender
    /// an error. Nothing is kept for the busy session, so what it costs
    /// stays bounded.
    pub(super) fn busy(&mut self, now: Time, session: SessionId, delivery: Delivery) {
        let Some(stanza) = self.hold_bounce(now, session, delivery.stanza) else {
            return;
        };
        let delivery = Delivery { stanza, ..delivery };
        let mut out = std::mem::take(&mut self.routed);
        self.undelivered(session, delivery.stanza, delivery.rerouted, &mut out);
        self.dispatch(now, &mut out, true);
        self.routed = out;
    }

    /// The end of `session` is known: what was held for it joins its
    /// detached queue, or is rerouted if it did not detach.
    pub(super) fn release_held(&mut self, now: Time, session: SessionId) {
        for delivery in self.held.remove(&session).unwrap_or_default() {
            self.refused_after_end(now, session, delivery);
        }
    }

    pub(super) fn refused_after_end(&mut self, now: Time, session: SessionId, delivery: Delivery) {
        let stanza = match self.detached.queue(session, delivery.stanza) {
            Queued::Kept => return,
            Queued::Full(stanza) | Queued::NotDetached(stanza) => stanza,
        };
        let mut out = std::mem::take(&mut self.routed);
        self.undelivered(session, stanza, delivery.rerouted, &mut out);
        self.dispatch(now, &mut out, true);
        self.routed = out;
    }

    /// Answers the sender of a message handed out by
    /// [`HubEvent::StoreOffline`] with `service-unavailable`, for an
    /// application with nowhere to store it.
    pub fn refuse_offline(&mut self, now: Time, message: Element) {
        let mut out = std::mem::take(&mut self.routed);
        self.router.refuse_offline(message, &mut out);
        self.dispatch(now, &mut out, true);
        self.routed = out;
    }
}
