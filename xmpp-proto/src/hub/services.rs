//! The server's own answers: IQ requests to the domain, and those to an
//! account that the server handles on the account's behalf (RFC 6121
//! §8.5.2.1.3): XEP-0199 ping and XEP-0030 disco#info (the roster is the
//! IM layer's).

use crate::jid::BareJid;
use crate::stanza::{DefinedCondition, Iq, IqType, StanzaError};
use crate::xml::{Element, ns};

/// What the server says about itself.
#[derive(Clone, Debug, Default)]
pub(crate) struct Services {
    /// Extra disco#info features (besides disco#info and ping).
    pub(crate) features: Vec<String>,
}

impl Services {
    /// The answer to `iq`, a request to the domain (`account` is `None`)
    /// or to `account`; `items` are the domain's disco#items (its
    /// components).
    pub(crate) fn answer(&self, iq: &Iq, account: Option<&BareJid>, items: &[&str]) -> Element {
        let payload = iq.payload();
        let get = iq.kind() == IqType::Get;
        let answer = match (payload.map(|p| (p.name(), p.ns())), account) {
            (Some(("ping", ns::PING)), _) if get => Some(iq.make_result(None)),
            (Some(("query", ns::DISCO_INFO)), None)
                if get && payload.and_then(|p| p.attr("node")).is_none() =>
            {
                Some(iq.make_result(Some(self.disco_info("server", "im"))))
            }
            (Some(("query", ns::DISCO_INFO)), Some(_)) if get => {
                Some(iq.make_result(Some(self.disco_info("account", "registered"))))
            }
            (Some(("query", ns::DISCO_ITEMS)), _) if get => {
                let node = payload.and_then(|p| p.attr("node"));
                let mut query = Element::builder("query", ns::DISCO_ITEMS).attr_opt("node", node);
                // The domain's services; an account's items are its own
                // business (none served here), as are a node's.
                if account.is_none() && node.is_none() {
                    for item in items {
                        query = query
                            .append(Element::builder("item", ns::DISCO_ITEMS).attr("jid", *item));
                    }
                }
                Some(iq.make_result(Some(query.build())))
            }
            _ => None,
        };
        answer.unwrap_or_else(|| {
            iq.make_error(&StanzaError::new(DefinedCondition::ServiceUnavailable))
        })
    }

    fn disco_info(&self, category: &str, kind: &str) -> Element {
        let mut q = Element::builder("query", ns::DISCO_INFO).append(
            Element::builder("identity", ns::DISCO_INFO)
                .attr("category", category)
                .attr("type", kind),
        );
        let always = [
            ns::DISCO_INFO,
            ns::DISCO_ITEMS,
            ns::PING,
            ns::CARBONS,
            ns::PRIVATE,
            "urn:xmpp:blocking",
        ];
        for var in always
            .iter()
            .copied()
            .chain(self.features.iter().map(String::as_str))
        {
            q = q.append(Element::builder("feature", ns::DISCO_INFO).attr("var", var));
        }
        q.build()
    }
}
