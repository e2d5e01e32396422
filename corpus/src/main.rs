//! Writes a generated XMPP c2s stream to a file and prints a summary.
//!
//! ```text
//! cargo run -p xmpp-corpus --release -- --stanzas 18000 --seed 1 --out FILE
//! ```

use std::process::ExitCode;

const USAGE: &str = "\
Writes a deterministic, realistic server-to-client XMPP stream.

Usage: xmpp-corpus --stanzas N --out FILE [--seed S]

Options:
  --stanzas N   number of top-level elements (stanzas and nonzas such as
                <r/>, <a/>, <stream:features>); 18000 gives about 10 MB
  --out FILE    where to write the stream ('-' for standard output)
  --seed S      generator seed, an unsigned 64-bit integer (default 1);
                the same seed and count always give the same bytes
  -h, --help    print this help

A summary (bytes, top-level elements, keepalives, average size, counts and
bytes per kind) goes to standard error.";

struct Args {
    stanzas: usize,
    seed: u64,
    out: String,
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("error: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let corpus = xmpp_corpus::generate(args.seed, args.stanzas);
    let written = if args.out == "-" {
        use std::io::Write as _;
        std::io::stdout().lock().write_all(&corpus.bytes)
    } else {
        std::fs::write(&args.out, &corpus.bytes)
    };
    if let Err(e) = written {
        eprintln!("error: cannot write {}: {e}", args.out);
        return ExitCode::FAILURE;
    }
    summary(&args, &corpus);
    ExitCode::SUCCESS
}

/// `Ok(None)` means help was asked for.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut stanzas = None;
    let mut seed = 1;
    let mut out = None;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--stanzas" => {
                let v = value("--stanzas")?;
                stanzas = Some(
                    v.parse()
                        .map_err(|_| format!("--stanzas: not a count: {v}"))?,
                );
            }
            "--seed" => {
                let v = value("--seed")?;
                seed = v.parse().map_err(|_| format!("--seed: not a u64: {v}"))?;
            }
            "--out" => out = Some(value("--out")?),
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    Ok(Some(Args {
        stanzas: stanzas.ok_or("--stanzas is required")?,
        seed,
        out: out.ok_or("--out is required")?,
    }))
}

fn summary(args: &Args, corpus: &xmpp_corpus::Corpus) {
    let total = corpus.bytes.len();
    let n = corpus.stanzas.max(1);
    let non_ascii = corpus.bytes.iter().filter(|b| !b.is_ascii()).count();
    eprintln!(
        "wrote {}: {total} bytes, {} top-level elements, {} keepalives, {:.1} B/element, \
         {:.1}% non-ASCII bytes (seed {})",
        args.out,
        corpus.stanzas,
        corpus.keepalives,
        total as f64 / n as f64,
        100.0 * non_ascii as f64 / total.max(1) as f64,
        args.seed,
    );
    let mut rows: Vec<_> = corpus
        .count_by_kind
        .iter()
        .zip(&corpus.bytes_by_kind)
        .filter(|((_, count), _)| *count > 0)
        .map(|(&(kind, count), &(_, bytes))| (kind, count, bytes))
        .collect();
    rows.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(b.0)));
    eprintln!(
        "{:<22} {:>7} {:>7} {:>7} {:>8}",
        "kind", "count", "% elem", "% bytes", "avg B"
    );
    for (kind, count, bytes) in rows {
        eprintln!(
            "{kind:<22} {count:>7} {:>6.1}% {:>6.1}% {:>8}",
            100.0 * count as f64 / n as f64,
            100.0 * bytes as f64 / total.max(1) as f64,
            bytes / count,
        );
    }
}
