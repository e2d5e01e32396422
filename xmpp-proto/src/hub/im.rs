//! Instant messaging for the local domain (RFC 6121): every account's
//! roster, the subscription state machine applied to presence
//! subscription stanzas from both ends, roster gets, sets and pushes,
//! and presence to contacts (broadcast, probes answered from who is
//! online, unavailable on logout, directed presence).
//!
//! Rosters live in the hub; the application restores them at start
//! ([`Hub::restore_roster`]) and keeps every change it is told about
//! ([`HubEvent::RosterChanged`]). Only accounts the hub knows (restored,
//! or logged in) get state: a stanza for a name nobody has cannot make
//! the server keep anything.

use std::collections::{BTreeMap, HashMap};

use super::{Hub, HubEvent, OfflineMessage};
use crate::jid::{BareJid, FullJid, JidRef};
use crate::roster::{Inbound, Outbound, RosterEntry, RosterItem, RosterQuery, Subscription};
use crate::router::{OfflinePolicy, REMOTE, Routed, SessionId};
use crate::stanza::{DefinedCondition, Iq, IqType, PresenceType, Stanza, StanzaError};
use crate::time::Time;
use crate::xml::{Element, ns};

/// How many contacts one roster may hold by default.
pub const DEFAULT_MAX_ROSTER_ITEMS: usize = 5_000;

/// How many requests from contacts not on the roster one account keeps
/// waiting by default.
pub const DEFAULT_MAX_PENDING_REQUESTS: usize = 500;

/// How many addresses one session's directed presence is remembered for.
const MAX_DIRECTED: usize = 1_000;

/// Every known account's roster.
#[derive(Debug)]
pub(super) struct Rosters {
    accounts: HashMap<BareJid, AccountRoster>,
    pub(super) max_items: usize,
    pub(super) max_requests: usize,
}

impl Default for Rosters {
    fn default() -> Self {
        Rosters {
            accounts: HashMap::new(),
            max_items: DEFAULT_MAX_ROSTER_ITEMS,
            max_requests: DEFAULT_MAX_PENDING_REQUESTS,
        }
    }
}

#[derive(Debug, Default)]
struct AccountRoster {
    version: u64,
    entries: BTreeMap<String, RosterEntry>,
}

impl AccountRoster {
    fn listed(&self) -> usize {
        self.entries.values().filter(|e| e.listed).count()
    }

    fn requests(&self) -> usize {
        self.entries.values().filter(|e| !e.listed).count()
    }
}

/// What a presence stanza from a session is to the IM layer.
enum PresenceKind {
    Subscription(Outbound),
    Broadcast { available: bool },
    Directed { available: bool },
    Other,
}

fn classify(stanza: &Stanza) -> PresenceKind {
    let Stanza::Presence(p) = stanza else {
        return PresenceKind::Other;
    };
    let to = stanza.to().is_some();
    match (p.kind(), to) {
        (PresenceType::Subscribe, true) => PresenceKind::Subscription(Outbound::Subscribe),
        (PresenceType::Subscribed, true) => PresenceKind::Subscription(Outbound::Subscribed),
        (PresenceType::Unsubscribe, true) => PresenceKind::Subscription(Outbound::Unsubscribe),
        (PresenceType::Unsubscribed, true) => PresenceKind::Subscription(Outbound::Unsubscribed),
        (PresenceType::Available, false) => PresenceKind::Broadcast { available: true },
        (PresenceType::Unavailable, false) => PresenceKind::Broadcast { available: false },
        (PresenceType::Available, true) => PresenceKind::Directed { available: true },
        (PresenceType::Unavailable, true) => PresenceKind::Directed { available: false },
        _ => PresenceKind::Other,
    }
}

pub(super) fn inbound_of(stanza: Outbound) -> Inbound {
    match stanza {
        Outbound::Subscribe => Inbound::Subscribe,
        Outbound::Unsubscribe => Inbound::Unsubscribe,
        Outbound::Subscribed => Inbound::Subscribed,
        Outbound::Unsubscribed => Inbound::Unsubscribed,
    }
}

fn presence_type(stanza: Inbound) -> &'static str {
    match stanza {
        Inbound::Subscribe => "subscribe",
        Inbound::Unsubscribe => "unsubscribe",
        Inbound::Subscribed => "subscribed",
        Inbound::Unsubscribed => "unsubscribed",
    }
}

