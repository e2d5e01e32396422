//! The errors of the SASL layer, and the RFC 6120 `<failure/>` conditions
//! they map to.

use core::fmt;

use super::channel_binding::ChannelBindingType;

/// Everything that can go wrong in SASL, on either side.
///
/// On the server side, [`SaslError::condition`] gives the RFC 6120 condition
/// to put into the `<failure/>` element.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SaslError {
    /// None of the mechanisms the server offered is allowed by the
    /// configuration and usable with the credentials and connection at hand.
    NoAcceptableMechanism,
    /// The mechanism needs a password and none was configured.
    MissingPassword,
    /// A username, password or authorization identity contains characters
    /// SASLprep (RFC 4013) prohibits.
    SaslPrep {
        /// Which input was refused.
        field: &'static str,
    },
    /// A channel binding type was chosen but the TLS layer gave no data for it.
    ChannelBindingUnavailable(ChannelBindingType),
    /// The peer sent a message that does not follow the mechanism's syntax.
    Malformed(Malformed),
    /// The server nonce does not start with the client nonce: the reply
    /// belongs to another exchange, or someone is replaying one.
    NonceMismatch,
    /// The server asked for fewer PBKDF2 iterations than the configured
    /// minimum; a captured exchange would be too cheap to brute-force.
    IterationsTooLow {
        /// What the server sent.
        iterations: u32,
        /// The configured minimum.
        min: u32,
    },
    /// The server asked for more PBKDF2 iterations than the configured
    /// maximum; computing them would burn CPU for too long.
    IterationsTooHigh {
        /// What the server sent.
        iterations: u32,
        /// The configured maximum.
        max: u32,
    },
    /// The peer requires a SCRAM extension (`m=`) we do not implement.
    MandatoryExtension,
    /// The server reported success without proving it knows the password
    /// (no `v=`); it may be an impostor.
    ServerSignatureMissing,
    /// The server's signature (`v=`) is wrong: it does not know the
    /// password, so it is not the server we meant to talk to.
    ServerSignatureMismatch,
    /// The server ended the SCRAM exchange with an error (`e=`).
    ServerError(ScramServerError),
    /// The XEP-0474 hash of the offered mechanisms and channel binding types
    /// does not match what we saw: someone removed or added offers on the way.
    DowngradeDetected,
    /// The configuration requires XEP-0474 downgrade protection and the
    /// server sent no hash.
    DowngradeProtectionMissing,
    /// Only cached SCRAM keys were given, and the server now uses another
    /// salt or iteration count; log in with the password to refresh them.
    CachedKeysStale,
    /// A message arrived when the mechanism expected none or another one
    /// (for example a challenge after the exchange was complete).
    UnexpectedMessage,
    /// The client asked for a mechanism this server does not offer.
    UnsupportedMechanism,
    /// The mechanism needs an encrypted stream and this one is not.
    EncryptionRequired,
    /// The client's proof is wrong: wrong password.
    InvalidProof,
    /// The user does not exist (or has no credentials for this mechanism).
    UnknownUser,
    /// The channel binding data the client sent differs from ours: there is
    /// a man in the middle on the TLS connection.
    ChannelBindingMismatch,
    /// The client asked for a channel binding type this server cannot
    /// provide on this connection.
    ChannelBindingNotSupported,
    /// The client said the server does not support channel binding (`y`)
    /// although this server offered it: someone removed the offer.
    ChannelBindingDowngrade,
    /// The application rejected the credentials.
    Rejected,
    /// The authorization identity is malformed or the user may not act as it.
    InvalidAuthzid,
    /// The client aborted the exchange.
    Aborted,
}

impl SaslError {
    /// The RFC 6120 §6.5 condition a server reports for this error.
    pub fn condition(&self) -> FailureCondition {
        match self {
            SaslError::Malformed(Malformed::InvalidBase64 { .. }) => {
                FailureCondition::IncorrectEncoding
            }
            SaslError::Malformed(_)
            | SaslError::UnexpectedMessage
            | SaslError::MandatoryExtension
            | SaslError::NonceMismatch => FailureCondition::MalformedRequest,
            SaslError::UnsupportedMechanism | SaslError::NoAcceptableMechanism => {
                FailureCondition::InvalidMechanism
            }
            SaslError::EncryptionRequired => FailureCondition::EncryptionRequired,
            SaslError::InvalidAuthzid => FailureCondition::InvalidAuthzid,
            SaslError::Aborted => FailureCondition::Aborted,
            SaslError::SaslPrep { .. } => FailureCondition::MalformedRequest,
            _ => FailureCondition::NotAuthorized,
        }
    }
}

