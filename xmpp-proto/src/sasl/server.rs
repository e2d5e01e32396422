//! The server side: what to offer, and [`ServerMechanism`], the state
//! machine the server's negotiation layer drives.
//!
//! Decisions that need the application's data come out as [`ServerStep`]
//! values: SCRAM asks for the user's [`StoredCredentials`] (never a
//! password), PLAIN asks to check a password, EXTERNAL asks to check the
//! identity the TLS layer established. The answer goes back in through
//! [`ServerMechanism::scram_credentials`] or [`ServerMechanism::verdict`].

use super::channel_binding::{ChannelBindingType, TlsState};
use super::downgrade::downgrade_hash;
use super::mechanism::Mechanism;
use super::scram::{Nonce, ScramHash, ScramLimits, ScramServer, StoredCredentials};
use super::selection::ServerOffer;
use super::{SaslError, anonymous, external, plain};

/// The server's SASL policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslServerConfig {
    /// Mechanisms to offer when possible. Default: every SCRAM mechanism
    /// (the `-PLUS` ones only when the TLS layer gives binding data) and
    /// `PLAIN` (only on encrypted streams). `ANONYMOUS` and `EXTERNAL` must
    /// be added explicitly.
    pub mechanisms: Vec<Mechanism>,
    /// Offer `PLAIN` on an unencrypted stream. Default `false`.
    pub allow_plain_without_tls: bool,
    /// Advertise the binding types with XEP-0440. Default `true`.
    pub advertise_channel_binding_types: bool,
    /// Send the XEP-0474 hash in SCRAM. Default `true`.
    pub downgrade_protection: bool,
    /// Largest client message accepted, in bytes. Default 16 KiB (see
    /// [`ScramLimits::max_message_len`]).
    pub max_message_len: usize,
}

impl Default for SaslServerConfig {
    fn default() -> Self {
        SaslServerConfig {
            mechanisms: vec![
                Mechanism::ScramSha512Plus,
                Mechanism::ScramSha256Plus,
                Mechanism::ScramSha1Plus,
                Mechanism::ScramSha512,
                Mechanism::ScramSha256,
                Mechanism::ScramSha1,
                Mechanism::Plain,
            ],
            allow_plain_without_tls: false,
            advertise_channel_binding_types: true,
            downgrade_protection: true,
            max_message_len: ScramLimits::default().max_message_len,
        }
    }
}

impl SaslServerConfig {
    /// What to advertise on a connection in this TLS state: `<mechanisms/>`
    /// and, if any `-PLUS` is offered, XEP-0440 binding types.
    pub fn offer(&self, tls: &TlsState) -> ServerOffer {
        let can_bind = tls.encrypted && !tls.channel_bindings.is_empty();
        let mechanisms = self
            .mechanisms
            .iter()
            .filter(|m| self.may_offer(**m, tls, can_bind))
            .map(|m| m.name().to_owned())
            .collect();
        let mut offer = ServerOffer {
            mechanisms,
            channel_binding_types: None,
        };
        if can_bind && self.advertise_channel_binding_types && offer.offers_plus() {
            offer.channel_binding_types = Some(
                tls.channel_bindings
                    .available()
                    .map(|t| t.name().to_owned())
                    .collect(),
            );
        }
        offer
    }

    fn may_offer(&self, mechanism: Mechanism, tls: &TlsState, can_bind: bool) -> bool {
        match mechanism {
            Mechanism::Plain => tls.encrypted || self.allow_plain_without_tls,
            m if m.is_plus() => can_bind,
            _ => true,
        }
    }
}

/// What the server must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerStep {
    /// Send `<challenge/>` with these raw bytes, then pass the client's
    /// `<response/>` to [`ServerMechanism::respond`].
    Challenge(Vec<u8>),
    /// Look up the user's SCRAM credentials for `hash` and pass them to
    /// [`ServerMechanism::scram_credentials`].
    NeedScramCredentials {
        /// The username (unescaped, after SASLprep).
        username: String,
        /// The requested authorization identity, if any.
        authzid: Option<String>,
        /// The hash function of the mechanism.
        hash: ScramHash,
    },
    /// Check this password (PLAIN) and call [`ServerMechanism::verdict`].
    CheckPassword {
        /// The username (after SASLprep).
        username: String,
        /// The password (after SASLprep).
        password: String,
        /// The requested authorization identity, if any.
        authzid: Option<String>,
    },
    /// Check that the identity the TLS layer authenticated (client
    /// certificate) may act as `authzid` (or has a default identity, if
    /// `None`), and call [`ServerMechanism::verdict`].
    CheckExternal {
        /// The requested authorization identity, if any.
        authzid: Option<String>,
    },
    /// Authentication succeeded: send `<success/>` with the additional data.
    Success(ServerSuccess),
    /// Authentication failed: send `<failure/>` with
    /// [`SaslError::condition`].
    Failure(SaslError),
}

/// The result of a successful exchange on the server side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSuccess {
    /// The mechanism used.
    pub mechanism: Mechanism,
    /// The authenticated username (`None` for ANONYMOUS and EXTERNAL).
    pub username: Option<String>,
    /// The requested authorization identity, if any; the application must
    /// check the user may act as it.
    pub authzid: Option<String>,
    /// Additional data for `<success/>` (SCRAM's `v=`).
    pub additional_data: Option<Vec<u8>>,
    /// The channel binding type the exchange was bound to, if any.
    pub channel_binding: Option<ChannelBindingType>,
}

/// One server-side SASL exchange.
#[derive(Debug)]
pub struct ServerMechanism {
    mechanism: Mechanism,
    state: State,
    max_message_len: usize,
}

