//! The credential work every account store does the same way: turning a
//! password into SCRAM stored keys, checking a PLAIN password against
//! them, and decoy credentials for names that have no account (so that
//! neither answers nor timing tell which names exist).

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha512;
use xmpp_proto::random::{OsRandom, RandomSource};
use xmpp_proto::sasl::{Iterations, SaslError, ScramHash, StoredCredentials, stored_credentials};

/// One account's stored keys, one set per SCRAM hash function, each with
/// its own random salt; the password itself is not kept.
#[derive(Clone, Debug)]
pub struct UserKeys {
    /// For SCRAM-SHA-1.
    pub sha1: StoredCredentials,
    /// For SCRAM-SHA-256 (and PLAIN checks).
    pub sha256: StoredCredentials,
    /// For SCRAM-SHA-512.
    pub sha512: StoredCredentials,
}

impl UserKeys {
    /// Derives the keys of `password` with `iterations` PBKDF2 rounds.
    ///
    /// # Errors
    /// If SASLprep refuses the password (or it is empty), or no random
    /// salt could be drawn.
    pub fn derive(password: &str, iterations: Iterations) -> Result<Self, SaslError> {
        let derive = |hash| {
            let mut salt = [0u8; 16];
            OsRandom.fill(&mut salt).map_err(|_| SaslError::Rejected)?;
            stored_credentials(hash, password, &salt, iterations)
        };
        Ok(UserKeys {
            sha1: derive(ScramHash::Sha1)?,
            sha256: derive(ScramHash::Sha256)?,
            sha512: derive(ScramHash::Sha512)?,
        })
    }

    /// The keys for `hash`.
    pub fn for_hash(&self, hash: ScramHash) -> &StoredCredentials {
        match hash {
            ScramHash::Sha1 => &self.sha1,
            ScramHash::Sha256 => &self.sha256,
            ScramHash::Sha512 => &self.sha512,
        }
    }

    /// Whether `password` is the one these keys were derived from (SASL
    /// PLAIN): the SHA-256 key is derived again with the stored salt and
    /// compared in constant time.
    pub fn matches(&self, password: &str) -> bool {
        let stored = &self.sha256;
        // HashOutput's equality is constant-time.
        stored_credentials(ScramHash::Sha256, password, &stored.salt, stored.iterations)
            .is_ok_and(|offered| offered.stored_key == stored.stored_key)
    }
}

/// Decoy credentials for names without an account, derived from a secret:
/// the same at every try for one name, as a real account's are, looking
/// like real ones, matching no password.
#[derive(Clone)]
pub struct Decoys {
    key: [u8; 32],
    iterations: Iterations,
}

impl std::fmt::Debug for Decoys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoys").finish_non_exhaustive()
    }
}

impl Decoys {
    /// Decoys from the secret `key` (keep it with the store, so that the
    /// decoys stay the same across restarts), claiming `iterations`.
    pub fn new(key: [u8; 32], iterations: Iterations) -> Self {
        Decoys { key, iterations }
    }

    /// Decoys from a fresh random secret. Should the system have no
    /// randomness, the key stays zero: the decoys then hide nothing from
    /// someone who knows this code, but logins still fail for unknown
    /// names as they must.
    pub fn random(iterations: Iterations) -> Self {
        let mut key = [0u8; 32];
        let _ = OsRandom.fill(&mut key);
        Decoys::new(key, iterations)
    }

    /// The secret, to keep.
    pub fn key(&self) -> [u8; 32] {
        self.key
    }

    /// The decoy credentials of `username` for `hash`.
    pub fn credentials(&self, username: &str, hash: ScramHash) -> Option<StoredCredentials> {
        let hash_label = match hash {
            ScramHash::Sha1 => 1u8,
            ScramHash::Sha256 => 2,
            ScramHash::Sha512 => 3,
        };
        let derive = |label: &[u8]| {
            let mut mac = <Hmac<Sha512> as KeyInit>::new_from_slice(&self.key).ok()?;
            mac.update(label);
            mac.update(&[hash_label]);
            mac.update(username.as_bytes());
            Some(mac.finalize().into_bytes())
        };
        let len = hash.output_len();
        let salt = derive(b"salt")?[..16].to_vec();
        StoredCredentials::from_raw(
            hash,
            salt,
            self.iterations,
            &derive(b"stored")?[..len],
            &derive(b"server")?[..len],
        )
    }

    /// The work a PLAIN check of `password` costs for a real account,
    /// spent on `username`'s decoy; always `false`.
    pub fn check_password(&self, username: &str, password: &str) -> bool {
        if let Some(decoy) = self.credentials(username, ScramHash::Sha256) {
            let _ = stored_credentials(ScramHash::Sha256, password, &decoy.salt, decoy.iterations);
        }
        false
    }
}
