//! Dead-client detection: a bound client that has been silent for
//! `ServerTimeouts::probe_after` is probed (`<r/>` with stream
//! management, an XEP-0199 ping without), and a probe unanswered for
//! `probe_timeout` ends the session as `PeerNotResponding`, which
//! detaches a resumable one.

use std::time::Instant;

use super::{Server, Timer};
use crate::stanza::Iq;
use crate::stream::{random_id, with_attr};
use crate::xml::{Element, ns};

impl Server {
    /// Any byte from the client: it is alive. Only the time is noted:
    /// moving the probe's deadline on every read would change the
    /// endpoint's `poll_timeout` (and a transport's timer heap) once per
    /// read; the probe re-arms itself from this time when it fires.
    pub(super) fn heard_from_client(&mut self, now: Instant) {
        if !self.is_online() {
            return;
        }
        self.last_heard = now;
        if self.timers.get(Timer::ProbeAnswer as usize).is_some() {
            self.timers.clear(Timer::ProbeAnswer as usize);
        }
        if self.timers.get(Timer::Probe as usize).is_none() {
            if let Some(after) = self.config.timeouts.probe_after {
                self.timers.set(Timer::Probe as usize, now + after);
            }
        }
    }

    /// The client has been silent too long: ask it for a sign of life.
    pub(super) fn probe(&mut self, now: Instant) {
        let Some(after) = self.config.timeouts.probe_after else {
            return;
        };
        if !self.is_online() {
            return;
        }
        if now < self.last_heard + after {
            // Heard from since this was set: wait from then.
            self.timers
                .set(Timer::Probe as usize, self.last_heard + after);
            return;
        }
        match (&mut self.sm, &self.jid) {
            (Some(sm), _) => sm.request(&mut self.out),
            (None, Some(jid)) => {
                let id = random_id(&mut *self.random);
                let ping = Iq::get(&id, Element::builder("ping", ns::PING).build())
                    .with_to(jid.as_str())
                    .into_element();
                // From the server itself (RFC 6120 §8.1.2.1).
                let ping = with_attr(ping.as_ref(), "from", self.config.domain.as_str());
                let _ = self.out.element(&ping);
            }
            (None, None) => return,
        }
        let timeout = self.config.timeouts.probe_timeout;
        self.timers.set(Timer::ProbeAnswer as usize, now + timeout);
        // The next probe, if this one is answered.
        self.timers.set(Timer::Probe as usize, now + after);
    }
}