pub(super) fn presence(from: &str, to: &str, kind: Option<&str>) -> Element {
    Element::builder("presence", ns::CLIENT)
        .attr("from", from)
        .attr("to", to)
        .attr_opt("type", kind)
        .build()
}

impl Hub {
    /// Restores `account`'s roster as the store kept it (at start, before
    /// sessions come): its version and entries. An account restored with
    /// no entries is known to exist, so requests to it are kept.
    pub fn restore_roster(&mut self, account: BareJid, version: u64, entries: Vec<RosterEntry>) {
        let roster = AccountRoster {
            version,
            entries: entries
                .into_iter()
                .map(|e| (e.item.jid.as_str().to_owned(), e))
                .collect(),
        };
        self.rosters.accounts.insert(account, roster);
    }

    /// Lets one roster hold at most `items` contacts and `requests`
    /// waiting requests from others (defaults
    /// [`DEFAULT_MAX_ROSTER_ITEMS`], [`DEFAULT_MAX_PENDING_REQUESTS`]);
    /// past them a roster set is refused with `not-allowed` and a request
    /// with `resource-constraint`.
    pub fn with_roster_limits(mut self, items: usize, requests: usize) -> Self {
        self.rosters.max_items = items;
        self.rosters.max_requests = requests;
        self
    }

    /// Delivers the messages kept for `session`'s account (the answer to
    /// [`HubEvent::OfflineWanted`]), each with a XEP-0203 `<delay/>`
    /// saying when it arrived. A session that is gone by then hands them
    /// back to be kept again, so none is lost.
    pub fn deliver_offline(
        &mut self,
        now: Time,
        session: SessionId,
        messages: Vec<OfflineMessage>,
    ) {
        let mut out = std::mem::take(&mut self.routed);
        let domain = self.router.domain().to_owned();
        for OfflineMessage { message, stamp } in messages {
            let delay = Element::builder("delay", ns::DELAY)
                .attr("from", &domain)
                .attr("stamp", &stamp);
            let message = message.with_child(delay);
            if self.router.is_bound(session) {
                self.router.deliver(session, &message, &mut out);
            } else {
                self.router.undeliverable(vec![message], &mut out);
            }
        }
        self.dispatch(now, &mut out, false);
        self.routed = out;
    }

    /// `account`'s roster entry for `contact` (a bare JID), if any.
    pub fn roster_entry(&self, account: &BareJid, contact: &str) -> Option<&RosterEntry> {
        self.rosters.accounts.get(account)?.entries.get(contact)
    }

    /// Tells the hub that `account` exists (with an empty roster unless
    /// one was restored): subscription requests for it are kept while it
    /// is offline. Accounts that log in are known from then on; a store
    /// that has rosters uses [`Hub::restore_roster`] instead.
    pub fn add_account(&mut self, account: &BareJid) {
        if !self.rosters.accounts.contains_key(account) {
            self.rosters
                .accounts
                .insert(account.clone(), AccountRoster::default());
        }
    }

    /// A stanza from `session`: the IM layer's share of the work. Returns
    /// the stanza if the router is to route it too.
    pub(super) fn im_stanza(
        &mut self,
        session: SessionId,
        stanza: Stanza,
        out: &mut Vec<Routed>,
    ) -> Option<Stanza> {
        let Some(jid) = self.router.jid(session).cloned() else {
            return Some(stanza);
        };
        match classify(&stanza) {
            PresenceKind::Subscription(kind) => {
                let to = stanza.to().and_then(|t| JidRef::parse(t).ok());
                let Some(to) = to.filter(|t| self.is_contact_domain(t.domainpart())) else {
                    // A component's domain, an unreachable one, or
                    // malformed: the router answers.
                    return Some(stanza);
                };
                let Ok(contact) = BareJid::new(to.bare_str()) else {
                    return Some(stanza);
                };
                if !self.outbound_subscription(&jid.to_bare(), &contact, kind, out) {
                    self.router
                        .refuse(session, &stanza, DefinedCondition::NotAllowed, out);
                }
                None
            }
            PresenceKind::Broadcast { available } => {
                let was_available = self.router.is_available(session);
                if available {
                    self.broadcast_presence(session, &jid, stanza.element(), !was_available, out);
                    let priority = match &stanza {
                        Stanza::Presence(p) => p.priority(),
                        _ => 0,
                    };
                    // §8.5.2.2.2: kept messages go to the first resource
                    // that comes online able to take messages.
                    if !was_available
                        && priority >= 0
                        && self.router.offline_policy() == OfflinePolicy::Store
                    {
                        self.events.push_back(HubEvent::OfflineWanted {
                            account: jid.to_bare(),
                            session,
                        });
                    }
                } else if was_available {
                    self.broadcast_unavailable(session, &jid, out);
                }
                Some(stanza)
            }
            PresenceKind::Directed { available } => {
                let target = stanza.to().unwrap_or_default().to_owned();
                let info = self.im_flags.entry(session).or_default();
                if available && info.directed.len() < MAX_DIRECTED {
                    info.directed.insert(target);
                } else if !available {
                    info.directed.remove(&target);
                }
                Some(stanza)
            }
            PresenceKind::Other => Some(stanza),
        }
    }

