//! Federation figures: messages per second across a server-to-server
//! link, and the time to first delivery to a new domain (link set-up
//! included), between two of our servers and, when the interop Prosody
//! is up (`XMPP_PROSODY_S2S_PORT` and the rest of its env file in the
//! environment), between ours and Prosody, with the same load generator.
//!
//! The load generator: a client of the sending server sends chat
//! messages to a client of the receiving one, keeping at most `WINDOW`
//! unanswered (the receiver counts what it got; the sender waits when it
//! is that far ahead), so that no queue on the way overflows and the
//! figure is the pipeline's throughput, not a queue's size.
//!
//! `cargo bench -p xmpp-transport-std --bench federation`; prints
//! `RESULT` lines. History in `BENCHMARKS.md`.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use xmpp_proto::client::{Client, ClientConfig, ClientEvent};
use xmpp_proto::jid::Jid;
use xmpp_proto::s2s::{Federation, S2sPolicy};
use xmpp_proto::stanza::{Message, MessageType};
use xmpp_transport_std::resolve::Resolver;
use xmpp_transport_std::s2s_tls::S2sTls;
use xmpp_transport_std::serve::{Accounts, Serve, ServeHandle};
use xmpp_transport_std::test_certs::TestPki;
use xmpp_transport_std::tls::TrustAnchors;
use xmpp_transport_std::{ClientTls, Connection, Next, ServerTls, clock};

const MESSAGES: u64 = 20_000;
const WINDOW: u64 = 200;
const FIRST_DELIVERY_RUNS: usize = 7;
const TIMEOUT: Duration = Duration::from_secs(30);

/// Where a client logs in: address, its JID, password, and the
/// authority and name its server's certificate is checked against.
struct Login {
    addr: SocketAddr,
    jid: String,
    password: String,
    anchors: TrustAnchors,
    tls_name: String,
}

fn connect(login: &Login) -> (Connection<Client>, String) {
    let config = ClientConfig::new(Jid::new(&login.jid).unwrap(), login.password.clone())
        .with_auto_receipts(false);
    let tls = ClientTls::new(&login.anchors, &login.tls_name).unwrap();
    let tcp = std::net::TcpStream::connect(login.addr).unwrap();
    tcp.set_nodelay(true).unwrap();
    let mut conn = Connection::new_client(tcp, Client::new(config, clock::now()), tls).unwrap();
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match conn.next_event_until(deadline).unwrap() {
            Next::Event(ClientEvent::Online { jid }) => return (conn, jid.to_string()),
            Next::Event(ClientEvent::Closed { reason }) => panic!("no login: {reason}"),
            Next::Event(_) => {}
            other => panic!("no login: {other:?}"),
        }
    }
}

fn chat(to: &str, n: u64) -> Message {
    Message::builder(MessageType::Chat)
        .to(to)
        .body(&format!("message {n} across the federation"))
        .build()
}

/// Counts the receiver's messages until `total`, on a thread.
fn count(mut conn: Connection<Client>, total: u64, got: Arc<AtomicU64>) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(600);
        while got.load(Ordering::Acquire) < total {
            match conn.next_event_until(deadline).unwrap() {
                Next::Event(ClientEvent::Message(m)) if m.body().is_some() => {
                    got.fetch_add(1, Ordering::Release);
                }
                Next::Event(ClientEvent::Closed { reason }) => panic!("receiver closed: {reason}"),
                Next::Event(_) => {}
                other => panic!("receiver: {other:?}"),
            }
        }
    })
}

/// Time to the first delivery (the link comes up for it), then the
/// rate of `MESSAGES` more, windowed.
fn run_load(from: &Login, to: &Login) -> (Duration, f64) {
    let (mut sender, _) = connect(from);
    let (receiver, to_jid) = connect(to);
    let got = Arc::new(AtomicU64::new(0));
    let counter = count(receiver, MESSAGES + 1, got.clone());
    let start = Instant::now();
    sender
        .command(|c, now| c.send(now, chat(&to_jid, 0)))
        .unwrap()
        .unwrap();
    while got.load(Ordering::Acquire) < 1 {
        sender.flush().unwrap();
        thread::sleep(Duration::from_micros(200));
        assert!(start.elapsed() < TIMEOUT, "the first message never came");
    }
    let first = start.elapsed();
    let start = Instant::now();
    for n in 1..=MESSAGES {
        while n - got.load(Ordering::Acquire) > WINDOW {
            // Keep reading the sender's stream meanwhile (keepalives,
            // acknowledgements).
            let _ = sender.next_event_until(Instant::now() + Duration::from_micros(200));
        }
        sender
            .command(|c, now| c.send(now, chat(&to_jid, n)))
            .unwrap()
            .unwrap();
    }
    sender.flush().unwrap();
    counter.join().unwrap();
    let rate = MESSAGES as f64 / start.elapsed().as_secs_f64();
    (first, rate)
}

