//! The queue of stanzas sent but not yet acknowledged (XEP-0198 §4-§5).

use std::collections::VecDeque;
use std::fmt;

use crate::stanza::WireStanza;
use crate::stream_error::{StreamError, StreamErrorCondition};
use crate::xml::{Element, ns};

/// The default bound on the bytes [`Unacked`] holds: 512 KiB. Two
/// full-size (256 KiB) stanzas, or about a thousand chat messages: far
/// more than a client that acknowledges now and then leaves unacknowledged,
/// while a hundred clients that never do cannot take more than 50 MiB.
pub const DEFAULT_MAX_UNACKED_BYTES: usize = 512 * 1024;

/// Stanzas we sent that the peer has not acknowledged yet, oldest first,
/// as the bytes that were sent, with the outbound counter: the queue holds
/// stanzas number `acked + 1 ..= sent` (modulo 2^32).
///
/// **Bounded twice:** by a number of stanzas and by their bytes (what a
/// peer that never acknowledges can make us hold).
/// **Policy when full:** [`Unacked::push`] refuses the stanza and hands it
/// back in [`QueueFull`]; nothing already queued is ever dropped. The
/// client turns that into `CommandError::QueueFull` (the application
/// retries after the next acknowledgement); a stanza the endpoint must
/// send by itself (an automatic answer) that finds the queue full means
/// the peer stopped acknowledging, and the connection is treated as dead
/// (the state stays resumable).
#[derive(Clone, Debug, PartialEq)]
pub struct Unacked {
    items: VecDeque<WireStanza>,
    acked: u32,
    capacity: usize,
    bytes: usize,
    max_bytes: usize,
}

/// The answer to [`Unacked::ack`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ack {
    /// How many stanzas this acknowledgement removed from the queue.
    pub newly_acked: usize,
}

/// The queue is at its bound; the stanza was not queued (nor sent).
#[derive(Clone, Debug, PartialEq)]
pub struct QueueFull(pub WireStanza);

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
    /// An empty queue holding at most `capacity` stanzas (at least 1) and
    /// [`DEFAULT_MAX_UNACKED_BYTES`], with nothing sent yet.
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
            bytes: 0,
            max_bytes: DEFAULT_MAX_UNACKED_BYTES,
        }
    }

    /// Bounds the bytes held (at least one stanza is always taken, however
    /// large, so a full-size stanza cannot jam an empty queue).
    #[must_use]
    pub fn with_max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Queues a stanza that is being sent now.
    ///
    /// # Errors
    /// [`QueueFull`] (with the stanza) when `capacity` stanzas wait for an
    /// acknowledgement, or this one would take the bytes held past the
    /// bound.
    pub fn push(&mut self, stanza: WireStanza) -> Result<(), QueueFull> {
        if !self.has_room_for(stanza.len()) {
            return Err(QueueFull(stanza));
        }
        self.bytes = self.bytes.saturating_add(stanza.len());
        self.items.push_back(stanza);
        Ok(())
    }

    /// Whether a stanza of `len` bytes would be taken.
    pub fn has_room_for(&self, len: usize) -> bool {
        self.items.len() < self.capacity
            && (self.items.is_empty() || self.bytes.saturating_add(len) <= self.max_bytes)
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
        for gone in self.items.drain(..newly) {
            self.bytes = self.bytes.saturating_sub(gone.len());
        }
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

    /// The bytes of the stanzas waiting.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether everything sent was acknowledged.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether the stanza bound is reached (the byte bound depends on the
    /// next stanza's size: see [`Unacked::has_room_for`]).
    pub fn is_full(&self) -> bool {
        self.items.len() >= self.capacity
    }

    /// The bound on stanzas.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The bound on bytes.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// The unacknowledged stanzas, oldest first.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &WireStanza> {
        self.items.iter()
    }

    /// Takes every unacknowledged stanza out, oldest first; the counter
    /// then counts them as acknowledged (they are handed to someone else).
    pub fn take_all(&mut self) -> Vec<WireStanza> {
        self.acked = self.sent();
        self.bytes = 0;
        self.items.drain(..).collect()
    }

    /// [`Unacked::take_all`] read back into elements, for whoever must
    /// reroute, bounce or report them.
    pub fn take_all_elements(&mut self) -> Vec<Element> {
        self.take_all()
            .iter()
            .filter_map(|stanza| stanza.to_element().ok())
            .collect()
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

    fn stanza(i: u64) -> WireStanza {
        let el = Element::builder("message", ns::CLIENT)
            .attr("id", i.to_string())
            .build();
        WireStanza::from_element(&el).unwrap()
    }

    fn id(stanza: &WireStanza) -> String {
        stanza.to_element().unwrap().attr("id").unwrap().to_owned()
    }

    #[test]
    fn bytes_are_bounded_but_one_stanza_always_fits() {
        let one = stanza(1).len();
        let mut q = Unacked::new(100).with_max_bytes(2 * one + 1);
        q.push(stanza(1)).unwrap();
        q.push(stanza(2)).unwrap();
        assert_eq!(q.bytes(), 2 * one);
        assert!(q.push(stanza(3)).is_err());
        q.ack(2).unwrap();
        assert_eq!(q.bytes(), 0);
        let mut tiny = Unacked::new(100).with_max_bytes(1);
        tiny.push(stanza(1)).unwrap();
        assert!(tiny.push(stanza(2)).is_err());
        assert_eq!(tiny.take_all_elements().len(), 1);
        assert_eq!(tiny.bytes(), 0);
    }

    #[test]
    fn full_queue_refuses_and_keeps_what_it_has() {
        let mut q = Unacked::new(2);
        q.push(stanza(1)).unwrap();
        q.push(stanza(2)).unwrap();
        let QueueFull(back) = q.push(stanza(3)).unwrap_err();
        assert_eq!(id(&back), "3");
        assert_eq!(q.len(), 2);
        q.ack(1).unwrap();
        q.push(stanza(3)).unwrap();
        let ids: Vec<_> = q.iter().map(id).collect();
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
        assert_eq!(id(q.iter().next().unwrap()), "3");
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
                let ids: Vec<u64> = q.iter().map(|e| id(e).parse().unwrap()).collect();
                prop_assert_eq!(ids, model.iter().copied().collect::<Vec<_>>());
            }
        }
    }
}
