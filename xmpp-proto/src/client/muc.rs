//! Group chat (XEP-0045), client side: joining rooms, the occupants and
//! their roles, messages and subjects, private messages, nickname
//! changes, leaving, invitations. Stanzas from a room we are in (or
//! joining) are taken here before the contact and message handling, so
//! room presence never counts as a contact's.

use std::collections::{BTreeMap, HashMap};

use super::{Client, ClientEvent, StanzaId};
use crate::endpoint::CommandError;
use crate::jid::{BareJid, Jid};
use crate::muc::{
    self, Affiliation, DATA_FORMS, DIRECT_INVITE, JoinError, JoinOptions, MUC_OWNER, MucUser,
    Occupant, Role, status,
};
use crate::stanza::{
    DefinedCondition, Iq, Message, MessageType, Presence, PresenceType, StanzaError,
};
use crate::time::Time;
use crate::xml::{Element, ns};

/// Occupants kept per room: a room may be huge, or hostile; past this,
/// newcomers are reported but not kept.
pub const MAX_OCCUPANTS: usize = 10_000;

/// A room we are in or entering.
#[derive(Clone, Debug, PartialEq)]
pub struct Room {
    /// The room's bare JID.
    pub jid: BareJid,
    /// Our nickname.
    pub nick: String,
    /// We are in (our own presence came back).
    pub joined: bool,
    /// Our role and affiliation, once in.
    pub role: Role,
    /// Our affiliation, once in.
    pub affiliation: Affiliation,
    /// Our XEP-0421 occupant id, if the room gives them.
    pub occupant_id: Option<String>,
    /// The other occupants, by nickname.
    pub occupants: BTreeMap<String, Occupant>,
    /// The subject, once the room told it.
    pub subject: Option<String>,
    /// A nickname change we asked for.
    pending_nick: Option<String>,
    /// A room our join created is being configured: its events wait,
    /// so that `Joined` comes first.
    held: Option<Vec<RoomEvent>>,
}

/// Why an occupant (or we) left a room.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Departure {
    /// Left on their own (or we asked to leave); with their status text.
    Left {
        /// The unavailable presence's status.
        status: Option<String>,
    },
    /// Kicked by a moderator (status 307).
    Kicked {
        /// The moderator's nickname, if told.
        actor: Option<String>,
        /// Why, if told.
        reason: Option<String>,
    },
    /// Banned (status 301).
    Banned {
        /// The admin's nickname, if told.
        actor: Option<String>,
        /// Why, if told.
        reason: Option<String>,
    },
    /// Took another nickname (status 303); they are back under it.
    NickChanged {
        /// The new nickname.
        new: String,
    },
    /// Removed because their affiliation changed or the room became
    /// members-only (status 321, 322).
    Removed,
    /// The service is shutting down (status 332).
    Shutdown,
    /// The room was destroyed.
    Destroyed {
        /// Why, if told.
        reason: Option<String>,
        /// Where to go instead, if told.
        alternate: Option<String>,
    },
    /// The room sent an error (we were removed, or our presence was
    /// refused).
    Error(StanzaError),
}

/// What happened in a room. Comes as [`ClientEvent::Room`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum RoomEvent {
    /// We are in: `Client::room` has the occupants who were there.
    Joined {
        /// The room.
        room: BareJid,
        /// Our nickname (the room may have changed it, status 210).
        nick: String,
        /// The room was created by this join (and configured as an
        /// instant room with its defaults).
        created: bool,
    },
    /// The room would not let us in; it is forgotten.
    JoinFailed {
        /// The room.
        room: BareJid,
        /// Why.
        error: JoinError,
    },
    /// Someone came in.
    OccupantJoined {
        /// The room.
        room: BareJid,
        /// Who.
        occupant: Occupant,
    },
    /// An occupant's role, affiliation or presence changed.
    OccupantChanged {
        /// The room.
        room: BareJid,
        /// The occupant as it is now.
        occupant: Occupant,
    },
    /// Someone left.
    OccupantLeft {
        /// The room.
        room: BareJid,
        /// Their nickname.
        nick: String,
        /// Why.
        why: Departure,
    },
    /// Our nickname changed (we asked, or the room did).
    NickChanged {
        /// The room.
        room: BareJid,
        /// The old one.
        old: String,
        /// The new one.
        new: String,
    },
    /// The nickname change we asked for was refused.
    NickRefused {
        /// The room.
        room: BareJid,
        /// The nickname asked for.
        nick: String,
        /// Why (`conflict`: taken).
        error: StanzaError,
    },
    /// We are out of the room; it is forgotten.
    Left {
        /// The room.
        room: BareJid,
        /// Why.
        why: Departure,
    },
    /// A message to the room.
    Message {
        /// The room.
        room: BareJid,
        /// Its sender's nickname (`None`: the room itself).
        nick: Option<String>,
        /// The message.
        message: Message,
        /// Ours, reflected by the room (told by the occupant id where
        /// the room gives them, else by the nickname).
        own: bool,
        /// Discussion history sent on join (it carries a delay).
        history: bool,
    },
    /// The subject, on join or changed.
    Subject {
        /// The room.
        room: BareJid,
        /// Who set it, if told.
        nick: Option<String>,
        /// The subject (empty: none).
        subject: String,
    },
    /// A private message from an occupant.
    PrivateMessage {
        /// The room.
        room: BareJid,
        /// Its sender's nickname.
        nick: String,
        /// The message.
        message: Message,
    },
    /// An invitation, relayed by the room (XEP-0045 §7.8.2) or direct
    /// (XEP-0249). Accept it with `Client::join_room`.
    Invited {
        /// The room.
        room: BareJid,
        /// Who invites, if told.
        from: Option<String>,
        /// Why, if told.
        reason: Option<String>,
        /// The room's password, if given.
        password: Option<String>,
    },
}

