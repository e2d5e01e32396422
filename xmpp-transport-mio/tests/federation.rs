//! The mio server federating with the std transport's `Serve` over TLS on
//! loopback: a.example on mio, b.example on `Serve`, each routed to the
//! other; a message each way (SASL EXTERNAL by certificate), and a
//! domain nobody serves bounced back to its sender.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::{Token, Waker};
use xmpp_proto::client::{Client, ClientConfig, ClientEvent};
use xmpp_proto::jid::Jid;
use xmpp_proto::s2s::Federation;
use xmpp_proto::stanza::{DefinedCondition, Message, MessageType};
use xmpp_transport_mio::DriverConfig;
use xmpp_transport_mio::serve::MioServer;
use xmpp_transport_std::resolve::Resolver;
use xmpp_transport_std::s2s_tls::S2sTls;
use xmpp_transport_std::serve::{Accounts, Serve};
use xmpp_transport_std::test_certs::TestPki;
use xmpp_transport_std::tls::TrustAnchors;
use xmpp_transport_std::{ClientTls, Connection, Next, clock};

const TIMEOUT: Duration = Duration::from_secs(20);
const STOP: Token = Token(1);

fn accounts() -> Accounts {
    let mut accounts = Accounts::new();
    accounts.add("user", "user-secret").unwrap();
    accounts
}

/// DNS that answers nothing (nothing listens there): unrouted domains
/// fail at once.
fn no_dns() -> Resolver {
    Resolver::with_server("127.0.0.1:9".parse().unwrap()).unwrap()
}

fn login(addr: std::net::SocketAddr, domain: &str, pki: &TestPki) -> Connection<Client> {
    let jid = Jid::new(&format!("user@{domain}/r")).unwrap();
    let config = ClientConfig::new(jid, "user-secret").with_resource("r");
    let tcp = std::net::TcpStream::connect(addr).unwrap();
    let tls = ClientTls::new(&pki.trust_anchors(), domain).unwrap();
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

/// The next message or bounce the client gets: (body, error condition).
fn next(conn: &mut Connection<Client>) -> (Option<String>, Option<DefinedCondition>) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match conn.next_event_until(deadline).unwrap() {
            Next::Event(ClientEvent::Message(m)) if m.body().is_some() => {
                return (m.body().map(|b| b.into_owned()), None);
            }
            Next::Event(ClientEvent::Bounced { error, .. }) => {
                return (None, Some(error.condition));
            }
            Next::Event(ClientEvent::Closed { reason }) => panic!("closed: {reason}"),
            Next::Event(_) => {}
            other => panic!("nothing came: {other:?}"),
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

/// The mio server on a thread of its own until `stop` is set.
struct MioRunning {
    c2s: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for MioRunning {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.waker.wake();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn the_mio_server_and_serve_federate() {
    let pki_a = TestPki::generate(&["a.example"]).unwrap();
    let pki_b = TestPki::generate(&["b.example"]).unwrap();
    let pem = format!("{}{}", pki_a.ca_pem(), pki_b.ca_pem());
    let trust = TrustAnchors::from_pem(pem.as_bytes()).unwrap();
    let s2s_a = TcpListener::bind("127.0.0.1:0").unwrap();
    let s2s_b = TcpListener::bind("127.0.0.1:0").unwrap();
    let (addr_a, addr_b) = (s2s_a.local_addr().unwrap(), s2s_b.local_addr().unwrap());

    // b.example: the std transport's server.
    let (chain, key) = pki_b.chain_and_key();
    let b = Serve::new("b.example", pki_b.server_tls(), accounts())
        .unwrap()
        .with_federation(
            Federation::new("secret b"),
            S2sTls::new(chain, key, &trust).unwrap(),
        )
        .with_s2s_route("a.example", addr_a)
        .with_s2s_resolver(no_dns())
        .with_s2s_listener(s2s_b)
        .start(TcpListener::bind("127.0.0.1:0").unwrap())
        .unwrap();

    // a.example: the mio server, on its own thread.
    let (chain, key) = pki_a.chain_and_key();
    let tls_a = S2sTls::new(chain, key, &trust).unwrap();
    let server_tls = pki_a.server_tls();
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let mut server =
            MioServer::new("a.example", server_tls, accounts(), DriverConfig::default())
                .unwrap()
                .with_federation(Federation::new("secret a"), tls_a)
                .with_s2s_route("b.example", addr_b)
                .with_s2s_resolver(no_dns());
        server.listen_s2s(s2s_a).unwrap();
        let c2s = server
            .listen(TcpListener::bind("127.0.0.1:0").unwrap(), false)
            .unwrap();
        let waker = Arc::new(Waker::new(server.registry(), STOP).unwrap());
        tx.send((c2s, waker)).unwrap();
        while !stopping.load(Ordering::SeqCst) {
            server
                .poll(Some(Duration::from_millis(100)), |_| {})
                .unwrap();
        }
        server.shutdown(Duration::from_secs(5)).unwrap();
    });
    let (c2s, waker) = rx.recv().unwrap();
    let a = MioRunning {
        c2s,
        stop,
        waker,
        thread: Some(thread),
    };

    let mut on_a = login(a.c2s, "a.example", &pki_a);
    let mut on_b = login(b.local_addr(), "b.example", &pki_b);
    send(&mut on_a, "user@b.example/r", "from mio");
    assert_eq!(next(&mut on_b), (Some("from mio".into()), None));
    send(&mut on_b, "user@a.example/r", "from serve");
    assert_eq!(next(&mut on_a), (Some("from serve".into()), None));
    // A domain neither knows: bounced, on the mio side too.
    send(&mut on_a, "someone@nowhere.invalid", "lost?");
    assert_eq!(
        next(&mut on_a),
        (None, Some(DefinedCondition::RemoteServerNotFound))
    );
    drop(a);
    b.shutdown();
}
