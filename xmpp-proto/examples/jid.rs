//! Parses the JIDs given on the command line (or a few samples) and prints
//! their prepared parts, or why they are invalid.
//!
//! ```text
//! cargo run -p xmpp-proto --example jid -- 'Juliet@Example.COM/balcony' 'bad@@example.com'
//! ```

use xmpp_proto::jid::{Jid, escape};

fn main() {
    let mut inputs: Vec<String> = std::env::args().skip(1).collect();
    if inputs.iter().any(|a| a == "--help" || a == "-h") {
        println!(
            "usage: jid [JID...]\nPrints the prepared parts of each JID (RFC 7622), or why it is invalid."
        );
        return;
    }
    if inputs.is_empty() {
        inputs = [
            "Juliet@Example.COM/balcony",
            "ДМИТРИЙ@bücher.example./Siskin IM",
            "fußball@example.com",
            "room@conference.example.org/O'Brien",
            "juliet@example.com/",
            "juliet\u{FF20}example.com",
            "[::1]",
            "::1",
        ]
        .map(String::from)
        .to_vec();
    }
    for input in &inputs {
        match Jid::new(input) {
            Ok(jid) => {
                println!("{input:?}\n  -> {jid}");
                println!(
                    "     localpart {:?}, domainpart {:?}, resourcepart {:?}",
                    jid.localpart(),
                    jid.domainpart(),
                    jid.resourcepart()
                );
                if let Some(local) = jid.localpart() {
                    let shown = escape::unescape_localpart(local);
                    if shown != local {
                        println!("     XEP-0106 display form of the localpart: {shown:?}");
                    }
                }
            }
            Err(err) => println!("{input:?}\n  -> {err}"),
        }
    }
}
