//! The count of stanzas handled from the peer (XEP-0198 §4, `h`).

/// How many stanzas we handled from the peer since stream management was
/// enabled, modulo 2^32. Incremented once per received stanza (not per
/// nonza); the value goes into `<a h=''/>`, `<resume h=''/>` and
/// `<resumed h=''/>`.
///
/// ```
/// use xmpp_proto::sm::Handled;
///
/// let mut h = Handled::starting_at(u32::MAX);
/// h.increment();
/// assert_eq!(h.value(), 0); // wraps, as XEP-0198 requires
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Handled(u32);

impl Handled {
    /// A counter at zero: what `<enable/>`/`<enabled/>` starts with.
    pub fn new() -> Self {
        Handled(0)
    }

    /// A counter at `value` (after a resumption, or for tests).
    pub fn starting_at(value: u32) -> Self {
        Handled(value)
    }

    /// One more stanza handled.
    pub fn increment(&mut self) {
        self.0 = self.0.wrapping_add(1);
    }

    /// The value to send as `h`.
    pub fn value(self) -> u32 {
        self.0
    }
}
