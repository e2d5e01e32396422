//! What RFC 6121 costs in the core: a big roster through the client, a
//! login into a full contact list through the hub, and one presence
//! update to many subscribers.
//!
//! `cargo bench -p xmpp-proto --bench im -- [--passes N]`
//!
//! Prints `RESULT path=<name> ...`, the median of the passes:
//! - `roster-fetch-1000`: the answer to a roster get with 1,000 contacts
//!   (bytes as a server sends them) through an online `Client` until
//!   `RosterReceived`: `ms` and `allocs`.
//! - `login-presence-500`: a user with 500 contacts (`both`), all online,
//!   sends initial presence: the hub broadcasts it to the 500, answers the
//!   probes with their 500 presences, and every `Server` writes its
//!   output: `ms` per login.
//! - `presence-fanout-500`: one presence update of that user to its 500
//!   subscribers, through the hub and out as bytes: `deliveries_per_s`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "common/sessions.rs"]
mod sessions;

use std::time::Instant;

use sessions::{DOMAIN, drain, online_pair};
use xmpp_corpus::counting_alloc::{CountingAlloc, allocations};
use xmpp_proto::endpoint::{Endpoint, Transmit};
use xmpp_proto::hub::Hub;
use xmpp_proto::jid::BareJid;
use xmpp_proto::roster::{RosterEntry, RosterItem, Subscription};
use xmpp_proto::router::SessionId;
use xmpp_proto::server::ServerEvent;
use xmpp_proto::time::Time;
use xmpp_proto::{ClientEvent, Server};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

const CONTACTS: usize = 500;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The result of a roster get with `n` contacts, as a server writes it.
fn roster_result(id: &str, n: usize) -> Vec<u8> {
    let mut out = format!(
        "<iq type='result' id='{id}' to='juliet@{DOMAIN}/balcony'>\
         <query xmlns='jabber:iq:roster' ver='v{n}'>"
    );
    for i in 0..n {
        out.push_str(&format!(
            "<item jid='contact{i}@example.net' name='Contact {i}' subscription='both'>\
             <group>Friends</group></item>"
        ));
    }
    out.push_str("</query></iq>");
    out.into_bytes()
}

/// One roster fetch: the request out, the answer in, until the roster is
/// there. Returns (seconds, allocations).
fn roster_fetch(n: usize) -> (f64, u64) {
    let (mut client, _server) = online_pair("juliet", "balcony");
    client.request_roster(Time::ZERO).unwrap();
    let id = match client.poll_transmit() {
        Some(Transmit::Data(d)) => {
            let text = String::from_utf8_lossy(d).into_owned();
            let start = text.find("id='").unwrap() + 4;
            text[start..].split('\'').next().unwrap().to_owned()
        }
        _ => panic!("no request"),
    };
    drain(&mut client);
    let answer = roster_result(&id, n);
    let a0 = allocations();
    let t = Instant::now();
    for chunk in answer.chunks(4096) {
        client.handle_input(Time::ZERO, chunk).unwrap();
    }
    let mut received = false;
    while let Some(event) = client.poll_event() {
        received |= matches!(event, ClientEvent::RosterReceived);
    }
    let secs = t.elapsed().as_secs_f64();
    let allocs = allocations() - a0;
    assert!(received && client.roster().len() == n);
    (secs, allocs)
}

/// A hub where `juliet` has `CONTACTS` contacts with mutual
/// subscriptions, each online and available on its own `Server`.
struct Contacts {
    hub: Hub,
    servers: Vec<Server>,
}

fn account(name: &str) -> BareJid {
    BareJid::new(&format!("{name}@{DOMAIN}")).unwrap()
}

fn both(contact: &BareJid) -> RosterEntry {
    let mut item = RosterItem::new(contact.clone());
    item.subscription = Subscription::Both;
    RosterEntry::new(item)
}

impl Contacts {
    fn new() -> Self {
        let mut hub = Hub::new(DOMAIN).unwrap();
        let juliet = account("juliet");
        let names: Vec<BareJid> = (0..CONTACTS).map(|i| account(&format!("c{i}"))).collect();
        hub.restore_roster(juliet.clone(), 1, names.iter().map(both).collect());
        for name in &names {
            hub.restore_roster(name.clone(), 1, vec![both(&juliet)]);
        }
        // Session 0 is juliet's, the others her contacts'.
        let (_c, juliet_server) = online_pair("juliet", "balcony");
        let mut contacts = Contacts {
            hub,
            servers: vec![juliet_server],
        };
        contacts.bind(0);
        for i in 0..CONTACTS {
            let (_c, server) = online_pair(&format!("c{i}"), "phone");
            contacts.servers.push(server);
            contacts.bind(i + 1);
            contacts.input(i + 1, b"<presence/>");
        }
        contacts
    }

    fn bind(&mut self, index: usize) {
        let jid = self.servers[index].jid().unwrap().clone();
        let event = ServerEvent::BindRequest {
            jid,
            requested: true,
        };
        self.hub
            .handle_event(Time::ZERO, SessionId(index as u64), event);
        self.apply();
    }

    /// Feeds `bytes` to session `index` and carries out everything that
    /// follows, every session's output written.
    fn input(&mut self, index: usize, bytes: &[u8]) -> usize {
        self.servers[index].handle_input(Time::ZERO, bytes).unwrap();
        while let Some(event) = self.servers[index].poll_event() {
            self.hub
                .handle_event(Time::ZERO, SessionId(index as u64), event);
            self.apply();
        }
        self.servers.iter_mut().map(drain).sum()
    }

    fn apply(&mut self) {
        let mut deliveries = 0;
        while let Some((session, command)) = self.hub.poll_command() {
            let feedback = self.servers[session.0 as usize].apply(Time::ZERO, command);
            assert!(feedback.is_none());
            deliveries += 1;
        }
        while self.hub.poll_event().is_some() {}
        let _ = deliveries;
    }
}

fn main() {
    let mut passes = 5usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--passes" {
            passes = args.next().and_then(|v| v.parse().ok()).unwrap_or(passes);
        }
    }

    let (mut ms, mut allocs) = (Vec::new(), Vec::new());
    for _ in 0..passes {
        let (secs, a) = roster_fetch(1000);
        ms.push(secs * 1000.0);
        allocs.push(a as f64);
    }
    println!(
        "RESULT path=roster-fetch-1000 ms={:.2} allocs={:.0} allocs_per_item={:.1}",
        median(&mut ms),
        median(&mut allocs),
        median(&mut allocs) / 1000.0
    );

    let mut contacts = Contacts::new();
    let mut login_ms = Vec::new();
    let mut fanout = Vec::new();
    for pass in 0..passes {
        // A fresh session of juliet's each pass: unavailable first, so the
        // next presence is initial (probes answered again).
        contacts.input(0, b"<presence type='unavailable'/>");
        let t = Instant::now();
        let bytes = contacts.input(0, b"<presence/>");
        login_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(bytes > 0, "pass {pass}: nothing written");
        let t = Instant::now();
        let update = format!("<presence><status>pass {pass}</status></presence>");
        contacts.input(0, update.as_bytes());
        fanout.push(CONTACTS as f64 / t.elapsed().as_secs_f64());
    }
    println!(
        "RESULT path=login-presence-{CONTACTS} ms={:.2}",
        median(&mut login_ms)
    );
    println!(
        "RESULT path=presence-fanout-{CONTACTS} deliveries_per_s={:.0}",
        median(&mut fanout)
    );
}
