//! Two federating servers in memory, each a `Hub` with its sessions,
//! connected byte for byte with TLS simulated (the facts a TLS layer
//! would report, certificate names included): messages across, dialback
//! when certificates do not vouch, SASL EXTERNAL when they do, refusals
//! by policy, a peer that lies about `from`, and a link that never comes.

use std::collections::BTreeMap;
use std::time::Duration;

use xmpp_proto::endpoint::{CloseReason, Endpoint, Transmit};
use xmpp_proto::hub::{Hub, HubEvent, ServerCommand};
use xmpp_proto::jid::BareJid;
use xmpp_proto::jid::FullJid;
use xmpp_proto::roster::Subscription;
use xmpp_proto::router::SessionId;
use xmpp_proto::s2s::{Federation, S2sAuth, S2sPolicy};
use xmpp_proto::server::ServerEvent;
use xmpp_proto::stanza::{Message, MessageType, Presence, PresenceType, Stanza, WireStanza};
use xmpp_proto::stream_error::StreamErrorCondition;
use xmpp_proto::tls::{TlsInfo, TlsVersion};
use xmpp_proto::xml::{Element, ns};
use xmpp_proto::{Server, ServerConfig, Time};

/// What each side's certificate is good for.
#[derive(Clone)]
struct Certs {
    /// Names the initiating side's client certificate verifies for.
    client: Vec<String>,
    /// Names the receiving side's certificate verifies for.
    server: Vec<String>,
}

/// One server of the pair.
struct Node {
    domain: String,
    hub: Hub,
    federation: Federation,
    /// Stanzas delivered to local users, by session.
    inbox: BTreeMap<u64, Vec<WireStanza>>,
    /// Every `S2sAuthenticated` seen.
    proved: Vec<(String, S2sAuth)>,
    /// Every `Closed` reason of an s2s session.
    closed: Vec<CloseReason>,
}

/// A connection: `initiator` is node `from`'s link session, `receiver`
/// node `1 - from`'s for_federation session.
struct Wire {
    from: usize,
    initiator: (SessionId, Server),
    receiver: (SessionId, Server),
    tls_asked: [bool; 2],
    certs: Certs,
    /// Bytes the initiator's side wrote that the receiver has not read
    /// (and the other way), for tests that tamper.
    up: Vec<u8>,
    down: Vec<u8>,
}

struct Net {
    nodes: [Node; 2],
    wires: Vec<Wire>,
    next_id: u64,
    now: Time,
    /// What each side's certificate is good for, per initiating node.
    certs: [Certs; 2],
    /// Domains the transport cannot reach.
    unreachable: Vec<String>,
    /// Links asked for and left hanging (never connected).
    hanging: Vec<String>,
}

/// A server on `domain`, with a room service on `rooms.<domain>`.
fn node(domain: &str, policy: S2sPolicy, secret: &str) -> Node {
    let rooms = format!("rooms.{domain}");
    Node {
        domain: domain.into(),
        hub: Hub::new(domain)
            .unwrap()
            .with_federation(4096)
            .with_rooms(&rooms, [7; 16])
            .unwrap(),
        federation: Federation::new(secret).with_policy(policy).serving(rooms),
        inbox: BTreeMap::new(),
        proved: Vec::new(),
        closed: Vec::new(),
    }
}

fn good_certs() -> [Certs; 2] {
    [
        Certs {
            client: vec!["a.example".into()],
            server: vec!["b.example".into()],
        },
        Certs {
            client: vec!["b.example".into()],
            server: vec!["a.example".into()],
        },
    ]
}

/// Certificates that verify for nothing (self-signed, expired, ...).
fn no_certs() -> [Certs; 2] {
    [
        Certs {
            client: vec![],
            server: vec!["b.example".into()],
        },
        Certs {
            client: vec![],
            server: vec!["a.example".into()],
        },
    ]
}

impl Net {
    fn new(policy: S2sPolicy, certs: [Certs; 2]) -> Self {
        Net {
            nodes: [
                node("a.example", policy, "secret of a"),
                node("b.example", policy, "secret of b"),
            ],
            wires: Vec::new(),
            next_id: 100,
            now: Time::ZERO,
            certs,
            unreachable: Vec::new(),
            hanging: Vec::new(),
        }
    }

    /// Both servers with bidirectional streams (XEP-0288) on or off.
    fn with_bidi(mut self, bidi: bool) -> Self {
        for node in &mut self.nodes {
            node.federation = node.federation.clone().with_bidi(bidi);
        }
        self
    }

    /// Binds a local user on node `n`; returns its session.
    fn user(&mut self, n: usize, jid: &str) -> SessionId {
        let session = SessionId(self.next_id);
        self.next_id += 1;
        let jid = FullJid::new(jid).unwrap();
        self.nodes[n].hub.add_account(&jid.to_bare());
        self.nodes[n].hub.handle_event(
            self.now,
            session,
            ServerEvent::BindRequest {
                jid,
                requested: true,
            },
        );
        self.nodes[n].inbox.insert(session.0, Vec::new());
        self.settle();
        session
    }

