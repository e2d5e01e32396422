//! Client-side choice of a mechanism and of channel binding, from what the
//! server offered, the configuration, the credentials and the TLS state.
//!
//! Policy, in order:
//! 1. Candidates, strongest first: `EXTERNAL` (only if configured),
//!    `SCRAM-SHA-512-PLUS`, `-256-PLUS`, `-1-PLUS`, `SCRAM-SHA-512`, `-256`,
//!    `-1`, `PLAIN`, `ANONYMOUS` (only if configured). A candidate must be
//!    offered, pass the allow and deny lists, and be usable with the
//!    credentials (SCRAM needs a password or cached keys for its hash,
//!    `PLAIN` a password). `PLAIN` needs an encrypted stream unless
//!    [`SaslClientConfig::allow_plain_without_tls`] is set.
//! 2. A `-PLUS` mechanism needs a binding type both sides support: with
//!    XEP-0440 the strongest type in the server's list we have data for
//!    (`tls-exporter`, then `tls-server-end-point`); without XEP-0440 the
//!    [`UnadvertisedPlusPolicy`] decides (default: do not bind).
//! 3. The GS2 flag of a non-PLUS SCRAM exchange is `y` only when we could
//!    bind and the server offered no `-PLUS` mechanism at all; whenever the
//!    server offered `-PLUS` (whether or not we use it) it is `n`, because
//!    `y` would tell a binding-capable server its offer was stripped.

use super::SaslError;
use super::channel_binding::{ChannelBindingType, Gs2Flag, TlsState, UnadvertisedPlusPolicy};
use super::client::Credentials;
use super::mechanism::Mechanism;
use super::scram::ScramLimits;

/// What the server offered: its `<mechanisms/>` and, if present, its
/// XEP-0440 `<sasl-channel-binding/>` types, both as received (names we do
/// not know are kept: XEP-0474 hashes the full list).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerOffer {
    /// Mechanism names, in the order received.
    pub mechanisms: Vec<String>,
    /// XEP-0440 channel binding type names, or `None` if the server sent no
    /// `<sasl-channel-binding/>` element.
    pub channel_binding_types: Option<Vec<String>>,
}

impl ServerOffer {
    /// An offer of these mechanism names, without XEP-0440.
    pub fn new<I, S>(mechanisms: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ServerOffer {
            mechanisms: mechanisms.into_iter().map(Into::into).collect(),
            channel_binding_types: None,
        }
    }

    /// Adds the XEP-0440 channel binding types.
    pub fn with_channel_binding_types<I, S>(mut self, types: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.channel_binding_types = Some(types.into_iter().map(Into::into).collect());
        self
    }

    /// Whether the server offered this mechanism.
    pub fn offers(&self, mechanism: Mechanism) -> bool {
        self.mechanisms.iter().any(|m| m == mechanism.name())
    }

    /// Whether the server offered any channel-binding (`-PLUS`) mechanism,
    /// including ones we do not implement.
    pub fn offers_plus(&self) -> bool {
        self.mechanisms.iter().any(|m| m.ends_with("-PLUS"))
    }

    /// Whether the server listed this type in XEP-0440.
    pub fn lists_binding_type(&self, kind: ChannelBindingType) -> bool {
        self.channel_binding_types
            .as_ref()
            .is_some_and(|types| types.iter().any(|t| t == kind.name()))
    }
}

/// The client's SASL policy. The defaults are the safe ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslClientConfig {
    /// If set, only these mechanisms may be used. Default `None` (all).
    pub allowed: Option<Vec<Mechanism>>,
    /// These mechanisms are never used. Default empty. Put `PLAIN` here once
    /// a server has been seen to support SCRAM (XEP-0474 §7 pinning).
    pub denied: Vec<Mechanism>,
    /// Allow `PLAIN` on an unencrypted stream (sends the password in clear).
    /// Default `false`.
    pub allow_plain_without_tls: bool,
    /// Allow `ANONYMOUS`. Default `false`.
    pub allow_anonymous: bool,
    /// Allow `EXTERNAL` (preferred over everything when allowed). Default `false`.
    pub allow_external: bool,
    /// Use channel binding when possible. Default `true`.
    pub channel_binding: bool,
    /// What to do when the server offers `-PLUS` without XEP-0440.
    /// Default [`UnadvertisedPlusPolicy::DontBind`].
    pub unadvertised_plus: UnadvertisedPlusPolicy,
    /// Fail a SCRAM login when the server sends no XEP-0474 hash. Default
    /// `false` (few servers send it yet); a present hash is always checked.
    pub require_downgrade_protection: bool,
    /// Limits on what a SCRAM server may send.
    pub scram_limits: ScramLimits,
}

