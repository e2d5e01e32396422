//! A fixed table of deadlines, one slot per kind of timer of a role; the
//! next wake-up is their minimum.

use crate::time::Time;

/// The timers of one role: a small enum listing every kind once. Public
/// only in name, like the `Role` that names it.
#[allow(unreachable_pub)]
pub trait TimerKind: Copy + Eq + 'static {
    /// Every kind, in firing priority (earlier entries fire first when
    /// several are due at once).
    const ALL: &'static [Self];
    /// The stream management acknowledgement request timer, which the
    /// shared stream management code arms.
    const SM_REQUEST: Self;
}

/// The most timer kinds a role may have.
const SLOTS: usize = 8;

/// One optional deadline per timer kind.
#[derive(Clone, Debug)]
pub(crate) struct Timers<T> {
    deadlines: [Option<Time>; SLOTS],
    kinds: std::marker::PhantomData<T>,
}

impl<T: TimerKind> Default for Timers<T> {
    fn default() -> Self {
        Timers {
            deadlines: [None; SLOTS],
            kinds: std::marker::PhantomData,
        }
    }
}

impl<T: TimerKind> Timers<T> {
    pub(crate) fn set(&mut self, timer: T, at: Time) {
        if let Some(d) = self.slot(timer) {
            *d = Some(at);
        }
    }

    /// Sets `timer` to `at`, or clears it for `None`.
    pub(crate) fn set_or_clear(&mut self, timer: T, at: Option<Time>) {
        if let Some(d) = self.slot(timer) {
            *d = at;
        }
    }

    pub(crate) fn clear(&mut self, timer: T) {
        if let Some(d) = self.slot(timer) {
            *d = None;
        }
    }

    pub(crate) fn get(&self, timer: T) -> Option<Time> {
        let index = T::ALL.iter().position(|t| *t == timer)?;
        self.deadlines.get(index).copied().flatten()
    }

    pub(crate) fn next(&self) -> Option<Time> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Clears and returns the first timer whose deadline is at or before
    /// `now`, in the order of [`TimerKind::ALL`].
    pub(crate) fn pop_expired(&mut self, now: Time) -> Option<T> {
        let index = self
            .deadlines
            .iter()
            .position(|d| d.is_some_and(|d| d <= now))?;
        if let Some(d) = self.deadlines.get_mut(index) {
            *d = None;
        }
        T::ALL.get(index).copied()
    }

    pub(crate) fn clear_all(&mut self) {
        self.deadlines = [None; SLOTS];
    }

    fn slot(&mut self, timer: T) -> Option<&mut Option<Time>> {
        debug_assert!(T::ALL.len() <= SLOTS, "too many timer kinds");
        let index = T::ALL.iter().position(|t| *t == timer)?;
        self.deadlines.get_mut(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Kind {
        A,
        B,
    }
    impl TimerKind for Kind {
        const ALL: &'static [Kind] = &[Kind::A, Kind::B];
        const SM_REQUEST: Kind = Kind::B;
    }

    #[test]
    fn earliest_and_expiry_order() {
        let t = |s| Time::ZERO + Duration::from_secs(s);
        let mut timers = Timers::<Kind>::default();
        timers.set(Kind::B, t(5));
        timers.set(Kind::A, t(9));
        assert_eq!(timers.next(), Some(t(5)));
        assert_eq!(timers.pop_expired(t(4)), None);
        assert_eq!(timers.pop_expired(t(10)), Some(Kind::A));
        assert_eq!(timers.pop_expired(t(10)), Some(Kind::B));
        assert_eq!(timers.next(), None);
        timers.set_or_clear(Kind::A, Some(t(1)));
        assert_eq!(timers.get(Kind::A), Some(t(1)));
        timers.clear_all();
        assert_eq!(timers.get(Kind::A), None);
    }
}
