//! Answers every chat message with the same body, until interrupted or
//! `--max N` messages were answered. Receipt requests are answered too.
//!
//! ```text
//! cargo run -p xmpp-transport-std --example echo -- --jid bob@localhost --password bob-pass
//! ```

mod common;

use std::process::ExitCode;
use std::time::Duration;

use common::{ConnectArgs, CONNECT_HELP};
use xmpp_proto::client::Event;
use xmpp_proto::stanza::{Message, MessageType};

const HELP: &str = "\
echo: log in and answer every chat message with the same body.

Usage: echo --jid JID [options]

Echo options:
  --max N              close after answering N messages (default: run until interrupted)
  --timeout SECS       how long login may take (default 10)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{HELP}\n{CONNECT_HELP}");
        return ExitCode::SUCCESS;
    }
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => common::fail("echo", &msg),
    }
}

fn run(args: Vec<String>) -> Result<(), String> {
    let (connect, rest) = ConnectArgs::take(args)?;
    let (mut max, mut timeout) = (None, 10u64);
    let mut it = rest.into_iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--max" => max = Some(it.next().and_then(|v| v.parse::<u64>().ok()).ok_or("--max needs a number")?),
            "--timeout" => {
                timeout = it.next().and_then(|v| v.parse().ok()).ok_or("--timeout needs seconds")?
            }
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    let mut conn = connect.connect()?;
    let jid = common::until_online(&mut conn, Duration::from_secs(timeout))?;
    println!("echoing as {jid}");
    let mut answered = 0u64;
    while max.is_none_or(|m| answered < m) {
        let event = match conn.next_event().map_err(|e| format!("connection failed: {e}"))? {
            Some(e) => e,
            None => return Err("the connection closed".into()),
        };
        if common::trace(&event) {
            continue;
        }
        match event {
            Event::Message(m) if m.kind() == MessageType::Chat => {
                let (Some(from), Some(body)) = (m.from(), m.body()) else { continue };
                let reply = Message::builder(MessageType::Chat).to(from).body(&body).build();
                conn.command(|c, now| c.send(now, reply))
                    .map_err(|e| format!("connection failed: {e}"))?
                    .map_err(|e| format!("cannot answer: {e}"))?;
                answered += 1;
                println!("echoed {} bytes to {from}", body.len());
            }
            Event::Closed { reason } => return Err(reason.to_string()),
            _ => {}
        }
    }
    common::close(&mut conn)?;
    println!("answered {answered} messages; closed cleanly");
    Ok(())
}
