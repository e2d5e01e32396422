//! PLAIN (RFC 4616): `[authzid] NUL authcid NUL passwd`, in one message.

use super::SaslError;
use super::error::Malformed;

/// Builds the PLAIN message. Username and password go through SASLprep
/// (RFC 4616 §2); the authorization identity is sent as given.
pub(crate) fn initial_response(
    authzid: Option<&str>,
    username: &str,
    password: &str,
) -> Result<Vec<u8>, SaslError> {
    let username =
        stringprep::saslprep(username).map_err(|_| SaslError::SaslPrep { field: "username" })?;
    let password =
        stringprep::saslprep(password).map_err(|_| SaslError::SaslPrep { field: "password" })?;
    let authzid = authzid.unwrap_or("");
    if authzid.contains('\0') {
        return Err(SaslError::SaslPrep {
            field: "authorization identity",
        });
    }
    let mut out = Vec::with_capacity(authzid.len() + username.len() + password.len() + 2);
    out.extend_from_slice(authzid.as_bytes());
    out.push(0);
    out.extend_from_slice(username.as_bytes());
    out.push(0);
    out.extend_from_slice(password.as_bytes());
    Ok(out)
}

/// A PLAIN message as the server sees it, after SASLprep of the username
/// and password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlainMessage {
    pub(crate) authzid: Option<String>,
    pub(crate) username: String,
    pub(crate) password: String,
}

pub(crate) fn parse(input: &[u8], max_len: usize) -> Result<PlainMessage, SaslError> {
    let text = super::scram::messages::as_text(input, max_len)?;
    let mut fields = text.split('\0');
    let (Some(authzid), Some(username), Some(password), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(Malformed::InvalidPlain.into());
    };
    if username.is_empty() || password.is_empty() {
        return Err(Malformed::InvalidPlain.into());
    }
    let username = stringprep::saslprep(username)
        .map_err(|_| SaslError::SaslPrep { field: "username" })?
        .into_owned();
    let password = stringprep::saslprep(password)
        .map_err(|_| SaslError::SaslPrep { field: "password" })?
        .into_owned();
    Ok(PlainMessage {
        authzid: (!authzid.is_empty()).then(|| authzid.to_owned()),
        username,
        password,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_parses() {
        let msg = initial_response(Some("admin"), "tim", "tanstaaftanstaaf").expect("valid");
        assert_eq!(msg, b"admin\0tim\0tanstaaftanstaaf");
        let parsed = parse(&msg, 1000).expect("valid");
        assert_eq!(parsed.authzid.as_deref(), Some("admin"));
        assert_eq!(parsed.username, "tim");
        assert_eq!(parsed.password, "tanstaaftanstaaf");
    }

    #[test]
    fn saslprep_maps_non_ascii_space_and_removes_soft_hyphen() {
        // RFC 4013 §3: U+00A0 maps to space, U+00AD maps to nothing.
        let msg = initial_response(None, "us\u{00AD}er", "pass\u{00A0}word").expect("valid");
        assert_eq!(msg, b"\0user\0pass word");
        assert!(initial_response(None, "user", "bad\u{0007}").is_err());
    }

    #[test]
    fn refuses_malformed_messages() {
        for bad in [
            &b"user\0pass"[..],
            b"\0\0pass",
            b"\0user\0",
            b"a\0b\0c\0d",
            b"\0u\0\xff",
        ] {
            assert!(parse(bad, 1000).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse(b"\0user\0password", 5),
            Err(SaslError::Malformed(Malformed::TooLong { len: 14, max: 5 }))
        );
    }
}
