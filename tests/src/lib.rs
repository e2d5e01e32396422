//! Shared helpers for the workspace's integration tests: a simulated
//! network that wires sans-IO endpoints byte to byte.
//!
//! - [`Pair`]: one [`Client`] and one [`Server`], with a simulated clock,
//!   simulated TLS (both sides get the same fake [`TlsInfo`], so channel
//!   binding matches) and a [`Chunker`] that cuts every byte stream into
//!   random pieces and writes only part of each transmit, so every
//!   scenario also tests reassembly.
//! - [`Network`]: many such pairs behind one [`Hub`](xmpp_proto::hub::Hub), the way a small
//!   server runs them.
//! - [`TestAccounts`]: a user database that answers the server's questions
//!   (stored SCRAM credentials, password checks).
//!
//! ```
//! use xmpp_tests::{TestAccounts, Pair};
//!
//! let mut pair = Pair::new(Pair::client_config("juliet", "secret"), Pair::server_config());
//! pair.accounts = TestAccounts::with_user("juliet", "secret");
//! pair.run();
//! assert_eq!(pair.client.jid().unwrap().bare_str(), "juliet@example.com");
//! ```

#![forbid(unsafe_code)]

mod network;

pub use self::network::{COMPONENT_IDS, ComponentLink, Network};

use std::collections::HashMap;
use std::time::Duration;

use xmpp_proto::client::ClientEvent;
use xmpp_proto::client::{Client, ClientConfig};
use xmpp_proto::endpoint::CloseReason;
use xmpp_proto::endpoint::{Endpoint, Transmit};
use xmpp_proto::jid::Jid;
use xmpp_proto::random::RandomSource;
use xmpp_proto::sasl::{
    FailureCondition, Iterations, ScramHash, StoredCredentials, stored_credentials,
};
use xmpp_proto::server::ServerEvent;
use xmpp_proto::server::{Server, ServerConfig};
use xmpp_proto::stanza::DefinedCondition;
use xmpp_proto::time::Time;
use xmpp_proto::tls::{TlsInfo, TlsVersion};

/// The domain every test server serves.
pub const DOMAIN: &str = "example.com";

/// A small deterministic random source (xorshift64*), so runs repeat.
pub fn seeded_random(seed: u64) -> Box<dyn RandomSource + Send> {
    let mut rng = Rng::new(seed);
    Box::new(move |buf: &mut [u8]| {
        for b in buf {
            *b = rng.next_u64() as u8;
        }
    })
}

/// xorshift64*: enough for test data, not for anything secret.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (any value, zero included).
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15 | 1)
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `1..=max` (`max` at least 1).
    pub fn between_1_and(&mut self, max: usize) -> usize {
        1 + (self.next_u64() % max.max(1) as u64) as usize
    }
}

/// How bytes travel: whole, or cut into random pieces with random partial
/// writes.
#[derive(Clone, Debug)]
pub enum Chunker {
    /// Each transmit is delivered and consumed whole.
    Whole,
    /// Each transmit is consumed in random parts (partial writes) and each
    /// part delivered in random pieces of at most `max` bytes.
    Random {
        /// The generator of cut points.
        rng: Rng,
        /// The largest piece.
        max: usize,
    },
}

impl Chunker {
    /// Random pieces of 1 to `max` bytes, from `seed`.
    pub fn random(seed: u64, max: usize) -> Self {
        Chunker::Random {
            rng: Rng::new(seed),
            max,
        }
    }

    fn take(&mut self, available: usize) -> usize {
        match self {
            Chunker::Whole => available,
            Chunker::Random { rng, max } => rng.between_1_and(*max).min(available),
        }
    }
}

/// A user database for the server side of tests: passwords, and the SCRAM
/// credentials a real server would store instead.
#[derive(Clone, Debug, Default)]
pub struct TestAccounts {
    users: HashMap<String, (String, Vec<StoredCredentials>)>,
    /// FAST tokens by account, user agent and mechanism, newest first;
    /// shared between clones, as a database would be.
    pub fast_tokens: std::sync::Arc<std::sync::Mutex<FastTokens>>,
}

/// The FAST tokens a [`TestAccounts`] keeps, and how many it issued.
#[derive(Debug, Default)]
pub struct FastTokens {
    /// Secrets by (account, user agent, mechanism name), newest first.
    pub kept: HashMap<(String, String, String), Vec<String>>,
    /// Tokens issued so far (the next secret is `token-<issued>`).
    pub issued: u32,
}

impl TestAccounts {
    /// Iterations for test accounts: the minimum clients accept.
    pub const ITERATIONS: u32 = 4096;

    /// A database with one user.
    pub fn with_user(name: &str, password: &str) -> Self {
        let mut accounts = TestAccounts::default();
        accounts.add(name, password);
        accounts
    }

