use std::time::{Duration, Instant};

use crate::client::{self, Client, ClientConfig, TlsPolicy};
use crate::endpoint::{Endpoint, Transmit};
use crate::jid::{FullJid, Jid};
use crate::server::{self, Server, ServerConfig};
use crate::sm::{Handled, SmConfig, SmSession, Unacked};
use crate::tls::{TlsInfo, TlsVersion};
use crate::xml::{Element, ns};

use super::client::output_text;

const S_HEADER: &[u8] = b"<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' version='1.0' from='localhost' id='s1' xmlns='jabber:client'>";
const C_HEADER: &[u8] = b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";

/// Feeds arbitrary bytes to an endpoint with XEP-0198 on. The first byte
/// picks the role and the state: a client with stream management
/// enabled, a client resuming a session with unacknowledged stanzas, a
/// server with stream management enabled and stanzas queued, or a server
/// waiting for `<resume/>` (answered by accepting a matching session, a
/// foreign one, or refusing). The rest is cut into chunks as in the
/// other targets, with the clock moving and stanzas being sent between
/// them.
pub fn sm(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let now = Instant::now();
    match mode % 4 {
        0 => run(client_enabled(now), rest, now),
        1 => run(client_resuming(now), rest, now),
        2 => run(server_enabled(now), rest, now),
        _ => run(server_resuming(now, mode), rest, now),
    }
}

/// What the fuzz loop needs besides [`Endpoint`].
trait Role: Endpoint {
    fn send_one(&mut self, now: Instant);
    fn answer(&mut self, now: Instant, event: &Self::Event) -> bool;
    fn is_end(event: &Self::Event) -> bool;
}

impl Role for Client {
    fn send_one(&mut self, now: Instant) {
        let _ = self.send_message(now, "bob@localhost", "x", false);
    }
    fn answer(&mut self, _now: Instant, _event: &client::Event) -> bool {
        false
    }
    fn is_end(event: &client::Event) -> bool {
        matches!(event, client::Event::Closed { .. })
    }
}

impl Role for Server {
    fn send_one(&mut self, now: Instant) {
        let _ = self.send(now, message());
    }
    fn answer(&mut self, now: Instant, event: &server::Event) -> bool {
        match event {
            server::Event::Authenticate { .. } => self.accept_auth(now).is_ok(),
            server::Event::BindRequest { .. } => self.accept_bind(now).is_ok(),
            server::Event::ResumeRequest { .. } => self.reject_resume(now).is_ok(),
            _ => false,
        }
    }
    fn is_end(event: &server::Event) -> bool {
        matches!(event, server::Event::Closed { .. })
    }
}

fn run<E: Role>(mut endpoint: E, mut rest: &[u8], mut now: Instant) {
    let mut closed = drain(&mut endpoint, now, false);
    while let Some((&len, tail)) = rest.split_first() {
        let take = usize::from(len % 64).min(tail.len());
        let (chunk, tail) = tail.split_at(take);
        rest = tail;
        let _ = endpoint.handle_input(now, chunk);
        if len & 0x80 != 0 {
            now += Duration::from_secs(u64::from(len & 0x3F));
            endpoint.handle_timeout(now);
        }
        if len & 0x40 != 0 {
            endpoint.send_one(now);
        }
        closed = drain(&mut endpoint, now, closed);
    }
    endpoint.handle_eof(now);
    drain(&mut endpoint, now, closed);
    assert!(endpoint.is_closed(), "EOF must end the session");
}

fn drain<E: Role>(endpoint: &mut E, now: Instant, mut closed: bool) -> bool {
    loop {
        let mut shutdown = false;
        while let Some(t) = endpoint.poll_transmit() {
            assert!(!shutdown, "nothing may follow Transmit::Shutdown");
            match t {
                Transmit::Data(d) => {
                    let n = d.len();
                    endpoint.consume_transmit(n);
                }
                Transmit::StartTls => {
                    let _ = endpoint.handle_tls_established(now, TlsInfo::new(TlsVersion::Tls13));
                }
                Transmit::Shutdown => shutdown = true,
            }
        }
        let mut answered = false;
        while let Some(e) = endpoint.poll_event() {
            assert!(!closed, "no event may follow Event::Closed");
            answered |= endpoint.answer(now, &e);
            closed |= E::is_end(&e);
        }
        if !answered {
            return closed;
        }
    }
}

fn message() -> Element {
    Element::builder("message", ns::CLIENT)
        .attr("to", "alice@localhost/r")
        .attr("from", "bob@localhost/b")
        .append(Element::builder("body", ns::CLIENT).text("hi"))
        .build()
}

fn counter_random() -> Box<dyn crate::endpoint::RandomSource + Send> {
    let mut n = 0u8;
    Box::new(move |buf: &mut [u8]| {
        for b in buf {
            n = n.wrapping_add(7);
            *b = n;
        }
    })
}

fn session(jid: &str) -> SmSession {
    let mut unacked = Unacked::starting_at(8, u32::MAX - 1);
    for _ in 0..3 {
        let _ = unacked.push(message());
    }
    SmSession::new(
        Some("prev".into()),
        FullJid::new(jid).expect("valid"),
        Handled::starting_at(u32::MAX),
        unacked,
    )
}

