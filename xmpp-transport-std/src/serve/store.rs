//! What a server keeps for its accounts besides their keys: rosters,
//! messages that arrived while they were offline, and private XML. The types an
//! [`AccountStore`](super::AccountStore) hands over, the per-account
//! quota on offline messages, and the in-memory keeping that
//! [`Accounts`](super::Accounts) does (lost at a restart; a store over a
//! database keeps them).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;

use xmpp_proto::hub::OfflineMessage;
use xmpp_proto::jid::BareJid;
use xmpp_proto::roster::RosterEntry;
use xmpp_proto::xml::Element;

/// One account's roster as a store keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredRoster {
    /// The account.
    pub account: BareJid,
    /// The roster's version.
    pub version: u64,
    /// What is kept about each contact.
    pub entries: Vec<RosterEntry>,
}

impl StoredRoster {
    /// A roster of `account` at `version`.
    pub fn new(account: BareJid, version: u64, entries: Vec<RosterEntry>) -> Self {
        StoredRoster {
            account,
            version,
            entries,
        }
    }
}

/// How much one account may have waiting while offline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OfflineQuota {
    /// Messages (default 1,000).
    pub messages: usize,
    /// Bytes of serialized messages (default 1 MiB).
    pub bytes: usize,
}

impl Default for OfflineQuota {
    fn default() -> Self {
        OfflineQuota {
            messages: 1000,
            bytes: 1024 * 1024,
        }
    }
}

impl OfflineQuota {
    /// A quota of `messages` and `bytes`.
    pub fn new(messages: usize, bytes: usize) -> Self {
        OfflineQuota { messages, bytes }
    }

    /// Whether one more message of `size` bytes fits beside `count`
    /// messages of `total` bytes.
    pub fn admits(&self, count: usize, total: usize, size: usize) -> bool {
        count < self.messages && total.saturating_add(size) <= self.bytes
    }
}

/// Why a store did not keep a message for an offline account; its
/// sender is answered with an error.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OfflineRefused {
    /// The store keeps no offline messages.
    Unsupported,
    /// The account's quota is used up.
    QuotaExceeded,
    /// The store failed (the text says how).
    Failed(String),
}

impl fmt::Display for OfflineRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OfflineRefused::Unsupported => f.write_str("offline messages are not kept"),
            OfflineRefused::QuotaExceeded => f.write_str("the account's offline quota is used up"),
            OfflineRefused::Failed(why) => write!(f, "the store failed: {why}"),
        }
    }
}

impl std::error::Error for OfflineRefused {}

/// Rosters and offline messages kept in memory.
#[derive(Debug, Default)]
pub(super) struct MemoryData {
    rosters: HashMap<BareJid, (u64, BTreeMap<String, RosterEntry>)>,
    offline: HashMap<BareJid, (VecDeque<(OfflineMessage, usize)>, usize)>,
    private: HashMap<BareJid, BTreeMap<(String, String), Element>>,
    pub(super) blocklists: HashMap<BareJid, Vec<String>>,
    pub(super) quota: OfflineQuota,
    pub(super) fast: super::fast::FastTokenBook,
}

impl MemoryData {
    pub(super) fn rosters(&self) -> Vec<StoredRoster> {
        self.rosters
            .iter()
            .map(|(account, (version, entries))| {
                StoredRoster::new(
                    account.clone(),
                    *version,
                    entries.values().cloned().collect(),
                )
            })
            .collect()
    }

    pub(super) fn save_roster_entry(
        &mut self,
        account: &BareJid,
        version: u64,
        contact: &BareJid,
        entry: Option<&RosterEntry>,
    ) {
        let (stored_version, entries) = self.rosters.entry(account.clone()).or_default();
        *stored_version = version;
        match entry {
            Some(entry) => entries.insert(contact.as_str().to_owned(), entry.clone()),
            None => entries.remove(contact.as_str()),
        };
    }

    pub(super) fn store_offline(
        &mut self,
        account: &BareJid,
        message: &OfflineMessage,
    ) -> Result<(), OfflineRefused> {
        let mut bytes = Vec::new();
        message
            .message
            .write_to(&mut bytes)
            .map_err(|e| OfflineRefused::Failed(e.to_string()))?;
        let size = bytes.len();
        let (queue, total) = self.offline.entry(account.clone()).or_default();
        if !self.quota.admits(queue.len(), *total, size) {
            return Err(OfflineRefused::QuotaExceeded);
        }
        *total += size;
        queue.push_back((message.clone(), size));
        Ok(())
    }

    pub(super) fn private_data(&self) -> Vec<(BareJid, Vec<Element>)> {
        self.private
            .iter()
            .map(|(account, kept)| (account.clone(), kept.values().cloned().collect()))
            .collect()
    }

    pub(super) fn save_private(&mut self, account: &BareJid, element: &Element) {
        let key = (element.ns().to_owned(), element.name().to_owned());
        self.private
            .entry(account.clone())
            .or_default()
            .insert(key, element.clone());
    }

    pub(super) fn take_offline(&mut self, account: &BareJid) -> Vec<OfflineMessage> {
        self.offline
            .remove(account)
            .map(|(queue, _)| queue.into_iter().map(|(m, _)| m).collect())
            .unwrap_or_default()
    }
}

/// Tells `hub` what `store` keeps, at start: which accounts exist, and
/// their rosters.
pub fn seed_hub(hub: &mut xmpp_proto::hub::Hub, store: &dyn super::AccountStore) {
    let domain = hub.domain().to_owned();
    for name in store.account_names() {
        if let Ok(account) = BareJid::new(&format!("{name}@{domain}")) {
            hub.add_account(&account);
        }
    }
    for roster in store.rosters() {
        hub.restore_roster(roster.account, roster.version, roster.entries);
    }
    for (account, elements) in store.private_data() {
        hub.restore_private(account, elements);
    }
    for (account, blocked) in store.blocklists() {
        hub.restore_blocklist(account, blocked);
    }
}

/// Carries out one of the hub's requests to the store (a roster change
/// to keep, a message to keep for an offline account, the kept messages
/// to deliver) against `store`; any other event comes back.
pub fn keep_for_hub(
    hub: &mut xmpp_proto::hub::Hub,
    store: &dyn super::AccountStore,
    now: xmpp_proto::time::Time,
    event: xmpp_proto::hub::HubEvent,
) -> Option<xmpp_proto::hub::HubEvent> {
    use xmpp_proto::hub::HubEvent;
    match event {
        HubEvent::RosterChanged {
            account,
            version,
            contact,
            entry,
        } => {
            store.save_roster_entry(&account, version, &contact, entry.as_deref());
            None
        }
        HubEvent::StoreOffline { to, message } => {
            let kept = OfflineMessage {
                message,
                stamp: crate::clock::utc_stamp(std::time::SystemTime::now()),
            };
            if store.store_offline(&to, &kept).is_err() {
                hub.refuse_offline(now, kept.message);
            }
            None
        }
        HubEvent::BlocklistChanged { account, blocked } => {
            store.save_blocklist(&account, &blocked);
            None
        }
        HubEvent::PrivateChanged { account, element } => {
            store.save_private(&account, &element);
            None
        }
        HubEvent::FastTokensRevoked {
            account,
            user_agent,
        } => {
            store.revoke_fast_tokens(&account, &user_agent);
            None
        }
        HubEvent::OfflineWanted { account, session } => {
            let messages = store.take_offline(&account);
            if !messages.is_empty() {
                hub.deliver_offline(now, session, messages);
            }
            None
        }
        other => Some(other),
    }
}
