//! A group chat service (XEP-0045) as a pure state machine: stanzas for
//! its domain go in, the stanzas it sends come out. Our server's hub runs
//! one on `conference.<domain>`; the same type behind a
//! [`Component`](crate::component::Component) serves rooms on any server.
//!
//! Rooms are created by their first join (the creator owns them; they
//! are open, unmoderated, semi-anonymous and go away when the last
//! occupant leaves). Occupants have nicknames, roles and affiliations;
//! messages go to everyone, with a bounded history sent on join (as much
//! as the join's `maxstanzas`, `maxchars`, `seconds` and `since` allow;
//! `maxchars` counts the stored size of each message), and the subject; private messages go between occupants; moderators kick,
//! admins ban and grant membership; owners make a room members-only or
//! password-protected (`muc#owner` form); rooms and the service answer
//! disco#info and disco#items. Occupant ids (XEP-0421) are given.
//!
//! ```
//! use xmpp_proto::muc::service::RoomService;
//! use xmpp_proto::stanza::Stanza;
//! use xmpp_proto::xml::Element;
//!
//! let mut rooms = RoomService::new("conference.example.com", [7; 16])?;
//! let join = Element::read_from(b"<presence xmlns='jabber:client' \
//!     from='juliet@example.com/balcony' to='tea@conference.example.com/juliet'>\
//!     <x xmlns='http://jabber.org/protocol/muc'/></presence>").unwrap();
//! let mut out = Vec::new();
//! rooms.handle(&Stanza::from_element(join).unwrap(), "2026-12-03T10:00:00Z", &mut out);
//! // Her own presence (created, status 110 and 201), then the subject.
//! assert_eq!(out.len(), 2);
//! assert_eq!(out[0].attr("to"), Some("juliet@example.com/balcony"));
//! # Ok::<(), xmpp_proto::jid::JidError>(())
//! ```

use std::collections::{BTreeMap, HashMap, VecDeque};

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::{Affiliation, DATA_FORMS, MUC_ADMIN, MUC_OWNER, OCCUPANT_ID, Role, status};
use crate::jid::{BareJid, Jid, JidError, JidErrorKind, JidPart, JidRef};
use crate::stanza::{
    DefinedCondition, Iq, IqType, MessageType, PresenceType, Stanza, StanzaError, error_reply,
};
use crate::xml::{Element, ElementRef, ns};

/// Limits of a room service; what a user can make it hold is bounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServiceLimits {
    /// Rooms at once (default 10,000); a join that would create more is
    /// refused with `resource-constraint`.
    pub rooms: usize,
    /// Occupants per room (default 1,000); more get `service-unavailable`.
    pub occupants: usize,
    /// Messages of history per room (default 20).
    pub history: usize,
    /// Bytes of history per room (default 64 KiB).
    pub history_bytes: usize,
}

impl Default for ServiceLimits {
    fn default() -> Self {
        ServiceLimits {
            rooms: 10_000,
            occupants: 1_000,
            history: 20,
            history_bytes: 64 * 1024,
        }
    }
}

/// One occupant, as the service keeps it.
#[derive(Clone, Debug)]
struct Seat {
    jid: Jid,
    role: Role,
    occupant_id: String,
    /// The last available presence it sent (for others to see).
    presence: Element,
}

/// One room.
#[derive(Debug)]
struct RoomState {
    jid: BareJid,
    seats: BTreeMap<String, Seat>,
    /// Nickname by full JID.
    nick_of: HashMap<String, String>,
    /// Affiliations by bare JID.
    affiliations: HashMap<String, Affiliation>,
    subject: Option<(String, Option<String>)>,
    history: VecDeque<(Element, String)>,
    history_bytes: usize,
    members_only: bool,
    password: Option<String>,
}

/// A group chat service. See the module documentation.
#[derive(Debug)]
pub struct RoomService {
    domain: String,
    secret: [u8; 16],
    limits: ServiceLimits,
    rooms: HashMap<String, RoomState>,
}

impl RoomService {
    /// A service for `domain` (`conference.example.com`); `secret` salts
    /// the occupant ids (XEP-0421), so that they do not reveal real JIDs
    /// (give it random bytes, the same across restarts for stable ids).
    ///
    /// # Errors
    /// If `domain` is not a domain.
    pub fn new(domain: &str, secret: [u8; 16]) -> Result<Self, JidError> {
        let jid = Jid::new(domain)?;
        if jid.localpart().is_some() || jid.resourcepart().is_some() {
            return Err(JidError::new(JidPart::Domainpart, JidErrorKind::Unexpected));
        }
        Ok(RoomService {
            domain: jid.domainpart().to_owned(),
            secret,
            limits: ServiceLimits::default(),
            rooms: HashMap::new(),
        })
    }

