//! What the hub asks of a session's [`Server`], and what comes back.
//!
//! A transport applies each [`ServerCommand`] the hub hands out to the
//! named session with [`Server::apply`] and passes any
//! [`CommandFeedback`] back to [`Hub::handle_feedback`](super::Hub::handle_feedback).
//! A command for a session that is gone is given
//! [`ServerCommand::unapplied`] instead, so that what it carried (a
//! stanza, a session state) goes back to the hub rather than vanishing.

use crate::endpoint::CommandError;
use crate::jid::BareJid;
use crate::router::SessionId;
use crate::s2s::dialback::Dialback;
use crate::sasl::{FailureCondition, StoredCredentials};
use crate::server::Server;
use crate::sm::SmSession;
use crate::stanza::{DefinedCondition, WireStanza};
use crate::stream_error::StreamErrorCondition;
use crate::time::Time;

/// One thing the hub wants a session to do. Its `Debug` form never shows
/// a FAST token.
#[non_exhaustive]
pub enum ServerCommand {
    /// Answer `NeedScramCredentials` (`Server::provide_credentials`).
    ProvideCredentials(Option<StoredCredentials>),
    /// Answer `Authenticate` (`Server::accept_auth` or `reject_auth`).
    Verdict(Result<(), FailureCondition>),
    /// Answer `NeedFastToken` (`Server::provide_fast_tokens`).
    ProvideFastTokens(Vec<String>),
    /// Answer `IssueFastToken` (`Server::issue_fast_token`).
    IssueFastToken(Option<crate::negotiation::FastToken>),
    /// Answer `BindRequest` (`Server::accept_bind` or `reject_bind`).
    Bind(Result<(), DefinedCondition>),
    /// Send a routed stanza (`Server::deliver`).
    Deliver(Delivery),
    /// End the session with this stream error (`Server::close_with_error`).
    Close {
        /// The condition (`conflict`, `system-shutdown`, ...).
        condition: StreamErrorCondition,
        /// An explanation for the client.
        text: Option<String>,
    },
    /// Answer `ResumeRequest` with the detached state
    /// (`Server::accept_resume`).
    AcceptResume(Box<SmSession>),
    /// Answer `ResumeRequest`: no such session (`Server::reject_resume`).
    RejectResume,
    /// Answer `ComponentHandshake` (`Server::accept_component`, or
    /// `reject_component` with the condition).
    ComponentVerdict(Result<(), StreamErrorCondition>),
    /// Ask the peer of this link, as an authoritative server, about a
    /// dialback key (`Server::verify_dialback`).
    VerifyDialback(Dialback),
    /// Answer `DialbackRequest` with this `db:result` answer
    /// (`Server::dialback_verdict`).
    DialbackVerdict(Dialback),
    /// Give this live stream-managed session up to the connection `to`,
    /// which asked to resume it (`Server::take_session`); this connection
    /// ends with `conflict`.
    HandOver {
        /// The session that resumes it.
        to: SessionId,
        /// The account that asks, checked again by the giving session.
        account: BareJid,
    },
}

impl std::fmt::Debug for ServerCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServerCommand::ProvideCredentials(c) => {
                f.debug_tuple("ProvideCredentials").field(c).finish()
            }
            ServerCommand::Verdict(v) => f.debug_tuple("Verdict").field(v).finish(),
            // The tokens are secrets: logs get how many there were.
            ServerCommand::ProvideFastTokens(tokens) => f
                .debug_struct("ProvideFastTokens")
                .field("count", &tokens.len())
                .finish_non_exhaustive(),
            ServerCommand::IssueFastToken(t) => f.debug_tuple("IssueFastToken").field(t).finish(),
            ServerCommand::Bind(b) => f.debug_tuple("Bind").field(b).finish(),
            ServerCommand::Deliver(d) => f.debug_tuple("Deliver").field(d).finish(),
            ServerCommand::Close { condition, text } => f
                .debug_struct("Close")
                .field("condition", condition)
                .field("text", text)
                .finish(),
            ServerCommand::AcceptResume(s) => f.debug_tuple("AcceptResume").field(s).finish(),
            ServerCommand::RejectResume => f.write_str("RejectResume"),
            ServerCommand::ComponentVerdict(v) => {
                f.debug_tuple("ComponentVerdict").field(v).finish()
            }
            ServerCommand::VerifyDialback(d) => f.debug_tuple("VerifyDialback").field(d).finish(),
            ServerCommand::DialbackVerdict(d) => f.debug_tuple("DialbackVerdict").field(d).finish(),
            ServerCommand::HandOver { to, account } => f
                .debug_struct("HandOver")
                .field("to", to)
                .field("account", account)
                .finish(),
        }
    }
}

/// A routed stanza on its way to one session.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub(crate) stanza: WireStanza,
    /// Already rerouted once: if it fails again it is bounced, so that
    /// sessions refusing it cannot pass it back and forth.
    pub(crate) rerouted: bool,
}

