//! Internals shared by the client and server roles: the output queue with
//! its TLS and shutdown marks, the timer table, and element helpers.
//!
//! Nothing here is public: `Client` and `Server` are separate types over
//! these pieces, with no role flag threaded through.

mod output;
mod sasl_data;
mod timers;

pub(crate) use self::output::Output;
pub(crate) use self::sasl_data::{SASL_CB, decode_sasl, encode_sasl, sasl_tls_state};
pub(crate) use self::timers::Timers;

use crate::xml::{Element, ElementRef, Node};

/// Rebuilds `el` with attribute `name` set to `value` (replacing any
/// existing value). Elements are immutable once built; this is only used
/// on the send path where a stanza lacks an id or needs its `from`
/// stamped.
pub(crate) fn with_attr(el: ElementRef<'_>, name: &str, value: &str) -> Element {
    let mut b = Element::builder(el.name(), el.ns());
    let mut replaced = false;
    for a in el.attrs() {
        if a.ns.is_empty() && a.name == name {
            b = b.attr(name, value);
            replaced = true;
        } else if a.ns.is_empty() {
            b = b.attr(a.name, a.value);
        } else {
            b = b.attr_ns(a.ns, a.name, a.value);
        }
    }
    if !replaced {
        b = b.attr(name, value);
    }
    for node in el.nodes() {
        b = match node {
            Node::Element(child) => b.append_ref(child),
            Node::Text(text) => b.text(text),
        };
    }
    b.build()
}

/// A short unpredictable identifier (stream ids, stanza ids): 16 bytes of
/// randomness in unpadded URL-safe base64.
pub(crate) fn random_id(random: &mut dyn crate::endpoint::RandomSource) -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 12];
    random.fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `1.0`, `1.1`, `2.0`: any stream version whose major number is at least
/// 1 (RFC 6120 §4.7.5).
pub(crate) fn version_at_least_1(v: &str) -> bool {
    v.split_once('.')
        .and_then(|(major, _)| major.parse::<u32>().ok())
        .is_some_and(|major| major >= 1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions() {
        use super::version_at_least_1;
        assert!(version_at_least_1("1.0"));
        assert!(version_at_least_1("2.5"));
        assert!(!version_at_least_1("0.9"));
        assert!(!version_at_least_1("1"));
        assert!(!version_at_least_1("x.0"));
    }
}
