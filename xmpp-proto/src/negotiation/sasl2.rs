//! The elements of Extensible SASL (XEP-0388, `urn:xmpp:sasl:2`) and what
//! rides inline in them: Bind 2 (XEP-0386), stream management's inline
//! enable and resume (XEP-0198 §5 under SASL2) and FAST tokens
//! (XEP-0484).
//!
//! SASL2 is the RFC 6120 profile rebuilt for extensibility: the same
//! mechanisms, but `<authenticate/>` carries requests beside the initial
//! response, `<success/>` carries their results, and no stream restart
//! follows. A login that resumes a session or binds a resource, enables
//! stream management and renews a FAST token is one exchange after TLS.
//!
//! ```
//! use xmpp_proto::negotiation::{Authenticate, Bind2Request, UserAgent};
//! use xmpp_proto::negotiation::sasl2::Sasl2ClientMessage;
//! use xmpp_proto::sm::Nonza;
//!
//! let mut auth = Authenticate::new("SCRAM-SHA-256", Some(b"n,,n=juliet,r=abc".to_vec()));
//! auth.user_agent = Some(UserAgent::new("d4565fa7-4d72-4749-b3d3-740edbf87770").with_software("Balcony"));
//! auth.bind = Some(Bind2Request {
//!     tag: Some("Balcony".into()),
//!     sm: Some(Nonza::Enable { resume: true, max: None }),
//!     ..Bind2Request::default()
//! });
//! let el = Sasl2ClientMessage::Authenticate(Box::new(auth.clone())).to_element();
//! let back = Sasl2ClientMessage::from_element(&el, 4096)?;
//! assert_eq!(back, Sasl2ClientMessage::Authenticate(Box::new(auth)));
//! # Ok::<(), xmpp_proto::negotiation::NegotiationError>(())
//! ```

use super::NegotiationError;
use super::sasl::{decode, encode_present, is_mechanism_name};
use crate::sasl::FailureCondition;
use crate::sm::Nonza;
use crate::xml::{Element, ElementRef, ns};

/// The SASL2 namespace (XEP-0388).
pub const SASL2: &str = "urn:xmpp:sasl:2";
/// The Bind 2 namespace (XEP-0386).
pub const BIND2: &str = "urn:xmpp:bind:0";
/// The FAST namespace (XEP-0484).
pub const FAST: &str = "urn:xmpp:fast:0";

/// Longest user-agent id, software or device name, tag, token or
/// authorization identifier we keep from a peer: far above real values
/// (a UUID is 36 bytes, Prosody's tokens about 40), so an attacker cannot
/// make us hold much.
const MAX_TEXT: usize = 1024;
/// Most inline features or mechanisms kept from one offer.
const MAX_ITEMS: usize = 64;

/// `<authentication xmlns='urn:xmpp:sasl:2'/>` in the stream features:
/// the mechanisms and what may be done inline.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sasl2Offer {
    /// The mechanism names, verbatim and in the order received.
    pub mechanisms: Vec<String>,
    /// Bind 2, with the namespaces of the features that can be enabled
    /// inside `<bind/>` (its `<inline><feature var=''/></inline>`).
    pub bind2: Option<Vec<String>>,
    /// Inline stream management (`<sm xmlns='urn:xmpp:sm:3'/>`): a
    /// `<resume/>` may ride in `<authenticate/>`.
    pub sm: bool,
    /// FAST, with the token mechanisms offered (`HT-SHA-256-NONE`, ...).
    pub fast: Option<Vec<String>>,
}