impl Delivery {
    /// The stanza.
    pub fn stanza(&self) -> &WireStanza {
        &self.stanza
    }
}

/// What applying a command handed back for the hub.
#[derive(Debug)]
#[non_exhaustive]
pub enum CommandFeedback {
    /// The session could not take the stanza: it has ended, or is
    /// ending.
    Refused(Delivery),
    /// The session is live but cannot take the stanza now: its client
    /// does not read fast enough (the output is over
    /// `ServerConfig::with_max_output`) or does not acknowledge (its
    /// stream management queue is full).
    Busy(Delivery),
    /// The session could not resume with this state (it ended, or it was
    /// not asking); the hub keeps it detached again.
    ResumeFailed(Box<SmSession>),
    /// A `db:verify` could not go out on the link: the claim it was for
    /// is refused.
    VerifyFailed {
        /// The question.
        request: Dialback,
        /// Why it could not go out.
        error: CommandError,
    },
    /// The answer to [`ServerCommand::HandOver`]: the session's state, or
    /// `None` if it had none to give.
    HandedOver {
        /// The session that asked to resume.
        to: SessionId,
        /// The state.
        state: Option<Box<SmSession>>,
    },
}

impl ServerCommand {
    /// What the command carried, for a session that is gone: pass it to
    /// `Hub::handle_feedback` like the result of [`Server::apply`].
    pub fn unapplied(self) -> Option<CommandFeedback> {
        match self {
            ServerCommand::Deliver(delivery) => Some(CommandFeedback::Refused(delivery)),
            ServerCommand::AcceptResume(state) => Some(CommandFeedback::ResumeFailed(state)),
            ServerCommand::HandOver { to, .. } => {
                Some(CommandFeedback::HandedOver { to, state: None })
            }
            ServerCommand::VerifyDialback(request) => Some(CommandFeedback::VerifyFailed {
                request,
                error: CommandError::Closed,
            }),
            _ => None,
        }
    }
}

impl Server {
    /// Carries out a command of the hub. Answers to questions the session
    /// no longer asks are ignored (the session ended or moved on).
    pub fn apply(&mut self, now: Time, command: ServerCommand) -> Option<CommandFeedback> {
        match command {
            ServerCommand::ProvideCredentials(credentials) => {
                let _ = self.provide_credentials(now, credentials);
            }
            ServerCommand::Verdict(Ok(())) => {
                let _ = self.accept_auth(now);
            }
            ServerCommand::Verdict(Err(condition)) => {
                let _ = self.reject_auth(now, condition);
            }
            ServerCommand::ProvideFastTokens(tokens) => {
                let _ = self.provide_fast_tokens(now, &tokens);
            }
            ServerCommand::IssueFastToken(token) => {
                let _ = self.issue_fast_token(now, token);
            }
            ServerCommand::Bind(Ok(())) => {
                let _ = self.accept_bind(now);
            }
            ServerCommand::Bind(Err(condition)) => {
                let _ = self.reject_bind(now, condition);
            }
            ServerCommand::Deliver(delivery) => {
                let rerouted = delivery.rerouted;
                if let Err(refused) = self.deliver(now, delivery.stanza) {
                    let busy = matches!(
                        refused.error,
                        CommandError::OutputFull | CommandError::QueueFull
                    );
                    let delivery = Delivery {
                        stanza: refused.stanza,
                        rerouted,
                    };
                    return Some(match busy {
                        true => CommandFeedback::Busy(delivery),
                        false => CommandFeedback::Refused(delivery),
                    });
                }
            }
            ServerCommand::Close { condition, text } => {
                self.close_with_error(now, condition, text.as_deref());
            }
            ServerCommand::AcceptResume(state) => {
                if let Err(state) = self.accept_resume(now, *state) {
                    return Some(CommandFeedback::ResumeFailed(state));
                }
            }
            ServerCommand::RejectResume => {
                let _ = self.reject_resume(now);
            }
            ServerCommand::ComponentVerdict(Ok(())) => {
                let _ = self.accept_component(now);
            }
            ServerCommand::ComponentVerdict(Err(condition)) => {
                let _ = self.reject_component(now, condition);
            }
            ServerCommand::VerifyDialback(request) => {
                if let Err(error) = self.verify_dialback(now, request.clone()) {
                    return Some(CommandFeedback::VerifyFailed { request, error });
                }
            }
            ServerCommand::DialbackVerdict(answer) => {
                let _ = self.dialback_verdict(now, &answer);
            }
            ServerCommand::HandOver { to, account } => {
                let ours = self.user() == Some(&account);
                let state = ours.then(|| self.take_session(now)).flatten();
                return Some(CommandFeedback::HandedOver {
                    to,
                    state: state.map(Box::new),
                });
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::ServerCommand;

    #[test]
    fn fast_tokens_never_reach_a_log() {
        let command = ServerCommand::ProvideFastTokens(vec!["s3cret-token".into()]);
        let shown = format!("{command:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("count: 1"), "{shown}");
    }
}
