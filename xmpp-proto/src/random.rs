//! Randomness: where SCRAM nonces, stream ids, resumption ids and stanza
//! ids come from.
//!
//! By default every endpoint draws from the operating system
//! ([`OsRandom`], through the `getrandom` crate, which also covers
//! browsers). Tests replace it with a seeded source so that runs repeat:
//! any `FnMut(&mut [u8])` is a [`RandomSource`].
//!
//! ```
//! use xmpp_proto::random::{OsRandom, RandomSource};
//!
//! let mut a = [0u8; 16];
//! let mut b = [0u8; 16];
//! OsRandom.fill(&mut a)?;
//! OsRandom.fill(&mut b)?;
//! assert_ne!(a, b);
//!
//! // A deterministic source for tests (never for real sessions).
//! let mut counter = 0u8;
//! let mut fake = move |buf: &mut [u8]| {
//!     for byte in buf {
//!         counter = counter.wrapping_add(1);
//!         *byte = counter;
//!     }
//! };
//! fake.fill(&mut a)?;
//! assert_eq!(a[..3], [1, 2, 3]);
//! # Ok::<(), xmpp_proto::random::RandomError>(())
//! ```

use std::fmt;

/// A source of unpredictable bytes.
pub trait RandomSource {
    /// Fills `buf` with random bytes.
    ///
    /// # Errors
    /// When the source cannot deliver; the endpoint then ends its session
    /// (`CloseReason::RandomUnavailable`) rather than use predictable
    /// values.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError>;
}

impl<F: FnMut(&mut [u8])> RandomSource for F {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError> {
        self(buf);
        Ok(())
    }
}

/// The random source could not deliver bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RandomError;

impl fmt::Display for RandomError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the random number generator failed")
    }
}

impl std::error::Error for RandomError {}

/// The operating system's cryptographically secure generator (the
/// `getrandom` crate: `getrandom(2)` on Linux, `crypto.getRandomValues`
/// in a browser). The default source of every endpoint.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError> {
        getrandom::fill(buf).map_err(|_| RandomError)
    }
}

/// The source an endpoint uses when the configuration names none.
pub(crate) fn default_source() -> Box<dyn RandomSource + Send> {
    Box::new(OsRandom)
}
