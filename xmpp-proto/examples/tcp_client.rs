//! A client over a plain `TcpStream` with the application's own TLS
//! (rustls), driven by hand: no transport crate, just the sans-IO loop.
//!
//! It logs in (STARTTLS required, the certificate checked against the
//! domain), sends one message with a receipt request, waits for the
//! receipt (or an error), and closes.
//!
//! ```text
//! cargo run -p xmpp-transport-std --example serve -- --domain localhost \
//!     --user alice:alice-pass --user bob:bob-pass --generate-ca ca.crt &
//! cargo run -p xmpp-proto --example tcp_client -- --jid alice@localhost \
//!     --password alice-pass --server 127.0.0.1:5222 --ca ca.crt --to alice@localhost
//! ```

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use xmpp_proto::endpoint::{Endpoint, Transmit};
use xmpp_proto::jid::Jid;
use xmpp_proto::time::Time;
use xmpp_proto::tls::{TlsInfo, TlsVersion};
use xmpp_proto::{Client, ClientConfig, ClientEvent};

type Error = Box<dyn std::error::Error>;

const HELP: &str = "\
tcp_client: log in over TCP with our own rustls, send one message with a
receipt request, wait for the receipt, close.

Usage: tcp_client --jid JID --password PASS --server HOST:PORT --ca FILE --to JID

  --jid JID            the account
  --password PASS      its password
  --server HOST:PORT   where the server listens (STARTTLS)
  --ca FILE            the CA certificate(s) to trust, PEM
  --to JID             the recipient (default: ourselves)
  --message TEXT       the body (default: hello)";