/// Two of our servers, a.example and b.example, federating by
/// certificate (SASL EXTERNAL); returns them and a login on each.
fn our_pair() -> (ServeHandle, ServeHandle, Login, Login) {
    our_pair_with(true)
}

/// [`our_pair`] with bidirectional streams (XEP-0288) on or off.
fn our_pair_with(bidi: bool) -> (ServeHandle, ServeHandle, Login, Login) {
    let pki_a = TestPki::generate(&["a.example"]).unwrap();
    let pki_b = TestPki::generate(&["b.example"]).unwrap();
    let pem = format!("{}{}", pki_a.ca_pem(), pki_b.ca_pem());
    let trust = TrustAnchors::from_pem(pem.as_bytes()).unwrap();
    let s2s_a = TcpListener::bind("127.0.0.1:0").unwrap();
    let s2s_b = TcpListener::bind("127.0.0.1:0").unwrap();
    let (addr_a, addr_b) = (s2s_a.local_addr().unwrap(), s2s_b.local_addr().unwrap());
    let start = |domain: &str, pki: &TestPki, listener, peer: &str, peer_addr| {
        let (chain, key) = pki.chain_and_key();
        let mut accounts = Accounts::new();
        accounts.add("user", "user-secret").unwrap();
        Serve::new(domain, pki.server_tls(), accounts)
            .unwrap()
            .with_federation(
                Federation::new("bench").with_bidi(bidi),
                S2sTls::new(chain, key, &trust).unwrap(),
            )
            .with_s2s_route(peer, peer_addr)
            .with_s2s_resolver(Resolver::with_server("127.0.0.1:9".parse().unwrap()).unwrap())
            .with_s2s_listener(listener)
            .start(TcpListener::bind("127.0.0.1:0").unwrap())
            .unwrap()
    };
    let a = start("a.example", &pki_a, s2s_a, "b.example", addr_b);
    let b = start("b.example", &pki_b, s2s_b, "a.example", addr_a);
    let login = |handle: &ServeHandle, domain: &str, pki: &TestPki| Login {
        addr: handle.local_addr(),
        jid: format!("user@{domain}/bench"),
        password: "user-secret".into(),
        anchors: pki.trust_anchors(),
        tls_name: domain.into(),
    };
    let (la, lb) = (
        login(&a, "a.example", &pki_a),
        login(&b, "b.example", &pki_b),
    );
    (a, b, la, lb)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The time from b's answer to its arrival at a, once a's message to b
/// has brought a's link up: with bidi, the answer takes that link; without
/// it, b opens one of its own first.
fn first_answer(bidi: bool) -> Duration {
    let mut answers = Vec::new();
    for _ in 0..FIRST_DELIVERY_RUNS {
        let (a, b, la, lb) = our_pair_with(bidi);
        let (mut alice, alice_jid) = connect(&la);
        let (mut bob, bob_jid) = connect(&lb);
        alice
            .command(|c, now| c.send(now, chat(&bob_jid, 0)))
            .unwrap()
            .unwrap();
        next_chat(&mut bob);
        let start = Instant::now();
        bob.command(|c, now| c.send(now, chat(&alice_jid, 1)))
            .unwrap()
            .unwrap();
        next_chat(&mut alice);
        answers.push(start.elapsed());
        drop((alice, bob));
        a.shutdown();
        b.shutdown();
    }
    median(answers)
}

/// Waits for the next chat message on `conn`.
fn next_chat(conn: &mut Connection<Client>) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match conn.next_event_until(deadline).unwrap() {
            Next::Event(ClientEvent::Message(m)) if m.body().is_some() => return,
            Next::Event(ClientEvent::Closed { reason }) => panic!("closed: {reason}"),
            Next::Event(_) => {}
            other => panic!("no message: {other:?}"),
        }
    }
}

