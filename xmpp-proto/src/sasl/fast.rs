//! The HT token mechanisms that XEP-0484 (FAST) logs in with
//! (draft-schmaus-kitten-sasl-ht), both sides, pure.
//!
//! One message each way. The client sends its username, a NUL, and
//! `HMAC-SHA-256(token, "Initiator" || cb-data)`; the server answers, in
//! its success data, `HMAC-SHA-256(token, "Responder" || cb-data)`.
//! `cb-data` is the channel binding data of the mechanism's type (empty
//! for `-NONE`), so a token stolen in transit is useless on another TLS
//! connection when a binding is used. The server's proof shows the client
//! it talks to a server that knows the token.
//!
//! ```
//! use xmpp_proto::sasl::{ChannelBindings, Mechanism, TlsState, fast};
//! let tls = TlsState::encrypted(ChannelBindings {
//!     tls_exporter: Some(vec![7; 32]),
//!     tls_server_end_point: None,
//! });
//! let mechanism = fast::select(&["HT-SHA-256-NONE", "HT-SHA-256-EXPR"], &tls).unwrap();
//! assert_eq!(mechanism, Mechanism::HtSha256Expr);
//!
//! let initial = fast::initiator(mechanism, "juliet", "secret-token", &tls)?;
//! let (username, proof) = fast::parse_initial(&initial)?;
//! assert_eq!(username, "juliet");
//! let answer = fast::check(mechanism, "secret-token", &tls, proof)?;
//! fast::verify_responder(mechanism, "secret-token", &tls, &answer)?;
//! assert!(fast::check(mechanism, "another-token", &tls, proof).is_err());
//! # Ok::<(), xmpp_proto::sasl::SaslError>(())
//! ```

use super::channel_binding::{ChannelBindingType, TlsState};
use super::mechanism::Mechanism;
use super::scram::ScramHash;
use super::scram::crypto::{constant_time_eq, hmac};
use super::{Malformed, SaslError};

/// The channel binding type an HT mechanism uses, if any.
pub fn binding(mechanism: Mechanism) -> Option<ChannelBindingType> {
    match mechanism {
        Mechanism::HtSha256Expr => Some(ChannelBindingType::TlsExporter),
        Mechanism::HtSha256Endp => Some(ChannelBindingType::TlsServerEndPoint),
        Mechanism::HtSha256Uniq => Some(ChannelBindingType::TlsUnique),
        _ => None,
    }
}

/// Whether `mechanism` is an HT mechanism this TLS session can run: its
/// binding data is at hand (always, for `-NONE`).
pub fn usable(mechanism: Mechanism, tls: &TlsState) -> bool {
    mechanism.is_fast()
        && match binding(mechanism) {
            None => true,
            Some(kind) => tls.channel_bindings.data(kind).is_some(),
        }
}

/// The strongest of the `offered` HT mechanisms this TLS session can run.
pub fn select<S: AsRef<str>>(offered: &[S], tls: &TlsState) -> Option<Mechanism> {
    Mechanism::FAST
        .into_iter()
        .find(|m| usable(*m, tls) && offered.iter().any(|o| o.as_ref() == m.name()))
}

/// The channel binding data of `mechanism` on this TLS session.
fn cb_data(mechanism: Mechanism, tls: &TlsState) -> Result<&[u8], SaslError> {
    if !mechanism.is_fast() {
        return Err(SaslError::NoAcceptableMechanism);
    }
    match binding(mechanism) {
        None => Ok(&[]),
        Some(kind) => tls
            .channel_bindings
            .data(kind)
            .ok_or(SaslError::ChannelBindingUnavailable(kind)),
    }
}

fn proof(token: &str, label: &[u8], cb: &[u8]) -> Vec<u8> {
    hmac(ScramHash::Sha256, token.as_bytes(), &[label, cb])
        .as_bytes()
        .to_vec()
}

/// The client's initial response: `username NUL HMAC(token, "Initiator" || cb)`.
///
/// # Errors
/// [`SaslError::ChannelBindingUnavailable`] when the TLS session lacks the
/// mechanism's binding data; [`SaslError::NoAcceptableMechanism`] for a
/// mechanism that is not HT.
pub fn initiator(
    mechanism: Mechanism,
    username: &str,
    token: &str,
    tls: &TlsState,
) -> Result<Vec<u8>, SaslError> {
    let cb = cb_data(mechanism, tls)?;
    let mut out = Vec::with_capacity(username.len() + 33);
    out.extend_from_slice(username.as_bytes());
    out.push(0);
    out.extend_from_slice(&proof(token, b"Initiator", cb));
    Ok(out)
}

/// Checks the server's success data against the token.
///
/// # Errors
/// [`SaslError::ServerSignatureMismatch`] when the server does not know
/// the token.
pub fn verify_responder(
    mechanism: Mechanism,
    token: &str,
    tls: &TlsState,
    additional_data: &[u8],
) -> Result<(), SaslError> {
    let expected = proof(token, b"Responder", cb_data(mechanism, tls)?);
    if constant_time_eq(&expected, additional_data) {
        Ok(())
    } else {
        Err(SaslError::ServerSignatureMismatch)
    }
}

