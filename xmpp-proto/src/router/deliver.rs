//! The delivery rules of RFC 6121 §8.5 for a local domain, presence
//! broadcast to the user's own resources (§4.2, §4.5), and the server's
//! own answers.

use super::{OfflinePolicy, Routed, Router, SessionId};
use crate::jid::{BareJid, Jid};
use crate::stanza::{
    DefinedCondition, Iq, IqType, MessageType, PresenceType, Stanza, StanzaError, error_reply,
};
use crate::xml::{Element, ns};

impl Router {
    /// Routes a stanza that `from` sent (its `from` already stamped by the
    /// `Server`), appending deliveries and error replies to `out`.
    ///
    /// - No `to`: a presence is broadcast to the sender's own available
    ///   resources (its priority recorded); anything else is for the
    ///   sender's account.
    /// - Another domain: `remote-server-not-found` (no federation yet).
    /// - The domain itself: ping and disco#info are answered, other IQ
    ///   requests get `service-unavailable`.
    /// - A bare JID: messages go to the highest non-negative priority
    ///   resource(s), or the offline policy; presences to every available
    ///   resource; IQs are answered on the account's behalf.
    /// - A full JID: delivered if bound; otherwise messages fall back to
    ///   the bare JID and IQ requests get `service-unavailable`.
    ///
    /// Stanzas of type `error` are never answered with an error (RFC 6120
    /// §8.3.1).
    pub fn route(&mut self, from: SessionId, stanza: Stanza, out: &mut Vec<Routed>) {
        let Some(sender) = self.sessions.get(&from).map(|s| s.jid.clone()) else {
            return;
        };
        let to = match stanza.to().map(Jid::new) {
            None => None,
            Some(Ok(to)) => Some(to),
            Some(Err(_)) => {
                reply(from, &stanza, DefinedCondition::JidMalformed, out);
                return;
            }
        };
        let to = match (to, &stanza) {
            (None, Stanza::Presence(_)) => {
                self.broadcast_own_presence(from, stanza, out);
                return;
            }
            (None, _) => sender.to_bare().as_jid().clone(),
            (Some(to), _) => to,
        };
        if to.domainpart() != self.domain.domainpart() {
            reply(from, &stanza, DefinedCondition::RemoteServerNotFound, out);
            return;
        }
        if to.localpart().is_none() {
            self.server_answer(from, &stanza, out);
            return;
        }
        if to.is_full() {
            let target = to
                .clone()
                .try_into_full()
                .ok()
                .and_then(|full| self.by_jid.get(&full).copied());
            if let Some(target) = target {
                deliver(target, stanza.into_element(), out);
                return;
            }
            self.deliver_to_missing_resource(from, &to, stanza, out);
        } else {
            self.deliver_to_bare(from, &to.to_bare(), stanza, out);
        }
    }

    /// Stanzas that were routed to a session that can no longer take
    /// them (it ended without acknowledging them, or expired while
    /// detached), never silently dropped where RFC 6121 says otherwise:
    /// a `normal` or `chat` message goes to the account's other
    /// resources, else to the offline policy (stored, or bounced to its
    /// sender with `service-unavailable`); an IQ request is answered with
    /// `service-unavailable`. Presences, IQ responses, errors, headlines
    /// and group chat are dropped (RFC 6121 §8.5.2.2, §8.5.3.2).
    pub fn undeliverable(&mut self, stanzas: Vec<Element>, out: &mut Vec<Routed>) {
        self.reroute(None, true, stanzas, out);
    }

    /// [`Router::undeliverable`] for stanzas that `failed` could not take
    /// (`Server::deliver` refused them, or its detached queue is full):
    /// the account's other resources may get them, `failed` never again,
    /// so a session that takes nothing cannot bounce a stanza back to
    /// itself for ever.
    pub fn undeliverable_from(
        &mut self,
        failed: SessionId,
        stanzas: Vec<Element>,
        out: &mut Vec<Routed>,
    ) {
        self.reroute(Some(failed), true, stanzas, out);
    }

