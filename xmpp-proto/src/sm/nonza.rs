//! The nonzas of `urn:xmpp:sm:3` (XEP-0198 §3-§5), parsed once into types
//! and built back.

use std::fmt;

use crate::stanza::DefinedCondition;
use crate::xml::{Element, ns};

/// One XEP-0198 (version 3) element.
///
/// ```
/// use xmpp_proto::sm::Nonza;
///
/// let enabled = Nonza::Enabled {
///     id: Some("some-long-sm-id".into()),
///     resume: true,
///     max: Some(300),
///     location: None,
/// };
/// let el = enabled.to_element();
/// assert_eq!(Nonza::from_element(&el), Ok(enabled));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Nonza {
    /// `<enable/>` (client): turn stream management on.
    Enable {
        /// Ask for resumption.
        resume: bool,
        /// The preferred longest detachment, in seconds.
        max: Option<u32>,
    },
    /// `<enabled/>` (server): stream management is on.
    Enabled {
        /// The resumption id (only with `resume`).
        id: Option<String>,
        /// Whether the session can be resumed.
        resume: bool,
        /// The longest detachment the server keeps, in seconds.
        max: Option<u32>,
        /// Where to reconnect for resumption (`host` or `host:port`).
        location: Option<String>,
    },
    /// `<resume/>` (client): take over a detached session.
    Resume {
        /// Stanzas the client handled from the old stream.
        h: u32,
        /// The id from `<enabled/>`.
        previd: String,
    },
    /// `<resumed/>` (server): the session is back.
    Resumed {
        /// Stanzas the server handled from the old stream.
        h: u32,
        /// The id resumed.
        previd: String,
    },
    /// `<failed/>` (server): enabling or resuming failed.
    Failed {
        /// When resuming: stanzas the server handled from the old stream,
        /// if it says.
        h: Option<u32>,
        /// The stanza error condition, if any (`item-not-found` for an
        /// unknown or expired session).
        condition: Option<DefinedCondition>,
    },
    /// `<r/>`: please acknowledge.
    Request,
    /// `<a h=''/>`: I handled `h` stanzas in all.
    Answer {
        /// The handled count.
        h: u32,
    },
}

/// Why an element is not a valid XEP-0198 nonza.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SmParseError {
    /// Not in the `urn:xmpp:sm:3` namespace.
    WrongNamespace,
    /// An element of that namespace we do not know.
    UnknownElement(String),
    /// A required attribute is missing.
    MissingAttribute(&'static str),
    /// An attribute that must be a number (`h`, `max`) is not a `u32`.
    BadNumber(&'static str),
    /// `resume` is not an XML boolean.
    BadBoolean,
}

impl fmt::Display for SmParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SmParseError::WrongNamespace => f.write_str("not a urn:xmpp:sm:3 element"),
            SmParseError::UnknownElement(n) => {
                write!(f, "unknown stream management element <{n}/>")
            }
            SmParseError::MissingAttribute(a) => write!(f, "missing attribute '{a}'"),
            SmParseError::BadNumber(a) => write!(f, "attribute '{a}' is not a 32-bit count"),
            SmParseError::BadBoolean => f.write_str("attribute 'resume' is not a boolean"),
        }
    }
}

impl std::error::Error for SmParseError {}

