//! Keeping a client online across broken connections, as pure policy:
//! which events the application must see, whether to reconnect after a
//! session ended, how long to wait (exponential backoff with jitter), and
//! what the next connection takes along (the session to resume, the
//! newest FAST token). A transport drives it: the std transport's
//! `KeepOnline` is one.
//!
//! ```
//! use std::time::Duration;
//! use xmpp_proto::client::{ClientConfig, ClientEvent, Reconnector, ReconnectPolicy, Verdict};
//! use xmpp_proto::endpoint::CloseReason;
//! use xmpp_proto::jid::Jid;
//!
//! let mut keeper = Reconnector::new(ReconnectPolicy::default());
//! // The connection broke: reconnect at once (a resumption wants speed).
//! let closed = ClientEvent::Closed { reason: CloseReason::ConnectionLost };
//! assert_eq!(keeper.observe(closed), None, "the transport handles it");
//! assert_eq!(keeper.verdict(u32::MAX), Verdict::Retry { after: Duration::ZERO });
//! // A wrong password will not get better by retrying.
//! let refused = CloseReason::AuthenticationFailed {
//!     condition: xmpp_proto::sasl::FailureCondition::NotAuthorized,
//!     text: None,
//! };
//! keeper.observe(ClientEvent::Closed { reason: refused.clone() });
//! assert_eq!(keeper.verdict(7), Verdict::Stop(refused));
//!
//! let config = ClientConfig::new(Jid::new("juliet@example.com")?, "secret");
//! let _next = keeper.prepare(config);
//! # Ok::<(), xmpp_proto::jid::JidError>(())
//! ```

use std::time::Duration;

use super::{ClientConfig, ClientEvent, FastCredentials};
use crate::endpoint::CloseReason;
use crate::sm::SmSession;
use crate::stream_error::StreamErrorCondition;

/// How patiently to reconnect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// The wait before the second attempt after a failure (the first goes
    /// at once); doubled after each further failure.
    pub initial: Duration,
    /// The longest wait between attempts.
    pub max: Duration,
    /// Give up after this many attempts in a row that do not get online
    /// (`None`: never).
    pub max_attempts: Option<u32>,
}

impl Default for ReconnectPolicy {
    /// 1 s doubling up to 5 minutes, forever.
    fn default() -> Self {
        ReconnectPolicy {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(300),
            max_attempts: None,
        }
    }
}

/// What to do after a session ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Connect again after this wait.
    Retry {
        /// How long to wait first.
        after: Duration,
    },
    /// Do not: report this reason to the application.
    Stop(CloseReason),
}

/// The reconnect policy of one account. See the module documentation.
#[derive(Debug)]
pub struct Reconnector {
    policy: ReconnectPolicy,
    /// Attempts since the client was last online.
    failures: u32,
    /// How the last session ended, until the verdict is asked.
    ended: Option<CloseReason>,
    /// The broken session to resume on the next connection.
    resumable: Option<Box<SmSession>>,
    /// The newest FAST token, used instead of the password.
    token: Option<FastCredentials>,
    /// The last login's token was refused: the next goes with the
    /// password at once (Prosody cannot retry on the same stream).
    token_refused: bool,
    /// Online at least once: later `Online` events mean a new session
    /// (resumption failed), which the application must hear of.
    was_online: bool,
    /// The server's SASL2 offer, to send the next login right behind the
    /// header; forgotten when a connection fails before getting online.
    offer: Option<crate::negotiation::Sasl2Offer>,
    /// The current connection got online.
    online_now: bool,
}

impl Reconnector {
    /// A reconnector with this policy and no token.
    pub fn new(policy: ReconnectPolicy) -> Self {
        Reconnector {
            policy,
            failures: 0,
            ended: None,
            resumable: None,
            token: None,
            token_refused: false,
            was_online: false,
            offer: None,
            online_now: false,
        }
    }

    /// Remembers what the server offered under SASL2 (the ending client's
    /// [`Client::sasl2_offer`](super::Client::sasl2_offer)), so that the
    /// next FAST login goes right behind the stream header.
    pub fn note_offer(&mut self, offer: Option<&crate::negotiation::Sasl2Offer>) {
        if let Some(offer) = offer {
            self.offer = Some(offer.clone());
        }
    }

    /// Starts with a FAST token kept from an earlier run.
    pub fn with_fast_token(mut self, token: FastCredentials) -> Self {
        self.token = Some(token);
        self
    }

    /// The newest FAST token, to keep across runs.
    pub fn fast_token(&self) -> Option<&FastCredentials> {
        self.token.as_ref()
    }

