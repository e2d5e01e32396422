//! XEP-0198 stream management between our client and our server, through
//! the in-memory network: acknowledgements, wraparound, resumption after a
//! cut at every byte of an exchange, refused resumptions, expiry, hostile
//! counts, and random schedules of sends, cuts and reconnects.

use std::sync::Mutex;
use std::time::Duration;

use proptest::prelude::*;
use xmpp_proto::client::ClientEvent;
use xmpp_proto::client::{self, ClientConfig};
use xmpp_proto::endpoint::CloseReason;
use xmpp_proto::endpoint::Endpoint;
use xmpp_proto::hub::Hub;
use xmpp_proto::jid::FullJid;
use xmpp_proto::router::{OfflinePolicy, SessionId};
use xmpp_proto::sasl::{Credentials, Iterations, ScramHash, ScramKeys};
use xmpp_proto::server::ServerConfig;
use xmpp_proto::sm::{Handled, SmConfig, SmSession, Unacked};
use xmpp_proto::stanza::{Message, MessageType, Presence, PresenceType};
use xmpp_tests::{DOMAIN, Network, Pair, TestAccounts};

fn server_config() -> ServerConfig {
    Pair::server_config().with_stream_management(SmConfig::default().with_max(Some(60)))
}

/// `user`'s client, logging in with SCRAM keys derived once per user and
/// process (no PBKDF2 per login: that made this file slow).
fn client_config(user: &str) -> ClientConfig {
    static KEYS: Mutex<Vec<(String, ScramKeys)>> = Mutex::new(Vec::new());
    let keys = {
        let mut cache = KEYS.lock().unwrap_or_else(|e| e.into_inner());
        match cache.iter().find(|(u, _)| u == user) {
            Some((_, keys)) => keys.clone(),
            None => {
                // The salt and iterations `TestAccounts` stores for `user`.
                let keys = ScramKeys::from_password(
                    ScramHash::Sha512,
                    "secret",
                    format!("salt-of-{user}-0123456789").as_bytes(),
                    Iterations(TestAccounts::ITERATIONS),
                )
                .expect("a valid password");
                cache.push((user.to_owned(), keys.clone()));
                keys
            }
        }
    };
    Pair::client_config(user, "secret")
        .with_credentials(Credentials::new(user, "secret").with_cached_keys(keys))
        .with_resource("r")
        .with_stream_management(SmConfig::default())
}

fn full(user: &str) -> String {
    format!("{user}@{DOMAIN}/r")
}

/// Logs `user` in with stream management and sends initial presence.
fn login(net: &mut Network, config: ClientConfig) -> SessionId {
    let id = net.connect_to(config, server_config());
    assert!(net.client(id).sm_enabled(), "stream management is on");
    let now = net.now;
    net.client(id)
        .send(now, Presence::builder(PresenceType::Available).build())
        .expect("online");
    net.run();
    id
}

fn send(net: &mut Network, from: SessionId, to: &str, body: &str) -> bool {
    let now = net.now;
    let msg = Message::builder(MessageType::Chat)
        .to(to)
        .body(body)
        .build();
    let ok = net.client(from).send(now, msg).is_ok();
    net.run();
    ok
}

fn resumable(net: &mut Network, id: SessionId) -> Option<SmSession> {
    net.pair(id).client_events.iter().find_map(|e| match e {
        ClientEvent::Resumable(s) => Some((**s).clone()),
        _ => None,
    })
}

fn undelivered(net: &mut Network, id: SessionId) -> Vec<String> {
    net.pair(id)
        .client_events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Undelivered { stanzas } => Some(stanzas.clone()),
            _ => None,
        })
        .flatten()
        .filter_map(|el| {
            Message::from_element(el)
                .ok()?
                .body()
                .map(|b| b.into_owned())
        })
        .collect()
}

fn resumed(net: &mut Network, id: SessionId) -> bool {
    net.pair(id)
        .client_events
        .iter()
        .any(|e| matches!(e, ClientEvent::Resumed { .. }))
}

