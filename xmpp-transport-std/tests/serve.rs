//! The `serve` helper with real sockets and TLS: logins by PLAIN and
//! direct TLS, refused passwords, resource conflicts, shutdown with
//! sessions open, and an external component. (The SCRAM conversation is `tests/quickstart.rs`.)

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use xmpp_proto::CloseReason;
use xmpp_proto::client::{Client, ClientConfig, ClientEvent, ClientTlsPolicy};
use xmpp_proto::component::{Component, ComponentConfig, ComponentEvent, ComponentTls};
use xmpp_proto::jid::Jid;
use xmpp_proto::sasl::{self, Mechanism};
use xmpp_proto::stanza::{DefinedCondition, Message, MessageType};
use xmpp_proto::stream_error::StreamErrorCondition;
use xmpp_transport_std::clock;
use xmpp_transport_std::serve::{Accounts, Serve, ServeHandle, SessionLog};
use xmpp_transport_std::test_certs::TestPki;
use xmpp_transport_std::{ClientTls, Connection, LoginOptions, Next, Session, SessionError};

const TIMEOUT: Duration = Duration::from_secs(20);

struct Setup {
    pki: TestPki,
    server: ServeHandle,
    ends: Arc<Mutex<Vec<Option<CloseReason>>>>,
}

fn start(direct_tls: bool) -> Setup {
    let pki = TestPki::localhost().unwrap();
    let mut accounts = Accounts::new();
    accounts.add("alice", "alice-secret").unwrap();
    let ends = Arc::new(Mutex::new(Vec::new()));
    let sink = ends.clone();
    let mut serve = Serve::new("localhost", pki.server_tls(), accounts)
        .unwrap()
        .with_log(move |log: &SessionLog<'_>| {
            if let SessionLog::Ended { reason, .. } = log {
                sink.lock().unwrap().push(reason.cloned());
            }
        });
    if direct_tls {
        serve = serve.with_direct_tls(TcpListener::bind("127.0.0.1:0").unwrap());
    }
    let server = serve
        .start(TcpListener::bind("127.0.0.1:0").unwrap())
        .unwrap();
    Setup { pki, server, ends }
}

fn client(
    setup: &Setup,
    password: &str,
    resource: &str,
    mechanism: Mechanism,
    direct: bool,
) -> Connection<Client> {
    let sasl = sasl::SaslClientConfig {
        allowed: Some(vec![mechanism]),
        ..Default::default()
    };
    let tls = if direct {
        ClientTlsPolicy::Direct
    } else {
        ClientTlsPolicy::RequireStartTls
    };
    let config = ClientConfig::new(Jid::new("alice@localhost").unwrap(), password)
        .with_resource(resource)
        .with_sasl(sasl)
        .with_tls(tls);
    let addr = if direct {
        setup.server.direct_tls_addr().unwrap()
    } else {
        setup.server.local_addr()
    };
    let tcp = xmpp_transport_std::connect("localhost", Some(&addr.to_string())).unwrap();
    let tls = ClientTls::new(&setup.pki.trust_anchors(), "localhost").unwrap();
    Connection::new_client(tcp, Client::new(config, clock::now()), tls).unwrap()
}

/// Events until `Online` (`Ok`) or the end of the session (`Err`).
fn login(conn: &mut Connection<Client>) -> Result<(), CloseReason> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match conn.next_event_until(deadline).unwrap() {
            Next::Event(ClientEvent::Online { .. }) => return Ok(()),
            Next::Event(ClientEvent::Closed { reason }) => return Err(reason),
            Next::Event(_) => {}
            other => panic!("no login: {other:?}"),
        }
    }
}

/// The reason the session ended, waiting for it.
fn end(conn: &mut Connection<Client>) -> CloseReason {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match conn.next_event_until(deadline).unwrap() {
            Next::Event(ClientEvent::Closed { reason }) => return reason,
            Next::Event(_) => {}
            other => panic!("no end: {other:?}"),
        }
    }
}

#[test]
fn plain_login_over_starttls_checks_the_stored_keys() {
    let setup = start(false);
    let mut good = client(&setup, "alice-secret", "a", Mechanism::Plain, false);
    assert_eq!(login(&mut good), Ok(()));
    let mut bad = client(&setup, "alice-guess", "b", Mechanism::Plain, false);
    assert!(
        matches!(
            login(&mut bad),
            Err(CloseReason::AuthenticationFailed { .. })
        ),
        "a wrong PLAIN password must fail"
    );
    good.command(|c, now| c.close(now)).unwrap();
    assert_eq!(end(&mut good), CloseReason::Normal);
}

