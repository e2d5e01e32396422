//! What the transport tells the core about an established TLS session.
//!
//! The core has no TLS code. When a transport finishes a TLS handshake
//! (after `<proceed/>`, or at once for direct TLS) it passes a [`TlsInfo`]
//! in; SASL uses its channel-binding data for the `-PLUS` mechanisms.

/// Facts about the TLS session a stream runs over.
///
/// ```
/// use xmpp_proto::tls::{TlsInfo, TlsVersion};
///
/// let info = TlsInfo::new(TlsVersion::Tls13)
///     .with_tls_exporter(vec![0x42; 32]);
/// assert!(info.tls_exporter().is_some());
/// assert!(info.tls_server_end_point().is_none());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsInfo {
    version: TlsVersion,
    tls_exporter: Option<Vec<u8>>,
    tls_server_end_point: Option<Vec<u8>>,
    peer_names: Vec<String>,
}

/// The negotiated TLS protocol version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum TlsVersion {
    /// TLS 1.2 (RFC 5246).
    Tls12,
    /// TLS 1.3 (RFC 8446).
    Tls13,
}

impl TlsInfo {
    /// A session of the given version with no channel-binding data yet.
    pub fn new(version: TlsVersion) -> Self {
        TlsInfo {
            version,
            tls_exporter: None,
            tls_server_end_point: None,
            peer_names: Vec::new(),
        }
    }

    /// Adds the DNS names (subject alternative names) of the peer's
    /// certificate, once the transport verified its chain against
    /// trusted roots: the server's for a client, a client's or a peer
    /// server's where the server asked for one. What server-to-server
    /// authentication (SASL EXTERNAL, RFC 6120 §13.7) checks a domain
    /// against.
    pub fn with_peer_names(mut self, names: Vec<String>) -> Self {
        self.peer_names = names;
        self
    }

    /// The DNS names of the peer's verified certificate (empty if it
    /// presented none, or none was asked for).
    pub fn peer_names(&self) -> &[String] {
        &self.peer_names
    }

    /// Whether the peer's verified certificate names `domain` (RFC 6125
    /// §6.4: case-insensitive; a wildcard only as the whole leftmost label,
    /// standing for exactly one label).
    ///
    /// ```
    /// use xmpp_proto::tls::{TlsInfo, TlsVersion};
    ///
    /// let info = TlsInfo::new(TlsVersion::Tls13)
    ///     .with_peer_names(vec!["example.org".into(), "*.example.net".into()]);
    /// assert!(info.peer_certified_for("Example.ORG"));
    /// assert!(info.peer_certified_for("chat.example.net"));
    /// assert!(!info.peer_certified_for("example.net"));
    /// assert!(!info.peer_certified_for("a.b.example.net"));
    /// assert!(!info.peer_certified_for("example.com"));
    /// ```
    pub fn peer_certified_for(&self, domain: &str) -> bool {
        self.peer_names
            .iter()
            .any(|presented| dns_name_matches(presented, domain))
    }

    /// Adds `tls-exporter` data (RFC 9266): 32 bytes exported with the
    /// label `EXPORTER-Channel-Binding` and an empty context. Only valid on
    /// TLS 1.3, or TLS 1.2 with the extended master secret extension.
    pub fn with_tls_exporter(mut self, data: Vec<u8>) -> Self {
        self.tls_exporter = Some(data);
        self
    }

    /// Adds `tls-server-end-point` data (RFC 5929 §4): the hash of the
    /// server's certificate.
    pub fn with_tls_server_end_point(mut self, data: Vec<u8>) -> Self {
        self.tls_server_end_point = Some(data);
        self
    }

    /// The negotiated version.
    pub fn version(&self) -> TlsVersion {
        self.version
    }

    /// The `tls-exporter` channel-binding data, if the transport gave it.
    pub fn tls_exporter(&self) -> Option<&[u8]> {
        self.tls_exporter.as_deref()
    }

    /// The `tls-server-end-point` channel-binding data, if the transport
    /// gave it.
    pub fn tls_server_end_point(&self) -> Option<&[u8]> {
        self.tls_server_end_point.as_deref()
    }
}

/// RFC 6125 §6.4 matching of a presented DNS identifier against the
/// domain we expect.
fn dns_name_matches(presented: &str, reference: &str) -> bool {
    let presented = presented.trim_end_matches('.');
    let reference = reference.trim_end_matches('.');
    if presented.is_empty() || reference.is_empty() {
        return false;
    }
    match presented.strip_prefix("*.") {
        Some(rest) => match reference.split_once('.') {
            Some((label, parent)) => {
                !label.is_empty() && !rest.contains('*') && parent.eq_ignore_ascii_case(rest)
            }
            None => false,
        },
        None => !presented.contains('*') && presented.eq_ignore_ascii_case(reference),
    }
}

#[cfg(test)]
mod tests {
    use super::dns_name_matches;

    #[test]
    fn wildcards_stand_for_one_whole_label_only() {
        assert!(dns_name_matches("example.org.", "example.org"));
        assert!(dns_name_matches("*.example.org", "xmpp.example.org"));
        assert!(!dns_name_matches("*.example.org", ".example.org"));
        assert!(!dns_name_matches("x*.example.org", "xy.example.org"));
        assert!(!dns_name_matches("*.*.org", "a.b.org"));
        assert!(!dns_name_matches("", "example.org"));
    }
}
