//! The delivery rules of RFC 6121 §8.5 for a local domain, presence
//! broadcast to the user's own resources (§4.2, §4.5), and the treatment
//! of stanzas that could not be delivered.

use super::{OfflinePolicy, Routed, Router, SessionId};
use crate::jid::{BareJid, JidRef};
use crate::stanza::{
    DefinedCondition, MessageType, PresenceType, Stanza, StanzaError, WireStanza, error_reply,
};
use crate::xml::Element;

/// What routing left to do with the stanza itself.
enum Outcome {
    /// Nothing: it was only read.
    Read,
    /// Hand it out for storage, for this account.
    Offline(BareJid),
    /// An IQ request for the server's services, to the domain (`None`) or
    /// on this account's behalf.
    ForServer(Option<BareJid>),
}

impl Router {
    /// Routes a stanza that `from` sent (its `from` already stamped by the
    /// `Server`), appending deliveries, error replies, storage and service
    /// requests to `out`.
    ///
    /// - No `to`: a presence is broadcast to the sender's own available
    ///   resources (its priority recorded); anything else is for the
    ///   sender's account.
    /// - Another domain: a component's, or with federation out as
    ///   [`Routed::Remote`] (never from [`REMOTE`](super::REMOTE): no
    ///   relaying between servers), else `remote-server-not-found`.
    /// - The domain itself: IQ requests are [`Routed::ForServer`]; other
    ///   stanzas are dropped (RFC 6121 §8.5.1 lets the server ignore them).
    /// - A bare JID: messages go to the highest non-negative priority
    ///   resource(s), or the offline policy; presences to every available
    ///   resource; IQ requests are [`Routed::ForServer`], on the account's
    ///   behalf.
    /// - A full JID: delivered if bound; otherwise messages fall back to
    ///   the bare JID and IQ requests get `service-unavailable`.
    ///
    /// Stanzas of type `error` are never answered with an error (RFC 6120
    /// §8.3.1). Addresses are looked up without copying them.
    ///
    /// Returns the stanza's element when routing only read it (deliveries
    /// carry their own serialization): its storage can be recycled
    /// (`Server::recycle`).
    pub fn route(
        &mut self,
        from: SessionId,
        stanza: Stanza,
        out: &mut Vec<Routed>,
    ) -> Option<Element> {
        let outcome = self.decide(from, &stanza, out);
        match (outcome, stanza) {
            (Outcome::Read, stanza) => Some(stanza.into_element()),
            (Outcome::Offline(to), stanza) => {
                out.push(Routed::Offline {
                    to,
                    message: stanza.into_element(),
                });
                None
            }
            (Outcome::ForServer(account), Stanza::Iq(iq)) => {
                out.push(Routed::ForServer { from, account, iq });
                None
            }
            (Outcome::ForServer(_), other) => Some(other.into_element()),
        }
    }

