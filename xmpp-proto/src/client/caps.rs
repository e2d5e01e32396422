//! XEP-0115 for the peers: the first time a presence announces a
//! verification string the client does not know, it asks the sender for
//! the features behind it, checks them against the string, and keeps
//! them, so that every later presence with the same string costs nothing.

use std::collections::{HashMap, HashSet};

use super::iqs::IqPurpose;
use super::{Client, caps_verification_of};
use crate::stanza::{Iq, IqType, Presence};
use crate::xml::{Element, ns};

/// How many verification strings are remembered (and asked about) at
/// most: a flood of made-up strings costs a bounded table.
const MAX_KNOWN: usize = 256;

#[derive(Debug, Default)]
pub(super) struct CapsCache {
    /// Features by verification string, checked.
    known: HashMap<String, Vec<String>>,
    /// Strings asked about, by the id of the question.
    pending: HashMap<String, String>,
    /// Strings asked about already (answered or not).
    asked: HashSet<String>,
}

/// The `(node, ver)` a presence announces with SHA-1, if any.
fn announced(presence: &Presence) -> Option<(String, String)> {
    let c = presence.element().child("c", ns::CAPS)?;
    if c.attr("hash") != Some("sha-1") {
        return None;
    }
    Some((c.attr("node")?.to_owned(), c.attr("ver")?.to_owned()))
}

impl Client {
    /// The features of the entity `jid` (a full JID that sent us
    /// available presence), as its XEP-0115 capabilities announced them
    /// and disco#info confirmed; `None` until known (and always, unless
    /// `ClientConfig::with_peer_capabilities` is on).
    pub fn features_of(&self, jid: &str) -> Option<&[String]> {
        let ver = self.contacts.presence(jid).and_then(announced)?.1;
        self.caps.known.get(&ver).map(Vec::as_slice)
    }

    /// A presence arrived: ask about its capabilities if they are new.
    pub(super) fn learn_caps(&mut self, now: crate::time::Time, presence: &Presence) {
        if !self.config.learn_caps {
            return;
        }
        let (Some((node, ver)), Some(from)) = (announced(presence), presence.from()) else {
            return;
        };
        let cache = &self.caps;
        if cache.known.contains_key(&ver)
            || cache.asked.contains(&ver)
            || cache.asked.len() >= MAX_KNOWN
        {
            return;
        }
        let Some(id) = self.next_id() else {
            return;
        };
        let query = Element::builder("query", ns::DISCO_INFO)
            .attr("node", format!("{node}#{ver}"))
            .build();
        let iq = Iq::get(&id, query).with_to(from);
        self.caps.asked.insert(ver.clone());
        self.caps.pending.insert(id.clone(), ver);
        self.send_tracked(now, iq.into_element(), id, IqPurpose::Caps);
    }

    /// The answer to one of our capability questions: kept if it matches
    /// the string it was asked for.
    pub(super) fn caps_answer(&mut self, response: Iq) {
        let Some(ver) = response.id().and_then(|id| self.caps.pending.remove(id)) else {
            return;
        };
        if response.kind() != IqType::Result {
            return;
        }
        let Some(query) = response.payload().filter(|q| q.is("query", ns::DISCO_INFO)) else {
            return;
        };
        let identities: Vec<(String, String, String, String)> = query
            .children()
            .filter(|c| c.is("identity", ns::DISCO_INFO))
            .map(|c| {
                let attr = |name| c.attr(name).unwrap_or_default().to_owned();
                let lang = c.lang().unwrap_or_default().to_owned();
                (attr("category"), attr("type"), lang, attr("name"))
            })
            .collect();
        let features: Vec<String> = query
            .children()
            .filter(|c| c.is("feature", ns::DISCO_INFO))
            .filter_map(|c| c.attr("var").map(str::to_owned))
            .collect();
        let ids: Vec<(&str, &str, &str, &str)> = identities
            .iter()
            .map(|(a, b, c, d)| (a.as_str(), b.as_str(), c.as_str(), d.as_str()))
            .collect();
        let vars: Vec<&str> = features.iter().map(String::as_str).collect();
        // Extended information (data forms) is not part of our check: an
        // entity that announces some is not cached, rather than trusted.
        if caps_verification_of(&ids, &vars) == ver && self.caps.known.len() < MAX_KNOWN {
            self.caps.known.insert(ver, features);
        }
    }
}