    /// A session of `jid` goes away while available: its contacts and
    /// those it sent directed presence to see it leave.
    pub(super) fn im_session_gone(&mut self, session: SessionId, out: &mut Vec<Routed>) {
        let Some(jid) = self.router.jid(session).cloned() else {
            return;
        };
        if self.router.is_available(session) {
            self.broadcast_unavailable(session, &jid, out);
        } else {
            self.directed_unavailable(session, &jid, out);
        }
    }

    /// A roster get or set from `session` (`iq` addressed to its own
    /// account); the answer is appended to `out`.
    pub(super) fn roster_iq(&mut self, session: SessionId, iq: &Iq, out: &mut Vec<Routed>) {
        let Some(jid) = self.router.jid(session).cloned() else {
            return;
        };
        let account = jid.to_bare();
        self.add_account(&account);
        let answer = match iq.kind() {
            IqType::Get => {
                self.im_flags.entry(session).or_default().interested = true;
                self.roster_result(&account, iq)
            }
            IqType::Set => self.roster_set(&account, iq, out),
            _ => return,
        };
        self.router.deliver(session, &answer, out);
    }

    fn roster_result(&self, account: &BareJid, iq: &Iq) -> Element {
        let Some(roster) = self.rosters.accounts.get(account) else {
            return iq.make_result(None);
        };
        let version = roster.version.to_string();
        let asked = iq.payload().and_then(|q| q.attr("ver"));
        if asked == Some(version.as_str()) {
            // Up to date (RFC 6121 §2.6.3).
            return iq.make_result(None);
        }
        let query = RosterQuery {
            ver: Some(version),
            items: roster
                .entries
                .values()
                .filter(|e| e.listed)
                .map(|e| e.item.clone())
                .collect(),
        };
        iq.make_result(Some(query.to_element()))
    }

    fn roster_set(&mut self, account: &BareJid, iq: &Iq, out: &mut Vec<Routed>) -> Element {
        let error = |condition| iq.make_error(&StanzaError::new(condition));
        let parsed = iq.payload().map(RosterQuery::from_element);
        let Some(Ok(RosterQuery { mut items, .. })) = parsed else {
            return error(DefinedCondition::BadRequest);
        };
        if items.len() != 1 {
            return error(DefinedCondition::BadRequest);
        }
        let item = items.remove(0);
        let contact = item.jid.clone();
        if item.subscription == Subscription::Remove {
            return match self.remove_contact(account, &contact, out) {
                true => iq.make_result(None),
                false => error(DefinedCondition::ItemNotFound),
            };
        }
        let roster = self.rosters.accounts.entry(account.clone()).or_default();
        let existing = roster.entries.get(contact.as_str()).cloned();
        let listed = existing.as_ref().is_some_and(|e| e.listed);
        if !listed && roster.listed() >= self.rosters.max_items {
            return error(DefinedCondition::NotAllowed);
        }
        // Only the name and groups are the client's to set (§2.1.2.5).
        let mut entry =
            existing.unwrap_or_else(|| RosterEntry::new(RosterItem::new(contact.clone())));
        entry.listed = true;
        entry.item.name = item.name;
        entry.item.groups = item.groups;
        self.commit(account, entry, out);
        iq.make_result(None)
    }

