//! The clock of the std transports: the operating system's monotonic
//! clock (`std::time::Instant`) as the core's [`Time`], with one epoch per
//! process, so that every connection, timer and command of a program (and
//! of the mio transport, which uses this clock too) agree.

use std::sync::OnceLock;
use std::time::Instant;

use xmpp_proto::time::Time;

/// The process's epoch: the first time the clock was read.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// The current time, for the core's `now` arguments.
///
/// ```
/// use std::time::Duration;
/// let a = xmpp_transport_std::clock::now();
/// std::thread::sleep(Duration::from_millis(2));
/// assert!(xmpp_transport_std::clock::now() > a);
/// ```
pub fn now() -> Time {
    Time::from_instant(epoch(), Instant::now())
}

/// The core's `time` as an instant on the system clock (for socket
/// timeouts and sleeping).
pub fn instant(time: Time) -> Instant {
    time.to_instant(epoch())
}

/// An instant of the system clock as the core's time.
pub fn time(instant: Instant) -> Time {
    Time::from_instant(epoch(), instant)
}
