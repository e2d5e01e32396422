//! Scripted client bytes into a `Server`: what a bad or unusual client
//! gets, byte for byte where it matters.

use std::time::Duration;

use base64::Engine as _;
use xmpp_proto::endpoint::CloseReason;
use xmpp_proto::endpoint::Endpoint;
use xmpp_proto::endpoint::Transmit;
use xmpp_proto::server::{Server, ServerConfig, ServerEvent, ServerTimeouts, ServerTlsPolicy};
use xmpp_proto::stream_error::StreamErrorCondition;
use xmpp_proto::time::Time;
use xmpp_tests::{Pair, TestAccounts, fake_tls};

const HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>";

struct Script {
    server: Server,
    now: Time,
    events: Vec<ServerEvent>,
    accounts: TestAccounts,
}

impl Script {
    fn new(config: ServerConfig) -> Script {
        let now = Time::ZERO;
        Script {
            server: Server::new(config, now),
            now,
            events: Vec::new(),
            accounts: TestAccounts::with_user("juliet", "secret"),
        }
    }

    fn output(&mut self) -> String {
        let mut out = String::new();
        loop {
            while let Some(t) = self.server.poll_transmit() {
                match t {
                    Transmit::Data(d) => {
                        let n = d.len();
                        out.push_str(std::str::from_utf8(d).expect("UTF-8"));
                        self.server.consume_transmit(n);
                    }
                    Transmit::StartTls => out.push_str("[STARTTLS]"),
                    Transmit::Shutdown => out.push_str("[SHUTDOWN]"),
                }
            }
            let mut answered = false;
            while let Some(e) = self.server.poll_event() {
                if self.accounts.answer(&mut self.server, self.now, &e) {
                    answered = true;
                    continue;
                }
                if matches!(e, ServerEvent::BindRequest { .. }) {
                    self.server.accept_bind(self.now).expect("asked");
                    answered = true;
                }
                self.events.push(e);
            }
            if !answered {
                return out;
            }
        }
    }

    fn feed(&mut self, s: &str) -> String {
        let _ = self.server.handle_input(self.now, s.as_bytes());
        self.output()
    }

    fn tls_up(&mut self) -> String {
        self.server
            .handle_tls_established(self.now, fake_tls())
            .expect("TLS expected");
        self.output()
    }

    fn closed(&self) -> Option<&CloseReason> {
        self.events.iter().find_map(|e| match e {
            ServerEvent::Closed { reason } => Some(reason),
            _ => None,
        })
    }

