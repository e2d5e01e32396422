//! Sends one chat message and closes.
//!
//! ```text
//! cargo run -p xmpp-transport-std --example send -- --jid alice@localhost \
//!     --password alice-pass --to bob@localhost --message "hello" [--receipt]
//! ```
//!
//! Exits 0 only when the message was sent, no error came back for it
//! (unknown or unavailable recipient, malformed address), with
//! `--receipt` a XEP-0184 receipt arrived, and the stream closed cleanly.

mod common;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use common::ConnectArgs;
use xmpp_proto::ClientEvent;
use xmpp_transport_std::Next;

const HELP: &str = "\
send: log in, send one chat message, close.

Usage: send --jid JID --to JID --message TEXT [options]

Message options:
  --to JID             the recipient (required)
  --message TEXT       the body (required)
  --receipt            request a XEP-0184 receipt and fail unless one arrives
  --timeout SECS       how long login and the receipt may take (default 10)
";

fn main() -> ExitCode {
    common::main("send", HELP, run)
}

fn run(args: Vec<String>) -> Result<(), String> {
    let (connect, rest) = ConnectArgs::take(args)?;
    let (mut to, mut body, mut receipt, mut timeout) = (None, None, false, 10u64);
    let mut it = rest.into_iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--to" => to = it.next(),
            "--message" => body = it.next(),
            "--receipt" => receipt = true,
            "--timeout" => timeout = common::value(&mut it, "--timeout", "seconds")?,
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    let to = to.ok_or("--to is required")?;
    let body = body.ok_or("--message is required")?;
    let timeout = Duration::from_secs(timeout);
    let started = Instant::now();

    let mut conn = connect.connect()?;
    let jid = common::until_online(&mut conn, timeout)?;
    let id = conn
        .command(|c, now| c.send_message(now, &to, &body, receipt))
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot send: {e}"))?;
    if receipt {
        let deadline = Instant::now() + timeout;
        loop {
            match conn.next_event_until(deadline).map_err(|e| e.to_string())? {
                Next::Event(e) if common::trace(&e) => {}
                Next::Event(ClientEvent::ReceiptReceived { id: got, .. }) if got == id => break,
                Next::Event(ClientEvent::Bounced {
                    id: got,
                    from,
                    error,
                }) if got == id => {
                    let by = from.unwrap_or_else(|| "the server".into());
                    return Err(format!("refused by {by}: {error}"));
                }
                Next::Event(ClientEvent::Closed { reason }) => return Err(reason.to_string()),
                Next::Event(_) => {}
                Next::Deadline => {
                    return Err(format!(
                        "no receipt from {to} within {}s (is the recipient online with a client that sends receipts?)",
                        timeout.as_secs()
                    ));
                }
                Next::Closed => return Err("the connection closed before the receipt came".into()),
            }
        }
    }
    // Without a receipt, an error the server answers with still comes
    // before its close: the close reports it.
    common::close(&mut conn, Some(&id))?;
    println!(
        "sent {id} from {jid} to {to}{} in {} ms",
        if receipt { " (receipt received)" } else { "" },
        started.elapsed().as_millis()
    );
    Ok(())
}
