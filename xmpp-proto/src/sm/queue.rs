//! The queue of stanzas sent but not yet acknowledged (XEP-0198 §4-§5).

use std::collections::VecDeque;
use std::fmt;

use crate::stream_error::{StreamError, StreamErrorCondition};
use crate::xml::{Element, ns};

/// Stanzas we sent that the peer has not acknowledged yet, oldest first,
/// with the outbound counter: the queue holds stanzas number
/// `acked + 1 ..= sent` (modulo 2^32).
///
/// **Policy when full:** [`Unacked::push`] refuses the stanza and hands it
/// back in [`QueueFull`]; nothing already queued is ever dropped. The
/// client turns that into `SendError::QueueFull` (the application retries
/// after the next acknowledgement); a stanza the endpoint must send by
/// itself (an automatic answer) that finds the queue full means the peer
/// stopped acknowledging, and the connection is treated as dead (the
/// state stays resumable).
#[derive(Clone, Debug, PartialEq)]
pub struct Unacked {
    items: VecDeque<Element>,
    acked: u32,
    capacity: usize,
}

/// The answer to [`Unacked::ack`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ack {
    /// How many stanzas this acknowledgement removed from the queue.
    pub newly_acked: usize,
}

/// The queue is at its bound; the stanza was not queued (nor sent).
#[derive(Clone, Debug, PartialEq)]
pub struct QueueFull(pub Element);

/// The peer acknowledged stanzas we never sent (a hostile or broken `h`).
/// XEP-0198 §4 makes this a stream error; see
/// [`HandledCountTooHigh::stream_error`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandledCountTooHigh {
    /// The `h` the peer sent.
    pub h: u32,
    /// How many stanzas we had sent (modulo 2^32).
    pub sent: u32,
}

impl Unacked {
    /// An empty queue holding at most `capacity` stanzas (at least 1),
    /// with nothing sent yet.
    pub fn new(capacity: usize) -> Self {
        Unacked::starting_at(capacity, 0)
    }

    /// An empty queue whose counter says `sent` stanzas were sent and
    /// acknowledged already (used after a resumption, and to test
    /// wraparound).
    pub fn starting_at(capacity: usize, sent: u32) -> Self {
        Unacked {
            items: VecDeque::new(),
            acked: sent,
            capacity: capacity.max(1),
        }
    }

    /// Queues a stanza that is being sent now.
    ///
    /// # Errors
    /// [`QueueFull`] (with the stanza) when `capacity` stanzas wait for an
    /// acknowledgement.
    pub fn push(&mut self, el: Element) -> Result<(), QueueFull> {
        if self.items.len() >= self.capacity {
            return Err(QueueFull(el));
        }
        self.items.push_back(el);
        Ok(())
    }

    /// The peer says it handled `h` stanzas in all: drops those from the
    /// front of the queue.
    ///
    /// # Errors
    /// [`HandledCountTooHigh`] if `h` acknowledges more than was sent, or
    /// goes backwards (which, modulo 2^32, is the same thing). The queue is
    /// left unchanged.
    pub fn ack(&mut self, h: u32) -> Result<Ack, HandledCountTooHigh> {
        let newly = h.wrapping_sub(self.acked) as usize;
        if newly > self.items.len() {
            return Err(HandledCountTooHigh {
                h,
                sent: self.sent(),
            });
        }
        self.items.drain(..newly);
        self.acked = h;
        Ok(Ack { newly_acked: newly })
    }

    /// How many stanzas were sent in all (modulo 2^32).
    pub fn sent(&self) -> u32 {
        // The length is at most `capacity`, far below 2^32 in practice;
        // the truncation is the modulo XEP-0198 wants anyway.
        self.acked.wrapping_add(self.items.len() as u32)
    }

    /// The last `h` the peer acknowledged.
    pub fn acked(&self) -> u32 {
        self.acked
    }

    /// Stanzas waiting for an acknowledgement.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether everything sent was acknowledged.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether [`Unacked::push`] would refuse.
    pub fn is_full(&self) -> bool {
        self.items.len() >= self.capacity
    }

    /// The bound.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The unacknowledged stanzas, oldest first.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &Element> {
        self.items.iter()
    }

    /// Takes every unacknowledged stanza out, oldest first; the counter
    /// then counts them as acknowledged (they are handed to someone else).
    pub fn take_all(&mut self) -> Vec<Element> {
        self.acked = self.sent();
        self.items.drain(..).collect()
    }
}

impl HandledCountTooHigh {
    /// The stream error XEP-0198 §4 prescribes: `undefined-condition` with
    /// `<handled-count-too-high h='' send-count=''/>`.
    pub fn stream_error(&self) -> StreamError {
        let mut e = StreamError::new(StreamErrorCondition::UndefinedCondition)
            .with_text("you acknowledged more stanzas than we sent");
        e.application = Some(
            Element::builder("handled-count-too-high", ns::SM)
                .attr("h", self.h.to_string())
                .attr("send-count", self.sent.to_string())
                .build(),
        );
        e
    }
}

