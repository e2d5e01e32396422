//! Why a client session ended, and why a command was refused.

use std::fmt;

use crate::sasl::{FailureCondition, SaslError};
use crate::stream_error::StreamErrorCondition;
use crate::xml::WriteError;

/// Why the session ended, reported once in [`Event::Closed`].
///
/// [`Event::Closed`]: super::Event::Closed
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The stream was closed cleanly by us or by the server.
    Normal,
    /// The server sent a stream error.
    StreamError {
        /// The defined condition.
        condition: StreamErrorCondition,
        /// The human-readable text, if any.
        text: Option<String>,
        /// For `see-other-host`: where to reconnect (`host` or
        /// `host:port`, IPv6 in brackets).
        see_other_host: Option<String>,
    },
    /// We ended the stream with a stream error because the server
    /// misbehaved (bad XML, a protocol violation, a limit).
    ProtocolViolation {
        /// The condition we sent.
        condition: StreamErrorCondition,
        /// What was wrong.
        text: String,
    },
    /// The server refused our credentials or mechanism.
    AuthenticationFailed {
        /// The SASL condition (`not-authorized` for a wrong password).
        condition: FailureCondition,
        /// The server's explanation, if any.
        text: Option<String>,
    },
    /// SASL failed on our side: no acceptable mechanism, a bad server
    /// message, a wrong or missing server signature.
    Sasl(SaslError),
    /// TLS is required by the policy but the server does not offer
    /// STARTTLS, or refused it.
    TlsUnavailable,
    /// Plaintext arrived after `<proceed/>` and before the TLS handshake:
    /// someone injected data into the connection (STARTTLS injection).
    StartTlsInjection,
    /// Binding a resource failed.
    BindFailed {
        /// The stanza error condition the server gave, if any.
        condition: Option<String>,
    },
    /// Negotiation did not finish within the configured time.
    NegotiationTimeout,
    /// The server did not answer our ping in time (dead connection).
    PeerNotResponding,
    /// The server did not close its stream after ours within the
    /// configured time; we shut the connection down.
    CloseTimeout,
    /// The connection ended without a clean stream close.
    ConnectionLost,
    /// No random source was configured (see `ClientConfig::with_random`).
    NoRandomSource,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::Normal => f.write_str("the stream was closed cleanly"),
            CloseReason::StreamError { condition, text, see_other_host } => {
                write!(f, "the server ended the stream: {}", condition.as_str())?;
                if let Some(host) = see_other_host {
                    write!(f, " (reconnect to {host})")?;
                }
                if let Some(text) = text {
                    write!(f, ": {text}")?;
                }
                Ok(())
            }
            CloseReason::ProtocolViolation { condition, text } => write!(
                f,
                "the server broke the protocol ({text}); we ended the stream with {}",
                condition.as_str()
            ),
            CloseReason::AuthenticationFailed { condition, text } => {
                match condition {
                    FailureCondition::NotAuthorized => {
                        f.write_str("authentication failed: wrong username or password")?
                    }
                    other => write!(f, "authentication failed: {}", other.element_name())?,
                }
                if let Some(text) = text {
                    write!(f, " ({text})")?;
                }
                Ok(())
            }
            CloseReason::Sasl(e) => write!(f, "authentication failed: {e}"),
            CloseReason::TlsUnavailable => f.write_str(
                "the server does not offer STARTTLS, and TLS is required; use direct TLS or check the server",
            ),
            CloseReason::StartTlsInjection => f.write_str(
                "plaintext arrived after <proceed/> before TLS started: the connection is being tampered with",
            ),
            CloseReason::BindFailed { condition } => match condition {
                Some(c) => write!(f, "the server refused to bind a resource: {c}"),
                None => f.write_str("the server refused to bind a resource"),
            },
            CloseReason::NegotiationTimeout => {
                f.write_str("the server did not complete stream negotiation in time")
            }
            CloseReason::PeerNotResponding => {
                f.write_str("the server stopped answering; the connection is dead")
            }
            CloseReason::CloseTimeout => {
                f.write_str("the server did not close its stream in time; connection shut down")
            }
            CloseReason::ConnectionLost => {
                f.write_str("the connection was lost without a clean stream close")
            }
            CloseReason::NoRandomSource => {
                f.write_str("no random source configured (ClientConfig::with_random)")
            }
        }
    }
}

/// Returned by `handle_*` once the session has ended; the details are in
/// the [`Event::Closed`](super::Event::Closed) event.
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    reason: CloseReason,
}

impl Error {
    pub(crate) fn new(reason: CloseReason) -> Self {
        Error { reason }
    }

    /// Why the session ended.
    pub fn reason(&self) -> &CloseReason {
        &self.reason
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.reason.fmt(f)
    }
}

impl std::error::Error for Error {}

/// Why a command (`send`, ...) was refused. Nothing was queued.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// The session is not online yet (still negotiating).
    NotOnline,
    /// The session has ended or is closing.
    Closed,
    /// The stanza cannot be serialized.
    InvalidStanza(WriteError),
    /// Too much output is waiting for the transport (it is not writing);
    /// the limit is the reader's pending-input limit.
    OutputFull,
    /// Stream management is on and `SmConfig::max_unacked` stanzas wait
    /// for the server's acknowledgement; try again after it arrives.
    QueueFull,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::NotOnline => f.write_str("not online yet: wait for Event::Online"),
            SendError::Closed => f.write_str("the session has ended"),
            SendError::InvalidStanza(e) => write!(f, "the stanza cannot be sent: {e}"),
            SendError::OutputFull => {
                f.write_str("too much unsent output: the transport is not writing")
            }
            SendError::QueueFull => {
                f.write_str("too many stanzas wait for the server's acknowledgement (XEP-0198)")
            }
        }
    }
}

impl std::error::Error for SendError {}