impl Sasl2Offer {
    /// Reads the feature; `None` if `el` is not one.
    pub fn from_ref(el: ElementRef<'_>) -> Option<Self> {
        if !el.is("authentication", SASL2) {
            return None;
        }
        let mut offer = Sasl2Offer {
            mechanisms: texts(el, "mechanism", SASL2),
            ..Sasl2Offer::default()
        };
        if let Some(inline) = el.child("inline", SASL2) {
            for child in inline.children() {
                match (child.ns(), child.name()) {
                    (BIND2, "bind") if offer.bind2.is_none() => {
                        let vars = child
                            .child("inline", BIND2)
                            .map(|i| {
                                i.children()
                                    .filter(|f| f.is("feature", BIND2))
                                    .filter_map(|f| f.attr("var"))
                                    .take(MAX_ITEMS)
                                    .map(str::to_owned)
                                    .collect()
                            })
                            .unwrap_or_default();
                        offer.bind2 = Some(vars);
                    }
                    (ns::SM, "sm") => offer.sm = true,
                    (FAST, "fast") if offer.fast.is_none() => {
                        offer.fast = Some(texts(child, "mechanism", FAST));
                    }
                    _ => {}
                }
            }
        }
        Some(offer)
    }

    /// The feature element to advertise.
    pub fn to_element(&self) -> Element {
        let mut b = Element::builder("authentication", SASL2);
        for m in &self.mechanisms {
            b = b.append(Element::builder("mechanism", SASL2).text(m));
        }
        let mut inline = Element::builder("inline", SASL2);
        if let Some(vars) = &self.bind2 {
            let mut features = Element::builder("inline", BIND2);
            for var in vars {
                features = features.append(Element::builder("feature", BIND2).attr("var", var));
            }
            inline = inline.append(Element::builder("bind", BIND2).append(features));
        }
        if self.sm {
            inline = inline.append(Element::builder("sm", ns::SM));
        }
        if let Some(mechanisms) = &self.fast {
            let mut fast = Element::builder("fast", FAST);
            for m in mechanisms {
                fast = fast.append(Element::builder("mechanism", FAST).text(m));
            }
            inline = inline.append(fast);
        }
        b.append(inline).build()
    }
}

/// `<user-agent/>`: which installation of which software logs in. The id
/// is stable per installation (the application keeps it); FAST tokens
/// are bound to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserAgent {
    /// A stable identifier, usually a UUID.
    pub id: String,
    /// The software's name.
    pub software: Option<String>,
    /// The device's name, as the user calls it.
    pub device: Option<String>,
}

impl UserAgent {
    /// A user agent with only its id.
    pub fn new(id: impl Into<String>) -> Self {
        UserAgent {
            id: id.into(),
            software: None,
            device: None,
        }
    }

    /// Names the software.
    #[must_use]
    pub fn with_software(mut self, software: impl Into<String>) -> Self {
        self.software = Some(software.into());
        self
    }

    /// Names the device.
    #[must_use]
    pub fn with_device(mut self, device: impl Into<String>) -> Self {
        self.device = Some(device.into());
        self
    }
}

/// A Bind 2 request (`<bind xmlns='urn:xmpp:bind:0'/>` in
/// `<authenticate/>`): the server picks the resource, from `tag` if given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bind2Request {
    /// A short name of the client software, which the server may use as
    /// the start of the resource.
    pub tag: Option<String>,
    /// Stream management to enable once bound (a [`Nonza::Enable`]).
    pub sm: Option<Nonza>,
    /// Enable message carbons (XEP-0280) once bound.
    pub carbons: bool,
}

/// FAST used for this login (`<fast xmlns='urn:xmpp:fast:0'/>` in
/// `<authenticate/>`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FastUse {
    /// A counter the client raises at each use of a token, if it sends
    /// one (replay protection; Prosody ignores it).
    pub count: Option<u32>,
    /// Invalidate the token after this login (the client is logging out
    /// for good).
    pub invalidate: bool,
}

