//! Federation with real Prosody and ejabberd servers on loopback: our
//! `Serve` for ours.test (the interop certificate, which names it: SASL
//! EXTERNAL both ways) and for ours-dialback.test (the same certificate,
//! which does not name it: the peer falls back to dialback and asks us as
//! the authoritative server), exchanging messages with a user of
//! Prosody's example.test or ejabberd's ejabberd.test, and subscribing to
//! each other's presence, and talking in group chat rooms across: a
//! peer's user in a room of ours (rooms.ours.test, whose stanzas go out
//! on links that prove that domain) and ours in a room of the peer's
//! (its conference service). Prosody reaches us through its
//! `s2s_static_routes` (a module of `scripts/interop/prosody/`), ejabberd
//! through its inetrc and `outgoing_s2s_port`; we reach both through
//! static routes.
//!
//! Needs what `scripts/interop.sh` starts; a plain `cargo test` lists
//! these as ignored.

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use xmpp_proto::client::{Client, ClientConfig, ClientEvent, RoomEvent};
use xmpp_proto::jid::{BareJid, Jid};
use xmpp_proto::muc::JoinOptions;
use xmpp_proto::roster::{RosterItem, Subscription};
use xmpp_proto::s2s::{Federation, S2sPolicy};
use xmpp_proto::stanza::{Message, MessageType, Presence, PresenceType};
use xmpp_transport_std::clock;
use xmpp_transport_std::resolve::Resolver;
use xmpp_transport_std::s2s_tls::S2sTls;
use xmpp_transport_std::serve::{Accounts, Serve, ServeHandle, SessionLog};
use xmpp_transport_std::{ClientTls, Connection, Next, ServerTls, TrustAnchors};

const TIMEOUT: Duration = Duration::from_secs(20);

/// A server we federate with, from the interop environment.
struct Peer {
    /// Its domain.
    domain: &'static str,
    /// Where it takes server-to-server streams.
    s2s: SocketAddr,
    /// Where its clients log in (STARTTLS).
    c2s: String,
    /// The port where it looks for ours.test, and for ours-dialback.test.
    ours_ports: (String, String),
}

fn prosody() -> Peer {
    let host = env("XMPP_PROSODY_HOST");
    Peer {
        domain: "example.test",
        s2s: format!("{host}:{}", env("XMPP_PROSODY_S2S_PORT"))
            .parse()
            .unwrap(),
        c2s: format!("{host}:{}", env("XMPP_PROSODY_C2S_PORT")),
        ours_ports: (
            env("XMPP_OURS_S2S_PORT"),
            env("XMPP_OURS_DIALBACK_S2S_PORT"),
        ),
    }
}

fn ejabberd() -> Peer {
    let host = env("XMPP_EJABBERD_HOST");
    // ejabberd finds every domain of ours on the same port.
    let port = env("XMPP_EJABBERD_OURS_S2S_PORT");
    Peer {
        domain: "ejabberd.test",
        s2s: format!("{host}:{}", env("XMPP_EJABBERD_S2S_PORT"))
            .parse()
            .unwrap(),
        c2s: format!("{host}:{}", env("XMPP_EJABBERD_C2S_PORT")),
        ours_ports: (port.clone(), port),
    }
}

/// The log, even after a panic elsewhere held it.
fn lock(log: &Mutex<Vec<String>>) -> std::sync::MutexGuard<'_, Vec<String>> {
    log.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn env(key: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| panic!("{key} is not set: run scripts/interop.sh"))
}

/// The interop certificate and key (they name ours.test, not
/// ours-dialback.test).
fn cert_files() -> (String, String) {
    let ca = env("XMPP_INTEROP_CA");
    let dir = std::path::Path::new(&ca).parent().unwrap().to_owned();
    let file = |name: &str| dir.join(name).to_string_lossy().into_owned();
    (file("fullchain.pem"), file("server.key"))
}

