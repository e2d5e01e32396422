//! The subscription state between a user and one contact, as the user's
//! server keeps it, and how presence subscription stanzas change it
//! (RFC 6121 §3 and Appendix A).
//!
//! The RFC's nine states are two independent halves: whether the user
//! sees the contact's presence (no, asked and waiting: "pending out", or
//! yes: "to") and whether the contact sees the user's (no, asked:
//! "pending in", or yes: "from"), plus the pre-approval flag (§3.4).
//! Each stanza touches one half, so each transition below is one line.

/// What the user's server knows about one contact's subscriptions.
///
/// ```
/// use xmpp_proto::roster::{Inbound, Outbound, Subscription, SubscriptionState};
///
/// // Juliet asks to see Romeo's presence; Romeo's server receives it.
/// let juliet_about_romeo = SubscriptionState::default();
/// let asked = juliet_about_romeo.outbound(Outbound::Subscribe);
/// assert!(asked.forward && asked.state.pending_out);
/// let romeo_about_juliet = SubscriptionState::default().inbound(Inbound::Subscribe);
/// assert!(romeo_about_juliet.forward && romeo_about_juliet.state.pending_in);
///
/// // Romeo approves; Juliet's server receives the approval.
/// let approved = romeo_about_juliet.state.outbound(Outbound::Subscribed);
/// assert_eq!(approved.state.subscription(), Subscription::From);
/// let seen = asked.state.inbound(Inbound::Subscribed);
/// assert_eq!(seen.state.subscription(), Subscription::To);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SubscriptionState {
    /// The user sees the contact's presence.
    pub to: bool,
    /// The user asked to and waits ("pending out", `ask='subscribe'`).
    pub pending_out: bool,
    /// The contact sees the user's presence.
    pub from: bool,
    /// The contact asked to and waits for the user ("pending in").
    pub pending_in: bool,
    /// The user approved a subscription the contact has not asked for yet.
    pub approved: bool,
}

/// A subscription stanza the user sends to the contact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outbound {
    /// Asks to see the contact's presence.
    Subscribe,
    /// Stops seeing the contact's presence (or withdraws the request).
    Unsubscribe,
    /// Lets the contact see the user's presence (or pre-approves).
    Subscribed,
    /// Denies or ends the contact's subscription (or a pre-approval).
    Unsubscribed,
}

/// A subscription stanza from the contact, arriving for the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Inbound {
    /// The contact asks to see the user's presence.
    Subscribe,
    /// The contact stops seeing the user's presence.
    Unsubscribe,
    /// The contact lets the user see its presence.
    Subscribed,
    /// The contact denies or ends the user's subscription.
    Unsubscribed,
}

/// The outcome of one stanza.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Transition {
    /// The state after it.
    pub state: SubscriptionState,
    /// Whether the state changed (the roster item is pushed to the
    /// user's resources, and stored).
    pub changed: bool,
    /// Whether the stanza goes on: routed to the contact (outbound) or
    /// delivered to the user's clients (inbound). A stanza that changes
    /// nothing is not passed on, except a subscribe or unsubscribe the
    /// user sends, which the contact's server judges for itself.
    pub forward: bool,
    /// Whether the user's server answers the contact with `subscribed` in
    /// the user's name (an inbound subscribe the user already granted or
    /// pre-approved, §3.1.3 and §3.4).
    pub auto_subscribed: bool,
}

impl SubscriptionState {
    /// The roster item's `subscription` value.
    pub fn subscription(self) -> super::Subscription {
        use super::Subscription;
        match (self.to, self.from) {
            (false, false) => Subscription::None,
            (true, false) => Subscription::To,
            (false, true) => Subscription::From,
            (true, true) => Subscription::Both,
        }
    }

    /// The state a roster item describes (without "pending in", which
    /// an item does not carry).
    pub fn from_item(item: &super::RosterItem) -> Self {
        SubscriptionState {
            to: item.subscription.we_see_contact(),
            pending_out: item.ask,
            from: item.subscription.contact_sees_us(),
            pending_in: false,
            approved: item.approved,
        }
    }

