//! Chunking invariance: however the network cuts the two byte streams (and
//! however partially the transport writes), both sides see the same
//! events and send the same bytes.

use proptest::prelude::*;
use xmpp_proto::client::ClientEvent;
use xmpp_proto::sasl::{self, Mechanism};
use xmpp_proto::server::ServerEvent;
use xmpp_proto::stanza::{Message, MessageType};
use xmpp_tests::Pair;

/// Everything observable about one run.
#[derive(Debug, PartialEq)]
struct Observed {
    client_events: Vec<ClientEvent>,
    server_events: Vec<ServerEvent>,
    client_bytes: Vec<u8>,
    server_bytes: Vec<u8>,
}

fn scenario(mechanism: Mechanism, chunks: Option<(u64, usize)>) -> Observed {
    let sasl = sasl::SaslClientConfig {
        allowed: Some(vec![mechanism]),
        ..sasl::SaslClientConfig::default()
    };
    let client = Pair::client_config("juliet", "secret")
        .with_sasl(sasl)
        .with_resource("balcony");
    let mut pair = Pair::new(client, Pair::server_config());
    if let Some((seed, max)) = chunks {
        pair = pair.with_random_chunks(seed, max);
    }
    pair.run();
    assert!(pair.is_online(), "{:?}", pair.client_events);
    let now = pair.now;
    pair.client
        .send_message(now, "romeo@example.com", "Fish & chips <3", true)
        .expect("online");
    let reply = Message::builder(MessageType::Chat)
        .from("romeo@example.com/orchard")
        .to("juliet@example.com/balcony")
        .id("r1")
        .body("ça va ✓")
        .build();
    pair.server.send(now, reply.into_element()).expect("online");
    pair.run();
    pair.client.close(now);
    pair.run();
    Observed {
        client_events: pair
            .client_events
            .into_iter()
            .filter(|e| !matches!(e, ClientEvent::Trace { .. }))
            .collect(),
        server_events: pair.server_events,
        client_bytes: pair.client_bytes,
        server_bytes: pair.server_bytes,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn random_splits_change_nothing(
        seed in any::<u64>(),
        max in 1usize..80,
        plus in any::<bool>(),
    ) {
        let mechanism = if plus { Mechanism::ScramSha1Plus } else { Mechanism::Plain };
        let whole = scenario(mechanism, None);
        prop_assert!(whole.server_events.iter().any(|e| matches!(e, ServerEvent::Stanza(_))));
        prop_assert!(whole.client_events.iter().any(|e| matches!(e, ClientEvent::Message(_))));
        let split = scenario(mechanism, Some((seed, max)));
        prop_assert_eq!(split, whole);
    }
}