    /// A presence from a local user's session (`to` and `kind` optional).
    fn presence(
        &mut self,
        n: usize,
        session: SessionId,
        from: &str,
        to: Option<&str>,
        kind: PresenceType,
    ) {
        let mut p = Presence::builder(kind);
        if let Some(to) = to {
            p = p.to(to);
        }
        // As the session's Server stamps it.
        let mut el = p.build().into_element();
        el.set_attr("from", from);
        let stanza = Stanza::from_element(el).unwrap();
        self.nodes[n]
            .hub
            .handle_event(self.now, session, ServerEvent::Stanza(stanza));
        self.settle();
    }

    /// A group chat message from a local occupant to room verona on a.
    fn send_groupchat(&mut self, n: usize, session: SessionId, from: &str, body: &str) {
        let msg = Message::builder(MessageType::Groupchat)
            .from(from)
            .to("verona@rooms.a.example")
            .body(body)
            .build();
        self.nodes[n].hub.handle_event(
            self.now,
            session,
            ServerEvent::Stanza(Stanza::Message(msg)),
        );
        self.settle();
    }

    /// Juliet (on a) writes to Romeo (on b).
    fn juliet_writes(&mut self, juliet: SessionId, body: &str) {
        self.send(
            0,
            juliet,
            "juliet@a.example/balcony",
            "romeo@b.example/orchard",
            body,
        );
    }

    /// Romeo (on b) writes to Juliet (on a).
    fn romeo_writes(&mut self, romeo: SessionId, body: &str) {
        self.send(
            1,
            romeo,
            "romeo@b.example/orchard",
            "juliet@a.example/balcony",
            body,
        );
    }

    fn send(&mut self, n: usize, session: SessionId, from: &str, to: &str, body: &str) {
        let msg = Message::builder(MessageType::Chat)
            .id(&body[..body.len().min(16)])
            .from(from)
            .to(to)
            .body(body)
            .build();
        self.nodes[n].hub.handle_event(
            self.now,
            session,
            ServerEvent::Stanza(Stanza::Message(msg)),
        );
        self.settle();
    }

    /// Opens a wire from node `from`'s main domain to the other's.
    fn connect(&mut self, from: usize) {
        let federation = self.nodes[from].federation.clone();
        let local = self.nodes[from].domain.clone();
        let remote = self.nodes[1 - from].domain.clone();
        self.connect_with(from, &local, &remote, federation);
    }

    /// Opens a wire from node `from` (for its domain `local`) to the
    /// other (for its domain `remote`), the link made with `federation`
    /// (a forged secret, say).
    fn connect_with(&mut self, from: usize, local: &str, remote: &str, federation: Federation) {
        let to = 1 - from;
        let link_id = SessionId(self.next_id);
        let recv_id = SessionId(self.next_id + 1);
        self.next_id += 2;
        let link = Server::new(
            ServerConfig::new(local)
                .unwrap()
                .for_remote_domain(remote, federation)
                .unwrap(),
            self.now,
        );
        let receiver = Server::new(
            ServerConfig::new(&self.nodes[to].domain)
                .unwrap()
                .for_federation(self.nodes[to].federation.clone()),
            self.now,
        );
        self.nodes[from]
            .hub
            .remote_connecting(link_id, local, remote);
        self.wires.push(Wire {
            from,
            initiator: (link_id, link),
            receiver: (recv_id, receiver),
            tls_asked: [false; 2],
            certs: self.certs[from].clone(),
            up: Vec::new(),
            down: Vec::new(),
        });
    }

    /// Moves bytes, events and commands until nothing moves.
    fn settle(&mut self) {
        for _ in 0..10_000 {
            if !self.step() {
                return;
            }
        }
        panic!("the pair did not settle");
    }

    fn step(&mut self) -> bool {
        let mut moved = false;
        for n in 0..2 {
            while let Some(event) = self.nodes[n].hub.poll_event() {
                moved = true;
                if let HubEvent::ConnectRemote { local, domain } = event {
                    if self.unreachable.contains(&domain) {
                        self.nodes[n]
                            .hub
                            .remote_unreachable(self.now, &local, &domain);
                    } else if self.hanging.contains(&domain) {
                    } else {
                        let federation = self.nodes[n].federation.clone();
                        self.connect_with(n, &local, &domain, federation);
                    }
                }
            }
            while let Some((session, command)) = self.nodes[n].hub.poll_command() {
                moved = true;
                self.apply(n, session, command);
            }
        }
        for w in 0..self.wires.len() {
            moved |= self.pump(w);
        }
        moved
    }

