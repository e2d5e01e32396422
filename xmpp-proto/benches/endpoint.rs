//! What real endpoints cost: bytes through a `Client` or a `Server` to
//! their events, and a stanza from one session through the `Hub` to
//! another session's output bytes.
//!
//! `cargo bench -p xmpp-proto --bench endpoint -- [--passes N] [--only PATH]`
//!
//! Prints `RESULT path=<name> mb_per_s=<x> allocs_per_stanza=<y>
//! ratio_vs_rxml_parser=<z> parser_allocs_per_stanza=<f>
//! allocs_beyond_parser=<y-f>`: the median of the passes, allocations
//! counted by the global allocator per stanza (per top-level element for
//! `client`), the speed relative to `rxml::Parser` alone over the same
//! bytes, and the allocations `rxml::RawParser` alone makes over them
//! (one `String` per attribute value and text node, which no public rxml
//! API avoids: the floor under any rxml-based reader). Paths:
//! - `rxml-parser`: rxml's namespace-resolving parser over the corpus
//!   stream, the floor any rxml-based core starts from.
//! - `client`: the corpus (server to client traffic) through an online
//!   `Client`, the application draining events and handing element
//!   storage back (`Client::recycle`); automatic answers (IQ errors,
//!   receipts) are written and drained.
//! - `server`: the corpus's `jabber:client` stanzas, as a client would send
//!   them (no `from`), through an online `Server`, storage recycled.
//! - `route-full`: a chat message from one `Server`, through the `Hub`, to
//!   another session's `Server` and out as bytes.
//! - `route-bare-3`: the same to a bare JID with three available
//!   resources (one serialization shared by the three).
//! - `presence-fanout-100`: a directed presence to a bare JID with 100
//!   available resources.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "common/rxml_baseline.rs"]
mod rxml_baseline;
#[path = "common/sessions.rs"]
mod sessions;

use std::hint::black_box;
use std::time::Instant;

use sessions::{DOMAIN, drain, online_pair};
use xmpp_corpus::counting_alloc::{CountingAlloc, allocations};
use xmpp_proto::endpoint::Endpoint;
use xmpp_proto::hub::Hub;
use xmpp_proto::router::SessionId;
use xmpp_proto::server::ServerEvent;
use xmpp_proto::time::Time;
use xmpp_proto::xml::{Element, Limits, StreamEvent, StreamReader, ns};
use xmpp_proto::{ClientEvent, Server};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

const CHUNK: usize = 4096;
const CORPUS_ELEMENTS: u64 = 18_000;

/// What one pass measured.
struct Pass {
    bytes: usize,
    units: u64,
    secs: f64,
    allocs: u64,
}

// ---------------------------------------------------------------------
// in-memory sessions

// ---------------------------------------------------------------------
// inputs

/// The corpus without its stream header, for an online client.
fn client_input(corpus: &[u8]) -> Vec<u8> {
    let start = corpus
        .windows(b"<stream:stream".len())
        .position(|w| w == b"<stream:stream")
        .unwrap();
    let end = start + corpus[start..].iter().position(|&b| b == b'>').unwrap() + 1;
    corpus[end..].to_vec()
}

/// The corpus's `jabber:client` stanzas as a client would send them:
/// without `from`, serialized in the stream.
fn server_input(corpus: &[u8]) -> (Vec<u8>, u64) {
    let mut reader = StreamReader::new(Limits::default());
    let mut out = Vec::new();
    let mut count = 0;
    let mut input = corpus;
    while let Some(event) = reader.read(&mut input).unwrap() {
        if let StreamEvent::Element(el) = event {
            if el.ns() != ns::CLIENT {
                continue;
            }
            let mut b = Element::builder(el.name(), el.ns());
            for a in el.as_ref().attrs() {
                if a.ns.is_empty() && a.name != "from" {
                    b = b.attr(a.name, a.value);
                }
            }
            for child in el.children() {
                b = b.append_ref(child);
            }
            let wire = xmpp_proto::stanza::WireStanza::from_element(&b.build()).unwrap();
            out.extend_from_slice(wire.as_bytes());
            count += 1;
        }
    }
    (out, count)
}

// ---------------------------------------------------------------------
// paths

