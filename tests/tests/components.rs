//! External components (XEP-0114) behind the hub, in memory: our
//! `Component` against a `Server` made with `for_components`, clients of
//! the same hub on the other side. The handshake and its refusals, who
//! serves a domain when two ask, routing both ways, a `from` outside the
//! domain, a component that is away, disco#items, blocking.

use xmpp_proto::client::ClientEvent;
use xmpp_proto::component::ComponentEvent;
use xmpp_proto::endpoint::{CloseReason, Endpoint};
use xmpp_proto::hub::{ComponentConflict, Hub};
use xmpp_proto::router::SessionId;
use xmpp_proto::stanza::{
    DefinedCondition, Iq, IqType, Message, MessageType, Presence, PresenceType,
};
use xmpp_proto::stream_error::StreamErrorCondition;
use xmpp_proto::xml::{Element, ns};
use xmpp_tests::{DOMAIN, Network};

const COMPONENT: &str = "echo.example.com";
const SECRET: &str = "s3cret";

fn network() -> Network {
    Network::new(
        Hub::new(DOMAIN)
            .unwrap()
            .with_component(COMPONENT, SECRET)
            .unwrap(),
    )
}

fn chat(to: &str, body: &str) -> Message {
    Message::builder(MessageType::Chat)
        .to(to)
        .body(body)
        .build()
}

/// How a component's session ended, if it did.
fn closed(net: &mut Network, id: SessionId) -> Option<CloseReason> {
    net.component(id).events.iter().find_map(|e| match e {
        ComponentEvent::Closed { reason } => Some(reason.clone()),
        _ => None,
    })
}

fn stream_error(reason: Option<CloseReason>) -> Option<StreamErrorCondition> {
    match reason {
        Some(CloseReason::StreamError { condition, .. }) => Some(condition),
        _ => None,
    }
}

#[test]
fn a_component_owns_its_domain_both_ways() {
    let mut net = network();
    let comp = net.attach_component(COMPONENT, SECRET);
    assert!(net.component(comp).is_online());
    let juliet = net.login("juliet", "balcony");
    let now = net.now;

    // A user's message to any address of the domain reaches it, from the
    // user's full JID.
    net.client(juliet)
        .send(now, chat("time@echo.example.com", "what time is it?"))
        .unwrap();
    net.run();
    let got = net.component(comp).events.iter().find_map(|e| match e {
        ComponentEvent::Message(m) => {
            Some((m.from().unwrap().to_owned(), m.body().unwrap().into_owned()))
        }
        _ => None,
    });
    assert_eq!(
        got,
        Some((
            "juliet@example.com/balcony".to_owned(),
            "what time is it?".to_owned()
        ))
    );

    // Its answer from an address of its domain reaches the user.
    let answer = Message::builder(MessageType::Chat)
        .to("juliet@example.com/balcony")
        .from("time@echo.example.com")
        .body("tea time")
        .build();
    net.component(comp).component.send(now, answer).unwrap();
    net.run();
    assert_eq!(net.bodies(juliet), ["tea time"]);

    // An IQ to the domain goes to the component; its result comes back.
    let query = Iq::get("d1", Element::builder("query", ns::DISCO_INFO).build()).with_to(COMPONENT);
    let asked = net.client(juliet).send(now, query).unwrap();
    net.run();
    let request = net
        .component(comp)
        .events
        .iter()
        .find_map(|e| match e {
            ComponentEvent::IqRequest(iq) => Some(iq.clone()),
            _ => None,
        })
        .expect("the request reached the component");
    net.component(comp)
        .component
        .send(now, request.make_result(None))
        .unwrap();
    net.run();
    let answered = net.pair(juliet).client_events.iter().any(|e| {
        matches!(e, ClientEvent::IqResponse { id, response }
            if *id == asked && response.kind() == IqType::Result
                && response.from() == Some(COMPONENT))
    });
    assert!(answered);
}

#[test]
fn a_wrong_secret_or_an_unknown_domain_is_not_authorized() {
    let mut net = network();
    let wrong = net.attach_component(COMPONENT, "guess");
    assert_eq!(
        stream_error(closed(&mut net, wrong)),
        Some(StreamErrorCondition::NotAuthorized)
    );
    let unknown = net.attach_component("other.example.com", SECRET);
    assert_eq!(
        stream_error(closed(&mut net, unknown)),
        Some(StreamErrorCondition::NotAuthorized)
    );
    // Nothing was attached: the domain answers as away.
    let juliet = net.login("juliet", "balcony");
    let now = net.now;
    net.client(juliet)
        .send(now, chat(COMPONENT, "anyone?"))
        .unwrap();
    net.run();
    let bounces: Vec<_> = net.bounces(juliet).into_iter().map(|(_, c)| c).collect();
    assert_eq!(bounces, [DefinedCondition::ServiceUnavailable]);
}

#[test]
fn a_second_component_for_a_domain_is_refused_by_default() {
    let mut net = network();
    let first = net.attach_component(COMPONENT, SECRET);
    let second = net.attach_component(COMPONENT, SECRET);
    assert_eq!(
        stream_error(closed(&mut net, second)),
        Some(StreamErrorCondition::Conflict)
    );
    assert!(net.component(first).is_online());
    let juliet = net.login("juliet", "balcony");
    let now = net.now;
    net.client(juliet).send(now, chat(COMPONENT, "hi")).unwrap();
    net.run();
    assert_eq!(net.component(first).bodies(), ["hi"]);
}

