//! The mio server and mio clients on loopback: many sessions, a client
//! killed mid-stanza, a stalled negotiation, a client that never reads,
//! the blocking std client against the mio server, XEP-0198 resumption
//! and expiry of broken sessions, and an external component.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use common::{
    Farm, RawClient, Running, SharedKeyAccounts, TIMEOUT, client_config, start, start_with,
    start_with_store,
};

/// A session's next message.
fn next_stanza(session: &mut Session) -> Message {
    match next_within(session) {
        Got::Message(m) => m,
        Got::Bounced { id, .. } => panic!("{id} bounced where a message was expected"),
    }
}

/// The (from, body) of a session's next message.
fn next_message(session: &mut Session) -> (String, String) {
    let msg = next_stanza(session);
    (
        msg.from().unwrap_or_default().to_owned(),
        msg.body().unwrap_or_default().into_owned(),
    )
}
use xmpp_proto::client::{ClientEvent, ClientTlsPolicy, StanzaId};
use xmpp_proto::component::{Component, ComponentConfig, ComponentEvent, ComponentTls};
use xmpp_proto::endpoint::{CloseReason, Endpoint};
use xmpp_proto::router::OfflinePolicy;
use xmpp_proto::server::{ServerConfig, ServerTimeouts, ServerTlsPolicy};
use xmpp_proto::sm::{SmConfig, SmSession};
use xmpp_proto::stanza::{Message, MessageType};
use xmpp_proto::stream_error::StreamErrorCondition;
use xmpp_transport_mio::{ConnId, DriverConfig, DriverEvent};
use xmpp_transport_std::{Connection, LoginOptions, Next, Session, clock};

/// Logs in `n` farm clients (every other one by direct TLS); returns
/// their ids by index once all are online.
fn login_all(farm: &mut Farm, server: &Running, n: usize) -> Vec<ConnId> {
    let ids: Vec<ConnId> = (0..n).map(|i| farm.add(server, i, i % 2 == 1)).collect();
    let mut online = 0;
    farm.run(|_, event| match event {
        DriverEvent::Endpoint {
            event: ClientEvent::Online { .. },
            ..
        } => {
            online += 1;
            online == n
        }
        DriverEvent::Endpoint {
            event: ClientEvent::Closed { reason },
            conn,
        } => panic!("{conn} closed during login: {reason}"),
        DriverEvent::Closed { conn, error } => panic!("{conn} lost during login: {error:?}"),
        _ => false,
    });
    ids
}

/// Each of `ids` sends one message to the next; returns once each got
/// its neighbour's.
fn ring_exchange(farm: &mut Farm, ids: &[ConnId], tag: &str) {
    let n = ids.len();
    let index: HashMap<ConnId, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    for (i, id) in ids.iter().enumerate() {
        let to = format!("user{}@localhost/r", (i + 1) % n);
        let body = format!("{tag} from {i}");
        farm.driver
            .command(*id, |c, now| c.send_message(now, &to, &body, false))
            .expect("connection open")
            .expect("client online");
    }
    let mut got = vec![false; n];
    let mut count = 0;
    farm.run(|_, event| match event {
        DriverEvent::Endpoint {
            conn,
            event: ClientEvent::Message(msg),
        } => {
            let i = index[&conn];
            let from = (i + n - 1) % n;
            assert_eq!(
                msg.body().as_deref(),
                Some(format!("{tag} from {from}").as_str())
            );
            assert_eq!(msg.from(), Some(format!("user{from}@localhost/r").as_str()));
            assert!(!got[i], "user{i} got two messages");
            got[i] = true;
            count += 1;
            count == n
        }
        DriverEvent::Closed { conn, error } => panic!("{conn} lost: {error:?}"),
        _ => false,
    });
}

/// Closes every farm client and waits until all are gone.
fn close_all(farm: &mut Farm, ids: &[ConnId]) {
    for id in ids {
        farm.driver.command(*id, |c, now| c.close(now));
    }
    farm.run(|driver, event| {
        if let DriverEvent::Closed { error, .. } = &event {
            assert!(error.is_none(), "close failed: {error:?}");
        }
        driver.is_empty()
    });
}

