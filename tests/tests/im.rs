//! RFC 6121 through one in-memory server: rosters, the subscription
//! handshake (contact online and offline), pushes, presence to contacts,
//! removal, limits, and what the store is told.

use xmpp_proto::client::ClientEvent;
use xmpp_proto::hub::{Hub, HubEvent};
use xmpp_proto::jid::BareJid;
use xmpp_proto::roster::{RosterEntry, RosterItem, Subscription};
use xmpp_proto::router::SessionId;
use xmpp_proto::stanza::{Presence, PresenceType};
use xmpp_tests::{DOMAIN, Network};

fn jid(user: &str) -> BareJid {
    BareJid::new(&format!("{user}@{DOMAIN}")).unwrap()
}

/// Logs `user` in, fetches its roster and sends initial presence.
fn online(net: &mut Network, user: &str, resource: &str) -> SessionId {
    let id = net.login(user, resource);
    let now = net.now;
    net.client(id).request_roster(now).unwrap();
    net.run();
    net.client(id)
        .send(now, Presence::builder(PresenceType::Available).build())
        .unwrap();
    net.run();
    id
}

fn subscription(net: &mut Network, id: SessionId, contact: &str) -> Option<Subscription> {
    net.client(id)
        .roster()
        .get(jid(contact).as_str())
        .map(|i| i.subscription)
}

fn requests(net: &mut Network, id: SessionId) -> Vec<String> {
    net.pair(id)
        .client_events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::SubscriptionRequest { from, .. } => Some(from.as_str().to_owned()),
            _ => None,
        })
        .collect()
}

