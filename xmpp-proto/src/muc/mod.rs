//! Multi-user chat (XEP-0045): the vocabulary both ends use. Roles and
//! affiliations, an occupant as others see it, what a join asks for
//! (password, history), the `muc#user` payload of room presence and
//! messages (status codes, the item, invitations, destruction), and join
//! errors as typed values.
//!
//! The client's side of rooms lives on [`Client`](crate::Client)
//! (`join_room`, `send_to_room`, ...) and reports
//! [`RoomEvent`](crate::client::RoomEvent)s.

pub mod service;

use crate::jid::{BareJid, Jid, JidError};
use crate::stanza::{DefinedCondition, Presence, PresenceType, StanzaError};
use crate::xml::{Element, ElementRef, ns};

/// XEP-0421 occupant identifiers.
pub const OCCUPANT_ID: &str = "urn:xmpp:occupant-id:0";
/// XEP-0249 direct invitations.
pub const DIRECT_INVITE: &str = "jabber:x:conference";
/// XEP-0045 admin namespace (kick, ban, roles and affiliations).
pub const MUC_ADMIN: &str = "http://jabber.org/protocol/muc#admin";
/// XEP-0045 owner namespace (room configuration).
pub const MUC_OWNER: &str = "http://jabber.org/protocol/muc#owner";
/// XEP-0004 data forms.
pub const DATA_FORMS: &str = "jabber:x:data";

/// What an occupant may do in the room now (XEP-0045 §5.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Role {
    /// May kick, grant voice, moderate.
    Moderator,
    /// May speak.
    Participant,
    /// May read only (in a moderated room).
    Visitor,
    /// Not in the room.
    #[default]
    None,
}

impl Role {
    /// From the `role` attribute; unknown values are `None`.
    pub fn parse(s: Option<&str>) -> Self {
        match s {
            Some("moderator") => Role::Moderator,
            Some("participant") => Role::Participant,
            Some("visitor") => Role::Visitor,
            _ => Role::None,
        }
    }

    /// As written in the `role` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Moderator => "moderator",
            Role::Participant => "participant",
            Role::Visitor => "visitor",
            Role::None => "none",
        }
    }
}

/// A user's long-lived standing with the room (XEP-0045 §5.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Affiliation {
    /// Owns the room.
    Owner,
    /// Administers it.
    Admin,
    /// A member (may enter a members-only room).
    Member,
    /// Banned.
    Outcast,
    /// None of these.
    #[default]
    None,
}

impl Affiliation {
    /// From the `affiliation` attribute; unknown values are `None`.
    pub fn parse(s: Option<&str>) -> Self {
        match s {
            Some("owner") => Affiliation::Owner,
            Some("admin") => Affiliation::Admin,
            Some("member") => Affiliation::Member,
            Some("outcast") => Affiliation::Outcast,
            _ => Affiliation::None,
        }
    }

    /// As written in the `affiliation` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Affiliation::Owner => "owner",
            Affiliation::Admin => "admin",
            Affiliation::Member => "member",
            Affiliation::Outcast => "outcast",
            Affiliation::None => "none",
        }
    }
}

/// One occupant of a room, as the room's presence describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Occupant {
    /// The nickname (the resource of its room JID).
    pub nick: String,
    /// Its role.
    pub role: Role,
    /// Its affiliation.
    pub affiliation: Affiliation,
    /// Its real JID, where the room tells (non-anonymous rooms, or to
    /// moderators).
    pub jid: Option<Jid>,
    /// Its XEP-0421 occupant id, where the room gives one: stable across
    /// nickname changes, the same for all its devices.
    pub occupant_id: Option<String>,
}

/// How much of the discussion history a join asks for (XEP-0045 §7.2.15).
/// All `None`: the room's default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct History {
    /// At most this many messages (`0`: none).
    pub max_stanzas: Option<u32>,
    /// At most about this many characters of messages (`0`: none).
    pub max_chars: Option<u32>,
    /// Only from the last this many seconds.
    pub seconds: Option<u32>,
    /// Only since this XEP-0082 time.
    pub since: Option<String>,
}