    /// Adds (or replaces) a user.
    pub fn add(&mut self, name: &str, password: &str) {
        let salt = format!("salt-of-{name}-0123456789");
        let creds = [ScramHash::Sha1, ScramHash::Sha256, ScramHash::Sha512]
            .into_iter()
            .filter_map(|h| {
                stored_credentials(h, password, salt.as_bytes(), Iterations(Self::ITERATIONS)).ok()
            })
            .collect();
        self.users
            .insert(name.to_owned(), (password.to_owned(), creds));
    }

    /// What the server stores for `name` and `hash`.
    pub fn credentials(&self, name: &str, hash: ScramHash) -> Option<StoredCredentials> {
        let (_, creds) = self.users.get(name)?;
        creds.iter().find(|c| c.hash == hash).cloned()
    }

    /// Whether `password` is `name`'s.
    pub fn check(&self, name: &str, password: &str) -> bool {
        self.users.get(name).is_some_and(|(p, _)| p == password)
    }

    /// Answers the server's authentication questions in `event`; returns
    /// whether it was one.
    pub fn answer(&self, server: &mut Server, now: Time, event: &ServerEvent) -> bool {
        match event {
            ServerEvent::NeedScramCredentials { username, hash } => {
                let creds = self.credentials(username, *hash);
                server
                    .provide_credentials(now, creds)
                    .expect("the server asked for credentials");
                true
            }
            ServerEvent::Authenticate {
                username: Some(user),
                password: Some(password),
                ..
            } => {
                if self.check(user, password.as_str()) {
                    server.accept_auth(now).expect("the server asked");
                } else {
                    server
                        .reject_auth(now, FailureCondition::NotAuthorized)
                        .expect("the server asked");
                }
                true
            }
            ServerEvent::Authenticate { .. } => {
                server
                    .reject_auth(now, FailureCondition::NotAuthorized)
                    .expect("the server asked");
                true
            }
            ServerEvent::NeedFastToken {
                username,
                user_agent,
                mechanism,
            } => {
                let key = (
                    username.clone(),
                    user_agent.clone(),
                    mechanism.name().to_owned(),
                );
                let tokens = self
                    .fast_tokens
                    .lock()
                    .expect("not poisoned")
                    .kept
                    .get(&key)
                    .cloned();
                server
                    .provide_fast_tokens(now, &tokens.unwrap_or_default())
                    .expect("the server asked for tokens");
                true
            }
            ServerEvent::IssueFastToken {
                account,
                user_agent,
                mechanism,
                replacing,
            } => {
                let mut fast = self.fast_tokens.lock().expect("not poisoned");
                fast.issued += 1;
                let secret = format!("token-{}", fast.issued);
                let key = (
                    account.localpart().unwrap_or_default().to_owned(),
                    user_agent.clone(),
                    mechanism.name().to_owned(),
                );
                let mut kept = vec![secret.clone()];
                kept.extend(replacing.clone());
                fast.kept.insert(key, kept);
                drop(fast);
                let token = xmpp_proto::negotiation::FastToken {
                    token: secret,
                    expiry: "2030-01-01T00:00:00Z".to_owned(),
                };
                server
                    .issue_fast_token(now, Some(token))
                    .expect("the server asked for a token");
                true
            }
            ServerEvent::FastTokensRevoked {
                account,
                user_agent,
            } => {
                let local = account.localpart().unwrap_or_default();
                let mut fast = self.fast_tokens.lock().expect("not poisoned");
                fast.kept
                    .retain(|(a, u, _), _| !(a == local && u == user_agent));
                // Kept in the events too, for tests to see.
                false
            }
            _ => false,
        }
    }
}

/// `juliet`/`secret` as the only account. Deriving the stored keys costs
/// three PBKDF2 runs, so it is done once per process, not per `Pair`.
fn juliet_only() -> TestAccounts {
    static ACCOUNTS: std::sync::OnceLock<TestAccounts> = std::sync::OnceLock::new();
    ACCOUNTS
        .get_or_init(|| TestAccounts::with_user("juliet", "secret"))
        .clone()
}

/// The fake TLS session both sides are told about: TLS 1.3 with fixed
/// `tls-exporter` and `tls-server-end-point` data.
pub fn fake_tls() -> TlsInfo {
    TlsInfo::new(TlsVersion::Tls13)
        .with_tls_exporter(vec![0xE7; 32])
        .with_tls_server_end_point(vec![0x5E; 32])
}

/// One side's pending connection actions.
#[derive(Debug, Default)]
struct Wire {
    tls_requested: bool,
    shut_down: bool,
}

