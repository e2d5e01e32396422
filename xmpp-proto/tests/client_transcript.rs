//! Transcripts: scripted server bytes in, exact client behaviour out, with
//! the stream headers and features Prosody 0.12 and ejabberd 23.01 send,
//! and a simulated clock for every timer.

use std::time::Duration;

use base64::Engine as _;
use xmpp_proto::client::{
    Client, ClientConfig, ClientEvent, ClientTimeouts, ClientTlsPolicy, DEFAULT_CAPS_NODE,
    ReceiptPolicy,
};
use xmpp_proto::endpoint::Endpoint;
use xmpp_proto::endpoint::Transmit;
use xmpp_proto::endpoint::{CloseReason, CommandError};
use xmpp_proto::jid::Jid;
use xmpp_proto::roster::Subscription;
use xmpp_proto::sasl::{
    self, FailureCondition, Iterations, Mechanism, Nonce, ScramHash, ServerMechanism, ServerStep,
};
use xmpp_proto::stanza::{DefinedCondition, Iq};
use xmpp_proto::stanza::{Presence, PresenceType};
use xmpp_proto::stream_error::StreamErrorCondition;
use xmpp_proto::time::Time;
use xmpp_proto::tls::{TlsInfo, TlsVersion};
use xmpp_proto::xml::Element;

const PROSODY_HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' xml:lang='en' version='1.0' from='localhost' id='efc587c7-f921-4d4a-98f1-4443e67c4118' xmlns='jabber:client'>";
const PROSODY_STARTTLS: &str = "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>";
const PROSODY_MECHANISMS: &str = "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>";
const PROSODY_BOUND_FEATURES: &str = "<stream:features><sm xmlns='urn:xmpp:sm:2'><optional/></sm><sm xmlns='urn:xmpp:sm:3'><optional/></sm><ver xmlns='urn:xmpp:features:rosterver'/><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><required/></bind><session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session><c ver='j/Y94sSrQ04HC31Dsn52+Z4ESGQ=' xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='http://prosody.im'/><sub xmlns='urn:xmpp:features:pre-approval'/><csi xmlns='urn:xmpp:csi:0'/></stream:features>";

const EJABBERD_HEADER: &str = "<?xml version='1.0'?><stream:stream id='13884368390159913181' version='1.0' xml:lang='en' xmlns:stream='http://etherx.jabber.org/streams' from='localhost' xmlns='jabber:client'>";
const EJABBERD_MECHANISMS: &str = "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism><mechanism>SCRAM-SHA-512-PLUS</mechanism><mechanism>SCRAM-SHA-512</mechanism><mechanism>SCRAM-SHA-256-PLUS</mechanism><mechanism>SCRAM-SHA-256</mechanism><mechanism>SCRAM-SHA-1-PLUS</mechanism><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>";
const EJABBERD_BOUND_FEATURES: &str = "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session><c ver='gXXcEiTKcJk8SNJ+sJ4RVkEkvo4=' node='http://www.process-one.net/en/ejabberd/' hash='sha-1' xmlns='http://jabber.org/protocol/caps'/><sm xmlns='urn:xmpp:sm:2'/><sm xmlns='urn:xmpp:sm:3'/><ver xmlns='urn:xmpp:features:rosterver'/><csi xmlns='urn:xmpp:csi:0'/></stream:features>";

/// A client and a simulated clock.
struct Script {
    client: Client,
    now: Time,
    events: Vec<ClientEvent>,
    /// Feed input in pieces of this many bytes (0: all at once).
    chunk: usize,
    /// Everything `output` returned so far, in order.
    transcript: String,
}

impl Script {
    fn new(tls: ClientTlsPolicy) -> Script {
        Script::with_config(config(tls))
    }

    fn with_config(config: ClientConfig) -> Script {
        let now = Time::ZERO;
        Script {
            client: Client::new(config, now),
            now,
            events: Vec::new(),
            chunk: 0,
            transcript: String::new(),
        }
    }

    /// Everything the client wants to send now, as text, plus markers for
    /// TLS and shutdown.
    fn output(&mut self) -> String {
        let mut out = String::new();
        while let Some(t) = self.client.poll_transmit() {
            match t {
                Transmit::Data(d) => {
                    let n = d.len();
                    out.push_str(std::str::from_utf8(d).expect("client output is UTF-8"));
                    self.client.consume_transmit(n);
                }
                Transmit::StartTls => out.push_str("[STARTTLS]"),
                Transmit::Shutdown => out.push_str("[SHUTDOWN]"),
            }
        }
        while let Some(e) = self.client.poll_event() {
            self.events.push(e);
        }
        self.transcript.push_str(&out);
        out
    }

    /// Feeds `s` (in pieces of `chunk` bytes, draining the client after
    /// each) and returns everything the client sent meanwhile.
    fn feed(&mut self, s: &str) -> String {
        let size = if self.chunk == 0 {
            s.len().max(1)
        } else {
            self.chunk
        };
        let mut out = String::new();
        for piece in s.as_bytes().chunks(size) {
            let _ = self.client.handle_input(self.now, piece);
            out.push_str(&self.output());
        }
        out
    }

    fn tls_up(&mut self) -> String {
        let info = TlsInfo::new(TlsVersion::Tls13).with_tls_exporter(vec![7; 32]);
        self.client
            .handle_tls_established(self.now, info)
            .expect("TLS expected");
        self.output()
    }

    fn advance(&mut self, by: Duration) -> String {
        self.now += by;
        if let Some(t) = self.client.poll_timeout() {
            if t <= self.now {
                self.client.handle_timeout(self.now);
            }
        }
        self.output()
    }

    fn closed_reason(&self) -> Option<&CloseReason> {
        self.events.iter().find_map(|e| match e {
            ClientEvent::Closed { reason } => Some(reason),
            _ => None,
        })
    }
}

