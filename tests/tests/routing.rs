//! Many clients through one in-memory server: RFC 6121 delivery rules,
//! receipts, conflicts and the server's own answers.

use xmpp_proto::client::ClientEvent;
use xmpp_proto::endpoint::{CloseReason, Endpoint};
use xmpp_proto::hub::Hub;
use xmpp_proto::router::{ConflictPolicy, OfflinePolicy, SessionId};
use xmpp_proto::stanza::{DefinedCondition, Iq, IqType, Message, Presence, PresenceType};
use xmpp_proto::stream_error::StreamErrorCondition;
use xmpp_proto::xml::{Element, ns};
use xmpp_tests::{DOMAIN, Network, Pair};

fn network() -> Network {
    Network::with_defaults()
}

fn available(net: &mut Network, id: SessionId, priority: i8) {
    let now = net.now;
    let presence = Presence::builder(PresenceType::Available)
        .priority(priority)
        .build();
    net.client(id).send(now, presence).expect("online");
    net.run();
}

fn messages(net: &mut Network, id: SessionId) -> Vec<Message> {
    net.pair(id)
        .client_events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Message(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

fn iq_response(net: &mut Network, id: SessionId) -> Iq {
    net.pair(id)
        .client_events
        .iter()
        .rev()
        .find_map(|e| match e {
            ClientEvent::IqResponse { response, .. } => Some(response.clone()),
            _ => None,
        })
        .expect("an IQ response")
}

#[test]
fn message_with_receipt_between_two_clients() {
    let mut net = network();
    let juliet = net.login("juliet", "balcony");
    let romeo = net.login("romeo", "orchard");
    available(&mut net, romeo, 0);
    let now = net.now;
    // Romeo's client answers receipts only to those who may see his
    // presence: juliet, once he approved her.
    let juliet_jid = xmpp_proto::jid::BareJid::new("juliet@example.com").unwrap();
    let romeo_jid = xmpp_proto::jid::BareJid::new("romeo@example.com").unwrap();
    net.client(romeo).request_roster(now).unwrap();
    net.client(juliet).subscribe(now, &romeo_jid).unwrap();
    net.run();
    net.client(romeo)
        .approve_subscription(now, &juliet_jid)
        .unwrap();
    net.run();
    let id = net
        .client(juliet)
        .send_message(now, "romeo@example.com", "Wherefore art thou?", true)
        .expect("online");
    net.run();

    let got = messages(&mut net, romeo);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body().as_deref(), Some("Wherefore art thou?"));
    // The server stamped the sender's full JID.
    assert_eq!(got[0].from(), Some("juliet@example.com/balcony"));
    // Romeo's client answered the receipt request; it came back routed.
    let receipt = net.pair(juliet).client_events.iter().find_map(|e| match e {
        ClientEvent::ReceiptReceived { id, from } => Some((id.clone(), from.clone())),
        _ => None,
    });
    assert_eq!(
        receipt,
        Some((id, Some("romeo@example.com/orchard".to_owned())))
    );
}

#[test]
fn message_to_a_full_jid_needs_no_presence() {
    let mut net = network();
    let juliet = net.login("juliet", "balcony");
    let romeo = net.login("romeo", "orchard");
    let now = net.now;
    net.client(juliet)
        .send_message(now, "romeo@example.com/orchard", "hi", false)
        .expect("online");
    net.run();
    assert_eq!(messages(&mut net, romeo).len(), 1);
}

#[test]
fn bare_jid_messages_go_to_the_highest_priority() {
    let mut net = network();
    let juliet = net.login("juliet", "balcony");
    let desk = net.login("romeo", "desk");
    let phone = net.login("romeo", "phone");
    let hidden = net.login("romeo", "hidden");
    available(&mut net, desk, 5);
    available(&mut net, phone, 1);
    available(&mut net, hidden, -1);
    let now = net.now;
    net.client(juliet)
        .send_message(now, "romeo@example.com", "hi", false)
        .expect("online");
    net.run();
    assert_eq!(messages(&mut net, desk).len(), 1);
    assert_eq!(messages(&mut net, phone).len(), 0);
    assert_eq!(messages(&mut net, hidden).len(), 0);
}

#[test]
fn negative_priority_only_means_offline() {
    let mut net = network();
    let juliet = net.login("juliet", "balcony");
    let hidden = net.login("romeo", "hidden");
    available(&mut net, hidden, -1);
    let now = net.now;
    let sent = net
        .client(juliet)
        .send_message(now, "romeo@example.com", "hi", false)
        .expect("online");
    net.run();
    assert!(messages(&mut net, hidden).is_empty());
    assert_eq!(
        net.bounces(juliet),
        [(sent, DefinedCondition::ServiceUnavailable)]
    );
}

#[test]
fn offline_messages_can_be_stored() {
    let router = Hub::new(DOMAIN)
        .expect("valid")
        .with_offline_policy(OfflinePolicy::Store);
    let mut net = Network::new(router);
    let juliet = net.login("juliet", "balcony");
    let now = net.now;
    net.client(juliet)
        .send_message(now, "nurse@example.com", "hi", false)
        .expect("online");
    net.run();
    assert_eq!(net.offline.len(), 1);
    assert_eq!(
        net.offline[0].attr("from"),
        Some("juliet@example.com/balcony")
    );
    assert!(messages(&mut net, juliet).is_empty());
}

#[test]
fn iq_to_an_offline_resource_is_service_unavailable() {
    let mut net = network();
    let juliet = net.login("juliet", "balcony");
    let _romeo = net.login("romeo", "orchard");
    let now = net.now;
    let iq =
        Iq::get("v1", Element::builder("query", ns::VERSION)).with_to("romeo@example.com/gone");
    net.client(juliet).send(now, iq).expect("online");
    net.run();
    let response = iq_response(&mut net, juliet);
    assert_eq!(response.kind(), IqType::Error);
    assert_eq!(
        response.error().map(|e| e.condition),
        Some(DefinedCondition::ServiceUnavailable)
    );
    assert_eq!(response.from(), Some("romeo@example.com/gone"));
}

#[test]
fn iq_between_bound_resources_is_delivered_and_answered() {
    let mut net = network();
    let juliet = net.login("juliet", "balcony");
    let romeo = net.connect(
        Pair::client_config("romeo", "secret")
            .with_resource("orchard")
            .handle_iq_namespace(ns::VERSION),
    );
    let now = net.now;
    let iq =
        Iq::get("v1", Element::builder("query", ns::VERSION)).with_to("romeo@example.com/orchard");
    net.client(juliet).send(now, iq).expect("online");
    net.run();
    // The request reached Romeo's client, stamped with Juliet's full JID.
    let request = net
        .pair(romeo)
        .client_events
        .iter()
        .find_map(|e| match e {
            ClientEvent::IqRequest(iq) => Some(iq.clone()),
            _ => None,
        })
        .expect("the request was delivered to romeo");
    assert_eq!(request.kind(), IqType::Get);
    assert_eq!(request.from(), Some("juliet@example.com/balcony"));
    assert!(
        request
            .payload()
            .is_some_and(|p| p.is("query", ns::VERSION))
    );
    assert!(
        !net.pair(juliet)
            .client_events
            .iter()
            .any(|e| matches!(e, ClientEvent::IqResponse { .. })),
        "no answer before Romeo's"
    );
    // Romeo's answer, with a payload only he can give, travels back.
    let version = Element::builder("query", ns::VERSION)
        .append(Element::builder("name", ns::VERSION).text("Romeo's lute"))
        .build();
    net.client(romeo)
        .send(now, request.make_result(Some(version)))
        .expect("online");
    net.run();
    let response = iq_response(&mut net, juliet);
    assert_eq!(response.kind(), IqType::Result);
    assert_eq!(response.from(), Some("romeo@example.com/orchard"));
    let name = response
        .payload()
        .and_then(|q| q.child("name", ns::VERSION).map(|n| n.text()));
    assert_eq!(name.as_deref(), Some("Romeo's lute"));
}

#[test]
fn iq_for_a_namespace_nobody_handles_is_refused_by_the_recipients_client() {
    let mut net = network();
    let juliet = net.login("juliet", "balcony");
    let romeo = net.login("romeo", "orchard");
    let now = net.now;
    // Romeo's client does not handle urn:example:nobody and answers
    // service-unavailable itself: the answer travels back through the
    // router (a bounce by the router would look the same to Juliet, so
    // the error must be in what Romeo's client sent).
    let iq = Iq::get("v1", Element::builder("query", "urn:example:nobody"))
        .with_to("romeo@example.com/orchard");
    net.client(juliet).send(now, iq).expect("online");
    net.run();
    let response = iq_response(&mut net, juliet);
    assert_eq!(response.kind(), IqType::Error);
    assert_eq!(
        response.error().map(|e| e.condition),
        Some(DefinedCondition::ServiceUnavailable)
    );
    assert_eq!(response.from(), Some("romeo@example.com/orchard"));
    let sent = String::from_utf8_lossy(&net.pair(romeo).client_bytes).into_owned();
    assert!(
        sent.contains("id='v1'") && sent.contains("<service-unavailable"),
        "romeo's client sent the error: {sent}"
    );
}

#[test]
fn server_answers_ping_and_disco_info() {
    let mut net = network();
    let juliet = net.login("juliet", "balcony");
    let now = net.now;
    let ping = Iq::get("p1", Element::builder("ping", ns::PING)).with_to(DOMAIN);
    net.client(juliet).send(now, ping).expect("online");
    net.run();
    assert_eq!(iq_response(&mut net, juliet).kind(), IqType::Result);

    let disco = Iq::get("d1", Element::builder("query", ns::DISCO_INFO)).with_to(DOMAIN);
    net.client(juliet).send(now, disco).expect("online");
    net.run();
    let response = iq_response(&mut net, juliet);
    assert_eq!(response.kind(), IqType::Result);
    let query = response.payload().expect("a query");
    let identity = query.child("identity", ns::DISCO_INFO).expect("identity");
    assert_eq!(identity.attr("category"), Some("server"));
    let features: Vec<_> = query
        .children()
        .filter_map(|c| c.attr("var").map(str::to_owned))
        .collect();
    assert!(features.contains(&ns::PING.to_owned()), "{features:?}");

    let unknown = Iq::get("u1", Element::builder("query", ns::VERSION)).with_to(DOMAIN);
    net.client(juliet).send(now, unknown).expect("online");
    net.run();
    assert_eq!(
        iq_response(&mut net, juliet).error().map(|e| e.condition),
        Some(DefinedCondition::ServiceUnavailable)
    );
}

#[test]
fn other_domains_are_remote_server_not_found() {
    let mut net = network();
    let juliet = net.login("juliet", "balcony");
    let now = net.now;
    let sent = net
        .client(juliet)
        .send_message(now, "romeo@montague.example", "hi", false)
        .expect("online");
    net.run();
    assert_eq!(
        net.bounces(juliet),
        [(sent, DefinedCondition::RemoteServerNotFound)]
    );
}

#[test]
fn presence_is_broadcast_to_own_resources() {
    let mut net = network();
    let desk = net.login("romeo", "desk");
    available(&mut net, desk, 0);
    let phone = net.login("romeo", "phone");
    available(&mut net, phone, 0);
    let presences = |net: &mut Network, id| -> Vec<(Option<String>, PresenceType)> {
        net.pair(id)
            .client_events
            .iter()
            .filter_map(|e| match e {
                ClientEvent::Presence(p) => Some((p.from().map(str::to_owned), p.kind())),
                _ => None,
            })
            .collect()
    };
    // The desk saw the phone come online; the phone got the desk's
    // presence and its own reflected.
    assert!(presences(&mut net, desk).contains(&(
        Some("romeo@example.com/phone".into()),
        PresenceType::Available
    )));
    let phone_saw = presences(&mut net, phone);
    assert!(phone_saw.contains(&(
        Some("romeo@example.com/desk".into()),
        PresenceType::Available
    )));
    assert!(phone_saw.contains(&(
        Some("romeo@example.com/phone".into()),
        PresenceType::Available
    )));
    // The phone leaves: the desk sees it go.
    let now = net.now;
    net.client(phone).close(now);
    net.run();
    assert!(presences(&mut net, desk).contains(&(
        Some("romeo@example.com/phone".into()),
        PresenceType::Unavailable
    )));
    assert!(net.router().session("romeo@example.com/phone").is_none());
}

#[test]
fn resource_conflict_replaces_the_old_session() {
    let mut net = network();
    let first = net.login("juliet", "balcony");
    let second = net.login("juliet", "balcony");
    assert!(net.client(second).is_online());
    assert!(matches!(
        net.pair(first).client_closed(),
        Some(CloseReason::StreamError {
            condition: StreamErrorCondition::Conflict,
            ..
        })
    ));
    assert_eq!(
        net.router().session("juliet@example.com/balcony"),
        Some(second)
    );
}

#[test]
fn resource_conflict_can_refuse_the_newcomer() {
    let router = Hub::new(DOMAIN)
        .expect("valid")
        .with_conflict_policy(ConflictPolicy::RefuseNew);
    let mut net = Network::new(router);
    let first = net.login("juliet", "balcony");
    let second = net.login("juliet", "balcony");
    assert!(net.client(first).is_online());
    assert_eq!(
        net.pair(second).client_closed(),
        Some(&CloseReason::BindFailed {
            condition: Some("conflict".into())
        })
    );
}

#[test]
fn an_error_for_the_last_stanza_before_a_close_still_reaches_the_sender() {
    let mut net = network();
    let juliet = net.login("juliet", "balcony");
    let now = net.now;
    // The message and the close travel together: the server answers the
    // message (a bounce, decided by the hub after the server reported the
    // stanza) before it answers the close (RFC 6120 §4.4).
    let sent = net
        .client(juliet)
        .send_message(now, "nobody@example.com", "hello?", false)
        .expect("online");
    net.client(juliet).close(now);
    net.run();
    assert_eq!(
        net.bounces(juliet),
        [(sent, DefinedCondition::ServiceUnavailable)]
    );
    let events = &net.pair(juliet).client_events;
    let bounced_at = events
        .iter()
        .position(|e| matches!(e, ClientEvent::Bounced { .. }));
    let closed_at = events.iter().position(
        |e| matches!(e, ClientEvent::Closed { reason } if *reason == CloseReason::Normal),
    );
    assert!(bounced_at < closed_at && closed_at.is_some(), "{events:?}");
}

#[test]
fn an_account_binds_at_most_its_share_of_resources() {
    let mut net = Network::new(Hub::new(DOMAIN).unwrap().with_max_sessions_per_account(2));
    let first = net.login("juliet", "balcony");
    let _second = net.login("juliet", "garden");
    let third = net.login("juliet", "orchard");
    assert!(net.pair(first).is_online());
    assert!(!net.client(third).is_online());
    assert_eq!(
        net.pair(third).client_closed(),
        Some(&CloseReason::BindFailed {
            condition: Some("resource-constraint".into())
        })
    );
    // Taking over a resource the account holds is not one more.
    let again = net.login("juliet", "garden");
    assert!(net.pair(again).is_online());
    // Another account is not affected.
    let romeo = net.login("romeo", "orchard");
    assert!(net.pair(romeo).is_online());
}

#[test]
fn a_recipient_that_stops_reading_has_its_messages_refused_back_to_the_sender() {
    let mut net = network();
    let juliet = net.login("juliet", "balcony");
    let romeo = net.login("romeo", "garden");
    net.pair(juliet).client_stalled = true;
    let body = "x".repeat(4096);
    let now = net.now;
    let mut sent = Vec::new();
    // 1 MiB for a client that reads nothing: the server side takes 256 KiB
    // (its output limit) and refuses the rest.
    for _ in 0..256 {
        let id = net
            .client(romeo)
            .send_message(now, "juliet@example.com/balcony", &body, false)
            .expect("romeo's own output is read");
        sent.push(id);
        net.run();
    }
    let queued = net.server(juliet).wants_read();
    assert!(
        !queued,
        "a server side whose output waits for its client wants no input"
    );
    let refused = net.bounces(romeo);
    assert!(
        refused.len() > 128 && refused.len() < 256,
        "{} of 256 refused",
        refused.len()
    );
    assert!(
        refused.iter().all(|(id, condition)| sent.contains(id)
            && *condition == DefinedCondition::ServiceUnavailable),
        "{refused:?}"
    );
    // What was taken is delivered once the client reads again.
    net.pair(juliet).client_stalled = false;
    net.run();
    assert_eq!(messages(&mut net, juliet).len() + refused.len(), 256);
    assert!(net.server(juliet).wants_read());
}