#[test]
fn acknowledgements_empty_both_queues() {
    let mut net = Network::with_defaults();
    let juliet = login(&mut net, client_config("juliet"));
    let romeo = login(&mut net, client_config("romeo"));
    for i in 0..12 {
        assert!(send(&mut net, juliet, &full("romeo"), &i.to_string()));
    }
    // With the initial presence, 13 stanzas: <r/> went after the 5th and
    // 10th; three wait for the 5 s timer.
    assert_eq!(net.client(juliet).sm_unacked(), Some(3));
    net.advance(Duration::from_secs(6));
    assert_eq!(net.client(juliet).sm_unacked(), Some(0));
    assert_eq!(net.server(romeo).sm_unacked(), Some(0));
    let expected: Vec<String> = (0..12).map(|i| i.to_string()).collect();
    assert_eq!(net.bodies(romeo), expected);
}

#[test]
fn counters_wrap_at_2_pow_32() {
    let mut net = Network::with_defaults();
    let romeo = login(&mut net, client_config("romeo"));
    // A detached juliet whose counters are just below 2^32 both ways.
    let jid = FullJid::new(&full("juliet")).unwrap();
    let ghost = SessionId(1000);
    let near = u32::MAX - 2;
    let server_side = SmSession::new(
        Some("wrap".into()),
        jid.clone(),
        Handled::starting_at(near),
        Unacked::starting_at(100, near),
    );
    let client_side = SmSession::new(
        Some("wrap".into()),
        jid,
        Handled::starting_at(near),
        Unacked::starting_at(100, near),
    );
    let mut server_side = server_side;
    server_side.max = Some(60);
    let now = net.now;
    assert!(net.hub.restore_detached(now, ghost, server_side));
    let juliet = net.connect_to(
        client_config("juliet").with_resumption(client_side),
        server_config(),
    );
    assert!(resumed(&mut net, juliet));
    let now = net.now;
    net.client(juliet)
        .send(now, Presence::builder(PresenceType::Available).build())
        .unwrap();
    net.run();
    for i in 0..8 {
        assert!(send(&mut net, juliet, &full("romeo"), &format!("j{i}")));
        assert!(send(&mut net, romeo, &full("juliet"), &format!("r{i}")));
    }
    net.advance(Duration::from_secs(6));
    assert_eq!(net.client(juliet).sm_unacked(), Some(0));
    assert_eq!(net.server(juliet).sm_unacked(), Some(0));
    assert!(net.pair(juliet).client_closed().is_none());
    assert_eq!(net.bodies(romeo).len(), 8);
    assert_eq!(net.bodies(juliet).len(), 8);
}

/// What one run of [`exchange_with_cut`] saw.
struct Exchange {
    /// Message bodies romeo received, in order.
    got: Vec<String>,
    /// How many times juliet resumed.
    resumes: usize,
    /// Bytes juliet's first connection carried after login, from her
    /// client and from her server side.
    client_bytes: usize,
    server_bytes: usize,
}

/// Sends `count` numbered messages from juliet to romeo, cutting juliet's
/// connection once after `client_bytes` bytes from her client or
/// `server_bytes` from her server side (counted from the end of her
/// login), resuming whenever it is cut, then lets the acknowledgements
/// settle.
fn exchange_with_cut(
    count: usize,
    client_bytes: Option<usize>,
    server_bytes: Option<usize>,
) -> Exchange {
    let mut net = Network::with_defaults();
    let romeo = login(&mut net, client_config("romeo"));
    let first = login(&mut net, client_config("juliet"));
    let mut juliet = first;
    let start = (
        net.pair(first).client_bytes.len(),
        net.pair(first).server_bytes.len(),
    );
    net.pair(juliet).client_budget = client_bytes;
    net.pair(juliet).server_budget = server_bytes;
    let mut resumes = 0;
    let mut i = 0;
    while i < count {
        if net.client(juliet).is_closed() {
            let state = resumable(&mut net, juliet).expect("a resumable session");
            juliet = net.connect_to(
                client_config("juliet").with_resumption(state),
                server_config(),
            );
            assert!(resumed(&mut net, juliet), "resumed");
            resumes += 1;
            continue;
        }
        if send(&mut net, juliet, &full("romeo"), &i.to_string()) {
            i += 1;
        }
    }
    net.advance(Duration::from_secs(6));
    if net.client(juliet).is_closed() {
        let state = resumable(&mut net, juliet).expect("a resumable session");
        juliet = net.connect_to(
            client_config("juliet").with_resumption(state),
            server_config(),
        );
        assert!(resumed(&mut net, juliet));
        resumes += 1;
        net.advance(Duration::from_secs(6));
    }
    assert_eq!(net.client(juliet).sm_unacked(), Some(0));
    Exchange {
        got: net.bodies(romeo),
        resumes,
        client_bytes: net.pair(first).client_bytes.len() - start.0,
        server_bytes: net.pair(first).server_bytes.len() - start.1,
    }
}