    /// Takes note of one event of the current client and returns it if
    /// the application must see it: `Resumable` and `Closed` are the
    /// reconnector's own business, a `Resumed` on a reconnection is
    /// seamless; everything else passes (`Online` after a failed
    /// resumption says a new session began; `Undelivered` lists stanzas
    /// that will not be sent; `FastToken` is to keep).
    pub fn observe(&mut self, event: ClientEvent) -> Option<ClientEvent> {
        match event {
            ClientEvent::Resumable(session) => {
                self.resumable = Some(session);
                None
            }
            ClientEvent::Closed { reason } => {
                self.ended = Some(reason);
                None
            }
            ClientEvent::Resumed { .. } => {
                self.online();
                None
            }
            ClientEvent::Online { .. } => {
                self.online();
                Some(event)
            }
            ClientEvent::FastToken {
                ref credentials, ..
            } => {
                self.token = Some(credentials.clone());
                Some(event)
            }
            ClientEvent::FastTokenRejected => {
                self.token = None;
                self.token_refused = true;
                Some(event)
            }
            other => Some(other),
        }
    }

    fn online(&mut self) {
        self.online_now = true;
        self.failures = 0;
        self.was_online = true;
        self.token_refused = false;
    }

    /// Whether the client was online at least once.
    pub fn was_online(&self) -> bool {
        self.was_online
    }

    /// The connection could not even be made (TCP, TLS handshake): counts
    /// as a failed attempt.
    pub fn connect_failed(&mut self) {
        self.ended = Some(CloseReason::ConnectionLost);
    }

    /// After the session ended (its `Closed` observed, or
    /// [`connect_failed`](Self::connect_failed)): reconnect, or stop.
    /// `random` spreads the wait (any value; the transport draws it), so
    /// that clients cut off together do not come back together.
    pub fn verdict(&mut self, random: u32) -> Verdict {
        let reason = self.ended.take().unwrap_or(CloseReason::ConnectionLost);
        if !std::mem::take(&mut self.online_now) {
            // Perhaps the login sent ahead was refused: wait next time.
            self.offer = None;
        }
        if let Some(stop) = final_reason(&reason, self.token_refused) {
            return Verdict::Stop(stop);
        }
        let attempt = self.failures;
        self.failures = self.failures.saturating_add(1);
        if self
            .policy
            .max_attempts
            .is_some_and(|max| self.failures > max)
        {
            return Verdict::Stop(reason);
        }
        if attempt == 0 || (self.token_refused && attempt < 2) {
            return Verdict::Retry {
                after: Duration::ZERO,
            };
        }
        let factor = 1u32.checked_shl(attempt - 1).unwrap_or(u32::MAX);
        let full = self
            .policy
            .initial
            .saturating_mul(factor)
            .min(self.policy.max);
        // "Equal jitter": half fixed, half random.
        let half = full / 2;
        let spread = half.mul_f64(f64::from(random) / f64::from(u32::MAX));
        Verdict::Retry {
            after: half + spread,
        }
    }

    /// The configuration for the next connection: `config` (made afresh
    /// by the application) with the session to resume and the newest FAST
    /// token.
    pub fn prepare(&mut self, mut config: ClientConfig) -> ClientConfig {
        if let Some(session) = self.resumable.take() {
            config = config.with_resumption(*session);
        }
        if let Some(token) = &self.token {
            config = config.with_fast_token(token.clone());
            if let Some(offer) = &self.offer {
                config = config.with_known_sasl2_offer(offer.clone());
            }
        }
        config
    }
}

