//! SCRAM against fixed vectors: RFC 5802, RFC 7677 and the XEP-0474 example
//! (byte for byte, both sides), and the vectors computed independently by
//! `scripts/scram_vectors.py` (Python standard library only).

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use xmpp_proto::sasl::scram::{ScramClient, ScramClientParams};
use xmpp_proto::sasl::*;

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

fn hash_named(name: &str) -> ScramHash {
    match name {
        "SHA-1" => ScramHash::Sha1,
        "SHA-256" => ScramHash::Sha256,
        "SHA-512" => ScramHash::Sha512,
        other => panic!("unknown hash {other}"),
    }
}

fn python_vectors() -> Vec<HashMap<String, String>> {
    let text = include_str!("data/scram_vectors.txt");
    let mut vectors = Vec::new();
    let mut current = HashMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        if line.is_empty() {
            if !current.is_empty() {
                vectors.push(std::mem::take(&mut current));
            }
            continue;
        }
        let (key, value) = line.split_once('=').expect("key=value");
        current.insert(key.to_owned(), value.to_owned());
    }
    if !current.is_empty() {
        vectors.push(current);
    }
    vectors
}

/// Everything one vector fixes.
struct Vector {
    hash: ScramHash,
    username: String,
    password: String,
    authzid: Option<String>,
    binding: Option<ChannelBindingType>,
    cb_data: Vec<u8>,
    client_nonce: String,
    server_nonce: String,
    salt: Vec<u8>,
    iterations: u32,
    client_first: String,
    server_first: String,
    client_final: String,
    server_final: String,
}

impl Vector {
    fn from_map(v: &HashMap<String, String>) -> Self {
        let get = |k: &str| v.get(k).unwrap_or_else(|| panic!("missing {k}")).clone();
        Vector {
            hash: hash_named(&get("hash")),
            username: get("username"),
            password: get("password"),
            authzid: Some(get("authzid")).filter(|a| !a.is_empty()),
            binding: ChannelBindingType::from_name(&get("binding")),
            cb_data: hex(&get("cb_data_hex")),
            client_nonce: get("client_nonce"),
            server_nonce: get("server_nonce"),
            salt: BASE64.decode(get("salt_b64")).expect("salt"),
            iterations: get("iterations").parse().expect("iterations"),
            client_first: get("client_first"),
            server_first: get("server_first"),
            client_final: get("client_final"),
            server_final: get("server_final"),
        }
    }

    fn rfc5802() -> Self {
        Vector {
            hash: ScramHash::Sha1,
            username: "user".into(),
            password: "pencil".into(),
            authzid: None,
            binding: None,
            cb_data: Vec::new(),
            client_nonce: "fyko+d2lbbFgONRv9qkxdawL".into(),
            server_nonce: "3rfcNHYJY1ZVvWVs7j".into(),
            salt: BASE64.decode("QSXCR+Q6sek8bf92").expect("salt"),
            iterations: 4096,
            client_first: "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL".into(),
            server_first: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"
                .into(),
            client_final:
                "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
                    .into(),
            server_final: "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=".into(),
        }
    }

    fn rfc7677() -> Self {
        Vector {
            hash: ScramHash::Sha256,
            username: "user".into(),
            password: "pencil".into(),
            authzid: None,
            binding: None,
            cb_data: Vec::new(),
            client_nonce: "rOprNGfwEbeRWgbNEkqO".into(),
            server_nonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0".into(),
            salt: BASE64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").expect("salt"),
            iterations: 4096,
            client_first: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO".into(),
            server_first: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                           s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
                .into(),
            client_final: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                           p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
                .into(),
            server_final: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".into(),
        }
    }

    fn tls(&self) -> TlsState {
        let mut bindings = ChannelBindings::none();
        match self.binding {
            Some(ChannelBindingType::TlsExporter) => {
                bindings.tls_exporter = Some(self.cb_data.clone())
            }
            Some(ChannelBindingType::TlsServerEndPoint) => {
                bindings.tls_server_end_point = Some(self.cb_data.clone())
            }
            _ => {}
        }
        TlsState::encrypted(bindings)
    }

