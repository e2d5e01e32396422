//! A group chat load generator on the mio driver, for any server: N
//! accounts join one room, one of them sends messages, and every message
//! counts once all N occupants (the sender's reflection included) have
//! it. Prints messages per second through the room.
//!
//! ```text
//! cargo run --release -p xmpp-transport-mio --example room -- \
//!     --server 127.0.0.1:5222 --domain localhost --users user --password pw \
//!     --rooms conference.localhost --occupants 100 --ca ca.crt
//! ```

mod common;

use std::collections::{HashMap, VecDeque};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use common::{Account, Flags, percentile_ms};
use xmpp_proto::client::{Client, ClientEvent, RoomEvent};
use xmpp_proto::jid::BareJid;
use xmpp_proto::muc::{History, JoinOptions};
use xmpp_transport_mio::{ConnId, Driver, DriverConfig, DriverEvent};

const HELP: &str = "\
room: messages per second through one group chat room, on any server.

Usage: room --server HOST:PORT --domain D --users PREFIX --password P
            --rooms SERVICE [--occupants N] [--messages M] [--ca FILE] [options]

  --server HOST:PORT   where to connect
  --domain D           the XMPP domain (certificates are checked against it)
  --users PREFIX       PREFIX1 .. PREFIXN @D join; PREFIX1 sends
  --password P         every account's password
  --rooms SERVICE      the group chat service (conference.D)
  --occupants N        how many join (default 100)
  --messages M         messages sent (default 500)
  --window W           messages in flight at once (default 10)
  --rate R             logins per second (default 100)
  --ca FILE            trust the CA certificates in FILE (default: public roots)
  --direct-tls         TLS from the first byte (XEP-0368) instead of STARTTLS
  -h, --help           this text

A message is done when all N occupants have it (the sender's own copy
included); the next goes out as one is done, W at a time. Prints
messages per second, deliveries per second (N times that) and the time
from sending to the last copy (p50, p99), and a RESULT line.";

/// Gives up after this long.
const LIMIT: Duration = Duration::from_secs(300);

fn main() -> ExitCode {
    common::exit("room", run())
}

fn run() -> Result<(), String> {
    let flags = Flags::parse(HELP)?;
    let addr = common::resolve(flags.required("server")?)?;
    let account = Account::from_flags(&flags, "room")?;
    let service = flags.required("rooms")?.to_owned();
    let n: usize = flags.number("occupants", 100)?;
    let total: usize = flags.number("messages", 500)?;
    let window: usize = flags.number("window", 10)?;
    let rate: f64 = flags.number("rate", 100.0)?;
    let tls = common::client_tls(flags.get("ca"), account.domain)?;
    if n == 0 || total == 0 || window == 0 || rate <= 0.0 {
        return Err("--occupants, --messages, --window and --rate must be positive".into());
    }
    let room = BareJid::new(&format!("bench{}@{service}", std::process::id()))
        .map_err(|e| format!("--rooms {service}: {e}"))?;
    let mut driver: Driver<Client> =
        Driver::new(DriverConfig::default()).map_err(|e| e.to_string())?;
    let mut by_conn: HashMap<ConnId, usize> = HashMap::new();
    let mut conns: Vec<Option<ConnId>> = vec![None; n];
    let mut joined = 0usize;
    // Message body -> (sent at, copies seen).
    let mut in_flight: HashMap<String, (Instant, usize)> = HashMap::new();
    let mut queue: VecDeque<usize> = (0..total).collect();
    let mut done = Vec::with_capacity(total);
    let mut first_send: Option<Instant> = None;
    let t0 = Instant::now();
    let options = JoinOptions::default().with_history(History::none());
    let mut started = 0usize;

    loop {
        let now = Instant::now();
        if now > t0 + LIMIT {
            return Err(format!(
                "not done after {LIMIT:?}: {joined}/{n} joined, {}/{total} messages",
                done.len()
            ));
        }
        // Log everyone in at the rate; the first starts sending once all
        // are in.
        while started < n && now >= t0 + Duration::from_secs_f64(started as f64 / rate) {
            let conn = account.connect(&mut driver, started + 1, addr, &tls, |c| c)?;
            by_conn.insert(conn, started);
            conns[started] = Some(conn);
            started += 1;
        }
        if joined == n && done.len() == total {
            break;
        }
        if joined == n {
            while in_flight.len() < window {
                let Some(k) = queue.pop_front() else { break };
                let body = format!("m{k}");
                let sent = conns[0]
                    .and_then(|c| {
                        driver.command(c, |client, now| client.send_to_room(now, &room, &body))
                    })
                    .and_then(Result::ok);
                if sent.is_none() {
                    return Err("the sender could not send".into());
                }
                first_send.get_or_insert(Instant::now());
                in_flight.insert(body, (Instant::now(), 0));
            }
        }
        driver
            .poll(Some(Duration::from_millis(10)))
            .map_err(|e| e.to_string())?;
        while let Some(event) = driver.next_event() {
            match event {
                DriverEvent::Endpoint { conn, event } => {
                    let Some(&i) = by_conn.get(&conn) else {
                        continue;
                    };
                    match event {
                        ClientEvent::Online { .. } => {
                            driver.command(conn, |c, now| {
                                c.join_room(now, &room, &format!("u{i}"), &options)
                            });
                        }
                        ClientEvent::Room(RoomEvent::Joined { .. }) => joined += 1,
                        ClientEvent::Room(RoomEvent::JoinFailed { error, .. }) => {
                            return Err(format!("occupant {}: not let in: {error:?}", i + 1));
                        }
                        ClientEvent::Room(RoomEvent::Message { message, .. }) => {
                            let Some(body) = message.body() else { continue };
                            if let Some((sent, seen)) = in_flight.get_mut(body.as_ref()) {
                                *seen += 1;
                                if *seen == n {
                                    let took = sent.elapsed();
                                    in_flight.remove(body.as_ref());
                                    done.push(took);
                                }
                            }
                        }
                        ClientEvent::Closed { reason } => {
                            return Err(format!("occupant {}: closed: {reason}", i + 1));
                        }
                        _ => {}
                    }
                }
                DriverEvent::Closed { conn, error } => {
                    if let Some(i) = by_conn.remove(&conn) {
                        return Err(format!("occupant {}: connection ended: {error:?}", i + 1));
                    }
                }
                DriverEvent::Source { .. } => {}
            }
        }
    }
    let seconds = first_send.map_or(0.0, |t| t.elapsed().as_secs_f64());
    for conn in conns.into_iter().flatten() {
        driver.command(conn, |c, now| c.close(now));
    }
    let end = Instant::now() + Duration::from_secs(5);
    while !driver.is_empty() && Instant::now() < end {
        driver
            .poll(Some(Duration::from_millis(50)))
            .map_err(|e| e.to_string())?;
        while driver.next_event().is_some() {}
    }
    done.sort_unstable();
    let per_s = total as f64 / seconds;
    println!(
        "{total} messages through a room of {n} in {seconds:.2} s: {per_s:.0} messages/s, {:.0} deliveries/s; last copy p50 {:.1} ms, p99 {:.1} ms",
        per_s * n as f64,
        percentile_ms(&done, 50.0),
        percentile_ms(&done, 99.0)
    );
    println!(
        "RESULT path=room-{n} msgs_per_s={per_s:.0} deliveries_per_s={:.0} p50_ms={:.1} p99_ms={:.1}",
        per_s * n as f64,
        percentile_ms(&done, 50.0),
        percentile_ms(&done, 99.0)
    );
    Ok(())
}
