//! Deterministic generator of realistic XMPP traffic.
#![forbid(unsafe_code)]
