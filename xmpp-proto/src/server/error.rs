//! Why a server session ended, and why a command was refused.

use std::fmt;

use crate::stream_error::StreamErrorCondition;
use crate::xml::{Element, WriteError};

/// Why the session ended, reported once in
/// [`Event::Closed`](super::Event::Closed).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The stream was closed cleanly, by the client or by us.
    Normal,
    /// The client sent a stream error.
    StreamError {
        /// The defined condition.
        condition: StreamErrorCondition,
        /// The client's text, if any.
        text: Option<String>,
    },
    /// We ended the stream with a stream error because the client
    /// misbehaved (bad XML, a stanza before authentication, a spoofed
    /// `from`, a limit, too many failed logins).
    ProtocolViolation {
        /// The condition we sent.
        condition: StreamErrorCondition,
        /// What was wrong.
        text: String,
    },
    /// The application ended the stream with this stream error (for
    /// example `conflict` when another session took over the resource, or
    /// `system-shutdown`).
    Kicked {
        /// The condition we sent.
        condition: StreamErrorCondition,
    },
    /// The client asked for STARTTLS where it was not offered (TLS is
    /// disabled, or already on); we answered `<failure/>` and closed.
    StartTlsRefused,
    /// Plaintext arrived after our `<proceed/>` and before the TLS
    /// handshake completed: someone injected data (STARTTLS injection).
    StartTlsInjection,
    /// The client did not complete negotiation in time; we sent
    /// `connection-timeout`.
    NegotiationTimeout,
    /// The client did not close its stream after ours within the
    /// configured time; we shut the connection down.
    CloseTimeout,
    /// The connection ended without a clean stream close.
    ConnectionLost,
    /// The client did not answer our probe in time
    /// (`ServerTimeouts::probe_timeout`): the connection is dead.
    PeerNotResponding,
    /// No random source was configured (see `ServerConfig::with_random`).
    NoRandomSource,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::Normal => f.write_str("the stream was closed cleanly"),
            CloseReason::StreamError { condition, text } => {
                write!(f, "the client ended the stream: {}", condition.as_str())?;
                if let Some(text) = text {
                    write!(f, ": {text}")?;
                }
                Ok(())
            }
            CloseReason::ProtocolViolation { condition, text } => write!(
                f,
                "the client broke the protocol ({text}); we ended the stream with {}",
                condition.as_str()
            ),
            CloseReason::Kicked { condition } => write!(
                f,
                "the application ended the stream with {}",
                condition.as_str()
            ),
            CloseReason::StartTlsRefused => {
                f.write_str("the client asked for STARTTLS where it was not offered")
            }
            CloseReason::StartTlsInjection => f.write_str(
                "plaintext arrived after <proceed/> before TLS started: the connection is being tampered with",
            ),
            CloseReason::NegotiationTimeout => {
                f.write_str("the client did not complete stream negotiation in time")
            }
            CloseReason::CloseTimeout => {
                f.write_str("the client did not close its stream in time; connection shut down")
            }
            CloseReason::PeerNotResponding => {
                f.write_str("the client stopped answering; the connection is dead")
            }
            CloseReason::ConnectionLost => {
                f.write_str("the connection was lost without a clean stream close")
            }
            CloseReason::NoRandomSource => {
                f.write_str("no random source configured (ServerConfig::with_random)")
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

/// Why a command was refused. Nothing was queued.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandError {
    /// The session is not bound yet: stanzas can only be sent after
    /// `Event::Online`.
    NotOnline,
    /// The session has ended or is closing.
    Closed,
    /// No question of this kind is waiting for an answer (for example
    /// `accept_bind` without a pending `Event::BindRequest`).
    NotAsked,
    /// The stanza cannot be serialized.
    InvalidStanza(WriteError),
    /// Too much output is waiting for the transport (it is not writing);
    /// the limit is the reader's pending-input limit.
    OutputFull,
    /// Stream management is on and `SmConfig::max_unacked` stanzas wait
    /// for the client's acknowledgement: the stanza was not sent; bounce
    /// or store it.
    QueueFull,
}

/// A stanza [`Server::deliver`](super::Server::deliver) could not send,
/// handed back with the reason.
#[derive(Debug)]
pub struct Refused {
    /// Why it was not sent.
    pub error: CommandError,
    /// The stanza, untouched.
    pub stanza: Element,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}/> not sent: {}", self.stanza.name(), self.error)
    }
}

impl std::error::Error for Refused {}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::NotOnline => {
                f.write_str("the session is not bound yet: wait for Event::Online")
            }
            CommandError::Closed => f.write_str("the session has ended"),
            CommandError::NotAsked => {
                f.write_str("no event asked for this answer (or it was already given)")
            }
            CommandError::InvalidStanza(e) => write!(f, "the stanza cannot be sent: {e}"),
            CommandError::OutputFull => {
                f.write_str("too much unsent output: the transport is not writing")
            }
            CommandError::QueueFull => {
                f.write_str("too many stanzas wait for the client's acknowledgement")
            }
        }
    }
}

impl std::error::Error for CommandError {}