impl History {
    /// No history at all.
    pub fn none() -> Self {
        History {
            max_stanzas: Some(0),
            ..History::default()
        }
    }

    /// At most `n` messages.
    pub fn last(n: u32) -> Self {
        History {
            max_stanzas: Some(n),
            ..History::default()
        }
    }
}

/// What a join asks for besides the nickname.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JoinOptions {
    /// The room's password, for a password-protected room.
    pub password: Option<String>,
    /// How much history to receive.
    pub history: Option<History>,
}

impl JoinOptions {
    /// With the room's password.
    pub fn with_password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// With a history limit.
    pub fn with_history(mut self, history: History) -> Self {
        self.history = Some(history);
        self
    }
}

/// The presence that asks to enter `room` as `nick` (XEP-0045 §7.2.1).
///
/// # Errors
/// If `nick` cannot be a resourcepart.
pub fn join_presence(
    room: &BareJid,
    nick: &str,
    options: &JoinOptions,
) -> Result<Presence, JidError> {
    let to = Jid::new(&format!("{}/{nick}", room.as_str()))?;
    let mut x = Element::builder("x", ns::MUC);
    if let Some(password) = &options.password {
        x = x.append(Element::builder("password", ns::MUC).text(password));
    }
    if let Some(history) = &options.history {
        let mut h = Element::builder("history", ns::MUC);
        if let Some(n) = history.max_stanzas {
            h = h.attr("maxstanzas", n.to_string());
        }
        if let Some(n) = history.max_chars {
            h = h.attr("maxchars", n.to_string());
        }
        if let Some(s) = history.seconds {
            h = h.attr("seconds", s.to_string());
        }
        if let Some(since) = &history.since {
            h = h.attr("since", since);
        }
        x = x.append(h);
    }
    Ok(Presence::builder(PresenceType::Available)
        .to(to.as_str())
        .payload(x.build())
        .build())
}

/// Status codes of XEP-0045 §15.6 that the client acts on.
pub mod status {
    /// Non-anonymous room: real JIDs are visible to all.
    pub const NON_ANONYMOUS: u16 = 100;
    /// This presence is about you.
    pub const SELF: u16 = 110;
    /// The room logs.
    pub const LOGGED: u16 = 170;
    /// The room was created by this join.
    pub const CREATED: u16 = 201;
    /// The room changed your nickname.
    pub const NICK_ASSIGNED: u16 = 210;
    /// Banned.
    pub const BANNED: u16 = 301;
    /// A new nickname (with the item's `nick`).
    pub const NEW_NICK: u16 = 303;
    /// Kicked.
    pub const KICKED: u16 = 307;
    /// Removed by an affiliation change.
    pub const AFFILIATION_CHANGE: u16 = 321;
    /// Removed: the room became members-only.
    pub const MEMBERS_ONLY: u16 = 322;
    /// Removed: the service is shutting down.
    pub const SHUTDOWN: u16 = 332;
}

/// The `<x xmlns='http://jabber.org/protocol/muc#user'/>` of a stanza
/// from a room.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MucUser {
    /// Its status codes.
    pub statuses: Vec<u16>,
    /// Its item (who the presence is about).
    pub item: Option<Item>,
    /// An invitation relayed by the room.
    pub invite: Option<Invite>,
    /// The room's password (with an invitation).
    pub password: Option<String>,
    /// The room was destroyed: why, and where to go instead.
    pub destroy: Option<(Option<String>, Option<String>)>,
}

/// The `<item/>` of a room presence.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Item {
    /// The occupant's role.
    pub role: Role,
    /// Its affiliation.
    pub affiliation: Affiliation,
    /// Its real JID, if shown.
    pub jid: Option<Jid>,
    /// The new nickname (status 303).
    pub nick: Option<String>,
    /// Why (kick, ban).
    pub reason: Option<String>,
    /// Who did it (the actor's nickname).
    pub actor: Option<String>,
}

