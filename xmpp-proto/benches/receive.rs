//! Receive-path benchmark: a c2s stream in 4 KiB chunks through
//! `rxml::Parser` alone (the floor of any rxml-based core) and through our
//! reader into typed stanzas.
//!
//! `cargo bench -p xmpp-proto --bench receive -- [--corpus FILE] [--passes N]`
//!
//! Prints `RESULT path=<name> mb_per_s=<x> allocs_per_stanza=<y> ratio_vs_rxml_parser=<z>`
//! (median of the passes; allocations counted by the global allocator below).
#![allow(missing_docs)]

#[path = "common/rxml_baseline.rs"]
mod rxml_baseline;

use std::hint::black_box;
use std::time::Instant;

use xmpp_corpus::counting_alloc::{CountingAlloc, allocations};
use xmpp_proto::stanza::Stanza;
use xmpp_proto::xml::{Limits, StreamEvent, StreamReader};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

const CHUNK: usize = 4096;

/// One receive path: consumes the stream, returns a count.
type Path = fn(&[u8]) -> u64;

/// Our reader, elements only.
fn reader(data: &[u8]) -> u64 {
    let mut r = StreamReader::new(Limits::default());
    let mut n = 0u64;
    for chunk in data.chunks(CHUNK) {
        let mut c = chunk;
        while let Some(ev) = r.read(&mut c).expect("reader") {
            if let StreamEvent::Element(e) = ev {
                n += 1;
                black_box(e.name());
                r.recycle(e);
            }
        }
    }
    n
}

/// Our reader into typed stanzas, reading the fields a session layer reads.
fn typed(data: &[u8]) -> u64 {
    let mut r = StreamReader::new(Limits::default());
    let mut n = 0u64;
    for chunk in data.chunks(CHUNK) {
        let mut c = chunk;
        while let Some(ev) = r.read(&mut c).expect("reader") {
            if let StreamEvent::Element(e) = ev {
                n += 1;
                let el = match Stanza::from_element(e) {
                    Ok(s) => {
                        black_box((s.from(), s.to(), s.id()));
                        match &s {
                            Stanza::Message(m) => {
                                black_box((m.kind(), m.body()));
                            }
                            Stanza::Presence(p) => {
                                black_box((p.kind(), p.show(), p.priority()));
                            }
                            Stanza::Iq(i) => {
                                black_box((i.kind(), i.payload().map(|p| p.ns())));
                            }
                        }
                        s.into_element()
                    }
                    Err(nonza) => nonza.element,
                };
                r.recycle(el);
            }
        }
    }
    n
}

/// One timed run: (MB/s, allocations).
fn run_once(data: &[u8], f: Path) -> (f64, u64) {
    let a0 = allocations();
    let t = Instant::now();
    black_box(f(data));
    let secs = t.elapsed().as_secs_f64();
    (data.len() as f64 / secs / 1e6, allocations() - a0)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut corpus = None;
    let mut passes = 7;
    let mut only: Option<String> = None;
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--corpus" => {
                corpus = args.get(i + 1).cloned();
                i += 1;
            }
            "--only" => {
                only = args.get(i + 1).cloned();
                i += 1;
            }
            "--passes" => {
                passes = args.get(i + 1).and_then(|p| p.parse().ok()).unwrap_or(7);
                i += 1;
            }
            _ => {} // cargo bench passes --bench
        }
        i += 1;
    }
    let data = match &corpus {
        Some(path) => std::fs::read(path).expect("read corpus"),
        None => xmpp_corpus::c2s_stream(1, 18000),
    };
    let stanzas = if only.is_some() { 3000 } else { reader(&data) };
    println!(
        "corpus: {} bytes, {} top-level elements, {} passes, {} byte chunks",
        data.len(),
        stanzas,
        passes,
        CHUNK
    );
    // Passes interleave the paths, so that load from other processes hits
    // all of them alike and the ratios stay meaningful.
    let paths: [(&str, Path); 4] = [
        ("rxml-parser", rxml_parser),
        ("rxml-raw-parser", rxml_raw),
        ("reader", reader),
        ("typed", typed),
    ];
    let mut speeds = vec![Vec::new(); paths.len()];
    let mut allocs = vec![0u64; paths.len()];
    if let Some(only) = only {
        // For profiling (callgrind): one path, one pass, no comparison.
        let f = paths
            .iter()
            .find(|(n, _)| *n == only)
            .expect("unknown path")
            .1;
        let (s, a) = run_once(&data, f);
        println!("path={only} mb_per_s={s:.1} allocs={a}");
        return;
    }
    for _ in 0..passes {
        for (i, (_, f)) in paths.iter().enumerate() {
            let (s, a) = run_once(&data, *f);
            speeds[i].push(s);
            allocs[i] = a;
        }
    }
    let medians: Vec<f64> = speeds.iter_mut().map(|v| median(v)).collect();
    for (i, (name, _)) in paths.iter().enumerate() {
        println!(
            "RESULT path={name} mb_per_s={:.1} allocs_per_stanza={:.2} ratio_vs_rxml_parser={:.3}",
            medians[i],
            allocs[i] as f64 / stanzas as f64,
            medians[i] / medians[0]
        );
    }
}

fn rxml_parser(data: &[u8]) -> u64 {
    rxml_baseline::rxml_parser(data, CHUNK)
}

fn rxml_raw(data: &[u8]) -> u64 {
    rxml_baseline::rxml_raw(data, CHUNK)
}