#[test]
fn hundreds_of_sessions_log_in_and_exchange_messages() {
    const N: usize = 200;
    // All from 127.0.0.1, logging in at once.
    let server = start_with(
        DriverConfig::default(),
        |c| c,
        |s| s.with_max_unauthenticated(N, N),
    );
    let mut farm = Farm::new(&server);
    let ids = login_all(&mut farm, &server, N);
    for id in &ids {
        assert!(farm.driver.is_encrypted(*id));
    }
    ring_exchange(&mut farm, &ids, "hello");
    ring_exchange(&mut farm, &ids, "again");
    close_all(&mut farm, &ids);
    let stats = server.stop();
    assert_eq!(stats.online, N as u64);
    assert_eq!(stats.stanzas, 2 * N as u64);
    assert_eq!(stats.failed, 0);
}

/// Plaintext allowed besides STARTTLS, so raw clients can write bytes of
/// their own choosing on the socket.
fn optional_tls(c: ServerConfig) -> ServerConfig {
    c.with_tls(ServerTlsPolicy::OptionalStartTls)
}

#[test]
fn a_client_killed_mid_stanza_does_not_disturb_the_others() {
    let server = start(DriverConfig::default(), optional_tls);
    let mut farm = Farm::new(&server);
    let ids = login_all(&mut farm, &server, 4);
    for (i, how) in [Shutdown::Write, Shutdown::Both].into_iter().enumerate() {
        let mut raw = RawClient::login(&server, 100 + i);
        raw.socket
            .write_all(b"<message to='user0@localhost/r' type='chat'><body>half a sta")
            .unwrap();
        raw.socket.shutdown(how).unwrap();
        drop(raw);
    }
    // The others go on as if nothing happened.
    ring_exchange(&mut farm, &ids, "still here");
    close_all(&mut farm, &ids);
    let stats = server.stop();
    assert_eq!(stats.online, 6);
    // user0 got nothing of the half message.
    assert_eq!(stats.stanzas, 4);
}

