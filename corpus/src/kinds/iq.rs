//! IQs a client receives in steady state: server pings, disco queries and
//! results, empty results, roster pushes.

use super::Kind;
use crate::tokens;
use crate::vocab::{CLIENTS, FEATURES, SERVER, ns};
use crate::world::Ctx;
use crate::xml::Xml;

/// Number of features in a client's disco#info result.
const FEATURE_COUNT: usize = 30;

/// A XEP-0199 ping from our server.
pub(crate) fn ping(g: &mut Ctx) {
    let start = g.out.len();
    let id = tokens::stanza_id(&mut g.rng);
    Xml::new(&mut g.out, g.style)
        .start("iq")
        .attr("from", SERVER)
        .attr("to", &g.world.me_full)
        .attr("type", "get")
        .attr("id", &id)
        .open()
        .empty_ns("ping", ns::PING)
        .end("iq");
    g.record(Kind::IqPing, start);
}

/// A contact's disco#info answer to our caps query: identity, 30 features
/// and sometimes a XEP-0232 software information form.
pub(crate) fn disco_info_result(g: &mut Ctx) {
    let start = g.out.len();
    let c = g.world.pick_contact(&mut g.rng);
    let from = c.full(&mut g.rng);
    let (node, client_name) = CLIENTS[c.client];
    let id = tokens::stanza_id(&mut g.rng);
    let caps_node = format!("{node}#{}", c.caps_ver);
    let category = g.rng.pick(&["phone", "pc", "web"]);
    let features = g.rng.sample_indices(FEATURES.len(), FEATURE_COUNT);
    let mut x = Xml::new(&mut g.out, g.style);
    x.start("iq")
        .attr("from", &from)
        .attr("to", &g.world.me_full)
        .attr("type", "result")
        .attr("id", &id)
        .open()
        .start_ns("query", ns::DISCO_INFO)
        .attr("node", &caps_node)
        .open()
        .start("identity")
        .attr("category", "client")
        .attr("type", category)
        .attr("name", client_name)
        .close();
    for i in features {
        x.start("feature").attr("var", FEATURES[i]).close();
    }
    if g.rng.chance(300) {
        let version = format!("{}.{}.{}", g.rng.below(3), g.rng.below(20), g.rng.below(10));
        x.start_ns("x", ns::DATA).attr("type", "result").open();
        x.start("field")
            .attr("var", "FORM_TYPE")
            .attr("type", "hidden")
            .open()
            .leaf("value", "urn:xmpp:dataforms:softwareinfo")
            .end("field");
        x.start("field")
            .attr("var", "software")
            .open()
            .leaf("value", client_name)
            .end("field");
        x.start("field")
            .attr("var", "software_version")
            .open()
            .leaf("value", &version)
            .end("field");
        x.end("x");
    }
    x.end("query").end("iq");
    g.record(Kind::IqDiscoInfo30, start);
}

/// A contact querying our capabilities.
pub(crate) fn disco_info_get(g: &mut Ctx) {
    let start = g.out.len();
    let c = g.world.pick_contact(&mut g.rng);
    let from = c.full(&mut g.rng);
    let id = tokens::stanza_id(&mut g.rng);
    Xml::new(&mut g.out, g.style)
        .start("iq")
        .attr("from", &from)
        .attr("to", &g.world.me_full)
        .attr("type", "get")
        .attr("id", &id)
        .open()
        .empty_ns("query", ns::DISCO_INFO)
        .end("iq");
    g.record(Kind::IqDiscoGet, start);
}

/// An empty result to one of our sets, from the server or a contact.
pub(crate) fn empty_result(g: &mut Ctx) {
    let start = g.out.len();
    let from = if g.rng.chance(500) {
        SERVER.to_owned()
    } else {
        let c = g.world.pick_contact(&mut g.rng);
        c.full(&mut g.rng)
    };
    let id = tokens::stanza_id(&mut g.rng);
    Xml::new(&mut g.out, g.style)
        .start("iq")
        .attr("from", &from)
        .attr("to", &g.world.me_full)
        .attr("type", "result")
        .attr("id", &id)
        .close();
    g.record(Kind::IqResultEmpty, start);
}

/// A RFC 6121 roster push for one contact.
pub(crate) fn roster_push(g: &mut Ctx) {
    let start = g.out.len();
    let c = g.world.pick_contact(&mut g.rng);
    let subscription = g.rng.pick(&["both", "to", "from", "remove"]);
    let name = g.rng.chance(700).then_some(c.name.as_deref()).flatten();
    let id = tokens::stanza_id(&mut g.rng);
    let ver = tokens::alnum(&mut g.rng, 12);
    Xml::new(&mut g.out, g.style)
        .start("iq")
        .attr("to", &g.world.me_full)
        .attr("type", "set")
        .attr("id", &id)
        .open()
        .start_ns("query", ns::ROSTER)
        .attr("ver", &ver)
        .open()
        .start("item")
        .attr("jid", &c.bare)
        .attr_opt("name", name)
        .attr("subscription", subscription)
        .close()
        .end("query")
        .end("iq");
    g.record(Kind::IqRosterPush, start);
}