    /// Through STARTTLS and PLAIN to a bound session.
    fn online(&mut self) -> String {
        self.feed(HEADER);
        self.feed("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        self.tls_up();
        self.feed(HEADER);
        let plain = base64::engine::general_purpose::STANDARD.encode(b"\0juliet\0secret");
        let out = self.feed(&format!(
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{plain}</auth>"
        ));
        assert!(out.contains("<success"), "{out}");
        self.feed(HEADER);
        let out = self.feed("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>balcony</resource></bind></iq>");
        assert!(
            out.contains("<jid>juliet@example.com/balcony</jid>"),
            "{out}"
        );
        assert!(self.server.is_online());
        out
    }
}

fn config() -> ServerConfig {
    Pair::server_config()
}

fn stream_error(condition: &str) -> String {
    format!(
        "<stream:error><{condition} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>[SHUTDOWN]"
    )
}

fn violation(s: &Script) -> StreamErrorCondition {
    match s.closed() {
        Some(CloseReason::ProtocolViolation { condition, .. }) => *condition,
        other => panic!("expected a protocol violation, got {other:?}"),
    }
}

#[test]
fn header_answer_and_features_in_order() {
    let mut s = Script::new(config());
    let out = s.feed(HEADER);
    assert!(
        out.starts_with("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='example.com' id='"),
        "{out}"
    );
    assert!(out.contains(&format!("id='{}'", s.server.stream_id().expect("an id"))));
    assert!(out.ends_with("<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>"));
    assert_eq!(
        s.feed("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"),
        "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>[STARTTLS]"
    );
    let first_id = s.server.stream_id().expect("id").to_owned();
    s.tls_up();
    let out = s.feed(HEADER);
    assert_ne!(s.server.stream_id(), Some(first_id.as_str()), "fresh id");
    let features = out.split_once("<stream:features>").expect("features").1;
    assert!(features.starts_with("<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-512-PLUS</mechanism>"), "{features}");
    assert!(features.contains("<mechanism>PLAIN</mechanism></mechanisms><sasl-channel-binding"));
    let plain = base64::engine::general_purpose::STANDARD.encode(b"\0juliet\0secret");
    s.feed(&format!(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{plain}</auth>"
    ));
    let out = s.feed(HEADER);
    assert!(out.ends_with("<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session><ver xmlns='urn:xmpp:features:rosterver'/><sub xmlns='urn:xmpp:features:pre-approval'/></stream:features>"), "{out}");
}

#[test]
fn legacy_session_iq_is_answered() {
    let mut s = Script::new(config());
    s.online();
    let out = s
        .feed("<iq type='set' id='s1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
    assert_eq!(
        out,
        "<iq to='juliet@example.com/balcony' id='s1' type='result'/>"
    );
}

/// RFC 3921 §3 defines the session request as an IQ of type `set`; a
/// `get` is not one (it goes to the application like any IQ, which
/// answers it with an error), as `negotiation::is_session_request` says.
#[test]
fn a_session_get_is_not_a_session_request() {
    let mut s = Script::new(config());
    s.online();
    s.events.clear();
    let out = s
        .feed("<iq type='get' id='s2'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
    assert_eq!(out, "", "not answered as a session request");
    assert!(matches!(
        s.events.as_slice(),
        [ServerEvent::Stanza(xmpp_proto::stanza::Stanza::Iq(_))]
    ));
}

/// The resource is the character data of `<resource/>` after
/// resourceprep (RFC 6120 §7.6, RFC 7622 §3.4): spaces around it are part
/// of it (Prosody and ejabberd do not trim either); an empty element
/// means "pick one for me".
#[test]
fn bind_keeps_spaces_in_the_resource() {
    for (requested, bound) in [
        (
            "<resource> balcony </resource>",
            Some("juliet@example.com/ balcony "),
        ),
        ("<resource/>", None),
    ] {
        let mut s = Script::new(config());
        s.feed(HEADER);
        s.feed("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        s.tls_up();
        s.feed(HEADER);
        let plain = base64::engine::general_purpose::STANDARD.encode(b"\0juliet\0secret");
        s.feed(&format!(
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{plain}</auth>"
        ));
        s.feed(HEADER);
        let out = s.feed(&format!(
            "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>{requested}</bind></iq>"
        ));
        let jid = s.server.jid().expect("bound").as_str().to_owned();
        match bound {
            Some(expected) => assert_eq!(jid, expected),
            None => assert!(
                jid.starts_with("juliet@example.com/") && jid.len() > 20,
                "{jid}"
            ),
        }
        assert!(out.contains(&format!("<jid>{jid}</jid>")), "{out}");
    }
}

#[test]
fn stanzas_get_the_session_address_as_from() {
    let mut s = Script::new(config());
    s.online();
    s.events.clear();
    s.feed("<message to='romeo@example.net' id='m1'><body>hi</body></message>");
    s.feed("<message from='juliet@example.com' to='romeo@example.net'/>");
    s.feed("<presence from='juliet@example.com/balcony'/>");
    let froms: Vec<_> = s
        .events
        .iter()
        .map(|e| match e {
            ServerEvent::Stanza(st) => st.from().map(str::to_owned),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        froms,
        vec![Some("juliet@example.com/balcony".to_owned()); 3]
    );
}

#[test]
fn spoofed_from_is_invalid_from() {
    let mut s = Script::new(config());
    s.online();
    let out = s.feed("<message from='romeo@example.com/orchard' to='nurse@example.com'/>");
    assert_eq!(out, stream_error("invalid-from"));
    assert_eq!(violation(&s), StreamErrorCondition::InvalidFrom);
    assert!(!s.events.iter().any(|e| matches!(e, ServerEvent::Stanza(_))));
}

#[test]
fn stanza_before_authentication_is_not_authorized() {
    let mut s = Script::new(config());
    s.feed(HEADER);
    let out = s.feed("<message to='romeo@example.net'><body>hi</body></message>");
    assert_eq!(out, stream_error("not-authorized"));
    assert_eq!(violation(&s), StreamErrorCondition::NotAuthorized);
}

#[test]
fn stanza_before_binding_is_not_authorized() {
    let mut s = Script::new(config());
    s.feed(HEADER);
    s.feed("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    s.tls_up();
    s.feed(HEADER);
    let plain = base64::engine::general_purpose::STANDARD.encode(b"\0juliet\0secret");
    s.feed(&format!(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{plain}</auth>"
    ));
    s.feed(HEADER);
    let out = s.feed("<message to='romeo@example.net'><body>hi</body></message>");
    assert_eq!(out, stream_error("not-authorized"));
    assert_eq!(violation(&s), StreamErrorCondition::NotAuthorized);
}

#[test]
fn plain_without_tls_is_encryption_required() {
    let mut s = Script::new(config().with_tls(ServerTlsPolicy::Disabled));
    s.feed(HEADER);
    // SCRAM without TLS is allowed here; PLAIN is not.
    let plain = base64::engine::general_purpose::STANDARD.encode(b"\0juliet\0secret");
    let out = s.feed(&format!(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{plain}</auth>"
    ));
    assert_eq!(
        out,
        "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><encryption-required/></failure>"
    );
}

#[test]
fn unknown_top_level_element_is_unsupported_stanza_type() {
    let mut s = Script::new(config());
    s.online();
    let out = s.feed("<enable xmlns='urn:xmpp:sm:3'/>");
    assert_eq!(out, stream_error("unsupported-stanza-type"));
    let mut s = Script::new(config());
    s.online();
    let out = s.feed("<chat/>");
    assert_eq!(out, stream_error("unsupported-stanza-type"));
}

#[test]
fn invalid_iq_gets_bad_request() {
    let mut s = Script::new(config());
    s.online();
    let out = s.feed("<iq type='get' id='x'/>");
    assert_eq!(
        out,
        "<iq to='juliet@example.com/balcony' id='x' type='error'><error type='modify'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
    );
    assert!(s.server.is_online());
}

#[test]
fn auth_without_tls_when_required_is_policy_violation() {
    let mut s = Script::new(config());
    s.feed(HEADER);
    let out = s.feed("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'/>");
    assert_eq!(out, stream_error("policy-violation"));
}

#[test]
fn plaintext_after_proceed_is_injection() {
    let mut s = Script::new(config());
    s.feed(HEADER);
    // The attacker's bytes arrive in the same read as <starttls/>.
    let out = s.feed("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</auth>");
    assert_eq!(
        out,
        "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>[STARTTLS][SHUTDOWN]"
    );
    assert_eq!(s.closed(), Some(&CloseReason::StartTlsInjection));
}

#[test]
fn a_newline_after_starttls_in_the_same_write_is_no_injection() {
    // go-sendxmpp writes "<starttls/>\n" at once.
    let mut s = Script::new(config());
    s.feed(HEADER);
    let out = s.feed("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>\r\n");
    assert_eq!(
        out,
        "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>[STARTTLS]"
    );
    assert_eq!(s.closed(), None);
    s.tls_up();
    let out = s.feed(HEADER);
    assert!(out.contains("<mechanisms"), "{out}");
}

#[test]
fn a_stream_header_from_the_domain_is_ignored_not_an_invalid_from() {
    // Net::XMPP (sendxmpp) names the server's domain as `from` of every
    // header, also after SASL.
    let mut s = Script::new(config());
    let from_domain = HEADER.replace("to='example.com'", "to='example.com' from='example.com'");
    s.feed(&from_domain);
    s.feed("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    s.tls_up();
    s.feed(&from_domain);
    let plain = base64::engine::general_purpose::STANDARD.encode(b"\0juliet\0secret");
    let out = s.feed(&format!(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{plain}</auth>"
    ));
    assert!(out.contains("<success"), "{out}");
    let out = s.feed(&from_domain);
    assert!(out.contains("<bind"), "{out}");
    // Another account's address there is still refused.
    let romeo = HEADER.replace(
        "to='example.com'",
        "to='example.com' from='romeo@example.com'",
    );
    let mut s2 = Script::new(config());
    s2.feed(HEADER);
    s2.feed("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    s2.tls_up();
    s2.feed(HEADER);
    s2.feed(&format!(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{plain}</auth>"
    ));
    let out = s2.feed(&romeo);
    assert!(out.ends_with(&stream_error("invalid-from")), "{out}");
}

#[test]
fn starttls_where_not_offered_fails() {
    let mut s = Script::new(config());
    s.feed(HEADER);
    s.feed("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    s.tls_up();
    s.feed(HEADER);
    let out = s.feed("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    assert_eq!(
        out,
        "<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>[SHUTDOWN]"
    );
    assert_eq!(s.closed(), Some(&CloseReason::StartTlsRefused));
}

#[test]
fn wrong_domain_is_host_unknown_after_our_header() {
    let mut s = Script::new(config());
    let out = s.feed(&HEADER.replace("example.com", "example.org"));
    assert!(
        out.starts_with("<?xml version='1.0'?><stream:stream"),
        "{out}"
    );
    assert!(out.ends_with(&stream_error("host-unknown")), "{out}");
}

#[test]
fn bad_namespace_and_version() {
    let mut s = Script::new(config());
    let out = s.feed(&HEADER.replace("jabber:client", "jabber:server"));
    assert!(out.ends_with(&stream_error("invalid-namespace")), "{out}");
    let mut s = Script::new(config());
    let out = s.feed(&HEADER.replace("to='example.com' version='1.0'", "to='example.com'"));
    assert!(out.ends_with(&stream_error("unsupported-version")), "{out}");
}

#[test]
fn too_many_failed_logins_is_policy_violation() {
    let mut s = Script::new(config().with_max_auth_attempts(2));
    s.feed(HEADER);
    s.feed("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    s.tls_up();
    s.feed(HEADER);
    let bad = base64::engine::general_purpose::STANDARD.encode(b"\0juliet\0nope");
    let auth =
        format!("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{bad}</auth>");
    assert_eq!(
        s.feed(&auth),
        "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>"
    );
    let out = s.feed(&auth);
    assert!(out.ends_with(&stream_error("policy-violation")), "{out}");
}

#[test]
fn oversized_stanza_is_policy_violation() {
    let mut s = Script::new(config());
    s.online();
    let body = "x".repeat(300 * 1024);
    let out = s.feed(&format!("<message><body>{body}</body></message>"));
    assert_eq!(out, stream_error("policy-violation"));
}

#[test]
fn limits_are_smaller_before_authentication() {
    // 40 KiB in one element: refused from a client that has not logged
    // in (nothing it needs to send is that large)...
    let big = format!(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{}</auth>",
        "A".repeat(40 * 1024)
    );
    let mut s = Script::new(config());
    s.feed(HEADER);
    s.feed("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    s.tls_up();
    s.feed(HEADER);
    let out = s.feed(&big);
    assert!(out.ends_with(&stream_error("policy-violation")), "{out}");
    // ...and so is a deep element.
    let mut s = Script::new(config());
    let deep = format!("{}{}", "<x>".repeat(10), "</x>".repeat(10));
    s.feed(HEADER);
    let out = s.feed(&deep);
    assert!(out.ends_with(&stream_error("policy-violation")), "{out}");

    // Once authenticated, the same size is an ordinary stanza.
    let mut s = Script::new(config());
    s.online();
    let body = "x".repeat(40 * 1024);
    let out = s.feed(&format!(
        "<message to='juliet@example.com/balcony' id='m1'><body>{body}</body></message>"
    ));
    assert!(
        !out.contains("policy-violation"),
        "{}",
        &out[..out.len().min(200)]
    );
    assert!(s.server.is_online());
}

#[test]
fn slow_negotiation_is_connection_timeout() {
    let mut s = Script::new(config());
    s.feed(HEADER);
    let deadline = s.server.poll_timeout().expect("negotiation timer");
    assert_eq!(deadline, s.now + Duration::from_secs(30));
    s.now = deadline;
    s.server.handle_timeout(s.now);
    assert_eq!(s.output(), stream_error("connection-timeout"));
    assert_eq!(s.closed(), Some(&CloseReason::NegotiationTimeout));
    // Before any header: ours comes first.
    let mut s = Script::new(config());
    s.now += Duration::from_secs(61);
    s.server.handle_timeout(s.now);
    let out = s.output();
    assert!(
        out.starts_with("<?xml version='1.0'?><stream:stream"),
        "{out}"
    );
    assert!(out.ends_with(&stream_error("connection-timeout")));
}

#[test]
fn online_sessions_have_no_negotiation_timer_only_the_probe() {
    let mut s = Script::new(config());
    s.online();
    let probe = ServerTimeouts::default()
        .probe_after
        .expect("on by default");
    let due = s.now + probe;
    assert_eq!(s.server.poll_timeout(), Some(due));
    // Input does not move the deadline (a transport's timer heap would
    // churn once per read); the timer re-arms itself when it fires.
    s.now += Duration::from_secs(10);
    s.feed(" ");
    assert_eq!(s.server.poll_timeout(), Some(due));
    s.now = due;
    s.server.handle_timeout(s.now);
    assert_eq!(s.output(), "", "heard from 10 s in: no probe yet");
    assert_eq!(s.server.poll_timeout(), Some(due + Duration::from_secs(10)));
    let mut s = Script::new(config().with_timeouts({
        let mut t = ServerTimeouts::default();
        t.probe_after = None;
        t
    }));
    s.online();
    assert_eq!(s.server.poll_timeout(), None);
}

#[test]
fn commands_out_of_turn_are_refused() {
    use xmpp_proto::CommandError;
    let mut s = Script::new(config());
    let now = s.now;
    assert_eq!(s.server.accept_bind(now), Err(CommandError::NotAsked));
    assert_eq!(s.server.accept_auth(now), Err(CommandError::NotAsked));
    assert_eq!(
        s.server.send(
            now,
            xmpp_proto::xml::Element::builder("message", "jabber:client").build()
        ),
        Err(CommandError::NotOnline)
    );
}

/// Logs in by PLAIN as `user` after STARTTLS; the server's answer.
fn plain_login(s: &mut Script, user: &str) -> String {
    s.feed(HEADER);
    s.feed("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    s.tls_up();
    s.feed(HEADER);
    let plain = base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0secret"));
    s.feed(&format!(
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{plain}</auth>"
    ))
}

#[test]
fn the_sasl_username_is_prepared_like_a_localpart() {
    // The store knows `juliet`; `Juliet` is the same account (nodeprep
    // folds case), and the session is bound as `juliet`.
    let mut s = Script::new(config());
    assert!(plain_login(&mut s, "Juliet").contains("<success"));
    s.feed(HEADER);
    let out = s.feed("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>");
    assert!(out.contains("<jid>juliet@example.com/r</jid>"), "{out}");

    // A name no localpart can have is refused like a wrong password,
    // without a question to the store.
    let mut s = Script::new(config());
    assert_eq!(
        plain_login(&mut s, "jul iet"),
        "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>"
    );
    assert!(
        !s.events
            .iter()
            .any(|e| matches!(e, ServerEvent::Authenticate { .. })),
        "{:?}",
        s.events
    );
}
