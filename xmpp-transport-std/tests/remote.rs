//! Commands from other threads (`Connection::remote`): the reader thread
//! carries the socket bytes, TLS included, and commands wake the
//! connection's thread.

mod common;

use std::thread;

use common::{Ev, Peer, drive, tcp_pair};
use xmpp_transport_std::test_certs::TestPki;
use xmpp_transport_std::{ClientTls, Connection, Gone};

#[test]
fn a_command_from_another_thread_wakes_a_waiting_connection() {
    let (c, s) = tcp_pair();
    let mut client = Connection::new_plain(c, Peer::new()).unwrap();
    let mut server = Connection::new_plain(s, Peer::new()).unwrap();
    let remote = server.remote().unwrap();

    let (client_out, server_out) = thread::scope(|scope| {
        // No timer and no peer traffic: only the command can wake it.
        let server = scope.spawn(move || drive(&mut server, |_, _| {}));
        let client = scope.spawn(move || {
            drive(&mut client, |peer, ev| {
                if *ev == Ev::Line("PUSHED".into()) {
                    peer.shutdown();
                }
            })
        });
        remote
            .command(|peer: &mut Peer, _now| peer.send_line("PUSHED"))
            .unwrap();
        (client.join().unwrap(), server.join().unwrap())
    });

    assert!(client_out.error.is_none(), "{:?}", client_out.error);
    assert_eq!(client_out.lines(), ["PUSHED"]);
    assert_eq!(server_out.events, [Ev::Eof]);
}

#[test]
fn starttls_and_big_lines_through_the_reader_thread() {
    let pki = TestPki::localhost().unwrap();
    let (c, s) = tcp_pair();
    let big = "y".repeat(300_000);
    let mut server_peer = Peer::new();
    server_peer.send_line("HELLO");
    let tls = ClientTls::new(&pki.trust_anchors(), "localhost").unwrap();
    let mut client = Connection::new_client(c, Peer::new(), tls).unwrap();
    let mut server = Connection::new_server(s, server_peer, pki.server_tls()).unwrap();
    let _client_remote = client.remote().unwrap();
    let _server_remote = server.remote().unwrap();

    let (client_out, server_out) = thread::scope(|scope| {
        let server = scope.spawn(move || {
            drive(&mut server, |peer, ev| match ev {
                Ev::Line(l) if l == "STARTTLS" => {
                    peer.send_line("PROCEED");
                    peer.start_tls();
                }
                Ev::Line(l) => peer.send_line(&format!("GOT {}", l.len())),
                _ => {}
            })
        });
        let mut answers = 0;
        let out = drive(&mut client, |peer, ev| match ev {
            Ev::Line(l) if l == "HELLO" => peer.send_line("STARTTLS"),
            Ev::Line(l) if l == "PROCEED" => peer.start_tls(),
            Ev::Tls(_) => {
                peer.send_line(&big);
                peer.send_line(&big);
            }
            Ev::Line(l) if l.starts_with("GOT") => {
                answers += 1;
                if answers == 2 {
                    peer.shutdown();
                }
            }
            _ => {}
        });
        (out, server.join().unwrap())
    });

    assert!(client_out.error.is_none(), "{:?}", client_out.error);
    assert!(server_out.error.is_none(), "{:?}", server_out.error);
    assert_eq!(
        client_out.lines(),
        ["HELLO", "PROCEED", "GOT 300000", "GOT 300000"]
    );
    assert_eq!(
        client_out.tls().unwrap().tls_exporter(),
        server_out.tls().unwrap().tls_exporter()
    );
}

#[test]
fn commands_to_a_dropped_connection_say_so() {
    let (c, _s) = tcp_pair();
    let mut conn = Connection::new_plain(c, Peer::new()).unwrap();
    let remote = conn.remote().unwrap();
    drop(conn);
    assert_eq!(remote.command(|_: &mut Peer, _| {}), Err(Gone));
}
