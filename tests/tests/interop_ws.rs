//! XMPP over WebSocket (RFC 7395) against real servers: our client over
//! `wss://` to Prosody's mod_websocket and ejabberd's WebSocket listener,
//! talking to a client on a plain TCP stream of the same server.
//!
//! Needs the servers `scripts/interop.sh` starts (their WebSocket URLs in
//! `XMPP_PROSODY_WSS_URL` and `XMPP_EJABBERD_WSS_URL`); a plain
//! `cargo test` lists these tests as ignored.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use xmpp_proto::client::{Client, ClientConfig, ClientEvent};
use xmpp_proto::endpoint::{CloseReason, Endpoint};
use xmpp_proto::jid::Jid;
use xmpp_proto::sm::SmConfig;
use xmpp_proto::stanza::{Presence, PresenceType};
use xmpp_transport_std::websocket::{WsEndpoint, WsUrl};
use xmpp_transport_std::{ClientTls, Connection, Next, TrustAnchors, clock};

const TIMEOUT: Duration = Duration::from_secs(20);

fn env(key: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| panic!("{key} is not set: run scripts/interop.sh"))
}

fn anchors() -> TrustAnchors {
    TrustAnchors::from_pem_file(env("XMPP_INTEROP_CA")).expect("test CA")
}

/// A client over WebSocket to `url`.
fn over_websocket(url: &str, config: ClientConfig) -> Connection<WsEndpoint<Client>> {
    let url = WsUrl::parse(url).expect("a WebSocket URL");
    let tls = ClientTls::new(&anchors(), url.host()).expect("TLS config");
    let tcp = TcpStream::connect(url.socket_addr()).expect("TCP connect");
    let endpoint = WsEndpoint::client(Client::new(config.with_websocket(), clock::now()), &url)
        .expect("upgrade request");
    Connection::new_client(tcp, endpoint, tls).expect("connection")
}

/// A client on a TCP stream with STARTTLS.
fn over_tcp(server: &str, config: ClientConfig) -> Connection<Client> {
    let host = env(&format!("XMPP_{server}_HOST"));
    let port = env(&format!("XMPP_{server}_C2S_PORT"));
    let tls = ClientTls::new(&anchors(), config.domain()).expect("TLS config");
    let tcp = xmpp_transport_std::connect(config.domain(), Some(&format!("{host}:{port}")))
        .expect("TCP connect");
    Connection::new_client(tcp, Client::new(config, clock::now()), tls).expect("connection")
}

fn until<E: Endpoint<Event = ClientEvent> + 'static, T>(
    conn: &mut Connection<E>,
    mut pick: impl FnMut(&ClientEvent) -> Option<T>,
) -> T {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match conn.next_event_until(deadline).expect("transport") {
            Next::Event(e) => {
                if let ClientEvent::Trace { direction, data } = &e {
                    eprintln!("{direction:?} {}", String::from_utf8_lossy(data));
                }
                if let Some(t) = pick(&e) {
                    return t;
                }
                if let ClientEvent::Closed { reason } = e {
                    panic!("closed: {reason}");
                }
            }
            other => panic!("nothing came in time: {other:?}"),
        }
    }
}

fn close<E: Endpoint<Event = ClientEvent> + 'static>(
    conn: &mut Connection<E>,
    close: impl FnOnce(&mut E),
) {
    conn.command(|e, _| close(e)).expect("transport");
    let reason = until(conn, |e| match e {
        ClientEvent::Closed { reason } => Some(reason.clone()),
        _ => None,
    });
    assert_eq!(reason, CloseReason::Normal);
}

/// alice over WebSocket with stream management, bob on TCP: a message
/// each way, then clean closes.
fn talk(server: &str, url: &str) {
    let domain = "localhost";
    let jid = |user: &str| Jid::new(&format!("{user}@{domain}/ws-interop")).expect("JID");
    let mut alice = over_websocket(
        url,
        ClientConfig::new(jid("alice"), "alice-pass")
            .with_trace(std::env::var_os("XMPP_INTEROP_TRACE").is_some())
            .with_stream_management(SmConfig::default()),
    );
    until(&mut alice, |e| {
        matches!(e, ClientEvent::Online { .. }).then_some(())
    });
    assert!(
        alice.endpoint().sm_enabled(),
        "{server}: stream management over WebSocket"
    );
    let mut bob = over_tcp(server, ClientConfig::new(jid("bob"), "bob-pass"));
    until(&mut bob, |e| {
        matches!(e, ClientEvent::Online { .. }).then_some(())
    });
    let presence = Presence::builder(PresenceType::Available).build();
    bob.command(|c, now| c.send(now, presence))
        .expect("transport")
        .expect("presence");
    let token = format!("over the web {:?}", Instant::now());
    alice
        .command(|c, now| c.send_message(now, "bob@localhost/ws-interop", &token, false))
        .expect("transport")
        .expect("send");
    until(&mut bob, |e| match e {
        ClientEvent::Message(m) if m.body().as_deref() == Some(token.as_str()) => Some(()),
        _ => None,
    });
    let answer = format!("and back {token}");
    bob.command(|c, now| c.send_message(now, "alice@localhost/ws-interop", &answer, false))
        .expect("transport")
        .expect("send");
    let from = until(&mut alice, |e| match e {
        ClientEvent::Message(m) if m.body().as_deref() == Some(answer.as_str()) => {
            m.from().map(str::to_owned)
        }
        _ => None,
    });
    assert_eq!(from, "bob@localhost/ws-interop");
    close(&mut alice, |c| c.close(clock::now()));
    close(&mut bob, |c| c.close(clock::now()));
}

#[test]
#[ignore = "needs real XMPP servers: run scripts/interop.sh"]
fn prosody_over_websocket() {
    talk("PROSODY", &env("XMPP_PROSODY_WSS_URL"));
}

#[test]
#[ignore = "needs real XMPP servers: run scripts/interop.sh"]
fn ejabberd_over_websocket() {
    talk("EJABBERD", &env("XMPP_EJABBERD_WSS_URL"));
}
