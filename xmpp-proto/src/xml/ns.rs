//! Namespace names of the XMPP core and common extensions.
//!
//! The reader recognises every name in this module when a peer declares it
//! and stores a one-byte index instead of a copy of the string, so the
//! namespaces that make up nearly all real traffic cost nothing per
//! occurrence. Any other namespace still works; it is stored once per
//! element that uses it.

/// The XML namespace, bound to the `xml` prefix by definition (`xml:lang`).
pub const XML: &str = "http://www.w3.org/XML/1998/namespace";
/// Stream namespace of RFC 6120 §4.8.1 (`<stream:stream/>`, `<stream:features/>`, `<stream:error/>`).
pub const STREAM: &str = "http://etherx.jabber.org/streams";
/// WebSocket framing of XMPP (RFC 7395): `<open/>` and `<close/>`.
pub const FRAMING: &str = "urn:ietf:params:xml:ns:xmpp-framing";
/// Content namespace of client-to-server streams (RFC 6120 §4.8.3).
pub const CLIENT: &str = "jabber:client";
/// Content namespace of server-to-server streams (RFC 6120 §4.8.3).
pub const SERVER: &str = "jabber:server";
/// Content namespace of external components (XEP-0114).
pub const COMPONENT_ACCEPT: &str = "jabber:component:accept";
/// Server dialback (XEP-0220).
pub const DIALBACK: &str = "jabber:server:dialback";
/// Defined conditions of stream errors (RFC 6120 §4.9.3).
pub const STREAMS: &str = "urn:ietf:params:xml:ns:xmpp-streams";
/// Defined conditions of stanza errors (RFC 6120 §8.3.3).
pub const STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";
/// STARTTLS negotiation (RFC 6120 §5).
pub const TLS: &str = "urn:ietf:params:xml:ns:xmpp-tls";
/// SASL negotiation (RFC 6120 §6).
pub const SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
/// Resource binding (RFC 6120 §7).
pub const BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
/// Session establishment (RFC 3921, kept as optional by RFC 6121).
pub const SESSION: &str = "urn:ietf:params:xml:ns:xmpp-session";
/// Stream management (XEP-0198).
pub const SM: &str = "urn:xmpp:sm:3";
/// Client state indication (XEP-0352).
pub const CSI: &str = "urn:xmpp:csi:0";
/// Roster versioning stream feature (RFC 6121 §2.6).
pub const ROSTER_VER: &str = "urn:xmpp:features:rosterver";
/// Roster management (RFC 6121 §2).
pub const ROSTER: &str = "jabber:iq:roster";
/// XMPP ping (XEP-0199).
pub const PING: &str = "urn:xmpp:ping";
/// Service discovery, information (XEP-0030).
pub const DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
/// Service discovery, items (XEP-0030).
pub const DISCO_ITEMS: &str = "http://jabber.org/protocol/disco#items";
/// Entity capabilities (XEP-0115).
pub const CAPS: &str = "http://jabber.org/protocol/caps";
/// Message delivery receipts (XEP-0184).
pub const RECEIPTS: &str = "urn:xmpp:receipts";
/// Chat markers (XEP-0333).
pub const CHAT_MARKERS: &str = "urn:xmpp:chat-markers:0";
/// Chat state notifications (XEP-0085).
pub const CHATSTATES: &str = "http://jabber.org/protocol/chatstates";
/// Delayed delivery (XEP-0203).
pub const DELAY: &str = "urn:xmpp:delay";
/// Stanza forwarding (XEP-0297).
pub const FORWARD: &str = "urn:xmpp:forward:0";
/// Message archive management (XEP-0313).
pub const MAM: &str = "urn:xmpp:mam:2";
/// Result set management (XEP-0059).
pub const RSM: &str = "http://jabber.org/protocol/rsm";
/// Unique and stable stanza ids (XEP-0359).
pub const SID: &str = "urn:xmpp:sid:0";
/// Message processing hints (XEP-0334).
pub const HINTS: &str = "urn:xmpp:hints";
/// Message carbons (XEP-0280).
pub const CARBONS: &str = "urn:xmpp:carbons:2";
/// Publish-subscribe (XEP-0060).
pub const PUBSUB: &str = "http://jabber.org/protocol/pubsub";
/// Publish-subscribe event notifications (XEP-0060).
pub const PUBSUB_EVENT: &str = "http://jabber.org/protocol/pubsub#event";
/// Multi-user chat (XEP-0045).
pub const MUC: &str = "http://jabber.org/protocol/muc";
/// Multi-user chat, occupant extensions (XEP-0045).
pub const MUC_USER: &str = "http://jabber.org/protocol/muc#user";
/// Occupant identifiers (XEP-0421).
pub const OCCUPANT_ID: &str = "urn:xmpp:occupant-id:0";
/// Data forms (XEP-0004).
pub const DATA_FORMS: &str = "jabber:x:data";
/// Software version (XEP-0092).
pub const VERSION: &str = "jabber:iq:version";
/// XEP-0049 private XML storage.
pub const PRIVATE: &str = "jabber:iq:private";
/// vCard-based avatars (XEP-0153).
pub const VCARD_UPDATE: &str = "vcard-temp:x:update";
/// User nickname (XEP-0172).
pub const NICK: &str = "http://jabber.org/protocol/nick";
/// User avatar metadata (XEP-0084).
pub const AVATAR_METADATA: &str = "urn:xmpp:avatar:metadata";
/// User avatar data (XEP-0084).
pub const AVATAR_DATA: &str = "urn:xmpp:avatar:data";
/// Explicit message encryption (XEP-0380).
pub const EME: &str = "urn:xmpp:eme:0";
/// OMEMO, legacy namespace used by deployed clients (XEP-0384 0.3).
pub const OMEMO_LEGACY: &str = "eu.siacs.conversations.axolotl";
/// Last message correction (XEP-0308).
pub const CORRECT: &str = "urn:xmpp:message-correct:0";
/// Bookmarks 2 (XEP-0402).
pub const BOOKMARKS: &str = "urn:xmpp:bookmarks:1";
/// Idle time (XEP-0319).
pub const IDLE: &str = "urn:xmpp:idle:1";
/// Out of band data (XEP-0066).
pub const OOB: &str = "jabber:x:oob";