    /// Sets the limits.
    pub fn with_limits(mut self, limits: ServiceLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The service's domain.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// How many rooms exist.
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// The nicknames in room `name` (its localpart), if it exists.
    pub fn occupants(&self, name: &str) -> Option<impl Iterator<Item = &str>> {
        self.rooms
            .get(name)
            .map(|r| r.seats.keys().map(String::as_str))
    }

    /// A stanza for the service's domain, from a user (`from` a full
    /// JID, stamped by the user's server). What the service sends goes to
    /// `out`, each with `from` and `to` set. `stamp` is the current UTC
    /// time (XEP-0082), kept with history messages for their XEP-0203
    /// delay; without one (empty) no history is kept.
    pub fn handle(&mut self, stanza: &Stanza, stamp: &str, out: &mut Vec<Element>) {
        let (Some(from), Some(to)) = (stanza.from(), stanza.to()) else {
            return;
        };
        let (Ok(from), Ok(to)) = (Jid::new(from), JidRef::parse(to)) else {
            return;
        };
        if to.domainpart() != self.domain {
            return;
        }
        let Some(room) = to.localpart().map(str::to_owned) else {
            self.for_service(stanza, out);
            return;
        };
        let nick = to.resourcepart().map(str::to_owned);
        match (stanza, nick) {
            (Stanza::Presence(_), Some(nick)) => {
                self.presence(&room, &nick, &from, stanza, stamp, out)
            }
            (Stanza::Presence(_), None) => {}
            (Stanza::Message(m), None) => match m.kind() {
                MessageType::Groupchat => self.groupchat(&room, &from, stanza, stamp, out),
                MessageType::Error => {}
                _ => self.invitation(&room, &from, stanza, out),
            },
            (Stanza::Message(m), Some(nick)) => {
                if m.kind() != MessageType::Error {
                    self.private(&room, &nick, &from, stanza, out);
                }
            }
            (Stanza::Iq(iq), None) => self.room_iq(&room, &from, iq, out),
            (Stanza::Iq(iq), Some(_)) => {
                if iq.kind().is_request() {
                    refuse(stanza, DefinedCondition::ServiceUnavailable, out);
                }
            }
        }
    }

    /// disco#info and #items on the service itself.
    fn for_service(&self, stanza: &Stanza, out: &mut Vec<Element>) {
        let Stanza::Iq(iq) = stanza else {
            return;
        };
        if iq.kind() != IqType::Get {
            if iq.kind().is_request() {
                refuse(stanza, DefinedCondition::ServiceUnavailable, out);
            }
            return;
        }
        match iq.payload().map(|p| (p.name(), p.ns())) {
            Some(("query", ns::DISCO_INFO)) => {
                let query = disco_info("Chatrooms", &[ns::MUC, ns::DISCO_INFO, ns::DISCO_ITEMS]);
                out.push(iq.make_result(Some(query)));
            }
            Some(("query", ns::DISCO_ITEMS)) => {
                let mut names: Vec<&RoomState> = self
                    .rooms
                    .values()
                    .filter(|r| !r.members_only && r.password.is_none())
                    .collect();
                names.sort_by(|a, b| a.jid.as_str().cmp(b.jid.as_str()));
                let mut query = Element::builder("query", ns::DISCO_ITEMS);
                for room in names {
                    query = query.append(
                        Element::builder("item", ns::DISCO_ITEMS).attr("jid", room.jid.as_str()),
                    );
                }
                out.push(iq.make_result(Some(query.build())));
            }
            _ => refuse(stanza, DefinedCondition::ServiceUnavailable, out),
        }
    }

    fn presence(
        &mut self,
        room: &str,
        nick: &str,
        from: &Jid,
        stanza: &Stanza,
        stamp: &str,
        out: &mut Vec<Element>,
    ) {
        let Stanza::Presence(p) = stanza else {
            return;
        };
        let seated = self
            .rooms
            .get(room)
            .and_then(|r| r.nick_of.get(from.as_str()).cloned());
        match (p.kind(), seated) {
            (PresenceType::Available, None) => self.join(room, nick, from, stanza, stamp, out),
            (PresenceType::Available, Some(current)) if current == nick => {
                let Some(state) = self.rooms.get_mut(room) else {
                    return;
                };
                if let Some(seat) = state.seats.get_mut(nick) {
                    seat.presence = stanza.element().clone();
                }
                broadcast_presence(state, nick, &[], out);
            }
            (PresenceType::Available, Some(current)) => {
                self.change_nick(room, &current, nick, stanza, out)
            }
            (PresenceType::Unavailable | PresenceType::Error, Some(current)) => {
                let text = p.status().map(|s| s.into_owned());
                self.leave(room, &current, &[], None, text.as_deref(), out);
            }
            _ => {}
        }
    }

    fn join(
        &mut self,
        room: &str,
        nick: &str,
        from: &Jid,
        stanza: &Stanza,
        stamp: &str,
        out: &mut Vec<Element>,
    ) {
        let bare = from.bare_str().to_owned();
        let created = !self.rooms.contains_key(room);
        if created {
            if self.rooms.len() >= self.limits.rooms {
                refuse(stanza, DefinedCondition::ResourceConstraint, out);
                return;
            }
            let Ok(jid) = BareJid::new(&format!("{room}@{}", self.domain)) else {
                refuse(stanza, DefinedCondition::JidMalformed, out);
                return;
            };
            let mut affiliations = HashMap::new();
            affiliations.insert(bare.clone(), Affiliation::Owner);
            self.rooms.insert(
                room.to_owned(),
                RoomState {
                    jid,
                    seats: BTreeMap::new(),
                    nick_of: HashMap::new(),
                    affiliations,
                    subject: None,
                    history: VecDeque::new(),
                    history_bytes: 0,
                    members_only: false,
                    password: None,
                },
            );
        }
        let occupant_id = self.occupant_id(room, &bare);
        let limits = self.limits;
        let Some(state) = self.rooms.get_mut(room) else {
            return;
        };
        let affiliation = state.affiliation(&bare);
        let offered = stanza
            .element()
            .child("x", ns::MUC)
            .and_then(|x| x.child("password", ns::MUC))
            .map(|p| p.text().into_owned());
        let refusal = if affiliation == Affiliation::Outcast {
            Some(DefinedCondition::Forbidden)
        } else if state.seats.contains_key(nick) {
            // One seat per nickname: another device of the same account
            // takes another nickname (no multi-session nicknames yet).
            Some(DefinedCondition::Conflict)
        } else if state.members_only && affiliation == Affiliation::None {
            Some(DefinedCondition::RegistrationRequired)
        } else if state.password.is_some()
            && offered != state.password
            && !matches!(affiliation, Affiliation::Owner | Affiliation::Admin)
        {
            Some(DefinedCondition::NotAuthorized)
        } else if state.seats.len() >= limits.occupants {
            Some(DefinedCondition::ServiceUnavailable)
        } else {
            None
        };
        if let Some(condition) = refusal {
            refuse(stanza, condition, out);
            return;
        }
        let role = match affiliation {
            Affiliation::Owner | Affiliation::Admin => Role::Moderator,
            _ => Role::Participant,
        };
        // Everyone already there, as the newcomer sees them.
        for (other, seat) in &state.seats {
            out.push(occupant_presence(
                state,
                other,
                seat,
                from.as_str(),
                role,
                &[],
            ));
        }
        state.seats.insert(
            nick.to_owned(),
            Seat {
                jid: from.clone(),
                role,
                occupant_id,
                presence: strip_muc(stanza.element()),
            },
        );
        state
            .nick_of
            .insert(from.as_str().to_owned(), nick.to_owned());
        let mut own = vec![status::SELF];
        if created {
            own.push(status::CREATED);
        }
        broadcast_presence(state, nick, &own, out);
        let wanted = stanza
            .element()
            .child("x", ns::MUC)
            .and_then(|x| x.child("history", ns::MUC));
        let number = |name: &str| {
            wanted
                .and_then(|h| h.attr(name))
                .and_then(|n| n.parse::<u64>().ok())
        };
        let max =
            number("maxstanzas").map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
        let max_chars =
            number("maxchars").map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
        // The oldest stamp wanted: `since`, or `seconds` before now.
        let since = wanted.and_then(|h| h.attr("since")).and_then(epoch_seconds);
        let recent = number("seconds")
            .zip(epoch_seconds(stamp))
            .map(|(seconds, now)| now - i64::try_from(seconds).unwrap_or(i64::MAX / 2));
        let oldest = since.max(recent);
        // Newest first until a limit is reached, then sent oldest first.
        let mut chosen = Vec::new();
        let mut chars = 0usize;
        for (message, at) in state.history.iter().rev() {
            if chosen.len() >= max {
                break;
            }
            if oldest.is_some_and(|oldest| epoch_seconds(at).is_none_or(|t| t < oldest)) {
                break;
            }
            chars = chars.saturating_add(message.tree.stored_bytes());
            if chars > max_chars {
                break;
            }
            chosen.push((message, at));
        }
        for (message, stamp) in chosen.into_iter().rev() {
            let mut m = message.clone();
            m.set_attr("to", from.as_str());
            out.push(
                m.with_child(
                    Element::builder("delay", ns::DELAY)
                        .attr("from", state.jid.as_str())
                        .attr("stamp", stamp)
                        .build(),
                ),
            );
        }
        // The subject always comes last, empty if none (§7.2.15).
        let (subject, by) = state.subject.clone().unwrap_or_default();
        let from_subject = match &by {
            Some(by) => format!("{}/{by}", state.jid.as_str()),
            None => state.jid.as_str().to_owned(),
        };
        out.push(
            Element::builder("message", ns::CLIENT)
                .attr("from", &from_subject)
                .attr("to", from.as_str())
                .attr("type", "groupchat")
                .append(Element::builder("subject", ns::CLIENT).text(&subject))
                .build(),
        );
    }

    fn change_nick(
        &mut self,
        room: &str,
        old: &str,
        new: &str,
        stanza: &Stanza,
        out: &mut Vec<Element>,
    ) {
        let Some(state) = self.rooms.get_mut(room) else {
            return;
        };
        let Some(seat) = state.seats.get(old) else {
            return;
        };
        if state.seats.contains_key(new) {
            refuse(stanza, DefinedCondition::Conflict, out);
            return;
        }
        // Unavailable under the old name with 303 and the new one...
        for (other, viewer) in &state.seats {
            let mut codes = vec![status::NEW_NICK];
            if other == old {
                codes.push(status::SELF);
            }
            let to = viewer.jid.as_str();
            let mut p = occupant_presence(state, old, seat, to, viewer.role, &codes);
            p.set_attr("type", "unavailable");
            out.push(with_new_nick(p, new));
        }
        // ...then available under the new one.
        let Some(mut seat) = state.seats.remove(old) else {
            return;
        };
        seat.presence = strip_muc(stanza.element());
        state
            .nick_of
            .insert(seat.jid.as_str().to_owned(), new.to_owned());
        state.seats.insert(new.to_owned(), seat);
        broadcast_presence(state, new, &[status::SELF], out);
    }

    /// `nick` leaves (or is removed): everyone, `nick` included, is told
    /// with `codes` (110 added for `nick` itself); an empty room goes.
    fn leave(
        &mut self,
        room: &str,
        nick: &str,
        codes: &[u16],
        actor: Option<(&str, Option<&str>)>,
        text: Option<&str>,
        out: &mut Vec<Element>,
    ) {
        let Some(state) = self.rooms.get_mut(room) else {
            return;
        };
        let Some(seat) = state.seats.get(nick).cloned() else {
            return;
        };
        let mut gone = seat.clone();
        gone.role = Role::None;
        for (other, viewer) in &state.seats {
            let mut all = codes.to_vec();
            if other == nick {
                all.push(status::SELF);
            }
            let to = viewer.jid.as_str();
            let mut p = occupant_presence(state, nick, &gone, to, viewer.role, &all);
            p.set_attr("type", "unavailable");
            if let Some((actor, reason)) = actor {
                p = with_actor(p, actor, reason);
            }
            if let Some(text) = text {
                p = p.with_child(Element::builder("status", ns::CLIENT).text(text).build());
            }
            out.push(p);
        }
        state.seats.remove(nick);
        state.nick_of.remove(seat.jid.as_str());
        if state.seats.is_empty() {
            self.rooms.remove(room);
        }
    }

    fn groupchat(
        &mut self,
        room: &str,
        from: &Jid,
        stanza: &Stanza,
        stamp: &str,
        out: &mut Vec<Element>,
    ) {
        let Some(state) = self.rooms.get_mut(room) else {
            refuse(stanza, DefinedCondition::ItemNotFound, out);
            return;
        };
        let Some(nick) = state.nick_of.get(from.as_str()).cloned() else {
            refuse(stanza, DefinedCondition::NotAcceptable, out);
            return;
        };
        let seat = &state.seats[&nick];
        let el = stanza.element();
        let subject = el
            .child("subject", ns::CLIENT)
            .map(|s| s.text().into_owned());
        let has_body = el.child("body", ns::CLIENT).is_some();
        if seat.role == Role::Visitor
            || (subject.is_some() && !has_body && seat.role != Role::Moderator)
        {
            refuse(stanza, DefinedCondition::Forbidden, out);
            return;
        }
        let sender = format!("{}/{nick}", state.jid.as_str());
        let occupant_id = seat.occupant_id.clone();
        // The room speaks for its occupant: no other sender's marks.
        let mut message = Element::builder("message", ns::CLIENT)
            .attr("from", &sender)
            .attr("type", "groupchat")
            .attr_opt("id", el.attr("id"));
        for child in el.children() {
            if child.is("occupant-id", OCCUPANT_ID) {
                continue;
            }
            message = message.append(child.to_owned());
        }
        let message = message
            .append(Element::builder("occupant-id", OCCUPANT_ID).attr("id", &occupant_id))
            .build();
        if let Some(subject) = subject.filter(|_| !has_body) {
            state.subject = Some((subject, Some(nick)));
        } else if !stamp.is_empty() {
            // What it holds, not its capacity: a clone has the same.
            let size = message.tree.stored_bytes();
            state.history.push_back((message.clone(), stamp.to_owned()));
            state.history_bytes += size;
            while state.history.len() > self.limits.history
                || state.history_bytes > self.limits.history_bytes
            {
                let Some((old, _)) = state.history.pop_front() else {
                    break;
                };
                state.history_bytes -= old.tree.stored_bytes();
            }
        }
        for seat in state.seats.values() {
            let mut copy = message.clone();
            copy.set_attr("to", seat.jid.as_str());
            out.push(copy);
        }
    }

    fn private(
        &mut self,
        room: &str,
        nick: &str,
        from: &Jid,
        stanza: &Stanza,
        out: &mut Vec<Element>,
    ) {
        let Some(state) = self.rooms.get(room) else {
            refuse(stanza, DefinedCondition::ItemNotFound, out);
            return;
        };
        let Some(sender) = state.nick_of.get(from.as_str()) else {
            refuse(stanza, DefinedCondition::NotAcceptable, out);
            return;
        };
        let Some(target) = state.seats.get(nick) else {
            refuse(stanza, DefinedCondition::ItemNotFound, out);
            return;
        };
        let mut message = stanza.element().clone();
        message.set_attr("from", &format!("{}/{sender}", state.jid.as_str()));
        message.set_attr("to", target.jid.as_str());
        if message.child("x", ns::MUC_USER).is_none() {
            message = message.with_child(Element::builder("x", ns::MUC_USER).build());
        }
        out.push(message);
    }

    /// A mediated invitation (§7.8.2): relayed to the invitee from the
    /// room.
    fn invitation(&mut self, room: &str, from: &Jid, stanza: &Stanza, out: &mut Vec<Element>) {
        let Some(state) = self.rooms.get(room) else {
            return;
        };
        if !state.nick_of.contains_key(from.as_str()) {
            return;
        }
        let Some(invite) = stanza
            .element()
            .child("x", ns::MUC_USER)
            .and_then(|x| x.child("invite", ns::MUC_USER))
        else {
            return;
        };
        let Some(to) = invite.attr("to").and_then(|t| Jid::new(t).ok()) else {
            return;
        };
        let mut relayed = Element::builder("invite", ns::MUC_USER).attr("from", from.as_str());
        if let Some(reason) = invite.child("reason", ns::MUC_USER) {
            relayed = relayed.append(reason.to_owned());
        }
        let mut x = Element::builder("x", ns::MUC_USER).append(relayed);
        if let Some(password) = &state.password {
            x = x.append(Element::builder("password", ns::MUC_USER).text(password));
        }
        out.push(
            Element::builder("message", ns::CLIENT)
                .attr("from", state.jid.as_str())
                .attr("to", to.as_str())
                .append(x)
                .build(),
        );
    }

    fn room_iq(&mut self, room: &str, from: &Jid, iq: &Iq, out: &mut Vec<Element>) {
        let stanza_ns = iq
            .payload()
            .map(|p| (p.name().to_owned(), p.ns().to_owned()));
        let Some(state) = self.rooms.get(room) else {
            if iq.kind().is_request() {
                out.push(iq.make_error(&StanzaError::new(DefinedCondition::ItemNotFound)));
            }
            return;
        };
        let affiliation = state.affiliation(from.bare_str());
        let role = state
            .nick_of
            .get(from.as_str())
            .and_then(|n| state.seats.get(n))
            .map_or(Role::None, |s| s.role);
        match (
            iq.kind(),
            stanza_ns.as_ref().map(|(n, s)| (n.as_str(), s.as_str())),
        ) {
            (IqType::Get, Some(("query", ns::DISCO_INFO))) => {
                let mut features = vec![ns::MUC, OCCUPANT_ID, "muc_semianonymous", "muc_temporary"];
                features.push(if state.members_only {
                    "muc_membersonly"
                } else {
                    "muc_open"
                });
                features.push(if state.password.is_some() {
                    "muc_passwordprotected"
                } else {
                    "muc_unsecured"
                });
                out.push(iq.make_result(Some(disco_info(room, &features))));
            }
            (IqType::Get, Some(("query", ns::DISCO_ITEMS))) => {
                out.push(iq.make_result(Some(Element::builder("query", ns::DISCO_ITEMS).build())));
            }
            (IqType::Set, Some(("query", MUC_ADMIN))) => {
                let Some(item) = iq.payload().and_then(|p| p.child("item", MUC_ADMIN)) else {
                    out.push(iq.make_error(&StanzaError::new(DefinedCondition::BadRequest)));
                    return;
                };
                let item = item.to_owned();
                self.admin(room, from, role, affiliation, iq, &item, out);
            }
            (IqType::Set, Some(("query", MUC_OWNER))) if affiliation == Affiliation::Owner => {
                let Some(state) = self.rooms.get_mut(room) else {
                    return;
                };
                if let Some(form) = iq.payload().and_then(|p| p.child("x", DATA_FORMS)) {
                    apply_config(state, form);
                }
                out.push(iq.make_result(None));
            }
            (IqType::Get, Some(("query", MUC_OWNER))) if affiliation == Affiliation::Owner => {
                out.push(iq.make_result(Some(config_form(state))));
            }
            (IqType::Get | IqType::Set, _) => {
                let condition = match stanza_ns.as_ref().map(|(_, s)| s.as_str()) {
                    Some(MUC_OWNER) => DefinedCondition::Forbidden,
                    _ => DefinedCondition::ServiceUnavailable,
                };
                out.push(iq.make_error(&StanzaError::new(condition)));
            }
            _ => {}
        }
    }

    /// `muc#admin`: kick (role none, moderators), ban (outcast) and
    /// membership (member, none) by admins and owners.
    #[allow(clippy::too_many_arguments)]
    fn admin(
        &mut self,
        room: &str,
        from: &Jid,
        role: Role,
        affiliation: Affiliation,
        iq: &Iq,
        item: &Element,
        out: &mut Vec<Element>,
    ) {
        let Some(state) = self.rooms.get(room) else {
            return;
        };
        let actor = state.nick_of.get(from.as_str()).cloned();
        let reason = item
            .child("reason", MUC_ADMIN)
            .map(|r| r.text().into_owned());
        let forbidden = |out: &mut Vec<Element>| {
            out.push(iq.make_error(&StanzaError::new(DefinedCondition::Forbidden)));
        };
        let admin = matches!(affiliation, Affiliation::Owner | Affiliation::Admin);
        if item.attr("role") == Some("none") {
            let Some(nick) = item.attr("nick") else {
                out.push(iq.make_error(&StanzaError::new(DefinedCondition::BadRequest)));
                return;
            };
            let Some(target) = state.seats.get(nick) else {
                out.push(iq.make_error(&StanzaError::new(DefinedCondition::ItemNotFound)));
                return;
            };
            // Moderators kick, but not those who rank above them.
            let target_rank = state.affiliation(target.jid.bare_str());
            if role != Role::Moderator
                || (matches!(target_rank, Affiliation::Owner | Affiliation::Admin) && !admin)
                || target_rank == Affiliation::Owner && affiliation != Affiliation::Owner
            {
                forbidden(out);
                return;
            }
            let nick = nick.to_owned();
            out.push(iq.make_result(None));
            let actor = actor.as_deref().unwrap_or_default();
            self.leave(
                room,
                &nick,
                &[status::KICKED],
                Some((actor, reason.as_deref())),
                None,
                out,
            );
            return;
        }
        let wanted = Affiliation::parse(item.attr("affiliation"));
        let Some(target) = item.attr("jid").and_then(|j| Jid::new(j).ok()) else {
            out.push(iq.make_error(&StanzaError::new(DefinedCondition::BadRequest)));
            return;
        };
        if !admin
            || !matches!(
                wanted,
                Affiliation::Outcast | Affiliation::Member | Affiliation::None
            )
            || state.affiliation(target.bare_str()) == Affiliation::Owner
        {
            forbidden(out);
            return;
        }
        let Some(state) = self.rooms.get_mut(room) else {
            return;
        };
        state
            .affiliations
            .insert(target.bare_str().to_owned(), wanted);
        out.push(iq.make_result(None));
        if wanted == Affiliation::Outcast {
            let banned: Vec<String> = state
                .seats
                .iter()
                .filter(|(_, s)| s.jid.bare_str() == target.bare_str())
                .map(|(n, _)| n.clone())
                .collect();
            let actor = actor.unwrap_or_default();
            for nick in banned {
                self.leave(
                    room,
                    &nick,
                    &[status::BANNED],
                    Some((&actor, reason.as_deref())),
                    None,
                    out,
                );
            }
        }
    }

    /// Checks what must always hold (for the fuzz target): every room
    /// has occupants, the nickname index matches the seats, history
    /// stays within its limits, and the number of rooms too.
    #[cfg(feature = "fuzzing")]
    pub(crate) fn check_invariants(&self) {
        assert!(self.rooms.len() <= self.limits.rooms);
        for (name, room) in &self.rooms {
            assert!(!room.seats.is_empty(), "room {name} is empty but kept");
            assert!(room.seats.len() <= self.limits.occupants);
            assert_eq!(
                room.seats.len(),
                room.nick_of.len(),
                "room {name}: index out of step"
            );
            for (jid, nick) in &room.nick_of {
                assert_eq!(room.seats[nick].jid.as_str(), jid);
            }
            assert!(room.history.len() <= self.limits.history);
            assert!(room.history_bytes <= self.limits.history_bytes);
        }
    }

    fn occupant_id(&self, room: &str, bare: &str) -> String {
        let mut hash = Sha256::new();
        hash.update(self.secret);
        hash.update(room.as_bytes());
        hash.update([0]);
        hash.update(bare.as_bytes());
        let digest = hash.finalize();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..12])
    }
}

