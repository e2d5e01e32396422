//! The four SCRAM messages (RFC 5802 §7): parsing what the peer sends into
//! typed values, and the small pieces needed to build ours.
//!
//! Attributes are read strictly in the order the grammar fixes; a letter
//! seen twice is reported as a duplicate, a known letter in the wrong place
//! as out of order, and unknown optional extensions are accepted and kept
//! only where the caller needs them (XEP-0474's `h`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::sasl::channel_binding::Gs2Flag;
use crate::sasl::error::Malformed;
use crate::sasl::{ChannelBindingType, SaslError};

/// Checks the size limit and UTF-8 of a peer message.
pub(crate) fn as_text(input: &[u8], max_len: usize) -> Result<&str, Malformed> {
    if input.len() > max_len {
        return Err(Malformed::TooLong {
            len: input.len(),
            max: max_len,
        });
    }
    core::str::from_utf8(input).map_err(|_| Malformed::NotUtf8)
}

/// Escapes a `saslname`: `=` becomes `=3D` and `,` becomes `=2C`.
pub(crate) fn escape_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '=' => out.push_str("=3D"),
            ',' => out.push_str("=2C"),
            c => out.push(c),
        }
    }
    out
}

/// Reverses [`escape_name`], refusing any other use of `=` and empty names.
pub(crate) fn unescape_name(escaped: &str) -> Result<String, Malformed> {
    if escaped.is_empty() {
        return Err(Malformed::InvalidName);
    }
    let mut out = String::with_capacity(escaped.len());
    let mut rest = escaped;
    while let Some(pos) = rest.find('=') {
        out.push_str(&rest[..pos]);
        let code = rest.get(pos + 1..pos + 3).ok_or(Malformed::InvalidName)?;
        match code {
            "2C" => out.push(','),
            "3D" => out.push('='),
            _ => return Err(Malformed::InvalidName),
        }
        rest = &rest[pos + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A nonce is printable ASCII without the comma (RFC 5802 §7, `printable`).
pub(crate) fn is_valid_nonce(nonce: &str) -> bool {
    !nonce.is_empty()
        && nonce
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b',')
}

pub(crate) fn encode_base64(data: &[u8]) -> String {
    BASE64.encode(data)
}

fn decode_base64(attribute: char, value: &str) -> Result<Vec<u8>, Malformed> {
    BASE64
        .decode(value)
        .map_err(|_| Malformed::InvalidBase64 { attribute })
}

/// Reads `x=value` attributes in grammar order, tracking which letters
/// have been seen.
struct Attrs<'a> {
    parts: core::iter::Peekable<core::str::Split<'a, char>>,
    seen: u64,
}

fn letter_bit(letter: u8) -> u64 {
    match letter {
        b'a'..=b'z' => 1 << (letter - b'a'),
        b'A'..=b'Z' => 1 << (26 + letter - b'A'),
        _ => 0,
    }
}

fn split_attr(part: &str) -> Result<(u8, &str), Malformed> {
    match part.as_bytes() {
        [name, b'=', ..] if name.is_ascii_alphabetic() => Ok((*name, &part[2..])),
        _ => Err(Malformed::InvalidAttribute),
    }
}

impl<'a> Attrs<'a> {
    fn new(message: &'a str) -> Self {
        Attrs {
            parts: message.split(',').peekable(),
            seen: 0,
        }
    }

    /// The letter of the next attribute, without consuming it.
    fn peek_name(&mut self) -> Option<u8> {
        self.parts
            .peek()
            .and_then(|p| p.as_bytes().first().copied())
    }

    /// Consumes the next attribute, which must be `name`.
    fn expect(&mut self, name: u8) -> Result<&'a str, Malformed> {
        let part = self
            .parts
            .next()
            .ok_or(Malformed::MissingAttribute(char::from(name)))?;
        let (found, value) = split_attr(part)?;
        if found != name {
            return Err(if self.seen & letter_bit(found) != 0 {
                Malformed::DuplicateAttribute(char::from(found))
            } else {
                Malformed::OutOfOrder {
                    expected: char::from(name),
                    found: char::from(found),
                }
            });
        }
        self.seen |= letter_bit(found);
        Ok(value)
    }

    /// Consumes the remaining attributes as optional extensions. A letter
    /// seen before is a duplicate; a letter RFC 5802 assigns to another
    /// message is unexpected here. Calls `keep` with each extension.
    fn extensions(mut self, mut keep: impl FnMut(u8, &'a str)) -> Result<(), Malformed> {
        const ASSIGNED: &[u8] = b"aceimnprsv";
        for part in self.parts {
            let (name, value) = split_attr(part)?;
            if self.seen & letter_bit(name) != 0 {
                return Err(Malformed::DuplicateAttribute(char::from(name)));
            }
            if ASSIGNED.contains(&name) {
                return Err(Malformed::UnexpectedAttribute(char::from(name)));
            }
            self.seen |= letter_bit(name);
            keep(name, value);
        }
        Ok(())
    }
}

/// A parsed GS2 header (`gs2-cbind-flag "," [authzid] ","`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Gs2Header {
    /// The flag; an unknown `p=` type becomes `None` inside `Bound`.
    pub(crate) flag: ParsedFlag,
    /// The authorization identity, unescaped.
    pub(crate) authzid: Option<String>,
}

