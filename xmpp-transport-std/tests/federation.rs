//! Two `Serve` servers federating over real sockets and TLS on loopback:
//! a.example and b.example, each with its own certificate from its own
//! authority, both authorities trusted by both, routed to each other by
//! static routes. A message each way (SASL EXTERNAL by certificate),
//! dialback where a certificate names another domain, a refusal (and a
//! bounce to the sender) where the policy wants certificates, a peer
//! that is not there, and a user of b in a room of a's room service
//! (rooms.a.example), whose stanzas travel on links of its own domain.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use xmpp_proto::client::{Client, ClientConfig, ClientEvent, RoomEvent};
use xmpp_proto::jid::{BareJid, Jid};
use xmpp_proto::muc::JoinOptions;
use xmpp_proto::s2s::{Federation, S2sPolicy};
use xmpp_proto::stanza::{DefinedCondition, Message, MessageType};
use xmpp_transport_std::clock;
use xmpp_transport_std::resolve::Resolver;
use xmpp_transport_std::s2s_tls::S2sTls;
use xmpp_transport_std::serve::{Accounts, Serve, ServeHandle};
use xmpp_transport_std::test_certs::TestPki;
use xmpp_transport_std::tls::TrustAnchors;
use xmpp_transport_std::{ClientTls, Connection, Next};

const TIMEOUT: Duration = Duration::from_secs(20);

/// One server: its domain, the authority of its client listener, and
/// its handle.
struct Node {
    domain: &'static str,
    c2s: TestPki,
    handle: ServeHandle,
}

/// Starts a.example (with rooms on rooms.a.example) and b.example,
/// routed to each other. a.example's
/// server-to-server certificate names `a_names` (its own domain, or
/// others); b.example's names b.example. Both authorities are trusted
/// by both.
fn pair(a_names: &[&str], policy: S2sPolicy) -> (Node, Node) {
    pair_with(a_names, policy, true)
}

/// [`pair`], with bidirectional streams (XEP-0288) on or off on both.
fn pair_with(a_names: &[&str], policy: S2sPolicy, bidi: bool) -> (Node, Node) {
    let s2s_pki_a = TestPki::generate(a_names).unwrap();
    let s2s_pki_b = TestPki::generate(&["b.example"]).unwrap();
    let pem = format!("{}{}", s2s_pki_a.ca_pem(), s2s_pki_b.ca_pem());
    let trust = TrustAnchors::from_pem(pem.as_bytes()).unwrap();
    let s2s_a = TcpListener::bind("127.0.0.1:0").unwrap();
    let s2s_b = TcpListener::bind("127.0.0.1:0").unwrap();
    let (addr_a, addr_b) = (s2s_a.local_addr().unwrap(), s2s_b.local_addr().unwrap());
    let start = |domain: &'static str, s2s_pki: &TestPki, listener, peer: &str, peer_addr| {
        let (chain, key) = s2s_pki.chain_and_key();
        let tls = S2sTls::new(chain, key, &trust).unwrap();
        let mut accounts = Accounts::new();
        accounts.add("user", "user-secret").unwrap();
        let federation = Federation::new(format!("dialback secret of {domain}"))
            .with_policy(policy)
            .with_bidi(bidi);
        let c2s = TestPki::generate(&[domain]).unwrap();
        let rooms = format!("rooms.{domain}");
        let handle = Serve::new(domain, c2s.server_tls(), accounts)
            .unwrap()
            .with_hub(|hub| hub.with_rooms(&rooms, [3; 16]).unwrap())
            .with_federation(federation, tls)
            .with_config(|c| c.with_trace(std::env::var_os("TRACE").is_some()))
            .with_log(move |log: &xmpp_transport_std::serve::SessionLog<'_>| {
                if std::env::var_os("TRACE").is_some() {
                    eprintln!("[{domain}] {log}");
                }
            })
            .with_s2s_route(peer, peer_addr)
            .with_s2s_route(&format!("rooms.{peer}"), peer_addr)
            // DNS that answers nothing (nothing listens there), so that
            // unrouted domains fail fast without touching the network.
            .with_s2s_resolver(Resolver::with_server("127.0.0.1:9".parse().unwrap()).unwrap())
            .with_s2s_listener(listener)
            .start(TcpListener::bind("127.0.0.1:0").unwrap())
            .unwrap();
        Node {
            domain,
            c2s,
            handle,
        }
    };
    let a = start("a.example", &s2s_pki_a, s2s_a, "b.example", addr_b);
    let b = start("b.example", &s2s_pki_b, s2s_b, "a.example", addr_a);
    (a, b)
}

