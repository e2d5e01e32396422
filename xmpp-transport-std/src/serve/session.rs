//! One session's thread: drive its connection, log its life, and hand
//! every event of its server to the hub.

use std::net::SocketAddr;
use std::sync::Arc;

use xmpp_proto::endpoint::CloseReason;
use xmpp_proto::jid::FullJid;
use xmpp_proto::router::SessionId;
use xmpp_proto::server::ServerEvent;

use super::accept::Listener;
use super::pump::{HubCommand, pump};
use super::{SessionLog, Shared, lock};
use crate::clock;
use crate::connection::Connection;
use crate::error::Error;
use crate::websocket::ServerEndpoint;

/// Drives one connection until it is over: one accepted on `listener`,
/// or (`None`) our link to another server.
pub(super) fn run(
    shared: &Arc<Shared>,
    id: SessionId,
    peer: SocketAddr,
    listener: Option<Listener>,
    mut conn: Connection<ServerEndpoint, HubCommand>,
) {
    shared.log(&SessionLog::Started {
        session: id,
        peer,
        direct_tls: listener == Some(Listener::DirectTls),
    });
    let mut jid: Option<FullJid> = None;
    let mut reason: Option<CloseReason> = None;
    let mut error: Option<Error> = None;
    let mut authenticated = false;
    loop {
        match conn.next_event() {
            Ok(Some(event)) => {
                if let Some(entry) = SessionLog::for_event(id, &event) {
                    shared.log(&entry);
                }
                match &event {
                    ServerEvent::Online { jid: bound } | ServerEvent::Resumed { jid: bound } => {
                        jid = Some(bound.clone());
                    }
                    // Traced bytes are for the log only.
                    ServerEvent::Trace { .. } => continue,
                    ServerEvent::Closed { reason: why } => reason = Some(why.clone()),
                    ServerEvent::Authenticated { .. }
                    | ServerEvent::ComponentOnline { .. }
                    | ServerEvent::S2sAuthenticated { .. }
                        if !authenticated =>
                    {
                        authenticated = true;
                        shared.authenticated(peer.ip());
                    }
                    _ => {}
                }
                let spent = lock(&shared.hub).handle_event(clock::now(), id, event);
                if let Some(element) = spent {
                    conn.endpoint_mut().recycle(element);
                }
                pump(shared, Some((id, &mut **conn.endpoint_mut())));
            }
            Ok(None) => break,
            // The connection hands out the endpoint's last events after
            // its one error, then ends; a second error would mean it
            // cannot, so stop there.
            Err(e) if error.is_none() => error = Some(e),
            Err(_) => break,
        }
    }
    lock(&shared.sessions).remove(&id);
    if listener.is_some() {
        // Our own links took no admission slot.
        shared.release(peer.ip(), authenticated);
    }
    // Commands still queued for this connection come back to the hub
    // now, through their `Drop`.
    drop(conn);
    shared.log(&SessionLog::Ended {
        session: id,
        jid: jid.as_ref(),
        reason: reason.as_ref(),
        error: error.as_ref(),
    });
}
