//! How many round trips and milliseconds a login costs, from TCP connect
//! to ready, for a fresh login and for a reconnect, each the classic way
//! (RFC 6120: SASL, restart, bind, XEP-0198 enable or resume) and the
//! modern way (SASL2 with Bind 2 and inline stream management; FAST token
//! with inline resumption), through a proxy that delays each direction by
//! half of `--rtt-ms` so the round trips show.
//!
//! ```text
//! cargo run --release -p xmpp-transport-std --features test-certs --example login_rtt -- \
//!     [--rtt-ms 50] [--runs 5] [--server HOST:PORT --domain D --user U --password P --ca FILE]
//! ```
//!
//! Without `--server` it measures this library's own server (the `serve`
//! helper in this process, stream management and FAST on). Prints one
//! `RESULT` line per scenario: the median over the runs.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use xmpp_proto::client::{Client, ClientConfig, ClientEvent, FastCredentials};
use xmpp_proto::jid::Jid;
use xmpp_proto::negotiation::UserAgent;
use xmpp_proto::sm::{SmConfig, SmSession};
use xmpp_transport_std::serve::{Accounts, Serve};
use xmpp_transport_std::test_certs::TestPki;
use xmpp_transport_std::{ClientTls, Connection, Next, TrustAnchors, clock};

/// A proxy that delays each direction by `half` and notes when the
/// client takes a turn: writes after the server has spoken since the
/// client's last one (the first write counts too). A turn the client then
/// waited on for an answer is a round trip; one it took just as it became
/// ready (an `<a/>` answering the server's `<r/>`) is not.
struct DelayProxy {
    addr: SocketAddr,
    turns: Turns,
    live: Arc<Mutex<Vec<TcpStream>>>,
}

impl DelayProxy {
    fn start(upstream: SocketAddr, half: Duration) -> DelayProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        let turns: Turns = Arc::default();
        let live: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (t, l) = (Arc::clone(&turns), Arc::clone(&live));
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                let _ = (client.set_nodelay(true), server.set_nodelay(true));
                l.lock()
                    .unwrap()
                    .extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
                // A new connection: its first write is a turn.
                let server_spoke = Arc::new(AtomicBool::new(true));
                delayed(
                    client.try_clone().unwrap(),
                    server.try_clone().unwrap(),
                    half,
                    Some((Arc::clone(&t), Arc::clone(&server_spoke))),
                    None,
                );
                delayed(server, client, half, None, Some(server_spoke));
            }
        });
        DelayProxy { addr, turns, live }
    }

    fn kill(&self) {
        for s in self.live.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// When the client took its turns.
type Turns = Arc<Mutex<Vec<Instant>>>;

/// Relays `from` to `to`, each chunk `half` later than it was read.
fn delayed(
    mut from: TcpStream,
    mut to: TcpStream,
    half: Duration,
    client_side: Option<(Turns, Arc<AtomicBool>)>,
    server_side: Option<Arc<AtomicBool>>,
) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    thread::spawn(move || {
        let mut buf = [0u8; 16384];
        while let Ok(n @ 1..) = from.read(&mut buf) {
            if let Some((turns, server_spoke)) = &client_side {
                if server_spoke.swap(false, Ordering::SeqCst) {
                    turns.lock().unwrap().push(Instant::now());
                }
            }
            if let Some(server_spoke) = &server_side {
                server_spoke.store(true, Ordering::SeqCst);
            }
            if tx.send((Instant::now() + half, buf[..n].to_vec())).is_err() {
                break;
            }
        }
        let _ = from.shutdown(Shutdown::Read);
    });
    thread::spawn(move || {
        for (due, bytes) in rx {
            thread::sleep(due.saturating_duration_since(Instant::now()));
            if to.write_all(&bytes).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    });
}

struct Target {
    addr: SocketAddr,
    domain: String,
    user: String,
    password: String,
    anchors: TrustAnchors,
    name: String,
}

const AGENT: &str = "login-rtt-benchmark";

fn config(t: &Target, modern: bool) -> ClientConfig {
    let jid = Jid::new(&format!("{}@{}", t.user, t.domain)).expect("JID");
    let config = ClientConfig::new(jid, t.password.as_str())
        .with_stream_management(SmConfig::default())
        .with_user_agent(UserAgent::new(AGENT).with_software("rtt"))
        .with_fast_token_request(modern);
    if modern {
        config
    } else {
        config.without_sasl2()
    }
}

/// What one login gave: time, turns, and what a next login can use.
struct Login {
    ms: f64,
    turns: u32,
    resumable: Option<SmSession>,
    token: Option<FastCredentials>,
    conn: Option<Connection<Client>>,
}

fn login(t: &Target, proxy: &DelayProxy, rtt: Duration, config: ClientConfig) -> Login {
    let tls = ClientTls::new(&t.anchors, &t.domain).expect("TLS");
    proxy.turns.lock().unwrap().clear();
    let started = Instant::now();
    // TCP's own handshake is a round trip too; the proxy sees it as the
    // accept, not as a client write, so it is counted here.
    let tcp = TcpStream::connect(proxy.addr).expect("connect");
    let mut conn =
        Connection::new_client(tcp, Client::new(config, clock::now()), tls).expect("client");
    let mut token = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match conn.next_event_until(deadline).expect("transport") {
            Next::Event(ClientEvent::Online { .. } | ClientEvent::Resumed { .. }) => break,
            Next::Event(ClientEvent::FastToken { credentials, .. }) => token = Some(credentials),
            Next::Event(ClientEvent::Closed { reason }) => panic!("{}: {reason}", t.name),
            Next::Event(_) => {}
            other => panic!("{}: {other:?}", t.name),
        }
    }
    let ready = Instant::now();
    let ms = ready.duration_since(started).as_secs_f64() * 1000.0;
    // Waited on: an answer came back (a full round trip) before ready.
    let half = rtt / 2;
    let waited = proxy
        .turns
        .lock()
        .unwrap()
        .iter()
        .filter(|t| **t + half <= ready)
        .count() as u32;
    Login {
        ms,
        turns: waited + 1,
        resumable: None,
        token,
        conn: Some(conn),
    }
}

