//! An XMPP server on one thread: the mio driver, STARTTLS and direct TLS
//! listeners, accounts from a file, local routing.
//!
//! ```text
//! cargo run --release -p xmpp-transport-mio --example server -- \
//!     --listen 127.0.0.1:5222 --listen-tls 127.0.0.1:5223 --domain localhost \
//!     --cert fullchain.pem --key server.key --users users.txt
//! ```

mod common;

use std::net::TcpListener;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use common::Flags;
use mio::Token;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;
use xmpp_proto::jid::prepare_localpart;
use xmpp_proto::router::OfflinePolicy;
use xmpp_proto::sm::SmConfig;
use xmpp_proto::xml::Limits;
use xmpp_transport_mio::DriverConfig;
use xmpp_transport_mio::serve::MioServer;
use xmpp_transport_std::ServerTls;
use xmpp_transport_std::serve::{AccountError, AccountStore, Accounts};
use xmpp_transport_std::test_certs::TestPki;

// `--component`, the rooms and the `--db` choice, shared with the std
// transport's examples.
#[path = "../../xmpp-transport-std/examples/support/db.rs"]
mod db;
#[path = "../../xmpp-transport-std/examples/support/federation.rs"]
mod federation;
#[path = "../../xmpp-transport-std/examples/support/services.rs"]
mod services;

const HELP: &str = "\
server: an XMPP server on one thread (mio), local delivery only.

Usage: server --domain D (--cert FILE --key FILE | --generate-ca FILE)
              [--db FILE|URL] [--users FILE | --user NAME:PASS ...] [options]

  --listen ADDR          STARTTLS (required) connections (default 127.0.0.1:5222)
  --listen-tls ADDR      direct TLS (XEP-0368) connections (default: none)
  --listen-ws ADDR       XMPP over WebSocket (RFC 7395), plain ws://, any
                         path: loopback, or behind a proxy that terminates TLS
  --listen-wss ADDR      XMPP over WebSocket with TLS (wss://)
  --domain D             the XMPP domain served
  --cert FILE            certificate chain, PEM, leaf first
  --key FILE             its private key, PEM
  --generate-ca FILE     instead of --cert/--key: generate a throw-away CA and
                         a certificate for D, and write the CA to FILE for
                         clients to trust (for trying things out)
  --users FILE           accounts, one `name:password` a line (# comments);
                         turned into SCRAM keys at start, passwords not kept;
                         names are prepared like a JID's localpart (Alice is
                         alice; a name no JID can have is refused)
  --user NAME:PASS       one more account (repeatable)
  --listen-component ADDR
                         accept external components (XEP-0114) here,
                         plaintext: a loopback or trusted address
  --listen-component-tls ADDR
                         accept external components here with TLS from
                         the first byte (our certificate)
  --component NAME:SECRET
                         a component may serve NAME.D (or NAME, if it has
                         a dot) with SECRET (repeatable)
  --db FILE|URL          keep accounts, rosters and offline messages in this
                         SQLite file (created if missing) or, for a
                         postgres:// URL, in PostgreSQL (--users and --user
                         add accounts to it), messages for offline users
                         kept there for their next login; without it
                         accounts and rosters live in memory and messages for
                         offline users are refused
  --max-per-address N    connections at once from one IP address (default
                         1024); more are closed on accept
  --max-unauthenticated N
                         connections at once that have not logged in
                         (default 8192)
  --max-unauthenticated-per-address N
                         of those, from one IP address (default 128)
  --max-output BYTES     output limit per connection (default 524288); a
                         client that lets more pile up is disconnected
                         (stanzas for it are refused back to their senders
                         from 256 KiB on)
  --write-deadline SECS  how long output may wait for a client that does
                         not read it all before it is disconnected
                         (default 60)
  --resume-timeout SECS  how long a broken stream-managed session is kept
                         for resumption (default 300)
  --max-token-bytes N    the XML reader's per-connection name/value buffer
                         (default 16384); smaller saves memory per session
  --no-muc               no group chat rooms (served on conference.D by
                         default)
  --listen-s2s ADDR      federate: take server-to-server streams here;
                         stanzas for other domains go out on links opened
                         on demand (DNS SRV, or --s2s-route)
  --s2s-route DOMAIN=HOST:PORT
                         find DOMAIN's server there instead of DNS
                         (repeatable; also turns federation on)
  --dialback-secret S    the dialback key secret (default: random per run)
  --s2s-ca FILE          authorities of peers' certificates, PEM
                         (repeatable; default: the public roots; with
                         --generate-ca, its CA)
  --allow-dialback       also accept peers whose certificate does not
                         verify, by dialback
  --no-sm                do not offer XEP-0198 stream management (offered by
                         default, sessions resumable for 300 s)
  --quiet                no line per session start and end
  -h, --help             this text

