use std::time::Duration;

use crate::endpoint::{Endpoint, Transmit};
use crate::hub::{Hub, HubEvent};
use crate::jid::BareJid;
use crate::roster::Subscription;
use crate::router::{OfflinePolicy, SessionId};
use crate::server::{Server, ServerConfig};
use crate::time::Time;
use crate::tls::{TlsInfo, TlsVersion};

use super::Ends;

const HEADER: &[u8] = b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";

/// The local accounts, all with password `pw`.
const USERS: [&str; 3] = ["alice", "bob", "carol"];

/// Addresses the operations aim at: the local accounts (bare and full),
/// an unknown local name, the server, and a remote domain.
const TARGETS: [&str; 9] = [
    "alice@localhost",
    "bob@localhost",
    "carol@localhost",
    "alice@localhost/1",
    "bob@localhost/2",
    "nobody@localhost",
    "localhost",
    "remote@example.org",
    "carol@localhost/3",
];

/// Sessions at most at once (slots); each op names a slot.
const SLOTS: usize = 4;

/// Several users' sessions behind one [`Hub`], driven by operations
/// taken from the data: roster get/set/remove, the four subscription
/// presences, available/unavailable/directed presence, messages, block
/// and unblock, private XML, carbons, disco, raw bytes, connection cuts
/// and logins, and time passing. The hub federates (a remote domain's
/// link is unreachable or never comes, so what waits for it is bounced
/// or times out) and every other session has a small output bound (so
/// deliveries find it busy and bounces wait in the hub's backlog). Every
/// stanza goes through the real `Server` parser and the hub. Checks:
/// nothing panics, nothing follows a
/// session's end, and at the end both sides of every subscription
/// between local accounts agree (RFC 6121 §3).
pub fn hub(data: &[u8]) {
    let mut world = World::new();
    let mut ops = data;
    while let Some((&op, rest)) = ops.split_first() {
        let (&param, rest) = rest.split_first().unwrap_or((&0, &[]));
        ops = rest;
        let slot = usize::from(op >> 4) % SLOTS;
        let target = TARGETS[usize::from(param) % TARGETS.len()];
        let stanza: Vec<u8> = match op % 16 {
            0 => b"<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>".to_vec(),
            1 => format!(
                "<iq type='set' id='s'><query xmlns='jabber:iq:roster'><item jid='{target}' name='n{param}'><group>g{}</group></item></query></iq>",
                param % 3
            )
            .into_bytes(),
            2 => format!(
                "<iq type='set' id='d'><query xmlns='jabber:iq:roster'><item jid='{target}' subscription='remove'/></query></iq>"
            )
            .into_bytes(),
            3..=6 => {
                let kind = ["subscribe", "subscribed", "unsubscribe", "unsubscribed"]
                    [usize::from(op % 16 - 3)];
                format!("<presence to='{target}' type='{kind}'/>").into_bytes()
            }
            7 => match param % 4 {
                0 => b"<presence type='unavailable'/>".to_vec(),
                1 => b"<presence><priority>-1</priority></presence>".to_vec(),
                _ => format!("<presence><status>s{param}</status></presence>").into_bytes(),
            },
            8 => format!("<presence to='{target}'/>").into_bytes(),
            9 => format!(
                "<message to='{target}' type='chat' id='m{param}'><body>b</body><request xmlns='urn:xmpp:receipts'/></message>"
            )
            .into_bytes(),
            10 => {
                let verb = if param & 0x80 == 0 { "block" } else { "unblock" };
                format!(
                    "<iq type='set' id='k'><{verb} xmlns='urn:xmpp:blocking'><item jid='{target}'/></{verb}></iq>"
                )
                .into_bytes()
            }
            11 => match param % 3 {
                0 => b"<iq type='get' id='p'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>".to_vec(),
                1 => format!("<iq type='set' id='p'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'><conference jid='r{param}@c'/></storage></query></iq>").into_bytes(),
                _ => b"<iq type='get' id='b'><blocklist xmlns='urn:xmpp:blocking'/></iq>".to_vec(),
            },
            12 => {
                let verb = if param & 1 == 0 { "enable" } else { "disable" };
                format!("<iq type='set' id='c'><{verb} xmlns='urn:xmpp:carbons:2'/></iq>")
                    .into_bytes()
            }
            13 => {
                let node = if param & 1 == 0 { "info" } else { "items" };
                format!(
                    "<iq type='get' id='i' to='{target}'><query xmlns='http://jabber.org/protocol/disco#{node}'/></iq>"
                )
                .into_bytes()
            }
            14 => {
                // Raw bytes: whatever a client might send.
                let take = usize::from(param % 64).min(ops.len());
                let (raw, rest) = ops.split_at(take);
                ops = rest;
                raw.to_vec()
            }
            _ => {
                match param % 3 {
                    0 => world.cut(slot),
                    1 => world.log_in(slot, USERS[usize::from(param / 3) % USERS.len()]),
                    _ => world.advance(Duration::from_secs(u64::from(param) * 4)),
                }
                continue;
            }
        };
        world.send(slot, &stanza);
    }
    for slot in 0..SLOTS {
        world.cut(slot);
    }
    world.check_subscriptions_agree();
}

