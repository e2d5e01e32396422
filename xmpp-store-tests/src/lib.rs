//! The test suite every store of the servers passes: accounts and decoys,
//! rosters, offline messages within their quota, private XML and block
//! lists, each written, the store dropped and opened again, and read
//! back; then a real server on the store, stopped and started between a
//! message to an offline user and that user's login.
//!
//! A store crate runs it from one of its integration tests:
//!
//! ```ignore
//! struct Fresh(/* this test's own database */);
//! impl xmpp_store_tests::Harness for Fresh { ... }
//! fn fresh(test: &str) -> Fresh { ... }
//! xmpp_store_tests::store_suite!(fresh);
//! ```

use std::net::TcpListener;
use std::time::{Duration, Instant};

use xmpp_proto::client::{ClientConfig, ClientEvent};
use xmpp_proto::hub::OfflineMessage;
use xmpp_proto::jid::{BareJid, Jid};
use xmpp_proto::roster::{RosterEntry, RosterItem, Subscription};
use xmpp_proto::router::OfflinePolicy;
use xmpp_proto::sasl::ScramHash;
use xmpp_proto::stanza::{Presence, PresenceType};
use xmpp_proto::xml::{Element, ns};
use xmpp_transport_std::serve::{
    AccountStore, ManageAccounts, OfflineQuota, OfflineRefused, Serve, ServeHandle,
};
use xmpp_transport_std::test_certs::TestPki;
use xmpp_transport_std::{LoginOptions, Next, Session};

/// One test's own database, empty when the harness is made.
pub trait Harness {
    /// The store under test.
    type Store: ManageAccounts + 'static;

    /// Opens the store on this test's database, with 4,096 PBKDF2
    /// iterations for new passwords and `quota` for offline messages.
    /// Called again after the previous store was dropped: the new one
    /// must find everything the old one kept.
    fn open(&self, quota: OfflineQuota) -> Self::Store;
}

