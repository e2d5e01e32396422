//! Owned addresses: any JID, a bare JID, a full JID.
//!
//! All three hold the prepared text in one boxed string and the part
//! boundaries next to it, so accessors never search and a JID costs one
//! allocation and 24 bytes inline.

use std::borrow::{Borrow, Cow};
use std::fmt;
use std::str::FromStr;

use super::error::{JidError, JidErrorKind, JidPart};
use super::{Bounds, JidRef, prep};

/// Any JID, bare or full.
///
/// ```
/// use xmpp_proto::jid::Jid;
///
/// let jid: Jid = "example.com".parse()?;
/// assert!(jid.is_bare());
/// assert_eq!(jid.localpart(), None);
/// # Ok::<(), xmpp_proto::jid::JidError>(())
/// ```
// Equality, order and hash look at the text only: the bounds are a function
// of the prepared text, and `Borrow<str>` needs the hash of a `str`.
#[derive(Clone)]
pub struct Jid {
    text: Box<str>,
    bounds: Bounds,
}

impl PartialEq for Jid {
    fn eq(&self, other: &Jid) -> bool {
        self.text == other.text
    }
}

impl Eq for Jid {}

impl PartialOrd for Jid {
    fn partial_cmp(&self, other: &Jid) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Jid {
    fn cmp(&self, other: &Jid) -> core::cmp::Ordering {
        self.text.cmp(&other.text)
    }
}

impl core::hash::Hash for Jid {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.text.hash(state);
    }
}

/// A JID without a resourcepart: an account (`user@domain`) or a server or
/// service (`domain`).
///
/// ```
/// use xmpp_proto::jid::BareJid;
///
/// let alice = BareJid::new("alice@example.com")?;
/// assert!(BareJid::new("alice@example.com/phone").is_err());
/// assert_eq!(alice.with_resource("phone")?.as_str(), "alice@example.com/phone");
/// # Ok::<(), xmpp_proto::jid::JidError>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BareJid(Jid);

/// A JID with a resourcepart: one session of an account, or an occupant.
///
/// ```
/// use xmpp_proto::jid::FullJid;
///
/// let phone = FullJid::new("alice@example.com/phone")?;
/// assert_eq!(phone.resourcepart(), "phone");
/// assert_eq!(phone.to_bare().as_str(), "alice@example.com");
/// assert!(FullJid::new("alice@example.com").is_err());
/// # Ok::<(), xmpp_proto::jid::JidError>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FullJid(Jid);

impl Jid {
    /// Parses, validates and prepares a JID (RFC 7622).
    pub fn new(s: &str) -> Result<Jid, JidError> {
        JidRef::parse(s).map(JidRef::into_jid)
    }

    pub(crate) fn from_prepared(text: Box<str>, bounds: Bounds) -> Jid {
        Jid { text, bounds }
    }

    /// The whole prepared JID.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// A borrowed view of this JID, as produced by [`JidRef::parse`].
    pub fn as_jid_ref(&self) -> JidRef<'_> {
        JidRef::from_prepared(Cow::Borrowed(&self.text), self.bounds)
    }

    /// The prepared localpart, if any.
    pub fn localpart(&self) -> Option<&str> {
        self.bounds.localpart(&self.text)
    }

    /// The prepared domainpart.
    pub fn domainpart(&self) -> &str {
        self.bounds.domainpart(&self.text)
    }

    /// The prepared resourcepart, if any.
    pub fn resourcepart(&self) -> Option<&str> {
        self.bounds.resourcepart(&self.text)
    }

    /// The bare part, borrowed.
    pub fn bare_str(&self) -> &str {
        self.bounds.bare(&self.text)
    }

    /// Whether the JID has no resourcepart.
    pub fn is_bare(&self) -> bool {
        self.resourcepart().is_none()
    }

    /// Whether the JID has a resourcepart.
    pub fn is_full(&self) -> bool {
        !self.is_bare()
    }

    /// The bare JID (a new allocation, unless you use [`Jid::into_bare`]).
    pub fn to_bare(&self) -> BareJid {
        BareJid(Jid::from_prepared(Box::from(self.bare_str()), self.bounds))
    }

    /// The bare JID, reusing this one's buffer when it is already bare.
    pub fn into_bare(self) -> BareJid {
        if self.is_bare() {
            BareJid(self)
        } else {
            self.to_bare()
        }
    }

    /// The same bare JID with `resource` (prepared with resourceprep).
    pub fn with_resource(&self, resource: &str) -> Result<FullJid, JidError> {
        let resource = prep::resourcepart(resource)?;
        let bare = self.bare_str();
        let mut text = String::with_capacity(bare.len() + 1 + resource.len());
        text.push_str(bare);
        text.push('/');
        text.push_str(&resource);
        Ok(FullJid(Jid::from_prepared(
            text.into_boxed_str(),
            self.bounds,
        )))
    }

    /// This JID as a [`FullJid`], if it has a resourcepart.
    pub fn try_into_full(self) -> Result<FullJid, JidError> {
        FullJid::try_from(self)
    }

    /// This JID as a [`BareJid`], if it has no resourcepart.
    pub fn try_into_bare(self) -> Result<BareJid, JidError> {
        BareJid::try_from(self)
    }
}

