//! "Keep me online": a client session that reconnects by itself.
//!
//! [`KeepOnline`] connects, logs in, and when the connection breaks
//! connects again with backoff and jitter, resuming the session (inline
//! with SASL2 where the server offers it), so that the stanzas the server
//! had not acknowledged are sent again and nothing is lost or doubled. It
//! logs in with the newest FAST token when it has one. It stops on what
//! retrying cannot mend: a refused password, a server that cannot prove
//! itself, another session taking the resource over, the application's
//! own close. The policy is the core's
//! [`Reconnector`](xmpp_proto::client::Reconnector); this is its blocking
//! driver.
//!
//! ```no_run
//! use xmpp_proto::client::{ClientConfig, ClientEvent, ReconnectPolicy};
//! use xmpp_proto::jid::Jid;
//! use xmpp_proto::sm::SmConfig;
//! use xmpp_proto::stanza::{Message, MessageType};
//! use xmpp_transport_std::{KeepEvent, KeepOnline, LoginOptions};
//!
//! let jid = Jid::new("juliet@example.com")?;
//! let mut online = KeepOnline::new(
//!     move || ClientConfig::new(jid.clone(), "secret").with_stream_management(SmConfig::default()),
//!     LoginOptions::default(),
//!     ReconnectPolicy::default(),
//! )?;
//! online.send(Message::builder(MessageType::Chat).to("romeo@example.net").body("Hi").build())?;
//! loop {
//!     match online.next_event() {
//!         KeepEvent::Client(ClientEvent::Message(m)) => println!("{:?}", m.body()),
//!         KeepEvent::Reconnecting { reason, after } => eprintln!("{reason}; again in {after:?}"),
//!         KeepEvent::Stopped(reason) => break eprintln!("gave up: {reason}"),
//!         _ => {}
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use xmpp_proto::client::{
    Client, ClientConfig, ClientEvent, FastCredentials, Outgoing, ReconnectPolicy, Reconnector,
    Verdict,
};
use xmpp_proto::endpoint::CloseReason;
use xmpp_proto::random::{OsRandom, RandomSource};

use crate::session::connect_for;
use crate::{ClientTls, Connection, LoginOptions, Next, SessionError, TrustAnchors, clock};

/// How many stanzas [`KeepOnline::send`] keeps while no connection is
/// online, to send once one is.
pub const MAX_WAITING: usize = 1000;

/// What a [`KeepOnline`] reports.
#[derive(Debug)]
pub enum KeepEvent {
    /// An event of the client that the application must see: stanzas,
    /// `Online` (the first login, or a new session after a resumption
    /// failed), `Undelivered`, `FastToken` (keep it), ...
    Client(ClientEvent),
    /// The connection broke; the next attempt goes after `after`.
    Reconnecting {
        /// How the last connection ended.
        reason: CloseReason,
        /// The wait before the next attempt.
        after: Duration,
    },
    /// Given up, for this reason (also after [`KeepOnline::close`]).
    Stopped(CloseReason),
}

/// The application sent more than [`MAX_WAITING`] stanzas while offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingFull;

impl fmt::Display for WaitingFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{MAX_WAITING} stanzas already wait for a connection")
    }
}

impl std::error::Error for WaitingFull {}

/// A client session kept online. See the module documentation.
pub struct KeepOnline {
    make_config: Box<dyn FnMut() -> ClientConfig + Send>,
    options: LoginOptions,
    anchors: TrustAnchors,
    keeper: Reconnector,
    conn: Option<Connection<Client>>,
    /// Sent while not online: they go out once the client is.
    waiting: VecDeque<Outgoing>,
    /// When the next connection attempt is due.
    retry_at: Option<Instant>,
    stopped: Option<CloseReason>,
    /// How the current connection ended, for `Reconnecting`.
    last_reason: Option<CloseReason>,
    events: VecDeque<KeepEvent>,
}

impl fmt::Debug for KeepOnline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeepOnline")
            .field("online", &self.is_online())
            .field("waiting", &self.waiting.len())
            .field("stopped", &self.stopped)
            .finish_non_exhaustive()
    }
}

impl KeepOnline {
    /// A session that connects on the first call to
    /// [`next_event`](Self::next_event). `make_config` is called for every
    /// connection (a `ClientConfig` holds one connection's state); turn
    /// stream management on in it, or there is nothing to resume.
    /// `options` say where to connect (DNS SRV by default) and whom to
    /// trust.
    ///
    /// # Errors
    /// A domain rustls cannot take as a server name.
    pub fn new(
        mut make_config: impl FnMut() -> ClientConfig + Send + 'static,
        options: LoginOptions,
        policy: ReconnectPolicy,
    ) -> Result<Self, SessionError> {
        let anchors = options
            .trust
            .clone()
            .unwrap_or_else(TrustAnchors::webpki_roots);
        // Checked now, so that a wrong domain fails here, not in a loop.
        ClientTls::new(&anchors, make_config().domain())?;
        Ok(KeepOnline {
            make_config: Box::new(make_config),
            options,
            anchors,
            keeper: Reconnector::new(policy),
            conn: None,
            waiting: VecDeque::new(),
            retry_at: Some(Instant::now()),
            stopped: None,
            last_reason: None,
            events: VecDeque::new(),
        })
    }

    /// Logs in with this FAST token (kept from an earlier run) instead of
    /// the password, where the server takes it.
    pub fn with_fast_token(mut self, token: FastCredentials) -> Self {
        self.keeper = self.keeper.with_fast_token(token);
        self
    }

