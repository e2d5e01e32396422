//! `<stream:features/>` (RFC 6120 §4.3.2): what a server offers at each
//! stage of the negotiation.

use super::{NegotiationError, PRE_APPROVAL, SASL_CB, SM_2};
use crate::sasl::ServerOffer;
use crate::xml::{Element, ElementRef, ns};

/// The features a server advertises, typed.
///
/// Parsing accepts the children in any order (Prosody's order changes from
/// run to run) and never fails on content: a feature we do not know, or a
/// known one too malformed to type (a `<c/>` without `ver`), is kept in
/// [`other`](Self::other). Of a feature sent twice, the first counts and
/// the repeat is dropped, except `<sm/>` whose versions are collected.
///
/// Building writes the children in negotiation order (RFC 6120 §5, §6,
/// §7, then the rest), so a server that fills this in sends what clients
/// expect.
///
/// ```
/// use xmpp_proto::negotiation::{Requirement, SmVersion, StreamFeatures};
/// use xmpp_proto::xml::{Element, ns};
///
/// let mut offer = StreamFeatures::default();
/// offer.bind = true;
/// offer.session = Some(Requirement::Optional);
/// offer.sm = vec![SmVersion::V3];
/// let el = offer.to_element();
/// assert_eq!(el.to_string(), "<features xmlns='http://etherx.jabber.org/streams'>\
///     <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>\
///     <session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session>\
///     <sm xmlns='urn:xmpp:sm:3'/></features>");
///
/// let received = StreamFeatures::from_element(&el)?;
/// assert_eq!(received, offer);
/// assert!(!received.session_required());
/// assert_eq!(received.sm_best(), Some(SmVersion::V3));
/// # Ok::<(), xmpp_proto::negotiation::NegotiationError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamFeatures {
    /// STARTTLS (RFC 6120 §5): `Required` when `<required/>` is present.
    pub starttls: Option<Requirement>,
    /// SASL (RFC 6120 §6): the `<mechanisms/>` names verbatim and in the
    /// order received, unknown ones included, with the XEP-0440
    /// `<sasl-channel-binding/>` types if sent. Both are needed as they
    /// are for the XEP-0474 hash.
    pub sasl: Option<ServerOffer>,
    /// Extensible SASL (XEP-0388), with what it allows inline.
    pub sasl2: Option<super::Sasl2Offer>,
    /// Resource binding (RFC 6120 §7).
    pub bind: bool,
    /// Legacy session establishment (RFC 3921 §3, RFC 6121 appendix E):
    /// `Required` unless `<optional/>` is present.
    pub session: Option<Requirement>,
    /// Stream management versions (XEP-0198), in the order received,
    /// without repeats.
    pub sm: Vec<SmVersion>,
    /// Roster versioning (RFC 6121 §2.6, `urn:xmpp:features:rosterver`).
    pub roster_versioning: bool,
    /// Client state indication (XEP-0352).
    pub csi: bool,
    /// Subscription pre-approval (RFC 6121 §3.4).
    pub pre_approval: bool,
    /// The server's entity capabilities (XEP-0115 §6.3).
    pub caps: Option<Caps>,
    /// Every other child, in the order received.
    pub other: Vec<Element>,
}

/// Whether a feature must be negotiated before the stream can be used
/// (RFC 6120 §4.3.2's mandatory-to-negotiate).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Requirement {
    /// Mandatory-to-negotiate.
    Required,
    /// Voluntary-to-negotiate.
    Optional,
}

/// A version of XEP-0198 stream management.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SmVersion {
    /// `urn:xmpp:sm:2`, still offered by Prosody and ejabberd.
    V2,
    /// `urn:xmpp:sm:3`, the current one.
    V3,
}

impl SmVersion {
    /// The namespace of this version.
    pub fn ns(self) -> &'static str {
        match self {
            SmVersion::V2 => SM_2,
            SmVersion::V3 => ns::SM,
        }
    }

    /// The version with this namespace.
    pub fn from_ns(ns: &str) -> Option<Self> {
        [SmVersion::V2, SmVersion::V3]
            .into_iter()
            .find(|v| v.ns() == ns)
    }
}

/// An XEP-0115 `<c/>` element: the server's capabilities hash.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Caps {
    /// `node`: the software's URI.
    pub node: String,
    /// `ver`: the verification string.
    pub ver: String,
    /// `hash`: the hash function's IANA name, e.g. `sha-1`.
    pub hash: String,
}

impl StreamFeatures {
    /// Reads a received `<stream:features/>`.
    ///
    /// Fails only if the element is something else.
    pub fn from_element(el: &Element) -> Result<Self, NegotiationError> {
        Self::from_ref(el.as_ref())
    }

    /// Reads a received `<stream:features/>` from a view.
    pub fn from_ref(el: ElementRef<'_>) -> Result<Self, NegotiationError> {
        if !el.is("features", ns::STREAM) {
            return Err(NegotiationError::UnexpectedElement {
                expected: "<stream:features/>",
                name: el.name().to_owned(),
                ns: el.ns().to_owned(),
            });
        }
        let mut f = StreamFeatures::default();
        let mut binding_types = None;
        for child in el.children() {
            if !f.take(child, &mut binding_types) {
                f.other.push(child.to_owned());
            }
        }
        if let Some((types, cb)) = binding_types {
            match &mut f.sasl {
                Some(offer) => offer.channel_binding_types = Some(types),
                // Channel binding types without mechanisms mean nothing.
                None => f.other.push(cb),
            }
        }
        Ok(f)
    }

