//! The checks on a received stream header (RFC 6120 §4.7), for both
//! roles: content namespace, version, and the addresses each side may
//! claim.

use std::fmt;

use crate::jid::{BareJid, Jid};
use crate::stream::version_at_least_1;
use crate::stream_error::StreamErrorCondition;
use crate::xml::{StreamHeader, ns};

/// Why a stream header is refused: the stream error to close with, and
/// what was wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderError {
    /// The stream error condition to send.
    pub condition: StreamErrorCondition,
    /// What was wrong, for logs.
    pub text: &'static str,
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.text, self.condition.as_str())
    }
}

impl std::error::Error for HeaderError {}

/// What a client makes of the server's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerHeader {
    /// As expected.
    Valid,
    /// Valid, but `from` names another domain than the one we asked for.
    /// A server says so when it does not serve our domain, and then
    /// usually closes with `host-unknown` at once: read on, and report
    /// that error if it comes; anything else is `invalid-from`.
    ForeignDomain,
}

/// Checks the server's header as a client that asked for `domain`.
///
/// ```
/// use xmpp_proto::negotiation::{check_server_header, ServerHeader};
/// use xmpp_proto::xml::{StreamHeader, ns};
///
/// let mut header = StreamHeader::new(ns::CLIENT).from("example.com").id("s1");
/// header.version = Some("1.0".into());
/// assert_eq!(check_server_header(&header, "example.com"), Ok(ServerHeader::Valid));
/// assert_eq!(check_server_header(&header, "example.net"), Ok(ServerHeader::ForeignDomain));
/// ```
///
/// # Errors
/// A wrong content namespace (`invalid-namespace`), a version below 1.0
/// (`unsupported-version`) or no stream id (`invalid-xml`).
pub fn check_server_header(
    header: &StreamHeader,
    domain: &str,
) -> Result<ServerHeader, HeaderError> {
    check_common(header)?;
    if header.id.as_deref().is_none_or(str::is_empty) {
        return Err(HeaderError {
            condition: StreamErrorCondition::InvalidXml,
            text: "the server's stream header has no id",
        });
    }
    match &header.from {
        Some(from) if !from.eq_ignore_ascii_case(domain) => Ok(ServerHeader::ForeignDomain),
        _ => Ok(ServerHeader::Valid),
    }
}

/// Checks a client's header as the server of `domain`; `account` is the
/// authenticated account once SASL succeeded.
///
/// ```
/// use xmpp_proto::jid::BareJid;
/// use xmpp_proto::negotiation::check_client_header;
/// use xmpp_proto::stream_error::StreamErrorCondition;
/// use xmpp_proto::xml::{StreamHeader, ns};
///
/// let mut header = StreamHeader::new(ns::CLIENT).to("example.com");
/// header.version = Some("1.0".into());
/// assert!(check_client_header(&header, "example.com", None).is_ok());
/// let refused = check_client_header(&header, "example.net", None).unwrap_err();
/// assert_eq!(refused.condition, StreamErrorCondition::HostUnknown);
///
/// let juliet = BareJid::new("juliet@example.com")?;
/// let romeo = header.clone().from("romeo@example.com");
/// let refused = check_client_header(&romeo, "example.com", Some(&juliet)).unwrap_err();
/// assert_eq!(refused.condition, StreamErrorCondition::InvalidFrom);
/// // A `from` that names no account (sendxmpp sends the domain) is ignored.
/// let domain = header.from("example.com");
/// assert!(check_client_header(&domain, "example.com", Some(&juliet)).is_ok());
/// # Ok::<(), xmpp_proto::jid::JidError>(())
/// ```
///
/// # Errors
/// As for [`check_server_header`], plus `host-unknown` for a `to` that is
/// not `domain` and `invalid-from` for a `from` naming another account
/// than `account`.
pub fn check_client_header(
    header: &StreamHeader,
    domain: &str,
    account: Option<&BareJid>,
) -> Result<(), HeaderError> {
    check_common(header)?;
    if let Some(to) = &header.to {
        let ours = Jid::new(to).is_ok_and(|j| {
            j.localpart().is_none() && j.resourcepart().is_none() && j.domainpart() == domain
        });
        if !ours {
            return Err(HeaderError {
                condition: StreamErrorCondition::HostUnknown,
                text: "this server does not serve that domain",
            });
        }
    }
    if let (Some(from), Some(account)) = (&header.from, account) {
        // Only a `from` naming another account is refused. Some clients
        // (Net::XMPP's sendxmpp) put the server's domain there, and
        // stanzas get the session's address stamped in any case, so a
        // `from` that names no account is ignored, as Prosody does.
        let other_account = Jid::new(from)
            .is_ok_and(|j| j.localpart().is_some() && j.bare_str() != account.as_str());
        if other_account {
            return Err(HeaderError {
                condition: StreamErrorCondition::InvalidFrom,
                text: "stream from another account than the authenticated one",
            });
        }
    }
    Ok(())
}

/// Namespace and version, the same for both directions.
fn check_common(header: &StreamHeader) -> Result<(), HeaderError> {
    if header.default_ns != ns::CLIENT {
        return Err(HeaderError {
            condition: StreamErrorCondition::InvalidNamespace,
            text: "content namespace is not jabber:client",
        });
    }
    match header.version.as_deref() {
        Some(v) if version_at_least_1(v) => Ok(()),
        _ => Err(HeaderError {
            condition: StreamErrorCondition::UnsupportedVersion,
            text: "stream version below 1.0",
        }),
    }
}
