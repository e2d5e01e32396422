//! XMPP over WebSocket (RFC 7395) with real sockets: our client and the
//! `serve` helper over `wss://` (TLS, then the upgrade) and plain `ws://`,
//! a message between the two, a clean close, and an upgrade without the
//! `xmpp` subprotocol refused.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use xmpp_proto::CloseReason;
use xmpp_proto::client::{Client, ClientConfig, ClientEvent, ClientTlsPolicy};
use xmpp_proto::jid::Jid;
use xmpp_transport_std::serve::{Accounts, Serve, ServeHandle};
use xmpp_transport_std::test_certs::TestPki;
use xmpp_transport_std::websocket::{WsEndpoint, WsUrl, discover_at};
use xmpp_transport_std::{ClientTls, Connection, Next, clock};

const TIMEOUT: Duration = Duration::from_secs(20);

fn start(pki: &TestPki) -> ServeHandle {
    let mut accounts = Accounts::new();
    accounts.add("alice", "alice-secret").unwrap();
    accounts.add("bob", "bob-secret").unwrap();
    Serve::new("localhost", pki.server_tls(), accounts)
        .unwrap()
        .with_websocket(TcpListener::bind("127.0.0.1:0").unwrap())
        .with_websocket_tls(TcpListener::bind("127.0.0.1:0").unwrap())
        .start(TcpListener::bind("127.0.0.1:0").unwrap())
        .unwrap()
}

type WsConn = Connection<WsEndpoint<Client>>;

fn connect(pki: &TestPki, server: &ServeHandle, user: &str, secure: bool) -> WsConn {
    let (scheme, addr) = if secure {
        ("wss", server.websocket_tls_addr().unwrap())
    } else {
        ("ws", server.websocket_addr().unwrap())
    };
    let url = WsUrl::parse(&format!(
        "{scheme}://localhost:{}/xmpp-websocket",
        addr.port()
    ))
    .unwrap();
    let mut config = ClientConfig::new(
        Jid::new(&format!("{user}@localhost")).unwrap(),
        format!("{user}-secret"),
    )
    .with_resource("web")
    .with_websocket();
    if !secure {
        config = config.with_tls(ClientTlsPolicy::InsecureDisabled);
    }
    let tcp = TcpStream::connect(addr).unwrap();
    let endpoint = WsEndpoint::client(Client::new(config, clock::now()), &url).unwrap();
    let tls = ClientTls::new(&pki.trust_anchors(), "localhost").unwrap();
    Connection::new_client(tcp, endpoint, tls).unwrap()
}

fn until(conn: &mut WsConn, mut want: impl FnMut(&ClientEvent) -> bool) -> ClientEvent {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match conn.next_event_until(deadline).unwrap() {
            Next::Event(e) if want(&e) => return e,
            Next::Event(ClientEvent::Closed { reason }) => {
                panic!("closed: {reason} ({:?})", conn.endpoint().websocket_error())
            }
            Next::Event(_) => {}
            other => panic!("nothing came: {other:?}"),
        }
    }
}