    /// Everything [`Router::route`] does that only reads the stanza; what
    /// needs it whole comes back as the outcome.
    fn decide(&mut self, from: SessionId, stanza: &Stanza, out: &mut Vec<Routed>) -> Outcome {
        let from_component = self.component_of.contains_key(&from);
        let from_remote = from == super::REMOTE && self.federation;
        if !from_component && !from_remote && !self.sessions.contains_key(&from) {
            return Outcome::Read;
        }
        if from_component && stanza.to().is_none() {
            // The component's server refuses these already; a component
            // has no account for one to belong to.
            self.reply(from, stanza, DefinedCondition::BadRequest, out);
            return Outcome::Read;
        }
        let Some(to) = stanza.to() else {
            return match stanza {
                Stanza::Presence(_) => {
                    self.broadcast_own_presence(from, stanza, out);
                    Outcome::Read
                }
                // For the sender's own account (RFC 6120 §10.3).
                _ => match self
                    .sessions
                    .get(&from)
                    .map(|s| s.jid.bare_str().to_owned())
                {
                    Some(account) => self.deliver_to_bare(from, &account, stanza, out),
                    None => Outcome::Read,
                },
            };
        };
        let to = match JidRef::parse(to) {
            Ok(to) => to,
            Err(_) => {
                self.reply(from, stanza, DefinedCondition::JidMalformed, out);
                return Outcome::Read;
            }
        };
        if to.domainpart() != self.domain.domainpart() {
            match self.components.get(to.domainpart()).copied() {
                Some(Some(component)) => self.deliver(component, stanza.element(), out),
                // Never relayed from one server to another.
                None if from_remote => {}
                None if self.federation => {
                    let domain = to.domainpart().to_owned();
                    if !self.push_remote(stanza.element(), domain, from, out) {
                        // No link can speak for a domain we do not serve.
                        self.reply(from, stanza, DefinedCondition::RemoteServerNotFound, out);
                    }
                }
                // Configured, not connected (RFC 6120 §10.4.3: the
                // service is there, not available now).
                Some(None) if !matches!(stanza, Stanza::Presence(_)) => {
                    self.reply(from, stanza, DefinedCondition::ServiceUnavailable, out);
                }
                Some(None) => {}
                None => self.reply(from, stanza, DefinedCondition::RemoteServerNotFound, out),
            }
            return Outcome::Read;
        }
        if to.localpart().is_none() {
            return match stanza {
                Stanza::Iq(iq) if iq.kind().is_request() => Outcome::ForServer(None),
                _ => Outcome::Read,
            };
        }
        if to.is_full() {
            if let Some(target) = self.by_jid.get(to.as_str()).copied() {
                self.deliver(target, stanza.element(), out);
                return Outcome::Read;
            }
            self.deliver_to_missing_resource(from, to.bare_str(), stanza, out)
        } else {
            self.deliver_to_bare(from, to.bare_str(), stanza, out)
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

    /// [`Router::undeliverable`] for stanzas that `failed` could not take:
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

    /// [`Router::undeliverable`] without trying other resources: for a
    /// stanza that was already handed to another resource and failed
    /// there too. Messages go to the offline policy (stored, or bounced
    /// to their sender), IQ requests get their error, the rest is
    /// dropped.
    pub fn bounce(&mut self, stanzas: Vec<Element>, out: &mut Vec<Routed>) {
        self.reroute(None, false, stanzas, out);
    }

    /// Answers the sender of a message the offline policy handed out as
    /// [`Routed::Offline`] with `service-unavailable` instead: for an
    /// application that has nowhere to store it, so that it is not lost
    /// without a word.
    pub fn refuse_offline(&mut self, message: Element, out: &mut Vec<Routed>) {
        let sender = self.sender_of(&message);
        if let (Some(sender), Ok(stanza)) = (sender, Stanza::from_element(message)) {
            self.reply(sender, &stanza, DefinedCondition::ServiceUnavailable, out);
        }
    }

    /// Answers the sender of `stanza` (a session of this router) with an
    /// error, unless the stanza is an error itself.
    pub fn refuse(
        &mut self,
        sender: SessionId,
        stanza: &Stanza,
        condition: DefinedCondition,
        out: &mut Vec<Routed>,
    ) {
        self.reply(sender, stanza, condition, out);
    }

    /// Serializes `el` for delivery to `session`; a stanza that cannot be
    /// serialized (it came from a peer, so it always can) is dropped.
    pub(crate) fn deliver(&mut self, session: SessionId, el: &Element, out: &mut Vec<Routed>) {
        if session == super::REMOTE {
            self.deliver_remote(el, out);
        } else if let Some(stanza) = self.wire(el) {
            out.push(Routed::Deliver { session, stanza });
        }
    }

    /// `el`, for another server, out to the domain of its `to`.
    fn deliver_remote(&mut self, el: &Element, out: &mut Vec<Routed>) {
        let domain = el
            .attr("to")
            .and_then(|to| JidRef::parse(to).ok())
            .map(|to| to.domainpart().to_owned());
        let (Some(domain), true) = (domain, self.federation) else {
            return;
        };
        self.push_remote(el, domain, super::REMOTE, out);
    }

    /// `el`, from `sender`, out as [`Routed::Remote`] to `domain`, on the
    /// link of the domain of ours it comes from; `false` if it comes from
    /// none of ours (no link can speak for it).
    fn push_remote(
        &mut self,
        el: &Element,
        domain: String,
        sender: SessionId,
        out: &mut Vec<Routed>,
    ) -> bool {
        let Some(local) = self.local_domain_of(el) else {
            return false;
        };
        if let Some(stanza) = self.wire(el) {
            out.push(Routed::Remote {
                domain,
                local,
                sender,
                stanza,
            });
        }
        true
    }

    /// Serializes once, into the reused buffer.
    pub(crate) fn wire(&mut self, el: &Element) -> Option<WireStanza> {
        self.scratch.clear();
        crate::xml::write_in_client_stream(&mut self.scratch, el).ok()?;
        Some(WireStanza::from_bytes(&self.scratch))
    }

    /// The domain of ours `el` comes from (its `from`'s domain: the main
    /// one or a service's), which a link to another server speaks for.
    fn local_domain_of(&self, el: &Element) -> Option<String> {
        let from = JidRef::parse(el.attr("from")?).ok()?;
        let domain = from.domainpart();
        let ours = domain == self.domain.domainpart() || self.components.contains_key(domain);
        ours.then(|| domain.to_owned())
    }

    /// The session to answer about `el`, if any (see `sender_of`).
    pub(crate) fn sender(&self, el: &Element) -> Option<SessionId> {
        self.sender_of(el)
    }

    /// The session to answer about `el`: the local one that sent it, or
    /// [`REMOTE`](super::REMOTE) for a sender on another server.
    fn sender_of(&self, el: &Element) -> Option<SessionId> {
        let from = el.attr("from")?;
        if let Some(session) = self.by_jid.get(from) {
            return Some(*session);
        }
        let remote = self.federation
            && JidRef::parse(from).is_ok_and(|f| {
                f.domainpart() != self.domain.domainpart()
                    && !self.components.contains_key(f.domainpart())
            });
        remote.then_some(super::REMOTE)
    }

    fn reroute(
        &mut self,
        failed: Option<SessionId>,
        redistribute: bool,
        stanzas: Vec<Element>,
        out: &mut Vec<Routed>,
    ) {
        for el in stanzas {
            let sender = self.sender_of(&el);
            let Ok(stanza) = Stanza::from_element(el) else {
                continue;
            };
            let account = stanza
                .to()
                .and_then(|t| JidRef::parse(t).ok())
                .map(|t| t.to_bare());
            match (&stanza, account) {
                (Stanza::Message(m), Some(account))
                    if matches!(m.kind(), MessageType::Normal | MessageType::Chat) =>
                {
                    if redistribute {
                        self.best_resources_except(account.as_str(), failed);
                    } else {
                        self.targets.clear();
                    }
                    if !self.targets.is_empty() {
                        self.deliver_to_targets(stanza.element(), out);
                    } else if self.offline == OfflinePolicy::Store {
                        out.push(Routed::Offline {
                            to: account,
                            message: stanza.into_element(),
                        });
                    } else if let Some(sender) = sender {
                        self.reply(sender, &stanza, DefinedCondition::ServiceUnavailable, out);
                    }
                }
                (Stanza::Iq(iq), _) if iq.kind().is_request() => {
                    if let Some(sender) = sender {
                        self.reply(sender, &stanza, DefinedCondition::ServiceUnavailable, out);
                    }
                }
                _ => {}
            }
        }
    }

    /// Delivers one serialization of `el` to every session the last
    /// target search found (`self.targets`).
    fn deliver_to_targets(&mut self, el: &Element, out: &mut Vec<Routed>) {
        if self.targets.is_empty() {
            return;
        }
        let Some(stanza) = self.wire(el) else {
            return;
        };
        for &session in &self.targets {
            out.push(Routed::Deliver {
                session,
                stanza: stanza.clone(),
            });
        }
    }

    /// RFC 6121 §8.5.2: a stanza to a local bare JID.
    fn deliver_to_bare(
        &mut self,
        from: SessionId,
        to: &str,
        stanza: &Stanza,
        out: &mut Vec<Routed>,
    ) -> Outcome {
        match stanza {
            Stanza::Message(m) => match m.kind() {
                MessageType::Normal | MessageType::Chat => {
                    self.best_resources_except(to, None);
                    if self.targets.is_empty() {
                        return self.offline_message(from, to, stanza, out);
                    }
                    self.deliver_to_targets(stanza.element(), out);
                }
                MessageType::Headline => {
                    self.available_resources(to);
                    self.deliver_to_targets(stanza.element(), out);
                }
                MessageType::Groupchat => {
                    self.reply(from, stanza, DefinedCondition::ServiceUnavailable, out)
                }
                MessageType::Error => {}
            },
            Stanza::Presence(_) => {
                self.available_resources(to);
                self.deliver_to_targets(stanza.element(), out);
            }
            Stanza::Iq(iq) if iq.kind().is_request() => {
                return Outcome::ForServer(BareJid::new(to).ok());
            }
            Stanza::Iq(_) => {}
        }
        Outcome::Read
    }

    /// RFC 6121 §8.5.3.2: a stanza to a local full JID nobody holds.
    fn deliver_to_missing_resource(
        &mut self,
        from: SessionId,
        account: &str,
        stanza: &Stanza,
        out: &mut Vec<Routed>,
    ) -> Outcome {
        match stanza {
            Stanza::Message(m) => match m.kind() {
                MessageType::Normal | MessageType::Chat => {
                    return self.deliver_to_bare(from, account, stanza, out);
                }
                MessageType::Groupchat => {
                    self.reply(from, stanza, DefinedCondition::ServiceUnavailable, out)
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
                    return self.deliver_to_bare(from, account, stanza, out);
                }
            }
            Stanza::Iq(iq) => {
                if iq.kind().is_request() {
                    self.reply(from, stanza, DefinedCondition::ServiceUnavailable, out);
                }
            }
        }
        Outcome::Read
    }

    /// A message for an account with no available resource: stored, or
    /// refused.
    fn offline_message(
        &mut self,
        from: SessionId,
        to: &str,
        stanza: &Stanza,
        out: &mut Vec<Routed>,
    ) -> Outcome {
        match (self.offline, BareJid::new(to)) {
            (OfflinePolicy::Store, Ok(to)) => Outcome::Offline(to),
            _ => {
                self.reply(from, stanza, DefinedCondition::ServiceUnavailable, out);
                Outcome::Read
            }
        }
    }

    /// RFC 6121 §4.2-§4.5: presence without `to` goes to the user's own
    /// available resources; an initial presence also gets theirs back.
    /// An available presence is copied into the session's record.
    fn broadcast_own_presence(&mut self, from: SessionId, stanza: &Stanza, out: &mut Vec<Routed>) {
        let Stanza::Presence(p) = stanza else {
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
                self.send_to_account_resources(account.as_str(), stanza.element(), None, out);
                if initial {
                    let others: Vec<Element> = self
                        .account_sessions(account.as_str())
                        .filter(|(id, _)| *id != from)
                        .filter_map(|(_, s)| s.presence.clone())
                        .collect();
                    for presence in &others {
                        self.deliver(from, presence, out);
                    }
                }
            }
            PresenceType::Unavailable => {
                let was_available = session.presence.take().is_some();
                if was_available {
                    self.send_to_account_resources(
                        account.as_str(),
                        stanza.element(),
                        Some(from),
                        out,
                    );
                }
            }
            // Subscriptions and probes need a `to`; errors are not routed.
            _ => {}
        }
    }

    /// Delivers `el` to every available resource of `account` except
    /// `skip`, with `to` set to each resource.
    pub(crate) fn send_to_account_resources(
        &mut self,
        account: &str,
        el: &Element,
        skip: Option<SessionId>,
        out: &mut Vec<Routed>,
    ) {
        let targets: Vec<(SessionId, String)> = self
            .account_sessions(account)
            .filter(|(id, s)| Some(*id) != skip && s.is_available())
            .map(|(id, s)| (id, s.jid.as_str().to_owned()))
            .collect();
        for (id, jid) in targets {
            let mut copy = el.clone();
            copy.set_attr("to", &jid);
            self.deliver(id, &copy, out);
        }
    }

    /// The available sessions of `account`, with their JID and last
    /// available presence.
    pub(crate) fn available(
        &self,
        account: &str,
    ) -> impl Iterator<Item = (SessionId, &crate::jid::FullJid, &Element)> + '_ {
        self.account_sessions(account)
            .filter_map(|(id, s)| s.presence.as_ref().map(|p| (id, &s.jid, p)))
    }