/// The flag as received: `p=` may name a type we do not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParsedFlag {
    /// `n` or `y` or a known `p=` type.
    Known(Gs2Flag),
    /// `p=` with a syntactically valid type name we do not implement.
    UnknownType,
}

/// Builds the GS2 header a client sends.
pub(crate) fn gs2_header(flag: Gs2Flag, authzid: Option<&str>) -> String {
    let flag = match flag {
        Gs2Flag::NotSupported => "n".to_owned(),
        Gs2Flag::ClientOnly => "y".to_owned(),
        Gs2Flag::Bound(t) => format!("p={}", t.name()),
    };
    match authzid {
        Some(a) => format!("{flag},a={},", escape_name(a)),
        None => format!("{flag},,"),
    }
}

/// The client-first-message, as the server sees it.
#[derive(Debug)]
pub(crate) struct ClientFirst<'a> {
    /// The GS2 header text, including its trailing comma (goes into `c=`).
    pub(crate) gs2_header_raw: &'a str,
    pub(crate) gs2: Gs2Header,
    /// client-first-message-bare (goes into AuthMessage).
    pub(crate) bare: &'a str,
    /// Username, unescaped (not yet SASLprepped).
    pub(crate) username: String,
    pub(crate) nonce: &'a str,
}

pub(crate) fn parse_client_first(message: &str) -> Result<ClientFirst<'_>, SaslError> {
    let first_comma = message.find(',').ok_or(Malformed::InvalidGs2Header)?;
    let flag_text = &message[..first_comma];
    let after_flag = &message[first_comma + 1..];
    let second_comma = after_flag.find(',').ok_or(Malformed::InvalidGs2Header)?;
    let authzid_text = &after_flag[..second_comma];
    let header_len = first_comma + 1 + second_comma + 1;
    let gs2_header_raw = &message[..header_len];
    let bare = &message[header_len..];

    let flag = match flag_text {
        "n" => ParsedFlag::Known(Gs2Flag::NotSupported),
        "y" => ParsedFlag::Known(Gs2Flag::ClientOnly),
        _ => {
            let name = flag_text
                .strip_prefix("p=")
                .ok_or(Malformed::InvalidGs2Header)?;
            let valid = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
            if !valid {
                return Err(Malformed::InvalidGs2Header.into());
            }
            match ChannelBindingType::from_name(name) {
                Some(t) => ParsedFlag::Known(Gs2Flag::Bound(t)),
                None => ParsedFlag::UnknownType,
            }
        }
    };
    let authzid = match authzid_text {
        "" => None,
        a => Some(unescape_name(
            a.strip_prefix("a=").ok_or(Malformed::InvalidGs2Header)?,
        )?),
    };

    let mut attrs = Attrs::new(bare);
    if attrs.peek_name() == Some(b'm') {
        return Err(SaslError::MandatoryExtension);
    }
    let username = unescape_name(attrs.expect(b'n')?)?;
    let nonce = attrs.expect(b'r')?;
    if !is_valid_nonce(nonce) {
        return Err(Malformed::InvalidNonce.into());
    }
    attrs.extensions(|_, _| {})?;
    Ok(ClientFirst {
        gs2_header_raw,
        gs2: Gs2Header { flag, authzid },
        bare,
        username,
        nonce,
    })
}

/// The server-first-message, as the client sees it.
#[derive(Debug)]
pub(crate) struct ServerFirst<'a> {
    pub(crate) nonce: &'a str,
    pub(crate) salt: Vec<u8>,
    pub(crate) iterations: u32,
    /// XEP-0474 downgrade protection hash (`h=`), still base64.
    pub(crate) downgrade_hash: Option<&'a str>,
}