fn ours_and_ours() {
    let mut firsts = Vec::new();
    for _ in 0..FIRST_DELIVERY_RUNS {
        let (a, b, la, lb) = our_pair();
        let (mut sender, _) = connect(&la);
        let (receiver, to) = connect(&lb);
        let got = Arc::new(AtomicU64::new(0));
        let counter = count(receiver, 1, got.clone());
        let start = Instant::now();
        sender
            .command(|c, now| c.send(now, chat(&to, 0)))
            .unwrap()
            .unwrap();
        counter.join().unwrap();
        firsts.push(start.elapsed());
        drop(sender);
        a.shutdown();
        b.shutdown();
    }
    let (a, b, la, lb) = our_pair();
    let (_, rate) = run_load(&la, &lb);
    println!(
        "RESULT federation ours->ours first_delivery_ms={:.1} (median of {FIRST_DELIVERY_RUNS}) msgs_per_s={rate:.0} ({MESSAGES} messages, window {WINDOW})",
        median(firsts).as_secs_f64() * 1000.0
    );
    a.shutdown();
    b.shutdown();
    let (with, without) = (first_answer(true), first_answer(false));
    println!(
        "RESULT federation ours<-ours first_answer_ms bidi={:.2} separate_link={:.2} (median of {FIRST_DELIVERY_RUNS}: the answer to a first message, on the link it came by or on a new one)",
        with.as_secs_f64() * 1000.0,
        without.as_secs_f64() * 1000.0
    );
}

/// Ours (ours.test, the interop certificate) and the interop Prosody
/// (example.test), both ways.
fn ours_and_prosody() {
    let Ok(s2s_port) = std::env::var("XMPP_OURS_S2S_PORT") else {
        println!(
            "(no Prosody figures: source the interop env files, see scripts/interop/README.md)"
        );
        return;
    };
    let env = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set"));
    let ca = env("XMPP_INTEROP_CA");
    let dir = std::path::Path::new(&ca).parent().unwrap().to_owned();
    let chain = dir.join("fullchain.pem");
    let key = dir.join("server.key");
    let anchors = || TrustAnchors::from_pem_file(&ca).unwrap();
    let prosody_s2s: SocketAddr = format!("127.0.0.1:{}", env("XMPP_PROSODY_S2S_PORT"))
        .parse()
        .unwrap();
    let prosody = Login {
        addr: format!("127.0.0.1:{}", env("XMPP_PROSODY_C2S_PORT"))
            .parse()
            .unwrap(),
        jid: "bob@example.test/bench".into(),
        password: "bob-pass".into(),
        anchors: anchors(),
        tls_name: "example.test".into(),
    };
    let start_ours = || {
        let mut accounts = Accounts::new();
        accounts.add("user", "user-secret").unwrap();
        Serve::new(
            "ours.test",
            ServerTls::from_pem_files(&chain, &key).unwrap(),
            accounts,
        )
        .unwrap()
        .with_federation(
            Federation::new("bench").with_policy(S2sPolicy::RequireCertificate),
            S2sTls::from_pem_files(&chain, &key, &anchors()).unwrap(),
        )
        .with_s2s_route("example.test", prosody_s2s)
        .with_s2s_resolver(Resolver::with_server("127.0.0.1:9".parse().unwrap()).unwrap())
        .with_s2s_listener(TcpListener::bind(format!("127.0.0.1:{s2s_port}")).unwrap())
        .start(TcpListener::bind("127.0.0.1:0").unwrap())
        .unwrap()
    };
    let ours_login = |handle: &ServeHandle| Login {
        addr: handle.local_addr(),
        jid: "user@ours.test/bench".into(),
        password: "user-secret".into(),
        anchors: anchors(),
        tls_name: "ours.test".into(),
    };
    let mut firsts = Vec::new();
    for _ in 0..FIRST_DELIVERY_RUNS {
        let ours = start_ours();
        let (mut sender, _) = connect(&ours_login(&ours));
        let (receiver, to) = connect(&prosody);
        let got = Arc::new(AtomicU64::new(0));
        let counter = count(receiver, 1, got.clone());
        let start = Instant::now();
        sender
            .command(|c, now| c.send(now, chat(&to, 0)))
            .unwrap()
            .unwrap();
        counter.join().unwrap();
        firsts.push(start.elapsed());
        drop(sender);
        ours.shutdown();
        // Prosody notices the closed links before the next run.
        thread::sleep(Duration::from_millis(300));
    }
    let ours = start_ours();
    let (_, to_prosody) = run_load(&ours_login(&ours), &prosody);
    let (_, from_prosody) = run_load(&prosody, &ours_login(&ours));
    println!(
        "RESULT federation ours->prosody first_delivery_ms={:.1} (median of {FIRST_DELIVERY_RUNS}) msgs_per_s={to_prosody:.0}; prosody->ours msgs_per_s={from_prosody:.0} ({MESSAGES} messages, window {WINDOW})",
        median(firsts).as_secs_f64() * 1000.0
    );
    ours.shutdown();
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent: only build.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    ours_and_ours();
    ours_and_prosody();
}
