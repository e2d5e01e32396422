//! XEP-0474 (SASL SCRAM Downgrade Protection, version 0.5.0): a hash of
//! what the server offered, carried in the SCRAM server-first-message.
//!
//! The server puts `h=<base64(H(S))>` into its server-first-message, where
//! `S` is its advertised mechanism names sorted by octet and joined by
//! U+001E, followed (only if it advertised XEP-0440 channel binding types)
//! by U+001F and the sorted binding type names joined by U+001E. `H` is the
//! hash function of the SCRAM mechanism in use. The client computes the
//! same from what it received and fails on a difference; since the
//! server-first-message is part of AuthMessage, a man in the middle cannot
//! rewrite `h` without breaking the proofs.
//!
//! The two separators cannot occur in XML 1.0 text, so no name can forge
//! them. (Earlier drafts of the XEP used other delimiters; 0.5.0 is what
//! Prosody's `mod_sasl_ssdp` and ejabberd implement today.)

use super::scram::ScramHash;
use super::scram::crypto;
use super::scram::messages::encode_base64;
use super::selection::ServerOffer;

const ITEM_SEPARATOR: u8 = 0x1e;
const GROUP_SEPARATOR: u8 = 0x1f;

/// The XEP-0474 hash of an offer, base64-encoded as in `h=`.
///
/// # Example
/// The example of XEP-0474 §6.3:
/// ```
/// use xmpp_proto::sasl::{downgrade_hash, ScramHash, ServerOffer};
/// let offer = ServerOffer::new(["SCRAM-SHA-1-PLUS", "SCRAM-SHA-1"])
///     .with_channel_binding_types(["tls-server-end-point", "tls-exporter"]);
/// assert_eq!(downgrade_hash(ScramHash::Sha1, &offer), "G6k/rBLDqgOhRRaCuuatSDFkJ08=");
/// ```
pub fn downgrade_hash(hash: ScramHash, offer: &ServerOffer) -> String {
    let mut input = Vec::new();
    append_sorted(&mut input, &offer.mechanisms);
    if let Some(types) = &offer.channel_binding_types {
        input.push(GROUP_SEPARATOR);
        append_sorted(&mut input, types);
    }
    encode_base64(crypto::hash(hash, &input).as_bytes())
}

fn append_sorted(out: &mut Vec<u8>, names: &[String]) {
    // "i;octet" collation (RFC 4790 §9.3) is byte order, which is how Rust
    // orders strings.
    let mut sorted: Vec<&str> = names.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    for (i, name) in sorted.into_iter().enumerate() {
        if i > 0 {
            out.push(ITEM_SEPARATOR);
        }
        out.extend_from_slice(name.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_of_the_offer_does_not_matter_but_content_does() {
        let a = ServerOffer::new(["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"]);
        let b = ServerOffer::new(["PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256"]);
        let stripped = ServerOffer::new(["PLAIN", "SCRAM-SHA-1"]);
        let with_empty_cb = b.clone().with_channel_binding_types::<[&str; 0], &str>([]);
        for hash in [ScramHash::Sha1, ScramHash::Sha256, ScramHash::Sha512] {
            assert_eq!(downgrade_hash(hash, &a), downgrade_hash(hash, &b));
            assert_ne!(downgrade_hash(hash, &a), downgrade_hash(hash, &stripped));
            assert_ne!(
                downgrade_hash(hash, &a),
                downgrade_hash(hash, &with_empty_cb)
            );
        }
    }
}
