//! Channel binding (RFC 5056): which TLS facts bind a SCRAM exchange to its
//! connection, and how client and server agree on one.
//!
//! The core has no TLS code: the transport computes the binding data and
//! hands it in as a [`ChannelBindings`] inside a [`TlsState`].

use core::fmt;

/// A channel binding type from the IANA registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChannelBindingType {
    /// `tls-exporter` (RFC 9266): keying material exported with the label
    /// `EXPORTER-Channel-Binding`, 32 bytes, no context. Valid on TLS 1.3
    /// and on TLS 1.2 with extended master secret; the strongest type.
    TlsExporter,
    /// `tls-server-end-point` (RFC 5929 §4): a hash of the server
    /// certificate. Binds to the certificate rather than the connection, so
    /// it only stops a man in the middle who lacks the certificate's key.
    TlsServerEndPoint,
    /// `tls-unique` (RFC 5929 §3). Recognised by name only: it is not
    /// defined for TLS 1.3, is broken on TLS 1.2 without extended master
    /// secret, and rustls cannot produce it, so this library never uses it.
    TlsUnique,
}

impl ChannelBindingType {
    /// The types this library can use, strongest first.
    pub const USABLE: [ChannelBindingType; 2] = [
        ChannelBindingType::TlsExporter,
        ChannelBindingType::TlsServerEndPoint,
    ];

    /// The registered name, as in the GS2 header and XEP-0440.
    pub fn name(self) -> &'static str {
        match self {
            ChannelBindingType::TlsExporter => "tls-exporter",
            ChannelBindingType::TlsServerEndPoint => "tls-server-end-point",
            ChannelBindingType::TlsUnique => "tls-unique",
        }
    }

    /// The type with this registered name.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            ChannelBindingType::TlsExporter,
            ChannelBindingType::TlsServerEndPoint,
            ChannelBindingType::TlsUnique,
        ]
        .into_iter()
        .find(|t| t.name() == name)
    }
}

impl fmt::Display for ChannelBindingType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The channel binding data the TLS layer could compute for this connection.
///
/// The transport fills in what its TLS library gives; it must only provide
/// `tls_exporter` where RFC 9266 allows it (TLS 1.3, or TLS 1.2 with
/// extended master secret).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelBindings {
    /// `tls-exporter` data (32 bytes exported with label `EXPORTER-Channel-Binding`).
    pub tls_exporter: Option<Vec<u8>>,
    /// `tls-server-end-point` data (hash of the server certificate, RFC 5929 §4.1).
    pub tls_server_end_point: Option<Vec<u8>>,
}

impl ChannelBindings {
    /// No channel binding available.
    pub fn none() -> Self {
        ChannelBindings::default()
    }

    /// The data for one type, if present.
    pub fn data(&self, kind: ChannelBindingType) -> Option<&[u8]> {
        match kind {
            ChannelBindingType::TlsExporter => self.tls_exporter.as_deref(),
            ChannelBindingType::TlsServerEndPoint => self.tls_server_end_point.as_deref(),
            ChannelBindingType::TlsUnique => None,
        }
    }

    /// The types with data, strongest first.
    pub fn available(&self) -> impl Iterator<Item = ChannelBindingType> + '_ {
        ChannelBindingType::USABLE
            .into_iter()
            .filter(|t| self.data(*t).is_some())
    }

    /// Whether any type has data.
    pub fn is_empty(&self) -> bool {
        self.available().next().is_none()
    }
}

/// What SASL needs to know about the connection's security.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsState {
    /// Whether the stream is encrypted (STARTTLS done, or direct TLS).
    pub encrypted: bool,
    /// The channel binding data of the TLS session.
    pub channel_bindings: ChannelBindings,
}

impl TlsState {
    /// A plaintext connection.
    pub fn plaintext() -> Self {
        TlsState::default()
    }

    /// An encrypted connection with the given binding data.
    pub fn encrypted(channel_bindings: ChannelBindings) -> Self {
        TlsState {
            encrypted: true,
            channel_bindings,
        }
    }
}

/// The channel binding flag of the GS2 header (RFC 5802 §5.1, `gs2-cbind-flag`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gs2Flag {
    /// `n`: no channel binding. Sent when the client cannot bind, or when
    /// the server offers `-PLUS` but no binding type both sides support.
    NotSupported,
    /// `y`: the client could bind but believes the server cannot (it offered
    /// no `-PLUS`). A server that does support binding must then fail the
    /// exchange: the offer was removed by someone in the middle.
    ClientOnly,
    /// `p=<type>`: the exchange is bound with this type (`-PLUS` mechanisms only).
    Bound(ChannelBindingType),
}

/// What a client does when the server offers `-PLUS` mechanisms but no
/// XEP-0440 list of binding types.
///
/// Without the list the client cannot know which type the server computes,
/// and a wrong guess fails the login exactly like a wrong password. ejabberd
/// 23.01, for example, offers `-PLUS` with only `tls-unique`, which rustls
/// cannot produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnadvertisedPlusPolicy {
    /// Do not bind: pick a non-PLUS mechanism and send the flag `n` (never
    /// `y`, which would tell the server its `-PLUS` offer was stripped and
    /// make it fail the login). The default, so such servers keep working.
    #[default]
    DontBind,
    /// Assume the server supports this type and bind with it if the TLS
    /// layer provides data for it. For servers known to support it.
    Assume(ChannelBindingType),
}
