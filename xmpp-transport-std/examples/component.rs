//! A tiny gateway as an external component (XEP-0114): attached to a
//! server with a shared secret, it owns a whole domain. A message to
//! `time@DOMAIN` is answered with the time; a message to any other
//! address of the domain is echoed back; disco#info to the domain says
//! what it is. With `--rooms` it serves group chat rooms on the domain
//! instead (the room service our server runs, attached to any server).
//! When the connection breaks it reconnects with backoff; a wrong secret
//! or a second component for the domain ends it.
//!
//! ```text
//! cargo run -p xmpp-transport-std --example component -- \
//!     --domain echo.localhost --secret echo-secret --server 127.0.0.1:5347 --plaintext
//! ```

use std::net::TcpStream;
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use xmpp_proto::component::{Component, ComponentConfig, ComponentEvent, ComponentTls};
use xmpp_proto::endpoint::CloseReason;
use xmpp_proto::muc::service::RoomService;
use xmpp_proto::random::{OsRandom, RandomSource};
use xmpp_proto::stanza::{DefinedCondition, Iq, Message, MessageType, StanzaError};
use xmpp_proto::stream_error::StreamErrorCondition;
use xmpp_proto::xml::{Element, ns};
use xmpp_transport_std::{Backoff, ClientTls, Connection, TrustAnchors, clock, rooms};

const HELP: &str = "\
component: a tiny gateway attached to a server as an external component.

Usage: component --domain DOMAIN --secret SECRET --server HOST:PORT
                 (--plaintext | [--ca FILE] [--tls-name NAME]) [--max N] [--rooms]

  --domain DOMAIN    the domain the component serves (echo.example.com)
  --secret SECRET    the secret shared with the server
  --server HOST:PORT the server's component port
  --plaintext        no TLS (loopback or a trusted network only)
  --ca FILE          trust the CA certificates in FILE (default: public roots)
  --tls-name NAME    the name on the server's certificate (default: DOMAIN
                     without its first label: example.com for echo.example.com)
  --max N            stop after answering N messages
  --rooms            serve group chat rooms (XEP-0045) on DOMAIN instead
  -h, --help         this text

time@DOMAIN answers every message with the time (UTC); any other address
of the domain echoes. Reconnects with backoff when the connection breaks;
stops on a wrong secret (not-authorized) or a conflict.";

