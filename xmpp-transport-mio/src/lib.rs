//! A thin [`mio`] transport for [`xmpp_proto`]: many connections on one thread.
//!
//! **Status: placeholder.** This crate will own one `mio::Poll` and a slab of
//! connections, each a sans-IO client or server from the core with an
//! optional rustls session, reading edge-triggered until `WouldBlock` and
//! using the earliest core deadline as the poll timeout. Until the client and
//! server state machines land it only re-exports its building blocks, so that
//! the workspace layout is fixed.

#![forbid(unsafe_code)]

pub use mio;
pub use xmpp_proto as proto;
