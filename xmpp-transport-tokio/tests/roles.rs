//! Every role driven from tokio tasks over real sockets: clients over
//! STARTTLS and over WebSocket and a component against the std
//! transport's server, and a server endpoint of our own in a tokio task
//! with a tokio client logging in to it.

use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use xmpp_proto::client::{Client, ClientConfig, ClientEvent};
use xmpp_proto::component::{Component, ComponentConfig, ComponentEvent, ComponentTls};
use xmpp_proto::endpoint::{CloseReason, Endpoint};
use xmpp_proto::jid::Jid;
use xmpp_proto::sasl::{Iterations, stored_credentials};
use xmpp_proto::server::{Server, ServerConfig, ServerEvent};
use xmpp_proto::stanza::{Message, MessageType};
use xmpp_transport_std::ClientTls;
use xmpp_transport_std::serve::{Accounts, Serve, ServeHandle};
use xmpp_transport_std::test_certs::TestPki;
use xmpp_transport_std::websocket::{WsEndpoint, WsUrl};
use xmpp_transport_tokio::{Session, now};

const TIMEOUT: Duration = Duration::from_secs(20);

fn std_server(pki: &TestPki) -> ServeHandle {
    let mut accounts = Accounts::new();
    accounts.add("alice", "alice-secret").unwrap();
    accounts.add("bob", "bob-secret").unwrap();
    Serve::new("localhost", pki.server_tls(), accounts)
        .unwrap()
        .with_component("echo.localhost", "s3cret")
        .unwrap()
        .with_component_listener(std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .with_websocket(std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .start(std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .unwrap()
}

fn client_config(user: &str) -> ClientConfig {
    ClientConfig::new(
        Jid::new(&format!("{user}@localhost/tokio")).unwrap(),
        format!("{user}-secret"),
    )
}

/// The first event `pick` takes, within the timeout.
async fn until<E, T>(session: &mut Session<E>, mut pick: impl FnMut(&E::Event) -> Option<T>) -> T
where
    E: Endpoint + Send + 'static,
    E::Event: Send + std::fmt::Debug + 'static,
{
    tokio::time::timeout(TIMEOUT, async {
        loop {
            let event = session.next_event().await.expect("the session ended early");
            if let Some(t) = pick(&event) {
                return t;
            }
        }
    })
    .await
    .expect("nothing came in time")
}

async fn tokio_client(pki: &TestPki, addr: std::net::SocketAddr, user: &str) -> Session<Client> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let tls = ClientTls::new(&pki.trust_anchors(), "localhost").unwrap();
    Session::client(tcp, Client::new(client_config(user), now()), tls)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_and_a_component_against_the_std_server() {
    let pki = TestPki::localhost().unwrap();
    let server = std_server(&pki);
    let mut alice = tokio_client(&pki, server.local_addr(), "alice").await;
    until(&mut alice, |e| {
        matches!(e, ClientEvent::Online { .. }).then_some(())
    })
    .await;

    // bob over WebSocket, through the same task code.
    let url = WsUrl::parse(&format!("ws://{}/xmpp", server.websocket_addr().unwrap())).unwrap();
    let bob_config = client_config("bob")
        .with_websocket()
        .with_tls(xmpp_proto::client::ClientTlsPolicy::InsecureDisabled);
    let tcp = TcpStream::connect(server.websocket_addr().unwrap())
        .await
        .unwrap();
    let endpoint = WsEndpoint::client(Client::new(bob_config, now()), &url).unwrap();
    let mut bob = Session::plain(tcp, endpoint);
    until(&mut bob, |e| {
        matches!(e, ClientEvent::Online { .. }).then_some(())
    })
    .await;

    alice
        .command(|c, now| c.send_message(now, "bob@localhost/tokio", "from a tokio task", false))
        .await
        .unwrap()
        .unwrap();
    let body = until(&mut bob, |e| match e {
        ClientEvent::Message(m) => m.body().map(|b| b.into_owned()),
        _ => None,
    })
    .await;
    assert_eq!(body, "from a tokio task");

    // A component, plaintext on the component listener.
    let config = ComponentConfig::new("echo.localhost", "s3cret")
        .unwrap()
        .with_tls(ComponentTls::Plaintext);
    let tcp = TcpStream::connect(server.component_addr().unwrap())
        .await
        .unwrap();
    let mut component = Session::plain(tcp, Component::new(config, now()));
    until(&mut component, |e| {
        matches!(e, ComponentEvent::Online { .. }).then_some(())
    })
    .await;
    alice
        .command(|c, now| c.send_message(now, "anything@echo.localhost", "to the component", false))
        .await
        .unwrap()
        .unwrap();
    let (from, body) = until(&mut component, |e| match e {
        ComponentEvent::Message(m) => Some((
            m.from().map(str::to_owned),
            m.body().map(|b| b.into_owned()),
        )),
        _ => None,
    })
    .await;
    assert_eq!(from.as_deref(), Some("alice@localhost/tokio"));
    assert_eq!(body.as_deref(), Some("to the component"));

    let closed = |e: &ClientEvent| match e {
        ClientEvent::Closed { reason } => Some(reason.clone()),
        _ => None,
    };
    alice.command(|c, now| c.close(now)).await.unwrap();
    assert_eq!(until(&mut alice, closed).await, CloseReason::Normal);
    bob.command(|c, now| c.close(now)).await.unwrap();
    assert_eq!(until(&mut bob, closed).await, CloseReason::Normal);
    alice.finish().await.unwrap();
    server.shutdown();
}

/// Answers what a server endpoint asks while a client logs in: alice's
/// stored SCRAM keys, and the bind.
fn answer(server: &mut Server, now: xmpp_proto::Time, event: &ServerEvent) {
    match event {
        ServerEvent::NeedScramCredentials { username, hash } => {
            let creds = (username == "alice").then(|| {
                stored_credentials(*hash, "alice-secret", b"tokio-test-salt", Iterations(4096))
                    .unwrap()
            });
            server.provide_credentials(now, creds).unwrap();
        }
        ServerEvent::BindRequest { .. } => server.accept_bind(now).unwrap(),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_endpoint_in_a_tokio_task() {
    let pki = TestPki::localhost().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server_tls = pki.server_tls();
    let served = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let config = ServerConfig::new("localhost").unwrap();
        let mut session = Session::server(tcp, Server::new(config, now()), server_tls);
        let mut online = None;
        while let Some(event) = session.next_event().await {
            match &event {
                ServerEvent::Online { jid } => online = Some(jid.to_string()),
                // The last event: the task may be gone already, and a
                // command would come back `Gone`.
                ServerEvent::Closed { .. } => break,
                ServerEvent::Stanza(_) => {
                    // Answer the client's message: the server side sends too.
                    let reply = Message::builder(MessageType::Chat)
                        .to("alice@localhost/tokio")
                        .from("localhost")
                        .body("hello from the server task")
                        .build();
                    session
                        .command(move |s, now| s.send(now, reply))
                        .await
                        .unwrap()
                        .unwrap();
                }
                _ => {}
            }
            // Events queued before the end may be taken after the task
            // ended; the answer is moot then (`Gone`).
            let _ = session.command(move |s, now| answer(s, now, &event)).await;
        }
        online
    });

    let mut alice = tokio_client(&pki, addr, "alice").await;
    until(&mut alice, |e| {
        matches!(e, ClientEvent::Online { .. }).then_some(())
    })
    .await;
    assert!(
        alice.command(|c, _| c.tls().is_some()).await.unwrap(),
        "STARTTLS happened"
    );
    alice
        .command(|c, now| c.send_message(now, "localhost", "hello, server", false))
        .await
        .unwrap()
        .unwrap();
    let body = until(&mut alice, |e| match e {
        ClientEvent::Message(m) => m.body().map(|b| b.into_owned()),
        _ => None,
    })
    .await;
    assert_eq!(body, "hello from the server task");
    alice.command(|c, now| c.close(now)).await.unwrap();
    until(&mut alice, |e| {
        matches!(e, ClientEvent::Closed { .. }).then_some(())
    })
    .await;
    let online = tokio::time::timeout(TIMEOUT, served)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(online.as_deref(), Some("alice@localhost/tokio"));
}