/// A client and a server wired byte to byte, with a simulated clock.
pub struct Pair {
    /// The client.
    pub client: Client,
    /// The server.
    pub server: Server,
    /// The simulated time.
    pub now: Time,
    /// Every event the client reported, in order.
    pub client_events: Vec<ClientEvent>,
    /// Every event the server reported that the harness did not answer by
    /// itself, in order.
    pub server_events: Vec<ServerEvent>,
    /// The user database that answers the server's questions.
    pub accounts: TestAccounts,
    /// Whether the harness answers `ServerEvent::BindRequest` with `accept_bind`
    /// (default `true`).
    pub auto_bind: bool,
    /// Whether [`Pair::run`] stops after each server event it keeps, so
    /// that the caller acts on it before the next is taken (as a real
    /// application does; the server's answer to the client's close waits
    /// for that). Default `false`; the [`Network`] sets it.
    pub step_server_events: bool,
    /// What TLS tells both sides.
    pub tls: TlsInfo,
    /// How bytes from the client are cut.
    pub client_chunker: Chunker,
    /// How bytes from the server are cut.
    pub server_chunker: Chunker,
    /// Every byte the client sent, in order.
    pub client_bytes: Vec<u8>,
    /// Every byte the server sent, in order.
    pub server_bytes: Vec<u8>,
    /// While `false`, nothing is delivered either way (a dead network):
    /// transmits are consumed and dropped.
    pub connected: bool,
    /// If set, only this many more bytes from the client get through;
    /// when more are written the connection is cut (see [`Pair::cut`]).
    pub client_budget: Option<usize>,
    /// The same for bytes from the server.
    pub server_budget: Option<usize>,
    /// While `true`, the client does not read: the server's output stays
    /// queued in the server (a peer that stopped reading).
    pub client_stalled: bool,
    client_wire: Wire,
    server_wire: Wire,
}

impl Pair {
    /// A client config for `user@example.com` with a deterministic random
    /// source.
    pub fn client_config(user: &str, password: &str) -> ClientConfig {
        let jid = Jid::new(&format!("{user}@{DOMAIN}")).expect("valid test JID");
        ClientConfig::new(jid, password).with_random(seeded_random(1))
    }

    /// A server config for `example.com` with a deterministic random
    /// source.
    pub fn server_config() -> ServerConfig {
        ServerConfig::new(DOMAIN)
            .expect("valid domain")
            .with_random(seeded_random(2))
    }

    /// Both ends, created now, with `juliet`/`secret` as the only account.
    pub fn new(client: ClientConfig, server: ServerConfig) -> Self {
        let now = Time::ZERO;
        Pair {
            server: Server::new(server, now),
            client: Client::new(client, now),
            now,
            client_events: Vec::new(),
            server_events: Vec::new(),
            accounts: juliet_only(),
            auto_bind: true,
            step_server_events: false,
            tls: fake_tls(),
            client_chunker: Chunker::Whole,
            server_chunker: Chunker::Whole,
            client_bytes: Vec::new(),
            server_bytes: Vec::new(),
            connected: true,
            client_budget: None,
            server_budget: None,
            client_stalled: false,
            client_wire: Wire::default(),
            server_wire: Wire::default(),
        }
    }

    /// Cuts both byte streams into random pieces from `seed`.
    pub fn with_random_chunks(mut self, seed: u64, max: usize) -> Self {
        self.client_chunker = Chunker::random(seed, max);
        self.server_chunker = Chunker::random(seed.wrapping_add(1), max);
        self
    }

    /// Moves bytes, TLS and shutdowns both ways and answers the server's
    /// questions until nothing moves any more. Returns whether anything
    /// moved.
    pub fn run(&mut self) -> bool {
        let mut any = false;
        loop {
            let mut moved = self.client_to_server();
            moved |= self.server_to_client();
            moved |= self.start_tls();
            let (drained, kept_server_event) = self.drain_events();
            moved |= drained;
            if !moved {
                return any;
            }
            any = true;
            if kept_server_event && self.step_server_events {
                return true;
            }
        }
    }

    /// Cuts the connection the way a dead TCP connection ends: both sides
    /// see the end of the stream, and nothing either side writes from now
    /// on arrives.
    pub fn cut(&mut self) {
        if !self.connected {
            return;
        }
        self.connected = false;
        self.client.handle_eof(self.now);
        self.server.handle_eof(self.now);
    }

