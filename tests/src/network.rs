//! Many client/server pairs behind one router: a whole small server in
//! memory, with one simulated clock.

use std::time::Duration;

use xmpp_proto::client::{Client, ClientConfig};
use xmpp_proto::router::{BindOutcome, DetachedSessions, Queued, Routed, Router, SessionId};
use xmpp_proto::server::{self, Server};
use xmpp_proto::stanza::DefinedCondition;
use xmpp_proto::stream_error::StreamErrorCondition;
use xmpp_proto::xml::Element;

use crate::{Accounts, Pair, seeded_random};
use xmpp_proto::endpoint::Endpoint;
use xmpp_proto::server::ServerEvent;
use xmpp_proto::time::Time;

/// Clients connected to one in-memory server: each connection is a
/// [`Pair`], session ids are connection indices, and a [`Router`] moves
/// stanzas between the server sides.
pub struct Network {
    /// The router all sessions share.
    pub router: Router,
    /// The connections, indexed by `SessionId.0`.
    pub pairs: Vec<Pair>,
    /// The user database every server side asks.
    pub accounts: Accounts,
    /// Messages the router handed out for storage (`OfflinePolicy::Store`).
    pub offline: Vec<Element>,
    /// The simulated time.
    pub now: Time,
    /// Stream-managed sessions whose connection broke, kept until they
    /// expire or are resumed.
    pub detached: DetachedSessions,
    /// Server events already handled, per connection.
    handled: Vec<usize>,
}

impl Network {
    /// An empty network around `router`, with `juliet`, `romeo` and `nurse`
    /// (password `secret`) as accounts.
    pub fn new(router: Router) -> Self {
        // Deriving stored keys costs 9 PBKDF2 runs: once per process.
        static ACCOUNTS: std::sync::OnceLock<Accounts> = std::sync::OnceLock::new();
        let accounts = ACCOUNTS
            .get_or_init(|| {
                let mut accounts = Accounts::default();
                for user in ["juliet", "romeo", "nurse"] {
                    accounts.add(user, "secret");
                }
                accounts
            })
            .clone();
        Network {
            router,
            pairs: Vec::new(),
            accounts,
            offline: Vec::new(),
            now: Time::ZERO,
            detached: DetachedSessions::new(),
            handled: Vec::new(),
        }
    }

    /// Connects a client and runs until everything settles; returns its
    /// session id.
    pub fn connect(&mut self, client: ClientConfig) -> SessionId {
        let server_config = Pair::server_config();
        self.connect_to(client, server_config)
    }

    /// Connects a client to a server side with this configuration (its
    /// random source is replaced by a seeded one).
    pub fn connect_to(&mut self, client: ClientConfig, server: server::ServerConfig) -> SessionId {
        let id = SessionId(self.pairs.len() as u64);
        // Even seeds: `Rng::new` ignores the lowest bit of a seed.
        let seed = 100 + 2 * id.0;
        let server_config = server.with_random(seeded_random(seed));
        let mut pair = Pair::new(
            client.with_random(seeded_random(seed + 1000)),
            server_config,
        );
        pair.now = self.now;
        pair.accounts = self.accounts.clone();
        pair.auto_bind = false;
        self.pairs.push(pair);
        self.handled.push(0);
        self.run();
        id
    }

    /// Connects `user` (password `secret`) with `resource`.
    pub fn login(&mut self, user: &str, resource: &str) -> SessionId {
        self.connect(Pair::client_config(user, "secret").with_resource(resource))
    }

    /// The client of a connection.
    pub fn client(&mut self, id: SessionId) -> &mut Client {
        &mut self.pair(id).client
    }

    /// The server side of a connection.
    pub fn server(&mut self, id: SessionId) -> &mut Server {
        &mut self.pair(id).server
    }

    /// A connection.
    pub fn pair(&mut self, id: SessionId) -> &mut Pair {
        let index = usize::try_from(id.0).expect("small ids");
        &mut self.pairs[index]
    }

    /// Runs every connection and the router until nothing moves.
    pub fn run(&mut self) {
        loop {
            let mut moved = false;
            for index in 0..self.pairs.len() {
                self.pairs[index].now = self.now;
                moved |= self.pairs[index].run();
                moved |= self.handle_server_events(index);
            }
            if !moved {
                break;
            }
        }
    }

