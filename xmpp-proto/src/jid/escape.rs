//! XEP-0106 JID escaping: representing characters a localpart may not hold.
//!
//! Escaping turns, for example, the e-mail address `d'artagnan@musketeers`
//! into the localpart `d\27artagnan\40musketeers`, so a gateway can map it
//! into `d\27artagnan\40musketeers@gateway.example`. Nothing in this crate
//! escapes or unescapes implicitly: these are explicit helpers for
//! gateways and user interfaces.
//!
//! ```
//! use xmpp_proto::jid::escape::{escape_localpart, unescape_localpart};
//!
//! let escaped = escape_localpart("d'artagnan@musketeers")?;
//! assert_eq!(escaped, r"d\27artagnan\40musketeers");
//! assert_eq!(unescape_localpart(&escaped), "d'artagnan@musketeers");
//! # Ok::<(), xmpp_proto::jid::escape::EscapeError>(())
//! ```

use std::borrow::Cow;
use std::fmt;

/// The characters XEP-0106 escapes, with their escape sequences.
const TABLE: [(char, &str); 10] = [
    (' ', r"\20"),
    ('"', r"\22"),
    ('&', r"\26"),
    ('\'', r"\27"),
    ('/', r"\2f"),
    (':', r"\3a"),
    ('<', r"\3c"),
    ('>', r"\3e"),
    ('@', r"\40"),
    ('\\', r"\5c"),
];

/// Why a string cannot be escaped into a localpart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EscapeError {
    /// The input is empty.
    Empty,
    /// XEP-0106 §4.3: an escaped localpart must not begin or end with a
    /// space (`\20`).
    LeadingOrTrailingSpace,
}

impl fmt::Display for EscapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EscapeError::Empty => f.write_str("cannot escape an empty localpart"),
            EscapeError::LeadingOrTrailingSpace => {
                f.write_str("a localpart may not begin or end with a space, even escaped")
            }
        }
    }
}

impl std::error::Error for EscapeError {}

/// Escapes `s` for use as a localpart (XEP-0106 §3.2).
///
/// A backslash is escaped only where it would otherwise start one of the
/// ten escape sequences, so that unescaping gives `s` back.
pub fn escape_localpart(s: &str) -> Result<Cow<'_, str>, EscapeError> {
    if s.is_empty() {
        return Err(EscapeError::Empty);
    }
    if s.starts_with(' ') || s.ends_with(' ') {
        return Err(EscapeError::LeadingOrTrailingSpace);
    }
    let needs = |i: usize, c: char| match c {
        '\\' => starts_escape(s.get(i..).unwrap_or_default()),
        _ => TABLE.iter().any(|&(t, _)| t == c),
    };
    if !s.char_indices().any(|(i, c)| needs(i, c)) {
        return Ok(Cow::Borrowed(s));
    }
    let mut out = String::with_capacity(s.len() + 8);
    for (i, c) in s.char_indices() {
        match TABLE.iter().find(|&&(t, _)| t == c) {
            Some((_, seq)) if needs(i, c) => out.push_str(seq),
            _ => out.push(c),
        }
    }
    Ok(Cow::Owned(out))
}

/// Undoes [`escape_localpart`] (XEP-0106 §3.3): each of the ten escape
/// sequences becomes its character; any other backslash stays as it is.
pub fn unescape_localpart(s: &str) -> Cow<'_, str> {
    if !s.contains('\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('\\') {
        let (before, from_backslash) = rest.split_at(pos);
        out.push_str(before);
        match TABLE
            .iter()
            .find(|(_, seq)| from_backslash.starts_with(seq))
        {
            Some((c, seq)) => {
                out.push(*c);
                rest = from_backslash.get(seq.len()..).unwrap_or_default();
            }
            None => {
                out.push('\\');
                rest = from_backslash.get(1..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Whether `s` (which starts with a backslash) begins an escape sequence.
fn starts_escape(s: &str) -> bool {
    TABLE.iter().any(|(_, seq)| s.starts_with(seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The examples of XEP-0106 §5.
    #[test]
    fn xep_examples() {
        let cases = [
            ("space cadet", r"space\20cadet"),
            ("call me \"ishmael\"", r"call\20me\20\22ishmael\22"),
            ("at&t guy", r"at\26t\20guy"),
            ("d'artagnan", r"d\27artagnan"),
            ("/.fanboy", r"\2f.fanboy"),
            ("::foo::", r"\3a\3afoo\3a\3a"),
            ("<foo>", r"\3cfoo\3e"),
            ("user@host", r"user\40host"),
            (r"c:\net", r"c\3a\net"),
            (r"c:\\net", r"c\3a\\net"),
            (r"c:\cool stuff", r"c\3a\cool\20stuff"),
            (r"c:\5commas", r"c\3a\5c5commas"),
        ];
        for (plain, escaped) in cases {
            assert_eq!(escape_localpart(plain).unwrap(), escaped, "{plain}");
            assert_eq!(unescape_localpart(escaped), plain, "{escaped}");
        }
    }

    #[test]
    fn escaped_result_is_a_valid_localpart() {
        let escaped = escape_localpart("john doe@mail.example").unwrap();
        let jid = super::super::Jid::new(&format!("{escaped}@gw.example")).unwrap();
        assert_eq!(
            unescape_localpart(jid.localpart().unwrap()),
            "john doe@mail.example"
        );
    }

    #[test]
    fn refuses_edge_spaces() {
        assert_eq!(
            escape_localpart(" a"),
            Err(EscapeError::LeadingOrTrailingSpace)
        );
        assert_eq!(
            escape_localpart("a "),
            Err(EscapeError::LeadingOrTrailingSpace)
        );
        assert_eq!(escape_localpart(""), Err(EscapeError::Empty));
    }
}
