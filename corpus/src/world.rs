//! The simulated account: who we are, our roster, and the state that
//! evolves while the stream is written (clock, XEP-0198 counter, output).

use crate::kinds::Kind;
use crate::rng::Rng;
use crate::tokens;
use crate::vocab::{self, CLIENTS, DOMAINS, GROUPS, LOCALS_ASCII, LOCALS_UNICODE, RESOURCES};
use crate::xml::Style;

/// Roster size, as in a busy real account.
pub(crate) const ROSTER_SIZE: usize = 200;

/// One roster contact and the devices it is online with.
#[derive(Debug)]
pub(crate) struct Contact {
    pub(crate) bare: String,
    pub(crate) resources: Vec<String>,
    /// Index into [`CLIENTS`]: the software of all its devices.
    pub(crate) client: usize,
    /// XEP-0115 verification string (base64 of a SHA-1).
    pub(crate) caps_ver: String,
    pub(crate) name: Option<String>,
    pub(crate) subscription: &'static str,
    pub(crate) ask: bool,
    pub(crate) groups: Vec<&'static str>,
}

impl Contact {
    /// The domainpart of the bare JID.
    pub(crate) fn domain(&self) -> &str {
        self.bare.split_once('@').map_or(&self.bare, |(_, d)| d)
    }

    /// The localpart of the bare JID.
    #[cfg(test)]
    pub(crate) fn local(&self) -> &str {
        self.bare.split_once('@').map_or("", |(l, _)| l)
    }

    /// A full JID on one of its resources.
    pub(crate) fn full(&self, rng: &mut Rng) -> String {
        format!(
            "{}/{}",
            self.bare,
            self.resources[rng.index(self.resources.len())]
        )
    }
}

/// Everything fixed for the session.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) me_bare: String,
    pub(crate) me_full: String,
    pub(crate) contacts: Vec<Contact>,
}

impl World {
    pub(crate) fn new(rng: &mut Rng) -> Self {
        let me_bare = format!("{}@{}", vocab::ME_LOCAL, vocab::SERVER);
        let me_full = format!("{me_bare}/Conversations.{}", tokens::alnum(rng, 4));
        let mut contacts: Vec<Contact> = Vec::with_capacity(ROSTER_SIZE);
        while contacts.len() < ROSTER_SIZE {
            let bare = contact_jid(rng);
            if bare == me_bare || contacts.iter().any(|c| c.bare == bare) {
                continue;
            }
            contacts.push(new_contact(rng, bare));
        }
        World {
            me_bare,
            me_full,
            contacts,
        }
    }

    /// A contact, with a heavy head: a handful of contacts produce much of
    /// the traffic, as in real rosters.
    pub(crate) fn pick_contact(&self, rng: &mut Rng) -> &Contact {
        let i = if rng.chance(500) {
            rng.index(self.contacts.len())
        } else {
            rng.skewed_index(self.contacts.len(), 2)
        };
        &self.contacts[i]
    }
}

fn contact_jid(rng: &mut Rng) -> String {
    let mut local = String::new();
    if rng.chance(150) {
        let (name, rtl) = rng.pick(LOCALS_UNICODE);
        local.push_str(name);
        // Digits after right-to-left text would break the stringprep bidi
        // rule (RFC 3454 section 6), making the JID invalid.
        if !rtl && rng.chance(350) {
            local.push_str(&rng.range(1, 999).to_string());
        }
    } else {
        local.push_str(rng.pick(LOCALS_ASCII));
        if rng.chance(350) {
            local.push_str(&rng.range(1, 999).to_string());
        }
    }
    format!("{local}@{}", rng.weighted(DOMAINS))
}

fn new_contact(rng: &mut Rng, bare: String) -> Contact {
    let devices = rng.pick(&[1usize, 1, 1, 2, 2, 3]);
    let resources = (0..devices).map(|_| resource(rng)).collect();
    let client = rng.index(CLIENTS.len());
    let caps_ver = tokens::base64(rng, 20);
    let name = rng.chance(850).then(|| display_name(rng, &bare));
    let subscription = rng.weighted(&[("both", 85), ("to", 6), ("from", 5), ("none", 4)]);
    let ask = rng.chance(30);
    let group_count = rng.pick(&[0usize, 1, 1, 1, 2]);
    let groups = rng
        .sample_indices(GROUPS.len(), group_count)
        .into_iter()
        .map(|i| GROUPS[i])
        .collect();
    Contact {
        bare,
        resources,
        client,
        caps_ver,
        name,
        subscription,
        ask,
        groups,
    }
}

