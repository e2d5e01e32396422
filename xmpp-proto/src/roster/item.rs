//! Roster items (RFC 6121 §2.1.2) and the `jabber:iq:roster` query that
//! carries them, read and written the same way in both roles.

use std::fmt;

use crate::jid::BareJid;
use crate::xml::{Element, ElementRef, ns};

/// The `subscription` attribute of a roster item (RFC 6121 §2.1.2.5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Subscription {
    /// Neither sees the other's presence.
    #[default]
    None,
    /// The user sees the contact's presence.
    To,
    /// The contact sees the user's presence.
    From,
    /// Both see each other's presence.
    Both,
    /// Only in a roster set or push: the item is removed.
    Remove,
}

impl Subscription {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            Subscription::None => "none",
            Subscription::To => "to",
            Subscription::From => "from",
            Subscription::Both => "both",
            Subscription::Remove => "remove",
        }
    }

    /// Reads the attribute value; an absent one is `none` (§2.1.2.5).
    pub fn parse(value: Option<&str>) -> Result<Self, RosterError> {
        Ok(match value {
            None | Some("none") => Subscription::None,
            Some("to") => Subscription::To,
            Some("from") => Subscription::From,
            Some("both") => Subscription::Both,
            Some("remove") => Subscription::Remove,
            Some(_) => return Err(RosterError("unknown subscription value")),
        })
    }

    /// Whether the contact is allowed to see the user's presence.
    pub fn contact_sees_us(self) -> bool {
        matches!(self, Subscription::From | Subscription::Both)
    }

    /// Whether the user receives the contact's presence.
    pub fn we_see_contact(self) -> bool {
        matches!(self, Subscription::To | Subscription::Both)
    }
}

/// A roster query or item that does not follow RFC 6121 §2.1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RosterError(pub &'static str);

impl fmt::Display for RosterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid roster data: {}", self.0)
    }
}

impl std::error::Error for RosterError {}

/// One contact on a roster.
///
/// ```
/// use xmpp_proto::jid::BareJid;
/// use xmpp_proto::roster::{RosterItem, Subscription};
///
/// let item = RosterItem::new(BareJid::new("romeo@example.net")?)
///     .with_name("Romeo")
///     .with_group("Friends");
/// let el = item.to_element();
/// let back = RosterItem::from_element(el.as_ref())?;
/// assert_eq!(back, item);
/// assert_eq!(back.subscription, Subscription::None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RosterItem {
    /// The contact.
    pub jid: BareJid,
    /// The user's name for the contact.
    pub name: Option<String>,
    /// Who sees whose presence.
    pub subscription: Subscription,
    /// The user asked to see the contact's presence and waits for an
    /// answer (`ask='subscribe'`, "pending out").
    pub ask: bool,
    /// The user approved the contact's subscription before the contact
    /// asked (pre-approval, §3.4).
    pub approved: bool,
    /// The groups the contact is in, in order, without repeats.
    pub groups: Vec<String>,
}

impl RosterItem {
    /// An item for `jid` with no name, group or subscription.
    pub fn new(jid: BareJid) -> Self {
        RosterItem {
            jid,
            name: None,
            subscription: Subscription::None,
            ask: false,
            approved: false,
            groups: Vec::new(),
        }
    }

    /// Sets the name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Adds a group (ignored if already there).
    pub fn with_group(mut self, group: impl Into<String>) -> Self {
        let group = group.into();
        if !self.groups.contains(&group) {
            self.groups.push(group);
        }
        self
    }

    /// Reads an `<item/>` of a roster query.
    ///
    /// # Errors
    /// A missing or invalid `jid` (or one with a resource), an unknown
    /// `subscription` or `ask` value, an empty group name or a group named
    /// twice (§2.1.2.4 and §2.3.3).
    pub fn from_element(el: ElementRef<'_>) -> Result<Self, RosterError> {
        if !el.is("item", ns::ROSTER) {
            return Err(RosterError("not a roster item"));
        }
        let jid = el
            .attr("jid")
            .and_then(|j| BareJid::new(j).ok())
            .ok_or(RosterError("the item's jid is missing or not a bare JID"))?;
        let ask = match el.attr("ask") {
            None => false,
            Some("subscribe") => true,
            Some(_) => return Err(RosterError("unknown ask value")),
        };
        let approved = matches!(el.attr("approved"), Some("true" | "1"));
        let mut item = RosterItem {
            jid,
            name: el.attr("name").map(str::to_owned),
            subscription: Subscription::parse(el.attr("subscription"))?,
            ask,
            approved,
            groups: Vec::new(),
        };
        for group in el.children().filter(|c| c.is("group", ns::ROSTER)) {
            let name = group.text();
            if name.is_empty() {
                return Err(RosterError("an empty group name"));
            }
            if item.groups.iter().any(|g| *g == name) {
                return Err(RosterError("a group named twice"));
            }
            item.groups.push(name.into_owned());
        }
        Ok(item)
    }

