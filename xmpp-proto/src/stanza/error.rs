//! Stanza errors (RFC 6120 §8.3).

use std::fmt;

use crate::xml::{Element, ElementRef, ns};

/// The `type` of a stanza error (RFC 6120 §8.3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorType {
    /// Retry after providing credentials.
    Auth,
    /// Do not retry (the error cannot be remedied).
    Cancel,
    /// Proceed (the condition was only a warning).
    Continue,
    /// Retry after changing the data sent.
    Modify,
    /// Retry after waiting (the error is temporary).
    Wait,
}

impl ErrorType {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Cancel => "cancel",
            Self::Continue => "continue",
            Self::Modify => "modify",
            Self::Wait => "wait",
        }
    }

    /// Parses the attribute value.
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "auth" => Self::Auth,
            "cancel" => Self::Cancel,
            "continue" => Self::Continue,
            "modify" => Self::Modify,
            "wait" => Self::Wait,
            _ => return None,
        })
    }
}

macro_rules! conditions {
    ($($(#[$doc:meta])* $v:ident = $name:literal, $ty:ident;)*) => {
        /// The defined conditions of stanza errors (RFC 6120 §8.3.3).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum DefinedCondition {
            $($(#[$doc])* $v,)*
        }

        impl DefinedCondition {
            /// Every condition, in RFC order.
            pub const ALL: &'static [DefinedCondition] = &[$(Self::$v,)*];

            /// The element name, e.g. `item-not-found`.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $name,)* }
            }

            /// The condition with this element name.
            pub fn from_name(s: &str) -> Option<Self> {
                match s { $($name => Some(Self::$v),)* _ => None }
            }

            /// The error type RFC 6120 §8.3.3 suggests for this condition.
            pub fn default_type(self) -> ErrorType {
                match self { $(Self::$v => ErrorType::$ty,)* }
            }
        }
    };
}

conditions! {
    /// §8.3.3.1: the request is malformed.
    BadRequest = "bad-request", Modify;
    /// §8.3.3.2: a resource or session with that name exists.
    Conflict = "conflict", Cancel;
    /// §8.3.3.3: the feature is not implemented by the recipient.
    FeatureNotImplemented = "feature-not-implemented", Cancel;
    /// §8.3.3.4: the requester lacks the permissions.
    Forbidden = "forbidden", Auth;
    /// §8.3.3.5: the recipient is no longer at this address (new address in the text).
    Gone = "gone", Cancel;
    /// §8.3.3.6: the server had an internal error.
    InternalServerError = "internal-server-error", Cancel;
    /// §8.3.3.7: the addressed item does not exist.
    ItemNotFound = "item-not-found", Cancel;
    /// §8.3.3.8: an address is not a valid JID.
    JidMalformed = "jid-malformed", Modify;
    /// §8.3.3.9: the request violates the recipient's criteria.
    NotAcceptable = "not-acceptable", Modify;
    /// §8.3.3.10: nobody may perform this action.
    NotAllowed = "not-allowed", Cancel;
    /// §8.3.3.11: credentials are needed first.
    NotAuthorized = "not-authorized", Auth;
    /// §8.3.3.12: a local policy was violated.
    PolicyViolation = "policy-violation", Modify;
    /// §8.3.3.13: the recipient is temporarily unavailable.
    RecipientUnavailable = "recipient-unavailable", Wait;
    /// §8.3.3.14: the request should go to another address (in the text).
    Redirect = "redirect", Modify;
    /// §8.3.3.15: registration is required first.
    RegistrationRequired = "registration-required", Auth;
    /// §8.3.3.16: the remote server does not exist.
    RemoteServerNotFound = "remote-server-not-found", Cancel;
    /// §8.3.3.17: the remote server could not be reached in time.
    RemoteServerTimeout = "remote-server-timeout", Wait;
    /// §8.3.3.18: the recipient lacks resources.
    ResourceConstraint = "resource-constraint", Wait;
    /// §8.3.3.19: the service is not provided.
    ServiceUnavailable = "service-unavailable", Cancel;
    /// §8.3.3.20: a subscription is required first.
    SubscriptionRequired = "subscription-required", Auth;
    /// §8.3.3.21: none of the others; see the application-specific element.
    UndefinedCondition = "undefined-condition", Cancel;
    /// §8.3.3.22: the request was not expected at this time.
    UnexpectedRequest = "unexpected-request", Wait;
}

impl fmt::Display for DefinedCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stanza error, received or to be sent (RFC 6120 §8.3.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StanzaError {
    /// `type`.
    pub kind: ErrorType,
    /// The defined condition.
    pub condition: DefinedCondition,
    /// Text content of the condition element (the new address for `gone`
    /// and `redirect`).
    pub condition_text: Option<String>,
    /// `by`: the entity that generated the error.
    pub by: Option<String>,
    /// Human-readable `<text/>`.
    pub text: Option<String>,
    /// `xml:lang` of `text`.
    pub lang: Option<String>,
    /// An application-specific condition element.
    pub application: Option<Element>,
}

/// Why an `<error/>` element could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StanzaErrorParseError {
    /// The element is not `<error/>`.
    NotAnError,
    /// `type` is missing or not one of auth, cancel, continue, modify, wait.
    BadType,
    /// No child names a defined condition.
    MissingCondition,
}

impl fmt::Display for StanzaErrorParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotAnError => "the element is not <error/>",
            Self::BadType => "the stanza error's type is missing or undefined",
            Self::MissingCondition => "the stanza error names no defined condition",
        })
    }
}

