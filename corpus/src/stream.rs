//! Assembles the whole stream: header, session start, steady state with
//! whitespace keepalives, footer.

use crate::kinds::{self, iq, mam, presence, session};
use crate::world::Ctx;
use crate::xml::Style;

/// Average bytes per top-level element, to size the output buffer once.
const AVG_ELEMENT: usize = 600;

/// Writes a complete stream of exactly `stanzas` top-level elements.
pub(crate) fn write(seed: u64, stanzas: usize) -> Ctx {
    let mut g = Ctx::new(seed, stanzas.saturating_mul(AVG_ELEMENT));
    session::header(&mut g);
    session_start(&mut g, stanzas);
    while g.elements < stanzas {
        g.now += g.rng.below(30);
        // Most servers serialize like Prosody; a third of the traffic looks
        // like it came through another implementation.
        g.style = if g.rng.chance(700) {
            Style::Apos
        } else {
            Style::Quot
        };
        let before = g.elements;
        kinds::steady(&mut g, stanzas - before);
        // Clients and servers send keepalives when the link is idle, so
        // they fall between elements, and so between archive results too.
        for _ in before..g.elements {
            if g.rng.chance(15) {
                g.out.push(g.rng.pick(&[' ', ' ', '\n']));
                g.keepalives += 1;
            }
        }
    }
    session::footer(&mut g);
    g
}

/// What a client receives right after binding: features, bind result,
/// `<enabled/>`, the roster, a disco#info result, the initial presence
/// burst and one archive page, cut short if `stanzas` is smaller.
fn session_start(g: &mut Ctx, stanzas: usize) {
    let steps: [fn(&mut Ctx); 5] = [
        session::features,
        session::bind_result,
        session::sm_enabled,
        session::roster,
        iq::disco_info_result,
    ];
    for step in steps {
        if g.elements >= stanzas {
            return;
        }
        step(g);
    }
    // Up to 60 contacts (30% of the roster) are online at login; small
    // corpora get a shorter burst so the steady state still dominates.
    let burst = (stanzas / 20).min(60);
    for _ in 0..burst {
        if g.elements >= stanzas {
            return;
        }
        presence::contact(g, true);
    }
    if stanzas > 200 {
        mam::page(g, stanzas - g.elements);
    }
}
