//! The client side: credentials, and [`ClientMechanism`], the state machine
//! the negotiation layer drives.

use super::channel_binding::{ChannelBindingType, Gs2Flag, TlsState};
use super::downgrade::downgrade_hash;
use super::mechanism::Mechanism;
use super::scram::client::ScramClientParams;
use super::scram::{Nonce, ScramClient, ScramHash, ScramKeys};
use super::selection::{SaslClientConfig, Selection, ServerOffer, select};
use super::{SaslError, plain};

/// Who logs in, and with what secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    username: String,
    password: Option<String>,
    cached_keys: Vec<ScramKeys>,
    authzid: Option<String>,
}

impl core::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("cached_keys", &self.cached_keys.len())
            .field("authzid", &self.authzid)
            .finish()
    }
}

impl Credentials {
    /// A username (the JID's localpart, for XMPP) and password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: Some(password.into()),
            cached_keys: Vec::new(),
            authzid: None,
        }
    }

    /// A username with SCRAM keys from an earlier login and no password:
    /// only SCRAM with the keys' hash is possible, and only while the server
    /// keeps the same salt and iteration count.
    pub fn from_cached_keys(username: impl Into<String>, keys: ScramKeys) -> Self {
        Credentials {
            username: username.into(),
            password: None,
            cached_keys: vec![keys],
            authzid: None,
        }
    }

    /// No credentials, for `ANONYMOUS` (and `EXTERNAL` without a username).
    pub fn none() -> Self {
        Credentials {
            username: String::new(),
            password: None,
            cached_keys: Vec::new(),
            authzid: None,
        }
    }

    /// Adds cached SCRAM keys (one set per hash function; a later set for the
    /// same hash replaces the earlier one), used instead of PBKDF2 when the
    /// server's salt and iteration count match.
    pub fn with_cached_keys(mut self, keys: ScramKeys) -> Self {
        self.cached_keys.retain(|k| k.hash != keys.hash);
        self.cached_keys.push(keys);
        self
    }

    /// Asks to act as another identity (authorization identity).
    pub fn with_authzid(mut self, authzid: impl Into<String>) -> Self {
        self.authzid = Some(authzid.into());
        self
    }

    /// The username.
    pub fn username(&self) -> &str {
        &self.username
    }

    pub(crate) fn has_password(&self) -> bool {
        self.password.is_some()
    }

    pub(crate) fn can_scram(&self, hash: ScramHash) -> bool {
        self.password.is_some() || self.cached_keys.iter().any(|k| k.hash == hash)
    }

    fn cached_keys_for(&self, hash: ScramHash) -> Option<&ScramKeys> {
        self.cached_keys.iter().find(|k| k.hash == hash)
    }
}

/// What a successful login established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The mechanism used.
    pub mechanism: Mechanism,
    /// The channel binding type the exchange was bound to, if any.
    pub channel_binding: Option<ChannelBindingType>,
    /// For SCRAM: the keys to cache for the next login.
    pub scram_keys: Option<ScramKeys>,
}

