//! Many echo bots in one process: every account logs in on the same mio
//! driver and answers each chat message with the same text.
//!
//! ```text
//! cargo run --release -p xmpp-transport-mio --example bots -- \
//!     --server 127.0.0.1:5222 --domain localhost --users bot --password pw \
//!     --sessions 500 --ca ca.crt
//! ```

mod common;

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use common::{Account, Flags};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;
use xmpp_proto::client::{Client, ClientEvent};
use xmpp_proto::stanza::MessageType;
use xmpp_transport_mio::{ConnId, Driver, DriverConfig, DriverEvent};

const HELP: &str = "\
bots: many echo bots on one thread.

Usage: bots --server HOST:PORT --domain D --users PREFIX --password P
            [--sessions N] [--rate R] [--ca FILE] [--direct-tls]

  --server HOST:PORT   where to connect
  --domain D           the XMPP domain (certificates are checked against it)
  --users PREFIX       the bots are PREFIX1 .. PREFIXN @D (resource `bot`)
  --password P         every bot's password
  --sessions N         how many bots (default 10)
  --rate R             logins per second (default 100)
  --ca FILE            trust the CA certificates in FILE (default: public roots)
  --direct-tls         TLS from the first byte (XEP-0368) instead of STARTTLS
  -h, --help           this text

Each bot answers a chat message with its body, to the sender. Runs until
SIGINT or SIGTERM, then closes every session and prints how many messages
were echoed.";

fn main() -> ExitCode {
    common::exit("bots", run())
}

fn run() -> Result<(), String> {
    let flags = Flags::parse(HELP)?;
    let addr = common::resolve(flags.required("server")?)?;
    let account = Account::from_flags(&flags, "bot")?;
    let domain = account.domain;
    let sessions: usize = flags.number("sessions", 10)?;
    let rate: f64 = flags.number("rate", 100.0)?;
    let tls = common::client_tls(flags.get("ca"), domain)?;

    let mut driver: Driver<Client> =
        Driver::new(DriverConfig::default()).map_err(|e| e.to_string())?;
    let mut signals = Signals::new([SIGINT, SIGTERM]).map_err(|e| e.to_string())?;
    driver
        .registry()
        .register(&mut signals, mio::Token(0), mio::Interest::READABLE)
        .map_err(|e| e.to_string())?;
    let mut names: HashMap<ConnId, usize> = HashMap::new();
    let (mut started, mut online, mut echoed) = (0usize, 0usize, 0u64);
    let t0 = Instant::now();
    let mut stop = false;
    while !stop {
        while started < sessions && t0.elapsed().as_secs_f64() * rate >= started as f64 {
            started += 1;
            match account.connect(&mut driver, started, addr, &tls, |c| c) {
                Ok(conn) => {
                    names.insert(conn, started);
                }
                Err(e) => eprintln!("bots: bot {started}: {e}"),
            }
        }
        driver
            .poll(Some(Duration::from_millis(50)))
            .map_err(|e| e.to_string())?;
        while let Some(event) = driver.next_event() {
            match event {
                DriverEvent::Source { .. } => stop = true,
                DriverEvent::Endpoint { conn, event } => match event {
                    ClientEvent::Online { jid } => {
                        online += 1;
                        eprintln!("bots: {jid} online ({online} of {sessions})");
                    }
                    ClientEvent::Message(msg) if msg.kind() == MessageType::Chat => {
                        let (Some(from), Some(body)) = (msg.from(), msg.body()) else {
                            continue;
                        };
                        let (from, body) = (from.to_owned(), body.into_owned());
                        let sent =
                            driver.command(conn, |c, now| c.send_message(now, &from, &body, false));
                        if matches!(sent, Some(Ok(_))) {
                            echoed += 1;
                        }
                    }
                    ClientEvent::Closed { reason } => {
                        let n = names.get(&conn).copied().unwrap_or_default();
                        eprintln!("bots: bot {n} closed: {reason}");
                    }
                    _ => {}
                },
                DriverEvent::Closed { conn, error } => {
                    names.remove(&conn);
                    if let Some(e) = error {
                        eprintln!("bots: {e}");
                    }
                }
            }
        }
    }
    for conn in driver.conn_ids() {
        driver.command(conn, |c, now| c.close(now));
    }
    let end = Instant::now() + Duration::from_secs(5);
    while !driver.is_empty() && Instant::now() < end {
        driver
            .poll(Some(Duration::from_millis(100)))
            .map_err(|e| e.to_string())?;
        while driver.next_event().is_some() {}
    }
    println!("bots: {online} logged in, {echoed} messages echoed");
    Ok(())
}