    /// Advances the clock, fires every timer, expires detached sessions,
    /// and runs.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        for pair in &mut self.pairs {
            pair.now = self.now;
            pair.client.handle_timeout(self.now);
            pair.server.handle_timeout(self.now);
        }
        while let Some((session, mut state)) = self.detached.pop_expired(self.now) {
            let mut out = Vec::new();
            self.router
                .expire(session, state.unacked.take_all(), &mut out);
            self.dispatch(out);
        }
        self.run();
    }

    /// Cuts a connection (both sides see it end) and runs.
    pub fn cut(&mut self, id: SessionId) {
        self.pair(id).cut();
        self.run();
    }

    /// Hands routed stanzas to their sessions: live ones send them,
    /// detached ones queue them; what a session cannot take goes to the
    /// account's other resources once, then is bounced.
    fn dispatch(&mut self, mut out: Vec<Routed>) {
        let mut rerouted = false;
        while !out.is_empty() {
            let mut failed = Vec::new();
            for routed in out.drain(..) {
                match routed {
                    Routed::Deliver { session, stanza } => {
                        let stanza = match self.detached.queue(session, stanza) {
                            Queued::Kept => continue,
                            Queued::Full(stanza) => stanza,
                            Queued::NotDetached(stanza) => {
                                let now = self.now;
                                match self.pair(session).server.deliver(now, stanza) {
                                    Ok(()) => continue,
                                    Err(refused) => refused.stanza,
                                }
                            }
                        };
                        failed.push((session, stanza));
                    }
                    Routed::Offline { message, .. } => self.offline.push(message),
                }
            }
            for (session, stanza) in failed {
                if rerouted {
                    self.router.bounce(vec![stanza], &mut out);
                } else {
                    self.router
                        .undeliverable_from(session, vec![stanza], &mut out);
                }
            }
            rerouted = true;
        }
    }

    /// Answers a `<resume/>` on connection `id`: the detached session it
    /// names, or the live one the server has not noticed dead.
    fn resume(&mut self, id: SessionId, previd: &str) {
        let now = self.now;
        let Some(user) = self.server(id).user().cloned() else {
            return;
        };
        let mut found = self.detached.take(previd, &user, now);
        if found.is_none() {
            let live = (0..self.pairs.len())
                .find(|i| *i as u64 != id.0 && self.pairs[*i].server.sm_id() == Some(previd));
            if let Some(i) = live {
                found = self.pairs[i]
                    .server
                    .take_session(now)
                    .map(|state| (SessionId(i as u64), state));
            }
        }
        let Some((old, state)) = found else {
            let _ = self.server(id).reject_resume(now);
            return;
        };
        match self.server(id).accept_resume(now, state) {
            Ok(()) => {
                self.router.reattach(old, id);
            }
            Err(state) => self.detached.restore(old, *state, now),
        }
    }

    fn handle_server_events(&mut self, index: usize) -> bool {
        let id = SessionId(index as u64);
        let mut moved = false;
        while self.handled[index] < self.pairs[index].server_events.len() {
            let event = self.pairs[index].server_events[self.handled[index]].clone();
            self.handled[index] += 1;
            moved = true;
            let mut out = Vec::new();
            match event {
                ServerEvent::BindRequest { jid, .. } => {
                    let now = self.now;
                    match self.router.bind(id, &jid) {
                        BindOutcome::Bound => {
                            let _ = self.pairs[index].server.accept_bind(now);
                        }
                        BindOutcome::Refused => {
                            let _ = self.pairs[index]
                                .server
                                .reject_bind(now, DefinedCondition::Conflict);
                        }
                        BindOutcome::Replaced { old } => {
                            let _ = self.pairs[index].server.accept_bind(now);
                            self.pair(old).server.close_with_error(
                                now,
                                StreamErrorCondition::Conflict,
                                None,
                            );
                        }
                    }
                }
                ServerEvent::Stanza(stanza) => self.router.route(id, stanza, &mut out),
                ServerEvent::Detached(state) => {
                    if let Some((gone, mut state)) = self.detached.detach(id, *state, self.now) {
                        self.router.expire(gone, state.unacked.take_all(), &mut out);
                    }
                }
                ServerEvent::Undelivered { stanzas } => {
                    self.router.undeliverable_from(id, stanzas, &mut out)
                }
                ServerEvent::ResumeRequest { previd, .. } => self.resume(id, &previd),
                ServerEvent::Closed { .. } if !self.detached.contains(id) => {
                    self.router.unbind(id, &mut out)
                }
                _ => {}
            }
            self.dispatch(out);
        }
        moved
    }
}