/// Splits a received initial response into the username and the proof.
///
/// # Errors
/// [`SaslError::Malformed`] without a NUL, with an empty or non-UTF-8
/// username, or with an empty proof.
pub fn parse_initial(data: &[u8]) -> Result<(&str, &[u8]), SaslError> {
    let malformed = || SaslError::Malformed(Malformed::InvalidName);
    let nul = data.iter().position(|&b| b == 0).ok_or_else(malformed)?;
    let (username, rest) = (&data[..nul], &data[nul + 1..]);
    let username = core::str::from_utf8(username).map_err(|_| malformed())?;
    if username.is_empty() || rest.is_empty() {
        return Err(malformed());
    }
    Ok((username, rest))
}

/// Server side: whether `proof` was made with `token` on this TLS session;
/// if so, the success data to answer with.
///
/// # Errors
/// [`SaslError::ChannelBindingUnavailable`] when this session lacks the
/// mechanism's binding; [`SaslError::InvalidProof`] when the proof was
/// made with another token (both are `not-authorized` to the client).
pub fn check(
    mechanism: Mechanism,
    token: &str,
    tls: &TlsState,
    proof_received: &[u8],
) -> Result<Vec<u8>, SaslError> {
    let cb = cb_data(mechanism, tls)?;
    if constant_time_eq(&proof(token, b"Initiator", cb), proof_received) {
        Ok(proof(token, b"Responder", cb))
    } else {
        Err(SaslError::InvalidProof)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sasl::ChannelBindings;

    fn tls(exporter: &[u8]) -> TlsState {
        TlsState::encrypted(ChannelBindings {
            tls_exporter: Some(exporter.to_vec()),
            tls_server_end_point: None,
        })
    }

    #[test]
    fn proofs_are_hmac_sha256_of_the_labels_and_binding() {
        // HMAC-SHA-256 of "Initiator" with the key "token", computed
        // independently (Python's hmac module).
        let initial = initiator(Mechanism::HtSha256None, "u", "token", &tls(b"x")).unwrap();
        assert_eq!(&initial[..2], b"u\0");
        assert_eq!(
            hex(&initial[2..]),
            "d24d95482f0d6e035c56e787dac4ed832bdd84ee3ea242aaadd982270c330006"
        );
        // With tls-exporter data "x", the server's proof covers it.
        let (_, proof) =
            parse_initial(&initiator(Mechanism::HtSha256Expr, "u", "token", &tls(b"x")).unwrap())
                .map(|(u, p)| (u.to_owned(), p.to_vec()))
                .unwrap();
        let answer = check(Mechanism::HtSha256Expr, "token", &tls(b"x"), &proof).unwrap();
        assert_eq!(
            hex(&answer),
            "63062681d8c80426ecc7aa297bda74627d0e9f79d09eb42a3b0fabeaf04f0b77"
        );
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn a_binding_ties_the_proof_to_the_tls_session() {
        let m = Mechanism::HtSha256Expr;
        let initial = initiator(m, "juliet", "t", &tls(b"session one")).unwrap();
        let (_, proof) = parse_initial(&initial).unwrap();
        assert!(check(m, "t", &tls(b"session one"), proof).is_ok());
        assert!(check(m, "t", &tls(b"session two"), proof).is_err());
        // Without a binding, the session does not matter.
        let m = Mechanism::HtSha256None;
        let initial = initiator(m, "juliet", "t", &tls(b"session one")).unwrap();
        let (_, proof) = parse_initial(&initial).unwrap();
        assert!(check(m, "t", &tls(b"session two"), proof).is_ok());
    }

    #[test]
    fn the_server_proof_is_checked() {
        let m = Mechanism::HtSha256Expr;
        let t = tls(b"s");
        let (_, proof) = parse_initial(&initiator(m, "j", "t", &t).unwrap())
            .map(|(u, p)| (u.to_owned(), p.to_vec()))
            .unwrap();
        let answer = check(m, "t", &t, &proof).unwrap();
        assert!(verify_responder(m, "t", &t, &answer).is_ok());
        assert_eq!(
            verify_responder(m, "other", &t, &answer),
            Err(SaslError::ServerSignatureMismatch)
        );
        assert!(verify_responder(m, "t", &t, &proof).is_err());
    }

    #[test]
    fn selection_takes_the_strongest_usable_binding() {
        let offered = ["HT-SHA-256-NONE", "HT-SHA-256-ENDP", "HT-SHA-256-UNIQ"];
        // No end-point data: ENDP is unusable, UNIQ always is.
        assert_eq!(select(&offered, &tls(b"e")), Some(Mechanism::HtSha256None));
        let both = TlsState::encrypted(ChannelBindings {
            tls_exporter: Some(vec![1]),
            tls_server_end_point: Some(vec![2]),
        });
        assert_eq!(select(&offered, &both), Some(Mechanism::HtSha256Endp));
        assert_eq!(select(&["SCRAM-SHA-1"], &both), None);
    }

    #[test]
    fn malformed_initial_responses_are_refused() {
        for bad in [&b""[..], b"juliet", b"\0proof", b"juliet\0", b"\xff\0proof"] {
            assert!(parse_initial(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_initial(b"juliet\0\0\x01").unwrap(),
            ("juliet", &b"\0\x01"[..])
        );
    }
}
