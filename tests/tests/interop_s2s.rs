//! Federation with a real Prosody on loopback: our `Serve` for ours.test
//! (the interop certificate, which names it: SASL EXTERNAL both ways)
//! and for ours-dialback.test (the same certificate, which does not name
//! it: Prosody falls back to dialback and asks us as the authoritative
//! server), exchanging messages with alice@example.test on Prosody.
//! Prosody reaches us through its `s2s_static_routes` (a module of
//! `scripts/interop/prosody/`), we reach it through ours.
//!
//! Needs what `scripts/interop.sh` starts; a plain `cargo test` lists
//! these as ignored.

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use xmpp_proto::client::{Client, ClientConfig, ClientEvent};
use xmpp_proto::jid::Jid;
use xmpp_proto::s2s::{Federation, S2sPolicy};
use xmpp_proto::stanza::{Message, MessageType};
use xmpp_transport_std::clock;
use xmpp_transport_std::resolve::Resolver;
use xmpp_transport_std::s2s_tls::S2sTls;
use xmpp_transport_std::serve::{Accounts, Serve, ServeHandle, SessionLog};
use xmpp_transport_std::{ClientTls, Connection, Next, ServerTls, TrustAnchors};

const TIMEOUT: Duration = Duration::from_secs(20);
const PROSODY_DOMAIN: &str = "example.test";

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

/// Our server for `domain`, taking Prosody's streams on `s2s_port`, with
/// a log of what its sessions did.
fn ours(domain: &str, s2s_port: &str, policy: S2sPolicy) -> (ServeHandle, Arc<Mutex<Vec<String>>>) {
    let (chain, key) = cert_files();
    let anchors = TrustAnchors::from_pem_file(env("XMPP_INTEROP_CA")).unwrap();
    let tls = S2sTls::from_pem_files(&chain, &key, &anchors).unwrap();
    let mut accounts = Accounts::new();
    accounts.add("dana", "dana-pass").unwrap();
    let prosody: SocketAddr = format!(
        "{}:{}",
        env("XMPP_PROSODY_HOST"),
        env("XMPP_PROSODY_S2S_PORT")
    )
    .parse()
    .unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let handle = Serve::new(
        domain,
        ServerTls::from_pem_files(&chain, &key).unwrap(),
        accounts,
    )
    .unwrap()
    .with_config(|c| c.with_trace(true))
    .with_log(move |entry: &SessionLog<'_>| lock(&sink).push(entry.to_string()))
    .with_federation(
        Federation::new(format!("secret of {domain}")).with_policy(policy),
        tls,
    )
    .with_s2s_route(PROSODY_DOMAIN, prosody)
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

fn prosody_login() -> (Connection<Client>, String) {
    let addr = format!(
        "{}:{}",
        env("XMPP_PROSODY_HOST"),
        env("XMPP_PROSODY_C2S_PORT")
    );
    login(&addr, "alice@example.test", "alice-pass")
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

fn exchange(domain: &str, port_var: &str, policy: S2sPolicy) -> Vec<String> {
    let (server, log) = ours(domain, &env(port_var), policy);
    let (mut dana, dana_jid) = login(
        &server.local_addr().to_string(),
        &format!("dana@{domain}/desk"),
        "dana-pass",
    );
    let (mut alice, alice_jid) = prosody_login();
    // Ours to Prosody: our link, then Prosody's link back for the answer.
    // (To the full JID: neither client sent presence.)
    send(&mut dana, &alice_jid, "hello Prosody");
    let got = next_message(&mut alice, &log);
    assert_eq!(got.from(), Some(dana_jid.as_str()));
    assert_eq!(got.body().as_deref(), Some("hello Prosody"));
    send(&mut alice, &dana_jid, "hello from Prosody");
    let got = next_message(&mut dana, &log);
    assert_eq!(got.from(), Some(alice_jid.as_str()));
    assert_eq!(got.body().as_deref(), Some("hello from Prosody"));
    server.shutdown();
    lock(&log).clone()
}

#[test]
#[ignore = "needs Prosody: run scripts/interop.sh"]
fn prosody_federates_by_certificate() {
    let log = exchange(
        "ours.test",
        "XMPP_OURS_S2S_PORT",
        S2sPolicy::RequireCertificate,
    );
    let text = log.join("\n");
    // Both directions authenticated by SASL EXTERNAL.
    assert!(text.contains("mechanism='EXTERNAL'"), "{text}");
    assert!(
        !text.contains("<db:result") && !text.contains("<result xmlns='jabber:server:dialback'"),
        "{text}"
    );
}

#[test]
#[ignore = "needs Prosody: run scripts/interop.sh"]
fn prosody_federates_by_dialback_when_the_certificate_does_not_name_us() {
    let log = exchange(
        "ours-dialback.test",
        "XMPP_OURS_DIALBACK_S2S_PORT",
        S2sPolicy::AllowDialback,
    );
    let text = log.join("\n");
    // Prosody asked us, as the authoritative server, about its key.
    assert!(text.contains("verify"), "{text}");
    assert!(text.contains("type='valid'"), "{text}");
}