#[test]
fn wss_and_ws_clients_log_in_and_talk() {
    let pki = TestPki::localhost().unwrap();
    let server = start(&pki);
    let mut alice = connect(&pki, &server, "alice", true);
    until(&mut alice, |e| matches!(e, ClientEvent::Online { .. }));
    let tls = alice
        .endpoint()
        .tls()
        .expect("TLS facts reached the client");
    assert!(
        tls.tls_exporter().is_some(),
        "channel binding data over wss"
    );
    // The server's verified certificate names its domain.
    assert!(
        tls.peer_certified_for("localhost"),
        "{:?}",
        tls.peer_names()
    );
    assert!(!tls.peer_certified_for("example.com"));
    let mut bob = connect(&pki, &server, "bob", false);
    until(&mut bob, |e| matches!(e, ClientEvent::Online { .. }));

    alice
        .command(|c, now| c.send_message(now, "bob@localhost/web", "over wss", false))
        .unwrap()
        .unwrap();
    let got = until(&mut bob, |e| matches!(e, ClientEvent::Message(_)));
    let ClientEvent::Message(m) = got else {
        unreachable!()
    };
    assert_eq!(m.body().as_deref(), Some("over wss"));
    assert_eq!(m.from(), Some("alice@localhost/web"));

    bob.command(|c, now| c.close(now)).unwrap();
    let end = until(&mut bob, |e| matches!(e, ClientEvent::Closed { .. }));
    assert!(
        matches!(
            end,
            ClientEvent::Closed {
                reason: CloseReason::Normal
            }
        ),
        "{end:?}"
    );
    alice.command(|c, now| c.close(now)).unwrap();
    let end = until(&mut alice, |e| matches!(e, ClientEvent::Closed { .. }));
    assert!(
        matches!(
            end,
            ClientEvent::Closed {
                reason: CloseReason::Normal
            }
        ),
        "{end:?}"
    );
    server.shutdown();
}

#[test]
fn an_upgrade_without_the_xmpp_subprotocol_is_refused() {
    let pki = TestPki::localhost().unwrap();
    let server = start(&pki);
    let mut tcp = TcpStream::connect(server.websocket_addr().unwrap()).unwrap();
    tcp.set_read_timeout(Some(TIMEOUT)).unwrap();
    tcp.write_all(
        b"GET /xmpp-websocket HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
          Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
          Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
    )
    .unwrap();
    let mut answer = String::new();
    let _ = tcp.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer:?}");
    server.shutdown();
}

/// Serves one host-meta document over HTTPS (the test certificate) to
/// every connection; returns its address.
fn host_meta_server(pki: &TestPki, xrd: String) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let tls = pki.server_tls();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let conn = tls.accept().unwrap();
            let mut stream = rustls::StreamOwned::new(conn, tcp);
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                request.push(byte[0]);
            }
            if !request.starts_with(b"GET /.well-known/host-meta HTTP/1.1\r\n") {
                // A refused handshake (the untrusting client below).
                continue;
            }
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/xrd+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{xrd}",
                xrd.len()
            );
            let _ = stream.write_all(answer.as_bytes());
            stream.conn.send_close_notify();
            let _ = stream.flush();
        }
    });
    addr
}

#[test]
fn the_endpoint_is_discovered_from_host_meta() {
    let pki = TestPki::localhost().unwrap();
    let server = start(&pki);
    let wss = format!(
        "wss://localhost:{}/xmpp-websocket",
        server.websocket_tls_addr().unwrap().port()
    );
    let xrd = format!(
        "<?xml version='1.0' encoding='utf-8'?>\n<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>\n\
         <Link rel='urn:xmpp:alt-connections:websocket' href='ws://localhost:1/plaintext-is-ignored'/>\n\
         <Link rel='urn:xmpp:alt-connections:websocket' href='{wss}'/>\n</XRD>"
    );
    let https = host_meta_server(&pki, xrd);
    let urls = discover_at("localhost", https, &pki.trust_anchors()).unwrap();
    assert_eq!(urls, [WsUrl::parse(&wss).unwrap()]);

    let url = &urls[0];
    let config =
        ClientConfig::new(Jid::new("alice@localhost").unwrap(), "alice-secret").with_websocket();
    let tcp = TcpStream::connect(url.socket_addr()).unwrap();
    let endpoint = WsEndpoint::client(Client::new(config, clock::now()), url).unwrap();
    let tls = ClientTls::new(&pki.trust_anchors(), url.host()).unwrap();
    let mut conn = Connection::new_client(tcp, endpoint, tls).unwrap();
    until(&mut conn, |e| matches!(e, ClientEvent::Online { .. }));

    // The certificate is checked against the domain asked about.
    let other = xmpp_transport_std::test_certs::TestPki::localhost().unwrap();
    assert!(discover_at("localhost", https, &other.trust_anchors()).is_err());
    server.shutdown();
}
