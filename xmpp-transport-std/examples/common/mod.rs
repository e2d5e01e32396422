//! Command-line handling shared by the `send` and `echo` examples.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use xmpp_proto::client::{Client, ClientConfig, ClientEvent, ClientTlsPolicy, StanzaId};
use xmpp_proto::jid::Jid;
use xmpp_proto::sasl::{self, Mechanism};
use xmpp_transport_std::clock;
use xmpp_transport_std::{ClientTls, Connection, TrustAnchors};

/// The connection flags both examples take.
pub(crate) struct ConnectArgs {
    pub(crate) jid: String,
    pub(crate) password: Option<String>,
    pub(crate) server: Option<String>,
    pub(crate) direct_tls: bool,
    pub(crate) ca: Option<String>,
    pub(crate) mechanism: Option<String>,
    pub(crate) trace: bool,
}

pub(crate) const CONNECT_HELP: &str = "\
Connection options:
  --jid JID            the account, e.g. alice@localhost (required)
  --password PASS      its password (or set XMPP_PASSWORD)
  --server HOST:PORT   where to connect (default: the JID's domain, port 5222,
                       or 5223 with --direct-tls; no SRV lookup)
  --direct-tls         TLS from the first byte (XEP-0368) instead of STARTTLS
  --ca FILE            trust only the CA certificates in this PEM file (default:
                       $XMPP_CA, else $XMPP_INTEROP_CA as scripts/interop.sh
                       exports it, else the public web PKI roots)
  --mechanism NAME     use only this SASL mechanism (e.g. SCRAM-SHA-256)
  --trace              print the XML sent (>>) and received (<<)";

impl ConnectArgs {
    /// Takes the connection flags out of `args`; the rest is returned.
    pub(crate) fn take(args: Vec<String>) -> Result<(ConnectArgs, Vec<String>), String> {
        let mut out = ConnectArgs {
            jid: String::new(),
            password: std::env::var("XMPP_PASSWORD").ok(),
            server: None,
            direct_tls: false,
            ca: std::env::var("XMPP_CA")
                .or_else(|_| std::env::var("XMPP_INTEROP_CA"))
                .ok(),
            mechanism: None,
            trace: false,
        };
        let mut rest = Vec::new();
        let mut it = args.into_iter();
        while let Some(arg) = it.next() {
            let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
            match arg.as_str() {
                "--jid" => out.jid = value("--jid")?,
                "--password" => out.password = Some(value("--password")?),
                "--server" => out.server = Some(value("--server")?),
                "--direct-tls" => out.direct_tls = true,
                "--ca" => out.ca = Some(value("--ca")?),
                "--mechanism" => out.mechanism = Some(value("--mechanism")?),
                "--trace" => out.trace = true,
                _ => rest.push(arg),
            }
        }
        if out.jid.is_empty() {
            return Err("--jid is required".into());
        }
        Ok((out, rest))
    }

    /// Connects and starts the client (negotiation runs on the first
    /// `run`/`next_event`).
    pub(crate) fn connect(&self) -> Result<Connection<Client>, String> {
        let jid = Jid::new(&self.jid).map_err(|e| format!("--jid {:?}: {e}", self.jid))?;
        let password = self
            .password
            .clone()
            .ok_or("no password: pass --password or set XMPP_PASSWORD")?;
        let mut sasl = sasl::SaslClientConfig::default();
        if let Some(name) = &self.mechanism {
            let m = Mechanism::from_name(name).ok_or(format!(
                "--mechanism {name:?} is not a mechanism this library knows"
            ))?;
            sasl.allowed = Some(vec![m]);
        }
        let tls_policy = if self.direct_tls {
            ClientTlsPolicy::Direct
        } else {
            ClientTlsPolicy::RequireStartTls
        };
        // Demo clients answer receipt requests from anyone (the library's
        // default answers only those allowed to see our presence), so
        // that `send --receipt` works between accounts that are not
        // contacts.
        let config = ClientConfig::new(jid, password)
            .with_sasl(sasl)
            .with_tls(tls_policy)
            .with_trace(self.trace)
            .with_auto_receipts(true);
        let anchors = match &self.ca {
            Some(path) => {
                TrustAnchors::from_pem_file(path).map_err(|e| format!("--ca {path}: {e}"))?
            }
            None => TrustAnchors::webpki_roots(),
        };
        let tls = ClientTls::new(&anchors, config.domain()).map_err(|e| e.to_string())?;
        let default_port = if self.direct_tls {
            xmpp_transport_std::DEFAULT_DIRECT_TLS_PORT
        } else {
            xmpp_transport_std::DEFAULT_PORT
        };
        let server = self
            .server
            .clone()
            .unwrap_or_else(|| format!("{}:{default_port}", config.domain()));
        let tcp = xmpp_transport_std::connect(config.domain(), Some(&server)).map_err(|e| {
            let hint = if self.server.is_none() {
                " (the address came from the JID; pass --server HOST:PORT)"
            } else {
                ""
            };
            format!("{e}{hint}")
        })?;
        Connection::new_client(tcp, Client::new(config, clock::now()), tls)
            .map_err(|e| e.to_string())
    }
}

