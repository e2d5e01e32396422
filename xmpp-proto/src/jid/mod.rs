//! XMPP addresses (JIDs), RFC 7622.
//!
//! A JID is `[localpart "@"] domainpart ["/" resourcepart]`. Parsing follows
//! RFC 7622 §3.1 to the letter: the separators are found *before* any
//! preparation (the first `/` starts the resourcepart, which may itself hold
//! `/` and `@`; the first `@` before it ends the localpart), then each part
//! is prepared with its stringprep profile (nodeprep, nameprep,
//! resourceprep: what Prosody and ejabberd apply), so a fullwidth `＠` or
//! `／` can never become a separator. A single trailing dot of the
//! domainpart is removed first (`example.com.` is `example.com`).
//! Comparisons are on the prepared form, which is also what `Display`
//! prints.
//!
//! Types:
//! - [`JidRef`]: a view for hot paths (attributes of incoming stanzas). It
//!   borrows the input when the input is already prepared, which is the
//!   common case on the wire, and allocates nothing then.
//! - [`Jid`], [`BareJid`], [`FullJid`]: owned addresses, one allocation
//!   each, with the part boundaries stored so accessors are free.
//!
//! ```
//! use xmpp_proto::jid::{BareJid, FullJid, Jid};
//!
//! let jid = Jid::new("Juliet@Example.com/balcony")?;
//! assert_eq!(jid.localpart(), Some("juliet"));
//! assert_eq!(jid.domainpart(), "example.com");
//! assert_eq!(jid.resourcepart(), Some("balcony"));
//! assert_eq!(jid.to_string(), "juliet@example.com/balcony");
//!
//! let bare: BareJid = jid.to_bare();
//! let full: FullJid = bare.with_resource("chamber")?;
//! assert_eq!(full.as_str(), "juliet@example.com/chamber");
//! # Ok::<(), xmpp_proto::jid::JidError>(())
//! ```
//!
//! Not implemented on purpose: PRECIS (RFC 7613 profiles). RFC 7622 asks for
//! them, but the deployed servers this library talks to prepare with
//! stringprep, and the two disagree on some characters; agreeing with the
//! servers keeps one account one address. XEP-0106 escaping is offered as
//! explicit helpers in [`escape`], never applied implicitly.

mod domain;
mod error;
pub mod escape;
mod fast;
mod owned;
mod prep;

use std::borrow::Cow;
use std::fmt;

pub use self::error::{JidError, JidErrorKind, JidPart};
pub use self::owned::{BareJid, FullJid, Jid};

/// Prepares a localpart the way a JID's is prepared (nodeprep, RFC 7622
/// §3.3 as the servers apply it): case folded, refused if it holds a
/// character a localpart may not (space, `@`, `/`, `"`, ...). A server
/// keys its accounts by this form, so `Alice` and `alice` are one account
/// and `a b` is none.
///
/// ```
/// use xmpp_proto::jid::prepare_localpart;
///
/// assert_eq!(prepare_localpart("Alice")?, "alice");
/// assert!(prepare_localpart("a b").is_err());
/// assert!(prepare_localpart("").is_err());
/// # Ok::<(), xmpp_proto::jid::JidError>(())
/// ```
///
/// # Errors
/// If `s` is empty, too long, or not a valid localpart.
pub fn prepare_localpart(s: &str) -> Result<std::borrow::Cow<'_, str>, JidError> {
    prep::localpart(s)
}

/// A prepared JID that borrows its input when it can.
///
/// Parsing an address that is already in prepared form (ASCII lowercase
/// domain and localpart, and most non-ASCII text seen in practice) does not
/// allocate; otherwise the prepared form is held in one owned string.
///
/// ```
/// use std::borrow::Cow;
/// use xmpp_proto::jid::JidRef;
///
/// let jid = JidRef::parse("romeo@example.net/orchard")?;
/// assert!(jid.is_borrowed());
/// assert_eq!(jid.bare_str(), "romeo@example.net");
///
/// let folded = JidRef::parse("Romeo@Example.net")?;
/// assert!(!folded.is_borrowed());
/// assert_eq!(folded.as_str(), "romeo@example.net");
/// # Ok::<(), xmpp_proto::jid::JidError>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JidRef<'a> {
    text: Cow<'a, str>,
    bounds: Bounds,
}

/// Where the parts of a prepared JID start and end. Every part is at most
/// 1023 bytes, so the whole JID fits in 3071 bytes and `u16` is enough.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Bounds {
    /// Byte offset of the domainpart: 0 without a localpart, else after `@`.
    domain_start: u16,
    /// Byte offset just past the domainpart (the `/`, or the end).
    domain_end: u16,
}

impl<'a> JidRef<'a> {
    /// Splits, validates and prepares `s` as any JID (bare or full).
    ///
    /// ```
    /// use xmpp_proto::jid::{JidErrorKind, JidPart, JidRef};
    ///
    /// let err = JidRef::parse("example.com/").unwrap_err();
    /// assert_eq!((err.part(), err.kind()), (JidPart::Resourcepart, &JidErrorKind::Empty));
    /// ```
    pub fn parse(s: &'a str) -> Result<Self, JidError> {
        match fast::prepared_ascii(s) {
            Some(bounds) => Ok(JidRef::from_prepared(Cow::Borrowed(s), bounds)),
            None => Self::parse_general(s),
        }
    }

