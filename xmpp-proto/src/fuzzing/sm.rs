use std::time::Duration;

use crate::client::{Client, ClientConfig, ClientTlsPolicy};
use crate::endpoint::{Endpoint, Transmit};
use crate::jid::{FullJid, Jid};
use crate::server::{Server, ServerConfig};
use crate::sm::{Handled, SmConfig, SmSession, Unacked};
use crate::tls::{TlsInfo, TlsVersion};
use crate::xml::{Element, ns};

use super::Ends;
use super::client::output_text;
use crate::client::ClientEvent;
use crate::server::ServerEvent;
use crate::time::Time;

const S_HEADER: &[u8] = b"<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' version='1.0' from='localhost' id='s1' xmlns='jabber:client'>";
const C_HEADER: &[u8] = b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";

/// Feeds arbitrary bytes to an endpoint with XEP-0198 on. The first byte
/// picks the role and the state (`mode % 4`): a client with stream
/// management enabled, a client resuming a session with unacknowledged
/// stanzas, a server with stream management enabled and stanzas queued,
/// or a server that was asked to `<resume/>` and (by `(mode >> 2) % 3`)
/// accepted the matching session, was handed another account's session
/// (refused), or refused. The rest is cut into chunks as in the other
/// targets, with the clock moving and stanzas being sent between them.
pub fn sm(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let now = Time::ZERO;
    match mode % 4 {
        0 => run(client_enabled(now), rest, now),
        1 => run(client_resuming(now), rest, now),
        2 => run(server_enabled(now), rest, now),
        _ => run(server_resuming(now, Resume::from_mode(mode)), rest, now),
    }
}

/// How the server of mode 3 answered the `<resume/>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resume {
    /// With the session the client named: resumed.
    Accept,
    /// With another account's session: refused, and handed back.
    Foreign,
    /// With `reject_resume`.
    Reject,
}

impl Resume {
    fn from_mode(mode: u8) -> Self {
        match (mode >> 2) % 3 {
            0 => Resume::Accept,
            1 => Resume::Foreign,
            _ => Resume::Reject,
        }
    }
}

/// What the fuzz loop needs besides [`Endpoint`].
trait Role: Endpoint {
    fn send_one(&mut self, now: Time);
    fn answer(&mut self, now: Time, event: &Self::Event) -> bool;
    fn is_end(event: &Self::Event) -> bool;
}

impl Role for Client {
    fn send_one(&mut self, now: Time) {
        let _ = self.send_message(now, "bob@localhost", "x", false);
    }
    fn answer(&mut self, _now: Time, _event: &ClientEvent) -> bool {
        false
    }
    fn is_end(event: &ClientEvent) -> bool {
        matches!(event, ClientEvent::Closed { .. })
    }
}

impl Role for Server {
    fn send_one(&mut self, now: Time) {
        let _ = self.send(now, message());
    }
    fn answer(&mut self, now: Time, event: &ServerEvent) -> bool {
        match event {
            ServerEvent::Authenticate { .. } => self.accept_auth(now).is_ok(),
            ServerEvent::BindRequest { .. } => self.accept_bind(now).is_ok(),
            ServerEvent::ResumeRequest { .. } => self.reject_resume(now).is_ok(),
            _ => false,
        }
    }
    fn is_end(event: &ServerEvent) -> bool {
        matches!(event, ServerEvent::Closed { .. })
    }
}

fn run<E: Role>(mut endpoint: E, mut rest: &[u8], mut now: Time) {
    let mut ends = Ends::default();
    drain(&mut endpoint, now, &mut ends);
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
        drain(&mut endpoint, now, &mut ends);
    }
    endpoint.handle_eof(now);
    drain(&mut endpoint, now, &mut ends);
    assert!(endpoint.is_closed(), "EOF must end the session");
}

