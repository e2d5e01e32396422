//! `KeepOnline` against the `serve` helper through a proxy that kills its
//! connections: every message arrives once and in order, the
//! reconnections resume (inline in SASL2) without the application seeing
//! them, a FAST token replaces the password after the first login, and a
//! wrong password stops at once instead of looping.

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use xmpp_proto::client::{ClientConfig, ClientEvent, ReconnectPolicy};
use xmpp_proto::endpoint::CloseReason;
use xmpp_proto::jid::Jid;
use xmpp_proto::negotiation::UserAgent;
use xmpp_proto::sm::SmConfig;
use xmpp_proto::stanza::{Message, MessageType};
use xmpp_transport_std::serve::{Accounts, Serve, ServeHandle};
use xmpp_transport_std::test_certs::TestPki;
use xmpp_transport_std::{KeepEvent, KeepOnline, KillProxy, LoginOptions, Next, Session};

struct Setup {
    pki: TestPki,
    server: ServeHandle,
}

fn start() -> Setup {
    let pki = TestPki::localhost().unwrap();
    let mut accounts = Accounts::new();
    accounts.add("alice", "alice-secret").unwrap();
    accounts.add("bob", "bob-secret").unwrap();
    let server = Serve::new("localhost", pki.server_tls(), accounts)
        .unwrap()
        .with_config(|c| {
            c.with_stream_management(SmConfig::default())
                .with_fast(true)
        })
        .start(TcpListener::bind("127.0.0.1:0").unwrap())
        .unwrap();
    Setup { pki, server }
}

fn options(setup: &Setup, via: SocketAddr) -> LoginOptions {
    LoginOptions {
        server: Some(via.to_string()),
        trust: Some(setup.pki.trust_anchors()),
        ..LoginOptions::default()
    }
}

fn alice(password: &'static str) -> impl FnMut() -> ClientConfig + Send + 'static {
    move || {
        ClientConfig::new(Jid::new("alice@localhost").unwrap(), password)
            .with_user_agent(UserAgent::new("keep-online-test").with_software("KeepTest"))
            .with_fast_token_request(true)
            .with_stream_management(SmConfig::default())
    }
}

fn quick() -> ReconnectPolicy {
    ReconnectPolicy {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(200),
        max_attempts: Some(50),
    }
}

#[test]
fn messages_survive_killed_connections_once_each_and_in_order() {
    let setup = start();
    let proxy = KillProxy::start(setup.server.local_addr()).unwrap();
    let mut bob = Session::login_with(
        "bob@localhost",
        "bob-secret",
        options(&setup, setup.server.local_addr()),
    )
    .unwrap();
    let bob_jid = bob.jid().to_string();

    let mut online = KeepOnline::new(
        alice("alice-secret"),
        options(&setup, proxy.addr()),
        quick(),
    )
    .unwrap();
    let total = 300;
    let (mut onlines, mut reconnects) = (0, 0);
    let mut pump_events = |online: &mut KeepOnline, for_ms: u64| {
        let deadline = Instant::now() + Duration::from_millis(for_ms);
        while let Some(event) = online.next_event_until(deadline) {
            match event {
                KeepEvent::Client(ClientEvent::Online { .. }) => onlines += 1,
                KeepEvent::Client(ClientEvent::Undelivered { stanzas }) => {
                    panic!("undelivered: {stanzas:?}")
                }
                KeepEvent::Reconnecting { .. } => reconnects += 1,
                KeepEvent::Stopped(reason) => panic!("stopped: {reason}"),
                KeepEvent::Client(_) => {}
            }
        }
    };
    for n in 0..total {
        let message = Message::builder(MessageType::Chat)
            .to(&bob_jid)
            .body(&n.to_string())
            .build();
        online.send(message).unwrap();
        if n % 30 == 29 {
            // Cut while stanzas are in flight.
            let _ = proxy.kill();
        }
        pump_events(&mut online, 2);
    }
    // Let the last ones go, and be acknowledged.
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.len() < total && Instant::now() < deadline {
        pump_events(&mut online, 20);
        while let Ok(Next::Event(event)) =
            bob.next_event_until(Instant::now() + Duration::from_millis(5))
        {
            if let ClientEvent::Message(m) = event {
                got.push(m.body().unwrap().parse::<usize>().unwrap());
            }
        }
    }
    assert_eq!(got, (0..total).collect::<Vec<_>>(), "once each, in order");
    assert_eq!(onlines, 1, "every reconnection resumed the session");
    assert!(reconnects >= 5, "the proxy cut {reconnects} times");
    assert!(
        online.fast_token().is_some(),
        "a FAST token was issued and renewed"
    );
    online.close();
}

#[test]
fn a_fast_token_logs_in_after_the_password_is_changed_away() {
    // The second run has a wrong password and the first run's token: it
    // gets online, so the token was used.
    let setup = start();
    let via = setup.server.local_addr();
    let mut first = KeepOnline::new(alice("alice-secret"), options(&setup, via), quick()).unwrap();
    loop {
        match first.next_event() {
            KeepEvent::Client(ClientEvent::Online { .. }) => break,
            KeepEvent::Stopped(reason) => panic!("{reason}"),
            _ => {}
        }
    }
    let token = first.fast_token().cloned().expect("issued");
    first.close();
    let mut second = KeepOnline::new(alice("wrong"), options(&setup, via), quick())
        .unwrap()
        .with_fast_token(token);
    loop {
        match second.next_event() {
            KeepEvent::Client(ClientEvent::Online { .. }) => break,
            KeepEvent::Stopped(reason) => panic!("{reason}"),
            _ => {}
        }
    }
    second.close();
}

#[test]
fn a_wrong_password_stops_instead_of_looping() {
    let setup = start();
    let via = setup.server.local_addr();
    let mut online = KeepOnline::new(alice("wrong"), options(&setup, via), quick()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut reconnects = 0;
    let reason = loop {
        match online
            .next_event_until(deadline)
            .expect("an answer in time")
        {
            KeepEvent::Stopped(reason) => break reason,
            KeepEvent::Reconnecting { .. } => reconnects += 1,
            _ => {}
        }
    };
    assert!(
        matches!(reason, CloseReason::AuthenticationFailed { .. }),
        "{reason}"
    );
    assert_eq!(reconnects, 0);
}