    /// Whether `session` has sent available presence (and not
    /// unavailable since).
    pub(crate) fn is_available(&self, session: SessionId) -> bool {
        self.sessions
            .get(&session)
            .is_some_and(|s| s.is_available())
    }

    fn account_sessions(
        &self,
        account: &str,
    ) -> impl Iterator<Item = (SessionId, &super::Session)> + '_ {
        self.by_account
            .get(account)
            .into_iter()
            .flatten()
            .filter_map(|id| self.sessions.get(id).map(|s| (*id, s)))
    }

    /// Available resources with non-negative priority, into `targets`.
    fn available_resources(&mut self, account: &str) {
        let mut targets = std::mem::take(&mut self.targets);
        targets.clear();
        targets.extend(
            self.account_sessions(account)
                .filter(|(_, s)| s.is_available() && s.priority >= 0)
                .map(|(id, _)| id),
        );
        self.targets = targets;
    }

    /// RFC 6121 §8.5.2.1.1: the available resources of `account` with the
    /// highest non-negative priority, leaving `except` out, into
    /// `targets`.
    fn best_resources_except(&mut self, account: &str, except: Option<SessionId>) {
        let mut targets = std::mem::take(&mut self.targets);
        targets.clear();
        let candidates = || {
            self.account_sessions(account)
                .filter(move |(id, s)| s.is_available() && Some(*id) != except)
        };
        let best = candidates()
            .filter(|(_, s)| s.priority >= 0)
            .map(|(_, s)| s.priority)
            .max();
        if let Some(best) = best {
            targets.extend(
                candidates()
                    .filter(|(_, s)| s.priority == best)
                    .map(|(id, _)| id),
            );
        }
        self.targets = targets;
    }

    /// Answers the sender with an error, unless the stanza is an error.
    fn reply(
        &mut self,
        from: SessionId,
        stanza: &Stanza,
        condition: DefinedCondition,
        out: &mut Vec<Routed>,
    ) {
        if stanza.element().attr("type") == Some("error") {
            return;
        }
        let err = StanzaError::new(condition);
        let reply = error_reply(stanza.element().as_ref(), &err);
        self.deliver(from, &reply, out);
    }
}