impl fmt::Display for SaslError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SaslError::NoAcceptableMechanism => f.write_str(
                "no SASL mechanism offered by the server is allowed and usable with these credentials",
            ),
            SaslError::MissingPassword => f.write_str("this SASL mechanism needs a password"),
            SaslError::SaslPrep { field } => {
                write!(f, "the {field} contains characters SASLprep prohibits")
            }
            SaslError::ChannelBindingUnavailable(t) => {
                write!(f, "channel binding {t} was chosen but the TLS layer provided no data for it")
            }
            SaslError::Malformed(m) => write!(f, "malformed SASL message: {m}"),
            SaslError::NonceMismatch => {
                f.write_str("the SCRAM server nonce does not extend the client nonce")
            }
            SaslError::IterationsTooLow { iterations, min } => write!(
                f,
                "the server asked for {iterations} SCRAM iterations, fewer than the minimum {min}"
            ),
            SaslError::IterationsTooHigh { iterations, max } => write!(
                f,
                "the server asked for {iterations} SCRAM iterations, more than the maximum {max}"
            ),
            SaslError::MandatoryExtension => {
                f.write_str("the peer requires an unsupported mandatory SCRAM extension (m=)")
            }
            SaslError::ServerSignatureMissing => f.write_str(
                "the server claimed success without a SCRAM server signature; it may be an impostor",
            ),
            SaslError::ServerSignatureMismatch => f.write_str(
                "the SCRAM server signature is wrong; the server does not know the password",
            ),
            SaslError::ServerError(e) => write!(f, "the server ended SCRAM with error {e}"),
            SaslError::DowngradeDetected => f.write_str(
                "the offered SASL mechanisms or channel binding types were tampered with (XEP-0474)",
            ),
            SaslError::DowngradeProtectionMissing => f.write_str(
                "the server sent no XEP-0474 downgrade protection hash, which the configuration requires",
            ),
            SaslError::CachedKeysStale => f.write_str(
                "the cached SCRAM keys no longer match the server's salt or iteration count; the password is needed",
            ),
            SaslError::UnexpectedMessage => {
                f.write_str("a SASL message arrived at a point of the exchange where none was expected")
            }
            SaslError::UnsupportedMechanism => {
                f.write_str("the requested SASL mechanism is not offered")
            }
            SaslError::EncryptionRequired => {
                f.write_str("this SASL mechanism is only allowed on an encrypted stream")
            }
            SaslError::InvalidProof => f.write_str("wrong password (the SCRAM proof is invalid)"),
            SaslError::UnknownUser => f.write_str("unknown user"),
            SaslError::ChannelBindingMismatch => f.write_str(
                "the channel binding data differ between client and server: the TLS connection is intercepted",
            ),
            SaslError::ChannelBindingNotSupported => {
                f.write_str("the requested channel binding type is not available on this connection")
            }
            SaslError::ChannelBindingDowngrade => f.write_str(
                "the client believes the server lacks channel binding although it was offered: the offer was removed on the way",
            ),
            SaslError::Rejected => f.write_str("the credentials were rejected"),
            SaslError::InvalidAuthzid => f.write_str("invalid authorization identity"),
            SaslError::Aborted => f.write_str("the SASL exchange was aborted"),
        }
    }
}

impl std::error::Error for SaslError {}

impl From<Malformed> for SaslError {
    fn from(m: Malformed) -> Self {
        SaslError::Malformed(m)
    }
}