    /// Splits, prepares and checks each part: every input the one-pass
    /// path in `fast` does not take.
    fn parse_general(s: &'a str) -> Result<Self, JidError> {
        let (local, domain_raw, resource) = split(s);
        // RFC 7622 §3.2: one trailing dot is removed before anything else.
        let domain_in = domain_raw.strip_suffix('.').unwrap_or(domain_raw);

        let local = local.map(prep::localpart).transpose()?;
        let domain = domain::domainpart(domain_in)?;
        let resource = resource.map(prep::resourcepart).transpose()?;

        // Every profile returns `Borrowed` exactly when it changed nothing.
        let unchanged = domain_in.len() == domain_raw.len()
            && matches!(domain, Cow::Borrowed(_))
            && matches!(local, None | Some(Cow::Borrowed(_)))
            && matches!(resource, None | Some(Cow::Borrowed(_)));
        let text = if unchanged {
            Cow::Borrowed(s)
        } else {
            Cow::Owned(join(local.as_deref(), &domain, resource.as_deref()))
        };
        let bounds = Bounds::of(local.as_deref(), &domain);
        Ok(JidRef { text, bounds })
    }

    /// Builds a view from already prepared parts, without checking them.
    fn from_prepared(text: Cow<'a, str>, bounds: Bounds) -> Self {
        JidRef { text, bounds }
    }

    /// The whole prepared JID.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the view borrows its input (no allocation happened).
    pub fn is_borrowed(&self) -> bool {
        matches!(self.text, Cow::Borrowed(_))
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

    /// The bare part (`localpart@domainpart` or `domainpart`), borrowed.
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

    /// Turns the view into an owned [`Jid`] (one allocation at most).
    pub fn to_jid(&self) -> Jid {
        Jid::from_prepared(Box::from(self.as_str()), self.bounds)
    }

    /// Turns the view into an owned [`Jid`], reusing an owned buffer.
    pub fn into_jid(self) -> Jid {
        let text = match self.text {
            Cow::Borrowed(s) => Box::from(s),
            Cow::Owned(s) => s.into_boxed_str(),
        };
        Jid::from_prepared(text, self.bounds)
    }

    /// The bare JID as an owned value.
    pub fn to_bare(&self) -> BareJid {
        BareJid::from_prepared(Box::from(self.bare_str()), self.bounds)
    }
}

impl fmt::Display for JidRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for JidRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JidRef({:?})", self.as_str())
    }
}

impl AsRef<str> for JidRef<'_> {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// Checks that `s` is a valid JID without keeping anything.
///
/// It allocates nothing when `s` is already prepared (which includes all
/// lowercase ASCII addresses).
///
/// ```
/// assert!(xmpp_proto::jid::validate("juliet@example.com/balcony").is_ok());
/// assert!(xmpp_proto::jid::validate("juliet@@example.com").is_err());
/// ```
pub fn validate(s: &str) -> Result<(), JidError> {
    JidRef::parse(s).map(drop)
}

/// RFC 7622 §3.1: the first `/` starts the resourcepart; the first `@`
/// before it ends the localpart.
fn split(s: &str) -> (Option<&str>, &str, Option<&str>) {
    let (rest, resource) = match s.split_once('/') {
        Some((rest, resource)) => (rest, Some(resource)),
        None => (s, None),
    };
    match rest.split_once('@') {
        Some((local, domain)) => (Some(local), domain, resource),
        None => (None, rest, resource),
    }
}

fn join(local: Option<&str>, domain: &str, resource: Option<&str>) -> String {
    let len = local.map_or(0, |l| l.len() + 1) + domain.len() + resource.map_or(0, |r| r.len() + 1);
    let mut out = String::with_capacity(len);
    if let Some(local) = local {
        out.push_str(local);
        out.push('@');
    }
    out.push_str(domain);
    if let Some(resource) = resource {
        out.push('/');
        out.push_str(resource);
    }
    out
}

impl Bounds {
    /// Bounds from byte offsets of a JID whose parts are at most 1023
    /// bytes each.
    fn new(domain_start: usize, domain_end: usize) -> Bounds {
        Bounds {
            domain_start: u16::try_from(domain_start).unwrap_or(u16::MAX),
            domain_end: u16::try_from(domain_end).unwrap_or(u16::MAX),
        }
    }

    /// Boundaries for prepared parts; their lengths are at most 1023 each,
    /// so the offsets fit in `u16`.
    fn of(local: Option<&str>, domain: &str) -> Bounds {
        let domain_start = local.map_or(0, |l| l.len() + 1);
        Bounds::new(domain_start, domain_start + domain.len())
    }

    fn localpart(self, s: &str) -> Option<&str> {
        match self.domain_start {
            0 => None,
            start => s.get(..usize::from(start) - 1),
        }
    }

    fn domainpart(self, s: &str) -> &str {
        s.get(usize::from(self.domain_start)..usize::from(self.domain_end))
            .unwrap_or_default()
    }

    fn resourcepart(self, s: &str) -> Option<&str> {
        s.get(usize::from(self.domain_end) + 1..)
    }

    fn bare(self, s: &str) -> &str {
        s.get(..usize::from(self.domain_end)).unwrap_or_default()
    }
}
