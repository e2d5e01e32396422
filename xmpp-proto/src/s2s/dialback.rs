//! Server Dialback (XEP-0220): the keys (XEP-0185) and the `db:result` /
//! `db:verify` elements, as pure code.
//!
//! The originating server sends `<db:result from to>KEY</db:result>` on
//! its stream; the receiving server asks the originating domain's
//! authoritative server, on a stream of its own, `<db:verify from to
//! id>KEY</db:verify>`; the answer (`type='valid'` or `'invalid'`) decides
//! the `<db:result type/>` the receiving server sends back. A key is the
//! hex HMAC-SHA256, keyed with the hex SHA-256 of a secret only the
//! authoritative server knows, of "receiving originating stream-id": a
//! server can check a key it issued without remembering it.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::component::handshake::{hex_matches, lower_hex as hex};
use crate::stanza::{DefinedCondition, StanzaError};
use crate::xml::{Element, ElementRef, ns};

/// The dialback key for a stream with id `stream_id` that `originating`
/// opened to `receiving`, under `secret` (XEP-0185 §2): 64 lowercase hex
/// digits.
///
/// ```
/// use xmpp_proto::s2s::dialback::key;
///
/// // The example of XEP-0185 §3.
/// assert_eq!(
///     key("s3cr3tf0rd14lb4ck", "xmpp.example.com", "example.org", "D60000229F"),
///     "37c69b1cf07a3f67c04a5ef5902fa5114f2c76fe4a2686482ba5b89323075643"
/// );
/// ```
pub fn key(secret: &str, receiving: &str, originating: &str, stream_id: &str) -> String {
    let hashed_secret = hex(&Sha256::digest(secret.as_bytes()));
    // HMAC takes a key of any length: this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(hashed_secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(receiving.as_bytes());
    mac.update(b" ");
    mac.update(originating.as_bytes());
    mac.update(b" ");
    mac.update(stream_id.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// Whether `offered` is the key for these facts, compared in time
/// independent of where the two differ (surrounding whitespace and the
/// case of the hex digits do not matter).
pub fn key_matches(
    secret: &str,
    receiving: &str,
    originating: &str,
    stream_id: &str,
    offered: &str,
) -> bool {
    hex_matches(&key(secret, receiving, originating, stream_id), offered)
}

/// The outcome carried by `type` on a `db:result` or `db:verify` answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The key checked out: the domain is verified.
    Valid,
    /// The key did not check out.
    Invalid,
    /// The check could not be made (XEP-0220 §2.4: an error child says
    /// why, e.g. `remote-server-not-found`).
    Error,
}

impl Verdict {
    /// The `type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Invalid => "invalid",
            Verdict::Error => "error",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        match value {
            "valid" => Some(Verdict::Valid),
            "invalid" => Some(Verdict::Invalid),
            "error" => Some(Verdict::Error),
            _ => None,
        }
    }
}

/// Why a dialback element could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DialbackError {
    /// Not a `db:result` or `db:verify` element.
    NotDialback,
    /// `from`, `to` (or, on `db:verify`, `id`) is missing.
    MissingAttribute(&'static str),
    /// `type` has a value XEP-0220 does not define.
    UnknownType(String),
    /// A request (no `type`) without a key.
    MissingKey,
}

impl std::fmt::Display for DialbackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DialbackError::NotDialback => f.write_str("not a dialback element"),
            DialbackError::MissingAttribute(a) => write!(f, "a dialback element without '{a}'"),
            DialbackError::UnknownType(t) => write!(f, "dialback type {t:?} is not defined"),
            DialbackError::MissingKey => f.write_str("a dialback request without a key"),
        }
    }
}

impl std::error::Error for DialbackError {}

/// A `<db:result/>` or `<db:verify/>`: a request (a key, no verdict) or
/// an answer (a verdict, no key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dialback {
    /// `db:verify` (between the receiving and the authoritative server)
    /// rather than `db:result` (on the originating server's stream).
    pub verify: bool,
    /// `from`: the sender's domain.
    pub from: String,
    /// `to`: the recipient's domain.
    pub to: String,
    /// `id` (`db:verify` only): the stream the key was issued for.
    pub id: Option<String>,
    /// The key, on a request.
    pub key: Option<String>,
    /// The verdict, on an answer.
    pub verdict: Option<Verdict>,
    /// Why, on a [`Verdict::Error`] answer (XEP-0220 §2.4:
    /// `item-not-found` for a domain not served, `remote-server-not-found`
    /// when the authoritative server could not be reached, ...).
    pub error: Option<DefinedCondition>,
}

impl Dialback {
    /// `<db:result from to>KEY</db:result>`: the originating server's
    /// claim to `from`.
    pub fn result_request(from: &str, to: &str, key: &str) -> Self {
        Dialback {
            verify: false,
            from: from.to_owned(),
            to: to.to_owned(),
            id: None,
            key: Some(key.to_owned()),
            verdict: None,
            error: None,
        }
    }

    /// `<db:verify from to id>KEY</db:verify>`: the receiving server asks
    /// the authoritative server about a key it was given on stream `id`.
    pub fn verify_request(from: &str, to: &str, id: &str, key: &str) -> Self {
        Dialback {
            verify: true,
            id: Some(id.to_owned()),
            ..Dialback::result_request(from, to, key)
        }
    }