/// Our server for `domain`, taking `peer`'s streams on `s2s_port`, with a
/// log of what its sessions did.
fn ours(
    peer: &Peer,
    domain: &str,
    s2s_port: &str,
    policy: S2sPolicy,
) -> (ServeHandle, Arc<Mutex<Vec<String>>>) {
    let (chain, key) = cert_files();
    let anchors = TrustAnchors::from_pem_file(env("XMPP_INTEROP_CA")).unwrap();
    let tls = S2sTls::from_pem_files(&chain, &key, &anchors).unwrap();
    let mut accounts = Accounts::new();
    accounts.add("dana", "dana-pass").unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    *LAST_LOG
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(log.clone());
    let handle = Serve::new(
        domain,
        ServerTls::from_pem_files(&chain, &key).unwrap(),
        accounts,
    )
    .unwrap()
    .with_config(|c| c.with_trace(true))
    .with_log(move |entry: &SessionLog<'_>| lock(&sink).push(entry.to_string()))
    .with_hub(|hub| hub.with_rooms(&format!("rooms.{domain}"), [5; 16]).unwrap())
    .with_federation(
        Federation::new(format!("secret of {domain}")).with_policy(policy),
        tls,
    )
    .with_s2s_route(peer.domain, peer.s2s)
    .with_s2s_route(&format!("conference.{}", peer.domain), peer.s2s)
    .with_s2s_resolver(Resolver::with_server("127.0.0.1:9".parse().unwrap()).unwrap())
    .with_s2s_listener(TcpListener::bind(format!("127.0.0.1:{s2s_port}")).unwrap())
    .start(TcpListener::bind("127.0.0.1:0").unwrap())
    .unwrap();
    (handle, log)
}

/// A client logged in at `addr` as `jid`, with its full JID.
fn login(addr: &str, jid: &str, password: &str) -> (Connection<Client>, String) {
    let jid = Jid::new(jid).unwrap();
    let domain = jid.domainpart().to_owned();
    let anchors = TrustAnchors::from_pem_file(env("XMPP_INTEROP_CA")).unwrap();
    // The interop certificate names ours.test but not ours-dialback.test:
    // clients of the latter check it against ours.test.
    let name = if domain == "ours-dialback.test" {
        "ours.test"
    } else {
        domain.as_str()
    };
    let tls = ClientTls::new(&anchors, name).unwrap();
    let config = ClientConfig::new(jid, password).with_auto_receipts(false);
    let tcp = std::net::TcpStream::connect(addr).unwrap();
    let mut conn = Connection::new_client(tcp, Client::new(config, clock::now()), tls).unwrap();
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match conn.next_event_until(deadline).unwrap() {
            Next::Event(ClientEvent::Online { jid }) => return (conn, jid.to_string()),
            Next::Event(ClientEvent::Closed { reason }) => panic!("no login as {addr}: {reason}"),
            Next::Event(_) => {}
            other => panic!("no login: {other:?}"),
        }
    }
}

fn peer_login(peer: &Peer, user: &str) -> (Connection<Client>, String) {
    login(
        &peer.c2s,
        &format!("{user}@{}", peer.domain),
        &format!("{user}-pass"),
    )
}

fn send(conn: &mut Connection<Client>, to: &str, body: &str) {
    let msg = Message::builder(MessageType::Chat)
        .to(to)
        .body(body)
        .build();
    conn.command(|c, now| c.send(now, msg)).unwrap().unwrap();
}

/// The next message with a body, skipping everything else.
fn next_message(conn: &mut Connection<Client>, log: &Mutex<Vec<String>>) -> Message {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match conn.next_event_until(deadline).unwrap() {
            Next::Event(ClientEvent::Message(m)) if m.body().is_some() => return m,
            Next::Event(ClientEvent::Bounced { error, .. }) => {
                panic!("bounced: {error:?}\n{}", lock(log).join("\n"))
            }
            Next::Event(ClientEvent::Closed { reason }) => panic!("closed: {reason}"),
            Next::Event(_) => {}
            other => panic!("no message: {other:?}\n{}", lock(log).join("\n")),
        }
    }
}

/// A message each way between dana on our `domain` and alice on the
/// peer; returns our server's log and how many sessions it had then.
fn exchange(peer: &Peer, domain: &str, policy: S2sPolicy) -> (Vec<String>, usize) {
    let port = match domain {
        "ours.test" => &peer.ours_ports.0,
        _ => &peer.ours_ports.1,
    };
    let (server, log) = ours(peer, domain, port, policy);
    let (mut dana, dana_jid) = login(
        &server.local_addr().to_string(),
        &format!("dana@{domain}/desk"),
        "dana-pass",
    );
    let (mut alice, alice_jid) = peer_login(peer, "alice");
    // Ours to the peer: our link, then the peer's link back for the
    // answer. (To the full JID: neither client sent presence.)
    send(&mut dana, &alice_jid, "hello peer");
    let got = next_message(&mut alice, &log);
    assert_eq!(got.from(), Some(dana_jid.as_str()));
    assert_eq!(got.body().as_deref(), Some("hello peer"));
    send(&mut alice, &dana_jid, "hello from the peer");
    let got = next_message(&mut dana, &log);
    assert_eq!(got.from(), Some(alice_jid.as_str()));
    assert_eq!(got.body().as_deref(), Some("hello from the peer"));
    let sessions = server.session_count();
    server.shutdown();
    (lock(&log).clone(), sessions)
}

