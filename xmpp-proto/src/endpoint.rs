//! The contract between a sans-IO endpoint ([`Client`](crate::Client),
//! [`Server`](crate::Server)) and whatever moves its bytes, and the types
//! both roles share: why a session ended ([`CloseReason`]), the error of a
//! call on an ended session ([`Closed`]) and why a command was refused
//! ([`CommandError`]).
//!
//! The contract, for a transport:
//! 1. After every input (`handle_*`) and every command, drain
//!    [`Endpoint::poll_transmit`] until it returns `None`, then
//!    [`Endpoint::poll_event`] until it returns `None`.
//! 2. For [`Transmit::Data`], write what you can and report it with
//!    [`Endpoint::consume_transmit`]; the same bytes (minus those) come back
//!    on the next poll, so a partial write needs no copy.
//!    [`Endpoint::peek_transmit`] looks without taking anything.
//! 3. [`Transmit::StartTls`] means every byte before it has been handed
//!    out: run the TLS handshake on the socket now (client or server side,
//!    per role), then call [`Endpoint::handle_tls_established`]. Bytes
//!    read before the handshake completes must not be passed in as
//!    plaintext.
//! 4. [`Transmit::Shutdown`] means the endpoint is done: send TLS
//!    `close_notify` if TLS is on, shut the socket down for writing, and
//!    stop reading once the peer closes.
//! 5. Over WebSocket (RFC 7395, an endpoint built with a WebSocket
//!    configuration): every [`Transmit::Data`] is one whole text message;
//!    send it as such and consume all of it. Pass every message received
//!    to [`Endpoint::handle_input`] on its own, whole. `StartTls` then
//!    means "secure the connection" as for direct TLS: the transport does
//!    the TLS handshake and the WebSocket upgrade before calling
//!    [`Endpoint::handle_tls_established`].
//! 6. Call [`Endpoint::handle_timeout`] when the time returned by
//!    [`Endpoint::poll_timeout`] is reached (early or late calls are
//!    harmless).
//!
//! Time is a [`Time`] on a clock the caller chooses; see [`crate::time`].

use std::fmt;

use crate::jid::JidError;
use crate::sasl::{FailureCondition, SaslError};
use crate::stream_error::StreamErrorCondition;
use crate::time::Time;
use crate::tls::TlsInfo;
use crate::xml::WriteError;

/// Which way traced bytes went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Received from the peer.
    In,
    /// Sent to the peer.
    Out,
}

/// Something the endpoint asks the transport to do with the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transmit<'a> {
    /// Write these bytes; report how many were written with
    /// [`Endpoint::consume_transmit`].
    Data(&'a [u8]),
    /// Start TLS on the connection now (STARTTLS after `<proceed/>`, or
    /// direct TLS (XEP-0368) as the very first transmit). Handed out once
    /// by [`Endpoint::poll_transmit`].
    StartTls,
    /// Close the connection (after TLS `close_notify`). Handed out once by
    /// [`Endpoint::poll_transmit`]; no transmit follows it.
    Shutdown,
}

/// The calls a transport makes on a sans-IO endpoint. See the module
/// documentation for the contract.
pub trait Endpoint {
    /// What the endpoint reports to the application.
    type Event;

    /// Bytes read from the connection (after TLS decryption). Always
    /// consumes all of `data`.
    ///
    /// # Errors
    /// [`Closed`] once the session has ended for any reason but a clean
    /// close (by this input or earlier); the same reason is reported in
    /// the endpoint's `Closed` event. After a clean close the input is
    /// ignored and the result is `Ok`.
    fn handle_input(&mut self, now: Time, data: &[u8]) -> Result<(), Closed>;

    /// The peer closed the connection (read returned 0 bytes, or TLS
    /// `close_notify` arrived).
    fn handle_eof(&mut self, now: Time);

    /// Time has passed; fires expired timers.
    fn handle_timeout(&mut self, now: Time);

    /// The TLS handshake requested by [`Transmit::StartTls`] completed.
    ///
    /// # Errors
    /// As for [`Endpoint::handle_input`]; TLS that was not asked for ends
    /// the session.
    fn handle_tls_established(&mut self, now: Time, tls: TlsInfo) -> Result<(), Closed>;

    /// The next thing to do with the connection, if any. Data is handed
    /// out until consumed; a `StartTls` or `Shutdown` mark is taken by
    /// this call.
    fn poll_transmit(&mut self) -> Option<Transmit<'_>>;

