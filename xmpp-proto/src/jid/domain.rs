//! Preparation and validation of the domainpart (RFC 7622 §3.2).
//!
//! A domainpart is an IP literal (IPv4 dotted quad or bracketed IPv6) or a
//! DNS name. DNS names are prepared with nameprep (IDNA2003, what deployed
//! servers use), split into labels at the full stop and its ideographic
//! forms, and each label must be a valid host-name label: letters, digits
//! and hyphens for its ASCII characters (STD 3), no hyphen at either end,
//! and at most 63 bytes in the ASCII-compatible (`xn--`) form DNS sees.

use std::borrow::Cow;
use std::net::Ipv6Addr;

use super::error::{JidError, JidErrorKind};
use super::prep::{self, stable_lower};
use super::{JidPart, fast};

const PART: JidPart = JidPart::Domainpart;
const MAX_LABEL_LEN: usize = 63;

/// Prepares a domainpart whose single trailing dot, if any, was already
/// removed.
pub(crate) fn domainpart(s: &str) -> Result<Cow<'_, str>, JidError> {
    if s.is_empty() {
        return Err(JidError::new(PART, JidErrorKind::Empty));
    }
    if s.starts_with('[') {
        return ipv6_literal(s);
    }
    if let Some(result) = ascii_host_name(s) {
        return result;
    }
    let mut needs_folding = false;
    for c in s.chars() {
        if c.is_ascii() {
            if !(c.is_ascii_alphanumeric() || c == '-' || c == '.') {
                return Err(refused_ascii(s, c));
            }
            needs_folding |= c.is_ascii_uppercase();
        } else if !stable_lower(c) {
            return slow(s);
        }
    }
    let prepared = if needs_folding {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    };
    check_labels(&prepared, false)?;
    prep::check_len(PART, prepared)
}

/// The common case in one pass over the bytes: an ASCII host name. `None`
/// when a non-ASCII byte shows up (the caller takes the Unicode path).
fn ascii_host_name(s: &str) -> Option<Result<Cow<'_, str>, JidError>> {
    if fast::host_name_len(s.as_bytes()) == Some(s.len()) {
        return Some(prep::check_len(PART, Cow::Borrowed(s)));
    }
    let mut needs_folding = false;
    let mut label_len = 0usize;
    let mut prev = b'.';
    for &b in s.as_bytes() {
        let class = prep::ascii_class(b);
        if class & prep::NON_ASCII != 0 {
            return None;
        }
        if b == b'.' {
            if label_len == 0 {
                return Some(Err(JidError::new(PART, JidErrorKind::EmptyLabel)));
            }
            if prev == b'-' {
                return Some(Err(JidError::new(PART, JidErrorKind::LabelHyphen)));
            }
            label_len = 0;
        } else if class & prep::LETTER_DIGIT != 0 || b == b'-' {
            if b == b'-' && label_len == 0 {
                return Some(Err(JidError::new(PART, JidErrorKind::LabelHyphen)));
            }
            label_len += 1;
            if label_len > MAX_LABEL_LEN {
                return Some(Err(JidError::new(PART, JidErrorKind::LabelTooLong)));
            }
            needs_folding |= class & prep::UPPER != 0;
        } else {
            return Some(Err(refused_ascii(s, char::from(b))));
        }
        prev = b;
    }
    if label_len == 0 {
        return Some(Err(JidError::new(PART, JidErrorKind::EmptyLabel)));
    }
    if prev == b'-' {
        return Some(Err(JidError::new(PART, JidErrorKind::LabelHyphen)));
    }
    let prepared = if needs_folding {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    };
    Some(prep::check_len(PART, prepared))
}

/// The nameprep path for input outside the fast path's character set.
fn slow(s: &str) -> Result<Cow<'_, str>, JidError> {
    let prepared = prep::slow(PART, s, stringprep::nameprep)?;
    // IDNA treats the ideographic full stops as label separators; after
    // nameprep only U+3002 is left of them (NFKC maps the others).
    let prepared = if prepared.contains('\u{3002}') {
        Cow::Owned(prepared.replace('\u{3002}', "."))
    } else {
        prepared
    };
    for c in prepared.chars() {
        if c.is_ascii() && !(c.is_ascii_alphanumeric() || c == '-' || c == '.') {
            return Err(refused_ascii(&prepared, c));
        }
    }
    check_labels(&prepared, prepared.is_ascii())?;
    // Nameprep can turn a fullwidth dot at the end into a trailing dot; it
    // is not stripped a second time (RFC 7622 strips one, before anything).
    Ok(prepared)
}

/// A colon in a DNS name is most likely an IPv6 address missing its
/// brackets; say so rather than only naming the character.
fn refused_ascii(s: &str, c: char) -> JidError {
    if c == ':' && s.parse::<Ipv6Addr>().is_ok() {
        JidError::new(PART, JidErrorKind::UnbracketedIpv6)
    } else {
        JidError::new(PART, JidErrorKind::ProhibitedCharacter(c))
    }
}