    fn apply(&mut self, n: usize, session: SessionId, command: ServerCommand) {
        if let Some(inbox) = self.nodes[n].inbox.get_mut(&session.0) {
            if let ServerCommand::Deliver(d) = command {
                inbox.push(d.stanza().clone());
            }
            return;
        }
        let now = self.now;
        let server = self.wires.iter_mut().find_map(|w| {
            if w.from == n && w.initiator.0 == session {
                Some(&mut w.initiator.1)
            } else if w.from != n && w.receiver.0 == session {
                Some(&mut w.receiver.1)
            } else {
                None
            }
        });
        let feedback = match server {
            Some(server) => server.apply(now, command),
            None => command.unapplied(),
        };
        if let Some(feedback) = feedback {
            self.nodes[n].hub.handle_feedback(now, session, feedback);
        }
    }

    /// One round on wire `w`: bytes both ways, TLS, events to the hubs.
    fn pump(&mut self, w: usize) -> bool {
        let now = self.now;
        let mut moved = false;
        let wire = &mut self.wires[w];
        for side in 0..2 {
            let server = if side == 0 {
                &mut wire.initiator.1
            } else {
                &mut wire.receiver.1
            };
            loop {
                match server.poll_transmit() {
                    Some(Transmit::Data(d)) => {
                        let d = d.to_vec();
                        server.consume_transmit(d.len());
                        if side == 0 {
                            wire.up.extend_from_slice(&d);
                        } else {
                            wire.down.extend_from_slice(&d);
                        }
                    }
                    Some(Transmit::StartTls) => wire.tls_asked[side] = true,
                    Some(Transmit::Shutdown) | None => break,
                }
            }
        }
        if !wire.up.is_empty() {
            moved = true;
            let data = std::mem::take(&mut wire.up);
            let _ = wire.receiver.1.handle_input(now, &data);
        }
        if !wire.down.is_empty() {
            moved = true;
            let data = std::mem::take(&mut wire.down);
            let _ = wire.initiator.1.handle_input(now, &data);
        }
        if wire.tls_asked == [true, true] {
            moved = true;
            wire.tls_asked = [false, false];
            let client = TlsInfo::new(TlsVersion::Tls13).with_peer_names(wire.certs.server.clone());
            let server = TlsInfo::new(TlsVersion::Tls13).with_peer_names(wire.certs.client.clone());
            let _ = wire.initiator.1.handle_tls_established(now, client);
            let _ = wire.receiver.1.handle_tls_established(now, server);
        }
        let from = wire.from;
        let (link_id, recv_id) = (wire.initiator.0, wire.receiver.0);
        let mut link_events = Vec::new();
        while let Some(e) = wire.initiator.1.poll_event() {
            link_events.push(e);
        }
        let mut recv_events = Vec::new();
        while let Some(e) = wire.receiver.1.poll_event() {
            recv_events.push(e);
        }
        for (n, session, events) in [
            (from, link_id, link_events),
            (1 - from, recv_id, recv_events),
        ] {
            for event in events {
                moved = true;
                match &event {
                    ServerEvent::S2sAuthenticated { domain, method, .. } => {
                        self.nodes[n].proved.push((domain.clone(), *method));
                    }
                    ServerEvent::Closed { reason } => self.nodes[n].closed.push(reason.clone()),
                    _ => {}
                }
                self.nodes[n].hub.handle_event(now, session, event);
            }
        }
        moved
    }

    /// Moves the clock to `now` and fires every timer due.
    fn tick(&mut self, now: Time) {
        self.now = now;
        for wire in &mut self.wires {
            wire.initiator.1.handle_timeout(now);
            wire.receiver.1.handle_timeout(now);
        }
        for node in &mut self.nodes {
            node.hub.handle_timeout(now);
        }
        self.settle();
    }

    fn inbox(&self, n: usize, session: SessionId) -> Vec<String> {
        self.nodes[n].inbox[&session.0]
            .iter()
            .map(|s| String::from_utf8(s.as_bytes().to_vec()).unwrap())
            .collect()
    }
}

#[test]
fn messages_cross_both_ways_with_certificates() {
    let mut net = Net::new(S2sPolicy::RequireCertificate, good_certs()).with_bidi(false);
    let juliet = net.user(0, "juliet@a.example/balcony");
    let romeo = net.user(1, "romeo@b.example/orchard");
    net.juliet_writes(juliet, "wherefore");
    let got = net.inbox(1, romeo);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].contains("from='juliet@a.example/balcony'"),
        "{got:?}"
    );
    assert!(got[0].contains("<body>wherefore</body>"), "{got:?}");
    assert_eq!(
        net.nodes[1].proved,
        vec![("a.example".into(), S2sAuth::External)]
    );
    // The answer opens the other direction's link.
    net.romeo_writes(romeo, "here");
    let got = net.inbox(0, juliet);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].contains("<body>here</body>"), "{got:?}");
    assert_eq!(net.wires.len(), 2, "one link each way, reused");
    // More traffic reuses the links.
    net.juliet_writes(juliet, "again");
    assert_eq!(net.inbox(1, romeo).len(), 2);
    assert_eq!(net.wires.len(), 2);
}