impl fmt::Display for HandledCountTooHigh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the peer acknowledged {} stanzas but only {} were sent",
            self.h, self.sent
        )
    }
}

impl std::error::Error for HandledCountTooHigh {}

impl fmt::Display for QueueFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("too many stanzas wait for an acknowledgement")
    }
}

impl std::error::Error for QueueFull {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn stanza(i: u64) -> Element {
        Element::builder("message", ns::CLIENT)
            .attr("id", i.to_string())
            .build()
    }

    #[test]
    fn full_queue_refuses_and_keeps_what_it_has() {
        let mut q = Unacked::new(2);
        q.push(stanza(1)).unwrap();
        q.push(stanza(2)).unwrap();
        let QueueFull(back) = q.push(stanza(3)).unwrap_err();
        assert_eq!(back.attr("id"), Some("3"));
        assert_eq!(q.len(), 2);
        q.ack(1).unwrap();
        q.push(stanza(3)).unwrap();
        let ids: Vec<_> = q.iter().map(|e| e.attr("id").unwrap().to_owned()).collect();
        assert_eq!(ids, ["2", "3"]);
    }

    #[test]
    fn wraps_at_2_pow_32() {
        let mut q = Unacked::starting_at(10, u32::MAX - 1);
        for i in 0..4 {
            q.push(stanza(i)).unwrap();
        }
        assert_eq!(q.sent(), 2);
        assert_eq!(q.ack(u32::MAX), Ok(Ack { newly_acked: 1 }));
        assert_eq!(q.ack(1), Ok(Ack { newly_acked: 2 }));
        assert_eq!(q.iter().next().unwrap().attr("id"), Some("3"));
        assert_eq!(q.ack(2), Ok(Ack { newly_acked: 1 }));
        assert!(q.is_empty());
    }

    #[test]
    fn hostile_h_is_an_error_and_changes_nothing() {
        let mut q = Unacked::new(10);
        q.push(stanza(1)).unwrap();
        q.push(stanza(2)).unwrap();
        q.ack(1).unwrap();
        for h in [3, u32::MAX, 0] {
            let e = q.ack(h).unwrap_err();
            assert_eq!(e, HandledCountTooHigh { h, sent: 2 });
            assert_eq!(q.len(), 1);
        }
        let el = HandledCountTooHigh { h: 3, sent: 2 }
            .stream_error()
            .to_element();
        let app = el.child("handled-count-too-high", ns::SM).unwrap();
        assert_eq!(app.attr("h"), Some("3"));
        assert_eq!(app.attr("send-count"), Some("2"));
        assert!(el.child("undefined-condition", ns::STREAMS).is_some());
    }

    #[derive(Clone, Debug)]
    enum Op {
        Push,
        /// Acknowledge this many of the outstanding ones (clamped).
        Ack(usize),
        /// An `h` beyond what was sent by this much (at least 1).
        Hostile(u32),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => Just(Op::Push),
            2 => (0usize..6).prop_map(Op::Ack),
            1 => (1u32..1000).prop_map(Op::Hostile),
        ]
    }

    proptest! {
        /// Whatever the start (near the wrap included) and the mix of
        /// sends, acks and hostile acks: the queue never exceeds its
        /// bound, holds exactly the unacknowledged stanzas in sending
        /// order, and `sent - acked == len` modulo 2^32.
        #[test]
        fn counter_and_queue_invariants(
            start in prop_oneof![Just(u32::MAX - 3), any::<u32>(), Just(0u32)],
            capacity in 1usize..8,
            ops in proptest::collection::vec(op(), 0..200),
        ) {
            let mut q = Unacked::starting_at(capacity, start);
            let mut next = 0u64;
            let mut model: std::collections::VecDeque<u64> = Default::default();
            for op in ops {
                match op {
                    Op::Push => {
                        let r = q.push(stanza(next));
                        prop_assert_eq!(r.is_ok(), model.len() < capacity);
                        if r.is_ok() {
                            model.push_back(next);
                        }
                        next += 1;
                    }
                    Op::Ack(n) => {
                        let n = n.min(model.len());
                        let h = q.acked().wrapping_add(n as u32);
                        prop_assert_eq!(q.ack(h), Ok(Ack { newly_acked: n }));
                        model.drain(..n);
                    }
                    Op::Hostile(over) => {
                        let h = q.sent().wrapping_add(over);
                        prop_assert!(q.ack(h).is_err());
                    }
                }
                prop_assert!(q.len() <= capacity);
                prop_assert_eq!(q.sent().wrapping_sub(q.acked()) as usize, q.len());
                let ids: Vec<u64> = q.iter().map(|e| e.attr("id").unwrap().parse().unwrap()).collect();
                prop_assert_eq!(ids, model.iter().copied().collect::<Vec<_>>());
            }
        }
    }
}