/// One client-side SASL exchange, whatever the mechanism.
///
/// Call [`initial_response`](Self::initial_response) for the data of
/// `<auth/>`, [`challenge`](Self::challenge) for each `<challenge/>`, and
/// [`success`](Self::success) for `<success/>`. All data are raw bytes: the
/// XML layer does the base64. An empty initial response is sent as `=`.
///
/// # Example
/// A full SCRAM-SHA-256 login against this library's own server:
/// ```
/// use xmpp_proto::sasl::*;
/// let tls = TlsState::encrypted(ChannelBindings::none());
/// let server_config = SaslServerConfig::default();
/// let offer = server_config.offer(&tls);
///
/// let creds = Credentials::new("user", "pencil");
/// let nonce = Nonce::from_random_bytes(b"client random bytes").unwrap();
/// let mut client = ClientMechanism::start(&SaslClientConfig::default(), &creds, &offer, &tls, nonce)?;
/// assert_eq!(client.mechanism(), Mechanism::ScramSha512);
///
/// let server_nonce = Nonce::from_random_bytes(b"server random bytes").unwrap();
/// let (mut server, mut step) = ServerMechanism::start(
///     &server_config, &tls, client.mechanism().name(),
///     Some(client.initial_response()), server_nonce)?;
/// let stored = stored_credentials(ScramHash::Sha512, "pencil", b"salt-from-db", Iterations(4096))?;
/// let outcome = loop {
///     step = match step {
///         ServerStep::NeedScramCredentials { .. } => server.scram_credentials(Some(stored.clone())),
///         ServerStep::Challenge(data) => server.respond(&client.challenge(&data)?),
///         ServerStep::Success(success) => break client.success(success.additional_data.as_deref())?,
///         other => panic!("unexpected {other:?}"),
///     };
/// };
/// assert!(outcome.scram_keys.is_some());
/// # Ok::<(), SaslError>(())
/// ```
#[derive(Debug)]
pub struct ClientMechanism {
    inner: Inner,
    initial: Vec<u8>,
    /// Set once the exchange succeeded or failed.
    done: bool,
}

#[derive(Debug)]
enum Inner {
    Scram(Box<ScramClient>),
    /// PLAIN, ANONYMOUS and EXTERNAL: one message, nothing to check after.
    OneShot(Mechanism),
}

impl ClientMechanism {
    /// Selects a mechanism (see [`select`]) and starts it.
    ///
    /// # Errors
    /// [`SaslError::NoAcceptableMechanism`], or what [`ClientMechanism::new`] returns.
    pub fn start(
        config: &SaslClientConfig,
        credentials: &Credentials,
        offer: &ServerOffer,
        tls: &TlsState,
        nonce: Nonce,
    ) -> Result<Self, SaslError> {
        let selection = select(config, offer, tls, credentials)?;
        Self::new(&selection, config, credentials, offer, tls, nonce)
    }

    /// Starts the selected mechanism. `offer` is what the server advertised
    /// (for XEP-0474); `nonce` is used by SCRAM only.
    ///
    /// # Errors
    /// [`SaslError::SaslPrep`] for credentials SASLprep refuses,
    /// [`SaslError::MissingPassword`], [`SaslError::ChannelBindingUnavailable`].
    pub fn new(
        selection: &Selection,
        config: &SaslClientConfig,
        credentials: &Credentials,
        offer: &ServerOffer,
        tls: &TlsState,
        nonce: Nonce,
    ) -> Result<Self, SaslError> {
        let mechanism = selection.mechanism;
        let (inner, initial) = match mechanism {
            Mechanism::Plain => {
                let password = credentials
                    .password
                    .as_deref()
                    .ok_or(SaslError::MissingPassword)?;
                let initial = plain::initial_response(
                    credentials.authzid.as_deref(),
                    &credentials.username,
                    password,
                )?;
                (Inner::OneShot(mechanism), initial)
            }
            Mechanism::Anonymous => (Inner::OneShot(mechanism), Vec::new()),
            Mechanism::External => {
                let authzid = credentials.authzid.as_deref().unwrap_or("");
                (Inner::OneShot(mechanism), authzid.as_bytes().to_vec())
            }
            scram => {
                let hash = scram.scram_hash().unwrap_or(ScramHash::Sha1);
                let gs2_flag = if scram.is_plus() {
                    // A hand-made Selection could pair -PLUS with n or y.
                    if !matches!(selection.gs2_flag, Gs2Flag::Bound(_)) {
                        return Err(SaslError::NoAcceptableMechanism);
                    }
                    selection.gs2_flag
                } else {
                    match selection.gs2_flag {
                        Gs2Flag::Bound(_) => Gs2Flag::NotSupported,
                        other => other,
                    }
                };
                let channel_binding_data = match gs2_flag {
                    Gs2Flag::Bound(kind) => tls.channel_bindings.data(kind),
                    _ => None,
                };
                let client = ScramClient::new(ScramClientParams {
                    hash,
                    gs2_flag,
                    channel_binding_data,
                    username: &credentials.username,
                    password: credentials.password.as_deref(),
                    cached_keys: credentials.cached_keys_for(hash),
                    authzid: credentials.authzid.as_deref(),
                    nonce,
                    limits: config.scram_limits,
                    expected_downgrade_hash: Some(downgrade_hash(hash, offer)),
                    require_downgrade_protection: config.require_downgrade_protection,
                })?;
                let initial = client.client_first().to_vec();
                (Inner::Scram(Box::new(client)), initial)
            }
        };
        Ok(ClientMechanism {
            inner,
            initial,
            done: false,
        })
    }

