//! A real server (`serve`, over TCP and TLS) on an SQLite file, stopped
//! and started again: a message sent to an offline user and a
//! subscription request both arrive after the restart, and the roster
//! is where it was.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use xmpp_proto::client::{ClientConfig, ClientEvent};
use xmpp_proto::jid::{BareJid, Jid};
use xmpp_proto::roster::Subscription;
use xmpp_proto::router::OfflinePolicy;
use xmpp_proto::stanza::{Presence, PresenceType};
use xmpp_proto::xml::ns;
use xmpp_store_sqlite::SqliteStore;
use xmpp_transport_std::serve::{Serve, ServeHandle};
use xmpp_transport_std::test_certs::TestPki;
use xmpp_transport_std::{LoginOptions, Next, Session};

const TIMEOUT: Duration = Duration::from_secs(20);

fn db_path() -> PathBuf {
    std::env::temp_dir().join(format!("xmpp-store-restart-{}.db", std::process::id()))
}

fn clean(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.to_path_buf().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}

fn start(pki: &TestPki, path: &Path) -> ServeHandle {
    let store = SqliteStore::open(path).unwrap();
    Serve::new("localhost", pki.server_tls(), store)
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

#[test]
fn what_was_sent_to_an_offline_user_arrives_after_a_restart() {
    let path = db_path();
    clean(&path);
    {
        let store = SqliteStore::open(&path).unwrap();
        store.add_account("alice", "alice-secret").unwrap();
        store.add_account("bob", "bob-secret").unwrap();
    }
    let pki = TestPki::localhost().unwrap();
    let server = start(&pki, &path);
    let mut alice = online(&pki, &server, "alice");
    let bob = BareJid::new("bob@localhost").unwrap();
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

    let server = start(&pki, &path);
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
    clean(&path);
}