/// How a SASL message violates its syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Malformed {
    /// The message is not UTF-8.
    NotUtf8,
    /// The message is longer than the configured limit.
    TooLong {
        /// Length received.
        len: usize,
        /// Configured limit.
        max: usize,
    },
    /// An attribute the message must contain is absent.
    MissingAttribute(char),
    /// An attribute occurs twice.
    DuplicateAttribute(char),
    /// An attribute stands where another one must.
    OutOfOrder {
        /// The attribute required at this position.
        expected: char,
        /// The attribute found there.
        found: char,
    },
    /// An attribute that does not belong in this message.
    UnexpectedAttribute(char),
    /// An attribute is not of the form `x=value`.
    InvalidAttribute,
    /// An attribute value is not valid base64.
    InvalidBase64 {
        /// The attribute.
        attribute: char,
    },
    /// A nonce is empty or contains characters outside printable ASCII
    /// or a comma.
    InvalidNonce,
    /// A username or authorization identity has a bad `=` escape, or is empty.
    InvalidName,
    /// The iteration count is not a positive decimal number that fits 32 bits.
    InvalidIterationCount,
    /// The salt is empty.
    EmptySalt,
    /// The GS2 header (`n,,` / `y,,` / `p=type,,`) is malformed.
    InvalidGs2Header,
    /// A PLAIN message does not have exactly three NUL-separated fields,
    /// or a field is empty where it must not be.
    InvalidPlain,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::NotUtf8 => f.write_str("not UTF-8"),
            Malformed::TooLong { len, max } => {
                write!(f, "{len} bytes long, more than the limit of {max}")
            }
            Malformed::MissingAttribute(a) => write!(f, "attribute {a}= is missing"),
            Malformed::DuplicateAttribute(a) => write!(f, "attribute {a}= occurs twice"),
            Malformed::OutOfOrder { expected, found } => {
                write!(f, "attribute {found}= found where {expected}= must be")
            }
            Malformed::UnexpectedAttribute(a) => {
                write!(f, "attribute {a}= does not belong in this message")
            }
            Malformed::InvalidAttribute => f.write_str("an attribute is not of the form x=value"),
            Malformed::InvalidBase64 { attribute } => {
                write!(f, "attribute {attribute}= is not valid base64")
            }
            Malformed::InvalidNonce => f.write_str("the nonce is empty or has invalid characters"),
            Malformed::InvalidName => f.write_str("a name is empty or has a bad =XX escape"),
            Malformed::InvalidIterationCount => {
                f.write_str("the iteration count is not a positive 32-bit number")
            }
            Malformed::EmptySalt => f.write_str("the salt is empty"),
            Malformed::InvalidGs2Header => f.write_str("the GS2 header is malformed"),
            Malformed::InvalidPlain => {
                f.write_str("a PLAIN message must be authzid NUL authcid NUL password")
            }
        }
    }
}

/// The `server-error-value` of a SCRAM server-final message (`e=`, RFC 5802 §7).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScramServerError {
    /// `invalid-encoding`
    InvalidEncoding,
    /// `extensions-not-supported`
    ExtensionsNotSupported,
    /// `invalid-proof`: wrong password.
    InvalidProof,
    /// `channel-bindings-dont-match`
    ChannelBindingsDontMatch,
    /// `server-does-support-channel-binding`
    ServerDoesSupportChannelBinding,
    /// `channel-binding-not-supported`
    ChannelBindingNotSupported,
    /// `unsupported-channel-binding-type`
    UnsupportedChannelBindingType,
    /// `unknown-user`
    UnknownUser,
    /// `invalid-username-encoding`
    InvalidUsernameEncoding,
    /// `no-resources`
    NoResources,
    /// `other-error`
    OtherError,
    /// A value RFC 5802 does not define (`server-error-value-ext`), as sent.
    Unrecognized(String),
}

