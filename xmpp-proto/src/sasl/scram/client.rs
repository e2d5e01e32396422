//! The client side of SCRAM: client-first, client-final, and the check of
//! the server signature.

use super::crypto::{self, HashOutput};
use super::messages::{self, ServerFinal};
use super::{Iterations, Nonce, ScramHash, ScramKeys, ScramLimits};
use crate::sasl::channel_binding::{ChannelBindingType, Gs2Flag};
use crate::sasl::{Mechanism, SaslError};

/// The client half of one SCRAM exchange.
///
/// Usually driven through [`ClientMechanism`](crate::sasl::ClientMechanism);
/// usable directly when the caller manages selection itself.
#[derive(Debug)]
pub struct ScramClient {
    hash: ScramHash,
    gs2_flag: Gs2Flag,
    /// gs2-header followed by client-first-message-bare.
    client_first: String,
    gs2_header_len: usize,
    /// base64(gs2-header + channel binding data), the value of `c=`.
    channel_binding_attr: String,
    nonce: Nonce,
    password: Option<String>,
    cached_keys: Option<ScramKeys>,
    limits: ScramLimits,
    expected_downgrade_hash: Option<String>,
    require_downgrade_protection: bool,
    pbkdf2_runs: u32,
    state: State,
}

#[derive(Debug)]
enum State {
    WaitServerFirst,
    WaitServerFinal {
        server_signature: HashOutput,
        keys: ScramKeys,
    },
    Verified {
        server_signature: HashOutput,
        keys: ScramKeys,
    },
    Failed,
}

/// The parameters of a [`ScramClient`].
#[derive(Debug, Clone)]
pub struct ScramClientParams<'a> {
    /// The hash function.
    pub hash: ScramHash,
    /// The GS2 channel binding flag.
    pub gs2_flag: Gs2Flag,
    /// The binding data for `Gs2Flag::Bound`, from the TLS layer.
    pub channel_binding_data: Option<&'a [u8]>,
    /// Username (SASLprep and escaping are applied here).
    pub username: &'a str,
    /// Password, if known.
    pub password: Option<&'a str>,
    /// Keys from an earlier login with this hash, if any.
    pub cached_keys: Option<&'a ScramKeys>,
    /// Authorization identity, if different from the username's.
    pub authzid: Option<&'a str>,
    /// The client nonce.
    pub nonce: Nonce,
    /// Limits on the server's messages.
    pub limits: ScramLimits,
    /// The XEP-0474 hash of what the server offered, to compare with `h=`.
    pub expected_downgrade_hash: Option<String>,
    /// Fail when the server sends no `h=`.
    pub require_downgrade_protection: bool,
}

impl ScramClient {
    /// Prepares the exchange and its client-first-message.
    ///
    /// # Errors
    /// [`SaslError::SaslPrep`] for a username, password or authzid SASLprep
    /// refuses; [`SaslError::ChannelBindingUnavailable`] if `gs2_flag` binds
    /// but no data was given; [`SaslError::MissingPassword`] if neither a
    /// password nor cached keys for this hash were given.
    pub fn new(params: ScramClientParams<'_>) -> Result<Self, SaslError> {
        let username = stringprep::saslprep(params.username)
            .map_err(|_| SaslError::SaslPrep { field: "username" })?;
        let password = match params.password {
            Some(p) => Some(
                stringprep::saslprep(p)
                    .map_err(|_| SaslError::SaslPrep { field: "password" })?
                    .into_owned(),
            ),
            None => None,
        };
        let cached_keys = params
            .cached_keys
            .filter(|k| k.hash == params.hash)
            .cloned();
        if password.is_none() && cached_keys.is_none() {
            return Err(SaslError::MissingPassword);
        }
        let gs2_header = messages::gs2_header(params.gs2_flag, params.authzid);
        let mut binding_input = gs2_header.clone().into_bytes();
        if let Gs2Flag::Bound(kind) = params.gs2_flag {
            let data = params
                .channel_binding_data
                .ok_or(SaslError::ChannelBindingUnavailable(kind))?;
            binding_input.extend_from_slice(data);
        }
        let client_first = format!(
            "{gs2_header}n={},r={}",
            messages::escape_name(&username),
            params.nonce.as_str()
        );
        Ok(ScramClient {
            hash: params.hash,
            gs2_flag: params.gs2_flag,
            gs2_header_len: gs2_header.len(),
            client_first,
            channel_binding_attr: messages::encode_base64(&binding_input),
            nonce: params.nonce,
            password,
            cached_keys,
            limits: params.limits,
            expected_downgrade_hash: params.expected_downgrade_hash,
            require_downgrade_protection: params.require_downgrade_protection,
            pbkdf2_runs: 0,
            state: State::WaitServerFirst,
        })
    }

