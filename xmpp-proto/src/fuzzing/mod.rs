//! Entry points for the cargo-fuzz targets in `fuzz/`.
//!
//! Each function takes arbitrary bytes, drives one part of the library with
//! them and checks the properties that must hold whatever the input (no
//! panic, round trips where the input was accepted). They exist so that the
//! fuzz targets stay one-liners; they are only compiled with the `fuzzing`
//! feature and are not part of the stable API.

// Fuzz entry points assert their properties by panicking; that is the point.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod client;
mod component;
mod hub;
mod jid;
mod muc;
mod negotiation;
mod parser;
mod s2s;
mod sasl;
mod server;
mod sm;
mod websocket;

pub use self::client::client;
pub use self::component::component;
pub use self::hub::hub;
pub use self::jid::jid;
pub use self::muc::muc;
pub use self::negotiation::negotiation;
pub use self::parser::parser;
pub use self::s2s::s2s;
pub use self::sasl::sasl;
pub use self::server::server;
pub use self::sm::sm;
pub use self::websocket::websocket;

use std::time::Duration;

use crate::endpoint::{Endpoint, Transmit};
use crate::time::Time;

/// What an endpoint has ended so far, kept for the whole run (not per
/// drain call): nothing may be transmitted after [`Transmit::Shutdown`],
/// and no event may be reported after its `Closed` event.
#[derive(Clone, Copy, Debug, Default)]
struct Ends {
    shut_down: bool,
    closed: bool,
}

impl Ends {
    /// Checks and records a transmit.
    fn transmit(&mut self, t: &Transmit<'_>) {
        assert!(!self.shut_down, "nothing may follow Transmit::Shutdown");
        self.shut_down |= matches!(t, Transmit::Shutdown);
    }

    /// Checks and records an event; `closes` if it is the `Closed` event.
    fn event(&mut self, closes: bool) {
        assert!(!self.closed, "no event may follow Event::Closed");
        self.closed |= closes;
    }
}

/// Feeds `data` to `endpoint` in chunks whose sizes come from the data
/// (a length byte, then up to 63 bytes), moving the clock and firing
/// timers when the length byte's top bit is set; `drain` runs after each
/// chunk and after the final EOF, which must end the session.
fn feed_chunks<E: Endpoint>(
    endpoint: &mut E,
    mut data: &[u8],
    mut now: Time,
    mut drain: impl FnMut(&mut E, Time),
) {
    while let Some((&len, tail)) = data.split_first() {
        let take = usize::from(len % 64).min(tail.len());
        let (chunk, tail) = tail.split_at(take);
        data = tail;
        let _ = endpoint.handle_input(now, chunk);
        if len & 0x80 != 0 {
            now += Duration::from_secs(u64::from(len & 0x3F) * 5);
            endpoint.handle_timeout(now);
        }
        drain(endpoint, now);
    }
    endpoint.handle_eof(now);
    drain(endpoint, now);
    assert!(endpoint.is_closed(), "EOF must end the session");
}
