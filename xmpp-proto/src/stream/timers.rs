//! A fixed table of deadlines, one slot per kind of timer; the next wake-up
//! is their minimum.

use std::time::Instant;

/// `N` optional deadlines, indexed by a role's timer enum (`as usize`).
#[derive(Clone, Debug)]
pub(crate) struct Timers<const N: usize> {
    deadlines: [Option<Instant>; N],
}

impl<const N: usize> Default for Timers<N> {
    fn default() -> Self {
        Timers {
            deadlines: [None; N],
        }
    }
}

impl<const N: usize> Timers<N> {
    pub(crate) fn set(&mut self, slot: usize, at: Instant) {
        if let Some(d) = self.deadlines.get_mut(slot) {
            *d = Some(at);
        }
    }

    pub(crate) fn clear(&mut self, slot: usize) {
        if let Some(d) = self.deadlines.get_mut(slot) {
            *d = None;
        }
    }

    pub(crate) fn get(&self, slot: usize) -> Option<Instant> {
        self.deadlines.get(slot).copied().flatten()
    }

    pub(crate) fn next(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Clears and returns the first slot whose deadline is at or before
    /// `now`, lowest slot first.
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<usize> {
        let slot = self
            .deadlines
            .iter()
            .position(|d| d.is_some_and(|d| d <= now))?;
        self.clear(slot);
        Some(slot)
    }

    pub(crate) fn clear_all(&mut self) {
        self.deadlines = [None; N];
    }
}
