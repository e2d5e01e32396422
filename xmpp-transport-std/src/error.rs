//! What can go wrong below the XMPP stream: the socket and TLS.

use std::fmt;
use std::io;

/// A failure of the connection itself (socket, TLS, the output limit), as
/// opposed to the XMPP session, whose end the endpoint reports as an
/// event. Both transports (this one and `xmpp-transport-mio`) use it.
///
/// After an `Error` the connection is dead: the endpoint has been told the
/// connection was lost, further calls only hand out the endpoint's last
/// events and then report [`Next::Closed`](crate::Next::Closed).
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Reading from or writing to the socket failed (the peer reset the
    /// connection, the network went away, or the peer stopped reading and
    /// the write timeout passed).
    Io(io::Error),
    /// TLS failed: the handshake was refused (the peer's certificate is
    /// not valid for the XMPP domain or not signed by a trusted CA, no
    /// common protocol version), the peer sent an alert, or bytes that are
    /// not TLS arrived where TLS was expected.
    Tls(rustls::Error),
    /// The peer did not read fast enough: more than the transport's output
    /// limit was waiting to be written, so the connection was dropped.
    OutputLimit {
        /// Bytes waiting when the limit was crossed.
        pending: usize,
        /// The limit.
        limit: usize,
    },
    /// The peer did not read what was waiting for it within the write
    /// deadline (a total time, however slowly it took some bytes), so the
    /// connection was dropped.
    WriteDeadline {
        /// How long output had been waiting.
        waited: std::time::Duration,
    },
    /// The peer did not finish closing within the linger time after our
    /// shutdown (not an error of the session: it had ended already).
    LingerExpired,
    /// The endpoint asked for something the connection cannot do (for
    /// example TLS twice). This is a bug in the endpoint.
    Endpoint(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "connection failed: {e}"),
            Error::Tls(e @ rustls::Error::InvalidCertificate(_)) => write!(
                f,
                "TLS handshake failed: {e} (check the XMPP domain and the trusted CA)"
            ),
            Error::Tls(
                e @ rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
            ) => write!(
                f,
                "TLS failed: {e} (the peer did not answer with TLS: is this a STARTTLS port? \
                 direct TLS is usually on 5223, STARTTLS on 5222)"
            ),
            Error::Tls(e) => write!(f, "TLS failed: {e}"),
            Error::OutputLimit { pending, limit } => write!(
                f,
                "the peer stopped reading: {pending} bytes waiting, limit {limit}"
            ),
            Error::WriteDeadline { waited } => write!(
                f,
                "the peer stopped reading: output waited {} s",
                waited.as_secs()
            ),
            Error::LingerExpired => f.write_str("the peer did not close in time"),
            Error::Endpoint(what) => write!(f, "endpoint misbehaved: {what}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Tls(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<rustls::Error> for Error {
    fn from(e: rustls::Error) -> Self {
        Error::Tls(e)
    }
}
