//! SCRAM (RFC 5802, RFC 7677): the hash functions, the keys both sides keep,
//! and the client and server state machines.
//!
//! The keys follow RFC 5802 §3:
//!
//! ```text
//! SaltedPassword = Hi(Normalize(password), salt, i)
//! ClientKey      = HMAC(SaltedPassword, "Client Key")
//! StoredKey      = H(ClientKey)
//! ServerKey      = HMAC(SaltedPassword, "Server Key")
//! ```
//!
//! A client that kept `ClientKey` and `ServerKey` ([`ScramKeys`]) can log in
//! again without the password and without running PBKDF2; a server keeps
//! only `StoredKey` and `ServerKey` ([`StoredCredentials`]), which do not let
//! anyone log in as the user.

pub(crate) mod client;
pub(crate) mod crypto;
pub(crate) mod messages;
pub(crate) mod server;

pub use self::client::{ScramClient, ScramClientParams};
pub use self::crypto::HashOutput;
pub use self::server::ScramServer;

use crate::sasl::SaslError;

/// The hash function of a SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScramHash {
    /// SHA-1 (`SCRAM-SHA-1`, RFC 5802).
    Sha1,
    /// SHA-256 (`SCRAM-SHA-256`, RFC 7677).
    Sha256,
    /// SHA-512 (`SCRAM-SHA-512`, draft-melnikov-scram-sha-512).
    Sha512,
}

impl ScramHash {
    /// Length in bytes of the hash output (and of every SCRAM key).
    pub fn output_len(self) -> usize {
        match self {
            ScramHash::Sha1 => 20,
            ScramHash::Sha256 => 32,
            ScramHash::Sha512 => 64,
        }
    }
}

/// Iteration count of PBKDF2 in a SCRAM exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Iterations(pub u32);

/// The limits a SCRAM client applies to what the server sends.
///
/// A server picks the iteration count and the client pays for it, so a
/// hostile or misconfigured server could make every login burn seconds of
/// CPU; and a low count makes a captured exchange cheap to brute-force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScramLimits {
    /// Smallest iteration count accepted. Default 4096, the minimum RFC
    /// 7677 §4 asks for.
    pub min_iterations: u32,
    /// Largest iteration count accepted. Default 1,000,000: above the
    /// 600,000 OWASP recommends for PBKDF2-HMAC-SHA256 in 2023 (so a server
    /// following current advice still works) while bounding the cost a
    /// server can impose to well under a second of one core per login for
    /// SHA-256 (see the `sasl` benchmark for the measured cost).
    pub max_iterations: u32,
    /// Largest SCRAM message accepted from the peer, in bytes. Default
    /// 16 KiB: room for a 3071-byte authorization JID even when every byte
    /// needs `=2C` escaping, far below anything that costs memory.
    pub max_message_len: usize,
}

impl Default for ScramLimits {
    fn default() -> Self {
        ScramLimits {
            min_iterations: 4096,
            max_iterations: 1_000_000,
            max_message_len: 16 * 1024,
        }
    }
}

/// What a client may keep after a successful SCRAM login to log in again
/// without the password and without PBKDF2.
///
/// These keys are password-equivalent for this server (they let the holder
/// log in); store them as carefully as a password. They are only valid while
/// the server keeps the same salt and iteration count; when it changes them,
/// the client needs the password again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramKeys {
    /// Hash function the keys belong to.
    pub hash: ScramHash,
    /// Salt the server sent (raw bytes, not base64).
    pub salt: Vec<u8>,
    /// Iteration count the server sent.
    pub iterations: Iterations,
    /// `ClientKey = HMAC(SaltedPassword, "Client Key")`.
    pub client_key: HashOutput,
    /// `ServerKey = HMAC(SaltedPassword, "Server Key")`.
    pub server_key: HashOutput,
}

