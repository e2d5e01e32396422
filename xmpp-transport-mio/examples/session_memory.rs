//! The core's own memory per idle session, without sockets or TLS: many
//! server-side endpoints (and the router's entry for each) driven to
//! online by in-memory clients, counted by a counting allocator.
//!
//! ```text
//! cargo run --release -p xmpp-transport-mio --example session_memory -- --sessions 10000
//! ```
//!
//! What the mio server holds per session besides this is the rustls
//! session, the socket and the driver's slot; `server`'s summary and
//! `scripts/bench-mio.sh` give the whole (RSS per session).

mod common;

use std::process::ExitCode;

use common::Flags;
use xmpp_corpus::counting_alloc::{CountingAlloc, live_bytes};
use xmpp_proto::client::{Client, ClientConfig, ClientEvent, ClientTlsPolicy};
use xmpp_proto::endpoint::{Endpoint, Transmit};
use xmpp_proto::jid::Jid;
use xmpp_proto::router::{Router, SessionId};
use xmpp_proto::sasl::{self, Credentials, Iterations, Mechanism, ScramHash, ScramKeys};
use xmpp_proto::server::{Server, ServerConfig, ServerEvent, ServerTlsPolicy};
use xmpp_proto::time::Time;
use xmpp_proto::xml::Limits;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const HELP: &str = "\
session_memory: the core's heap per idle, logged-in session.

Usage: session_memory [--sessions N] [--max-token-bytes N]

  --sessions N         how many sessions (default 10000)
  --max-token-bytes N  the XML reader's per-session name/value buffer
                       (default 16384, as the server's flag)
  -h, --help           this text

Prints the heap bytes per session of the server side (Server endpoint
plus its Router entry) and of the client side (Client endpoint).";

fn main() -> ExitCode {
    common::exit("session_memory", run())
}

fn run() -> Result<(), String> {
    let flags = Flags::parse(HELP)?;
    let n: usize = flags.number("sessions", 10_000)?;
    let max_token: usize = flags.number("max-token-bytes", Limits::default().max_token_bytes)?;
    let keys = ScramKeys::from_password(
        ScramHash::Sha256,
        "pw",
        b"memory-salt-0000",
        Iterations(4096),
    )
    .map_err(|e| e.to_string())?;
    let mut limits = Limits::default();
    limits.max_token_bytes = max_token;

    let mut router = Router::new("localhost").map_err(|e| e.to_string())?;
    let mut servers: Vec<Server> = Vec::with_capacity(n);
    let mut clients: Vec<Client> = Vec::with_capacity(n);
    let server_base = live_bytes();
    for i in 0..n {
        let now = Time::ZERO;
        let config = ServerConfig::new("localhost")
            .map_err(|e| e.to_string())?
            .with_tls(ServerTlsPolicy::Disabled)
            .with_limits(limits.clone());
        let mut server = Server::new(config, now);
        let name = format!("user{i}");
        let sasl = sasl::SaslClientConfig {
            allowed: Some(vec![Mechanism::ScramSha256]),
            ..Default::default()
        };
        let jid = Jid::new(&format!("{name}@localhost/r")).map_err(|e| e.to_string())?;
        let config = ClientConfig::new(jid, "pw")
            .with_credentials(Credentials::from_cached_keys(name, keys.clone()))
            .with_sasl(sasl)
            .with_tls(ClientTlsPolicy::InsecureDisabled);
        let mut client = Client::new(config, now);
        login(
            &mut server,
            &mut client,
            &mut router,
            SessionId(i as u64),
            &keys,
        )?;
        clients.push(client);
        servers.push(server);
    }
    // Both sides' heap, then the clients' alone (freed when dropped).
    let total = live_bytes().wrapping_sub(server_base);
    let before = live_bytes();
    drop(clients);
    let client_heap = before.wrapping_sub(live_bytes());
    let server_heap = total.wrapping_sub(client_heap);
    let per_server = server_heap as f64 / n as f64 + std::mem::size_of::<Server>() as f64;
    let per_client = client_heap as f64 / n as f64 + std::mem::size_of::<Client>() as f64;
    drop(servers);
    drop(router);
    println!(
        "RESULT sessions={n} max_token_bytes={max_token} core_server_bytes_per_session={per_server:.0} core_client_bytes_per_session={per_client:.0} size_of_server={} size_of_client={}",
        std::mem::size_of::<Server>(),
        std::mem::size_of::<Client>()
    );
    Ok(())
}

/// Runs one login between two endpoints in memory.
fn login(
    server: &mut Server,
    client: &mut Client,
    router: &mut Router,
    session: SessionId,
    keys: &ScramKeys,
) -> Result<(), String> {
    for _ in 0..64 {
        let now = Time::ZERO;
        pump(client, |data| {
            let _ = server.handle_input(now, data);
        });
        while let Some(event) = server.poll_event() {
            match event {
                ServerEvent::NeedScramCredentials { .. } => {
                    let _ = server.provide_credentials(now, Some(keys.to_stored()));
                }
                ServerEvent::BindRequest { jid, .. } => {
                    router.bind(session, &jid);
                    let _ = server.accept_bind(now);
                }
                ServerEvent::Closed { reason } => return Err(format!("server closed: {reason}")),
                _ => {}
            }
        }
        pump(server, |data| {
            let _ = client.handle_input(now, data);
        });
        while let Some(event) = client.poll_event() {
            match event {
                ClientEvent::Online { .. } => {
                    // The server's last answer may still be queued.
                    pump(server, |_| {});
                    return Ok(());
                }
                ClientEvent::Closed { reason } => return Err(format!("client closed: {reason}")),
                _ => {}
            }
        }
    }
    Err("login did not finish".into())
}

/// Hands everything `from` wants to send to `to`.
fn pump(from: &mut impl Endpoint, mut to: impl FnMut(&[u8])) {
    while let Some(t) = from.poll_transmit() {
        match t {
            Transmit::Data(data) => {
                let n = data.len();
                to(data);
                from.consume_transmit(n);
            }
            Transmit::StartTls | Transmit::Shutdown => {}
        }
    }
}
