//! One session's thread: answer the server's questions, route its
//! stanzas, unbind it at the end.

use std::net::SocketAddr;
use std::time::Instant;

use xmpp_proto::jid::FullJid;
use xmpp_proto::router::{BindOutcome, Routed, SessionId};
use xmpp_proto::sasl::FailureCondition;
use xmpp_proto::server::{CloseReason, Event, Server};
use xmpp_proto::stanza::DefinedCondition;
use xmpp_proto::stream_error::StreamErrorCondition;

use super::{SessionLog, Shared, lock};
use crate::connection::Connection;
use crate::error::Error;

/// Drives one accepted connection until it is over.
pub(super) fn run(
    shared: &Shared,
    id: SessionId,
    peer: SocketAddr,
    direct_tls: bool,
    mut conn: Connection<Server>,
) {
    shared.log(&SessionLog::Started {
        session: id,
        peer,
        direct_tls,
    });
    let mut jid: Option<FullJid> = None;
    let mut reason: Option<CloseReason> = None;
    let mut error: Option<Error> = None;
    loop {
        match conn.next_event() {
            Ok(Some(event)) => {
                if let Event::Online { jid: bound } = &event {
                    shared.log(&SessionLog::Online {
                        session: id,
                        jid: bound,
                    });
                    jid = Some(bound.clone());
                }
                if let Event::Closed { reason: why } = &event {
                    reason = Some(why.clone());
                }
                handle(shared, id, &mut conn, event);
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
    let mut out = Vec::new();
    lock(&shared.router).unbind(id, &mut out);
    deliver(shared, id, &mut conn, out);
    shared.log(&SessionLog::Ended {
        session: id,
        jid: jid.as_ref(),
        reason: reason.as_ref(),
        error: error.as_ref(),
    });
}

/// Answers one event of the session's server.
fn handle(shared: &Shared, id: SessionId, conn: &mut Connection<Server>, event: Event) {
    let now = Instant::now();
    let server = conn.endpoint_mut();
    // A command refused as `NotAsked` cannot happen: each answers the
    // question just asked. Ignoring the results is safe either way.
    match event {
        Event::NeedScramCredentials { username, hash } => {
            let credentials = shared.accounts.scram_credentials(&username, hash);
            let _ = server.provide_credentials(now, credentials);
        }
        Event::Authenticate {
            username: Some(username),
            password: Some(password),
            ..
        } => {
            if shared.accounts.check_password(&username, password.as_str()) {
                let _ = server.accept_auth(now);
            } else {
                let _ = server.reject_auth(now, FailureCondition::NotAuthorized);
            }
        }
        Event::Authenticate { .. } => {
            // EXTERNAL (or PLAIN without a password): not supported here.
            let _ = server.reject_auth(now, FailureCondition::NotAuthorized);
        }
        Event::BindRequest { jid, .. } => {
            let outcome = lock(&shared.router).bind(id, &jid);
            match outcome {
                BindOutcome::Bound => {
                    let _ = server.accept_bind(now);
                }
                BindOutcome::Refused => {
                    let _ = server.reject_bind(now, DefinedCondition::Conflict);
                }
                BindOutcome::Replaced { old } => {
                    let _ = server.accept_bind(now);
                    if let Some(remote) = lock(&shared.sessions).get(&old) {
                        let _ = remote.command(|old: &mut Server, now| {
                            old.close_with_error(now, StreamErrorCondition::Conflict, None);
                        });
                    }
                }
            }
        }
        Event::Stanza(stanza) => {
            let mut out = Vec::new();
            lock(&shared.router).route(id, stanza, &mut out);
            deliver(shared, id, conn, out);
        }
        Event::Trace { direction, data } => shared.log(&SessionLog::Trace {
            session: id,
            direction,
            data: &data,
        }),
        // Online and Closed are logged by the caller; Authenticated
        // needs nothing.
        _ => {}
    }
}

/// Hands routed stanzas to their sessions: this one directly, the others
/// through their remotes (a session that has just ended drops them).
fn deliver(shared: &Shared, id: SessionId, conn: &mut Connection<Server>, out: Vec<Routed>) {
    for routed in out {
        match routed {
            Routed::Deliver { session, stanza } if session == id => {
                let _ = conn.endpoint_mut().send(Instant::now(), stanza);
            }
            Routed::Deliver { session, stanza } => {
                if let Some(remote) = lock(&shared.sessions).get(&session) {
                    let _ = remote.command(move |server: &mut Server, now| {
                        let _ = server.send(now, stanza);
                    });
                }
            }
            // Only under `OfflinePolicy::Store`, which has no store here:
            // the message is dropped.
            Routed::Offline { .. } => {}
        }
    }
}