    /// Answers the sender of a message the offline policy handed out as
    /// [`Routed::Offline`] with `service-unavailable` instead: for a
    /// transport that has nowhere to store it, so that it is not lost
    /// without a word.
    pub fn refuse_offline(&mut self, message: Element, out: &mut Vec<Routed>) {
        let sender = message
            .attr("from")
            .and_then(|f| crate::jid::FullJid::new(f).ok())
            .and_then(|f| self.by_jid.get(&f).copied());
        if let (Some(sender), Ok(stanza)) = (sender, Stanza::from_element(message)) {
            reply(sender, &stanza, DefinedCondition::ServiceUnavailable, out);
        }
    }

    /// [`Router::undeliverable`] without trying other resources: for a
    /// stanza that was already handed to another resource and failed
    /// there too. Messages go to the offline policy (stored, or bounced
    /// to their sender), IQ requests get their error, the rest is
    /// dropped.
    pub fn bounce(&mut self, stanzas: Vec<Element>, out: &mut Vec<Routed>) {
        self.reroute(None, false, stanzas, out);
    }

    fn reroute(
        &mut self,
        failed: Option<SessionId>,
        redistribute: bool,
        stanzas: Vec<Element>,
        out: &mut Vec<Routed>,
    ) {
        for el in stanzas {
            let sender = el
                .attr("from")
                .and_then(|f| crate::jid::FullJid::new(f).ok())
                .and_then(|f| self.by_jid.get(&f).copied());
            let Ok(stanza) = Stanza::from_element(el) else {
                continue;
            };
            let to = stanza.to().and_then(|t| Jid::new(t).ok());
            match (&stanza, to) {
                (Stanza::Message(m), Some(to))
                    if matches!(m.kind(), MessageType::Normal | MessageType::Chat) =>
                {
                    let account = to.to_bare();
                    let targets = if redistribute {
                        self.best_resources_except(&account, failed)
                    } else {
                        Vec::new()
                    };
                    if !targets.is_empty() {
                        let el = stanza.into_element();
                        for t in targets {
                            deliver(t, el.clone(), out);
                        }
                    } else if self.offline == OfflinePolicy::Store {
                        out.push(Routed::Offline {
                            to: account,
                            message: stanza.into_element(),
                        });
                    } else if let Some(sender) = sender {
                        reply(sender, &stanza, DefinedCondition::ServiceUnavailable, out);
                    }
                }
                (Stanza::Iq(iq), _) if iq.kind().is_request() => {
                    if let Some(sender) = sender {
                        reply(sender, &stanza, DefinedCondition::ServiceUnavailable, out);
                    }
                }
                _ => {}
            }
        }
    }

    /// RFC 6121 §8.5.2: a stanza to a local bare JID.
    fn deliver_to_bare(
        &mut self,
        from: SessionId,
        to: &BareJid,
        stanza: Stanza,
        out: &mut Vec<Routed>,
    ) {
        match &stanza {
            Stanza::Message(m) => match m.kind() {
                MessageType::Normal | MessageType::Chat => {
                    let targets = self.best_resources(to);
                    if targets.is_empty() {
                        self.offline_message(from, to, stanza, out);
                    } else {
                        let el = stanza.into_element();
                        for t in targets {
                            deliver(t, el.clone(), out);
                        }
                    }
                }
                MessageType::Headline => {
                    let el = stanza.into_element();
                    for t in self.available_resources(to) {
                        deliver(t, el.clone(), out);
                    }
                }
                MessageType::Groupchat => {
                    reply(from, &stanza, DefinedCondition::ServiceUnavailable, out)
                }
                MessageType::Error => {}
            },
            Stanza::Presence(_) => {
                let el = stanza.into_element();
                for t in self.available_resources(to) {
                    deliver(t, el.clone(), out);
                }
            }
            Stanza::Iq(iq) => self.account_answer(from, to, iq, out),
        }
    }

