//! Our client against our server, for every mechanism, with and without
//! channel binding, and with a man in the middle tampering with the offer
//! or the TLS connection.

use xmpp_proto::sasl::*;

const PASSWORD: &str = "pencil";
const SALT: &[u8] = b"0123456789abcdef";

/// How one login ended.
#[derive(Debug, PartialEq)]
enum Outcome {
    Ok(Box<(Authenticated, ServerSuccess)>),
    ClientFailed(SaslError),
    ServerFailed(SaslError),
}

/// One login: the server offers what its config says; the client sees
/// `tamper(offer)`. Client and server may have different TLS states (a
/// man in the middle terminates TLS on both sides).
struct Login {
    client_config: SaslClientConfig,
    credentials: Credentials,
    server_config: SaslServerConfig,
    client_tls: TlsState,
    server_tls: TlsState,
    tamper: fn(ServerOffer) -> ServerOffer,
    /// Salt and iteration count the server stores.
    salt: &'static [u8],
    iterations: u32,
}

impl Login {
    fn new(tls: TlsState) -> Self {
        Login {
            client_config: SaslClientConfig::default(),
            credentials: Credentials::new("user", PASSWORD),
            server_config: SaslServerConfig::default(),
            client_tls: tls.clone(),
            server_tls: tls,
            tamper: |offer| offer,
            salt: SALT,
            iterations: 4096,
        }
    }

    fn only(mut self, mechanism: Mechanism) -> Self {
        self.client_config.allowed = Some(vec![mechanism]);
        self
    }

    fn run(&self) -> Outcome {
        let offer = (self.tamper)(self.server_config.offer(&self.server_tls));
        let nonce = Nonce::from_random_bytes(b"client nonce bytes").expect("nonce");
        let mut client = match ClientMechanism::start(
            &self.client_config,
            &self.credentials,
            &offer,
            &self.client_tls,
            nonce,
        ) {
            Ok(c) => c,
            Err(e) => return Outcome::ClientFailed(e),
        };
        let server_nonce = Nonce::from_random_bytes(b"server nonce bytes").expect("nonce");
        let (mut server, mut step) = match ServerMechanism::start(
            &self.server_config,
            &self.server_tls,
            client.mechanism().name(),
            Some(client.initial_response()),
            server_nonce,
        ) {
            Ok(s) => s,
            Err(e) => return Outcome::ServerFailed(e),
        };
        for _ in 0..10 {
            step = match step {
                ServerStep::NeedScramCredentials { username, hash, .. } => {
                    assert_eq!(username, "user");
                    let stored =
                        stored_credentials(hash, PASSWORD, self.salt, Iterations(self.iterations))
                            .expect("stored");
                    server.scram_credentials(Some(stored))
                }
                ServerStep::CheckPassword { password, .. } => server.verdict(password == PASSWORD),
                ServerStep::CheckExternal { .. } => server.verdict(true),
                ServerStep::Challenge(data) => match client.challenge(&data) {
                    Ok(response) => server.respond(&response),
                    Err(e) => return Outcome::ClientFailed(e),
                },
                ServerStep::Success(success) => {
                    return match client.success(success.additional_data.as_deref()) {
                        Ok(auth) => Outcome::Ok(Box::new((auth, success))),
                        Err(e) => Outcome::ClientFailed(e),
                    };
                }
                ServerStep::Failure(e) => return Outcome::ServerFailed(e),
                other => panic!("unexpected step {other:?}"),
            };
        }
        panic!("exchange did not terminate");
    }

    fn succeeds(&self) -> (Authenticated, ServerSuccess) {
        match self.run() {
            Outcome::Ok(pair) => *pair,
            other => panic!("login failed: {other:?}"),
        }
    }
}

fn exporter(data: &[u8]) -> TlsState {
    TlsState::encrypted(ChannelBindings {
        tls_exporter: Some(data.to_vec()),
        tls_server_end_point: Some(b"end point".to_vec()),
    })
}

fn end_point_only(data: &[u8]) -> TlsState {
    TlsState::encrypted(ChannelBindings {
        tls_exporter: None,
        tls_server_end_point: Some(data.to_vec()),
    })
}

#[test]
fn every_scram_mechanism_without_binding() {
    for mechanism in [
        Mechanism::ScramSha1,
        Mechanism::ScramSha256,
        Mechanism::ScramSha512,
    ] {
        let (auth, server) = Login::new(TlsState::encrypted(ChannelBindings::none()))
            .only(mechanism)
            .succeeds();
        assert_eq!(auth.mechanism, mechanism);
        assert_eq!(server.mechanism, mechanism);
        assert_eq!(auth.channel_binding, None);
        assert!(auth.scram_keys.is_some());
    }
}

