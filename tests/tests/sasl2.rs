//! Extensible SASL (XEP-0388) between our client and our server: Bind 2
//! (XEP-0386) with inline stream management, inline resumption
//! (XEP-0198), FAST tokens (XEP-0484) requested, used, renewed, refused
//! and invalidated, and the classic login where SASL2 is not offered.

use xmpp_proto::client::{ClientConfig, ClientEvent, FastCredentials};
use xmpp_proto::endpoint::CloseReason;
use xmpp_proto::negotiation::UserAgent;
use xmpp_proto::sasl::{Credentials, Mechanism};
use xmpp_proto::server::{ServerConfig, ServerEvent};
use xmpp_proto::sm::SmConfig;
use xmpp_proto::stanza::{Message, MessageType};
use xmpp_tests::{Network, Pair, TestAccounts};

const AGENT: &str = "d4565fa7-4d72-4749-b3d3-740edbf87770";

fn client() -> ClientConfig {
    Pair::client_config("juliet", "secret")
        .with_user_agent(UserAgent::new(AGENT).with_software("Balcony"))
        .with_stream_management(SmConfig::default())
}

fn server() -> ServerConfig {
    Pair::server_config()
        .with_stream_management(SmConfig::default())
        .with_fast(true)
}

fn sent(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn fast_token(pair: &Pair) -> Option<(FastCredentials, String)> {
    pair.client_events.iter().rev().find_map(|e| match e {
        ClientEvent::FastToken {
            credentials,
            expiry,
        } => Some((credentials.clone(), expiry.clone())),
        _ => None,
    })
}

/// A pair whose server shares `accounts` (and so its FAST tokens).
fn pair_with(client: ClientConfig, server: ServerConfig, accounts: &TestAccounts) -> Pair {
    let mut pair = Pair::new(client, server);
    pair.accounts = accounts.clone();
    pair.run();
    pair
}

#[test]
fn one_exchange_authenticates_binds_and_enables_stream_management() {
    let mut pair = Pair::new(client(), server());
    pair.run();
    assert!(pair.is_online(), "{:?}", pair.client_events);
    let jid = pair.client.jid().expect("bound").clone();
    assert!(
        jid.resourcepart().starts_with("Balcony~"),
        "the tag starts the resource: {jid}"
    );
    assert!(pair.client.sm_enabled() && pair.client.sm_id().is_some());
    assert!(pair.server.sm_enabled());
    let client_sent = sent(&pair.client_bytes);
    assert!(client_sent.contains("<authenticate xmlns='urn:xmpp:sasl:2'"));
    // Nothing after the SASL exchange: no restart, bind IQ or <enable/>.
    let after_auth = &client_sent[client_sent.rfind("<response").unwrap_or(0)..];
    assert!(!after_auth.contains("<stream:stream"), "{after_auth}");
    assert!(!client_sent.contains("urn:ietf:params:xml:ns:xmpp-bind"));
    assert_eq!(client_sent.matches("<enable ").count(), 1, "inside <bind/>");
    let server_sent = sent(&pair.server_bytes);
    assert!(server_sent.contains(&format!(
        "<authorization-identifier>{jid}</authorization-identifier>"
    )));
    assert!(
        pair.server_events
            .iter()
            .any(|e| matches!(e, ServerEvent::Online { jid: j } if *j == jid))
    );
}

#[test]
fn the_classic_login_is_used_where_sasl2_is_not_offered() {
    let mut pair = Pair::new(client(), server().with_sasl2(false));
    pair.run();
    assert!(pair.is_online(), "{:?}", pair.client_events);
    let client_sent = sent(&pair.client_bytes);
    assert!(client_sent.contains("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'"));
    assert!(!client_sent.contains("urn:xmpp:sasl:2"));
    assert!(pair.client.sm_enabled(), "enabled after the classic bind");
    // And a client told not to use SASL2 does not, where it is offered.
    let mut pair = Pair::new(client().without_sasl2(), server());
    pair.run();
    assert!(pair.is_online());
    assert!(!sent(&pair.client_bytes).contains("<authenticate"));
}

#[test]
fn a_resource_of_the_applications_choice_is_bound_after_sasl2() {
    let mut pair = Pair::new(client().with_resource("balcony"), server());
    pair.run();
    assert!(pair.is_online(), "{:?}", pair.client_events);
    assert_eq!(pair.client.jid().unwrap().resourcepart(), "balcony");
    let client_sent = sent(&pair.client_bytes);
    assert!(client_sent.contains("<authenticate xmlns='urn:xmpp:sasl:2'"));
    assert!(client_sent.contains("urn:ietf:params:xml:ns:xmpp-bind"));
    // Two stream headers, before and after STARTTLS: SASL2 does not
    // restart the stream.
    assert_eq!(client_sent.matches("<stream:stream").count(), 2);
}

#[test]
fn a_fast_token_logs_in_without_the_password_and_is_renewed() {
    let accounts = TestAccounts::with_user("juliet", "secret");
    let first = pair_with(client().with_fast_token_request(true), server(), &accounts);
    assert!(first.is_online());
    let (token, expiry) = fast_token(&first).expect("a token was issued");
    assert_eq!(
        token.mechanism,
        Mechanism::HtSha256Expr,
        "the strongest binding"
    );
    assert_eq!(expiry, "2030-01-01T00:00:00Z");

    // No password at all: only the token can log in.
    let tokened = || {
        client()
            .with_credentials(no_password())
            .with_fast_token(token.clone())
    };
    let second = pair_with(tokened(), server(), &accounts);
    assert!(second.is_online(), "{:?}", second.client_events);
    let client_sent = sent(&second.client_bytes);
    assert!(client_sent.contains("mechanism='HT-SHA-256-EXPR'"));
    assert!(client_sent.contains("<fast xmlns='urn:xmpp:fast:0'/>"));
    assert!(
        !client_sent.contains("<response"),
        "one message each way: {client_sent}"
    );
    assert!(second.server_events.iter().any(|e| matches!(
        e,
        ServerEvent::Authenticated {
            mechanism: Mechanism::HtSha256Expr,
            ..
        }
    )));
    // Renewed at each use; the used token still works once more, in case
    // the renewal was lost with the connection.
    let (renewed, _) = fast_token(&second).expect("renewed");
    assert_ne!(renewed.token, token.token);
    let third = pair_with(tokened(), server(), &accounts);
    assert!(third.is_online(), "the replaced token, once more");
    // That login's renewal supersedes the second's.
    let (latest, _) = fast_token(&third).expect("renewed again");
    let with = |token: FastCredentials| {
        client()
            .with_credentials(no_password())
            .with_fast_token(token)
    };
    let stale = pair_with(with(renewed), server(), &accounts);
    assert!(!stale.client.is_online(), "superseded");
    let fourth = pair_with(with(latest), server(), &accounts);
    assert!(fourth.is_online(), "the renewed token");

    // Knowing the server's offer, the login goes right behind the header.
    let offer = fourth.client.sasl2_offer().cloned().expect("seen");
    let (latest, _) = fast_token(&fourth).expect("renewed");
    let ahead = pair_with(
        with(latest).with_known_sasl2_offer(offer),
        server(),
        &accounts,
    );
    assert!(ahead.is_online(), "{:?}", ahead.client_events);
    let client_sent = sent(&ahead.client_bytes);
    let after_tls = &client_sent[client_sent.rfind("<stream:stream").unwrap()..];
    let header_end = after_tls.find('>').unwrap() + 1;
    assert!(
        after_tls[header_end..].starts_with("<authenticate"),
        "sent with the header: {after_tls}"
    );
}

fn no_password() -> Credentials {
    // A username only: FAST needs nothing else.
    Credentials::from_cached_keys(
        "juliet",
        xmpp_proto::sasl::ScramKeys::from_password(
            xmpp_proto::sasl::ScramHash::Sha1,
            "not-the-password",
            b"another-salt",
            xmpp_proto::sasl::Iterations(4096),
        )
        .expect("keys"),
    )
}

#[test]
fn a_refused_token_is_reported_and_the_password_used_instead() {
    let accounts = TestAccounts::with_user("juliet", "secret");
    let forged = FastCredentials {
        mechanism: Mechanism::HtSha256Expr,
        token: "token-never-issued".into(),
    };
    let pair = pair_with(
        client().with_fast_token(forged.clone()),
        server(),
        &accounts,
    );
    assert!(pair.is_online(), "{:?}", pair.client_events);
    assert!(pair.client_events.contains(&ClientEvent::FastTokenRejected));
    assert!(sent(&pair.client_bytes).contains("mechanism='SCRAM-SHA-"));

    // Without a password, the refusal ends the login.
    let pair = pair_with(
        client()
            .with_credentials(no_password())
            .with_fast_token(forged),
        server(),
        &accounts,
    );
    assert!(!pair.client.is_online());
    assert!(pair.client_events.contains(&ClientEvent::FastTokenRejected));
    assert!(matches!(
        pair.client_closed(),
        Some(CloseReason::AuthenticationFailed { .. })
    ));
}

#[test]
fn a_token_is_bound_to_its_user_agent_and_can_be_invalidated() {
    let accounts = TestAccounts::with_user("juliet", "secret");
    let first = pair_with(client().with_fast_token_request(true), server(), &accounts);
    let (token, _) = fast_token(&first).expect("issued");
    // Another installation cannot use it.
    let thief = client()
        .with_user_agent(UserAgent::new("another-agent"))
        .with_credentials(no_password())
        .with_fast_token(token.clone());
    let stolen = pair_with(thief, server(), &accounts);
    assert!(!stolen.client.is_online());
    // Without FAST offered, the token is not tried at all.
    let plain = pair_with(
        client().with_fast_token(token.clone()),
        server().with_fast(false),
        &accounts,
    );
    assert!(plain.is_online());
    assert!(!sent(&plain.client_bytes).contains("HT-SHA-256"));

    // Logging out for good: the server forgets every token of the agent.
    assert!(!accounts.fast_tokens.lock().unwrap().kept.is_empty());
    let last = client()
        .with_credentials(no_password())
        .with_fast_token(token)
        .with_fast_token_invalidation(true);
    let revoked = pair_with(last, server(), &accounts);
    assert!(revoked.is_online(), "{:?}", revoked.client_events);
    assert!(sent(&revoked.client_bytes).contains("invalidate='true'"));
    assert!(revoked.server_events.iter().any(|e| matches!(
        e,
        ServerEvent::FastTokensRevoked { user_agent, .. } if user_agent == AGENT
    )));
    assert!(accounts.fast_tokens.lock().unwrap().kept.is_empty());
    assert!(fast_token(&revoked).is_none(), "no renewal on the way out");
}

#[test]
fn inline_resumption_brings_back_what_was_missed() {
    let server =
        || Pair::server_config().with_stream_management(SmConfig::default().with_max(Some(60)));
    let mut net = Network::with_defaults();
    let romeo = net.connect_to(Pair::client_config("romeo", "secret"), server());
    let juliet = net.connect_to(client(), server());
    assert!(net.client(juliet).sm_enabled());
    let juliet_jid = net.client(juliet).jid().unwrap().to_string();
    net.cut(juliet);
    let now = net.now;
    let message = Message::builder(MessageType::Chat)
        .to(&juliet_jid)
        .body("while you were away")
        .build();
    net.client(romeo).send(now, message).expect("online");
    net.run();
    let state = net
        .pair(juliet)
        .client_events
        .iter()
        .find_map(|e| match e {
            ClientEvent::Resumable(s) => Some((**s).clone()),
            _ => None,
        })
        .expect("resumable");
    let back = net.connect_to(client().with_resumption(state), server());
    assert!(
        net.pair(back)
            .client_events
            .iter()
            .any(|e| matches!(e, ClientEvent::Resumed { .. })),
        "{:?}",
        net.pair(back).client_events
    );
    assert_eq!(net.bodies(back), ["while you were away"]);
    let client_sent = sent(&net.pair(back).client_bytes);
    let authenticate = &client_sent[client_sent.find("<authenticate").expect("SASL2")..];
    assert!(
        authenticate.contains("<resume xmlns='urn:xmpp:sm:3'"),
        "inline: {client_sent}"
    );
    assert_eq!(
        client_sent.matches("<stream:stream").count(),
        2,
        "no restart"
    );
}

/// What Prosody's SASL2 modules send, byte for byte in shape: the
/// authorization identifier last in `<success/>`, `resume='1'`, and the
/// post-login `<stream:features/>` with the classic bind, which an online
/// client ignores.
#[test]
fn a_prosody_shaped_success_brings_the_client_online() {
    use xmpp_proto::client::{Client, ClientTlsPolicy};
    use xmpp_proto::endpoint::{Endpoint, Transmit};
    use xmpp_proto::time::Time;
    let config = Pair::client_config("alice", "pw")
        .with_tls(ClientTlsPolicy::Direct)
        .with_stream_management(SmConfig::default());
    let mut client = Client::new(config, Time::ZERO);
    while let Some(t) = client.poll_transmit() {
        if let Transmit::Data(d) = t {
            let n = d.len();
            client.consume_transmit(n);
        }
    }
    client
        .handle_tls_established(Time::ZERO, xmpp_tests::fake_tls())
        .unwrap();
    let server = "<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' \
        version='1.0' from='example.com' id='s1' xmlns='jabber:client'>\
        <stream:features><authentication xmlns='urn:xmpp:sasl:2'><mechanism>PLAIN</mechanism>\
        <inline><bind xmlns='urn:xmpp:bind:0'><inline><feature var='urn:xmpp:sm:3'/>\
        <feature var='urn:xmpp:sm:3'/></inline></bind><sm xmlns='urn:xmpp:sm:3'/></inline>\
        </authentication></stream:features>\
        <success xmlns='urn:xmpp:sasl:2'><bound xmlns='urn:xmpp:bind:0'>\
        <enabled xmlns='urn:xmpp:sm:3' id='sm-1' resume='1' max='600'/></bound>\
        <authorization-identifier>alice@example.com/xmpp-proto~AbC+/1</authorization-identifier>\
        </success><stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><required/></bind>\
        <session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session></stream:features>";
    let _ = client.handle_input(Time::ZERO, server.as_bytes());
    assert!(client.is_online(), "{:?}", client.close_reason());
    assert_eq!(
        client.jid().unwrap().as_str(),
        "alice@example.com/xmpp-proto~AbC+/1"
    );
    assert_eq!(client.sm_id(), Some("sm-1"));
}