#[test]
fn dialback_proves_a_domain_without_certificates_when_allowed() {
    let mut net = Net::new(S2sPolicy::AllowDialback, no_certs());
    let juliet = net.user(0, "juliet@a.example/balcony");
    let romeo = net.user(1, "romeo@b.example/orchard");
    net.juliet_writes(juliet, "by dialback");
    let got = net.inbox(1, romeo);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        net.nodes[1]
            .proved
            .contains(&("a.example".into(), S2sAuth::Dialback)),
        "{:?}",
        net.nodes[1].proved
    );
    // b checked a's key over its own link to a, which a proved in turn.
    assert!(
        net.nodes[0]
            .proved
            .contains(&("b.example".into(), S2sAuth::Dialback)),
        "{:?}",
        net.nodes[0].proved
    );
}

/// Everything `server` wrote since the last call.
fn written(server: &mut Server) -> String {
    let mut out = Vec::new();
    while let Some(Transmit::Data(d)) = server.peek_transmit() {
        out.extend_from_slice(d);
        let n = d.len();
        server.consume_transmit(n);
    }
    String::from_utf8(out).unwrap()
}

const PEER_HEADER: &[u8] =
    b"<stream:stream xmlns='jabber:server' xmlns:db='jabber:server:dialback' \
    xmlns:stream='http://etherx.jabber.org/streams' from='a.example' to='b.example' version='1.0'>";

/// A receiving server past STARTTLS with a peer whose certificate names
/// `names`.
fn receiving_after_tls(policy: S2sPolicy, names: &[&str]) -> Server {
    let config = ServerConfig::new("b.example").unwrap().for_federation(
        Federation::new("secret")
            .with_policy(policy)
            .serving("rooms.b.example"),
    );
    let mut server = Server::new(config, Time::ZERO);
    server.handle_input(Time::ZERO, PEER_HEADER).unwrap();
    let features = written(&mut server);
    assert!(features.contains("<starttls"), "{features}");
    assert!(
        !features.contains("dialback xmlns"),
        "nothing before TLS: {features}"
    );
    server
        .handle_input(
            Time::ZERO,
            b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
        )
        .unwrap();
    assert!(written(&mut server).contains("<proceed"));
    assert_eq!(server.poll_transmit(), Some(Transmit::StartTls));
    let names = names.iter().map(|n| n.to_string()).collect();
    server
        .handle_tls_established(
            Time::ZERO,
            TlsInfo::new(TlsVersion::Tls13).with_peer_names(names),
        )
        .unwrap();
    server.handle_input(Time::ZERO, PEER_HEADER).unwrap();
    server
}

#[test]
fn a_certified_stream_gets_external_and_dialback_without_a_check() {
    let mut server = receiving_after_tls(
        S2sPolicy::RequireCertificate,
        &["a.example", "chat.a.example"],
    );
    let features = written(&mut server);
    assert!(
        features.contains("<mechanism>EXTERNAL</mechanism>"),
        "{features}"
    );
    assert!(
        features.contains("urn:xmpp:features:dialback"),
        "{features}"
    );
    // Dialback on a stream whose certificate names the domain: valid at
    // once, whatever the key (XEP-0344).
    server
        .handle_input(
            Time::ZERO,
            b"<db:result from='a.example' to='b.example'>00</db:result>",
        )
        .unwrap();
    let answer = written(&mut server);
    assert!(answer.contains("type='valid'"), "{answer}");
    // Piggybacking: a second domain of the certificate, to our second
    // domain.
    server
        .handle_input(
            Time::ZERO,
            b"<db:result from='chat.a.example' to='rooms.b.example'>00</db:result>",
        )
        .unwrap();
    assert!(written(&mut server).contains("type='valid'"));
    // A domain the certificate does not name is refused by policy.
    server
        .handle_input(
            Time::ZERO,
            b"<db:result from='other.example' to='b.example'>00</db:result>",
        )
        .unwrap();
    let refused = written(&mut server);
    assert!(
        refused.contains("type='error'") && refused.contains("policy-violation"),
        "{refused}"
    );
    let proved: Vec<_> = std::iter::from_fn(|| server.poll_event())
        .filter_map(|e| match e {
            ServerEvent::S2sAuthenticated {
                domain,
                local,
                method,
            } => Some((domain, local, method)),
            _ => None,
        })
        .collect();
    assert_eq!(
        proved,
        vec![
            (
                "a.example".into(),
                "b.example".into(),
                S2sAuth::DialbackWithCertificate
            ),
            (
                "chat.a.example".into(),
                "rooms.b.example".into(),
                S2sAuth::DialbackWithCertificate
            ),
        ]
    );
    // Stanzas of a proved pair pass; one across pairs does not.
    server
        .handle_input(
            Time::ZERO,
            b"<message from='x@chat.a.example' to='rooms.b.example' type='groupchat'><body>ok</body></message>",
        )
        .unwrap();
    assert!(matches!(server.poll_event(), Some(ServerEvent::Stanza(_))));
    let crossed = server.handle_input(
        Time::ZERO,
        b"<message from='x@chat.a.example' to='romeo@b.example'><body>no</body></message>",
    );
    assert!(crossed.is_err());
    assert!(written(&mut server).contains("<invalid-from"));
}

