//! XEP-0199 ping, both ways: the keepalive either side may send once the
//! stream is up, and must answer.

use crate::stanza::{Iq, IqType};
use crate::xml::{Element, ns};

/// A ping IQ get with this `id`; add a `to` with [`Iq::with_to`] to ping
/// another entity than the peer.
///
/// ```
/// use xmpp_proto::negotiation::{is_ping, ping_request};
///
/// let ping = ping_request("p1");
/// assert_eq!(ping.element().to_string(),
///     "<iq xmlns='jabber:client' id='p1' type='get'><ping xmlns='urn:xmpp:ping'/></iq>");
/// assert!(is_ping(&ping));
/// // The answer is an empty result.
/// let pong = ping.make_result(None);
/// assert_eq!(pong.attr("type"), Some("result"));
/// ```
pub fn ping_request(id: &str) -> Iq {
    Iq::get(id, Element::builder("ping", ns::PING).build())
}

/// Whether a received IQ is a ping (type `get`, payload `<ping/>`);
/// answer it with `iq.make_result(None)`.
pub fn is_ping(iq: &Iq) -> bool {
    iq.kind() == IqType::Get && iq.payload().is_some_and(|p| p.is("ping", ns::PING))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::negotiation::test_support::parse;

    #[test]
    fn only_get_pings_are_pings() {
        let iq = |xml: &str| Iq::from_element(parse(xml)).unwrap();
        assert!(is_ping(&iq(
            "<iq type='get' id='1' from='example.com'><ping xmlns='urn:xmpp:ping'/></iq>"
        )));
        assert!(!is_ping(&iq(
            "<iq type='set' id='1'><ping xmlns='urn:xmpp:ping'/></iq>"
        )));
        assert!(!is_ping(&iq(
            "<iq type='get' id='1'><ping xmlns='urn:example'/></iq>"
        )));
        assert!(!is_ping(&iq("<iq type='result' id='1'/>")));
    }
}