/// `<authenticate/>`: the mechanism, its initial response, and what to do
/// inline once authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authenticate {
    /// The mechanism name.
    pub mechanism: String,
    /// The initial response (`None`: no `<initial-response/>`).
    pub initial: Option<Vec<u8>>,
    /// Who logs in.
    pub user_agent: Option<UserAgent>,
    /// Resume a detached session (a [`Nonza::Resume`]).
    pub resume: Option<Nonza>,
    /// Bind a resource.
    pub bind: Option<Bind2Request>,
    /// Ask for a FAST token for this mechanism.
    pub request_token: Option<String>,
    /// The mechanism is a FAST token mechanism.
    pub fast: Option<FastUse>,
}

impl Authenticate {
    /// An `<authenticate/>` with only a mechanism and initial response.
    pub fn new(mechanism: impl Into<String>, initial: Option<Vec<u8>>) -> Self {
        Authenticate {
            mechanism: mechanism.into(),
            initial,
            user_agent: None,
            resume: None,
            bind: None,
            request_token: None,
            fast: None,
        }
    }
}

/// What a client sends during a SASL2 exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sasl2ClientMessage {
    /// `<authenticate/>`.
    Authenticate(Box<Authenticate>),
    /// `<response/>`: the answer to a challenge.
    Response(Vec<u8>),
    /// `<abort/>`.
    Abort,
}

/// The results of a SASL2 `<success/>`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sasl2Success {
    /// The mechanism's additional data (SCRAM's server signature, HT's
    /// responder proof).
    pub additional_data: Option<Vec<u8>>,
    /// Who the client now is: a full JID when a resource was bound or a
    /// session resumed, else the bare JID.
    pub authorization_identifier: String,
    /// The inline resumption's result: [`Nonza::Resumed`] or
    /// [`Nonza::Failed`].
    pub resumed: Option<Nonza>,
    /// The Bind 2 result.
    pub bound: Option<Bind2Result>,
    /// A new FAST token.
    pub token: Option<FastToken>,
}

/// The result of a Bind 2 request inside `<success/>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bind2Result {
    /// `<bound/>`: the resource is bound, with the result of an inline
    /// stream management enable ([`Nonza::Enabled`] or [`Nonza::Failed`]).
    Bound {
        /// The stream management result.
        sm: Option<Nonza>,
        /// Carbons were enabled.
        carbons: bool,
    },
    /// `<failed/>`: no resource could be bound.
    Failed,
}

/// A FAST token issued by the server (`<token/>` in `<success/>`).
#[derive(Clone, PartialEq, Eq)]
pub struct FastToken {
    /// The secret.
    pub token: String,
    /// When it expires (XEP-0082 date and time).
    pub expiry: String,
}

impl core::fmt::Debug for FastToken {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FastToken")
            .field("token", &"<redacted>")
            .field("expiry", &self.expiry)
            .finish()
    }
}

/// What a server sends during a SASL2 exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sasl2ServerMessage {
    /// `<challenge/>`.
    Challenge(Vec<u8>),
    /// `<success/>`.
    Success(Box<Sasl2Success>),
    /// `<failure/>`: the condition (from the RFC 6120 SASL namespace) and
    /// text.
    Failure {
        /// The condition; an unknown or missing one reads as
        /// `not-authorized`.
        condition: FailureCondition,
        /// The `<text/>`, if any.
        text: Option<String>,
    },
    /// `<continue/>`: the server wants further tasks (XEP-0388 §2.6.3),
    /// which this library does not do; kept so a client can say so.
    Continue {
        /// The tasks offered.
        tasks: Vec<String>,
    },
}

impl Sasl2ClientMessage {
    /// Reads a received client message; `max_data` bounds decoded SASL
    /// data.
    pub fn from_element(el: &Element, max_data: usize) -> Result<Self, NegotiationError> {
        Self::from_ref(el.as_ref(), max_data)
    }

