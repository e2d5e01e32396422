//! Malformed or hostile client messages against the server side.

use xmpp_proto::sasl::*;

/// A server in SCRAM-SHA-256 that has sent its server-first-message for
/// the client nonce "cn" and server nonce "sn".
fn server_waiting_for_final() -> ServerMechanism {
    let tls = TlsState::encrypted(ChannelBindings::none());
    let config = SaslServerConfig {
        downgrade_protection: false,
        ..SaslServerConfig::default()
    };
    let (mut server, step) = ServerMechanism::start(
        &config,
        &tls,
        "SCRAM-SHA-256",
        Some(b"n,,n=user,r=cn"),
        Nonce::new("sn").expect("nonce"),
    )
    .expect("offered");
    assert!(matches!(step, ServerStep::NeedScramCredentials { .. }));
    let stored =
        stored_credentials(ScramHash::Sha256, "pencil", b"salt", Iterations(4096)).expect("ok");
    assert_eq!(
        server.scram_credentials(Some(stored)),
        ServerStep::Challenge(b"r=cnsn,s=c2FsdA==,i=4096".to_vec())
    );
    server
}

fn final_fails(message: &[u8]) -> SaslError {
    match server_waiting_for_final().respond(message) {
        ServerStep::Failure(e) => e,
        other => panic!("accepted {:?}: {other:?}", String::from_utf8_lossy(message)),
    }
}

const PROOF: &str = "p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

#[test]
fn client_final_defects() {
    let e = final_fails(format!("c=biws,r=cnsn,{PROOF}").as_bytes());
    assert_eq!(e, SaslError::InvalidProof);
    assert_eq!(e.condition(), FailureCondition::NotAuthorized);

    let e = final_fails(format!("c=bi!s,r=cnsn,{PROOF}").as_bytes());
    assert_eq!(
        e,
        SaslError::Malformed(Malformed::InvalidBase64 { attribute: 'c' })
    );
    assert_eq!(e.condition(), FailureCondition::IncorrectEncoding);

    assert_eq!(
        final_fails(b"c=biws,r=cnsn,p=AAAA"),
        SaslError::InvalidProof,
        "short proof"
    );
    assert_eq!(
        final_fails(format!("c=biws,r=cnXX,{PROOF}").as_bytes()),
        SaslError::NonceMismatch
    );
    // c= must repeat the GS2 header exactly ("y,," instead of "n,,").
    assert_eq!(
        final_fails(format!("c=eSws,r=cnsn,{PROOF}").as_bytes()),
        SaslError::ChannelBindingMismatch
    );
    assert_eq!(
        final_fails(b"c=biws,r=cnsn"),
        SaslError::Malformed(Malformed::MissingAttribute('p'))
    );
    assert_eq!(
        final_fails(format!("r=cnsn,c=biws,{PROOF}").as_bytes()),
        SaslError::Malformed(Malformed::OutOfOrder {
            expected: 'c',
            found: 'r'
        })
    );
    assert_eq!(
        final_fails(format!("c=biws,r=cnsn,r=cnsn,{PROOF}").as_bytes()),
        SaslError::Malformed(Malformed::DuplicateAttribute('r'))
    );
    assert_eq!(
        final_fails(format!("c=biws,r=cnsn\u{ff}\u{fe},{PROOF}").as_bytes()),
        SaslError::Malformed(Malformed::InvalidNonce)
    );
    assert_eq!(
        final_fails(b"c=biws,r=cnsn\xff,p=AAAA"),
        SaslError::Malformed(Malformed::NotUtf8)
    );
    let long = format!("c=biws,r=cnsn,x={},{PROOF}", "y".repeat(20_000));
    assert!(matches!(
        final_fails(long.as_bytes()),
        SaslError::Malformed(Malformed::TooLong { .. })
    ));
}

#[test]
fn client_first_defects() {
    let tls = TlsState::encrypted(ChannelBindings::none());
    let config = SaslServerConfig::default();
    let first = |data: &[u8]| {
        ServerMechanism::start(
            &config,
            &tls,
            "SCRAM-SHA-1",
            Some(data),
            Nonce::new("sn").expect("nonce"),
        )
        .expect("offered")
        .1
    };
    let cases: [(&[u8], SaslError); 8] = [
        (b"", Malformed::InvalidGs2Header.into()),
        (
            b"n,,r=abc,n=user",
            Malformed::OutOfOrder {
                expected: 'n',
                found: 'r',
            }
            .into(),
        ),
        (b"n,,n=user", Malformed::MissingAttribute('r').into()),
        (
            b"n,,n=user,r=a,n=x",
            Malformed::DuplicateAttribute('n').into(),
        ),
        (b"n,,n=us=41er,r=a", Malformed::InvalidName.into()),
        (b"n,,n=user,r=a\xc3", Malformed::NotUtf8.into()),
        (b"q,,n=user,r=a", Malformed::InvalidGs2Header.into()),
        (
            b"n,,n=\xe2\x80\xaeuser,r=a",
            SaslError::SaslPrep { field: "username" },
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(
            first(input),
            ServerStep::Failure(expected),
            "{}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn abort_and_messages_after_the_end() {
    let mut server = server_waiting_for_final();
    assert_eq!(server.abort(), ServerStep::Failure(SaslError::Aborted));
    assert_eq!(SaslError::Aborted.condition().element_name(), "aborted");
    assert_eq!(
        server.respond(b"c=biws"),
        ServerStep::Failure(SaslError::UnexpectedMessage)
    );
}

#[test]
fn plain_server_side() {
    let tls = TlsState::encrypted(ChannelBindings::none());
    let config = SaslServerConfig::default();
    let start = |data: &[u8]| {
        ServerMechanism::start(
            &config,
            &tls,
            "PLAIN",
            Some(data),
            Nonce::new("n").expect("n"),
        )
        .expect("offered")
    };
    let (mut server, step) = start(b"admin\0user\0pass\xc2\xa0word");
    assert_eq!(
        step,
        ServerStep::CheckPassword {
            username: "user".into(),
            password: "pass word".into(),
            authzid: Some("admin".into())
        }
    );
    assert_eq!(
        server.verdict(false),
        ServerStep::Failure(SaslError::Rejected)
    );
    let (_, step) = start(b"user\0pass");
    assert_eq!(step, ServerStep::Failure(Malformed::InvalidPlain.into()));
}
