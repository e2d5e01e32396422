//! A load generator on the mio driver: many accounts logged in from one
//! thread, each sending messages to the others; prints login latency,
//! messages per second and round-trip times.
//!
//! ```text
//! cargo run --release -p xmpp-transport-mio --example load -- \
//!     --server 127.0.0.1:5222 --domain localhost --users user --password pw \
//!     --sessions 1000 --rate 200 --duration 20 --ca ca.crt
//! ```

mod common;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use common::{Account, Flags, percentile_ms};
use xmpp_proto::client::{Client, ClientEvent};
use xmpp_transport_mio::{ConnId, Driver, DriverConfig, DriverEvent};

const HELP: &str = "\
load: log many accounts in from one thread and make them talk.

Usage: load --server HOST:PORT --domain D --users PREFIX --password P
            --sessions N --rate R --duration S [--ca FILE] [options]

  --server HOST:PORT   where to connect
  --domain D           the XMPP domain (certificates are checked against it)
  --users PREFIX       accounts are PREFIX1 .. PREFIXN @D
  --password P         every account's password
  --sessions N         how many sessions (default 100)
  --rate R             new logins per second (default 100)
  --duration S         seconds to stay online after the last login, while
                       the figures are measured (default 10)
  --ca FILE            trust the CA certificates in FILE (default: public roots)
  --interval S         seconds between two messages of one session (default
                       3); 0 = closed loop: send the next as soon as the
                       receipt of the previous one is back
  --direct-tls         TLS from the first byte (XEP-0368) instead of STARTTLS
  -h, --help           this text

Each session sends a chat message with a receipt request (XEP-0184) to
another session; receivers answer receipts automatically. Round-trip is
from sending a message to getting its receipt back. Prints sessions up,
login latency p50/p99, messages per second (delivered in the measuring
window), round-trip p50/p99 and errors, and a RESULT line.";

/// Messages one session may have waiting for their receipt.
const MAX_IN_FLIGHT: usize = 8;
/// A message whose receipt takes longer is counted as lost.
const LOST_AFTER: Duration = Duration::from_secs(30);

struct Sess {
    conn: Option<ConnId>,
    started: Instant,
    online: bool,
    in_flight: VecDeque<(String, Instant)>,
}

#[derive(Default)]
struct Figures {
    logins: Vec<Duration>,
    rtts: Vec<Duration>,
    delivered: u64,
    login_failed: u64,
    lost_sessions: u64,
    lost_messages: u64,
    send_refused: u64,
}

fn main() -> ExitCode {
    common::exit("load", run())
}

