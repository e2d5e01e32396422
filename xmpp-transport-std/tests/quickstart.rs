//! The README's first command, `cargo run -p xmpp-transport-std --example
//! quickstart`, as a test: the same conversation, through the same code.

#[path = "../examples/quickstart/flow.rs"]
mod flow;

use std::sync::{Arc, Mutex};

#[test]
fn the_quickstart_conversation_completes_and_everyone_closes_cleanly() {
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let say: flow::Say = Arc::new(move |line: &str| sink.lock().unwrap().push(line.to_owned()));

    let outcome = flow::run(true, say).unwrap_or_else(|e| panic!("quickstart failed: {e}"));

    assert_eq!(outcome.bob_got, "Hi Bob! Are you there?");
    assert_eq!(outcome.alice_got, "Hi Alice, loud and clear.");
    assert!(outcome.receipt);
    assert_eq!(outcome.server_ends, ["Some(Normal)", "Some(Normal)"]);
    let lines = lines.lock().unwrap();
    let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
    assert!(has(
        "alice: logged in as alice@localhost/laptop (STARTTLS, TLS 1.3"
    ));
    assert!(has("bob: logged in as bob@localhost/phone"));
    // The trace shows SCRAM-SHA-256 chosen, through SASL2 (XEP-0388),
    // and the receipt on the wire.
    assert!(has(
        "alice >> <authenticate xmlns='urn:xmpp:sasl:2' mechanism='SCRAM-SHA-256'>"
    ));
    assert!(has("<received xmlns='urn:xmpp:receipts'"));
    assert!(has("alice: closed cleanly") && has("bob: closed cleanly"));
}