/// Breaks `first`'s connection and returns the state to resume.
fn break_off(proxy: &DelayProxy, mut first: Login) -> Login {
    let mut conn = first.conn.take().expect("connected");
    proxy.kill();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match conn.next_event_until(deadline) {
            Ok(Next::Event(ClientEvent::Resumable(s))) => first.resumable = Some(*s),
            Ok(Next::Event(_)) | Err(_) => {}
            Ok(Next::Deadline | Next::Closed) => break,
        }
    }
    first
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let rtt = Duration::from_millis(arg("--rtt-ms").map_or(Ok(50), |v| v.parse())?);
    let runs: usize = arg("--runs").map_or(Ok(5), |v| v.parse())?;
    let mut _own = None;
    let target = match arg("--server") {
        Some(server) => Target {
            addr: server.parse()?,
            domain: arg("--domain").ok_or("--domain")?,
            user: arg("--user").ok_or("--user")?,
            password: arg("--password").ok_or("--password")?,
            anchors: TrustAnchors::from_pem_file(&arg("--ca").ok_or("--ca")?)?,
            name: arg("--name").unwrap_or_else(|| "server".into()),
        },
        None => {
            let pki = TestPki::localhost()?;
            let mut accounts = Accounts::new();
            accounts.add("bench", "bench-secret")?;
            let server = Serve::new("localhost", pki.server_tls(), accounts)?
                .with_config(|c| {
                    c.with_stream_management(SmConfig::default())
                        .with_fast(true)
                })
                .start(TcpListener::bind("127.0.0.1:0")?)?;
            let target = Target {
                addr: server.local_addr(),
                domain: "localhost".into(),
                user: "bench".into(),
                password: "bench-secret".into(),
                anchors: pki.trust_anchors(),
                name: "ours".into(),
            };
            _own = Some((server, pki));
            target
        }
    };
    let proxy = DelayProxy::start(target.addr, rtt / 2);
    let report = |scenario: &str, logins: Vec<(f64, u32)>| {
        let ms = median(logins.iter().map(|l| l.0).collect());
        // Without a delay, waiting cannot be told from answering.
        let turns = if rtt.is_zero() {
            "n/a".to_owned()
        } else {
            median(logins.iter().map(|l| f64::from(l.1)).collect()).to_string()
        };
        println!(
            "RESULT server={} scenario={scenario} rtt_ms={} round_trips={turns} ms={ms:.1} runs={}",
            target.name,
            rtt.as_millis(),
            logins.len()
        );
    };

    let (mut classic_login, mut classic_resume) = (Vec::new(), Vec::new());
    let (mut modern_login, mut fast_resume) = (Vec::new(), Vec::new());
    let mut pipelined = Vec::new();
    for _ in 0..runs {
        // Classic: SASL, restart, bind, enable; then a reconnect with
        // SASL, restart and <resume/>.
        let first = login(&target, &proxy, rtt, config(&target, false));
        classic_login.push((first.ms, first.turns));
        let first = break_off(&proxy, first);
        let state = first.resumable.expect("resumable");
        let again = login(
            &target,
            &proxy,
            rtt,
            config(&target, false).with_resumption(state),
        );
        classic_resume.push((again.ms, again.turns));
        drop(again);
        proxy.kill();

        // Modern: SASL2 with Bind 2 and inline enable, a FAST token asked
        // for; then a reconnect with the token and inline resumption.
        let first = login(&target, &proxy, rtt, config(&target, true));
        modern_login.push((first.ms, first.turns));
        let token = first.token.clone().ok_or("no FAST token was issued")?;
        let first = break_off(&proxy, first);
        let state = first.resumable.expect("resumable");
        let again = login(
            &target,
            &proxy,
            rtt,
            config(&target, true)
                .with_fast_token(token.clone())
                .with_resumption(state),
        );
        fast_resume.push((again.ms, again.turns));
        // And once more, the login sent right behind the header: the
        // server's offer is known from the last connection.
        let offer = again
            .conn
            .as_ref()
            .and_then(|c| c.endpoint().sasl2_offer().cloned())
            .ok_or("no SASL2 offer seen")?;
        // Renewed at each use by ours, after a day by Prosody.
        let token = again.token.clone().unwrap_or(token);
        let again = break_off(&proxy, again);
        let state = again.resumable.expect("resumable");
        let ahead = login(
            &target,
            &proxy,
            rtt,
            config(&target, true)
                .with_fast_token(token)
                .with_resumption(state)
                .with_known_sasl2_offer(offer),
        );
        pipelined.push((ahead.ms, ahead.turns));
        drop(ahead);
        proxy.kill();
    }
    report("classic-login", classic_login);
    report("classic-resume", classic_resume);
    report("sasl2-bind2-login", modern_login);
    report("fast-inline-resume", fast_resume);
    report("fast-inline-resume-pipelined", pipelined);
    Ok(())
}
