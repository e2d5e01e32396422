use std::sync::OnceLock;

use crate::endpoint::Transmit;
use crate::sasl::{FailureCondition, Iterations, ScramHash, StoredCredentials, stored_credentials};
use crate::server::{Server, ServerConfig, ServerEvent};
use crate::tls::{TlsInfo, TlsVersion};

use super::Ends;
use crate::endpoint::Endpoint;
use crate::time::Time;

const HEADER: &[u8] = b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";

/// Feeds arbitrary client bytes to a `Server` at a stage chosen by the
/// first byte: before the header, after STARTTLS was offered, in SASL
/// (after TLS), authenticated and waiting for the bind, or online. The rest
/// is cut into chunks whose sizes come from the data, with the clock
/// moving between them. The application's questions are answered (SCRAM
/// credentials for `alice`, passwords, binds), so every state is reachable.
pub fn server(data: &[u8]) {
    let Some((&stage, rest)) = data.split_first() else {
        return;
    };
    let now = Time::ZERO;
    let mut server = scripted_server(stage % 5, now);
    let mut ends = Ends::default();
    super::feed_chunks(&mut server, rest, now, |server, now| {
        drain(server, now, &mut ends, |_| {});
    });
    assert!(server.poll_timeout().is_none(), "no timer after the end");
}

/// Drains output (handed to `sink`) and events, answering questions, and
/// checks that nothing follows the end.
pub(super) fn drain(server: &mut Server, now: Time, ends: &mut Ends, mut sink: impl FnMut(&[u8])) {
    loop {
        while let Some(t) = server.poll_transmit() {
            ends.transmit(&t);
            match t {
                Transmit::Data(d) => {
                    sink(d);
                    let n = d.len();
                    server.consume_transmit(n);
                }
                Transmit::StartTls => {
                    let tls = TlsInfo::new(TlsVersion::Tls13).with_tls_exporter(vec![3; 32]);
                    let _ = server.handle_tls_established(now, tls);
                }
                Transmit::Shutdown => {}
            }
        }
        let mut answered = false;
        while let Some(e) = server.poll_event() {
            ends.event(matches!(e, ServerEvent::Closed { .. }));
            answered |= answer(server, now, &e);
        }
        if !answered {
            return;
        }
    }
}

fn answer(server: &mut Server, now: Time, event: &ServerEvent) -> bool {
    let r = match event {
        ServerEvent::NeedScramCredentials { username, hash } => {
            let creds = (username == "alice").then(|| credentials(*hash));
            server.provide_credentials(now, creds)
        }
        ServerEvent::Authenticate { password, .. } => {
            if password.as_ref().is_some_and(|p| p.as_str() == "pw") {
                server.accept_auth(now)
            } else {
                server.reject_auth(now, FailureCondition::NotAuthorized)
            }
        }
        ServerEvent::BindRequest { .. } => server.accept_bind(now),
        // FAST (XEP-0484): alice has one token, "fuzz-token"; the
        // client's HT proof over it is what the fuzzer must find (or
        // take from the seeds); new tokens are issued.
        ServerEvent::NeedFastToken { username, .. } => {
            let tokens = if username == "alice" {
                vec!["fuzz-token".to_owned()]
            } else {
                Vec::new()
            };
            server.provide_fast_tokens(now, &tokens)
        }
        ServerEvent::IssueFastToken { .. } => server.issue_fast_token(
            now,
            Some(crate::negotiation::FastToken {
                token: "fuzz-token-2".into(),
                expiry: "2030-01-01T00:00:00Z".into(),
            }),
        ),
        _ => return false,
    };
    assert!(r.is_ok(), "a question must accept its answer: {r:?}");
    true
}

/// Stored credentials for `alice`/`pw`, computed once (one iteration: the
/// server accepts what it stores; only clients insist on many).
fn credentials(hash: ScramHash) -> StoredCredentials {
    static CACHE: OnceLock<Vec<StoredCredentials>> = OnceLock::new();
    let all = CACHE.get_or_init(|| {
        [ScramHash::Sha1, ScramHash::Sha256, ScramHash::Sha512]
            .into_iter()
            .map(|h| stored_credentials(h, "pw", b"fuzz-salt", Iterations(1)).expect("valid"))
            .collect()
    });
    all.iter()
        .find(|c| c.hash == hash)
        .cloned()
        .expect("every hash")
}

