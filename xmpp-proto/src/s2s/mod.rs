//! Server-to-server federation (RFC 6120 on `jabber:server` streams): the
//! pieces both ends of a server-to-server stream need, as pure code.
//!
//! - [`Federation`]: the dialback secret, the domains served and the
//!   policy on how peers prove their domain ([`S2sPolicy`]), given to a
//!   [`Server`](crate::Server) made with
//!   [`ServerConfig::for_federation`](crate::ServerConfig::for_federation)
//!   (a peer connected to us) or
//!   [`ServerConfig::for_remote_domain`](crate::ServerConfig::for_remote_domain)
//!   (our link to a peer).
//! - [`dialback`]: Server Dialback (XEP-0220) with keys derived from a
//!   secret (XEP-0185).
//!
//! Finding a domain's server is [`resolve::plan_server`](crate::resolve::plan_server)
//! (`_xmpps-server._tcp`, `_xmpp-server._tcp`, port 5269).

mod config;
pub mod dialback;

pub use self::config::{DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_DOMAINS, Federation, S2sAuth, S2sPolicy};

/// The stream feature of dialback (XEP-0220 §2.2.1: a receiving server
/// that offers dialback says so).
pub const DIALBACK_FEATURE_NS: &str = "urn:xmpp:features:dialback";

/// Bidirectional server-to-server streams (XEP-0288), the stream
/// feature.
pub const BIDI_FEATURE_NS: &str = "urn:xmpp:features:bidi";

/// Bidirectional server-to-server streams (XEP-0288), the request.
pub const BIDI_NS: &str = "urn:xmpp:bidi";

/// How many `db:verify` questions a peer's stream may ask per
/// [`VERIFY_WINDOW`] before its `Server` stops wanting input
/// (`Endpoint::wants_read`) until the window ends.
pub const MAX_VERIFIES_PER_WINDOW: u32 = 64;

/// How many a stream may ask per window at all (for transports that
/// read past the pause); past it, `policy-violation`.
pub const HARD_MAX_VERIFIES_PER_WINDOW: u32 = 1024;

/// The window of the `db:verify` rate.
pub const VERIFY_WINDOW: std::time::Duration = std::time::Duration::from_secs(1);
