//! Each way a hostile or broken server can misbehave towards the client,
//! as its own failing input, plus the GS2 flag decisions.

use xmpp_proto::sasl::*;

const CLIENT_NONCE: &str = "clientnonce";
/// A valid server-first-message for CLIENT_NONCE.
const GOOD_FIRST: &str = "r=clientnonceSERVER,s=c2FsdHNhbHQ=,i=4096";

fn client_with(config: SaslClientConfig) -> ClientMechanism {
    let offer = ServerOffer::new(["SCRAM-SHA-256"]);
    ClientMechanism::start(
        &config,
        &Credentials::new("user", "pencil"),
        &offer,
        &TlsState::encrypted(ChannelBindings::none()),
        Nonce::new(CLIENT_NONCE).expect("nonce"),
    )
    .expect("start")
}

fn client() -> ClientMechanism {
    client_with(SaslClientConfig::default())
}

fn first_fails(server_first: &[u8]) -> SaslError {
    let mut c = client();
    let err = c.challenge(server_first).expect_err("must be refused");
    // Errors are sticky: the exchange cannot be continued.
    assert_eq!(
        c.challenge(GOOD_FIRST.as_bytes()),
        Err(SaslError::UnexpectedMessage)
    );
    err
}

fn malformed(m: Malformed) -> SaslError {
    SaslError::Malformed(m)
}

#[test]
fn server_nonce_must_extend_ours() {
    assert_eq!(
        first_fails(b"r=otherSERVER,s=c2FsdHNhbHQ=,i=4096"),
        SaslError::NonceMismatch
    );
    assert_eq!(
        first_fails(b"r=clientnonc,s=c2FsdHNhbHQ=,i=4096"),
        SaslError::NonceMismatch
    );
    // Exactly our nonce, nothing added: a replay.
    assert_eq!(
        first_fails(b"r=clientnonce,s=c2FsdHNhbHQ=,i=4096"),
        SaslError::NonceMismatch
    );
    assert_eq!(
        first_fails(b"r=XclientnonceSERVER,s=c2FsdHNhbHQ=,i=4096"),
        SaslError::NonceMismatch
    );
}

#[test]
fn iteration_count_too_low() {
    assert_eq!(
        first_fails(b"r=clientnonceS,s=c2FsdHNhbHQ=,i=4095"),
        SaslError::IterationsTooLow {
            iterations: 4095,
            min: 4096
        }
    );
    assert_eq!(
        first_fails(b"r=clientnonceS,s=c2FsdHNhbHQ=,i=1"),
        SaslError::IterationsTooLow {
            iterations: 1,
            min: 4096
        }
    );
}

#[test]
fn iteration_count_too_high() {
    assert_eq!(
        first_fails(b"r=clientnonceS,s=c2FsdHNhbHQ=,i=1000001"),
        SaslError::IterationsTooHigh {
            iterations: 1_000_001,
            max: 1_000_000
        }
    );
    assert_eq!(
        first_fails(b"r=clientnonceS,s=c2FsdHNhbHQ=,i=4294967295"),
        SaslError::IterationsTooHigh {
            iterations: u32::MAX,
            max: 1_000_000
        }
    );
    assert_eq!(
        first_fails(b"r=clientnonceS,s=c2FsdHNhbHQ=,i=4294967296"),
        malformed(Malformed::InvalidIterationCount)
    );
}

#[test]
fn iteration_limits_are_configurable() {
    let mut config = SaslClientConfig::default();
    config.scram_limits.min_iterations = 10_000;
    let mut c = client_with(config.clone());
    assert_eq!(
        c.challenge(GOOD_FIRST.as_bytes()),
        Err(SaslError::IterationsTooLow {
            iterations: 4096,
            min: 10_000
        })
    );
    config.scram_limits.min_iterations = 1;
    config.scram_limits.max_iterations = 100;
    let mut c = client_with(config);
    assert_eq!(
        c.challenge(GOOD_FIRST.as_bytes()),
        Err(SaslError::IterationsTooHigh {
            iterations: 4096,
            max: 100
        })
    );
}