/// Runs `check(n)` for every `n` in `0..total`, spread over the cores.
fn on_all_cores(total: usize, check: impl Fn(usize) + Sync) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        for first in 0..threads {
            let check = &check;
            scope.spawn(move || (first..total).step_by(threads).for_each(check));
        }
    });
}

#[test]
fn resume_after_a_cut_at_every_byte_of_an_exchange() {
    let count = 12;
    let expected: Vec<String> = (0..count).map(|i| i.to_string()).collect();
    let uncut = exchange_with_cut(count, None, None);
    assert_eq!((&uncut.got, uncut.resumes), (&expected, 0));
    // Enough bytes for 12 messages and the <r/> and <a/> between them.
    assert!(uncut.client_bytes > 12 * 50, "{}", uncut.client_bytes);
    assert!(uncut.server_bytes > 3 * 20, "{}", uncut.server_bytes);
    // Runs are deterministic, so a cut after n < total bytes of either
    // stream falls inside the same exchange: before, inside and after
    // every stanza, <r/> and <a/>. Each such cut must be noticed and
    // resumed from exactly once, and lose or repeat nothing.
    on_all_cores(uncut.client_bytes, |cut| {
        let run = exchange_with_cut(count, Some(cut), None);
        assert_eq!(run.got, expected, "client cut after {cut} bytes");
        assert_eq!(run.resumes, 1, "client cut after {cut} bytes");
        assert_eq!(run.client_bytes, cut, "the cut came after {cut} bytes");
    });
    on_all_cores(uncut.server_bytes, |cut| {
        let run = exchange_with_cut(count, None, Some(cut));
        assert_eq!(run.got, expected, "server cut after {cut} bytes");
        assert_eq!(run.resumes, 1, "server cut after {cut} bytes");
        assert_eq!(run.server_bytes, cut, "the cut came after {cut} bytes");
    });
    // A budget as large as the whole exchange cuts nothing.
    let run = exchange_with_cut(count, Some(uncut.client_bytes), Some(uncut.server_bytes));
    assert_eq!((run.got, run.resumes), (expected, 0));
}

#[test]
fn refused_resumption_hands_back_undelivered_stanzas() {
    let mut net = Network::with_defaults();
    let _romeo = login(&mut net, client_config("romeo"));
    let juliet = login(&mut net, client_config("juliet"));
    net.pair(juliet).client_budget = Some(0);
    assert!(send(&mut net, juliet, &full("romeo"), "lost-1"));
    assert!(!send(&mut net, juliet, &full("romeo"), "after-cut"));
    let state = resumable(&mut net, juliet).expect("resumable");
    assert_eq!(state.unacked.len(), 2, "the initial presence and lost-1");
    // The server forgets the session after max (60 s).
    net.advance(Duration::from_secs(61));
    assert!(net.hub.detached().is_empty());
    let juliet2 = net.connect_to(
        client_config("juliet").with_resumption(state),
        server_config(),
    );
    assert!(!resumed(&mut net, juliet2));
    assert_eq!(undelivered(&mut net, juliet2), ["lost-1"]);
    assert!(net.client(juliet2).is_online(), "bound afresh");
    assert!(net.client(juliet2).sm_enabled(), "and enabled again");
}

