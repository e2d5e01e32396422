//! Random sequences of roster and subscription operations by three users
//! of one in-memory server, some online and some not: after every step,
//! both sides of every subscription agree (RFC 6121 §3), and the roster a
//! logged-in client holds is the one the server keeps.

#![allow(clippy::needless_range_loop)] // users are indices into USERS and `online`

use proptest::prelude::*;
use xmpp_proto::hub::Hub;
use xmpp_proto::jid::BareJid;
use xmpp_proto::router::SessionId;
use xmpp_proto::stanza::{Presence, PresenceType};
use xmpp_tests::{DOMAIN, Network};

const USERS: [&str; 3] = ["juliet", "romeo", "nurse"];

fn jid(i: usize) -> BareJid {
    BareJid::new(&format!("{}@{DOMAIN}", USERS[i])).unwrap()
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Subscribe,
    Unsubscribe,
    Approve,
    Deny,
    Add,
    Remove,
    /// Log in (or out, if online).
    Toggle,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Subscribe),
        Just(Op::Unsubscribe),
        Just(Op::Approve),
        Just(Op::Deny),
        Just(Op::Add),
        Just(Op::Remove),
        Just(Op::Toggle),
    ]
}

/// The sessions of the users who are online.
struct World {
    net: Network,
    online: [Option<SessionId>; 3],
}

impl World {
    fn new() -> Self {
        World {
            net: Network::new(Hub::new(DOMAIN).unwrap()),
            online: [None; 3],
        }
    }

    fn log_in(&mut self, user: usize) -> SessionId {
        if let Some(id) = self.online[user] {
            return id;
        }
        let id = self.net.login(USERS[user], "r");
        let now = self.net.now;
        self.net.client(id).request_roster(now).unwrap();
        self.net
            .client(id)
            .send(now, Presence::builder(PresenceType::Available).build())
            .unwrap();
        self.net.run();
        self.online[user] = Some(id);
        id
    }

    fn step(&mut self, user: usize, other: usize, op: Op) {
        if let (Op::Toggle, Some(id)) = (op, self.online[user]) {
            let now = self.net.now;
            self.net.client(id).close(now);
            self.net.run();
            self.online[user] = None;
            return;
        }
        let id = self.log_in(user);
        let now = self.net.now;
        let contact = jid(other);
        let client = self.net.client(id);
        let _ = match op {
            Op::Subscribe => client.subscribe(now, &contact),
            Op::Unsubscribe => client.unsubscribe(now, &contact),
            Op::Approve => client.approve_subscription(now, &contact),
            Op::Deny => client.deny_subscription(now, &contact),
            Op::Add => client.set_roster_item(now, &contact, Some("x"), &["g"]),
            Op::Remove => client.remove_roster_item(now, &contact),
            Op::Toggle => return,
        };
        self.net.run();
    }

    fn check(&mut self) -> Result<(), TestCaseError> {
        for u in 0..3 {
            for v in 0..3 {
                if u == v {
                    continue;
                }
                let state = |a: usize, b: usize| {
                    self.net
                        .hub
                        .roster_entry(&jid(a), jid(b).as_str())
                        .map(|e| e.state())
                        .unwrap_or_default()
                };
                let (uv, vu) = (state(u, v), state(v, u));
                prop_assert_eq!(uv.to, vu.from, "{} sees {}", USERS[u], USERS[v]);
                prop_assert_eq!(
                    uv.pending_out,
                    vu.pending_in,
                    "{} waits for {}",
                    USERS[u],
                    USERS[v]
                );
                prop_assert!(!(uv.to && uv.pending_out));
                prop_assert!(!(uv.from && uv.approved));
            }
            // What a logged-in client holds is what the server keeps.
            if let Some(id) = self.online[u] {
                for v in 0..3 {
                    let server = self
                        .net
                        .hub
                        .roster_entry(&jid(u), jid(v).as_str())
                        .filter(|e| e.listed)
                        .map(|e| (e.item.subscription, e.item.ask));
                    let client = self
                        .net
                        .client(id)
                        .roster()
                        .get(jid(v).as_str())
                        .map(|i| (i.subscription, i.ask));
                    prop_assert_eq!(server, client, "{}'s roster, {}", USERS[u], USERS[v]);
                }
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn both_ends_of_every_subscription_agree(
        steps in proptest::collection::vec((0..3usize, 1..3usize, op()), 1..30)
    ) {
        let mut world = World::new();
        for (user, offset, op) in steps {
            world.step(user, (user + offset) % 3, op);
            world.check()?;
        }
    }
}