fn scripted_server(stage: u8, now: Time) -> Server {
    let mut n = 0u8;
    // SASL2 is on by default; FAST and stream management too, so that
    // every inline request has its path.
    let config = ServerConfig::new("localhost")
        .expect("valid")
        .with_fast(true)
        .with_stream_management(crate::sm::SmConfig::default())
        .with_random(Box::new(move |buf: &mut [u8]| {
            for b in buf {
                n = n.wrapping_add(31);
                *b = n;
            }
        }));
    let mut server = Server::new(config, now);
    let mut script: Vec<&[u8]> = Vec::new();
    if stage >= 1 {
        script.push(HEADER);
    }
    if stage >= 2 {
        // Through STARTTLS (the drain completes the handshake).
        script.push(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        script.push(HEADER);
    }
    if stage >= 3 {
        // PLAIN alice/pw.
        script.push(
            b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHB3</auth>",
        );
        script.push(HEADER);
    }
    if stage >= 4 {
        script.push(b"<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
    }
    let mut ends = Ends::default();
    for step in script {
        let _ = server.handle_input(now, step);
        drain(&mut server, now, &mut ends, |_| {});
    }
    server
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_survives_garbage_and_reaches_online_when_scripted() {
        for stage in 0..5u8 {
            super::server(&[
                stage, 10, b'<', b'x', b'/', b'>', 0, 0, 0, 0, 0, 0, 0, 0xFF, 1,
            ]);
        }
        let mut s = super::scripted_server(4, crate::time::Time::ZERO);
        assert!(
            s.is_online(),
            "the scripted prefix must reach the online stage"
        );
        while s.poll_event().is_some() {}
    }

    #[test]
    fn scram_is_reachable() {
        use crate::sasl::{
            ChannelBindings, ClientMechanism, Credentials, Mechanism, Nonce, SaslClientConfig,
            SaslServerConfig, ScramLimits, TlsState,
        };
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let now = crate::time::Time::ZERO;

        // A SCRAM-SHA-256 client for alice against the stage-2 server:
        // the harness answers the credentials question, so the whole
        // exchange (both proofs) can happen under the fuzzer.
        let mut server = super::scripted_server(2, now);
        let mut ends = Ends::default();
        let tls = TlsState::encrypted(ChannelBindings {
            tls_exporter: Some(vec![3; 32]),
            tls_server_end_point: None,
        });
        let offer = SaslServerConfig::default().offer(&tls);
        let config = SaslClientConfig {
            allowed: Some(vec![Mechanism::ScramSha256]),
            scram_limits: ScramLimits {
                min_iterations: 1,
                ..ScramLimits::default()
            },
            ..SaslClientConfig::default()
        };
        let mut client = ClientMechanism::start(
            &config,
            &Credentials::new("alice", "pw"),
            &offer,
            &tls,
            Nonce::new("abcdefghijklmnop").unwrap(),
        )
        .unwrap();
        let mut exchange = |server: &mut Server, xml: String| {
            let _ = server.handle_input(now, xml.as_bytes());
            let mut out = Vec::new();
            drain(server, now, &mut ends, |d| out.extend_from_slice(d));
            String::from_utf8(out).unwrap()
        };
        let inner = |xml: &str| {
            let start = xml.find('>').unwrap() + 1;
            b64.decode(&xml[start..xml.rfind("</").unwrap()]).unwrap()
        };
        let out = exchange(
            &mut server,
            format!(
                "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>{}</auth>",
                b64.encode(client.initial_response())
            ),
        );
        assert!(out.starts_with("<challenge"), "{out}");
        let first = inner(&out);
        assert!(first.starts_with(b"r=abcdefghijklmnop"), "{out}");
        let response = client.challenge(&first).expect("a valid challenge");
        let out = exchange(
            &mut server,
            format!(
                "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{}</response>",
                b64.encode(response)
            ),
        );
        assert!(out.starts_with("<success"), "{out}");
        let done = client
            .success(Some(&inner(&out)))
            .expect("the server's signature verifies");
        assert_eq!(done.mechanism, Mechanism::ScramSha256);

        // And through the fuzz entry point, chunked, the client-first
        // message is taken (no panic, the session ends at EOF).
        let auth = format!(
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>{}</auth>",
            b64.encode(b"n,,n=alice,r=abcdefghijklmnop")
        );
        let mut data = vec![2u8];
        for chunk in auth.as_bytes().chunks(60) {
            data.push(chunk.len() as u8);
            data.extend_from_slice(chunk);
        }
        super::server(&data);
    }
}
