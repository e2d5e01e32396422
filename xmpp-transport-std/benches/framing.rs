//! What XMPP over WebSocket (RFC 7395) costs against a TCP stream, on the
//! same stanzas: the `jabber:client` stanzas of the generated corpus, as a
//! client sends them, into an online server endpoint, and the same
//! stanzas out of it.
//!
//! `cargo bench -p xmpp-transport-std --bench framing -- [--passes N] [--only PATH]`
//!
//! Paths (`in/…` the server reads, `out/…` it writes):
//! - `tcp`: the core on a TCP stream, input in 4 KiB reads.
//! - `ws`: the core's WebSocket framing, one whole message per stanza
//!   (what a transport hands it after taking the frames apart).
//! - `ws+frames`: the same behind [`WsEndpoint`]: masked client frames in
//!   4 KiB reads, taken apart by tungstenite (and, out, framed by it).
//!
//! Prints `RESULT path=<name> msgs_per_s=<x> allocs_per_msg=<y>
//! throughput_vs_tcp=<r>`: the median of the passes, allocations counted
//! by the global allocator.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Instant;

use xmpp_corpus::counting_alloc::{CountingAlloc, allocations};
use xmpp_proto::client::ClientTlsPolicy;
use xmpp_proto::endpoint::{Endpoint, Transmit};
use xmpp_proto::jid::Jid;
use xmpp_proto::sasl::{Mechanism, SaslClientConfig, SaslServerConfig};
use xmpp_proto::server::{ServerEvent, ServerTlsPolicy};
use xmpp_proto::time::Time;
use xmpp_proto::xml::{Element, Limits, StreamEvent, StreamReader, Writer, ns};
use xmpp_proto::{Client, ClientConfig, Server, ServerConfig};
use xmpp_transport_std::websocket::{WsEndpoint, WsUrl};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

const CHUNK: usize = 4096;
const DOMAIN: &str = "example.org";

/// The corpus's `jabber:client` stanzas, without `from`.
fn stanzas() -> Vec<Element> {
    let corpus = xmpp_corpus::c2s_stream(1, 18_000);
    let mut reader = StreamReader::new(Limits::default());
    let mut input = corpus.as_slice();
    let mut out = Vec::new();
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
            out.push(b.build());
        }
    }
    out
}

fn configs(websocket: bool) -> (ClientConfig, ServerConfig) {
    let sasl = SaslClientConfig {
        allowed: Some(vec![Mechanism::Plain]),
        allow_plain_without_tls: true,
        ..SaslClientConfig::default()
    };
    let mut client = ClientConfig::new(Jid::new(&format!("juliet@{DOMAIN}")).unwrap(), "pw")
        .with_tls(ClientTlsPolicy::InsecureDisabled)
        .with_sasl(sasl)
        .with_resource("balcony");
    let server_sasl = SaslServerConfig {
        mechanisms: vec![Mechanism::Plain],
        allow_plain_without_tls: true,
        ..SaslServerConfig::default()
    };
    let mut server = ServerConfig::new(DOMAIN)
        .unwrap()
        .with_tls(ServerTlsPolicy::Disabled)
        .with_sasl(server_sasl);
    if websocket {
        client = client.with_websocket();
        server = server.with_websocket();
    }
    (client, server)
}

/// Moves `from`'s output into `to`, one transmit per input.
fn pipe(from: &mut impl Endpoint, to: &mut impl Endpoint) {
    while let Some(Transmit::Data(d)) = from.poll_transmit() {
        let d = d.to_vec();
        from.consume_transmit(d.len());
        let _ = to.handle_input(Time::ZERO, &d);
    }
}

/// Drains `e`'s output; returns the bytes and the transmits.
fn drain(e: &mut impl Endpoint) -> (usize, u64) {
    let (mut bytes, mut n) = (0, 0);
    while let Some(Transmit::Data(d)) = e.poll_transmit() {
        let len = d.len();
        bytes += len;
        n += 1;
        e.consume_transmit(len);
    }
    (bytes, n)
}

fn login<C, S>(client: &mut C, server: &mut S)
where
    C: Endpoint,
    S: Endpoint<Event = ServerEvent> + std::ops::DerefMut<Target = Server>,
{
    for _ in 0..50 {
        pipe(client, server);
        pipe(server, client);
        while let Some(event) = server.poll_event() {
            match event {
                ServerEvent::Authenticate { .. } => server.accept_auth(Time::ZERO).unwrap(),
                ServerEvent::BindRequest { .. } => server.accept_bind(Time::ZERO).unwrap(),
                _ => {}
            }
        }
        while client.poll_event().is_some() {}
        if server.is_online() {
            pipe(server, client);
            while client.poll_event().is_some() {}
            return;
        }
    }
    panic!("no login");
}

