//! SASL fuzzing: arbitrary server messages into every client mechanism and
//! arbitrary client messages into every server mechanism, at every step.
//!
//! Input layout: one selector byte, then messages, each prefixed by its
//! length as one byte (so any byte may appear inside a message, NUL and
//! invalid UTF-8 included).
//!
//! Besides "no panic", a SCRAM exchange must never succeed: the fuzzer
//! cannot compute the HMACs that success requires, so a success would be an
//! authentication bypass.

use crate::sasl::*;

/// Runs one fuzz case.
pub fn sasl(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let messages = split_messages(rest);
    if selector & 0x80 == 0 {
        client_side(selector, &messages);
    } else {
        server_side(selector, &messages);
    }
}

fn split_messages(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while let Some((&len, rest)) = data.split_first() {
        let len = usize::from(len).min(rest.len());
        let (message, tail) = rest.split_at(len);
        out.push(message);
        data = tail;
    }
    out
}

fn tls_for(selector: u8) -> TlsState {
    match selector & 0x03 {
        0 => TlsState::plaintext(),
        1 => TlsState::encrypted(ChannelBindings::none()),
        _ => TlsState::encrypted(ChannelBindings {
            tls_exporter: Some(vec![1; 32]),
            tls_server_end_point: (selector & 0x01 == 1).then(|| vec![2; 32]),
        }),
    }
}

fn limits() -> ScramLimits {
    // Low counts keep each run fast; the limits are still exercised.
    ScramLimits {
        min_iterations: 1,
        max_iterations: 64,
        ..ScramLimits::default()
    }
}

fn client_side(selector: u8, messages: &[&[u8]]) {
    let mechanism = Mechanism::ALL[usize::from((selector >> 2) & 0x0f) % Mechanism::ALL.len()];
    let tls = tls_for(selector);
    let offer = ServerOffer::new(Mechanism::ALL.iter().map(|m| m.name()))
        .with_channel_binding_types(["tls-exporter", "tls-server-end-point"]);
    let config = SaslClientConfig {
        allowed: Some(vec![mechanism]),
        allow_anonymous: true,
        allow_external: true,
        allow_plain_without_tls: true,
        scram_limits: limits(),
        ..SaslClientConfig::default()
    };
    let credentials = if selector & 0x40 != 0 {
        let keys = ScramKeys::from_password(
            mechanism.scram_hash().unwrap_or(ScramHash::Sha256),
            "pencil",
            b"salt",
            Iterations(8),
        );
        match keys {
            Ok(keys) => Credentials::from_cached_keys("user", keys),
            Err(_) => return,
        }
    } else {
        Credentials::new("user", "pencil")
    };
    let Some(nonce) = Nonce::new("fuzznonce") else {
        return;
    };
    let Ok(mut client) = ClientMechanism::start(&config, &credentials, &offer, &tls, nonce) else {
        return;
    };
    for (i, message) in messages.iter().enumerate() {
        // The last message goes to success(), the others are challenges.
        if i + 1 == messages.len() {
            let data = (!message.is_empty()).then_some(*message);
            if let Ok(auth) = client.success(data) {
                assert!(
                    auth.mechanism.scram_hash().is_none(),
                    "SCRAM client accepted a forged server signature"
                );
            }
        } else if client.challenge(message).is_err() {
            // Errors are sticky; keep feeding to check nothing panics later.
            let _ = client.success(None);
        }
    }
}

fn server_side(selector: u8, messages: &[&[u8]]) {
    let mechanism = Mechanism::ALL[usize::from((selector >> 2) & 0x0f) % Mechanism::ALL.len()];
    let tls = tls_for(selector);
    let config = SaslServerConfig {
        mechanisms: Mechanism::ALL.to_vec(),
        allow_plain_without_tls: selector & 0x40 != 0,
        ..SaslServerConfig::default()
    };
    let Some(nonce) = Nonce::new("servernonce") else {
        return;
    };
    let mut messages = messages.iter();
    let initial = messages.next().copied();
    let Ok((mut server, mut step)) =
        ServerMechanism::start(&config, &tls, mechanism.name(), initial, nonce)
    else {
        return;
    };
    // Bounded: every step consumes a message or ends the exchange, with a
    // margin for the answers to application requests.
    for _ in 0..16 {
        step = match step {
            ServerStep::NeedScramCredentials { hash, .. } => {
                match stored_credentials(hash, "pencil", b"salt", Iterations(2)) {
                    Ok(creds) => server.scram_credentials(Some(creds)),
                    Err(_) => return,
                }
            }
            ServerStep::CheckPassword { .. } | ServerStep::CheckExternal { .. } => {
                server.verdict(selector & 0x01 == 1)
            }
            ServerStep::Challenge(_) => match messages.next() {
                Some(message) => server.respond(message),
                None => return,
            },
            ServerStep::Success(success) => {
                assert!(
                    success.mechanism.scram_hash().is_none(),
                    "SCRAM server accepted a forged client proof"
                );
                return;
            }
            _ => return,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_on_simple_inputs() {
        sasl(b"");
        sasl(&[0x00]);
        for selector in 0..=255u8 {
            sasl(&[selector, 3, b'a', b'b', b'c', 200, b'x']);
            let mut case = vec![selector, 14];
            case.extend_from_slice(b"n,,n=user,r=ab");
            case.push(31);
            case.extend_from_slice(b"r=fuzznonceX,s=c2FsdA==,i=8,h=x");
            sasl(&case);
        }
    }
}