    /// RFC 6121 §8.5.3.2: a stanza to a local full JID nobody holds.
    fn deliver_to_missing_resource(
        &mut self,
        from: SessionId,
        to: &Jid,
        stanza: Stanza,
        out: &mut Vec<Routed>,
    ) {
        match &stanza {
            Stanza::Message(m) => match m.kind() {
                MessageType::Normal | MessageType::Chat => {
                    self.deliver_to_bare(from, &to.to_bare(), stanza, out)
                }
                MessageType::Groupchat => {
                    reply(from, &stanza, DefinedCondition::ServiceUnavailable, out)
                }
                MessageType::Headline | MessageType::Error => {}
            },
            Stanza::Presence(p) => {
                if matches!(
                    p.kind(),
                    PresenceType::Subscribe
                        | PresenceType::Subscribed
                        | PresenceType::Unsubscribe
                        | PresenceType::Unsubscribed
                ) {
                    self.deliver_to_bare(from, &to.to_bare(), stanza, out);
                }
            }
            Stanza::Iq(iq) => {
                if iq.kind().is_request() {
                    reply(from, &stanza, DefinedCondition::ServiceUnavailable, out);
                }
            }
        }
    }

    fn offline_message(
        &mut self,
        from: SessionId,
        to: &BareJid,
        stanza: Stanza,
        out: &mut Vec<Routed>,
    ) {
        match self.offline {
            OfflinePolicy::Reject => {
                reply(from, &stanza, DefinedCondition::ServiceUnavailable, out)
            }
            OfflinePolicy::Store => out.push(Routed::Offline {
                to: to.clone(),
                message: stanza.into_element(),
            }),
        }
    }

    /// RFC 6121 §4.2-§4.5: presence without `to` goes to the user's own
    /// available resources; an initial presence also gets theirs back.
    fn broadcast_own_presence(&mut self, from: SessionId, stanza: Stanza, out: &mut Vec<Routed>) {
        let Stanza::Presence(p) = &stanza else {
            return;
        };
        let kind = p.kind();
        let priority = p.priority();
        let Some(session) = self.sessions.get_mut(&from) else {
            return;
        };
        let account = session.jid.to_bare();
        match kind {
            PresenceType::Available => {
                let initial = session.presence.is_none();
                session.presence = Some(stanza.element().clone());
                session.priority = priority;
                let el = stanza.into_element();
                self.to_account_resources(&account, &el, None, out);
                if initial {
                    let others: Vec<Element> = self
                        .account_sessions(&account)
                        .filter(|(id, _)| *id != from)
                        .filter_map(|(_, s)| s.presence.clone())
                        .collect();
                    for presence in others {
                        deliver(from, presence, out);
                    }
                }
            }
            PresenceType::Unavailable => {
                let was_available = session.presence.take().is_some();
                if was_available {
                    let el = stanza.into_element();
                    self.to_account_resources(&account, &el, Some(from), out);
                }
            }
            // Subscriptions and probes need a `to`; errors are not routed.
            _ => {}
        }
    }

    /// Delivers `el` to every available resource of `account` except
    /// `skip`, with `to` set to each resource.
    pub(super) fn to_account_resources(
        &self,
        account: &BareJid,
        el: &Element,
        skip: Option<SessionId>,
        out: &mut Vec<Routed>,
    ) {
        for (id, s) in self.account_sessions(account) {
            if Some(id) != skip && s.is_available() {
                let mut copy = el.clone();
                copy.set_attr("to", s.jid.as_str());
                deliver(id, copy, out);
            }
        }
    }