/// A server endpoint as a `DerefMut<Target = Server>`, like `WsEndpoint`.
struct Plain(Server);

impl std::ops::Deref for Plain {
    type Target = Server;
    fn deref(&self) -> &Server {
        &self.0
    }
}

impl std::ops::DerefMut for Plain {
    fn deref_mut(&mut self) -> &mut Server {
        &mut self.0
    }
}

impl Endpoint for Plain {
    type Event = ServerEvent;
    fn handle_input(&mut self, now: Time, data: &[u8]) -> Result<(), xmpp_proto::Closed> {
        self.0.handle_input(now, data)
    }
    fn handle_eof(&mut self, now: Time) {
        self.0.handle_eof(now);
    }
    fn handle_timeout(&mut self, now: Time) {
        self.0.handle_timeout(now);
    }
    fn handle_tls_established(
        &mut self,
        now: Time,
        tls: xmpp_proto::tls::TlsInfo,
    ) -> Result<(), xmpp_proto::Closed> {
        self.0.handle_tls_established(now, tls)
    }
    fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        self.0.poll_transmit()
    }
    fn peek_transmit(&self) -> Option<Transmit<'_>> {
        self.0.peek_transmit()
    }
    fn consume_transmit(&mut self, n: usize) {
        self.0.consume_transmit(n);
    }
    fn poll_event(&mut self) -> Option<ServerEvent> {
        self.0.poll_event()
    }
    fn poll_timeout(&self) -> Option<Time> {
        self.0.poll_timeout()
    }
    fn wants_read(&self) -> bool {
        self.0.wants_read()
    }
    fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

/// An online server of the kind `framing` names, and what its client
/// sends for `stanzas`: the bytes, cut as that framing's transport would
/// hand them over.
fn online(framing: &str, stanzas: &[Element]) -> (Box<dyn ServerSide>, Vec<Vec<u8>>) {
    match framing {
        "tcp" | "ws" => {
            let websocket = framing == "ws";
            let (c, s) = configs(websocket);
            let mut client = Client::new(c, Time::ZERO);
            let mut server = Plain(Server::new(s, Time::ZERO));
            login(&mut client, &mut server);
            let mut writer = if websocket {
                Writer::for_websocket()
            } else {
                let mut w = Writer::new();
                w.write_header(&xmpp_proto::xml::StreamHeader::new(ns::CLIENT))
                    .unwrap();
                let n = w.len();
                w.consume(n);
                w
            };
            let mut inputs = Vec::new();
            if websocket {
                for el in stanzas {
                    writer.write_element(el).unwrap();
                    inputs.push(writer.buffer().to_vec());
                    let n = writer.len();
                    writer.consume(n);
                }
            } else {
                let mut all = Vec::new();
                for el in stanzas {
                    writer.write_element(el).unwrap();
                    all.extend_from_slice(writer.buffer());
                    let n = writer.len();
                    writer.consume(n);
                }
                inputs = all.chunks(CHUNK).map(<[u8]>::to_vec).collect();
            }
            (Box::new(server), inputs)
        }
        _ => {
            let (c, s) = configs(true);
            let url = WsUrl::parse(&format!("ws://{DOMAIN}/xmpp")).unwrap();
            let mut client = WsEndpoint::client(Client::new(c, Time::ZERO), &url).unwrap();
            let mut server = WsEndpoint::server(Server::new(s, Time::ZERO));
            login(&mut client, &mut server);
            // The client's frames, masked as clients must, as bytes.
            let mut all = Vec::new();
            for el in stanzas {
                client.send(Time::ZERO, el.clone()).unwrap();
                while let Some(Transmit::Data(d)) = client.poll_transmit() {
                    all.extend_from_slice(d);
                    let n = d.len();
                    client.consume_transmit(n);
                }
            }
            (
                Box::new(server),
                all.chunks(CHUNK).map(<[u8]>::to_vec).collect(),
            )
        }
    }
}

