//! Why a connection of the driver ended below the XMPP stream.

use std::fmt;
use std::io;

/// A failure of one connection (socket, TLS or the output limit), as
/// opposed to the XMPP session's end, which the endpoint reports as an
/// event. It ends that connection only; the others go on.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Reading from or writing to the socket failed (reset, refused,
    /// network gone).
    Io(io::Error),
    /// TLS failed: handshake refused (certificate not valid for the
    /// domain, no common version), an alert, or bytes that are not TLS.
    Tls(rustls::Error),
    /// The peer did not read fast enough: more than the configured output
    /// limit ([`DriverConfig::max_output`](crate::DriverConfig)) was
    /// waiting to be written, so the connection was dropped.
    OutputLimit {
        /// Bytes waiting when the limit was crossed.
        pending: usize,
        /// The limit.
        limit: usize,
    },
    /// The peer did not finish closing within the linger time after our
    /// shutdown (not an error of the session: it had ended already).
    LingerExpired,
    /// The endpoint asked for something the connection cannot do (TLS
    /// twice, TLS without settings): a bug in the endpoint.
    Endpoint(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "connection failed: {e}"),
            Error::Tls(e) => write!(f, "TLS failed: {e}"),
            Error::OutputLimit { pending, limit } => write!(
                f,
                "the peer stopped reading: {pending} bytes waiting, limit {limit}"
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
