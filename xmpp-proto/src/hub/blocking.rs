//! XEP-0191 blocking: each account's block list, its IQs (get, block,
//! unblock, with pushes to the resources that asked for the list), and
//! what a block means: nothing from a blocked address reaches the user,
//! and nothing the user sends reaches it.

use std::collections::{BTreeSet, HashMap};

use super::{Hub, HubEvent};
use crate::jid::{BareJid, Jid, JidRef};
use crate::router::{Routed, SessionId};
use crate::stanza::{DefinedCondition, Iq, IqType, Stanza, StanzaError, error_reply};
use crate::xml::Element;

/// The namespace of XEP-0191.
const BLOCKING: &str = "urn:xmpp:blocking";

/// The application error telling a user that the recipient is blocked.
const BLOCKING_ERRORS: &str = "urn:xmpp:blocking:errors";

/// How many addresses one account may block.
pub const DEFAULT_MAX_BLOCKED: usize = 1_000;

#[derive(Debug, Default)]
pub(super) struct Blocklists {
    accounts: HashMap<BareJid, BTreeSet<String>>,
}

impl Blocklists {
    /// Whether `account` blocks `jid` (a blocked bare JID covers its
    /// resources, a blocked domain the whole domain, §3.4).
    fn blocks(&self, account: &str, jid: &str) -> bool {
        let Some(list) = self.accounts.get(account) else {
            return false;
        };
        let Ok(jid) = JidRef::parse(jid) else {
            return false;
        };
        list.contains(jid.as_str())
            || list.contains(jid.bare_str())
            || list.contains(jid.domainpart())
    }

    fn any(&self) -> bool {
        !self.accounts.is_empty()
    }
}

impl Hub {
    /// Restores `account`'s block list (at start).
    pub fn restore_blocklist(&mut self, account: BareJid, blocked: Vec<String>) {
        if !blocked.is_empty() {
            self.blocklists
                .accounts
                .insert(account, blocked.into_iter().collect());
        }
    }

    /// Answers a XEP-0191 request from `session` of `account`; `None` if
    /// `iq` is not one.
    pub(super) fn blocking_iq(
        &mut self,
        session: SessionId,
        account: &BareJid,
        iq: &Iq,
        out: &mut Vec<Routed>,
    ) -> Option<Element> {
        let payload = iq.payload().filter(|p| p.ns() == BLOCKING)?;
        let error = |condition| Some(iq.make_error(&StanzaError::new(condition)));
        let items: Result<Vec<String>, ()> = payload
            .children()
            .filter(|c| c.is("item", BLOCKING))
            .map(|c| {
                c.attr("jid")
                    .and_then(|j| Jid::new(j).ok())
                    .map(|j| j.as_str().to_owned())
                    .ok_or(())
            })
            .collect();
        let Ok(items) = items else {
            return error(DefinedCondition::JidMalformed);
        };
        match (iq.kind(), payload.name()) {
            (IqType::Get, "blocklist") => {
                self.im_flags.entry(session).or_default().blocklist = true;
                let mut list = Element::builder("blocklist", BLOCKING);
                for jid in self.blocklists.accounts.get(account).into_iter().flatten() {
                    list = list.append(Element::builder("item", BLOCKING).attr("jid", jid));
                }
                Some(iq.make_result(Some(list.build())))
            }
            (IqType::Set, "block") => {
                if items.is_empty() {
                    return error(DefinedCondition::BadRequest);
                }
                let list = self.blocklists.accounts.entry(account.clone()).or_default();
                let new = items.iter().filter(|j| !list.contains(*j)).count();
                if list.len() + new > DEFAULT_MAX_BLOCKED {
                    return error(DefinedCondition::NotAcceptable);
                }
                list.extend(items.iter().cloned());
                self.blocklist_changed(account, "block", &items, out);
                Some(iq.make_result(None))
            }
            (IqType::Set, "unblock") => {
                let list = self.blocklists.accounts.entry(account.clone()).or_default();
                let gone: Vec<String> = if items.is_empty() {
                    std::mem::take(list).into_iter().collect()
                } else {
                    items.iter().filter(|j| list.remove(*j)).cloned().collect()
                };
                if list.is_empty() {
                    self.blocklists.accounts.remove(account);
                }
                // An unblock of everything is pushed without items.
                let pushed = if items.is_empty() { Vec::new() } else { gone };
                self.blocklist_changed(account, "unblock", &pushed, out);
                Some(iq.make_result(None))
            }
            _ => error(DefinedCondition::BadRequest),
        }
    }

    /// Pushes a block or unblock to the resources that asked for the list
    /// (§3.3) and tells the store the list as it is now.
    fn blocklist_changed(
        &mut self,
        account: &BareJid,
        kind: &str,
        items: &[String],
        out: &mut Vec<Routed>,
    ) {
        let mut change = Element::builder(kind, BLOCKING);
        for jid in items {
            change = change.append(Element::builder("item", BLOCKING).attr("jid", jid));
        }
        self.push_to(account, |flags| flags.blocklist, &change.build(), out);
        let blocked = self
            .blocklists
            .accounts
            .get(account)
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default();
        self.events.push_back(HubEvent::BlocklistChanged {
            account: account.clone(),
            blocked,
        });
    }

    /// Whether `stanza` from `session` crosses a block, either way; if it
    /// does, the sender is answered as §3.4 says (`not-acceptable` with
    /// `<blocked/>` for what the user sends to someone blocked,
    /// `service-unavailable` for messages and IQ requests to someone who
    /// blocks the sender; presence is dropped) and `true` comes back.
    pub(super) fn blocked(
        &mut self,
        session: SessionId,
        stanza: &Stanza,
        out: &mut Vec<Routed>,
    ) -> bool {
        if !self.blocklists.any() {
            return false;
        }
        // A user's session, or a component speaking for an address of
        // its domain (its server checked that `from` is inside it).
        let from = match self.router.jid(session) {
            Some(jid) => Some((jid.bare_str().to_owned(), jid.as_str().to_owned())),
            None if self.router.component_of(session).is_some() => stanza
                .from()
                .and_then(|f| JidRef::parse(f).ok())
                .map(|f| (f.bare_str().to_owned(), f.as_str().to_owned())),
            None => None,
        };
        let (Some((from_bare, from_full)), Some(to)) = (from, stanza.to()) else {
            return false;
        };
        let Ok(to) = JidRef::parse(to) else {
            return false;
        };
        let outgoing = self.blocklists.blocks(&from_bare, to.as_str());
        let incoming = to.domainpart() == self.router.domain()
            && self.blocklists.blocks(to.bare_str(), &from_full);
        if !outgoing && !incoming {
            return false;
        }
        let el = stanza.element();
        let answer = match stanza {
            Stanza::Presence(_) => None,
            Stanza::Iq(iq) if !iq.kind().is_request() => None,
            _ if el.attr("type") == Some("error") => None,
            _ if outgoing => {
                let mut error = StanzaError::new(DefinedCondition::NotAcceptable);
                error.application = Some(Element::builder("blocked", BLOCKING_ERRORS).build());
                Some(error_reply(el.as_ref(), &error))
            }
            _ => Some(error_reply(
                el.as_ref(),
                &StanzaError::new(DefinedCondition::ServiceUnavailable),
            )),
        };
        if let Some(answer) = answer {
            self.router.deliver(session, &answer, out);
        }
        true
    }

    /// Whether the local `account` blocks `jid` (for presence the IM
    /// layer sends on its own: broadcasts and probe answers).
    pub(super) fn blocks(&self, account: &str, jid: &str) -> bool {
        self.blocklists.any() && self.blocklists.blocks(account, jid)
    }
}
