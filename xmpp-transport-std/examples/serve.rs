//! A small XMPP server for tests: `xmpp_transport_std::serve` with
//! accounts from a file and a certificate from PEM files (or generated).
//!
//! ```text
//! cargo run -p xmpp-transport-std --example serve -- --listen 127.0.0.1:5262 \
//!     --domain localhost --users users.txt --cert fullchain.pem --key server.key
//! ```
//!
//! It serves until it is killed. Real clients (slixmpp in
//! `scripts/interop/slixmpp-vs-ours.sh`) are tested against it.

use std::io::Write;
use std::net::TcpListener;
use std::process::ExitCode;

use xmpp_proto::router::OfflinePolicy;
use xmpp_proto::sm::SmConfig;
use xmpp_transport_std::ServerTls;
use xmpp_transport_std::serve::{AccountStore, Accounts, Serve, SessionLog};
use xmpp_transport_std::test_certs::TestPki;

const HELP: &str = "\
serve: a small XMPP server (thread per connection).

Usage: serve --domain DOMAIN [options]

Options:
  --listen ADDR        where to accept STARTTLS connections (default 127.0.0.1:5222)
  --direct-tls ADDR    also accept direct TLS (XEP-0368) connections here
  --listen-ws ADDR     also accept XMPP over WebSocket (RFC 7395), plain
                       ws://, any path: loopback, or behind a proxy that
                       terminates TLS
  --listen-wss ADDR    also accept XMPP over WebSocket with TLS (wss://)
  --domain DOMAIN      the XMPP domain served (required)
  --users FILE         accounts, one `name:password` a line (# starts a comment);
                       passwords are turned into SCRAM keys at start and not kept
  --user NAME:PASS     one more account (repeatable); names are prepared
                       like a JID's localpart (Alice is alice; a name no
                       JID can have is refused)
  --db FILE|URL        keep accounts, rosters and messages for offline users
                       in this SQLite file (created if missing) or, for a
                       postgres:// URL, in PostgreSQL; --users and --user
                       add accounts to it. Without it accounts and rosters
                       live in memory and messages for offline users are
                       refused
  --listen-component ADDR
                       accept external components (XEP-0114) here,
                       plaintext: a loopback or trusted address
  --listen-component-tls ADDR
                       accept external components here with TLS from the
                       first byte (our certificate)
  --component NAME:SECRET
                       a component may serve NAME.DOMAIN (or NAME, if it
                       has a dot) with SECRET (repeatable)
  --no-muc             no group chat rooms (served on conference.DOMAIN
                       by default)
  --listen-s2s ADDR    federate: take server-to-server streams here (5269
                       by convention); stanzas for other domains go out on
                       links opened on demand (DNS SRV, or --s2s-route)
  --s2s-route DOMAIN=HOST:PORT
                       find DOMAIN's server at HOST:PORT instead of DNS
                       (repeatable; also turns federation on)
  --dialback-secret S  the dialback key secret (default: random per run);
                       the same for every process of the domain
  --s2s-ca FILE        authorities of peers' certificates, PEM (repeatable;
                       default: the public roots; with --generate-ca, its CA)
  --allow-dialback     accept peers whose certificate does not verify by
                       dialback (checked with their server through DNS);
                       by default only verified certificates count
  --cert FILE          certificate chain, PEM, leaf first
  --key FILE           its private key, PEM
  --generate-ca FILE   no --cert/--key: generate a CA and a certificate for
                       DOMAIN, and write the CA to FILE for the clients to trust
  --trace              log every byte sent (>>) and received (<<) per session
  --no-sm              do not offer XEP-0198 stream management (offered by
                       default, sessions resumable for 300 s)
  -h, --help           this text

It prints `listening on ADDR` once it accepts connections, logs each
session's start and end on stderr, and serves until killed.";

