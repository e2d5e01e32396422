//! The blocking transport against itself (and against raw sockets and raw
//! rustls) on loopback, with a scripted endpoint on each end.

mod common;

use std::io::{Read, Write};
use std::thread;
use std::time::{Duration, Instant};

use common::{Ev, Outcome, Peer, drive, tcp_pair};
use xmpp_proto::tls::TlsVersion;
use xmpp_transport_std::test_certs::TestPki;
use xmpp_transport_std::{ClientTls, Connection, Error, Next};

fn client_tls(pki: &TestPki, domain: &str) -> ClientTls {
    ClientTls::new(&pki.trust_anchors(), domain).expect("valid domain")
}

/// Runs a client and a server script on the two ends of a loopback pair.
fn run_pair(
    client: Connection<Peer>,
    client_script: impl FnMut(&mut Peer, &Ev) + Send,
    server: Connection<Peer>,
    server_script: impl FnMut(&mut Peer, &Ev) + Send,
) -> (Outcome, Outcome) {
    let (mut client, mut server) = (client, server);
    thread::scope(|s| {
        let server = s.spawn(move || drive(&mut server, server_script));
        let client = drive(&mut client, client_script);
        (client, server.join().expect("server thread"))
    })
}

#[test]
fn plaintext_exchange_and_close() {
    let (c, s) = tcp_pair();
    let mut server_peer = Peer::new();
    server_peer.send_line("HELLO");
    let client = Connection::new_plain(c, Peer::new()).unwrap();
    let server = Connection::new_plain(s, server_peer).unwrap();

    let (client, server) = run_pair(
        client,
        |peer, ev| match ev {
            Ev::Line(l) if l == "HELLO" => peer.send_line("PING"),
            Ev::Line(l) if l == "PONG" => peer.shutdown(),
            _ => {}
        },
        server,
        |peer, ev| {
            if *ev == Ev::Line("PING".into()) {
                peer.send_line("PONG");
            }
        },
    );

    assert!(client.error.is_none(), "{:?}", client.error);
    assert!(server.error.is_none(), "{:?}", server.error);
    assert_eq!(client.lines(), ["HELLO", "PONG"]);
    assert_eq!(server.events, [Ev::Line("PING".into()), Ev::Eof]);
}

#[test]
fn starttls_upgrade_checks_the_domain_and_shares_channel_bindings() {
    let pki = TestPki::localhost().unwrap();
    let (c, s) = tcp_pair();
    let mut server_peer = Peer::new();
    server_peer.send_line("HELLO");
    let mut client = Connection::new_client(c, Peer::new(), client_tls(&pki, "localhost")).unwrap();
    let server = Connection::new_server(s, server_peer, pki.server_tls()).unwrap();
    assert!(!client.is_encrypted());

    let (client_out, server_out) = thread::scope(|s| {
        let server = s.spawn(move || {
            let mut server = server;
            let out = drive(&mut server, |peer, ev| match ev {
                Ev::Line(l) if l == "STARTTLS" => {
                    peer.send_line("PROCEED");
                    peer.start_tls();
                }
                Ev::Line(l) if l == "SECRET" => peer.send_line("ECHO SECRET"),
                _ => {}
            });
            (out, server.is_encrypted())
        });
        let out = drive(&mut client, |peer, ev| match ev {
            Ev::Line(l) if l == "HELLO" => peer.send_line("STARTTLS"),
            Ev::Line(l) if l == "PROCEED" => peer.start_tls(),
            Ev::Tls(_) => peer.send_line("SECRET"),
            Ev::Line(l) if l == "ECHO SECRET" => peer.shutdown(),
            _ => {}
        });
        (out, server.join().unwrap())
    });
    let (server_out, server_encrypted) = server_out;

    assert!(client_out.error.is_none(), "{:?}", client_out.error);
    assert!(server_out.error.is_none(), "{:?}", server_out.error);
    assert!(client.is_encrypted() && server_encrypted);
    assert_eq!(client_out.lines(), ["HELLO", "PROCEED", "ECHO SECRET"]);
    assert_eq!(server_out.lines(), ["STARTTLS", "SECRET"]);
    assert_eq!(server_out.events.last(), Some(&Ev::Eof));

    let (ci, si) = (client_out.tls().unwrap(), server_out.tls().unwrap());
    assert_eq!(ci.version(), TlsVersion::Tls13);
    let exporter = ci.tls_exporter().expect("tls-exporter on TLS 1.3");
    assert_eq!(exporter.len(), 32);
    assert_eq!(Some(exporter), si.tls_exporter());
    let end_point = ci.tls_server_end_point().expect("client sees the cert");
    assert_eq!(Some(end_point), si.tls_server_end_point());
}