/// Romeo's connection dies with a message queued for him; the session
/// expires.
fn expire_with_queued_message(policy: OfflinePolicy) -> (Network, SessionId) {
    let mut net = Network::new(Hub::new(DOMAIN).unwrap().with_offline_policy(policy));
    let juliet = login(&mut net, client_config("juliet"));
    let romeo = login(&mut net, client_config("romeo"));
    net.cut(romeo);
    assert_eq!(net.hub.detached().len(), 1);
    // Still present for routing: the message is queued for him.
    assert!(send(
        &mut net,
        juliet,
        &format!("romeo@{DOMAIN}"),
        "while-away"
    ));
    let queued = net
        .hub
        .detached()
        .get(romeo)
        .expect("detached")
        .unacked
        .iter();
    assert!(queued.last().is_some_and(|m| {
        m.to_element()
            .unwrap()
            .child("body", "jabber:client")
            .is_some()
    }));
    net.advance(Duration::from_secs(61));
    assert!(net.hub.detached().is_empty());
    (net, juliet)
}

#[test]
fn expiry_bounces_queued_messages() {
    let (mut net, juliet) = expire_with_queued_message(OfflinePolicy::Reject);
    let bounced = net.pair(juliet).client_events.iter().any(|e| {
        matches!(e, ClientEvent::Bounced { from, .. }
            if from.as_deref().is_some_and(|f| f.starts_with("romeo@")))
    });
    assert!(bounced, "the sender got an error back");
}

#[test]
fn expiry_stores_queued_messages_offline() {
    let (net, _) = expire_with_queued_message(OfflinePolicy::Store);
    assert_eq!(net.offline.len(), 1);
    assert!(net.offline[0].child("body", "jabber:client").is_some());
}

#[test]
fn resumption_with_a_wrong_or_foreign_id_is_refused() {
    let mut net = Network::with_defaults();
    let juliet = login(&mut net, client_config("juliet"));
    let _romeo = login(&mut net, client_config("romeo"));
    net.cut(juliet);
    let state = resumable(&mut net, juliet).expect("resumable");
    let id = state.id.clone();

    // Romeo names juliet's id.
    let romeo_jid = FullJid::new(&full("romeo")).unwrap();
    let forged = SmSession::new(
        id.clone(),
        romeo_jid.clone(),
        Handled::new(),
        Unacked::new(10),
    );
    let thief = net.connect_to(
        client_config("romeo").with_resumption(forged),
        server_config(),
    );
    assert!(!resumed(&mut net, thief));
    assert!(net.client(thief).is_online(), "fell back to a fresh bind");
    assert_eq!(net.hub.detached().len(), 1, "juliet's session is untouched");

    // An id nobody has.
    let wrong = SmSession::new(
        Some("nope".into()),
        romeo_jid,
        Handled::new(),
        Unacked::new(10),
    );
    let other = net.connect_to(
        client_config("romeo").with_resumption(wrong),
        server_config(),
    );
    assert!(!resumed(&mut net, other));

    // Juliet herself still resumes.
    let back = net.connect_to(
        client_config("juliet").with_resumption(state),
        server_config(),
    );
    assert!(resumed(&mut net, back));
    assert!(net.hub.detached().is_empty());
}

#[test]
fn hostile_h_is_a_stream_error_on_both_sides() {
    let mut net = Network::with_defaults();
    let juliet = login(&mut net, client_config("juliet"));
    let romeo = login(&mut net, client_config("romeo"));
    let now = net.now;
    // The client is told the server handled 9 of its 1 stanzas.
    let _ = net
        .client(juliet)
        .handle_input(now, b"<a xmlns='urn:xmpp:sm:3' h='9'/>");
    net.run();
    assert!(matches!(
        net.pair(juliet).client_closed(),
        Some(CloseReason::ProtocolViolation { .. })
    ));
    let sent = String::from_utf8_lossy(&net.pair(juliet).client_bytes).into_owned();
    assert!(sent.contains("<handled-count-too-high xmlns='urn:xmpp:sm:3' h='9' send-count='1'/>"));
    // The server is told the client handled 4294967295 stanzas.
    let _ = net
        .server(romeo)
        .handle_input(now, b"<a xmlns='urn:xmpp:sm:3' h='4294967295'/>");
    net.run();
    assert!(matches!(
        net.pair(romeo).server_closed(),
        Some(CloseReason::ProtocolViolation { .. })
    ));
    let sent = String::from_utf8_lossy(&net.pair(romeo).server_bytes).into_owned();
    assert!(sent.contains("handled-count-too-high"));
}

