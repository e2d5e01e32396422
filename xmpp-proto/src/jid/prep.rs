//! Preparation of the localpart (nodeprep) and resourcepart (resourceprep).
//!
//! The stringprep profiles are what Prosody and ejabberd still apply (RFC
//! 6122 / RFC 3920 appendix A and B), so they are what we compare with. The
//! `stringprep` crate runs NFKC and allocates on every non-ASCII input; most
//! JIDs on the wire are already prepared, so a fast path first checks
//! whether the part is already in prepared form and, if so, borrows it.
//! Only characters whose preparation is the identity and which cannot
//! interact with their neighbours under NFKC qualify (see [`stable_lower`]).

use std::borrow::Cow;

use super::error::{JidError, JidErrorKind, JidPart};

/// The largest prepared part RFC 7622 §3.3.1/§3.4.1 allows.
pub(crate) const MAX_PART_LEN: usize = 1023;

/// Applies nodeprep to a localpart (RFC 7622 §3.3).
///
/// ASCII is handled byte by byte from a class table (uppercase folded,
/// `" & ' / : < > @`, space and controls refused); other characters go
/// through [`unicode_localpart`].
pub(crate) fn localpart(s: &str) -> Result<Cow<'_, str>, JidError> {
    const PART: JidPart = JidPart::Localpart;
    if s.is_empty() {
        return Err(JidError::new(PART, JidErrorKind::Empty));
    }
    if all_have(s.as_bytes(), PREPARED_LOCAL) {
        return check_len(PART, Cow::Borrowed(s));
    }
    let mut needs_folding = false;
    for &b in s.as_bytes() {
        let class = ascii_class(b);
        if class & NON_ASCII != 0 {
            return unicode_localpart(s);
        }
        if class & LOCAL_OK == 0 {
            return Err(JidError::new(
                PART,
                JidErrorKind::ProhibitedCharacter(char::from(b)),
            ));
        }
        needs_folding |= class & UPPER != 0;
    }
    let prepared = if needs_folding {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    };
    check_len(PART, prepared)
}

/// The localpart path for input with non-ASCII characters: still no
/// stringprep call when every character is a fixed point of nodeprep.
fn unicode_localpart(s: &str) -> Result<Cow<'_, str>, JidError> {
    const PART: JidPart = JidPart::Localpart;
    if all_right_to_left_letters(s) {
        return check_len(PART, Cow::Borrowed(s));
    }
    let mut needs_folding = false;
    for c in s.chars() {
        if c.is_ascii() {
            if ascii_class(c as u8) & LOCAL_OK == 0 {
                return Err(JidError::new(PART, JidErrorKind::ProhibitedCharacter(c)));
            }
            needs_folding |= c.is_ascii_uppercase();
        } else if !stable_lower(c) {
            return slow(PART, s, stringprep::nodeprep);
        }
    }
    let prepared = if needs_folding {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    };
    check_len(PART, prepared)
}

/// Applies resourceprep to a resourcepart (RFC 7622 §3.4).
///
/// Resourceprep does no case folding, so printable ASCII is always
/// prepared already; it is checked eight bytes at a time.
pub(crate) fn resourcepart(s: &str) -> Result<Cow<'_, str>, JidError> {
    const PART: JidPart = JidPart::Resourcepart;
    if s.is_empty() {
        return Err(JidError::new(PART, JidErrorKind::Empty));
    }
    if all_printable_ascii(s.as_bytes()) {
        return check_len(PART, Cow::Borrowed(s));
    }
    if all_right_to_left_letters(s) {
        return check_len(PART, Cow::Borrowed(s));
    }
    for c in s.chars() {
        if c.is_ascii() {
            if c.is_ascii_control() {
                return Err(JidError::new(PART, JidErrorKind::ProhibitedCharacter(c)));
            }
        } else if !(stable_lower(c) || stable_upper(c) || stable_punctuation(c)) {
            return slow(PART, s, stringprep::resourceprep);
        }
    }
    check_len(PART, Cow::Borrowed(s))
}