fn run() -> Result<(), String> {
    let flags = Flags::parse(HELP)?;
    let addr = common::resolve(flags.required("server")?)?;
    let account = Account::from_flags(&flags, "load")?;
    let domain = account.domain;
    let sessions: usize = flags.number("sessions", 100)?;
    let rate: f64 = flags.number("rate", 100.0)?;
    let duration = Duration::from_secs_f64(flags.number("duration", 10.0)?);
    let interval = Duration::from_secs_f64(flags.number("interval", 3.0)?);
    let tls = common::client_tls(flags.get("ca"), domain)?;
    if sessions == 0 || rate <= 0.0 {
        return Err("--sessions and --rate must be positive".into());
    }

    let mut driver: Driver<Client> =
        Driver::new(DriverConfig::default()).map_err(|e| e.to_string())?;
    let mut sess: Vec<Sess> = Vec::with_capacity(sessions);
    let mut by_conn: HashMap<ConnId, usize> = HashMap::new();
    let mut figures = Figures::default();
    // (when, session) of the next message of each online session.
    let mut sends: BinaryHeap<Reverse<(Instant, usize)>> = BinaryHeap::new();
    let t0 = Instant::now();
    let mut window: Option<(Instant, u64)> = None;
    let mut last_report = t0;
    let mut online_now = 0usize;
    let mut pick = 0usize;

    loop {
        let now = Instant::now();
        // Ramp up at the given rate.
        while sess.len() < sessions && now >= t0 + Duration::from_secs_f64(sess.len() as f64 / rate)
        {
            let i = sess.len();
            let conn = account.connect(&mut driver, i + 1, addr, &tls, |c| {
                c.with_auto_receipts(true)
            });
            let conn = match conn {
                Ok(conn) => {
                    by_conn.insert(conn, i);
                    Some(conn)
                }
                Err(e) => {
                    eprintln!("load: session {}: {e}", i + 1);
                    figures.login_failed += 1;
                    None
                }
            };
            sess.push(Sess {
                conn,
                started: now,
                online: false,
                in_flight: VecDeque::new(),
            });
        }
        // Every session is online, or failed to log in (counted: a scan
        // of all sessions per round would cost more than the I/O).
        let settled = sess.len() == sessions
            && figures.logins.len() + figures.login_failed as usize >= sessions;
        if settled && window.is_none() {
            eprintln!(
                "load: {online_now} sessions up after {:.1} s; measuring for {:.0} s",
                t0.elapsed().as_secs_f64(),
                duration.as_secs_f64()
            );
            figures.rtts.clear();
            window = Some((now, figures.delivered));
        }
        if let Some((start, _)) = window {
            if now >= start + duration {
                break;
            }
        }
        if now >= last_report + Duration::from_secs(5) {
            last_report = now;
            let failed = figures.login_failed as usize;
            let logging_in = sess.len().saturating_sub(online_now + failed);
            eprintln!(
                "load: {:.0} s: {online_now} online, {logging_in} logging in, {failed} failed, {} delivered",
                t0.elapsed().as_secs_f64(),
                figures.delivered
            );
        }

        // Messages due.
        while let Some(Reverse((at, i))) = sends.peek().copied() {
            if at > now {
                break;
            }
            sends.pop();
            send_one(
                &mut driver,
                &mut sess,
                &mut figures,
                &account,
                i,
                &mut pick,
                now,
            );
            if !interval.is_zero() {
                sends.push(Reverse((at + interval, i)));
            }
        }

        let next_start =
            (sess.len() < sessions).then(|| t0 + Duration::from_secs_f64(sess.len() as f64 / rate));
        let next_send = sends.peek().map(|Reverse((at, _))| *at);
        let wake = [next_start, next_send].into_iter().flatten().min();
        let timeout = wake
            .map(|t| t.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_millis(100))
            .min(Duration::from_millis(100));
        driver.poll(Some(timeout)).map_err(|e| e.to_string())?;

        while let Some(event) = driver.next_event() {
            let now = Instant::now();
            match event {
                DriverEvent::Endpoint { conn, event } => {
                    let Some(&i) = by_conn.get(&conn) else {
                        continue;
                    };
                    match event {
                        ClientEvent::Online { .. } => {
                            let s = &mut sess[i];
                            s.online = true;
                            online_now += 1;
                            figures.logins.push(now - s.started);
                            // Spread the first messages over one interval.
                            let phase = if interval.is_zero() {
                                Duration::ZERO
                            } else {
                                interval.mul_f64((i % 1000) as f64 / 1000.0)
                            };
                            sends.push(Reverse((now + phase, i)));
                        }
                        ClientEvent::Message(msg) if msg.body().is_some() => figures.delivered += 1,
                        ClientEvent::ReceiptReceived { id, .. } => {
                            let s = &mut sess[i];
                            if let Some(pos) =
                                s.in_flight.iter().position(|(m, _)| *m == id.as_str())
                            {
                                if let Some((_, sent)) = s.in_flight.remove(pos) {
                                    figures.rtts.push(now - sent);
                                }
                            }
                            if interval.is_zero() {
                                send_one(
                                    &mut driver,
                                    &mut sess,
                                    &mut figures,
                                    &account,
                                    i,
                                    &mut pick,
                                    now,
                                );
                            }
                        }
                        ClientEvent::Closed { reason } => {
                            eprintln!("load: session {}: closed: {reason}", i + 1);
                        }
                        _ => {}
                    }
                }
                DriverEvent::Closed { conn, error } => {
                    let Some(i) = by_conn.remove(&conn) else {
                        continue;
                    };
                    let s = &mut sess[i];
                    s.conn = None;
                    if s.online {
                        s.online = false;
                        online_now -= 1;
                        figures.lost_sessions += 1;
                    } else {
                        figures.login_failed += 1;
                    }
                    if let Some(e) = error {
                        eprintln!("load: session {}: {e}", i + 1);
                    }
                }
                DriverEvent::Source { .. } => {}
            }
        }
        if sess.len() == sessions && driver.is_empty() {
            return Err("every session failed".into());
        }
    }

    let (start, delivered_before) = window.unwrap_or((t0, 0));
    let seconds = start.elapsed().as_secs_f64();
    let delivered = figures.delivered - delivered_before;
    for s in &sess {
        figures.lost_messages += s
            .in_flight
            .iter()
            .filter(|(_, sent)| sent.elapsed() > LOST_AFTER)
            .count() as u64;
    }
    // Close everything, politely.
    for s in &sess {
        if let Some(conn) = s.conn {
            driver.command(conn, |c, now| c.close(now));
        }
    }
    let end = Instant::now() + Duration::from_secs(10);
    while !driver.is_empty() && Instant::now() < end {
        driver
            .poll(Some(Duration::from_millis(100)))
            .map_err(|e| e.to_string())?;
        while driver.next_event().is_some() {}
    }

    figures.logins.sort_unstable();
    figures.rtts.sort_unstable();
    let up = figures.logins.len();
    let errors = figures.login_failed + figures.lost_sessions + figures.lost_messages;
    println!("sessions up:    {up} / {sessions}");
    println!(
        "login latency:  p50 {:.1} ms, p99 {:.1} ms",
        percentile_ms(&figures.logins, 50.0),
        percentile_ms(&figures.logins, 99.0)
    );
    println!(
        "messages:       {delivered} delivered in {seconds:.1} s = {:.0} msgs/s",
        delivered as f64 / seconds
    );
    println!(
        "round-trip:     p50 {:.2} ms, p99 {:.2} ms ({} receipts)",
        percentile_ms(&figures.rtts, 50.0),
        percentile_ms(&figures.rtts, 99.0),
        figures.rtts.len()
    );
    println!(
        "errors:         {errors} (login failed {}, sessions lost {}, messages lost {}, sends refused {})",
        figures.login_failed, figures.lost_sessions, figures.lost_messages, figures.send_refused
    );
    println!(
        "RESULT sessions_up={up} sessions={sessions} login_p50_ms={:.1} login_p99_ms={:.1} msgs_per_s={:.0} rtt_p50_ms={:.2} rtt_p99_ms={:.2} errors={errors}",
        percentile_ms(&figures.logins, 50.0),
        percentile_ms(&figures.logins, 99.0),
        delivered as f64 / seconds,
        percentile_ms(&figures.rtts, 50.0),
        percentile_ms(&figures.rtts, 99.0),
    );
    Ok(())
}