#[test]
fn direct_tls_starts_with_the_handshake() {
    let pki = TestPki::localhost().unwrap();
    let (c, s) = tcp_pair();
    let mut client_peer = Peer::new();
    client_peer.start_tls();
    client_peer.send_line("HELLO FROM CLIENT");
    let mut server_peer = Peer::new();
    server_peer.start_tls();
    let client = Connection::new_client(c, client_peer, client_tls(&pki, "127.0.0.1")).unwrap();
    let server = Connection::new_server(s, server_peer, pki.server_tls()).unwrap();

    let (client, server) = run_pair(
        client,
        |peer, ev| {
            if *ev == Ev::Line("WELCOME".into()) {
                peer.shutdown();
            }
        },
        server,
        |peer, ev| {
            if *ev == Ev::Line("HELLO FROM CLIENT".into()) {
                peer.send_line("WELCOME");
            }
        },
    );

    assert!(client.error.is_none(), "{:?}", client.error);
    assert!(server.error.is_none(), "{:?}", server.error);
    assert!(matches!(client.events.first(), Some(Ev::Tls(_))));
    assert!(matches!(server.events.first(), Some(Ev::Tls(_))));
    assert_eq!(client.lines(), ["WELCOME"]);
    assert_eq!(server.lines(), ["HELLO FROM CLIENT"]);
}

/// Runs a direct-TLS client with `tls` against a server with `pki`'s
/// certificate.
fn failed_handshake(pki: &TestPki, tls: ClientTls) -> (Outcome, Outcome) {
    let (c, s) = tcp_pair();
    let mut client_peer = Peer::new();
    client_peer.start_tls();
    client_peer.send_line("PASSWORD");
    let mut server_peer = Peer::new();
    server_peer.start_tls();
    let client = Connection::new_client(c, client_peer, tls).unwrap();
    let server = Connection::new_server(s, server_peer, pki.server_tls()).unwrap();
    run_pair(client, |_, _| {}, server, |_, _| {})
}

fn assert_refused(client: &Outcome, server: &Outcome, why: &str) {
    match &client.error {
        Some(e @ Error::Tls(rustls::Error::InvalidCertificate(_))) => {
            let text = e.to_string();
            assert!(text.contains(why), "{text}");
            assert!(text.contains("check the XMPP domain"), "{text}");
        }
        other => panic!("expected a certificate error, got {other:?}"),
    }
    // The endpoint learns that the connection is gone, nothing else.
    assert_eq!(client.events, [Ev::Eof]);
    // The server is told by an alert, and never saw the secret.
    assert!(matches!(server.error, Some(Error::Tls(_))), "{server:?}");
    assert!(server.lines().is_empty());
}

#[test]
fn wrong_domain_fails_the_handshake() {
    let pki = TestPki::localhost().unwrap();
    let (client, server) = failed_handshake(&pki, client_tls(&pki, "wrong.example"));
    assert_refused(&client, &server, "not valid for name");
}

#[test]
fn untrusted_ca_fails_the_handshake() {
    let pki = TestPki::localhost().unwrap();
    let other = TestPki::localhost().unwrap();
    let (client, server) = failed_handshake(&pki, client_tls(&other, "localhost"));
    assert_refused(&client, &server, "UnknownIssuer");
}

#[test]
fn plaintext_after_starttls_never_reaches_the_endpoint() {
    let pki = TestPki::localhost().unwrap();
    let (c, mut s) = tcp_pair();
    let mut peer = Peer::new();
    peer.start_tls();
    let mut client = Connection::new_client(c, peer, client_tls(&pki, "localhost")).unwrap();

    let out = thread::scope(|scope| {
        scope.spawn(move || {
            // An attacker answering in plaintext where TLS is due.
            s.write_all(b"HELLO IN PLAINTEXT\n").unwrap();
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
        });
        drive(&mut client, |_, _| {})
    });

    assert!(matches!(out.error, Some(Error::Tls(_))), "{out:?}");
    assert_eq!(out.events, [Ev::Eof]);
}

#[test]
fn timers_fire_through_handle_timeout() {
    let (c, mut s) = tcp_pair();
    let mut peer = Peer::new();
    peer.set_timer(Instant::now() + Duration::from_millis(20));
    let mut client = Connection::new_plain(c, peer).unwrap();

    let out = thread::scope(|scope| {
        // A silent peer: reads until our close, then closes too.
        scope.spawn(move || {
            let mut sink = Vec::new();
            s.read_to_end(&mut sink).unwrap();
            sink
        });
        let mut fired = 0;
        drive(&mut client, |peer, ev| {
            if *ev == Ev::Timeout {
                fired += 1;
                if fired < 3 {
                    peer.set_timer(Instant::now() + Duration::from_millis(5));
                } else {
                    peer.send_line("DONE");
                    peer.shutdown();
                }
            }
        })
    });

    assert!(out.error.is_none(), "{:?}", out.error);
    assert_eq!(out.events, [Ev::Timeout, Ev::Timeout, Ev::Timeout]);
}