#[test]
fn db_verify_is_answered_from_the_secret_alone() {
    let mut server = receiving_after_tls(S2sPolicy::AllowDialback, &[]);
    let features = written(&mut server);
    assert!(!features.contains("EXTERNAL"), "{features}");
    let key = xmpp_proto::s2s::dialback::key("secret", "c.example", "b.example", "s-77");
    let ask = format!("<db:verify from='c.example' to='b.example' id='s-77'>{key}</db:verify>");
    server.handle_input(Time::ZERO, ask.as_bytes()).unwrap();
    let answer = written(&mut server);
    assert!(
        answer.contains("type='valid'") && answer.contains("id='s-77'"),
        "{answer}"
    );
    assert!(
        answer.contains("from='b.example' to='c.example'"),
        "{answer}"
    );
    let ask = "<db:verify from='c.example' to='b.example' id='s-78'>0123</db:verify>";
    server.handle_input(Time::ZERO, ask.as_bytes()).unwrap();
    assert!(written(&mut server).contains("type='invalid'"));
    // A key for a domain we do not serve.
    let ask = "<db:verify from='c.example' to='z.example' id='s-79'>0123</db:verify>";
    server.handle_input(Time::ZERO, ask.as_bytes()).unwrap();
    assert!(written(&mut server).contains("item-not-found"));
    // Stanzas before any domain is proved end the stream.
    let early = server.handle_input(
        Time::ZERO,
        b"<message from='x@a.example' to='romeo@b.example'><body>early</body></message>",
    );
    assert!(early.is_err());
}

#[test]
fn nothing_but_starttls_before_tls() {
    let config = ServerConfig::new("b.example")
        .unwrap()
        .for_federation(Federation::new("secret").with_policy(S2sPolicy::AllowDialback));
    let mut server = Server::new(config, Time::ZERO);
    server.handle_input(Time::ZERO, PEER_HEADER).unwrap();
    written(&mut server);
    let sneaky = server.handle_input(
        Time::ZERO,
        b"<db:result from='a.example' to='b.example'>00</db:result>",
    );
    assert!(sneaky.is_err());
    assert!(written(&mut server).contains("<policy-violation"));
}

#[test]
fn without_certificates_the_default_policy_refuses_and_bounces() {
    let mut net = Net::new(S2sPolicy::RequireCertificate, no_certs());
    let juliet = net.user(0, "juliet@a.example/balcony");
    net.juliet_writes(juliet, "refused");
    let got = net.inbox(0, juliet);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].contains("type='error'"), "{got:?}");
    assert!(got[0].contains("<remote-server-not-found"), "{got:?}");
    assert!(
        net.nodes[0].closed.iter().any(
            |r| matches!(r, CloseReason::NotAccepted { text } if text.contains("policy-violation"))
        ),
        "{:?}",
        net.nodes[0].closed
    );
    assert!(net.nodes[1].proved.is_empty());
}

#[test]
fn a_wrong_dialback_key_is_found_invalid() {
    let mut net = Net::new(S2sPolicy::AllowDialback, no_certs());
    // b asks a about the key a's link sent; a answers from its own
    // secret, but the link made its key with another.
    let juliet = net.user(0, "juliet@a.example/balcony");
    // A link made with a forged secret.
    let forged = Federation::new("forged").with_policy(S2sPolicy::AllowDialback);
    net.connect_with(0, "a.example", "b.example", forged);
    net.juliet_writes(juliet, "forged");
    assert!(
        net.nodes[0]
            .closed
            .iter()
            .any(|r| matches!(r, CloseReason::NotAccepted { text } if text.contains("invalid"))),
        "{:?}",
        net.nodes[0].closed
    );
    let got = net.inbox(0, juliet);
    assert!(
        got.iter().any(|s| s.contains("remote-server-not-found")),
        "{got:?}"
    );
}

#[test]
fn a_peer_that_lies_about_from_is_cut_off() {
    let mut net = Net::new(S2sPolicy::RequireCertificate, good_certs());
    let romeo = net.user(1, "romeo@b.example/orchard");
    net.connect(0);
    net.settle();
    assert!(net.wires[0].initiator.1.is_online());
    // a's link writes a stanza claiming another server's user.
    net.wires[0].up.extend_from_slice(
        b"<message from='mallory@evil.example' to='romeo@b.example/orchard' type='chat'>\
          <body>trust me</body></message>",
    );
    net.settle();
    assert!(net.inbox(1, romeo).is_empty());
    let closed = &net.nodes[1].closed;
    assert!(
        cut_off_for(closed, StreamErrorCondition::InvalidFrom),
        "{closed:?}"
    );
}

#[test]
fn an_unreachable_domain_bounces_everything_queued() {
    let mut net = Net::new(S2sPolicy::RequireCertificate, good_certs());
    net.unreachable.push("b.example".into());
    let juliet = net.user(0, "juliet@a.example/balcony");
    for body in ["one", "two"] {
        net.send(
            0,
            juliet,
            "juliet@a.example/balcony",
            "romeo@b.example",
            body,
        );
    }
    let got = net.inbox(0, juliet);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got.iter().all(|s| s.contains("remote-server-not-found")),
        "{got:?}"
    );
}

