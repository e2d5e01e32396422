//! XEP-0198 through the `serve` helper: a session whose connection
//! breaks is kept detached, gets what was routed to it meanwhile when the
//! client resumes, takes over from a connection not yet noticed dead,
//! and bounces its queue to the senders when it expires. And messages
//! for an account that is offline: kept in the store within its quota
//! and delivered at the next login, or refused to their sender.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use xmpp_proto::client::{ClientConfig, ClientEvent, StanzaId};
use xmpp_proto::endpoint::Endpoint;
use xmpp_proto::jid::Jid;
use xmpp_proto::router::OfflinePolicy;
use xmpp_proto::sm::{SmConfig, SmSession};
use xmpp_proto::stanza::{Message, Presence, PresenceType};
use xmpp_proto::xml::ns;
use xmpp_transport_std::serve::{Accounts, OfflineQuota, Serve, ServeHandle, SessionLog};
use xmpp_transport_std::test_certs::TestPki;
use xmpp_transport_std::{LoginOptions, Next, Session, clock};

const TIMEOUT: Duration = Duration::from_secs(20);

struct Setup {
    pki: TestPki,
    server: ServeHandle,
    log: Arc<Mutex<Vec<String>>>,
}

fn start(sm: SmConfig) -> Setup {
    start_with(sm, |serve| serve)
}

fn accounts() -> Accounts {
    let mut accounts = Accounts::new();
    accounts.add("alice", "alice-secret").unwrap();
    accounts.add("bob", "bob-secret").unwrap();
    accounts.add("carol", "carol-secret").unwrap();
    accounts
}

fn start_with(sm: SmConfig, configure: impl FnOnce(Serve) -> Serve) -> Setup {
    start_with_accounts(sm, accounts(), configure)
}

fn start_with_accounts(
    sm: SmConfig,
    accounts: Accounts,
    configure: impl FnOnce(Serve) -> Serve,
) -> Setup {
    let pki = TestPki::localhost().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let server = Serve::new("localhost", pki.server_tls(), accounts)
        .unwrap()
        .with_config(move |c| c.with_stream_management(sm))
        .with_log(move |entry: &SessionLog<'_>| sink.lock().unwrap().push(entry.to_string()));
    let server = configure(server)
        .start(TcpListener::bind("127.0.0.1:0").unwrap())
        .unwrap();
    Setup { pki, server, log }
}

/// `user@localhost/r` online with stream management enabled (or the
/// session `resume` resumed).
fn login(setup: &Setup, user: &str, resume: Option<SmSession>) -> Session {
    login_sm(setup, user, resume, SmConfig::default())
}

/// [`login`] with the client's stream management configuration.
fn login_sm(setup: &Setup, user: &str, resume: Option<SmSession>, sm: SmConfig) -> Session {
    let jid = Jid::new(&format!("{user}@localhost/r")).unwrap();
    let mut config = ClientConfig::new(jid, format!("{user}-secret")).with_stream_management(sm);
    if let Some(state) = resume {
        config = config.with_resumption(state);
    }
    let options = LoginOptions {
        server: Some(setup.server.local_addr().to_string()),
        trust: Some(setup.pki.trust_anchors()),
        timeout: Some(TIMEOUT),
        ..LoginOptions::default()
    };
    let mut session = Session::login_config(config, options).unwrap();
    // Online comes after <enabled/>: a break from here on is resumable.
    assert!(session.connection().endpoint().sm_id().is_some());
    session
}

fn next_message(session: &mut Session) -> Message {
    match next_within(session) {
        Got::Message(m) => m,
        Got::Bounced { id, .. } => panic!("{id} bounced where a message was expected"),
    }
}

/// The next message within [`TIMEOUT`].
fn next_message_within(session: &mut Session) -> Message {
    next_message(session)
}

/// A message, or an error for one we sent.
#[derive(Debug)]
enum Got {
    Message(Message),
    Bounced { id: StanzaId, from: Option<String> },
}

/// The session's next message or bounce, within [`TIMEOUT`].
fn next_within(session: &mut Session) -> Got {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match session.next_event_until(deadline).unwrap() {
            Next::Event(ClientEvent::Message(m)) => return Got::Message(m),
            Next::Event(ClientEvent::Bounced { id, from, .. }) => {
                return Got::Bounced { id, from };
            }
            Next::Event(_) => {}
            Next::Deadline => panic!("nothing within {TIMEOUT:?}"),
            Next::Closed => panic!("the connection ended"),
        }
    }
}

