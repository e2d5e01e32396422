//! Many client/server pairs behind one [`Hub`]: a whole small server in
//! memory, with one simulated clock. The loop only moves events to the
//! hub and commands to the sessions; every decision is the hub's.

use std::time::Duration;

use xmpp_proto::client::{Client, ClientConfig, ClientEvent, StanzaId};
use xmpp_proto::component::{Component, ComponentConfig, ComponentEvent, ComponentTls};
use xmpp_proto::endpoint::{Endpoint, Transmit};
use xmpp_proto::hub::{Hub, HubEvent};
use xmpp_proto::router::{Router, SessionId};
use xmpp_proto::server::{self, Server};
use xmpp_proto::stanza::DefinedCondition;
use xmpp_proto::time::Time;
use xmpp_proto::xml::Element;

use crate::{DOMAIN, Pair, TestAccounts, seeded_random};

/// Clients connected to one in-memory server: each connection is a
/// [`Pair`], session ids are connection indices, and a [`Hub`] decides
/// for all server sides.
pub struct Network {
    /// The hub all sessions share.
    pub hub: Hub,
    /// The connections, indexed by `SessionId.0`.
    pub pairs: Vec<Pair>,
    /// The user database every server side asks.
    pub accounts: TestAccounts,
    /// Messages the hub handed out for storage (`OfflinePolicy::Store`).
    pub offline: Vec<Element>,
    /// The hub's other events (roster changes to keep), in order.
    pub hub_events: Vec<HubEvent>,
    /// The simulated time.
    pub now: Time,
    /// Server events already given to the hub, per connection.
    handled: Vec<usize>,
    /// External components attached to the hub; their session ids start
    /// at [`COMPONENT_IDS`].
    pub components: Vec<ComponentLink>,
}

/// The first session id of a component link (client connections count
/// up from 0).
pub const COMPONENT_IDS: u64 = 1 << 32;

/// An external component (XEP-0114) and the server side of its stream,
/// behind the network's hub; bytes move whole, without TLS.
pub struct ComponentLink {
    /// The component.
    pub component: Component,
    /// The server side, made with `ServerConfig::for_components`.
    pub server: Server,
    /// Every event the component reported, in order.
    pub events: Vec<ComponentEvent>,
    /// The connection is up (not cut).
    connected: bool,
}

impl ComponentLink {
    /// The bodies of the messages the component received, in order.
    pub fn bodies(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                ComponentEvent::Message(m) => m.body().map(|b| b.into_owned()),
                _ => None,
            })
            .collect()
    }

    /// Whether the component is online.
    pub fn is_online(&self) -> bool {
        self.component.is_online()
    }

    /// Moves bytes both ways and the component's events; whether anything
    /// moved. The server's events are left for the hub.
    fn shuttle(&mut self, now: Time) -> bool {
        let mut moved = false;
        if self.connected {
            moved |= carry(&mut self.component, &mut self.server, now);
            moved |= carry(&mut self.server, &mut self.component, now);
        } else {
            moved |= drop_all(&mut self.component) | drop_all(&mut self.server);
        }
        while let Some(event) = self.component.poll_event() {
            self.events.push(event);
            moved = true;
        }
        moved
    }
}

/// Hands everything `from` transmits to `to`; the end of `from`'s output
/// is the end of `to`'s input.
fn carry<A: Endpoint, B: Endpoint>(from: &mut A, to: &mut B, now: Time) -> bool {
    let mut moved = false;
    while let Some(t) = from.poll_transmit() {
        moved = true;
        match t {
            Transmit::Data(d) => {
                let n = d.len();
                let bytes = d.to_vec();
                from.consume_transmit(n);
                let _ = to.handle_input(now, &bytes);
            }
            Transmit::StartTls => {}
            Transmit::Shutdown => to.handle_eof(now),
        }
    }
    moved
}

/// Throws away what a cut connection's endpoint still transmits.
fn drop_all<A: Endpoint>(endpoint: &mut A) -> bool {
    let mut moved = false;
    while let Some(t) = endpoint.poll_transmit() {
        moved = true;
        if let Transmit::Data(d) = t {
            let n = d.len();
            endpoint.consume_transmit(n);
        }
    }
    moved
}

impl Network {
    /// An empty network around `hub`, with `juliet`, `romeo` and `nurse`
    /// (password `secret`) as accounts.
    pub fn new(hub: Hub) -> Self {
        // Deriving stored keys costs 9 PBKDF2 runs: once per process.
        static ACCOUNTS: std::sync::OnceLock<TestAccounts> = std::sync::OnceLock::new();
        let accounts = ACCOUNTS
            .get_or_init(|| {
                let mut accounts = TestAccounts::default();
                for user in ["juliet", "romeo", "nurse"] {
                    accounts.add(user, "secret");
                }
                accounts
            })
            .clone();
        let mut hub = hub;
        for user in ["juliet", "romeo", "nurse"] {
            let account =
                xmpp_proto::jid::BareJid::new(&format!("{user}@{DOMAIN}")).expect("valid account");
            // Known to exist, as a server's store would tell the hub.
            hub.add_account(&account);
        }
        Network {
            hub,
            pairs: Vec::new(),
            accounts,
            offline: Vec::new(),
            hub_events: Vec::new(),
            now: Time::ZERO,
            handled: Vec::new(),
            components: Vec::new(),
        }
    }

    /// A network with a hub for the test domain and its default policies.
    pub fn with_defaults() -> Self {
        Network::new(Hub::new(DOMAIN).expect("valid domain"))
    }

    /// The router of the hub (who is bound where).
    pub fn router(&self) -> &Router {
        self.hub.router()
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
        pair.step_server_events = true;
        self.pairs.push(pair);
        self.handled.push(0);
        self.run();
        id
    }

