//! The quickstart conversation, shared by the example and its test
//! (`tests/quickstart.rs` includes this file): an embedded server, alice
//! and bob logging in over STARTTLS with SCRAM-SHA-256, a message with a
//! receipt request, a reply, everyone closing cleanly.

use std::net::TcpListener;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use xmpp_proto::client::{Client, ClientConfig, ClientEvent, ClientTlsPolicy};
use xmpp_proto::endpoint::CloseReason;
use xmpp_proto::jid::Jid;
use xmpp_proto::negotiation::ping_request;
use xmpp_proto::sasl::{self, Mechanism};
use xmpp_proto::stanza::{Presence, PresenceType};
use xmpp_proto::tls::TlsVersion;
use xmpp_transport_std::clock;
use xmpp_transport_std::serve::{Accounts, Serve, SessionLog};
use xmpp_transport_std::test_certs::TestPki;
use xmpp_transport_std::{ClientTls, Connection, Next, TrustAnchors};

/// The domain the embedded server serves (the certificate is for it).
pub(crate) const DOMAIN: &str = "localhost";

/// How long the whole conversation may take before it counts as failed.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(20);

/// Where the conversation's lines go (stdout in the example, a buffer in
/// the test); called from several threads.
pub(crate) type Say = Arc<dyn Fn(&str) + Send + Sync>;

/// What the conversation proved, for the test to check.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// The body bob received from alice.
    #[allow(dead_code)] // read by the test
    pub(crate) bob_got: String,
    /// The reply alice received from bob.
    #[allow(dead_code)] // read by the test
    pub(crate) alice_got: String,
    /// Whether alice's receipt arrived.
    pub(crate) receipt: bool,
    /// How the server saw each session end (`Normal` for clean closes).
    pub(crate) server_ends: Vec<String>,
}

/// Runs the whole conversation; `Err` names the step that failed.
pub(crate) fn run(trace: bool, say: Say) -> Result<Outcome, String> {
    let deadline = Instant::now() + TIMEOUT;

    // A CA and a certificate for `localhost`, generated now; the clients
    // trust this CA and nothing else.
    let pki = TestPki::localhost().map_err(|e| format!("generating certificates: {e}"))?;
    let mut accounts = Accounts::new();
    for (user, password) in [("alice", "alice-secret"), ("bob", "bob-secret")] {
        accounts
            .add(user, password)
            .map_err(|e| format!("adding {user}: {e}"))?;
    }
    let ends = Arc::new(Mutex::new(Vec::new()));
    let server_say = say.clone();
    let server_ends = ends.clone();
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("binding a loopback port: {e}"))?;
    let server = Serve::new(DOMAIN, pki.server_tls(), accounts)
        .map_err(|e| e.to_string())?
        .with_log(move |log: &SessionLog<'_>| match log {
            SessionLog::Online { jid, .. } => server_say(&format!("server: {jid} is online")),
            SessionLog::Ended { jid, reason, .. } => {
                let who = jid.map_or("a client".to_owned(), |j| j.to_string());
                let how = match reason {
                    Some(CloseReason::Normal) => "closed cleanly".to_owned(),
                    Some(other) => format!("ended: {other}"),
                    None => "ended without a reason".to_owned(),
                };
                server_say(&format!("server: {who} {how}"));
                if let Ok(mut ends) = server_ends.lock() {
                    ends.push(format!("{:?}", reason));
                }
            }
            _ => {}
        })
        .start(listener)
        .map_err(|e| format!("starting the server: {e}"))?;
    let addr = server.local_addr().to_string();
    say(&format!(
        "server: serving {DOMAIN} on {addr} (STARTTLS required, certificate from a CA made just now)"
    ));

    let anchors = pki.trust_anchors();
    let (ready_tx, ready_rx) = mpsc::channel();
    let result = thread::scope(|scope| {
        let bob = scope.spawn(|| {
            let login = Login::new("bob", "bob-secret", "phone", &addr, &anchors, trace, &say);
            bob(login, deadline, &ready_tx)
        });
        let login = Login::new(
            "alice",
            "alice-secret",
            "laptop",
            &addr,
            &anchors,
            trace,
            &say,
        );
        let alice = alice(login, deadline, &ready_rx);
        // If alice failed, bob may still be waiting for her message; his
        // deadline ends him.
        let bob = bob
            .join()
            .unwrap_or_else(|_| Err("bob's thread panicked".into()));
        Ok::<_, String>((alice?, bob?))
    });
    server.shutdown();
    let ((alice_got, receipt), bob_got) = result?;
    let server_ends = ends.lock().map(|e| e.clone()).unwrap_or_default();
    let clean = format!("{:?}", Some(CloseReason::Normal));
    if server_ends.len() != 2 || server_ends.iter().any(|e| *e != clean) {
        return Err(format!(
            "the server saw the sessions end as {server_ends:?}"
        ));
    }
    Ok(Outcome {
        bob_got,
        alice_got,
        receipt,
        server_ends,
    })
}

