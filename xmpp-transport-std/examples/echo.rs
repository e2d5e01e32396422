//! Answers every chat message with the same body, until interrupted or
//! `--max N` messages were answered. Receipt requests are answered too.
//!
//! ```text
//! cargo run -p xmpp-transport-std --example echo -- --jid bob@localhost --password bob-pass
//! ```

mod common;

use std::process::ExitCode;
use std::time::Duration;

use common::ConnectArgs;
use xmpp_proto::ClientEvent;
use xmpp_proto::stanza::{Message, MessageType, Presence, PresenceType};

const HELP: &str = "\
echo: log in and answer every chat message with the same body.

Usage: echo --jid JID [options]

Echo options:
  --max N              close after answering N messages (default: run until interrupted)
  --timeout SECS       how long login may take (default 10)
";

fn main() -> ExitCode {
    common::main("echo", HELP, run)
}

fn run(args: Vec<String>) -> Result<(), String> {
    let (connect, rest) = ConnectArgs::take(args)?;
    let (mut max, mut timeout) = (None, 10u64);
    let mut it = rest.into_iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--max" => max = Some(common::value(&mut it, "--max", "a number")?),
            "--timeout" => timeout = common::value(&mut it, "--timeout", "seconds")?,
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    let mut conn = connect.connect()?;
    let jid = common::until_online(&mut conn, Duration::from_secs(timeout))?;
    // Initial presence makes us available, so messages to the bare JID
    // reach this resource (RFC 6121 §8.5.2).
    conn.command(|c, now| c.send(now, Presence::builder(PresenceType::Available).build()))
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot send presence: {e}"))?;
    println!("echoing as {jid}");
    let mut answered = 0u64;
    while max.is_none_or(|m| answered < m) {
        let event = match conn.next_event().map_err(|e| e.to_string())? {
            Some(e) => e,
            None => return Err("the connection closed".into()),
        };
        if common::trace(&event) {
            continue;
        }
        match event {
            ClientEvent::Message(m) if m.kind() == MessageType::Chat => {
                let (Some(from), Some(body)) = (m.from(), m.body()) else {
                    continue;
                };
                let reply = Message::builder(MessageType::Chat)
                    .to(from)
                    .body(&body)
                    .build();
                conn.command(|c, now| c.send(now, reply))
                    .map_err(|e| e.to_string())?
                    .map_err(|e| format!("cannot answer: {e}"))?;
                answered += 1;
                println!("echoed {} bytes to {from}", body.len());
            }
            ClientEvent::Closed { reason } => return Err(reason.to_string()),
            _ => {}
        }
    }
    common::close(&mut conn, None)?;
    let plural = if answered == 1 { "" } else { "s" };
    println!("answered {answered} message{plural}; closed cleanly");
    Ok(())
}