/// Generates one `#[test]` per test of the suite, each calling `$fresh`
/// (a `fn(&str) -> impl Harness`, given the test's name) for its own
/// database. Attributes before the name go on every test (`#[ignore =
/// "..."]` for a store that needs a server).
#[macro_export]
macro_rules! store_suite {
    ($(#[$attr:meta])* $fresh:path) => {
        $crate::store_suite!(@each [$(#[$attr])*] $fresh:
            accounts_and_decoys_survive_a_reopen,
            rosters_survive_a_reopen,
            offline_messages_are_kept_in_order_within_the_quota,
            private_xml_survives_a_reopen_and_a_set_replaces,
            block_lists_survive_a_reopen,
            fast_tokens_are_kept_renewed_and_revoked,
            what_was_sent_to_an_offline_user_arrives_after_a_restart
        );
    };
    (@each [$($attr:tt)*] $fresh:path: $test:ident $(, $rest:ident)*) => {
        $($attr)*
        #[test]
        fn $test() {
            $crate::$test(&$fresh(stringify!($test)));
        }
        $crate::store_suite!(@each [$($attr)*] $fresh: $($rest),*);
    };
    (@each [$($attr:tt)*] $fresh:path:) => {};
}

fn jid(s: &str) -> BareJid {
    BareJid::new(s).unwrap()
}

fn open<H: Harness>(harness: &H) -> H::Store {
    harness.open(OfflineQuota::default())
}

/// Accounts are kept as keys, unknown names get the same decoy after a
/// reopen, passwords change, accounts go.
pub fn accounts_and_decoys_survive_a_reopen<H: Harness>(harness: &H) {
    let store = open(harness);
    store.add_account("Alice", "alice-secret").unwrap();
    assert!(store.check_password("alice", "alice-secret"));
    assert!(!store.check_password("alice", "guess"));
    let decoy = store
        .scram_credentials("mallory", ScramHash::Sha256)
        .unwrap();
    drop(store);

    let store = open(harness);
    assert_eq!(store.account_names(), ["alice"]);
    assert!(store.check_password("alice", "alice-secret"));
    let keys = store.scram_credentials("alice", ScramHash::Sha512).unwrap();
    assert_eq!(keys.iterations.0, 4096);
    let again = store
        .scram_credentials("mallory", ScramHash::Sha256)
        .unwrap();
    assert_eq!(again.salt, decoy.salt, "the decoy changed with a reopen");
    assert!(!store.check_password("mallory", "alice-secret"));
    assert!(store.set_password("alice", "new-secret").unwrap());
    assert!(store.check_password("alice", "new-secret"));
    assert!(!store.check_password("alice", "alice-secret"));
    assert!(!store.set_password("nobody", "x").unwrap());
    assert!(store.remove_account("alice").unwrap());
    assert!(!store.remove_account("alice").unwrap());
    assert!(!store.check_password("alice", "new-secret"));
    assert!(store.account_names().is_empty());
    assert!(store.add_account("no body", "x").is_err());
}

/// Roster entries with groups, a pending request, a removal and the
/// roster's version.
pub fn rosters_survive_a_reopen<H: Harness>(harness: &H) {
    let store = open(harness);
    let mut item = RosterItem::new(jid("bob@localhost"))
        .with_name("Bob")
        .with_group("Friends")
        .with_group("Work");
    item.subscription = Subscription::Both;
    let entry = RosterEntry::new(item);
    let mut request = RosterEntry::new(RosterItem::new(jid("carol@localhost")));
    request.pending_in = true;
    request.listed = false;
    let mut asked = RosterEntry::new(RosterItem::new(jid("erin@localhost")));
    asked.item.ask = true;
    asked.item.approved = true;
    let alice = jid("alice@localhost");
    store.save_roster_entry(&alice, 1, &jid("bob@localhost"), Some(&entry));
    store.save_roster_entry(&alice, 1, &jid("carol@localhost"), Some(&request));
    store.save_roster_entry(&alice, 2, &jid("dave@localhost"), Some(&entry));
    store.save_roster_entry(&alice, 3, &jid("dave@localhost"), None);
    store.save_roster_entry(&alice, 4, &jid("erin@localhost"), Some(&asked));
    // A change replaces the entry, groups included.
    let mut renamed = entry.clone();
    renamed.item.groups = vec!["Family".into()];
    store.save_roster_entry(
        &jid("zoe@localhost"),
        1,
        &jid("bob@localhost"),
        Some(&entry),
    );
    store.save_roster_entry(
        &jid("zoe@localhost"),
        2,
        &jid("bob@localhost"),
        Some(&renamed),
    );
    drop(store);

    let rosters = open(harness).rosters();
    assert_eq!(rosters.len(), 2);
    assert_eq!(rosters[0].account, alice);
    assert_eq!(rosters[0].version, 4);
    assert_eq!(rosters[0].entries, [entry, request, asked]);
    assert_eq!(rosters[1].version, 2);
    assert_eq!(rosters[1].entries, [renamed]);
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

fn bodies(kept: &[OfflineMessage]) -> Vec<String> {
    kept.iter()
        .map(|m| {
            m.message
                .child("body", ns::CLIENT)
                .unwrap()
                .text()
                .into_owned()
        })
        .collect()
}

/// Messages come back oldest first, once, with their stamps; past the
/// quota (in messages or in bytes) they are refused.
pub fn offline_messages_are_kept_in_order_within_the_quota<H: Harness>(harness: &H) {
    let store = harness.open(OfflineQuota::new(2, 1 << 20));
    let bob = jid("bob@localhost");
    store.store_offline(&bob, &message("one")).unwrap();
    store.store_offline(&bob, &message("two")).unwrap();
    assert_eq!(
        store.store_offline(&bob, &message("three")),
        Err(OfflineRefused::QuotaExceeded)
    );
    // Another account has a quota of its own.
    store
        .store_offline(&jid("carol@localhost"), &message("for carol"))
        .unwrap();
    drop(store);

    let store = open(harness);
    let kept = store.take_offline(&bob);
    assert_eq!(bodies(&kept), ["one", "two"]);
    assert_eq!(kept[0].stamp, "2026-12-03T21:00:00Z");
    assert_eq!(kept[0].message.attr("from"), Some("alice@localhost/r"));
    assert!(store.take_offline(&bob).is_empty(), "taken means forgotten");
    assert_eq!(
        bodies(&store.take_offline(&jid("carol@localhost"))),
        ["for carol"]
    );
    drop(store);

    let small = harness.open(OfflineQuota::new(100, 600));
    let big = message(&"x".repeat(300));
    small.store_offline(&bob, &big).unwrap();
    assert_eq!(
        small.store_offline(&bob, &big),
        Err(OfflineRefused::QuotaExceeded)
    );
    assert_eq!(small.take_offline(&bob).len(), 1);
}

/// A set under the same namespace and name replaces; others stay.
pub fn private_xml_survives_a_reopen_and_a_set_replaces<H: Harness>(harness: &H) {
    let store = open(harness);
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

    let data = open(harness).private_data();
    assert_eq!(data.len(), 1);
    let (account, elements) = &data[0];
    assert_eq!(account, &alice);
    assert_eq!(elements.len(), 2);
    let stored = elements
        .iter()
        .find(|e| e.ns() == "storage:bookmarks")
        .unwrap();
    assert_eq!(stored, &bookmarks("new"));
    assert!(elements.contains(&prefs));
}

/// The list as last saved; an emptied list is gone.
pub fn block_lists_survive_a_reopen<H: Harness>(harness: &H) {
    let store = open(harness);
    let alice = jid("alice@localhost");
    store.save_blocklist(&alice, &["mallory@localhost".into(), "spam.example".into()]);
    store.save_blocklist(&jid("bob@localhost"), &["eve@localhost".into()]);
    store.save_blocklist(&jid("bob@localhost"), &[]);
    drop(store);
    let lists = open(harness).blocklists();
    assert_eq!(
        lists,
        [(
            alice,
            vec!["mallory@localhost".to_owned(), "spam.example".to_owned()]
        )]
    );
}

const TIMEOUT: Duration = Duration::from_secs(20);

/// FAST tokens (XEP-0484): an issued token is found again after a
/// reopen, only for its account, user agent and mechanism; a renewal
/// keeps the token it replaces (once) and drops the others; revocation
/// forgets the agent's tokens.
pub fn fast_tokens_are_kept_renewed_and_revoked<H: Harness>(harness: &H) {
    use xmpp_proto::sasl::Mechanism::{HtSha256Expr as Expr, HtSha256None as None_};
    let alice = jid("alice@example.com");
    let bob = jid("bob@example.com");
    let first = {
        let store = open(harness);
        let token = store.issue_fast_token(&alice, "agent-1", Expr, None);
        token.expect("the store issues tokens")
    };
    assert!(first.expiry.ends_with('Z') && first.token.len() >= 32);
    let store = open(harness);
    assert_eq!(
        store.fast_tokens(&alice, "agent-1", Expr),
        std::slice::from_ref(&first.token)
    );
    assert!(store.fast_tokens(&alice, "agent-2", Expr).is_empty());
    assert!(store.fast_tokens(&bob, "agent-1", Expr).is_empty());
    assert!(store.fast_tokens(&alice, "agent-1", None_).is_empty());

    let second = store
        .issue_fast_token(&alice, "agent-1", Expr, Some(&first.token))
        .expect("renewed");
    assert_ne!(second.token, first.token);
    assert_eq!(
        store.fast_tokens(&alice, "agent-1", Expr),
        [second.token.clone(), first.token.clone()],
        "newest first, the replaced one kept"
    );
    // A login with the old one again: its renewal supersedes the second.
    let third = store
        .issue_fast_token(&alice, "agent-1", Expr, Some(&first.token))
        .expect("renewed");
    assert_eq!(
        store.fast_tokens(&alice, "agent-1", Expr),
        [third.token.clone(), first.token.clone()]
    );
    // Another agent's tokens are its own.
    let other = store
        .issue_fast_token(&alice, "agent-2", Expr, None)
        .unwrap();
    store.revoke_fast_tokens(&alice, "agent-1");
    drop(store);
    let store = open(harness);
    assert!(store.fast_tokens(&alice, "agent-1", Expr).is_empty());
    assert_eq!(store.fast_tokens(&alice, "agent-2", Expr), [other.token]);
}

fn start<H: Harness>(harness: &H, pki: &TestPki) -> ServeHandle {
    Serve::new("localhost", pki.server_tls(), open(harness))
        .unwrap()
        .with_hub(|h| h.with_offline_policy(OfflinePolicy::Store))
        .start(TcpListener::bind("127.0.0.1:0").unwrap())
        .unwrap()
}

/// Logs `user` in, fetches its roster and sends initial presence.
fn online(pki: &TestPki, server: &ServeHandle, user: &str) -> Session {
    let config = ClientConfig::new(
        Jid::new(&format!("{user}@localhost/r")).unwrap(),
        format!("{user}-secret"),
    );
    let options = LoginOptions {
        server: Some(server.local_addr().to_string()),
        trust: Some(pki.trust_anchors()),
        timeout: Some(TIMEOUT),
        ..LoginOptions::default()
    };
    let mut session = Session::login_config(config, options).unwrap();
    session
        .connection()
        .command(|c, now| c.request_roster(now))
        .unwrap()
        .unwrap();
    wait_for(&mut session, |e| matches!(e, ClientEvent::RosterReceived));
    session
        .connection()
        .command(|c, now| c.send(now, Presence::builder(PresenceType::Available).build()))
        .unwrap()
        .unwrap();
    session
}

/// Takes events until one matches; returns it.
fn wait_for(session: &mut Session, want: impl Fn(&ClientEvent) -> bool) -> ClientEvent {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match session.next_event_until(deadline).unwrap() {
            Next::Event(event) if want(&event) => return event,
            Next::Event(_) => {}
            other => panic!("no such event: {other:?}"),
        }
    }
}

/// A real server (`serve`, TCP and TLS) on the store, stopped and started
/// again: a message sent to an offline user and a subscription request
/// both arrive after the restart, and the roster is where it was.
pub fn what_was_sent_to_an_offline_user_arrives_after_a_restart<H: Harness>(harness: &H) {
    {
        let store = open(harness);
        store.add_account("alice", "alice-secret").unwrap();
        store.add_account("bob", "bob-secret").unwrap();
    }
    let pki = TestPki::localhost().unwrap();
    let server = start(harness, &pki);
    let mut alice = online(&pki, &server, "alice");
    let bob = jid("bob@localhost");
    alice
        .send_message("bob@localhost", "while you were out")
        .unwrap();
    alice
        .connection()
        .command(|c, now| c.subscribe(now, &bob))
        .unwrap()
        .unwrap();
    wait_for(&mut alice, |e| matches!(e, ClientEvent::RosterPush { .. }));
    alice.close().unwrap();
    server.shutdown();

    let server = start(harness, &pki);
    let mut bob_session = online(&pki, &server, "bob");
    // Both arrive after bob's initial presence, in either order.
    let (mut kept, mut request) = (None, None);
    let deadline = Instant::now() + TIMEOUT;
    while kept.is_none() || request.is_none() {
        match bob_session.next_event_until(deadline).unwrap() {
            Next::Event(ClientEvent::Message(m)) => kept = Some(m),
            Next::Event(ClientEvent::SubscriptionRequest { from, .. }) => request = Some(from),
            Next::Event(_) => {}
            other => panic!("not both: {other:?} ({kept:?}, {request:?})"),
        }
    }
    let kept = kept.unwrap();
    assert_eq!(kept.body().as_deref(), Some("while you were out"));
    assert!(kept.element().child("delay", ns::DELAY).is_some());
    assert_eq!(request.unwrap().as_str(), "alice@localhost");
    // Alice's roster came back too: bob, asked and waiting.
    let mut alice = online(&pki, &server, "alice");
    let item = alice
        .connection()
        .endpoint()
        .roster()
        .get("bob@localhost")
        .cloned()
        .expect("bob on alice's roster");
    assert!(item.ask && item.subscription == Subscription::None);
    alice.close().unwrap();
    bob_session.close().unwrap();
    server.shutdown();
}