    /// Attaches a component for `domain` with `secret` (the hub must know
    /// the domain: `Hub::with_component`), and runs until everything
    /// settles; returns its session id.
    pub fn attach_component(&mut self, domain: &str, secret: &str) -> SessionId {
        let index = self.components.len() as u64;
        let id = SessionId(COMPONENT_IDS + index);
        let config = ComponentConfig::new(domain, secret)
            .expect("valid component domain")
            .with_tls(ComponentTls::Plaintext)
            .with_random(seeded_random(5000 + 2 * index));
        let server = server::ServerConfig::new(DOMAIN)
            .expect("valid domain")
            .for_components()
            .with_random(seeded_random(6000 + 2 * index));
        self.components.push(ComponentLink {
            component: Component::new(config, self.now),
            server: Server::new(server, self.now),
            events: Vec::new(),
            connected: true,
        });
        self.run();
        id
    }

    /// A component link by its session id.
    pub fn component(&mut self, id: SessionId) -> &mut ComponentLink {
        let index = usize::try_from(id.0 - COMPONENT_IDS).expect("small ids");
        &mut self.components[index]
    }

    /// Cuts a component's connection (both sides see it end) and runs.
    pub fn cut_component(&mut self, id: SessionId) {
        let now = self.now;
        let link = self.component(id);
        link.connected = false;
        link.component.handle_eof(now);
        link.server.handle_eof(now);
        self.run();
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

    /// The bodies of the messages connection `id`'s client received, in
    /// order.
    pub fn bodies(&mut self, id: SessionId) -> Vec<String> {
        self.pair(id)
            .client_events
            .iter()
            .filter_map(|e| match e {
                ClientEvent::Message(m) => m.body().map(|b| b.into_owned()),
                _ => None,
            })
            .collect()
    }

    /// The errors that came back to connection `id` for stanzas it sent:
    /// (the id it sent, the condition).
    pub fn bounces(&mut self, id: SessionId) -> Vec<(StanzaId, DefinedCondition)> {
        self.pair(id)
            .client_events
            .iter()
            .filter_map(|e| match e {
                ClientEvent::Bounced { id, error, .. } => Some((id.clone(), error.condition)),
                _ => None,
            })
            .collect()
    }

    /// A connection.
    pub fn pair(&mut self, id: SessionId) -> &mut Pair {
        let index = usize::try_from(id.0).expect("small ids");
        &mut self.pairs[index]
    }

    /// Runs every connection and the hub until nothing moves.
    pub fn run(&mut self) {
        loop {
            let mut moved = false;
            for index in 0..self.pairs.len() {
                self.pairs[index].now = self.now;
                moved |= self.pairs[index].run();
                moved |= self.feed_hub(index);
            }
            for index in 0..self.components.len() {
                moved |= self.components[index].shuttle(self.now);
                moved |= self.feed_hub_from_component(index);
            }
            if !moved {
                break;
            }
        }
    }

    /// Advances the clock, fires every timer (the hub's too), and runs.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        for pair in &mut self.pairs {
            pair.now = self.now;
            pair.client.handle_timeout(self.now);
            pair.server.handle_timeout(self.now);
        }
        for link in &mut self.components {
            link.component.handle_timeout(self.now);
            link.server.handle_timeout(self.now);
        }
        self.hub.handle_timeout(self.now);
        self.apply_commands();
        self.run();
    }

    /// Cuts a connection (both sides see it end) and runs.
    pub fn cut(&mut self, id: SessionId) {
        self.pair(id).cut();
        self.run();
    }

    /// Gives the hub the server events of connection `index` it has not
    /// seen, applying what it decides after each.
    fn feed_hub(&mut self, index: usize) -> bool {
        let id = SessionId(index as u64);
        let mut moved = false;
        while self.handled[index] < self.pairs[index].server_events.len() {
            let event = self.pairs[index].server_events[self.handled[index]].clone();
            self.handled[index] += 1;
            moved = true;
            if let Some(element) = self.hub.handle_event(self.now, id, event) {
                self.pairs[index].server.recycle(element);
            }
            self.apply_commands();
        }
        moved
    }

    /// Gives the hub the events of component link `index`'s server side.
    fn feed_hub_from_component(&mut self, index: usize) -> bool {
        let id = SessionId(COMPONENT_IDS + index as u64);
        let mut moved = false;
        while let Some(event) = self.components[index].server.poll_event() {
            moved = true;
            if let Some(element) = self.hub.handle_event(self.now, id, event) {
                self.components[index].server.recycle(element);
            }
            self.apply_commands();
        }
        moved
    }

    /// Applies the hub's commands (and the feedback they produce) and
    /// keeps what it hands out for storage.
    fn apply_commands(&mut self) {
        loop {
            while let Some((session, command)) = self.hub.poll_command() {
                let now = self.now;
                let server = if session.0 >= COMPONENT_IDS {
                    usize::try_from(session.0 - COMPONENT_IDS)
                        .ok()
                        .and_then(|i| self.components.get_mut(i))
                        .map(|link| &mut link.server)
                } else {
                    self.pairs
                        .get_mut(session.0 as usize)
                        .map(|pair| &mut pair.server)
                };
                let feedback = match server {
                    Some(server) => server.apply(now, command),
                    None => command.unapplied(),
                };
                if let Some(feedback) = feedback {
                    self.hub.handle_feedback(now, session, feedback);
                }
            }
            match self.hub.poll_event() {
                Some(HubEvent::StoreOffline { message, .. }) => self.offline.push(message),
                Some(other) => self.hub_events.push(other),
                None => break,
            }
        }
    }
}
