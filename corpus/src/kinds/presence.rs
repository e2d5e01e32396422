//! Presence from roster contacts and from MUC occupants.

use super::{Kind, lang};
use crate::tokens;
use crate::vocab::{CLIENTS, NICKS, ROOMS, STATUSES, ns};
use crate::world::Ctx;
use crate::xml::Xml;

/// Presence of a contact's device: show, status, priority, XEP-0115 caps,
/// vCard avatar hash, XEP-0319 idle; in the initial burst (`initial`) often
/// a XEP-0203 delay, outside it sometimes `unavailable`.
pub(crate) fn contact(g: &mut Ctx, initial: bool) {
    let start = g.out.len();
    let lang = lang(g);
    let id = g.rng.chance(300).then(|| tokens::stanza_id(&mut g.rng));
    let c = g.world.pick_contact(&mut g.rng);
    let from = c.full(&mut g.rng);
    if !initial && g.rng.chance(150) {
        Xml::new(&mut g.out, g.style)
            .start("presence")
            .attr("from", &from)
            .attr("to", &g.world.me_full)
            .attr("type", "unavailable")
            .close();
        g.record(Kind::PresenceUnavailable, start);
        return;
    }
    let mut x = Xml::new(&mut g.out, g.style);
    x.start("presence")
        .attr("from", &from)
        .attr("to", &g.world.me_full)
        .attr_opt("xml:lang", lang)
        .attr_opt("id", id.as_deref())
        .open();
    if g.rng.chance(350) {
        x.leaf("show", g.rng.pick(&["away", "away", "xa", "dnd", "chat"]));
    }
    if g.rng.chance(400) {
        x.leaf("status", g.rng.pick(STATUSES));
    }
    if g.rng.chance(500) {
        let priority = g.rng.pick(&[0, 0, 1, 5, 10, 50, -1]);
        x.start("priority")
            .open()
            .raw_fmt(format_args!("{priority}"));
        x.end("priority");
    }
    x.start_ns("c", ns::CAPS)
        .attr("hash", "sha-1")
        .attr("node", CLIENTS[c.client].0)
        .attr("ver", &c.caps_ver)
        .close();
    if g.rng.chance(500) {
        let photo = tokens::hex(&mut g.rng, 40);
        x.start_ns("x", ns::VCARD_UPDATE)
            .open()
            .leaf("photo", &photo);
        x.end("x");
    }
    if g.rng.chance(150) {
        let ago = g.rng.range(60, 90_000);
        let since = tokens::stamp(&mut g.rng, g.now - ago);
        x.start_ns("idle", ns::IDLE).attr("since", &since).close();
    }
    if initial && g.rng.chance(600) {
        let ago = g.rng.range(10, 50_000);
        let stamp = tokens::stamp(&mut g.rng, g.now - ago);
        x.start_ns("delay", ns::DELAY)
            .attr("from", c.domain())
            .attr("stamp", &stamp)
            .close();
    }
    x.end("presence");
    g.record(Kind::Presence, start);
}

/// Presence of a MUC occupant: muc#user item (with the real JID in
/// non-anonymous rooms) and XEP-0421 occupant id.
pub(crate) fn occupant(g: &mut Ctx) {
    let start = g.out.len();
    let from = format!("{}/{}", g.rng.pick(ROOMS), g.rng.pick(NICKS));
    let leaving = g.rng.chance(200);
    let affiliation = g
        .rng
        .weighted(&[("none", 5), ("member", 4), ("admin", 1), ("owner", 1)]);
    let role = if leaving {
        "none"
    } else {
        g.rng
            .weighted(&[("participant", 8), ("moderator", 2), ("visitor", 1)])
    };
    let real = g.rng.chance(500).then(|| {
        let c = g.world.pick_contact(&mut g.rng);
        c.full(&mut g.rng)
    });
    let occupant_id = tokens::base64(&mut g.rng, 24);
    let mut x = Xml::new(&mut g.out, g.style);
    x.start("presence")
        .attr("from", &from)
        .attr("to", &g.world.me_full);
    if leaving {
        x.attr("type", "unavailable");
    }
    x.open();
    if !leaving {
        let ver = tokens::base64(&mut g.rng, 20);
        x.start_ns("c", ns::CAPS)
            .attr("hash", "sha-1")
            .attr("node", g.rng.pick(CLIENTS).0)
            .attr("ver", &ver)
            .close();
        if g.rng.chance(300) {
            let photo = tokens::hex(&mut g.rng, 40);
            x.start_ns("x", ns::VCARD_UPDATE)
                .open()
                .leaf("photo", &photo);
            x.end("x");
        }
    }
    x.start_ns("x", ns::MUC_USER)
        .open()
        .start("item")
        .attr("affiliation", affiliation)
        .attr("role", role)
        .attr_opt("jid", real.as_deref())
        .close()
        .end("x");
    x.start_ns("occupant-id", ns::OCCUPANT_ID)
        .attr("id", &occupant_id)
        .close();
    x.end("presence");
    g.record(Kind::PresenceMuc, start);
}
