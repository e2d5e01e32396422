use std::sync::OnceLock;

use base64::Engine as _;

use crate::client::{Client, ClientConfig, ClientEvent, ClientTlsPolicy};
use crate::endpoint::Transmit;
use crate::jid::Jid;
use crate::sasl::{
    ChannelBindings, Credentials, Iterations, Mechanism, Nonce, SaslServerConfig, ScramHash,
    ScramKeys, ServerMechanism, ServerStep, TlsState,
};
use crate::tls::{TlsInfo, TlsVersion};

use super::Ends;
use crate::endpoint::Endpoint;
use crate::time::Time;

const HEADER: &[u8] = b"<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' version='1.0' from='localhost' id='s1' xmlns='jabber:client'>";

/// Feeds arbitrary server bytes to a live `Client` at a stage of
/// negotiation chosen by the first byte (`% 5`), over direct TLS:
/// 0. before anything (its stream header sent),
/// 1. SCRAM-SHA-1 chosen, `<auth/>` sent,
/// 2. a valid SCRAM challenge answered, waiting for `<success/>`,
/// 3. authenticated, the bind request sent,
/// 4. online.
///
/// The rest is cut into chunks whose sizes come from the data, with the
/// clock moving between them.
pub fn client(data: &[u8]) {
    let Some((&stage, rest)) = data.split_first() else {
        return;
    };
    let now = Time::ZERO;
    let mut client = scripted_client(stage % 5, now);
    let mut ends = Ends::default();
    super::feed_chunks(&mut client, rest, now, |client, _| drain(client, &mut ends));
}

/// Drains output and events, checking that nothing follows the end.
pub(super) fn drain(client: &mut Client, ends: &mut Ends) {
    while let Some(t) = client.poll_transmit() {
        ends.transmit(&t);
        match t {
            Transmit::Data(d) => {
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

/// alice's SHA-1 keys for `pw`, derived once: the SCRAM stages log in
/// with them, so no fuzz run pays for PBKDF2.
fn alice_keys() -> &'static ScramKeys {
    static KEYS: OnceLock<ScramKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        ScramKeys::from_password(ScramHash::Sha1, "pw", b"fuzz-salt", Iterations(4096))
            .expect("valid")
    })
}

/// A client at stage 1: SCRAM-SHA-1 `<auth/>` sent (its text returned).
fn scram_client(now: Time) -> (Client, String) {
    let mut n = 0u8;
    let config = ClientConfig::new(Jid::new("alice@localhost").expect("valid"), "pw")
        .with_credentials(Credentials::from_cached_keys("alice", alice_keys().clone()))
        .with_tls(ClientTlsPolicy::Direct)
        .with_random(Box::new(move |buf: &mut [u8]| {
            for b in buf {
                n = n.wrapping_add(31);
                *b = n;
            }
        }));
    let mut client = Client::new(config, now);
    let _ = output_text(&mut client);
    let _ = client.handle_input(now, &[HEADER, b"<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>"].concat());
    let auth = output_text(&mut client);
    (client, auth)
}

/// A client at stage 2, and the server side of its SCRAM exchange (from
/// this library) that wrote the challenge and can check its answer.
fn scram_client_after_challenge(now: Time) -> (Client, ServerMechanism, String) {
    let (mut client, auth) = scram_client(now);
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let unb64 = |s: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .unwrap_or_default()
    };
    let inner = |xml: &str, tag: &str| {
        let from = xml.find(&format!("<{tag} ")).unwrap_or(0);
        let start = xml[from..].find('>').map_or(xml.len(), |i| from + i + 1);
        let end = xml[start..]
            .find(&format!("</{tag}>"))
            .map_or(xml.len(), |i| start + i);
        xml[start..end].to_owned()
    };
    let config = SaslServerConfig {
        mechanisms: vec![Mechanism::Plain, Mechanism::ScramSha1],
        ..SaslServerConfig::default()
    };
    let tls = TlsState::encrypted(ChannelBindings::none());
    let (mut server, step) = ServerMechanism::start(
        &config,
        &tls,
        "SCRAM-SHA-1",
        Some(&unb64(&inner(&auth, "auth"))),
        Nonce::new("fuzz-server-nonce").expect("valid"),
    )
    .expect("the client's SCRAM-SHA-1 <auth/> starts an exchange");
    assert!(matches!(step, ServerStep::NeedScramCredentials { .. }));
    let ServerStep::Challenge(first) = server.scram_credentials(Some(alice_keys().to_stored()))
    else {
        panic!("the server challenges the client");
    };
    let challenge = String::from_utf8(first).expect("UTF-8");
    let _ = client.handle_input(
        now,
        format!(
            "<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{}</challenge>",
            b64(&challenge)
        )
        .as_bytes(),
    );
    let response =
        String::from_utf8(unb64(&inner(&output_text(&mut client), "response"))).unwrap_or_default();
    (client, server, response)
}

