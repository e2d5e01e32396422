//! The client's side of RFC 6121: the roster (fetched, versioned, kept up
//! to date by the server's pushes), presence subscriptions, and the
//! presence of contacts per resource.

use std::collections::{BTreeMap, HashSet};

use super::iqs::IqPurpose;
use super::{Client, ClientEvent, StanzaId};
use crate::endpoint::CommandError;
use crate::jid::{BareJid, Jid};
use crate::roster::{Roster, RosterItem, RosterQuery, Subscription};
use crate::stanza::{DefinedCondition, Iq, IqType, Presence, PresenceType, StanzaError};
use crate::time::Time;
use crate::xml::{Element, ns};

/// How many (contact, resource) presences a client keeps at most: a
/// server (or contacts) sending presence for ever new resources cannot
/// grow it without bound.
const MAX_PRESENCES: usize = 10_000;

/// How many addresses directed presence may be remembered for.
const MAX_DIRECTED: usize = 1_000;

/// To whom automatic XEP-0184 receipts are sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReceiptPolicy {
    /// To any sender who asks (for bots and services that answer
    /// everyone anyway).
    Always,
    /// Only to senders allowed to see our presence (XEP-0184 §8: a
    /// receipt tells that we are online): our own account, contacts with
    /// a `from` or `both` subscription on the roster (fetch it with
    /// `Client::request_roster`), and those we sent directed presence to.
    /// The default.
    #[default]
    ToPresenceAllowed,
    /// Never.
    Never,
}

/// What the client knows of its contacts besides the roster.
#[derive(Debug, Default)]
pub(super) struct Contacts {
    pub(super) roster: Roster,
    /// The server keeps roster versions (RFC 6121 §2.6).
    pub(super) versioning: bool,
    /// The last available presence of each (bare JID, resource).
    presences: BTreeMap<(String, String), Presence>,
    /// Bare JIDs we sent directed available presence to.
    directed: HashSet<String>,
}

impl Contacts {
    /// The last available presence of the full JID `jid`, if any.
    pub(super) fn presence(&self, jid: &str) -> Option<&Presence> {
        let (bare, resource) = jid.split_once('/')?;
        self.presences.get(&(bare.to_owned(), resource.to_owned()))
    }
}

impl Client {
    /// The roster as last fetched and pushed (empty before
    /// [`Client::request_roster`] was answered).
    pub fn roster(&self) -> &Roster {
        &self.contacts.roster
    }

