//! Messages: one-to-one chat (plain and OMEMO), group chat, chat states
//! and receipts/markers.

use super::{Kind, lang};
use crate::text::{self, BodySize};
use crate::tokens;
use crate::vocab::{NICKS, ROOMS, ns};
use crate::world::Ctx;
use crate::xml::Xml;

/// Fallback body OMEMO clients put next to the encrypted payload.
const OMEMO_FALLBACK: &str = "This message is OMEMO encrypted, but your client does not \
     support OMEMO. See https://conversations.im/omemo for a client that does.";

/// Who a message is between, and whether it is being written inside a
/// XEP-0313 archive result (a forwarded copy).
pub(crate) struct Route {
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) archived: bool,
}

/// A live chat message from a contact to us.
pub(crate) fn chat(g: &mut Ctx) {
    let start = g.out.len();
    let route = incoming(g);
    let kind = match write_chat(g, &route) {
        BodySize::Short => Kind::MessageChatShort,
        BodySize::Medium => Kind::MessageChatMedium,
        BodySize::Long => Kind::MessageChatLong,
    };
    g.record(kind, start);
}

/// A live OMEMO-encrypted chat message from a contact to us.
pub(crate) fn omemo(g: &mut Ctx) {
    let start = g.out.len();
    let route = incoming(g);
    write_omemo(g, &route);
    g.record(Kind::MessageOmemo, start);
}

fn incoming(g: &mut Ctx) -> Route {
    let c = g.world.pick_contact(&mut g.rng);
    Route {
        from: c.full(&mut g.rng),
        to: g.world.me_full.clone(),
        archived: false,
    }
}

/// Writes a chat message with the usual companions: receipt request,
/// marker, origin-id, `<active/>`, thread, correction, OOB link and (when
/// live) the server's stanza-id. Returns the body size it chose.
pub(crate) fn write_chat(g: &mut Ctx, route: &Route) -> BodySize {
    let size = g.rng.weighted(&[
        (BodySize::Short, 70),
        (BodySize::Medium, 22),
        (BodySize::Long, 8),
    ]);
    let body = text::body(&mut g.rng, size);
    let id = tokens::uuid(&mut g.rng);
    let lang = lang(g);
    let mut x = Xml::new(&mut g.out, g.style);
    x.start("message");
    if route.archived {
        x.xmlns(ns::CLIENT);
    }
    x.attr_opt("xml:lang", lang)
        .attr("from", &route.from)
        .attr("to", &route.to)
        .attr("type", "chat")
        .attr("id", &id)
        .open()
        .leaf("body", &body);
    if g.rng.chance(700) {
        x.empty_ns("request", ns::RECEIPTS);
    }
    if g.rng.chance(600) {
        x.empty_ns("markable", ns::MARKERS);
    }
    if g.rng.chance(600) {
        x.start_ns("origin-id", ns::SID).attr("id", &id).close();
    }
    if g.rng.chance(700) {
        x.empty_ns("active", ns::CHATSTATES);
    }
    if g.rng.chance(300) {
        let len = g.rng.pick(&[8, 16, 32]);
        x.leaf("thread", &tokens::alnum(&mut g.rng, len));
    }
    if g.rng.chance(50) {
        let replaced = tokens::uuid(&mut g.rng);
        x.start_ns("replace", ns::CORRECT)
            .attr("id", &replaced)
            .close();
    }
    if g.rng.chance(50) {
        let url = text::url(&mut g.rng);
        x.start_ns("x", ns::OOB).open().leaf("url", &url).end("x");
    }
    if !route.archived && g.rng.chance(800) {
        let stanza_id = tokens::base64(&mut g.rng, 12);
        x.start_ns("stanza-id", ns::SID)
            .attr("by", &g.world.me_bare)
            .attr("id", &stanza_id)
            .close();
    }
    x.end("message");
    size
}

