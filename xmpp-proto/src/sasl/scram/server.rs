//! The server side of SCRAM: checks the client's messages against stored
//! credentials and the connection's channel binding.

use super::crypto;
use super::messages::{self, ParsedFlag};
use super::{Nonce, ScramHash, StoredCredentials};
use crate::sasl::channel_binding::{ChannelBindingType, Gs2Flag, TlsState};
use crate::sasl::server::{ServerStep, ServerSuccess};
use crate::sasl::{Mechanism, SaslError};

/// The server half of one SCRAM exchange.
///
/// Usually driven through [`ServerMechanism`](crate::sasl::ServerMechanism).
#[derive(Debug)]
pub struct ScramServer {
    hash: ScramHash,
    plus: bool,
    server_nonce: Nonce,
    downgrade_hash: Option<String>,
    tls: TlsState,
    server_offers_plus: bool,
    max_message_len: usize,
    state: State,
}

#[derive(Debug)]
enum State {
    WaitClientFirst,
    WaitCredentials(Box<Pending>),
    WaitClientFinal {
        pending: Box<Pending>,
        auth_prefix: String,
        full_nonce: String,
        credentials: Box<StoredCredentials>,
    },
    Finished,
}

/// What the client-first-message established.
#[derive(Debug)]
struct Pending {
    username: String,
    authzid: Option<String>,
    bare: String,
    client_nonce: String,
    /// The exact bytes `c=` must decode to.
    expected_binding: Vec<u8>,
    binding: Option<ChannelBindingType>,
}

impl ScramServer {
    /// Starts an exchange for `mechanism` (which must be a SCRAM mechanism;
    /// anything else is treated as SCRAM-SHA-1).
    ///
    /// `server_offers_plus` says whether this server offered any `-PLUS`
    /// mechanism on this connection (a client sending `y` then signals a
    /// downgrade); `downgrade_hash` is the XEP-0474 hash to put into `h=`.
    pub fn new(
        mechanism: Mechanism,
        server_nonce: Nonce,
        tls: TlsState,
        server_offers_plus: bool,
        downgrade_hash: Option<String>,
        max_message_len: usize,
    ) -> Self {
        ScramServer {
            hash: mechanism.scram_hash().unwrap_or(ScramHash::Sha1),
            plus: mechanism.is_plus(),
            server_nonce,
            downgrade_hash,
            tls,
            server_offers_plus,
            max_message_len,
            state: State::WaitClientFirst,
        }
    }

    /// The hash function of this exchange.
    pub fn hash(&self) -> ScramHash {
        self.hash
    }

    /// Handles the client-first-message. Asks for the user's credentials.
    pub fn handle_client_first(&mut self, input: &[u8]) -> ServerStep {
        if !matches!(self.state, State::WaitClientFirst) {
            return self.fail(SaslError::UnexpectedMessage);
        }
        match self.client_first_inner(input) {
            Ok(pending) => {
                let step = ServerStep::NeedScramCredentials {
                    username: pending.username.clone(),
                    authzid: pending.authzid.clone(),
                    hash: self.hash,
                };
                self.state = State::WaitCredentials(Box::new(pending));
                step
            }
            Err(e) => self.fail(e),
        }
    }

    fn client_first_inner(&self, input: &[u8]) -> Result<Pending, SaslError> {
        let text = messages::as_text(input, self.max_message_len)?;
        let first = messages::parse_client_first(text)?;
        let binding = match (first.gs2.flag, self.plus) {
            (ParsedFlag::Known(Gs2Flag::Bound(kind)), true) => Some(kind),
            (ParsedFlag::UnknownType, true) => return Err(SaslError::ChannelBindingNotSupported),
            (ParsedFlag::Known(Gs2Flag::ClientOnly), false) if self.server_offers_plus => {
                return Err(SaslError::ChannelBindingDowngrade);
            }
            (ParsedFlag::Known(Gs2Flag::ClientOnly | Gs2Flag::NotSupported), false) => None,
            // p= with a non-PLUS mechanism, or n/y with a -PLUS one.
            _ => return Err(crate::sasl::error::Malformed::InvalidGs2Header.into()),
        };
        let mut expected_binding = first.gs2_header_raw.as_bytes().to_vec();
        if let Some(kind) = binding {
            let data = self
                .tls
                .channel_bindings
                .data(kind)
                .ok_or(SaslError::ChannelBindingNotSupported)?;
            expected_binding.extend_from_slice(data);
        }
        let username = stringprep::saslprep(&first.username)
            .map_err(|_| SaslError::SaslPrep { field: "username" })?
            .into_owned();
        Ok(Pending {
            username,
            authzid: first.gs2.authzid,
            bare: first.bare.to_owned(),
            client_nonce: first.nonce.to_owned(),
            expected_binding,
            binding,
        })
    }

