//! The SASL mechanisms this library implements.

use core::fmt;

use super::scram::ScramHash;

/// A SASL mechanism, by its registered name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Mechanism {
    /// `EXTERNAL` (RFC 4422 appendix A): authentication outside SASL, in XMPP
    /// usually a TLS client certificate.
    External,
    /// `SCRAM-SHA-512-PLUS`.
    ScramSha512Plus,
    /// `SCRAM-SHA-256-PLUS` (RFC 7677).
    ScramSha256Plus,
    /// `SCRAM-SHA-1-PLUS` (RFC 5802).
    ScramSha1Plus,
    /// `SCRAM-SHA-512`.
    ScramSha512,
    /// `SCRAM-SHA-256` (RFC 7677).
    ScramSha256,
    /// `SCRAM-SHA-1` (RFC 5802).
    ScramSha1,
    /// `PLAIN` (RFC 4616): the password in clear, protected only by TLS.
    Plain,
    /// `ANONYMOUS` (RFC 4505): no credentials; the server assigns an identity.
    Anonymous,
    /// `HT-SHA-256-EXPR` (XEP-0484 FAST): a token, bound to `tls-exporter`.
    HtSha256Expr,
    /// `HT-SHA-256-ENDP`: a token, bound to `tls-server-end-point`.
    HtSha256Endp,
    /// `HT-SHA-256-UNIQ`: a token, bound to `tls-unique` (never used by
    /// this library; recognised by name).
    HtSha256Uniq,
    /// `HT-SHA-256-NONE`: a token, without channel binding.
    HtSha256None,
}

impl Mechanism {
    /// Every mechanism, in the client's order of preference: strongest
    /// first (`EXTERNAL` and `ANONYMOUS` are only used when configured).
    pub const ALL: [Mechanism; 9] = [
        Mechanism::External,
        Mechanism::ScramSha512Plus,
        Mechanism::ScramSha256Plus,
        Mechanism::ScramSha1Plus,
        Mechanism::ScramSha512,
        Mechanism::ScramSha256,
        Mechanism::ScramSha1,
        Mechanism::Plain,
        Mechanism::Anonymous,
    ];

    /// The registered name.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::External => "EXTERNAL",
            Mechanism::ScramSha512Plus => "SCRAM-SHA-512-PLUS",
            Mechanism::ScramSha256Plus => "SCRAM-SHA-256-PLUS",
            Mechanism::ScramSha1Plus => "SCRAM-SHA-1-PLUS",
            Mechanism::ScramSha512 => "SCRAM-SHA-512",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha1 => "SCRAM-SHA-1",
            Mechanism::Plain => "PLAIN",
            Mechanism::Anonymous => "ANONYMOUS",
            Mechanism::HtSha256Expr => "HT-SHA-256-EXPR",
            Mechanism::HtSha256Endp => "HT-SHA-256-ENDP",
            Mechanism::HtSha256Uniq => "HT-SHA-256-UNIQ",
            Mechanism::HtSha256None => "HT-SHA-256-NONE",
        }
    }

    /// The mechanism with this name (SASL names are case-sensitive upper case).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .chain(Self::FAST)
            .find(|m| m.name() == name)
    }

    /// The XEP-0484 FAST token mechanisms (HT, draft-schmaus-kitten-sasl-ht),
    /// strongest binding first. They are never in [`Mechanism::ALL`]: a
    /// token is offered and used only inside SASL2's `<fast/>`.
    pub const FAST: [Mechanism; 4] = [
        Mechanism::HtSha256Expr,
        Mechanism::HtSha256Endp,
        Mechanism::HtSha256Uniq,
        Mechanism::HtSha256None,
    ];

    /// Whether this is a FAST token mechanism.
    pub fn is_fast(self) -> bool {
        Self::FAST.contains(&self)
    }

    /// The SCRAM mechanism with this hash, with or without channel binding.
    pub fn scram(hash: ScramHash, plus: bool) -> Self {
        match (hash, plus) {
            (ScramHash::Sha1, false) => Mechanism::ScramSha1,
            (ScramHash::Sha1, true) => Mechanism::ScramSha1Plus,
            (ScramHash::Sha256, false) => Mechanism::ScramSha256,
            (ScramHash::Sha256, true) => Mechanism::ScramSha256Plus,
            (ScramHash::Sha512, false) => Mechanism::ScramSha512,
            (ScramHash::Sha512, true) => Mechanism::ScramSha512Plus,
        }
    }

    /// The hash function, for a SCRAM mechanism.
    pub fn scram_hash(self) -> Option<ScramHash> {
        match self {
            Mechanism::ScramSha1 | Mechanism::ScramSha1Plus => Some(ScramHash::Sha1),
            Mechanism::ScramSha256 | Mechanism::ScramSha256Plus => Some(ScramHash::Sha256),
            Mechanism::ScramSha512 | Mechanism::ScramSha512Plus => Some(ScramHash::Sha512),
            _ => None,
        }
    }

    /// Whether this is a `-PLUS` (channel-binding) mechanism.
    pub fn is_plus(self) -> bool {
        matches!(
            self,
            Mechanism::ScramSha1Plus | Mechanism::ScramSha256Plus | Mechanism::ScramSha512Plus
        )
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in Mechanism::ALL {
            assert_eq!(Mechanism::from_name(m.name()), Some(m));
            if let Some(h) = m.scram_hash() {
                assert_eq!(Mechanism::scram(h, m.is_plus()), m);
            }
        }
        for m in Mechanism::FAST {
            assert_eq!(Mechanism::from_name(m.name()), Some(m));
            assert!(m.is_fast() && !Mechanism::ALL.contains(&m));
        }
        assert_eq!(Mechanism::from_name("scram-sha-1"), None);
        assert_eq!(Mechanism::from_name("DIGEST-MD5"), None);
    }
}