#[test]
fn under_replace_old_the_newcomer_serves_and_the_old_one_goes() {
    let mut net = Network::new(
        Hub::new(DOMAIN)
            .unwrap()
            .with_component(COMPONENT, SECRET)
            .unwrap()
            .with_component_conflict(ComponentConflict::ReplaceOld),
    );
    let first = net.attach_component(COMPONENT, SECRET);
    let second = net.attach_component(COMPONENT, SECRET);
    assert_eq!(
        stream_error(closed(&mut net, first)),
        Some(StreamErrorCondition::Conflict)
    );
    assert!(net.component(second).is_online());
    let juliet = net.login("juliet", "balcony");
    let now = net.now;
    net.client(juliet).send(now, chat(COMPONENT, "hi")).unwrap();
    net.run();
    assert_eq!(net.component(second).bodies(), ["hi"]);
    assert!(net.component(first).bodies().is_empty());
}

#[test]
fn a_from_outside_the_domain_ends_the_stream_and_reaches_nobody() {
    let mut net = network();
    let comp = net.attach_component(COMPONENT, SECRET);
    let romeo = net.login("romeo", "garden");
    let now = net.now;
    // Our Component refuses to write this; a hostile one writes it anyway.
    let _ = net.component(comp).server.handle_input(
        now,
        b"<message from='juliet@example.com/balcony' to='romeo@example.com' type='chat'>\
          <body>forged</body></message>",
    );
    net.run();
    assert_eq!(
        stream_error(closed(&mut net, comp)),
        Some(StreamErrorCondition::InvalidFrom)
    );
    assert!(net.bodies(romeo).is_empty());
}

#[test]
fn a_component_that_went_away_is_service_unavailable_and_another_domain_is_remote() {
    let mut net = network();
    let comp = net.attach_component(COMPONENT, SECRET);
    net.cut_component(comp);
    let juliet = net.login("juliet", "balcony");
    let now = net.now;
    net.client(juliet)
        .send(now, chat("bot@echo.example.com", "there?"))
        .unwrap();
    net.client(juliet)
        .send(now, chat("someone@elsewhere.example", "there?"))
        .unwrap();
    net.run();
    let bounces: Vec<_> = net.bounces(juliet).into_iter().map(|(_, c)| c).collect();
    assert_eq!(
        bounces,
        [
            DefinedCondition::ServiceUnavailable,
            DefinedCondition::RemoteServerNotFound
        ]
    );
    // It comes back, and serves again.
    let again = net.attach_component(COMPONENT, SECRET);
    net.client(juliet)
        .send(now, chat("bot@echo.example.com", "back?"))
        .unwrap();
    net.run();
    assert_eq!(net.component(again).bodies(), ["back?"]);
}

#[test]
fn messages_from_a_component_follow_the_delivery_rules() {
    let mut net = network();
    let comp = net.attach_component(COMPONENT, SECRET);
    let juliet = net.login("juliet", "balcony");
    let now = net.now;
    net.client(juliet)
        .send(now, Presence::builder(PresenceType::Available).build())
        .unwrap();
    net.run();
    // To the bare JID of an available user: her resource gets it.
    let to_bare = Message::builder(MessageType::Chat)
        .to("juliet@example.com")
        .from("news@echo.example.com")
        .body("headline")
        .build();
    net.component(comp).component.send(now, to_bare).unwrap();
    // To an account with nobody online: refused back to the component
    // (the default offline policy).
    let to_offline = Message::builder(MessageType::Chat)
        .to("romeo@example.com")
        .from("news@echo.example.com")
        .id("m2")
        .body("headline")
        .build();
    net.component(comp).component.send(now, to_offline).unwrap();
    net.run();
    assert_eq!(net.bodies(juliet), ["headline"]);
    let bounced = net.component(comp).events.iter().any(|e| {
        matches!(e, ComponentEvent::Message(m)
            if m.kind() == MessageType::Error && m.id() == Some("m2")
                && m.error().is_some_and(|e| e.condition == DefinedCondition::ServiceUnavailable))
    });
    assert!(bounced, "{:?}", net.component(comp).events);
}

#[test]
fn the_servers_disco_items_list_its_components() {
    let mut net = network();
    let juliet = net.login("juliet", "balcony");
    let now = net.now;
    let query = Iq::get("i1", Element::builder("query", ns::DISCO_ITEMS).build()).with_to(DOMAIN);
    let id = net.client(juliet).send(now, query).unwrap();
    net.run();
    let items: Vec<String> = net
        .pair(juliet)
        .client_events
        .iter()
        .find_map(|e| match e {
            ClientEvent::IqResponse { id: got, response } if *got == id => Some(
                response
                    .payload()
                    .unwrap()
                    .children()
                    .filter_map(|c| c.attr("jid").map(str::to_owned))
                    .collect(),
            ),
            _ => None,
        })
        .unwrap();
    assert_eq!(items, [COMPONENT]);
}

#[test]
fn a_user_who_blocks_a_component_address_gets_nothing_from_it() {
    let mut net = network();
    let comp = net.attach_component(COMPONENT, SECRET);
    let juliet = net.login("juliet", "balcony");
    let now = net.now;
    let block = Iq::set(
        "b1",
        Element::builder("block", "urn:xmpp:blocking").append(
            Element::builder("item", "urn:xmpp:blocking").attr("jid", "spam@echo.example.com"),
        ),
    );
    net.client(juliet).send(now, block).unwrap();
    net.run();
    for from in ["spam@echo.example.com", "news@echo.example.com"] {
        let m = Message::builder(MessageType::Chat)
            .to("juliet@example.com/balcony")
            .from(from)
            .body(from)
            .build();
        net.component(comp).component.send(now, m).unwrap();
    }
    net.run();
    assert_eq!(net.bodies(juliet), ["news@echo.example.com"]);
}