impl ScramServerError {
    const TABLE: [(&'static str, ScramServerError); 11] = [
        ("invalid-encoding", ScramServerError::InvalidEncoding),
        (
            "extensions-not-supported",
            ScramServerError::ExtensionsNotSupported,
        ),
        ("invalid-proof", ScramServerError::InvalidProof),
        (
            "channel-bindings-dont-match",
            ScramServerError::ChannelBindingsDontMatch,
        ),
        (
            "server-does-support-channel-binding",
            ScramServerError::ServerDoesSupportChannelBinding,
        ),
        (
            "channel-binding-not-supported",
            ScramServerError::ChannelBindingNotSupported,
        ),
        (
            "unsupported-channel-binding-type",
            ScramServerError::UnsupportedChannelBindingType,
        ),
        ("unknown-user", ScramServerError::UnknownUser),
        (
            "invalid-username-encoding",
            ScramServerError::InvalidUsernameEncoding,
        ),
        ("no-resources", ScramServerError::NoResources),
        ("other-error", ScramServerError::OtherError),
    ];

    /// Parses the value of `e=`.
    pub fn from_value(value: &str) -> Self {
        Self::TABLE
            .iter()
            .find(|(name, _)| *name == value)
            .map(|(_, e)| e.clone())
            .unwrap_or_else(|| ScramServerError::Unrecognized(value.to_owned()))
    }

    /// The value as it appears after `e=`.
    pub fn as_str(&self) -> &str {
        match self {
            ScramServerError::Unrecognized(s) => s,
            known => Self::TABLE
                .iter()
                .find(|(_, e)| e == known)
                .map_or("other-error", |(name, _)| name),
        }
    }
}

impl fmt::Display for ScramServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The SASL failure conditions of RFC 6120 §6.5, the child element of
/// `<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureCondition {
    /// `<aborted/>` (§6.5.1): the receiving entity acknowledges an `<abort/>`.
    Aborted,
    /// `<account-disabled/>` (§6.5.2): the account is temporarily disabled.
    AccountDisabled,
    /// `<credentials-expired/>` (§6.5.3): the credentials have expired.
    CredentialsExpired,
    /// `<encryption-required/>` (§6.5.4): the mechanism needs an encrypted stream.
    EncryptionRequired,
    /// `<incorrect-encoding/>` (§6.5.5): the data were not valid base64.
    IncorrectEncoding,
    /// `<invalid-authzid/>` (§6.5.6): the authorization identity is invalid or
    /// not permitted.
    InvalidAuthzid,
    /// `<invalid-mechanism/>` (§6.5.7): the mechanism is not supported.
    InvalidMechanism,
    /// `<malformed-request/>` (§6.5.8): the request is malformed.
    MalformedRequest,
    /// `<mechanism-too-weak/>` (§6.5.9): the mechanism is weaker than policy allows.
    MechanismTooWeak,
    /// `<not-authorized/>` (§6.5.10): the credentials are wrong.
    NotAuthorized,
    /// `<temporary-auth-failure/>` (§6.5.11): a temporary error in the
    /// receiving entity; try again later.
    TemporaryAuthFailure,
}

impl FailureCondition {
    /// All conditions, in the order of RFC 6120 §6.5.
    pub const ALL: [FailureCondition; 11] = [
        FailureCondition::Aborted,
        FailureCondition::AccountDisabled,
        FailureCondition::CredentialsExpired,
        FailureCondition::EncryptionRequired,
        FailureCondition::IncorrectEncoding,
        FailureCondition::InvalidAuthzid,
        FailureCondition::InvalidMechanism,
        FailureCondition::MalformedRequest,
        FailureCondition::MechanismTooWeak,
        FailureCondition::NotAuthorized,
        FailureCondition::TemporaryAuthFailure,
    ];

    /// The local name of the condition element.
    pub fn element_name(self) -> &'static str {
        match self {
            FailureCondition::Aborted => "aborted",
            FailureCondition::AccountDisabled => "account-disabled",
            FailureCondition::CredentialsExpired => "credentials-expired",
            FailureCondition::EncryptionRequired => "encryption-required",
            FailureCondition::IncorrectEncoding => "incorrect-encoding",
            FailureCondition::InvalidAuthzid => "invalid-authzid",
            FailureCondition::InvalidMechanism => "invalid-mechanism",
            FailureCondition::MalformedRequest => "malformed-request",
            FailureCondition::MechanismTooWeak => "mechanism-too-weak",
            FailureCondition::NotAuthorized => "not-authorized",
            FailureCondition::TemporaryAuthFailure => "temporary-auth-failure",
        }
    }

    /// The condition with this element name, if RFC 6120 defines one.
    pub fn from_element_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.element_name() == name)
    }
}

impl fmt::Display for FailureCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.element_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_conditions_round_trip_through_element_names() {
        for c in FailureCondition::ALL {
            assert_eq!(
                FailureCondition::from_element_name(c.element_name()),
                Some(c)
            );
        }
        assert_eq!(FailureCondition::from_element_name("bad-request"), None);
    }

    #[test]
    fn scram_server_errors_round_trip() {
        for (name, e) in ScramServerError::TABLE {
            assert_eq!(ScramServerError::from_value(name), e);
            assert_eq!(e.as_str(), name);
        }
        let other = ScramServerError::from_value("custom");
        assert_eq!(other, ScramServerError::Unrecognized("custom".into()));
        assert_eq!(other.as_str(), "custom");
    }
}