/// An invitation to a room.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Invite {
    /// Who invites.
    pub from: Option<String>,
    /// Why.
    pub reason: Option<String>,
}

impl MucUser {
    /// The `muc#user` payload of `stanza`, if it has one. Unreadable
    /// parts are left out; never fails.
    pub fn of(stanza: &Element) -> Option<MucUser> {
        let x = stanza.child("x", ns::MUC_USER)?;
        let mut user = MucUser::default();
        for child in x.children() {
            match (child.name(), child.ns()) {
                ("status", ns::MUC_USER) => {
                    if let Some(code) = child.attr("code").and_then(|c| c.parse().ok()) {
                        // A handful at most; a hostile room gets no more.
                        if user.statuses.len() < 16 {
                            user.statuses.push(code);
                        }
                    }
                }
                ("item", ns::MUC_USER) => user.item = Some(read_item(child)),
                ("invite", ns::MUC_USER) => {
                    user.invite = Some(Invite {
                        from: child.attr("from").map(str::to_owned),
                        reason: text_of(child, "reason"),
                    });
                }
                ("password", ns::MUC_USER) => user.password = Some(child.text().into_owned()),
                ("destroy", ns::MUC_USER) => {
                    user.destroy = Some((
                        text_of(child, "reason"),
                        child.attr("jid").map(str::to_owned),
                    ));
                }
                _ => {}
            }
        }
        Some(user)
    }

    /// Whether status `code` is there.
    pub fn has(&self, code: u16) -> bool {
        self.statuses.contains(&code)
    }
}

fn read_item(item: ElementRef<'_>) -> Item {
    Item {
        role: Role::parse(item.attr("role")),
        affiliation: Affiliation::parse(item.attr("affiliation")),
        jid: item.attr("jid").and_then(|j| Jid::new(j).ok()),
        nick: item.attr("nick").map(str::to_owned),
        reason: text_of(item, "reason"),
        actor: item
            .child("actor", ns::MUC_USER)
            .and_then(|a| a.attr("nick").map(str::to_owned)),
    }
}

fn text_of(el: ElementRef<'_>, name: &str) -> Option<String> {
    el.child(name, ns::MUC_USER)
        .map(|c| c.text().into_owned())
        .filter(|t| !t.is_empty())
}

/// Why a room would not let us in (XEP-0045 §7.2.4 to §7.2.11).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JoinError {
    /// Another occupant has the nickname (`conflict`).
    NicknameInUse,
    /// The room needs a password, or it was wrong (`not-authorized`).
    PasswordRequired,
    /// We are banned (`forbidden`).
    Banned,
    /// Members only, and we are not one (`registration-required`).
    MembersOnly,
    /// The room is full (`service-unavailable`).
    Full,
    /// The room does not exist and may not be created by us, or is
    /// locked (`item-not-found`, `not-allowed`).
    NotAllowed,
    /// The nickname is not acceptable (`jid-malformed`,
    /// `not-acceptable`).
    BadNickname,
    /// Anything else the room said.
    Other(StanzaError),
}

impl JoinError {
    /// The join error a room's error presence means.
    pub fn from_error(error: StanzaError) -> Self {
        match error.condition {
            DefinedCondition::Conflict => JoinError::NicknameInUse,
            DefinedCondition::NotAuthorized => JoinError::PasswordRequired,
            DefinedCondition::Forbidden => JoinError::Banned,
            DefinedCondition::RegistrationRequired => JoinError::MembersOnly,
            DefinedCondition::ServiceUnavailable => JoinError::Full,
            DefinedCondition::ItemNotFound | DefinedCondition::NotAllowed => JoinError::NotAllowed,
            DefinedCondition::JidMalformed | DefinedCondition::NotAcceptable => {
                JoinError::BadNickname
            }
            _ => JoinError::Other(error),
        }
    }
}

/// The XEP-0421 occupant id of a stanza from a room, if it has one.
pub fn occupant_id(stanza: &Element) -> Option<&str> {
    stanza.child("occupant-id", OCCUPANT_ID)?.attr("id")
}

#[cfg(test)]
mod tests;
