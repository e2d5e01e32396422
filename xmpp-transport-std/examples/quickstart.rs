//! The quickstart: an XMPP server and two clients in one process, with
//! nothing to install.
//!
//! ```text
//! cargo run -p xmpp-transport-std --example quickstart [-- --trace]
//! ```
//!
//! It starts the embedded server (`xmpp_transport_std::serve`) on a
//! loopback port with a certificate generated at start; alice and bob log
//! in over STARTTLS with SCRAM-SHA-256, checking the certificate against
//! the generated CA; alice sends bob a message asking for a receipt, bob's
//! client sends the receipt and bob replies; everyone closes cleanly.
//! Exits non-zero, naming the step, if anything fails.

#[path = "quickstart/flow.rs"]
mod flow;

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

const HELP: &str = "\
quickstart: an embedded XMPP server and two clients, alice and bob, talking
over TLS on a loopback port. Nothing to install, nothing to configure.

Usage: cargo run -p xmpp-transport-std --example quickstart [-- OPTIONS]

Options:
  --trace    also print the XML each client sends (>>) and receives (<<)
  -h, --help this text

Steps: generate a CA and a certificate for localhost; start the server on
127.0.0.1 (a free port); alice and bob log in (STARTTLS, certificate checked
against the CA, SCRAM-SHA-256); alice sends bob a message with a receipt
request; bob's client sends the receipt, bob replies; both close cleanly and
the server shuts down. The exit status is 0 only if every step worked.";

fn main() -> ExitCode {
    let mut trace = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--trace" => trace = true,
            "-h" | "--help" => {
                println!("{HELP}");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("quickstart: unknown argument {other:?} (see --help)");
                return ExitCode::FAILURE;
            }
        }
    }
    let started = Instant::now();
    // Not println!: a closed pipe (`| head`) must not panic the threads.
    let say: flow::Say = Arc::new(|line: &str| {
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    });
    match flow::run(trace, say.clone()) {
        Ok(outcome) => {
            say(&format!(
                "done in {} ms: two logins, message delivered{}, reply received, {} sessions closed cleanly",
                started.elapsed().as_millis(),
                if outcome.receipt {
                    " and receipted"
                } else {
                    ""
                },
                outcome.server_ends.len(),
            ));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("quickstart failed: {e}");
            ExitCode::FAILURE
        }
    }
}
