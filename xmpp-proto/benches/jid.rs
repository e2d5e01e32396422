//! JID parsing benchmark: ours against the `jid` crate on the addresses of
//! a realistic c2s stream.
//!
//! ```text
//! cargo bench -p xmpp-proto --bench jid [-- --corpus FILE] [--stanzas N] [--seed S]
//! ```
//!
//! It collects the `from`, `to` and `jid` attribute values of the stream
//! (generated deterministically unless `--corpus` names a file), then for
//! each implementation parses all of them into an owned JID, five timed
//! passes after a warm-up, and prints the median:
//! `RESULT impl=<name> ns_per_jid=<x> allocs_per_jid=<y>`.

use std::hint::black_box;
use std::time::Instant;

use xmpp_corpus::counting_alloc::{CountingAlloc, allocations};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const PASSES: usize = 5;

fn main() {
    let args = Args::parse();
    let stream = match &args.corpus {
        Some(path) => std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}")),
        None => xmpp_corpus::c2s_stream(args.seed, args.stanzas),
    };
    let jids: Vec<String> = xmpp_corpus::attribute_values(&stream, &["from", "to", "jid"])
        .into_iter()
        .map(unescape)
        .collect();
    let distinct: std::collections::HashSet<&str> = jids.iter().map(String::as_str).collect();
    let non_ascii = jids.iter().filter(|j| !j.is_ascii()).count();
    println!(
        "# {} JIDs ({} distinct, {:.1}% non-ASCII) from {} bytes of stream",
        jids.len(),
        distinct.len(),
        100.0 * non_ascii as f64 / jids.len().max(1) as f64,
        stream.len()
    );

    let ours_ok = jids
        .iter()
        .filter(|j| xmpp_proto::jid::Jid::new(j).is_ok())
        .count();
    let theirs_ok = jids.iter().filter(|j| jid::Jid::new(j).is_ok()).count();
    println!("# valid: ours {ours_ok}, jid crate {theirs_ok}");

    run("ours", &jids, |s| {
        black_box(xmpp_proto::jid::Jid::new(s).is_ok());
    });
    run("ours-view", &jids, |s| {
        black_box(xmpp_proto::jid::JidRef::parse(s).is_ok());
    });
    run("jid-crate", &jids, |s| {
        black_box(jid::Jid::new(s).is_ok());
    });

    // Where the time goes: the ASCII fast path against stringprep proper.
    let (ascii, other): (Vec<String>, Vec<String>) =
        jids.iter().cloned().partition(|j| j.is_ascii());
    for (class, set) in [("ascii", &ascii), ("non-ascii", &other)] {
        run(&format!("# ours-view-{class}"), set, |s| {
            black_box(xmpp_proto::jid::JidRef::parse(s).is_ok());
        });
    }
}

fn run(name: &str, jids: &[String], parse: impl Fn(&str)) {
    for s in jids {
        parse(s);
    }
    let mut ns = Vec::with_capacity(PASSES);
    let mut allocs = 0;
    for _ in 0..PASSES {
        let before = allocations();
        let start = Instant::now();
        for s in jids {
            parse(s);
        }
        let elapsed = start.elapsed();
        allocs = allocations() - before;
        ns.push(elapsed.as_nanos() as f64 / jids.len() as f64);
    }
    ns.sort_by(f64::total_cmp);
    let prefix = if name.starts_with('#') {
        ""
    } else {
        "RESULT impl="
    };
    println!(
        "{prefix}{name} ns_per_jid={:.1} allocs_per_jid={:.3}",
        ns[PASSES / 2],
        allocs as f64 / jids.len() as f64
    );
}

/// Attribute values in the stream are XML-escaped; JIDs may hold `'`, `"`,
/// `&` (in MUC nicknames).
fn unescape(raw: &str) -> String {
    raw.replace("&apos;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

struct Args {
    corpus: Option<String>,
    stanzas: usize,
    seed: u64,
}

impl Args {
    fn parse() -> Args {
        let mut args = Args {
            corpus: None,
            stanzas: 18_000,
            seed: 1,
        };
        let mut it = std::env::args().skip(1);
        while let Some(a) = it.next() {
            match a.as_str() {
                "--corpus" => args.corpus = it.next(),
                "--stanzas" => {
                    args.stanzas = it
                        .next()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(args.stanzas)
                }
                "--seed" => args.seed = it.next().and_then(|v| v.parse().ok()).unwrap_or(args.seed),
                "--bench" => {}
                other => eprintln!("ignoring unknown argument {other:?}"),
            }
        }
        args
    }
}
