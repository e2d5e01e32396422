//! rxml alone, as the baselines the receive benchmarks compare with: the
//! namespace-resolving `rxml::Parser` and the low-level `rxml::RawParser`
//! our reader drives (its allocations are the floor of ours: one `String`
//! per attribute value and text node).

use std::hint::black_box;

use rxml::Parse;

/// Feeds `data` in `chunk`-byte pieces to `parser` and counts its events.
fn count_events<P: Parse>(mut parser: P, data: &[u8], chunk: usize) -> u64 {
    let mut events = 0u64;
    for piece in data.chunks(chunk) {
        let mut rest = piece;
        loop {
            match parser.parse(&mut rest, false) {
                Ok(Some(event)) => {
                    black_box(&event);
                    events += 1;
                }
                Ok(None) | Err(rxml::error::EndOrError::NeedMoreData) => break,
                Err(e) => panic!("rxml: {e:?}"),
            }
        }
    }
    events
}

/// `rxml::Parser` over `data` in `chunk`-byte pieces; the event count.
#[inline(never)]
pub(crate) fn rxml_parser(data: &[u8], chunk: usize) -> u64 {
    count_events(rxml::Parser::new(), data, chunk)
}

/// `rxml::RawParser` over `data` in `chunk`-byte pieces; the event count.
#[inline(never)]
pub(crate) fn rxml_raw(data: &[u8], chunk: usize) -> u64 {
    count_events(rxml::RawParser::new(), data, chunk)
}
