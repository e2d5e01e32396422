//! DNS SRV against a real DNS server: `scripts/interop/dns-up.sh` starts
//! dnsmasq with a test zone (see there) and `scripts/interop.sh` runs
//! these with `--ignored` and `XMPP_TEST_DNS` set.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use xmpp_proto::resolve::{Plan, Security};
use xmpp_transport_std::resolve::Resolver;

fn resolver() -> Resolver {
    let server: SocketAddr = std::env::var("XMPP_TEST_DNS")
        .expect("XMPP_TEST_DNS is not set: run scripts/interop/dns-up.sh")
        .parse()
        .expect("an address");
    Resolver::with_server(server).unwrap()
}

fn order(plan: Plan) -> Vec<(String, u16, Security)> {
    match plan {
        Plan::Candidates(c) => c
            .into_iter()
            .map(|c| (c.host, c.port, c.security))
            .collect(),
        Plan::NoService => Vec::new(),
    }
}

#[test]
#[ignore = "needs a DNS server: scripts/interop/dns-up.sh"]
fn srv_answers_come_in_priority_order_with_their_security() {
    let plan = resolver().plan("srv.xmpp.test").unwrap();
    assert_eq!(
        order(plan),
        [
            ("dead.xmpp.test".into(), 15371, Security::StartTls),
            ("live.xmpp.test".into(), 15372, Security::StartTls),
            ("tls.xmpp.test".into(), 15373, Security::DirectTls),
        ]
    );
}

#[test]
#[ignore = "needs a DNS server: scripts/interop/dns-up.sh"]
fn server_to_server_records_and_their_fallback() {
    assert_eq!(
        order(resolver().plan_server("srv.xmpp.test").unwrap()),
        [
            ("tls.xmpp.test".into(), 15375, Security::DirectTls),
            ("live.xmpp.test".into(), 15374, Security::StartTls),
        ]
    );
    assert_eq!(
        order(resolver().plan_server("plain.xmpp.test").unwrap()),
        [("plain.xmpp.test".into(), 5269, Security::StartTls)]
    );
}

#[test]
#[ignore = "needs a DNS server: scripts/interop/dns-up.sh"]
fn a_dot_target_is_no_service_and_no_srv_is_the_fallback() {
    assert_eq!(resolver().plan("none.xmpp.test").unwrap(), Plan::NoService);
    let err = resolver()
        .connect("none.xmpp.test", Duration::from_secs(1))
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    assert_eq!(
        order(resolver().plan("plain.xmpp.test").unwrap()),
        [("plain.xmpp.test".into(), 5222, Security::StartTls)]
    );
}

#[test]
#[ignore = "needs a DNS server: scripts/interop/dns-up.sh"]
fn an_unreachable_first_target_gives_way_to_the_next() {
    // Nothing listens on dead.xmpp.test (127.0.0.6:15371); the live one
    // (127.0.0.5:15372) accepts.
    let live = TcpListener::bind("127.0.0.5:15372").unwrap();
    let connected = resolver()
        .connect("srv.xmpp.test", Duration::from_secs(2))
        .unwrap();
    assert_eq!(connected.addr, "127.0.0.5:15372".parse().unwrap());
    assert_eq!(connected.candidate.security, Security::StartTls);
    let (_, peer) = live.accept().unwrap();
    assert_eq!(peer.ip(), connected.socket.local_addr().unwrap().ip());
}

/// A login with no server given finds it through SRV: the first target
/// refuses, the second is our server for `srv.xmpp.test`.
#[test]
#[ignore = "needs a DNS server: scripts/interop/dns-up.sh"]
fn a_login_finds_its_server_through_srv() {
    use xmpp_proto::client::ClientConfig;
    use xmpp_proto::jid::Jid;
    use xmpp_transport_std::serve::{Accounts, Serve};
    use xmpp_transport_std::test_certs::TestPki;
    use xmpp_transport_std::{LoginOptions, Session};

    let pki = TestPki::generate(&["srv.xmpp.test"]).unwrap();
    let mut accounts = Accounts::new();
    accounts.add("alice", "alice-secret").unwrap();
    let server = Serve::new("srv.xmpp.test", pki.server_tls(), accounts)
        .unwrap()
        .start(TcpListener::bind("127.0.0.5:15372").unwrap())
        .unwrap();
    let options = LoginOptions {
        trust: Some(pki.trust_anchors()),
        timeout: Some(Duration::from_secs(20)),
        dns: Some(std::env::var("XMPP_TEST_DNS").unwrap().parse().unwrap()),
        ..LoginOptions::default()
    };
    let config = ClientConfig::new(
        Jid::new("alice@srv.xmpp.test/r").unwrap(),
        "alice-secret".to_owned(),
    );
    let mut session = Session::login_config(config, options).unwrap();
    let peer = session.connection().socket().peer_addr().unwrap();
    assert_eq!(peer, "127.0.0.5:15372".parse().unwrap());
    session.close().unwrap();
    server.shutdown();
}