/// What the bench needs of a server endpoint, boxed.
trait ServerSide {
    fn input(&mut self, data: &[u8]);
    fn stanzas_seen(&mut self) -> u64;
    fn send(&mut self, el: Element);
    fn drain(&mut self) -> (usize, u64);
}

impl<S: Endpoint<Event = ServerEvent> + std::ops::DerefMut<Target = Server>> ServerSide for S {
    fn input(&mut self, data: &[u8]) {
        let _ = self.handle_input(Time::ZERO, data);
    }
    fn stanzas_seen(&mut self) -> u64 {
        let mut n = 0;
        while let Some(event) = self.poll_event() {
            if let ServerEvent::Stanza(s) = event {
                black_box((s.to(), s.id()));
                n += 1;
                self.recycle(s.into_element());
            }
        }
        n
    }
    fn send(&mut self, el: Element) {
        Server::send(self, Time::ZERO, el).unwrap();
    }
    fn drain(&mut self) -> (usize, u64) {
        drain(self)
    }
}

struct Pass {
    msgs: u64,
    secs: f64,
    allocs: u64,
}

#[inline(never)]
fn run_in(framing: &str, stanzas: &[Element]) -> Pass {
    let (mut server, inputs) = online(framing, stanzas);
    let a0 = allocations();
    let t = Instant::now();
    let mut seen = 0;
    for input in &inputs {
        server.input(input);
        seen += server.stanzas_seen();
        server.drain();
    }
    let pass = Pass {
        msgs: seen,
        secs: t.elapsed().as_secs_f64(),
        allocs: allocations() - a0,
    };
    assert_eq!(
        seen,
        stanzas.len() as u64,
        "{framing}: every stanza arrived"
    );
    pass
}

#[inline(never)]
fn run_out(framing: &str, stanzas: &[Element]) -> Pass {
    let (mut server, _) = online(framing, &[]);
    // The stanzas are cloned outside the timing: sending takes them.
    let mut batch: Vec<Element> = stanzas
        .iter()
        .map(|el| {
            let mut b = Element::builder(el.name(), el.ns());
            for a in el.as_ref().attrs() {
                if a.ns.is_empty() && a.name != "to" {
                    b = b.attr(a.name, a.value);
                }
            }
            b = b.attr("to", format!("juliet@{DOMAIN}/balcony"));
            for child in el.children() {
                b = b.append_ref(child);
            }
            b.build()
        })
        .collect();
    let a0 = allocations();
    let t = Instant::now();
    let mut bytes = 0;
    for el in batch.drain(..) {
        server.send(el);
        bytes += server.drain().0;
    }
    black_box(bytes);
    Pass {
        msgs: stanzas.len() as u64,
        secs: t.elapsed().as_secs_f64(),
        allocs: allocations() - a0,
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut passes = 5usize;
    let mut only = None;
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
            _ => {}
        }
        i += 1;
    }
    let stanzas = stanzas();
    println!(
        "inputs: {} jabber:client stanzas of the corpus",
        stanzas.len()
    );
    let paths = [
        "in/tcp",
        "in/ws",
        "in/ws+frames",
        "out/tcp",
        "out/ws",
        "out/ws+frames",
    ];
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); paths.len()];
    let mut allocs: Vec<f64> = vec![0.0; paths.len()];
    for _ in 0..passes {
        for (k, path) in paths.iter().enumerate() {
            if only.as_deref().is_some_and(|o| o != *path) {
                continue;
            }
            let (dir, framing) = path.split_once('/').unwrap();
            let pass = if dir == "in" {
                run_in(framing, &stanzas)
            } else {
                run_out(framing, &stanzas)
            };
            rates[k].push(pass.msgs as f64 / pass.secs);
            allocs[k] = pass.allocs as f64 / pass.msgs as f64;
        }
    }
    let mut medians = vec![0.0; paths.len()];
    for (k, r) in rates.iter_mut().enumerate() {
        if !r.is_empty() {
            medians[k] = median(r);
        }
    }
    for (k, path) in paths.iter().enumerate() {
        if rates[k].is_empty() {
            continue;
        }
        let tcp = if path.starts_with("in/") {
            medians[0]
        } else {
            medians[3]
        };
        let ratio = if tcp > 0.0 {
            medians[k] / tcp
        } else {
            f64::NAN
        };
        println!(
            "RESULT path={path} msgs_per_s={:.0} allocs_per_msg={:.2} throughput_vs_tcp={ratio:.3}",
            medians[k], allocs[k]
        );
    }
}
