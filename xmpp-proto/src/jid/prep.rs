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
/// ASCII uppercase is folded without the slow path; characters forbidden in
/// a localpart (`" & ' / : < > @`, space, controls) are refused here.
pub(crate) fn localpart(s: &str) -> Result<Cow<'_, str>, JidError> {
    const PART: JidPart = JidPart::Localpart;
    if s.is_empty() {
        return Err(JidError::new(PART, JidErrorKind::Empty));
    }
    let mut needs_folding = false;
    for c in s.chars() {
        if c.is_ascii() {
            if is_prohibited_in_localpart(c) {
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
/// prepared already.
pub(crate) fn resourcepart(s: &str) -> Result<Cow<'_, str>, JidError> {
    const PART: JidPart = JidPart::Resourcepart;
    if s.is_empty() {
        return Err(JidError::new(PART, JidErrorKind::Empty));
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

/// Runs a stringprep profile and maps its result into ours.
pub(crate) fn slow<'a>(
    part: JidPart,
    s: &'a str,
    profile: fn(&'a str) -> Result<Cow<'a, str>, stringprep::Error>,
) -> Result<Cow<'a, str>, JidError> {
    let mut prepared = profile(s).map_err(|e| JidError::from_stringprep(part, &e))?;
    // The profiles return a new string even when nothing changed; say
    // "unchanged" so the caller can keep borrowing its input.
    if prepared == s {
        prepared = Cow::Borrowed(s);
    }
    if prepared.is_empty() {
        // Everything was mapped to nothing (soft hyphens, joiners, ...).
        return Err(JidError::new(part, JidErrorKind::Empty));
    }
    check_len(part, prepared)
}

pub(crate) fn check_len(part: JidPart, s: Cow<'_, str>) -> Result<Cow<'_, str>, JidError> {
    if s.len() > MAX_PART_LEN {
        Err(JidError::new(part, JidErrorKind::TooLong { len: s.len() }))
    } else {
        Ok(s)
    }
}

/// The ASCII characters nodeprep (appendix A.5 plus the XMPP-specific
/// table) forbids in a localpart.
fn is_prohibited_in_localpart(c: char) -> bool {
    matches!(c, '"' | '&' | '\'' | '/' | ':' | '<' | '>' | '@' | ' ') || c.is_ascii_control()
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
    fn resourcepart_keeps_case_and_space() {
        assert!(matches!(
            resourcepart("Siskin IM").unwrap(),
            Cow::Borrowed("Siskin IM")
        ));
        assert!(resourcepart("a\tb").is_err());
    }
}
