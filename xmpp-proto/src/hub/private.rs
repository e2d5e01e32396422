//! XEP-0049 private XML storage: one element per namespace and name for
//! each account, where clients keep bookmarks, preferences and roster
//! notes. Kept in the hub (restored at start with
//! [`Hub::restore_private`], changes reported as
//! [`HubEvent::PrivateChanged`]) and bounded in bytes per account.

use std::collections::{BTreeMap, HashMap};

use super::{Hub, HubEvent};
use crate::jid::BareJid;
use crate::stanza::{DefinedCondition, Iq, IqType, StanzaError};
use crate::xml::{Element, ns};

/// How many bytes of private XML one account may keep by default.
pub const DEFAULT_PRIVATE_BUDGET: usize = 64 * 1024;

/// Namespaces that are the protocol's own and cannot be stored (§3).
const RESERVED: [&str; 3] = [ns::CLIENT, ns::SERVER, ns::PRIVATE];

/// One account's elements by (namespace, name), with their size.
type Kept = BTreeMap<(String, String), (Element, usize)>;

#[derive(Debug, Default)]
pub(super) struct PrivateStore {
    accounts: HashMap<BareJid, Kept>,
    pub(super) budget: Option<usize>,
}

impl PrivateStore {
    fn budget(&self) -> usize {
        self.budget.unwrap_or(DEFAULT_PRIVATE_BUDGET)
    }
}

fn size(el: &Element) -> usize {
    let mut out = Vec::new();
    let _ = el.write_to(&mut out);
    out.len()
}

impl Hub {
    /// Restores what `account` keeps in private storage (at start).
    pub fn restore_private(&mut self, account: BareJid, elements: Vec<Element>) {
        let kept = elements
            .into_iter()
            .map(|el| {
                let key = (el.ns().to_owned(), el.name().to_owned());
                let bytes = size(&el);
                (key, (el, bytes))
            })
            .collect();
        self.private.accounts.insert(account, kept);
    }

    /// Lets one account keep at most `bytes` of private XML (default
    /// [`DEFAULT_PRIVATE_BUDGET`]); a set past it is refused with
    /// `not-acceptable`.
    pub fn with_private_budget(mut self, bytes: usize) -> Self {
        self.private.budget = Some(bytes);
        self
    }

    /// Answers a XEP-0049 get or set from `account`'s own session; `None`
    /// if `iq` is not one.
    pub(super) fn private_iq(&mut self, account: &BareJid, iq: &Iq) -> Option<Element> {
        let query = iq.payload().filter(|p| p.is("query", ns::PRIVATE))?;
        let error = |condition| Some(iq.make_error(&StanzaError::new(condition)));
        let mut children = query.children();
        let (Some(child), None) = (children.next(), children.next()) else {
            return error(DefinedCondition::NotAcceptable);
        };
        if RESERVED.contains(&child.ns()) {
            return error(DefinedCondition::NotAcceptable);
        }
        let key = (child.ns().to_owned(), child.name().to_owned());
        match iq.kind() {
            IqType::Get => {
                let stored = self
                    .private
                    .accounts
                    .get(account)
                    .and_then(|kept| kept.get(&key))
                    .map(|(el, _)| el.clone())
                    .unwrap_or_else(|| child.to_owned());
                let answer = Element::builder("query", ns::PRIVATE)
                    .append(stored)
                    .build();
                Some(iq.make_result(Some(answer)))
            }
            IqType::Set => {
                let element = child.to_owned();
                let bytes = size(&element);
                let budget = self.private.budget();
                let kept = self.private.accounts.entry(account.clone()).or_default();
                let others: usize = kept
                    .iter()
                    .filter(|(k, _)| **k != key)
                    .map(|(_, (_, n))| n)
                    .sum();
                if others + bytes > budget {
                    return error(DefinedCondition::NotAcceptable);
                }
                kept.insert(key, (element.clone(), bytes));
                self.events.push_back(HubEvent::PrivateChanged {
                    account: account.clone(),
                    element,
                });
                Some(iq.make_result(None))
            }
            _ => None,
        }
    }
}