    /// Whether nothing at all is left between the two (the server may
    /// forget the contact if the user never added it).
    pub fn is_none(self) -> bool {
        self == SubscriptionState::default()
    }

    /// The user's server handles a stanza the user sends (Appendix A.2).
    pub fn outbound(self, stanza: Outbound) -> Transition {
        let mut next = self;
        let forward = match stanza {
            Outbound::Subscribe => {
                next.pending_out = !self.to;
                true
            }
            Outbound::Unsubscribe => {
                next.to = false;
                next.pending_out = false;
                true
            }
            Outbound::Subscribed if self.pending_in => {
                next.pending_in = false;
                next.from = true;
                next.approved = false;
                true
            }
            Outbound::Subscribed => {
                // Nothing asked: remembered as a pre-approval (§3.4),
                // unless the contact already has it all.
                next.approved = !self.from;
                false
            }
            Outbound::Unsubscribed => {
                let had = self.from || self.pending_in;
                next.from = false;
                next.pending_in = false;
                next.approved = false;
                had
            }
        };
        Transition {
            state: next,
            changed: next != self,
            forward,
            auto_subscribed: false,
        }
    }

    /// The user's server handles a stanza from the contact (Appendix
    /// A.3).
    pub fn inbound(self, stanza: Inbound) -> Transition {
        let mut next = self;
        let mut auto_subscribed = false;
        match stanza {
            Inbound::Subscribe if self.from => auto_subscribed = true,
            Inbound::Subscribe if self.approved => {
                next.from = true;
                next.approved = false;
                auto_subscribed = true;
            }
            Inbound::Subscribe => next.pending_in = true,
            Inbound::Unsubscribe => {
                next.from = false;
                next.pending_in = false;
            }
            Inbound::Subscribed if self.pending_out => {
                next.pending_out = false;
                next.to = true;
            }
            Inbound::Subscribed => {}
            Inbound::Unsubscribed => {
                next.to = false;
                next.pending_out = false;
            }
        }
        let changed = next != self;
        Transition {
            state: next,
            changed,
            // A request the contact's server answered for itself, or one
            // already waiting, does not bother the user again.
            forward: changed && !auto_subscribed,
            auto_subscribed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roster::Subscription;
    use proptest::prelude::*;

    /// The RFC's names for the nine states without pre-approval.
    fn named(name: &str) -> SubscriptionState {
        let mut s = SubscriptionState::default();
        for part in name.split('+') {
            match part {
                "None" => {}
                "To" => s.to = true,
                "From" => s.from = true,
                "Both" => (s.to, s.from) = (true, true),
                "Out" => s.pending_out = true,
                "In" => s.pending_in = true,
                other => panic!("unknown part {other}"),
            }
        }
        s
    }

    const STATES: [&str; 9] = [
        "None",
        "None+Out",
        "None+In",
        "None+Out+In",
        "To",
        "To+In",
        "From",
        "From+Out",
        "Both",
    ];

    #[test]
    fn outbound_subscribed_against_appendix_a_2_3() {
        // (existing, routed, new)
        let table = [
            ("None+In", true, "From"),
            ("None+Out+In", true, "From+Out"),
            ("To+In", true, "Both"),
            ("From", false, "From"),
            ("From+Out", false, "From+Out"),
            ("Both", false, "Both"),
        ];
        for (from, routed, to) in table {
            let t = named(from).outbound(Outbound::Subscribed);
            assert_eq!((t.forward, t.state), (routed, named(to)), "{from}");
        }
        // With nothing asked it becomes a pre-approval.
        for from in ["None", "None+Out", "To"] {
            let t = named(from).outbound(Outbound::Subscribed);
            assert!(!t.forward && t.state.approved, "{from}");
        }
    }

    #[test]
    fn inbound_subscribe_against_appendix_a_3_1() {
        // (existing, delivered, new, answered for the user)
        let table = [
            ("None", true, "None+In", false),
            ("None+Out", true, "None+Out+In", false),
            ("None+In", false, "None+In", false),
            ("None+Out+In", false, "None+Out+In", false),
            ("To", true, "To+In", false),
            ("To+In", false, "To+In", false),
            ("From", false, "From", true),
            ("From+Out", false, "From+Out", true),
            ("Both", false, "Both", true),
        ];
        for (from, delivered, to, auto) in table {
            let t = named(from).inbound(Inbound::Subscribe);
            assert_eq!(
                (t.forward, t.state, t.auto_subscribed),
                (delivered, named(to), auto),
                "{from}"
            );
        }
        let mut approved = named("To");
        approved.approved = true;
        let t = approved.inbound(Inbound::Subscribe);
        assert_eq!(
            (t.state, t.forward, t.auto_subscribed),
            (named("Both"), false, true)
        );
    }

    #[test]
    fn unsubscribe_and_unsubscribed_clear_one_half_each() {
        for name in STATES {
            let s = named(name);
            let out = s.outbound(Outbound::Unsubscribe).state;
            assert!(!out.to && !out.pending_out && out.from == s.from, "{name}");
            let denied = s.outbound(Outbound::Unsubscribed).state;
            assert!(
                !denied.from && !denied.pending_in && denied.to == s.to,
                "{name}"
            );
            let gone = s.inbound(Inbound::Unsubscribe).state;
            assert!(!gone.from && !gone.pending_in && gone.to == s.to, "{name}");
            let refused = s.inbound(Inbound::Unsubscribed).state;
            assert!(!refused.to && !refused.pending_out, "{name}");
        }
        assert_eq!(named("Both").subscription(), Subscription::Both);
    }

    /// Two users of one server: what each one's server side does with a
    /// stanza, and its answer, passed on at once.
    fn exchange(a: &mut SubscriptionState, b: &mut SubscriptionState, stanza: Outbound) {
        let sent = a.outbound(stanza);
        *a = sent.state;
        if !sent.forward {
            return;
        }
        let inbound = match stanza {
            Outbound::Subscribe => Inbound::Subscribe,
            Outbound::Unsubscribe => Inbound::Unsubscribe,
            Outbound::Subscribed => Inbound::Subscribed,
            Outbound::Unsubscribed => Inbound::Unsubscribed,
        };
        let received = b.inbound(inbound);
        *b = received.state;
        if received.auto_subscribed {
            *a = a.inbound(Inbound::Subscribed).state;
        }
    }

    fn stanza() -> impl Strategy<Value = Outbound> {
        prop_oneof![
            Just(Outbound::Subscribe),
            Just(Outbound::Unsubscribe),
            Just(Outbound::Subscribed),
            Just(Outbound::Unsubscribed),
        ]
    }

    proptest! {
        /// Whatever the two do, they agree on who sees whom, and on who
        /// waits for whom (RFC 6121 §3's invariants).
        #[test]
        fn both_sides_always_agree(steps in proptest::collection::vec((any::<bool>(), stanza()), 0..40)) {
            let (mut a, mut b) = (SubscriptionState::default(), SubscriptionState::default());
            for (a_acts, stanza) in steps {
                if a_acts {
                    exchange(&mut a, &mut b, stanza);
                } else {
                    exchange(&mut b, &mut a, stanza);
                }
                prop_assert_eq!(a.to, b.from);
                prop_assert_eq!(b.to, a.from);
                prop_assert_eq!(a.pending_out, b.pending_in);
                prop_assert_eq!(b.pending_out, a.pending_in);
                prop_assert!(!(a.to && a.pending_out));
                prop_assert!(!(a.from && a.pending_in));
                prop_assert!(!(a.approved && a.from));
            }
        }
    }
}
