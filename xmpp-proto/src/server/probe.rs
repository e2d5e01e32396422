//! Dead-client detection: a bound client that has been silent for
//! `ServerTimeouts::probe_after` is probed (`<r/>` with stream
//! management, an XEP-0199 ping without), and a probe unanswered for
//! `probe_timeout` ends the session as `PeerNotResponding`, which
//! detaches a resumable one.

use super::{Server, ServerTimer};
use crate::endpoint::CloseReason;
use crate::negotiation::ping_request;
use crate::stream::Role;
use crate::time::Time;

impl Server {
    /// Any byte from the client: it is alive. Only the time is noted:
    /// moving the probe's deadline on every read would change the
    /// endpoint's `poll_timeout` (and a transport's timer heap) once per
    /// read; the probe re-arms itself from this time when it fires.
    pub(super) fn heard_from_client(&mut self, now: Time) {
        // Kept before going online too: a SASL2 login goes online from a
        // step that has no clock of its own.
        self.last_heard = now;
        if !self.is_online() || self.config.s2s.is_some() {
            // A server-to-server stream has its idle timer instead.
            return;
        }
        let timers = &mut self.core.timers;
        if timers.get(ServerTimer::ProbeAnswer).is_some() {
            timers.clear(ServerTimer::ProbeAnswer);
        }
        if timers.get(ServerTimer::Probe).is_none() {
            if let Some(after) = self.config.timeouts.probe_after {
                timers.set(ServerTimer::Probe, now + after);
            }
        }
    }

    /// The client has been silent too long: ask it for a sign of life.
    pub(super) fn probe(&mut self, now: Time) {
        let Some(after) = self.config.timeouts.probe_after else {
            return;
        };
        if !self.is_online() {
            return;
        }
        if now < self.last_heard + after {
            // Heard from since this was set: wait from then.
            self.core
                .timers
                .set(ServerTimer::Probe, self.last_heard + after);
            return;
        }
        if let Some(sm) = &mut self.core.sm {
            sm.request(&mut self.core.out);
        } else {
            let Some(jid) = &self.jid else {
                return;
            };
            let Some(id) = self.core.random_id() else {
                self.finish(CloseReason::RandomUnavailable);
                return;
            };
            let mut ping = ping_request(&id).with_to(jid.as_str()).into_element();
            // From the server itself (RFC 6120 §8.1.2.1).
            ping.set_attr("from", self.config.domain.as_str());
            let _ = self.core.out.element(&ping);
        }
        let timeout = self.config.timeouts.probe_timeout;
        self.core
            .timers
            .set(ServerTimer::ProbeAnswer, now + timeout);
        // The next probe, if this one is answered.
        self.core.timers.set(ServerTimer::Probe, now + after);
    }
}
