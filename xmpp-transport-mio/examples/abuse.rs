//! Attacks a server the way `scripts/abuse.sh` measures it: each attack
//! runs from its own loopback address while a legitimate user logs in
//! from 127.0.0.1 once a second; prints a RESULT line.
//!
//! ```text
//! cargo run --release -p xmpp-transport-mio --example abuse -- \
//!     --server 127.0.0.1:5322 --domain localhost --ca ca.crt \
//!     --users user --password pw --attack slow-reader
//! ```

mod common;
mod s2s_attacks;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{Flags, resolve};
use s2s_attacks as s2s;
use socket2::{Domain, Socket, Type};
use xmpp_proto::client::{Client, ClientConfig, ClientEvent};
use xmpp_proto::jid::Jid;
use xmpp_proto::sm::SmConfig;
use xmpp_transport_std::{ClientTls, Connection, Next, TrustAnchors, clock};

const HELP: &str = "\
abuse: attack an XMPP server while a legitimate user logs in.

Usage: abuse --server HOST:PORT --domain D --ca FILE --users PREFIX
             --password P --attack NAME [options]

  --server HOST:PORT   where to connect
  --domain D           the XMPP domain
  --ca FILE            trust the CA certificates in FILE
  --users PREFIX       accounts PREFIX1 .. PREFIX200 exist with --password
  --password P         their password
  --attack NAME        preauth-big-element, slow-reader, sm-never-ack,
                       login-storm, connection-flood, s2s-verify-flood
                       or s2s-claim-flood
  --s2s HOST:PORT      the server's server-to-server port (s2s attacks)
  --from IP            the attacker's loopback address (default 127.0.0.2)
  --seconds S          how long the attack runs (default: per attack)
  --resume-timeout S   the server's --resume-timeout, waited for before
                       counting bounces (default 5)
  -h, --help           this text

The legitimate user is PREFIX1, from 127.0.0.1. Prints
`RESULT attack= attempts= legit_login_ms= legit_failures= errors_returned= lost= unread=`:
the slowest legitimate login, the errors the server answered the attacker
with (refused connections, stream errors, bounced messages; for
s2s-verify-flood, the answers), the messages neither delivered nor
answered with an error, and what the server had not read yet when the
attack ended because it paces that peer (s2s-verify-flood).";

fn main() -> ExitCode {
    common::exit("abuse", run())
}

/// What every attack needs.
struct Target {
    server: SocketAddr,
    domain: String,
    prefix: String,
    password: String,
    tls: ClientTls,
    from: IpAddr,
    /// The server-to-server port, for the s2s attacks.
    s2s: Option<SocketAddr>,
}

/// What an attack reports.
#[derive(Default)]
struct Outcome {
    attempts: u64,
    errors: u64,
    lost: u64,
    /// What the attacker sent that the server, pacing it, had not read
    /// when the attack ended (never taken, so never lost).
    unread: u64,
}