#[test]
fn every_scram_plus_mechanism_with_each_binding_type() {
    for mechanism in [
        Mechanism::ScramSha1Plus,
        Mechanism::ScramSha256Plus,
        Mechanism::ScramSha512Plus,
    ] {
        for (tls, kind) in [
            (exporter(b"exporter data"), ChannelBindingType::TlsExporter),
            (
                end_point_only(b"cert hash"),
                ChannelBindingType::TlsServerEndPoint,
            ),
        ] {
            let (auth, server) = Login::new(tls).only(mechanism).succeeds();
            assert_eq!(auth.mechanism, mechanism);
            assert_eq!(auth.channel_binding, Some(kind));
            assert_eq!(server.channel_binding, Some(kind));
        }
    }
}

#[test]
fn default_choice_is_the_strongest() {
    let (auth, _) = Login::new(exporter(b"x")).succeeds();
    assert_eq!(auth.mechanism, Mechanism::ScramSha512Plus);
    assert_eq!(auth.channel_binding, Some(ChannelBindingType::TlsExporter));
    let (auth, _) = Login::new(TlsState::encrypted(ChannelBindings::none())).succeeds();
    assert_eq!(auth.mechanism, Mechanism::ScramSha512);
}

#[test]
fn plaintext_stream_uses_scram_without_binding() {
    let (auth, _) = Login::new(TlsState::plaintext()).succeeds();
    assert_eq!(auth.mechanism, Mechanism::ScramSha512);
}

#[test]
fn plain_works_on_tls_only() {
    let (auth, server) = Login::new(TlsState::encrypted(ChannelBindings::none()))
        .only(Mechanism::Plain)
        .succeeds();
    assert_eq!(auth.mechanism, Mechanism::Plain);
    assert_eq!(server.username.as_deref(), Some("user"));

    let mut login = Login::new(TlsState::plaintext()).only(Mechanism::Plain);
    assert_eq!(
        login.run(),
        Outcome::ClientFailed(SaslError::NoAcceptableMechanism)
    );
    // The client may be told to allow it; the server still refuses.
    login.client_config.allow_plain_without_tls = true;
    login.tamper = |mut offer| {
        offer.mechanisms.push("PLAIN".into());
        offer
    };
    assert_eq!(
        login.run(),
        Outcome::ServerFailed(SaslError::EncryptionRequired)
    );
    login.server_config.allow_plain_without_tls = true;
    login.succeeds();
}

#[test]
fn wrong_password_fails_on_the_server() {
    for mechanism in [Mechanism::ScramSha256, Mechanism::Plain] {
        let mut login = Login::new(TlsState::encrypted(ChannelBindings::none())).only(mechanism);
        login.credentials = Credentials::new("user", "wrong");
        let Outcome::ServerFailed(e) = login.run() else {
            panic!("wrong password accepted");
        };
        assert_eq!(e.condition(), FailureCondition::NotAuthorized);
    }
}

#[test]
fn anonymous_and_external_only_when_configured() {
    let mut login = Login::new(TlsState::encrypted(ChannelBindings::none()));
    login.server_config.mechanisms = vec![Mechanism::Anonymous, Mechanism::External];
    login.credentials = Credentials::none();
    assert_eq!(
        login.run(),
        Outcome::ClientFailed(SaslError::NoAcceptableMechanism)
    );
    login.client_config.allow_anonymous = true;
    assert_eq!(login.succeeds().0.mechanism, Mechanism::Anonymous);
    login.client_config.allow_external = true;
    let (auth, server) = login.succeeds();
    assert_eq!(auth.mechanism, Mechanism::External);
    assert_eq!(server.authzid, None);
    login.credentials = Credentials::none().with_authzid("juliet@example.com");
    assert_eq!(
        login.succeeds().1.authzid.as_deref(),
        Some("juliet@example.com")
    );
}

#[test]
fn authzid_reaches_the_server() {
    let mut login = Login::new(TlsState::encrypted(ChannelBindings::none()));
    login.credentials = Credentials::new("user", PASSWORD).with_authzid("admin,=x@example.org");
    let (_, server) = login.succeeds();
    assert_eq!(server.authzid.as_deref(), Some("admin,=x@example.org"));
}

#[test]
fn channel_binding_mismatch_fails() {
    // A man in the middle terminates TLS: each side sees different data.
    for (client_tls, server_tls) in [
        (exporter(b"client side"), exporter(b"server side")),
        (end_point_only(b"mitm cert"), end_point_only(b"real cert")),
    ] {
        let mut login = Login::new(server_tls);
        login.client_tls = client_tls;
        assert_eq!(
            login.run(),
            Outcome::ServerFailed(SaslError::ChannelBindingMismatch)
        );
    }
}

