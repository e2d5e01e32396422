//! The store on its own: accounts, decoys, rosters and offline messages,
//! and that all of it is still there after the database is reopened.

use std::path::PathBuf;

use xmpp_proto::hub::OfflineMessage;
use xmpp_proto::jid::BareJid;
use xmpp_proto::roster::{RosterEntry, RosterItem, Subscription};
use xmpp_proto::sasl::{Iterations, ScramHash};
use xmpp_proto::xml::{Element, ns};
use xmpp_store_sqlite::SqliteStore;
use xmpp_transport_std::serve::{AccountStore, OfflineQuota, OfflineRefused};

/// A fresh database file for one test, removed when dropped.
struct TempDb(PathBuf);

impl TempDb {
    fn new(name: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("xmpp-store-test-{}-{name}.db", std::process::id()));
        let db = TempDb(path);
        db.clean();
        db
    }

    fn open(&self) -> SqliteStore {
        SqliteStore::open(&self.0)
            .unwrap()
            .with_iterations(Iterations(4096))
    }

    fn clean(&self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        self.clean();
    }
}

fn jid(s: &str) -> BareJid {
    BareJid::new(s).unwrap()
}

fn message(body: &str) -> OfflineMessage {
    let message = Element::builder("message", ns::CLIENT)
        .attr("from", "alice@localhost/r")
        .attr("to", "bob@localhost")
        .attr("type", "chat")
        .append(Element::builder("body", ns::CLIENT).text(body))
        .build();
    OfflineMessage {
        message,
        stamp: "2026-12-03T21:00:00Z".into(),
    }
}

#[test]
fn accounts_and_decoys_survive_a_reopen() {
    let db = TempDb::new("accounts");
    let store = db.open();
    store.add_account("Alice", "alice-secret").unwrap();
    assert!(store.check_password("alice", "alice-secret"));
    assert!(!store.check_password("alice", "guess"));
    let decoy = store
        .scram_credentials("mallory", ScramHash::Sha256)
        .unwrap();
    drop(store);

    let store = db.open();
    assert_eq!(store.account_names(), ["alice"]);
    assert!(store.check_password("alice", "alice-secret"));
    // The unknown name gets the same decoy as before the restart.
    let again = store
        .scram_credentials("mallory", ScramHash::Sha256)
        .unwrap();
    assert_eq!(again.salt, decoy.salt);
    assert!(store.set_password("alice", "new-secret").unwrap());
    assert!(store.check_password("alice", "new-secret"));
    assert!(!store.set_password("nobody", "x").unwrap());
    assert!(store.remove_account("alice").unwrap());
    assert!(!store.check_password("alice", "new-secret"));
    assert!(store.account_names().is_empty());
    assert!(store.add_account("no body", "x").is_err());
}

#[test]
fn rosters_survive_a_reopen() {
    let db = TempDb::new("rosters");
    let store = db.open();
    let mut item = RosterItem::new(jid("bob@localhost"))
        .with_name("Bob")
        .with_group("Friends")
        .with_group("Work");
    item.subscription = Subscription::Both;
    let entry = RosterEntry::new(item);
    let mut request = RosterEntry::new(RosterItem::new(jid("carol@localhost")));
    request.pending_in = true;
    request.listed = false;
    let alice = jid("alice@localhost");
    store.save_roster_entry(&alice, 1, &jid("bob@localhost"), Some(&entry));
    store.save_roster_entry(&alice, 1, &jid("carol@localhost"), Some(&request));
    store.save_roster_entry(&alice, 2, &jid("dave@localhost"), Some(&entry));
    store.save_roster_entry(&alice, 3, &jid("dave@localhost"), None);
    drop(store);

    let rosters = db.open().rosters();
    assert_eq!(rosters.len(), 1);
    assert_eq!(rosters[0].account, alice);
    assert_eq!(rosters[0].version, 3);
    assert_eq!(rosters[0].entries, [entry, request]);
}

#[test]
fn offline_messages_are_kept_in_order_within_the_quota() {
    let db = TempDb::new("offline");
    let store = db.open().with_offline_quota(OfflineQuota::new(2, 1 << 20));
    let bob = jid("bob@localhost");
    store.store_offline(&bob, &message("one")).unwrap();
    store.store_offline(&bob, &message("two")).unwrap();
    assert_eq!(
        store.store_offline(&bob, &message("three")),
        Err(OfflineRefused::QuotaExceeded)
    );
    drop(store);

    let store = db.open();
    let kept = store.take_offline(&bob);
    let bodies: Vec<String> = kept
        .iter()
        .map(|m| {
            m.message
                .child("body", ns::CLIENT)
                .unwrap()
                .text()
                .into_owned()
        })
        .collect();
    assert_eq!(bodies, ["one", "two"]);
    assert_eq!(kept[0].stamp, "2026-12-03T21:00:00Z");
    assert_eq!(kept[0].message.attr("from"), Some("alice@localhost/r"));
    assert!(store.take_offline(&bob).is_empty(), "taken means forgotten");
}

#[test]
fn private_xml_survives_a_reopen_and_a_set_replaces() {
    let db = TempDb::new("private");
    let store = db.open();
    let alice = jid("alice@localhost");
    let bookmarks = |name: &str| {
        Element::builder("storage", "storage:bookmarks")
            .append(Element::builder("conference", "storage:bookmarks").attr("name", name))
            .build()
    };
    store.save_private(&alice, &bookmarks("old"));
    store.save_private(&alice, &bookmarks("new"));
    let prefs = Element::builder("prefs", "urn:example:prefs").build();
    store.save_private(&alice, &prefs);
    drop(store);

    let data = db.open().private_data();
    assert_eq!(data.len(), 1);
    let (account, elements) = &data[0];
    assert_eq!(account, &alice);
    assert_eq!(elements.len(), 2);
    let stored = elements
        .iter()
        .find(|e| e.ns() == "storage:bookmarks")
        .unwrap();
    assert_eq!(stored, &bookmarks("new"));
}

#[test]
fn block_lists_survive_a_reopen() {
    let db = TempDb::new("blocked");
    let store = db.open();
    let alice = jid("alice@localhost");
    store.save_blocklist(&alice, &["mallory@localhost".into(), "spam.example".into()]);
    store.save_blocklist(&jid("bob@localhost"), &["eve@localhost".into()]);
    store.save_blocklist(&jid("bob@localhost"), &[]);
    drop(store);
    let lists = db.open().blocklists();
    assert_eq!(
        lists,
        [(
            alice,
            vec!["mallory@localhost".to_owned(), "spam.example".to_owned()]
        )]
    );
}
