//! Handing routed stanzas to their sessions: the current one directly,
//! others through their remotes, detached ones into their queues. A
//! stanza a session cannot take is given to the account's other
//! resources once, then bounced or stored: never dropped unseen.

use std::collections::VecDeque;
use std::sync::Arc;
use xmpp_proto::time::Time;

use xmpp_proto::router::{Queued, Routed, SessionId};
use xmpp_proto::server::Server;
use xmpp_proto::xml::Element;

use super::{Shared, lock};
use crate::connection::Connection;

/// The session whose thread is dispatching: stanzas for it are written
/// directly.
pub(super) struct Local<'a> {
    pub(super) id: SessionId,
    pub(super) conn: &'a mut Connection<Server>,
}

/// Delivers `out`, and what rerouting it produces, until nothing is
/// left. Call with no lock held.
pub(super) fn dispatch(shared: &Arc<Shared>, local: Option<Local<'_>>, out: Vec<Routed>) {
    dispatch_work(shared, local, out.into_iter().map(|r| (r, false)).collect());
}

/// [`dispatch`] of stanzas each marked with whether it was rerouted
/// already.
fn dispatch_work(
    shared: &Arc<Shared>,
    mut local: Option<Local<'_>>,
    mut work: VecDeque<(Routed, bool)>,
) {
    while let Some((routed, rerouted)) = work.pop_front() {
        let (session, stanza) = match routed {
            Routed::Deliver { session, stanza } => (session, stanza),
            Routed::Offline { to, message } => {
                match &shared.offline {
                    Some(store) => store(&to, message),
                    None => {
                        // `OfflinePolicy::Store` without a store: the
                        // sender hears.
                        let mut out = Vec::new();
                        lock(&shared.router).refuse_offline(message, &mut out);
                        work.extend(out.into_iter().map(|r| (r, true)));
                    }
                }
                continue;
            }
        };
        let failed = match &mut local {
            Some(here) if here.id == session => here
                .conn
                .endpoint_mut()
                .deliver(crate::clock::now(), stanza)
                .err()
                .map(|refused| refused.stanza),
            _ => send_to(shared, session, stanza, rerouted),
        };
        if let Some(stanza) = failed {
            reroute(shared, session, stanza, rerouted, &mut work);
        }
    }
}

/// Queues `stanza` for a detached session or sends it to the session's
/// thread; returns it if neither can take it.
fn send_to(
    shared: &Arc<Shared>,
    session: SessionId,
    stanza: Element,
    rerouted: bool,
) -> Option<Element> {
    let stanza = match lock(&shared.detached).queue(session, stanza) {
        Queued::Kept => return None,
        Queued::Full(stanza) => return Some(stanza),
        Queued::NotDetached(stanza) => stanza,
    };
    let Some(remote) = lock(&shared.sessions).get(&session).cloned() else {
        return Some(stanza);
    };
    let mut parcel = Parcel {
        shared: Arc::clone(shared),
        session,
        stanza: Some(stanza),
        rerouted,
    };
    // If the connection is gone, the command is dropped here and the
    // parcel reroutes its stanza.
    let _ = remote.command(move |server: &mut Server, now| parcel.deliver(server, now));
    None
}

/// A stanza that could not be delivered to `session`: to the account's
/// other resources if it was not rerouted already, else bounced.
fn reroute(
    shared: &Arc<Shared>,
    session: SessionId,
    stanza: Element,
    rerouted: bool,
    work: &mut VecDeque<(Routed, bool)>,
) {
    let mut out = Vec::new();
    {
        let mut router = lock(&shared.router);
        if rerouted {
            router.bounce(vec![stanza], &mut out);
        } else {
            router.undeliverable_from(session, vec![stanza], &mut out);
        }
    }
    work.extend(out.into_iter().map(|r| (r, true)));
}

/// A stanza on its way to another session's thread. Whatever happens to
/// the command carrying it (run and refused, or dropped with a
/// connection that ended first), a stanza still inside is rerouted.
struct Parcel {
    shared: Arc<Shared>,
    session: SessionId,
    stanza: Option<Element>,
    rerouted: bool,
}

impl Parcel {
    /// On the receiving session's thread; a refused stanza stays inside.
    fn deliver(&mut self, server: &mut Server, now: Time) {
        if let Some(stanza) = self.stanza.take() {
            if let Err(refused) = server.deliver(now, stanza) {
                self.stanza = Some(refused.stanza);
            }
        }
    }
}

impl Drop for Parcel {
    fn drop(&mut self) {
        let Some(stanza) = self.stanza.take() else {
            return;
        };
        // The session may have been detached since the stanza left.
        let stanza = match lock(&self.shared.detached).queue(self.session, stanza) {
            Queued::Kept => return,
            Queued::Full(stanza) | Queued::NotDetached(stanza) => stanza,
        };
        let mut work = VecDeque::new();
        reroute(&self.shared, self.session, stanza, self.rerouted, &mut work);
        dispatch_work(&self.shared, None, work);
    }
}