    /// Continues with the user's stored credentials (`None`: no such user,
    /// which fails the exchange with `not-authorized`). Returns the
    /// server-first-message as a challenge.
    ///
    /// A server that wants to hide which users exist can pass decoy
    /// credentials for unknown users instead; the proof then fails at the end.
    pub fn handle_credentials(&mut self, credentials: Option<StoredCredentials>) -> ServerStep {
        let pending = match core::mem::replace(&mut self.state, State::Finished) {
            State::WaitCredentials(pending) => pending,
            _ => return self.fail(SaslError::UnexpectedMessage),
        };
        let Some(credentials) = credentials.filter(|c| c.hash == self.hash) else {
            return self.fail(SaslError::UnknownUser);
        };
        let full_nonce = format!("{}{}", pending.client_nonce, self.server_nonce.as_str());
        let mut server_first = format!(
            "r={full_nonce},s={},i={}",
            messages::encode_base64(&credentials.salt),
            credentials.iterations.0
        );
        if let Some(h) = &self.downgrade_hash {
            server_first.push_str(",h=");
            server_first.push_str(h);
        }
        let auth_prefix = format!("{},{server_first},", pending.bare);
        self.state = State::WaitClientFinal {
            pending,
            auth_prefix,
            full_nonce,
            credentials: Box::new(credentials),
        };
        ServerStep::Challenge(server_first.into_bytes())
    }

    /// Handles the client-final-message: verifies channel binding and proof.
    pub fn handle_client_final(&mut self, input: &[u8]) -> ServerStep {
        let State::WaitClientFinal {
            pending,
            auth_prefix,
            full_nonce,
            credentials,
        } = core::mem::replace(&mut self.state, State::Finished)
        else {
            return self.fail(SaslError::UnexpectedMessage);
        };
        let result = (|| {
            let text = messages::as_text(input, self.max_message_len)?;
            let last = messages::parse_client_final(text)?;
            if !crypto::constant_time_eq(&last.channel_binding, &pending.expected_binding) {
                return Err(SaslError::ChannelBindingMismatch);
            }
            if last.nonce != full_nonce {
                return Err(SaslError::NonceMismatch);
            }
            let auth_message: [&[u8]; 2] = [auth_prefix.as_bytes(), last.without_proof.as_bytes()];
            let client_signature =
                crypto::hmac(self.hash, credentials.stored_key.as_bytes(), &auth_message);
            let proof = crypto::HashOutput::from_bytes(self.hash, &last.proof)
                .ok_or(SaslError::InvalidProof)?;
            let client_key = proof.xor(&client_signature);
            if crypto::hash(self.hash, client_key.as_bytes()) != credentials.stored_key {
                return Err(SaslError::InvalidProof);
            }
            let server_signature =
                crypto::hmac(self.hash, credentials.server_key.as_bytes(), &auth_message);
            Ok(format!(
                "v={}",
                messages::encode_base64(server_signature.as_bytes())
            ))
        })();
        match result {
            Ok(server_final) => ServerStep::Success(ServerSuccess {
                mechanism: Mechanism::scram(self.hash, self.plus),
                username: Some(pending.username),
                authzid: pending.authzid,
                additional_data: Some(server_final.into_bytes()),
                channel_binding: pending.binding,
            }),
            Err(e) => self.fail(e),
        }
    }

    fn fail(&mut self, error: SaslError) -> ServerStep {
        self.state = State::Finished;
        ServerStep::Failure(error)
    }
}
