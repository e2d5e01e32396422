//! Why an address was refused.

use core::fmt;

/// The part of a JID an error is about.
///
/// ```
/// use xmpp_proto::jid::{Jid, JidPart};
///
/// let err = Jid::new("@example.com").unwrap_err();
/// assert_eq!(err.part(), JidPart::Localpart);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JidPart {
    /// The part before the `@` (RFC 7622 §3.3).
    Localpart,
    /// The mandatory part between `@` and `/` (RFC 7622 §3.2).
    Domainpart,
    /// The part after the first `/` (RFC 7622 §3.4).
    Resourcepart,
}

impl JidPart {
    /// The RFC 7622 name of the part, as used in error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            JidPart::Localpart => "localpart",
            JidPart::Domainpart => "domainpart",
            JidPart::Resourcepart => "resourcepart",
        }
    }
}

impl fmt::Display for JidPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is wrong with the part named by [`JidError::part`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JidErrorKind {
    /// The part is present but empty (`@example.com`, `example.com/`, `""`).
    Empty,
    /// The part is longer than 1023 bytes after preparation.
    TooLong {
        /// Its length in bytes after preparation.
        len: usize,
    },
    /// The part holds a character its stringprep profile (or, for the
    /// domainpart, the DNS host-name rules) does not allow.
    ProhibitedCharacter(char),
    /// The part mixes right-to-left and left-to-right text in a way the
    /// stringprep bidi rule (RFC 3454 §6) forbids.
    BidiRule,
    /// The part starts with a combining mark.
    StartsWithCombiningMark,
    /// A DNS label of the domainpart is empty (`a..b`, `.example`).
    EmptyLabel,
    /// A DNS label is longer than 63 bytes in its ASCII (`xn--`) form.
    LabelTooLong,
    /// A DNS label starts or ends with a hyphen.
    LabelHyphen,
    /// The domainpart is an IPv6 address without the brackets RFC 7622
    /// requires (`[::1]`, not `::1`).
    UnbracketedIpv6,
    /// The domainpart is bracketed but not a valid IPv6 address.
    InvalidIpv6,
    /// A bare JID was required but the input has a resourcepart.
    Unexpected,
    /// A full JID was required but the input has no resourcepart.
    Missing,
    /// The stringprep library refused the part for a reason it does not
    /// expose in a structured form; the text is its explanation.
    Stringprep(&'static str),
}

/// Why a string is not a valid JID: which part is wrong, and how.
///
/// ```
/// use xmpp_proto::jid::{Jid, JidErrorKind, JidPart};
///
/// let err = Jid::new("juliet@example.com/").unwrap_err();
/// assert_eq!(err.part(), JidPart::Resourcepart);
/// assert_eq!(err.kind(), &JidErrorKind::Empty);
/// assert_eq!(err.to_string(), "invalid JID: the resourcepart is empty");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct JidError {
    part: JidPart,
    kind: JidErrorKind,
}

impl JidError {
    pub(crate) fn new(part: JidPart, kind: JidErrorKind) -> Self {
        JidError { part, kind }
    }

    /// The part of the address that is wrong.
    pub fn part(&self) -> JidPart {
        self.part
    }

    /// What is wrong with it.
    pub fn kind(&self) -> &JidErrorKind {
        &self.kind
    }

    /// Turns an error of the `stringprep` crate into ours. Its error type has
    /// no public cause, so the cause is recovered from its message; the
    /// message format is pinned by a unit test below.
    pub(crate) fn from_stringprep(part: JidPart, err: &stringprep::Error) -> Self {
        use core::fmt::Write;
        let mut msg = SmallMsg::default();
        let _ = write!(msg, "{err}");
        let text = msg.as_str();
        let kind = if let Some(rest) = text.strip_prefix("prohibited character `") {
            match rest.strip_suffix('`').map(|c| c.chars()) {
                Some(mut chars) => match (chars.next(), chars.next()) {
                    (Some(c), None) => JidErrorKind::ProhibitedCharacter(c),
                    _ => JidErrorKind::Stringprep("prohibited character"),
                },
                None => JidErrorKind::Stringprep("prohibited character"),
            }
        } else if text.starts_with("prohibited bidirectional text") {
            JidErrorKind::BidiRule
        } else if text.starts_with("starts with combining character") {
            JidErrorKind::StartsWithCombiningMark
        } else if text.starts_with("empty string") {
            JidErrorKind::Empty
        } else {
            JidErrorKind::Stringprep("refused by stringprep")
        };
        JidError::new(part, kind)
    }
}

impl fmt::Display for JidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let part = self.part;
        match &self.kind {
            JidErrorKind::Empty => write!(f, "invalid JID: the {part} is empty"),
            JidErrorKind::TooLong { len } => write!(
                f,
                "invalid JID: the {part} is {len} bytes long, more than the 1023 allowed"
            ),
            JidErrorKind::ProhibitedCharacter(c) => write!(
                f,
                "invalid JID: the {part} contains the prohibited character {c:?} (U+{:04X})",
                u32::from(*c)
            ),
            JidErrorKind::BidiRule => write!(
                f,
                "invalid JID: the {part} mixes right-to-left and left-to-right text"
            ),
            JidErrorKind::StartsWithCombiningMark => {
                write!(f, "invalid JID: the {part} starts with a combining mark")
            }
            JidErrorKind::EmptyLabel => {
                write!(f, "invalid JID: the {part} has an empty DNS label")
            }
            JidErrorKind::LabelTooLong => write!(
                f,
                "invalid JID: a DNS label of the {part} is longer than 63 bytes"
            ),
            JidErrorKind::LabelHyphen => write!(
                f,
                "invalid JID: a DNS label of the {part} starts or ends with a hyphen"
            ),
            JidErrorKind::UnbracketedIpv6 => write!(
                f,
                "invalid JID: an IPv6 {part} must be written in brackets, like [::1]"
            ),
            JidErrorKind::InvalidIpv6 => write!(
                f,
                "invalid JID: the bracketed {part} is not a valid IPv6 address"
            ),
            JidErrorKind::Unexpected => write!(
                f,
                "invalid bare JID: it has a {part}, which a bare JID must not have"
            ),
            JidErrorKind::Missing => write!(
                f,
                "invalid full JID: it has no {part}, which a full JID must have"
            ),
            JidErrorKind::Stringprep(why) => write!(f, "invalid JID: the {part} was {why}"),
        }
    }
}