impl RoomState {
    fn affiliation(&self, bare: &str) -> Affiliation {
        self.affiliations.get(bare).copied().unwrap_or_default()
    }
}

/// `nick`'s presence to everyone in the room (110 and `own` codes to
/// `nick` itself).
fn broadcast_presence(state: &RoomState, nick: &str, own: &[u16], out: &mut Vec<Element>) {
    let Some(seat) = state.seats.get(nick) else {
        return;
    };
    for (other, viewer) in &state.seats {
        let codes: &[u16] = if other == nick { own } else { &[] };
        let to = viewer.jid.as_str();
        out.push(occupant_presence(state, nick, seat, to, viewer.role, codes));
    }
}

/// The presence of occupant `nick` as `to` (whose role is `viewer`)
/// sees it: real JIDs only to moderators (semi-anonymous).
fn occupant_presence(
    state: &RoomState,
    nick: &str,
    seat: &Seat,
    to: &str,
    viewer: Role,
    codes: &[u16],
) -> Element {
    let mut p = seat.presence.clone();
    p.set_attr("from", &format!("{}/{nick}", state.jid.as_str()));
    p.set_attr("to", to);
    let mut item = Element::builder("item", ns::MUC_USER)
        .attr(
            "affiliation",
            state.affiliation(seat.jid.bare_str()).as_str(),
        )
        .attr("role", seat.role.as_str());
    if viewer == Role::Moderator || seat.jid.as_str() == to {
        item = item.attr("jid", seat.jid.as_str());
    }
    let mut x = Element::builder("x", ns::MUC_USER).append(item);
    for code in codes {
        x = x.append(Element::builder("status", ns::MUC_USER).attr("code", code.to_string()));
    }
    p.with_child(x.build()).with_child(
        Element::builder("occupant-id", OCCUPANT_ID)
            .attr("id", &seat.occupant_id)
            .build(),
    )
}