fn ipv6_literal(s: &str) -> Result<Cow<'_, str>, JidError> {
    let inner = s
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .ok_or(JidError::new(PART, JidErrorKind::InvalidIpv6))?;
    if inner.parse::<Ipv6Addr>().is_err() {
        return Err(JidError::new(PART, JidErrorKind::InvalidIpv6));
    }
    // Hex digits compare case-insensitively; keep one spelling.
    if inner.bytes().any(|b| b.is_ascii_uppercase()) {
        Ok(Cow::Owned(s.to_ascii_lowercase()))
    } else {
        Ok(Cow::Borrowed(s))
    }
}

fn check_labels(s: &str, ascii: bool) -> Result<(), JidError> {
    for label in s.split('.') {
        if label.is_empty() {
            return Err(JidError::new(PART, JidErrorKind::EmptyLabel));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(JidError::new(PART, JidErrorKind::LabelHyphen));
        }
        let ace_len = if ascii || label.is_ascii() {
            Some(label.len())
        } else {
            punycode_len(label, MAX_LABEL_LEN).map(|n| n + "xn--".len())
        };
        if ace_len.is_none_or(|n| n > MAX_LABEL_LEN) {
            return Err(JidError::new(PART, JidErrorKind::LabelTooLong));
        }
    }
    Ok(())
}

/// The length of the Punycode (RFC 3492) encoding of `label`, or `None` once
/// it exceeds `limit` (which also bounds the work on hostile input).
fn punycode_len(label: &str, limit: usize) -> Option<usize> {
    const BASE: u64 = 36;
    const T_MIN: u64 = 1;
    const T_MAX: u64 = 26;
    let basic = label.chars().filter(char::is_ascii).count();
    let total = label.chars().count();
    let mut out = basic + usize::from(basic > 0);
    let (mut n, mut delta, mut bias) = (0x80u64, 0u64, 72u64);
    let mut handled = basic;
    while handled < total {
        let m = label.chars().map(u64::from).filter(|&c| c >= n).min()?;
        delta = delta.checked_add((m - n).checked_mul(handled as u64 + 1)?)?;
        n = m;
        for c in label.chars().map(u64::from) {
            if c < n {
                delta = delta.checked_add(1)?;
            } else if c == n {
                let mut q = delta;
                let mut k = BASE;
                loop {
                    let t = if k <= bias {
                        T_MIN
                    } else if k >= bias + T_MAX {
                        T_MAX
                    } else {
                        k - bias
                    };
                    if q < t {
                        break;
                    }
                    out += 1;
                    q = (q - t) / (BASE - t);
                    k += BASE;
                }
                out += 1;
                if out > limit {
                    return None;
                }
                bias = adapt(delta, handled as u64 + 1, handled == basic);
                delta = 0;
                handled += 1;
            }
        }
        delta = delta.checked_add(1)?;
        n += 1;
    }
    Some(out)
}

fn adapt(delta: u64, points: u64, first: bool) -> u64 {
    let mut delta = if first { delta / 700 } else { delta / 2 };
    delta += delta / points;
    let mut k = 0;
    while delta > ((36 - 1) * 26) / 2 {
        delta /= 36 - 1;
        k += 36;
    }
    k + (36 * delta) / (delta + 38)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn punycode_lengths_match_known_encodings() {
        // bücher -> bcher-kva; münchen -> mnchen-3ya; 例え -> r8jz45g
        assert_eq!(punycode_len("bücher", 63), Some("bcher-kva".len()));
        assert_eq!(punycode_len("münchen", 63), Some("mnchen-3ya".len()));
        assert_eq!(punycode_len("例え", 63), Some("r8jz45g".len()));
        // RFC 3492 §7.1 (B) Chinese (simplified): ihqwcrb4cv8a8dqg056pqjye
        let zh = "\u{4ED6}\u{4EEC}\u{4E3A}\u{4EC0}\u{4E48}\u{4E0D}\u{8BF4}\u{4E2D}\u{6587}";
        assert_eq!(punycode_len(zh, 63), Some("ihqwcrb4cv8a8dqg056pqjye".len()));
    }

    #[test]
    fn label_rules() {
        assert!(domainpart("example.com").is_ok());
        assert_eq!(domainpart("EXAMPLE.com").unwrap(), "example.com");
        assert!(domainpart("a..b").is_err());
        assert!(domainpart("-a.b").is_err());
        assert!(domainpart("a_b.example").is_err());
        assert!(domainpart(&"a".repeat(64)).is_err());
        assert!(domainpart(&"a".repeat(63)).is_ok());
        assert!(domainpart(&"ü".repeat(70)).is_err());
        assert!(domainpart("bücher.example").is_ok());
    }

    #[test]
    fn ip_literals() {
        assert!(domainpart("192.0.2.1").is_ok());
        assert_eq!(domainpart("[::1]").unwrap(), "[::1]");
        assert_eq!(domainpart("[2001:DB8::1]").unwrap(), "[2001:db8::1]");
        assert_eq!(
            domainpart("::1").unwrap_err().kind(),
            &JidErrorKind::UnbracketedIpv6
        );
        assert_eq!(
            domainpart("[::g]").unwrap_err().kind(),
            &JidErrorKind::InvalidIpv6
        );
        assert_eq!(
            domainpart("[::1").unwrap_err().kind(),
            &JidErrorKind::InvalidIpv6
        );
    }
}