/// Writes an OMEMO (legacy `eu.siacs` namespace) message: a key per
/// recipient device, IV, base64 payload, fallback body, XEP-0380 and hints.
pub(crate) fn write_omemo(g: &mut Ctx, route: &Route) {
    let id = tokens::uuid(&mut g.rng);
    let sid = g.rng.range(1, (1 << 31) - 1) as i64;
    let mut x = Xml::new(&mut g.out, g.style);
    x.start("message");
    if route.archived {
        x.xmlns(ns::CLIENT);
    }
    x.attr("from", &route.from)
        .attr("to", &route.to)
        .attr("type", "chat")
        .attr("id", &id)
        .open()
        .leaf("body", OMEMO_FALLBACK);
    x.start_ns("encrypted", ns::OMEMO)
        .open()
        .start("header")
        .attr_num("sid", sid)
        .open();
    for _ in 0..g.rng.range(1, 6) {
        let rid = g.rng.range(1, (1 << 31) - 1) as i64;
        x.start("key").attr_num("rid", rid);
        if g.rng.chance(50) {
            x.attr("prekey", "true");
        }
        // Whisper messages are short; pre-key messages carry a bundle.
        let len = g.rng.pick(&[74, 74, 122]);
        x.open().raw(&tokens::base64(&mut g.rng, len)).end("key");
    }
    let iv = tokens::base64(&mut g.rng, 12);
    x.start("iv").open().raw(&iv).end("iv").end("header");
    let payload_len = g.rng.range(16, 600) as usize;
    let payload = tokens::base64(&mut g.rng, payload_len);
    x.start("payload").open().raw(&payload).end("payload");
    x.end("encrypted");
    x.empty_ns("request", ns::RECEIPTS)
        .empty_ns("markable", ns::MARKERS)
        .start_ns("origin-id", ns::SID)
        .attr("id", &id)
        .close()
        .start_ns("encryption", ns::EME)
        .attr("name", "OMEMO")
        .attr("namespace", ns::OMEMO)
        .close()
        .empty_ns("store", ns::HINTS);
    if !route.archived {
        let stanza_id = tokens::base64(&mut g.rng, 12);
        x.start_ns("stanza-id", ns::SID)
            .attr("by", &g.world.me_bare)
            .attr("id", &stanza_id)
            .close();
    }
    x.end("message");
}

/// A group chat message relayed by a MUC, with occupant-id and the room's
/// stanza-id.
pub(crate) fn groupchat(g: &mut Ctx) {
    let start = g.out.len();
    let room = g.rng.pick(ROOMS);
    let from = format!("{room}/{}", g.rng.pick(NICKS));
    let size = g.rng.weighted(&[
        (BodySize::Short, 75),
        (BodySize::Medium, 20),
        (BodySize::Long, 5),
    ]);
    let body = text::body(&mut g.rng, size);
    let lang = lang(g);
    let id = tokens::stanza_id(&mut g.rng);
    let occupant_id = tokens::base64(&mut g.rng, 24);
    let stanza_id = tokens::uuid(&mut g.rng);
    let mut x = Xml::new(&mut g.out, g.style);
    x.start("message")
        .attr_opt("xml:lang", lang)
        .attr("from", &from)
        .attr("to", &g.world.me_full)
        .attr("type", "groupchat")
        .attr("id", &id)
        .open()
        .leaf("body", &body);
    if g.rng.chance(400) {
        x.empty_ns("active", ns::CHATSTATES);
    }
    if g.rng.chance(500) {
        x.empty_ns("markable", ns::MARKERS);
    }
    x.start_ns("occupant-id", ns::OCCUPANT_ID)
        .attr("id", &occupant_id)
        .close()
        .start_ns("stanza-id", ns::SID)
        .attr("by", room)
        .attr("id", &stanza_id)
        .close()
        .end("message");
    g.record(Kind::MessageGroupchat, start);
}

/// A XEP-0085 chat state notification, usually with a no-store hint.
pub(crate) fn chatstate(g: &mut Ctx) {
    let start = g.out.len();
    let state = g.rng.weighted(&[
        ("composing", 50),
        ("paused", 30),
        ("active", 20),
        ("inactive", 10),
        ("gone", 3),
    ]);
    let c = g.world.pick_contact(&mut g.rng);
    let from = c.full(&mut g.rng);
    let id = g.rng.chance(500).then(|| tokens::uuid(&mut g.rng));
    let mut x = Xml::new(&mut g.out, g.style);
    x.start("message")
        .attr("from", &from)
        .attr("to", &g.world.me_full)
        .attr("type", "chat")
        .attr_opt("id", id.as_deref())
        .open()
        .empty_ns(state, ns::CHATSTATES);
    if g.rng.chance(700) {
        x.empty_ns("no-store", ns::HINTS);
    }
    x.end("message");
    g.record(Kind::MessageChatstate, start);
}

/// A XEP-0184 receipt or XEP-0333 displayed marker for one of our messages.
pub(crate) fn receipt(g: &mut Ctx) {
    let start = g.out.len();
    let c = g.world.pick_contact(&mut g.rng);
    let from = c.full(&mut g.rng);
    let id = tokens::uuid(&mut g.rng);
    let acked = tokens::uuid(&mut g.rng);
    let typed = g.rng.chance(500);
    let mut x = Xml::new(&mut g.out, g.style);
    x.start("message")
        .attr("from", &from)
        .attr("to", &g.world.me_full)
        .attr("id", &id);
    if typed {
        x.attr("type", "chat");
    }
    x.open();
    if g.rng.chance(550) {
        x.start_ns("received", ns::RECEIPTS)
            .attr("id", &acked)
            .close();
    } else {
        x.start_ns("displayed", ns::MARKERS)
            .attr("id", &acked)
            .close();
    }
    if g.rng.chance(500) {
        x.empty_ns("store", ns::HINTS);
    }
    x.end("message");
    g.record(Kind::MessageReceipt, start);
}