/// `Some(reason)` when retrying cannot help: the credentials, the server's
/// proof, the account's binding, another session taking over, or an
/// attack on TLS.
fn final_reason(reason: &CloseReason, token_refused: bool) -> Option<CloseReason> {
    use StreamErrorCondition as C;
    let stop = match reason {
        CloseReason::Normal => true,
        // A refused token: the next login goes with the password.
        CloseReason::AuthenticationFailed { .. } => !token_refused,
        CloseReason::Sasl(_)
        | CloseReason::TlsUnavailable
        | CloseReason::StartTlsInjection
        | CloseReason::BindFailed { .. }
        | CloseReason::RandomUnavailable => true,
        CloseReason::StreamError { condition, .. } | CloseReason::Kicked { condition } => {
            !matches!(
                condition,
                C::SystemShutdown
                    | C::ConnectionTimeout
                    | C::InternalServerError
                    | C::ResourceConstraint
                    | C::RemoteConnectionFailed
                    | C::SeeOtherHost
                    | C::Reset
                    | C::UndefinedCondition
            )
        }
        _ => false,
    };
    stop.then(|| reason.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sasl::{FailureCondition, Mechanism};

    fn closed(keeper: &mut Reconnector, reason: CloseReason) {
        assert_eq!(keeper.observe(ClientEvent::Closed { reason }), None);
    }

    #[test]
    fn waits_double_with_jitter_up_to_the_maximum_and_reset_when_online() {
        let mut k = Reconnector::new(ReconnectPolicy {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(8),
            max_attempts: None,
        });
        let mut waits = Vec::new();
        for _ in 0..6 {
            closed(&mut k, CloseReason::ConnectionLost);
            let Verdict::Retry { after } = k.verdict(u32::MAX) else {
                panic!()
            };
            waits.push(after.as_secs());
        }
        assert_eq!(waits, [0, 1, 2, 4, 8, 8]);
        // The random half: at 0 only the fixed half is waited.
        closed(&mut k, CloseReason::ConnectionLost);
        assert_eq!(
            k.verdict(0),
            Verdict::Retry {
                after: Duration::from_secs(4)
            }
        );
        let jid = crate::jid::FullJid::new("j@example.com/r").unwrap();
        assert!(k.observe(ClientEvent::Online { jid }).is_some());
        closed(&mut k, CloseReason::PeerNotResponding);
        assert_eq!(
            k.verdict(5),
            Verdict::Retry {
                after: Duration::ZERO
            }
        );
    }

    #[test]
    fn stops_where_retrying_cannot_help() {
        let stops = [
            CloseReason::Normal,
            CloseReason::AuthenticationFailed {
                condition: FailureCondition::NotAuthorized,
                text: None,
            },
            CloseReason::Sasl(crate::sasl::SaslError::ServerSignatureMismatch),
            CloseReason::StreamError {
                condition: StreamErrorCondition::Conflict,
                text: None,
                see_other_host: None,
            },
            CloseReason::BindFailed { condition: None },
        ];
        for reason in stops {
            let mut k = Reconnector::new(ReconnectPolicy::default());
            closed(&mut k, reason.clone());
            assert_eq!(k.verdict(1), Verdict::Stop(reason));
        }
        let mut k = Reconnector::new(ReconnectPolicy::default());
        closed(
            &mut k,
            CloseReason::StreamError {
                condition: StreamErrorCondition::SystemShutdown,
                text: None,
                see_other_host: None,
            },
        );
        assert!(matches!(k.verdict(1), Verdict::Retry { .. }));
    }

    #[test]
    fn attempts_are_bounded_when_asked() {
        let mut k = Reconnector::new(ReconnectPolicy {
            max_attempts: Some(2),
            ..ReconnectPolicy::default()
        });
        k.connect_failed();
        assert!(matches!(k.verdict(1), Verdict::Retry { .. }));
        k.connect_failed();
        assert!(matches!(k.verdict(1), Verdict::Retry { .. }));
        k.connect_failed();
        assert_eq!(k.verdict(1), Verdict::Stop(CloseReason::ConnectionLost));
    }

    #[test]
    fn a_refused_token_is_dropped_and_the_password_tried_at_once() {
        let token = FastCredentials {
            mechanism: Mechanism::HtSha256Expr,
            token: "t".into(),
        };
        let mut k = Reconnector::new(ReconnectPolicy::default()).with_fast_token(token);
        assert!(k.observe(ClientEvent::FastTokenRejected).is_some());
        assert!(k.fast_token().is_none());
        closed(
            &mut k,
            CloseReason::AuthenticationFailed {
                condition: FailureCondition::NotAuthorized,
                text: None,
            },
        );
        assert_eq!(
            k.verdict(9),
            Verdict::Retry {
                after: Duration::ZERO
            }
        );
    }

    #[test]
    fn the_next_connection_resumes_and_uses_the_newest_token() {
        let mut k = Reconnector::new(ReconnectPolicy::default());
        let credentials = FastCredentials {
            mechanism: Mechanism::HtSha256None,
            token: "newest".into(),
        };
        let seen = k.observe(ClientEvent::FastToken {
            credentials: credentials.clone(),
            expiry: "2030-01-01T00:00:00Z".into(),
        });
        assert!(seen.is_some(), "the application keeps it");
        assert_eq!(k.fast_token(), Some(&credentials));
        let jid = crate::jid::FullJid::new("j@example.com/r").unwrap();
        let session = SmSession::new(
            Some("id".into()),
            jid.clone(),
            crate::sm::Handled::default(),
            crate::sm::Unacked::new(8),
        );
        assert_eq!(k.observe(ClientEvent::Resumable(Box::new(session))), None);
        assert_eq!(k.observe(ClientEvent::Resumed { jid }), None, "seamless");
    }
}