#[test]
fn wrong_scram_password_is_refused() {
    let setup = start(false);
    let mut conn = client(&setup, "nope", "a", Mechanism::ScramSha256, false);
    assert!(matches!(
        login(&mut conn),
        Err(CloseReason::AuthenticationFailed { .. })
    ));
}

#[test]
fn direct_tls_listener_serves_too() {
    let setup = start(true);
    let mut conn = client(&setup, "alice-secret", "a", Mechanism::ScramSha1, true);
    assert_eq!(login(&mut conn), Ok(()));
    assert!(conn.is_encrypted());
}

#[test]
fn a_second_session_on_the_same_resource_replaces_the_first() {
    let setup = start(false);
    let mut first = client(
        &setup,
        "alice-secret",
        "same",
        Mechanism::ScramSha256,
        false,
    );
    assert_eq!(login(&mut first), Ok(()));
    let mut second = client(
        &setup,
        "alice-secret",
        "same",
        Mechanism::ScramSha256,
        false,
    );
    assert_eq!(login(&mut second), Ok(()));
    assert!(matches!(
        end(&mut first),
        CloseReason::StreamError {
            condition: StreamErrorCondition::Conflict,
            ..
        }
    ));
}

#[test]
fn shutdown_closes_open_sessions_with_system_shutdown_and_returns() {
    let setup = start(false);
    let mut conn = client(&setup, "alice-secret", "a", Mechanism::ScramSha256, false);
    assert_eq!(login(&mut conn), Ok(()));
    assert_eq!(setup.server.session_count(), 1);
    assert_eq!(setup.server.with_router(|r| r.len()), 1);

    let Setup { server, ends, .. } = setup;
    let client = std::thread::spawn(move || end(&mut conn));
    server.shutdown();
    assert!(matches!(
        client.join().unwrap(),
        CloseReason::StreamError {
            condition: StreamErrorCondition::SystemShutdown,
            ..
        }
    ));
    let ends = ends.lock().unwrap();
    assert_eq!(
        *ends,
        [Some(CloseReason::Kicked {
            condition: StreamErrorCondition::SystemShutdown
        })]
    );
}

#[test]
fn a_message_to_an_unknown_account_comes_back_to_the_session_that_sent_it() {
    let setup = start(false);
    let options = LoginOptions {
        server: Some(setup.server.local_addr().to_string()),
        trust: Some(setup.pki.trust_anchors()),
        timeout: Some(TIMEOUT),
        ..LoginOptions::default()
    };
    let mut session = Session::login_with("alice@localhost", "alice-secret", options).unwrap();
    let refused = session.send_message_with_receipt("nobody@localhost", "hello?", TIMEOUT);
    match refused {
        Err(SessionError::Bounced { from, error }) => {
            assert_eq!(error.condition, DefinedCondition::ServiceUnavailable);
            assert_eq!(from.as_deref(), Some("nobody@localhost"));
        }
        other => panic!("expected a bounce, got {other:?}"),
    }
    session.close().unwrap();
}

#[test]
fn mixing_up_the_starttls_and_direct_tls_ports_says_so() {
    let setup = start(true);
    // STARTTLS spoken to the direct TLS port: the server's TLS alert
    // arrives where XML was expected.
    let addr = setup.server.direct_tls_addr().unwrap();
    let config = ClientConfig::new(Jid::new("alice@localhost").unwrap(), "alice-secret");
    let tcp = xmpp_transport_std::connect("localhost", Some(&addr.to_string())).unwrap();
    let tls = ClientTls::new(&setup.pki.trust_anchors(), "localhost").unwrap();
    let mut conn = Connection::new_client(tcp, Client::new(config, clock::now()), tls).unwrap();
    match login(&mut conn) {
        Err(CloseReason::ProtocolViolation { text, .. }) => {
            assert!(text.contains("direct TLS port"), "{text}");
        }
        other => panic!("{other:?}"),
    }

    // Direct TLS spoken to the STARTTLS port: the server's XML arrives
    // where TLS was expected.
    let config = ClientConfig::new(Jid::new("alice@localhost").unwrap(), "alice-secret")
        .with_tls(ClientTlsPolicy::Direct);
    let addr = setup.server.local_addr();
    let tcp = xmpp_transport_std::connect("localhost", Some(&addr.to_string())).unwrap();
    let tls = ClientTls::new(&setup.pki.trust_anchors(), "localhost").unwrap();
    let mut conn = Connection::new_client(tcp, Client::new(config, clock::now()), tls).unwrap();
    let deadline = Instant::now() + TIMEOUT;
    let error = loop {
        match conn.next_event_until(deadline) {
            Err(e) => break e,
            Ok(Next::Event(_)) => {}
            Ok(other) => panic!("no TLS error: {other:?}"),
        }
    };
    assert!(error.to_string().contains("STARTTLS port"), "{error}");
}

