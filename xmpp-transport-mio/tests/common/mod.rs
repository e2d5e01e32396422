//! A mio server on a thread of its own, a farm of mio clients, and raw
//! plaintext clients, for the integration tests.

#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::{Token, Waker};
use xmpp_proto::client::{Client, ClientConfig, ClientEvent, ClientTlsPolicy};
use xmpp_proto::endpoint::Endpoint;
use xmpp_proto::endpoint::Transmit;
use xmpp_proto::jid::Jid;
use xmpp_proto::sasl::{self, Credentials, Iterations, Mechanism, ScramHash, ScramKeys};
use xmpp_proto::server::ServerConfig;
use xmpp_transport_mio::serve::{MioServer, SessionLog, Stats};
use xmpp_transport_mio::{ConnId, Driver, DriverConfig, DriverEvent};
use xmpp_transport_std::ClientTls;
use xmpp_transport_std::clock;
use xmpp_transport_std::serve::AccountStore;
use xmpp_transport_std::test_certs::TestPki;

pub const DOMAIN: &str = "localhost";
pub const PASSWORD: &str = "load-secret";
/// Long enough for a debug build on a busy 2-core machine.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Every `user<N>` shares one password and one salt, so PBKDF2 runs once
/// per test run instead of once per login (debug builds are slow at it).
pub struct SharedKeyAccounts {
    keys: ScramKeys,
}

impl SharedKeyAccounts {
    pub fn new() -> Self {
        let keys = ScramKeys::from_password(
            ScramHash::Sha256,
            PASSWORD,
            b"mio-tests-salt-0",
            Iterations(4096),
        )
        .unwrap();
        SharedKeyAccounts { keys }
    }

    /// The keys every test client logs in with.
    pub fn keys(&self) -> &ScramKeys {
        &self.keys
    }
}

impl AccountStore for SharedKeyAccounts {
    fn scram_credentials(
        &self,
        username: &str,
        hash: ScramHash,
    ) -> Option<sasl::StoredCredentials> {
        (hash == ScramHash::Sha256 && username.starts_with("user")).then(|| self.keys.to_stored())
    }

    fn check_password(&self, username: &str, password: &str) -> bool {
        username.starts_with("user") && password == PASSWORD
    }
}

/// A client config for `user<i>/r` that logs in with SCRAM-SHA-256(-PLUS)
/// from the shared cached keys.
pub fn client_config(i: usize, tls: ClientTlsPolicy, keys: &ScramKeys) -> ClientConfig {
    let sasl = sasl::SaslClientConfig {
        allowed: Some(vec![Mechanism::ScramSha256Plus, Mechanism::ScramSha256]),
        ..Default::default()
    };
    let name = format!("user{i}");
    ClientConfig::new(Jid::new(&format!("{name}@{DOMAIN}/r")).unwrap(), PASSWORD)
        .with_credentials(Credentials::from_cached_keys(name, keys.clone()))
        .with_sasl(sasl)
        .with_tls(tls)
}

/// A mio server running on its own thread.
pub struct Running {
    pub addr: SocketAddr,
    pub direct: SocketAddr,
    /// The component (XEP-0114) listener; domains are the setup's.
    pub components: SocketAddr,
    /// XMPP over WebSocket, plain `ws://` and with TLS.
    pub ws: SocketAddr,
    pub wss: SocketAddr,
    pub pki: TestPki,
    pub log: Arc<Mutex<Vec<String>>>,
    /// How many detached sessions the server keeps, as of its last poll.
    detached: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    thread: Option<JoinHandle<Stats>>,
}

const STOP: Token = Token(1);

pub fn start(
    driver: DriverConfig,
    configure: impl Fn(ServerConfig) -> ServerConfig + Send + 'static,
) -> Running {
    start_with(driver, configure, |server| server)
}

/// [`start`] with the server adjusted by `setup` before it listens.
pub fn start_with(
    driver: DriverConfig,
    configure: impl Fn(ServerConfig) -> ServerConfig + Send + 'static,
    setup: impl FnOnce(MioServer) -> MioServer + Send + 'static,
) -> Running {
    start_with_store(driver, configure, setup, SharedKeyAccounts::new())
}