    /// Removes `contact` from `account`'s roster, ending subscriptions
    /// both ways first (§2.5.2); `false` if it was not there.
    fn remove_contact(
        &mut self,
        account: &BareJid,
        contact: &BareJid,
        out: &mut Vec<Routed>,
    ) -> bool {
        let Some(entry) = self.entry(account, contact.as_str()).filter(|e| e.listed) else {
            return false;
        };
        let state = entry.state();
        if state.to || state.pending_out {
            self.send_subscription(account, contact, Outbound::Unsubscribe, out);
        }
        if state.from || state.pending_in {
            self.send_subscription(account, contact, Outbound::Unsubscribed, out);
            self.unavailable_to(account, contact, out);
        }
        let Some(roster) = self.rosters.accounts.get_mut(account) else {
            return true;
        };
        roster.entries.remove(contact.as_str());
        roster.version += 1;
        let version = roster.version;
        let mut removed = RosterItem::new(contact.clone());
        removed.subscription = Subscription::Remove;
        self.push(account, version, &removed, out);
        self.events.push_back(HubEvent::RosterChanged {
            account: account.clone(),
            version,
            contact: contact.clone(),
            entry: None,
        });
        true
    }

    pub(super) fn entry(&self, account: &BareJid, contact: &str) -> Option<RosterEntry> {
        self.rosters
            .accounts
            .get(account)?
            .entries
            .get(contact)
            .cloned()
    }

    /// Stores a changed entry: a new version if the user sees it, the
    /// application told, the user's interested resources pushed. An
    /// entry with nothing left that the user never listed is forgotten.
    fn commit(&mut self, account: &BareJid, entry: RosterEntry, out: &mut Vec<Routed>) {
        let Some(roster) = self.rosters.accounts.get_mut(account) else {
            return;
        };
        let contact = entry.item.jid.clone();
        let visible = entry.listed
            || roster
                .entries
                .get(contact.as_str())
                .is_some_and(|old| old.listed);
        if visible {
            roster.version += 1;
        }
        let version = roster.version;
        let keep = entry.listed || !entry.state().is_none();
        let stored = keep.then(|| entry.clone());
        match &stored {
            Some(entry) => roster
                .entries
                .insert(contact.as_str().to_owned(), entry.clone()),
            None => roster.entries.remove(contact.as_str()),
        };
        if visible && entry.listed {
            self.push(account, version, &entry.item, out);
        }
        self.events.push_back(HubEvent::RosterChanged {
            account: account.clone(),
            version,
            contact,
            entry: stored.map(Box::new),
        });
    }

    /// A roster push of `item` to every resource of `account` that asked
    /// for the roster (§2.1.6).
    fn push(&mut self, account: &BareJid, version: u64, item: &RosterItem, out: &mut Vec<Routed>) {
        let query = Element::builder("query", ns::ROSTER)
            .attr("ver", version.to_string())
            .append(item.to_element())
            .build();
        self.push_to(account, |flags| flags.interested, &query, out);
    }

    /// A subscription stanza `kind` from `user` to the local `contact`
    /// (RFC 6121 §3, Appendix A.2); `false` if the user's roster has no
    /// room for the contact.
    fn outbound_subscription(
        &mut self,
        user: &BareJid,
        contact: &BareJid,
        kind: Outbound,
        out: &mut Vec<Routed>,
    ) -> bool {
        if user == contact {
            return true;
        }
        self.add_account(user);
        let existing = self.entry(user, contact.as_str());
        let adds = matches!(kind, Outbound::Subscribe | Outbound::Subscribed)
            && !existing.as_ref().is_some_and(|e| e.listed);
        if adds {
            let full = self
                .rosters
                .accounts
                .get(user)
                .is_some_and(|r| r.listed() >= self.rosters.max_items);
            if full {
                return false;
            }
        }
        let mut entry =
            existing.unwrap_or_else(|| RosterEntry::new(RosterItem::new(contact.clone())));
        let transition = entry.state().outbound(kind);
        if transition.changed || adds {
            entry.set_state(transition.state);
            entry.listed |= adds;
            self.commit(user, entry, out);
        }
        if transition.forward {
            self.deliver_subscription(user, contact, inbound_of(kind), out);
        }
        match kind {
            Outbound::Subscribed if transition.changed && transition.state.from => {
                self.available_to(user, contact, out);
            }
            Outbound::Unsubscribed if transition.forward => self.unavailable_to(user, contact, out),
            _ => {}
        }
        true
    }