Prints `listening on ADDR` per listener, a line per session start and end
(stderr), and a summary on SIGINT or SIGTERM, then exits.";

const SIGNALS: Token = Token(0);

fn main() -> ExitCode {
    common::exit("server", run())
}

fn run() -> Result<(), String> {
    let flags = Flags::parse(HELP)?;
    let domain = flags.required("domain")?.to_owned();
    let mut users = match flags.get("users") {
        Some(path) => read_users(path)?,
        None => Vec::new(),
    };
    for entry in flags.all("user") {
        users.push(split_user(entry, "--user")?);
    }
    let db = flags.get("db").map(str::to_owned);
    let keep_offline = db.is_some();
    if users.is_empty() && db.is_none() {
        return Err(
            "no accounts: give --users FILE, --user NAME:PASS or --db FILE (see --help)".into(),
        );
    }
    let max_output: usize = flags.number("max-output", xmpp_transport_mio::DEFAULT_MAX_OUTPUT)?;
    let max_per_address: usize = flags.number(
        "max-per-address",
        xmpp_transport_mio::serve::DEFAULT_MAX_PER_ADDRESS,
    )?;
    let max_unauthenticated: usize = flags.number(
        "max-unauthenticated",
        xmpp_transport_mio::serve::DEFAULT_MAX_UNAUTHENTICATED,
    )?;
    let max_unauthenticated_per_address: usize = flags.number(
        "max-unauthenticated-per-address",
        xmpp_transport_mio::serve::DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS,
    )?;
    let write_deadline: u64 = flags.number(
        "write-deadline",
        xmpp_transport_mio::DEFAULT_WRITE_DEADLINE.as_secs(),
    )?;
    let resume_timeout: u32 = flags.number("resume-timeout", 300)?;
    let max_token: usize = flags.number("max-token-bytes", Limits::default().max_token_bytes)?;
    let quiet = flags.flag("quiet");
    let sm = !flags.flag("no-sm");
    let muc = !flags.flag("no-muc");

    // The ports first: a port in use is reported before any key work,
    // and before a generated CA is written.
    let listen = flags.get("listen").unwrap_or("127.0.0.1:5222");
    let mut listeners = Vec::new();
    for (flag, addr, direct) in [
        ("--listen", Some(listen), false),
        ("--listen-tls", flags.get("listen-tls"), true),
    ] {
        let Some(addr) = addr else { continue };
        let listener = TcpListener::bind(addr).map_err(|e| format!("{flag} {addr}: {e}"))?;
        listeners.push((listener, direct));
    }
    let mut ws_listeners = Vec::new();
    for (flag, tls) in [("listen-ws", false), ("listen-wss", true)] {
        let Some(addr) = flags.get(flag) else {
            continue;
        };
        let listener = TcpListener::bind(addr).map_err(|e| format!("--{flag} {addr}: {e}"))?;
        ws_listeners.push((listener, tls));
    }
    let s2s = federation::S2sFlags {
        listen: flags.get("listen-s2s").map(str::to_owned),
        secret: flags.get("dialback-secret").map(str::to_owned),
        routes: flags.all("s2s-route").to_vec(),
        ca: flags.all("s2s-ca").to_vec(),
        allow_dialback: flags.flag("allow-dialback"),
    };
    let s2s_listener = s2s.bind()?;
    let component_listener = match flags.get("listen-component") {
        Some(addr) => {
            Some(TcpListener::bind(addr).map_err(|e| format!("--listen-component {addr}: {e}"))?)
        }
        None => None,
    };
    let component_tls_listener = match flags.get("listen-component-tls") {
        Some(addr) => Some(
            TcpListener::bind(addr).map_err(|e| format!("--listen-component-tls {addr}: {e}"))?,
        ),
        None => None,
    };
    let mut components = Vec::new();
    for spec in flags.all("component") {
        components.push(services::parse_component(&domain, spec)?);
    }
    let mut pki = None;
    let tls = match (
        flags.get("cert"),
        flags.get("key"),
        flags.get("generate-ca"),
    ) {
        (Some(cert), Some(key), None) => {
            ServerTls::from_pem_files(cert, key).map_err(|e| e.to_string())?
        }
        (None, None, Some(ca_out)) => {
            let generated = TestPki::generate(&[domain.as_str()]).map_err(|e| e.to_string())?;
            std::fs::write(ca_out, generated.ca_pem())
                .map_err(|e| format!("--generate-ca {ca_out}: {e}"))?;
            eprintln!(
                "server: wrote a throw-away CA to {ca_out}; clients trust it with --ca {ca_out}"
            );
            let tls = generated.server_tls();
            pki = Some(generated);
            tls
        }
        _ => return Err("give --cert and --key, or --generate-ca FILE (see --help)".into()),
    };
    let s2s_setup = if s2s.federates() {
        let certificate = match (&pki, flags.get("cert"), flags.get("key")) {
            (Some(pki), _, _) => federation::Certificate::Generated(pki),
            (None, Some(chain), Some(key)) => federation::Certificate::Files { chain, key },
            _ => return Err("give --cert and --key, or --generate-ca FILE (see --help)".into()),
        };
        let rooms = muc.then(|| format!("conference.{domain}"));
        Some(s2s.build(certificate, rooms)?)
    } else {
        None
    };

    let started = Instant::now();
    let accounts: Box<dyn AccountStore> = match &db {
        Some(path) => {
            let store = db::open(path)?;
            for (name, password) in &users {
                store
                    .add_account(name, password)
                    .map_err(|e| format!("account {name:?}: {e}"))?;
            }
            Box::new(store)
        }
        None => Box::new(derive_accounts(&users)?),
    };
    let plural = if users.len() == 1 { "" } else { "s" };
    eprintln!(
        "server: {} account{plural} turned into SCRAM keys in {:.1} s",
        users.len(),
        started.elapsed().as_secs_f64()
    );
    drop(users);

    let driver = DriverConfig::default()
        .with_max_output(max_output)
        .with_write_deadline(Duration::from_secs(write_deadline));
    let mut server = MioServer::new(&domain, tls, accounts, driver)
        .map_err(|e| e.to_string())?
        .with_max_per_address(max_per_address)
        .with_max_unauthenticated(max_unauthenticated, max_unauthenticated_per_address)
        // With a database, messages for offline users are kept there and
        // delivered at their next login; without, they are refused back
        // to their senders (memory is no place to keep them).
        .with_hub(|hub| match keep_offline {
            true => hub.with_offline_policy(OfflinePolicy::Store),
            false => hub,
        })
        .with_hub(|hub| match muc {
            true => services::with_rooms(hub, &domain),
            false => hub,
        })
        .with_config(move |c| {
            let mut limits = Limits::default();
            limits.max_token_bytes = max_token;
            // FAST tokens (XEP-0484) live in the same store as accounts.
            let c = c.with_limits(limits).with_fast(true);
            if sm {
                let mut sm = SmConfig::default();
                sm.max = Some(resume_timeout);
                c.with_stream_management(sm)
            } else {
                c
            }
        });
    if let Some(setup) = s2s_setup {
        server = server.with_federation(setup.federation, setup.tls);
        for (peer, addr) in &setup.routes {
            server = server.with_s2s_route(peer, *addr);
        }
    }
    if let Some(listener) = s2s_listener {
        let bound = server.listen_s2s(listener).map_err(|e| e.to_string())?;
        println!("listening on {bound} (other servers)");
    }
    for (component, secret) in &components {
        server = server
            .with_component(component, secret)
            .map_err(|e| format!("--component {component}: {e}"))?;
    }
    if !quiet {
        server = server.with_log(|entry| eprintln!("{entry}"));
    }
    if let Some(listener) = component_listener {
        let bound = server
            .listen_components(listener)
            .map_err(|e| e.to_string())?;
        println!("listening on {bound} (components)");
    }
    if let Some(listener) = component_tls_listener {
        let bound = server
            .listen_components_tls(listener)
            .map_err(|e| e.to_string())?;
        println!("listening on {bound} (components, TLS)");
    }
    for (listener, direct) in listeners {
        let bound = server.listen(listener, direct).map_err(|e| e.to_string())?;
        let how = if direct { "direct TLS" } else { "STARTTLS" };
        println!("listening on {bound} ({how})");
    }
    for (listener, tls) in ws_listeners {
        let bound = server
            .listen_websocket(listener, tls)
            .map_err(|e| e.to_string())?;
        let scheme = if tls { "wss" } else { "ws" };
        println!("listening on {scheme}://{bound}/ (XMPP over WebSocket)");
    }

    let mut signals = Signals::new([SIGINT, SIGTERM]).map_err(|e| e.to_string())?;
    server
        .registry()
        .register(&mut signals, SIGNALS, mio::Interest::READABLE)
        .map_err(|e| e.to_string())?;
    let serving = Instant::now();
    let mut peak = 0usize;
    let mut stop = false;
    while !stop {
        server
            .poll(None, |token| stop |= token == SIGNALS)
            .map_err(|e| e.to_string())?;
        peak = peak.max(server.session_count());
    }
    let open = server.session_count();
    let rss = rss_kib();
    let stats = server.stats();
    server
        .shutdown(Duration::from_secs(3))
        .map_err(|e| e.to_string())?;
    let seconds = serving.elapsed().as_secs_f64();
    println!(
        "summary: {:.0} s, {} accepted, {} online, {} ended ({} failed, {} over the output limit), \
         {} refused, {} stanzas routed ({:.0}/s), {} detached ({} resumed, {} expired), \
         peak {peak} sessions, {open} open at the signal, RSS {} KiB",
        seconds,
        stats.accepted,
        stats.online,
        stats.ended,
        stats.failed,
        stats.output_limit,
        stats.refused,
        stats.stanzas,
        stats.stanzas as f64 / seconds,
        stats.detached,
        stats.resumed,
        stats.expired,
        rss.map_or("?".to_owned(), |r| r.to_string()),
    );
    Ok(())
}