/// Both directions authenticated by SASL EXTERNAL, no dialback; with
/// `bidi`, the peer answered on our link (XEP-0288: dana's session and
/// the link were all), else on a stream of its own.
fn by_certificate(peer: Peer, bidi: bool) {
    let (text, sessions) = exchange(&peer, "ours.test", S2sPolicy::RequireCertificate);
    let text = text.join("\n");
    assert!(text.contains("mechanism='EXTERNAL'"), "{text}");
    assert!(
        !text.contains("<db:result") && !text.contains("<result xmlns='jabber:server:dialback'"),
        "{text}"
    );
    assert_eq!(text.contains("<bidi xmlns='urn:xmpp:bidi'"), bidi, "{text}");
    assert_eq!(sessions, if bidi { 2 } else { 3 }, "{text}");
}

/// The peer asked us, as the authoritative server, about its key.
fn by_dialback(peer: Peer) {
    let text = exchange(&peer, "ours-dialback.test", S2sPolicy::AllowDialback)
        .0
        .join("\n");
    assert!(text.contains("verify"), "{text}");
    assert!(text.contains("type='valid'"), "{text}");
}

#[test]
#[ignore = "needs Prosody: run scripts/interop.sh"]
fn prosody_federates_by_certificate_on_one_bidirectional_connection() {
    by_certificate(prosody(), true);
}

#[test]
#[ignore = "needs Prosody: run scripts/interop.sh"]
fn prosody_federates_by_dialback_when_the_certificate_does_not_name_us() {
    by_dialback(prosody());
}

#[test]
#[ignore = "needs ejabberd: run scripts/interop.sh"]
fn ejabberd_federates_by_certificate() {
    // ejabberd 23.01 has no XEP-0288 (mod_s2s_bidi came in 24.10).
    by_certificate(ejabberd(), false);
}

#[test]
#[ignore = "needs ejabberd: run scripts/interop.sh"]
fn ejabberd_federates_by_dialback_when_the_certificate_does_not_name_us() {
    by_dialback(ejabberd());
}

/// What our server of the running test logged, for a failure's message.
static LAST_LOG: Mutex<Option<Arc<Mutex<Vec<String>>>>> = Mutex::new(None);

fn trace_of_last_failure() -> String {
    match &*LAST_LOG
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
    {
        Some(log) => lock(log).join("\n"),
        None => String::new(),
    }
}

/// Waits for the event `pick` accepts.
#[track_caller]
fn wait_for<T>(
    conn: &mut Connection<Client>,
    mut pick: impl FnMut(&ClientEvent) -> Option<T>,
) -> T {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match conn.next_event_until(deadline).unwrap() {
            Next::Event(e) => {
                if let Some(t) = pick(&e) {
                    return t;
                }
                if let ClientEvent::Closed { reason } = e {
                    panic!("closed while waiting: {reason}");
                }
            }
            other => panic!("while waiting: {other:?}\n{}", trace_of_last_failure()),
        }
    }
}

/// Asks for the roster and says we are available.
fn with_roster(conn: &mut Connection<Client>) {
    conn.command(|c, now| c.request_roster(now))
        .unwrap()
        .unwrap();
    wait_for(conn, |e| {
        matches!(e, ClientEvent::RosterReceived).then_some(())
    });
    let presence = Presence::builder(PresenceType::Available).build();
    conn.command(|c, now| c.send(now, presence))
        .unwrap()
        .unwrap();
}

/// Removes `contact` if an earlier run left it on the roster.
fn forget(conn: &mut Connection<Client>, contact: &BareJid) {
    if conn.endpoint().roster().get(contact.as_str()).is_none() {
        return;
    }
    let id = conn
        .command(|c, now| c.remove_roster_item(now, contact))
        .unwrap()
        .unwrap();
    wait_for(conn, |e| match e {
        ClientEvent::IqResponse { id: got, .. } if *got == id => Some(()),
        _ => None,
    });
}

