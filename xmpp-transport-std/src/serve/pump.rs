//! Carrying out the hub's decisions: a command for the session whose
//! thread is pumping is applied at once; others travel to their session's
//! thread as typed [`HubCommand`]s on its bounded queue, and what cannot
//! travel (the session is gone, its queue is full) goes back to the hub
//! as feedback. The hub's questions for the store are answered here.

use std::sync::Arc;

use xmpp_proto::hub::{CommandFeedback, HubEvent, ServerCommand};
use xmpp_proto::router::SessionId;
use xmpp_proto::server::Server;
use xmpp_proto::time::Time;

use super::{LoginAnswer, Shared, keep_for_hub, lock};
use crate::clock;
use crate::remote::Command;
use crate::websocket::ServerEndpoint;

/// A command of the hub on its way to another session's thread. If the
/// connection ends with it still queued, its `Drop` hands what it
/// carries back to the hub.
pub(super) struct HubCommand {
    shared: Arc<Shared>,
    session: SessionId,
    command: Option<ServerCommand>,
}

impl Command<ServerEndpoint> for HubCommand {
    fn run(mut self, server: &mut ServerEndpoint, now: Time) {
        if let Some(command) = self.command.take() {
            if let Some(feedback) = server.apply(now, command) {
                give_back(&self.shared, self.session, feedback);
                pump(&self.shared, Some((self.session, &mut **server)));
            }
        }
    }

    fn weight(&self) -> usize {
        match &self.command {
            Some(ServerCommand::Deliver(delivery)) => delivery.stanza().len(),
            _ => 0,
        }
    }
}

impl Drop for HubCommand {
    fn drop(&mut self) {
        let Some(feedback) = self.command.take().and_then(ServerCommand::unapplied) else {
            return;
        };
        give_back(&self.shared, self.session, feedback);
        pump(&self.shared, None);
    }
}

/// Hands feedback to the hub.
fn give_back(shared: &Shared, session: SessionId, feedback: CommandFeedback) {
    lock(&shared.hub).handle_feedback(clock::now(), session, feedback);
}

/// Carries out everything the hub has decided, and what that leads to,
/// until it has nothing more. `local` is the session whose thread this
/// is: its commands are applied directly (its connection writes them on
/// its next turn). Call with no lock held.
pub(super) fn pump(shared: &Arc<Shared>, mut local: Option<(SessionId, &mut Server)>) {
    loop {
        let (commands, events, next_expiry) = {
            let mut hub = lock(&shared.hub);
            let commands: Vec<_> = std::iter::from_fn(|| hub.poll_command()).collect();
            let events: Vec<_> = std::iter::from_fn(|| hub.poll_event()).collect();
            (commands, events, hub.poll_timeout())
        };
        shared.reaper.expect(next_expiry);
        if commands.is_empty() && events.is_empty() {
            return;
        }
        for (session, command) in commands {
            match &mut local {
                Some((id, server)) if *id == session => {
                    if let Some(feedback) = server.apply(clock::now(), command) {
                        give_back(shared, session, feedback);
                    }
                }
                _ => send(shared, session, command),
            }
        }
        for event in events {
            answer(shared, event);
        }
    }
}

/// Sends a command to another session's thread, or back to the hub if it
/// cannot go.
fn send(shared: &Arc<Shared>, session: SessionId, command: ServerCommand) {
    let remote = lock(&shared.sessions).get(&session).cloned();
    let mut parcel = HubCommand {
        shared: Arc::clone(shared),
        session,
        command: Some(command),
    };
    if let Some(remote) = remote {
        match remote.try_send(parcel) {
            Ok(()) => return,
            Err(refused) => parcel = refused.into_inner(),
        }
    }
    if let Some(feedback) = parcel.command.take().and_then(ServerCommand::unapplied) {
        give_back(shared, session, feedback);
    }
}

/// Answers a question of the hub from the account store (without the
/// hub's lock: PLAIN runs PBKDF2), or carries out its requests to the
/// store (rosters, offline messages).
fn answer(shared: &Arc<Shared>, event: HubEvent) {
    if let HubEvent::ConnectRemote { local, domain } = event {
        shared.connect_remote(local, domain);
        return;
    }
    match LoginAnswer::from_store(shared.accounts.as_ref(), event) {
        Ok(answer) => answer.apply(&mut lock(&shared.hub)),
        Err(event) => {
            let mut hub = lock(&shared.hub);
            let _ = keep_for_hub(&mut hub, shared.accounts.as_ref(), clock::now(), event);
        }
    }
}
