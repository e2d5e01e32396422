//! The SCRAM key schedule (RFC 5802 §3) over SHA-1, SHA-256 and SHA-512.
//!
//! Everything works on [`HashOutput`], a fixed-size buffer big enough for
//! SHA-512, so no computation here allocates and the three hash functions
//! share one code path.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use super::ScramHash;

/// The largest digest we handle (SHA-512).
const MAX_OUTPUT: usize = 64;

/// A digest or key of one of the SCRAM hash functions.
///
/// Equality is constant-time: these values are secrets or are compared
/// against attacker-supplied proofs.
#[derive(Clone)]
pub struct HashOutput {
    bytes: [u8; MAX_OUTPUT],
    len: usize,
}

impl HashOutput {
    fn from_slice(data: &[u8]) -> Self {
        let mut bytes = [0u8; MAX_OUTPUT];
        let len = data.len().min(MAX_OUTPUT);
        bytes[..len].copy_from_slice(&data[..len]);
        HashOutput { bytes, len }
    }

    /// Builds a value from raw bytes, refusing a length that does not match
    /// the hash function.
    pub(crate) fn from_bytes(hash: ScramHash, data: &[u8]) -> Option<Self> {
        (data.len() == hash.output_len()).then(|| HashOutput::from_slice(data))
    }

    /// The bytes of the value.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// `self XOR other`, byte by byte (both have the same length in SCRAM).
    pub(crate) fn xor(&self, other: &HashOutput) -> HashOutput {
        let mut out = self.clone();
        for (a, b) in out.bytes.iter_mut().zip(other.bytes.iter()) {
            *a ^= b;
        }
        out
    }
}

impl PartialEq for HashOutput {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(self.as_bytes(), other.as_bytes())
    }
}

impl Eq for HashOutput {}

impl core::fmt::Debug for HashOutput {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Keys end up in logs through derived Debug impls; never print them.
        write!(f, "HashOutput({} bytes, redacted)", self.len)
    }
}

impl Drop for HashOutput {
    fn drop(&mut self) {
        // Best effort only: without a zeroize dependency the compiler may
        // elide this, but it costs nothing where it does not.
        self.bytes = [0u8; MAX_OUTPUT];
    }
}

/// Compares two byte strings in time that depends only on their lengths.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // black_box keeps the optimiser from turning the fold into an early exit.
    core::hint::black_box(diff) == 0
}

/// `H(data)`.
pub(crate) fn hash(alg: ScramHash, data: &[u8]) -> HashOutput {
    match alg {
        ScramHash::Sha1 => HashOutput::from_slice(&Sha1::digest(data)),
        ScramHash::Sha256 => HashOutput::from_slice(&Sha256::digest(data)),
        ScramHash::Sha512 => HashOutput::from_slice(&Sha512::digest(data)),
    }
}

/// `HMAC(key, data)` over several data parts, as if they were concatenated
/// (AuthMessage is three messages joined by commas; this saves building it).
pub(crate) fn hmac(alg: ScramHash, key: &[u8], parts: &[&[u8]]) -> HashOutput {
    fn run<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> HashOutput {
        // HMAC accepts keys of any length, so this branch is unreachable;
        // an all-zero output would simply fail every comparison.
        let Ok(mut mac) = <M as KeyInit>::new_from_slice(key) else {
            return HashOutput::from_slice(&[]);
        };
        for part in parts {
            mac.update(part);
        }
        HashOutput::from_slice(&mac.finalize().into_bytes())
    }
    match alg {
        ScramHash::Sha1 => run::<Hmac<Sha1>>(key, parts),
        ScramHash::Sha256 => run::<Hmac<Sha256>>(key, parts),
        ScramHash::Sha512 => run::<Hmac<Sha512>>(key, parts),
    }
}

/// `Hi(password, salt, i)`: PBKDF2 with HMAC-H, one output block.
pub(crate) fn salted_password(
    alg: ScramHash,
    password: &[u8],
    salt: &[u8],
    iterations: u32,
) -> HashOutput {
    let mut out = [0u8; MAX_OUTPUT];
    let out = &mut out[..alg.output_len()];
    match alg {
        ScramHash::Sha1 => pbkdf2::pbkdf2_hmac::<Sha1>(password, salt, iterations, out),
        ScramHash::Sha256 => pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, out),
        ScramHash::Sha512 => pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, out),
    }
    let result = HashOutput::from_slice(out);
    out.fill(0);
    result
}

/// The two keys a SaltedPassword yields: `ClientKey` and `ServerKey`.
pub(crate) fn client_and_server_key(
    alg: ScramHash,
    salted: &HashOutput,
) -> (HashOutput, HashOutput) {
    (
        hmac(alg, salted.as_bytes(), &[b"Client Key"]),
        hmac(alg, salted.as_bytes(), &[b"Server Key"]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn hmac_of_parts_equals_hmac_of_concatenation() {
        for alg in [ScramHash::Sha1, ScramHash::Sha256, ScramHash::Sha512] {
            let joined = hmac(alg, b"key", &[b"hello, world"]);
            let parts = hmac(alg, b"key", &[b"hello", b", ", b"world"]);
            assert_eq!(joined, parts);
            assert_eq!(joined.as_bytes().len(), alg.output_len());
        }
    }

    #[test]
    fn pbkdf2_matches_rfc6070_vector() {
        // RFC 6070, test case 2: "password" / "salt" / 2 iterations.
        let out = salted_password(ScramHash::Sha1, b"password", b"salt", 2);
        let expected = [
            0xea, 0x6c, 0x01, 0x4d, 0xc7, 0x2d, 0x6f, 0x8c, 0xcd, 0x1e, 0xd9, 0x2a, 0xce, 0x1d,
            0x41, 0xf0, 0xd8, 0xde, 0x89, 0x57,
        ];
        assert_eq!(out.as_bytes(), expected);
    }
}