/// A user's presence without what it said to the room (`<x/>` with the
/// password), kept to show others.
fn strip_muc(el: &Element) -> Element {
    let mut p = Element::builder("presence", ns::CLIENT);
    for child in el.children() {
        if child.ns() == ns::MUC
            || child.ns() == ns::MUC_USER
            || child.is("occupant-id", OCCUPANT_ID)
        {
            continue;
        }
        p = p.append(child.to_owned());
    }
    p.build()
}

/// Adds `nick` to the muc#user item of a 303 presence.
fn with_new_nick(p: Element, nick: &str) -> Element {
    rewrite_item(p, |item| item.attr("nick", nick))
}

/// Adds the actor and the reason to the item.
fn with_actor(p: Element, actor: &str, reason: Option<&str>) -> Element {
    rewrite_item(p, |mut item| {
        if !actor.is_empty() {
            item = item.append(Element::builder("actor", ns::MUC_USER).attr("nick", actor));
        }
        if let Some(reason) = reason {
            item = item.append(Element::builder("reason", ns::MUC_USER).text(reason));
        }
        item
    })
}

/// `p` with its muc#user item rebuilt by `f`.
fn rewrite_item(
    p: Element,
    f: impl FnOnce(crate::xml::ElementBuilder) -> crate::xml::ElementBuilder,
) -> Element {
    let mut out = Element::builder("presence", ns::CLIENT);
    for attr in p.as_ref().attrs() {
        if attr.ns.is_empty() {
            out = out.attr(attr.name, attr.value);
        }
    }
    let mut f = Some(f);
    for child in p.children() {
        if child.is("x", ns::MUC_USER) {
            let mut x = Element::builder("x", ns::MUC_USER);
            for part in child.children() {
                if part.is("item", ns::MUC_USER) {
                    let mut item = Element::builder("item", ns::MUC_USER);
                    for attr in part.attrs() {
                        item = item.attr(attr.name, attr.value);
                    }
                    if let Some(f) = f.take() {
                        item = f(item);
                    }
                    x = x.append(item);
                } else {
                    x = x.append(part.to_owned());
                }
            }
            out = out.append(x);
        } else {
            out = out.append(child.to_owned());
        }
    }
    out.build()
}