    /// The answer to this request: `from` and `to` swapped, the `id`
    /// kept, the key dropped.
    pub fn answer(&self, verdict: Verdict) -> Self {
        Dialback {
            verify: self.verify,
            from: self.to.clone(),
            to: self.from.clone(),
            id: self.id.clone(),
            key: None,
            verdict: Some(verdict),
            error: None,
        }
    }

    /// The `type='error'` answer to this request, saying why.
    pub fn refusal(&self, condition: DefinedCondition) -> Self {
        Dialback {
            error: Some(condition),
            ..self.answer(Verdict::Error)
        }
    }

    /// Reads a received element.
    ///
    /// # Errors
    /// See [`DialbackError`].
    pub fn from_element(el: ElementRef<'_>) -> Result<Self, DialbackError> {
        let verify = match (el.name(), el.ns()) {
            ("result", ns::DIALBACK) => false,
            ("verify", ns::DIALBACK) => true,
            _ => return Err(DialbackError::NotDialback),
        };
        let attr = |name: &'static str| {
            el.attr(name)
                .map(str::to_owned)
                .ok_or(DialbackError::MissingAttribute(name))
        };
        let verdict = match el.attr("type") {
            Some(t) => {
                Some(Verdict::parse(t).ok_or_else(|| DialbackError::UnknownType(t.to_owned()))?)
            }
            None => None,
        };
        let text = el.text();
        let key = Some(text.trim())
            .filter(|k| !k.is_empty())
            .map(str::to_owned);
        if verdict.is_none() && key.is_none() {
            return Err(DialbackError::MissingKey);
        }
        Ok(Dialback {
            verify,
            from: attr("from")?,
            to: attr("to")?,
            id: if verify {
                Some(attr("id")?)
            } else {
                el.attr("id").map(str::to_owned)
            },
            key,
            verdict,
            error: el
                .children()
                .find(|c| c.name() == "error")
                .and_then(|c| StanzaError::from_ref(c).ok())
                .map(|e| e.condition),
        })
    }

    /// The element to send.
    pub fn to_element(&self) -> Element {
        let name = if self.verify { "verify" } else { "result" };
        let mut b = Element::builder(name, ns::DIALBACK)
            .attr("from", &self.from)
            .attr("to", &self.to);
        if let Some(id) = &self.id {
            b = b.attr("id", id);
        }
        if let Some(verdict) = self.verdict {
            b = b.attr("type", verdict.as_str());
        }
        if let Some(key) = &self.key {
            b = b.text(key);
        }
        if let Some(condition) = self.error {
            b = b.append(StanzaError::new(condition).to_element(ns::SERVER));
        }
        b.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_depend_on_every_input_and_match_in_either_case() {
        let k = key("secret", "b.example", "a.example", "id1");
        assert_eq!(k.len(), 64);
        assert_ne!(k, key("secret", "b.example", "a.example", "id2"));
        assert_ne!(k, key("secret", "a.example", "b.example", "id1"));
        assert_ne!(k, key("other", "b.example", "a.example", "id1"));
        assert!(key_matches("secret", "b.example", "a.example", "id1", &k));
        assert!(key_matches(
            "secret",
            "b.example",
            "a.example",
            "id1",
            &format!(" {} ", k.to_uppercase())
        ));
        assert!(!key_matches(
            "secret",
            "b.example",
            "a.example",
            "id1",
            &k[1..]
        ));
    }

    #[test]
    fn requests_and_answers_round_trip() {
        let request = Dialback::verify_request("b.example", "a.example", "s1", "abcd");
        let el = request.to_element();
        assert_eq!(Dialback::from_element(el.as_ref()), Ok(request.clone()));
        let answer = request.answer(Verdict::Valid);
        assert_eq!(
            (answer.from.as_str(), answer.to.as_str()),
            ("a.example", "b.example")
        );
        let el = answer.to_element();
        assert_eq!(Dialback::from_element(el.as_ref()), Ok(answer));
        let result = Dialback::result_request("a.example", "b.example", "k");
        assert_eq!(
            Dialback::from_element(result.to_element().as_ref()),
            Ok(result)
        );
    }

    #[test]
    fn malformed_elements_are_refused() {
        let no_key = Element::builder("result", ns::DIALBACK)
            .attr("from", "a")
            .attr("to", "b")
            .build();
        assert_eq!(
            Dialback::from_element(no_key.as_ref()),
            Err(DialbackError::MissingKey)
        );
        let no_id = Element::builder("verify", ns::DIALBACK)
            .attr("from", "a")
            .attr("to", "b")
            .text("k")
            .build();
        assert_eq!(
            Dialback::from_element(no_id.as_ref()),
            Err(DialbackError::MissingAttribute("id"))
        );
        let bad_type = Element::builder("result", ns::DIALBACK)
            .attr("from", "a")
            .attr("to", "b")
            .attr("type", "maybe")
            .build();
        assert!(matches!(
            Dialback::from_element(bad_type.as_ref()),
            Err(DialbackError::UnknownType(_))
        ));
        let other = Element::builder("result", ns::SERVER).build();
        assert_eq!(
            Dialback::from_element(other.as_ref()),
            Err(DialbackError::NotDialback)
        );
    }
}
