use crate::endpoint::{Endpoint, Transmit};
use crate::jid::JidRef;
use crate::s2s::dialback::{Dialback, Verdict};
use crate::s2s::{Federation, S2sPolicy};
use crate::server::{Server, ServerConfig, ServerEvent};
use crate::stanza::DefinedCondition;
use crate::time::Time;
use crate::tls::{TlsInfo, TlsVersion};

use super::Ends;

const PEER_HEADER: &[u8] =
    b"<stream:stream xmlns='jabber:server' xmlns:db='jabber:server:dialback' \
    xmlns:stream='http://etherx.jabber.org/streams' from='a.example' to='b.example' version='1.0'>";

const LINK_PEER_HEADER: &[u8] = b"<stream:stream xmlns='jabber:server' xmlns:db='jabber:server:dialback' \
    xmlns:stream='http://etherx.jabber.org/streams' from='b.example' to='a.example' id='s1' version='1.0'>";

/// The key the harness, as the hub, finds valid.
const GOOD_KEY: &str = "600d";

/// Both ends of a server-to-server stream on arbitrary bytes. The first
/// byte picks the side, the policy, which names the peer's certificate
/// carries and how far the scripted negotiation goes: a receiving
/// `Server` (`for_federation`, b.example) before the peer's header, or
/// past STARTTLS; or our link (`for_remote_domain` to b.example, from
/// a.example) before the peer's header, or past STARTTLS. The rest is cut
/// into chunks with the clock moving. Checks: no panic, nothing after the
/// end, EOF ends the session, a receiving server reports a stanza only
/// from a domain, and to a domain, that the stream proved, and our link
/// only once online and only from the peer's domain to ours (XEP-0288).
pub fn s2s(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let now = Time::ZERO;
    let policy = if first & 2 == 0 {
        S2sPolicy::RequireCertificate
    } else {
        S2sPolicy::AllowDialback
    };
    let names: &[&str] = match (first >> 2) % 3 {
        0 => &[],
        1 => &["a.example"],
        _ => &["other.example", "*.a.example"],
    };
    let past_tls = first & 0x20 != 0;
    let federation = Federation::new("secret")
        .with_policy(policy)
        .serving("rooms.b.example");
    if first & 1 == 0 {
        let mut server = receiving(federation, names, past_tls, now);
        let mut proved = Vec::new();
        let mut ends = Ends::default();
        super::feed_chunks(&mut server, rest, now, |s, now| {
            drain_receiving(s, now, &mut ends, &mut proved)
        });
        assert!(server.poll_timeout().is_none(), "no timer after the end");
    } else {
        let mut link = initiating(federation, names, past_tls, now);
        let mut ends = Ends::default();
        let mut online = false;
        super::feed_chunks(&mut link, rest, now, |l, _| {
            drain_link(l, &mut ends, &mut online)
        });
        assert!(link.poll_timeout().is_none(), "no timer after the end");
    }
}

fn counter_random(step: u8) -> Box<dyn crate::random::RandomSource + Send> {
    let mut n = 0u8;
    Box::new(move |buf: &mut [u8]| {
        for b in buf {
            n = n.wrapping_add(step);
            *b = n;
        }
    })
}

fn tls_with(names: &[&str]) -> TlsInfo {
    TlsInfo::new(TlsVersion::Tls13).with_peer_names(names.iter().map(|n| n.to_string()).collect())
}