/// A resource as a client would pick it.
pub(crate) fn resource(rng: &mut Rng) -> String {
    let (prefix, suffix) = rng.pick(RESOURCES);
    let mut r = String::from(prefix);
    r.push_str(&tokens::alnum(rng, suffix));
    r
}

/// The roster name a user would give: the localpart in title case, now and
/// then with characters that need escaping.
fn display_name(rng: &mut Rng, bare: &str) -> String {
    let local = bare.split_once('@').map_or(bare, |(l, _)| l);
    let local = local.trim_end_matches(|c: char| c.is_ascii_digit());
    let mut name = String::new();
    for word in local.split(['.', '_', '-']).filter(|w| !w.is_empty()) {
        if !name.is_empty() {
            name.push(' ');
        }
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            name.extend(first.to_uppercase());
            name.push_str(chars.as_str());
        }
    }
    match rng.below(100) {
        0..=9 => {
            name.push_str(" & ");
            name.push_str(rng.pick(&["Partner", "Kids", "Co", "Family"]));
        }
        10..=14 => name.push_str(rng.pick(&[" O'Hara", " \"Boss\"", " <work>"])),
        _ => {}
    }
    name
}

/// Mutable generation state shared by the builders. Fields are public to
/// the crate so a builder can borrow `out`, `rng` and `world` at once.
pub(crate) struct Ctx {
    pub(crate) rng: Rng,
    pub(crate) world: World,
    /// Simulated wall clock, Unix seconds.
    pub(crate) now: u64,
    /// XEP-0198 handled-stanza counter of the server's `<a/>`.
    pub(crate) sm_h: u64,
    /// Serializer style of the stanza being written.
    pub(crate) style: Style,
    pub(crate) out: String,
    /// Top-level elements written so far.
    pub(crate) elements: usize,
    pub(crate) keepalives: usize,
    /// Count and bytes per kind, indexed like [`Kind::ALL`].
    pub(crate) stats: Vec<(usize, usize)>,
}

impl Ctx {
    pub(crate) fn new(seed: u64, capacity: usize) -> Self {
        let mut rng = Rng::new(seed);
        let world = World::new(&mut rng);
        let now = 1_735_000_000 + rng.below(10_000_000);
        Ctx {
            rng,
            world,
            now,
            sm_h: 0,
            style: Style::Apos,
            out: String::with_capacity(capacity),
            elements: 0,
            keepalives: 0,
            stats: vec![(0, 0); Kind::ALL.len()],
        }
    }

    /// Accounts for one top-level element written since `start`.
    pub(crate) fn record(&mut self, kind: Kind, start: usize) {
        let entry = &mut self.stats[kind as usize];
        entry.0 += 1;
        entry.1 += self.out.len() - start;
        self.elements += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roster_is_unique_and_full() {
        let mut r = Rng::new(11);
        let w = World::new(&mut r);
        assert_eq!(w.contacts.len(), ROSTER_SIZE);
        for (i, c) in w.contacts.iter().enumerate() {
            assert!(w.contacts[..i].iter().all(|o| o.bare != c.bare));
            assert!(!c.local().is_empty() && !c.domain().is_empty());
            assert!(!c.resources.is_empty());
        }
        let non_ascii = w.contacts.iter().filter(|c| !c.local().is_ascii()).count();
        assert!((10..=60).contains(&non_ascii), "{non_ascii}");
    }

    #[test]
    fn rtl_localparts_get_no_digits() {
        let mut r = Rng::new(2);
        for _ in 0..2000 {
            let jid = contact_jid(&mut r);
            let local = jid.split('@').next().unwrap_or_default();
            for &(name, rtl) in LOCALS_UNICODE {
                if rtl && local.starts_with(name) {
                    assert_eq!(local, name);
                }
            }
        }
    }
}