    /// Sends a subscription stanza in `user`'s name, as if one of its
    /// clients had (for a roster removal).
    fn send_subscription(
        &mut self,
        user: &BareJid,
        contact: &BareJid,
        kind: Outbound,
        out: &mut Vec<Routed>,
    ) {
        let Some(mut entry) = self.entry(user, contact.as_str()) else {
            return;
        };
        let transition = entry.state().outbound(kind);
        entry.set_state(transition.state);
        if let Some(roster) = self.rosters.accounts.get_mut(user) {
            roster.entries.insert(contact.as_str().to_owned(), entry);
        }
        if transition.forward && self.is_contact_domain(contact.domainpart()) {
            self.deliver_subscription(user, contact, inbound_of(kind), out);
        }
    }

    /// The local `contact`'s server side of a subscription stanza from
    /// `sender` (Appendix A.3).
    pub(super) fn deliver_subscription(
        &mut self,
        sender: &BareJid,
        contact: &BareJid,
        kind: Inbound,
        out: &mut Vec<Routed>,
    ) {
        if self.is_remote_domain(contact.domainpart()) {
            // Its server applies the inbound side.
            let stanza = presence(sender.as_str(), contact.as_str(), Some(presence_type(kind)));
            self.router.deliver(REMOTE, &stanza, out);
            return;
        }
        let Some(roster) = self.rosters.accounts.get(contact) else {
            // Nobody by that name: nothing is kept, nothing answered
            // (§3.1.3 lets the server ignore it).
            return;
        };
        let existing = roster.entries.get(sender.as_str()).cloned();
        if kind == Inbound::Subscribe
            && existing.is_none()
            && roster.requests() >= self.rosters.max_requests
        {
            let error = Element::builder("presence", ns::CLIENT)
                .attr("from", contact.as_str())
                .attr("to", sender.as_str())
                .attr("type", "error")
                .append(
                    StanzaError::new(DefinedCondition::ResourceConstraint).to_element(ns::CLIENT),
                )
                .build();
            self.router
                .send_to_account_resources(sender.as_str(), &error, None, out);
            return;
        }
        let mut entry = existing.unwrap_or_else(|| RosterEntry {
            listed: false,
            ..RosterEntry::new(RosterItem::new(sender.clone()))
        });
        let transition = entry.state().inbound(kind);
        if transition.changed {
            entry.set_state(transition.state);
            self.commit(contact, entry, out);
        }
        if transition.forward {
            let stanza = presence(sender.as_str(), contact.as_str(), Some(presence_type(kind)));
            self.router
                .send_to_account_resources(contact.as_str(), &stanza, None, out);
        }
        if transition.auto_subscribed {
            // In the contact's name: the sender sees the contact now.
            self.deliver_subscription(contact, sender, Inbound::Subscribed, out);
            self.available_to(contact, sender, out);
        }
        if kind == Inbound::Unsubscribe && transition.changed {
            self.unavailable_to(contact, sender, out);
        }
    }

    /// The presence of each available resource of `user`, to every
    /// available resource of the local `contact`.
    fn available_to(&mut self, user: &BareJid, contact: &BareJid, out: &mut Vec<Routed>) {
        let presences: Vec<Element> = self
            .router
            .available(user.as_str())
            .map(|(_, _, p)| p.clone())
            .collect();
        for presence in presences {
            self.presence_to_contact(contact.as_str(), presence, out);
        }
    }

    /// Unavailable presence from each available resource of `user`, to
    /// every available resource of the local `contact`.
    fn unavailable_to(&mut self, user: &BareJid, contact: &BareJid, out: &mut Vec<Routed>) {
        let jids: Vec<String> = self
            .router
            .available(user.as_str())
            .map(|(_, jid, _)| jid.as_str().to_owned())
            .collect();
        for jid in jids {
            let gone = presence(&jid, contact.as_str(), Some("unavailable"));
            self.presence_to_contact(contact.as_str(), gone, out);
        }
    }

    /// Whether one of the two local accounts blocks the other (XEP-0191:
    /// then no presence passes between them).
    pub(super) fn either_blocks(&self, a: &str, b: &str) -> bool {
        self.blocks(a, b) || self.blocks(b, a)
    }

