//! Cost of a SCRAM-SHA-256 client login: the client-side computations of a
//! full exchange, at 4096 and 10,000 iterations, and with cached keys
//! (which must run no PBKDF2). The server's messages are computed once by
//! our server with fixed nonces and replayed, so only the client is timed.
//! One extra line shows the cost at the default maximum iteration count.
//!
//! Run with `cargo bench -p xmpp-proto --bench sasl`.

use std::hint::black_box;
use std::time::Instant;

use xmpp_proto::sasl::*;

const SALT: &[u8] = b"benchmark salt 16";

/// Server messages for one login, with fixed nonces.
struct Script {
    offer: ServerOffer,
    tls: TlsState,
    server_first: Vec<u8>,
    server_final: Vec<u8>,
}

fn client_nonce() -> Nonce {
    Nonce::from_random_bytes(b"fixed client nonce!!").expect("nonce")
}

fn config(max_iterations: u32) -> SaslClientConfig {
    let mut config = SaslClientConfig {
        allowed: Some(vec![Mechanism::ScramSha256]),
        ..SaslClientConfig::default()
    };
    config.scram_limits.max_iterations = max_iterations;
    config
}

fn record_script(iterations: u32) -> Script {
    let tls = TlsState::encrypted(ChannelBindings::none());
    let server_config = SaslServerConfig::default();
    let offer = server_config.offer(&tls);
    let stored = stored_credentials(ScramHash::Sha256, "pencil", SALT, Iterations(iterations))
        .expect("credentials");
    let creds = Credentials::new("user", "pencil");
    let mut client =
        ClientMechanism::start(&config(iterations), &creds, &offer, &tls, client_nonce())
            .expect("client");
    let (mut server, _) = ServerMechanism::start(
        &server_config,
        &tls,
        client.mechanism().name(),
        Some(client.initial_response()),
        Nonce::from_random_bytes(b"fixed server nonce").expect("nonce"),
    )
    .expect("server");
    let ServerStep::Challenge(server_first) = server.scram_credentials(Some(stored)) else {
        panic!("no server-first");
    };
    let client_final = client.challenge(&server_first).expect("client-final");
    let ServerStep::Success(success) = server.respond(&client_final) else {
        panic!("server refused");
    };
    let server_final = success.additional_data.expect("v=");
    Script {
        offer,
        tls,
        server_first,
        server_final,
    }
}

/// One client login; returns the number of PBKDF2 runs and the keys.
fn login(script: &Script, creds: &Credentials, max_iterations: u32) -> (u32, Authenticated) {
    let mut client = ClientMechanism::start(
        &config(max_iterations),
        creds,
        &script.offer,
        &script.tls,
        client_nonce(),
    )
    .expect("client");
    black_box(client.initial_response());
    black_box(
        client
            .challenge(&script.server_first)
            .expect("client-final"),
    );
    let auth = client
        .success(Some(&script.server_final))
        .expect("server signature verifies");
    (client.pbkdf2_runs().expect("SCRAM"), auth)
}

fn measure(name: &str, iterations: u32, rounds: u32, creds: &Credentials, script: &Script) {
    // Warm-up, and a check that the path taken is the one named.
    let (runs, _) = login(script, creds, iterations.max(4096));
    let start = Instant::now();
    for _ in 0..rounds {
        black_box(login(script, creds, iterations.max(4096)));
    }
    let us = start.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
    println!(
        "RESULT bench={name} iterations={iterations} us_per_login={us:.1} pbkdf2_runs={runs} rounds={rounds}"
    );
}

fn main() {
    let password = Credentials::new("user", "pencil");
    for (iterations, rounds) in [(4096, 200), (10_000, 100)] {
        let script = record_script(iterations);
        measure("scram-sha256-login", iterations, rounds, &password, &script);
    }

    let script = record_script(4096);
    let (_, auth) = login(&script, &password, 4096);
    let cached = Credentials::from_cached_keys("user", auth.scram_keys.expect("keys"));
    let (runs, _) = login(&script, &cached, 4096);
    assert_eq!(runs, 0, "a cached login must not run PBKDF2");
    measure("scram-sha256-login-cached", 4096, 20_000, &cached, &script);

    // What a server can make us pay at the default ceiling.
    let max = ScramLimits::default().max_iterations;
    let script = record_script(max);
    measure("scram-sha256-login", max, 3, &password, &script);
}