#[test]
fn stripped_plus_offer_is_detected_by_the_y_flag() {
    let mut login = Login::new(exporter(b"x"));
    login.server_config.downgrade_protection = false;
    login.tamper = |mut offer| {
        offer.mechanisms.retain(|m| !m.ends_with("-PLUS"));
        offer.channel_binding_types = None;
        offer
    };
    assert_eq!(
        login.run(),
        Outcome::ServerFailed(SaslError::ChannelBindingDowngrade)
    );
}

#[test]
fn tampered_mechanism_list_is_detected_with_xep0474() {
    // Without binding (plaintext-like TLS without binding data) only the
    // XEP-0474 hash can catch a removed SCRAM-SHA-512.
    let mut login = Login::new(TlsState::encrypted(ChannelBindings::none()));
    login.tamper = |mut offer| {
        offer.mechanisms.retain(|m| m != "SCRAM-SHA-512");
        offer
    };
    assert_eq!(
        login.run(),
        Outcome::ClientFailed(SaslError::DowngradeDetected)
    );
    // Binding type list trimmed to the weaker type.
    let mut login = Login::new(exporter(b"x"));
    login.tamper = |mut offer| {
        offer.channel_binding_types = Some(vec!["tls-server-end-point".into()]);
        offer
    };
    assert_eq!(
        login.run(),
        Outcome::ClientFailed(SaslError::DowngradeDetected)
    );
    // Without the server's hash, the client notices only if told to insist.
    let mut login = Login::new(TlsState::encrypted(ChannelBindings::none()));
    login.server_config.downgrade_protection = false;
    login.succeeds();
    login.client_config.require_downgrade_protection = true;
    assert_eq!(
        login.run(),
        Outcome::ClientFailed(SaslError::DowngradeProtectionMissing)
    );
}

#[test]
fn plus_without_xep0440_logs_in_unbound_with_n() {
    // Like ejabberd 23.01: -PLUS offered, no <sasl-channel-binding/>.
    let mut login = Login::new(exporter(b"x"));
    login.server_config.advertise_channel_binding_types = false;
    let (auth, server) = login.succeeds();
    assert_eq!(auth.mechanism, Mechanism::ScramSha512);
    assert_eq!(server.channel_binding, None);

    // A client told to assume tls-exporter binds with it.
    login.client_config.unadvertised_plus =
        UnadvertisedPlusPolicy::Assume(ChannelBindingType::TlsExporter);
    let (auth, _) = login.succeeds();
    assert_eq!(auth.mechanism, Mechanism::ScramSha512Plus);
    assert_eq!(auth.channel_binding, Some(ChannelBindingType::TlsExporter));
}

#[test]
fn plus_offered_but_no_common_type_uses_n() {
    // The server can only do tls-server-end-point, the client only tls-exporter.
    let mut login = Login::new(end_point_only(b"cert"));
    login.client_tls = TlsState::encrypted(ChannelBindings {
        tls_exporter: Some(b"exp".to_vec()),
        tls_server_end_point: None,
    });
    let (auth, _) = login.succeeds();
    assert_eq!(auth.mechanism, Mechanism::ScramSha512);
    assert_eq!(auth.channel_binding, None);
}

#[test]
fn cached_keys_log_in_without_pbkdf2() {
    let login = Login::new(exporter(b"x"));
    let (auth, _) = login.succeeds();
    let keys = auth.scram_keys.expect("keys");
    assert_eq!(keys.hash, ScramHash::Sha512);

    // Drive the cached login by hand to read the PBKDF2 counter.
    let credentials = Credentials::from_cached_keys("user", keys.clone());
    let tls = exporter(b"x");
    let server_config = SaslServerConfig::default();
    let offer = server_config.offer(&tls);
    let nonce = Nonce::from_random_bytes(b"another nonce").expect("nonce");
    let mut client = ClientMechanism::start(
        &SaslClientConfig::default(),
        &credentials,
        &offer,
        &tls,
        nonce,
    )
    .expect("start");
    let (mut server, _) = ServerMechanism::start(
        &server_config,
        &tls,
        client.mechanism().name(),
        Some(client.initial_response()),
        Nonce::from_random_bytes(b"srv").expect("nonce"),
    )
    .expect("server");
    let ServerStep::Challenge(server_first) = server.scram_credentials(Some(keys.to_stored()))
    else {
        panic!("no challenge");
    };
    let response = client.challenge(&server_first).expect("client-final");
    let ServerStep::Success(success) = server.respond(&response) else {
        panic!("cached login refused");
    };
    client
        .success(success.additional_data.as_deref())
        .expect("verified");
    assert_eq!(client.pbkdf2_runs(), Some(0));

    // The server changed the salt: cached keys alone are not enough...
    let mut login = Login::new(exporter(b"x"));
    login.credentials = Credentials::from_cached_keys("user", keys.clone());
    login.salt = b"a new salt";
    assert_eq!(
        login.run(),
        Outcome::ClientFailed(SaslError::CachedKeysStale)
    );
    // ...but with the password as well, the login recomputes them.
    login.credentials = Credentials::new("user", PASSWORD).with_cached_keys(keys.clone());
    let (auth, _) = login.succeeds();
    assert_ne!(auth.scram_keys, Some(keys));
}