    /// The `<item/>` element.
    pub fn to_element(&self) -> Element {
        let mut item = Element::builder("item", ns::ROSTER)
            .attr("jid", self.jid.as_str())
            .attr_opt("name", self.name.as_deref());
        if self.subscription != Subscription::None {
            item = item.attr("subscription", self.subscription.as_str());
        }
        if self.ask {
            item = item.attr("ask", "subscribe");
        }
        if self.approved {
            item = item.attr("approved", "true");
        }
        for group in &self.groups {
            item = item.append(Element::builder("group", ns::ROSTER).text(group));
        }
        item.build()
    }
}

/// The content of a roster query (`<query xmlns='jabber:iq:roster'/>`):
/// the items and the version (§2.6).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RosterQuery {
    /// The roster version, if the server keeps versions.
    pub ver: Option<String>,
    /// The items.
    pub items: Vec<RosterItem>,
}

impl RosterQuery {
    /// Reads a `<query/>`.
    ///
    /// # Errors
    /// As for [`RosterItem::from_element`], or not a roster query.
    pub fn from_element(el: ElementRef<'_>) -> Result<Self, RosterError> {
        if !el.is("query", ns::ROSTER) {
            return Err(RosterError("not a roster query"));
        }
        let items = el
            .children()
            .filter(|c| c.is("item", ns::ROSTER))
            .map(RosterItem::from_element)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RosterQuery {
            ver: el.attr("ver").map(str::to_owned),
            items,
        })
    }

    /// The `<query/>` element.
    pub fn to_element(&self) -> Element {
        let mut query = Element::builder("query", ns::ROSTER).attr_opt("ver", self.ver.as_deref());
        for item in &self.items {
            query = query.append(item.to_element());
        }
        query.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{Limits, StreamEvent, StreamReader};

    fn parse(xml: &str) -> Element {
        let doc = format!(
            "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>{xml}"
        );
        let mut reader = StreamReader::new(Limits::default());
        let mut input = doc.as_bytes();
        loop {
            match reader.read(&mut input).unwrap() {
                Some(StreamEvent::Element(el)) => return el,
                Some(_) => {}
                None => panic!("no element in {xml}"),
            }
        }
    }

    #[test]
    fn reads_what_servers_send() {
        let el = parse(
            "<query xmlns='jabber:iq:roster' ver='ver11'>\
             <item jid='romeo@example.net' name='Romeo' subscription='both'><group>Friends</group></item>\
             <item jid='mercutio@example.com' ask='subscribe'/>\
             <item jid='benvolio@example.net' subscription='from' approved='true'/>\
             </query>",
        );
        let query = RosterQuery::from_element(el.as_ref()).unwrap();
        assert_eq!(query.ver.as_deref(), Some("ver11"));
        assert_eq!(query.items.len(), 3);
        assert_eq!(query.items[0].subscription, Subscription::Both);
        assert_eq!(query.items[0].groups, ["Friends"]);
        assert!(query.items[1].ask && query.items[1].subscription == Subscription::None);
        assert!(query.items[2].approved);
        let again = RosterQuery::from_element(query.to_element().as_ref()).unwrap();
        assert_eq!(again, query);
    }

    #[test]
    fn refuses_what_the_rfc_forbids() {
        for bad in [
            "<item xmlns='jabber:iq:roster'/>",
            "<item xmlns='jabber:iq:roster' jid='romeo@example.net/orchard'/>",
            "<item xmlns='jabber:iq:roster' jid='romeo@example.net' subscription='maybe'/>",
            "<item xmlns='jabber:iq:roster' jid='romeo@example.net' ask='later'/>",
            "<item xmlns='jabber:iq:roster' jid='romeo@example.net'><group/></item>",
            "<item xmlns='jabber:iq:roster' jid='romeo@example.net'><group>A</group><group>A</group></item>",
        ] {
            let el = parse(bad);
            assert!(RosterItem::from_element(el.as_ref()).is_err(), "{bad}");
        }
    }
}
