//! Many client/server pairs behind one router: a whole small server in
//! memory, with one simulated clock.

use std::time::{Duration, Instant};

use xmpp_proto::client::{Client, ClientConfig};
use xmpp_proto::router::{BindOutcome, Routed, Router, SessionId};
use xmpp_proto::server::{self, Server};
use xmpp_proto::stanza::DefinedCondition;
use xmpp_proto::stream_error::StreamErrorCondition;
use xmpp_proto::xml::Element;

use crate::{Accounts, Pair, seeded_random};

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
    pub now: Instant,
    /// Server events already handled, per connection.
    handled: Vec<usize>,
}

impl Network {
    /// An empty network around `router`, with `juliet`, `romeo` and `nurse`
    /// (password `secret`) as accounts.
    pub fn new(router: Router) -> Self {
        let mut accounts = Accounts::default();
        for user in ["juliet", "romeo", "nurse"] {
            accounts.add(user, "secret");
        }
        Network {
            router,
            pairs: Vec::new(),
            accounts,
            offline: Vec::new(),
            now: Instant::now(),
            handled: Vec::new(),
        }
    }

    /// Connects a client and runs until everything settles; returns its
    /// session id.
    pub fn connect(&mut self, client: ClientConfig) -> SessionId {
        let id = SessionId(self.pairs.len() as u64);
        let seed = 100 + id.0;
        let server_config = Pair::server_config().with_random(seeded_random(seed));
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

    /// Advances the clock, fires every timer, and runs.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        for pair in &mut self.pairs {
            pair.now = self.now;
            pair.client.handle_timeout(self.now);
            pair.server.handle_timeout(self.now);
        }
        self.run();
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
                server::Event::BindRequest { jid, .. } => {
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
                server::Event::Stanza(stanza) => self.router.route(id, stanza, &mut out),
                server::Event::Closed { .. } => self.router.unbind(id, &mut out),
                _ => {}
            }
            for routed in out {
                match routed {
                    Routed::Deliver { session, stanza } => {
                        let now = self.now;
                        let _ = self.pair(session).server.send(now, stanza);
                    }
                    Routed::Offline { message, .. } => self.offline.push(message),
                }
            }
        }
        moved
    }
}
