//! `Keeper` on a mio loop: two kept accounts whose connections a proxy
//! kills again and again; every message arrives once and in order,
//! reconnections resume the sessions without the application seeing a
//! second `Online`, and a wrong password is given up at once.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use xmpp_proto::client::{Client, ClientConfig, ClientEvent, ReconnectPolicy};
use xmpp_proto::endpoint::CloseReason;
use xmpp_proto::jid::Jid;
use xmpp_proto::sm::SmConfig;
use xmpp_proto::stanza::{Message, MessageType};
use xmpp_transport_mio::{AccountId, Driver, Keeper, KeptEvent};
use xmpp_transport_std::serve::{Accounts, Serve};
use xmpp_transport_std::test_certs::TestPki;
use xmpp_transport_std::{ClientTls, KillProxy};

fn config(user: &'static str, password: &'static str) -> impl FnMut() -> ClientConfig + Send {
    move || {
        ClientConfig::new(Jid::new(&format!("{user}@localhost")).unwrap(), password)
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

/// Runs the loop for `ms`, handing out the kept accounts' reports.
fn spin(
    driver: &mut Driver<Client>,
    keeper: &mut Keeper,
    ms: u64,
    mut on: impl FnMut(AccountId, KeptEvent),
) {
    let deadline = Instant::now() + Duration::from_millis(ms);
    while Instant::now() < deadline {
        for (account, event) in keeper.handle_timeout(driver) {
            on(account, event);
        }
        let wait = deadline.saturating_duration_since(Instant::now());
        let timeout = keeper.poll_timeout().map_or(wait, |t| t.min(wait));
        driver.poll(Some(timeout)).unwrap();
        while let Some(event) = driver.next_event() {
            if let Some((account, event)) = keeper.handle(driver, event) {
                on(account, event);
            }
        }
    }
}

#[test]
fn kept_accounts_survive_killed_connections_with_nothing_lost_or_doubled() {
    let pki = TestPki::localhost().unwrap();
    let mut accounts = Accounts::new();
    accounts.add("alice", "alice-secret").unwrap();
    accounts.add("bob", "bob-secret").unwrap();
    let server = Serve::new("localhost", pki.server_tls(), accounts)
        .unwrap()
        .with_config(|c| c.with_stream_management(SmConfig::default()))
        .start(TcpListener::bind("127.0.0.1:0").unwrap())
        .unwrap();
    let proxy = KillProxy::start(server.local_addr()).unwrap();
    let tls = Arc::new(ClientTls::new(&pki.trust_anchors(), "localhost").unwrap());
    let mut driver = Driver::new(Default::default()).unwrap();
    let mut keeper = Keeper::new();
    let alice = keeper.add(
        config("alice", "alice-secret"),
        proxy.addr(),
        tls.clone(),
        quick(),
    );
    let bob = keeper.add(config("bob", "bob-secret"), proxy.addr(), tls, quick());

    let mut onlines = Vec::new();
    let mut reconnects = 0;
    let got = std::cell::RefCell::new(Vec::new());
    let mut on = |account: AccountId, event: KeptEvent| match event {
        KeptEvent::Client(ClientEvent::Online { jid }) => onlines.push((account, jid)),
        KeptEvent::Client(ClientEvent::Message(m)) => got
            .borrow_mut()
            .push(m.body().unwrap().parse::<usize>().unwrap()),
        KeptEvent::Client(ClientEvent::Undelivered { stanzas }) => panic!("{stanzas:?}"),
        KeptEvent::Reconnecting { .. } => reconnects += 1,
        KeptEvent::Stopped(reason) => panic!("stopped: {reason}"),
        KeptEvent::Client(_) => {}
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let online = |driver: &Driver<Client>, keeper: &Keeper, account: AccountId| {
        keeper
            .conn(account)
            .and_then(|c| driver.endpoint(c))
            .is_some_and(|client: &Client| client.is_online())
    };
    while !online(&driver, &keeper, alice) || !online(&driver, &keeper, bob) {
        assert!(Instant::now() < deadline, "both online");
        spin(&mut driver, &mut keeper, 10, &mut on);
    }
    let bob_jid = driver
        .endpoint(keeper.conn(bob).unwrap())
        .and_then(|c| c.jid())
        .unwrap()
        .to_string();
    let total = 200;
    let mut n = 0;
    let mut kills = 0;
    while n < total {
        assert!(
            Instant::now() < deadline + Duration::from_secs(20),
            "sent {n}"
        );
        // Send while alice is online; a kill lands between sends.
        if let Some(conn) = keeper.conn(alice) {
            let message = Message::builder(MessageType::Chat)
                .to(&bob_jid)
                .body(&n.to_string())
                .build();
            if let Some(Ok(_)) = driver.command(conn, |c, now| c.send(now, message)) {
                n += 1;
                if n % 25 == 0 && proxy.kill() {
                    kills += 1;
                }
            }
        }
        spin(&mut driver, &mut keeper, 2, &mut on);
    }
    let until = Instant::now() + Duration::from_secs(20);
    while got.borrow().len() < total && Instant::now() < until {
        spin(&mut driver, &mut keeper, 20, &mut on);
    }
    assert_eq!(
        got.into_inner(),
        (0..total).collect::<Vec<_>>(),
        "once each, in order"
    );
    assert_eq!(onlines.len(), 2, "one Online per account: {onlines:?}");
    assert!(
        kills >= 5 && reconnects >= 10,
        "kills={kills} reconnects={reconnects}"
    );
    keeper.remove(&mut driver, alice);
    keeper.remove(&mut driver, bob);
    server.shutdown();
}

#[test]
fn a_wrong_password_is_given_up_at_once() {
    let pki = TestPki::localhost().unwrap();
    let mut accounts = Accounts::new();
    accounts.add("alice", "alice-secret").unwrap();
    let server = Serve::new("localhost", pki.server_tls(), accounts)
        .unwrap()
        .start(TcpListener::bind("127.0.0.1:0").unwrap())
        .unwrap();
    let tls = Arc::new(ClientTls::new(&pki.trust_anchors(), "localhost").unwrap());
    let mut driver = Driver::new(Default::default()).unwrap();
    let mut keeper = Keeper::new();
    keeper.add(config("alice", "wrong"), server.local_addr(), tls, quick());
    let mut stopped = None;
    let mut reconnects = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while stopped.is_none() && Instant::now() < deadline {
        spin(&mut driver, &mut keeper, 10, |_, event| match event {
            KeptEvent::Stopped(reason) => stopped = Some(reason),
            KeptEvent::Reconnecting { .. } => reconnects += 1,
            _ => {}
        });
    }
    assert!(
        matches!(stopped, Some(CloseReason::AuthenticationFailed { .. })),
        "{stopped:?}"
    );
    assert_eq!(reconnects, 0);
    assert_eq!(keeper.poll_timeout(), None, "forgotten");
    server.shutdown();
}

/// A kept account found through DNS SRV (dnsmasq from
/// `scripts/interop/dns-up.sh`): the first target refuses, the second is
/// our server; the lookup and the connection attempts run off the loop.
#[test]
#[ignore = "needs a DNS server: scripts/interop/dns-up.sh"]
fn a_kept_account_finds_its_server_through_srv() {
    let dns: std::net::SocketAddr = std::env::var("XMPP_TEST_DNS")
        .expect("XMPP_TEST_DNS is not set: run scripts/interop/dns-up.sh")
        .parse()
        .unwrap();
    let pki = TestPki::generate(&["srv.xmpp.test"]).unwrap();
    let mut accounts = Accounts::new();
    accounts.add("alice", "alice-secret").unwrap();
    let server = Serve::new("srv.xmpp.test", pki.server_tls(), accounts)
        .unwrap()
        .start(TcpListener::bind("127.0.0.5:15372").unwrap())
        .unwrap();
    let tls = Arc::new(ClientTls::new(&pki.trust_anchors(), "srv.xmpp.test").unwrap());
    let mut driver = Driver::new(Default::default()).unwrap();
    let mut keeper = Keeper::new();
    let make = || {
        ClientConfig::new(Jid::new("alice@srv.xmpp.test").unwrap(), "alice-secret")
            .with_stream_management(SmConfig::default())
    };
    let alice = keeper.add_by_dns(make, Some(dns), tls, quick());
    let mut online = false;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !online && Instant::now() < deadline {
        spin(&mut driver, &mut keeper, 10, |_, event| match event {
            KeptEvent::Client(ClientEvent::Online { .. }) => online = true,
            KeptEvent::Stopped(reason) => panic!("{reason}"),
            _ => {}
        });
    }
    assert!(online);
    let conn = keeper.conn(alice).unwrap();
    let peer = driver.socket(conn).unwrap().peer_addr().unwrap();
    assert_eq!(peer, "127.0.0.5:15372".parse().unwrap());
    keeper.remove(&mut driver, alice);
    server.shutdown();
}