impl ScramKeys {
    /// Derives the keys from a password (after SASLprep), running PBKDF2.
    ///
    /// # Errors
    /// [`SaslError::SaslPrep`] if the password contains characters SASLprep
    /// prohibits.
    pub fn from_password(
        hash: ScramHash,
        password: &str,
        salt: &[u8],
        iterations: Iterations,
    ) -> Result<Self, SaslError> {
        let prepped = stringprep::saslprep(password)
            .map_err(|_| SaslError::SaslPrep { field: "password" })?;
        let salted = crypto::salted_password(hash, prepped.as_bytes(), salt, iterations.0);
        let (client_key, server_key) = crypto::client_and_server_key(hash, &salted);
        Ok(ScramKeys {
            hash,
            salt: salt.to_vec(),
            iterations,
            client_key,
            server_key,
        })
    }

    /// The credentials a server stores for these keys.
    pub fn to_stored(&self) -> StoredCredentials {
        StoredCredentials {
            hash: self.hash,
            salt: self.salt.clone(),
            iterations: self.iterations,
            stored_key: crypto::hash(self.hash, self.client_key.as_bytes()),
            server_key: self.server_key.clone(),
        }
    }
}

/// What a SCRAM server stores for one user and one hash function.
///
/// It cannot be used to log in (the client proof needs `ClientKey`, of which
/// this holds only a hash), but it allows an offline dictionary attack on
/// the password, so keep it private.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCredentials {
    /// Hash function these credentials belong to.
    pub hash: ScramHash,
    /// Salt (raw bytes).
    pub salt: Vec<u8>,
    /// Iteration count.
    pub iterations: Iterations,
    /// `StoredKey = H(ClientKey)`.
    pub stored_key: HashOutput,
    /// `ServerKey = HMAC(SaltedPassword, "Server Key")`.
    pub server_key: HashOutput,
}

impl StoredCredentials {
    /// Builds credentials from raw keys read from a database.
    ///
    /// Returns `None` if a key's length does not match the hash function.
    pub fn from_raw(
        hash: ScramHash,
        salt: Vec<u8>,
        iterations: Iterations,
        stored_key: &[u8],
        server_key: &[u8],
    ) -> Option<Self> {
        Some(StoredCredentials {
            hash,
            salt,
            iterations,
            stored_key: HashOutput::from_bytes(hash, stored_key)?,
            server_key: HashOutput::from_bytes(hash, server_key)?,
        })
    }
}

/// Turns a password into the credentials a server stores (for account
/// creation, password changes, and tests).
///
/// The salt should be at least 16 random bytes from the caller's randomness
/// source; the core has none.
///
/// # Errors
/// [`SaslError::SaslPrep`] if the password contains characters SASLprep
/// prohibits.
///
/// # Example
/// ```
/// use xmpp_proto::sasl::{stored_credentials, Iterations, ScramHash};
/// let creds = stored_credentials(ScramHash::Sha256, "pencil", b"0123456789abcdef", Iterations(4096))?;
/// assert_eq!(creds.stored_key.as_bytes().len(), 32);
/// # Ok::<(), xmpp_proto::sasl::SaslError>(())
/// ```
pub fn stored_credentials(
    hash: ScramHash,
    password: &str,
    salt: &[u8],
    iterations: Iterations,
) -> Result<StoredCredentials, SaslError> {
    Ok(ScramKeys::from_password(hash, password, salt, iterations)?.to_stored())
}

/// A SCRAM nonce: printable ASCII without commas.
///
/// Built from random bytes with [`Nonce::from_random_bytes`] (at least 18
/// bytes are recommended, giving 24 characters); the client and server
/// draw them from their configured
/// [`RandomSource`](crate::random::RandomSource).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nonce(String);

impl Nonce {
    /// Base64-encodes random bytes into a nonce. Returns `None` for an
    /// empty input.
    pub fn from_random_bytes(bytes: &[u8]) -> Option<Self> {
        (!bytes.is_empty()).then(|| Nonce(messages::encode_base64(bytes)))
    }

    /// Uses a ready-made nonce (for test vectors); `None` if it is empty or
    /// has characters outside printable ASCII, or a comma.
    pub fn new(nonce: impl Into<String>) -> Option<Self> {
        let nonce = nonce.into();
        messages::is_valid_nonce(&nonce).then_some(Nonce(nonce))
    }

    /// The nonce text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