/// alice: log in, wait for bob, send him a message asking for a receipt,
/// wait for the receipt and his reply, close.
fn alice(
    login: Login<'_>,
    deadline: Instant,
    bob_ready: &mpsc::Receiver<String>,
) -> Result<(String, bool), String> {
    let mut conn = login.connect(deadline)?;
    let bob = bob_ready
        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        .map_err(|_| "bob did not come online")?;
    let text = "Hi Bob! Are you there?";
    // Said first: bob may print his side before this thread goes on.
    (login.say)(&format!("alice -> {bob}: {text:?} (receipt requested)"));
    let id = conn
        .command(|c, now| c.send_message(now, &bob, text, true))
        .map_err(|e| login.failed(e))?
        .map_err(|e| format!("alice cannot send: {e}"))?;

    let (mut receipt, mut reply) = (false, None::<String>);
    while !(receipt && reply.is_some()) {
        match login.next(&mut conn, deadline)? {
            ClientEvent::ReceiptReceived { id: got, from } if got == id => {
                let from = from.map(|f| f.to_string()).unwrap_or_default();
                (login.say)(&format!("alice: receipt from {from}: message delivered"));
                receipt = true;
            }
            ClientEvent::Message(m) => {
                if let Some(body) = m.body() {
                    let from = m.from().unwrap_or_default();
                    (login.say)(&format!("alice <- {from}: {body:?}"));
                    reply = Some(body.to_string());
                }
            }
            _ => {}
        }
    }
    login.close(&mut conn, deadline)?;
    Ok((reply.unwrap_or_default(), receipt))
}

/// bob: log in, say he is available, wait for a message (his client
/// answers the receipt request by itself), reply, close.
fn bob(
    login: Login<'_>,
    deadline: Instant,
    ready: &mpsc::Sender<String>,
) -> Result<String, String> {
    let mut conn = login.connect(deadline)?;
    // Available presence lets messages to his bare JID reach him (RFC 6121
    // §8.5.2); the ping's answer proves the server has taken it in.
    let presence = Presence::builder(PresenceType::Available).build();
    conn.command(|c, now| c.send(now, presence))
        .map_err(|e| login.failed(e))?
        .map_err(|e| format!("bob cannot send presence: {e}"))?;
    let ping = conn
        .command(|c, now| c.send(now, ping_request("ping-1").with_to(DOMAIN)))
        .map_err(|e| login.failed(e))?
        .map_err(|e| format!("bob cannot ping: {e}"))?;
    loop {
        if let ClientEvent::IqResponse { id, .. } = login.next(&mut conn, deadline)? {
            if id == ping {
                break;
            }
        }
    }
    (login.say)("bob: available, and the server answers pings");
    let _ = ready.send(format!("bob@{DOMAIN}"));

    let (from, body) = loop {
        if let ClientEvent::Message(m) = login.next(&mut conn, deadline)? {
            if let (Some(from), Some(body)) = (m.from(), m.body()) {
                break (from.to_string(), body.to_string());
            }
        }
    };
    (login.say)(&format!("bob <- {from}: {body:?} (receipt sent)"));
    let text = "Hi Alice, loud and clear.";
    (login.say)(&format!("bob -> {from}: {text:?}"));
    conn.command(|c, now| c.send_message(now, &from, text, false))
        .map_err(|e| login.failed(e))?
        .map_err(|e| format!("bob cannot reply: {e}"))?;
    login.close(&mut conn, deadline)?;
    Ok(body)
}

/// One client's login settings and its printer.
struct Login<'a> {
    user: &'static str,
    password: &'static str,
    resource: &'static str,
    addr: &'a str,
    anchors: &'a TrustAnchors,
    trace: bool,
    say: &'a Say,
}

impl<'a> Login<'a> {
    fn new(
        user: &'static str,
        password: &'static str,
        resource: &'static str,
        addr: &'a str,
        anchors: &'a TrustAnchors,
        trace: bool,
        say: &'a Say,
    ) -> Self {
        Login {
            user,
            password,
            resource,
            addr,
            anchors,
            trace,
            say,
        }
    }

