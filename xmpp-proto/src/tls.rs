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
        }
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