struct Args {
    domain: String,
    secret: String,
    server: String,
    plaintext: bool,
    ca: Option<String>,
    tls_name: Option<String>,
    max: Option<u64>,
    rooms: bool,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{HELP}");
        return ExitCode::SUCCESS;
    }
    match parse(args).and_then(|args| serve(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("component: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse(args: Vec<String>) -> Result<Args, String> {
    let mut parsed = Args {
        domain: String::new(),
        secret: String::new(),
        server: String::new(),
        plaintext: false,
        ca: None,
        tls_name: None,
        max: None,
        rooms: false,
    };
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--domain" => parsed.domain = value("--domain")?,
            "--secret" => parsed.secret = value("--secret")?,
            "--server" => parsed.server = value("--server")?,
            "--plaintext" => parsed.plaintext = true,
            "--rooms" => parsed.rooms = true,
            "--ca" => parsed.ca = Some(value("--ca")?),
            "--tls-name" => parsed.tls_name = Some(value("--tls-name")?),
            "--max" => {
                let n = value("--max")?;
                parsed.max = Some(n.parse().map_err(|_| format!("--max {n}: not a number"))?);
            }
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    if parsed.domain.is_empty() || parsed.secret.is_empty() || parsed.server.is_empty() {
        return Err("--domain, --secret and --server are required (see --help)".into());
    }
    Ok(parsed)
}

/// Connects, serves until the connection ends, and reconnects unless the
/// server refused us for good.
fn serve(args: &Args) -> Result<(), String> {
    let backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
    let mut answered = 0u64;
    let mut failures = 0u32;
    // One service for every connection: rooms live on across reconnects.
    let mut secret = [0u8; 16];
    let _ = OsRandom.fill(&mut secret);
    let mut rooms = RoomService::new(&args.domain, secret).map_err(|e| format!("--domain: {e}"))?;
    loop {
        let reason = match connect(args) {
            Ok(mut conn) if args.rooms => {
                let why = rooms::serve_rooms(&mut conn, &mut rooms).map_err(|e| e.to_string())?;
                if let CloseReason::StreamError {
                    condition:
                        condition @ (StreamErrorCondition::NotAuthorized
                        | StreamErrorCondition::Conflict),
                    ..
                } = why
                {
                    return Err(format!("the server refused us: {condition:?}"));
                }
                why.to_string()
            }
            Ok(mut conn) => {
                let reason = run(&mut conn, args, &mut answered, &mut failures)?;
                if args.max.is_some_and(|max| answered >= max) {
                    return Ok(());
                }
                reason
            }
            Err(e) => format!("connecting: {e}"),
        };
        failures += 1;
        let wait = backoff.delay(failures);
        eprintln!("component: {reason}; again in {wait:?}");
        std::thread::sleep(wait);
    }
}

fn connect(args: &Args) -> Result<Connection<Component>, String> {
    let tls = if args.plaintext {
        ComponentTls::Plaintext
    } else {
        ComponentTls::Direct
    };
    let config = ComponentConfig::new(&args.domain, args.secret.as_str())
        .map_err(|e| format!("--domain {}: {e}", args.domain))?
        .with_tls(tls);
    let component = Component::new(config, clock::now());
    let tcp = TcpStream::connect(&args.server).map_err(|e| format!("{}: {e}", args.server))?;
    if args.plaintext {
        return Connection::new_plain(tcp, component).map_err(|e| e.to_string());
    }
    let anchors = match &args.ca {
        Some(ca) => TrustAnchors::from_pem_file(ca).map_err(|e| format!("--ca {ca}: {e}"))?,
        None => TrustAnchors::webpki_roots(),
    };
    let name = args.tls_name.clone().unwrap_or_else(|| {
        args.domain
            .split_once('.')
            .map_or(args.domain.clone(), |(_, parent)| parent.to_owned())
    });
    let tls = ClientTls::new(&anchors, &name).map_err(|e| format!("--tls-name {name}: {e}"))?;
    Connection::new_client(tcp, component, tls).map_err(|e| e.to_string())
}

/// Serves one connection; returns why it ended, or an error for a
/// refusal that reconnecting would not fix.
fn run(
    conn: &mut Connection<Component>,
    args: &Args,
    answered: &mut u64,
    failures: &mut u32,
) -> Result<String, String> {
    let mut ended = None;
    conn.run(|component, event| {
        let now = clock::now();
        match event {
            ComponentEvent::Online { domain } => {
                eprintln!("component: serving {domain}");
                *failures = 0;
            }
            ComponentEvent::Message(m) if m.kind() != MessageType::Error => {
                if let Some(reply) = answer(&m, &args.domain) {
                    if component.send(now, reply).is_ok() {
                        *answered += 1;
                    }
                }
                if args.max.is_some_and(|max| *answered >= max) {
                    component.close(now);
                }
            }
            ComponentEvent::IqRequest(iq) => {
                let _ = component.send(now, disco_or_refuse(&iq, &args.domain));
            }
            ComponentEvent::Closed { reason } => {
                ended = Some(reason);
                return ControlFlow::Break(());
            }
            _ => {}
        }
        ControlFlow::Continue(())
    })
    .map_err(|e| e.to_string())?;
    match ended {
        Some(CloseReason::StreamError {
            condition:
                condition @ (StreamErrorCondition::NotAuthorized | StreamErrorCondition::Conflict),
            ..
        }) => Err(format!("the server refused us: {condition:?}")),
        Some(CloseReason::Normal) if args.max.is_some() => Ok("done".into()),
        Some(reason) => Ok(reason.to_string()),
        None => Ok("the connection ended".into()),
    }
}

/// time@DOMAIN tells the time; other addresses of the domain echo.
fn answer(m: &Message, domain: &str) -> Option<Message> {
    let body = m.body()?;
    let (from, to) = (m.from()?, m.to()?);
    let text = if to.split('/').next() == Some(&format!("time@{domain}")) {
        format!("It is {} (UTC).", clock::utc_stamp(SystemTime::now()))
    } else {
        body.into_owned()
    };
    Some(
        Message::builder(MessageType::Chat)
            .to(from)
            .from(to)
            .body(&text)
            .build(),
    )
}

/// disco#info to the domain says what it is; every other request is
/// refused with `service-unavailable`.
fn disco_or_refuse(iq: &Iq, domain: &str) -> Element {
    let is_disco = iq.payload().is_some_and(|p| p.is("query", ns::DISCO_INFO));
    if iq.to() == Some(domain) && is_disco {
        let query = Element::builder("query", ns::DISCO_INFO)
            .append(
                Element::builder("identity", ns::DISCO_INFO)
                    .attr("category", "gateway")
                    .attr("type", "xmpp")
                    .attr("name", "time and echo"),
            )
            .append(Element::builder("feature", ns::DISCO_INFO).attr("var", ns::DISCO_INFO))
            .build();
        iq.make_result(Some(query))
    } else {
        iq.make_error(&StanzaError::new(DefinedCondition::ServiceUnavailable))
    }
}
