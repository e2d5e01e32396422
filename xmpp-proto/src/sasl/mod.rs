//! SASL (RFC 4422 as profiled by RFC 6120 §6): the mechanisms, both sides,
//! as pure state machines.
//!
//! Nothing here does I/O, reads a clock or draws random numbers: nonces
//! come in as [`Nonce`] values built from the caller's random bytes, and
//! TLS facts (encryption, channel binding data) as a [`TlsState`]. All
//! message data are raw bytes; base64 for `<auth/>`, `<challenge/>` etc.
//! is the XML layer's job.
//!
//! - Client: [`select`] picks a mechanism from a [`ServerOffer`] under a
//!   [`SaslClientConfig`]; [`ClientMechanism`] runs it.
//! - Server: [`SaslServerConfig::offer`] says what to advertise;
//!   [`ServerMechanism`] runs the exchange and asks the application for
//!   [`StoredCredentials`] or a password check through [`ServerStep`].
//!
//! Mechanisms: SCRAM-SHA-1/-256/-512 and their `-PLUS` variants (RFC 5802,
//! RFC 7677) with `tls-exporter` (RFC 9266) and `tls-server-end-point`
//! (RFC 5929) binding and XEP-0474 downgrade protection; PLAIN (RFC 4616);
//! ANONYMOUS (RFC 4505); EXTERNAL (RFC 4422 appendix A).
//!
//! See `ARCHITECTURE.md`, section "SASL", for the channel binding policy.

mod anonymous;
mod channel_binding;
mod client;
mod downgrade;
mod error;
mod external;
pub mod fast;
mod mechanism;
mod plain;
pub mod scram;
mod selection;
mod server;

pub use self::channel_binding::{
    ChannelBindingType, ChannelBindings, Gs2Flag, TlsState, UnadvertisedPlusPolicy,
};
pub use self::client::{Authenticated, ClientMechanism, Credentials};
pub use self::downgrade::downgrade_hash;
pub use self::error::{FailureCondition, Malformed, SaslError, ScramServerError};
pub use self::mechanism::Mechanism;
pub use self::scram::{
    HashOutput, Iterations, Nonce, ScramHash, ScramKeys, ScramLimits, StoredCredentials,
    stored_credentials,
};
pub use self::selection::{SaslClientConfig, Selection, ServerOffer, select};
pub use self::server::{SaslServerConfig, ServerMechanism, ServerStep, ServerSuccess};