    /// Reads a received client message from a view.
    pub fn from_ref(el: ElementRef<'_>, max_data: usize) -> Result<Self, NegotiationError> {
        match (el.ns(), el.name()) {
            (SASL2, "authenticate") => {
                let mechanism = el
                    .attr("mechanism")
                    .ok_or(NegotiationError::MissingAttribute {
                        element: "authenticate",
                        attribute: "mechanism",
                    })?;
                if !is_mechanism_name(mechanism) {
                    return Err(NegotiationError::InvalidMechanismName(mechanism.to_owned()));
                }
                let initial = match el.child("initial-response", SASL2) {
                    Some(i) => decode(i, "initial-response", max_data)?.or(Some(Vec::new())),
                    None => None,
                };
                let mut auth = Authenticate::new(mechanism, initial);
                for child in el.children() {
                    auth.take(child);
                }
                Ok(Sasl2ClientMessage::Authenticate(Box::new(auth)))
            }
            (SASL2, "response") => Ok(Sasl2ClientMessage::Response(
                decode(el, "response", max_data)?.unwrap_or_default(),
            )),
            (SASL2, "abort") => Ok(Sasl2ClientMessage::Abort),
            (ns, name) => Err(NegotiationError::UnexpectedElement {
                expected: "a SASL2 client message",
                name: name.to_owned(),
                ns: ns.to_owned(),
            }),
        }
    }

    /// The element to send.
    pub fn to_element(&self) -> Element {
        match self {
            Sasl2ClientMessage::Authenticate(auth) => auth.to_element(),
            Sasl2ClientMessage::Response(data) => with_data("response", data),
            Sasl2ClientMessage::Abort => Element::builder("abort", SASL2).build(),
        }
    }
}

impl Authenticate {
    /// Types one child of `<authenticate/>`; unknown ones are ignored, as
    /// XEP-0388 extensions a server does not know must be.
    fn take(&mut self, child: ElementRef<'_>) {
        match (child.ns(), child.name()) {
            (SASL2, "user-agent") if self.user_agent.is_none() => {
                let Some(id) = child.attr("id").filter(|id| id.len() <= MAX_TEXT) else {
                    return;
                };
                self.user_agent = Some(UserAgent {
                    id: id.to_owned(),
                    software: bounded_text(child, "software", SASL2),
                    device: bounded_text(child, "device", SASL2),
                });
            }
            (ns::SM, "resume") if self.resume.is_none() => {
                self.resume = Nonza::from_element(&child.to_owned()).ok().filter(
                    |n| matches!(n, Nonza::Resume { previd, .. } if previd.len() <= MAX_TEXT),
                );
            }
            (BIND2, "bind") if self.bind.is_none() => {
                let sm = child
                    .child("enable", ns::SM)
                    .and_then(|e| Nonza::from_element(&e.to_owned()).ok());
                self.bind = Some(Bind2Request {
                    tag: bounded_text(child, "tag", BIND2),
                    sm,
                    carbons: child.child("enable", ns::CARBONS).is_some(),
                });
            }
            (FAST, "request-token") if self.request_token.is_none() => {
                self.request_token = child
                    .attr("mechanism")
                    .filter(|m| is_mechanism_name(m))
                    .map(str::to_owned);
            }
            (FAST, "fast") if self.fast.is_none() => {
                self.fast = Some(FastUse {
                    count: child.attr("count").and_then(|c| c.parse().ok()),
                    invalidate: matches!(child.attr("invalidate"), Some("true" | "1")),
                });
            }
            _ => {}
        }
    }