#[test]
fn a_link_that_never_comes_times_out_and_bounces() {
    let mut net = Net::new(S2sPolicy::RequireCertificate, good_certs());
    net.hanging.push("b.example".into());
    let juliet = net.user(0, "juliet@a.example/balcony");
    net.send(
        0,
        juliet,
        "juliet@a.example/balcony",
        "romeo@b.example",
        "late",
    );
    assert!(net.inbox(0, juliet).is_empty(), "queued, not bounced yet");
    let at = net.nodes[0]
        .hub
        .poll_timeout()
        .expect("a timer for the queue");
    net.now = at + Duration::from_millis(1);
    net.nodes[0].hub.handle_timeout(net.now);
    net.settle();
    let got = net.inbox(0, juliet);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].contains("remote-server-timeout"), "{got:?}");
}

#[test]
fn a_full_queue_refuses_back_to_the_sender() {
    let mut net = Net::new(S2sPolicy::RequireCertificate, good_certs());
    net.hanging.push("b.example".into());
    let juliet = net.user(0, "juliet@a.example/balcony");
    let big = "x".repeat(1500);
    for _ in 0..4 {
        net.send(
            0,
            juliet,
            "juliet@a.example/balcony",
            "romeo@b.example",
            &big,
        );
    }
    // 4096 bytes per domain: two fit, the rest is refused at once.
    let got = net.inbox(0, juliet);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got.iter().all(|s| s.contains("resource-constraint")),
        "{got:?}"
    );
}

#[test]
fn the_peer_going_away_mid_queue_bounces_everything() {
    let mut net = Net::new(S2sPolicy::RequireCertificate, good_certs());
    net.hanging.push("b.example".into());
    let juliet = net.user(0, "juliet@a.example/balcony");
    for body in ["one", "two", "three"] {
        net.send(
            0,
            juliet,
            "juliet@a.example/balcony",
            "romeo@b.example",
            body,
        );
    }
    // The transport connects, and the peer's connection drops before the
    // link is accepted.
    net.connect(0);
    net.wires[0].receiver.1.handle_eof(net.now);
    net.wires[0].initiator.1.handle_eof(net.now);
    net.settle();
    let got = net.inbox(0, juliet);
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(
        got.iter().all(|s| s.contains("remote-server-not-found")),
        "{got:?}"
    );
    for body in ["one", "two", "three"] {
        let id = format!("id='{body}'");
        assert!(
            got.iter().any(|s| s.contains(&id)),
            "{body} bounced: {got:?}"
        );
    }
}

#[test]
fn a_subscription_across_servers_updates_both_rosters_and_carries_presence() {
    let mut net = Net::new(S2sPolicy::RequireCertificate, good_certs());
    let (juliet_jid, romeo_jid) = ("juliet@a.example/balcony", "romeo@b.example/orchard");
    let juliet = net.user(0, juliet_jid);
    let romeo = net.user(1, romeo_jid);
    net.presence(0, juliet, juliet_jid, None, PresenceType::Available);
    net.presence(1, romeo, romeo_jid, None, PresenceType::Available);
    // Juliet asks to see Romeo; his server keeps and forwards the request.
    net.presence(
        0,
        juliet,
        juliet_jid,
        Some("romeo@b.example"),
        PresenceType::Subscribe,
    );
    let got = net.inbox(1, romeo);
    assert!(
        got.iter()
            .any(|s| s.contains("type='subscribe'") && s.contains("from='juliet@a.example'")),
        "{got:?}"
    );
    let juliet_bare = BareJid::new("juliet@a.example").unwrap();
    let romeo_bare = BareJid::new("romeo@b.example").unwrap();
    let ask = net.nodes[0]
        .hub
        .roster_entry(&juliet_bare, "romeo@b.example")
        .cloned();
    assert!(
        ask.is_some_and(|e| e.item.ask),
        "juliet's request is pending"
    );
    // Romeo approves: both rosters change, and Juliet sees him at once.
    net.presence(
        1,
        romeo,
        romeo_jid,
        Some("juliet@a.example"),
        PresenceType::Subscribed,
    );
    let subscription = |net: &Net, n: usize, account: &BareJid, contact: &str| {
        net.nodes[n]
            .hub
            .roster_entry(account, contact)
            .map(|e| e.item.subscription)
    };
    assert_eq!(
        subscription(&net, 0, &juliet_bare, "romeo@b.example"),
        Some(Subscription::To)
    );
    assert_eq!(
        subscription(&net, 1, &romeo_bare, "juliet@a.example"),
        Some(Subscription::From)
    );
    let got = net.inbox(0, juliet);
    assert!(
        got.iter().any(|s| s.starts_with("<presence")
            && s.contains("from='romeo@b.example/orchard'")
            && !s.contains("type=")),
        "romeo's presence reached juliet: {got:?}"
    );
    // Romeo leaves: Juliet is told.
    net.presence(1, romeo, romeo_jid, None, PresenceType::Unavailable);
    let got = net.inbox(0, juliet);
    assert!(
        got.iter()
            .any(|s| s.contains("from='romeo@b.example/orchard'")
                && s.contains("type='unavailable'")),
        "{got:?}"
    );
}