    /// The contacts of `account` that see its presence (`from` or
    /// `both`), local ones and, when federating, those of other servers,
    /// unless a block stands between them.
    fn watchers(&self, account: &BareJid) -> Vec<String> {
        self.rosters
            .accounts
            .get(account)
            .map(|r| {
                r.entries
                    .values()
                    .filter(|e| e.item.subscription.contact_sees_us())
                    .filter(|e| self.is_contact_domain(e.item.jid.domainpart()))
                    .map(|e| e.item.jid.as_str().to_owned())
                    .filter(|w| !self.either_blocks(account.as_str(), w))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Available presence from `session` (§4.2, §4.4): to the contacts
    /// that see it; on the first one, the session gets its contacts'
    /// presence (the answers to the probes, §4.3) and the requests waiting
    /// for it (§3.1.3).
    fn broadcast_presence(
        &mut self,
        session: SessionId,
        jid: &FullJid,
        el: &Element,
        initial: bool,
        out: &mut Vec<Routed>,
    ) {
        let account = jid.to_bare();
        for watcher in self.watchers(&account) {
            self.presence_to_contact(&watcher, el.clone(), out);
        }
        if !initial {
            return;
        }
        let Some(roster) = self.rosters.accounts.get(&account) else {
            return;
        };
        let (seen, waiting): (Vec<String>, Vec<String>) = {
            let seen = roster
                .entries
                .values()
                .filter(|e| e.item.subscription.we_see_contact())
                .map(|e| e.item.jid.as_str().to_owned())
                .collect();
            let waiting = roster
                .entries
                .values()
                .filter(|e| e.pending_in)
                .map(|e| e.item.jid.as_str().to_owned())
                .collect();
            (seen, waiting)
        };
        for contact in seen {
            if self.either_blocks(account.as_str(), &contact) {
                continue;
            }
            if self.probe_remote(&account, &contact, out) {
                continue;
            }
            let presences: Vec<Element> = self
                .router
                .available(&contact)
                .map(|(_, _, p)| p.clone())
                .collect();
            for mut p in presences {
                p.set_attr("to", jid.as_str());
                self.router.deliver(session, &p, out);
            }
        }
        for contact in waiting {
            if self.blocks(account.as_str(), &contact) {
                continue;
            }
            let request = presence(&contact, account.as_str(), Some("subscribe"));
            self.router.deliver(session, &request, out);
        }
    }

    /// `session` becomes unavailable: its contacts and those it sent
    /// directed presence to are told (§4.5).
    fn broadcast_unavailable(&mut self, session: SessionId, jid: &FullJid, out: &mut Vec<Routed>) {
        let account = jid.to_bare();
        for watcher in self.watchers(&account) {
            let gone = presence(jid.as_str(), &watcher, Some("unavailable"));
            self.presence_to_contact(&watcher, gone, out);
        }
        self.directed_unavailable(session, jid, out);
    }

    /// Those `session` sent directed presence to see it go (RFC 6121
    /// §4.6.3), whether or not it was available to its contacts: a room
    /// joined without initial presence, a component.
    fn directed_unavailable(&mut self, session: SessionId, jid: &FullJid, out: &mut Vec<Routed>) {
        let directed = self
            .im_flags
            .get_mut(&session)
            .map(|i| std::mem::take(&mut i.directed))
            .unwrap_or_default();
        for target in directed {
            let Ok(to) = JidRef::parse(&target) else {
                continue;
            };
            let gone = presence(jid.as_str(), &target, Some("unavailable"));
            if to.domainpart() != self.router.domain() {
                // A component (a room service among them) sees us go
                // too; other domains are not reachable.
                if let Some(component) = self.router.component_session(to.domainpart()) {
                    self.router.deliver(component, &gone, out);
                }
                continue;
            }
            match self.router.session(to.as_str()) {
                Some(target) if to.is_full() => self.router.deliver(target, &gone, out),
                _ => self
                    .router
                    .send_to_account_resources(to.bare_str(), &gone, None, out),
            }
        }
    }
}

/// Whether an IQ request is a roster get or set for the asker's own
/// account (the only roster a client may touch).
pub(super) fn is_own_roster_request(iq: &Iq, account: Option<&BareJid>, asker: &FullJid) -> bool {
    iq.payload().is_some_and(|p| p.is("query", ns::ROSTER))
        && account.is_some_and(|a| a.as_str() == asker.bare_str())
}