    /// What [`Endpoint::poll_transmit`] would return, without taking a
    /// mark.
    fn peek_transmit(&self) -> Option<Transmit<'_>>;

    /// `n` bytes of the last [`Transmit::Data`] were written.
    fn consume_transmit(&mut self, n: usize);

    /// The next event for the application, if any.
    ///
    /// When the peer closes its stream while events are still queued, the
    /// endpoint answers with its own close only once the application has
    /// taken them all (RFC 6120 §4.4 lets the peer wait for what we still
    /// have to send, such as an error for its last stanza): the call that
    /// finds the queue empty writes the close and returns the `Closed`
    /// event. So after taking events, poll for transmits again.
    fn poll_event(&mut self) -> Option<Self::Event>;

    /// When [`Endpoint::handle_timeout`] should next be called.
    fn poll_timeout(&self) -> Option<Time>;

    /// Whether the endpoint wants more input now. It says no while its
    /// events pile up undrained or its output waits for a peer that does
    /// not read it (as rustls' `wants_read`): a transport that honours it
    /// stops reading that connection until it says yes again, after the
    /// events are taken or the output written, so a peer cannot make us
    /// hold more than those bounds by sending faster than it reads.
    /// Input given anyway is still handled (the limits then apply).
    fn wants_read(&self) -> bool {
        true
    }

    /// Whether the endpoint is finished: nothing more will be transmitted
    /// or reported. The transport can drop the connection.
    fn is_closed(&self) -> bool;
}

/// Why a session ended, reported once in the endpoint's `Closed` event.
///
/// Some reasons only happen in one role; their documentation says which.
/// "The peer" is the server for a client and the client for a server.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The stream was closed cleanly, by either side.
    Normal,
    /// The peer sent a stream error.
    StreamError {
        /// The defined condition.
        condition: StreamErrorCondition,
        /// The peer's text, if any.
        text: Option<String>,
        /// For `see-other-host`: where to reconnect (`host` or
        /// `host:port`, IPv6 in brackets).
        see_other_host: Option<String>,
    },
    /// We ended the stream with a stream error because the peer misbehaved
    /// (bad XML, a protocol violation, a limit).
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
    /// Client: the server refused our credentials or mechanism.
    AuthenticationFailed {
        /// The SASL condition (`not-authorized` for a wrong password).
        condition: FailureCondition,
        /// The server's explanation, if any.
        text: Option<String>,
    },
    /// Client: SASL failed on our side (no acceptable mechanism, a bad
    /// server message, a wrong or missing server signature).
    Sasl(SaslError),
    /// Client: TLS is required by the policy but the server does not offer
    /// STARTTLS, or refused it.
    TlsUnavailable,
    /// Server: the client asked for STARTTLS where it was not offered (TLS
    /// is disabled, or already on); we answered `<failure/>` and closed.
    StartTlsRefused,
    /// Plaintext arrived after `<proceed/>` (or before direct TLS) instead
    /// of a TLS handshake: someone injected data into the connection
    /// (STARTTLS injection).
    StartTlsInjection,
    /// Client: binding a resource failed.
    BindFailed {
        /// The stanza error condition the server gave, if any.
        condition: Option<String>,
    },
    /// Negotiation did not finish within the configured time.
    NegotiationTimeout,
    /// The peer stopped answering (no byte back after a ping or an
    /// acknowledgement request): the connection is dead.
    PeerNotResponding,
    /// The peer did not close its stream after ours within the configured
    /// time; the connection was shut down.
    CloseTimeout,
    /// The connection ended without a clean stream close.
    ConnectionLost,
    /// The random source failed; the session could not go on without
    /// predictable nonces and ids.
    RandomUnavailable,
    /// WebSocket: the peer closed the stream and named the endpoint to use
    /// instead (`see-other-uri`, RFC 7395 §3.6.1).
    SeeOtherUri {
        /// Where to connect instead (a `wss://` URI).
        uri: String,
    },
    /// Server-to-server link: the peer did not accept our domain (dialback
    /// answered `invalid` or `error`, SASL EXTERNAL failed with nothing
    /// to fall back to), or offered no way to prove it we can use.
    NotAccepted {
        /// What happened.
        text: String,
    },
}

