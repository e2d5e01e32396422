//! The kinds of top-level element the generator writes, the steady-state
//! mix, and one builder module per family.
//!
//! Every builder appends exactly one top-level element to [`Ctx::out`] and
//! records it with [`Ctx::record`], except [`mam::page`], which writes a
//! whole archive page.

pub(crate) mod iq;
pub(crate) mod mam;
pub(crate) mod message;
pub(crate) mod presence;
pub(crate) mod pubsub;
pub(crate) mod session;

use crate::world::Ctx;

/// A kind of top-level element, for statistics. The names are stable: the
/// benchmark harnesses print and compare them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Features,
    IqBind,
    SmEnabled,
    IqRoster200,
    Presence,
    PresenceUnavailable,
    PresenceMuc,
    MessageChatShort,
    MessageChatMedium,
    MessageChatLong,
    MessageOmemo,
    MessageGroupchat,
    MessageChatstate,
    MessageReceipt,
    MessagePep,
    MessagePepPrefixed,
    MessageMam,
    IqMamFin,
    IqDiscoInfo30,
    IqDiscoGet,
    IqPing,
    IqResultEmpty,
    IqRosterPush,
    IqAvatarData,
    SmR,
    SmA,
}

impl Kind {
    /// Every kind, in declaration order (`kind as usize` indexes it).
    pub(crate) const ALL: [Kind; 26] = [
        Kind::Features,
        Kind::IqBind,
        Kind::SmEnabled,
        Kind::IqRoster200,
        Kind::Presence,
        Kind::PresenceUnavailable,
        Kind::PresenceMuc,
        Kind::MessageChatShort,
        Kind::MessageChatMedium,
        Kind::MessageChatLong,
        Kind::MessageOmemo,
        Kind::MessageGroupchat,
        Kind::MessageChatstate,
        Kind::MessageReceipt,
        Kind::MessagePep,
        Kind::MessagePepPrefixed,
        Kind::MessageMam,
        Kind::IqMamFin,
        Kind::IqDiscoInfo30,
        Kind::IqDiscoGet,
        Kind::IqPing,
        Kind::IqResultEmpty,
        Kind::IqRosterPush,
        Kind::IqAvatarData,
        Kind::SmR,
        Kind::SmA,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Features => "features",
            Kind::IqBind => "iq-bind",
            Kind::SmEnabled => "sm-enabled",
            Kind::IqRoster200 => "iq-roster-200",
            Kind::Presence => "presence",
            Kind::PresenceUnavailable => "presence-unavailable",
            Kind::PresenceMuc => "presence-muc",
            Kind::MessageChatShort => "message-chat-short",
            Kind::MessageChatMedium => "message-chat-medium",
            Kind::MessageChatLong => "message-chat-long",
            Kind::MessageOmemo => "message-omemo",
            Kind::MessageGroupchat => "message-groupchat",
            Kind::MessageChatstate => "message-chatstate",
            Kind::MessageReceipt => "message-receipt",
            Kind::MessagePep => "message-pep",
            Kind::MessagePepPrefixed => "message-pep-prefixed",
            Kind::MessageMam => "message-mam",
            Kind::IqMamFin => "iq-mam-fin",
            Kind::IqDiscoInfo30 => "iq-disco-info-30",
            Kind::IqDiscoGet => "iq-disco-get",
            Kind::IqPing => "iq-ping",
            Kind::IqResultEmpty => "iq-result-empty",
            Kind::IqRosterPush => "iq-roster-push",
            Kind::IqAvatarData => "iq-avatar-data",
            Kind::SmR => "sm-r",
            Kind::SmA => "sm-a",
        }
    }
}

/// What the steady state draws from; one draw may yield several kinds
/// (presence may come out unavailable, a MAM draw writes a page).
#[derive(Clone, Copy, Debug)]
enum Draw {
    Presence,
    PresenceMuc,
    Chat,
    Omemo,
    Groupchat,
    Chatstate,
    Receipt,
    Pep,
    MamPage,
    Ping,
    DiscoInfo,
    DiscoGet,
    EmptyResult,
    RosterPush,
    AvatarData,
    SmRequest,
    SmAnswer,
}

/// Relative weights of the steady-state mix (per 2,000 draws). They set
/// the size distribution: change them here rather than padding stanzas.
const STEADY: &[(Draw, u32)] = &[
    (Draw::Presence, 360),
    (Draw::PresenceMuc, 120),
    (Draw::Chat, 340),
    (Draw::Omemo, 80),
    (Draw::Groupchat, 160),
    (Draw::Chatstate, 180),
    (Draw::Receipt, 160),
    (Draw::Pep, 80),
    (Draw::MamPage, 6),
    (Draw::Ping, 20),
    (Draw::DiscoInfo, 24),
    (Draw::DiscoGet, 20),
    (Draw::EmptyResult, 40),
    (Draw::RosterPush, 8),
    (Draw::AvatarData, 3),
    (Draw::SmRequest, 40),
    (Draw::SmAnswer, 40),
];

/// Writes one steady-state draw, never more than `budget` (at least 1)
/// top-level elements.
pub(crate) fn steady(g: &mut Ctx, budget: usize) {
    let draw = g.rng.weighted(STEADY);
    match draw {
        Draw::Presence => presence::contact(g, false),
        Draw::PresenceMuc => presence::occupant(g),
        Draw::Chat => message::chat(g),
        Draw::Omemo => message::omemo(g),
        Draw::Groupchat => message::groupchat(g),
        Draw::Chatstate => message::chatstate(g),
        Draw::Receipt => message::receipt(g),
        Draw::Pep => pubsub::pep_event(g),
        // A page needs room for at least one result and its <fin/>.
        Draw::MamPage if budget >= 2 => mam::page(g, budget),
        Draw::MamPage => message::chat(g),
        Draw::Ping => iq::ping(g),
        Draw::DiscoInfo => iq::disco_info_result(g),
        Draw::DiscoGet => iq::disco_info_get(g),
        Draw::EmptyResult => iq::empty_result(g),
        Draw::RosterPush => iq::roster_push(g),
        Draw::AvatarData => pubsub::avatar_data(g),
        Draw::SmRequest => session::sm_request(g),
        Draw::SmAnswer => session::sm_answer(g),
    }
}

/// `xml:lang` as ejabberd-style servers stamp it on many stanzas: mostly
/// the server default, sometimes the sender's language.
pub(crate) fn lang(g: &mut Ctx) -> Option<&'static str> {
    if g.rng.chance(350) {
        Some(
            g.rng
                .weighted(&[("en", 80), ("de", 8), ("fr", 6), ("ru", 6)]),
        )
    } else {
        None
    }
}