/// Logs in as `user` with SCRAM-SHA-256 and a wrong password; the
/// server's SASL answers and the end.
fn scram_attempt(setup: &Setup, user: &str) -> (Vec<String>, CloseReason) {
    let sasl = sasl::SaslClientConfig {
        allowed: Some(vec![Mechanism::ScramSha256]),
        ..Default::default()
    };
    let config = ClientConfig::new(Jid::new(&format!("{user}@localhost")).unwrap(), "guess")
        .with_sasl(sasl)
        .with_trace(true);
    let addr = setup.server.local_addr().to_string();
    let tcp = xmpp_transport_std::connect("localhost", Some(&addr)).unwrap();
    let tls = ClientTls::new(&setup.pki.trust_anchors(), "localhost").unwrap();
    let mut conn = Connection::new_client(tcp, Client::new(config, clock::now()), tls).unwrap();
    let deadline = Instant::now() + TIMEOUT;
    let mut sasl_answers = Vec::new();
    loop {
        match conn.next_event_until(deadline).unwrap() {
            Next::Event(ClientEvent::Trace {
                direction: xmpp_proto::endpoint::Direction::In,
                data,
            }) => {
                let text = String::from_utf8_lossy(&data).into_owned();
                for name in ["<challenge", "<failure", "<success"] {
                    if text.contains(name) {
                        sasl_answers.push(name.trim_start_matches('<').to_owned());
                    }
                }
            }
            Next::Event(ClientEvent::Closed { reason }) => return (sasl_answers, reason),
            Next::Event(_) => {}
            other => panic!("no end: {other:?}"),
        }
    }
}

#[test]
fn an_unknown_name_gets_the_same_answers_as_a_wrong_password() {
    let setup = start(false);
    let (known, known_end) = scram_attempt(&setup, "alice");
    let (unknown, unknown_end) = scram_attempt(&setup, "mallory");
    // A challenge (the decoy's salt and iterations), then not-authorized.
    assert_eq!(known, ["challenge", "failure"]);
    assert_eq!(unknown, known);
    assert_eq!(unknown_end, known_end);
    assert!(matches!(
        unknown_end,
        CloseReason::AuthenticationFailed {
            condition: xmpp_proto::sasl::FailureCondition::NotAuthorized,
            ..
        }
    ));
}

/// Opens a TCP connection, sends a stream header and reads until the
/// server answers (`true`) or closes the connection (`false`).
fn answered(server: &ServeHandle) -> (TcpStream, bool) {
    let mut tcp = TcpStream::connect(server.local_addr()).unwrap();
    tcp.set_read_timeout(Some(TIMEOUT)).unwrap();
    let header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";
    if tcp.write_all(header.as_bytes()).is_err() {
        return (tcp, false);
    }
    let mut buf = [0u8; 4096];
    let open = matches!(tcp.read(&mut buf), Ok(n) if n > 0);
    (tcp, open)
}