struct Session {
    server: Server,
    ends: Ends,
}

struct World {
    hub: Hub,
    /// Every session ever started, indexed by `SessionId`: ids are never
    /// reused, as a server's are not.
    sessions: Vec<Session>,
    /// The session in each slot, if any.
    slots: [Option<usize>; SLOTS],
    now: Time,
    seed: u8,
}

impl World {
    fn new() -> Self {
        // Federating: stanzas for example.org wait for a link that never
        // comes (unreachable, or left to time out).
        let mut hub = Hub::new("localhost")
            .expect("valid domain")
            .with_offline_policy(OfflinePolicy::Store)
            .with_federation(4096);
        for user in USERS {
            hub.add_account(&BareJid::new(&format!("{user}@localhost")).expect("valid"));
        }
        let mut world = World {
            hub,
            sessions: Vec::new(),
            slots: [None; SLOTS],
            now: Time::ZERO,
            seed: 0,
        };
        // Two users online from the start, so that short inputs reach
        // the interesting states.
        world.log_in(0, "alice");
        world.log_in(1, "bob");
        world
    }

    /// Starts a session for `user` in `slot` (ending the one there) and
    /// takes it through STARTTLS, PLAIN and bind.
    fn log_in(&mut self, slot: usize, user: &str) {
        self.cut(slot);
        self.seed = self.seed.wrapping_add(1);
        let mut n = self.seed.wrapping_mul(41);
        // Odd sessions have a small output bound, so that deliveries
        // find them busy (bounces then wait in the hub's backlog).
        let max_output = if self.seed % 2 == 1 { 1024 } else { 1 << 20 };
        let config = ServerConfig::new("localhost")
            .expect("valid")
            .with_max_output(max_output)
            .with_random(Box::new(move |buf: &mut [u8]| {
                for b in buf {
                    n = n.wrapping_add(31);
                    *b = n;
                }
            }));
        let index = self.sessions.len();
        self.sessions.push(Session {
            server: Server::new(config, self.now),
            ends: Ends::default(),
        });
        self.slots[slot] = Some(index);
        let plain = match user {
            "alice" => "AGFsaWNlAHB3",
            "bob" => "AGJvYgBwdw==",
            _ => "AGNhcm9sAHB3",
        };
        let auth = format!(
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{plain}</auth>"
        );
        let script: [&[u8]; 6] = [
            HEADER,
            b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
            HEADER,
            auth.as_bytes(),
            HEADER,
            b"<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>",
        ];
        for step in script {
            self.send(slot, step);
        }
    }

    /// Feeds `bytes` to the session in `slot`, if there is one, and runs.
    fn send(&mut self, slot: usize, bytes: &[u8]) {
        if let Some(index) = self.slots[slot] {
            let _ = self.sessions[index].server.handle_input(self.now, bytes);
            self.run();
        }
    }

    /// Ends the session in `slot` as a dead connection does.
    fn cut(&mut self, slot: usize) {
        if let Some(index) = self.slots[slot].take() {
            self.sessions[index].server.handle_eof(self.now);
            self.run();
            assert!(
                self.sessions[index].server.is_closed(),
                "EOF must end the session"
            );
        }
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        for session in &mut self.sessions {
            session.server.handle_timeout(self.now);
        }
        self.hub.handle_timeout(self.now);
        self.run();
    }

    /// Moves output, events and commands until nothing moves.
    fn run(&mut self) {
        loop {
            let mut moved = false;
            for index in 0..self.sessions.len() {
                moved |= self.drain(index);
            }
            moved |= self.apply_commands();
            if !moved {
                return;
            }
        }
    }