#[inline(never)]
fn run_client(input: &[u8], elements: u64) -> Pass {
    let (mut client, _server) = online_pair("juliet", "balcony");
    let a0 = allocations();
    let t = Instant::now();
    let mut units = 0u64;
    for chunk in input.chunks(CHUNK) {
        let _ = client.handle_input(Time::ZERO, chunk);
        drain(&mut client);
        while let Some(event) = client.poll_event() {
            let el = match event {
                ClientEvent::Message(m) => {
                    black_box((m.from(), m.body()));
                    m.into_element()
                }
                ClientEvent::Presence(p) => {
                    black_box((p.from(), p.kind()));
                    p.into_element()
                }
                ClientEvent::IqResponse { response, .. } => response.into_element(),
                ClientEvent::IqRequest(iq) => iq.into_element(),
                _ => continue,
            };
            units += 1;
            client.recycle(el);
        }
    }
    assert!(units > 0);
    Pass {
        bytes: input.len(),
        // Per top-level element read, nonzas and elements the client
        // answers by itself included.
        units: elements,
        secs: t.elapsed().as_secs_f64(),
        allocs: allocations() - a0,
    }
}

#[inline(never)]
fn run_server(input: &[u8], stanzas: u64) -> Pass {
    let (_client, mut server) = online_pair("juliet", "balcony");
    let a0 = allocations();
    let t = Instant::now();
    let mut units = 0u64;
    for chunk in input.chunks(CHUNK) {
        let _ = server.handle_input(Time::ZERO, chunk);
        drain(&mut server);
        while let Some(event) = server.poll_event() {
            if let ServerEvent::Stanza(s) = event {
                black_box((s.to(), s.id()));
                units += 1;
                server.recycle(s.into_element());
            }
        }
    }
    assert_eq!(units, stanzas, "every stanza reached the application");
    Pass {
        bytes: input.len(),
        units,
        secs: t.elapsed().as_secs_f64(),
        allocs: allocations() - a0,
    }
}

/// A sender and `resources` receivers of one account behind a hub, all
/// online and (the receivers) available.
struct Routing {
    hub: Hub,
    sender: Server,
    receivers: Vec<Server>,
}

impl Routing {
    fn new(resources: usize) -> Self {
        let mut hub = Hub::new(DOMAIN).unwrap();
        let (_c, sender) = online_pair("juliet", "balcony");
        let mut r = Routing {
            hub: Hub::new(DOMAIN).unwrap(),
            sender,
            receivers: Vec::new(),
        };
        // Bind everyone in the hub, then make the receivers available.
        let jid = r.sender.jid().unwrap().clone();
        hub.handle_event(
            Time::ZERO,
            SessionId(0),
            ServerEvent::BindRequest {
                jid,
                requested: true,
            },
        );
        for i in 0..resources {
            let (_c, mut server) = online_pair("romeo", &format!("r{i}"));
            let jid = server.jid().unwrap().clone();
            let id = SessionId(1 + i as u64);
            hub.handle_event(
                Time::ZERO,
                id,
                ServerEvent::BindRequest {
                    jid,
                    requested: true,
                },
            );
            // Available presence (no `to`): stamped by the server.
            server.handle_input(Time::ZERO, b"<presence/>").unwrap();
            while let Some(event) = server.poll_event() {
                hub.handle_event(Time::ZERO, id, event);
            }
            r.receivers.push(server);
        }
        while hub.poll_command().is_some() {}
        for s in &mut r.receivers {
            drain(s);
        }
        r.hub = hub;
        r
    }

    /// Feeds `input` to the sender; every routed command is applied.
    #[inline(never)]
    fn run(&mut self, input: &[u8], messages: u64) -> Pass {
        let a0 = allocations();
        let t = Instant::now();
        let mut units = 0u64;
        for chunk in input.chunks(CHUNK) {
            let _ = self.sender.handle_input(Time::ZERO, chunk);
            while let Some(event) = self.sender.poll_event() {
                if matches!(event, ServerEvent::Stanza(_)) {
                    units += 1;
                }
                if let Some(spent) = self.hub.handle_event(Time::ZERO, SessionId(0), event) {
                    self.sender.recycle(spent);
                }
                while let Some((session, command)) = self.hub.poll_command() {
                    let target = &mut self.receivers[session.0 as usize - 1];
                    let feedback = target.apply(Time::ZERO, command);
                    assert!(feedback.is_none(), "delivered");
                }
            }
            for r in &mut self.receivers {
                drain(r);
            }
        }
        assert_eq!(units, messages);
        Pass {
            bytes: input.len(),
            units,
            secs: t.elapsed().as_secs_f64(),
            allocs: allocations() - a0,
        }
    }
}

