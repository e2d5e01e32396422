//! The loop between the sessions and the hub: every event of a session's
//! `Server` goes to the hub, its commands are applied to the connections
//! they are for (what cannot be applied goes back as feedback), and its
//! questions are answered from the account store.

use xmpp_proto::hub::HubEvent;
use xmpp_proto::router::SessionId;
use xmpp_proto::sasl::FailureCondition;
use xmpp_proto::server::ServerEvent as Event;
use xmpp_transport_std::clock;
use xmpp_transport_std::serve::keep_for_hub;

use super::{MioServer, SessionLog};
use crate::{ConnId, Error};

impl MioServer {
    /// Hands one event of a session's server to the hub and carries out
    /// what it decides.
    pub(super) fn handle(&mut self, conn: ConnId, event: Event) {
        let session = SessionId(conn.as_u64());
        if let (Some(log), Some(entry)) = (&mut self.log, SessionLog::for_event(session, &event)) {
            log(&entry);
        }
        match &event {
            Event::Online { jid } => {
                self.stats.online += 1;
                self.jids.insert(conn, jid.clone());
            }
            Event::Resumed { jid } => {
                self.jids.insert(conn, jid.clone());
            }
            Event::Authenticated { .. }
            | Event::ComponentOnline { .. }
            | Event::S2sAuthenticated { .. } => self.authenticated(conn),
            Event::Stanza(_) => self.stats.stanzas += 1,
            Event::Closed { reason } => {
                self.ending.insert(conn, reason.clone());
            }
            _ => {}
        }
        let spent = self.hub.handle_event(clock::now(), session, event);
        if let Some(element) = spent {
            self.driver.command(conn, |s, _| s.recycle(element));
        }
        self.pump();
    }

    /// Applies the hub's commands to their connections (feedback goes
    /// back to the hub) and answers its questions from the account
    /// store, until it has nothing more.
    pub(super) fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some((session, command)) = self.hub.poll_command() {
                moved = true;
                let mut slot = Some(command);
                let feedback = self
                    .driver
                    .command(ConnId::from_u64(session.0), |s, now| {
                        slot.take().and_then(|command| s.apply(now, command))
                    })
                    .flatten();
                // A connection that is gone: what the command carried
                // goes back to the hub.
                let feedback = feedback.or_else(|| slot.and_then(|c| c.unapplied()));
                if let Some(feedback) = feedback {
                    self.hub.handle_feedback(clock::now(), session, feedback);
                }
            }
            while let Some(event) = self.hub.poll_event() {
                moved = true;
                self.answer(event);
            }
            if !moved {
                return;
            }
        }
    }

    /// Answers a question of the hub from the account store (on a
    /// worker), or carries out its requests to the store (rosters,
    /// offline messages; on this thread).
    fn answer(&mut self, event: HubEvent) {
        match event {
            HubEvent::ConnectRemote { local, domain } => self.connect_remote(local, domain),
            question @ (HubEvent::NeedScramCredentials { .. }
            | HubEvent::Authenticate { .. }
            | HubEvent::NeedFastToken { .. }
            | HubEvent::IssueFastToken { .. }) => {
                // To a worker; if they are all this far behind, the login
                // is refused rather than made to wait without end.
                match self.logins.submit(question) {
                    Ok(()) => {}
                    Err(HubEvent::NeedScramCredentials { session, .. }) => {
                        self.hub.provide_credentials(session, None);
                    }
                    Err(HubEvent::Authenticate { session, .. }) => self
                        .hub
                        .verdict(session, Err(FailureCondition::TemporaryAuthFailure)),
                    Err(HubEvent::NeedFastToken { session, .. }) => {
                        self.hub.provide_fast_tokens(session, Vec::new());
                    }
                    Err(HubEvent::IssueFastToken { session, .. }) => {
                        self.hub.issue_fast_token(session, None);
                    }
                    Err(_) => {}
                }
            }
            other => {
                let _ = keep_for_hub(&mut self.hub, self.store.as_ref(), clock::now(), other);
            }
        }
    }

    /// Hands the workers' answers to the hub and carries out what follows
    /// (and whatever else the hub has to do).
    pub(super) fn take_login_answers(&mut self) {
        for answer in self.logins.answers() {
            answer.apply(&mut self.hub);
        }
        self.pump();
    }

    /// A connection is gone: unbind it and log its end.
    pub(super) fn ended(&mut self, conn: ConnId, error: Option<Error>) {
        self.forget_address(conn);
        let jid = self.jids.remove(&conn);
        let reason = self.ending.remove(&conn);
        self.stats.ended += 1;
        if let Some(e) = &error {
            self.stats.failed += 1;
            if matches!(e, Error::OutputLimit { .. }) {
                self.stats.output_limit += 1;
            }
        }
        self.log(&SessionLog::Ended {
            session: SessionId(conn.as_u64()),
            jid: jid.as_ref(),
            reason: reason.as_ref(),
            error: error.as_ref(),
        });
    }
}