#[test]
fn idle_links_close_and_the_next_stanza_opens_a_new_one() {
    let mut net = Net::new(S2sPolicy::RequireCertificate, good_certs());
    let juliet = net.user(0, "juliet@a.example/balcony");
    let romeo = net.user(1, "romeo@b.example/orchard");
    net.juliet_writes(juliet, "first");
    assert_eq!(net.inbox(1, romeo).len(), 1);
    assert!(net.wires[0].initiator.1.is_online());
    // Ten minutes without a stanza (the default idle timeout): the link
    // closes cleanly, and both ends know.
    let later = net.now + xmpp_proto::s2s::DEFAULT_IDLE_TIMEOUT + Duration::from_secs(1);
    net.tick(later);
    assert_eq!(
        net.wires[0].initiator.1.close_reason(),
        Some(&CloseReason::Normal)
    );
    assert!(
        net.nodes[0].closed.contains(&CloseReason::Normal),
        "{:?}",
        net.nodes[0].closed
    );
    // The next message opens a new link and arrives.
    net.juliet_writes(juliet, "second");
    assert_eq!(net.inbox(1, romeo).len(), 2, "{:?}", net.inbox(1, romeo));
    assert_eq!(net.wires.len(), 2);
}

/// Romeo on b joins a room of a's room service, and Juliet, local to it,
/// talks there: the room's stanzas reach b on a link of the room
/// service's own domain, proved for that domain.
fn a_remote_occupant(
    policy: S2sPolicy,
    certs: [Certs; 2],
    bidi: bool,
) -> (Net, SessionId, SessionId) {
    let mut net = Net::new(policy, certs).with_bidi(bidi);
    let juliet = net.user(0, "juliet@a.example/balcony");
    let romeo = net.user(1, "romeo@b.example/orchard");
    for (n, session, from, nick) in [
        (0, juliet, "juliet@a.example/balcony", "juliet"),
        (1, romeo, "romeo@b.example/orchard", "romeo"),
    ] {
        let join = Element::builder("presence", ns::CLIENT)
            .attr("from", from)
            .attr("to", format!("verona@rooms.a.example/{nick}"))
            .append(Element::builder("x", "http://jabber.org/protocol/muc"))
            .build();
        let join = Stanza::from_element(join).unwrap();
        net.nodes[n]
            .hub
            .handle_event(net.now, session, ServerEvent::Stanza(join));
        net.settle();
    }
    net.send_groupchat(0, juliet, "juliet@a.example/balcony", "hello, verona");
    (net, juliet, romeo)
}

#[test]
fn a_remote_user_joins_a_room_and_hears_it_over_the_services_own_link() {
    let mut certs = good_certs();
    certs[0].client.push("rooms.a.example".into());
    certs[1].server.push("rooms.a.example".into());
    let (net, _, romeo) = a_remote_occupant(S2sPolicy::RequireCertificate, certs, false);
    let got = net.inbox(1, romeo).join("\n");
    assert!(
        got.contains("from='verona@rooms.a.example/juliet'")
            && got.contains("from='verona@rooms.a.example/romeo'"),
        "romeo sees both occupants: {got}"
    );
    assert!(got.contains("<body>hello, verona</body>"), "{got}");
    // b proved a's room service by its certificate, on a stream of its own.
    assert!(
        net.nodes[1]
            .proved
            .contains(&("rooms.a.example".into(), S2sAuth::External)),
        "{:?}",
        net.nodes[1].proved
    );
    let links_from_a: Vec<_> = net.wires.iter().filter(|w| w.from == 0).collect();
    assert_eq!(links_from_a.len(), 1, "only the room service wrote to b");
}

#[test]
fn a_room_service_proves_its_domain_by_dialback() {
    let (net, _, romeo) = a_remote_occupant(S2sPolicy::AllowDialback, no_certs(), false);
    let got = net.inbox(1, romeo).join("\n");
    assert!(got.contains("<body>hello, verona</body>"), "{got}");
    assert!(
        net.nodes[1]
            .proved
            .contains(&("rooms.a.example".into(), S2sAuth::Dialback)),
        "{:?}",
        net.nodes[1].proved
    );
}

#[test]
fn a_room_service_without_a_way_to_prove_its_domain_is_refused() {
    // a's certificate covers a.example only, and b takes no dialback.
    // b's link to the room service does not ask for a bidirectional
    // stream either: the certificate does not name the service.
    let (mut net, juliet, romeo) =
        a_remote_occupant(S2sPolicy::RequireCertificate, good_certs(), true);
    let got = net.inbox(1, romeo).join("\n");
    assert!(!got.contains("hello, verona"), "{got}");
    // The main domain's link is not borrowed for the room's stanzas.
    net.juliet_writes(juliet, "direct");
    assert!(net.inbox(1, romeo).join("\n").contains("direct"));
}

