//! What a component is told before it connects.

use std::fmt;
use std::time::Duration;

use crate::jid::{Jid, JidError, JidErrorKind, JidPart};
use crate::random::RandomSource;
use crate::xml::Limits;

/// How the connection to the server is protected. XEP-0114 has no
/// STARTTLS: either TLS from the first byte, or none at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ComponentTls {
    /// TLS from the first byte: the transport runs the handshake before
    /// the stream header (the default).
    Direct,
    /// No TLS. The secret itself never travels (only its hash with the
    /// stream id), but every stanza does in clear: only for loopback or
    /// a network you trust, which is where most servers listen for
    /// components.
    Plaintext,
}

/// Timeouts of a component session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ComponentTimeouts {
    /// From start until the handshake is accepted (default 30 s).
    pub negotiation: Duration,
    /// How long `close()` waits for the server's `</stream:stream>`
    /// (default 5 s).
    pub close: Duration,
    /// A whitespace keepalive after this long without sending anything
    /// (default 90 s; `None` disables it).
    pub keepalive: Option<Duration>,
}

impl Default for ComponentTimeouts {
    fn default() -> Self {
        ComponentTimeouts {
            negotiation: Duration::from_secs(30),
            close: Duration::from_secs(5),
            keepalive: Some(Duration::from_secs(90)),
        }
    }
}

/// The settings of a [`Component`](super::Component).
///
/// ```
/// use xmpp_proto::component::{ComponentConfig, ComponentTls};
///
/// let config = ComponentConfig::new("echo.example.com", "shared secret")?
///     .with_tls(ComponentTls::Plaintext);
/// assert_eq!(config.domain(), "echo.example.com");
/// # Ok::<(), xmpp_proto::jid::JidError>(())
/// ```
pub struct ComponentConfig {
    pub(crate) domain: String,
    pub(crate) secret: String,
    pub(crate) tls: ComponentTls,
    /// Reader limits for what the server sends.
    pub limits: Limits,
    /// Timeouts.
    pub timeouts: ComponentTimeouts,
    /// Report every byte sent and received as a `Trace` event.
    pub trace: bool,
    /// Events that may wait for the application before the session stops
    /// reading (default 4,096).
    pub max_events: usize,
    pub(crate) random: Option<Box<dyn RandomSource + Send>>,
}

impl fmt::Debug for ComponentConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ComponentConfig")
            .field("domain", &self.domain)
            .field("tls", &self.tls)
            .field("timeouts", &self.timeouts)
            .finish_non_exhaustive()
    }
}

impl ComponentConfig {
    /// A component for `domain` (the whole domain it serves, such as
    /// `echo.example.com`), authenticated with the secret it shares with
    /// the server. TLS from the first byte unless told otherwise.
    ///
    /// # Errors
    /// If `domain` is not a domain (it has a local part or a resource,
    /// or is not a valid JID).
    pub fn new(domain: &str, secret: impl Into<String>) -> Result<Self, JidError> {
        let jid = Jid::new(domain)?;
        if jid.localpart().is_some() {
            return Err(JidError::new(JidPart::Localpart, JidErrorKind::Unexpected));
        }
        if jid.resourcepart().is_some() {
            return Err(JidError::new(
                JidPart::Resourcepart,
                JidErrorKind::Unexpected,
            ));
        }
        Ok(ComponentConfig {
            domain: jid.domainpart().to_owned(),
            secret: secret.into(),
            tls: ComponentTls::Direct,
            limits: Limits::default(),
            timeouts: ComponentTimeouts::default(),
            trace: false,
            max_events: 4096,
            random: None,
        })
    }

    /// The domain, prepared.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Sets how the connection is protected.
    pub fn with_tls(mut self, tls: ComponentTls) -> Self {
        self.tls = tls;
        self
    }

    /// Sets the timeouts.
    pub fn with_timeouts(mut self, timeouts: ComponentTimeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Reports every byte as a `Trace` event.
    pub fn with_trace(mut self, trace: bool) -> Self {
        self.trace = trace;
        self
    }

    /// Replaces the operating system's randomness (stanza ids), for
    /// deterministic tests.
    pub fn with_random(mut self, random: Box<dyn RandomSource + Send>) -> Self {
        self.random = Some(random);
        self
    }
}