    /// The mechanism this exchange runs.
    pub fn mechanism(&self) -> Mechanism {
        Mechanism::scram(self.hash, self.binding_type().is_some())
    }

    /// The channel binding type in use, if the exchange is bound.
    pub fn binding_type(&self) -> Option<ChannelBindingType> {
        match self.gs2_flag {
            Gs2Flag::Bound(kind) => Some(kind),
            _ => None,
        }
    }

    /// Handles a challenge: the server-first-message, or a server-final
    /// message sent as a challenge (answered with an empty response).
    ///
    /// # Errors
    /// As [`handle_server_first`](Self::handle_server_first) and
    /// [`handle_server_final`](Self::handle_server_final).
    pub fn handle_challenge(&mut self, input: &[u8]) -> Result<Vec<u8>, SaslError> {
        match self.state {
            State::WaitServerFirst => self.handle_server_first(input),
            State::WaitServerFinal { .. } => self.handle_server_final(input).map(|()| Vec::new()),
            State::Verified { .. } | State::Failed => {
                self.state = State::Failed;
                Err(SaslError::UnexpectedMessage)
            }
        }
    }

    /// The client-first-message (raw bytes; the XML layer base64-encodes them).
    pub fn client_first(&self) -> &[u8] {
        self.client_first.as_bytes()
    }

    /// How many times this exchange ran PBKDF2 (0 when cached keys matched).
    pub fn pbkdf2_runs(&self) -> u32 {
        self.pbkdf2_runs
    }

    /// Handles the server-first-message and returns the client-final-message.
    ///
    /// # Errors
    /// Any defect of the server-first-message: see [`SaslError`]. After an
    /// error the exchange is dead; every later call fails.
    pub fn handle_server_first(&mut self, input: &[u8]) -> Result<Vec<u8>, SaslError> {
        if !matches!(self.state, State::WaitServerFirst) {
            return Err(SaslError::UnexpectedMessage);
        }
        let result = self.server_first_inner(input);
        if result.is_err() {
            self.state = State::Failed;
        }
        result
    }

