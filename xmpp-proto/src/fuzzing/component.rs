use crate::component::{Component, ComponentConfig, ComponentTls, handshake_matches};
use crate::endpoint::{Endpoint, Transmit};
use crate::server::{Server, ServerConfig, ServerEvent};
use crate::stream_error::StreamErrorCondition;
use crate::time::Time;

use super::Ends;

const SERVER_HEADER: &[u8] = b"<stream:stream xmlns='jabber:component:accept' \
    xmlns:stream='http://etherx.jabber.org/streams' from='echo.localhost' id='s1'>";

const COMPONENT_HEADER: &[u8] = b"<?xml version='1.0'?><stream:stream \
    xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' \
    to='echo.localhost'>";

/// Both ends of XEP-0114 on arbitrary bytes. The first byte picks the
/// side and the stage: a [`Component`] before the server's header, after
/// it (handshake sent), or accepted; or a [`Server`] made with
/// `for_components` before the component's header, after it, or with
/// the handshake accepted (the harness checks the digest with the secret
/// `secret`, as the hub does). The rest is cut into chunks with the clock
/// moving. Checks: no panic, nothing after the end, EOF ends the
/// session, and a server never accepts a digest that does not match.
pub fn component(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let now = Time::ZERO;
    let stage = (first >> 1) % 3;
    if first & 1 == 0 {
        let mut component = scripted_component(stage, now);
        let mut ends = Ends::default();
        super::feed_chunks(&mut component, rest, now, |c, _| {
            drain_component(c, &mut ends)
        });
        assert!(component.poll_timeout().is_none(), "no timer after the end");
    } else {
        let mut server = scripted_server(stage, now);
        let mut ends = Ends::default();
        super::feed_chunks(&mut server, rest, now, |s, now| {
            drain_server(s, now, &mut ends)
        });
        assert!(server.poll_timeout().is_none(), "no timer after the end");
    }
}

fn scripted_component(stage: u8, now: Time) -> Component {
    let mut n = 0u8;
    let config = ComponentConfig::new("echo.localhost", "secret")
        .expect("valid")
        .with_tls(ComponentTls::Plaintext)
        .with_random(Box::new(move |buf: &mut [u8]| {
            for b in buf {
                n = n.wrapping_add(17);
                *b = n;
            }
        }));
    let mut component = Component::new(config, now);
    let mut ends = Ends::default();
    drain_component(&mut component, &mut ends);
    if stage >= 1 {
        let _ = component.handle_input(now, SERVER_HEADER);
        drain_component(&mut component, &mut ends);
    }
    if stage >= 2 {
        let _ = component.handle_input(now, b"<handshake/>");
        drain_component(&mut component, &mut ends);
        assert!(component.is_online(), "the scripted handshake must succeed");
    }
    component
}

fn drain_component(component: &mut Component, ends: &mut Ends) {
    while let Some(t) = component.poll_transmit() {
        ends.transmit(&t);
        if let Transmit::Data(d) = t {
            let n = d.len();
            component.consume_transmit(n);
        }
    }
    while let Some(e) = component.poll_event() {
        ends.event(matches!(e, crate::component::ComponentEvent::Closed { .. }));
    }
}

fn scripted_server(stage: u8, now: Time) -> Server {
    let mut n = 0u8;
    let config = ServerConfig::new("localhost")
        .expect("valid")
        .for_components()
        .with_random(Box::new(move |buf: &mut [u8]| {
            for b in buf {
                n = n.wrapping_add(29);
                *b = n;
            }
        }));
    let mut server = Server::new(config, now);
    let mut ends = Ends::default();
    if stage >= 1 {
        let _ = server.handle_input(now, COMPONENT_HEADER);
        drain_server(&mut server, now, &mut ends);
    }
    if stage >= 2 {
        let id = server.stream_id().unwrap_or_default().to_owned();
        let digest = crate::component::handshake_digest(&id, "secret");
        let _ = server.handle_input(now, format!("<handshake>{digest}</handshake>").as_bytes());
        drain_server(&mut server, now, &mut ends);
        assert!(server.is_online(), "the scripted handshake must succeed");
    }
    server
}

/// Drains output and events; answers the handshake question as the hub
/// would, and checks the answer the server acts on.
fn drain_server(server: &mut Server, now: Time, ends: &mut Ends) {
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
            if let ServerEvent::ComponentHandshake {
                domain,
                stream_id,
                digest,
            } = &e
            {
                let ok =
                    domain == "echo.localhost" && handshake_matches(stream_id, "secret", digest);
                let r = if ok {
                    server.accept_component(now)
                } else {
                    server.reject_component(now, StreamErrorCondition::NotAuthorized)
                };
                assert!(r.is_ok(), "a question must accept its answer: {r:?}");
                assert_eq!(
                    server.is_online(),
                    ok,
                    "online exactly when the digest matched"
                );
                answered = true;
            }
        }
        if !answered {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_stage_of_both_sides_survives_garbage() {
        for first in 0..6u8 {
            super::component(&[
                first, 10, b'<', b'x', b'/', b'>', 0, 0, 0, 0, 0, 0, 0, 0xFF, 1,
            ]);
        }
    }
}