/// The rooms of one client.
#[derive(Debug, Default)]
pub(super) struct Rooms {
    by_jid: HashMap<String, Room>,
}

impl Client {
    /// Enters `room` as `nick` (XEP-0045 §7.2), with a password and a
    /// history limit if `options` says. Comes back as
    /// [`RoomEvent::Joined`] (after the occupants' presence) or
    /// [`RoomEvent::JoinFailed`]. A room this join creates is configured
    /// as an instant room (the service's defaults).
    ///
    /// # Errors
    /// [`CommandError::InvalidAddress`] if `nick` cannot be a
    /// resourcepart; as for [`Client::send`].
    pub fn join_room(
        &mut self,
        now: Time,
        room: &BareJid,
        nick: &str,
        options: &JoinOptions,
    ) -> Result<StanzaId, CommandError> {
        let presence =
            muc::join_presence(room, nick, options).map_err(CommandError::InvalidAddress)?;
        let id = self.send(now, presence)?;
        self.rooms.by_jid.insert(
            room.as_str().to_owned(),
            Room {
                jid: room.clone(),
                nick: nick.to_owned(),
                joined: false,
                role: Role::None,
                affiliation: Affiliation::None,
                occupant_id: None,
                occupants: BTreeMap::new(),
                subject: None,
                pending_nick: None,
                held: None,
            },
        );
        Ok(id)
    }

    /// Leaves `room` (unavailable presence, with a status text); comes
    /// back as [`RoomEvent::Left`].
    ///
    /// # Errors
    /// As for [`Client::send`]; [`CommandError::NotAsked`] if we are not
    /// in the room.
    pub fn leave_room(
        &mut self,
        now: Time,
        room: &BareJid,
        status: Option<&str>,
    ) -> Result<StanzaId, CommandError> {
        let to = self.occupant_jid(room)?;
        let mut presence = Presence::builder(PresenceType::Unavailable).to(&to);
        if let Some(status) = status {
            presence = presence.status(status);
        }
        self.send(now, presence.build())
    }

    /// Asks for another nickname in `room`: [`RoomEvent::NickChanged`]
    /// or [`RoomEvent::NickRefused`] follows.
    ///
    /// # Errors
    /// As for [`Client::leave_room`]; [`CommandError::InvalidAddress`]
    /// for a nickname that cannot be a resourcepart.
    pub fn change_nick(
        &mut self,
        now: Time,
        room: &BareJid,
        nick: &str,
    ) -> Result<StanzaId, CommandError> {
        self.occupant_jid(room)?;
        let to =
            Jid::new(&format!("{}/{nick}", room.as_str())).map_err(CommandError::InvalidAddress)?;
        let id = self.send(
            now,
            Presence::builder(PresenceType::Available)
                .to(to.as_str())
                .build(),
        )?;
        if let Some(state) = self.rooms.by_jid.get_mut(room.as_str()) {
            state.pending_nick = to.resourcepart().map(str::to_owned);
        }
        Ok(id)
    }