    /// The available resources of `contact` (a bare JID) with their last
    /// presence.
    pub fn presences_of<'a>(
        &'a self,
        contact: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a Presence)> + 'a {
        self.contacts
            .presences
            .range((contact.to_owned(), String::new())..)
            .take_while(move |((bare, _), _)| bare == contact)
            .map(|((_, resource), presence)| (resource.as_str(), presence))
    }

    /// Asks the server for the roster (RFC 6121 §2.2), with the version
    /// we have when the server keeps versions (§2.6). The answer updates
    /// [`Client::roster`] and comes as [`ClientEvent::RosterReceived`];
    /// an error comes as [`ClientEvent::IqResponse`] with the returned id.
    ///
    /// # Errors
    /// As for [`Client::send`].
    pub fn request_roster(&mut self, now: Time) -> Result<StanzaId, CommandError> {
        let ver = self.contacts.versioning.then(|| {
            self.contacts
                .roster
                .version()
                .unwrap_or_default()
                .to_owned()
        });
        let query = Element::builder("query", ns::ROSTER)
            .attr_opt("ver", ver)
            .build();
        let id = self.send(now, iq_element("get", query))?;
        self.retrack(&id, IqPurpose::Roster);
        Ok(id)
    }

    /// Adds a contact to the roster or changes its name and groups (RFC
    /// 6121 §2.3); the server's push follows. The result comes as
    /// [`ClientEvent::IqResponse`].
    ///
    /// # Errors
    /// As for [`Client::send`].
    pub fn set_roster_item(
        &mut self,
        now: Time,
        jid: &BareJid,
        name: Option<&str>,
        groups: &[&str],
    ) -> Result<StanzaId, CommandError> {
        let mut item = Element::builder("item", ns::ROSTER)
            .attr("jid", jid.as_str())
            .attr_opt("name", name);
        for group in groups {
            item = item.append(Element::builder("group", ns::ROSTER).text(group));
        }
        self.roster_set(now, item.build())
    }

    /// Removes a contact from the roster, cancelling subscriptions both
    /// ways (RFC 6121 §2.5).
    ///
    /// # Errors
    /// As for [`Client::send`].
    pub fn remove_roster_item(
        &mut self,
        now: Time,
        jid: &BareJid,
    ) -> Result<StanzaId, CommandError> {
        let item = Element::builder("item", ns::ROSTER)
            .attr("jid", jid.as_str())
            .attr("subscription", "remove")
            .build();
        self.roster_set(now, item)
    }

    fn roster_set(&mut self, now: Time, item: Element) -> Result<StanzaId, CommandError> {
        let query = Element::builder("query", ns::ROSTER).append(item).build();
        self.send(now, iq_element("set", query))
    }

    /// Asks to see `contact`'s presence (RFC 6121 §3.1).
    ///
    /// # Errors
    /// As for [`Client::send`].
    pub fn subscribe(&mut self, now: Time, contact: &BareJid) -> Result<StanzaId, CommandError> {
        self.send_subscription(now, contact, PresenceType::Subscribe)
    }

    /// Stops seeing `contact`'s presence, or withdraws a request (§3.3).
    ///
    /// # Errors
    /// As for [`Client::send`].
    pub fn unsubscribe(&mut self, now: Time, contact: &BareJid) -> Result<StanzaId, CommandError> {
        self.send_subscription(now, contact, PresenceType::Unsubscribe)
    }

    /// Lets `contact` see our presence: approves its request, or
    /// pre-approves one not yet made where the server supports it (§3.1.4,
    /// §3.4).
    ///
    /// # Errors
    /// As for [`Client::send`].
    pub fn approve_subscription(
        &mut self,
        now: Time,
        contact: &BareJid,
    ) -> Result<StanzaId, CommandError> {
        self.send_subscription(now, contact, PresenceType::Subscribed)
    }

    /// Denies `contact`'s request, or ends its subscription (§3.2).
    ///
    /// # Errors
    /// As for [`Client::send`].
    pub fn deny_subscription(
        &mut self,
        now: Time,
        contact: &BareJid,
    ) -> Result<StanzaId, CommandError> {
        self.send_subscription(now, contact, PresenceType::Unsubscribed)
    }

    fn send_subscription(
        &mut self,
        now: Time,
        contact: &BareJid,
        kind: PresenceType,
    ) -> Result<StanzaId, CommandError> {
        let presence = Presence::builder(kind).to(contact.as_str()).build();
        self.send(now, presence)
    }

    /// A roster get answered: the roster replaced (or, with versioning,
    /// confirmed unchanged: the pushes that follow bring the changes).
    pub(super) fn roster_result(&mut self, response: Iq) {
        if response.kind() == IqType::Error {
            let id = StanzaId(response.id().unwrap_or_default().to_owned());
            self.core
                .events
                .push_back(ClientEvent::IqResponse { id, response });
            return;
        }
        let query = response.payload().map(RosterQuery::from_element);
        match query {
            Some(Ok(query)) => self.contacts.roster.replace(query),
            // An empty result: our version is current (§2.6.3).
            None => {}
            Some(Err(_)) => {
                // An unreadable roster: keep what we had rather than
                // pretend it is empty.
            }
        }
        self.core.events.push_back(ClientEvent::RosterReceived);
    }

    /// A roster push (RFC 6121 §2.1.6), if `iq` is one. Returns the
    /// answer to send, or `None` if it is not a push.
    pub(super) fn roster_push(&mut self, iq: &Iq) -> Option<Element> {
        let query = iq.payload().filter(|p| p.is("query", ns::ROSTER))?;
        if iq.kind() != IqType::Set {
            return Some(iq.make_error(&StanzaError::new(DefinedCondition::BadRequest)));
        }
        // Only our own server, acting for our account, may push.
        let from_ours = iq.from().is_none_or(|from| {
            Jid::new(from).is_ok_and(|j| j.is_bare() && j.to_bare() == self.config.jid.to_bare())
        });
        if !from_ours {
            return Some(iq.make_error(&StanzaError::new(DefinedCondition::ServiceUnavailable)));
        }
        let parsed = RosterQuery::from_element(query);
        let Ok(RosterQuery { ver, mut items, .. }) = parsed else {
            return Some(iq.make_error(&StanzaError::new(DefinedCondition::BadRequest)));
        };
        if items.len() != 1 {
            return Some(iq.make_error(&StanzaError::new(DefinedCondition::BadRequest)));
        }
        let item = items.remove(0);
        if item.subscription == Subscription::Remove {
            let bare = item.jid.as_str().to_owned();
            self.contacts.presences.retain(|(b, _), _| *b != bare);
        }
        let previous = self.contacts.roster.apply(item.clone(), ver);
        self.core
            .events
            .push_back(ClientEvent::RosterPush { item, previous });
        Some(iq.make_result(None))
    }

    /// A presence from someone: subscription requests become
    /// [`ClientEvent::SubscriptionRequest`], available and unavailable
    /// presence updates the contact's resources; all others are passed
    /// on as they are.
    pub(super) fn handle_presence(&mut self, presence: Presence) {
        let from = presence.from().and_then(|f| Jid::new(f).ok());
        match (presence.kind(), from) {
            (PresenceType::Subscribe, Some(from)) => {
                self.core
                    .events
                    .push_back(ClientEvent::SubscriptionRequest {
                        from: from.into_bare(),
                        presence,
                    });
                return;
            }
            (PresenceType::Available, Some(from)) => {
                if let Some(resource) = from.resourcepart() {
                    let key = (from.bare_str().to_owned(), resource.to_owned());
                    let known = self.contacts.presences.contains_key(&key);
                    if known || self.contacts.presences.len() < MAX_PRESENCES {
                        self.contacts.presences.insert(key, presence.clone());
                    }
                }
            }
            (PresenceType::Unavailable, Some(from)) => match from.resourcepart() {
                Some(resource) => {
                    let key = (from.bare_str().to_owned(), resource.to_owned());
                    self.contacts.presences.remove(&key);
                }
                None => {
                    let bare = from.bare_str().to_owned();
                    self.contacts.presences.retain(|(b, _), _| *b != bare);
                }
            },
            _ => {}
        }
        self.core.events.push_back(ClientEvent::Presence(presence));
    }

    /// Remembers directed presence we send (it lets the addressee see
    /// our presence, and so our receipts).
    pub(super) fn note_directed_presence(&mut self, el: &Element) {
        let Some(to) = el.attr("to").and_then(|t| Jid::new(t).ok()) else {
            return;
        };
        let bare = to.bare_str().to_owned();
        match el.attr("type") {
            None if self.contacts.directed.len() < MAX_DIRECTED => {
                self.contacts.directed.insert(bare);
            }
            Some("unavailable") => {
                self.contacts.directed.remove(&bare);
            }
            _ => {}
        }
    }

    /// Whether a receipt may go to `from` under the configured policy.
    pub(super) fn receipt_allowed(&self, from: &str) -> bool {
        match self.config.receipts {
            ReceiptPolicy::Always => true,
            ReceiptPolicy::Never => false,
            ReceiptPolicy::ToPresenceAllowed => {
                let Ok(from) = Jid::new(from) else {
                    return false;
                };
                let bare = from.bare_str();
                bare == self.config.jid.bare_str()
                    || self.contacts.directed.contains(bare)
                    || self
                        .contacts
                        .roster
                        .get(bare)
                        .is_some_and(|item: &RosterItem| item.subscription.contact_sees_us())
            }
        }
    }
}

/// An IQ request to our own account's server; `send` gives it an id.
fn iq_element(kind: &str, payload: Element) -> Element {
    Element::builder("iq", ns::CLIENT)
        .attr("type", kind)
        .append(payload)
        .build()
}
