//! The log lines of a server's sessions, shared by this crate's serve
//! helper and the mio transport's server.

use std::fmt;
use std::net::SocketAddr;

use xmpp_proto::endpoint::{CloseReason, Direction};
use xmpp_proto::jid::FullJid;
use xmpp_proto::router::SessionId;
use xmpp_proto::server::ServerEvent;

use crate::error::Error;

/// What a server's log hook ([`Serve::with_log`](super::Serve::with_log), and the mio
/// transport's `MioServer::with_log`) is told about each session.
/// `Display` gives one readable line.
#[derive(Debug)]
#[non_exhaustive]
pub enum SessionLog<'a> {
    /// A connection was accepted.
    Started {
        /// The session's name in the router.
        session: SessionId,
        /// The client's address.
        peer: SocketAddr,
        /// Whether it came to the direct TLS listener.
        direct_tls: bool,
    },
    /// The client logged in and bound a resource.
    Online {
        /// The session.
        session: SessionId,
        /// Its full JID.
        jid: &'a FullJid,
    },
    /// An external component (XEP-0114) proved its secret and serves
    /// `domain`.
    Component {
        /// The session.
        session: SessionId,
        /// The domain it serves.
        domain: &'a str,
    },
    /// A stream-managed session was resumed on this connection
    /// (XEP-0198); the connection it broke on has ended as detached.
    Resumed {
        /// The session (the new connection's).
        session: SessionId,
        /// Its full JID.
        jid: &'a FullJid,
    },
    /// Bytes sent or received, when the sessions' config has tracing on
    /// (`ServerConfig::with_trace`, through [`Serve::with_config`](super::Serve::with_config) or
    /// the mio server's `with_config`).
    Trace {
        /// The session.
        session: SessionId,
        /// Which way.
        direction: Direction,
        /// The raw bytes (UTF-8 XML, possibly cut anywhere).
        data: &'a [u8],
    },
    /// The session is over and unbound.
    Ended {
        /// The session.
        session: SessionId,
        /// Its full JID, if it got that far.
        jid: Option<&'a FullJid>,
        /// Why the XMPP session ended, as the endpoint reported it.
        reason: Option<&'a CloseReason>,
        /// The socket, TLS or output-limit failure that ended it, if any.
        error: Option<&'a Error>,
    },
}

impl<'a> SessionLog<'a> {
    /// The entry a server event of `session` makes, for the events worth
    /// a line (online, resumed, traced bytes).
    pub fn for_event(session: SessionId, event: &'a ServerEvent) -> Option<Self> {
        match event {
            ServerEvent::Online { jid } => Some(SessionLog::Online { session, jid }),
            ServerEvent::Resumed { jid } => Some(SessionLog::Resumed { session, jid }),
            ServerEvent::ComponentOnline { domain } => {
                Some(SessionLog::Component { session, domain })
            }
            ServerEvent::Trace { direction, data } => Some(SessionLog::Trace {
                session,
                direction: *direction,
                data,
            }),
            _ => None,
        }
    }
}

impl fmt::Display for SessionLog<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionLog::Started {
                session,
                peer,
                direct_tls,
            } => {
                let how = if *direct_tls { " (direct TLS)" } else { "" };
                write!(f, "session {}: connection from {peer}{how}", session.0)
            }
            SessionLog::Online { session, jid } => {
                write!(f, "session {}: online as {jid}", session.0)
            }
            SessionLog::Resumed { session, jid } => {
                write!(f, "session {}: resumed {jid}", session.0)
            }
            SessionLog::Component { session, domain } => {
                write!(f, "session {}: component serving {domain}", session.0)
            }
            SessionLog::Trace {
                session,
                direction,
                data,
            } => {
                let arrow = match direction {
                    Direction::In => "<<",
                    Direction::Out => ">>",
                };
                let text = String::from_utf8_lossy(data);
                write!(f, "session {} {arrow} {text}", session.0)
            }
            SessionLog::Ended {
                session,
                jid,
                reason,
                error,
            } => {
                write!(f, "session {}: ended", session.0)?;
                if let Some(jid) = jid {
                    write!(f, " ({jid})")?;
                }
                if let Some(reason) = reason {
                    write!(f, ": {reason}")?;
                }
                if let Some(error) = error {
                    write!(f, "; {error}")?;
                }
                Ok(())
            }
        }
    }
}