/// Prints a traced chunk; returns whether the event was a trace.
pub(crate) fn trace(event: &ClientEvent) -> bool {
    if let ClientEvent::Trace { direction, data } = event {
        let arrow = match direction {
            xmpp_proto::endpoint::Direction::In => "<<",
            xmpp_proto::endpoint::Direction::Out => ">>",
        };
        eprintln!("{arrow} {}", String::from_utf8_lossy(data));
        return true;
    }
    false
}

/// Runs until online within `timeout`; the error says what to do.
pub(crate) fn until_online(
    conn: &mut Connection<Client>,
    timeout: Duration,
) -> Result<String, String> {
    let deadline = Instant::now() + timeout;
    loop {
        match conn.next_event_until(deadline).map_err(|e| e.to_string())? {
            xmpp_transport_std::Next::Event(e) if trace(&e) => {}
            xmpp_transport_std::Next::Event(ClientEvent::Online { jid }) => {
                return Ok(jid.to_string());
            }
            xmpp_transport_std::Next::Event(ClientEvent::Closed { reason }) => {
                return Err(reason.to_string());
            }
            xmpp_transport_std::Next::Event(_) => {}
            xmpp_transport_std::Next::Deadline => {
                return Err("no session within the timeout (raise --timeout?)".into());
            }
            xmpp_transport_std::Next::Closed => {
                return Err("the connection closed during login".into());
            }
        }
    }
}

/// Closes and waits for a clean end; `Err` says what went wrong, including
/// an error that came back for the stanza `sent` while closing.
pub(crate) fn close(conn: &mut Connection<Client>, sent: Option<&StanzaId>) -> Result<(), String> {
    conn.command(|c, now| c.close(now))
        .map_err(|e| e.to_string())?;
    let mut clean = false;
    let mut bounced = None;
    loop {
        match conn.next_event() {
            Ok(Some(e)) if trace(&e) => {}
            Ok(Some(ClientEvent::Bounced { id, from, error })) if Some(&id) == sent => {
                let by = from.unwrap_or_else(|| "the server".into());
                bounced = Some(format!("refused by {by}: {error}"));
            }
            Ok(Some(ClientEvent::Closed { reason })) => {
                clean = reason == xmpp_proto::CloseReason::Normal;
                if !clean {
                    return Err(format!("the stream did not close cleanly: {reason}"));
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => return Err(format!("while closing: {e}")),
        }
    }
    if let Some(refusal) = bounced {
        Err(refusal)
    } else if clean {
        Ok(())
    } else {
        Err("the connection ended without a stream close".into())
    }
}

/// The whole `main` of an example: `--help` prints the example's own help
/// and the connection flags; otherwise `run` gets the arguments and an error
/// becomes one line on stderr and a failure exit code.
pub(crate) fn main(
    program: &str,
    help: &str,
    run: fn(Vec<String>) -> Result<(), String>,
) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{help}\n{CONNECT_HELP}");
        return ExitCode::SUCCESS;
    }
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("{program}: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// The value after `flag`, parsed; `what` names the expected kind of value
/// in the error ("a number", "seconds").
pub(crate) fn value<T: std::str::FromStr>(
    args: &mut impl Iterator<Item = String>,
    flag: &str,
    what: &str,
) -> Result<T, String> {
    args.next()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("{flag} needs {what}"))
}