    fn server_first_inner(&mut self, input: &[u8]) -> Result<Vec<u8>, SaslError> {
        let text = messages::as_text(input, self.limits.max_message_len)?;
        let server_first = messages::parse_server_first(text)?;
        // A server nonce equal to ours would let a recorded exchange be
        // replayed, so it must add something.
        if server_first.nonce.len() <= self.nonce.as_str().len()
            || !server_first.nonce.starts_with(self.nonce.as_str())
        {
            return Err(SaslError::NonceMismatch);
        }
        let iterations = server_first.iterations;
        if iterations < self.limits.min_iterations {
            return Err(SaslError::IterationsTooLow {
                iterations,
                min: self.limits.min_iterations,
            });
        }
        if iterations > self.limits.max_iterations {
            return Err(SaslError::IterationsTooHigh {
                iterations,
                max: self.limits.max_iterations,
            });
        }
        match (server_first.downgrade_hash, &self.expected_downgrade_hash) {
            (Some(got), Some(expected))
                if !crypto::constant_time_eq(got.as_bytes(), expected.as_bytes()) =>
            {
                return Err(SaslError::DowngradeDetected);
            }
            (None, _) if self.require_downgrade_protection => {
                return Err(SaslError::DowngradeProtectionMissing);
            }
            _ => {}
        }

        let keys = self.keys_for(&server_first.salt, Iterations(iterations))?;
        let without_proof = format!("c={},r={}", self.channel_binding_attr, server_first.nonce);
        let bare = &self.client_first[self.gs2_header_len..];
        let auth_message: [&[u8]; 5] = [
            bare.as_bytes(),
            b",",
            text.as_bytes(),
            b",",
            without_proof.as_bytes(),
        ];
        let stored_key = crypto::hash(self.hash, keys.client_key.as_bytes());
        let client_signature = crypto::hmac(self.hash, stored_key.as_bytes(), &auth_message);
        let proof = keys.client_key.xor(&client_signature);
        let server_signature = crypto::hmac(self.hash, keys.server_key.as_bytes(), &auth_message);

        let message = format!(
            "{without_proof},p={}",
            messages::encode_base64(proof.as_bytes())
        );
        self.state = State::WaitServerFinal {
            server_signature,
            keys,
        };
        Ok(message.into_bytes())
    }

    /// Cached keys when salt and count match, otherwise PBKDF2 on the password.
    fn keys_for(&mut self, salt: &[u8], iterations: Iterations) -> Result<ScramKeys, SaslError> {
        if let Some(cached) = &self.cached_keys {
            if cached.iterations == iterations && crypto::constant_time_eq(&cached.salt, salt) {
                return Ok(cached.clone());
            }
        }
        let password = self.password.as_deref().ok_or(SaslError::CachedKeysStale)?;
        self.pbkdf2_runs += 1;
        let salted = crypto::salted_password(self.hash, password.as_bytes(), salt, iterations.0);
        let (client_key, server_key) = crypto::client_and_server_key(self.hash, &salted);
        Ok(ScramKeys {
            hash: self.hash,
            salt: salt.to_vec(),
            iterations,
            client_key,
            server_key,
        })
    }

    /// Handles the server-final-message (from `<success/>` or a last
    /// `<challenge/>`): succeeds only if the server signature verifies.
    ///
    /// # Errors
    /// [`SaslError::ServerSignatureMissing`], [`SaslError::ServerSignatureMismatch`],
    /// [`SaslError::ServerError`] for `e=`, or a syntax error.
    pub fn handle_server_final(&mut self, input: &[u8]) -> Result<(), SaslError> {
        let (server_signature, keys) = match core::mem::replace(&mut self.state, State::Failed) {
            State::WaitServerFinal {
                server_signature,
                keys,
            }
            | State::Verified {
                server_signature,
                keys,
            } => (server_signature, keys),
            State::WaitServerFirst | State::Failed => return Err(SaslError::UnexpectedMessage),
        };
        let text = messages::as_text(input, self.limits.max_message_len)?;
        match messages::parse_server_final(text)? {
            ServerFinal::Error(e) => Err(SaslError::ServerError(e)),
            ServerFinal::Verifier(v) => {
                if crypto::constant_time_eq(&v, server_signature.as_bytes()) {
                    self.state = State::Verified {
                        server_signature,
                        keys,
                    };
                    Ok(())
                } else {
                    Err(SaslError::ServerSignatureMismatch)
                }
            }
        }
    }

    /// Whether the server signature has been verified.
    pub fn is_verified(&self) -> bool {
        matches!(self.state, State::Verified { .. })
    }

    /// The keys to cache, once the server signature has been verified.
    pub fn keys(&self) -> Option<&ScramKeys> {
        match &self.state {
            State::Verified { keys, .. } => Some(keys),
            _ => None,
        }
    }
}