impl BareJid {
    /// Parses a JID that must not have a resourcepart.
    pub fn new(s: &str) -> Result<BareJid, JidError> {
        Jid::new(s)?.try_into()
    }

    pub(crate) fn from_prepared(text: Box<str>, bounds: Bounds) -> BareJid {
        BareJid(Jid::from_prepared(text, bounds))
    }

    /// The whole prepared JID.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// This JID as a [`Jid`].
    pub fn as_jid(&self) -> &Jid {
        &self.0
    }

    /// A borrowed view of this JID.
    pub fn as_jid_ref(&self) -> JidRef<'_> {
        self.0.as_jid_ref()
    }

    /// The prepared localpart, if any.
    pub fn localpart(&self) -> Option<&str> {
        self.0.localpart()
    }

    /// The prepared domainpart.
    pub fn domainpart(&self) -> &str {
        self.0.domainpart()
    }

    /// This bare JID with `resource`, as a full JID.
    pub fn with_resource(&self, resource: &str) -> Result<FullJid, JidError> {
        self.0.with_resource(resource)
    }
}

impl FullJid {
    /// Parses a JID that must have a resourcepart.
    pub fn new(s: &str) -> Result<FullJid, JidError> {
        Jid::new(s)?.try_into()
    }

    /// The whole prepared JID.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// This JID as a [`Jid`].
    pub fn as_jid(&self) -> &Jid {
        &self.0
    }

    /// A borrowed view of this JID.
    pub fn as_jid_ref(&self) -> JidRef<'_> {
        self.0.as_jid_ref()
    }

    /// The prepared localpart, if any.
    pub fn localpart(&self) -> Option<&str> {
        self.0.localpart()
    }

    /// The prepared domainpart.
    pub fn domainpart(&self) -> &str {
        self.0.domainpart()
    }

    /// The prepared resourcepart.
    pub fn resourcepart(&self) -> &str {
        self.0.resourcepart().unwrap_or_default()
    }

    /// The bare part, borrowed.
    pub fn bare_str(&self) -> &str {
        self.0.bare_str()
    }

    /// The bare JID, as a new owned value.
    pub fn to_bare(&self) -> BareJid {
        self.0.to_bare()
    }

    /// The same bare JID with another resource.
    pub fn with_resource(&self, resource: &str) -> Result<FullJid, JidError> {
        self.0.with_resource(resource)
    }
}

impl TryFrom<Jid> for BareJid {
    type Error = JidError;
    fn try_from(jid: Jid) -> Result<Self, JidError> {
        if jid.is_bare() {
            Ok(BareJid(jid))
        } else {
            Err(JidError::new(
                JidPart::Resourcepart,
                JidErrorKind::Unexpected,
            ))
        }
    }
}

impl TryFrom<Jid> for FullJid {
    type Error = JidError;
    fn try_from(jid: Jid) -> Result<Self, JidError> {
        if jid.is_full() {
            Ok(FullJid(jid))
        } else {
            Err(JidError::new(JidPart::Resourcepart, JidErrorKind::Missing))
        }
    }
}

impl From<BareJid> for Jid {
    fn from(jid: BareJid) -> Jid {
        jid.0
    }
}

impl From<FullJid> for Jid {
    fn from(jid: FullJid) -> Jid {
        jid.0
    }
}

impl From<JidRef<'_>> for Jid {
    fn from(jid: JidRef<'_>) -> Jid {
        jid.into_jid()
    }
}

/// Shared trait impls: parsing, display, debug, comparison with strings.
macro_rules! jid_common_impls {
    ($ty:ident) => {
        impl FromStr for $ty {
            type Err = JidError;
            fn from_str(s: &str) -> Result<Self, JidError> {
                $ty::new(s)
            }
        }

        impl TryFrom<&str> for $ty {
            type Error = JidError;
            fn try_from(s: &str) -> Result<Self, JidError> {
                $ty::new(s)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($ty), "({:?})"), self.as_str())
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl PartialEq<str> for $ty {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $ty {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

jid_common_impls!(Jid);
jid_common_impls!(BareJid);
jid_common_impls!(FullJid);

impl Borrow<str> for Jid {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

// The newtypes hash and compare as the `Jid` inside, which hashes and
// compares as its text: a map keyed by them can be searched with a `&str`.
impl Borrow<str> for BareJid {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for FullJid {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<BareJid> for Jid {
    fn eq(&self, other: &BareJid) -> bool {
        *self == other.0
    }
}

impl PartialEq<FullJid> for Jid {
    fn eq(&self, other: &FullJid) -> bool {
        *self == other.0
    }
}