    /// The mechanism, for `<auth mechanism='...'/>`.
    pub fn mechanism(&self) -> Mechanism {
        match &self.inner {
            Inner::Scram(s) => s.mechanism(),
            Inner::OneShot(m) => *m,
        }
    }

    /// The initial response, for the content of `<auth/>`.
    pub fn initial_response(&self) -> &[u8] {
        &self.initial
    }

    /// Handles a `<challenge/>` and returns the `<response/>` data.
    ///
    /// A SCRAM server may send its final message (`v=`) as a challenge; it
    /// is verified here and answered with an empty response.
    ///
    /// # Errors
    /// Whatever is wrong with the challenge; [`SaslError::UnexpectedMessage`]
    /// for mechanisms that take no challenge.
    pub fn challenge(&mut self, data: &[u8]) -> Result<Vec<u8>, SaslError> {
        let result = match &mut self.inner {
            Inner::Scram(scram) if !self.done => scram.handle_challenge(data),
            _ => Err(SaslError::UnexpectedMessage),
        };
        // Errors are final: nothing after a failed step may succeed.
        if result.is_err() {
            self.done = true;
        }
        result
    }

    /// Handles `<success/>` with its additional data, if any. Succeeds only
    /// when the mechanism is complete; for SCRAM, only if the server
    /// signature was verified (here or in a previous challenge).
    ///
    /// # Errors
    /// [`SaslError::ServerSignatureMissing`] / [`SaslError::ServerSignatureMismatch`]
    /// for SCRAM; [`SaslError::UnexpectedMessage`] for data where none belongs.
    pub fn success(&mut self, additional_data: Option<&[u8]>) -> Result<Authenticated, SaslError> {
        if self.done {
            return Err(SaslError::UnexpectedMessage);
        }
        self.done = true;
        match &mut self.inner {
            Inner::Scram(scram) => {
                match additional_data.filter(|d| !d.is_empty()) {
                    Some(data) => scram.handle_server_final(data)?,
                    None if scram.is_verified() => {}
                    None => return Err(SaslError::ServerSignatureMissing),
                }
                let keys = scram.keys().cloned();
                let channel_binding = scram.binding_type();
                Ok(Authenticated {
                    mechanism: scram.mechanism(),
                    channel_binding,
                    scram_keys: keys,
                })
            }
            Inner::OneShot(mechanism) => match additional_data.filter(|d| !d.is_empty()) {
                Some(_) => Err(SaslError::UnexpectedMessage),
                None => Ok(Authenticated {
                    mechanism: *mechanism,
                    channel_binding: None,
                    scram_keys: None,
                }),
            },
        }
    }

    /// For SCRAM: how many times this exchange ran PBKDF2 (0 with matching
    /// cached keys). `None` for other mechanisms.
    pub fn pbkdf2_runs(&self) -> Option<u32> {
        match &self.inner {
            Inner::Scram(s) => Some(s.pbkdf2_runs()),
            Inner::OneShot(_) => None,
        }
    }
}