pub(crate) fn parse_server_first(message: &str) -> Result<ServerFirst<'_>, SaslError> {
    let mut attrs = Attrs::new(message);
    if attrs.peek_name() == Some(b'm') {
        return Err(SaslError::MandatoryExtension);
    }
    let nonce = attrs.expect(b'r')?;
    if !is_valid_nonce(nonce) {
        return Err(Malformed::InvalidNonce.into());
    }
    let salt = decode_base64('s', attrs.expect(b's')?)?;
    if salt.is_empty() {
        return Err(Malformed::EmptySalt.into());
    }
    let iterations = parse_iterations(attrs.expect(b'i')?)?;
    let mut downgrade_hash = None;
    attrs.extensions(|name, value| {
        if name == b'h' {
            downgrade_hash = Some(value);
        }
    })?;
    Ok(ServerFirst {
        nonce,
        salt,
        iterations,
        downgrade_hash,
    })
}

fn parse_iterations(text: &str) -> Result<u32, Malformed> {
    // u32::from_str would accept a leading '+'; the grammar allows digits only.
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Malformed::InvalidIterationCount);
    }
    match text.parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(Malformed::InvalidIterationCount),
    }
}

/// The client-final-message, as the server sees it.
#[derive(Debug)]
pub(crate) struct ClientFinal<'a> {
    /// client-final-message-without-proof (goes into AuthMessage).
    pub(crate) without_proof: &'a str,
    /// Decoded `c=`: GS2 header followed by the binding data, if any.
    pub(crate) channel_binding: Vec<u8>,
    pub(crate) nonce: &'a str,
    pub(crate) proof: Vec<u8>,
}

pub(crate) fn parse_client_final(message: &str) -> Result<ClientFinal<'_>, SaslError> {
    // The proof is the last attribute and a base64 value has no comma, so
    // the last ",p=" separates it from the part the proof signs.
    let (without_proof, proof) = match message.rfind(",p=") {
        Some(pos) => (&message[..pos], &message[pos + 3..]),
        None => return Err(Malformed::MissingAttribute('p').into()),
    };
    let mut attrs = Attrs::new(without_proof);
    let channel_binding = decode_base64('c', attrs.expect(b'c')?)?;
    let nonce = attrs.expect(b'r')?;
    if !is_valid_nonce(nonce) {
        return Err(Malformed::InvalidNonce.into());
    }
    attrs.extensions(|_, _| {})?;
    let proof = decode_base64('p', proof)?;
    Ok(ClientFinal {
        without_proof,
        channel_binding,
        nonce,
        proof,
    })
}

/// The server-final-message, as the client sees it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ServerFinal {
    /// `v=`: the decoded server signature.
    Verifier(Vec<u8>),
    /// `e=`: the server's error.
    Error(crate::sasl::ScramServerError),
}

