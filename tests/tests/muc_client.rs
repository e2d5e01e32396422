//! The group chat client (XEP-0045) against a scripted room: the server
//! side of one connection writes what a room would send, and the
//! client's room events and state are checked. Every transition the
//! client knows: the join (occupants first, our own presence last, a
//! created room configured as instant), join errors, others coming,
//! changing and going (left, kicked, banned, nick change), our own nick
//! change and its refusal, being kicked, the room destroyed, messages
//! with reflection and history, subjects, private messages, invitations.

use xmpp_proto::client::{ClientEvent, Departure, RoomEvent};
use xmpp_proto::hub::Hub;
use xmpp_proto::jid::BareJid;
use xmpp_proto::muc::{Affiliation, JoinError, JoinOptions, Role};
use xmpp_proto::router::SessionId;
use xmpp_proto::xml::Element;
use xmpp_tests::{DOMAIN, Network};

const ROOM: &str = "tea@rooms.example.com";

fn room() -> BareJid {
    BareJid::new(ROOM).unwrap()
}

/// A network whose hub knows the room's service as a component domain
/// with nobody attached: what juliet sends there goes nowhere, and the
/// scripted room answers instead.
fn network() -> Network {
    let hub = Hub::new(DOMAIN)
        .unwrap()
        .with_component("rooms.example.com", "unused")
        .unwrap();
    Network::new(hub)
}

/// juliet, online, asking to join as `juliet`.
fn joining() -> (Network, SessionId) {
    let mut net = network();
    let juliet = net.login("juliet", "balcony");
    let now = net.now;
    net.client(juliet)
        .join_room(now, &room(), "juliet", &JoinOptions::default())
        .unwrap();
    net.run();
    (net, juliet)
}

/// The room writes `xml` (stanzas in `jabber:client`) to juliet.
fn room_says(net: &mut Network, id: SessionId, xml: &str) {
    let wrapped = format!("<wrap xmlns='jabber:client'>{xml}</wrap>");
    let wrap = Element::read_from(wrapped.as_bytes()).expect("valid XML");
    let now = net.now;
    for child in wrap.children() {
        net.server(id).send(now, child.to_owned()).unwrap();
    }
    net.run();
}

fn presence(nick: &str, attrs: &str, x: &str) -> String {
    format!(
        "<presence from='{ROOM}/{nick}' to='juliet@example.com/balcony' {attrs}>\
         <x xmlns='http://jabber.org/protocol/muc#user'>{x}</x></presence>"
    )
}

fn item(affiliation: &str, role: &str) -> String {
    format!("<item affiliation='{affiliation}' role='{role}'/>")
}