fn run() -> Result<(), String> {
    let flags = Flags::parse(HELP)?;
    let domain = flags.required("domain")?.to_owned();
    let anchors = TrustAnchors::from_pem_file(flags.required("ca")?).map_err(|e| e.to_string())?;
    let target = Arc::new(Target {
        server: resolve(flags.required("server")?)?,
        tls: ClientTls::new(&anchors, &domain).map_err(|e| e.to_string())?,
        domain,
        prefix: flags.required("users")?.to_owned(),
        password: flags.required("password")?.to_owned(),
        from: flags
            .get("from")
            .unwrap_or("127.0.0.2")
            .parse()
            .map_err(|e| format!("--from: {e}"))?,
        s2s: flags.get("s2s").map(resolve).transpose()?,
    });
    let attack = flags.required("attack")?.to_owned();
    let resume_timeout: u64 = flags.number("resume-timeout", 5)?;
    let default_seconds = match attack.as_str() {
        "slow-reader" => 60,
        "login-storm" => 60,
        _ => 20,
    };
    let seconds: u64 = flags.number("seconds", default_seconds)?;
    let duration = Duration::from_secs(seconds);

    let stop = Arc::new(AtomicBool::new(false));
    let legit = {
        let (target, stop) = (target.clone(), stop.clone());
        thread::spawn(move || legit_logins(&target, &stop))
    };
    let outcome = match attack.as_str() {
        "preauth-big-element" => preauth_big_element(&target, duration),
        "slow-reader" => slow_reader(&target, duration, resume_timeout),
        "sm-never-ack" => sm_never_ack(&target, duration, resume_timeout),
        "login-storm" => login_storm(&target, duration),
        "connection-flood" => connection_flood(&target, duration),
        "s2s-verify-flood" => s2s::verify_flood(&target, duration),
        "s2s-claim-flood" => s2s::claim_flood(&target, duration),
        other => return Err(format!("unknown attack {other:?} (see --help)")),
    }?;
    stop.store(true, Ordering::SeqCst);
    let (slowest, failures) = legit.join().map_err(|_| "the legitimate user panicked")?;
    println!(
        "RESULT attack={attack} attempts={} legit_login_ms={:.0} legit_failures={failures} \
         errors_returned={} lost={} unread={}",
        outcome.attempts,
        slowest.as_secs_f64() * 1000.0,
        outcome.errors,
        outcome.lost,
        outcome.unread
    );
    Ok(())
}

/// Logs the legitimate user in and out once a second until `stop`;
/// returns the slowest login and how many failed.
fn legit_logins(target: &Target, stop: &AtomicBool) -> (Duration, u64) {
    let mut slowest = Duration::ZERO;
    let mut failures = 0;
    // Let the attack get going first.
    thread::sleep(Duration::from_secs(2));
    while !stop.load(Ordering::SeqCst) {
        let started = Instant::now();
        let local = IpAddr::from([127, 0, 0, 1]);
        match login(target, local, 1, &target.password, None) {
            Ok(mut conn) => {
                slowest = slowest.max(started.elapsed());
                let _ = conn.command(|c, now| c.close(now));
                let deadline = Instant::now() + Duration::from_secs(2);
                while let Ok(Next::Event(_)) = conn.next_event_until(deadline) {}
            }
            Err(e) => {
                eprintln!("abuse: the legitimate login failed: {e}");
                slowest = slowest.max(started.elapsed());
                failures += 1;
            }
        }
        thread::sleep(Duration::from_secs(1));
    }
    (slowest, failures)
}

/// A TCP connection to the server from `from`.
fn connect_from(from: IpAddr, server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = Socket::new(Domain::for_address(server), Type::STREAM, None)?;
    socket.bind(&SocketAddr::new(from, 0).into())?;
    socket.connect_timeout(&server.into(), Duration::from_secs(5))?;
    let tcp: TcpStream = socket.into();
    tcp.set_nodelay(true)?;
    Ok(tcp)
}

/// Logs account `n` in from `from`; returns the connection once online.
fn login(
    target: &Target,
    from: IpAddr,
    n: usize,
    password: &str,
    sm: Option<SmConfig>,
) -> Result<Connection<Client>, String> {
    let jid = format!("{}{n}@{}/abuse", target.prefix, target.domain);
    let jid = Jid::new(&jid).map_err(|e| e.to_string())?;
    let mut config = ClientConfig::new(jid, password);
    if let Some(sm) = sm {
        config = config.with_stream_management(sm);
    }
    let tcp = connect_from(from, target.server).map_err(|e| e.to_string())?;
    let client = Client::new(config, clock::now());
    let mut conn =
        Connection::new_client(tcp, client, target.tls.clone()).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match conn.next_event_until(deadline).map_err(|e| e.to_string())? {
            Next::Event(ClientEvent::Online { .. }) => return Ok(conn),
            Next::Event(ClientEvent::Closed { reason }) => return Err(reason.to_string()),
            Next::Event(_) => {}
            Next::Deadline => return Err("timed out".into()),
            Next::Closed => return Err("connection lost".into()),
        }
    }
}

const HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams' version='1.0' to='";

