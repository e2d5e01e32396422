//! RFC 6121 across servers: subscription stanzas and presence between a
//! local account and a contact on another server. Outbound, our side of
//! the state machine runs here and the stanza goes out on the link;
//! inbound (from a peer server, [`REMOTE`]), the contact's side runs
//! here as for a local sender, probes are answered from who is online,
//! and the rest is routed like any stanza.

use super::Hub;
use super::im::{inbound_of, presence};
use crate::jid::{BareJid, JidRef};
use crate::roster::Outbound;
use crate::router::{REMOTE, Routed};
use crate::stanza::{PresenceType, Stanza};
use crate::xml::Element;

impl Hub {
    /// Whether `domain` is another server's, reached over federation.
    pub(super) fn is_remote_domain(&self, domain: &str) -> bool {
        self.router.is_federated()
            && domain != self.router.domain()
            && !self.router.is_component_domain(domain)
    }

    /// Whether a contact of `domain` can be on a roster: ours, or
    /// another server's when federating.
    pub(super) fn is_contact_domain(&self, domain: &str) -> bool {
        domain == self.router.domain() || self.is_remote_domain(domain)
    }

    /// `el`, a presence of a local account, to `contact`: to each of its
    /// available resources here, or out to its server.
    pub(super) fn presence_to_contact(
        &mut self,
        contact: &str,
        mut el: Element,
        out: &mut Vec<Routed>,
    ) {
        let remote = JidRef::parse(contact).is_ok_and(|c| self.is_remote_domain(c.domainpart()));
        if remote {
            el.set_attr("to", contact);
            self.router.deliver(REMOTE, &el, out);
        } else {
            self.router
                .send_to_account_resources(contact, &el, None, out);
        }
    }

    /// On `account`'s first available presence, a contact of another
    /// server is probed for its presence (RFC 6121 §4.3); `false` for a
    /// local contact (answered from who is online here).
    pub(super) fn probe_remote(
        &mut self,
        account: &BareJid,
        contact: &str,
        out: &mut Vec<Routed>,
    ) -> bool {
        let remote = JidRef::parse(contact).is_ok_and(|c| self.is_remote_domain(c.domainpart()));
        if remote {
            let probe = presence(account.as_str(), contact, Some("probe"));
            self.router.deliver(REMOTE, &probe, out);
        }
        remote
    }

    /// A presence from a peer server to a local account: subscription
    /// stanzas go through the account's side of the state machine
    /// (RFC 6121 §3, Appendix A.3) and probes are answered (§4.3.2);
    /// `true` if it was one of those (nothing left to route).
    pub(super) fn remote_presence(&mut self, stanza: &Stanza, out: &mut Vec<Routed>) -> bool {
        let Stanza::Presence(p) = stanza else {
            return false;
        };
        let kind = match p.kind() {
            PresenceType::Subscribe => Outbound::Subscribe,
            PresenceType::Subscribed => Outbound::Subscribed,
            PresenceType::Unsubscribe => Outbound::Unsubscribe,
            PresenceType::Unsubscribed => Outbound::Unsubscribed,
            PresenceType::Probe => {
                self.answer_remote_probe(stanza, out);
                return true;
            }
            _ => return false,
        };
        let parse = |a: Option<&str>| {
            a.and_then(|a| JidRef::parse(a).ok())
                .and_then(|j| BareJid::new(j.bare_str()).ok())
        };
        let (Some(sender), Some(contact)) = (parse(stanza.from()), parse(stanza.to())) else {
            return true;
        };
        if contact.domainpart() != self.router.domain() || contact.localpart().is_none() {
            return false;
        }
        if self.either_blocks(contact.as_str(), sender.as_str()) {
            return true;
        }
        self.deliver_subscription(&sender, &contact, inbound_of(kind), out);
        true
    }

    /// A probe from a contact on another server: the account's available
    /// presences, if the contact may see them.
    fn answer_remote_probe(&mut self, stanza: &Stanza, out: &mut Vec<Routed>) {
        let bare = |a: Option<&str>| {
            a.and_then(|a| JidRef::parse(a).ok())
                .and_then(|j| BareJid::new(j.bare_str()).ok())
        };
        let (Some(prober), Some(account)) = (bare(stanza.from()), bare(stanza.to())) else {
            return;
        };
        let sees = self
            .entry(&account, prober.as_str())
            .is_some_and(|e| e.item.subscription.contact_sees_us());
        if !sees || self.either_blocks(account.as_str(), prober.as_str()) {
            return;
        }
        let Some(to) = stanza.from().map(str::to_owned) else {
            return;
        };
        let presences: Vec<Element> = self
            .router
            .available(account.as_str())
            .map(|(_, _, p)| p.clone())
            .collect();
        for mut p in presences {
            p.set_attr("to", &to);
            self.router.deliver(REMOTE, &p, out);
        }
    }
}