fn messages(to: &str, n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        out.extend_from_slice(
            format!(
                "<message to='{to}' type='chat' id='m{i}'><body>Wherefore art thou, number {i}?</body></message>"
            )
            .as_bytes(),
        );
    }
    out
}

fn presences(to: &str, n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        out.extend_from_slice(
            format!("<presence to='{to}' id='p{i}'><show>away</show><status>at the ball {i}</status></presence>")
                .as_bytes(),
        );
    }
    out
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut passes = 5;
    let mut only: Option<String> = None;
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--passes" => {
                passes = args.get(i + 1).and_then(|p| p.parse().ok()).unwrap_or(5);
                i += 1;
            }
            "--only" => {
                only = args.get(i + 1).cloned();
                i += 1;
            }
            _ => {} // cargo bench passes --bench
        }
        i += 1;
    }
    let corpus = xmpp_corpus::c2s_stream(1, CORPUS_ELEMENTS as usize);
    let client_bytes = client_input(&corpus);
    let (server_bytes, server_stanzas) = server_input(&corpus);
    const N: u64 = 20_000;
    let full = messages(&format!("romeo@{DOMAIN}/r0"), N);
    let bare = messages(&format!("romeo@{DOMAIN}"), N);
    const P: u64 = 2_000;
    let fanout = presences(&format!("romeo@{DOMAIN}"), P);
    println!(
        "inputs: corpus {} bytes (client), {} bytes / {} stanzas (server); {N} messages; {P} presences",
        client_bytes.len(),
        server_bytes.len(),
        server_stanzas
    );

    type Run<'a> = Box<dyn Fn() -> Pass + 'a>;
    let paths: Vec<(&str, &[u8], Run<'_>)> = vec![
        (
            "client",
            &client_bytes,
            Box::new(|| run_client(&client_bytes, CORPUS_ELEMENTS)),
        ),
        (
            "server",
            &server_bytes,
            Box::new(|| run_server(&server_bytes, server_stanzas)),
        ),
        (
            "route-full",
            &full,
            Box::new(|| Routing::new(1).run(&full, N)),
        ),
        (
            "route-bare-3",
            &bare,
            Box::new(|| Routing::new(3).run(&bare, N)),
        ),
        (
            "presence-fanout-100",
            &fanout,
            Box::new(|| Routing::new(100).run(&fanout, P)),
        ),
    ];
    for (name, input, run) in &paths {
        if only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        let mut speeds = Vec::new();
        let mut base = Vec::new();
        let mut allocs_per_unit = 0.0;
        let mut units = 1;
        // The baseline parses the same bytes, as one stream.
        let mut stream = b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
            xmlns:stream='http://etherx.jabber.org/streams'>"
            .to_vec();
        stream.extend_from_slice(input);
        for _ in 0..passes {
            // Interleaved with its own baseline over the same bytes, so
            // that load from other processes hits both alike.
            let t = Instant::now();
            black_box(rxml_parser(&stream));
            base.push(stream.len() as f64 / t.elapsed().as_secs_f64() / 1e6);
            let pass = run();
            speeds.push(pass.bytes as f64 / pass.secs / 1e6);
            allocs_per_unit = pass.allocs as f64 / pass.units as f64;
            units = pass.units;
        }
        let a0 = allocations();
        black_box(rxml_raw(&stream));
        let floor = (allocations() - a0) as f64 / units as f64;
        let speed = median(&mut speeds);
        let base = median(&mut base);
        println!(
            "RESULT path={name} mb_per_s={speed:.1} allocs_per_stanza={allocs_per_unit:.2} ratio_vs_rxml_parser={:.3} parser_allocs_per_stanza={floor:.2} allocs_beyond_parser={:.2}",
            speed / base,
            allocs_per_unit - floor
        );
    }
}

fn rxml_parser(data: &[u8]) -> u64 {
    rxml_baseline::rxml_parser(data, CHUNK)
}

fn rxml_raw(data: &[u8]) -> u64 {
    rxml_baseline::rxml_raw(data, CHUNK)
}