/// Opens connections until one is answered (a slot just freed is
/// reused once the server has noticed).
fn answered_soon(server: &ServeHandle) -> TcpStream {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let (tcp, open) = answered(server);
        if open {
            return tcp;
        }
        assert!(Instant::now() < deadline, "the freed slot was never reused");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn connections_that_never_log_in_cannot_take_the_room_of_those_that_do() {
    let pki = TestPki::localhost().unwrap();
    let mut accounts = Accounts::new();
    accounts.add("alice", "alice-secret").unwrap();
    let server = Serve::new("localhost", pki.server_tls(), accounts)
        .unwrap()
        .with_max_unauthenticated(100, 1)
        .start(TcpListener::bind("127.0.0.1:0").unwrap())
        .unwrap();
    let (first, first_open) = answered(&server);
    let (second, second_open) = answered(&server);
    assert!(first_open);
    assert!(
        !second_open,
        "a second anonymous connection from 127.0.0.1 is closed"
    );
    drop((first, second));
    // A login takes the anonymous slot only until it has authenticated.
    let deadline = Instant::now() + TIMEOUT;
    let alice = loop {
        let options = LoginOptions {
            server: Some(server.local_addr().to_string()),
            trust: Some(pki.trust_anchors()),
            timeout: Some(TIMEOUT),
            ..LoginOptions::default()
        };
        match Session::login_with("alice@localhost", "alice-secret", options) {
            Ok(alice) => break alice,
            Err(e) => assert!(Instant::now() < deadline, "no login: {e}"),
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let anonymous = answered_soon(&server);
    drop(anonymous);
    alice.close().unwrap();
    server.shutdown();
}

#[test]
fn one_address_holds_at_most_its_share_of_connections() {
    let pki = TestPki::localhost().unwrap();
    let mut accounts = Accounts::new();
    accounts.add("alice", "alice-secret").unwrap();
    let server = Serve::new("localhost", pki.server_tls(), accounts)
        .unwrap()
        .with_max_per_address(2)
        .start(TcpListener::bind("127.0.0.1:0").unwrap())
        .unwrap();
    let (first, first_open) = answered(&server);
    let (second, second_open) = answered(&server);
    let (third, third_open) = answered(&server);
    assert!(first_open && second_open);
    assert!(!third_open, "a third connection from 127.0.0.1 is closed");
    // A slot that frees up can be taken again.
    drop(first);
    let again = answered_soon(&server);
    drop((again, second, third));
    server.shutdown();
}

/// An external component (XEP-0114) on `serve`'s component listener: a
/// wrong secret is refused, a second connection for a served domain gets
/// `conflict`, and the one accepted owns its domain both ways.
#[test]
fn a_component_serves_its_domain() {
    let pki = TestPki::localhost().unwrap();
    let mut accounts = Accounts::new();
    accounts.add("alice", "alice-secret").unwrap();
    let server = Serve::new("localhost", pki.server_tls(), accounts)
        .unwrap()
        .with_component("echo.localhost", "s3cret")
        .unwrap()
        .with_component_listener(TcpListener::bind("127.0.0.1:0").unwrap())
        .with_component_tls_listener(TcpListener::bind("127.0.0.1:0").unwrap())
        .start(TcpListener::bind("127.0.0.1:0").unwrap())
        .unwrap();
    let components = server.component_addr().unwrap();
    let connect = |secret: &str| {
        let config = ComponentConfig::new("echo.localhost", secret)
            .unwrap()
            .with_tls(ComponentTls::Plaintext);
        let tcp = TcpStream::connect(components).unwrap();
        Connection::new_plain(tcp, Component::new(config, clock::now())).unwrap()
    };
    let first = |conn: &mut Connection<Component>| {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match conn.next_event_until(deadline).unwrap() {
                Next::Event(ComponentEvent::Online { .. }) => return None,
                Next::Event(ComponentEvent::Closed { reason }) => return Some(reason),
                Next::Event(_) => {}
                other => panic!("no handshake answer: {other:?}"),
            }
        }
    };
    let refused_with = |reason: Option<CloseReason>| match reason {
        Some(CloseReason::StreamError { condition, .. }) => Some(condition),
        _ => None,
    };
    assert_eq!(
        refused_with(first(&mut connect("guess"))),
        Some(StreamErrorCondition::NotAuthorized)
    );
    let mut component = connect("s3cret");
    assert_eq!(first(&mut component), None);
    assert_eq!(
        refused_with(first(&mut connect("s3cret"))),
        Some(StreamErrorCondition::Conflict)
    );
    // The TLS listener: the same handshake inside TLS, the certificate
    // checked (the domain is taken, so conflict is the answer).
    let config = ComponentConfig::new("echo.localhost", "s3cret").unwrap();
    let tcp = TcpStream::connect(server.component_tls_addr().unwrap()).unwrap();
    let tls = ClientTls::new(&pki.trust_anchors(), "localhost").unwrap();
    let mut over_tls =
        Connection::new_client(tcp, Component::new(config, clock::now()), tls).unwrap();
    assert_eq!(
        refused_with(first(&mut over_tls)),
        Some(StreamErrorCondition::Conflict)
    );
    assert!(over_tls.is_encrypted());

    let options = LoginOptions {
        server: Some(server.local_addr().to_string()),
        trust: Some(pki.trust_anchors()),
        timeout: Some(TIMEOUT),
        ..LoginOptions::default()
    };
    let config = ClientConfig::new(
        Jid::new("alice@localhost/r").unwrap(),
        "alice-secret".to_owned(),
    );
    let mut alice = Session::login_config(config, options).unwrap();
    alice
        .send_message("time@echo.localhost", "what time?")
        .unwrap();
    let deadline = Instant::now() + TIMEOUT;
    let asked = loop {
        match component.next_event_until(deadline).unwrap() {
            Next::Event(ComponentEvent::Message(m)) => break m,
            Next::Event(_) => {}
            other => panic!("no message for the component: {other:?}"),
        }
    };
    assert_eq!(asked.from(), Some("alice@localhost/r"));
    let answer = Message::builder(MessageType::Chat)
        .to("alice@localhost/r")
        .from("time@echo.localhost")
        .body("tea time")
        .build();
    component
        .command(|c, now| c.send(now, answer))
        .unwrap()
        .unwrap();
    let deadline = Instant::now() + TIMEOUT;
    let got = loop {
        match alice.next_event_until(deadline).unwrap() {
            Next::Event(ClientEvent::Message(m)) => break m,
            Next::Event(_) => {}
            other => panic!("no answer: {other:?}"),
        }
    };
    assert_eq!(got.from(), Some("time@echo.localhost"));
    assert_eq!(got.body().as_deref(), Some("tea time"));
    alice.close().unwrap();
    server.shutdown();
}

/// Events until `Online` (`Ok`, with the FAST token issued on the way, if
/// any) or the end of the session (`Err`).
fn login_collecting_token(
    conn: &mut Connection<Client>,
) -> Result<Option<xmpp_proto::client::FastCredentials>, CloseReason> {
    let deadline = Instant::now() + TIMEOUT;
    let mut token = None;
    loop {
        match conn.next_event_until(deadline).unwrap() {
            Next::Event(ClientEvent::Online { .. }) => return Ok(token),
            Next::Event(ClientEvent::FastToken { credentials, .. }) => token = Some(credentials),
            Next::Event(ClientEvent::Closed { reason }) => return Err(reason),
            Next::Event(_) => {}
            other => panic!("no login: {other:?}"),
        }
    }
}

#[test]
fn a_fast_token_bound_to_the_real_tls_exporter_replaces_the_password() {
    let pki = TestPki::localhost().unwrap();
    let mut accounts = Accounts::new();
    accounts.add("alice", "alice-secret").unwrap();
    let server = Serve::new("localhost", pki.server_tls(), accounts)
        .unwrap()
        .with_config(|c| c.with_fast(true))
        .start(TcpListener::bind("127.0.0.1:0").unwrap())
        .unwrap();
    let agent = xmpp_proto::negotiation::UserAgent::new("0f3a8e4c-agent").with_software("Tests");
    let connect = |config: ClientConfig| {
        let addr = server.local_addr().to_string();
        let tcp = xmpp_transport_std::connect("localhost", Some(&addr)).unwrap();
        let tls = ClientTls::new(&pki.trust_anchors(), "localhost").unwrap();
        Connection::new_client(tcp, Client::new(config, clock::now()), tls).unwrap()
    };
    let jid = Jid::new("alice@localhost").unwrap();
    let first = ClientConfig::new(jid.clone(), "alice-secret")
        .with_user_agent(agent.clone())
        .with_fast_token_request(true);
    let mut conn = connect(first);
    let token = login_collecting_token(&mut conn)
        .expect("password login")
        .expect("a token was issued");
    assert_eq!(token.mechanism, Mechanism::HtSha256Expr);
    conn.command(|c, now| c.close(now)).unwrap();
    let _ = end(&mut conn);

    // A wrong password: only the token can let this one in.
    let second = ClientConfig::new(jid, "not-the-password")
        .with_user_agent(agent)
        .with_fast_token(token.clone());
    let mut conn = connect(second);
    let renewed = login_collecting_token(&mut conn)
        .expect("token login")
        .expect("renewed at use");
    assert_ne!(renewed.token, token.token);
    conn.command(|c, now| c.close(now)).unwrap();
    let _ = end(&mut conn);
    server.shutdown();
}