#[derive(Clone, Debug)]
enum Step {
    /// A message from juliet (false) or romeo (true) to the other.
    Send(bool),
    /// Cut a user's connection now.
    Cut(bool),
    /// Cut a user's connection after this many more bytes from the
    /// client (or, if odd, from the server side).
    CutAfter(bool, usize),
    /// Reconnect (resume) a user whose connection is down.
    Reconnect(bool),
    /// Let time pass (seconds).
    Wait(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => any::<bool>().prop_map(Step::Send),
        1 => any::<bool>().prop_map(Step::Cut),
        1 => (any::<bool>(), 0usize..400).prop_map(|(u, n)| Step::CutAfter(u, n)),
        2 => any::<bool>().prop_map(Step::Reconnect),
        1 => (1u64..8).prop_map(Step::Wait),
    ]
}

struct Users {
    ids: [SessionId; 2],
    sent: [usize; 2],
}

impl Users {
    fn reconnect(&mut self, net: &mut Network, who: usize) {
        let id = self.ids[who];
        if !net.client(id).is_closed() {
            return;
        }
        let name = ["juliet", "romeo"][who];
        let state = resumable(net, id).expect("every cut leaves a resumable session");
        let new = net.connect_to(client_config(name).with_resumption(state), server_config());
        self.ids[who] = new;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Whatever the schedule, every message arrives exactly once and in
    /// order per sender.
    #[test]
    fn random_schedules_deliver_exactly_once_in_order(steps in proptest::collection::vec(step(), 1..60)) {
        let mut net = Network::with_defaults();
        let j = login(&mut net, client_config("juliet"));
        let r = login(&mut net, client_config("romeo"));
        let mut users = Users { ids: [j, r], sent: [0, 0] };
        for s in steps {
            match s {
                Step::Send(romeo) => {
                    let who = usize::from(romeo);
                    let to = full(["romeo", "juliet"][who]);
                    let body = format!("{}-{}", ["j", "r"][who], users.sent[who]);
                    if send(&mut net, users.ids[who], &to, &body) {
                        users.sent[who] += 1;
                    }
                }
                Step::Cut(romeo) => net.cut(users.ids[usize::from(romeo)]),
                Step::CutAfter(romeo, n) => {
                    let pair = net.pair(users.ids[usize::from(romeo)]);
                    if n % 2 == 0 { pair.client_budget = Some(n); } else { pair.server_budget = Some(n); }
                }
                Step::Reconnect(romeo) => users.reconnect(&mut net, usize::from(romeo)),
                Step::Wait(secs) => net.advance(Duration::from_secs(secs)),
            }
        }
        // Bring everyone back and let the acknowledgements settle.
        for _ in 0..4 {
            for who in 0..2 {
                let pair = net.pair(users.ids[who]);
                pair.client_budget = None;
                pair.server_budget = None;
                users.reconnect(&mut net, who);
            }
            net.advance(Duration::from_secs(6));
        }
        for who in 0..2 {
            prop_assert!(!net.client(users.ids[who]).is_closed());
            let receiver = 1 - who;
            let prefix = format!("{}-", ["j", "r"][who]);
            let mut got: Vec<String> = Vec::new();
            for pair in &net.pairs {
                if pair.client.jid().is_some_and(|j| j.bare_str().starts_with(["juliet@", "romeo@"][receiver])) {
                    got.extend(pair.client_events.iter().filter_map(|e| match e {
                        ClientEvent::Message(m) => m.body().filter(|b| b.starts_with(&prefix)).map(|b| b.into_owned()),
                        _ => None,
                    }));
                }
            }
            let expected: Vec<String> = (0..users.sent[who]).map(|i| format!("{prefix}{i}")).collect();
            prop_assert_eq!(got, expected);
        }
    }
}

/// A server (scripted here) that refuses a resumption but says how many
/// stanzas it handled: those are acknowledged, only the rest come back.
#[test]
fn failed_with_h_hands_back_only_what_the_server_lacks() {
    use xmpp_proto::client::{Client, ClientTlsPolicy};
    use xmpp_proto::endpoint::Transmit;

    let jid = FullJid::new(&full("juliet")).unwrap();
    let mut unacked = Unacked::starting_at(10, u32::MAX);
    for i in 0..3 {
        let m = Message::builder(MessageType::Chat)
            .to(&full("romeo"))
            .body(&format!("m{i}"))
            .build();
        unacked
            .push(xmpp_proto::stanza::WireStanza::from_element(&m.into_element()).unwrap())
            .unwrap();
    }
    let state = SmSession::new(Some("old".into()), jid, Handled::new(), unacked);
    let config = client_config("juliet")
        .with_tls(ClientTlsPolicy::Direct)
        .with_resumption(state);
    let now = xmpp_proto::time::Time::ZERO;
    let mut client = Client::new(config, now);
    let mut out = String::new();
    let drain = |client: &mut Client, out: &mut String| {
        while let Some(t) = client.poll_transmit() {
            match t {
                Transmit::Data(d) => {
                    out.push_str(&String::from_utf8_lossy(d));
                    let n = d.len();
                    client.consume_transmit(n);
                }
                Transmit::StartTls => {}
                Transmit::Shutdown => {}
            }
        }
    };
    drain(&mut client, &mut out);
    client
        .handle_tls_established(now, xmpp_tests::fake_tls())
        .unwrap();
    let header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='example.com' id='s' version='1.0'>";
    let input = format!(
        "{header}<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features><success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"
    );
    client.handle_input(now, input.as_bytes()).unwrap();
    drain(&mut client, &mut out);
    let input = format!(
        "{header}<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><sm xmlns='urn:xmpp:sm:3'/></stream:features>"
    );
    client.handle_input(now, input.as_bytes()).unwrap();
    drain(&mut client, &mut out);
    assert!(
        out.ends_with("<resume xmlns='urn:xmpp:sm:3' h='0' previd='old'/>"),
        "{out}"
    );
    // Two of the three handled: h wraps from 2^32 - 1 to 1.
    client
        .handle_input(now, b"<failed xmlns='urn:xmpp:sm:3' h='1'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>")
        .unwrap();
    drain(&mut client, &mut out);
    assert!(
        out.contains("<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'"),
        "binds afresh"
    );
    let back: Vec<String> = std::iter::from_fn(|| client.poll_event())
        .filter_map(|e| match e {
            ClientEvent::Undelivered { stanzas } => Some(stanzas),
            _ => None,
        })
        .flatten()
        .filter_map(|el| {
            Message::from_element(el)
                .ok()?
                .body()
                .map(|b| b.into_owned())
        })
        .collect();
    assert_eq!(back, ["m2"]);
}

/// The client notices the broken connection first and resumes while the
/// server still holds the old one: the old connection is closed with
/// `conflict` and the session moves over.
#[test]
fn resumption_takes_over_a_connection_the_server_thinks_alive() {
    let mut net = Network::with_defaults();
    let romeo = login(&mut net, client_config("romeo"));
    let juliet = login(&mut net, client_config("juliet"));
    assert!(send(&mut net, romeo, &full("juliet"), "before"));
    let now = net.now;
    let pair = net.pair(juliet);
    pair.connected = false;
    pair.client.handle_eof(now);
    net.run();
    assert!(net.hub.detached().is_empty(), "the server has not noticed");
    assert!(send(&mut net, romeo, &full("juliet"), "in-the-dark"));
    let state = resumable(&mut net, juliet).expect("resumable");
    let back = net.connect_to(
        client_config("juliet").with_resumption(state),
        server_config(),
    );
    assert!(resumed(&mut net, back));
    assert!(matches!(
        net.pair(juliet).server_closed(),
        Some(CloseReason::Kicked { .. })
    ));
    assert!(send(&mut net, romeo, &full("juliet"), "after"));
    let mut got = net.bodies(juliet);
    got.extend(net.bodies(back));
    assert_eq!(got, ["before", "in-the-dark", "after"]);
}

/// A client that vanished without a FIN: after `probe_after` of silence
/// the server sends `<r/>`, after `probe_timeout` more it declares the
/// connection dead and keeps the session for resumption, with what was
/// routed to it in the dark.
#[test]
fn a_vanished_client_is_probed_then_detached() {
    let mut net = Network::with_defaults();
    let romeo = login(&mut net, client_config("romeo"));
    let juliet = login(&mut net, client_config("juliet"));
    net.pair(juliet).connected = false;
    assert!(send(&mut net, romeo, &full("juliet"), "in-the-dark"));
    let probe_after = Duration::from_secs(300);
    net.advance(probe_after - Duration::from_secs(1));
    assert!(net.pair(juliet).server_closed().is_none());
    net.advance(Duration::from_secs(2));
    assert!(
        net.pair(juliet).server_closed().is_none(),
        "probed, waiting"
    );
    net.advance(Duration::from_secs(60));
    assert_eq!(
        net.pair(juliet).server_closed(),
        Some(&CloseReason::PeerNotResponding)
    );
    assert_eq!(net.hub.detached().len(), 1);
    let state = resumable(&mut net, juliet).expect("the client gave up too");
    let back = net.connect_to(
        client_config("juliet").with_resumption(state),
        server_config(),
    );
    assert!(resumed(&mut net, back));
    assert_eq!(net.bodies(back), ["in-the-dark"]);
}

/// A silent client that is alive (its own keepalives off) answers the
/// server's probes and stays: `<r/>` with stream management, an XEP-0199
/// ping without.
#[test]
fn a_silent_live_client_answers_the_probes_and_stays() {
    let mut silent = client::ClientTimeouts::default();
    silent.keepalive = None;
    silent.ping_after = None;
    for sm in [true, false] {
        let mut config = Pair::client_config("juliet", "secret").with_timeouts(silent);
        let mut server = Pair::server_config();
        if sm {
            config = config.with_stream_management(SmConfig::default());
            server = server.with_stream_management(SmConfig::default());
        }
        let mut pair = Pair::new(config, server);
        pair.run();
        assert!(pair.is_online());
        let before = pair.server_bytes.len();
        for _ in 0..4 {
            pair.advance(Duration::from_secs(301));
        }
        assert!(pair.is_online(), "sm={sm}: {:?}", pair.server_closed());
        let written = String::from_utf8_lossy(&pair.server_bytes[before..]).into_owned();
        let probe = if sm {
            "<r xmlns='urn:xmpp:sm:3'/>"
        } else {
            "urn:xmpp:ping"
        };
        assert_eq!(written.matches(probe).count(), 4, "sm={sm}: {written}");
    }
}

#[test]
fn a_delivery_refused_by_a_session_that_just_broke_waits_for_its_resumption() {
    let mut net = Network::with_defaults();
    let juliet = login(&mut net, client_config("juliet"));
    let romeo = login(&mut net, client_config("romeo"));
    // Romeo's connection breaks; his server has noticed, the hub has not
    // heard yet when juliet's message is handed to that server, which
    // refuses it (a race the threaded server meets for real).
    net.pair(romeo).cut();
    assert!(send(&mut net, juliet, &full("romeo"), "while-breaking"));
    assert!(
        !net.pair(juliet)
            .client_events
            .iter()
            .any(|e| matches!(e, ClientEvent::Bounced { .. })),
        "not bounced: kept for the resumption"
    );
    let state = resumable(&mut net, romeo).expect("resumable");
    let romeo2 = net.connect_to(
        client_config("romeo").with_resumption(state),
        server_config(),
    );
    assert!(resumed(&mut net, romeo2));
    assert_eq!(net.bodies(romeo2), ["while-breaking"]);
}

#[test]
fn detached_queues_are_bounded_in_bytes_all_together() {
    let mut net = Network::new(Hub::new(DOMAIN).unwrap().with_detached_budget(4096));
    let juliet = login(&mut net, client_config("juliet"));
    let romeo = login(&mut net, client_config("romeo"));
    net.cut(romeo);
    assert_eq!(net.hub.detached().len(), 1);
    let body = "x".repeat(1000);
    for _ in 0..10 {
        assert!(send(&mut net, juliet, &full("romeo"), &body));
    }
    // Past 4 KiB the session expired early: what it held, and what came
    // after, went back to the sender; nothing vanished.
    assert!(net.hub.detached().is_empty(), "expired early");
    assert!(net.hub.detached().bytes() == 0);
    let bounced = net
        .pair(juliet)
        .client_events
        .iter()
        .filter(|e| matches!(e, ClientEvent::Bounced { .. }))
        .count();
    assert_eq!(bounced, 10);
}