/// `name:password` lines.
fn read_users(path: &str) -> Result<Vec<(String, String)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("--users {path}: {e}"))?;
    let mut users = Vec::new();
    for (n, line) in text.lines().map(str::trim).enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        users.push(split_user(line, &format!("--users {path}:{}", n + 1))?);
    }
    Ok(users)
}

/// One `name:password`; `at` says where it came from.
fn split_user(entry: &str, at: &str) -> Result<(String, String), String> {
    let (name, password) = entry
        .split_once(':')
        .ok_or(format!("{at}: expected name:password"))?;
    // Checked here, before the slow key derivation.
    prepare_localpart(name).map_err(|e| format!("{at}: account {name:?}: {e}"))?;
    Ok((name.to_owned(), password.to_owned()))
}

/// The SCRAM keys of every user, derived on all cores (PBKDF2 for three
/// hash functions per user is most of the start-up time).
fn derive_accounts(users: &[(String, String)]) -> Result<Accounts, String> {
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    let per = users.len().div_ceil(cores).max(1);
    thread::scope(|scope| {
        let handles: Vec<_> = users
            .chunks(per)
            .map(|chunk| {
                scope.spawn(move || {
                    let mut accounts = Accounts::new();
                    for (name, password) in chunk {
                        accounts
                            .add(name, password)
                            .map_err(|e: AccountError| format!("account {name:?}: {e}"))?;
                    }
                    Ok::<_, String>(accounts)
                })
            })
            .collect();
        let mut accounts = Accounts::new();
        for handle in handles {
            match handle.join() {
                Ok(part) => accounts.merge(part?),
                Err(_) => return Err("a key derivation thread failed".into()),
            }
        }
        Ok(accounts)
    })
}

/// This process's resident set size, from /proc (Linux).
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
