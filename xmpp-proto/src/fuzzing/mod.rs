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
mod jid;
mod negotiation;
mod parser;
mod sasl;
mod server;
mod sm;

pub use self::client::client;
pub use self::jid::jid;
pub use self::negotiation::negotiation;
pub use self::parser::parser;
pub use self::sasl::sasl;
pub use self::server::server;
pub use self::sm::sm;
