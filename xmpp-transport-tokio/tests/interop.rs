//! The interop scenarios of the std transport, through tokio tasks,
//! against real Prosody and ejabberd on loopback: logins over STARTTLS,
//! direct TLS and WebSocket, a message with a delivery receipt, stream
//! management, and SASL2 with a FAST token on Prosody's SASL2 host.
//!
//! Needs the servers `scripts/interop.sh` starts (their facts in the
//! environment); a plain `cargo test` lists these tests as ignored.

use std::time::Duration;

use tokio::net::TcpStream;
use xmpp_proto::client::{Client, ClientConfig, ClientEvent, ClientTlsPolicy};
use xmpp_proto::endpoint::{CloseReason, Endpoint};
use xmpp_proto::jid::Jid;
use xmpp_proto::negotiation::UserAgent;
use xmpp_proto::sm::SmConfig;
use xmpp_proto::stanza::{Presence, PresenceType};
use xmpp_transport_std::websocket::{WsEndpoint, WsUrl};
use xmpp_transport_std::{ClientTls, TrustAnchors};
use xmpp_transport_tokio::{Session, now};

const TIMEOUT: Duration = Duration::from_secs(20);

fn env(key: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| panic!("{key} is not set: run scripts/interop.sh"))
}

fn tls_for(domain: &str) -> ClientTls {
    let anchors = TrustAnchors::from_pem_file(env("XMPP_INTEROP_CA")).expect("test CA");
    ClientTls::new(&anchors, domain).expect("TLS config")
}

#[derive(Clone, Copy)]
enum Way {
    StartTls,
    DirectTls,
}

async fn connect(server: &str, config: ClientConfig, way: Way) -> Session<Client> {
    let (port, policy) = match way {
        Way::StartTls => ("C2S_PORT", ClientTlsPolicy::RequireStartTls),
        Way::DirectTls => ("TLS_PORT", ClientTlsPolicy::Direct),
    };
    let addr = format!(
        "{}:{}",
        env(&format!("XMPP_{server}_HOST")),
        env(&format!("XMPP_{server}_{port}"))
    );
    let tls = tls_for(config.domain());
    let tcp = TcpStream::connect(&addr).await.expect("TCP connect");
    Session::client(tcp, Client::new(config.with_tls(policy), now()), tls)
}

async fn until<E, T>(session: &mut Session<E>, mut pick: impl FnMut(&ClientEvent) -> Option<T>) -> T
where
    E: Endpoint<Event = ClientEvent> + Send + 'static,
{
    tokio::time::timeout(TIMEOUT, async {
        loop {
            match session.next_event().await {
                Some(e) => {
                    if let Some(t) = pick(&e) {
                        return t;
                    }
                    if let ClientEvent::Closed { reason } = e {
                        panic!("closed: {reason}");
                    }
                }
                None => panic!("the session ended"),
            }
        }
    })
    .await
    .expect("nothing came in time")
}

async fn online<E: Endpoint<Event = ClientEvent> + Send + 'static>(
    session: &mut Session<E>,
) -> String {
    until(session, |e| match e {
        ClientEvent::Online { jid } => Some(jid.to_string()),
        _ => None,
    })
    .await
}

/// A client, on a stream or behind WebSocket.
trait AsClient {
    fn client(&mut self) -> &mut Client;
}

impl AsClient for Client {
    fn client(&mut self) -> &mut Client {
        self
    }
}

impl AsClient for WsEndpoint<Client> {
    fn client(&mut self) -> &mut Client {
        self.get_mut()
    }
}