    /// The element to send.
    pub fn to_element(&self) -> Element {
        let mut b = Element::builder("authenticate", SASL2).attr("mechanism", &self.mechanism);
        if let Some(initial) = &self.initial {
            b = b
                .append(Element::builder("initial-response", SASL2).text(&encode_present(initial)));
        }
        if let Some(agent) = &self.user_agent {
            let mut a = Element::builder("user-agent", SASL2).attr("id", &agent.id);
            if let Some(software) = &agent.software {
                a = a.append(Element::builder("software", SASL2).text(software));
            }
            if let Some(device) = &agent.device {
                a = a.append(Element::builder("device", SASL2).text(device));
            }
            b = b.append(a);
        }
        if let Some(resume) = &self.resume {
            b = b.append(resume.to_element());
        }
        if let Some(bind) = &self.bind {
            let mut e = Element::builder("bind", BIND2);
            if let Some(tag) = &bind.tag {
                e = e.append(Element::builder("tag", BIND2).text(tag));
            }
            if let Some(sm) = &bind.sm {
                e = e.append(sm.to_element());
            }
            if bind.carbons {
                e = e.append(Element::builder("enable", ns::CARBONS));
            }
            b = b.append(e);
        }
        if let Some(mechanism) = &self.request_token {
            b = b.append(Element::builder("request-token", FAST).attr("mechanism", mechanism));
        }
        if let Some(fast) = &self.fast {
            let mut e = Element::builder("fast", FAST);
            if let Some(count) = fast.count {
                e = e.attr("count", count.to_string());
            }
            if fast.invalidate {
                e = e.attr("invalidate", "true");
            }
            b = b.append(e);
        }
        b.build()
    }
}

impl Sasl2ServerMessage {
    /// Reads a received server message; `max_data` bounds decoded SASL
    /// data.
    pub fn from_element(el: &Element, max_data: usize) -> Result<Self, NegotiationError> {
        Self::from_ref(el.as_ref(), max_data)
    }

    /// Reads a received server message from a view.
    pub fn from_ref(el: ElementRef<'_>, max_data: usize) -> Result<Self, NegotiationError> {
        match (el.ns(), el.name()) {
            (SASL2, "challenge") => Ok(Sasl2ServerMessage::Challenge(
                decode(el, "challenge", max_data)?.unwrap_or_default(),
            )),
            (SASL2, "success") => Sasl2Success::from_ref(el, max_data)
                .map(|s| Sasl2ServerMessage::Success(Box::new(s))),
            (SASL2, "failure") => {
                let condition = el
                    .children()
                    .find(|c| c.ns() == ns::SASL)
                    .and_then(|c| FailureCondition::from_element_name(c.name()))
                    .unwrap_or(FailureCondition::NotAuthorized);
                Ok(Sasl2ServerMessage::Failure {
                    condition,
                    text: bounded_text(el, "text", SASL2),
                })
            }
            (SASL2, "continue") => Ok(Sasl2ServerMessage::Continue {
                tasks: el
                    .child("tasks", SASL2)
                    .map(|t| texts(t, "task", SASL2))
                    .unwrap_or_default(),
            }),
            (ns, name) => Err(NegotiationError::UnexpectedElement {
                expected: "a SASL2 server message",
                name: name.to_owned(),
                ns: ns.to_owned(),
            }),
        }
    }

    /// The element to send.
    pub fn to_element(&self) -> Element {
        match self {
            Sasl2ServerMessage::Challenge(data) => with_data("challenge", data),
            Sasl2ServerMessage::Success(success) => success.to_element(),
            Sasl2ServerMessage::Failure { condition, text } => {
                let mut b = Element::builder("failure", SASL2)
                    .append(Element::builder(condition.element_name(), ns::SASL));
                if let Some(text) = text {
                    b = b.append(Element::builder("text", SASL2).text(text));
                }
                b.build()
            }
            Sasl2ServerMessage::Continue { tasks } => {
                let mut t = Element::builder("tasks", SASL2);
                for task in tasks {
                    t = t.append(Element::builder("task", SASL2).text(task));
                }
                Element::builder("continue", SASL2).append(t).build()
            }
        }
    }
}