    fn account_sessions(
        &self,
        account: &BareJid,
    ) -> impl Iterator<Item = (SessionId, &super::Session)> + '_ {
        self.by_account
            .get(account)
            .into_iter()
            .flatten()
            .filter_map(|id| self.sessions.get(id).map(|s| (*id, s)))
    }

    /// Available resources with non-negative priority.
    fn available_resources(&self, account: &BareJid) -> Vec<SessionId> {
        self.account_sessions(account)
            .filter(|(_, s)| s.is_available() && s.priority >= 0)
            .map(|(id, _)| id)
            .collect()
    }

    /// RFC 6121 §8.5.2.1.1: the available resource(s) with the highest
    /// non-negative priority.
    fn best_resources(&self, account: &BareJid) -> Vec<SessionId> {
        self.best_resources_except(account, None)
    }

    /// The available resources of `account` with the highest
    /// non-negative priority, leaving `except` out.
    fn best_resources_except(
        &self,
        account: &BareJid,
        except: Option<SessionId>,
    ) -> Vec<SessionId> {
        let candidates = || {
            self.account_sessions(account)
                .filter(move |(id, s)| s.is_available() && Some(*id) != except)
        };
        let best = candidates()
            .filter(|(_, s)| s.priority >= 0)
            .map(|(_, s)| s.priority)
            .max();
        match best {
            Some(best) => candidates()
                .filter(|(_, s)| s.priority == best)
                .map(|(id, _)| id)
                .collect(),
            None => Vec::new(),
        }
    }

    /// The server's own answers (to the bare domain).
    fn server_answer(&self, from: SessionId, stanza: &Stanza, out: &mut Vec<Routed>) {
        let Stanza::Iq(iq) = stanza else {
            return;
        };
        if !iq.kind().is_request() {
            return;
        }
        let payload = iq.payload();
        let answer = match payload.map(|p| (p.name(), p.ns())) {
            Some(("ping", ns::PING)) if iq.kind() == IqType::Get => Some(iq.make_result(None)),
            Some(("query", ns::DISCO_INFO))
                if iq.kind() == IqType::Get && payload.and_then(|p| p.attr("node")).is_none() =>
            {
                Some(iq.make_result(Some(self.disco_info("server", "im"))))
            }
            _ => None,
        };
        match answer {
            Some(a) => deliver(from, a, out),
            None => reply(from, stanza, DefinedCondition::ServiceUnavailable, out),
        }
    }

    /// RFC 6121 §8.5.2.1.3: IQs to an account are handled by the server on
    /// its behalf.
    fn account_answer(&self, from: SessionId, to: &BareJid, iq: &Iq, out: &mut Vec<Routed>) {
        if !iq.kind().is_request() {
            return;
        }
        let own = self.jid(from).is_some_and(|j| j.bare_str() == to.as_str());
        let payload = iq.payload();
        let answer = match payload.map(|p| (p.name(), p.ns())) {
            Some(("ping", ns::PING)) if iq.kind() == IqType::Get => Some(iq.make_result(None)),
            Some(("query", ns::DISCO_INFO)) if iq.kind() == IqType::Get => {
                Some(iq.make_result(Some(self.disco_info("account", "registered"))))
            }
            // No roster storage yet: the user's own roster is empty.
            Some(("query", ns::ROSTER)) if own && iq.kind() == IqType::Get => {
                Some(iq.make_result(Some(Element::builder("query", ns::ROSTER).build())))
            }
            _ => None,
        };
        match answer {
            Some(a) => deliver(from, a, out),
            None => out.push(Routed::Deliver {
                session: from,
                stanza: iq.make_error(&StanzaError::new(DefinedCondition::ServiceUnavailable)),
            }),
        }
    }

    fn disco_info(&self, category: &str, kind: &str) -> Element {
        let mut q = Element::builder("query", ns::DISCO_INFO).append(
            Element::builder("identity", ns::DISCO_INFO)
                .attr("category", category)
                .attr("type", kind),
        );
        let always = [ns::DISCO_INFO, ns::PING];
        for var in always
            .iter()
            .copied()
            .chain(self.features.iter().map(String::as_str))
        {
            q = q.append(Element::builder("feature", ns::DISCO_INFO).attr("var", var));
        }
        q.build()
    }
}

fn deliver(session: SessionId, stanza: Element, out: &mut Vec<Routed>) {
    out.push(Routed::Deliver { session, stanza });
}

/// Answers the sender with an error, unless the stanza is an error.
fn reply(from: SessionId, stanza: &Stanza, condition: DefinedCondition, out: &mut Vec<Routed>) {
    if stanza.element().attr("type") == Some("error") {
        return;
    }
    let err = StanzaError::new(condition);
    deliver(from, error_reply(stanza.element().as_ref(), &err), out);
}
