//! What the client says about itself without the application's help:
//! XEP-0030 service discovery (its identity and features), XEP-0115
//! entity capabilities (the verification string, sent with presence),
//! and XEP-0092 software version (which the application may turn off).

use base64::Engine as _;
use sha1::{Digest, Sha1};

use super::Client;
use crate::stanza::{DefinedCondition, Iq, IqType, StanzaError};
use crate::xml::{Element, ns};

/// The XEP-0115 node naming this software, unless the application names
/// its own (`ClientConfig::with_caps_node`).
pub const DEFAULT_CAPS_NODE: &str = "https://crates.io/crates/xmpp-proto";

/// Who the client is, for discovery: a XEP-0030 identity, the software
/// name and version (XEP-0092), extra features and the XEP-0115 node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Discovery {
    pub(crate) category: String,
    pub(crate) kind: String,
    pub(crate) name: String,
    /// `None`: version requests are refused and not advertised.
    pub(crate) software: Option<(String, String)>,
    pub(crate) features: Vec<String>,
    pub(crate) caps_node: String,
}

impl Default for Discovery {
    fn default() -> Self {
        Discovery {
            category: "client".into(),
            kind: "bot".into(),
            name: "xmpp-proto".into(),
            software: Some(("xmpp-proto".into(), env!("CARGO_PKG_VERSION").into())),
            features: Vec::new(),
            caps_node: DEFAULT_CAPS_NODE.into(),
        }
    }
}

/// The XEP-0115 verification string of one identity and a set of
/// features (§5.1: `category/type/lang/name<`, then each feature and
/// `<`, sorted, hashed with SHA-1, in base64).
///
/// ```
/// use xmpp_proto::client::caps_verification;
/// // XEP-0115 §5.2's example.
/// let ver = caps_verification(
///     ("client", "pc", "", "Exodus 0.9.1"),
///     &[
///         "http://jabber.org/protocol/caps",
///         "http://jabber.org/protocol/disco#info",
///         "http://jabber.org/protocol/disco#items",
///         "http://jabber.org/protocol/muc",
///     ],
/// );
/// assert_eq!(ver, "QgayPKawpkPSDYmwT/WM94uAlu0=");
/// ```
pub fn caps_verification(identity: (&str, &str, &str, &str), features: &[&str]) -> String {
    caps_verification_of(&[identity], features)
}

/// [`caps_verification`] for several identities (sorted by category,
/// type, language and name, §5.1).
pub(crate) fn caps_verification_of(
    identities: &[(&str, &str, &str, &str)],
    features: &[&str],
) -> String {
    let mut identities = identities.to_vec();
    identities.sort_unstable();
    let mut sorted: Vec<&str> = features.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut hasher = Sha1::new();
    for (category, kind, lang, name) in identities {
        hasher.update(format!("{category}/{kind}/{lang}/{name}<"));
    }
    for feature in sorted {
        hasher.update(feature);
        hasher.update("<");
    }
    base64::engine::general_purpose::STANDARD.encode(hasher.finalize())
}

impl Client {
    /// The features this client advertises, sorted.
    pub(super) fn features(&self) -> Vec<&str> {
        let mut features = vec![ns::DISCO_INFO, ns::DISCO_ITEMS, ns::CAPS, ns::PING];
        if self.config.receipts != super::ReceiptPolicy::Never {
            features.push(ns::RECEIPTS);
        }
        if self.config.discovery.software.is_some() {
            features.push(ns::VERSION);
        }
        features.extend(self.config.discovery.features.iter().map(String::as_str));
        features.sort_unstable();
        features.dedup();
        features
    }

    /// This client's XEP-0115 verification string.
    pub fn caps_ver(&self) -> String {
        let d = &self.config.discovery;
        caps_verification((&d.category, &d.kind, "", &d.name), &self.features())
    }

    /// The `<c/>` element announcing our capabilities in presence.
    pub(super) fn caps_element(&self) -> Element {
        Element::builder("c", ns::CAPS)
            .attr("hash", "sha-1")
            .attr("node", &self.config.discovery.caps_node)
            .attr("ver", self.caps_ver())
            .build()
    }

    /// The answer to a discovery or version request the client handles
    /// itself, or `None` if `iq` is none of those.
    pub(super) fn discovery_answer(&self, iq: &Iq) -> Option<Element> {
        if iq.kind() != IqType::Get {
            return None;
        }
        let payload = iq.payload()?;
        let d = &self.config.discovery;
        match (payload.name(), payload.ns()) {
            ("query", ns::DISCO_INFO) => {
                let node = payload.attr("node");
                let ours = format!("{}#{}", d.caps_node, self.caps_ver());
                if node.is_some_and(|n| n != ours) {
                    let error = StanzaError::new(DefinedCondition::ItemNotFound);
                    return Some(iq.make_error(&error));
                }
                let mut query = Element::builder("query", ns::DISCO_INFO)
                    .attr_opt("node", node)
                    .append(
                        Element::builder("identity", ns::DISCO_INFO)
                            .attr("category", &d.category)
                            .attr("type", &d.kind)
                            .attr("name", &d.name),
                    );
                for feature in self.features() {
                    query = query
                        .append(Element::builder("feature", ns::DISCO_INFO).attr("var", feature));
                }
                Some(iq.make_result(Some(query.build())))
            }
            ("query", ns::DISCO_ITEMS) => {
                let query = Element::builder("query", ns::DISCO_ITEMS)
                    .attr_opt("node", payload.attr("node"))
                    .build();
                Some(iq.make_result(Some(query)))
            }
            ("query", ns::VERSION) => Some(match &d.software {
                Some((name, version)) => {
                    let query = Element::builder("query", ns::VERSION)
                        .append(Element::builder("name", ns::VERSION).text(name))
                        .append(Element::builder("version", ns::VERSION).text(version))
                        .build();
                    iq.make_result(Some(query))
                }
                None => iq.make_error(&StanzaError::new(DefinedCondition::ServiceUnavailable)),
            }),
            _ => None,
        }
    }
}
