//! A sans-IO XMPP protocol core.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod jid;
pub mod sasl;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