fn receiving(federation: Federation, names: &[&str], past_tls: bool, now: Time) -> Server {
    let config = ServerConfig::new("b.example")
        .expect("valid")
        .for_federation(federation)
        .with_random(counter_random(29));
    let mut server = Server::new(config, now);
    if past_tls {
        let mut ends = Ends::default();
        let mut proved = Vec::new();
        let _ = server.handle_input(now, PEER_HEADER);
        let _ = server.handle_input(now, b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        drain_receiving(&mut server, now, &mut ends, &mut proved);
        let _ = server.handle_tls_established(now, tls_with(names));
        let _ = server.handle_input(now, PEER_HEADER);
        drain_receiving(&mut server, now, &mut ends, &mut proved);
    }
    server
}

/// Drains output and events; answers dialback questions as the hub
/// would (valid for [`GOOD_KEY`] only), and checks that every stanza
/// belongs to a proved pair.
fn drain_receiving(
    server: &mut Server,
    now: Time,
    ends: &mut Ends,
    proved: &mut Vec<(String, String)>,
) {
    loop {
        while let Some(t) = server.poll_transmit() {
            ends.transmit(&t);
            if let Transmit::Data(d) = t {
                let n = d.len();
                server.consume_transmit(n);
            }
        }
        let mut answered = false;
        while let Some(e) = server.poll_event() {
            ends.event(matches!(e, ServerEvent::Closed { .. }));
            match &e {
                ServerEvent::S2sAuthenticated { domain, local, .. } => {
                    proved.push((domain.clone(), local.clone()));
                }
                ServerEvent::Stanza(stanza) => {
                    let domain = |a: Option<&str>| {
                        a.and_then(|a| JidRef::parse(a).ok())
                            .map(|j| j.domainpart().to_owned())
                    };
                    let pair = (
                        domain(stanza.from()).expect("a stanza from somewhere"),
                        domain(stanza.to()).expect("a stanza to somewhere"),
                    );
                    assert!(proved.contains(&pair), "{pair:?} was never proved");
                }
                ServerEvent::DialbackRequest { from, to, key, .. } => {
                    let claim = Dialback::result_request(from, to, key);
                    let answer = if key == GOOD_KEY {
                        claim.answer(Verdict::Valid)
                    } else if key.len() % 2 == 0 {
                        claim.answer(Verdict::Invalid)
                    } else {
                        claim.refusal(DefinedCondition::RemoteServerNotFound)
                    };
                    let r = server.dialback_verdict(now, &answer);
                    assert!(r.is_ok(), "a question must accept its answer: {r:?}");
                    answered = true;
                }
                _ => {}
            }
        }
        if !answered {
            return;
        }
    }
}

fn initiating(federation: Federation, names: &[&str], past_tls: bool, now: Time) -> Server {
    let config = ServerConfig::new("a.example")
        .expect("valid")
        .for_remote_domain("b.example", federation)
        .expect("valid")
        .with_random(counter_random(31));
    let mut link = Server::new(config, now);
    let mut ends = Ends::default();
    let mut online = false;
    drain_link(&mut link, &mut ends, &mut online);
    if past_tls {
        let _ = link.handle_input(now, LINK_PEER_HEADER);
        let _ = link.handle_input(
            now,
            b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>\
              <proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
        );
        drain_link(&mut link, &mut ends, &mut online);
        let _ = link.handle_tls_established(now, tls_with(names));
        let _ = link.handle_input(now, LINK_PEER_HEADER);
        drain_link(&mut link, &mut ends, &mut online);
    }
    link
}

fn drain_link(link: &mut Server, ends: &mut Ends, online: &mut bool) {
    while let Some(t) = link.poll_transmit() {
        ends.transmit(&t);
        if let Transmit::Data(d) = t {
            let n = d.len();
            link.consume_transmit(n);
        }
    }
    while let Some(e) = link.poll_event() {
        ends.event(matches!(e, ServerEvent::Closed { .. }));
        match &e {
            ServerEvent::S2sOnline { .. } => *online = true,
            ServerEvent::Stanza(stanza) => {
                assert!(*online, "a stanza on a link that is not online");
                let domain = |a: Option<&str>| {
                    a.and_then(|a| JidRef::parse(a).ok())
                        .map(|j| j.domainpart().to_owned())
                };
                assert_eq!(domain(stanza.from()).as_deref(), Some("b.example"));
                assert_eq!(domain(stanza.to()).as_deref(), Some("a.example"));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_start_of_both_sides_survives_garbage() {
        for first in 0..64u8 {
            super::s2s(&[
                first, 10, b'<', b'x', b'/', b'>', 0, 0, 0, 0, 0, 0, 0, 0xFF, 1,
            ]);
        }
    }

    #[test]
    fn a_bidirectional_link_takes_the_peers_stanza() {
        // Our link, dialback allowed, past TLS: the peer offers bidi and
        // dialback, accepts our key, and sends a stanza back on the link.
        let mut data = vec![0x23];
        let input: &[u8] = b"<stream:features><dialback xmlns='urn:xmpp:features:dialback'/>\
            <bidi xmlns='urn:xmpp:features:bidi'/></stream:features>\
            <db:result from='b.example' to='a.example' type='valid'/>\
            <message from='y@b.example' to='x@a.example'><body>back</body></message>";
        for chunk in input.chunks(60) {
            data.push(chunk.len() as u8);
            data.extend_from_slice(chunk);
        }
        super::s2s(&data);
    }

    #[test]
    fn a_proved_claim_and_its_stanza_pass_the_checks() {
        // Receiving, dialback allowed, no certificate, past TLS: a good
        // key proves a.example, and its stanza passes the check.
        let mut data = vec![0x22];
        let input: &[u8] = b"<db:result from='a.example' to='b.example'>600d</db:result>\
            <message from='x@a.example' to='y@b.example'><body>hi</body></message>";
        for chunk in input.chunks(60) {
            data.push(chunk.len() as u8);
            data.extend_from_slice(chunk);
        }
        super::s2s(&data);
    }
}
