//! Rosters and presence subscriptions (RFC 6121 §2 and §3), for both
//! roles: the items and queries on the wire ([`RosterItem`],
//! [`RosterQuery`]), a roster as the client keeps it ([`Roster`]), and
//! the subscription state of one contact with the transitions of the
//! RFC's Appendix A ([`SubscriptionState`]), which a server applies.

mod item;
mod state;

use std::collections::BTreeMap;

pub use self::item::{RosterError, RosterItem, RosterQuery, Subscription};
pub use self::state::{Inbound, Outbound, SubscriptionState, Transition};

/// What a server keeps about one contact of one account: the roster
/// item the user sees, plus what the item does not show (a request from
/// the contact waiting for an answer, and whether the contact is on the
/// roster at all: a stranger's request is kept without adding it, RFC
/// 6121 §3.1.3).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RosterEntry {
    /// The item (name, groups, subscription, ask, approved).
    pub item: RosterItem,
    /// The contact asked to see the user's presence and waits.
    pub pending_in: bool,
    /// The contact is on the user's roster (not only a pending request).
    pub listed: bool,
}

impl RosterEntry {
    /// An entry for `item`, on the roster, with no pending request.
    pub fn new(item: RosterItem) -> Self {
        RosterEntry {
            item,
            pending_in: false,
            listed: true,
        }
    }

    /// The subscription state it describes.
    pub fn state(&self) -> SubscriptionState {
        SubscriptionState {
            pending_in: self.pending_in,
            ..SubscriptionState::from_item(&self.item)
        }
    }

    /// Takes on `state`'s subscription, ask, approval and pending
    /// request.
    pub fn set_state(&mut self, state: SubscriptionState) {
        self.item.subscription = state.subscription();
        self.item.ask = state.pending_out;
        self.item.approved = state.approved;
        self.pending_in = state.pending_in;
    }
}

/// A roster: the items by contact, and the version they are at.
///
/// ```
/// use xmpp_proto::jid::BareJid;
/// use xmpp_proto::roster::{Roster, RosterItem, RosterQuery, Subscription};
///
/// let mut roster = Roster::default();
/// let mut query = RosterQuery::default();
/// query.ver = Some("v1".into());
/// query.items.push(RosterItem::new(BareJid::new("romeo@example.net")?));
/// roster.replace(query);
///
/// // A push: romeo approved our request.
/// let mut item = RosterItem::new(BareJid::new("romeo@example.net")?);
/// item.subscription = Subscription::To;
/// roster.apply(item, Some("v2".into()));
/// assert_eq!(roster.get("romeo@example.net").unwrap().subscription, Subscription::To);
/// assert_eq!(roster.version(), Some("v2"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Roster {
    ver: Option<String>,
    items: BTreeMap<String, RosterItem>,
}

impl Roster {
    /// The version of the roster, if the server keeps versions.
    pub fn version(&self) -> Option<&str> {
        self.ver.as_deref()
    }

    /// The item for the bare JID `jid` (prepared), if any.
    pub fn get(&self, jid: &str) -> Option<&RosterItem> {
        self.items.get(jid)
    }

    /// Every item, ordered by JID.
    pub fn items(&self) -> impl ExactSizeIterator<Item = &RosterItem> {
        self.items.values()
    }

    /// How many contacts.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Replaces everything with a full roster (the answer to a roster
    /// get).
    pub fn replace(&mut self, query: RosterQuery) {
        self.ver = query.ver;
        self.items = query
            .items
            .into_iter()
            .filter(|item| item.subscription != Subscription::Remove)
            .map(|item| (item.jid.as_str().to_owned(), item))
            .collect();
    }

    /// Applies one pushed item (added, changed, or removed with
    /// `subscription='remove'`) and the version it brings. Returns the
    /// item it replaced or removed, if any.
    pub fn apply(&mut self, item: RosterItem, ver: Option<String>) -> Option<RosterItem> {
        if ver.is_some() {
            self.ver = ver;
        }
        let key = item.jid.as_str().to_owned();
        if item.subscription == Subscription::Remove {
            self.items.remove(&key)
        } else {
            self.items.insert(key, item)
        }
    }
}
