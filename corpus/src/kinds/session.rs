//! Stream header, session start (features, bind, XEP-0198 enable, roster)
//! and the XEP-0198 `<r/>`/`<a/>` nonzas.

use super::Kind;
use crate::tokens;
use crate::vocab::{SERVER, ns};
use crate::world::Ctx;
use crate::xml::{Style, Xml};

/// The XML declaration and the `<stream:stream>` start tag, exactly the
/// attributes a client library expects after the post-SASL restart.
pub(crate) fn header(g: &mut Ctx) {
    let id = tokens::uuid(&mut g.rng);
    g.out.push_str("<?xml version='1.0'?>");
    Xml::new(&mut g.out, Style::Apos)
        .start("stream:stream")
        .xmlns(ns::CLIENT)
        .xmlns_prefix("stream", ns::STREAM)
        .attr("id", &id)
        .attr("from", SERVER)
        .attr("version", "1.0")
        .attr("xml:lang", "en")
        .open();
}

/// The end of the stream.
pub(crate) fn footer(g: &mut Ctx) {
    g.out.push_str("</stream:stream>");
}

/// `<stream:features>` offering bind, session, SM, CSI, roster versioning
/// and the server's caps.
pub(crate) fn features(g: &mut Ctx) {
    let start = g.out.len();
    let ver = tokens::base64(&mut g.rng, 20);
    let mut x = Xml::new(&mut g.out, g.style);
    x.start("stream:features").open();
    x.start_ns("bind", ns::BIND)
        .open()
        .start("required")
        .close()
        .end("bind");
    x.start_ns("session", ns::SESSION)
        .open()
        .start("optional")
        .close();
    x.end("session");
    x.empty_ns("sm", ns::SM).empty_ns("csi", ns::CSI);
    x.empty_ns("ver", ns::ROSTERVER);
    x.start_ns("c", ns::CAPS)
        .attr("hash", "sha-1")
        .attr("node", "http://prosody.im")
        .attr("ver", &ver)
        .close();
    x.end("stream:features");
    g.record(Kind::Features, start);
}

/// The resource binding result carrying our full JID.
pub(crate) fn bind_result(g: &mut Ctx) {
    let start = g.out.len();
    let id = tokens::uuid(&mut g.rng);
    Xml::new(&mut g.out, g.style)
        .start("iq")
        .attr("type", "result")
        .attr("id", &id)
        .open()
        .start_ns("bind", ns::BIND)
        .open()
        .leaf("jid", &g.world.me_full)
        .end("bind")
        .end("iq");
    g.record(Kind::IqBind, start);
}

/// XEP-0198 `<enabled/>` with resumption.
pub(crate) fn sm_enabled(g: &mut Ctx) {
    let start = g.out.len();
    let id = tokens::base64(&mut g.rng, 12);
    Xml::new(&mut g.out, g.style)
        .start_ns("enabled", ns::SM)
        .attr("id", &id)
        .attr("resume", "true")
        .attr("max", "600")
        .close();
    g.record(Kind::SmEnabled, start);
}

/// The full roster result: every contact, with names, groups and pending
/// subscriptions.
pub(crate) fn roster(g: &mut Ctx) {
    let start = g.out.len();
    let id = tokens::uuid(&mut g.rng);
    let ver = tokens::alnum(&mut g.rng, 12);
    let mut x = Xml::new(&mut g.out, g.style);
    x.start("iq")
        .attr("to", &g.world.me_full)
        .attr("type", "result")
        .attr("id", &id)
        .open()
        .start_ns("query", ns::ROSTER)
        .attr("ver", &ver)
        .open();
    for c in &g.world.contacts {
        x.start("item")
            .attr("jid", &c.bare)
            .attr_opt("name", c.name.as_deref())
            .attr("subscription", c.subscription);
        if c.ask {
            x.attr("ask", "subscribe");
        }
        if c.groups.is_empty() {
            x.close();
        } else {
            x.open();
            for group in &c.groups {
                x.leaf("group", group);
            }
            x.end("item");
        }
    }
    x.end("query").end("iq");
    g.record(Kind::IqRoster200, start);
}

/// XEP-0198 request for an acknowledgement.
pub(crate) fn sm_request(g: &mut Ctx) {
    let start = g.out.len();
    Xml::new(&mut g.out, g.style).empty_ns("r", ns::SM);
    g.record(Kind::SmR, start);
}

/// XEP-0198 acknowledgement of the stanzas the client sent in between.
pub(crate) fn sm_answer(g: &mut Ctx) {
    let start = g.out.len();
    g.sm_h += g.rng.range(1, 40);
    // h is a 32-bit counter that wraps (XEP-0198 section 5).
    let h = (g.sm_h % (1 << 32)) as i64;
    Xml::new(&mut g.out, g.style)
        .start_ns("a", ns::SM)
        .attr_num("h", h)
        .close();
    g.record(Kind::SmA, start);
}