    fn check_client(&self) {
        let gs2_flag = self.binding.map_or(Gs2Flag::NotSupported, Gs2Flag::Bound);
        let mut client = ScramClient::new(ScramClientParams {
            hash: self.hash,
            gs2_flag,
            channel_binding_data: Some(&self.cb_data),
            username: &self.username,
            password: Some(&self.password),
            cached_keys: None,
            authzid: self.authzid.as_deref(),
            nonce: Nonce::new(self.client_nonce.as_str()).expect("nonce"),
            limits: ScramLimits::default(),
            expected_downgrade_hash: None,
            require_downgrade_protection: false,
        })
        .expect("client");
        assert_eq!(
            String::from_utf8_lossy(client.client_first()),
            self.client_first
        );
        let client_final = client
            .handle_server_first(self.server_first.as_bytes())
            .expect("server-first accepted");
        assert_eq!(String::from_utf8_lossy(&client_final), self.client_final);
        client
            .handle_server_final(self.server_final.as_bytes())
            .expect("server signature verifies");
        assert_eq!(client.pbkdf2_runs(), 1);
        let keys = client.keys().expect("keys after success");
        let stored = stored_credentials(
            self.hash,
            &self.password,
            &self.salt,
            Iterations(self.iterations),
        )
        .expect("stored");
        assert_eq!(keys.to_stored(), stored);
    }

    fn check_server(&self) {
        let config = SaslServerConfig {
            downgrade_protection: false,
            ..SaslServerConfig::default()
        };
        let mechanism = Mechanism::scram(self.hash, self.binding.is_some());
        let (mut server, step) = ServerMechanism::start(
            &config,
            &self.tls(),
            mechanism.name(),
            Some(self.client_first.as_bytes()),
            Nonce::new(self.server_nonce.as_str()).expect("nonce"),
        )
        .expect("mechanism offered");
        let ServerStep::NeedScramCredentials { hash, authzid, .. } = step else {
            panic!("expected a credentials request, got {step:?}");
        };
        assert_eq!(hash, self.hash);
        assert_eq!(authzid, self.authzid);
        let stored = stored_credentials(
            self.hash,
            &self.password,
            &self.salt,
            Iterations(self.iterations),
        )
        .expect("stored");
        let step = server.scram_credentials(Some(stored));
        assert_eq!(
            step,
            ServerStep::Challenge(self.server_first.clone().into_bytes())
        );
        match server.respond(self.client_final.as_bytes()) {
            ServerStep::Success(success) => {
                assert_eq!(
                    success.additional_data,
                    Some(self.server_final.clone().into_bytes())
                );
                assert_eq!(success.channel_binding, self.binding);
            }
            other => panic!("expected success, got {other:?}"),
        }
    }
}

#[test]
fn rfc5802_sha1_client_side() {
    Vector::rfc5802().check_client();
}

#[test]
fn rfc5802_sha1_server_side() {
    Vector::rfc5802().check_server();
}

#[test]
fn rfc7677_sha256_client_side() {
    Vector::rfc7677().check_client();
}

#[test]
fn rfc7677_sha256_server_side() {
    Vector::rfc7677().check_server();
}

#[test]
fn independent_python_vectors_agree_with_both_sides() {
    let vectors = python_vectors();
    assert!(vectors.len() >= 8, "vector file truncated");
    for map in &vectors {
        let v = Vector::from_map(map);
        v.check_client();
        v.check_server();
        let stored = stored_credentials(v.hash, &v.password, &v.salt, Iterations(v.iterations))
            .expect("stored");
        assert_eq!(
            BASE64.encode(stored.stored_key.as_bytes()),
            map["stored_key_b64"]
        );
        assert_eq!(
            BASE64.encode(stored.server_key.as_bytes()),
            map["server_key_b64"]
        );
    }
}

const XEP0474_CLIENT_FIRST: &str = "p=tls-exporter,,n=user,r=12C4CD5C-E38E-4A98-8F6D-15C38F51CCC6";
const XEP0474_SERVER_FIRST: &str = "r=12C4CD5C-E38E-4A98-8F6D-15C38F51CCC6a09117a6-ac50-4f2f-93f1-93799c2bddf6,\
     s=QSXCR+Q6sek8bf92,i=4096,h=G6k/rBLDqgOhRRaCuuatSDFkJ08=";

