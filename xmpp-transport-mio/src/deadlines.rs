//! The driver's deadlines: a min-heap of (deadline, connection)
//! entries with lazy deletion.
//!
//! Each connection remembers the one deadline it has in the heap. When its
//! endpoint's deadline changes, a new entry is pushed and the old one is
//! left behind; popping skips entries that no longer match their
//! connection's current deadline. The earliest deadline is the heap's top
//! (after skipping stale entries), so a wake-up never scans all
//! connections. Stale entries are bounded by a rebuild once they
//! outnumber the live ones.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use xmpp_proto::time::Time;

use crate::ConnId;

#[derive(Default)]
pub(crate) struct Deadlines {
    heap: BinaryHeap<Reverse<(Time, u32, u32)>>,
}

impl Deadlines {
    pub(crate) fn push(&mut self, at: Time, id: ConnId) {
        self.heap.push(Reverse((at, id.slot, id.generation)));
    }

    /// The earliest entry, live or stale; `is_live` tells which, and stale
    /// ones are dropped on the way.
    pub(crate) fn peek(&mut self, is_live: impl Fn(ConnId, Time) -> bool) -> Option<Time> {
        while let Some(Reverse((at, slot, generation))) = self.heap.peek().copied() {
            if is_live(ConnId { slot, generation }, at) {
                return Some(at);
            }
            self.heap.pop();
        }
        None
    }

    /// Removes and returns the earliest entry if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Time) -> Option<(Time, ConnId)> {
        match self.heap.peek() {
            Some(Reverse((at, slot, generation))) if *at <= now => {
                let entry = (
                    *at,
                    ConnId {
                        slot: *slot,
                        generation: *generation,
                    },
                );
                self.heap.pop();
                Some(entry)
            }
            _ => None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// Keeps only the entries `is_live` accepts.
    pub(crate) fn rebuild(&mut self, is_live: impl Fn(ConnId, Time) -> bool) {
        let entries = std::mem::take(&mut self.heap).into_vec();
        self.heap = entries
            .into_iter()
            .filter(|Reverse((at, slot, generation))| {
                is_live(
                    ConnId {
                        slot: *slot,
                        generation: *generation,
                    },
                    *at,
                )
            })
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use xmpp_transport_std::clock;

    #[test]
    fn stale_entries_are_skipped() {
        let t0 = clock::now();
        let a = ConnId {
            slot: 0,
            generation: 0,
        };
        let b = ConnId {
            slot: 1,
            generation: 0,
        };
        let mut timers = Deadlines::default();
        timers.push(t0 + Duration::from_secs(1), a);
        timers.push(t0 + Duration::from_secs(2), b);
        // `a` moved its deadline to 3 s: the 1 s entry is stale.
        timers.push(t0 + Duration::from_secs(3), a);
        let live = |id: ConnId, at: Time| {
            (id == a && at == t0 + Duration::from_secs(3))
                || (id == b && at == t0 + Duration::from_secs(2))
        };
        assert_eq!(timers.peek(live), Some(t0 + Duration::from_secs(2)));
        assert_eq!(timers.len(), 2);
        timers.rebuild(|id, _| id == a);
        assert_eq!(timers.len(), 1);
    }
}