pub(crate) fn parse_server_final(message: &str) -> Result<ServerFinal, SaslError> {
    let mut attrs = Attrs::new(message);
    let result = match attrs.peek_name() {
        Some(b'e') => ServerFinal::Error(crate::sasl::ScramServerError::from_value(
            attrs.expect(b'e')?,
        )),
        Some(b'v') => ServerFinal::Verifier(decode_base64('v', attrs.expect(b'v')?)?),
        Some(b'm') => return Err(SaslError::MandatoryExtension),
        _ => return Err(SaslError::ServerSignatureMissing),
    };
    attrs.extensions(|_, _| {})?;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_escape_and_unescape() {
        assert_eq!(escape_name("a=b,c"), "a=3Db=2Cc");
        assert_eq!(unescape_name("a=3Db=2Cc").as_deref(), Ok("a=b,c"));
        assert_eq!(unescape_name("a=3"), Err(Malformed::InvalidName));
        assert_eq!(unescape_name("a=41"), Err(Malformed::InvalidName));
        assert_eq!(unescape_name(""), Err(Malformed::InvalidName));
        assert_eq!(unescape_name("é=2C").as_deref(), Ok("é,"));
    }

    #[test]
    fn nonces_are_printable_without_comma() {
        assert!(is_valid_nonce("abc!~"));
        assert!(!is_valid_nonce(""));
        assert!(!is_valid_nonce("a,b"));
        assert!(!is_valid_nonce("a b"));
        assert!(!is_valid_nonce("é"));
    }

    #[test]
    fn iteration_counts_are_plain_positive_decimals() {
        assert_eq!(parse_iterations("4096"), Ok(4096));
        for bad in ["", "+4096", "0", "-1", "4096 ", "99999999999", "0x10"] {
            assert_eq!(
                parse_iterations(bad),
                Err(Malformed::InvalidIterationCount),
                "{bad}"
            );
        }
    }

    #[test]
    fn server_first_attributes_are_checked() {
        let ok = parse_server_first("r=abc,s=c2FsdA==,i=4096,h=xyz,z=ignored");
        let ok = ok.expect("valid");
        assert_eq!(ok.downgrade_hash, Some("xyz"));
        let cases = [
            ("r=a,r=b,s=c2FsdA==,i=1", Malformed::DuplicateAttribute('r')),
            (
                "s=c2FsdA==,r=a,i=1",
                Malformed::OutOfOrder {
                    expected: 'r',
                    found: 's',
                },
            ),
            ("r=a,s=c2FsdA==", Malformed::MissingAttribute('i')),
            ("r=a,s=c2FsdA==,i=1,i=2", Malformed::DuplicateAttribute('i')),
            (
                "r=a,s=c2FsdA==,i=1,h=1,h=2",
                Malformed::DuplicateAttribute('h'),
            ),
            (
                "r=a,s=c2FsdA==,i=1,v=2",
                Malformed::UnexpectedAttribute('v'),
            ),
            ("r=a,s=!!,i=1", Malformed::InvalidBase64 { attribute: 's' }),
            ("r=a,s=,i=1", Malformed::EmptySalt),
            ("r=a,s=c2FsdA==,i=1,", Malformed::InvalidAttribute),
            ("r=a,s=c2FsdA==,i=1,x", Malformed::InvalidAttribute),
        ];
        for (input, expected) in cases {
            assert_eq!(
                parse_server_first(input).map(|_| ()),
                Err(SaslError::Malformed(expected)),
                "{input}"
            );
        }
        assert_eq!(
            parse_server_first("m=x,r=a,s=c2FsdA==,i=1").map(|_| ()),
            Err(SaslError::MandatoryExtension)
        );
    }

    #[test]
    fn client_first_gs2_header_is_parsed() {
        let m = parse_client_first("p=tls-exporter,a=ad=2Cmin,n=us=3Der,r=xyz").expect("valid");
        assert_eq!(m.gs2_header_raw, "p=tls-exporter,a=ad=2Cmin,");
        assert_eq!(
            m.gs2.flag,
            ParsedFlag::Known(Gs2Flag::Bound(ChannelBindingType::TlsExporter))
        );
        assert_eq!(m.gs2.authzid.as_deref(), Some("ad,min"));
        assert_eq!(m.username, "us=er");
        assert_eq!(m.bare, "n=us=3Der,r=xyz");
        let m = parse_client_first("p=foo-bar,,n=u,r=x").expect("valid");
        assert_eq!(m.gs2.flag, ParsedFlag::UnknownType);
        for bad in [
            "x,,n=u,r=a",
            "n,n=u,r=a",
            "p=,,n=u,r=a",
            "n,b=x,n=u,r=a",
            "n",
        ] {
            assert!(parse_client_first(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn client_final_splits_off_the_proof() {
        let m = parse_client_final("c=biws,r=abc,x=ext,p=cHJvb2Y=").expect("valid");
        assert_eq!(m.without_proof, "c=biws,r=abc,x=ext");
        assert_eq!(m.channel_binding, b"n,,");
        assert_eq!(m.proof, b"proof");
        assert!(parse_client_final("c=biws,r=abc").is_err());
        assert!(parse_client_final("r=abc,c=biws,p=cHJvb2Y=").is_err());
    }

    #[test]
    fn server_final_is_verifier_or_error() {
        assert_eq!(
            parse_server_final("v=cHJvb2Y="),
            Ok(ServerFinal::Verifier(b"proof".to_vec()))
        );
        assert_eq!(
            parse_server_final("e=invalid-proof"),
            Ok(ServerFinal::Error(
                crate::sasl::ScramServerError::InvalidProof
            ))
        );
        assert_eq!(
            parse_server_final(""),
            Err(SaslError::ServerSignatureMissing)
        );
        assert_eq!(
            parse_server_final("v=cHJvb2Y=,v=cHJvb2Y="),
            Err(SaslError::Malformed(Malformed::DuplicateAttribute('v')))
        );
    }
}
