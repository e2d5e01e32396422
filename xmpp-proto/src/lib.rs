//! A sans-IO XMPP protocol core.
#![forbid(unsafe_code)]

pub mod jid;