    /// Connects, runs STARTTLS (checking the certificate against the
    /// generated CA) and SCRAM-SHA-256, and binds.
    fn connect(&self, deadline: Instant) -> Result<Connection<Client>, String> {
        let jid = Jid::new(&format!("{}@{DOMAIN}", self.user)).map_err(|e| e.to_string())?;
        let sasl = sasl::SaslClientConfig {
            allowed: Some(vec![Mechanism::ScramSha256]),
            ..Default::default()
        };
        let config = ClientConfig::new(jid, self.password)
            .with_resource(self.resource)
            .with_sasl(sasl)
            .with_tls(ClientTlsPolicy::RequireStartTls)
            .with_trace(self.trace)
            // Alice and bob are not contacts: receipts to anyone who asks
            // (by default only those allowed to see our presence get one).
            .with_auto_receipts(true);
        let tls = ClientTls::new(self.anchors, DOMAIN).map_err(|e| e.to_string())?;
        let tcp = xmpp_transport_std::connect(DOMAIN, Some(self.addr))
            .map_err(|e| format!("{} cannot connect to {}: {e}", self.user, self.addr))?;
        let mut conn = Connection::new_client(tcp, Client::new(config, clock::now()), tls)
            .map_err(|e| self.failed(e))?;
        loop {
            if let ClientEvent::Online { jid } = self.next(&mut conn, deadline)? {
                let version = match conn.endpoint().tls().map(|t| t.version()) {
                    Some(TlsVersion::Tls13) => "TLS 1.3",
                    Some(TlsVersion::Tls12) => "TLS 1.2",
                    _ => "TLS",
                };
                (self.say)(&format!(
                    "{}: logged in as {jid} (STARTTLS, {version}, certificate verified, SCRAM-SHA-256)",
                    self.user
                ));
                return Ok(conn);
            }
        }
    }

    /// The next event other than a trace (which is printed), or why there
    /// is none.
    fn next(
        &self,
        conn: &mut Connection<Client>,
        deadline: Instant,
    ) -> Result<ClientEvent, String> {
        loop {
            match conn
                .next_event_until(deadline)
                .map_err(|e| self.failed(e))?
            {
                Next::Event(ClientEvent::Trace { direction, data }) => self.trace(direction, &data),
                Next::Event(ClientEvent::Closed { reason }) => {
                    return Err(format!("{}'s session ended early: {reason}", self.user));
                }
                Next::Event(event) => return Ok(event),
                Next::Deadline => {
                    return Err(format!(
                        "{} timed out after {}s",
                        self.user,
                        TIMEOUT.as_secs()
                    ));
                }
                Next::Closed => return Err(format!("{}'s connection closed early", self.user)),
            }
        }
    }

    /// Closes the stream and waits for the server's close.
    fn close(&self, conn: &mut Connection<Client>, deadline: Instant) -> Result<(), String> {
        conn.command(|c, now| c.close(now))
            .map_err(|e| self.failed(e))?;
        let mut clean = false;
        loop {
            match conn
                .next_event_until(deadline)
                .map_err(|e| self.failed(e))?
            {
                Next::Event(ClientEvent::Trace { direction, data }) => self.trace(direction, &data),
                Next::Event(ClientEvent::Closed { reason }) => {
                    if reason != CloseReason::Normal {
                        return Err(format!("{} did not close cleanly: {reason}", self.user));
                    }
                    clean = true;
                }
                Next::Event(_) => {}
                Next::Deadline => return Err(format!("{} timed out while closing", self.user)),
                Next::Closed if clean => {
                    (self.say)(&format!("{}: closed cleanly", self.user));
                    return Ok(());
                }
                Next::Closed => {
                    return Err(format!(
                        "{}'s connection ended without a stream close",
                        self.user
                    ));
                }
            }
        }
    }

    fn trace(&self, direction: xmpp_proto::endpoint::Direction, data: &[u8]) {
        let arrow = match direction {
            xmpp_proto::endpoint::Direction::Out => ">>",
            xmpp_proto::endpoint::Direction::In => "<<",
        };
        let text = String::from_utf8_lossy(data);
        (self.say)(&format!("{} {arrow} {text}", self.user));
    }

    fn failed(&self, e: impl std::fmt::Display) -> String {
        format!("{}: {e}", self.user)
    }
}
