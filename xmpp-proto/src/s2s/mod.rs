//! Server-to-server federation (RFC 6120 on `jabber:server` streams): the
//! pieces both ends of a server-to-server stream need, as pure code.
//!
//! - [`dialback`]: Server Dialback (XEP-0220) with keys derived from a
//!   secret (XEP-0185).
//!
//! Finding a domain's server is [`resolve::plan_server`](crate::resolve::plan_server)
//! (`_xmpps-server._tcp`, `_xmpp-server._tcp`, port 5269).

pub mod dialback;

/// The stream feature of dialback (XEP-0220 §2.2.1: a receiving server
/// that offers dialback says so).
pub const DIALBACK_FEATURE_NS: &str = "urn:xmpp:features:dialback";

/// Bidirectional server-to-server streams (XEP-0288), the stream
/// feature.
pub const BIDI_FEATURE_NS: &str = "urn:xmpp:features:bidi";

/// Bidirectional server-to-server streams (XEP-0288), the request.
pub const BIDI_NS: &str = "urn:xmpp:bidi";