    /// Sends `body` to everyone in `room`; the room reflects it back as
    /// [`RoomEvent::Message`] with `own` set.
    ///
    /// # Errors
    /// As for [`Client::send`].
    pub fn send_to_room(
        &mut self,
        now: Time,
        room: &BareJid,
        body: &str,
    ) -> Result<StanzaId, CommandError> {
        let message = Message::builder(MessageType::Groupchat)
            .to(room.as_str())
            .body(body)
            .build();
        self.send(now, message)
    }

    /// Sets the subject of `room` (if our role allows it).
    ///
    /// # Errors
    /// As for [`Client::send`].
    pub fn set_room_subject(
        &mut self,
        now: Time,
        room: &BareJid,
        subject: &str,
    ) -> Result<StanzaId, CommandError> {
        let message = Message::builder(MessageType::Groupchat)
            .to(room.as_str())
            .subject(subject)
            .build();
        self.send(now, message)
    }

    /// Sends a private message to occupant `nick` of `room`.
    ///
    /// # Errors
    /// As for [`Client::send`]; [`CommandError::InvalidAddress`] for a
    /// nickname that cannot be a resourcepart.
    pub fn send_private(
        &mut self,
        now: Time,
        room: &BareJid,
        nick: &str,
        body: &str,
    ) -> Result<StanzaId, CommandError> {
        let to =
            Jid::new(&format!("{}/{nick}", room.as_str())).map_err(CommandError::InvalidAddress)?;
        let message = Message::builder(MessageType::Chat)
            .to(to.as_str())
            .body(body)
            .payload(Element::builder("x", ns::MUC_USER).build())
            .build();
        self.send(now, message)
    }

    /// Kicks occupant `nick` from `room` (a moderator's right; XEP-0045
    /// §8.2): the IQ's answer comes as [`ClientEvent::IqResponse`].
    ///
    /// # Errors
    /// As for [`Client::send`].
    pub fn kick(
        &mut self,
        now: Time,
        room: &BareJid,
        nick: &str,
        reason: Option<&str>,
    ) -> Result<StanzaId, CommandError> {
        let mut item = Element::builder("item", muc::MUC_ADMIN)
            .attr("nick", nick)
            .attr("role", "none");
        if let Some(reason) = reason {
            item = item.append(Element::builder("reason", muc::MUC_ADMIN).text(reason));
        }
        let query = Element::builder("query", muc::MUC_ADMIN)
            .append(item)
            .build();
        let id = self.next_id().ok_or(CommandError::Closed)?;
        self.send(now, Iq::set(&id, query).with_to(room.as_str()))
    }

    /// The room `jid` (bare), if we are in it or entering it.
    pub fn room(&self, jid: &str) -> Option<&Room> {
        self.rooms.by_jid.get(jid)
    }

    /// Every room we are in or entering.
    pub fn rooms(&self) -> impl Iterator<Item = &Room> {
        self.rooms.by_jid.values()
    }

    /// Whether a stanza might be a room's (we are in rooms) or carry an
    /// invitation: only then is it looked at here, so that clients in no
    /// room pay nothing.
    pub(super) fn may_concern_rooms(&self, el: &Element) -> bool {
        !self.rooms.by_jid.is_empty()
            || el.child("x", ns::MUC_USER).is_some()
            || el.child("x", DIRECT_INVITE).is_some()
    }

    /// Our occupant JID in `room`.
    fn occupant_jid(&self, room: &BareJid) -> Result<String, CommandError> {
        let state = self
            .rooms
            .by_jid
            .get(room.as_str())
            .ok_or(CommandError::NotAsked)?;
        Ok(format!("{}/{}", room.as_str(), state.nick))
    }

    /// A stanza from one of our rooms, or an invitation: handled here
    /// (`None`), or handed back for the ordinary handling.
    pub(super) fn room_stanza(&mut self, now: Time, stanza: RoomStanza) -> Option<RoomStanza> {
        match stanza {
            RoomStanza::Presence(p) => {
                let Some((room, nick)) = self.room_of(p.from()) else {
                    return Some(RoomStanza::Presence(p));
                };
                self.room_presence(now, &room, nick, p);
                None
            }
            RoomStanza::Message(m) => {
                if let Some(invitation) = invitation(&m) {
                    self.core.events.push_back(ClientEvent::Room(invitation));
                    return None;
                }
                let Some((room, nick)) = self.room_of(m.from()) else {
                    return Some(RoomStanza::Message(m));
                };
                match (m.kind(), nick) {
                    (MessageType::Groupchat, nick) => self.room_message(&room, nick, m),
                    (MessageType::Error, _) => return Some(RoomStanza::Message(m)),
                    (_, Some(nick)) => {
                        let event = RoomEvent::PrivateMessage {
                            room: self.rooms.by_jid[&room].jid.clone(),
                            nick,
                            message: m,
                        };
                        self.emit(&room, event);
                    }
                    (_, None) => return Some(RoomStanza::Message(m)),
                }
                None
            }
        }
    }

