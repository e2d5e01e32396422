//! The XEP-0114 handshake: the lowercase hex SHA-1 of the stream id the
//! server chose followed by the shared secret.

use sha1::{Digest, Sha1};

/// What the component sends in `<handshake/>` for stream `id` and
/// `secret`: 40 lowercase hex digits.
///
/// ```
/// use xmpp_proto::component::handshake_digest;
///
/// // SHA-1 of "3BF96D32sometext".
/// assert_eq!(
///     handshake_digest("3BF96D32", "sometext"),
///     "99d2642e709180aa6d63d12dd69fd2f539fe01f9"
/// );
/// ```
pub fn handshake_digest(id: &str, secret: &str) -> String {
    let mut hash = Sha1::new();
    hash.update(id.as_bytes());
    hash.update(secret.as_bytes());
    lower_hex(&hash.finalize())
}

/// Lowercase hex digits of `bytes`.
pub(crate) fn lower_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

/// Whether `offered` (trimmed, hex digits in either case) is `expected`
/// (lowercase hex), in time independent of where the two differ.
pub(crate) fn hex_matches(expected: &str, offered: &str) -> bool {
    let offered = offered.trim().as_bytes();
    if offered.len() != expected.len() {
        return false;
    }
    let mut difference = 0u8;
    for (a, b) in expected.bytes().zip(offered) {
        difference |= a ^ b.to_ascii_lowercase();
    }
    difference == 0
}

/// Whether `offered` (the text of the component's `<handshake/>`) is the
/// digest of `id` and `secret`. Case-insensitive, as some components send
/// uppercase hex, and in time independent of where the two differ.
pub fn handshake_matches(id: &str, secret: &str, offered: &str) -> bool {
    hex_matches(&handshake_digest(id, secret), offered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_only_the_right_digest_in_either_case() {
        let digest = handshake_digest("id-1", "secret");
        assert!(handshake_matches("id-1", "secret", &digest));
        assert!(handshake_matches(
            "id-1",
            "secret",
            &digest.to_ascii_uppercase()
        ));
        assert!(handshake_matches("id-1", "secret", &format!(" {digest}\n")));
        assert!(!handshake_matches("id-2", "secret", &digest));
        assert!(!handshake_matches("id-1", "Secret", &digest));
        assert!(!handshake_matches("id-1", "secret", &digest[..39]));
        assert!(!handshake_matches("id-1", "secret", ""));
    }
}