impl Sasl2Success {
    fn from_ref(el: ElementRef<'_>, max_data: usize) -> Result<Self, NegotiationError> {
        let additional_data = match el.child("additional-data", SASL2) {
            Some(d) => decode(d, "additional-data", max_data)?,
            None => None,
        };
        let authorization_identifier = bounded_text(el, "authorization-identifier", SASL2).ok_or(
            NegotiationError::MissingChild {
                element: "success",
                child: "authorization-identifier",
            },
        )?;
        let mut success = Sasl2Success {
            additional_data,
            authorization_identifier,
            ..Sasl2Success::default()
        };
        for child in el.children() {
            match (child.ns(), child.name()) {
                (ns::SM, "resumed" | "failed") if success.resumed.is_none() => {
                    success.resumed = Nonza::from_element(&child.to_owned()).ok();
                }
                (BIND2, "bound") if success.bound.is_none() => {
                    let sm = child
                        .children()
                        .find(|c| c.ns() == ns::SM && matches!(c.name(), "enabled" | "failed"))
                        .and_then(|c| Nonza::from_element(&c.to_owned()).ok());
                    success.bound = Some(Bind2Result::Bound {
                        sm,
                        carbons: child.child("enabled", ns::CARBONS).is_some(),
                    });
                }
                (BIND2, "failed") if success.bound.is_none() => {
                    success.bound = Some(Bind2Result::Failed);
                }
                (FAST, "token") if success.token.is_none() => {
                    if let (Some(token), Some(expiry)) = (child.attr("token"), child.attr("expiry"))
                    {
                        if token.len() <= MAX_TEXT && expiry.len() <= MAX_TEXT {
                            success.token = Some(FastToken {
                                token: token.to_owned(),
                                expiry: expiry.to_owned(),
                            });
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(success)
    }

    /// The `<success/>` element to send.
    pub fn to_element(&self) -> Element {
        let mut b = Element::builder("success", SASL2);
        if let Some(data) = &self.additional_data {
            b = b.append(Element::builder("additional-data", SASL2).text(&encode_present(data)));
        }
        b = b.append(
            Element::builder("authorization-identifier", SASL2)
                .text(&self.authorization_identifier),
        );
        if let Some(resumed) = &self.resumed {
            b = b.append(resumed.to_element());
        }
        match &self.bound {
            Some(Bind2Result::Bound { sm, carbons }) => {
                let mut bound = Element::builder("bound", BIND2);
                if let Some(sm) = sm {
                    bound = bound.append(sm.to_element());
                }
                if *carbons {
                    bound = bound.append(Element::builder("enabled", ns::CARBONS));
                }
                b = b.append(bound);
            }
            Some(Bind2Result::Failed) => b = b.append(Element::builder("failed", BIND2)),
            None => {}
        }
        if let Some(token) = &self.token {
            b = b.append(
                Element::builder("token", FAST)
                    .attr("expiry", &token.expiry)
                    .attr("token", &token.token),
            );
        }
        b.build()
    }
}

/// The trimmed texts of the `name` children, at most [`MAX_ITEMS`] of
/// them and each at most [`MAX_TEXT`] bytes.
fn texts(el: ElementRef<'_>, name: &str, ns: &str) -> Vec<String> {
    el.children()
        .filter(|c| c.is(name, ns))
        .map(|c| c.text().trim().to_owned())
        .filter(|t| t.len() <= MAX_TEXT)
        .take(MAX_ITEMS)
        .collect()
}

/// The text of the first `name` child, if it is at most [`MAX_TEXT`]
/// bytes.
fn bounded_text(el: ElementRef<'_>, name: &str, ns: &str) -> Option<String> {
    let text = el.child(name, ns)?.text();
    (text.len() <= MAX_TEXT).then(|| text.trim().to_owned())
}

/// `<challenge/>` or `<response/>` with its data; empty data is an empty
/// element.
fn with_data(name: &str, data: &[u8]) -> Element {
    let b = Element::builder(name, SASL2);
    if data.is_empty() {
        b.build()
    } else {
        b.text(&encode_present(data)).build()
    }
}

#[cfg(test)]
#[path = "sasl2_tests.rs"]
mod tests;