fn config(tls: ClientTlsPolicy) -> ClientConfig {
    let mut counter = 0u8;
    ClientConfig::new(Jid::new("alice@localhost").unwrap(), "alice-pass")
        .with_tls(tls)
        .with_random(Box::new(move |buf: &mut [u8]| {
            for b in buf {
                counter = counter.wrapping_add(17);
                *b = counter;
            }
        }))
}

fn text_of<'a>(xml: &'a str, start: &str, end: &str) -> &'a str {
    let from = xml
        .find(start)
        .map(|i| i + start.len())
        .expect("start marker");
    let rest = &xml[from..];
    let rest = &rest[rest.find('>').expect("tag end") + 1..];
    &rest[..rest.find(end).expect("end marker")]
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn unb64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// Runs a SCRAM exchange against our own server side, as the server in
/// the transcript would. Returns the client's output after `<success/>`.
fn scram_login(
    s: &mut Script,
    auth: &str,
    hash: ScramHash,
    password: &str,
    offered: &[Mechanism],
) -> String {
    let mechanism = text_of(auth, "<auth", "")
        .split('\'')
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(auth.contains("mechanism='SCRAM-SHA-"), "{auth}");
    let name = auth
        .split("mechanism='")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap();
    let _ = mechanism;
    let initial = unb64(text_of(auth, "<auth", "</auth>"));
    let server_config = sasl::SaslServerConfig {
        mechanisms: offered.to_vec(),
        downgrade_protection: false,
        advertise_channel_binding_types: false,
        ..sasl::SaslServerConfig::default()
    };
    let tls = sasl::TlsState::encrypted(sasl::ChannelBindings::none());
    let (mut server, step) = ServerMechanism::start(
        &server_config,
        &tls,
        name,
        Some(&initial),
        Nonce::new("serverNONCEserverNONCE").unwrap(),
    )
    .unwrap();
    let ServerStep::NeedScramCredentials { .. } = step else {
        panic!("{step:?}")
    };
    let creds =
        sasl::stored_credentials(hash, password, b"saltsaltsalt", Iterations(4096)).unwrap();
    let ServerStep::Challenge(first) = server.scram_credentials(Some(creds)) else {
        panic!()
    };
    let response = s.feed(&format!(
        "<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{}</challenge>",
        b64(&first)
    ));
    let client_final = unb64(text_of(&response, "<response", "</response>"));
    match server.respond(&client_final) {
        ServerStep::Success(ok) => s.feed(&format!(
            "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{}</success>",
            b64(ok.additional_data.as_deref().unwrap_or_default())
        )),
        other => panic!("server refused: {other:?}"),
    }
}

/// Logs in against a Prosody-shaped server and returns the script online.
fn online_with_prosody() -> Script {
    log_in_to_prosody(Script::new(ClientTlsPolicy::RequireStartTls))
}

/// Logs the fresh client of `s` (STARTTLS required) in to a
/// Prosody-shaped server.
fn log_in_to_prosody(mut s: Script) -> Script {
    let header = s.output();
    assert!(
        header.starts_with("<?xml version='1.0'?><stream:stream"),
        "{header}"
    );
    assert!(
        header.contains("to='localhost'") && header.contains("version='1.0'"),
        "{header}"
    );
    assert!(header.contains("xml:lang='en'"), "{header}");

    let out = s.feed(&format!("{PROSODY_HEADER}{PROSODY_STARTTLS}"));
    assert_eq!(out, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    let out = s.feed("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    assert_eq!(out, "[STARTTLS]");
    let out = s.tls_up();
    assert!(
        out.starts_with("<?xml version='1.0'?><stream:stream"),
        "{out}"
    );

    let auth = s.feed(&format!("{PROSODY_HEADER}{PROSODY_MECHANISMS}"));
    assert!(
        auth.contains("mechanism='SCRAM-SHA-1'"),
        "strongest offered: {auth}"
    );
    let restart = scram_login(
        &mut s,
        &auth,
        ScramHash::Sha1,
        "alice-pass",
        &[Mechanism::Plain, Mechanism::ScramSha1],
    );
    assert!(
        restart.starts_with("<?xml version='1.0'?><stream:stream"),
        "{restart}"
    );
    assert!(restart.contains("from='alice@localhost'"), "{restart}");

    let bind = s.feed(&format!("{PROSODY_HEADER}{PROSODY_BOUND_FEATURES}"));
    assert!(
        bind.contains("<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"),
        "{bind}"
    );
    let id = bind
        .split("id='")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap()
        .to_owned();
    let out = s.feed(&format!(
        "<iq type='result' id='{id}'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@localhost/res1</jid></bind></iq>"
    ));
    assert_eq!(out, "", "session is optional on Prosody: no session IQ");
    assert!(s.events.iter().any(
        |e| matches!(e, ClientEvent::Online { jid } if jid.as_str() == "alice@localhost/res1")
    ));
    s
}

#[test]
fn logs_in_to_a_prosody_shaped_server_and_closes_cleanly() {
    let mut s = online_with_prosody();
    assert!(s.client.is_online());
    s.client.close(s.now);
    assert_eq!(s.output(), "</stream:stream>");
    assert_eq!(s.feed("</stream:stream>"), "[SHUTDOWN]");
    assert_eq!(s.closed_reason(), Some(&CloseReason::Normal));
}

#[test]
fn server_initiated_close_is_answered() {
    let mut s = online_with_prosody();
    assert_eq!(s.feed("</stream:stream>"), "</stream:stream>[SHUTDOWN]");
    assert_eq!(s.closed_reason(), Some(&CloseReason::Normal));
}

#[test]
fn message_with_receipt_both_ways() {
    // Bob is no contact: receipts to anyone, as a bot would.
    let config = config(ClientTlsPolicy::RequireStartTls).with_auto_receipts(true);
    let mut s = log_in_to_prosody(Script::with_config(config));
    let id = s
        .client
        .send_message(s.now, "bob@localhost", "hello", true)
        .unwrap();
    let out = s.output();
    assert!(out.starts_with("<message"), "{out}");
    assert!(
        out.contains("to='bob@localhost'") && out.contains(&format!("id='{id}'")),
        "{out}"
    );
    assert!(
        out.contains("<body>hello</body><request xmlns='urn:xmpp:receipts'/>"),
        "{out}"
    );

    let out = s.feed(&format!(
        "<message from='bob@localhost/phone' to='alice@localhost/res1' id='r1'><received xmlns='urn:xmpp:receipts' id='{id}'/></message>"
    ));
    assert_eq!(out, "");
    assert!(
        s.events
            .iter()
            .any(|e| matches!(e, ClientEvent::ReceiptReceived { id: got, .. } if *got == id))
    );
    // A message that only carries the receipt is not also a message.
    assert!(
        !s.events
            .iter()
            .any(|e| matches!(e, ClientEvent::Message(_))),
        "{:?}",
        s.events
    );

    // An incoming request is answered automatically.
    let out = s.feed("<message from='bob@localhost/phone' type='chat' id='m7'><body>hi</body><request xmlns='urn:xmpp:receipts'/></message>");
    assert!(
        out.contains("to='bob@localhost/phone'")
            && out.contains("<received xmlns='urn:xmpp:receipts' id='m7'/>"),
        "{out}"
    );
    assert!(
        s.events
            .iter()
            .any(|e| matches!(e, ClientEvent::Message(m) if m.body().as_deref() == Some("hi")))
    );
}

#[test]
fn errors_for_our_messages_and_presences_come_back_linked_to_their_id() {
    let mut s = online_with_prosody();
    let id = s
        .client
        .send_message(s.now, "nobody@localhost", "hello", true)
        .unwrap();
    s.output();
    s.feed(&format!(
        "<message from='nobody@localhost' to='alice@localhost/res1' type='error' id='{id}'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"
    ));
    let bounce = s.events.iter().find_map(|e| match e {
        ClientEvent::Bounced { id, from, error } => Some((id.clone(), from.clone(), error.clone())),
        _ => None,
    });
    let (got, from, error) = bounce.expect("a Bounced event");
    assert_eq!(got, id);
    assert_eq!(from.as_deref(), Some("nobody@localhost"));
    assert_eq!(error.condition, DefinedCondition::ServiceUnavailable);
    assert!(
        !s.events
            .iter()
            .any(|e| matches!(e, ClientEvent::Message(_)))
    );

    // A presence error; and an error without a readable condition.
    s.events.clear();
    s.feed("<presence from='room@muc.localhost/alice' type='error' id='p1'><error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence><message from='x@localhost' type='error' id='m2'/>");
    let conditions: Vec<_> = s
        .events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Bounced { id, error, .. } => {
                Some((id.as_str().to_owned(), error.condition))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        conditions,
        [
            ("p1".to_owned(), DefinedCondition::Conflict),
            ("m2".to_owned(), DefinedCondition::UndefinedCondition)
        ]
    );
}

/// The ids of the IQ responses the client reported.
fn iq_responses(s: &Script) -> Vec<String> {
    s.events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::IqResponse { id, .. } => Some(id.as_str().to_owned()),
            _ => None,
        })
        .collect()
}

