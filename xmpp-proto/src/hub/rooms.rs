//! The hub's own group chat service: a [`RoomService`] on a subdomain,
//! reached through the router like a component (a reserved session id
//! stands for it), so its stanzas follow the same delivery rules.

use super::Hub;
use crate::jid::JidError;
use crate::muc::service::RoomService;
use crate::router::{Routed, SessionId};
use crate::stanza::{Stanza, WireStanza};

/// The session id that stands for the room service in the router.
pub(super) const ROOMS: SessionId = SessionId(u64::MAX);

/// The current UTC time (XEP-0082), from the transport's clock.
pub type WallClock = Box<dyn Fn() -> String + Send>;

/// A [`WallClock`] the hub can show in its `Debug` output.
pub(super) struct Clock(WallClock);

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WallClock")
    }
}

impl Hub {
    /// Serves group chat rooms (XEP-0045) on `domain` (usually
    /// `conference.<our domain>`); `secret` salts occupant ids (see
    /// [`RoomService::new`]). History is kept only with a wall clock
    /// ([`Hub::with_wall_clock`]): its messages carry delay stamps.
    ///
    /// # Errors
    /// If `domain` is not a domain.
    ///
    /// ```
    /// use xmpp_proto::hub::Hub;
    ///
    /// let hub = Hub::new("example.com")?.with_rooms("conference.example.com", [0; 16])?;
    /// assert!(hub.router().is_component_domain("conference.example.com"));
    /// # Ok::<(), xmpp_proto::jid::JidError>(())
    /// ```
    pub fn with_rooms(mut self, domain: &str, secret: [u8; 16]) -> Result<Self, JidError> {
        let service = RoomService::new(domain, secret)?;
        self.router.add_component_domain(service.domain());
        self.router.attach_component(service.domain(), ROOMS);
        self.rooms = Some(service);
        Ok(self)
    }

    /// Tells the hub the time of day (for the delay stamps of room
    /// history): `clock` returns the current UTC time as XEP-0082
    /// (`2026-12-03T10:00:00Z`). The core has no clock of its own.
    pub fn with_wall_clock(mut self, clock: WallClock) -> Self {
        self.wall_clock = Some(Clock(clock));
        self
    }

    /// The room service, if this hub runs one.
    pub fn rooms(&self) -> Option<&RoomService> {
        self.rooms.as_ref()
    }

    /// A stanza the router delivered to the room service: handled, and
    /// what the service sends is routed from its domain.
    pub(super) fn deliver_to_rooms(&mut self, stanza: &WireStanza, out: &mut Vec<Routed>) {
        let Some(service) = &mut self.rooms else {
            return;
        };
        let Ok(stanza) = stanza.to_element().map(Stanza::from_element) else {
            return;
        };
        let Ok(stanza) = stanza else {
            return;
        };
        let stamp = match &self.wall_clock {
            Some(Clock(clock)) => clock(),
            None => String::new(),
        };
        let mut sent = Vec::new();
        service.handle(&stanza, &stamp, &mut sent);
        for el in sent {
            if let Ok(stanza) = Stanza::from_element(el) {
                // What routing only read is dropped: no reader to recycle it.
                let _ = self.router.route(ROOMS, stanza, out);
            }
        }
    }
}