    /// Advances the clock by `by`, fires both sides' timers, then runs.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.client.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
        self.run();
    }

    /// Whether the client is online and the server bound.
    pub fn is_online(&self) -> bool {
        self.client.is_online() && self.server.is_online()
    }

    /// The client's close reason, if it closed.
    pub fn client_closed(&self) -> Option<&CloseReason> {
        self.client_events.iter().find_map(|e| match e {
            ClientEvent::Closed { reason } => Some(reason),
            _ => None,
        })
    }

    /// The server's close reason, if it closed.
    pub fn server_closed(&self) -> Option<&CloseReason> {
        self.server_events.iter().find_map(|e| match e {
            ServerEvent::Closed { reason } => Some(reason),
            _ => None,
        })
    }

    /// The client's events without traces (for comparisons).
    pub fn client_events_untraced(&self) -> Vec<&ClientEvent> {
        self.client_events
            .iter()
            .filter(|e| !matches!(e, ClientEvent::Trace { .. }))
            .collect()
    }

    fn client_to_server(&mut self) -> bool {
        let now = self.now;
        if !self.connected {
            return drop_output(&mut self.client);
        }
        let (moved, cut) = transfer(
            &mut self.client,
            &mut self.server,
            now,
            &mut self.client_chunker,
            &mut self.client_wire,
            &mut self.client_bytes,
            &mut self.client_budget,
        );
        if cut {
            self.cut();
        }
        moved || cut
    }

    fn server_to_client(&mut self) -> bool {
        let now = self.now;
        if !self.connected {
            return drop_output(&mut self.server);
        }
        if self.client_stalled {
            return false;
        }
        let (moved, cut) = transfer(
            &mut self.server,
            &mut self.client,
            now,
            &mut self.server_chunker,
            &mut self.server_wire,
            &mut self.server_bytes,
            &mut self.server_budget,
        );
        if cut {
            self.cut();
        }
        moved || cut
    }

    /// Both sides asked for TLS: the handshake "completes".
    fn start_tls(&mut self) -> bool {
        if !(self.client_wire.tls_requested && self.server_wire.tls_requested) {
            return false;
        }
        self.client_wire.tls_requested = false;
        self.server_wire.tls_requested = false;
        let _ = self
            .server
            .handle_tls_established(self.now, self.tls.clone());
        let _ = self
            .client
            .handle_tls_established(self.now, self.tls.clone());
        true
    }

    /// Takes the events of both sides; returns whether any came and
    /// whether a server event was kept (with `step_server_events`, the
    /// first kept one ends the call).
    fn drain_events(&mut self) -> (bool, bool) {
        let mut moved = false;
        while let Some(e) = self.client.poll_event() {
            self.client_events.push(e);
            moved = true;
        }
        while let Some(e) = self.server.poll_event() {
            moved = true;
            if self.accounts.answer(&mut self.server, self.now, &e) {
                continue;
            }
            if let (true, ServerEvent::BindRequest { .. }) = (self.auto_bind, &e) {
                self.server.accept_bind(self.now).expect("bind was asked");
            }
            self.server_events.push(e);
            if self.step_server_events {
                return (true, true);
            }
        }
        (moved, false)
    }
}

/// Consumes and forgets everything `from` wants to transmit.
fn drop_output(from: &mut impl Endpoint) -> bool {
    let mut moved = false;
    while let Some(t) = from.poll_transmit() {
        if let Transmit::Data(d) = t {
            let n = d.len();
            from.consume_transmit(n);
        }
        moved = true;
    }
    moved
}

/// Moves what `from` wants to transmit into `to`, cut by `chunker`, at
/// most `budget` bytes. Returns whether anything happened, and whether
/// the budget ran out with bytes still to send (the connection must be
/// cut).
fn transfer(
    from: &mut impl Endpoint,
    to: &mut impl Endpoint,
    now: Time,
    chunker: &mut Chunker,
    wire: &mut Wire,
    log: &mut Vec<u8>,
    budget: &mut Option<usize>,
) -> (bool, bool) {
    let mut moved = false;
    loop {
        if wire.tls_requested || wire.shut_down {
            // Nothing is written past a TLS mark until the handshake, and
            // nothing at all after a shutdown.
            return (moved, false);
        }
        match from.poll_transmit() {
            None => return (moved, false),
            Some(Transmit::Data(data)) => {
                if *budget == Some(0) {
                    return (moved, true);
                }
                let mut n = chunker.take(data.len());
                if let Some(b) = budget {
                    n = n.min(*b);
                    *b -= n;
                }
                let (written, _) = data.split_at(n);
                let written = written.to_vec();
                from.consume_transmit(n);
                log.extend_from_slice(&written);
                let mut rest = &written[..];
                while !rest.is_empty() {
                    let k = chunker.take(rest.len());
                    let _ = to.handle_input(now, &rest[..k]);
                    rest = &rest[k..];
                }
            }
            Some(Transmit::StartTls) => wire.tls_requested = true,
            Some(Transmit::Shutdown) => {
                wire.shut_down = true;
                to.handle_eof(now);
            }
        }
        moved = true;
    }
}

/// Answers a bind request with `conflict`: a helper for scenarios that
/// refuse binds by hand.
pub fn refuse_bind(server: &mut Server, now: Time) {
    server
        .reject_bind(now, DefinedCondition::Conflict)
        .expect("a bind was asked");
}