/// Every name the reader interns, in index order.
///
/// The order is part of no API; it only has to stay below 255 entries.
pub(crate) const WELL_KNOWN: &[&str] = &[
    XML,
    STREAM,
    CLIENT,
    SERVER,
    COMPONENT_ACCEPT,
    DIALBACK,
    STREAMS,
    STANZAS,
    TLS,
    SASL,
    BIND,
    SESSION,
    SM,
    CSI,
    ROSTER_VER,
    ROSTER,
    PING,
    DISCO_INFO,
    DISCO_ITEMS,
    CAPS,
    RECEIPTS,
    CHAT_MARKERS,
    CHATSTATES,
    DELAY,
    FORWARD,
    MAM,
    RSM,
    SID,
    HINTS,
    CARBONS,
    PUBSUB,
    PUBSUB_EVENT,
    MUC,
    MUC_USER,
    OCCUPANT_ID,
    DATA_FORMS,
    VERSION,
    VCARD_UPDATE,
    NICK,
    AVATAR_METADATA,
    AVATAR_DATA,
    EME,
    OMEMO_LEGACY,
    CORRECT,
    BOOKMARKS,
    IDLE,
    OOB,
    FRAMING,
];

/// Index of the XML namespace in [`WELL_KNOWN`].
pub(crate) const XML_INDEX: u8 = 0;
/// Index of the stream namespace in [`WELL_KNOWN`].
pub(crate) const STREAM_INDEX: u8 = 1;

/// Slots of the lookup table; a power of two well above the name count,
/// so that probe chains stay short.
const SLOTS: usize = 256;
const EMPTY: u8 = u8::MAX;

/// A cheap hash of length, middle and last byte: enough to tell the
/// well-known names apart with few collisions.
const fn slot(b: &[u8]) -> usize {
    let n = b.len();
    if n == 0 {
        return 0;
    }
    ((n.wrapping_mul(7))
        ^ (b[n - 1] as usize).wrapping_mul(31)
        ^ (b[n / 2] as usize).wrapping_mul(131))
        & (SLOTS - 1)
}

/// Open-addressing table from [`slot`] to index in [`WELL_KNOWN`], built
/// at compile time.
const TABLE: [u8; SLOTS] = {
    let mut t = [EMPTY; SLOTS];
    let mut i = 0;
    while i < WELL_KNOWN.len() {
        let mut h = slot(WELL_KNOWN[i].as_bytes());
        while t[h] != EMPTY {
            h = (h + 1) & (SLOTS - 1);
        }
        t[h] = i as u8;
        i += 1;
    }
    t
};

/// The index of `name` in [`WELL_KNOWN`], if it is there.
///
/// Runs for every namespace declaration (a few per stanza), so it hashes
/// three bytes and compares one or two candidates instead of scanning.
pub(crate) fn lookup(name: &str) -> Option<u8> {
    let mut h = slot(name.as_bytes());
    // The table has empty slots, so every probe chain ends.
    for _ in 0..SLOTS {
        let i = *TABLE.get(h)?;
        if i == EMPTY {
            return None;
        }
        if WELL_KNOWN.get(usize::from(i)) == Some(&name) {
            return Some(i);
        }
        h = (h + 1) & (SLOTS - 1);
    }
    None
}

/// The name for an index produced by [`lookup`].
pub(crate) fn name(index: u8) -> &'static str {
    WELL_KNOWN.get(usize::from(index)).copied().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips_through_its_index() {
        assert!(WELL_KNOWN.len() < 255);
        for (i, known) in WELL_KNOWN.iter().enumerate() {
            assert_eq!(lookup(known), Some(i as u8), "{known}");
            assert_eq!(name(i as u8), *known);
        }
        assert_eq!(lookup("jabber:clienT"), None);
        assert_eq!(lookup(""), None);
        assert_eq!(name(XML_INDEX), XML);
        assert_eq!(name(STREAM_INDEX), STREAM);
    }
}