/// A PLAIN-only client through SASL and up to its bind (or resume).
fn client_to_bind(config: ClientConfig, now: Instant) -> Client {
    let mut client = Client::new(config.with_tls(TlsPolicy::Direct), now);
    let _ = output_text(&mut client);
    let _ = client.handle_input(now, &[S_HEADER, b"<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features><success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"].concat());
    let _ = output_text(&mut client);
    let _ = client.handle_input(now, &[S_HEADER, b"<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><sm xmlns='urn:xmpp:sm:3'/></stream:features>"].concat());
    client
}

fn client_config() -> ClientConfig {
    ClientConfig::new(Jid::new("alice@localhost").expect("valid"), "pw")
        .with_random(counter_random())
        .with_stream_management(SmConfig::default())
}

fn client_enabled(now: Instant) -> Client {
    let mut client = client_to_bind(client_config(), now);
    let out = output_text(&mut client);
    if let Some(id) = out.split("id='").last().and_then(|s| s.split('\'').next()) {
        let result = format!(
            "<iq type='result' id='{id}'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@localhost/r</jid></bind></iq><enabled xmlns='urn:xmpp:sm:3' id='x' resume='1' max='30'/>"
        );
        let _ = client.handle_input(now, result.as_bytes());
    }
    client
}

fn client_resuming(now: Instant) -> Client {
    client_to_bind(
        client_config().with_resumption(session("alice@localhost/r")),
        now,
    )
}

fn scripted_server(now: Instant, script: &[&[u8]]) -> Server {
    let config = ServerConfig::new("localhost")
        .expect("valid")
        .with_random(counter_random())
        .with_tls(crate::server::ServerTlsPolicy::Direct)
        .with_stream_management(SmConfig::default().with_max_unacked(8));
    let mut server = Server::new(config, now);
    drain(&mut server, now, false);
    for step in script {
        let _ = server.handle_input(now, step);
        drain(&mut server, now, false);
    }
    server
}

const AUTH: &[u8] =
    b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHB3</auth>";

fn server_enabled(now: Instant) -> Server {
    let mut server = scripted_server(
        now,
        &[
            C_HEADER,
            AUTH,
            C_HEADER,
            b"<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>",
            b"<enable xmlns='urn:xmpp:sm:3' resume='true'/>",
        ],
    );
    for _ in 0..3 {
        let _ = server.send(now, message());
    }
    server
}

fn server_resuming(now: Instant, mode: u8) -> Server {
    let mut server = scripted_server(
        now,
        &[
            C_HEADER,
            AUTH,
            C_HEADER,
            b"<resume xmlns='urn:xmpp:sm:3' previd='prev' h='0'/>",
        ],
    );
    // Drained events were answered with a refusal when `mode` says so;
    // otherwise a resume is pending: accept ours or a foreign session.
    let owner = if mode & 0x10 == 0 {
        "alice@localhost/r"
    } else {
        "mallory@localhost/r"
    };
    let _ = server.accept_resume(now, session(owner));
    server
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripted_states_are_reached() {
        let now = Instant::now();
        let c = client_enabled(now);
        assert!(c.is_online() && c.sm_enabled(), "client with SM enabled");
        let s = server_enabled(now);
        assert!(s.is_online() && s.sm_enabled());
        assert_eq!(s.sm_unacked(), Some(3));
        let mut c = client_resuming(now);
        assert!(
            output_text(&mut c)
                .contains("<resume xmlns='urn:xmpp:sm:3' h='4294967295' previd='prev'/>")
        );
    }

    proptest::proptest! {
        /// A stand-in for the fuzzer where cargo-fuzz is not installed:
        /// random bytes after a random mode, seeded with SM fragments.
        #[test]
        fn random_input_never_panics(
            mode in 0u8..=255,
            pieces in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::collection::vec(proptest::num::u8::ANY, 0..40),
                    proptest::strategy::Just(b"<a xmlns='urn:xmpp:sm:3' h='3'/>".to_vec()),
                    proptest::strategy::Just(b"<r xmlns='urn:xmpp:sm:3'/>".to_vec()),
                    proptest::strategy::Just(b"<message to='a@localhost'><body>x</body></message>".to_vec()),
                    proptest::strategy::Just(b"<resumed xmlns='urn:xmpp:sm:3' previd='prev' h='0'/>".to_vec()),
                    proptest::strategy::Just(b"<failed xmlns='urn:xmpp:sm:3' h='4294967295'/>".to_vec()),
                ],
                0..12,
            ),
            lens in proptest::collection::vec(proptest::num::u8::ANY, 12),
        ) {
            let mut data = vec![mode];
            for (piece, len) in pieces.iter().zip(lens) {
                data.push((len & 0xC0) | (piece.len().min(63) as u8));
                data.extend_from_slice(&piece[..piece.len().min(63)]);
            }
            sm(&data);
        }
    }

    #[test]
    fn every_mode_survives_garbage_and_hostile_acks() {
        for mode in [0u8, 1, 2, 3, 0x13] {
            let mut data = vec![mode];
            for piece in [
                &b"<r xmlns='urn:xmpp:sm:3'/>"[..],
                b"<a xmlns='urn:xmpp:sm:3' h='4294967295'/>",
                b"<resumed xmlns='urn:xmpp:sm:3' previd='prev' h='4294967294'/>",
                b"<a xmlns='urn:xmpp:sm:3' h='99'/>",
            ] {
                data.push(0xC0 | (piece.len() as u8 % 64));
                data.extend_from_slice(piece);
            }
            sm(&data);
        }
    }
}