async fn close<E>(mut session: Session<E>)
where
    E: Endpoint<Event = ClientEvent> + Send + AsClient + 'static,
{
    session
        .command(|c, now| c.client().close(now))
        .await
        .expect("running");
    let reason = until(&mut session, |e| match e {
        ClientEvent::Closed { reason } => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert_eq!(reason, CloseReason::Normal);
}

fn config(user: &str, password: &str, resource: &str) -> ClientConfig {
    ClientConfig::new(
        Jid::new(&format!("{user}@localhost/{resource}")).expect("JID"),
        password,
    )
    .with_auto_receipts(true)
}

/// alice (STARTTLS, stream management) sends bob (direct TLS) a message
/// with a receipt request; the receipt comes back.
async fn message_with_receipt(server: &str) {
    let mut bob = connect(server, config("bob", "bob-pass", "tokio-b"), Way::DirectTls).await;
    let bob_jid = online(&mut bob).await;
    let presence = Presence::builder(PresenceType::Available).build();
    bob.command(|c, now| c.send(now, presence))
        .await
        .unwrap()
        .unwrap();
    let mut alice = connect(
        server,
        config("alice", "alice-pass", "tokio-a").with_stream_management(SmConfig::default()),
        Way::StartTls,
    )
    .await;
    online(&mut alice).await;
    assert!(
        alice.command(|c, _| c.sm_enabled()).await.unwrap(),
        "{server}: stream management"
    );
    let token = format!("from a tokio task {:?}", std::time::Instant::now());
    let to = bob_jid.clone();
    let body = token.clone();
    let id = alice
        .command(move |c, now| c.send_message(now, &to, &body, true))
        .await
        .unwrap()
        .unwrap();
    until(&mut bob, |e| match e {
        ClientEvent::Message(m) if m.body().as_deref() == Some(token.as_str()) => Some(()),
        _ => None,
    })
    .await;
    let from = until(&mut alice, |e| match e {
        ClientEvent::ReceiptReceived { id: got, from } if *got == id => Some(from.clone()),
        _ => None,
    })
    .await;
    assert_eq!(from.as_deref(), Some(bob_jid.as_str()));
    close(alice).await;
    close(bob).await;
}

async fn over_websocket(url_var: &str) {
    let url = WsUrl::parse(&env(url_var)).expect("URL");
    let tcp = TcpStream::connect(url.socket_addr())
        .await
        .expect("TCP connect");
    let client = Client::new(
        config("alice", "alice-pass", "tokio-ws").with_websocket(),
        now(),
    );
    let endpoint = WsEndpoint::client(client, &url).expect("upgrade request");
    let mut alice = Session::client(tcp, endpoint, tls_for(url.host()));
    let jid = online(&mut alice).await;
    assert_eq!(jid, "alice@localhost/tokio-ws");
    close(alice).await;
}

#[tokio::test]
#[ignore = "needs real XMPP servers: run scripts/interop.sh"]
async fn prosody_message_with_receipt() {
    message_with_receipt("PROSODY").await;
}

#[tokio::test]
#[ignore = "needs real XMPP servers: run scripts/interop.sh"]
async fn ejabberd_message_with_receipt() {
    message_with_receipt("EJABBERD").await;
}

#[tokio::test]
#[ignore = "needs real XMPP servers: run scripts/interop.sh"]
async fn prosody_over_websocket() {
    over_websocket("XMPP_PROSODY_WSS_URL").await;
}

#[tokio::test]
#[ignore = "needs real XMPP servers: run scripts/interop.sh"]
async fn ejabberd_over_websocket() {
    over_websocket("XMPP_EJABBERD_WSS_URL").await;
}

/// SASL2 with Bind 2 on Prosody's SASL2 host, a FAST token requested,
/// then a second login with the token instead of the password.
#[tokio::test]
#[ignore = "needs real XMPP servers: run scripts/interop.sh"]
async fn prosody_sasl2_and_fast() {
    let domain = env("XMPP_PROSODY_SASL2_DOMAIN");
    let agent =
        UserAgent::new("c6b3b7f2-1f3e-4a59-9d3e-7b1f0a7d2e10").with_software("tokio-interop");
    let jid = Jid::new(&format!("alice@{domain}")).expect("JID");
    let first = ClientConfig::new(jid.clone(), "alice-pass")
        .with_user_agent(agent.clone())
        .with_fast_token_request(true);
    let mut alice = connect("PROSODY", first, Way::StartTls).await;
    let token = until(&mut alice, |e| match e {
        ClientEvent::FastToken { credentials, .. } => Some(credentials.clone()),
        _ => None,
    })
    .await;
    online(&mut alice).await;
    close(alice).await;
    let second = ClientConfig::new(jid, "not the password")
        .with_user_agent(agent)
        .with_fast_token(token);
    let mut again = connect("PROSODY", second, Way::StartTls).await;
    online(&mut again).await;
    close(again).await;
}