fn presences_from(net: &mut Network, id: SessionId, contact: &str) -> Vec<Presence> {
    let contact = jid(contact);
    net.pair(id)
        .client_events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Presence(p)
                if p.from().is_some_and(|f| f.starts_with(contact.as_str())) =>
            {
                Some(p.clone())
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_subscription_handshake_between_two_online_users() {
    let mut net = Network::new(Hub::new(DOMAIN).unwrap());
    let juliet = online(&mut net, "juliet", "balcony");
    let romeo = online(&mut net, "romeo", "orchard");
    let now = net.now;
    net.client(juliet).subscribe(now, &jid("romeo")).unwrap();
    net.run();
    // Juliet's roster has romeo, waiting; romeo is asked.
    let item = net
        .client(juliet)
        .roster()
        .get(jid("romeo").as_str())
        .cloned()
        .unwrap();
    assert!(item.ask && item.subscription == Subscription::None);
    assert_eq!(requests(&mut net, romeo), [jid("juliet").as_str()]);
    // Romeo's roster shows nothing yet (§3.1.3: no item before approval).
    assert_eq!(subscription(&mut net, romeo, "juliet"), None);

    net.client(romeo)
        .approve_subscription(now, &jid("juliet"))
        .unwrap();
    net.run();
    assert_eq!(
        subscription(&mut net, juliet, "romeo"),
        Some(Subscription::To)
    );
    assert_eq!(
        subscription(&mut net, romeo, "juliet"),
        Some(Subscription::From)
    );
    // Juliet sees romeo at once, per resource.
    let resources: Vec<String> = net
        .client(juliet)
        .presences_of(jid("romeo").as_str())
        .map(|(r, _)| r.to_owned())
        .collect();
    assert_eq!(resources, ["orchard"]);

    // Romeo's updates reach juliet; juliet's do not reach romeo.
    let away = Presence::builder(PresenceType::Available)
        .status("away")
        .build();
    net.client(romeo).send(now, away).unwrap();
    let back = Presence::builder(PresenceType::Available)
        .status("here")
        .build();
    net.client(juliet).send(now, back).unwrap();
    net.run();
    assert!(
        presences_from(&mut net, juliet, "romeo")
            .iter()
            .any(|p| p.status().as_deref() == Some("away"))
    );
    assert!(presences_from(&mut net, romeo, "juliet").is_empty());

    // Romeo leaves: juliet hears.
    net.client(romeo).close(now);
    net.run();
    assert!(
        presences_from(&mut net, juliet, "romeo")
            .iter()
            .any(|p| p.kind() == PresenceType::Unavailable)
    );
    assert_eq!(
        net.client(juliet)
            .presences_of(jid("romeo").as_str())
            .count(),
        0
    );
}

#[test]
fn a_request_to_an_offline_user_waits_for_their_next_login() {
    let mut net = Network::new(Hub::new(DOMAIN).unwrap());
    let juliet = online(&mut net, "juliet", "balcony");
    let now = net.now;
    net.client(juliet).subscribe(now, &jid("nurse")).unwrap();
    net.run();
    let nurse = online(&mut net, "nurse", "kitchen");
    assert_eq!(requests(&mut net, nurse), [jid("juliet").as_str()]);
    net.client(nurse)
        .approve_subscription(now, &jid("juliet"))
        .unwrap();
    net.run();
    assert_eq!(
        subscription(&mut net, juliet, "nurse"),
        Some(Subscription::To)
    );
    // Approved once: the next login brings no request again.
    net.client(nurse).close(now);
    net.run();
    let again = online(&mut net, "nurse", "garden");
    assert!(requests(&mut net, again).is_empty());
    // Juliet logs in anew and gets the nurse's presence (the probe).
    let juliet2 = online(&mut net, "juliet", "chamber");
    assert!(
        net.client(juliet2)
            .presences_of(jid("nurse").as_str())
            .count()
            == 1
    );
}

#[test]
fn roster_sets_and_removal_are_pushed_and_end_subscriptions_both_ways() {
    let mut net = Network::new(Hub::new(DOMAIN).unwrap());
    let juliet = online(&mut net, "juliet", "balcony");
    let juliet_phone = online(&mut net, "juliet", "phone");
    let romeo = online(&mut net, "romeo", "orchard");
    let now = net.now;
    net.client(juliet)
        .set_roster_item(now, &jid("romeo"), Some("Romeo"), &["Montague"])
        .unwrap();
    net.run();
    // The other resource got the push too.
    let item = net
        .client(juliet_phone)
        .roster()
        .get(jid("romeo").as_str())
        .cloned()
        .unwrap();
    assert_eq!(item.name.as_deref(), Some("Romeo"));
    assert_eq!(item.groups, ["Montague"]);
    // Mutual subscription.
    net.client(juliet).subscribe(now, &jid("romeo")).unwrap();
    net.run();
    net.client(romeo)
        .approve_subscription(now, &jid("juliet"))
        .unwrap();
    net.client(romeo).subscribe(now, &jid("juliet")).unwrap();
    net.run();
    net.client(juliet)
        .approve_subscription(now, &jid("romeo"))
        .unwrap();
    net.run();
    assert_eq!(
        subscription(&mut net, juliet, "romeo"),
        Some(Subscription::Both)
    );
    assert_eq!(
        subscription(&mut net, romeo, "juliet"),
        Some(Subscription::Both)
    );

    net.client(juliet)
        .remove_roster_item(now, &jid("romeo"))
        .unwrap();
    net.run();
    assert_eq!(subscription(&mut net, juliet, "romeo"), None);
    assert_eq!(subscription(&mut net, juliet_phone, "romeo"), None);
    // Romeo keeps the item, with nothing left either way.
    assert_eq!(
        subscription(&mut net, romeo, "juliet"),
        Some(Subscription::None)
    );
    // And saw juliet leave.
    assert!(
        presences_from(&mut net, romeo, "juliet")
            .iter()
            .any(|p| p.kind() == PresenceType::Unavailable)
    );
}

#[test]
fn the_store_is_told_every_change_and_a_restored_roster_is_served() {
    let mut net = Network::new(Hub::new(DOMAIN).unwrap());
    let juliet = online(&mut net, "juliet", "balcony");
    let now = net.now;
    net.client(juliet).subscribe(now, &jid("romeo")).unwrap();
    net.run();
    let changes: Vec<(String, String, Option<RosterEntry>)> = net
        .hub_events
        .iter()
        .filter_map(|e| match e {
            HubEvent::RosterChanged {
                account,
                contact,
                entry,
                ..
            } => Some((
                account.as_str().to_owned(),
                contact.as_str().to_owned(),
                entry.as_deref().cloned(),
            )),
            _ => None,
        })
        .collect();
    // Juliet's item (ask), and romeo's waiting request.
    assert!(changes.iter().any(|(a, c, e)| a == jid("juliet").as_str()
        && c == jid("romeo").as_str()
        && e.as_ref().is_some_and(|e| e.item.ask)));
    assert!(changes.iter().any(|(a, c, e)| a == jid("romeo").as_str()
        && c == jid("juliet").as_str()
        && e.as_ref().is_some_and(|e| e.pending_in && !e.listed)));

    // A hub restored from what a store kept serves the same roster.
    let mut hub = Hub::new(DOMAIN).unwrap();
    let mut item = RosterItem::new(jid("nurse"));
    item.subscription = Subscription::Both;
    hub.restore_roster(jid("juliet"), 7, vec![RosterEntry::new(item)]);
    let mut net = Network::new(hub);
    let juliet = online(&mut net, "juliet", "balcony");
    assert_eq!(
        subscription(&mut net, juliet, "nurse"),
        Some(Subscription::Both)
    );
    assert_eq!(net.client(juliet).roster().version(), Some("7"));
}

#[test]
fn a_roster_has_room_for_its_limit_and_no_more() {
    let hub = Hub::new(DOMAIN).unwrap().with_roster_limits(2, 1);
    let mut net = Network::new(hub);
    let juliet = online(&mut net, "juliet", "balcony");
    let now = net.now;
    for user in ["romeo", "nurse"] {
        net.client(juliet)
            .set_roster_item(now, &jid(user), None, &[])
            .unwrap();
    }
    net.run();
    let id = net
        .client(juliet)
        .set_roster_item(now, &jid("tybalt"), None, &[])
        .unwrap();
    net.run();
    let refused = net.pair(juliet).client_events.iter().any(|e| {
        matches!(
            e,
            ClientEvent::IqResponse { id: got, response } if *got == id
                && response.kind() == xmpp_proto::stanza::IqType::Error
        )
    });
    assert!(refused);
    assert_eq!(net.client(juliet).roster().len(), 2);
    // One stranger's request waits; a second is refused back.
    let romeo = online(&mut net, "romeo", "orchard");
    let nurse = online(&mut net, "nurse", "kitchen");
    net.client(romeo).close(now);
    net.run();
    net.client(nurse).subscribe(now, &jid("romeo")).unwrap();
    net.run();
    net.client(juliet).subscribe(now, &jid("romeo")).unwrap();
    net.run();
    assert!(
        net.pair(juliet).client_events.iter().any(|e| matches!(
            e,
            ClientEvent::Presence(p) if p.kind() == PresenceType::Error
        )) || net
            .pair(juliet)
            .client_events
            .iter()
            .any(|e| matches!(e, ClientEvent::Bounced { .. }))
    );
}

/// Enables XEP-0280 carbons on session `id`.
fn enable_carbons(net: &mut Network, id: SessionId) {
    let now = net.now;
    let enable = xmpp_proto::stanza::Iq::set(
        "carbons",
        xmpp_proto::xml::Element::builder("enable", xmpp_proto::xml::ns::CARBONS),
    );
    net.client(id).send(now, enable).unwrap();
    net.run();
}

/// The carbon copies `id` received: (sent or received, the body).
fn carbons(net: &mut Network, id: SessionId) -> Vec<(String, String)> {
    use xmpp_proto::xml::ns;
    net.pair(id)
        .client_events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Message(m) => {
                let el = m.element();
                let (kind, wrapper) = [
                    ("sent", el.child("sent", ns::CARBONS)),
                    ("received", el.child("received", ns::CARBONS)),
                ]
                .into_iter()
                .find_map(|(k, w)| w.map(|w| (k, w)))?;
                let inner = wrapper
                    .child("forwarded", ns::FORWARD)?
                    .child("message", ns::CLIENT)?;
                let body = inner.child("body", ns::CLIENT)?.text().into_owned();
                Some((kind.to_owned(), body))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn carbons_copy_what_the_other_resources_send_and_receive() {
    let mut net = Network::new(Hub::new(DOMAIN).unwrap());
    let balcony = online(&mut net, "juliet", "balcony");
    let phone = online(&mut net, "juliet", "phone");
    let romeo = online(&mut net, "romeo", "orchard");
    enable_carbons(&mut net, phone);
    let now = net.now;
    let to_balcony = format!("juliet@{DOMAIN}/balcony");
    net.client(romeo)
        .send_message(now, &to_balcony, "to your balcony", false)
        .unwrap();
    net.client(balcony)
        .send_message(now, &format!("romeo@{DOMAIN}"), "from my balcony", false)
        .unwrap();
    // A private message is not copied (§7).
    let private = xmpp_proto::stanza::Message::builder(xmpp_proto::stanza::MessageType::Chat)
        .to(&format!("romeo@{DOMAIN}"))
        .body("just us")
        .payload(xmpp_proto::xml::Element::builder(
            "private",
            xmpp_proto::xml::ns::CARBONS,
        ))
        .build();
    net.client(balcony).send(now, private).unwrap();
    net.run();
    let mut copies = carbons(&mut net, phone);
    copies.sort();
    assert_eq!(
        copies,
        [
            ("received".to_owned(), "to your balcony".to_owned()),
            ("sent".to_owned(), "from my balcony".to_owned())
        ]
    );
    // The balcony did not enable carbons: no copies there.
    assert!(carbons(&mut net, balcony).is_empty());
}

/// The result or error of the IQ `id` sent on session `session`.
fn answer(
    net: &mut Network,
    session: SessionId,
    id: &xmpp_proto::client::StanzaId,
) -> xmpp_proto::stanza::Iq {
    net.pair(session)
        .client_events
        .iter()
        .find_map(|e| match e {
            ClientEvent::IqResponse { id: got, response } if got == id => Some(response.clone()),
            _ => None,
        })
        .expect("an answer")
}

#[test]
fn private_xml_is_kept_per_account_and_bounded() {
    use xmpp_proto::stanza::{Iq, IqType};
    use xmpp_proto::xml::{Element, ns};
    let mut net = Network::new(Hub::new(DOMAIN).unwrap().with_private_budget(300));
    let juliet = online(&mut net, "juliet", "balcony");
    let now = net.now;
    let bookmarks = Element::builder("storage", "storage:bookmarks")
        .append(
            Element::builder("conference", "storage:bookmarks").attr("jid", "room@muc.example.com"),
        )
        .build();
    let set = Iq::set(
        "p1",
        Element::builder("query", ns::PRIVATE).append(bookmarks.clone()),
    );
    let id = net.client(juliet).send(now, set).unwrap();
    net.run();
    assert_eq!(answer(&mut net, juliet, &id).kind(), IqType::Result);
    assert!(
        net.hub_events.iter().any(
            |e| matches!(e, HubEvent::PrivateChanged { element, .. } if *element == bookmarks)
        )
    );

    // Another session of the account gets it back; another account not.
    let phone = online(&mut net, "juliet", "phone");
    let get = Iq::get(
        "p2",
        Element::builder("query", ns::PRIVATE)
            .append(Element::builder("storage", "storage:bookmarks")),
    );
    let id = net.client(phone).send(now, get.clone()).unwrap();
    net.run();
    let got = answer(&mut net, phone, &id);
    let stored = got
        .payload()
        .and_then(|q| q.child("storage", "storage:bookmarks"))
        .unwrap()
        .to_owned();
    assert_eq!(stored, bookmarks);
    let romeo = online(&mut net, "romeo", "orchard");
    let id = net.client(romeo).send(now, get).unwrap();
    net.run();
    let empty = answer(&mut net, romeo, &id);
    assert!(
        empty
            .payload()
            .and_then(|q| q.child("storage", "storage:bookmarks"))
            .unwrap()
            .is_empty()
    );

    // Past the budget, and in the protocol's own namespaces: refused.
    let big = Element::builder("notes", "urn:example:notes")
        .text(&"x".repeat(400))
        .build();
    let id = net
        .client(juliet)
        .send(
            now,
            Iq::set("p3", Element::builder("query", ns::PRIVATE).append(big)),
        )
        .unwrap();
    let reserved =
        Element::builder("query", ns::PRIVATE).append(Element::builder("message", ns::CLIENT));
    let id2 = net
        .client(juliet)
        .send(now, Iq::set("p4", reserved))
        .unwrap();
    net.run();
    assert_eq!(answer(&mut net, juliet, &id).kind(), IqType::Error);
    assert_eq!(answer(&mut net, juliet, &id2).kind(), IqType::Error);
}

/// Sends a XEP-0191 request (`kind`: blocklist, block, unblock) with
/// these JIDs from `id`; returns the answer.
fn blocking(net: &mut Network, id: SessionId, kind: &str, jids: &[&str]) -> xmpp_proto::stanza::Iq {
    use xmpp_proto::stanza::Iq;
    use xmpp_proto::xml::Element;
    let mut payload = Element::builder(kind, "urn:xmpp:blocking");
    for jid in jids {
        payload = payload.append(Element::builder("item", "urn:xmpp:blocking").attr("jid", jid));
    }
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let iq_id = format!(
        "b{}",
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let now = net.now;
    let iq = match kind {
        "blocklist" => Iq::get(&iq_id, payload),
        _ => Iq::set(&iq_id, payload),
    };
    let sent = net.client(id).send(now, iq).unwrap();
    net.run();
    answer(net, id, &sent)
}

#[test]
fn a_blocked_address_reaches_nothing_and_is_reached_by_nothing() {
    use xmpp_proto::stanza::{DefinedCondition, IqType};
    let mut net = Network::new(Hub::new(DOMAIN).unwrap());
    let juliet = online(&mut net, "juliet", "balcony");
    let phone = online(&mut net, "juliet", "phone");
    let romeo = online(&mut net, "romeo", "orchard");
    assert_eq!(
        blocking(&mut net, phone, "blocklist", &[]).kind(),
        IqType::Result
    );
    let romeo_jid = format!("romeo@{DOMAIN}");
    assert_eq!(
        blocking(&mut net, juliet, "block", &[&romeo_jid]).kind(),
        IqType::Result
    );
    // The store is told the list as it is now.
    assert!(net.hub_events.iter().any(
        |e| matches!(e, HubEvent::BlocklistChanged { blocked, .. } if *blocked == [romeo_jid.clone()])
    ));
    let now = net.now;
    let from_romeo = net
        .client(romeo)
        .send_message(now, &format!("juliet@{DOMAIN}"), "let me in", false)
        .unwrap();
    let to_romeo = net
        .client(juliet)
        .send_message(now, &romeo_jid, "go away", false)
        .unwrap();
    net.run();
    assert!(net.bodies(juliet).is_empty() && net.bodies(phone).is_empty());
    assert!(net.bodies(romeo).is_empty());
    assert_eq!(
        net.bounces(romeo),
        [(from_romeo, DefinedCondition::ServiceUnavailable)]
    );
    assert_eq!(
        net.bounces(juliet),
        [(to_romeo, DefinedCondition::NotAcceptable)]
    );
    // The list says so; unblocking lets messages through again.
    let list = blocking(&mut net, juliet, "blocklist", &[]);
    let items = list.payload().map(|p| p.children().count()).unwrap_or(0);
    assert_eq!(items, 1);
    blocking(&mut net, juliet, "unblock", &[]);
    let now = net.now;
    net.client(romeo)
        .send_message(now, &format!("juliet@{DOMAIN}/balcony"), "friends?", false)
        .unwrap();
    net.run();
    assert_eq!(net.bodies(juliet), ["friends?"]);
}

#[test]
fn malformed_roster_and_block_requests_are_refused_and_change_nothing() {
    use xmpp_proto::stanza::{DefinedCondition, Iq, IqType};
    use xmpp_proto::xml::{Element, ns};
    let mut net = Network::new(Hub::new(DOMAIN).unwrap());
    let juliet = online(&mut net, "juliet", "balcony");
    let condition = |iq: &Iq| iq.error().map(|e| e.condition);
    // Blocking: no item, an address that is not a JID.
    let empty = blocking(&mut net, juliet, "block", &[]);
    assert_eq!(condition(&empty), Some(DefinedCondition::BadRequest));
    let bad = blocking(&mut net, juliet, "block", &["not a jid@"]);
    assert_eq!(condition(&bad), Some(DefinedCondition::JidMalformed));
    let list = blocking(&mut net, juliet, "blocklist", &[]);
    assert_eq!(list.payload().map(|p| p.children().count()), Some(0));
    // A roster set with two items, or a group named twice.
    let item = |jid: &str| Element::builder("item", ns::ROSTER).attr("jid", jid);
    let two = Element::builder("query", ns::ROSTER)
        .append(item("romeo@example.com"))
        .append(item("nurse@example.com"));
    let twice = Element::builder("query", ns::ROSTER).append(
        item("romeo@example.com")
            .append(Element::builder("group", ns::ROSTER).text("A"))
            .append(Element::builder("group", ns::ROSTER).text("A")),
    );
    let now = net.now;
    for (n, query) in [two, twice].into_iter().enumerate() {
        let request = Iq::set(&format!("bad{n}"), query);
        let id = net.client(juliet).send(now, request).unwrap();
        net.run();
        let answer = answer(&mut net, juliet, &id);
        assert_eq!(answer.kind(), IqType::Error);
        assert_eq!(condition(&answer), Some(DefinedCondition::BadRequest));
    }
    assert_eq!(net.client(juliet).roster().len(), 0);
}