fn main() {
    if let Err(e) = run() {
        eprintln!("tcp_client: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Error> {
    let args = Args::parse()?;
    // Our clock: time since the program started.
    let epoch = Instant::now();
    let now = || Time::from_instant(epoch, Instant::now());

    let jid = Jid::new(&args.jid)?;
    let domain = jid.domainpart().to_owned();
    let mut client = Client::new(ClientConfig::new(jid, args.password.as_str()), now());
    let tls_config = tls_config(&args.ca)?;
    let mut tcp = TcpStream::connect(&args.server)
        .map_err(|e| format!("cannot connect to {}: {e}", args.server))?;
    let mut tls: Option<rustls::ClientConnection> = None;
    let mut sent = None;
    let mut buf = vec![0u8; 16 * 1024];

    loop {
        // 1. Everything the client wants to send.
        while let Some(transmit) = client.poll_transmit() {
            match transmit {
                Transmit::Data(bytes) => {
                    let n = bytes.len();
                    match &mut tls {
                        Some(conn) => conn.writer().write_all(bytes)?,
                        None => tcp.write_all(bytes)?,
                    }
                    client.consume_transmit(n);
                }
                Transmit::StartTls => {
                    let name = ServerName::try_from(domain.clone())?;
                    let mut conn = rustls::ClientConnection::new(tls_config.clone(), name)?;
                    while conn.is_handshaking() {
                        conn.complete_io(&mut tcp)?;
                    }
                    client.handle_tls_established(now(), tls_info(&conn))?;
                    tls = Some(conn);
                }
                Transmit::Shutdown => {
                    if let Some(conn) = &mut tls {
                        conn.send_close_notify();
                    }
                    flush_tls(&mut tls, &mut tcp)?;
                    let _ = tcp.shutdown(Shutdown::Write);
                }
            }
        }
        flush_tls(&mut tls, &mut tcp)?;

        // 2. Everything the client has to tell us.
        while let Some(event) = client.poll_event() {
            match event {
                ClientEvent::Online { jid } => {
                    println!("online as {jid}");
                    let to = args.to.clone().unwrap_or_else(|| jid.to_string());
                    sent = Some(client.send_message(now(), &to, &args.message, true)?);
                }
                ClientEvent::ReceiptReceived { id, from } if Some(&id) == sent.as_ref() => {
                    println!("receipt for {id} from {}", from.unwrap_or_default());
                    client.close(now());
                }
                ClientEvent::Bounced { id, error, .. } if Some(&id) == sent.as_ref() => {
                    return Err(format!("the message came back: {error}").into());
                }
                ClientEvent::Message(m) => {
                    println!("message from {}: {:?}", m.from().unwrap_or("?"), m.body());
                }
                ClientEvent::Closed { reason } if !reason.is_normal() => {
                    return Err(reason.to_string().into());
                }
                ClientEvent::Closed { .. } => println!("closed cleanly"),
                _ => {}
            }
        }
        if client.is_closed() {
            return Ok(());
        }
        // Taking events may have queued output (our answer to the
        // server's close, for one): send it before waiting.
        if client.peek_transmit().is_some() {
            continue;
        }

        // 3. Wait for bytes, or until the client's next timer.
        let wait = client
            .poll_timeout()
            .map(|at| at.saturating_duration_since(now()))
            .unwrap_or(Duration::from_secs(60))
            .max(Duration::from_millis(1));
        tcp.set_read_timeout(Some(wait))?;
        match read_plaintext(&mut tls, &mut tcp, &mut buf) {
            Ok(Some(plain)) => client.handle_input(now(), &plain).map(|_| ())?,
            Ok(None) => client.handle_eof(now()),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e.into()),
        }
        client.handle_timeout(now());
    }
}

/// Reads from the socket: plaintext as it arrives (decrypted once TLS is
/// up), `None` at the end of the stream.
fn read_plaintext(
    tls: &mut Option<rustls::ClientConnection>,
    tcp: &mut TcpStream,
    buf: &mut [u8],
) -> io::Result<Option<Vec<u8>>> {
    let Some(conn) = tls else {
        let n = tcp.read(buf)?;
        return Ok((n > 0).then(|| buf[..n].to_vec()));
    };
    if conn.read_tls(tcp)? == 0 {
        return Ok(None);
    }
    let state = conn
        .process_new_packets()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let mut plain = vec![0u8; state.plaintext_bytes_to_read()];
    conn.reader().read_exact(&mut plain)?;
    if state.peer_has_closed() && plain.is_empty() {
        return Ok(None);
    }
    Ok(Some(plain))
}

/// Writes whatever TLS records rustls has queued.
fn flush_tls(tls: &mut Option<rustls::ClientConnection>, tcp: &mut TcpStream) -> io::Result<()> {
    if let Some(conn) = tls {
        while conn.wants_write() {
            conn.write_tls(tcp)?;
        }
    }
    Ok(())
}

/// What the client needs to know about the TLS session: its version and
/// the `tls-exporter` channel-binding data (RFC 9266, TLS 1.3 only), so
/// SCRAM's -PLUS variants can bind the login to this connection.
fn tls_info(conn: &rustls::ClientConnection) -> TlsInfo {
    if conn.protocol_version() != Some(rustls::ProtocolVersion::TLSv1_3) {
        return TlsInfo::new(TlsVersion::Tls12);
    }
    let info = TlsInfo::new(TlsVersion::Tls13);
    match conn.export_keying_material([0u8; 32], b"EXPORTER-Channel-Binding", None) {
        Ok(data) => info.with_tls_exporter(data.to_vec()),
        Err(_) => info,
    }
}

/// Trusts only the CA certificates in `ca` (a PEM file).
fn tls_config(ca: &str) -> Result<Arc<rustls::ClientConfig>, Error> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).map_err(|e| format!("--ca {ca}: {e}"))? {
        roots.add(cert.map_err(|e| format!("--ca {ca}: {e}"))?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

struct Args {
    jid: String,
    password: String,
    server: String,
    ca: String,
    to: Option<String>,
    message: String,
}

impl Args {
    fn parse() -> Result<Args, Error> {
        let mut args = std::env::args().skip(1);
        let (mut jid, mut password, mut server, mut ca, mut to) = (None, None, None, None, None);
        let mut message = "hello".to_owned();
        while let Some(flag) = args.next() {
            if flag == "--help" || flag == "-h" {
                println!("{HELP}");
                std::process::exit(0);
            }
            let value = args.next().ok_or(format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--jid" => jid = Some(value),
                "--password" => password = Some(value),
                "--server" => server = Some(value),
                "--ca" => ca = Some(value),
                "--to" => to = Some(value),
                "--message" => message = value,
                other => return Err(format!("unknown flag {other} (see --help)").into()),
            }
        }
        Ok(Args {
            jid: jid.ok_or("--jid is required")?,
            password: password.ok_or("--password is required")?,
            server: server.ok_or("--server is required")?,
            ca: ca.ok_or("--ca is required")?,
            to,
            message,
        })
    }
}