    /// The room (bare JID, as we keep it) and nickname of `from`, if it
    /// is one of our rooms.
    fn room_of(&self, from: Option<&str>) -> Option<(String, Option<String>)> {
        let from = Jid::new(from?).ok()?;
        let bare = from.bare_str();
        self.rooms
            .by_jid
            .contains_key(bare)
            .then(|| (bare.to_owned(), from.resourcepart().map(str::to_owned)))
    }

    fn room_presence(&mut self, now: Time, room: &str, nick: Option<String>, p: Presence) {
        let user = MucUser::of(p.element()).unwrap_or_default();
        let Some(state) = self.rooms.by_jid.get_mut(room) else {
            return;
        };
        let jid = state.jid.clone();
        if p.kind() == PresenceType::Error {
            let error = p
                .error()
                .unwrap_or_else(|| StanzaError::new(DefinedCondition::UndefinedCondition));
            let event = match (&state.pending_nick, &nick) {
                (Some(pending), Some(nick)) if pending == nick && state.joined => {
                    state.pending_nick = None;
                    RoomEvent::NickRefused {
                        room: jid,
                        nick: nick.clone(),
                        error,
                    }
                }
                _ if !state.joined => {
                    self.rooms.by_jid.remove(room);
                    RoomEvent::JoinFailed {
                        room: jid,
                        error: JoinError::from_error(error),
                    }
                }
                _ => {
                    self.rooms.by_jid.remove(room);
                    RoomEvent::Left {
                        room: jid,
                        why: Departure::Error(error),
                    }
                }
            };
            self.core.events.push_back(ClientEvent::Room(event));
            return;
        }
        let Some(nick) = nick else {
            return;
        };
        let own = user.has(status::SELF) || (!state.joined && nick == state.nick);
        let item = user.item.clone().unwrap_or_default();
        let occupant = Occupant {
            nick: nick.clone(),
            role: item.role,
            affiliation: item.affiliation,
            jid: item.jid.clone(),
            occupant_id: muc::occupant_id(p.element()).map(str::to_owned),
        };
        let mut events = Vec::new();
        if p.kind() == PresenceType::Unavailable {
            let why = departure(&p, &user);
            if own {
                if let Departure::NickChanged { new } = &why {
                    // Our new nickname's presence follows.
                    state.pending_nick = Some(new.clone());
                    return;
                }
                self.rooms.by_jid.remove(room);
                events.push(RoomEvent::Left { room: jid, why });
            } else if state.occupants.remove(&nick).is_some() || state.joined {
                events.push(RoomEvent::OccupantLeft {
                    room: jid,
                    nick,
                    why,
                });
            }
        } else if own {
            state.role = occupant.role;
            state.affiliation = occupant.affiliation;
            state.occupant_id = occupant.occupant_id.clone();
            if state.nick != nick {
                let old = std::mem::replace(&mut state.nick, nick.clone());
                if state.joined {
                    events.push(RoomEvent::NickChanged {
                        room: jid.clone(),
                        old,
                        new: nick.clone(),
                    });
                }
            }
            state.pending_nick = None;
            if !state.joined {
                state.joined = true;
                if user.has(status::CREATED) {
                    // `Joined` follows the configuration's answer.
                    state.held = Some(Vec::new());
                    self.configure_instant_room(now, &jid);
                } else {
                    events.push(RoomEvent::Joined {
                        room: jid,
                        nick,
                        created: false,
                    });
                }
            }
        } else {
            let known = state.occupants.contains_key(&nick);
            if known || state.occupants.len() < MAX_OCCUPANTS {
                state.occupants.insert(nick, occupant.clone());
            }
            if state.joined {
                events.push(match known {
                    true => RoomEvent::OccupantChanged {
                        room: jid,
                        occupant,
                    },
                    false => RoomEvent::OccupantJoined {
                        room: jid,
                        occupant,
                    },
                });
            }
        }
        for event in events {
            self.emit(room, event);
        }
    }