/// Seconds since 1970 of a XEP-0082 UTC time (`2026-12-03T10:00:00Z`,
/// fractions and zone offsets ignored), or `None` if it is not one.
fn epoch_seconds(stamp: &str) -> Option<i64> {
    let b = stamp.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let number = |from: usize, to: usize| -> Option<i64> {
        let digits = stamp.get(from..to)?;
        if !digits.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    };
    let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
    let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    // Days from the civil date, counting years from March so that leap
    // days fall at a year's end.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some(days * 86_400 + hour * 3_600 + minute * 60 + second)
}

fn refuse(stanza: &Stanza, condition: DefinedCondition, out: &mut Vec<Element>) {
    if stanza.element().attr("type") == Some("error") {
        return;
    }
    out.push(error_reply(
        stanza.element().as_ref(),
        &StanzaError::new(condition),
    ));
}

fn disco_info(name: &str, features: &[&str]) -> Element {
    let mut q = Element::builder("query", ns::DISCO_INFO).append(
        Element::builder("identity", ns::DISCO_INFO)
            .attr("category", "conference")
            .attr("type", "text")
            .attr("name", name),
    );
    for var in features {
        q = q.append(Element::builder("feature", ns::DISCO_INFO).attr("var", *var));
    }
    q.build()
}

/// The room configuration fields this service understands.
const MEMBERS_ONLY: &str = "muc#roomconfig_membersonly";
const PASSWORD_PROTECTED: &str = "muc#roomconfig_passwordprotectedroom";
const SECRET: &str = "muc#roomconfig_roomsecret";

