use std::time::Duration;

use crate::client::{Client, ClientConfig, ClientEvent, ClientTlsPolicy};
use crate::endpoint::{Endpoint, Transmit};
use crate::jid::Jid;
use crate::sasl::{Credentials, SaslClientConfig};
use crate::server::{Server, ServerConfig};
use crate::sm::SmConfig;
use crate::time::Time;
use crate::tls::{TlsInfo, TlsVersion};
use crate::xml::{Limits, StreamEvent, StreamReader, ns};

use super::Ends;

/// XMPP over WebSocket (RFC 7395): the first byte picks the role (even:
/// our server facing a fuzzed client, odd: our client facing a fuzzed
/// server); the rest is cut into messages at NUL bytes (which XML never
/// holds), each handed over whole, the clock moving after each. Checked:
/// no panic, nothing after the end, and every message we send is a
/// document of its own that a fresh WebSocket reader takes whole.
pub fn websocket(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let mut now = Time::ZERO;
    let mut ends = Ends::default();
    let mut peer = StreamReader::for_websocket(Limits::default(), ns::CLIENT);
    if pick % 2 == 0 {
        let config = ServerConfig::new("localhost")
            .expect("valid domain")
            .with_websocket()
            .with_fast(true)
            .with_stream_management(SmConfig::default());
        let mut server = Server::new(config, now);
        for message in rest.split(|&b| b == 0) {
            let _ = server.handle_input(now, message);
            now += Duration::from_secs(1);
            server.handle_timeout(now);
            super::server::drain(&mut server, now, &mut ends, |m| check_message(&mut peer, m));
        }
        server.handle_eof(now);
        super::server::drain(&mut server, now, &mut ends, |m| check_message(&mut peer, m));
        assert!(server.is_closed(), "EOF must end the session");
    } else {
        let jid = Jid::new("alice@localhost/web").expect("valid JID");
        let sasl = SaslClientConfig {
            allow_plain_without_tls: true,
            ..SaslClientConfig::default()
        };
        let config = ClientConfig::new(jid, "pw")
            .with_websocket()
            .with_tls(ClientTlsPolicy::InsecureDisabled)
            .with_credentials(Credentials::new("alice", "pw"))
            .with_sasl(sasl)
            .with_stream_management(SmConfig::default());
        let mut client = Client::new(config, now);
        for message in rest.split(|&b| b == 0) {
            drain_client(&mut client, &mut ends, &mut peer);
            let _ = client.handle_input(now, message);
            now += Duration::from_secs(1);
            client.handle_timeout(now);
        }
        client.handle_eof(now);
        drain_client(&mut client, &mut ends, &mut peer);
        assert!(client.is_closed(), "EOF must end the session");
    }
}

fn drain_client(client: &mut Client, ends: &mut Ends, peer: &mut StreamReader) {
    while let Some(t) = client.poll_transmit() {
        ends.transmit(&t);
        match t {
            Transmit::Data(d) => {
                check_message(peer, d);
                let n = d.len();
                client.consume_transmit(n);
            }
            Transmit::StartTls => {
                let _ = client.handle_tls_established(Time::ZERO, TlsInfo::new(TlsVersion::Tls13));
            }
            Transmit::Shutdown => {}
        }
    }
    while let Some(e) = client.poll_event() {
        ends.event(matches!(e, ClientEvent::Closed { .. }));
    }
}

/// One message we sent must parse whole, as the peer reads it: an
/// `<open/>` restarts the peer's view of the stream.
fn check_message(peer: &mut StreamReader, message: &[u8]) {
    if message.starts_with(b"<open ") {
        *peer = StreamReader::for_websocket(Limits::default(), ns::CLIENT);
    }
    let mut input = message;
    loop {
        match peer.read(&mut input) {
            Ok(Some(StreamEvent::Closed)) => {
                *peer = StreamReader::for_websocket(Limits::default(), ns::CLIENT);
                break;
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => panic!("we sent a message the peer cannot read ({e}): {message:?}"),
        }
    }
    assert!(input.is_empty());
    assert!(
        peer.between_elements(),
        "we sent part of an element: {:?}",
        String::from_utf8_lossy(message)
    );
}