#[test]
fn a_bidirectional_link_carries_both_ways() {
    let mut net = Net::new(S2sPolicy::RequireCertificate, good_certs());
    let juliet = net.user(0, "juliet@a.example/balcony");
    let romeo = net.user(1, "romeo@b.example/orchard");
    net.juliet_writes(juliet, "one wire");
    net.romeo_writes(romeo, "both ways");
    assert!(net.inbox(1, romeo)[0].contains("<body>one wire</body>"));
    let got = net.inbox(0, juliet);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].contains("<body>both ways</body>"), "{got:?}");
    assert_eq!(net.wires.len(), 1, "b answered on a's link");
    assert!(
        net.nodes[0]
            .proved
            .contains(&("b.example".into(), S2sAuth::OurLink)),
        "{:?}",
        net.nodes[0].proved
    );
    // More of it keeps to the one wire.
    net.romeo_writes(romeo, "again");
    assert_eq!(net.inbox(0, juliet).len(), 2);
    assert_eq!(net.wires.len(), 1);
}

/// b writes `stanza` on a's link to it, online (bidirectional or not):
/// returns whether juliet on a got anything, and how a's link ended.
fn b_writes_on_as_link(bidi: bool, stanza: &[u8]) -> (bool, Vec<CloseReason>) {
    let mut net = Net::new(S2sPolicy::RequireCertificate, good_certs()).with_bidi(bidi);
    let juliet = net.user(0, "juliet@a.example/balcony");
    net.connect(0);
    net.settle();
    assert!(net.wires[0].initiator.1.is_online());
    net.wires[0].down.extend_from_slice(stanza);
    net.settle();
    (
        !net.inbox(0, juliet).is_empty(),
        net.nodes[0].closed.clone(),
    )
}

/// Whether a stream ended for `condition`.
fn cut_off_for(closed: &[CloseReason], condition: StreamErrorCondition) -> bool {
    closed.iter().any(
        |r| matches!(r, CloseReason::ProtocolViolation { condition: c, .. } if *c == condition),
    )
}

#[test]
fn a_peer_may_not_send_for_others_on_our_bidirectional_link() {
    let (delivered, closed) = b_writes_on_as_link(
        true,
        b"<message from='mallory@evil.example' to='juliet@a.example/balcony' type='chat'>\
          <body>trust me</body></message>",
    );
    assert!(!delivered);
    assert!(
        cut_off_for(&closed, StreamErrorCondition::InvalidFrom),
        "{closed:?}"
    );
}

#[test]
fn without_bidi_a_peer_may_not_send_on_our_link() {
    let (delivered, closed) = b_writes_on_as_link(
        false,
        b"<message from='romeo@b.example/orchard' to='juliet@a.example/balcony' type='chat'>\
          <body>on your wire</body></message>",
    );
    assert!(!delivered);
    assert!(
        cut_off_for(&closed, StreamErrorCondition::UnsupportedStanzaType),
        "{closed:?}"
    );
}

#[test]
fn a_flood_of_db_verify_pauses_reading_then_ends_the_stream() {
    use xmpp_proto::s2s::{HARD_MAX_VERIFIES_PER_WINDOW, MAX_VERIFIES_PER_WINDOW, VERIFY_WINDOW};
    let mut server = receiving_after_tls(S2sPolicy::AllowDialback, &[]);
    written(&mut server);
    let ask =
        |n: u32| format!("<db:verify from='c.example' to='b.example' id='s{n}'>0123</db:verify>");
    let start = Time::ZERO + Duration::from_secs(1);
    for n in 0..MAX_VERIFIES_PER_WINDOW - 1 {
        server.handle_input(start, ask(n).as_bytes()).unwrap();
    }
    assert!(server.wants_read(), "under the rate");
    server.handle_input(start, ask(99).as_bytes()).unwrap();
    assert!(!server.wants_read(), "at the rate: reading pauses");
    let answers = written(&mut server);
    assert_eq!(
        answers.matches("type='invalid'").count() as u32,
        MAX_VERIFIES_PER_WINDOW,
        "every question so far is answered"
    );
    // The window ends: reading goes on, and a new window starts.
    assert_eq!(server.poll_timeout(), Some(start + VERIFY_WINDOW));
    server.handle_timeout(start + VERIFY_WINDOW);
    assert!(server.wants_read());
    server
        .handle_input(start + VERIFY_WINDOW, ask(100).as_bytes())
        .unwrap();
    assert!(server.wants_read());
    // A transport that reads anyway: past the hard bound, the stream ends.
    let later = start + VERIFY_WINDOW;
    let flood: String = (0..HARD_MAX_VERIFIES_PER_WINDOW).map(ask).collect();
    assert!(server.handle_input(later, flood.as_bytes()).is_err());
    let end = written(&mut server);
    assert!(end.contains("policy-violation"), "{end}");
}
