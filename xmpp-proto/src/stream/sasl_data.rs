//! SASL data as it travels in XML (RFC 6120 §6.4.2), and the SASL view of
//! the TLS facts, for both roles.

use base64::Engine as _;

use crate::sasl::{ChannelBindings, TlsState};
use crate::tls::TlsInfo;
use crate::xml::Element;

/// XEP-0440 SASL channel-binding type capability.
pub(crate) const SASL_CB: &str = "urn:xmpp:sasl-cb:0";

/// The most SASL data we accept in one message, decoded.
pub(crate) const MAX_SASL_DATA: usize = 16 * 1024;

/// RFC 6120 §6.4.2: empty data is written as `=`.
pub(crate) fn encode_sasl(data: &[u8]) -> String {
    if data.is_empty() {
        "=".to_owned()
    } else {
        base64::engine::general_purpose::STANDARD.encode(data)
    }
}

/// The base64 data of a SASL element: `None` when absent, `Some(empty)` for
/// `=`.
pub(crate) fn decode_sasl(el: &Element) -> Result<Option<Vec<u8>>, &'static str> {
    let text = el.text();
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text == "=" {
        return Ok(Some(Vec::new()));
    }
    if text.len() > MAX_SASL_DATA * 4 / 3 + 4 {
        return Err("SASL data too long");
    }
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map(Some)
        .map_err(|_| "SASL data is not valid base64")
}

/// What SASL needs to know about the stream's TLS session.
pub(crate) fn sasl_tls_state(tls: Option<&TlsInfo>) -> TlsState {
    match tls {
        Some(info) => TlsState::encrypted(ChannelBindings {
            tls_exporter: info.tls_exporter().map(<[u8]>::to_vec),
            tls_server_end_point: info.tls_server_end_point().map(<[u8]>::to_vec),
        }),
        None => TlsState::plaintext(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sasl_data_encoding() {
        assert_eq!(encode_sasl(b""), "=");
        assert_eq!(encode_sasl(b"hi"), "aGk=");
        let el = Element::builder("response", crate::xml::ns::SASL)
            .text("aGk=")
            .build();
        assert_eq!(decode_sasl(&el), Ok(Some(b"hi".to_vec())));
        let empty = Element::builder("auth", crate::xml::ns::SASL).build();
        assert_eq!(decode_sasl(&empty), Ok(None));
    }
}