fn drain<E: Role>(endpoint: &mut E, now: Time, ends: &mut Ends) {
    loop {
        while let Some(t) = endpoint.poll_transmit() {
            ends.transmit(&t);
            match t {
                Transmit::Data(d) => {
                    let n = d.len();
                    endpoint.consume_transmit(n);
                }
                Transmit::StartTls => {
                    let _ = endpoint.handle_tls_established(now, TlsInfo::new(TlsVersion::Tls13));
                }
                Transmit::Shutdown => {}
            }
        }
        let mut answered = false;
        while let Some(e) = endpoint.poll_event() {
            ends.event(E::is_end(&e));
            answered |= endpoint.answer(now, &e);
        }
        if !answered {
            return;
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

fn counter_random() -> Box<dyn crate::random::RandomSource + Send> {
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
        let _ = unacked
            .push(crate::stanza::WireStanza::from_element(&message()).expect("serializable"));
    }
    SmSession::new(
        Some("prev".into()),
        FullJid::new(jid).expect("valid"),
        Handled::starting_at(u32::MAX),
        unacked,
    )
}

/// A PLAIN-only client through SASL and up to its bind (or resume).
fn client_to_bind(config: ClientConfig, now: Time) -> Client {
    let mut client = Client::new(config.with_tls(ClientTlsPolicy::Direct), now);
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

fn client_enabled(now: Time) -> Client {
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

fn client_resuming(now: Time) -> Client {
    client_to_bind(
        client_config().with_resumption(session("alice@localhost/r")),
        now,
    )
}

/// A server taken through `script`, TLS granted, authentication and
/// binds accepted; every event it reported, in order, comes back too.
/// Resumption requests are left unanswered.
fn scripted_server(now: Time, script: &[&[u8]]) -> (Server, Vec<ServerEvent>) {
    let config = ServerConfig::new("localhost")
        .expect("valid")
        .with_random(counter_random())
        .with_tls(crate::server::ServerTlsPolicy::Direct)
        .with_stream_management(SmConfig::default().with_max_unacked(8));
    let mut server = Server::new(config, now);
    let mut events = Vec::new();
    settle(&mut server, now, &mut events);
    for step in script {
        let _ = server.handle_input(now, step);
        settle(&mut server, now, &mut events);
    }
    (server, events)
}

fn settle(server: &mut Server, now: Time, events: &mut Vec<ServerEvent>) {
    loop {
        while let Some(t) = server.poll_transmit() {
            match t {
                Transmit::Data(d) => {
                    let n = d.len();
                    server.consume_transmit(n);
                }
                Transmit::StartTls => {
                    let _ = server.handle_tls_established(now, TlsInfo::new(TlsVersion::Tls13));
                }
                Transmit::Shutdown => {}
            }
        }
        let mut answered = false;
        while let Some(e) = server.poll_event() {
            answered |= match &e {
                ServerEvent::Authenticate { .. } => server.accept_auth(now).is_ok(),
                ServerEvent::BindRequest { .. } => server.accept_bind(now).is_ok(),
                _ => false,
            };
            events.push(e);
        }
        if !answered {
            return;
        }
    }
}

const AUTH: &[u8] =
    b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHB3</auth>";

fn server_enabled(now: Time) -> Server {
    let (mut server, _) = scripted_server(
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

fn server_resuming(now: Time, answer: Resume) -> Server {
    let (mut server, events) = scripted_server(
        now,
        &[
            C_HEADER,
            AUTH,
            C_HEADER,
            b"<resume xmlns='urn:xmpp:sm:3' previd='prev' h='0'/>",
        ],
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ServerEvent::ResumeRequest { previd, h: 0 } if previd == "prev")),
        "the script asks to resume: {events:?}"
    );
    match answer {
        Resume::Accept => server
            .accept_resume(now, session("alice@localhost/r"))
            .expect("alice's own session is accepted"),
        Resume::Foreign => {
            let back = server
                .accept_resume(now, session("mallory@localhost/r"))
                .expect_err("another account's session is refused");
            assert_eq!(back.jid.as_str(), "mallory@localhost/r", "and handed back");
        }
        Resume::Reject => server.reject_resume(now).expect("a resumption was asked"),
    }
    server
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_output(server: &mut Server) -> String {
        let mut out = String::new();
        while let Some(t) = server.poll_transmit() {
            if let Transmit::Data(d) = t {
                out.push_str(&String::from_utf8_lossy(d));
                let n = d.len();
                server.consume_transmit(n);
            }
        }
        out
    }

    #[test]
    fn scripted_states_are_reached() {
        let now = Time::ZERO;
        let c = client_enabled(now);
        assert!(c.is_online() && c.sm_enabled(), "client with SM enabled");
        let s = server_enabled(now);
        assert!(s.is_online() && s.sm_enabled());
        assert_eq!(s.sm_unacked(), Some(3));
        let mut c = client_resuming(now);
        assert!(!c.is_closed());
        assert!(
            output_text(&mut c)
                .contains("<resume xmlns='urn:xmpp:sm:3' h='4294967295' previd='prev'/>")
        );
    }

    #[test]
    fn every_resume_answer_is_reached() {
        let now = Time::ZERO;
        let modes: Vec<Resume> = (0..=255u8)
            .filter(|m| m % 4 == 3)
            .map(Resume::from_mode)
            .collect();
        for answer in [Resume::Accept, Resume::Foreign, Resume::Reject] {
            assert!(modes.contains(&answer), "{answer:?} has a mode byte");
        }

        // Accepted: resumed, online, and of the three queued stanzas
        // (counted up to 1 mod 2^32) the one the client's h='0' did not
        // acknowledge is sent again.
        let mut s = server_resuming(now, Resume::Accept);
        assert!(s.is_online() && s.sm_enabled() && !s.is_closed());
        assert_eq!(s.sm_id(), Some("prev"));
        assert_eq!(s.sm_unacked(), Some(1));
        let events: Vec<_> = std::iter::from_fn(|| s.poll_event()).collect();
        assert!(
            events.iter().any(
                |e| matches!(e, ServerEvent::Resumed { jid } if jid.as_str() == "alice@localhost/r")
            ),
            "{events:?}"
        );
        let out = server_output(&mut s);
        assert!(
            out.starts_with(
                "<resumed xmlns='urn:xmpp:sm:3' h='4294967295' previd='prev'/><message"
            ),
            "{out}"
        );

        // Refused either way: <failed/>, and the client may bind instead.
        for answer in [Resume::Foreign, Resume::Reject] {
            let mut s = server_resuming(now, answer);
            assert!(!s.is_online() && !s.is_closed(), "{answer:?}");
            let out = server_output(&mut s);
            assert!(
                out.starts_with("<failed xmlns='urn:xmpp:sm:3'><item-not-found"),
                "{answer:?}: {out}"
            );
            let _ = s.handle_input(
                now,
                b"<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>",
            );
            let mut events = Vec::new();
            settle(&mut s, now, &mut events);
            assert!(s.is_online(), "{answer:?}: bound instead");
        }
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
        for mode in [0u8, 1, 2, 3, 0x07, 0x0B] {
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
