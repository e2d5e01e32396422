//! Fuzzing the stream reader and writer.

use crate::xml::{Element, Limits, ReadError, StreamEvent, StreamReader};

const HEADER: &[u8] = b"<stream:stream xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";

/// Feeds arbitrary bytes to a [`StreamReader`] in arbitrary chunks.
///
/// The first byte chooses the chunk sizes and whether a valid stream header
/// is put in front (so the fuzzer spends its time on stanzas). Checks that
/// the events and the error, if any, do not depend on the chunking, that the reader's buffered
/// size stays within its limits, and that every element read serializes to
/// XML that parses back to the same element and serializes identically.
pub fn parser(data: &[u8]) {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let input = if control & 1 == 1 {
        [HEADER, rest].concat()
    } else {
        rest.to_vec()
    };
    let limits = Limits {
        max_element_bytes: 4096,
        max_header_bytes: 1024,
        max_token_bytes: 1024,
        ..Limits::default()
    };
    let (whole, whole_error) = read_all(&input, &[input.len().max(1)], &limits);
    let sizes: Vec<usize> = [1 + usize::from(control >> 1), 1, 7, 64]
        .into_iter()
        .collect();
    let (split, split_error) = read_all(&input, &sizes, &limits);
    assert_eq!(whole, split, "events depend on chunking");
    assert_eq!(whole_error, split_error, "errors depend on chunking");
    for ev in whole {
        if let StreamEvent::Element(el) = ev {
            round_trip(&el);
        }
    }
}

fn read_all(
    input: &[u8],
    sizes: &[usize],
    limits: &Limits,
) -> (Vec<StreamEvent>, Option<ReadError>) {
    let mut reader = StreamReader::new(limits.clone());
    let mut events = Vec::new();
    let mut rest = input;
    let mut i = 0;
    let bound = limits.max_element_bytes + limits.max_token_bytes + limits.max_header_bytes;
    while !rest.is_empty() {
        let n = sizes
            .get(i % sizes.len())
            .copied()
            .unwrap_or(1)
            .clamp(1, rest.len());
        i += 1;
        let (mut chunk, tail) = rest.split_at(n);
        rest = tail;
        loop {
            match reader.read(&mut chunk) {
                Ok(Some(ev)) => events.push(ev),
                Ok(None) => break,
                Err(e) => return (events, Some(e)),
            }
        }
        assert!(reader.buffered_len() <= bound, "reader holds too much");
    }
    (events, None)
}

fn round_trip(el: &Element) {
    let mut first = Vec::new();
    if let Err(e) = el.write_to(&mut first) {
        panic!("a parsed element must be serializable: {e}");
    }
    let doc = [
        &b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>"[..],
        &first,
    ]
    .concat();
    let mut reader = StreamReader::new(Limits::default());
    let mut input = &doc[..];
    assert!(matches!(
        reader.read(&mut input),
        Ok(Some(StreamEvent::Header(_)))
    ));
    let again = match reader.read(&mut input) {
        Ok(Some(StreamEvent::Element(e))) => e,
        other => panic!("re-serialized element does not parse: {other:?}"),
    };
    assert_eq!(&again, el, "round trip changed the element");
    let mut second = Vec::new();
    if let Err(e) = again.write_to(&mut second) {
        panic!("a reparsed element must be serializable: {e}");
    }
    assert_eq!(first, second, "serialization is not a fixed point");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_element_bytes: 4096,
            max_header_bytes: 1024,
            max_token_bytes: 1024,
            ..Limits::default()
        }
    }

    /// Inputs that fail in different ways, each at a different depth: the
    /// comparison of errors has something to compare.
    #[test]
    fn errors_are_reached_and_compared() {
        let big = format!("<message><body>{}</body></message>", "x".repeat(5000));
        let long_name = format!("<{}/>", "n".repeat(2000));
        use crate::stream_error::StreamErrorCondition as C;
        let cases: [(&[u8], C); 7] = [
            (b"<a><!-- no --></a>", C::RestrictedXml),
            (b"<a>\xff</a>", C::UnsupportedEncoding),
            (b"<x:a/>", C::BadNamespacePrefix),
            (b"text", C::BadFormat),
            (b"<a></b>", C::NotWellFormed),
            (big.as_bytes(), C::PolicyViolation),
            (long_name.as_bytes(), C::PolicyViolation),
        ];
        for (body, expected) in cases {
            let input = [HEADER, body].concat();
            let (_, error) = read_all(&input, &[input.len()], &limits());
            let error =
                error.unwrap_or_else(|| panic!("{:?} must fail", String::from_utf8_lossy(body)));
            assert_eq!(error.condition(), expected, "{error:?}");
            for control in [1u8, 3, 0x41, 0xFF] {
                parser(&[&[control][..], body].concat());
            }
        }
    }

    proptest::proptest! {
        /// A stand-in for the fuzzer: stream fragments, valid and not, in
        /// any order and chunking.
        #[test]
        fn random_fragments_give_the_same_outcome_in_any_chunking(
            control in proptest::num::u8::ANY,
            pieces in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::collection::vec(proptest::num::u8::ANY, 0..8),
                    proptest::strategy::Just(b"<message to='a@b'><body>x &amp; y</body></message>".to_vec()),
                    proptest::strategy::Just(b"<iq type='get' id='1'><q xmlns='urn:x'/></iq>".to_vec()),
                    proptest::strategy::Just(b"  \n".to_vec()),
                    proptest::strategy::Just(b"<![CDATA[z]]>".to_vec()),
                    proptest::strategy::Just(b"</stream:stream>".to_vec()),
                    proptest::strategy::Just(b"<a b='1' b='2'/>".to_vec()),
                    proptest::strategy::Just("é€😀".as_bytes().to_vec()),
                    proptest::strategy::Just(vec![b'x'; 1500]),
                ],
                0..10,
            ),
        ) {
            parser(&[&[control][..], &pieces.concat()].concat());
        }
    }
}