fn config_form(state: &RoomState) -> Element {
    let field = |var: &str, kind: &str, value: &str| {
        Element::builder("field", DATA_FORMS)
            .attr("var", var)
            .attr("type", kind)
            .append(Element::builder("value", DATA_FORMS).text(value))
    };
    let flag = |b: bool| if b { "1" } else { "0" };
    Element::builder("query", MUC_OWNER)
        .append(
            Element::builder("x", DATA_FORMS)
                .attr("type", "form")
                .append(field(
                    "FORM_TYPE",
                    "hidden",
                    "http://jabber.org/protocol/muc#roomconfig",
                ))
                .append(field(MEMBERS_ONLY, "boolean", flag(state.members_only)))
                .append(field(
                    PASSWORD_PROTECTED,
                    "boolean",
                    flag(state.password.is_some()),
                ))
                .append(field(
                    SECRET,
                    "text-private",
                    state.password.as_deref().unwrap_or(""),
                )),
        )
        .build()
}

/// An owner's submitted form: members-only and the password. An empty
/// submission (an instant room) changes nothing.
fn apply_config(state: &mut RoomState, form: ElementRef<'_>) {
    let value = |var: &str| {
        form.children()
            .find(|f| f.is("field", DATA_FORMS) && f.attr("var") == Some(var))
            .and_then(|f| f.child("value", DATA_FORMS))
            .map(|v| v.text().into_owned())
    };
    let truthy = |v: Option<String>| v.is_some_and(|v| v == "1" || v == "true");
    if let Some(v) = value(MEMBERS_ONLY) {
        state.members_only = truthy(Some(v));
    }
    let protected = value(PASSWORD_PROTECTED);
    let secret = value(SECRET).filter(|s| !s.is_empty());
    match (protected.map(|v| truthy(Some(v))), secret) {
        (Some(false), _) => state.password = None,
        (_, Some(secret)) => state.password = Some(secret),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::epoch_seconds;

    #[test]
    fn xep_0082_times_become_epoch_seconds() {
        assert_eq!(epoch_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(epoch_seconds("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(epoch_seconds("2002-09-10T23:08:25Z"), Some(1_031_699_305));
        assert_eq!(
            epoch_seconds("2002-09-10T23:08:25.123Z"),
            Some(1_031_699_305)
        );
        assert_eq!(epoch_seconds("2002-13-10T23:08:25Z"), None);
        assert_eq!(epoch_seconds("yesterday"), None);
        assert_eq!(epoch_seconds(""), None);
    }
}