impl Nonza {
    /// Parses a received element.
    ///
    /// # Errors
    /// See [`SmParseError`].
    pub fn from_element(el: &Element) -> Result<Self, SmParseError> {
        if el.ns() != ns::SM {
            return Err(SmParseError::WrongNamespace);
        }
        let number = |name: &'static str| -> Result<Option<u32>, SmParseError> {
            el.attr(name)
                .map(|v| {
                    v.trim()
                        .parse::<u32>()
                        .map_err(|_| SmParseError::BadNumber(name))
                })
                .transpose()
        };
        let required = |name: &'static str| -> Result<u32, SmParseError> {
            number(name)?.ok_or(SmParseError::MissingAttribute(name))
        };
        let resume = || -> Result<bool, SmParseError> {
            match el.attr("resume").map(str::trim) {
                None | Some("false" | "0") => Ok(false),
                Some("true" | "1") => Ok(true),
                Some(_) => Err(SmParseError::BadBoolean),
            }
        };
        let previd = || -> Result<String, SmParseError> {
            el.attr("previd")
                .map(str::to_owned)
                .ok_or(SmParseError::MissingAttribute("previd"))
        };
        Ok(match el.name() {
            "enable" => Nonza::Enable {
                resume: resume()?,
                max: number("max")?,
            },
            "enabled" => Nonza::Enabled {
                id: el.attr("id").map(str::to_owned),
                resume: resume()?,
                max: number("max")?,
                location: el.attr("location").map(str::to_owned),
            },
            "resume" => Nonza::Resume {
                h: required("h")?,
                previd: previd()?,
            },
            "resumed" => Nonza::Resumed {
                h: required("h")?,
                previd: previd()?,
            },
            "failed" => Nonza::Failed {
                h: number("h")?,
                condition: el
                    .children()
                    .filter(|c| c.ns() == ns::STANZAS)
                    .find_map(|c| DefinedCondition::from_name(c.name())),
            },
            "r" => Nonza::Request,
            "a" => Nonza::Answer { h: required("h")? },
            other => return Err(SmParseError::UnknownElement(other.to_owned())),
        })
    }

    /// The element to send.
    pub fn to_element(&self) -> Element {
        let bool_attr = |b: bool| if b { Some("true") } else { None };
        match self {
            Nonza::Enable { resume, max } => Element::builder("enable", ns::SM)
                .attr_opt("resume", bool_attr(*resume))
                .attr_opt("max", max.map(|m| m.to_string()))
                .build(),
            Nonza::Enabled {
                id,
                resume,
                max,
                location,
            } => Element::builder("enabled", ns::SM)
                .attr_opt("id", id.clone())
                .attr_opt("resume", bool_attr(*resume))
                .attr_opt("max", max.map(|m| m.to_string()))
                .attr_opt("location", location.clone())
                .build(),
            Nonza::Resume { h, previd } => Element::builder("resume", ns::SM)
                .attr("h", h.to_string())
                .attr("previd", previd.clone())
                .build(),
            Nonza::Resumed { h, previd } => Element::builder("resumed", ns::SM)
                .attr("h", h.to_string())
                .attr("previd", previd.clone())
                .build(),
            Nonza::Failed { h, condition } => {
                let mut b =
                    Element::builder("failed", ns::SM).attr_opt("h", h.map(|h| h.to_string()));
                if let Some(c) = condition {
                    b = b.append(Element::builder(c.as_str(), ns::STANZAS));
                }
                b.build()
            }
            Nonza::Request => Element::builder("r", ns::SM).build(),
            Nonza::Answer { h } => Element::builder("a", ns::SM)
                .attr("h", h.to_string())
                .build(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{StreamEvent, StreamReader};

    fn parse(xml: &str) -> Result<Nonza, SmParseError> {
        let mut reader = StreamReader::new(Default::default());
        let head =
            "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";
        let mut input = format!("{head}{xml}");
        let mut bytes = input.as_bytes();
        let mut el = None;
        while let Ok(Some(ev)) = reader.read(&mut bytes) {
            if let StreamEvent::Element(e) = ev {
                el = Some(e);
            }
        }
        input.clear();
        Nonza::from_element(&el.expect("an element"))
    }

    #[test]
    fn parses_what_servers_send() {
        assert_eq!(
            parse("<enabled xmlns='urn:xmpp:sm:3' id='abc' resume='true' max='600'/>"),
            Ok(Nonza::Enabled {
                id: Some("abc".into()),
                resume: true,
                max: Some(600),
                location: None
            })
        );
        assert_eq!(
            parse(
                "<failed xmlns='urn:xmpp:sm:3' h='4'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>"
            ),
            Ok(Nonza::Failed {
                h: Some(4),
                condition: Some(DefinedCondition::ItemNotFound)
            })
        );
        assert_eq!(parse("<r xmlns='urn:xmpp:sm:3'/>"), Ok(Nonza::Request));
        assert_eq!(
            parse("<a xmlns='urn:xmpp:sm:3' h='4294967295'/>"),
            Ok(Nonza::Answer { h: u32::MAX })
        );
    }

    #[test]
    fn refuses_broken_ones() {
        assert_eq!(
            parse("<a xmlns='urn:xmpp:sm:3' h='4294967296'/>"),
            Err(SmParseError::BadNumber("h"))
        );
        assert_eq!(
            parse("<a xmlns='urn:xmpp:sm:3' h='-1'/>"),
            Err(SmParseError::BadNumber("h"))
        );
        assert_eq!(
            parse("<a xmlns='urn:xmpp:sm:3'/>"),
            Err(SmParseError::MissingAttribute("h"))
        );
        assert_eq!(
            parse("<resume xmlns='urn:xmpp:sm:3' h='1'/>"),
            Err(SmParseError::MissingAttribute("previd"))
        );
        assert_eq!(
            parse("<enable xmlns='urn:xmpp:sm:3' resume='yes'/>"),
            Err(SmParseError::BadBoolean)
        );
        assert_eq!(
            parse("<x xmlns='urn:xmpp:sm:3'/>"),
            Err(SmParseError::UnknownElement("x".into()))
        );
        assert_eq!(
            parse("<a xmlns='urn:xmpp:sm:2' h='1'/>"),
            Err(SmParseError::WrongNamespace)
        );
    }

    #[test]
    fn every_nonza_round_trips() {
        let all = [
            Nonza::Enable {
                resume: true,
                max: Some(60),
            },
            Nonza::Enable {
                resume: false,
                max: None,
            },
            Nonza::Enabled {
                id: None,
                resume: false,
                max: None,
                location: Some("[::1]:5222".into()),
            },
            Nonza::Resume {
                h: 7,
                previd: "x".into(),
            },
            Nonza::Resumed {
                h: u32::MAX,
                previd: "x".into(),
            },
            Nonza::Failed {
                h: None,
                condition: None,
            },
            Nonza::Failed {
                h: Some(0),
                condition: Some(DefinedCondition::UnexpectedRequest),
            },
            Nonza::Request,
            Nonza::Answer { h: 0 },
        ];
        for n in all {
            assert_eq!(Nonza::from_element(&n.to_element()), Ok(n));
        }
    }
}
