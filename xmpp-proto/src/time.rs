//! Time as the core sees it: a point on the application's monotonic clock.
//!
//! The core never reads a clock. Every input carries `now`, a [`Time`]:
//! the time elapsed since an epoch the application chose (when the
//! process started, when the connection opened, zero in a test). Any
//! platform can produce one: `std::time::Instant` where std has a clock
//! (see [`Time::from_instant`]), `performance.now()` in a browser, a tick
//! counter on a microcontroller, a simulated clock in tests. Deadlines
//! the core hands out ([`poll_timeout`](crate::endpoint::Endpoint::poll_timeout))
//! are on the same clock.
//!
//! ```
//! use std::time::Duration;
//! use xmpp_proto::time::Time;
//!
//! let start = Time::ZERO;
//! let later = start + Duration::from_secs(90);
//! assert_eq!(later - start, Duration::from_secs(90));
//! // Arithmetic saturates instead of panicking.
//! assert_eq!(start - later, Duration::ZERO);
//! assert_eq!(Time::MAX + Duration::from_secs(1), Time::MAX);
//! ```

use std::fmt;
use std::ops::{Add, AddAssign, Sub};
use std::time::{Duration, Instant};

/// A point on a monotonic clock: the duration since the application's
/// epoch. See the module documentation.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(Duration);

impl Time {
    /// The epoch itself.
    pub const ZERO: Time = Time(Duration::ZERO);

    /// The farthest point representable; adding to it stays there.
    pub const MAX: Time = Time(Duration::MAX);

    /// The point `since_epoch` after the epoch.
    pub const fn from_duration(since_epoch: Duration) -> Self {
        Time(since_epoch)
    }

    /// The point `millis` milliseconds after the epoch (for clocks that
    /// count milliseconds, such as a browser's `performance.now()`).
    pub const fn from_millis(millis: u64) -> Self {
        Time(Duration::from_millis(millis))
    }

    /// `at` on a clock whose epoch is the instant `epoch` (an `at` before
    /// the epoch is the epoch).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use xmpp_proto::time::Time;
    ///
    /// let epoch = Instant::now();
    /// let now = Time::from_instant(epoch, epoch + Duration::from_millis(1500));
    /// assert_eq!(now, Time::from_millis(1500));
    /// assert_eq!(now.to_instant(epoch), epoch + Duration::from_millis(1500));
    /// ```
    pub fn from_instant(epoch: Instant, at: Instant) -> Self {
        Time(at.saturating_duration_since(epoch))
    }

    /// This point as an instant, on a clock whose epoch is `epoch`.
    pub fn to_instant(self, epoch: Instant) -> Instant {
        epoch.checked_add(self.0).unwrap_or(epoch)
    }

    /// The duration since the epoch.
    pub const fn since_epoch(self) -> Duration {
        self.0
    }

    /// How long after `earlier` this is; zero if it is not later.
    pub fn saturating_duration_since(self, earlier: Time) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<Duration> for Time {
    type Output = Time;

    /// Saturates at [`Time::MAX`]: a configured "never" (a huge timeout)
    /// must not overflow.
    fn add(self, rhs: Duration) -> Time {
        Time(self.0.saturating_add(rhs))
    }
}

impl AddAssign<Duration> for Time {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl Sub<Time> for Time {
    type Output = Duration;

    /// The duration from `rhs` to `self`, zero if `rhs` is later.
    fn sub(self, rhs: Time) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

impl Sub<Duration> for Time {
    type Output = Time;

    /// Saturates at the epoch.
    fn sub(self, rhs: Duration) -> Time {
        Time(self.0.saturating_sub(rhs))
    }
}

impl From<Duration> for Time {
    fn from(since_epoch: Duration) -> Self {
        Time(since_epoch)
    }
}

impl fmt::Debug for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Time({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Time::from_millis(10);
        assert_eq!(t - Duration::from_secs(1), Time::ZERO);
        assert_eq!(Time::ZERO - t, Duration::ZERO);
        assert_eq!(t + Duration::MAX, Time::MAX);
        let mut u = t;
        u += Duration::from_millis(5);
        assert_eq!(u.since_epoch(), Duration::from_millis(15));
    }

    #[test]
    fn instants_before_the_epoch_are_the_epoch() {
        let epoch = Instant::now() + Duration::from_secs(10);
        assert_eq!(Time::from_instant(epoch, Instant::now()), Time::ZERO);
    }
}
