//! XEP-0280 message carbons: a resource that enabled them gets a copy of
//! the chat messages its account sends from its other resources (`<sent>`)
//! and of those the account receives on its other resources
//! (`<received>`), so that every device of a user shows the whole
//! conversation.

use super::Hub;
use crate::jid::JidRef;
use crate::router::{Routed, SessionId};
use crate::stanza::{Iq, IqType, MessageType, Stanza};
use crate::xml::{Element, ns};

impl Hub {
    /// Answers `<enable/>` or `<disable/>` (an IQ set to the server or the
    /// own account); `None` if `iq` is neither.
    pub(super) fn carbons_iq(&mut self, session: SessionId, iq: &Iq) -> Option<Element> {
        let payload = iq.payload().filter(|p| p.ns() == ns::CARBONS)?;
        let on = match payload.name() {
            "enable" => true,
            "disable" => false,
            _ => return None,
        };
        if iq.kind() != IqType::Set {
            return None;
        }
        let flags = self.im_flags.entry(session).or_default();
        if flags.carbons != on {
            flags.carbons = on;
            match on {
                true => self.carbons_on += 1,
                false => self.carbons_on = self.carbons_on.saturating_sub(1),
            }
        }
        Some(iq.make_result(None))
    }

    /// The message to copy, if `stanza` is one carbons cover (§6: chat
    /// messages, and normal ones with a body; not errors, group chat,
    /// headlines, private ones or copies) and some resource of the sender
    /// or of a local recipient wants copies.
    pub(super) fn carbon_candidate(&self, session: SessionId, stanza: &Stanza) -> Option<Element> {
        let Stanza::Message(m) = stanza else {
            return None;
        };
        if self.carbons_on == 0 {
            // Nobody wants copies: the common case costs nothing.
            return None;
        }
        let eligible = match m.kind() {
            MessageType::Chat => true,
            MessageType::Normal => m.body().is_some(),
            _ => false,
        };
        let el = stanza.element();
        if !eligible
            || el.child("private", ns::CARBONS).is_some()
            || el.child("no-copy", ns::HINTS).is_some()
            || el.child("received", ns::CARBONS).is_some()
            || el.child("sent", ns::CARBONS).is_some()
        {
            return None;
        }
        let sender = self.router.jid(session)?.bare_str().to_owned();
        let recipient = stanza
            .to()
            .and_then(|t| JidRef::parse(t).ok())
            .filter(|t| t.domainpart() == self.router.domain())
            .map(|t| t.bare_str().to_owned());
        let wanted = |account: &str| {
            self.router
                .sessions_of_account(account)
                .iter()
                .any(|s| self.im_flags.get(s).is_some_and(|i| i.carbons))
        };
        (wanted(&sender) || recipient.as_deref().is_some_and(wanted)).then(|| el.clone())
    }

    /// Copies `message`, which `session` sent and routing just put into
    /// `out` (nothing else is in it), to the carbons-enabled resources of
    /// the sender (`<sent>`) and of the recipient (`<received>`) that did
    /// not get it.
    pub(super) fn carbon_copies(
        &mut self,
        session: SessionId,
        message: &Element,
        out: &mut Vec<Routed>,
    ) {
        let delivered: Vec<SessionId> = out
            .iter()
            .filter_map(|r| match r {
                Routed::Deliver { session, .. } => Some(*session),
                _ => None,
            })
            .collect();
        let Some(sender) = self.router.jid(session).map(|j| j.bare_str().to_owned()) else {
            return;
        };
        let recipient = message
            .attr("to")
            .and_then(|t| JidRef::parse(t).ok())
            .filter(|t| t.domainpart() == self.router.domain())
            .map(|t| t.bare_str().to_owned());
        let skip = |s: SessionId| s == session || delivered.contains(&s);
        self.copy_to(&sender, "sent", message, &skip, out);
        if let Some(recipient) = recipient.filter(|r| *r != sender) {
            // Only if it reached the recipient's account at all (not
            // stored or bounced).
            if !delivered.is_empty() {
                self.copy_to(&recipient, "received", message, &skip, out);
            }
        }
    }

    fn copy_to(
        &mut self,
        account: &str,
        kind: &str,
        message: &Element,
        skip: &dyn Fn(SessionId) -> bool,
        out: &mut Vec<Routed>,
    ) {
        let targets: Vec<(SessionId, String)> = self
            .router
            .sessions_of_account(account)
            .iter()
            .copied()
            .filter(|s| !skip(*s))
            .filter(|s| self.im_flags.get(s).is_some_and(|i| i.carbons))
            .filter_map(|s| self.router.jid(s).map(|j| (s, j.as_str().to_owned())))
            .collect();
        for (target, to) in targets {
            let copy = Element::builder("message", ns::CLIENT)
                .attr("from", account)
                .attr("to", &to)
                .attr_opt("type", message.attr("type"))
                .append(
                    Element::builder(kind, ns::CARBONS)
                        .append(Element::builder("forwarded", ns::FORWARD).append(message.clone())),
                )
                .build();
            self.router.deliver(target, &copy, out);
        }
    }
}