impl std::error::Error for JidError {}

/// A fixed-size buffer for the stringprep message, so that mapping an error
/// does not allocate; longer messages are cut, which only loses the
/// structured cause.
struct SmallMsg {
    buf: [u8; 64],
    len: usize,
}

impl Default for SmallMsg {
    fn default() -> Self {
        SmallMsg {
            buf: [0; 64],
            len: 0,
        }
    }
}

impl SmallMsg {
    fn as_str(&self) -> &str {
        let bytes = self.buf.get(..self.len).unwrap_or_default();
        match core::str::from_utf8(bytes) {
            Ok(s) => s,
            // A cut in the middle of a character: keep the valid prefix.
            Err(e) => core::str::from_utf8(bytes.get(..e.valid_up_to()).unwrap_or_default())
                .unwrap_or_default(),
        }
    }
}

impl core::fmt::Write for SmallMsg {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.len() - self.len;
        let take = s.len().min(room);
        if let (Some(dst), Some(src)) = (
            self.buf.get_mut(self.len..self.len + take),
            s.as_bytes().get(..take),
        ) {
            dst.copy_from_slice(src);
            self.len += take;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stringprep_messages_map_to_structured_causes() {
        let err = stringprep::nodeprep("a@b").unwrap_err();
        assert_eq!(
            JidError::from_stringprep(JidPart::Localpart, &err).kind(),
            &JidErrorKind::ProhibitedCharacter('@')
        );
        let err = stringprep::nodeprep("\u{05D0}a").unwrap_err();
        assert_eq!(
            JidError::from_stringprep(JidPart::Localpart, &err).kind(),
            &JidErrorKind::BidiRule
        );
    }

    #[test]
    fn messages_name_the_part() {
        let err = JidError::new(JidPart::Domainpart, JidErrorKind::LabelTooLong);
        assert!(err.to_string().contains("domainpart"));
    }
}