#[test]
fn iq_responses_must_come_from_whom_we_asked() {
    let mut s = online_with_prosody();
    let query = || Element::builder("query", "jabber:iq:version").build();
    let to_service = s
        .client
        .send(s.now, Iq::get("q1", query()).with_to("pubsub.localhost"))
        .unwrap();
    let to_server = s.client.send(s.now, Iq::get("q2", query())).unwrap();
    s.output();
    // Our ids from someone else are not the answers.
    s.feed(&format!(
        "<iq type='result' id='{to_service}' from='mallory@evil.example/x'/><iq type='result' id='{to_server}' from='bob@localhost/phone'/>"
    ));
    assert_eq!(iq_responses(&s), Vec::<String>::new());
    // The addressee, and the server for a request without `to` (with no
    // `from` or its own domain), are.
    s.feed(&format!(
        "<iq type='result' id='{to_service}' from='pubsub.localhost'/><iq type='result' id='{to_server}'/>"
    ));
    assert_eq!(
        iq_responses(&s),
        [
            to_service.as_str().to_owned(),
            to_server.as_str().to_owned()
        ]
    );
    let again = s.client.send(s.now, Iq::get("q3", query())).unwrap();
    s.output();
    s.feed(&format!(
        "<iq type='result' id='{again}' from='localhost'/>"
    ));
    assert_eq!(iq_responses(&s).len(), 3);
}

#[test]
fn send_message_refuses_an_invalid_recipient_before_sending() {
    let mut s = online_with_prosody();
    for to in ["", "bob@", "@localhost", "a b@localhost", "localhost/"] {
        let refused = s.client.send_message(s.now, to, "hello", false);
        assert!(
            matches!(refused, Err(CommandError::InvalidAddress(_))),
            "{to:?}: {refused:?}"
        );
    }
    assert_eq!(s.output(), "", "nothing was sent");
}