/// 1,000 connections each send an unfinished 200 KiB element before
/// logging in, and stay.
fn preauth_big_element(target: &Target, duration: Duration) -> Result<Outcome, String> {
    let mut element = format!("{HEADER}{}'><message><body>", target.domain).into_bytes();
    element.resize(element.len() + 200 * 1024, b'x');
    let mut outcome = Outcome::default();
    let mut held = Vec::new();
    for _ in 0..1000 {
        outcome.attempts += 1;
        let Ok(mut tcp) = connect_from(target.from, target.server) else {
            outcome.errors += 1;
            continue;
        };
        let _ = tcp.set_nonblocking(true);
        let _ = tcp.write(&element);
        held.push(tcp);
    }
    thread::sleep(duration);
    // What the server did with them: an answer ending in a stream error,
    // or a closed connection.
    for mut tcp in held {
        let _ = tcp.set_nonblocking(false);
        let _ = tcp.set_read_timeout(Some(Duration::from_millis(50)));
        let mut buf = [0u8; 4096];
        let mut answer = Vec::new();
        loop {
            match tcp.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
                Err(_) => break,
            }
        }
        let text = String::from_utf8_lossy(&answer);
        if text.contains("stream:error") || answer.is_empty() {
            outcome.errors += 1;
        }
    }
    Ok(outcome)
}

/// A sender floods a recipient that reads one byte a second; the
/// recipient then goes away. Every message must come back as an error.
fn slow_reader(
    target: &Target,
    duration: Duration,
    resume_timeout: u64,
) -> Result<Outcome, String> {
    let reader = login(
        target,
        target.from,
        3,
        &target.password,
        Some(SmConfig::default()),
    )?;
    let recipient = format!("{}3@{}/abuse", target.prefix, target.domain);
    let (_, mut raw) = reader.into_parts();
    let stop = Arc::new(AtomicBool::new(false));
    let trickle = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut byte = [0u8; 1];
            while !stop.load(Ordering::SeqCst) {
                let _ = raw.set_read_timeout(Some(Duration::from_secs(1)));
                let _ = raw.read(&mut byte);
                thread::sleep(Duration::from_secs(1));
            }
            let _ = raw.shutdown(std::net::Shutdown::Both);
        })
    };
    let outcome = flood(
        target,
        &[recipient],
        duration,
        || {
            stop.store(true, Ordering::SeqCst);
        },
        resume_timeout,
    )?;
    let _ = trickle.join();
    Ok(outcome)
}

/// 100 stream-managed sessions take everything sent to them and never
/// acknowledge, then go away.
fn sm_never_ack(
    target: &Target,
    duration: Duration,
    resume_timeout: u64,
) -> Result<Outcome, String> {
    let mut recipients = Vec::new();
    let stop = Arc::new(AtomicBool::new(false));
    let mut drains = Vec::new();
    for n in 100..200 {
        let conn = login(
            target,
            target.from,
            n,
            &target.password,
            Some(SmConfig::default()),
        )?;
        recipients.push(format!("{}{n}@{}/abuse", target.prefix, target.domain));
        let (_, mut raw) = conn.into_parts();
        let stop = stop.clone();
        // Reads everything (TLS records, unread), answers nothing.
        drains.push(thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            let _ = raw.set_read_timeout(Some(Duration::from_millis(200)));
            while !stop.load(Ordering::SeqCst) {
                if let Ok(0) = raw.read(&mut buf) {
                    break;
                }
            }
            let _ = raw.shutdown(std::net::Shutdown::Both);
        }));
    }
    let outcome = flood(
        target,
        &recipients,
        duration,
        || {
            stop.store(true, Ordering::SeqCst);
        },
        resume_timeout,
    )?;
    for drain in drains {
        let _ = drain.join();
    }
    Ok(outcome)
}

/// Messages per second of a flood.
const RATE: f64 = 5000.0;