/// [`start_with`], with the account store given.
pub fn start_with_store(
    driver: DriverConfig,
    configure: impl Fn(ServerConfig) -> ServerConfig + Send + 'static,
    setup: impl FnOnce(MioServer) -> MioServer + Send + 'static,
    store: impl AccountStore + 'static,
) -> Running {
    let pki = TestPki::localhost().unwrap();
    let tls = pki.server_tls();
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    let detached = Arc::new(AtomicUsize::new(0));
    let kept = detached.clone();
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let server = MioServer::new(DOMAIN, tls, store, driver)
            .unwrap()
            .with_config(configure)
            .with_log(move |entry: &SessionLog<'_>| sink.lock().unwrap().push(entry.to_string()));
        let mut server = setup(server);
        let addr = server
            .listen(TcpListener::bind("127.0.0.1:0").unwrap(), false)
            .unwrap();
        let direct = server
            .listen(TcpListener::bind("127.0.0.1:0").unwrap(), true)
            .unwrap();
        let components = server
            .listen_components(TcpListener::bind("127.0.0.1:0").unwrap())
            .unwrap();
        let ws = server
            .listen_websocket(TcpListener::bind("127.0.0.1:0").unwrap(), false)
            .unwrap();
        let wss = server
            .listen_websocket(TcpListener::bind("127.0.0.1:0").unwrap(), true)
            .unwrap();
        let waker = Arc::new(Waker::new(server.registry(), STOP).unwrap());
        tx.send((addr, direct, components, ws, wss, waker)).unwrap();
        while !stopping.load(Ordering::SeqCst) {
            server.poll(None, |_| {}).unwrap();
            kept.store(server.hub().detached().len(), Ordering::SeqCst);
        }
        server.shutdown(Duration::from_secs(5)).unwrap();
        server.stats()
    });
    let (addr, direct, components, ws, wss, waker) = rx.recv().unwrap();
    Running {
        addr,
        direct,
        components,
        ws,
        wss,
        pki,
        log,
        detached,
        stop,
        waker,
        thread: Some(thread),
    }
}

impl Running {
    /// Stops the server and returns its counters.
    pub fn stop(mut self) -> Stats {
        self.stop.store(true, Ordering::SeqCst);
        self.waker.wake().unwrap();
        self.thread.take().unwrap().join().unwrap()
    }

    /// How many detached sessions the server kept after its last poll.
    pub fn detached_count(&self) -> usize {
        self.detached.load(Ordering::SeqCst)
    }

    pub fn log_lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

/// Many mio clients on one driver in the test thread.
pub struct Farm {
    pub driver: Driver<Client>,
    pub tls: Arc<ClientTls>,
    pub keys: ScramKeys,
}

impl Farm {
    pub fn new(server: &Running) -> Self {
        Farm {
            driver: Driver::new(DriverConfig::default()).unwrap(),
            tls: Arc::new(ClientTls::new(&server.pki.trust_anchors(), DOMAIN).unwrap()),
            keys: SharedKeyAccounts::new().keys,
        }
    }

    /// Starts `user<i>`'s login (STARTTLS, or direct TLS).
    pub fn add(&mut self, server: &Running, i: usize, direct: bool) -> ConnId {
        let (addr, policy) = if direct {
            (server.direct, ClientTlsPolicy::Direct)
        } else {
            (server.addr, ClientTlsPolicy::RequireStartTls)
        };
        let socket = mio::net::TcpStream::connect(addr).unwrap();
        let client = Client::new(client_config(i, policy, &self.keys), clock::now());
        self.driver
            .add_client(socket, client, self.tls.clone())
            .unwrap()
    }

    /// Drives the farm, handing every event to `f`, until `f` says it is
    /// done; panics after [`TIMEOUT`].
    pub fn run(
        &mut self,
        mut f: impl FnMut(&mut Driver<Client>, DriverEvent<ClientEvent>) -> bool,
    ) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            assert!(Instant::now() < deadline, "timed out");
            self.driver.poll(Some(Duration::from_millis(200))).unwrap();
            while let Some(event) = self.driver.next_event() {
                if f(&mut self.driver, event) {
                    return;
                }
            }
        }
    }
}

/// A client without TLS on a blocking socket, driven by hand, so a test
/// can write raw bytes on its socket (the server must allow plaintext).
pub struct RawClient {
    pub socket: TcpStream,
    pub client: Client,
}

impl RawClient {
    /// Logs `user<i>` in over plaintext.
    pub fn login(server: &Running, i: usize) -> Self {
        let keys = SharedKeyAccounts::new().keys;
        let config = client_config(i, ClientTlsPolicy::InsecureDisabled, &keys);
        let socket = TcpStream::connect(server.addr).unwrap();
        socket.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut raw = RawClient {
            socket,
            client: Client::new(config, clock::now()),
        };
        let mut buf = [0u8; 4096];
        loop {
            raw.flush();
            while let Some(event) = raw.client.poll_event() {
                match event {
                    ClientEvent::Online { .. } => return raw,
                    ClientEvent::Closed { reason } => panic!("raw login failed: {reason}"),
                    _ => {}
                }
            }
            let n = raw.socket.read(&mut buf).unwrap();
            assert!(n > 0, "server closed during the raw login");
            raw.client.handle_input(clock::now(), &buf[..n]).unwrap();
        }
    }

    pub fn flush(&mut self) {
        while let Some(Transmit::Data(data)) = self.client.poll_transmit() {
            let n = data.len();
            self.socket.write_all(data).unwrap();
            self.client.consume_transmit(n);
        }
    }
}