#[test]
fn a_stalled_negotiation_times_out() {
    let server = start(DriverConfig::default(), |c| {
        let mut timeouts = ServerTimeouts::default();
        timeouts.negotiation = Duration::from_millis(300);
        c.with_timeouts(timeouts)
    });
    // One client that sends nothing at all, one that stops after its
    // stream header.
    let mut silent = TcpStream::connect(server.addr).unwrap();
    let mut header_only = TcpStream::connect(server.addr).unwrap();
    header_only
        .write_all(b"<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
        .unwrap();
    for socket in [&mut silent, &mut header_only] {
        socket.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut received = Vec::new();
        // Read until the server closes: it must, on its own.
        socket.read_to_end(&mut received).unwrap();
        let text = String::from_utf8_lossy(&received);
        assert!(text.contains("connection-timeout"), "got {text}");
        assert!(text.ends_with("</stream:stream>"), "got {text}");
    }
    server.stop();
}

#[test]
fn a_client_that_never_reads_is_dropped_at_the_output_limit() {
    const LIMIT: usize = 64 * 1024;
    let server = start(DriverConfig::default().with_max_output(LIMIT), optional_tls);
    let mut farm = Farm::new(&server);
    let ids = login_all(&mut farm, &server, 2);
    // user100 logs in and then never reads again.
    let stalled = RawClient::login(&server, 100);
    let body = "x".repeat(16 * 1024);
    let (sender, witness) = (ids[0], ids[1]);
    let mut sent = 0usize;
    let deadline = Instant::now() + TIMEOUT;
    // Send until the server reports the stalled session's end (its log
    // line), pacing on the sender's own output.
    loop {
        assert!(
            Instant::now() < deadline,
            "the stalled client was never dropped"
        );
        let ended = server
            .log_lines()
            .iter()
            .any(|l| l.contains("user100@localhost/r") && l.contains("stopped reading"));
        if ended {
            break;
        }
        if farm.driver.pending_output(sender) == Some(0) {
            farm.driver
                .command(sender, |c, now| {
                    c.send_message(now, "user100@localhost/r", &body, false)
                })
                .unwrap()
                .unwrap();
            sent += body.len();
        }
        farm.driver.poll(Some(Duration::from_millis(10))).unwrap();
        while let Some(event) = farm.driver.next_event() {
            if let DriverEvent::Closed { conn, error } = event {
                panic!("{conn} lost: {error:?}");
            }
        }
    }
    // Far more than the limit went out before the drop: the kernel's
    // socket buffers took their share first.
    assert!(sent > LIMIT);
    // The sender and the others are unaffected.
    ring_exchange(&mut farm, &[sender, witness], "after the drop");
    close_all(&mut farm, &ids);
    drop(stalled);
    let stats = server.stop();
    assert_eq!(stats.output_limit, 1);
    assert_eq!(stats.failed, 1);
}

#[test]
fn a_slow_reader_gets_what_fits_its_senders_get_the_rest_back_and_it_goes_at_the_write_deadline() {
    let driver = DriverConfig::default().with_write_deadline(Duration::from_secs(1));
    let server = start(driver, optional_tls);
    let mut farm = Farm::new(&server);
    let ids = login_all(&mut farm, &server, 2);
    let stalled = RawClient::login(&server, 100);
    let body = "x".repeat(16 * 1024);
    let (sender, witness) = (ids[0], ids[1]);
    let (mut sent, mut bounced) = (0usize, 0usize);
    let deadline = Instant::now() + TIMEOUT;
    loop {
        assert!(
            Instant::now() < deadline,
            "the stalled client was never dropped"
        );
        let ended = server
            .log_lines()
            .iter()
            .any(|l| l.contains("user100@localhost/r") && l.contains("output waited"));
        if ended && bounced > 0 {
            break;
        }
        if !ended && farm.driver.pending_output(sender) == Some(0) {
            farm.driver
                .command(sender, |c, now| {
                    c.send_message(now, "user100@localhost/r", &body, false)
                })
                .unwrap()
                .unwrap();
            sent += 1;
        }
        farm.driver.poll(Some(Duration::from_millis(10))).unwrap();
        while let Some(event) = farm.driver.next_event() {
            match event {
                DriverEvent::Endpoint {
                    event: ClientEvent::Bounced { .. },
                    ..
                } => bounced += 1,
                DriverEvent::Closed { conn, error } => panic!("{conn} lost: {error:?}"),
                _ => {}
            }
        }
    }
    // The server held at most its output limit for the stalled client and
    // answered the sender for the rest instead of dropping anyone early.
    assert!(bounced > 0 && bounced < sent, "{bounced} of {sent} bounced");
    ring_exchange(&mut farm, &[sender, witness], "after the drop");
    close_all(&mut farm, &ids);
    drop(stalled);
    let stats = server.stop();
    assert_eq!(stats.output_limit, 0);
    assert_eq!(stats.failed, 1);
}

#[test]
fn the_std_client_talks_to_the_mio_server() {
    let server = start(DriverConfig::default(), |c| c);
    let keys = SharedKeyAccounts::new().keys().clone();
    let login = |i: usize, direct: bool| {
        let (addr, policy) = if direct {
            (server.direct, ClientTlsPolicy::Direct)
        } else {
            (server.addr, ClientTlsPolicy::RequireStartTls)
        };
        let options = LoginOptions {
            server: Some(addr.to_string()),
            trust: Some(server.pki.trust_anchors()),
            timeout: Some(TIMEOUT),
            ..LoginOptions::default()
        };
        Session::login_config(client_config(i, policy, &keys), options).unwrap()
    };
    let mut alice = login(1, false);
    let mut bob = login(2, true);
    alice
        .send_message("user2@localhost/r", "hi from std")
        .unwrap();
    let got = next_message(&mut bob);
    assert_eq!(
        got,
        ("user1@localhost/r".to_owned(), "hi from std".to_owned())
    );
    bob.send_message("user1@localhost/r", "hi back").unwrap();
    let got = next_message(&mut alice);
    assert_eq!(got, ("user2@localhost/r".to_owned(), "hi back".to_owned()));
    alice.close().unwrap();
    bob.close().unwrap();
    let stats = server.stop();
    assert_eq!(stats.online, 2);
    assert_eq!(stats.failed, 0);
}

/// Logs `user<i>` into the mio server with the std client and stream
/// management on (resuming `resume` if given).
fn sm_login(server: &Running, i: usize, resume: Option<SmSession>) -> Session {
    sm_login_with(server, i, resume, SmConfig::default())
}

/// [`sm_login`] with the client's stream management configuration.
fn sm_login_with(server: &Running, i: usize, resume: Option<SmSession>, sm: SmConfig) -> Session {
    let keys = SharedKeyAccounts::new().keys().clone();
    let mut config =
        client_config(i, ClientTlsPolicy::RequireStartTls, &keys).with_stream_management(sm);
    if let Some(state) = resume {
        config = config.with_resumption(state);
    }
    let options = LoginOptions {
        server: Some(server.addr.to_string()),
        trust: Some(server.pki.trust_anchors()),
        timeout: Some(TIMEOUT),
        ..LoginOptions::default()
    };
    let mut session = Session::login_config(config, options).unwrap();
    // Bound, and <enable/> sent: wait for <enabled/>, so that a break
    // from here on is resumable.
    // Online comes after <enabled/>: a break from here on is resumable.
    assert!(session.connection().endpoint().sm_id().is_some());
    session
}

/// Waits until the server has the session detached (its connection
/// noticed dead), by the log line of its end.
fn wait_for_end(server: &Running, jid: &str, ends: usize) {
    let deadline = Instant::now() + TIMEOUT;
    while server
        .log_lines()
        .iter()
        .filter(|l| l.contains("end") && l.contains(jid))
        .count()
        < ends
    {
        assert!(Instant::now() < deadline, "the server never noticed");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_broken_session_is_resumed_with_what_was_routed_to_it_meanwhile() {
    let server = start(DriverConfig::default(), |c| {
        c.with_stream_management(SmConfig::default())
    });
    let mut alice = sm_login(&server, 1, None);
    let mut bob = sm_login(&server, 2, None);
    alice.send_message("user2@localhost/r", "before").unwrap();
    assert_eq!(next_message(&mut bob).1, "before");

    let state = bob.abandon().resumable.expect("resumable");
    wait_for_end(&server, "user2@localhost/r", 1);
    for body in ["while away 1", "while away 2"] {
        alice.send_message("user2@localhost/r", body).unwrap();
    }
    let mut bob = sm_login(&server, 2, Some(state));
    assert_eq!(bob.jid().as_str(), "user2@localhost/r");
    assert_eq!(next_message(&mut bob).1, "while away 1");
    assert_eq!(next_message(&mut bob).1, "while away 2");
    alice.send_message("user2@localhost/r", "after").unwrap();
    assert_eq!(next_message(&mut bob).1, "after");
    bob.send_message("user1@localhost/r", "back").unwrap();
    assert_eq!(next_message(&mut alice).1, "back");

    alice.close().unwrap();
    bob.close().unwrap();
    let stats = server.stop();
    assert_eq!((stats.detached, stats.resumed, stats.expired), (1, 1, 0));
}

/// The next message within [`TIMEOUT`] (for a session whose login left
/// no events behind).
fn next_stanza_within(session: &mut Session) -> Message {
    next_stanza(session)
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
    // Sessions are kept 300 s (user3 asks for 1 s), and only one at a
    // time: a second detached session makes the first expire at once.
    let server = start_with(
        DriverConfig::default(),
        |c| c.with_stream_management(SmConfig::default()),
        |s| s.with_hub(|h| h.with_detached_limit(1)),
    );
    let mut alice = sm_login(&server, 1, None);
    let mut bob = sm_login(&server, 2, None);
    let carol = sm_login_with(&server, 3, None, SmConfig::default().with_max(Some(1)));
    // The message reaches bob's client, which does not acknowledge it
    // (the server asks only after 5 stanzas or 5 s): it stays in bob's
    // queue. Having been delivered, it cannot come back as an offline
    // bounce.
    let id = alice
        .send_message("user2@localhost/r", "into the void")
        .unwrap();
    assert_eq!(next_stanza(&mut bob).id(), Some(id.as_str()));

    let state = bob.abandon().resumable.expect("resumable");
    wait_for_end(&server, "user2@localhost/r", 1);
    wait_until("bob's session is kept", || server.detached_count() == 1);
    // Nothing came back yet: alice's next message is her own marker.
    alice.send_message("user1@localhost/r", "marker").unwrap();
    assert_eq!(
        next_stanza_within(&mut alice).body().as_deref(),
        Some("marker")
    );

    // Carol's break pushes bob's session out: it expires, and its queue
    // goes back to the sender.
    drop(carol.abandon());
    wait_for_end(&server, "user3@localhost/r", 1);
    match next_within(&mut alice) {
        Got::Bounced { id: got, from } => {
            assert_eq!(got, id);
            assert_eq!(from.as_deref(), Some("user2@localhost/r"));
        }
        other => panic!("expected the bounce, got {other:?}"),
    }
    // Carol's session expires on time (the poll timeout), after her 1 s.
    wait_until("carol's session expires", || server.detached_count() == 0);
    // Bob's session is gone: his resumption fails, a new one is bound.
    let bob = sm_login(&server, 2, Some(state));
    assert_eq!(bob.jid().as_str(), "user2@localhost/r");
    alice.close().unwrap();
    bob.close().unwrap();
    let stats = server.stop();
    assert_eq!((stats.detached, stats.resumed, stats.expired), (2, 0, 2));
}

#[test]
fn a_resume_on_a_new_connection_takes_over_a_session_not_yet_noticed_dead() {
    let server = start(DriverConfig::default(), |c| {
        c.with_stream_management(SmConfig::default())
    });
    let mut alice = sm_login(&server, 1, None);
    let mut bob = sm_login(&server, 2, None);
    alice.send_message("user2@localhost/r", "one").unwrap();
    assert_eq!(next_message(&mut bob).1, "one");
    // The client gives up on its connection; the server's end still
    // looks alive (no FIN reaches it while we hold the socket open).
    bob.connection().endpoint_mut().handle_eof(clock::now());
    let mut state = None;
    while let Some(event) = bob.connection().endpoint_mut().poll_event() {
        if let ClientEvent::Resumable(s) = event {
            state = Some(*s);
        }
    }
    let state = state.expect("a resumable session");
    let mut bob2 = sm_login(&server, 2, Some(state));
    alice.send_message("user2@localhost/r", "two").unwrap();
    assert_eq!(next_message(&mut bob2).1, "two");
    drop(bob);
    alice.close().unwrap();
    bob2.close().unwrap();
    let stats = server.stop();
    assert_eq!(stats.resumed, 1);
}

#[test]
fn an_offline_message_without_a_store_goes_back_to_its_sender() {
    let server = start_with(
        DriverConfig::default(),
        |c| c.with_stream_management(SmConfig::default()),
        |s| s.with_hub(|h| h.with_offline_policy(OfflinePolicy::Store)),
    );
    let mut alice = sm_login(&server, 1, None);
    let id = alice.send_message("user2@localhost", "nowhere").unwrap();
    match next_within(&mut alice) {
        Got::Bounced { id: got, .. } => assert_eq!(got, id),
        other => panic!("expected the bounce, got {other:?}"),
    }
    alice.close().unwrap();
    server.stop();
}

/// Opens a TCP connection, sends a stream header and reads until the
/// server answers (`true`) or closes the connection (`false`).
fn answered(server: &Running) -> (TcpStream, bool) {
    let mut tcp = TcpStream::connect(server.addr).unwrap();
    tcp.set_read_timeout(Some(TIMEOUT)).unwrap();
    let header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";
    // The server may have closed already: a refused write is a no.
    if tcp.write_all(header.as_bytes()).is_err() {
        return (tcp, false);
    }
    let mut buf = [0u8; 4096];
    let open = matches!(tcp.read(&mut buf), Ok(n) if n > 0);
    (tcp, open)
}

#[test]
fn one_address_holds_at_most_its_share_of_connections() {
    let server = start_with(
        DriverConfig::default(),
        |c| c,
        |s| s.with_max_per_address(2),
    );
    let (first, first_open) = answered(&server);
    let (second, second_open) = answered(&server);
    let (third, third_open) = answered(&server);
    assert!(first_open && second_open);
    assert!(!third_open, "a third connection from 127.0.0.1 is closed");
    // A slot that frees up can be taken again.
    drop(first);
    let deadline = Instant::now() + TIMEOUT;
    let again = loop {
        let (tcp, open) = answered(&server);
        if open {
            break tcp;
        }
        assert!(Instant::now() < deadline, "the freed slot was never reused");
        std::thread::sleep(Duration::from_millis(20));
    };
    drop((again, second, third));
    let stats = server.stop();
    assert!(stats.refused >= 1);
}

#[test]
fn connections_that_never_log_in_cannot_take_the_room_of_those_that_do() {
    let server = start_with(
        DriverConfig::default(),
        |c| c.with_stream_management(SmConfig::default()),
        |s| s.with_max_unauthenticated(1000, 2),
    );
    let (first, first_open) = answered(&server);
    let (second, second_open) = answered(&server);
    let (third, third_open) = answered(&server);
    assert!(first_open && second_open);
    assert!(
        !third_open,
        "a third anonymous connection from 127.0.0.1 is closed"
    );
    drop((first, third));
    // A session that logs in takes an anonymous slot only until it has
    // authenticated: once it has, two anonymous ones fit beside it.
    let deadline = Instant::now() + TIMEOUT;
    let alice = loop {
        let attempt = std::panic::AssertUnwindSafe(|| sm_login(&server, 1, None));
        match std::panic::catch_unwind(attempt) {
            Ok(alice) => break alice,
            Err(_) => assert!(Instant::now() < deadline, "the freed slot was never reused"),
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(second);
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let (a, a_open) = answered(&server);
        let (b, b_open) = answered(&server);
        if a_open && b_open {
            break;
        }
        drop((a, b));
        assert!(
            Instant::now() < deadline,
            "the logged-in session still counts as anonymous"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    alice.close().unwrap();
    let stats = server.stop();
    assert!(stats.refused >= 1);
}

/// Accounts whose password check waits at a gate the test opens, and
/// says when a check is waiting.
struct GatedAccounts {
    inner: SharedKeyAccounts,
    entered: std::sync::Mutex<std::sync::mpsc::Sender<()>>,
    gate: std::sync::Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
}

impl xmpp_transport_std::serve::AccountStore for GatedAccounts {
    fn scram_credentials(
        &self,
        username: &str,
        hash: xmpp_proto::sasl::ScramHash,
    ) -> Option<xmpp_proto::sasl::StoredCredentials> {
        self.inner.scram_credentials(username, hash)
    }

    fn check_password(&self, username: &str, password: &str) -> bool {
        let _ = self.entered.lock().unwrap().send(());
        let (open, signal) = &*self.gate;
        let mut open = open.lock().unwrap();
        while !*open {
            open = signal.wait(open).unwrap();
        }
        self.inner.check_password(username, password)
    }
}

#[test]
fn a_slow_password_check_does_not_stall_the_other_sessions() {
    let (entered, waiting) = std::sync::mpsc::channel();
    let gate = std::sync::Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
    let store = GatedAccounts {
        inner: SharedKeyAccounts::new(),
        entered: std::sync::Mutex::new(entered),
        gate: gate.clone(),
    };
    let server = start_with_store(
        DriverConfig::default(),
        |c| c.with_stream_management(SmConfig::default()),
        |s| s,
        store,
    );
    let mut alice = sm_login(&server, 1, None);

    // Bob logs in with PLAIN: his password check blocks in the store.
    let options = LoginOptions {
        server: Some(server.addr.to_string()),
        trust: Some(server.pki.trust_anchors()),
        timeout: Some(TIMEOUT),
        ..LoginOptions::default()
    };
    let sasl = xmpp_proto::sasl::SaslClientConfig {
        allowed: Some(vec![xmpp_proto::sasl::Mechanism::Plain]),
        ..Default::default()
    };
    let config = xmpp_proto::client::ClientConfig::new(
        xmpp_proto::jid::Jid::new("user2@localhost/r").unwrap(),
        common::PASSWORD,
    )
    .with_sasl(sasl);
    let bob = std::thread::spawn(move || Session::login_config(config, options));
    waiting
        .recv_timeout(TIMEOUT)
        .expect("bob's check reached the store");

    // Meanwhile the loop serves alice: her message to herself comes back.
    alice
        .send_message("user1@localhost/r", "still here")
        .unwrap();
    assert_eq!(next_message(&mut alice).1, "still here");

    // The check ends; bob gets in.
    *gate.0.lock().unwrap() = true;
    gate.1.notify_all();
    let bob = bob.join().unwrap().expect("bob logged in");
    assert_eq!(bob.jid().as_str(), "user2@localhost/r");
    alice.close().unwrap();
    bob.close().unwrap();
    server.stop();
}

/// An external component (XEP-0114) on the mio server's component
/// listener: a wrong secret is refused; the right one owns its domain, a
/// user's message reaches it and its answer reaches the user.
#[test]
fn a_component_serves_its_domain_through_the_mio_server() {
    let server = start_with(
        DriverConfig::default(),
        |c| c,
        |s| s.with_component("echo.localhost", "s3cret").unwrap(),
    );
    let connect = |secret: &str| {
        let config = ComponentConfig::new("echo.localhost", secret)
            .unwrap()
            .with_tls(ComponentTls::Plaintext);
        let tcp = std::net::TcpStream::connect(server.components).unwrap();
        Connection::new_plain(tcp, Component::new(config, clock::now())).unwrap()
    };
    let first = |conn: &mut Connection<Component>| {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match conn.next_event_until(deadline).unwrap() {
                Next::Event(
                    e @ (ComponentEvent::Online { .. } | ComponentEvent::Closed { .. }),
                ) => {
                    return e;
                }
                Next::Event(_) => {}
                other => panic!("no handshake answer: {other:?}"),
            }
        }
    };
    let mut wrong = connect("guess");
    assert!(matches!(
        first(&mut wrong),
        ComponentEvent::Closed {
            reason: CloseReason::StreamError {
                condition: StreamErrorCondition::NotAuthorized,
                ..
            }
        }
    ));
    let mut component = connect("s3cret");
    assert!(matches!(
        first(&mut component),
        ComponentEvent::Online { .. }
    ));

    let keys = SharedKeyAccounts::new().keys().clone();
    let options = LoginOptions {
        server: Some(server.addr.to_string()),
        trust: Some(server.pki.trust_anchors()),
        timeout: Some(TIMEOUT),
        ..LoginOptions::default()
    };
    let mut user = Session::login_config(
        client_config(1, ClientTlsPolicy::RequireStartTls, &keys),
        options,
    )
    .unwrap();
    user.send_message("time@echo.localhost", "what time?")
        .unwrap();
    let deadline = Instant::now() + TIMEOUT;
    let asked = loop {
        match component.next_event_until(deadline).unwrap() {
            Next::Event(ComponentEvent::Message(m)) => break m,
            Next::Event(_) => {}
            other => panic!("no message for the component: {other:?}"),
        }
    };
    assert_eq!(asked.from(), Some("user1@localhost/r"));
    assert_eq!(asked.body().as_deref(), Some("what time?"));
    let answer = Message::builder(MessageType::Chat)
        .to("user1@localhost/r")
        .from("time@echo.localhost")
        .body("tea time")
        .build();
    component
        .command(|c, now| c.send(now, answer))
        .unwrap()
        .unwrap();
    assert_eq!(
        next_message(&mut user),
        ("time@echo.localhost".to_owned(), "tea time".to_owned())
    );
    user.close().unwrap();
    component.command(|c, now| c.close(now)).unwrap();
    while component.next_event().unwrap().is_some() {}
    let log = server.log_lines();
    assert!(
        log.iter()
            .any(|l| l.contains("component serving echo.localhost")),
        "{log:?}"
    );
    server.stop();
}
