//! The one-pass path for the common case on the wire: an ASCII JID that is
//! already in prepared form (lowercase localpart and domain, printable
//! resource). Anything else, valid or not, goes to the general path, which
//! prepares it and names any error; this path only ever says "yes, as is".

use super::Bounds;
use super::prep::{self, MAX_PART_LEN, PREPARED_HOST, PREPARED_LOCAL};

const MAX_LABEL_LEN: usize = 63;

/// The part boundaries of `s` when it is an already prepared ASCII JID
/// that every profile would leave unchanged, else `None`.
///
/// The bytes before the first `@` or `/` are scanned once; if an `@` ends
/// them they were the localpart and the domain scan starts after it,
/// otherwise they are scanned again as the domain (a short second pass is
/// cheaper than tracking both readings at once). The resourcepart only has
/// to be printable ASCII.
pub(super) fn prepared_ascii(s: &str) -> Option<Bounds> {
    let bytes = s.as_bytes();
    let mut local_bits = u8::MAX;
    let mut first_separator = bytes.len();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'@' || b == b'/' {
            first_separator = i;
            break;
        }
        local_bits &= prep::ascii_class(b);
    }
    let domain_start = match bytes.get(first_separator) {
        Some(b'@') => {
            let local_ok =
                (1..=MAX_PART_LEN).contains(&first_separator) && local_bits & PREPARED_LOCAL != 0;
            if !local_ok {
                return None;
            }
            first_separator + 1
        }
        _ => 0,
    };
    let bare_end = domain_start + host_name_len(bytes.get(domain_start..)?)?;
    let resource_ok = match bytes.get(bare_end..) {
        Some([]) | None => true,
        Some([_slash, resource @ ..]) => {
            (1..=MAX_PART_LEN).contains(&resource.len()) && prep::all_printable_ascii(resource)
        }
    };
    resource_ok.then(|| Bounds::new(domain_start, bare_end))
}

/// The length of the prepared ASCII host name at the start of `bytes`,
/// which ends at a `/` or the end of input: lowercase letters, digits,
/// hyphens and dots, labels of 1 to 63 bytes that neither start nor end
/// with a hyphen. A trailing dot ends with an empty label, so it is left
/// to the general path, which strips it.
pub(super) fn host_name_len(bytes: &[u8]) -> Option<usize> {
    let mut bits = u8::MAX;
    let mut label_start = 0;
    let mut end = bytes.len();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'/' => {
                end = i;
                break;
            }
            b'.' => {
                label_ok(bytes.get(label_start..i)?)?;
                label_start = i + 1;
            }
            _ => bits &= prep::ascii_class(b),
        }
    }
    label_ok(bytes.get(label_start..end)?)?;
    (end <= MAX_PART_LEN && bits & PREPARED_HOST != 0).then_some(end)
}

fn label_ok(label: &[u8]) -> Option<()> {
    match label {
        [first, .., last] | [first @ last] if *first != b'-' && *last != b'-' => {
            (label.len() <= MAX_LABEL_LEN).then_some(())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jid::JidRef;
    use proptest::prelude::*;

    /// Whether the general path accepts `s` unchanged, and where it puts
    /// the domain.
    fn general(s: &str) -> Option<Bounds> {
        let jid = JidRef::parse_general(s).ok()?;
        jid.is_borrowed().then_some(jid.bounds)
    }

    #[test]
    fn typical_addresses_take_the_fast_path() {
        for s in [
            "example.com",
            "juliet@example.com",
            "juliet@example.com/balcony",
            "room@conference.example.org/Nick Name With @ and /",
            "127.0.0.1",
            "a-b.c-d@x-1.y",
        ] {
            assert!(prepared_ascii(s).is_some(), "{s}");
            assert_eq!(prepared_ascii(s), general(s), "{s}");
        }
    }

    #[test]
    fn anything_needing_work_or_refused_is_left_to_the_general_path() {
        for s in [
            "",
            "Juliet@example.com",
            "juliet@Example.com",
            "example.com.",
            "@example.com",
            "example.com/",
            "a@b@c",
            "-a.example",
            "a-.example",
            "a..b",
            ".a",
            "[::1]",
            "a:b@example.com",
            "a@example.com/\u{7f}",
            "caf\u{e9}@example.com",
            "a_b.example",
        ] {
            assert_eq!(prepared_ascii(s), None, "{s:?}");
        }
    }

    #[test]
    fn label_and_part_lengths_are_checked() {
        let label63 = "a".repeat(63);
        let ok = format!("{label63}.example");
        assert!(prepared_ascii(&ok).is_some());
        assert_eq!(prepared_ascii(&format!("a{ok}")), None);
        let local = "a".repeat(1024);
        assert_eq!(prepared_ascii(&format!("{local}@example.com")), None);
        let resource = "r".repeat(1024);
        assert_eq!(prepared_ascii(&format!("example.com/{resource}")), None);
    }

    proptest! {
        /// The fast path never accepts what the general path would change or
        /// refuse, and agrees with it on the bounds.
        #[test]
        fn agrees_with_the_general_path(s in "[aZ0.@/ _:\\-\\[\\]]{0,12}") {
            if let Some(bounds) = prepared_ascii(&s) {
                prop_assert_eq!(Some(bounds), general(&s));
            }
        }

        #[test]
        fn accepts_every_prepared_ascii_jid(
            local in proptest::option::of("[a-z0-9._]{1,8}"),
            domain in "[a-z0-9]{1,5}(\\.[a-z0-9]{1,5}){0,2}",
            resource in proptest::option::of("[ -~]{1,8}"),
        ) {
            let mut s = String::new();
            if let Some(local) = &local { s.push_str(local); s.push('@'); }
            s.push_str(&domain);
            if let Some(resource) = &resource { s.push('/'); s.push_str(resource); }
            prop_assert!(prepared_ascii(&s).is_some(), "{}", s);
            prop_assert_eq!(prepared_ascii(&s), general(&s));
        }
    }
}