#[test]
fn a_tls_record_where_xml_was_expected_says_so() {
    let mut s = Script::new(ClientTlsPolicy::RequireStartTls);
    s.output();
    // A TLS alert from a direct TLS port (content type 21, version 3.x).
    let _ = s
        .client
        .handle_input(s.now, &[0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x32]);
    let reason = s.client.close_reason().cloned();
    match reason {
        Some(CloseReason::ProtocolViolation { condition, text }) => {
            assert_eq!(condition, StreamErrorCondition::BadFormat);
            assert!(text.contains("direct TLS port"), "{text}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unhandled_iq_gets_service_unavailable_and_ping_is_answered() {
    let mut s = online_with_prosody();
    let out =
        s.feed("<iq from='localhost' type='get' id='v1'><query xmlns='urn:example:nobody'/></iq>");
    assert!(
        out.contains("type='error'")
            && out.contains("id='v1'")
            && out.contains("<service-unavailable"),
        "{out}"
    );
    let out = s.feed("<iq from='localhost' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>");
    assert!(
        out.contains("type='result'") && out.contains("id='p1'"),
        "{out}"
    );
}

#[test]
fn iq_requests_are_tracked_until_response_or_timeout() {
    let mut s = online_with_prosody();
    let iq = xmpp_proto::stanza::Iq::get(
        "q1",
        xmpp_proto::xml::Element::builder("query", "jabber:iq:roster").build(),
    );
    let id = s.client.send(s.now, iq).unwrap();
    assert_eq!(id.as_str(), "q1");
    s.output();
    s.feed("<iq type='result' id='q1'><query xmlns='jabber:iq:roster'/></iq>");
    assert!(
        s.events
            .iter()
            .any(|e| matches!(e, ClientEvent::IqResponse { id, .. } if id.as_str() == "q1"))
    );

    let iq = xmpp_proto::stanza::Iq::get(
        "q2",
        xmpp_proto::xml::Element::builder("query", "jabber:iq:roster").build(),
    );
    s.client.send(s.now, iq).unwrap();
    s.output();
    s.advance(Duration::from_secs(59));
    assert!(
        !s.events
            .iter()
            .any(|e| matches!(e, ClientEvent::IqTimeout { .. }))
    );
    s.advance(Duration::from_secs(2));
    assert!(
        s.events
            .iter()
            .any(|e| matches!(e, ClientEvent::IqTimeout { id } if id.as_str() == "q2"))
    );
    // A late answer is ignored.
    s.feed("<iq type='result' id='q2'/>");
    assert!(
        !s.events
            .iter()
            .any(|e| matches!(e, ClientEvent::IqResponse { id, .. } if id.as_str() == "q2"))
    );
    assert!(s.client.is_online());
}

#[test]
fn keepalive_and_dead_peer_detection() {
    let mut s = online_with_prosody();
    let out = s.advance(Duration::from_secs(91));
    assert_eq!(out, " ", "a whitespace keepalive after 90 s of silence");
    let out = s.advance(Duration::from_secs(30));
    assert!(
        out.contains("<ping xmlns='urn:xmpp:ping'/>") && out.contains("to='localhost'"),
        "{out}"
    );
    let out = s.advance(Duration::from_secs(31));
    assert!(out.ends_with("</stream:stream>[SHUTDOWN]"), "{out}");
    assert_eq!(s.closed_reason(), Some(&CloseReason::PeerNotResponding));
}

/// Advances the clock one second at a time, `seconds` times; returns each
/// non-empty output with the second (counted from 1) it came at.
fn tick(s: &mut Script, seconds: u64) -> Vec<(u64, String)> {
    let mut seen = Vec::new();
    for t in 1..=seconds {
        let out = s.advance(Duration::from_secs(1));
        if !out.is_empty() {
            seen.push((t, out));
        }
    }
    seen
}

#[test]
fn any_byte_from_the_server_proves_it_alive() {
    let mut s = online_with_prosody();
    // Silence: keepalive at 90 s (sent, so no proof the server is there).
    assert_eq!(tick(&mut s, 100), [(90, " ".to_owned())]);
    // One whitespace byte from the server at t = 100 moves the ping from
    // t = 120 to t = 220.
    assert_eq!(s.feed(" "), "");
    let seen = tick(&mut s, 130);
    assert_eq!(
        seen[0],
        (80, " ".to_owned()),
        "keepalive at 180 s: {seen:?}"
    );
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[1].0, 120, "ping 120 s after the byte: {seen:?}");
    assert!(
        seen[1].1.contains("<ping xmlns='urn:xmpp:ping'/>"),
        "{seen:?}"
    );
    // t = 230, ping unanswered since t = 220; it would be declared dead at
    // t = 250. A byte at t = 240 (not the ping's answer) proves it alive.
    assert_eq!(tick(&mut s, 10), []);
    assert_eq!(s.feed(" "), "");
    let seen = tick(&mut s, 119);
    assert!(
        seen.iter().all(|(_, out)| out == " "),
        "only keepalives until t = 359: {seen:?}"
    );
    assert!(s.client.is_online());
    assert_eq!(s.closed_reason(), None);
    // And the next ping is due 120 s after that byte.
    let seen = tick(&mut s, 1);
    assert!(
        seen.len() == 1 && seen[0].1.contains("<ping"),
        "ping at t = 360: {seen:?}"
    );
}

#[test]
fn ejabberd_plus_mechanisms_without_xep0440_are_not_used() {
    let mut s = Script::new(ClientTlsPolicy::Direct);
    assert_eq!(s.output(), "[STARTTLS]");
    s.tls_up();
    let auth = s.feed(&format!("{EJABBERD_HEADER}{EJABBERD_MECHANISMS}"));
    assert!(auth.contains("mechanism='SCRAM-SHA-512'"), "{auth}");
    // GS2 header "n": no binding, and not "y" (the server did offer -PLUS).
    let initial = String::from_utf8(unb64(text_of(&auth, "<auth", "</auth>"))).unwrap();
    assert!(initial.starts_with("n,,n=alice,r="), "{initial}");
    let all = [
        Mechanism::Plain,
        Mechanism::ScramSha512,
        Mechanism::ScramSha256,
        Mechanism::ScramSha1,
    ];
    let restart = scram_login(&mut s, &auth, ScramHash::Sha512, "alice-pass", &all);
    assert!(restart.contains("<stream:stream"));
    let bind = s.feed(&format!("{EJABBERD_HEADER}{EJABBERD_BOUND_FEATURES}"));
    assert!(bind.contains("<bind"), "{bind}");
}

#[test]
fn wrong_password_is_reported_as_such() {
    let mut s = Script::new(ClientTlsPolicy::RequireStartTls);
    s.output();
    s.feed(&format!("{PROSODY_HEADER}{PROSODY_STARTTLS}"));
    s.feed("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    s.tls_up();
    s.feed(&format!("{PROSODY_HEADER}{PROSODY_MECHANISMS}"));
    let out = s.feed("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/><text xml:lang='en'>Invalid username or password</text></failure>");
    assert!(out.ends_with("</stream:stream>[SHUTDOWN]"), "{out}");
    let reason = s.closed_reason().unwrap();
    assert_eq!(
        reason,
        &CloseReason::AuthenticationFailed {
            condition: FailureCondition::NotAuthorized,
            text: Some("Invalid username or password".into())
        }
    );
    assert!(reason.to_string().contains("wrong username or password"));
}

#[test]
fn a_wrong_server_signature_fails_even_on_success() {
    let mut s = Script::new(ClientTlsPolicy::Direct);
    s.output();
    s.tls_up();
    let auth = s.feed(&format!("{PROSODY_HEADER}{PROSODY_MECHANISMS}"));
    let initial = String::from_utf8(unb64(text_of(&auth, "<auth", "</auth>"))).unwrap();
    let cnonce = initial.split("r=").nth(1).unwrap();
    let first = format!("r={cnonce}srv,s={},i=4096", b64(b"saltsaltsalt"));
    s.feed(&format!(
        "<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{}</challenge>",
        b64(first.as_bytes())
    ));
    let out = s.feed(&format!(
        "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{}</success>",
        b64(b"v=AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
    ));
    assert!(
        out.contains("<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
            && out.ends_with("[SHUTDOWN]"),
        "{out}"
    );
    assert!(
        matches!(s.closed_reason(), Some(CloseReason::Sasl(_))),
        "{:?}",
        s.closed_reason()
    );
    assert!(!s.client.is_online());
}

#[test]
fn starttls_injection_is_fatal() {
    let mut s = Script::new(ClientTlsPolicy::RequireStartTls);
    s.output();
    s.feed(&format!("{PROSODY_HEADER}{PROSODY_STARTTLS}"));
    // <proceed/> and attacker bytes in the same read.
    let out = s.feed("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><stream:features/>");
    assert!(out.ends_with("[SHUTDOWN]"), "{out}");
    assert!(!out.contains("[STARTTLS]") || out.find("[SHUTDOWN]") > out.find("[STARTTLS]"));
    assert_eq!(s.closed_reason(), Some(&CloseReason::StartTlsInjection));
}

#[test]
fn plaintext_after_proceed_in_a_later_read_is_fatal_too() {
    let mut s = Script::new(ClientTlsPolicy::RequireStartTls);
    s.output();
    s.feed(&format!("{PROSODY_HEADER}{PROSODY_STARTTLS}"));
    assert_eq!(
        s.feed("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"),
        "[STARTTLS]"
    );
    s.feed("<x/>");
    assert_eq!(s.closed_reason(), Some(&CloseReason::StartTlsInjection));
}

#[test]
fn tls_is_required_by_default() {
    let mut s = Script::new(ClientTlsPolicy::RequireStartTls);
    s.output();
    let out = s.feed(&format!("{PROSODY_HEADER}{PROSODY_MECHANISMS}"));
    assert_eq!(out, "</stream:stream>[SHUTDOWN]");
    assert_eq!(s.closed_reason(), Some(&CloseReason::TlsUnavailable));
}

#[test]
fn plain_is_refused_without_tls_even_when_tls_is_optional() {
    let mut s = Script::new(ClientTlsPolicy::InsecureDisabled);
    s.output();
    let out = s.feed(&format!(
        "{PROSODY_HEADER}<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>"
    ));
    assert!(out.ends_with("[SHUTDOWN]"), "{out}");
    assert!(!out.contains("<auth"), "{out}");
    assert!(matches!(s.closed_reason(), Some(CloseReason::Sasl(_))));
}

#[test]
fn negotiation_times_out() {
    let mut s = Script::new(ClientTlsPolicy::RequireStartTls);
    s.output();
    s.feed(PROSODY_HEADER);
    let out = s.advance(Duration::from_secs(61));
    assert!(out.contains("<connection-timeout"), "{out}");
    assert_eq!(s.closed_reason(), Some(&CloseReason::NegotiationTimeout));
}

#[test]
fn close_handshake_times_out() {
    let mut s = online_with_prosody();
    s.client.close(s.now);
    s.output();
    assert_eq!(s.advance(Duration::from_secs(6)), "[SHUTDOWN]");
    assert_eq!(s.closed_reason(), Some(&CloseReason::CloseTimeout));
}

#[test]
fn see_other_host_is_reported_with_its_target() {
    let mut s = Script::new(ClientTlsPolicy::RequireStartTls);
    s.output();
    let out = s.feed(&format!(
        "{PROSODY_HEADER}<stream:error><see-other-host xmlns='urn:ietf:params:xml:ns:xmpp-streams'>[2001:db8::1]:5222</see-other-host></stream:error>"
    ));
    assert_eq!(out, "</stream:stream>[SHUTDOWN]");
    match s.closed_reason() {
        Some(CloseReason::StreamError {
            condition,
            see_other_host,
            ..
        }) => {
            assert_eq!(*condition, StreamErrorCondition::SeeOtherHost);
            assert_eq!(see_other_host.as_deref(), Some("[2001:db8::1]:5222"));
        }
        other => panic!("{other:?}"),
    }
}

/// A server that does not serve our domain answers from its own and
/// closes with `host-unknown`: that is what the client reports, not the
/// foreign `from` that comes first.
#[test]
fn host_unknown_after_a_foreign_header_is_reported_as_such() {
    let mut s = Script::new(ClientTlsPolicy::RequireStartTls);
    s.output();
    let out = s.feed(
        "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client' \
         version='1.0' id='x' from='other.example'><stream:error>\
         <host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
    );
    assert_eq!(out, "</stream:stream>[SHUTDOWN]");
    match s.closed_reason() {
        Some(CloseReason::StreamError { condition, .. }) => {
            assert_eq!(*condition, StreamErrorCondition::HostUnknown)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_headers_are_refused() {
    for (header, condition) in [
        (
            "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:server' version='1.0' id='x' from='localhost'>",
            StreamErrorCondition::InvalidNamespace,
        ),
        (
            "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client' id='x' from='localhost'>",
            StreamErrorCondition::UnsupportedVersion,
        ),
        (
            "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client' version='1.0' from='localhost'>",
            StreamErrorCondition::InvalidXml,
        ),
        (
            "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client' version='1.0' id='x' from='evil.example'>\
             <stream:features/>",
            StreamErrorCondition::InvalidFrom,
        ),
    ] {
        let mut s = Script::new(ClientTlsPolicy::RequireStartTls);
        s.output();
        let out = s.feed(header);
        assert!(out.ends_with("</stream:stream>[SHUTDOWN]"), "{out}");
        match s.closed_reason() {
            Some(CloseReason::ProtocolViolation { condition: c, .. }) => {
                assert_eq!(*c, condition, "{header}")
            }
            other => panic!("{header}: {other:?}"),
        }
    }
}

#[test]
fn stanzas_before_binding_are_refused_and_commands_wait_for_online() {
    let mut s = Script::new(ClientTlsPolicy::Direct);
    s.output();
    assert_eq!(
        s.client
            .send_message(s.now, "bob@localhost", "too early", false),
        Err(xmpp_proto::endpoint::CommandError::NotOnline)
    );
    s.tls_up();
    let out = s.feed(&format!(
        "{PROSODY_HEADER}<message to='alice@localhost'><body>x</body></message>"
    ));
    assert!(
        out.contains("<unsupported-stanza-type") || out.contains("<not-authorized"),
        "{out}"
    );
}

#[test]
fn trace_reports_both_directions() {
    let mut s = Script::with_config(config(ClientTlsPolicy::RequireStartTls).with_trace(true));
    s.output();
    s.feed(PROSODY_HEADER);
    use xmpp_proto::endpoint::Direction;
    let outs = s
        .events
        .iter()
        .filter(|e| {
            matches!(
                e,
                ClientEvent::Trace {
                    direction: Direction::Out,
                    ..
                }
            )
        })
        .count();
    let ins = s
        .events
        .iter()
        .filter(|e| {
            matches!(
                e,
                ClientEvent::Trace {
                    direction: Direction::In,
                    ..
                }
            )
        })
        .count();
    assert!(outs >= 1 && ins == 1, "{:?}", s.events);
    // In the order the bytes went: our header first, then the server's.
    let first = s.events.iter().find_map(|e| match e {
        ClientEvent::Trace { direction, data } => Some((*direction, data.clone())),
        _ => None,
    });
    let (direction, data) = first.expect("a trace");
    assert_eq!(direction, Direction::Out);
    assert!(
        data.starts_with(b"<?xml"),
        "{}",
        String::from_utf8_lossy(&data)
    );
}

/// A whole session against a Prosody-shaped server: login, a message
/// with a receipt request each way, an IQ, the close. Returns everything
/// the client sent and every event.
fn whole_session(chunk: usize) -> (String, Vec<ClientEvent>) {
    let mut s = Script::new(ClientTlsPolicy::RequireStartTls);
    s.chunk = chunk;
    let mut s = log_in_to_prosody(s);
    s.client
        .send_message(s.now, "bob@localhost", "hello", true)
        .unwrap();
    s.output();
    s.feed(concat!(
        "<message from='bob@localhost/phone' type='chat' id='m7'><body>hi &amp; bye</body>",
        "<request xmlns='urn:xmpp:receipts'/></message>\n \n",
        "<iq from='localhost' type='get' id='v1'><query xmlns='jabber:iq:version'/></iq>",
        "<iq from='localhost' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>",
    ));
    s.client.close(s.now);
    s.output();
    s.feed("</stream:stream>");
    assert_eq!(s.closed_reason(), Some(&CloseReason::Normal));
    (s.transcript, s.events)
}

#[test]
fn chunking_does_not_change_the_outcome() {
    let (bytes, events) = whole_session(0);
    assert!(
        events.iter().any(
            |e| matches!(e, ClientEvent::Message(m) if m.body().as_deref() == Some("hi & bye"))
        ),
        "{events:?}"
    );
    for chunk in [1, 2, 3, 7, 64] {
        let (chunked_bytes, chunked_events) = whole_session(chunk);
        assert_eq!(
            chunked_bytes, bytes,
            "bytes sent, input in {chunk}-byte pieces"
        );
        assert_eq!(
            chunked_events, events,
            "events, input in {chunk}-byte pieces"
        );
    }
}

#[test]
fn timeouts_are_configurable() {
    // Keepalive and ping off: an online client has no timer at all and
    // stays silent and online however long the server is.
    let mut t = ClientTimeouts::default();
    t.keepalive = None;
    t.ping_after = None;
    let s = Script::with_config(config(ClientTlsPolicy::RequireStartTls).with_timeouts(t));
    assert!(s.client.poll_timeout().is_some(), "negotiation timer runs");
    let mut s = log_in_to_prosody(s);
    for _ in 0..10 {
        assert_eq!(s.advance(Duration::from_secs(3600)), "");
    }
    assert!(s.client.is_online());
    // (The bind request's deadline may have been due once, doing nothing.)
    assert_eq!(s.client.poll_timeout(), None, "no keepalive, no ping");

    // Other values are used as given.
    let mut t = ClientTimeouts::default();
    t.keepalive = Some(Duration::from_secs(7));
    t.ping_after = Some(Duration::from_secs(20));
    t.ping_timeout = Duration::from_secs(4);
    let s = Script::with_config(config(ClientTlsPolicy::RequireStartTls).with_timeouts(t));
    let mut s = log_in_to_prosody(s);
    let seen = tick(&mut s, 24);
    let at: Vec<u64> = seen.iter().map(|(t, _)| *t).collect();
    assert_eq!(at, [7, 14, 20, 24], "{seen:?}");
    assert!(seen[2].1.contains("<ping"), "{seen:?}");
    assert!(
        seen[3].1.ends_with("</stream:stream>[SHUTDOWN]"),
        "{seen:?}"
    );
    assert_eq!(s.closed_reason(), Some(&CloseReason::PeerNotResponding));
}

/// The id of the last `<iq/>` in `out`.
fn iq_id(out: &str) -> String {
    let iq = &out[out.rfind("<iq").expect("an iq")..];
    let start = iq.find("id='").expect("an id") + 4;
    iq[start..]
        .split('\'')
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn roster_fetched_with_versioning_and_kept_up_to_date_by_pushes() {
    let mut s = online_with_prosody();
    s.client.request_roster(s.now).unwrap();
    let out = s.output();
    // Prosody offers versioning: an empty version asks for everything.
    assert!(
        out.contains("<query xmlns='jabber:iq:roster' ver=''/>"),
        "{out}"
    );
    let id = iq_id(&out);
    s.feed(&format!(
        "<iq type='result' id='{id}' to='alice@localhost/res1'><query xmlns='jabber:iq:roster' ver='v1'>\
         <item jid='bob@localhost' name='Bob' subscription='both'><group>Friends</group></item>\
         <item jid='carol@localhost' ask='subscribe'/></query></iq>"
    ));
    assert!(
        s.events
            .iter()
            .any(|e| matches!(e, ClientEvent::RosterReceived))
    );
    let roster = s.client.roster();
    assert_eq!((roster.len(), roster.version()), (2, Some("v1")));
    assert_eq!(
        roster.get("bob@localhost").unwrap().subscription,
        Subscription::Both
    );

    // A push from our own server is applied and acknowledged.
    let out = s.feed(
        "<iq type='set' id='push1'><query xmlns='jabber:iq:roster' ver='v2'>\
         <item jid='carol@localhost' subscription='to'/></query></iq>",
    );
    assert!(
        out.contains("type='result'") && out.contains("id='push1'"),
        "{out}"
    );
    assert_eq!(
        s.client
            .roster()
            .get("carol@localhost")
            .unwrap()
            .subscription,
        Subscription::To
    );
    assert_eq!(s.client.roster().version(), Some("v2"));
    assert!(s.events.iter().any(|e| matches!(
        e,
        ClientEvent::RosterPush { item, previous: Some(old) } if item.subscription == Subscription::To && old.ask
    )));

    // From anyone else it is refused and changes nothing (RFC 6121
    // §2.1.6).
    let out = s.feed(
        "<iq type='set' id='evil' from='mallory@localhost/x'><query xmlns='jabber:iq:roster'>\
         <item jid='mallory@localhost' subscription='both'/></query></iq>",
    );
    assert!(
        out.contains("type='error'") && out.contains("service-unavailable"),
        "{out}"
    );
    assert!(s.client.roster().get("mallory@localhost").is_none());

    // A removal.
    s.feed(
        "<iq type='set' id='push2'><query xmlns='jabber:iq:roster' ver='v3'>\
         <item jid='bob@localhost' subscription='remove'/></query></iq>",
    );
    assert!(s.client.roster().get("bob@localhost").is_none());

    // The next fetch names our version; an empty result keeps the roster.
    s.client.request_roster(s.now).unwrap();
    let out = s.output();
    assert!(out.contains("ver='v3'"), "{out}");
    s.feed(&format!("<iq type='result' id='{}'/>", iq_id(&out)));
    assert_eq!(s.client.roster().len(), 1);
}

#[test]
fn subscription_requests_are_events_and_answers_are_presences() {
    let mut s = online_with_prosody();
    s.feed("<presence from='bob@localhost' to='alice@localhost' type='subscribe'/>");
    let from = s
        .events
        .iter()
        .find_map(|e| match e {
            ClientEvent::SubscriptionRequest { from, .. } => Some(from.clone()),
            _ => None,
        })
        .expect("a subscription request");
    assert_eq!(from.as_str(), "bob@localhost");
    s.client.approve_subscription(s.now, &from).unwrap();
    let out = s.output();
    assert!(
        out.starts_with("<presence")
            && out.contains("type='subscribed'")
            && out.contains("to='bob@localhost'"),
        "{out}"
    );
    s.client.subscribe(s.now, &from).unwrap();
    assert!(s.output().contains("type='subscribe'"));

    // Contacts' presence is tracked per resource.
    s.feed("<presence from='bob@localhost/phone'><show>away</show></presence>");
    s.feed("<presence from='bob@localhost/laptop'/>");
    let resources: Vec<&str> = s
        .client
        .presences_of("bob@localhost")
        .map(|(r, _)| r)
        .collect();
    assert_eq!(resources, ["laptop", "phone"]);
    s.feed("<presence from='bob@localhost/phone' type='unavailable'/>");
    let resources: Vec<&str> = s
        .client
        .presences_of("bob@localhost")
        .map(|(r, _)| r)
        .collect();
    assert_eq!(resources, ["laptop"]);
}

#[test]
fn receipts_only_to_those_allowed_to_see_our_presence_when_asked_so() {
    let config =
        config(ClientTlsPolicy::RequireStartTls).with_receipts(ReceiptPolicy::ToPresenceAllowed);
    let mut s = log_in_to_prosody(Script::with_config(config));
    let ask = |from: &str, id: &str| {
        format!(
            "<message from='{from}' type='chat' id='{id}'><body>hi</body><request xmlns='urn:xmpp:receipts'/></message>"
        )
    };
    // A stranger learns nothing.
    let out = s.feed(&ask("eve@localhost/x", "m1"));
    assert!(!out.contains("received"), "{out}");
    // Our own account's other resources, and a contact with a 'from'
    // subscription, get receipts.
    assert!(
        s.feed(&ask("alice@localhost/phone", "m2"))
            .contains("received")
    );
    s.client.request_roster(s.now).unwrap();
    let out = s.output();
    s.feed(&format!(
        "<iq type='result' id='{}'><query xmlns='jabber:iq:roster'>\
         <item jid='bob@localhost' subscription='from'/><item jid='carol@localhost' subscription='to'/></query></iq>",
        iq_id(&out)
    ));
    assert!(
        s.feed(&ask("bob@localhost/phone", "m3"))
            .contains("received")
    );
    assert!(
        !s.feed(&ask("carol@localhost/phone", "m4"))
            .contains("received")
    );
    // Directed presence lets the addressee see us.
    let presence =
        xmpp_proto::stanza::Presence::builder(xmpp_proto::stanza::PresenceType::Available)
            .to("eve@localhost/x")
            .build();
    s.client.send(s.now, presence).unwrap();
    s.output();
    assert!(s.feed(&ask("eve@localhost/x", "m5")).contains("received"));
}

#[test]
fn discovery_version_and_caps_are_answered_by_default() {
    let mut s = online_with_prosody();
    let out = s.feed(
        "<iq from='bob@localhost/phone' type='get' id='d1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
    );
    assert!(
        out.contains("type='result'") && out.contains("id='d1'"),
        "{out}"
    );
    assert!(
        out.contains("<identity category='client' type='bot' name='xmpp-proto'/>"),
        "{out}"
    );
    for feature in [
        "http://jabber.org/protocol/disco#info",
        "http://jabber.org/protocol/caps",
        "urn:xmpp:ping",
        "urn:xmpp:receipts",
        "jabber:iq:version",
    ] {
        assert!(
            out.contains(&format!("var='{feature}'")),
            "{feature}: {out}"
        );
    }
    let out = s.feed(
        "<iq from='bob@localhost/phone' type='get' id='v1'><query xmlns='jabber:iq:version'/></iq>",
    );
    assert!(out.contains("<name>xmpp-proto</name>"), "{out}");

    // Presence carries the verification string, and a disco#info query
    // for that node is answered; another node is not found.
    s.client
        .send(s.now, Presence::builder(PresenceType::Available).build())
        .unwrap();
    let out = s.output();
    let ver = s.client.caps_ver();
    assert!(
        out.contains(&format!(
            "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='{DEFAULT_CAPS_NODE}' ver='{ver}'/>"
        )),
        "{out}"
    );
    let out = s.feed(&format!(
        "<iq from='bob@localhost/phone' type='get' id='d2'><query xmlns='http://jabber.org/protocol/disco#info' node='{DEFAULT_CAPS_NODE}#{ver}'/></iq>"
    ));
    assert!(out.contains("type='result'"), "{out}");
    let out = s.feed(&format!(
        "<iq from='bob@localhost/phone' type='get' id='d3'><query xmlns='http://jabber.org/protocol/disco#info' node='{DEFAULT_CAPS_NODE}#stale'/></iq>"
    ));
    assert!(out.contains("item-not-found"), "{out}");
}

#[test]
fn the_version_can_be_kept_private() {
    let config = config(ClientTlsPolicy::RequireStartTls).without_software_version();
    let mut s = log_in_to_prosody(Script::with_config(config));
    let out = s.feed(
        "<iq from='bob@localhost/phone' type='get' id='v1'><query xmlns='jabber:iq:version'/></iq>",
    );
    assert!(out.contains("service-unavailable"), "{out}");
    let out = s.feed(
        "<iq from='bob@localhost/phone' type='get' id='d1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
    );
    assert!(!out.contains("jabber:iq:version"), "{out}");
}

#[test]
fn a_peers_new_capabilities_are_asked_for_once_checked_and_kept() {
    let config = config(ClientTlsPolicy::RequireStartTls).with_peer_capabilities(true);
    let mut s = log_in_to_prosody(Script::with_config(config));
    // XEP-0115 §5.2's example entity.
    let caps = "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='http://code.google.com/p/exodus' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/>";
    let out = s.feed(&format!(
        "<presence from='bob@localhost/phone'>{caps}</presence>"
    ));
    assert!(
        out.contains("to='bob@localhost/phone'")
            && out.contains("node='http://code.google.com/p/exodus#QgayPKawpkPSDYmwT/WM94uAlu0='"),
        "{out}"
    );
    let id = text_between(&out, "id='", "'");
    s.feed(&format!(
        "<iq from='bob@localhost/phone' type='result' id='{id}'><query xmlns='http://jabber.org/protocol/disco#info' node='http://code.google.com/p/exodus#QgayPKawpkPSDYmwT/WM94uAlu0='>\
         <identity category='client' type='pc' name='Exodus 0.9.1'/>\
         <feature var='http://jabber.org/protocol/caps'/><feature var='http://jabber.org/protocol/disco#info'/>\
         <feature var='http://jabber.org/protocol/disco#items'/><feature var='http://jabber.org/protocol/muc'/></query></iq>"
    ));
    let features = s.client.features_of("bob@localhost/phone").expect("cached");
    assert!(
        features
            .iter()
            .any(|f| f == "http://jabber.org/protocol/muc")
    );
    // Another resource with the same string: known, nothing asked.
    let out = s.feed(&format!(
        "<presence from='bob@localhost/laptop'>{caps}</presence>"
    ));
    assert_eq!(out, "");
    assert!(s.client.features_of("bob@localhost/laptop").is_some());

    // An answer that does not match its string is not believed.
    let fake =
        "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='bm90IHRoZSBoYXNo'/>";
    let out = s.feed(&format!(
        "<presence from='eve@localhost/x'>{fake}</presence>"
    ));
    let id = text_between(&out, "id='", "'");
    s.feed(&format!(
        "<iq from='eve@localhost/x' type='result' id='{id}'><query xmlns='http://jabber.org/protocol/disco#info'>\
         <identity category='client' type='pc'/><feature var='urn:evil'/></query></iq>"
    ));
    assert!(s.client.features_of("eve@localhost/x").is_none());
}

/// The text between the first `start` and the next `end`.
fn text_between<'a>(s: &'a str, start: &str, end: &str) -> &'a str {
    let from = s.find(start).expect("start") + start.len();
    let rest = &s[from..];
    &rest[..rest.find(end).expect("end")]
}
