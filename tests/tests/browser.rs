//! The web client (`web/`: the core compiled to WebAssembly, on the
//! browser's WebSocket) in real headless Chromium, driven like a user by
//! `scripts/browser/drive.mjs`: it logs in, adds a contact, sees it come
//! online, sends it a message and sees the answer. The contact is a
//! native client of ours on a TCP stream that approves the subscription
//! and echoes messages; it checks what it received.
//!
//! Run by `scripts/browser-test.sh`, which builds the page and sets
//! `XMPP_WEB_DIR` and `XMPP_BROWSER_DRIVER` (and, for Prosody, the
//! interop variables); a plain `cargo test` lists these tests as ignored.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use xmpp_proto::client::{Client, ClientConfig, ClientEvent, ClientTlsPolicy};
use xmpp_proto::jid::Jid;
use xmpp_proto::stanza::{MessageType, Presence, PresenceType};
use xmpp_transport_std::serve::{Accounts, Serve};
use xmpp_transport_std::test_certs::TestPki;
use xmpp_transport_std::{ClientTls, Connection, Next, TrustAnchors, clock};

fn env(key: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| panic!("{key} is not set: run scripts/browser-test.sh"))
}

/// Serves the files of `root` over HTTP on loopback, until the process
/// ends; returns the base URL.
fn serve_page(root: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let root = root.clone();
            thread::spawn(move || answer_http(stream, &root));
        }
    });
    format!("http://{addr}/")
}

fn answer_http(mut stream: TcpStream, root: &Path) {
    let mut request = String::new();
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    if reader.read_line(&mut request).is_err() {
        return;
    }
    // The headers are not needed; read them off.
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let path = path
        .split('?')
        .next()
        .unwrap_or("/")
        .trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    let relative = Path::new(path);
    let safe = relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    let body = safe
        .then(|| std::fs::read(root.join(relative)).ok())
        .flatten();
    let Some(body) = body else {
        let _ = stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    };
    let kind = match relative.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("css") => "text/css",
        Some("wasm") => "application/wasm",
        _ => "application/octet-stream",
    };
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
}

/// The contact: approves subscriptions, asks for one back, and echoes
/// every chat message with `echo: `; returns the bodies it received.
fn echo_contact(conn: Connection<Client>, stop: Arc<AtomicBool>) -> JoinHandle<Vec<String>> {
    thread::spawn(move || {
        let mut conn = conn;
        let mut got = Vec::new();
        while !stop.load(Ordering::SeqCst) {
            let deadline = Instant::now() + Duration::from_millis(200);
            let event = match conn.next_event_until(deadline) {
                Ok(Next::Event(e)) => e,
                Ok(Next::Deadline) => continue,
                Ok(Next::Closed) | Err(_) => break,
            };
            let now = clock::now();
            match event {
                ClientEvent::Online { .. } => {
                    let presence = Presence::builder(PresenceType::Available).build();
                    let _ = conn.command(|c, now| c.send(now, presence));
                }
                ClientEvent::SubscriptionRequest { from, .. } => {
                    let _ = conn.command(|c, _| {
                        let _ = c.approve_subscription(now, &from);
                        let _ = c.subscribe(now, &from);
                    });
                }
                ClientEvent::Message(m) if m.kind() == MessageType::Chat => {
                    if let (Some(body), Some(from)) = (m.body(), m.from()) {
                        let body = body.into_owned();
                        let from = from.to_owned();
                        let _ = conn.command(|c, now| {
                            c.send_message(now, &from, &format!("echo: {body}"), false)
                        });
                        got.push(body);
                    }
                }
                _ => {}
            }
        }
        let _ = conn.command(|c, now| c.close(now));
        let _ = conn.next_event_until(Instant::now() + Duration::from_secs(2));
        got
    })
}

/// Runs the page against `ws_url` as `jid`, with `contact` online;
/// checks the page's run and what the contact received.
fn run_page(
    ws_url: &str,
    (jid, password): (&str, &str),
    (contact_jid, contact): (&str, Connection<Client>),
    spki: Option<&str>,
) {
    let page = serve_page(PathBuf::from(env("XMPP_WEB_DIR")));
    let stop = Arc::new(AtomicBool::new(false));
    let echo = echo_contact(contact, Arc::clone(&stop));
    let mut driver = Command::new("node");
    driver.arg(env("XMPP_BROWSER_DRIVER")).args([
        page.as_str(),
        ws_url,
        jid,
        password,
        contact_jid,
    ]);
    if let Some(spki) = spki {
        driver.arg(spki);
    }
    let output = driver.output().expect("node runs");
    stop.store(true, Ordering::SeqCst);
    let got = echo.join().expect("the contact's thread");
    let printed = String::from_utf8_lossy(&output.stdout);
    eprintln!("{printed}{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "the page did not get through:\n{printed}"
    );
    let sent = printed
        .lines()
        .find_map(|l| l.strip_prefix("SENT "))
        .expect("the driver names the message it sent");
    assert!(
        printed.contains(&format!("echo: {sent}")),
        "the page shows the answer"
    );
    assert_eq!(
        got,
        [sent],
        "the native contact received the page's message"
    );
}

fn native(config: ClientConfig, addr: &str, anchors: &TrustAnchors) -> Connection<Client> {
    let tls = ClientTls::new(anchors, config.domain()).expect("TLS config");
    let tcp = TcpStream::connect(addr).expect("TCP connect");
    Connection::new_client(tcp, Client::new(config, clock::now()), tls).expect("connection")
}

#[test]
#[ignore = "needs Chromium, Node and the built page: run scripts/browser-test.sh"]
fn web_client_against_our_server() {
    let pki = TestPki::localhost().expect("test PKI");
    let mut accounts = Accounts::new();
    accounts.add("alice", "alice-secret").expect("account");
    accounts.add("bob", "bob-secret").expect("account");
    let server = Serve::new("localhost", pki.server_tls(), accounts)
        .expect("domain")
        .with_websocket(TcpListener::bind("127.0.0.1:0").expect("bind"))
        .start(TcpListener::bind("127.0.0.1:0").expect("bind"))
        .expect("server");
    let ws = format!(
        "ws://{}/xmpp-websocket",
        server.websocket_addr().expect("ws listener")
    );
    let bob = ClientConfig::new(Jid::new("bob@localhost/native").expect("JID"), "bob-secret")
        .with_tls(ClientTlsPolicy::RequireStartTls);
    let bob = native(bob, &server.local_addr().to_string(), &pki.trust_anchors());
    run_page(
        &ws,
        ("alice@localhost", "alice-secret"),
        ("bob@localhost", bob),
        None,
    );
    server.shutdown();
}

#[test]
#[ignore = "needs Chromium, Node, the built page and Prosody: run scripts/browser-test.sh"]
fn web_client_against_prosody() {
    let anchors = TrustAnchors::from_pem_file(env("XMPP_INTEROP_CA")).expect("test CA");
    let addr = format!(
        "{}:{}",
        env("XMPP_PROSODY_HOST"),
        env("XMPP_PROSODY_C2S_PORT")
    );
    let bob = ClientConfig::new(Jid::new("bob@localhost/native").expect("JID"), "bob-pass");
    let bob = native(bob, &addr, &anchors);
    let spki = env("XMPP_PROSODY_SPKI");
    run_page(
        &env("XMPP_PROSODY_WSS_URL"),
        ("alice@localhost", "alice-pass"),
        ("bob@localhost", bob),
        Some(&spki),
    );
}