/// A client of `node`, logged in as user@domain/`resource`.
fn login(node: &Node, resource: &str) -> Connection<Client> {
    let jid = Jid::new(&format!("user@{}", node.domain)).unwrap();
    let config = ClientConfig::new(jid, "user-secret").with_resource(resource);
    let tcp = std::net::TcpStream::connect(node.handle.local_addr()).unwrap();
    let tls = ClientTls::new(&node.c2s.trust_anchors(), node.domain).unwrap();
    let mut conn = Connection::new_client(tcp, Client::new(config, clock::now()), tls).unwrap();
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match conn.next_event_until(deadline).unwrap() {
            Next::Event(ClientEvent::Online { .. }) => return conn,
            Next::Event(ClientEvent::Closed { reason }) => panic!("no login: {reason}"),
            Next::Event(_) => {}
            other => panic!("no login: {other:?}"),
        }
    }
}

/// The next message the client gets.
fn next_message(conn: &mut Connection<Client>) -> Message {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match conn.next_event_until(deadline).unwrap() {
            Next::Event(ClientEvent::Message(m)) => return m,
            Next::Event(ClientEvent::Closed { reason }) => panic!("closed: {reason}"),
            Next::Event(_) => {}
            other => panic!("no message: {other:?}"),
        }
    }
}

/// The condition of the next bounce the client gets.
fn next_bounce(conn: &mut Connection<Client>) -> DefinedCondition {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match conn.next_event_until(deadline).unwrap() {
            Next::Event(ClientEvent::Bounced { error, .. }) => return error.condition,
            Next::Event(ClientEvent::Closed { reason }) => panic!("closed: {reason}"),
            Next::Event(_) => {}
            other => panic!("no bounce: {other:?}"),
        }
    }
}

fn send(conn: &mut Connection<Client>, to: &str, body: &str) {
    let msg = Message::builder(MessageType::Chat)
        .to(to)
        .body(body)
        .build();
    conn.command(|c, now| c.send(now, msg)).unwrap().unwrap();
}

/// A message each way between user@a.example/laptop and
/// user@b.example/phone, whose connections come back (still open).
fn exchange(a: &Node, b: &Node) -> [Connection<Client>; 2] {
    let mut alice = login(a, "laptop");
    let mut bob = login(b, "phone");
    send(&mut alice, "user@b.example/phone", "hello from a");
    let got = next_message(&mut bob);
    assert_eq!(got.from(), Some("user@a.example/laptop"));
    assert_eq!(got.body().as_deref(), Some("hello from a"));
    send(&mut bob, "user@a.example/laptop", "hello from b");
    let got = next_message(&mut alice);
    assert_eq!(got.from(), Some("user@b.example/phone"));
    assert_eq!(got.body().as_deref(), Some("hello from b"));
    [alice, bob]
}

#[test]
fn two_servers_exchange_messages_both_ways_on_one_connection() {
    let (a, b) = pair(&["a.example"], S2sPolicy::RequireCertificate);
    let _clients = exchange(&a, &b);
    // A client and one server-to-server stream on each: b answered on
    // a's link (XEP-0288).
    assert_eq!(a.handle.session_count(), 2);
    assert_eq!(b.handle.session_count(), 2);
}

#[test]
fn without_bidi_each_direction_has_its_own_connection() {
    let (a, b) = pair_with(&["a.example"], S2sPolicy::RequireCertificate, false);
    let _clients = exchange(&a, &b);
    // A client, our link and the peer's stream on each.
    assert_eq!(a.handle.session_count(), 3);
    assert_eq!(b.handle.session_count(), 3);
}

#[test]
fn dialback_where_the_certificate_names_another_domain() {
    // a.example's certificate (trusted) names only another domain: b
    // offers it no EXTERNAL and checks its dialback key with a, over a
    // link of its own that takes a's certificate as it is.
    let (a, b) = pair(&["mail.a.example"], S2sPolicy::AllowDialback);
    let mut alice = login(&a, "laptop");
    let mut bob = login(&b, "phone");
    send(&mut alice, "user@b.example/phone", "by dialback");
    assert_eq!(
        next_message(&mut bob).body().as_deref(),
        Some("by dialback")
    );
    send(&mut bob, "user@a.example/laptop", "and back");
    assert_eq!(next_message(&mut alice).body().as_deref(), Some("and back"));
}

#[test]
fn the_default_policy_refuses_a_certificate_for_another_domain() {
    let (a, b) = pair(&["mail.a.example"], S2sPolicy::RequireCertificate);
    let mut alice = login(&a, "laptop");
    let _bob = login(&b, "phone");
    send(&mut alice, "user@b.example/phone", "refused");
    assert_eq!(
        next_bounce(&mut alice),
        DefinedCondition::RemoteServerNotFound
    );
    // b never took a stream from a, so nothing came through.
    assert_eq!(b.handle.with_hub(|h| h.stats().rerouted), 0);
}

#[test]
fn a_peer_that_is_not_there_bounces_with_remote_server_not_found() {
    let (a, _b) = pair(&["a.example"], S2sPolicy::RequireCertificate);
    let mut alice = login(&a, "laptop");
    // No route and no such domain in DNS.
    send(&mut alice, "someone@nowhere.invalid", "lost?");
    assert_eq!(
        next_bounce(&mut alice),
        DefinedCondition::RemoteServerNotFound
    );
}