#[path = "support/db.rs"]
mod db;
#[path = "support/federation.rs"]
mod federation;
#[path = "support/services.rs"]
mod services;
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{HELP}");
        return ExitCode::SUCCESS;
    }
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("serve: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> Result<(), String> {
    let mut listen = "127.0.0.1:5222".to_owned();
    let (mut direct, mut domain, mut cert, mut key, mut ca_out) = (None, None, None, None, None);
    let mut users = Vec::new();
    let mut trace = false;
    let mut db = None;
    let mut sm = true;
    let mut muc = true;
    let (mut listen_component, mut components) = (None, Vec::new());
    let mut listen_component_tls = None;
    let (mut listen_ws, mut listen_wss) = (None, None);
    let mut s2s = federation::S2sFlags::default();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        if s2s.take(&arg, &mut value)? {
            continue;
        }
        match arg.as_str() {
            "--listen" => listen = value("--listen")?,
            "--direct-tls" => direct = Some(value("--direct-tls")?),
            "--listen-ws" => listen_ws = Some(value("--listen-ws")?),
            "--listen-wss" => listen_wss = Some(value("--listen-wss")?),
            "--domain" => domain = Some(value("--domain")?),
            "--users" => {
                let path = value("--users")?;
                let text =
                    std::fs::read_to_string(&path).map_err(|e| format!("--users {path}: {e}"))?;
                for line in text.lines().map(str::trim) {
                    if !line.is_empty() && !line.starts_with('#') {
                        users.push(line.to_owned());
                    }
                }
            }
            "--user" => users.push(value("--user")?),
            "--db" => db = Some(value("--db")?),
            "--cert" => cert = Some(value("--cert")?),
            "--key" => key = Some(value("--key")?),
            "--generate-ca" => ca_out = Some(value("--generate-ca")?),
            "--trace" => trace = true,
            "--no-sm" => sm = false,
            "--no-muc" => muc = false,
            "--listen-component" => listen_component = Some(value("--listen-component")?),
            "--listen-component-tls" => {
                listen_component_tls = Some(value("--listen-component-tls")?);
            }
            "--component" => components.push(value("--component")?),
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    let domain = domain.ok_or("--domain is required")?;
    const TLS_CHOICE: &str = "give --cert and --key, or --generate-ca FILE";
    if cert.is_some() != key.is_some() || cert.is_some() == ca_out.is_some() {
        return Err(TLS_CHOICE.into());
    }

    // The ports first: a port in use is reported before any key work and
    // before a generated CA is written.
    let listener = TcpListener::bind(&listen).map_err(|e| format!("--listen {listen}: {e}"))?;
    let direct = match &direct {
        Some(addr) => {
            Some(TcpListener::bind(addr).map_err(|e| format!("--direct-tls {addr}: {e}"))?)
        }
        None => None,
    };
    let bind = |flag: &str, addr: &Option<String>| -> Result<Option<TcpListener>, String> {
        addr.as_ref()
            .map(|a| TcpListener::bind(a).map_err(|e| format!("{flag} {a}: {e}")))
            .transpose()
    };
    let ws_listener = bind("--listen-ws", &listen_ws)?;
    let s2s_listener = s2s.bind()?;
    let wss_listener = bind("--listen-wss", &listen_wss)?;
    let component_listener = match &listen_component {
        Some(addr) => {
            Some(TcpListener::bind(addr).map_err(|e| format!("--listen-component {addr}: {e}"))?)
        }
        None => None,
    };
    let component_tls_listener = match &listen_component_tls {
        Some(addr) => Some(
            TcpListener::bind(addr).map_err(|e| format!("--listen-component-tls {addr}: {e}"))?,
        ),
        None => None,
    };

    let mut memory = Accounts::new();
    let stored = match &db {
        Some(spec) => Some(db::open(spec)?),
        None => None,
    };
    for entry in &users {
        let (name, password) = entry
            .split_once(':')
            .ok_or(format!("account {entry:?} is not name:password"))?;
        let added = match &stored {
            Some(store) => store.add_account(name, password).map_err(|e| e.to_string()),
            None => memory.add(name, password).map_err(|e| e.to_string()),
        };
        added.map_err(|e| format!("account {name:?}: {e}"))?;
    }
    let keep_offline = stored.is_some();
    let accounts: Box<dyn AccountStore> = match stored {
        Some(store) => Box::new(store),
        None => Box::new(memory),
    };
    let account_count = accounts.account_names().len();
    if account_count == 0 {
        return Err("no accounts: give --users FILE, --user NAME:PASS or --db FILE".into());
    }

    let mut pki = None;
    let tls = match (&cert, &key, ca_out) {
        (Some(cert), Some(key), None) => {
            ServerTls::from_pem_files(cert, key).map_err(|e| e.to_string())?
        }
        (None, None, Some(ca_out)) => {
            let generated = TestPki::generate(&[domain.as_str()]).map_err(|e| e.to_string())?;
            std::fs::write(&ca_out, generated.ca_pem())
                .map_err(|e| format!("--generate-ca {ca_out}: {e}"))?;
            eprintln!("wrote a throw-away CA to {ca_out}; clients trust it with --ca {ca_out}");
            let tls = generated.server_tls();
            pki = Some(generated);
            tls
        }
        _ => return Err(TLS_CHOICE.into()),
    };

    let mut serve = Serve::new(&domain, tls, accounts)
        .map_err(|e| format!("--domain {domain}: {e}"))?
        .with_config(move |config| {
            // FAST tokens (XEP-0484) live in the same store as accounts.
            let config = config.with_trace(trace).with_fast(true);
            if sm {
                config.with_stream_management(SmConfig::default())
            } else {
                config
            }
        })
        .with_log(|log: &SessionLog<'_>| {
            let _ = writeln!(std::io::stderr().lock(), "{log}");
        })
        // With a database, messages for offline users wait there for
        // their next login.
        .with_hub(|hub| match keep_offline {
            true => hub.with_offline_policy(OfflinePolicy::Store),
            false => hub,
        });
    if muc {
        serve = serve.with_hub(|hub| services::with_rooms(hub, &domain));
    }
    if let Some(l) = direct {
        serve = serve.with_direct_tls(l);
    }
    if let Some(l) = ws_listener {
        serve = serve.with_websocket(l);
    }
    if let Some(l) = wss_listener {
        serve = serve.with_websocket_tls(l);
    }
    for spec in &components {
        let (component, secret) = services::parse_component(&domain, spec)?;
        serve = serve
            .with_component(&component, &secret)
            .map_err(|e| format!("--component {component}: {e}"))?;
    }
    if let Some(l) = component_listener {
        serve = serve.with_component_listener(l);
    }
    if let Some(l) = component_tls_listener {
        serve = serve.with_component_tls_listener(l);
    }
    if s2s.federates() {
        let certificate = match (&pki, &cert, &key) {
            (Some(pki), _, _) => federation::Certificate::Generated(pki),
            (None, Some(chain), Some(key)) => federation::Certificate::Files { chain, key },
            _ => return Err(TLS_CHOICE.into()),
        };
        let rooms = muc.then(|| format!("conference.{domain}"));
        let setup = s2s.build(certificate, rooms)?;
        serve = serve.with_federation(setup.federation, setup.tls);
        for (peer, addr) in &setup.routes {
            serve = serve.with_s2s_route(peer, *addr);
        }
        if let Some(listener) = s2s_listener {
            serve = serve.with_s2s_listener(listener);
        }
    }
    let server = serve.start(listener).map_err(|e| e.to_string())?;
    let plural = if account_count == 1 { "" } else { "s" };
    println!(
        "listening on {} for {domain} ({} account{plural}){}",
        server.local_addr(),
        account_count,
        server
            .direct_tls_addr()
            .map(|a| format!(", direct TLS on {a}"))
            .unwrap_or_default()
    );
    if let Some(addr) = server.websocket_addr() {
        println!("listening on ws://{addr}/ for XMPP over WebSocket");
    }
    if let Some(addr) = server.websocket_tls_addr() {
        println!("listening on wss://{addr}/ for XMPP over WebSocket (TLS)");
    }
    if let Some(addr) = server.component_addr() {
        println!("listening on {addr} for components");
    }
    if let Some(addr) = server.component_tls_addr() {
        println!("listening on {addr} for components (TLS)");
    }
    if let Some(addr) = server.s2s_addr() {
        println!("listening on {addr} for other servers");
    }
    let _ = std::io::stdout().flush();
    // Serve until killed; the handle is never dropped.
    loop {
        std::thread::park();
    }
}