/// Character classes of ASCII bytes, for the byte loops.
pub(crate) const LOCAL_OK: u8 = 1;
pub(crate) const UPPER: u8 = 2;
/// Letter or digit: allowed anywhere in a DNS label.
pub(crate) const LETTER_DIGIT: u8 = 4;
/// Not ASCII: the byte starts or continues a multi-byte character.
pub(crate) const NON_ASCII: u8 = 8;
/// Allowed in a localpart and already prepared (not uppercase).
pub(crate) const PREPARED_LOCAL: u8 = 16;
/// A lowercase letter, digit, hyphen or dot: already prepared in a host name.
pub(crate) const PREPARED_HOST: u8 = 32;

const fn build_classes() -> [u8; 256] {
    let mut table = [NON_ASCII; 256];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        let mut class = 0;
        let prohibited_in_local = matches!(
            c,
            b'"' | b'&' | b'\'' | b'/' | b':' | b'<' | b'>' | b'@' | b' '
        ) || c < 0x20
            || c == 0x7F;
        if !prohibited_in_local {
            class |= LOCAL_OK;
        }
        if c.is_ascii_uppercase() {
            class |= UPPER;
        }
        if c.is_ascii_alphanumeric() {
            class |= LETTER_DIGIT;
        }
        if !prohibited_in_local && !c.is_ascii_uppercase() {
            class |= PREPARED_LOCAL;
        }
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.' {
            class |= PREPARED_HOST;
        }
        table[b] = class;
        b += 1;
    }
    table
}

static CLASSES: [u8; 256] = build_classes();

/// The class bits of a byte (a 256-entry table, so no bounds check fails).
#[inline]
pub(crate) fn ascii_class(b: u8) -> u8 {
    CLASSES[usize::from(b)]
}

/// Whether every byte has all the class bits in `bits`: a branch-free
/// reduction the compiler unrolls, for the common already-prepared case.
#[inline]
pub(crate) fn all_have(bytes: &[u8], bits: u8) -> bool {
    bytes.iter().fold(u8::MAX, |acc, &b| acc & ascii_class(b)) & bits == bits
}

/// Whether every byte is printable ASCII (0x20..=0x7E), eight at a time:
/// a byte below 0x20 or above 0x7E sets its high bit in one of the two
/// word-wide tests.
pub(crate) fn all_printable_ascii(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let below_space = x.wrapping_sub(ONES * 0x20) & !x;
        let above_tilde = x.wrapping_add(ONES) | x;
        if (below_space | above_tilde) & HIGH != 0 {
            return false;
        }
    }
    chunks
        .remainder()
        .iter()
        .all(|&b| (0x20..0x7F).contains(&b))
}

/// Parts written entirely in Hebrew or Arabic letters: nodeprep, nameprep
/// and resourceprep leave them unchanged and the bidi rule holds (only
/// right-to-left characters, so the first and last are too).
fn all_right_to_left_letters(s: &str) -> bool {
    s.chars().all(|c| {
        matches!(c, '\u{05D0}'..='\u{05EA}' | '\u{0621}'..='\u{063A}' | '\u{0641}'..='\u{064A}')
    })
}

/// Runs a stringprep profile and maps its result into ours.
///
/// Two guards around the `stringprep` crate: code points unassigned in
/// Unicode 3.2 are refused in the *input* (RFC 3454 §7, stored strings;
/// the crate only looks at its output, after NFKC may have turned an
/// unassigned character into an assigned one), and the result must be a
/// fixed point of the profile, so that a prepared JID prepares to itself.
pub(crate) fn slow<'a>(
    part: JidPart,
    s: &'a str,
    profile: Profile,
) -> Result<Cow<'a, str>, JidError> {
    if let Some(c) = s
        .chars()
        .find(|&c| stringprep::tables::unassigned_code_point(c))
    {
        return Err(JidError::new(part, JidErrorKind::ProhibitedCharacter(c)));
    }
    let mut prepared = profile(s).map_err(|e| JidError::from_stringprep(part, &e))?;
    // The profiles return a new string even when nothing changed; say
    // "unchanged" so the caller can keep borrowing its input.
    if prepared == s {
        prepared = Cow::Borrowed(s);
    } else if !is_fixed_point(&prepared, profile) {
        return Err(JidError::new(
            part,
            JidErrorKind::Stringprep("not stable under preparation"),
        ));
    }
    if prepared.is_empty() {
        // Everything was mapped to nothing (soft hyphens, joiners, ...).
        return Err(JidError::new(part, JidErrorKind::Empty));
    }
    check_len(part, prepared)
}

