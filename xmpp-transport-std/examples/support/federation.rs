//! The federation flags of the example servers: `--listen-s2s`,
//! `--dialback-secret`, `--s2s-route`, `--s2s-ca` and `--allow-dialback`,
//! turned into what both servers take. (Shared by the examples of both
//! transports; not an example of its own.)

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};

use xmpp_proto::random::{OsRandom, RandomSource};
use xmpp_proto::s2s::{Federation, S2sPolicy};
use xmpp_transport_std::s2s_tls::S2sTls;
use xmpp_transport_std::tls::TrustAnchors;

/// What the federation flags said.
#[derive(Default)]
pub(crate) struct S2sFlags {
    pub(crate) listen: Option<String>,
    pub(crate) secret: Option<String>,
    pub(crate) routes: Vec<String>,
    pub(crate) ca: Vec<String>,
    pub(crate) allow_dialback: bool,
}

/// What a server needs to federate, from the flags.
pub(crate) struct S2sSetup {
    pub(crate) federation: Federation,
    pub(crate) tls: S2sTls,
    pub(crate) routes: Vec<(String, SocketAddr)>,
}

/// Where our certificate comes from: the `--cert`/`--key` files, or the
/// throw-away authority of `--generate-ca`.
pub(crate) enum Certificate<'a> {
    Files { chain: &'a str, key: &'a str },
    Generated(&'a xmpp_transport_std::test_certs::TestPki),
}

impl S2sFlags {
    /// Takes `arg` (and its value, through `value`) if it is one of
    /// ours. (The mio example reads its flags with its own parser.)
    #[allow(dead_code)]
    pub(crate) fn take(
        &mut self,
        arg: &str,
        mut value: impl FnMut(&str) -> Result<String, String>,
    ) -> Result<bool, String> {
        match arg {
            "--listen-s2s" => self.listen = Some(value(arg)?),
            "--dialback-secret" => self.secret = Some(value(arg)?),
            "--s2s-route" => self.routes.push(value(arg)?),
            "--s2s-ca" => self.ca.push(value(arg)?),
            "--allow-dialback" => self.allow_dialback = true,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Binds the server-to-server port, if one was asked for (before
    /// any slow set-up, so that a port in use is reported at once).
    pub(crate) fn bind(&self) -> Result<Option<TcpListener>, String> {
        self.listen
            .as_deref()
            .map(|addr| TcpListener::bind(addr).map_err(|e| format!("--listen-s2s {addr}: {e}")))
            .transpose()
    }

    /// Whether federation is on: a server-to-server port or a route.
    pub(crate) fn federates(&self) -> bool {
        self.listen.is_some() || !self.routes.is_empty()
    }

    /// The federation settings, TLS and routes the flags say, with our
    /// certificate.
    pub(crate) fn build(
        self,
        certificate: Certificate<'_>,
        also_serving: Option<String>,
    ) -> Result<S2sSetup, String> {
        let anchors = match self.ca.as_slice() {
            [_, ..] => {
                let mut pem = Vec::new();
                for path in &self.ca {
                    let text = std::fs::read(path).map_err(|e| format!("--s2s-ca {path}: {e}"))?;
                    pem.extend_from_slice(&text);
                    pem.push(b'\n');
                }
                TrustAnchors::from_pem(&pem).map_err(|e| format!("--s2s-ca: {e}"))?
            }
            [] => match &certificate {
                // Peers of a throw-away set-up share its authority.
                Certificate::Generated(pki) => pki.trust_anchors(),
                Certificate::Files { .. } => TrustAnchors::webpki_roots(),
            },
        };
        let tls = match certificate {
            Certificate::Files { chain, key } => S2sTls::from_pem_files(chain, key, &anchors),
            Certificate::Generated(pki) => {
                let (chain, key) = pki.chain_and_key();
                S2sTls::new(chain, key, &anchors)
            }
        }
        .map_err(|e| format!("server-to-server TLS: {e}"))?;
        let secret = match self.secret {
            Some(secret) => secret,
            None => random_secret()?,
        };
        let policy = if self.allow_dialback {
            S2sPolicy::AllowDialback
        } else {
            S2sPolicy::RequireCertificate
        };
        let mut federation = Federation::new(secret).with_policy(policy);
        if let Some(domain) = also_serving {
            federation = federation.serving(domain);
        }
        let routes = self
            .routes
            .iter()
            .map(|r| parse_route(r))
            .collect::<Result<_, _>>()?;
        Ok(S2sSetup {
            federation,
            tls,
            routes,
        })
    }
}

/// `DOMAIN=HOST:PORT`, the host resolved now.
fn parse_route(spec: &str) -> Result<(String, SocketAddr), String> {
    let (domain, target) = spec
        .split_once('=')
        .ok_or(format!("--s2s-route {spec:?}: expected DOMAIN=HOST:PORT"))?;
    let addr = target
        .to_socket_addrs()
        .map_err(|e| format!("--s2s-route {spec:?}: {e}"))?
        .next()
        .ok_or(format!("--s2s-route {spec:?}: {target} has no address"))?;
    Ok((domain.to_owned(), addr))
}

/// A fresh secret for one run (dialback keys then only verify while this
/// process runs: give --dialback-secret to keep them across restarts).
fn random_secret() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    OsRandom
        .fill(&mut bytes)
        .map_err(|_| "no randomness for a dialback secret: give --dialback-secret".to_owned())?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