#[test]
fn a_peer_that_hangs_up_mid_negotiation_bounces_everything_queued() {
    // b.example's "server" takes the connection, reads our header and
    // hangs up: the link never comes up, and every message that waited
    // for it goes back to its sender.
    let peer = TcpListener::bind("127.0.0.1:0").unwrap();
    let peer_addr = peer.local_addr().unwrap();
    let hang_up = std::thread::spawn(move || {
        for _ in 0..2 {
            let (mut socket, _) = peer.accept().unwrap();
            let mut buf = [0u8; 512];
            let _ = std::io::Read::read(&mut socket, &mut buf);
        }
    });
    let pki = TestPki::generate(&["a.example"]).unwrap();
    let (chain, key) = pki.chain_and_key();
    let mut accounts = Accounts::new();
    accounts.add("user", "user-secret").unwrap();
    let handle = Serve::new("a.example", pki.server_tls(), accounts)
        .unwrap()
        .with_federation(
            Federation::new("secret"),
            S2sTls::new(chain, key, &pki.trust_anchors()).unwrap(),
        )
        .with_s2s_route("b.example", peer_addr)
        .with_s2s_resolver(Resolver::with_server("127.0.0.1:9".parse().unwrap()).unwrap())
        .start(TcpListener::bind("127.0.0.1:0").unwrap())
        .unwrap();
    let node = Node {
        domain: "a.example",
        c2s: pki,
        handle,
    };
    let mut alice = login(&node, "laptop");
    send(&mut alice, "user@b.example/phone", "one");
    send(&mut alice, "user@b.example/phone", "two");
    assert_eq!(
        next_bounce(&mut alice),
        DefinedCondition::RemoteServerNotFound
    );
    assert_eq!(
        next_bounce(&mut alice),
        DefinedCondition::RemoteServerNotFound
    );
    node.handle.shutdown();
    drop(hang_up);
}

/// The next room event the client gets.
fn next_room_event(conn: &mut Connection<Client>) -> RoomEvent {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match conn.next_event_until(deadline).unwrap() {
            Next::Event(ClientEvent::Room(event)) => return event,
            Next::Event(ClientEvent::Closed { reason }) => panic!("closed: {reason}"),
            Next::Event(_) => {}
            other => panic!("no room event: {other:?}"),
        }
    }
}

/// The next message someone else said in a room: nickname and body.
fn next_room_message(conn: &mut Connection<Client>) -> (Option<String>, Option<String>) {
    loop {
        if let RoomEvent::Message {
            nick,
            message,
            own: false,
            ..
        } = next_room_event(conn)
        {
            return (nick, message.body().map(|b| b.to_string()));
        }
    }
}

#[test]
fn a_user_of_b_talks_in_a_room_of_a() {
    // a's certificate names its room service too: b takes the service's
    // link by SASL EXTERNAL, as it takes a's.
    let (a, b) = pair(
        &["a.example", "rooms.a.example"],
        S2sPolicy::RequireCertificate,
    );
    let room = BareJid::new("verona@rooms.a.example").unwrap();
    let mut alice = login(&a, "laptop");
    let mut bob = login(&b, "phone");
    let options = JoinOptions::default();
    alice
        .command(|c, now| c.join_room(now, &room, "alice", &options))
        .unwrap()
        .unwrap();
    while !matches!(next_room_event(&mut alice), RoomEvent::Joined { .. }) {}
    bob.command(|c, now| c.join_room(now, &room, "bob", &options))
        .unwrap()
        .unwrap();
    while !matches!(next_room_event(&mut bob), RoomEvent::Joined { .. }) {}
    alice
        .command(|c, now| c.send_to_room(now, &room, "welcome, bob"))
        .unwrap()
        .unwrap();
    let heard = next_room_message(&mut bob);
    assert_eq!(heard.0.as_deref(), Some("alice"));
    assert_eq!(heard.1.as_deref(), Some("welcome, bob"));
    bob.command(|c, now| c.send_to_room(now, &room, "thank you"))
        .unwrap()
        .unwrap();
    let heard = next_room_message(&mut alice);
    assert_eq!(heard.0.as_deref(), Some("bob"));
    assert_eq!(heard.1.as_deref(), Some("thank you"));
}

#[test]
fn a_room_service_the_certificate_does_not_name_proves_itself_by_dialback() {
    let (a, b) = pair(&["a.example"], S2sPolicy::AllowDialback);
    let room = BareJid::new("verona@rooms.a.example").unwrap();
    let mut bob = login(&b, "phone");
    let options = JoinOptions::default();
    bob.command(|c, now| c.join_room(now, &room, "bob", &options))
        .unwrap()
        .unwrap();
    // Only the room's answer, on the service's link, makes the join.
    while !matches!(next_room_event(&mut bob), RoomEvent::Joined { .. }) {}
    drop(a);
}