#[test]
fn cached_keys_only_offer_scram_of_their_hash() {
    let keys = ScramKeys::from_password(ScramHash::Sha256, PASSWORD, SALT, Iterations(4096))
        .expect("keys");
    let mut login = Login::new(TlsState::encrypted(ChannelBindings::none()));
    login.credentials = Credentials::from_cached_keys("user", keys);
    assert_eq!(login.succeeds().0.mechanism, Mechanism::ScramSha256);
}

#[test]
fn deny_and_allow_lists_are_honoured() {
    let mut login = Login::new(exporter(b"x"));
    login.client_config.denied = vec![
        Mechanism::ScramSha512Plus,
        Mechanism::ScramSha256Plus,
        Mechanism::ScramSha512,
    ];
    let (auth, _) = login.succeeds();
    assert_eq!(auth.mechanism, Mechanism::ScramSha1Plus);
    login.client_config.allowed = Some(vec![Mechanism::ScramSha256]);
    assert_eq!(login.succeeds().0.mechanism, Mechanism::ScramSha256);
}

#[test]
fn server_rejects_unoffered_mechanisms_and_unknown_users() {
    let tls = TlsState::encrypted(ChannelBindings::none());
    let config = SaslServerConfig::default();
    let nonce = || Nonce::new("n").expect("nonce");
    assert_eq!(
        ServerMechanism::start(&config, &tls, "DIGEST-MD5", None, nonce()).map(|_| ()),
        Err(SaslError::UnsupportedMechanism)
    );
    assert_eq!(
        ServerMechanism::start(&config, &tls, "SCRAM-SHA-256-PLUS", None, nonce()).map(|_| ()),
        Err(SaslError::UnsupportedMechanism)
    );
    let (mut server, step) =
        ServerMechanism::start(&config, &tls, "SCRAM-SHA-256", None, nonce()).expect("offered");
    assert_eq!(step, ServerStep::Challenge(Vec::new()));
    assert!(matches!(
        server.respond(b"n,,n=nobody,r=abc"),
        ServerStep::NeedScramCredentials { .. }
    ));
    assert_eq!(
        server.scram_credentials(None),
        ServerStep::Failure(SaslError::UnknownUser)
    );
    assert_eq!(
        server.respond(b"anything"),
        ServerStep::Failure(SaslError::UnexpectedMessage)
    );
}

#[test]
fn server_checks_the_gs2_flag_against_the_mechanism() {
    let tls = exporter(b"x");
    let config = SaslServerConfig::default();
    let start = |mech: &str, first: &str| {
        ServerMechanism::start(
            &config,
            &tls,
            mech,
            Some(first.as_bytes()),
            Nonce::new("n").expect("nonce"),
        )
        .expect("offered")
        .1
    };
    let malformed = ServerStep::Failure(SaslError::Malformed(Malformed::InvalidGs2Header));
    assert_eq!(start("SCRAM-SHA-256", "p=tls-exporter,,n=u,r=a"), malformed);
    assert_eq!(start("SCRAM-SHA-256-PLUS", "n,,n=u,r=a"), malformed);
    assert_eq!(
        start("SCRAM-SHA-256-PLUS", "p=tls-unique,,n=u,r=a"),
        ServerStep::Failure(SaslError::ChannelBindingNotSupported)
    );
    assert_eq!(
        start("SCRAM-SHA-256-PLUS", "p=tls-frobnicate,,n=u,r=a"),
        ServerStep::Failure(SaslError::ChannelBindingNotSupported)
    );
    assert_eq!(
        start("SCRAM-SHA-256", "y,,n=u,r=a"),
        ServerStep::Failure(SaslError::ChannelBindingDowngrade)
    );
    assert_eq!(
        start("SCRAM-SHA-256", "n,,m=ext,n=u,r=a"),
        ServerStep::Failure(SaslError::MandatoryExtension)
    );
}