/// A stringprep profile of the `stringprep` crate.
pub(crate) type Profile = for<'x> fn(&'x str) -> Result<Cow<'x, str>, stringprep::Error>;

fn is_fixed_point(prepared: &str, profile: Profile) -> bool {
    matches!(profile(prepared), Ok(again) if again == prepared)
}

pub(crate) fn check_len(part: JidPart, s: Cow<'_, str>) -> Result<Cow<'_, str>, JidError> {
    if s.len() > MAX_PART_LEN {
        Err(JidError::new(part, JidErrorKind::TooLong { len: s.len() }))
    } else {
        Ok(s)
    }
}

/// Non-ASCII characters that nodeprep and nameprep leave unchanged and that
/// cannot compose with a neighbour under NFKC: lowercase Latin-1 letters,
/// Greek and Cyrillic lowercase, CJK ideographs, and kana without the
/// combining sound marks. All are left-to-right, so the bidi rule cannot
/// fail on them, and all are assigned code points.
pub(crate) fn stable_lower(c: char) -> bool {
    matches!(c,
        // Latin-1 lowercase without ÷ (U+00F7); ß (U+00DF, which folds to
        // "ss") lies below the range.
        '\u{00E0}'..='\u{00F6}' | '\u{00F8}'..='\u{00FF}'
        // Latin Extended-A lowercase (the block alternates upper and lower
        // case; ŉ U+0149 and ſ U+017F, which NFKC changes, are left out).
        | '\u{0101}' | '\u{0103}' | '\u{0105}' | '\u{0107}' | '\u{0109}' | '\u{010B}'
        | '\u{010D}' | '\u{010F}' | '\u{0111}' | '\u{0113}' | '\u{0115}' | '\u{0117}'
        | '\u{0119}' | '\u{011B}' | '\u{011D}' | '\u{011F}' | '\u{0121}' | '\u{0123}'
        | '\u{0125}' | '\u{0127}' | '\u{0129}' | '\u{012B}' | '\u{012D}' | '\u{012F}'
        | '\u{0135}' | '\u{0137}' | '\u{013A}' | '\u{013C}' | '\u{013E}' | '\u{0142}'
        | '\u{0144}' | '\u{0146}' | '\u{0148}' | '\u{014B}' | '\u{014D}' | '\u{014F}'
        | '\u{0151}' | '\u{0153}' | '\u{0155}' | '\u{0157}' | '\u{0159}' | '\u{015B}'
        | '\u{015D}' | '\u{015F}' | '\u{0161}' | '\u{0163}' | '\u{0165}' | '\u{0167}'
        | '\u{0169}' | '\u{016B}' | '\u{016D}' | '\u{016F}' | '\u{0171}' | '\u{0173}'
        | '\u{0175}' | '\u{0177}' | '\u{017A}' | '\u{017C}' | '\u{017E}'
        // Greek lowercase, without final sigma (U+03C2 folds to σ).
        | '\u{03B1}'..='\u{03C1}' | '\u{03C3}'..='\u{03C9}'
        // Greek lowercase with tonos (precomposed, NFC-stable).
        | '\u{03AC}'..='\u{03AF}' | '\u{03CC}'..='\u{03CE}'
        // Cyrillic lowercase а..я and ѐ..џ.
        | '\u{0430}'..='\u{045F}'
        // Hiragana and katakana letters (the combining marks U+3099/U+309A
        // and the half-width forms, which NFKC changes, are outside).
        | '\u{3041}'..='\u{3096}' | '\u{30A1}'..='\u{30FA}'
        // CJK unified ideographs as assigned in Unicode 3.2, the version
        // stringprep is defined on (later ones count as unassigned).
        | '\u{4E00}'..='\u{9FA5}'
    )
}

/// Uppercase letters that resourceprep (which does not fold case) leaves
/// unchanged: Latin-1, Greek and Cyrillic capitals.
fn stable_upper(c: char) -> bool {
    matches!(c,
        '\u{00C0}'..='\u{00D6}' | '\u{00D8}'..='\u{00DE}'
        | '\u{0391}'..='\u{03A1}' | '\u{03A3}'..='\u{03A9}'
        | '\u{0410}'..='\u{042F}'
    )
}

/// Typographic quotes and dashes, common in nicknames used as MUC
/// resources, that have no compatibility decomposition.
fn stable_punctuation(c: char) -> bool {
    matches!(
        c,
        '\u{2013}' | '\u{2014}' | '\u{2018}' | '\u{2019}' | '\u{201C}' | '\u{201D}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path must agree with the `stringprep` crate on every
    /// character it accepts, alone and next to others.
    #[test]
    fn fast_path_characters_are_fixed_points_of_the_profiles() {
        for cp in 0x80u32..0x1_0000 {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            let s = format!("a{c}b{c}");
            if stable_lower(c) {
                assert_eq!(
                    stringprep::nodeprep(&s).ok().as_deref(),
                    Some(s.as_str()),
                    "{c:?}"
                );
                assert_eq!(
                    stringprep::nameprep(&s).ok().as_deref(),
                    Some(s.as_str()),
                    "{c:?}"
                );
            }
            if stable_lower(c) || stable_upper(c) || stable_punctuation(c) {
                let got = stringprep::resourceprep(&s);
                assert_eq!(got.ok().as_deref(), Some(s.as_str()), "{c:?}");
            }
            let rtl = format!("{c}{c}");
            if all_right_to_left_letters(&rtl) {
                assert_eq!(
                    stringprep::nodeprep(&rtl).ok().as_deref(),
                    Some(rtl.as_str()),
                    "{c:?}"
                );
                assert_eq!(
                    stringprep::nameprep(&rtl).ok().as_deref(),
                    Some(rtl.as_str()),
                    "{c:?}"
                );
                assert_eq!(
                    stringprep::resourceprep(&rtl).ok().as_deref(),
                    Some(rtl.as_str()),
                    "{c:?}"
                );
            }
        }
    }

    #[test]
    fn ascii_localpart_is_folded_and_checked() {
        assert_eq!(localpart("Juliet").unwrap(), "juliet");
        assert!(matches!(localpart("juliet").unwrap(), Cow::Borrowed(_)));
        for bad in [
            "a b", "a\"b", "a&b", "a'b", "a/b", "a:b", "a<b", "a>b", "a@b", "a\u{7}",
        ] {
            assert!(localpart(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn printable_ascii_check_matches_the_plain_loop() {
        for len in 0..24 {
            for bad in [0x00u8, 0x1F, 0x7F, 0x80, 0xFF] {
                for pos in 0..len {
                    let mut bytes = vec![b'a'; len];
                    bytes[pos] = bad;
                    assert!(!all_printable_ascii(&bytes), "{len} {bad:#x} at {pos}");
                }
            }
            let ok: Vec<u8> = (0..len).map(|i| 0x20 + (i as u8 * 7) % 95).collect();
            assert!(all_printable_ascii(&ok));
        }
        assert!(all_printable_ascii(b" ~ ~ ~ ~ ~"));
    }

    #[test]
    fn resourcepart_keeps_case_and_space() {
        assert!(matches!(
            resourcepart("Siskin IM").unwrap(),
            Cow::Borrowed("Siskin IM")
        ));
        assert!(resourcepart("a\tb").is_err());
    }
}
