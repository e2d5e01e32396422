//! The operating system's random number generator as a [`RandomSource`].

use xmpp_proto::endpoint::RandomSource;

/// Cryptographically secure randomness from the operating system (through
/// ring, the TLS library's provider), for SCRAM nonces and stream and
/// stanza ids.
///
/// ```
/// use xmpp_proto::endpoint::RandomSource;
/// use xmpp_transport_std::OsRandom;
///
/// let mut a = [0u8; 16];
/// let mut b = [0u8; 16];
/// OsRandom.fill(&mut a);
/// OsRandom.fill(&mut b);
/// assert_ne!(a, b);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    /// # Panics
    /// If the operating system cannot provide random bytes. There is no
    /// safe way to go on: nonces would be predictable.
    fn fill(&mut self, buf: &mut [u8]) {
        let provider = rustls::crypto::ring::default_provider();
        if provider.secure_random.fill(buf).is_err() {
            panic!("the operating system's random number generator failed");
        }
    }
}