impl CloseReason {
    /// Whether the session ended as it should (a clean close).
    pub fn is_normal(&self) -> bool {
        *self == CloseReason::Normal
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::Normal => f.write_str("the stream was closed cleanly"),
            CloseReason::StreamError {
                condition,
                text,
                see_other_host,
            } => {
                write!(f, "the peer ended the stream with {}", condition.as_str())?;
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
                "the peer broke the protocol ({text}); we ended the stream with {}",
                condition.as_str()
            ),
            CloseReason::Kicked { condition } => write!(
                f,
                "the application ended the stream with {}",
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
            CloseReason::StartTlsRefused => {
                f.write_str("the client asked for STARTTLS where it was not offered")
            }
            CloseReason::StartTlsInjection => f.write_str(
                "plaintext arrived where a TLS handshake was due: the connection is being tampered with",
            ),
            CloseReason::BindFailed { condition } => match condition {
                Some(c) => write!(f, "the server refused to bind a resource: {c}"),
                None => f.write_str("the server refused to bind a resource"),
            },
            CloseReason::NegotiationTimeout => {
                f.write_str("stream negotiation did not complete in time")
            }
            CloseReason::PeerNotResponding => {
                f.write_str("the peer stopped answering; the connection is dead")
            }
            CloseReason::CloseTimeout => {
                f.write_str("the peer did not close its stream in time; connection shut down")
            }
            CloseReason::ConnectionLost => {
                f.write_str("the connection was lost without a clean stream close")
            }
            CloseReason::RandomUnavailable => {
                f.write_str("the random number generator failed; the session cannot go on")
            }
            CloseReason::SeeOtherUri { uri } => {
                write!(f, "the peer closed the stream and asked us to use {uri}")
            }
            CloseReason::NotAccepted { text } => {
                write!(f, "the peer server did not accept our domain: {text}")
            }
        }
    }
}

/// Returned by `handle_*` once the session has ended other than cleanly;
/// the same reason is in the endpoint's `Closed` event.
#[derive(Clone, Debug, PartialEq)]
pub struct Closed {
    reason: CloseReason,
}

impl Closed {
    /// The error for a session that ended with `reason` (for endpoints of
    /// your own, such as test doubles).
    pub fn new(reason: CloseReason) -> Self {
        Closed { reason }
    }

    /// Why the session ended.
    pub fn reason(&self) -> &CloseReason {
        &self.reason
    }
}

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.reason.fmt(f)
    }
}

impl std::error::Error for Closed {}

/// Why a command (`send`, `accept_bind`, ...) was refused. Nothing was
/// queued.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandError {
    /// The session is not online yet (still negotiating): stanzas can only
    /// be sent after the `Online` event.
    NotOnline,
    /// The session has ended or is closing.
    Closed,
    /// No question of this kind is waiting for an answer (for example
    /// `accept_bind` without a pending bind request).
    NotAsked,
    /// The stanza cannot be serialized.
    InvalidStanza(WriteError),
    /// An address given to the command is not a valid JID.
    InvalidAddress(JidError),
    /// Too much output is waiting for the transport (it is not writing);
    /// the limit is the reader's pending-input limit.
    OutputFull,
    /// Stream management is on and `SmConfig::max_unacked` stanzas wait
    /// for the peer's acknowledgement.
    QueueFull,
    /// A component may send only from addresses of its own domain
    /// (XEP-0114); the stanza's `from` is outside it.
    OutsideDomain,
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::NotOnline => f.write_str("not online yet: wait for the Online event"),
            CommandError::Closed => f.write_str("the session has ended"),
            CommandError::NotAsked => {
                f.write_str("no event asked for this answer (or it was already given)")
            }
            CommandError::InvalidStanza(e) => write!(f, "the stanza cannot be sent: {e}"),
            CommandError::InvalidAddress(e) => write!(f, "not a valid address: {e}"),
            CommandError::OutputFull => {
                f.write_str("too much unsent output: the transport is not writing")
            }
            CommandError::QueueFull => {
                f.write_str("too many stanzas wait for the peer's acknowledgement (XEP-0198)")
            }
            CommandError::OutsideDomain => {
                f.write_str("a component may only send from addresses of its own domain")
            }
        }
    }
}

impl std::error::Error for CommandError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CommandError::InvalidStanza(e) => Some(e),
            CommandError::InvalidAddress(e) => Some(e),
            _ => None,
        }
    }
}