    /// The newest FAST token, to keep for the next run.
    pub fn fast_token(&self) -> Option<&FastCredentials> {
        self.keeper.fast_token()
    }

    /// Whether a connection is up and its session online.
    pub fn is_online(&self) -> bool {
        self.conn.as_ref().is_some_and(|c| c.endpoint().is_online())
    }

    /// The current connection, if any (to reach the client's other
    /// commands). It may be replaced at any call of `next_event`.
    pub fn connection(&mut self) -> Option<&mut Connection<Client>> {
        self.conn.as_mut()
    }

    /// Sends a stanza now if online, else once a connection is.
    ///
    /// # Errors
    /// [`WaitingFull`] when offline with [`MAX_WAITING`] stanzas waiting.
    pub fn send(&mut self, stanza: impl Into<Outgoing>) -> Result<(), WaitingFull> {
        let stanza = stanza.into();
        if self.waiting.is_empty() && self.is_online() {
            if let Some(conn) = self.conn.as_mut() {
                if let Ok(Ok(_)) = conn.command(|c, now| c.send(now, stanza.clone())) {
                    return Ok(());
                }
                // Refused (the connection just broke): it waits.
            }
        }
        self.wait(stanza)
    }

    fn wait(&mut self, stanza: Outgoing) -> Result<(), WaitingFull> {
        if self.waiting.len() >= MAX_WAITING {
            return Err(WaitingFull);
        }
        self.waiting.push_back(stanza);
        Ok(())
    }

    /// The next event; blocks until there is one. After
    /// [`KeepEvent::Stopped`] every call returns it again.
    pub fn next_event(&mut self) -> KeepEvent {
        loop {
            let far = Instant::now() + Duration::from_secs(3600);
            if let Some(event) = self.next_event_until(far) {
                return event;
            }
        }
    }

    /// The next event, or `None` when `deadline` passes first.
    pub fn next_event_until(&mut self, deadline: Instant) -> Option<KeepEvent> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Some(event);
            }
            if let Some(reason) = &self.stopped {
                return Some(KeepEvent::Stopped(reason.clone()));
            }
            match self.conn.as_mut() {
                Some(conn) => match conn.next_event_until(deadline) {
                    Ok(Next::Event(event)) => self.handle(event),
                    Ok(Next::Deadline) => return None,
                    Ok(Next::Closed) => self.connection_over(),
                    // The endpoint reports the end as events next.
                    Err(_) => {}
                },
                None => {
                    let at = self.retry_at.unwrap_or_else(Instant::now);
                    if at > deadline {
                        std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
                        return None;
                    }
                    std::thread::sleep(at.saturating_duration_since(Instant::now()));
                    self.connect();
                }
            }
        }
    }

    /// One event of the current client.
    fn handle(&mut self, event: ClientEvent) {
        let up = matches!(
            event,
            ClientEvent::Online { .. } | ClientEvent::Resumed { .. }
        );
        if let ClientEvent::Closed { reason } = &event {
            self.last_reason = Some(reason.clone());
        }
        if let Some(event) = self.keeper.observe(event) {
            self.events.push_back(KeepEvent::Client(event));
        }
        if up {
            self.flush_waiting();
        }
    }

    /// What the application sent while offline, in order.
    fn flush_waiting(&mut self) {
        while let Some(stanza) = self.waiting.pop_front() {
            let Some(conn) = self.conn.as_mut() else {
                self.waiting.push_front(stanza);
                return;
            };
            if !matches!(
                conn.command(|c, now| c.send(now, stanza.clone())),
                Ok(Ok(_))
            ) {
                self.waiting.push_front(stanza);
                return;
            }
        }
    }

    /// The connection is over (its `Closed` was observed): decide.
    fn connection_over(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.keeper.note_offer(conn.endpoint().sasl2_offer());
        }
        let mut random = [0u8; 4];
        let _ = OsRandom.fill(&mut random);
        match self.keeper.verdict(u32::from_le_bytes(random)) {
            Verdict::Retry { after } => {
                self.retry_at = Some(Instant::now() + after);
                self.events.push_back(KeepEvent::Reconnecting {
                    reason: self
                        .last_reason
                        .take()
                        .unwrap_or(CloseReason::ConnectionLost),
                    after,
                });
            }
            Verdict::Stop(reason) => self.stopped = Some(reason),
        }
    }

    fn connect(&mut self) {
        self.retry_at = None;
        let config = self.keeper.prepare((self.make_config)());
        let tls = match ClientTls::new(&self.anchors, config.domain()) {
            Ok(tls) => tls,
            Err(_) => {
                self.stopped = Some(CloseReason::TlsUnavailable);
                return;
            }
        };
        let opened = connect_for(config, &self.options).and_then(|(tcp, config)| {
            Connection::new_client(tcp, Client::new(config, clock::now()), tls)
        });
        match opened {
            Ok(conn) => self.conn = Some(conn),
            Err(_) => {
                self.keeper.connect_failed();
                self.last_reason = Some(CloseReason::ConnectionLost);
                self.connection_over();
            }
        }
    }

    /// Closes the session cleanly (the server gets `</stream:stream>`
    /// and acknowledges what it received) and stops reconnecting.
    pub fn close(mut self) {
        self.stopped = Some(CloseReason::Normal);
        if let Some(mut conn) = self.conn.take() {
            let _ = conn.command(|c, now| c.close(now));
            let deadline = Instant::now() + Duration::from_secs(5);
            while let Ok(Next::Event(_)) = conn.next_event_until(deadline) {}
        }
    }
}