/// The roster push for `contact` that `want` accepts.
#[track_caller]
fn push_for(conn: &mut Connection<Client>, contact: &BareJid, want: impl Fn(&RosterItem) -> bool) {
    wait_for(conn, |e| match e {
        ClientEvent::RosterPush { item, .. } if item.jid == *contact && want(item) => Some(()),
        _ => None,
    });
}

/// Our server for ours.test (by certificate) with dana logged in: the
/// server, its log, dana's connection and full JID.
fn ours_with_dana(
    peer: &Peer,
) -> (
    ServeHandle,
    Arc<Mutex<Vec<String>>>,
    Connection<Client>,
    String,
) {
    let (server, log) = ours(
        peer,
        "ours.test",
        &peer.ours_ports.0,
        S2sPolicy::RequireCertificate,
    );
    let addr = server.local_addr().to_string();
    let (dana, dana_full) = login(&addr, "dana@ours.test/desk", "dana-pass");
    (server, log, dana, dana_full)
}

/// Dana (ours) and bob (the peer's) subscribe to each other's presence
/// (RFC 6121 §3 across servers): requests, approvals, roster pushes on
/// our side, presence both ways, and a removal.
fn subscriptions(peer: Peer) {
    let (server, log, mut dana, dana_full) = ours_with_dana(&peer);
    let (mut bob, _) = login(&peer.c2s, &format!("bob@{}", peer.domain), "bob-pass");
    let dana_jid = BareJid::new("dana@ours.test").unwrap();
    let bob_jid = BareJid::new(&format!("bob@{}", peer.domain)).unwrap();
    with_roster(&mut dana);
    with_roster(&mut bob);
    forget(&mut bob, &dana_jid);
    // What an earlier run's removal sends us (`unsubscribed`, which would
    // cancel the request below) is on the peer's link before this
    // message: once it is here, so is that.
    send(&mut bob, &dana_full, "barrier");
    next_message(&mut dana, &log);

    // Dana (ours) asks Bob (Prosody); Bob approves; Dana's roster says
    // `to`, and Bob's presence reaches her.
    dana.command(|c, now| c.subscribe(now, &bob_jid))
        .unwrap()
        .unwrap();
    push_for(&mut dana, &bob_jid, |i| i.ask);
    wait_for(&mut bob, |e| match e {
        ClientEvent::SubscriptionRequest { from, .. } if *from == dana_jid => Some(()),
        _ => None,
    });
    bob.command(|c, now| c.approve_subscription(now, &dana_jid))
        .unwrap()
        .unwrap();
    push_for(&mut dana, &bob_jid, |i| i.subscription == Subscription::To);
    wait_for(&mut dana, |e| match e {
        ClientEvent::Presence(p)
            if p.kind() == PresenceType::Available
                && p.from().is_some_and(|f| f.starts_with(bob_jid.as_str())) =>
        {
            Some(())
        }
        _ => None,
    });

    // And the other way: Bob asks, Dana approves, both rosters say `both`,
    // and Dana's presence reaches Bob.
    bob.command(|c, now| c.subscribe(now, &dana_jid))
        .unwrap()
        .unwrap();
    wait_for(&mut dana, |e| match e {
        ClientEvent::SubscriptionRequest { from, .. } if *from == bob_jid => Some(()),
        _ => None,
    });
    dana.command(|c, now| c.approve_subscription(now, &bob_jid))
        .unwrap()
        .unwrap();
    push_for(&mut dana, &bob_jid, |i| {
        i.subscription == Subscription::Both
    });
    push_for(&mut bob, &dana_jid, |i| {
        i.subscription == Subscription::Both
    });
    wait_for(&mut bob, |e| match e {
        ClientEvent::Presence(p)
            if p.kind() == PresenceType::Available
                && p.from().is_some_and(|f| f.starts_with("dana@ours.test")) =>
        {
            Some(())
        }
        _ => None,
    });

    // Bob removes Dana: her roster loses both subscriptions.
    bob.command(|c, now| c.remove_roster_item(now, &dana_jid))
        .unwrap()
        .unwrap();
    push_for(&mut dana, &bob_jid, |i| {
        i.subscription == Subscription::None
    });
    let _ = lock(&log).len();
    server.shutdown();
}

#[test]
#[ignore = "needs Prosody: run scripts/interop.sh"]
fn prosody_subscriptions_across_servers() {
    subscriptions(prosody());
}

