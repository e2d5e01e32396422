//! One session's thread: answer the server's questions, route its
//! stanzas, keep or resume stream-managed sessions, unbind it at the end.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use xmpp_proto::endpoint::CloseReason;
use xmpp_proto::jid::{BareJid, FullJid};
use xmpp_proto::router::{BindOutcome, SessionId};
use xmpp_proto::sasl::FailureCondition;
use xmpp_proto::server::{Server, ServerEvent as Event};
use xmpp_proto::sm::SmSession;
use xmpp_proto::stanza::DefinedCondition;
use xmpp_proto::stream_error::StreamErrorCondition;

use super::deliver::{Local, dispatch};
use super::{SessionLog, Shared, lock};
use crate::connection::Connection;
use crate::error::Error;

/// How long a `<resume/>` waits for the thread of a session that still
/// looks alive to hand its state over.
const TAKE_OVER_WAIT: Duration = Duration::from_secs(5);

/// Drives one accepted connection until it is over.
pub(super) fn run(
    shared: &Arc<Shared>,
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
                match &event {
                    Event::Online { jid: bound } => {
                        shared.log(&SessionLog::Online {
                            session: id,
                            jid: bound,
                        });
                        jid = Some(bound.clone());
                    }
                    Event::Resumed { jid: bound } => {
                        shared.log(&SessionLog::Resumed {
                            session: id,
                            jid: bound,
                        });
                        jid = Some(bound.clone());
                    }
                    Event::Closed { reason: why } => reason = Some(why.clone()),
                    _ => {}
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
    // A detached session stays bound until it is resumed or expires.
    if !lock(&shared.detached).contains(id) {
        let mut out = Vec::new();
        lock(&shared.router).unbind(id, &mut out);
        dispatch(shared, None, out);
    }
    // Deliveries still queued for this connection come back through
    // their parcels now and are queued or rerouted.
    drop(conn);
    shared.log(&SessionLog::Ended {
        session: id,
        jid: jid.as_ref(),
        reason: reason.as_ref(),
        error: error.as_ref(),
    });
}

/// Answers one event of the session's server.
fn handle(shared: &Arc<Shared>, id: SessionId, conn: &mut Connection<Server>, event: Event) {
    let now = crate::clock::now();
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
                    let remote = lock(&shared.sessions).get(&old).cloned();
                    if let Some(remote) = remote {
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
            dispatch(shared, Some(Local { id, conn }), out);
        }
        Event::Detached(state) => {
            let evicted = lock(&shared.detached).detach(id, *state, now);
            if let Some((gone, state)) = evicted {
                shared.expire(gone, state);
            }
            shared.reaper.wake();
        }
        Event::ResumeRequest { previd, .. } => resume(shared, id, conn, &previd),
        Event::Undelivered { stanzas } => {
            let mut out = Vec::new();
            lock(&shared.router).undeliverable_from(id, stanzas, &mut out);
            dispatch(shared, None, out);
        }
        Event::Trace { direction, data } => shared.log(&SessionLog::Trace {
            session: id,
            direction,
            data: &data,
        }),
        // Online, Resumed and Closed are logged by the caller;
        // Authenticated needs nothing.
        _ => {}
    }
}

/// `<resume/>` on session `id`: the detached session it names, or the
/// live one whose connection has not been noticed dead yet, if it is
/// this account's.
fn resume(shared: &Arc<Shared>, id: SessionId, conn: &mut Connection<Server>, previd: &str) {
    let now = crate::clock::now();
    let Some(user) = conn.endpoint().user().cloned() else {
        return;
    };
    let taken = lock(&shared.detached).take(previd, &user, now);
    let found = taken.or_else(|| take_live(shared, &user, previd, id));
    let Some((old, state)) = found else {
        let _ = conn.endpoint_mut().reject_resume(now);
        return;
    };
    // Held while the binding moves, so that a stanza routed to the old
    // session meanwhile finds either the detached queue or the new one.
    let mut detached = lock(&shared.detached);
    match conn.endpoint_mut().accept_resume(now, state) {
        Ok(()) => {
            lock(&shared.router).reattach(old, id);
        }
        Err(state) => detached.restore(old, *state, now),
    }
}

/// The live session of `user` with resumption id `previd` (another
/// thread's): closed with `conflict`, its state handed over.
fn take_live(
    shared: &Arc<Shared>,
    user: &BareJid,
    previd: &str,
    new: SessionId,
) -> Option<(SessionId, SmSession)> {
    let candidates = lock(&shared.router).sessions_of(user).to_vec();
    for old in candidates.into_iter().filter(|old| *old != new) {
        let Some(remote) = lock(&shared.sessions).get(&old).cloned() else {
            continue;
        };
        let (tx, rx) = mpsc::channel();
        let previd = previd.to_owned();
        let keeper = Arc::clone(shared);
        let asked = remote.command(move |server: &mut Server, now| {
            let state = if server.sm_id() == Some(previd.as_str()) {
                server.take_session(now)
            } else {
                None
            };
            // Too late for the new connection: keep the state detached
            // rather than lose what it holds.
            if let Err(mpsc::SendError(Some(state))) = tx.send(state) {
                let evicted = lock(&keeper.detached).detach(old, state, now);
                if let Some((gone, state)) = evicted {
                    keeper.expire(gone, state);
                }
                keeper.reaper.wake();
            }
        });
        if asked.is_ok() {
            if let Ok(Some(state)) = rx.recv_timeout(TAKE_OVER_WAIT) {
                return Some((old, state));
            }
        }
    }
    None
}