/// Waits for the server's log line of `jid`'s end.
fn wait_for_end(setup: &Setup, jid: &str) {
    let deadline = Instant::now() + TIMEOUT;
    let ended = || {
        let log = setup.log.lock().unwrap();
        log.iter().any(|l| l.contains("ended") && l.contains(jid))
    };
    while !ended() {
        assert!(Instant::now() < deadline, "the server never noticed");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_broken_session_is_resumed_with_what_was_routed_to_it_meanwhile() {
    let setup = start(SmConfig::default());
    let mut alice = login(&setup, "alice", None);
    let mut bob = login(&setup, "bob", None);
    alice.send_message("bob@localhost/r", "before").unwrap();
    assert_eq!(next_message(&mut bob).body().as_deref(), Some("before"));

    let state = bob.abandon().resumable.expect("resumable");
    wait_for_end(&setup, "bob@localhost/r");
    assert_eq!(setup.server.detached_count(), 1);
    for body in ["while away 1", "while away 2"] {
        alice.send_message("bob@localhost/r", body).unwrap();
    }
    let mut bob = login(&setup, "bob", Some(state));
    for body in ["while away 1", "while away 2"] {
        assert_eq!(next_message(&mut bob).body().as_deref(), Some(body));
    }
    assert_eq!(setup.server.detached_count(), 0);
    alice.send_message("bob@localhost/r", "after").unwrap();
    assert_eq!(next_message(&mut bob).body().as_deref(), Some("after"));
    bob.send_message("alice@localhost/r", "back").unwrap();
    assert_eq!(next_message(&mut alice).body().as_deref(), Some("back"));
    let log = setup.log.lock().unwrap().clone();
    assert!(log.iter().any(|l| l.contains("resumed bob@localhost/r")));
    alice.close().unwrap();
    bob.close().unwrap();
    setup.server.shutdown();
}

#[test]
fn a_resume_takes_over_a_connection_not_yet_noticed_dead() {
    let setup = start(SmConfig::default());
    let mut alice = login(&setup, "alice", None);
    let mut bob = login(&setup, "bob", None);
    // The client gives up on a connection that still looks alive to the
    // server (the socket stays open).
    bob.connection().endpoint_mut().handle_eof(clock::now());
    let mut state = None;
    while let Some(event) = bob.connection().endpoint_mut().poll_event() {
        if let ClientEvent::Resumable(s) = event {
            state = Some(*s);
        }
    }
    let mut bob2 = login(&setup, "bob", Some(state.expect("resumable")));
    alice.send_message("bob@localhost/r", "two").unwrap();
    assert_eq!(next_message(&mut bob2).body().as_deref(), Some("two"));
    drop(bob);
    alice.close().unwrap();
    bob2.close().unwrap();
    setup.server.shutdown();
}

/// Waits until `done` holds, for at most [`TIMEOUT`].
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: timed out");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn an_expired_session_bounces_what_was_queued_for_it() {
    // Sessions are kept 300 s (carol asks for 1 s), and only one at a
    // time: a second detached session makes the first expire at once.
    let setup = start_with(SmConfig::default(), |serve| {
        serve.with_hub(|h| h.with_detached_limit(1))
    });
    let mut alice = login(&setup, "alice", None);
    let mut bob = login(&setup, "bob", None);
    let carol = login_sm(&setup, "carol", None, SmConfig::default().with_max(Some(1)));
    // The message reaches bob's client, which does not acknowledge it
    // (the server asks only after 5 stanzas or 5 s): it stays in bob's
    // queue. Having been delivered, it cannot come back as an offline
    // bounce.
    let id = alice
        .send_message("bob@localhost/r", "into the void")
        .unwrap();
    assert_eq!(next_message(&mut bob).id(), Some(id.as_str()));

    let state = bob.abandon().resumable.expect("resumable");
    wait_for_end(&setup, "bob@localhost/r");
    assert_eq!(setup.server.detached_count(), 1, "bob's session is kept");
    // Nothing came back yet: alice's next message is her own marker.
    alice.send_message("alice@localhost/r", "marker").unwrap();
    assert_eq!(
        next_message_within(&mut alice).body().as_deref(),
        Some("marker")
    );

    // Carol's break pushes bob's session out: it expires, and its queue
    // goes back to the sender.
    drop(carol.abandon());
    wait_for_end(&setup, "carol@localhost/r");
    match next_within(&mut alice) {
        Got::Bounced { id: got, from } => {
            assert_eq!(got, id);
            assert_eq!(from.as_deref(), Some("bob@localhost/r"));
        }
        other => panic!("expected the bounce, got {other:?}"),
    }
    // Carol's session expires on time (the reaper thread), after her 1 s.
    wait_until("carol's session expires", || {
        setup.server.detached_count() == 0
    });
    // Bob's session is gone: his resumption fails, a new one is bound.
    let bob = login(&setup, "bob", Some(state));
    assert_eq!(bob.jid().as_str(), "bob@localhost/r");
    let log = setup.log.lock().unwrap().clone();
    assert!(!log.iter().any(|l| l.contains("resumed")), "{log:?}");
    alice.close().unwrap();
    bob.close().unwrap();
    setup.server.shutdown();
}

#[test]
fn offline_messages_are_kept_for_the_next_login_within_the_quota() {
    let store = accounts().with_offline_quota(OfflineQuota::new(1, 1 << 20));
    let setup = start_with_accounts(SmConfig::default(), store, |serve| {
        serve.with_hub(|h| h.with_offline_policy(OfflinePolicy::Store))
    });
    let mut alice = login(&setup, "alice", None);
    alice.send_message("bob@localhost", "for later").unwrap();
    // Past bob's quota of one message: alice hears.
    let over = alice.send_message("bob@localhost", "one too many").unwrap();
    match next_within(&mut alice) {
        Got::Bounced { id, .. } => assert_eq!(id, over),
        other => panic!("expected the bounce, got {other:?}"),
    }
    // Bob's initial presence brings the kept message, stamped.
    let mut bob = login(&setup, "bob", None);
    bob.connection()
        .command(|c, now| c.send(now, Presence::builder(PresenceType::Available).build()))
        .unwrap()
        .unwrap();
    let kept = next_message(&mut bob);
    assert_eq!(kept.body().as_deref(), Some("for later"));
    let delay = kept
        .element()
        .child("delay", ns::DELAY)
        .expect("a delay stamp");
    assert!(delay.attr("stamp").is_some_and(|s| s.ends_with('Z')));
    alice.close().unwrap();
    bob.close().unwrap();
    setup.server.shutdown();

    // With no room at all, every such message goes back.
    let store = accounts().with_offline_quota(OfflineQuota::new(0, 0));
    let setup = start_with_accounts(SmConfig::default(), store, |serve| {
        serve.with_hub(|h| h.with_offline_policy(OfflinePolicy::Store))
    });
    let mut alice = login(&setup, "alice", None);
    let id = alice.send_message("bob@localhost", "nowhere").unwrap();
    match next_within(&mut alice) {
        Got::Bounced { id: got, .. } => assert_eq!(got, id),
        other => panic!("expected the bounce, got {other:?}"),
    }
    alice.close().unwrap();
    setup.server.shutdown();
}
