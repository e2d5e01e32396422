//! A XEP-0313 archive page: result messages wrapping XEP-0297 forwarded
//! copies of a past conversation, then the `<fin/>` IQ with its XEP-0059
//! result set.

use super::Kind;
use super::message::{self, Route};
use crate::tokens;
use crate::vocab::ns;
use crate::world::Ctx;
use crate::xml::Xml;

/// Writes one page of 10 to 50 results (fewer if `budget` is smaller) and
/// its `<fin/>`: at most `budget` top-level elements, `budget >= 2`.
pub(crate) fn page(g: &mut Ctx, budget: usize) {
    let query_id = tokens::alnum(&mut g.rng, 8);
    let results = (g.rng.range(10, 50) as usize).min(budget.saturating_sub(1));
    let peer = g.world.pick_contact(&mut g.rng);
    let peer_bare = peer.bare.clone();
    let peer_full = peer.full(&mut g.rng);
    let mut t = g.now - g.rng.range(3_600, 7 * 86_400);
    let mut first = None;
    let mut last = String::new();
    for _ in 0..results {
        t += g.rng.range(5, 1_800);
        let archive_id = tokens::uuid(&mut g.rng);
        let route = if g.rng.chance(500) {
            Route {
                from: peer_full.clone(),
                to: g.world.me_bare.clone(),
                archived: true,
            }
        } else {
            Route {
                from: g.world.me_full.clone(),
                to: peer_bare.clone(),
                archived: true,
            }
        };
        result(g, &query_id, &archive_id, t, &route);
        first.get_or_insert_with(|| archive_id.clone());
        last = archive_id;
    }
    fin(
        g,
        &query_id,
        first.as_deref().unwrap_or_default(),
        &last,
        results,
    );
}

fn result(g: &mut Ctx, query_id: &str, archive_id: &str, t: u64, route: &Route) {
    let start = g.out.len();
    let id = tokens::stanza_id(&mut g.rng);
    let stamp = tokens::stamp(&mut g.rng, t);
    Xml::new(&mut g.out, g.style)
        .start("message")
        .attr("to", &g.world.me_full)
        .attr("id", &id)
        .open()
        .start_ns("result", ns::MAM)
        .attr("queryid", query_id)
        .attr("id", archive_id)
        .open()
        .start_ns("forwarded", ns::FORWARD)
        .open()
        .start_ns("delay", ns::DELAY)
        .attr("stamp", &stamp)
        .close();
    if g.rng.chance(150) {
        message::write_omemo(g, route);
    } else {
        message::write_chat(g, route);
    }
    Xml::new(&mut g.out, g.style)
        .end("forwarded")
        .end("result")
        .end("message");
    g.record(Kind::MessageMam, start);
}

fn fin(g: &mut Ctx, query_id: &str, first: &str, last: &str, results: usize) {
    let start = g.out.len();
    let complete = if g.rng.chance(600) { "false" } else { "true" };
    let count = g.rng.range(results as u64, 5_000) as i64;
    Xml::new(&mut g.out, g.style)
        .start("iq")
        .attr("to", &g.world.me_full)
        .attr("type", "result")
        .attr("id", query_id)
        .open()
        .start_ns("fin", ns::MAM)
        .attr("complete", complete)
        .open()
        .start_ns("set", ns::RSM)
        .open()
        .start("first")
        .attr("index", "0")
        .open()
        .text(first)
        .end("first")
        .leaf("last", last)
        .start("count")
        .open()
        .raw_fmt(format_args!("{count}"))
        .end("count")
        .end("set")
        .end("fin")
        .end("iq");
    g.record(Kind::IqMamFin, start);
}
