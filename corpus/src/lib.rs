//! Deterministic generator of realistic server-to-client XMPP traffic.
//!
//! [`c2s_stream`] writes the bytes a client reads from its socket after SASL
//! and the stream restart: the `<stream:stream>` header, the session start
//! (features, bind result, XEP-0198 `<enabled/>`, a 200-contact roster, a
//! disco#info result, the initial presence burst, a MAM page), then a
//! steady mix of presence, chat, group chat, OMEMO, chat states, receipts,
//! PEP events, IQs and XEP-0198 `<r/>`/`<a/>`, with whitespace keepalives
//! between about 1.5% of the elements, and `</stream:stream>`.
//!
//! The output is meant for benchmarks and tests of parsers and JID code:
//! it mixes quoting and escaping styles, namespace prefixes, `xml:lang`,
//! non-ASCII text (2-, 3- and 4-byte UTF-8) and non-ASCII JIDs (including
//! an IDN domain and right-to-left localparts), all valid per RFC 7622. The
//! same `(seed, stanzas)` always gives the same bytes, on every platform.
//!
//! ```
//! let corpus = xmpp_corpus::generate(1, 300);
//! assert_eq!(corpus.stanzas, 300);
//! assert!(corpus.bytes.starts_with(b"<?xml version='1.0'?><stream:stream "));
//! assert!(corpus.bytes.ends_with(b"</stream:stream>"));
//! assert_eq!(corpus.bytes, xmpp_corpus::c2s_stream(1, 300));
//! ```
#![deny(unsafe_code)]

#[allow(unsafe_code)]
pub mod counting_alloc;
mod kinds;
mod rng;
mod scan;
mod stream;
mod text;
mod tokens;
mod vocab;
mod world;
mod xml;

pub use scan::attribute_values;

use kinds::Kind;

/// A generated stream and what it contains.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Corpus {
    /// The whole stream, UTF-8, from the XML declaration to
    /// `</stream:stream>`.
    pub bytes: Vec<u8>,
    /// Top-level elements (children of `<stream:stream>`): stanzas and
    /// nonzas such as `<stream:features>`, `<r/>`, `<a/>`. Equals the
    /// `stanzas` argument of [`generate`].
    pub stanzas: usize,
    /// Whitespace keepalives (a single space or newline between two
    /// top-level elements); not counted in `stanzas`.
    pub keepalives: usize,
    /// Top-level elements per kind (`"presence"`, `"message-chat-short"`,
    /// `"sm-a"` …), for every kind in a fixed order, zeros included.
    pub count_by_kind: Vec<(&'static str, usize)>,
    /// Bytes per kind, in the same order as `count_by_kind`.
    pub bytes_by_kind: Vec<(&'static str, usize)>,
}

/// Generates a stream of exactly `stanzas` top-level elements from `seed`.
///
/// With `stanzas = 18_000` the stream is about 10 MB (about 560 bytes per
/// element on average). Below 200 elements the session start is cut short
/// and there is no archive page.
///
/// ```
/// let corpus = xmpp_corpus::generate(7, 1_000);
/// let total: usize = corpus.count_by_kind.iter().map(|(_, n)| n).sum();
/// assert_eq!(total, 1_000);
/// ```
pub fn generate(seed: u64, stanzas: usize) -> Corpus {
    let g = stream::write(seed, stanzas);
    let count_by_kind = Kind::ALL
        .iter()
        .map(|k| (k.name(), g.stats[*k as usize].0))
        .collect();
    let bytes_by_kind = Kind::ALL
        .iter()
        .map(|k| (k.name(), g.stats[*k as usize].1))
        .collect();
    Corpus {
        stanzas: g.elements,
        keepalives: g.keepalives,
        count_by_kind,
        bytes_by_kind,
        bytes: g.out.into_bytes(),
    }
}

/// The stream bytes of [`generate`]`(seed, stanzas)`.
///
/// ```
/// let bytes = xmpp_corpus::c2s_stream(1, 50);
/// assert!(std::str::from_utf8(&bytes).is_ok());
/// ```
pub fn c2s_stream(seed: u64, stanzas: usize) -> Vec<u8> {
    generate(seed, stanzas).bytes
}