/// Session `i` sends one message with a receipt request to another
/// online session.
#[allow(clippy::too_many_arguments)]
fn send_one(
    driver: &mut Driver<Client>,
    sess: &mut [Sess],
    figures: &mut Figures,
    account: &Account<'_>,
    i: usize,
    pick: &mut usize,
    now: Instant,
) {
    let n = sess.len();
    let (Some(conn), true) = (sess[i].conn, sess[i].online) else {
        return;
    };
    // Forget receipts that will not come.
    while sess[i]
        .in_flight
        .front()
        .is_some_and(|(_, sent)| now - *sent > LOST_AFTER)
    {
        sess[i].in_flight.pop_front();
        figures.lost_messages += 1;
    }
    if sess[i].in_flight.len() >= MAX_IN_FLIGHT || n < 2 {
        return;
    }
    // A target that is online, spread over all sessions.
    let mut target = None;
    for _ in 0..8 {
        *pick = pick.wrapping_add(7919);
        let j = (i + 1 + *pick % (n - 1)) % n;
        if sess[j].online {
            target = Some(j);
            break;
        }
    }
    let Some(j) = target else { return };
    let to = account.jid(j + 1);
    match driver.command(conn, |c, now| {
        c.send_message(now, &to, "load test message", true)
    }) {
        Some(Ok(id)) => sess[i].in_flight.push_back((id.as_str().to_owned(), now)),
        _ => figures.send_refused += 1,
    }
}