fn scripted_client(stage: u8, now: Time) -> Client {
    match stage {
        0 => {
            let mut n = 0u8;
            let config = ClientConfig::new(Jid::new("alice@localhost").expect("valid"), "pw")
                .with_tls(ClientTlsPolicy::Direct)
                .with_random(Box::new(move |buf: &mut [u8]| {
                    for b in buf {
                        n = n.wrapping_add(31);
                        *b = n;
                    }
                }));
            let mut client = Client::new(config, now);
            let _ = output_text(&mut client);
            client
        }
        1 => scram_client(now).0,
        2 => scram_client_after_challenge(now).0,
        _ => {
            // A fresh PLAIN-only login up to binding.
            let mut n = 0u8;
            let config = ClientConfig::new(Jid::new("alice@localhost").expect("valid"), "pw")
                .with_tls(ClientTlsPolicy::Direct)
                .with_random(Box::new(move |buf: &mut [u8]| {
                    for b in buf {
                        n = n.wrapping_add(7);
                        *b = n;
                    }
                }));
            let mut client = Client::new(config, now);
            let _ = output_text(&mut client);
            let _ = client.handle_input(now, &[HEADER, b"<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features><success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"].concat());
            let out = output_text(&mut client);
            let _ = client.handle_input(now, &[HEADER, b"<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"].concat());
            let out = out + &output_text(&mut client);
            if stage >= 4 {
                if let Some(id) = out.split("id='").last().and_then(|s| s.split('\'').next()) {
                    let result = format!(
                        "<iq type='result' id='{id}'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@localhost/r</jid></bind></iq>"
                    );
                    let _ = client.handle_input(now, result.as_bytes());
                }
            }
            client
        }
    }
}

/// Everything the client wants to send, as text; TLS is granted and
/// events are dropped on the way.
pub(super) fn output_text(client: &mut Client) -> String {
    let mut s = String::new();
    while let Some(t) = client.poll_transmit() {
        match t {
            Transmit::Data(d) => {
                s.push_str(&String::from_utf8_lossy(d));
                let n = d.len();
                client.consume_transmit(n);
            }
            Transmit::StartTls => {
                let _ = client.handle_tls_established(Time::ZERO, TlsInfo::new(TlsVersion::Tls13));
            }
            Transmit::Shutdown => {}
        }
    }
    while client.poll_event().is_some() {}
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_survives_garbage_and_reaches_online_when_scripted() {
        for stage in 0..5u8 {
            super::client(&[
                stage, 10, b'<', b'x', b'/', b'>', 0, 0, 0, 0, 0, 0, 0, 0xFF, 1,
            ]);
        }
        let mut c = super::scripted_client(4, crate::time::Time::ZERO);
        assert!(
            c.is_online(),
            "the scripted prefix must reach the online stage"
        );
        while c.poll_event().is_some() {}
    }

    #[test]
    fn every_stage_is_live_and_where_it_claims() {
        let now = Time::ZERO;
        for stage in 0..5u8 {
            let c = scripted_client(stage, now);
            assert!(!c.is_closed(), "stage {stage} fuzzes a live client");
            assert_eq!(c.is_online(), stage == 4, "stage {stage}");
        }
        let (_, auth) = scram_client(now);
        assert!(auth.contains("mechanism='SCRAM-SHA-1'"), "{auth}");

        // Stage 2 answered the challenge with a proof our server side
        // accepts: its <success/> completes the login.
        let (mut c, mut server, response) = scram_client_after_challenge(now);
        assert!(
            response.starts_with("c=biws,r=") && response.contains(",p="),
            "{response}"
        );
        let ServerStep::Success(ok) = server.respond(response.as_bytes()) else {
            panic!("the client's proof must verify");
        };
        let v = base64::engine::general_purpose::STANDARD
            .encode(ok.additional_data.expect("SCRAM sends v="));
        let _ = c.handle_input(
            now,
            format!("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{v}</success>").as_bytes(),
        );
        let restart = output_text(&mut c);
        assert!(restart.contains("<stream:stream"), "{restart}");
        assert!(!c.is_closed());
    }
}