#[derive(Debug)]
enum State {
    Scram {
        server: Box<ScramServer>,
        started: bool,
    },
    /// Waiting for the single message of PLAIN, ANONYMOUS or EXTERNAL.
    WaitMessage,
    WaitVerdict {
        username: Option<String>,
        authzid: Option<String>,
    },
    Finished,
}

impl ServerMechanism {
    /// Starts the exchange the client asked for with `<auth mechanism=..>`.
    /// `initial_response` is the decoded content of `<auth/>` (`None` when
    /// it was absent, `Some(b"")` for `=`); `nonce` is the server's part of
    /// the SCRAM nonce, from the caller's randomness.
    ///
    /// # Errors
    /// [`SaslError::EncryptionRequired`] for PLAIN on a plaintext stream it
    /// may not use; [`SaslError::UnsupportedMechanism`] for anything not
    /// offered on this connection. Errors in the data come out as
    /// [`ServerStep::Failure`].
    pub fn start(
        config: &SaslServerConfig,
        tls: &TlsState,
        mechanism: &str,
        initial_response: Option<&[u8]>,
        nonce: Nonce,
    ) -> Result<(Self, ServerStep), SaslError> {
        let offer = config.offer(tls);
        let mechanism = Mechanism::from_name(mechanism).ok_or(SaslError::UnsupportedMechanism)?;
        if mechanism == Mechanism::Plain && !tls.encrypted && !config.allow_plain_without_tls {
            return Err(SaslError::EncryptionRequired);
        }
        if !offer.offers(mechanism) {
            return Err(SaslError::UnsupportedMechanism);
        }
        let state = match mechanism.scram_hash() {
            Some(hash) => State::Scram {
                server: Box::new(ScramServer::new(
                    mechanism,
                    nonce,
                    tls.clone(),
                    offer.offers_plus(),
                    config
                        .downgrade_protection
                        .then(|| downgrade_hash(hash, &offer)),
                    config.max_message_len,
                )),
                started: false,
            },
            None => State::WaitMessage,
        };
        let mut this = ServerMechanism {
            mechanism,
            state,
            max_message_len: config.max_message_len,
        };
        let step = match initial_response {
            Some(data) => this.respond(data),
            // Every mechanism here is client-first: ask for the message
            // with an empty challenge.
            None => ServerStep::Challenge(Vec::new()),
        };
        Ok((this, step))
    }

    /// The mechanism of this exchange.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// Handles the client's `<response/>` data (raw bytes).
    pub fn respond(&mut self, data: &[u8]) -> ServerStep {
        match &mut self.state {
            State::Scram { server, started } => {
                if *started {
                    let step = server.handle_client_final(data);
                    self.finish_if_done(step)
                } else {
                    *started = true;
                    let step = server.handle_client_first(data);
                    self.finish_if_done(step)
                }
            }
            State::WaitMessage => {
                let step = self.single_message(data);
                self.finish_if_done(step)
            }
            State::WaitVerdict { .. } | State::Finished => self.fail(SaslError::UnexpectedMessage),
        }
    }

    fn single_message(&mut self, data: &[u8]) -> ServerStep {
        match self.mechanism {
            Mechanism::Plain => match plain::parse(data, self.max_message_len) {
                Ok(msg) => {
                    self.state = State::WaitVerdict {
                        username: Some(msg.username.clone()),
                        authzid: msg.authzid.clone(),
                    };
                    ServerStep::CheckPassword {
                        username: msg.username,
                        password: msg.password,
                        authzid: msg.authzid,
                    }
                }
                Err(e) => ServerStep::Failure(e),
            },
            Mechanism::External => match external::parse_authzid(data) {
                Ok(authzid) => {
                    self.state = State::WaitVerdict {
                        username: None,
                        authzid: authzid.clone(),
                    };
                    ServerStep::CheckExternal { authzid }
                }
                Err(e) => ServerStep::Failure(e),
            },
            _ => match anonymous::parse_trace(data) {
                Ok(_) => ServerStep::Success(ServerSuccess {
                    mechanism: self.mechanism,
                    username: None,
                    authzid: None,
                    additional_data: None,
                    channel_binding: None,
                }),
                Err(e) => ServerStep::Failure(e),
            },
        }
    }

    /// Answers [`ServerStep::NeedScramCredentials`]: the user's stored
    /// credentials, or `None` if there is no such user.
    pub fn scram_credentials(&mut self, credentials: Option<StoredCredentials>) -> ServerStep {
        match &mut self.state {
            State::Scram { server, .. } => {
                let step = server.handle_credentials(credentials);
                self.finish_if_done(step)
            }
            _ => self.fail(SaslError::UnexpectedMessage),
        }
    }

    /// Answers [`ServerStep::CheckPassword`] or [`ServerStep::CheckExternal`].
    pub fn verdict(&mut self, accepted: bool) -> ServerStep {
        match core::mem::replace(&mut self.state, State::Finished) {
            State::WaitVerdict { username, authzid } if accepted => {
                ServerStep::Success(ServerSuccess {
                    mechanism: self.mechanism,
                    username,
                    authzid,
                    additional_data: None,
                    channel_binding: None,
                })
            }
            State::WaitVerdict { .. } => ServerStep::Failure(SaslError::Rejected),
            _ => ServerStep::Failure(SaslError::UnexpectedMessage),
        }
    }

    /// The client sent `<abort/>`.
    pub fn abort(&mut self) -> ServerStep {
        self.fail(SaslError::Aborted)
    }

    fn finish_if_done(&mut self, step: ServerStep) -> ServerStep {
        if matches!(step, ServerStep::Success(_) | ServerStep::Failure(_)) {
            self.state = State::Finished;
        }
        step
    }

    fn fail(&mut self, error: SaslError) -> ServerStep {
        self.state = State::Finished;
        ServerStep::Failure(error)
    }
}