impl std::error::Error for StanzaErrorParseError {}

impl StanzaError {
    /// An error with the condition's usual type and nothing else.
    pub fn new(condition: DefinedCondition) -> Self {
        Self {
            kind: condition.default_type(),
            condition,
            condition_text: None,
            by: None,
            text: None,
            lang: None,
            application: None,
        }
    }

    /// Adds a human-readable text.
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Reads an `<error/>` child of a stanza.
    pub fn from_ref(el: ElementRef<'_>) -> Result<Self, StanzaErrorParseError> {
        if el.name() != "error" {
            return Err(StanzaErrorParseError::NotAnError);
        }
        let kind = el
            .attr("type")
            .and_then(ErrorType::from_name)
            .ok_or(StanzaErrorParseError::BadType)?;
        let mut err = StanzaError::new(DefinedCondition::UndefinedCondition);
        err.kind = kind;
        err.by = el.attr("by").map(str::to_owned);
        let mut found = false;
        for c in el.children() {
            if c.ns() == ns::STANZAS {
                if c.name() == "text" {
                    err.text = Some(c.text().into_owned());
                    err.lang = c.lang().map(str::to_owned);
                } else if !found {
                    if let Some(cond) = DefinedCondition::from_name(c.name()) {
                        found = true;
                        err.condition = cond;
                        let t = c.text();
                        err.condition_text = (!t.is_empty()).then(|| t.into_owned());
                    }
                }
            } else if err.application.is_none() {
                err.application = Some(c.to_owned());
            }
        }
        if !found {
            return Err(StanzaErrorParseError::MissingCondition);
        }
        Ok(err)
    }

    /// The `<error/>` element, in the stanza namespace `stanza_ns`.
    pub fn to_element(&self, stanza_ns: &str) -> Element {
        let mut cond = Element::builder(self.condition.as_str(), ns::STANZAS);
        if let Some(t) = &self.condition_text {
            cond = cond.text(t);
        }
        let mut b = Element::builder("error", stanza_ns)
            .attr("type", self.kind.as_str())
            .attr_opt("by", self.by.as_deref())
            .append(cond);
        if let Some(text) = &self.text {
            let mut t = Element::builder("text", ns::STANZAS);
            if let Some(lang) = &self.lang {
                t = t.lang(lang);
            }
            b = b.append(t.text(text));
        }
        if let Some(app) = &self.application {
            b = b.append(app.clone());
        }
        b.build()
    }
}

impl fmt::Display for StanzaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.condition, self.kind.as_str())?;
        if let Some(t) = &self.text {
            write!(f, ": {t}")?;
        }
        Ok(())
    }
}

impl std::error::Error for StanzaError {}