impl Default for SaslClientConfig {
    fn default() -> Self {
        SaslClientConfig {
            allowed: None,
            denied: Vec::new(),
            allow_plain_without_tls: false,
            allow_anonymous: false,
            allow_external: false,
            channel_binding: true,
            unadvertised_plus: UnadvertisedPlusPolicy::DontBind,
            require_downgrade_protection: false,
            scram_limits: ScramLimits::default(),
        }
    }
}

impl SaslClientConfig {
    fn permits(&self, mechanism: Mechanism) -> bool {
        let listed = self
            .allowed
            .as_ref()
            .is_none_or(|allowed| allowed.contains(&mechanism));
        let explicit = match mechanism {
            Mechanism::Anonymous => self.allow_anonymous,
            Mechanism::External => self.allow_external,
            _ => true,
        };
        listed && explicit && !self.denied.contains(&mechanism)
    }
}

/// The outcome of [`select`]: which mechanism, and how to bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selection {
    /// The mechanism to start.
    pub mechanism: Mechanism,
    /// The GS2 channel binding flag (meaningful for SCRAM only).
    pub gs2_flag: Gs2Flag,
}

/// Chooses a mechanism; see the module documentation for the policy.
///
/// # Errors
/// [`SaslError::NoAcceptableMechanism`] if nothing offered is usable.
///
/// # Example
/// ```
/// use xmpp_proto::sasl::*;
/// let offer = ServerOffer::new(["PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"])
///     .with_channel_binding_types(["tls-server-end-point", "tls-exporter"]);
/// let tls = TlsState::encrypted(ChannelBindings {
///     tls_exporter: Some(vec![7; 32]),
///     tls_server_end_point: None,
/// });
/// let creds = Credentials::new("juliet", "r0m30myr0m30");
/// let chosen = select(&SaslClientConfig::default(), &offer, &tls, &creds)?;
/// assert_eq!(chosen.mechanism, Mechanism::ScramSha256Plus);
/// assert_eq!(chosen.gs2_flag, Gs2Flag::Bound(ChannelBindingType::TlsExporter));
/// # Ok::<(), SaslError>(())
/// ```
pub fn select(
    config: &SaslClientConfig,
    offer: &ServerOffer,
    tls: &TlsState,
    credentials: &Credentials,
) -> Result<Selection, SaslError> {
    let client_can_bind =
        config.channel_binding && tls.encrypted && !tls.channel_bindings.is_empty();
    let binding = if client_can_bind {
        binding_type(config, offer, tls)
    } else {
        None
    };

    let usable = |m: Mechanism| -> bool {
        if !offer.offers(m) || !config.permits(m) {
            return false;
        }
        match m {
            Mechanism::Plain => {
                credentials.has_password() && (tls.encrypted || config.allow_plain_without_tls)
            }
            Mechanism::External | Mechanism::Anonymous => true,
            scram => {
                scram.scram_hash().is_some_and(|h| credentials.can_scram(h))
                    && (!scram.is_plus() || binding.is_some())
            }
        }
    };
    let mechanism = Mechanism::ALL
        .into_iter()
        .find(|m| usable(*m))
        .ok_or(SaslError::NoAcceptableMechanism)?;

    let gs2_flag = match binding {
        Some(kind) if mechanism.is_plus() => Gs2Flag::Bound(kind),
        _ if client_can_bind && !offer.offers_plus() => Gs2Flag::ClientOnly,
        _ => Gs2Flag::NotSupported,
    };
    Ok(Selection {
        mechanism,
        gs2_flag,
    })
}

/// The binding type a `-PLUS` mechanism would use, if any.
fn binding_type(
    config: &SaslClientConfig,
    offer: &ServerOffer,
    tls: &TlsState,
) -> Option<ChannelBindingType> {
    match (&offer.channel_binding_types, config.unadvertised_plus) {
        (Some(_), _) => tls
            .channel_bindings
            .available()
            .find(|t| offer.lists_binding_type(*t)),
        (None, UnadvertisedPlusPolicy::DontBind) => None,
        (None, UnadvertisedPlusPolicy::Assume(kind)) => {
            tls.channel_bindings.data(kind).map(|_| kind)
        }
    }
}
