//! An echo bot on tokio: logs in, answers every chat message with the
//! same body, and stops after `--max N` answers (or when interrupted).
//!
//! ```text
//! cargo run -p xmpp-transport-tokio --example bot -- \
//!     --jid bob@localhost --password bob-pass --server 127.0.0.1:5222 --ca ca.crt
//! ```

use std::process::ExitCode;

use xmpp_proto::client::{Client, ClientConfig, ClientEvent};
use xmpp_proto::jid::Jid;
use xmpp_proto::stanza::{MessageType, Presence, PresenceType};
use xmpp_transport_std::{ClientTls, TrustAnchors};
use xmpp_transport_tokio::{Session, now};

const HELP: &str = "\
bot: an echo bot on tokio.

Usage: bot --jid JID --password PASS [--server HOST:PORT] [--ca FILE] [--max N]

  --server HOST:PORT   where to connect (default: the JID's domain, port 5222)
  --ca FILE            trust this CA (PEM) instead of the Mozilla roots
  --max N              stop after answering N messages
";

struct Args {
    jid: String,
    password: String,
    server: Option<String>,
    ca: Option<String>,
    max: Option<u64>,
}

fn parse(args: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut jid, mut password, mut server, mut ca, mut max) = (None, None, None, None, None);
    let mut it = args;
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--jid" => jid = Some(value()?),
            "--password" => password = Some(value()?),
            "--server" => server = Some(value()?),
            "--ca" => ca = Some(value()?),
            "--max" => max = Some(value()?.parse().map_err(|_| "--max needs a number")?),
            "-h" | "--help" => return Err(HELP.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n\n{HELP}")),
        }
    }
    Ok(Args {
        jid: jid.ok_or("--jid is required")?,
        password: password.ok_or("--password is required")?,
        server,
        ca,
        max,
    })
}

async fn run(args: Args) -> Result<(), String> {
    let jid = Jid::new(&args.jid).map_err(|e| format!("--jid: {e}"))?;
    // Delivery receipts (XEP-0184) are answered for whoever asks.
    let config = ClientConfig::new(jid, args.password).with_auto_receipts(true);
    let anchors = match &args.ca {
        Some(path) => TrustAnchors::from_pem_file(path).map_err(|e| format!("--ca {path}: {e}"))?,
        None => TrustAnchors::webpki_roots(),
    };
    let tls = ClientTls::new(&anchors, config.domain()).map_err(|e| e.to_string())?;
    let server = args
        .server
        .unwrap_or_else(|| format!("{}:5222", config.domain()));
    let tcp = tokio::net::TcpStream::connect(&server)
        .await
        .map_err(|e| format!("{server}: {e}"))?;
    let mut session = Session::client(tcp, Client::new(config, now()), tls);
    let mut answered = 0u64;
    while let Some(event) = session.next_event().await {
        match event {
            ClientEvent::Online { jid } => {
                // Available, so messages to the bare JID reach us.
                let presence = Presence::builder(PresenceType::Available).build();
                session
                    .command(|c, now| c.send(now, presence))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())?;
                println!("echoing as {jid}");
            }
            ClientEvent::Message(m) if m.kind() == MessageType::Chat => {
                let (Some(from), Some(body)) = (m.from(), m.body()) else {
                    continue;
                };
                let (from, body) = (from.to_owned(), body.into_owned());
                session
                    .command(move |c, now| c.send_message(now, &from, &body, false))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())?;
                answered += 1;
                if args.max.is_some_and(|max| answered >= max) {
                    session
                        .command(|c, now| c.close(now))
                        .await
                        .map_err(|e| e.to_string())?;
                }
            }
            ClientEvent::Closed { reason } => {
                println!("closed: {reason}");
                return if reason.is_normal() {
                    Ok(())
                } else {
                    Err(reason.to_string())
                };
            }
            _ => {}
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bot: no tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bot: {e}");
            ExitCode::FAILURE
        }
    }
}
