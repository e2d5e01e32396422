//! XEP-0198 stream management, pure: handled-stanza counters, the queue of
//! unacknowledged stanzas, when to ask for an acknowledgement, the
//! nonzas of `urn:xmpp:sm:3`, and the state a broken session hands over
//! for resumption. No I/O and no clock of its own: [`crate::client`] and
//! [`crate::server`] drive it.
//!
//! Counters are `u32` and wrap at 2^32, as XEP-0198 §4 says; every
//! comparison is a wrapping difference, so a session that handles more
//! than four billion stanzas keeps acknowledging correctly.
//!
//! ```
//! use xmpp_proto::sm::{Ack, Unacked};
//! use xmpp_proto::stanza::WireStanza;
//! use xmpp_proto::xml::Element;
//!
//! let mut queue = Unacked::new(8);
//! for i in 0..3 {
//!     let el = Element::builder("message", "jabber:client").attr("id", i.to_string()).build();
//!     queue.push(WireStanza::from_element(&el)?).unwrap();
//! }
//! // The peer handled two of them.
//! assert_eq!(queue.ack(2), Ok(Ack { newly_acked: 2 }));
//! assert_eq!(queue.len(), 1);
//! // An `h` above what we sent is an error, not a panic.
//! assert!(queue.ack(9).is_err());
//! # Ok::<(), xmpp_proto::xml::WriteError>(())
//! ```

mod counter;
mod nonza;
mod queue;
mod state;

pub use self::counter::Handled;
pub use self::nonza::{Nonza, SmParseError};
pub use self::queue::{Ack, DEFAULT_MAX_UNACKED_BYTES, HandledCountTooHigh, QueueFull, Unacked};
pub(crate) use self::state::Live;
pub use self::state::{RequestPolicy, Requests, SmConfig, SmSession};