    /// Types one child; `false` if it is unknown, malformed or a repeat.
    fn take(
        &mut self,
        child: ElementRef<'_>,
        binding_types: &mut Option<(Vec<String>, Element)>,
    ) -> bool {
        match (child.ns(), child.name()) {
            (ns::TLS, "starttls") if self.starttls.is_none() => {
                self.starttls = Some(if child.child("required", ns::TLS).is_some() {
                    Requirement::Required
                } else {
                    Requirement::Optional
                });
            }
            (ns::SASL, "mechanisms") if self.sasl.is_none() => {
                self.sasl = Some(ServerOffer::new(
                    child
                        .children()
                        .filter(|m| m.is("mechanism", ns::SASL))
                        .map(|m| m.text().trim().to_owned()),
                ));
            }
            (super::sasl2::SASL2, "authentication") if self.sasl2.is_none() => {
                self.sasl2 = super::Sasl2Offer::from_ref(child);
            }
            (SASL_CB, "sasl-channel-binding") if binding_types.is_none() => {
                let types = child
                    .children()
                    .filter(|c| c.is("channel-binding", SASL_CB))
                    .filter_map(|c| c.attr("type"))
                    .map(str::to_owned)
                    .collect();
                *binding_types = Some((types, child.to_owned()));
            }
            (ns::BIND, "bind") if !self.bind => self.bind = true,
            (ns::SESSION, "session") if self.session.is_none() => {
                self.session = Some(if child.child("optional", ns::SESSION).is_some() {
                    Requirement::Optional
                } else {
                    Requirement::Required
                });
            }
            (sm_ns, "sm") if SmVersion::from_ns(sm_ns).is_some() => {
                if let Some(v) = SmVersion::from_ns(sm_ns) {
                    if !self.sm.contains(&v) {
                        self.sm.push(v);
                    }
                }
            }
            (ns::ROSTER_VER, "ver") if !self.roster_versioning => {
                self.roster_versioning = true;
            }
            (ns::CSI, "csi") if !self.csi => self.csi = true,
            (PRE_APPROVAL, "sub") if !self.pre_approval => self.pre_approval = true,
            (ns::CAPS, "c") if self.caps.is_none() => {
                let (Some(node), Some(ver), Some(hash)) =
                    (child.attr("node"), child.attr("ver"), child.attr("hash"))
                else {
                    return false;
                };
                self.caps = Some(Caps {
                    node: node.to_owned(),
                    ver: ver.to_owned(),
                    hash: hash.to_owned(),
                });
            }
            _ => return false,
        }
        true
    }

    /// The `<stream:features/>` element to send, children in negotiation
    /// order. The writer gives it the stream prefix inside a stream.
    pub fn to_element(&self) -> Element {
        let mut b = Element::builder("features", ns::STREAM);
        if let Some(req) = self.starttls {
            let mut tls = Element::builder("starttls", ns::TLS);
            if req == Requirement::Required {
                tls = tls.append(Element::builder("required", ns::TLS));
            }
            b = b.append(tls);
        }
        if let Some(offer) = &self.sasl {
            let mut mechs = Element::builder("mechanisms", ns::SASL);
            for m in &offer.mechanisms {
                mechs = mechs.append(Element::builder("mechanism", ns::SASL).text(m));
            }
            b = b.append(mechs);
            if let Some(types) = &offer.channel_binding_types {
                let mut cb = Element::builder("sasl-channel-binding", SASL_CB);
                for t in types {
                    cb = cb.append(Element::builder("channel-binding", SASL_CB).attr("type", t));
                }
                b = b.append(cb);
            }
        }
        if let Some(offer) = &self.sasl2 {
            b = b.append(offer.to_element());
        }
        if self.bind {
            b = b.append(Element::builder("bind", ns::BIND));
        }
        if let Some(req) = self.session {
            let mut s = Element::builder("session", ns::SESSION);
            if req == Requirement::Optional {
                s = s.append(Element::builder("optional", ns::SESSION));
            }
            b = b.append(s);
        }
        for v in &self.sm {
            b = b.append(Element::builder("sm", v.ns()));
        }
        let flags = [
            (self.roster_versioning, "ver", ns::ROSTER_VER),
            (self.csi, "csi", ns::CSI),
            (self.pre_approval, "sub", PRE_APPROVAL),
        ];
        for (_, name, ns) in flags.into_iter().filter(|(on, _, _)| *on) {
            b = b.append(Element::builder(name, ns));
        }
        if let Some(c) = &self.caps {
            b = b.append(
                Element::builder("c", ns::CAPS)
                    .attr("hash", &c.hash)
                    .attr("node", &c.node)
                    .attr("ver", &c.ver),
            );
        }
        for o in &self.other {
            b = b.append(o.clone());
        }
        b.build()
    }

    /// Whether the server sent no feature at all: after the last stage,
    /// RFC 6120 §4.3.2 says the stream is ready.
    pub fn is_empty(&self) -> bool {
        *self == StreamFeatures::default()
    }

    /// Whether the server insists on STARTTLS before anything else.
    pub fn starttls_required(&self) -> bool {
        self.starttls == Some(Requirement::Required)
    }

    /// Whether the client must send the legacy session IQ after binding.
    pub fn session_required(&self) -> bool {
        self.session == Some(Requirement::Required)
    }

    /// The newest stream management version offered.
    pub fn sm_best(&self) -> Option<SmVersion> {
        self.sm.iter().copied().max()
    }
}