#[test]
fn salt_must_be_non_empty_base64() {
    assert_eq!(
        first_fails(b"r=clientnonceS,s=,i=4096"),
        malformed(Malformed::EmptySalt)
    );
    for bad in [
        &b"r=clientnonceS,s=c2FsdA,i=4096"[..],
        b"r=clientnonceS,s=*salt*,i=4096",
    ] {
        assert_eq!(
            first_fails(bad),
            malformed(Malformed::InvalidBase64 { attribute: 's' })
        );
    }
}

#[test]
fn unknown_mandatory_extension_is_refused() {
    assert_eq!(
        first_fails(b"m=foo,r=clientnonceS,s=c2FsdHNhbHQ=,i=4096"),
        SaslError::MandatoryExtension
    );
}

#[test]
fn missing_duplicate_and_reordered_attributes() {
    let cases: [(&[u8], Malformed); 8] = [
        (b"", Malformed::InvalidAttribute),
        (b"r=clientnonceS", Malformed::MissingAttribute('s')),
        (
            b"r=clientnonceS,s=c2FsdHNhbHQ=",
            Malformed::MissingAttribute('i'),
        ),
        (
            b"s=c2FsdHNhbHQ=,r=clientnonceS,i=4096",
            Malformed::OutOfOrder {
                expected: 'r',
                found: 's',
            },
        ),
        (
            b"r=clientnonceS,i=4096,s=c2FsdHNhbHQ=",
            Malformed::OutOfOrder {
                expected: 's',
                found: 'i',
            },
        ),
        (
            b"r=clientnonceS,r=clientnonceS,s=c2FsdHNhbHQ=,i=4096",
            Malformed::DuplicateAttribute('r'),
        ),
        (
            b"r=clientnonceS,s=c2FsdHNhbHQ=,i=4096,s=c2FsdHNhbHQ=",
            Malformed::DuplicateAttribute('s'),
        ),
        (
            b"r=clientnonceS,s=c2FsdHNhbHQ=,i=4096,,",
            Malformed::InvalidAttribute,
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(
            first_fails(input),
            malformed(expected),
            "{}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn non_utf8_and_over_long_messages() {
    assert_eq!(
        first_fails(b"r=clientnonce\xff,s=c2FsdHNhbHQ=,i=4096"),
        malformed(Malformed::NotUtf8)
    );
    let long = format!("r=clientnonce{},s=c2FsdHNhbHQ=,i=4096", "x".repeat(20_000));
    assert!(matches!(
        first_fails(long.as_bytes()),
        SaslError::Malformed(Malformed::TooLong { max: 16384, .. })
    ));
    assert_eq!(
        first_fails(b"r=clientnonce S,s=c2FsdHNhbHQ=,i=4096"),
        malformed(Malformed::InvalidNonce)
    );
}

/// A client that has answered GOOD_FIRST and waits for the server-final.
fn client_after_first() -> ClientMechanism {
    let mut c = client();
    let client_final = c.challenge(GOOD_FIRST.as_bytes()).expect("accepted");
    assert!(client_final.starts_with(b"c=biws,r=clientnonceSERVER,p="));
    c
}

#[test]
fn success_without_server_signature_fails() {
    assert_eq!(
        client_after_first().success(None),
        Err(SaslError::ServerSignatureMissing)
    );
    assert_eq!(
        client_after_first().success(Some(b"")),
        Err(SaslError::ServerSignatureMissing)
    );
    assert_eq!(
        client_after_first().success(Some(b"x=abc")),
        Err(SaslError::ServerSignatureMissing)
    );
}

#[test]
fn success_with_wrong_server_signature_fails() {
    let mut c = client_after_first();
    assert_eq!(
        c.success(Some(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")),
        Err(SaslError::ServerSignatureMismatch)
    );
    // A truncated signature, and one sent as a final challenge.
    let mut c = client_after_first();
    assert_eq!(
        c.success(Some(b"v=AAAA")),
        Err(SaslError::ServerSignatureMismatch)
    );
    let mut c = client_after_first();
    assert_eq!(
        c.challenge(b"v=AAAA"),
        Err(SaslError::ServerSignatureMismatch)
    );
    assert_eq!(c.success(None), Err(SaslError::UnexpectedMessage));
}

#[test]
fn server_final_errors_are_typed() {
    let mut c = client_after_first();
    assert_eq!(
        c.success(Some(b"e=invalid-proof")),
        Err(SaslError::ServerError(ScramServerError::InvalidProof))
    );
    let mut c = client_after_first();
    assert_eq!(
        c.challenge(b"e=channel-bindings-dont-match"),
        Err(SaslError::ServerError(
            ScramServerError::ChannelBindingsDontMatch
        ))
    );
    let mut c = client_after_first();
    assert_eq!(
        c.success(Some(b"e=something-new")),
        Err(SaslError::ServerError(ScramServerError::Unrecognized(
            "something-new".into()
        )))
    );
    let mut c = client_after_first();
    assert_eq!(
        c.success(Some(b"v=!!!")),
        Err(SaslError::Malformed(Malformed::InvalidBase64 {
            attribute: 'v'
        }))
    );
}

#[test]
fn success_before_the_exchange_is_done_fails() {
    assert_eq!(
        client().success(None),
        Err(SaslError::ServerSignatureMissing)
    );
}

#[test]
fn mismatching_downgrade_hash_fails() {
    assert_eq!(
        first_fails(b"r=clientnonceS,s=c2FsdHNhbHQ=,i=4096,h=AAAA"),
        SaslError::DowngradeDetected
    );
}

#[test]
fn gs2_flag_follows_the_policy() {
    let creds = Credentials::new("user", "pencil");
    let config = SaslClientConfig::default();
    let bindings = ChannelBindings {
        tls_exporter: Some(vec![1; 32]),
        tls_server_end_point: Some(vec![2; 32]),
    };
    let tls = TlsState::encrypted(bindings.clone());
    let pick = |offer: &ServerOffer, tls: &TlsState, config: &SaslClientConfig| {
        select(config, offer, tls, &creds).expect("selection")
    };

    // No -PLUS offered, we could bind: 'y'.
    let no_plus = ServerOffer::new(["SCRAM-SHA-256"]);
    assert_eq!(pick(&no_plus, &tls, &config).gs2_flag, Gs2Flag::ClientOnly);
    // Cannot bind (no TLS data, or disabled): 'n'.
    let no_data = TlsState::encrypted(ChannelBindings::none());
    assert_eq!(
        pick(&no_plus, &no_data, &config).gs2_flag,
        Gs2Flag::NotSupported
    );
    let disabled = SaslClientConfig {
        channel_binding: false,
        ..SaslClientConfig::default()
    };
    assert_eq!(
        pick(&no_plus, &tls, &disabled).gs2_flag,
        Gs2Flag::NotSupported
    );
    // -PLUS with XEP-0440: the strongest common type.
    let both = ServerOffer::new(["SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"])
        .with_channel_binding_types(["tls-server-end-point", "tls-exporter"]);
    assert_eq!(
        pick(&both, &tls, &config),
        Selection {
            mechanism: Mechanism::ScramSha256Plus,
            gs2_flag: Gs2Flag::Bound(ChannelBindingType::TlsExporter)
        }
    );
    let endpoint = ServerOffer::new(["SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"])
        .with_channel_binding_types(["tls-server-end-point"]);
    assert_eq!(
        pick(&endpoint, &tls, &config).gs2_flag,
        Gs2Flag::Bound(ChannelBindingType::TlsServerEndPoint)
    );
    // -PLUS offered but only tls-unique in common: 'n', never 'y'.
    let unique = ServerOffer::new(["SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"])
        .with_channel_binding_types(["tls-unique"]);
    assert_eq!(
        pick(&unique, &tls, &config),
        Selection {
            mechanism: Mechanism::ScramSha256,
            gs2_flag: Gs2Flag::NotSupported
        }
    );
    // -PLUS offered without XEP-0440 (ejabberd 23.01): 'n' by default.
    let no_list = ServerOffer::new(["SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"]);
    assert_eq!(
        pick(&no_list, &tls, &config),
        Selection {
            mechanism: Mechanism::ScramSha256,
            gs2_flag: Gs2Flag::NotSupported
        }
    );
    // A -PLUS we do not implement still counts as the server binding.
    let foreign_plus = ServerOffer::new(["SCRAM-SHA-256", "SCRAM-SHA3-512-PLUS"]);
    assert_eq!(
        pick(&foreign_plus, &tls, &config).gs2_flag,
        Gs2Flag::NotSupported
    );
    // PLUS denied by configuration while offered: 'n'.
    let deny_plus = SaslClientConfig {
        denied: vec![Mechanism::ScramSha256Plus],
        ..SaslClientConfig::default()
    };
    assert_eq!(
        pick(&both, &tls, &deny_plus),
        Selection {
            mechanism: Mechanism::ScramSha256,
            gs2_flag: Gs2Flag::NotSupported
        }
    );
}

#[test]
fn saslprep_failures_are_reported() {
    let offer = ServerOffer::new(["SCRAM-SHA-256"]);
    let tls = TlsState::encrypted(ChannelBindings::none());
    let nonce = || Nonce::new(CLIENT_NONCE).expect("nonce");
    let config = SaslClientConfig::default();
    let bad_password = Credentials::new("user", "bell\u{0007}");
    assert_eq!(
        ClientMechanism::start(&config, &bad_password, &offer, &tls, nonce()).map(|_| ()),
        Err(SaslError::SaslPrep { field: "password" })
    );
    let bad_user = Credentials::new("us\u{0000}er", "pencil");
    assert_eq!(
        ClientMechanism::start(&config, &bad_user, &offer, &tls, nonce()).map(|_| ()),
        Err(SaslError::SaslPrep { field: "username" })
    );
    // Escaping of '=' and ',' in the username.
    let odd = Credentials::new("a=b,c", "pencil");
    let c = ClientMechanism::start(&config, &odd, &offer, &tls, nonce()).expect("start");
    assert_eq!(c.initial_response(), b"n,,n=a=3Db=2Cc,r=clientnonce");
}

#[test]
fn hand_made_plus_selection_without_binding_is_refused() {
    let selection = Selection {
        mechanism: Mechanism::ScramSha256Plus,
        gs2_flag: Gs2Flag::NotSupported,
    };
    let offer = ServerOffer::new(["SCRAM-SHA-256-PLUS"]);
    let result = ClientMechanism::new(
        &selection,
        &SaslClientConfig::default(),
        &Credentials::new("user", "pencil"),
        &offer,
        &TlsState::encrypted(ChannelBindings::none()),
        Nonce::new(CLIENT_NONCE).expect("nonce"),
    );
    assert_eq!(result.map(|_| ()), Err(SaslError::NoAcceptableMechanism));
    // Bound, but the TLS layer gave no data for the type.
    let selection = Selection {
        mechanism: Mechanism::ScramSha256Plus,
        gs2_flag: Gs2Flag::Bound(ChannelBindingType::TlsExporter),
    };
    let result = ClientMechanism::new(
        &selection,
        &SaslClientConfig::default(),
        &Credentials::new("user", "pencil"),
        &offer,
        &TlsState::encrypted(ChannelBindings::none()),
        Nonce::new(CLIENT_NONCE).expect("nonce"),
    );
    assert_eq!(
        result.map(|_| ()),
        Err(SaslError::ChannelBindingUnavailable(
            ChannelBindingType::TlsExporter
        ))
    );
}