fn xep0474_tls() -> TlsState {
    TlsState::encrypted(ChannelBindings {
        tls_exporter: Some(b"THIS IS FAKE CB DATA".to_vec()),
        tls_server_end_point: Some(b"certificate hash".to_vec()),
    })
}

#[test]
fn xep0474_example_server_side() {
    let config = SaslServerConfig {
        mechanisms: vec![Mechanism::ScramSha1, Mechanism::ScramSha1Plus],
        ..SaslServerConfig::default()
    };
    let (mut server, step) = ServerMechanism::start(
        &config,
        &xep0474_tls(),
        "SCRAM-SHA-1-PLUS",
        Some(XEP0474_CLIENT_FIRST.as_bytes()),
        Nonce::new("a09117a6-ac50-4f2f-93f1-93799c2bddf6").expect("nonce"),
    )
    .expect("offered");
    assert!(matches!(step, ServerStep::NeedScramCredentials { .. }));
    let salt = BASE64.decode("QSXCR+Q6sek8bf92").expect("salt");
    let stored =
        stored_credentials(ScramHash::Sha1, "pencil", &salt, Iterations(4096)).expect("ok");
    assert_eq!(
        server.scram_credentials(Some(stored)),
        ServerStep::Challenge(XEP0474_SERVER_FIRST.as_bytes().to_vec())
    );
    // The example's client-final carries an unknown extension (x=), which
    // a server must accept and sign over.
    let client_final = "c=cD10bHMtZXhwb3J0ZXIsLFRISVMgSVMgRkFLRSBDQiBEQVRB,\
        r=12C4CD5C-E38E-4A98-8F6D-15C38F51CCC6a09117a6-ac50-4f2f-93f1-93799c2bddf6,\
        x=19C6532F-1CF4-4A27-A18D-DC9CEA41BBB3,p=M/SIDjT+dfcxUh89jZEypRvFxB4=";
    match server.respond(client_final.as_bytes()) {
        ServerStep::Success(s) => assert_eq!(
            s.additional_data.as_deref(),
            Some(&b"v=MQrMPvv7yv4x4Cq4W4Ih25EqS2c="[..])
        ),
        other => panic!("expected success, got {other:?}"),
    }
}

#[test]
fn xep0474_example_client_side() {
    let offer = ServerOffer::new(["SCRAM-SHA-1", "SCRAM-SHA-1-PLUS"])
        .with_channel_binding_types(["tls-server-end-point", "tls-exporter"]);
    let creds = Credentials::new("user", "pencil");
    let nonce = Nonce::new("12C4CD5C-E38E-4A98-8F6D-15C38F51CCC6").expect("nonce");
    let config = SaslClientConfig {
        require_downgrade_protection: true,
        ..SaslClientConfig::default()
    };
    let mut client =
        ClientMechanism::start(&config, &creds, &offer, &xep0474_tls(), nonce).expect("start");
    assert_eq!(client.mechanism(), Mechanism::ScramSha1Plus);
    assert_eq!(client.initial_response(), XEP0474_CLIENT_FIRST.as_bytes());
    client
        .challenge(XEP0474_SERVER_FIRST.as_bytes())
        .expect("hash matches the offer we saw");

    // The same server-first against an offer a MITM trimmed.
    let trimmed = ServerOffer::new(["SCRAM-SHA-1", "SCRAM-SHA-1-PLUS"])
        .with_channel_binding_types(["tls-server-end-point"]);
    let nonce = Nonce::new("12C4CD5C-E38E-4A98-8F6D-15C38F51CCC6").expect("nonce");
    let tls = TlsState::encrypted(ChannelBindings {
        tls_exporter: None,
        tls_server_end_point: Some(b"certificate hash".to_vec()),
    });
    let mut client = ClientMechanism::start(&config, &creds, &trimmed, &tls, nonce).expect("start");
    assert_eq!(
        client.challenge(XEP0474_SERVER_FIRST.as_bytes()),
        Err(SaslError::DowngradeDetected)
    );
}
