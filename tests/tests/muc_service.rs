//! Our group chat service (the hub's rooms on `conference.example.com`)
//! with our group chat client, in memory: a room created by its first
//! join, a second occupant, a nickname taken, the subject, messages with
//! reflection and history, private messages, a nickname change, kick and
//! ban, members-only and password rooms, disco, and a connection that
//! ends taking its occupant with it.

use xmpp_proto::client::{ClientEvent, Departure, RoomEvent};
use xmpp_proto::hub::Hub;
use xmpp_proto::jid::BareJid;
use xmpp_proto::muc::{Affiliation, History, JoinError, JoinOptions, Role};
use xmpp_proto::router::SessionId;
use xmpp_proto::stanza::{Iq, IqType};
use xmpp_proto::xml::{Element, ns};
use xmpp_tests::{DOMAIN, Network};

const SERVICE: &str = "conference.example.com";

fn network() -> Network {
    let hub = Hub::new(DOMAIN)
        .unwrap()
        .with_rooms(SERVICE, [9; 16])
        .unwrap()
        .with_wall_clock(Box::new(|| "2026-12-03T10:00:00Z".to_owned()));
    Network::new(hub)
}

fn room(name: &str) -> BareJid {
    BareJid::new(&format!("{name}@{SERVICE}")).unwrap()
}

