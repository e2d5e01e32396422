use std::time::{Duration, Instant};

use crate::client::{Client, ClientConfig, Event, TlsPolicy};
use crate::endpoint::Transmit;
use crate::jid::Jid;
use crate::tls::{TlsInfo, TlsVersion};

const HEADER: &[u8] = b"<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' version='1.0' from='localhost' id='s1' xmlns='jabber:client'>";

/// Feeds arbitrary server bytes to a `Client` at a stage of negotiation
/// chosen by the first byte: before anything, after STARTTLS was offered,
/// during SASL, while binding, or online. The rest is cut into chunks whose
/// sizes come from the data, with the clock moving between them.
pub fn client(data: &[u8]) {
    let Some((&stage, rest)) = data.split_first() else {
        return;
    };
    let mut now = Instant::now();
    let mut client = scripted_client(stage % 5, now);
    let mut rest = rest;
    let mut closed = false;
    while let Some((&len, tail)) = rest.split_first() {
        let take = usize::from(len % 64).min(tail.len());
        let (chunk, tail) = tail.split_at(take);
        rest = tail;
        let _ = client.handle_input(now, chunk);
        if len & 0x80 != 0 {
            now += Duration::from_secs(u64::from(len & 0x3F) * 5);
            client.handle_timeout(now);
        }
        closed = drain(&mut client, closed);
    }
    client.handle_eof(now);
    drain(&mut client, closed);
    assert!(client.is_closed(), "EOF must end the session");
}

/// Drains output and events, checking that nothing follows the end.
fn drain(client: &mut Client, mut closed: bool) -> bool {
    let mut shutdown = false;
    while let Some(t) = client.poll_transmit() {
        assert!(!shutdown, "nothing may follow Transmit::Shutdown");
        match t {
            Transmit::Data(d) => {
                let n = d.len();
                client.consume_transmit(n);
            }
            Transmit::StartTls => {
                let _ =
                    client.handle_tls_established(Instant::now(), TlsInfo::new(TlsVersion::Tls13));
            }
            Transmit::Shutdown => shutdown = true,
        }
    }
    while let Some(e) = client.poll_event() {
        assert!(!closed, "no event may follow Event::Closed");
        closed |= matches!(e, Event::Closed { .. });
    }
    closed
}

fn scripted_client(stage: u8, now: Instant) -> Client {
    let mut n = 0u8;
    let config = ClientConfig::new(Jid::new("alice@localhost").expect("valid"), "pw")
        .with_tls(TlsPolicy::Direct)
        .with_random(Box::new(move |buf: &mut [u8]| {
            for b in buf {
                n = n.wrapping_add(31);
                *b = n;
            }
        }));
    let mut client = Client::new(config, now);
    let mut script: Vec<Vec<u8>> = Vec::new();
    if stage >= 1 {
        script.push([HEADER, b"<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>"].concat());
    }
    if stage >= 2 {
        script.push(b"<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>".to_vec());
    }
    for step in script {
        drain(&mut client, false);
        let _ = client.handle_input(now, &step);
    }
    if stage >= 3 {
        // A fresh PLAIN-only login up to binding.
        let mut n = 0u8;
        let config = ClientConfig::new(Jid::new("alice@localhost").expect("valid"), "pw")
            .with_tls(TlsPolicy::Direct)
            .with_random(Box::new(move |buf: &mut [u8]| {
                for b in buf {
                    n = n.wrapping_add(7);
                    *b = n;
                }
            }));
        client = Client::new(config, now);
        drain(&mut client, false);
        let _ = client.handle_input(now, &[HEADER, b"<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features><success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"].concat());
        let out = output_text(&mut client);
        let _ = client.handle_input(now, &[HEADER, b"<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"].concat());
        let out = out + &output_text(&mut client);
        if stage >= 4 {
            if let Some(id) = out.split("id='").last().and_then(|s| s.split('\'').next()) {
                let result = format!(
                    "<iq type='result' id='{id}'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@localhost/r</jid></bind></iq>"
                );
                let _ = client.handle_input(now, result.as_bytes());
            }
        }
    }
    client
}

/// Everything the client wants to send, as text; TLS is granted and
/// events are dropped on the way.
pub(super) fn output_text(client: &mut Client) -> String {
    let mut s = String::new();
    while let Some(t) = client.poll_transmit() {
        match t {
            Transmit::Data(d) => {
                s.push_str(&String::from_utf8_lossy(d));
                let n = d.len();
                client.consume_transmit(n);
            }
            Transmit::StartTls => {
                let _ =
                    client.handle_tls_established(Instant::now(), TlsInfo::new(TlsVersion::Tls13));
            }
            Transmit::Shutdown => {}
        }
    }
    while client.poll_event().is_some() {}
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_stage_survives_garbage_and_reaches_online_when_scripted() {
        for stage in 0..5u8 {
            super::client(&[
                stage, 10, b'<', b'x', b'/', b'>', 0, 0, 0, 0, 0, 0, 0, 0xFF, 1,
            ]);
        }
        let mut c = super::scripted_client(4, std::time::Instant::now());
        assert!(
            c.is_online(),
            "the scripted prefix must reach the online stage"
        );
        while c.poll_event().is_some() {}
    }
}
