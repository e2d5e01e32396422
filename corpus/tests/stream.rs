//! Properties of the generated stream as a whole: determinism, XML
//! well-formedness (checked by rxml), element and keepalive counts, size,
//! and JID validity (checked by the `jid` crate).

use xmpp_corpus::{Corpus, attribute_values, c2s_stream, generate};

/// Large enough for every kind to appear, small enough for a debug build.
const N: usize = 3_000;

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let a = generate(1, N);
    assert_eq!(a, generate(1, N));
    assert_eq!(a.bytes, c2s_stream(1, N));
    assert_ne!(a.bytes, c2s_stream(2, N));
}

#[test]
fn exact_element_count_for_small_and_odd_sizes() {
    for n in [0, 1, 2, 5, 64, 199, 201, 202, 777] {
        let c = generate(3, n);
        assert_eq!(c.stanzas, n);
        assert_eq!(parse(&c.bytes).top_level, n, "n = {n}");
        assert_eq!(c.count_by_kind.iter().map(|(_, k)| k).sum::<usize>(), n);
    }
}

/// What rxml saw in a stream.
struct Parsed {
    top_level: usize,
    /// Whitespace characters directly inside `<stream:stream>`.
    keepalive_chars: usize,
    max_depth: usize,
}

/// Parses the whole stream with rxml's namespace-resolving parser and
/// panics on any well-formedness or namespace error.
fn parse(bytes: &[u8]) -> Parsed {
    let mut reader = rxml::Reader::new(bytes);
    let mut depth = 0usize;
    let mut parsed = Parsed {
        top_level: 0,
        keepalive_chars: 0,
        max_depth: 0,
    };
    let mut root = None;
    let result = reader.read_all(|ev| match ev {
        rxml::Event::StartElement(_, qname, _) => {
            if depth == 0 {
                root = Some(qname);
            } else if depth == 1 {
                parsed.top_level += 1;
            }
            depth += 1;
            parsed.max_depth = parsed.max_depth.max(depth);
        }
        rxml::Event::EndElement(_) => depth -= 1,
        rxml::Event::Text(_, text) => {
            if depth == 1 {
                assert!(text.chars().all(|c| c == ' ' || c == '\n'), "{text:?}");
                parsed.keepalive_chars += text.len();
            }
        }
        rxml::Event::XmlDeclaration(..) => {}
    });
    assert!(rxml::as_eof_flag(result).expect("well-formed XML"));
    assert_eq!(depth, 0, "every element closed");
    let (ns, local) = root.expect("a root element");
    assert_eq!(ns.as_str(), "http://etherx.jabber.org/streams");
    assert_eq!(local.as_str(), "stream");
    parsed
}

#[test]
fn stream_is_well_formed_with_counted_elements_and_keepalives() {
    let c = generate(1, N);
    let parsed = parse(&c.bytes);
    assert_eq!(parsed.top_level, N);
    assert_eq!(parsed.keepalive_chars, c.keepalives);
    // About 1.5% of the element boundaries.
    assert!(
        (N / 200..=N / 30).contains(&c.keepalives),
        "{}",
        c.keepalives
    );
    assert!((6..=12).contains(&parsed.max_depth), "{}", parsed.max_depth);
}

#[test]
fn eighteen_thousand_elements_are_about_ten_megabytes() {
    // Generating (not parsing) the full default corpus takes well under a
    // second even in a debug build.
    let c = generate(1, 18_000);
    assert_eq!(c.stanzas, 18_000);
    assert!(
        (8_000_000..=12_000_000).contains(&c.bytes.len()),
        "{} bytes",
        c.bytes.len()
    );
}

#[test]
fn every_kind_appears_in_a_large_enough_stream() {
    let c = generate(1, N);
    for &(kind, count) in &c.count_by_kind {
        assert!(count > 0, "no {kind} in {N} elements");
    }
    let total: usize = c.bytes_by_kind.iter().map(|(_, b)| b).sum();
    assert!(total < c.bytes.len() && total > c.bytes.len() * 9 / 10);
}

#[test]
fn lexical_variety_is_present() {
    let c = generate(1, N);
    let s = std::str::from_utf8(&c.bytes).expect("UTF-8");
    for needle in [
        "=\"", // "-quoted attributes
        "='",  // '-quoted attributes
        "&apos;",
        "&quot;",
        "&amp;",
        "&lt;",
        "&gt;",
        "xml:lang=",
        "<ps:event xmlns:ps=",
        "<message xmlns='jabber:client'", // MAM inner message
        "bücher.example",                 // IDN domain
        "\n\n",                           // paragraphs
        "<r xmlns='urn:xmpp:sm:3'/>",
        "<a xmlns='urn:xmpp:sm:3' h=",
    ] {
        assert!(s.contains(needle), "missing {needle:?}");
    }
    assert!(s.chars().any(|c| c.len_utf8() == 2));
    assert!(s.chars().any(|c| c.len_utf8() == 3));
    assert!(s.chars().any(|c| c.len_utf8() == 4));
    assert!(!s.contains("<!--") && !s.contains("<![CDATA[") && !s.contains("&#"));
}

#[test]
fn every_jid_is_valid_and_normalized() {
    let c: Corpus = generate(1, N);
    let values = attribute_values(&c.bytes, &["from", "to", "jid", "by"]);
    assert!(values.len() > 2 * N);
    let mut non_ascii = 0;
    for raw in values {
        assert!(!raw.is_empty());
        let value = unescape(raw);
        let jid = jid::Jid::new(&value).unwrap_or_else(|e| panic!("{value:?}: {e}"));
        // A server sends JIDs in their canonical form.
        assert_eq!(jid.as_str(), value);
        non_ascii += usize::from(!value.is_ascii());
    }
    assert!(non_ascii > 0);
    // The bind result carries our JID as text, not as an attribute.
    let s = std::str::from_utf8(&c.bytes).expect("UTF-8");
    assert!(s.contains("<jid>romeo@example.org/Conversations."));
}

fn unescape(raw: &str) -> String {
    raw.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&apos;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// Pins the output so that an accidental change (or a platform difference)
/// shows up: benchmark figures are only comparable across runs when the
/// corpus is the same. After an intentional change to the generator,
/// update the constant and say so in the commit message.
#[test]
fn output_is_pinned() {
    let bytes = c2s_stream(1, 500);
    // FNV-1a, 64-bit.
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    assert_eq!((bytes.len(), hash), (290_942, 0xc08d_266b_e1f7_2696));
}