    /// Takes session `index`'s output (completing STARTTLS) and hands
    /// its events to the hub.
    fn drain(&mut self, index: usize) -> bool {
        let now = self.now;
        let session = &mut self.sessions[index];
        let mut moved = false;
        while let Some(t) = session.server.poll_transmit() {
            moved = true;
            session.ends.transmit(&t);
            match t {
                Transmit::Data(d) => {
                    let n = d.len();
                    session.server.consume_transmit(n);
                }
                Transmit::StartTls => {
                    let tls = TlsInfo::new(TlsVersion::Tls13).with_tls_exporter(vec![3; 32]);
                    let _ = session.server.handle_tls_established(now, tls);
                }
                Transmit::Shutdown => {}
            }
        }
        while let Some(event) = self.sessions[index].server.poll_event() {
            moved = true;
            self.sessions[index]
                .ends
                .event(matches!(event, crate::server::ServerEvent::Closed { .. }));
            let id = SessionId(index as u64);
            if let Some(element) = self.hub.handle_event(now, id, event) {
                self.sessions[index].server.recycle(element);
            }
            self.apply_commands();
        }
        moved
    }

    /// Applies the hub's commands and answers its login questions.
    fn apply_commands(&mut self) -> bool {
        let mut moved = false;
        loop {
            while let Some((session, command)) = self.hub.poll_command() {
                moved = true;
                let feedback = match self.sessions.get_mut(session.0 as usize) {
                    Some(s) => s.server.apply(self.now, command),
                    None => command.unapplied(),
                };
                if let Some(feedback) = feedback {
                    self.hub.handle_feedback(self.now, session, feedback);
                }
            }
            match self.hub.poll_event() {
                Some(HubEvent::Authenticate {
                    session, password, ..
                }) => {
                    moved = true;
                    let ok = password.is_some_and(|p| p.as_str() == "pw");
                    let verdict = if ok {
                        Ok(())
                    } else {
                        Err(crate::sasl::FailureCondition::NotAuthorized)
                    };
                    self.hub.verdict(session, verdict);
                }
                Some(HubEvent::NeedScramCredentials { session, .. }) => {
                    moved = true;
                    self.hub.provide_credentials(session, None);
                }
                Some(HubEvent::ConnectRemote { local, domain }) => {
                    moved = true;
                    if self.seed % 3 == 0 {
                        self.hub.remote_unreachable(self.now, &local, &domain);
                    }
                }
                Some(_) => moved = true,
                None => return moved,
            }
        }
    }

    /// RFC 6121 §3: `a` is subscribed to `b`'s presence exactly when `b`
    /// lets `a` see it.
    fn check_subscriptions_agree(&self) {
        for a in USERS {
            for b in USERS {
                if a == b {
                    continue;
                }
                let (ja, jb) = (format!("{a}@localhost"), format!("{b}@localhost"));
                let a_sees = self
                    .hub
                    .roster_entry(&BareJid::new(&ja).expect("valid"), &jb)
                    .is_some_and(|e| {
                        matches!(e.item.subscription, Subscription::To | Subscription::Both)
                    });
                let b_lets = self
                    .hub
                    .roster_entry(&BareJid::new(&jb).expect("valid"), &ja)
                    .is_some_and(|e| {
                        matches!(e.item.subscription, Subscription::From | Subscription::Both)
                    });
                assert_eq!(a_sees, b_lets, "{a} -> {b}: the two rosters disagree");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scripted_logins_reach_online_and_a_subscription_completes() {
        let mut world = World::new();
        let alice = world.slots[0].expect("alice's session");
        assert!(world.sessions[alice].server.is_online());
        // alice subscribes to bob, bob approves: both rosters say so.
        world.send(0, b"<presence to='bob@localhost' type='subscribe'/>");
        world.send(1, b"<presence to='alice@localhost' type='subscribed'/>");
        let entry = world
            .hub
            .roster_entry(&BareJid::new("alice@localhost").unwrap(), "bob@localhost")
            .expect("bob on alice's roster");
        assert_eq!(entry.item.subscription, Subscription::To);
        world.check_subscriptions_agree();
    }

    #[test]
    fn every_operation_runs() {
        let mut data = Vec::new();
        for op in 0..=255u8 {
            data.extend_from_slice(&[op, op.wrapping_mul(7)]);
        }
        hub(&data);
    }
}