/// Sends 1 KiB messages to `recipients` in turn for `duration`, at most
/// [`RATE`] a second, then calls `done` and waits for the bounces of what
/// was not delivered (after the recipients' resumption time).
fn flood(
    target: &Target,
    recipients: &[String],
    duration: Duration,
    done: impl FnOnce(),
    resume_timeout: u64,
) -> Result<Outcome, String> {
    let mut sender = login(target, target.from, 2, &target.password, None)?;
    let body = "x".repeat(1024);
    let mut outcome = Outcome::default();
    let started = Instant::now();
    let mut next = 0usize;
    while started.elapsed() < duration {
        let due = (started.elapsed().as_secs_f64() * RATE) as u64;
        while outcome.attempts < due {
            let to = &recipients[next % recipients.len()];
            next += 1;
            match sender.command(|c, now| c.send_message(now, to, &body, false)) {
                Ok(Ok(_)) => outcome.attempts += 1,
                // Our own output is full: the server is not reading us.
                Ok(Err(_)) => break,
                Err(e) => return Err(format!("the sender's connection failed: {e}")),
            }
        }
        let soon = Instant::now() + Duration::from_millis(1);
        outcome.errors += drain_bounces(&mut sender, soon)?;
    }
    done();
    let wait_until = Instant::now() + Duration::from_secs(resume_timeout + 30);
    while outcome.errors < outcome.attempts && Instant::now() < wait_until {
        outcome.errors += drain_bounces(&mut sender, Instant::now() + Duration::from_secs(1))?;
    }
    outcome.lost = outcome.attempts - outcome.errors.min(outcome.attempts);
    Ok(outcome)
}

/// Takes the sender's events until `deadline`; returns the bounces.
fn drain_bounces(sender: &mut Connection<Client>, deadline: Instant) -> Result<u64, String> {
    let mut bounced = 0;
    loop {
        match sender
            .next_event_until(deadline)
            .map_err(|e| e.to_string())?
        {
            Next::Event(ClientEvent::Bounced { .. }) => bounced += 1,
            Next::Event(ClientEvent::Closed { reason }) => {
                return Err(format!("the sender was disconnected: {reason}"));
            }
            Next::Event(_) => {}
            Next::Deadline => return Ok(bounced),
            Next::Closed => return Err("the sender's connection closed".into()),
        }
    }
}

/// 20,000 logins with a wrong password for the legitimate user's
/// account, 200 at a time, for at most `duration`.
fn login_storm(target: &Arc<Target>, duration: Duration) -> Result<Outcome, String> {
    const TOTAL: u64 = 20_000;
    let attempts = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let accepted = Arc::new(Mutex::new(0u64));
    let started = Instant::now();
    let workers: Vec<_> = (0..200)
        .map(|_| {
            let (attempts, errors, accepted) = (attempts.clone(), errors.clone(), accepted.clone());
            let target = target.clone();
            thread::spawn(move || {
                while started.elapsed() < duration
                    && attempts.fetch_add(1, Ordering::SeqCst) < TOTAL
                {
                    match login(&target, target.from, 1, "wrong password", None) {
                        Ok(_) => *accepted.lock().unwrap_or_else(|e| e.into_inner()) += 1,
                        Err(_) => {
                            errors.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.join();
    }
    let accepted = *accepted.lock().unwrap_or_else(|e| e.into_inner());
    if accepted > 0 {
        return Err(format!("{accepted} logins with a wrong password succeeded"));
    }
    Ok(Outcome {
        attempts: attempts.load(Ordering::SeqCst).min(TOTAL),
        errors: errors.load(Ordering::SeqCst),
        ..Outcome::default()
    })
}

/// 10,000 TCP connections that never send anything.
fn connection_flood(target: &Target, duration: Duration) -> Result<Outcome, String> {
    let mut outcome = Outcome::default();
    let mut held = Vec::new();
    for _ in 0..10_000 {
        outcome.attempts += 1;
        match connect_from(target.from, target.server) {
            Ok(tcp) => held.push(tcp),
            Err(_) => outcome.errors += 1,
        }
    }
    thread::sleep(duration);
    // Those the server closed at once (refused) read as ended.
    for mut tcp in held {
        let _ = tcp.set_nonblocking(true);
        let mut buf = [0u8; 64];
        if let Ok(0) = tcp.read(&mut buf) {
            outcome.errors += 1;
        }
    }
    Ok(outcome)
}