/// The room events juliet's client reported, in order.
fn room_events(net: &mut Network, id: SessionId) -> Vec<RoomEvent> {
    net.pair(id)
        .client_events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Room(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

/// Joined with romeo already there (owner, moderator), juliet a participant.
fn joined() -> (Network, SessionId) {
    let (mut net, juliet) = joining();
    let romeo = presence("romeo", "", &item("owner", "moderator"));
    let own = presence(
        "juliet",
        "",
        &format!("{}<status code='110'/>", item("none", "participant")),
    );
    room_says(&mut net, juliet, &format!("{romeo}{own}"));
    (net, juliet)
}

#[test]
fn the_join_lists_the_occupants_and_ends_with_our_own_presence() {
    let (mut net, juliet) = joined();
    let events = room_events(&mut net, juliet);
    assert_eq!(
        events,
        [RoomEvent::Joined {
            room: room(),
            nick: "juliet".into(),
            created: false
        }]
    );
    let state = net.client(juliet).room(ROOM).unwrap().clone();
    assert!(state.joined);
    assert_eq!(state.role, Role::Participant);
    let romeo = &state.occupants["romeo"];
    assert_eq!(
        (romeo.role, romeo.affiliation),
        (Role::Moderator, Affiliation::Owner)
    );
    // Room presence is not a contact's.
    assert!(
        net.client(juliet)
            .presences_of("tea@rooms.example.com")
            .next()
            .is_none()
    );
}

#[test]
fn a_room_we_create_is_configured_as_an_instant_room() {
    let (mut net, juliet) = joining();
    let own = presence(
        "juliet",
        "",
        &format!(
            "{}<status code='110'/><status code='201'/>",
            item("owner", "moderator")
        ),
    );
    room_says(&mut net, juliet, &own);
    assert!(matches!(
        room_events(&mut net, juliet)[..],
        [RoomEvent::Joined { created: true, .. }]
    ));
    let sent = String::from_utf8_lossy(&net.pair(juliet).client_bytes).into_owned();
    assert!(
        sent.contains("http://jabber.org/protocol/muc#owner")
            && sent.contains("<x xmlns='jabber:x:data' type='submit'/>"),
        "{sent}"
    );
}

#[test]
fn join_errors_are_typed_and_the_room_forgotten() {
    for (condition, expected) in [
        ("conflict", JoinError::NicknameInUse),
        ("not-authorized", JoinError::PasswordRequired),
        ("forbidden", JoinError::Banned),
        ("registration-required", JoinError::MembersOnly),
    ] {
        let (mut net, juliet) = joining();
        let error = format!(
            "<presence from='{ROOM}/juliet' type='error'><error type='cancel'>\
             <{condition} xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>"
        );
        room_says(&mut net, juliet, &error);
        assert_eq!(
            room_events(&mut net, juliet),
            [RoomEvent::JoinFailed {
                room: room(),
                error: expected
            }]
        );
        assert!(net.client(juliet).room(ROOM).is_none());
    }
}

#[test]
fn others_come_change_and_go() {
    let (mut net, juliet) = joined();
    let nurse = presence("nurse", "", &item("member", "participant"));
    let nurse_voiceless = presence("nurse", "", &item("member", "visitor"));
    let nurse_renamed = presence(
        "nurse",
        "type='unavailable'",
        "<item affiliation='member' role='participant' nick='angelica'/><status code='303'/>",
    );
    let angelica = presence("angelica", "", &item("member", "participant"));
    let kicked = presence(
        "angelica",
        "type='unavailable'",
        "<item affiliation='member' role='none'><actor nick='romeo'/><reason>hush</reason></item>\
         <status code='307'/>",
    );
    let romeo_banned = presence(
        "romeo",
        "type='unavailable'",
        "<item affiliation='outcast' role='none'/><status code='301'/>",
    );
    room_says(
        &mut net,
        juliet,
        &format!("{nurse}{nurse_voiceless}{nurse_renamed}{angelica}{kicked}{romeo_banned}"),
    );
    let events: Vec<_> = room_events(&mut net, juliet).into_iter().skip(1).collect();
    let kinds: Vec<String> = events
        .iter()
        .map(|e| match e {
            RoomEvent::OccupantJoined { occupant, .. } => format!("joined {}", occupant.nick),
            RoomEvent::OccupantChanged { occupant, .. } => {
                format!("changed {} {:?}", occupant.nick, occupant.role)
            }
            RoomEvent::OccupantLeft { nick, why, .. } => format!("left {nick} {why:?}"),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "joined nurse",
            "changed nurse Visitor",
            "left nurse NickChanged { new: \"angelica\" }",
            "joined angelica",
            "left angelica Kicked { actor: Some(\"romeo\"), reason: Some(\"hush\") }",
            "left romeo Banned { actor: None, reason: None }",
        ]
    );
    assert!(net.client(juliet).room(ROOM).unwrap().occupants.is_empty());
}

#[test]
fn our_nick_change_comes_back_and_a_refusal_says_why() {
    let (mut net, juliet) = joined();
    let now = net.now;
    net.client(juliet)
        .change_nick(now, &room(), "jules")
        .unwrap();
    net.run();
    let gone = presence(
        "juliet",
        "type='unavailable'",
        "<item affiliation='none' role='participant' nick='jules'/>\
         <status code='303'/><status code='110'/>",
    );
    let back = presence(
        "jules",
        "",
        &format!("{}<status code='110'/>", item("none", "participant")),
    );
    room_says(&mut net, juliet, &format!("{gone}{back}"));
    assert_eq!(
        room_events(&mut net, juliet).last(),
        Some(&RoomEvent::NickChanged {
            room: room(),
            old: "juliet".into(),
            new: "jules".into()
        })
    );
    assert_eq!(net.client(juliet).room(ROOM).unwrap().nick, "jules");

    net.client(juliet)
        .change_nick(now, &room(), "romeo")
        .unwrap();
    net.run();
    let refused = format!(
        "<presence from='{ROOM}/romeo' type='error'><error type='cancel'>\
         <conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>"
    );
    room_says(&mut net, juliet, &refused);
    assert!(matches!(
        room_events(&mut net, juliet).last(),
        Some(RoomEvent::NickRefused { nick, .. }) if nick == "romeo"
    ));
    let state = net.client(juliet).room(ROOM).unwrap();
    assert!(state.joined && state.nick == "jules");
}

#[test]
fn being_kicked_or_the_room_destroyed_ends_our_stay() {
    let (mut net, juliet) = joined();
    let kicked = presence(
        "juliet",
        "type='unavailable'",
        "<item affiliation='none' role='none'><actor nick='romeo'/></item>\
         <status code='307'/><status code='110'/>",
    );
    room_says(&mut net, juliet, &kicked);
    assert!(matches!(
        room_events(&mut net, juliet).last(),
        Some(RoomEvent::Left { why: Departure::Kicked { actor: Some(a), .. }, .. }) if a == "romeo"
    ));
    assert!(net.client(juliet).room(ROOM).is_none());

    let (mut net, juliet) = joined();
    let destroyed = presence(
        "juliet",
        "type='unavailable'",
        "<item affiliation='none' role='none'/><destroy jid='coffee@rooms.example.com'>\
         <reason>moving</reason></destroy><status code='110'/>",
    );
    room_says(&mut net, juliet, &destroyed);
    assert!(matches!(
        room_events(&mut net, juliet).last(),
        Some(RoomEvent::Left { why: Departure::Destroyed { alternate: Some(a), .. }, .. })
            if a == "coffee@rooms.example.com"
    ));
}

#[test]
fn messages_history_reflections_subject_and_private_messages() {
    let (mut net, juliet) = joined();
    let stanzas = format!(
        "<message from='{ROOM}/romeo' type='groupchat' id='h1'><body>earlier</body>\
         <delay xmlns='urn:xmpp:delay' stamp='2026-12-03T10:00:00Z'/></message>\
         <message from='{ROOM}/romeo' type='groupchat'><subject>Tea</subject></message>\
         <message from='{ROOM}/romeo' type='groupchat'><body>hello</body></message>\
         <message from='{ROOM}/juliet' type='groupchat'><body>mine</body></message>\
         <message from='{ROOM}/romeo' type='chat'><body>psst</body>\
         <x xmlns='http://jabber.org/protocol/muc#user'/></message>"
    );
    room_says(&mut net, juliet, &stanzas);
    let summary: Vec<String> = room_events(&mut net, juliet)
        .into_iter()
        .skip(1)
        .map(|e| match e {
            RoomEvent::Message {
                nick,
                message,
                own,
                history,
                ..
            } => format!(
                "message {nick:?} {:?} own={own} history={history}",
                message.body().unwrap()
            ),
            RoomEvent::Subject { subject, nick, .. } => format!("subject {subject} by {nick:?}"),
            RoomEvent::PrivateMessage { nick, message, .. } => {
                format!("private {nick} {:?}", message.body().unwrap())
            }
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        summary,
        [
            "message Some(\"romeo\") \"earlier\" own=false history=true",
            "subject Tea by Some(\"romeo\")",
            "message Some(\"romeo\") \"hello\" own=false history=false",
            "message Some(\"juliet\") \"mine\" own=true history=false",
            "private romeo \"psst\"",
        ]
    );
    assert_eq!(
        net.client(juliet).room(ROOM).unwrap().subject.as_deref(),
        Some("Tea")
    );
    // Group chat never reaches the ordinary message events.
    assert!(net.bodies(juliet).is_empty());
}

#[test]
fn occupant_ids_tell_our_reflections_apart_after_a_nick_clash() {
    let (mut net, juliet) = joining();
    let own = format!(
        "<presence from='{ROOM}/juliet'><x xmlns='http://jabber.org/protocol/muc#user'>\
         {}<status code='110'/></x><occupant-id xmlns='urn:xmpp:occupant-id:0' id='J1'/></presence>",
        item("none", "participant")
    );
    // A message under our nickname but another occupant id is not ours.
    let stanzas = format!(
        "{own}<message from='{ROOM}/juliet' type='groupchat'><body>not mine</body>\
         <occupant-id xmlns='urn:xmpp:occupant-id:0' id='X9'/></message>\
         <message from='{ROOM}/juliet' type='groupchat'><body>mine</body>\
         <occupant-id xmlns='urn:xmpp:occupant-id:0' id='J1'/></message>"
    );
    room_says(&mut net, juliet, &stanzas);
    let owns: Vec<bool> = room_events(&mut net, juliet)
        .into_iter()
        .filter_map(|e| match e {
            RoomEvent::Message { own, .. } => Some(own),
            _ => None,
        })
        .collect();
    assert_eq!(owns, [false, true]);
}

#[test]
fn invitations_relayed_and_direct() {
    let mut net = network();
    let juliet = net.login("juliet", "balcony");
    let invites = format!(
        "<message from='{ROOM}'><x xmlns='http://jabber.org/protocol/muc#user'>\
         <invite from='romeo@example.com/garden'><reason>tea?</reason></invite>\
         <password>leaves</password></x></message>\
         <message from='romeo@example.com/garden'>\
         <x xmlns='jabber:x:conference' jid='{ROOM}' reason='come'/></message>"
    );
    room_says(&mut net, juliet, &invites);
    assert_eq!(
        room_events(&mut net, juliet),
        [
            RoomEvent::Invited {
                room: room(),
                from: Some("romeo@example.com/garden".into()),
                reason: Some("tea?".into()),
                password: Some("leaves".into())
            },
            RoomEvent::Invited {
                room: room(),
                from: Some("romeo@example.com/garden".into()),
                reason: Some("come".into()),
                password: None
            },
        ]
    );
}

#[test]
fn leaving_ends_with_our_own_unavailable() {
    let (mut net, juliet) = joined();
    let now = net.now;
    net.client(juliet)
        .leave_room(now, &room(), Some("bye"))
        .unwrap();
    net.run();
    let sent = String::from_utf8_lossy(&net.pair(juliet).client_bytes).into_owned();
    assert!(sent.contains("type='unavailable'") && sent.contains("<status>bye</status>"));
    let gone = presence(
        "juliet",
        "type='unavailable'",
        &format!("{}<status code='110'/>", item("none", "none")),
    );
    room_says(&mut net, juliet, &gone);
    assert!(matches!(
        room_events(&mut net, juliet).last(),
        Some(RoomEvent::Left {
            why: Departure::Left { .. },
            ..
        })
    ));
    assert!(net.client(juliet).room(ROOM).is_none());
    assert_eq!(
        net.client(juliet).leave_room(now, &room(), None),
        Err(xmpp_proto::CommandError::NotAsked)
    );
}