    /// Reports `event` of `room`, or holds it while the room is being
    /// configured.
    fn emit(&mut self, room: &str, event: RoomEvent) {
        match self
            .rooms
            .by_jid
            .get_mut(room)
            .and_then(|s| s.held.as_mut())
        {
            Some(held) if held.len() < MAX_OCCUPANTS => held.push(event),
            Some(_) => {}
            None => self.core.events.push_back(ClientEvent::Room(event)),
        }
    }

    /// A room we created is locked until configured (XEP-0045 §10.1.2):
    /// accept the defaults (an instant room). `Joined` waits for the
    /// room's answer, so that nobody is sent to a room still locked.
    fn configure_instant_room(&mut self, now: Time, room: &BareJid) {
        let Some(id) = self.next_id() else {
            return;
        };
        let query = Element::builder("query", MUC_OWNER)
            .append(
                Element::builder("x", DATA_FORMS)
                    .attr("type", "submit")
                    .build(),
            )
            .build();
        let iq = Iq::set(&id, query).with_to(room.as_str()).into_element();
        self.send_tracked(now, iq, id, super::iqs::IqPurpose::RoomConfig);
    }

    /// The answer to our instant-room configuration: the room is open
    /// (or refused the defaults, and stays as the service left it); we
    /// are in either way.
    pub(super) fn room_configured(&mut self, room: &str) {
        let Some(state) = self.rooms.by_jid.get_mut(room) else {
            return;
        };
        let held = state.held.take().unwrap_or_default();
        let event = RoomEvent::Joined {
            room: state.jid.clone(),
            nick: state.nick.clone(),
            created: true,
        };
        self.core.events.push_back(ClientEvent::Room(event));
        for event in held {
            self.core.events.push_back(ClientEvent::Room(event));
        }
    }

    fn room_message(&mut self, room: &str, nick: Option<String>, m: Message) {
        let Some(state) = self.rooms.by_jid.get_mut(room) else {
            return;
        };
        let jid = state.jid.clone();
        if m.body().is_none() {
            if let Some(subject) = m.subject() {
                let subject = subject.into_owned();
                state.subject = Some(subject.clone());
                let event = RoomEvent::Subject {
                    room: jid,
                    nick,
                    subject,
                };
                self.emit(room, event);
            }
            return;
        }
        let own = match (&state.occupant_id, muc::occupant_id(m.element())) {
            (Some(ours), Some(theirs)) => ours == theirs,
            _ => nick.as_deref() == Some(state.nick.as_str()),
        };
        let history = m.element().child("delay", ns::DELAY).is_some();
        let event = RoomEvent::Message {
            room: jid,
            nick,
            message: m,
            own,
            history,
        };
        self.emit(room, event);
    }
}

/// A stanza that may concern a room.
#[derive(Debug)]
pub(super) enum RoomStanza {
    Presence(Presence),
    Message(Message),
}

/// Why an unavailable occupant presence says someone left.
fn departure(p: &Presence, user: &MucUser) -> Departure {
    let item = user.item.clone().unwrap_or_default();
    if let Some((reason, alternate)) = &user.destroy {
        return Departure::Destroyed {
            reason: reason.clone(),
            alternate: alternate.clone(),
        };
    }
    if user.has(status::NEW_NICK) {
        if let Some(new) = item.nick {
            return Departure::NickChanged { new };
        }
    }
    if user.has(status::BANNED) {
        return Departure::Banned {
            actor: item.actor,
            reason: item.reason,
        };
    }
    if user.has(status::KICKED) {
        return Departure::Kicked {
            actor: item.actor,
            reason: item.reason,
        };
    }
    if user.has(status::AFFILIATION_CHANGE) || user.has(status::MEMBERS_ONLY) {
        return Departure::Removed;
    }
    if user.has(status::SHUTDOWN) {
        return Departure::Shutdown;
    }
    Departure::Left {
        status: p.status().map(|s| s.into_owned()),
    }
}

/// An invitation in `m`: relayed by a room, or direct.
fn invitation(m: &Message) -> Option<RoomEvent> {
    if let Some(x) = m.element().child("x", DIRECT_INVITE) {
        let room = BareJid::new(x.attr("jid")?).ok()?;
        return Some(RoomEvent::Invited {
            room,
            from: m.from().map(str::to_owned),
            reason: x.attr("reason").map(str::to_owned),
            password: x.attr("password").map(str::to_owned),
        });
    }
    let user = MucUser::of(m.element())?;
    let invite = user.invite?;
    let room = BareJid::new(m.from()?).ok()?;
    Some(RoomEvent::Invited {
        room,
        from: invite.from,
        reason: invite.reason,
        password: user.password,
    })
}