#[test]
fn a_deadline_returns_control_without_an_event() {
    let (c, _s) = tcp_pair();
    let mut client = Connection::new_plain(c, Peer::new()).unwrap();
    let next = client
        .next_event_until(Instant::now() + Duration::from_millis(10))
        .unwrap();
    assert!(matches!(next, Next::Deadline), "{next:?}");
    assert!(!client.is_finished());
}

#[test]
fn eof_is_reported_and_answered() {
    let (c, s) = tcp_pair();
    let mut client = Connection::new_plain(c, Peer::new()).unwrap();
    drop(s);
    let out = drive(&mut client, |_, _| {});
    assert!(out.error.is_none(), "{:?}", out.error);
    assert_eq!(out.events, [Ev::Eof]);
    assert!(client.is_finished());
    assert!(client.endpoint().got_input_after_close().eq(&false));
    assert!(client.next_event().unwrap().is_none());
}

#[test]
fn input_after_our_close_is_dropped() {
    let (c, mut s) = tcp_pair();
    let mut peer = Peer::new();
    peer.shutdown();
    let mut client = Connection::new_plain(c, peer).unwrap();

    let out = thread::scope(|scope| {
        scope.spawn(move || {
            let mut sink = Vec::new();
            s.read_to_end(&mut sink).unwrap(); // our close arrived
            s.write_all(b"LATE\n").unwrap();
        });
        drive(&mut client, |_, _| {})
    });
    assert!(out.error.is_none(), "{:?}", out.error);
    assert!(out.events.is_empty(), "{:?}", out.events);
    assert!(!client.endpoint().got_input_after_close());
}

#[test]
fn shutdown_sends_close_notify() {
    let pki = TestPki::localhost().unwrap();
    let (c, s) = tcp_pair();
    let mut peer = Peer::new();
    peer.start_tls();
    peer.send_line("HELLO");
    peer.shutdown();
    let mut server = Connection::new_server(s, peer, pki.server_tls()).unwrap();

    let received = thread::scope(|scope| {
        let raw = scope.spawn(move || {
            let config = pki.trust_anchors().client_config();
            let name = "localhost".try_into().unwrap();
            let conn = rustls::ClientConnection::new(config, name).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, c);
            let mut data = Vec::new();
            // Without close_notify this is Err(UnexpectedEof).
            tls.read_to_end(&mut data).map(|_| data)
        });
        let out = drive(&mut server, |_, _| {});
        assert!(out.error.is_none(), "{:?}", out.error);
        raw.join().unwrap()
    });
    assert_eq!(received.unwrap(), b"HELLO\n");
}

#[test]
fn large_writes_go_out_in_pieces() {
    let pki = TestPki::localhost().unwrap();
    let (c, s) = tcp_pair();
    let big = "x".repeat(1 << 20);
    let mut client_peer = Peer::new();
    client_peer.start_tls();
    client_peer.send_line(&big);
    client_peer.send_line(&big);
    let mut server_peer = Peer::new();
    server_peer.start_tls();
    let client = Connection::new_client(c, client_peer, client_tls(&pki, "localhost")).unwrap();
    let server = Connection::new_server(s, server_peer, pki.server_tls()).unwrap();

    let mut lines = 0;
    let (client, server) = run_pair(
        client,
        |peer, ev| {
            if *ev == Ev::Line("GOT 2".into()) {
                peer.shutdown();
            }
        },
        server,
        move |peer, ev| {
            if let Ev::Line(l) = ev {
                assert_eq!(l.len(), 1 << 20);
                lines += 1;
                peer.send_line(&format!("GOT {lines}"));
            }
        },
    );
    assert!(client.error.is_none() && server.error.is_none());
    assert_eq!(client.lines(), ["GOT 1", "GOT 2"]);
}

#[test]
fn a_plain_connection_refuses_tls() {
    let (c, _s) = tcp_pair();
    let mut peer = Peer::new();
    peer.start_tls();
    let mut client = Connection::new_plain(c, peer).unwrap();
    let out = drive(&mut client, |_, _| {});
    assert!(matches!(out.error, Some(Error::Endpoint(_))), "{out:?}");
}

#[test]
fn certificates_load_from_pem_files() {
    let pki = TestPki::localhost().unwrap();
    let dir = std::env::temp_dir().join(format!("xmpp-transport-std-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, pki.ca_pem()).unwrap();
    let anchors = xmpp_transport_std::TrustAnchors::from_pem_file(&ca).unwrap();
    assert_eq!(anchors.len(), 1);

    let missing = xmpp_transport_std::ServerTls::from_pem_files(dir.join("no.pem"), &ca);
    let err = missing.unwrap_err().to_string();
    assert!(err.contains("no.pem"), "{err}");
    let no_key = xmpp_transport_std::ServerTls::from_pem_files(&ca, &ca);
    let err = no_key.unwrap_err().to_string();
    assert!(err.contains("private key"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
