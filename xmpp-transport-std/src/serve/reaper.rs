//! The thread that runs the hub's timer, so detached sessions expire on
//! time even when no connection is active.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use xmpp_proto::time::Time;

use super::pump::pump;
use super::{Shared, lock};
use crate::clock;

/// The thread that runs the hub's timer (detached sessions expire): it
/// sleeps until the hub's next deadline, and is woken when that moves
/// earlier or the server stops.
#[derive(Default)]
pub(super) struct Reaper {
    woken: Mutex<bool>,
    signal: Condvar,
    /// The deadline the reaper sleeps towards.
    expected: Mutex<Option<Time>>,
}

impl Reaper {
    pub(super) fn wake(&self) {
        *lock(&self.woken) = true;
        self.signal.notify_one();
    }

    /// The hub's next deadline is `next`: wake the reaper if that is
    /// sooner than it expects.
    pub(super) fn expect(&self, next: Option<Time>) {
        let sooner = {
            let mut expected = lock(&self.expected);
            let sooner = match (next, *expected) {
                (Some(n), Some(e)) => n < e,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if sooner {
                *expected = next;
            }
            sooner
        };
        if sooner {
            self.wake();
        }
    }

    /// Sleeps until woken or `until`.
    fn sleep(&self, until: Option<Time>) {
        let mut woken = lock(&self.woken);
        if !*woken {
            let wait = until.map_or(Duration::from_secs(3600), |at| {
                at.saturating_duration_since(clock::now())
            });
            woken = self
                .signal
                .wait_timeout(woken, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *woken = false;
    }
}

impl Shared {
    /// The reaper thread: runs the hub's timer.
    pub(super) fn reap(self: Arc<Self>) {
        while !self.stopping.load(Ordering::SeqCst) {
            let next = {
                let mut hub = lock(&self.hub);
                hub.handle_timeout(clock::now());
                hub.poll_timeout()
            };
            pump(&self, None);
            *lock(&self.reaper.expected) = next;
            self.reaper.sleep(next);
        }
    }
}
