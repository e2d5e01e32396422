//! Two clients and a server, wired together in memory: the whole sans-IO
//! loop with no socket, no TLS library and no clock.
//!
//! Alice and bob log in (SCRAM-SHA-256; TLS is switched off on both ends,
//! which only an in-memory wire like this one should do), alice sends bob
//! a message, bob prints it, both close. The same loop drives a real
//! connection: only the "wire" (here a byte vector) and `now` change.
//!
//! ```text
//! cargo run -p xmpp-proto --example in_memory
//! ```

use xmpp_proto::client::ClientTlsPolicy;
use xmpp_proto::endpoint::{Endpoint, Transmit};
use xmpp_proto::hub::{Hub, HubEvent};
use xmpp_proto::jid::Jid;
use xmpp_proto::router::SessionId;
use xmpp_proto::sasl::{FailureCondition, Iterations, stored_credentials};
use xmpp_proto::server::ServerTlsPolicy;
use xmpp_proto::stanza::{Presence, PresenceType};
use xmpp_proto::time::Time;
use xmpp_proto::{Client, ClientConfig, ClientEvent, Server, ServerConfig};

/// One connection: a client, the server's end of it, and their events.
struct Link {
    client: Client,
    server: Server,
    session: SessionId,
    events: Vec<ClientEvent>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The clock: a duration since an epoch of our choosing. Nothing here
    // waits, so it can stand still.
    let now = Time::ZERO;
    let mut hub = Hub::new("example.com")?;
    let mut links = Vec::new();
    for (n, user) in ["alice", "bob"].into_iter().enumerate() {
        let jid = Jid::new(&format!("{user}@example.com"))?;
        let client_config = ClientConfig::new(jid, "secret")
            .with_tls(ClientTlsPolicy::InsecureDisabled)
            .with_resource("laptop");
        let server_config = ServerConfig::new("example.com")?.with_tls(ServerTlsPolicy::Disabled);
        links.push(Link {
            client: Client::new(client_config, now),
            server: Server::new(server_config, now),
            session: SessionId(n as u64),
            events: Vec::new(),
        });
    }

    run(&mut hub, &mut links, now)?;
    for link in &links {
        assert!(
            link.client.is_online(),
            "{:?} did not log in: {:?}",
            link.session,
            link.events
        );
    }

    // Available presence: messages to a bare JID reach available
    // resources only (RFC 6121 §8.5.2).
    for link in &mut links {
        link.client
            .send(now, Presence::builder(PresenceType::Available).build())?;
    }
    run(&mut hub, &mut links, now)?;
    let id = links[0]
        .client
        .send_message(now, "bob@example.com", "Hello from memory", false)?;
    run(&mut hub, &mut links, now)?;
    let got = links[1].events.iter().find_map(|e| match e {
        ClientEvent::Message(m) => Some((m.from().map(str::to_owned), m.body())),
        _ => None,
    });
    let (from, body) = got.ok_or("bob got no message")?;
    println!(
        "bob got {:?} from {} (sent as {id})",
        body.unwrap_or_default(),
        from.unwrap_or_default()
    );

    for link in &mut links {
        link.client.close(now);
    }
    run(&mut hub, &mut links, now)?;
    for link in &links {
        assert!(link.client.is_closed() && link.server.is_closed());
    }
    println!("both sessions closed cleanly");
    Ok(())
}

/// Moves bytes and events until nothing moves any more.
fn run(hub: &mut Hub, links: &mut [Link], now: Time) -> Result<(), Box<dyn std::error::Error>> {
    loop {
        let mut moved = false;
        for i in 0..links.len() {
            let link = &mut links[i];
            // The wire: whatever one side transmits, the other reads.
            moved |= pipe(&mut link.client, &mut link.server, now)?;
            moved |= pipe(&mut link.server, &mut link.client, now)?;
            while let Some(event) = link.client.poll_event() {
                link.events.push(event);
                moved = true;
            }
            // Every event of a server goes to the hub, one at a time, and
            // what the hub decides is carried out before the next (a
            // message for bob while alice's events are handled, say).
            while let Some(event) = links[i].server.poll_event() {
                moved = true;
                let session = links[i].session;
                if let Some(spent) = hub.handle_event(now, session, event) {
                    links[i].server.recycle(spent);
                }
                carry_out(hub, links, now)?;
            }
        }
        if !moved {
            return Ok(());
        }
    }
}

/// Copies everything `from` transmits into `to`.
fn pipe(
    from: &mut impl Endpoint,
    to: &mut impl Endpoint,
    now: Time,
) -> Result<bool, Box<dyn std::error::Error>> {
    let mut moved = false;
    while let Some(transmit) = from.poll_transmit() {
        moved = true;
        match transmit {
            Transmit::Data(bytes) => {
                let bytes = bytes.to_vec();
                from.consume_transmit(bytes.len());
                to.handle_input(now, &bytes)?;
            }
            Transmit::StartTls => return Err("no TLS on this wire".into()),
            // The sender is done: the reader sees the end of the stream.
            Transmit::Shutdown => to.handle_eof(now),
        }
    }
    Ok(moved)
}

/// Applies the hub's commands to the servers they are for, and answers
/// its questions from the "account store" (every password is `secret`).
fn carry_out(
    hub: &mut Hub,
    links: &mut [Link],
    now: Time,
) -> Result<(), Box<dyn std::error::Error>> {
    loop {
        let mut moved = false;
        while let Some((session, command)) = hub.poll_command() {
            moved = true;
            let feedback = match links.iter_mut().find(|l| l.session == session) {
                Some(link) => link.server.apply(now, command),
                None => command.unapplied(),
            };
            if let Some(feedback) = feedback {
                hub.handle_feedback(now, session, feedback);
            }
        }
        while let Some(event) = hub.poll_event() {
            moved = true;
            match event {
                HubEvent::NeedScramCredentials { session, hash, .. } => {
                    // A real store keeps these, derived once per account
                    // with a random salt.
                    let keys =
                        stored_credentials(hash, "secret", b"example salt", Iterations(4096))?;
                    hub.provide_credentials(session, Some(keys));
                }
                HubEvent::Authenticate { session, .. } => {
                    hub.verdict(session, Err(FailureCondition::NotAuthorized));
                }
                _ => {}
            }
        }
        if !moved {
            return Ok(());
        }
    }
}
