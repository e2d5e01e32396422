//! XMPP over WebSocket (RFC 7395) on the mio transport: the mio server's
//! `ws://` and `wss://` listeners, with mio clients behind `WsEndpoint`
//! on one driver, a message between them and clean closes.

mod common;

use common::{SharedKeyAccounts, TIMEOUT, client_config, start};
use xmpp_proto::client::{Client, ClientEvent, ClientTlsPolicy};
use xmpp_proto::endpoint::CloseReason;
use xmpp_transport_mio::{Driver, DriverConfig, DriverEvent};
use xmpp_transport_std::ClientTls;
use xmpp_transport_std::clock;
use xmpp_transport_std::websocket::{WsEndpoint, WsUrl};

#[test]
fn mio_clients_over_ws_and_wss() {
    let server = start(DriverConfig::default(), |c| c);
    let keys = SharedKeyAccounts::new().keys().clone();
    let mut driver: Driver<WsEndpoint<Client>> = Driver::new(DriverConfig::default()).unwrap();
    let tls =
        std::sync::Arc::new(ClientTls::new(&server.pki.trust_anchors(), "localhost").unwrap());
    let mut add = |i: usize, secure: bool| {
        let (addr, scheme, policy) = if secure {
            (server.wss, "wss", ClientTlsPolicy::Direct)
        } else {
            (server.ws, "ws", ClientTlsPolicy::InsecureDisabled)
        };
        let url = WsUrl::parse(&format!("{scheme}://localhost:{}/", addr.port())).unwrap();
        let config = client_config(i, policy, &keys).with_websocket();
        let endpoint = WsEndpoint::client(Client::new(config, clock::now()), &url).unwrap();
        let socket = mio::net::TcpStream::connect(addr).unwrap();
        driver.add_client(socket, endpoint, tls.clone()).unwrap()
    };
    let secure = add(0, true);
    let plain = add(1, false);
    let deadline = std::time::Instant::now() + TIMEOUT;
    let mut online = 0;
    let mut sent = false;
    let mut got = None;
    let mut closed = Vec::new();
    while closed.len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out: online {online}, got {got:?}"
        );
        driver
            .poll(Some(std::time::Duration::from_millis(100)))
            .unwrap();
        while let Some(event) = driver.next_event() {
            match event {
                DriverEvent::Endpoint {
                    event: ClientEvent::Online { .. },
                    ..
                } => online += 1,
                DriverEvent::Endpoint {
                    conn,
                    event: ClientEvent::Message(m),
                } if conn == plain => {
                    got = m.body().map(|b| b.into_owned());
                    for conn in [secure, plain] {
                        driver.command(conn, |c, now| c.close(now)).unwrap();
                    }
                }
                DriverEvent::Endpoint {
                    event: ClientEvent::Closed { reason },
                    conn,
                } => {
                    assert_eq!(reason, CloseReason::Normal, "{conn}");
                    closed.push(conn);
                }
                DriverEvent::Closed { conn, error } if error.is_some() => {
                    panic!("{conn} lost: {error:?}")
                }
                _ => {}
            }
        }
        if online == 2 && !sent {
            sent = true;
            driver
                .command(secure, |c, now| {
                    c.send_message(now, "user1@localhost/r", "over mio and wss", false)
                })
                .unwrap()
                .unwrap();
        }
    }
    assert_eq!(got.as_deref(), Some("over mio and wss"));
    server.stop();
}
