//! What a server needs to federate: its dialback secret, the domains it
//! answers for, and its policy on how peers may prove theirs.

use std::fmt;
use std::time::Duration;

/// How a peer server may prove that it speaks for its domain.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum S2sPolicy {
    /// Only a TLS certificate that verifies for the domain (RFC 6125)
    /// counts: by SASL EXTERNAL, or by dialback on a stream whose
    /// certificate already verifies (XEP-0344), which is then answered
    /// without asking anyone. A peer without such a certificate is
    /// refused. The default.
    #[default]
    RequireCertificate,
    /// Also Server Dialback (XEP-0220) where the certificate does not
    /// verify: the key is checked with the domain's authoritative server,
    /// found through DNS. Weaker (it trusts DNS); what most of the
    /// federated network still needs.
    AllowDialback,
}

/// The settings both directions of a server-to-server stream share.
///
/// ```
/// use xmpp_proto::s2s::{Federation, S2sPolicy};
///
/// let federation = Federation::new("a long random secret")
///     .with_policy(S2sPolicy::AllowDialback)
///     .serving("rooms.example.com");
/// assert_eq!(federation.policy(), S2sPolicy::AllowDialback);
/// // The secret never shows in logs.
/// assert!(!format!("{federation:?}").contains("random"));
/// ```
#[derive(Clone)]
pub struct Federation {
    pub(crate) secret: String,
    pub(crate) policy: S2sPolicy,
    /// Domains besides the server's own that peers may address (its
    /// group chat service, its components).
    pub(crate) also_serving: Vec<String>,
    /// How long a link may go without a stanza either way before it is
    /// closed.
    pub(crate) idle: Option<Duration>,
    /// How many domain pairs one stream may authenticate.
    pub(crate) max_domains: usize,
    /// Bidirectional streams (XEP-0288): offered and asked for.
    pub(crate) bidi: bool,
}

/// How long a server-to-server stream may carry nothing before it is
/// closed, by default: 10 minutes (links are opened again on demand).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// How many domain pairs one incoming stream may authenticate by
/// default (dialback piggybacking, XEP-0220 §2.6): a peer's domain and a
/// few of its services, not an unbounded list.
pub const DEFAULT_MAX_DOMAINS: usize = 16;

impl Federation {
    /// Federation with `secret` as the dialback secret (XEP-0185: keep it
    /// long, random and the same across the processes of one domain),
    /// certificates required ([`S2sPolicy::RequireCertificate`]), links
    /// closed after [`DEFAULT_IDLE_TIMEOUT`].
    pub fn new(secret: impl Into<String>) -> Self {
        Federation {
            secret: secret.into(),
            policy: S2sPolicy::default(),
            also_serving: Vec::new(),
            idle: Some(DEFAULT_IDLE_TIMEOUT),
            max_domains: DEFAULT_MAX_DOMAINS,
            bidi: true,
        }
    }

    /// How peers may prove their domain (default
    /// [`S2sPolicy::RequireCertificate`]).
    pub fn with_policy(mut self, policy: S2sPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The policy.
    pub fn policy(&self) -> S2sPolicy {
        self.policy
    }

    /// Peers may also address `domain` (a group chat service or a
    /// component of this server), besides the server's own domain. (The
    /// std and mio servers add their hub's service domains themselves.)
    pub fn serving(mut self, domain: impl Into<String>) -> Self {
        let domain = domain.into().to_ascii_lowercase();
        if !self.also_serving.contains(&domain) {
            self.also_serving.push(domain);
        }
        self
    }

    /// Closes a link after `idle` without a stanza either way (`None`:
    /// never; default [`DEFAULT_IDLE_TIMEOUT`]).
    pub fn with_idle_timeout(mut self, idle: Option<Duration>) -> Self {
        self.idle = idle;
        self
    }

    /// How many domain pairs one incoming stream may authenticate
    /// (default [`DEFAULT_MAX_DOMAINS`]); a peer asking for more gets a
    /// `policy-violation` dialback error.
    pub fn with_max_domains(mut self, max: usize) -> Self {
        self.max_domains = max.max(1);
        self
    }

    /// Bidirectional streams (XEP-0288), on by default: peers that ask
    /// get our stanzas for them on the stream they opened, and our links
    /// ask peers that offer it to send theirs back on the link, so one
    /// connection per pair of domains carries both ways. Off: one
    /// connection each way, as in RFC 6120.
    pub fn with_bidi(mut self, bidi: bool) -> Self {
        self.bidi = bidi;
        self
    }

    /// Whether bidirectional streams are on.
    pub fn bidi(&self) -> bool {
        self.bidi
    }

    /// Whether `domain` is ours to answer for: `own` (the server's
    /// domain) or one named with [`Federation::serving`].
    pub(crate) fn serves(&self, own: &str, domain: &str) -> bool {
        domain == own || self.also_serving.iter().any(|d| d == domain)
    }
}

impl fmt::Debug for Federation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Federation")
            .field("secret", &"..")
            .field("policy", &self.policy)
            .field("also_serving", &self.also_serving)
            .field("idle", &self.idle)
            .field("max_domains", &self.max_domains)
            .field("bidi", &self.bidi)
            .finish()
    }
}

/// How a server-to-server stream was authenticated for a domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum S2sAuth {
    /// SASL EXTERNAL with a certificate that verifies for the domain
    /// (RFC 6120 §13.7.1.2, XEP-0178).
    External,
    /// Dialback on a stream whose certificate verifies for the domain:
    /// accepted without a key check (XEP-0344).
    DialbackWithCertificate,
    /// Dialback with the key checked by the authoritative server
    /// (XEP-0220).
    Dialback,
    /// Our own link, made bidirectional (XEP-0288): the peer is the
    /// server we connected to for the domain (its certificate verified
    /// for it by the TLS layer, or, under
    /// [`S2sPolicy::AllowDialback`], found through DNS).
    OurLink,
}