#[test]
#[ignore = "needs ejabberd: run scripts/interop.sh"]
fn ejabberd_subscriptions_across_servers() {
    subscriptions(ejabberd());
}

/// `conn` enters `room` as `nick` and waits until it is in.
fn join(conn: &mut Connection<Client>, room: &BareJid, nick: &str) {
    let options = JoinOptions::default();
    conn.command(|c, now| c.join_room(now, room, nick, &options))
        .unwrap()
        .unwrap();
    wait_for(conn, |e| match e {
        ClientEvent::Room(RoomEvent::Joined { room: r, .. }) if r == room => Some(()),
        ClientEvent::Room(RoomEvent::JoinFailed { error, .. }) => {
            panic!("no join: {error:?}\n{}", trace_of_last_failure())
        }
        _ => None,
    });
}

/// `conn` says `body` in `room`.
fn say(conn: &mut Connection<Client>, room: &BareJid, body: &str) {
    conn.command(|c, now| c.send_to_room(now, room, body))
        .unwrap()
        .unwrap();
}

/// Waits for someone else's `body` in `room`; returns the nickname.
fn hear(conn: &mut Connection<Client>, room: &BareJid, body: &str) -> Option<String> {
    wait_for(conn, |e| match e {
        ClientEvent::Room(RoomEvent::Message {
            room: r,
            nick,
            message,
            own: false,
            history: false,
        }) if r == room && message.body().as_deref() == Some(body) => Some(nick.clone()),
        _ => None,
    })
}

/// `host` (on the room's server) opens `room`, `guest` (across the
/// federation) joins, and each hears the other.
fn talk_in(
    host: (&mut Connection<Client>, &str),
    guest: (&mut Connection<Client>, &str),
    room: &BareJid,
) {
    let (host, host_nick) = host;
    let (guest, guest_nick) = guest;
    join(host, room, host_nick);
    join(guest, room, guest_nick);
    say(host, room, "welcome across");
    assert_eq!(
        hear(guest, room, "welcome across").as_deref(),
        Some(host_nick)
    );
    say(guest, room, "glad to be here");
    assert_eq!(
        hear(host, room, "glad to be here").as_deref(),
        Some(guest_nick)
    );
}

/// The session on which the peer asked us for a bidirectional stream
/// (XEP-0288), if it did.
fn bidi_asked_on(log: &[String]) -> Option<String> {
    log.iter()
        .find(|line| line.contains(" << ") && line.contains("urn:xmpp:bidi'"))
        .and_then(|line| line.split(" << ").next())
        .map(str::to_owned)
}

/// Alice (the peer's) in a room of ours, then dana (ours) in a room of
/// the peer's. With `bidi`, the peer's stream to our room service
/// carried the room's stanzas back.
fn rooms_across(peer: Peer, bidi: bool) {
    let (server, log, mut dana, _) = ours_with_dana(&peer);
    let (mut alice, _) = peer_login(&peer, "alice");
    let stamp = std::process::id();
    let ours_room = BareJid::new(&format!("verona{stamp}@rooms.ours.test")).unwrap();
    talk_in((&mut dana, "dana"), (&mut alice, "alice"), &ours_room);
    let lines = lock(&log).clone();
    let text = lines.join("\n");
    match bidi_asked_on(&lines) {
        Some(session) if bidi => {
            let room_out = format!("{session} >> <presence from='{ours_room}/");
            assert!(text.contains(&room_out), "{room_out} in\n{text}");
        }
        None if !bidi => {
            // The room service proved its own domain on its link.
            assert!(
                text.contains("from='rooms.ours.test'") && text.contains("mechanism='EXTERNAL'"),
                "{text}"
            );
        }
        asked => panic!("bidi asked on {asked:?}, expected {bidi}\n{text}"),
    }
    let theirs = format!("padua{stamp}@conference.{}", peer.domain);
    let their_room = BareJid::new(&theirs).unwrap();
    talk_in((&mut alice, "alice"), (&mut dana, "dana"), &their_room);
    server.shutdown();
}

#[test]
#[ignore = "needs Prosody: run scripts/interop.sh"]
fn prosody_users_and_ours_talk_in_each_others_rooms() {
    rooms_across(prosody(), true);
}

#[test]
#[ignore = "needs ejabberd: run scripts/interop.sh"]
fn ejabberd_users_and_ours_talk_in_each_others_rooms() {
    rooms_across(ejabberd(), false);
}