fn events(net: &mut Network, id: SessionId) -> Vec<RoomEvent> {
    net.pair(id)
        .client_events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Room(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

fn join(net: &mut Network, id: SessionId, name: &str, nick: &str, options: &JoinOptions) {
    let now = net.now;
    net.client(id)
        .join_room(now, &room(name), nick, options)
        .unwrap();
    net.run();
}

/// juliet owns `tea` (created by her join), romeo is in it.
fn tea_for_two() -> (Network, SessionId, SessionId) {
    let mut net = network();
    let juliet = net.login("juliet", "balcony");
    let romeo = net.login("romeo", "garden");
    join(&mut net, juliet, "tea", "juliet", &JoinOptions::default());
    join(&mut net, romeo, "tea", "romeo", &JoinOptions::default());
    (net, juliet, romeo)
}

#[test]
fn the_first_join_creates_the_room_and_the_next_one_sees_its_owner() {
    let (mut net, juliet, romeo) = tea_for_two();
    assert!(matches!(
        events(&mut net, juliet)[..],
        [
            RoomEvent::Joined { created: true, .. },
            RoomEvent::Subject { .. },
            RoomEvent::OccupantJoined { .. }
        ]
    ));
    let seen = net
        .client(romeo)
        .room(room("tea").as_str())
        .unwrap()
        .clone();
    assert!(seen.joined);
    assert_eq!(seen.role, Role::Participant);
    let juliet_seen = &seen.occupants["juliet"];
    assert_eq!(
        (juliet_seen.role, juliet_seen.affiliation),
        (Role::Moderator, Affiliation::Owner)
    );
    // Semi-anonymous: romeo (a participant) does not see her real JID;
    // juliet (a moderator) sees his.
    assert!(juliet_seen.jid.is_none());
    let romeo_seen = net
        .client(juliet)
        .room(room("tea").as_str())
        .unwrap()
        .occupants["romeo"]
        .clone();
    assert_eq!(
        romeo_seen.jid.map(|j| j.to_string()).as_deref(),
        Some("romeo@example.com/garden")
    );
    assert_eq!(net.hub.rooms().unwrap().room_count(), 1);
}

#[test]
fn a_taken_nickname_is_refused() {
    let (mut net, _juliet, _romeo) = tea_for_two();
    let nurse = net.login("nurse", "kitchen");
    join(&mut net, nurse, "tea", "romeo", &JoinOptions::default());
    assert_eq!(
        events(&mut net, nurse),
        [RoomEvent::JoinFailed {
            room: room("tea"),
            error: JoinError::NicknameInUse
        }]
    );
}

#[test]
fn messages_subject_history_and_private_messages() {
    let (mut net, juliet, romeo) = tea_for_two();
    let now = net.now;
    net.client(juliet)
        .set_room_subject(now, &room("tea"), "Darjeeling")
        .unwrap();
    net.client(juliet)
        .send_to_room(now, &room("tea"), "hello")
        .unwrap();
    net.client(romeo)
        .send_private(now, &room("tea"), "juliet", "psst")
        .unwrap();
    net.run();
    let got = events(&mut net, romeo);
    assert!(got.iter().any(|e| matches!(e,
        RoomEvent::Subject { subject, nick: Some(n), .. } if subject == "Darjeeling" && n == "juliet")));
    assert!(got.iter().any(|e| matches!(e,
        RoomEvent::Message { nick: Some(n), own: false, history: false, message, .. }
            if n == "juliet" && message.body().as_deref() == Some("hello"))));
    let mine = events(&mut net, juliet);
    assert!(mine.iter().any(|e| matches!(e,
        RoomEvent::Message { own: true, message, .. } if message.body().as_deref() == Some("hello"))));
    assert!(mine.iter().any(|e| matches!(e,
        RoomEvent::PrivateMessage { nick, message, .. }
            if nick == "romeo" && message.body().as_deref() == Some("psst"))));

    // A newcomer gets the history (with delay) and the subject last.
    let nurse = net.login("nurse", "kitchen");
    join(&mut net, nurse, "tea", "nurse", &JoinOptions::default());
    let hers = events(&mut net, nurse);
    assert!(
        matches!(
            &hers[..],
            [
                RoomEvent::Joined { created: false, .. },
                RoomEvent::Message { history: true, .. },
                RoomEvent::Subject { .. }
            ]
        ),
        "{hers:?}"
    );
    // And none when she asks for none.
    let tybalt = {
        net.accounts.add("tybalt", "secret");
        net.hub
            .add_account(&BareJid::new("tybalt@example.com").unwrap());
        net.login("tybalt", "street")
    };
    join(
        &mut net,
        tybalt,
        "tea",
        "tybalt",
        &JoinOptions::default().with_history(History::none()),
    );
    let his = events(&mut net, tybalt);
    assert!(
        !his.iter().any(|e| matches!(e, RoomEvent::Message { .. })),
        "the service sent history anyway: {his:?}"
    );
}

#[test]
fn a_nickname_change_is_seen_by_all() {
    let (mut net, juliet, romeo) = tea_for_two();
    let now = net.now;
    net.client(romeo)
        .change_nick(now, &room("tea"), "montague")
        .unwrap();
    net.run();
    assert!(events(&mut net, romeo).iter().any(|e| matches!(e,
        RoomEvent::NickChanged { old, new, .. } if old == "romeo" && new == "montague")));
    let seen = events(&mut net, juliet);
    assert!(seen.iter().any(|e| matches!(e,
        RoomEvent::OccupantLeft { nick, why: Departure::NickChanged { new }, .. }
            if nick == "romeo" && new == "montague")));
    assert!(seen.iter().any(|e| matches!(e,
        RoomEvent::OccupantJoined { occupant, .. } if occupant.nick == "montague")));
    let names: Vec<String> = net
        .hub
        .rooms()
        .unwrap()
        .occupants("tea")
        .unwrap()
        .map(str::to_owned)
        .collect();
    assert_eq!(names, ["juliet", "montague"]);
}

#[test]
fn the_owner_kicks_and_bans_and_a_participant_may_not() {
    let (mut net, juliet, romeo) = tea_for_two();
    let now = net.now;
    // romeo is no moderator.
    let refused = net
        .client(romeo)
        .kick(now, &room("tea"), "juliet", None)
        .unwrap();
    net.run();
    let forbidden = net.pair(romeo).client_events.iter().any(|e| {
        matches!(e, ClientEvent::IqResponse { id, response }
            if *id == refused && response.kind() == IqType::Error)
    });
    assert!(forbidden);
    net.client(juliet)
        .kick(now, &room("tea"), "romeo", Some("manners"))
        .unwrap();
    net.run();
    assert!(events(&mut net, romeo).iter().any(|e| matches!(e,
        RoomEvent::Left { why: Departure::Kicked { actor: Some(a), reason: Some(r) }, .. }
            if a == "juliet" && r == "manners")));
    // Banned, he cannot come back.
    let ban = Iq::set(
        "ban1",
        Element::builder("query", "http://jabber.org/protocol/muc#admin").append(
            Element::builder("item", "http://jabber.org/protocol/muc#admin")
                .attr("jid", "romeo@example.com")
                .attr("affiliation", "outcast"),
        ),
    )
    .with_to(room("tea").as_str());
    net.client(juliet).send(now, ban).unwrap();
    net.run();
    join(&mut net, romeo, "tea", "romeo", &JoinOptions::default());
    assert!(matches!(
        events(&mut net, romeo).last(),
        Some(RoomEvent::JoinFailed {
            error: JoinError::Banned,
            ..
        })
    ));
}

/// The owner configures the room with a `muc#owner` form.
fn configure(net: &mut Network, owner: SessionId, name: &str, fields: &[(&str, &str)]) {
    let mut form = Element::builder("x", "jabber:x:data").attr("type", "submit");
    for (var, value) in fields {
        form = form.append(
            Element::builder("field", "jabber:x:data")
                .attr("var", *var)
                .append(Element::builder("value", "jabber:x:data").text(value)),
        );
    }
    let iq = Iq::set(
        "cfg1",
        Element::builder("query", "http://jabber.org/protocol/muc#owner").append(form),
    )
    .with_to(room(name).as_str());
    let now = net.now;
    net.client(owner).send(now, iq).unwrap();
    net.run();
}

#[test]
fn password_and_members_only_rooms_keep_others_out() {
    let mut net = network();
    let juliet = net.login("juliet", "balcony");
    let romeo = net.login("romeo", "garden");
    join(
        &mut net,
        juliet,
        "secret",
        "juliet",
        &JoinOptions::default(),
    );
    configure(
        &mut net,
        juliet,
        "secret",
        &[
            ("muc#roomconfig_passwordprotectedroom", "1"),
            ("muc#roomconfig_roomsecret", "rosemary"),
        ],
    );
    join(&mut net, romeo, "secret", "romeo", &JoinOptions::default());
    assert!(matches!(
        events(&mut net, romeo).last(),
        Some(RoomEvent::JoinFailed {
            error: JoinError::PasswordRequired,
            ..
        })
    ));
    join(
        &mut net,
        romeo,
        "secret",
        "romeo",
        &JoinOptions::default().with_password("rosemary"),
    );
    assert!(matches!(
        events(&mut net, romeo).last(),
        Some(RoomEvent::Subject { .. })
    ));

    join(
        &mut net,
        juliet,
        "members",
        "juliet",
        &JoinOptions::default(),
    );
    configure(
        &mut net,
        juliet,
        "members",
        &[("muc#roomconfig_membersonly", "1")],
    );
    let nurse = net.login("nurse", "kitchen");
    join(&mut net, nurse, "members", "nurse", &JoinOptions::default());
    assert!(matches!(
        events(&mut net, nurse).last(),
        Some(RoomEvent::JoinFailed {
            error: JoinError::MembersOnly,
            ..
        })
    ));
    // Made a member, she gets in.
    let member = Iq::set(
        "m1",
        Element::builder("query", "http://jabber.org/protocol/muc#admin").append(
            Element::builder("item", "http://jabber.org/protocol/muc#admin")
                .attr("jid", "nurse@example.com")
                .attr("affiliation", "member"),
        ),
    )
    .with_to(room("members").as_str());
    let now = net.now;
    net.client(juliet).send(now, member).unwrap();
    net.run();
    join(&mut net, nurse, "members", "nurse", &JoinOptions::default());
    assert!(
        net.client(nurse)
            .room(room("members").as_str())
            .is_some_and(|r| r.joined)
    );
}

#[test]
fn disco_lists_public_rooms_and_describes_them() {
    let (mut net, juliet, _romeo) = tea_for_two();
    let now = net.now;
    let items = Iq::get("i1", Element::builder("query", ns::DISCO_ITEMS).build()).with_to(SERVICE);
    let items_id = net.client(juliet).send(now, items).unwrap();
    let info = Iq::get("i2", Element::builder("query", ns::DISCO_INFO).build())
        .with_to(room("tea").as_str());
    let info_id = net.client(juliet).send(now, info).unwrap();
    net.run();
    let response = |net: &mut Network, want| {
        net.pair(juliet)
            .client_events
            .iter()
            .find_map(|e| match e {
                ClientEvent::IqResponse { id, response } if *id == want => Some(response.clone()),
                _ => None,
            })
            .unwrap()
    };
    let items = response(&mut net, items_id);
    let listed: Vec<String> = items
        .payload()
        .unwrap()
        .children()
        .filter_map(|c| c.attr("jid").map(str::to_owned))
        .collect();
    assert_eq!(listed, [room("tea").as_str()]);
    let info = response(&mut net, info_id);
    let features: Vec<String> = info
        .payload()
        .unwrap()
        .children()
        .filter_map(|c| c.attr("var").map(str::to_owned))
        .collect();
    assert!(
        features
            .iter()
            .any(|f| f == "http://jabber.org/protocol/muc")
    );
    assert!(features.iter().any(|f| f == "muc_open"));
    // And the server's own items list the service.
    let server_items =
        Iq::get("i3", Element::builder("query", ns::DISCO_ITEMS).build()).with_to(DOMAIN);
    let id = net.client(juliet).send(now, server_items).unwrap();
    net.run();
    let listed = response(&mut net, id);
    assert!(
        listed
            .payload()
            .unwrap()
            .children()
            .any(|c| c.attr("jid") == Some(SERVICE))
    );
}

#[test]
fn a_connection_that_ends_takes_its_occupant_and_an_empty_room_goes() {
    let (mut net, juliet, romeo) = tea_for_two();
    net.cut(romeo);
    assert!(events(&mut net, juliet).iter().any(|e| matches!(e,
        RoomEvent::OccupantLeft { nick, why: Departure::Left { .. }, .. } if nick == "romeo")));
    let now = net.now;
    net.client(juliet)
        .leave_room(now, &room("tea"), None)
        .unwrap();
    net.run();
    assert!(matches!(
        events(&mut net, juliet).last(),
        Some(RoomEvent::Left { .. })
    ));
    assert_eq!(net.hub.rooms().unwrap().room_count(), 0);
}

/// One seat per nickname: another device of the same account is refused
/// the nickname its first device holds (the fuzz target found the
/// service keeping both under one name), and the first stays.
#[test]
fn a_second_device_cannot_take_the_nickname_of_the_first() {
    let (mut net, juliet, _romeo) = tea_for_two();
    let phone = net.login("juliet", "phone");
    join(&mut net, phone, "tea", "juliet", &JoinOptions::default());
    assert_eq!(
        events(&mut net, phone),
        [RoomEvent::JoinFailed {
            room: room("tea"),
            error: JoinError::NicknameInUse
        }]
    );
    let now = net.now;
    net.client(juliet)
        .send_to_room(now, &room("tea"), "still here")
        .unwrap();
    net.run();
    assert!(events(&mut net, juliet).iter().any(|e| matches!(e,
        RoomEvent::Message { own: true, message, .. } if message.body().as_deref() == Some("still here"))));
}

/// History by time and by size: `seconds` counts back from the time of
/// the join, `maxchars` 0 means none.
#[test]
fn history_by_seconds_and_by_size() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let minute = Arc::new(AtomicU64::new(0));
    let clock = Arc::clone(&minute);
    let hub = Hub::new(DOMAIN)
        .unwrap()
        .with_rooms(SERVICE, [9; 16])
        .unwrap()
        .with_wall_clock(Box::new(move || {
            format!("2026-12-03T10:{:02}:00Z", clock.load(Ordering::SeqCst))
        }));
    let mut net = Network::new(hub);
    let juliet = net.login("juliet", "balcony");
    join(&mut net, juliet, "tea", "juliet", &JoinOptions::default());
    for (at, body) in [(0, "at ten"), (30, "at half past")] {
        minute.store(at, Ordering::SeqCst);
        let now = net.now;
        net.client(juliet)
            .send_to_room(now, &room("tea"), body)
            .unwrap();
        net.run();
    }
    minute.store(40, Ordering::SeqCst);
    let history = |net: &mut Network, id: SessionId| -> Vec<String> {
        events(net, id)
            .into_iter()
            .filter_map(|e| match e {
                RoomEvent::Message {
                    message,
                    history: true,
                    ..
                } => message.body().map(|b| b.into_owned()),
                _ => None,
            })
            .collect()
    };
    let romeo = net.login("romeo", "garden");
    let mut last_15_minutes = History::default();
    last_15_minutes.seconds = Some(15 * 60);
    join(
        &mut net,
        romeo,
        "tea",
        "romeo",
        &JoinOptions::default().with_history(last_15_minutes),
    );
    assert_eq!(history(&mut net, romeo), ["at half past"]);

    let nurse = net.login("nurse", "kitchen");
    let mut nothing = History::default();
    nothing.max_chars = Some(0);
    join(
        &mut net,
        nurse,
        "tea",
        "nurse",
        &JoinOptions::default().with_history(nothing),
    );
    assert!(history(&mut net, nurse).is_empty());
}
