//! EXTERNAL (RFC 4422 appendix A): the identity comes from outside SASL
//! (a TLS client certificate); the message is only an optional
//! authorization identity.

use super::SaslError;
use super::error::Malformed;

/// The longest authorization identity accepted: a full JID is at most
/// 3071 bytes (RFC 7622 §3.1).
const MAX_AUTHZID: usize = 3071;

/// Parses an EXTERNAL message (the server side).
pub(crate) fn parse_authzid(input: &[u8]) -> Result<Option<String>, SaslError> {
    if input.len() > MAX_AUTHZID {
        return Err(Malformed::TooLong {
            len: input.len(),
            max: MAX_AUTHZID,
        }
        .into());
    }
    let authzid = core::str::from_utf8(input).map_err(|_| Malformed::NotUtf8)?;
    if authzid.contains('\0') {
        return Err(SaslError::InvalidAuthzid);
    }
    Ok((!authzid.is_empty()).then(|| authzid.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authzid_is_optional_utf8() {
        assert_eq!(parse_authzid(b""), Ok(None));
        assert_eq!(
            parse_authzid(b"juliet@example.com")
                .ok()
                .flatten()
                .as_deref(),
            Some("juliet@example.com")
        );
        assert!(parse_authzid(b"\xc3").is_err());
        assert!(parse_authzid(&[b'a'; 4000]).is_err());
    }
}
