//! A thin blocking transport for [`xmpp_proto`] over `std::net`.
//!
//! **Status: in progress.** The TLS layer ([`tls`]) is here: trust anchors
//! (the Mozilla roots or a CA file), certificate checks against the XMPP
//! domain, and the channel-binding data (`tls-exporter`,
//! `tls-server-end-point`) SASL needs. The connection driver that feeds the
//! sans-IO client with socket bytes comes with the client state machine.

#![forbid(unsafe_code)]

pub use xmpp_proto as proto;

pub mod tls;
