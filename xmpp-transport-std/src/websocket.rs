//! XMPP over WebSocket (RFC 7395) for the transports.
//!
//! The core frames XMPP for WebSocket by itself (an endpoint configured
//! with `with_websocket()` takes and gives whole messages); the WebSocket
//! protocol underneath (the HTTP upgrade with the `xmpp` subprotocol,
//! frames, masking, ping and close) is tungstenite's, run over memory
//! here. [`WsEndpoint`] puts the two together and is itself an
//! [`Endpoint`] of bytes, so that everything that drives an endpoint over
//! a socket ([`TlsPump`](crate::tls_pump::TlsPump), the blocking
//! [`Connection`](crate::Connection), the mio loop) drives a WebSocket one
//! unchanged: TLS (`wss://`) comes first, on the endpoint's `StartTls`,
//! then the upgrade, then the endpoint learns the TLS facts.
//!
//! ```no_run
//! use std::ops::ControlFlow;
//! use xmpp_proto::client::{Client, ClientConfig, ClientEvent};
//! use xmpp_proto::jid::Jid;
//! use xmpp_transport_std::websocket::{WsEndpoint, WsUrl};
//! use xmpp_transport_std::{ClientTls, Connection, TrustAnchors, clock};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let url = WsUrl::parse("wss://example.com/xmpp-websocket")?;
//! let config = ClientConfig::new(Jid::new("alice@example.com")?, "secret").with_websocket();
//! let tls = ClientTls::new(&TrustAnchors::webpki_roots(), url.host())?;
//! let tcp = std::net::TcpStream::connect(url.socket_addr())?;
//! let endpoint = WsEndpoint::client(Client::new(config, clock::now()), &url)?;
//! let mut conn = Connection::new_client(tcp, endpoint, tls)?;
//! conn.run(|_, event| match event {
//!     ClientEvent::Online { .. } => ControlFlow::Break(()),
//!     _ => ControlFlow::Continue(()),
//! })?;
//! // The endpoint derefs to the client: commands work as over TCP.
//! conn.command(|client, now| client.send_message(now, "bob@example.com", "hi", false))??;
//! # Ok(()) }
//! ```

use std::fmt;
use std::io::{self, Read, Write};
use std::ops::{Deref, DerefMut};
use std::time::Duration;

use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::HandshakeError;
use tungstenite::handshake::MidHandshake;
use tungstenite::handshake::client::ClientHandshake;
use tungstenite::handshake::server::{ErrorResponse, Request, Response, ServerHandshake};
use tungstenite::http::{HeaderValue, StatusCode};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};
use xmpp_proto::endpoint::{Closed, Endpoint, Transmit};
use xmpp_proto::time::Time;
use xmpp_proto::tls::TlsInfo;

/// The WebSocket subprotocol of XMPP (RFC 7395 §3.1).
pub const SUBPROTOCOL: &str = "xmpp";

/// The largest WebSocket message taken from a peer: the core's largest
/// element (256 KiB by default) with room for framing slack. Anything
/// larger fails the connection before it is buffered whole.
pub const MAX_MESSAGE: usize = 320 * 1024;

/// How often a client pings an idle server (WebSocket ping frames: RFC
/// 7395 §3.3.3 leaves keepalives to WebSocket, whitespace is forbidden).
pub const DEFAULT_CLIENT_PING: Duration = Duration::from_secs(90);

/// A `ws://` or `wss://` URL to connect to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsUrl {
    url: String,
    secure: bool,
    host: String,
    port: u16,
}

/// Why a WebSocket URL is not usable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadUrl(String);

impl fmt::Display for BadUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a usable ws:// or wss:// URL: {}", self.0)
    }
}

impl std::error::Error for BadUrl {}

impl WsUrl {
    /// Parses `ws://host[:port]/path` or `wss://host[:port]/path` (IPv6
    /// hosts in brackets).
    ///
    /// ```
    /// use xmpp_transport_std::websocket::WsUrl;
    ///
    /// let url = WsUrl::parse("wss://example.com/xmpp-websocket")?;
    /// assert!(url.is_secure());
    /// assert_eq!((url.host(), url.port()), ("example.com", 443));
    /// let url = WsUrl::parse("ws://127.0.0.1:5280/ws")?;
    /// assert_eq!(url.socket_addr(), ("127.0.0.1".to_owned(), 5280));
    /// assert!(WsUrl::parse("https://example.com/").is_err());
    /// # Ok::<(), xmpp_transport_std::websocket::BadUrl>(())
    /// ```
    ///
    /// # Errors
    /// A scheme other than `ws` or `wss`, no host, or a bad port.
    pub fn parse(url: &str) -> Result<Self, BadUrl> {
        let bad = || BadUrl(url.to_owned());
        let (secure, rest) = if let Some(rest) = url.strip_prefix("wss://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("ws://") {
            (false, rest)
        } else {
            return Err(bad());
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(bad)?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad());
        }
        let port = match port {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if secure => 443,
            None => 80,
        };
        // The request needs a URI tungstenite accepts.
        url.into_client_request().map_err(|_| bad())?;
        Ok(WsUrl {
            url: url.to_owned(),
            secure,
            host: host.to_owned(),
            port,
        })
    }

    /// `wss://`: TLS first, checked against [`WsUrl::host`].
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The host (without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port (443 or 80 unless given).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// What `TcpStream::connect` takes.
    pub fn socket_addr(&self) -> (String, u16) {
        (self.host.clone(), self.port)
    }

    /// The URL as given.
    pub fn as_str(&self) -> &str {
        &self.url
    }
}

impl fmt::Display for WsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

/// How much of a host-meta answer is read at most.
const MAX_HOST_META: usize = 64 * 1024;

/// Why [`discover`] found no WebSocket endpoint.
#[derive(Debug)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// Connecting, TLS (the certificate is checked against the domain) or
    /// reading failed.
    Transport(crate::Error),
    /// The HTTP answer was not a `200` with a body we could read.
    Http(String),
    /// The document names no `wss://` endpoint.
    NoEndpoint,
}

impl fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiscoveryError::Transport(e) => write!(f, "fetching host-meta failed: {e}"),
            DiscoveryError::Http(e) => write!(f, "host-meta: {e}"),
            DiscoveryError::NoEndpoint => {
                f.write_str("host-meta names no wss:// endpoint (XEP-0156)")
            }
        }
    }
}

impl std::error::Error for DiscoveryError {}

impl From<io::Error> for DiscoveryError {
    fn from(e: io::Error) -> Self {
        DiscoveryError::Transport(crate::Error::Io(e))
    }
}

/// The WebSocket endpoints of `domain` from its host-meta document
/// (XEP-0156): `https://DOMAIN/.well-known/host-meta`, over TLS checked
/// against the domain with `anchors`. Only `wss://` endpoints count.
/// Blocks; a few seconds at most per step.
///
/// ```no_run
/// use xmpp_transport_std::TrustAnchors;
/// use xmpp_transport_std::websocket::discover;
///
/// let urls = discover("example.com", &TrustAnchors::webpki_roots())?;
/// println!("connect to {}", urls[0]);
/// # Ok::<(), xmpp_transport_std::websocket::DiscoveryError>(())
/// ```
///
/// # Errors
/// See [`DiscoveryError`].
pub fn discover(domain: &str, anchors: &crate::TrustAnchors) -> Result<Vec<WsUrl>, DiscoveryError> {
    discover_at(domain, (domain, 443), anchors)
}

/// [`discover`], with the HTTPS server at `addr` instead of the domain's
/// port 443 (tests, private deployments); the certificate is still
/// checked against `domain`.
///
/// # Errors
/// See [`DiscoveryError`].
pub fn discover_at(
    domain: &str,
    addr: impl std::net::ToSocketAddrs,
    anchors: &crate::TrustAnchors,
) -> Result<Vec<WsUrl>, DiscoveryError> {
    let tls = crate::ClientTls::new(anchors, domain)?;
    let conn = tls
        .connect()
        .map_err(|e| DiscoveryError::Transport(crate::Error::Tls(e)))?;
    let tcp = std::net::TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    tcp.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    let request = format!(
        "GET /.well-known/host-meta HTTP/1.1\r\nHost: {domain}\r\nAccept: application/xrd+xml\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes())?;
    let mut answer = Vec::new();
    let read = (&mut stream)
        .take(MAX_HOST_META as u64 + 1)
        .read_to_end(&mut answer);
    // A server that closes without close_notify still sent its answer.
    if let Err(e) = read {
        if e.kind() != io::ErrorKind::UnexpectedEof || answer.is_empty() {
            return Err(e.into());
        }
    }
    if answer.len() > MAX_HOST_META {
        return Err(DiscoveryError::Http("the answer is too large".into()));
    }
    let body = http_body(&answer).map_err(DiscoveryError::Http)?;
    let urls: Vec<WsUrl> = xmpp_proto::resolve::websocket_endpoints(&body)
        .iter()
        .filter_map(|u| WsUrl::parse(u).ok())
        .collect();
    if urls.is_empty() {
        return Err(DiscoveryError::NoEndpoint);
    }
    Ok(urls)
}

/// The body of a whole HTTP/1.1 answer, if its status is 200
/// (`Content-Length`, chunked, or up to the end).
fn http_body(answer: &[u8]) -> Result<Vec<u8>, String> {
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no complete HTTP header")?;
    let head = std::str::from_utf8(&answer[..split]).map_err(|_| "a header that is not text")?;
    let body = &answer[split + 4..];
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or("");
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(format!("the server answered {status:?}"));
    }
    let mut chunked = false;
    let mut length = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        } else if name.eq_ignore_ascii_case("content-length") {
            length = value.parse::<usize>().ok();
        }
    }
    if chunked {
        return dechunk(body);
    }
    Ok(match length {
        Some(n) => body
            .get(..n)
            .ok_or("a body shorter than its length")?
            .to_vec(),
        None => body.to_vec(),
    })
}

/// Decodes a chunked body.
fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunk without its size line")?;
        let size = std::str::from_utf8(&body[..line_end])
            .ok()
            .and_then(|l| usize::from_str_radix(l.split(';').next().unwrap_or("").trim(), 16).ok())
            .ok_or("a bad chunk size")?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(body.get(..size).ok_or("a chunk cut short")?);
        body = body.get(size + 2..).ok_or("a chunk cut short")?;
    }
}

/// The bytes between the WebSocket machinery and the connection: what
/// the peer sent and tungstenite has not read, and what tungstenite wrote
/// and the connection has not taken. Reading an empty input would block.
#[derive(Debug, Default)]
struct Memory {
    input: Vec<u8>,
    read_at: usize,
    output: Vec<u8>,
    sent: usize,
}

impl Memory {
    fn unsent(&self) -> &[u8] {
        self.output.get(self.sent..).unwrap_or(&[])
    }

    fn consume(&mut self, n: usize) {
        self.sent = (self.sent + n).min(self.output.len());
        if self.sent == self.output.len() {
            self.output.clear();
            self.sent = 0;
            if self.output.capacity() > 64 * 1024 {
                self.output = Vec::new();
            }
        }
    }
}

impl Read for Memory {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.input.get(self.read_at..).unwrap_or(&[]);
        if available.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.read_at += n;
        if self.read_at == self.input.len() {
            self.input.clear();
            self.read_at = 0;
        }
        Ok(n)
    }
}

impl Write for Memory {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Checks a client's upgrade request: it must offer the `xmpp`
/// subprotocol (RFC 7395 §3.1), which the answer then names.
#[derive(Clone, Copy, Debug)]
struct RequireXmpp;

impl tungstenite::handshake::server::Callback for RequireXmpp {
    fn on_request(
        self,
        request: &Request,
        mut response: Response,
    ) -> Result<Response, ErrorResponse> {
        let offered = request
            .headers()
            .get_all("Sec-WebSocket-Protocol")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|p| p.trim() == SUBPROTOCOL);
        if !offered {
            let mut refusal = ErrorResponse::new(Some(
                "XMPP over WebSocket needs the 'xmpp' subprotocol (RFC 7395)".to_owned(),
            ));
            *refusal.status_mut() = StatusCode::BAD_REQUEST;
            return Err(refusal);
        }
        response.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static(SUBPROTOCOL),
        );
        Ok(response)
    }
}

/// Where the WebSocket connection stands.
enum Stage {
    /// `wss://`: the TLS handshake comes first; then the upgrade starts.
    AwaitTls(Upgrade),
    /// The HTTP upgrade, as the client.
    Client(MidHandshake<ClientHandshake<Memory>>),
    /// The HTTP upgrade, as the server.
    Server(MidHandshake<ServerHandshake<Memory, RequireXmpp>>),
    /// Messages flow.
    Open(Box<WebSocket<Memory>>),
    /// The WebSocket failed (a refused upgrade, a protocol error); what
    /// it wrote last (an HTTP refusal, a close frame) may still go out.
    Failed(Memory),
}

/// Appends one unmasked, final text frame holding `payload` (RFC 6455
/// §5.2: the server-to-client form).
fn write_text_frame(out: &mut Vec<u8>, payload: &[u8]) {
    const FIN_TEXT: u8 = 0x81;
    out.push(FIN_TEXT);
    match payload.len() {
        n @ 0..=125 => out.push(n as u8),
        n @ 126..=0xFFFF => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
}

/// The upgrade to run once TLS is up.
#[derive(Clone, Debug)]
enum Upgrade {
    Client(WsUrl),
    Server,
}

fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        // Many idle connections: small eager buffers (tungstenite also
        // zero-fills this much before every read).
        .read_buffer_size(1024)
        .write_buffer_size(0)
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE))
}

/// An endpoint speaking XMPP over WebSocket (configured with
/// `with_websocket()`) behind the WebSocket protocol, as an endpoint of
/// bytes for any transport. See the module documentation.
///
/// It dereferences to the endpoint inside, so commands are given as
/// usual. The WebSocket's own trouble (a refused upgrade, a bad frame)
/// ends the endpoint as a lost connection; [`WsEndpoint::websocket_error`]
/// says what it was.
pub struct WsEndpoint<E> {
    inner: E,
    stage: Stage,
    /// The TLS facts, held back until the upgrade is done.
    tls: Option<TlsInfo>,
    /// The close frame is written; `Shutdown` follows the bytes before it.
    shutting_down: bool,
    /// `Shutdown` was handed out.
    shut: bool,
    error: Option<String>,
    /// The server side (its frames are not masked).
    is_server: bool,
    ping_every: Option<Duration>,
    next_ping: Option<Time>,
    /// The time of the last call that told it, for scheduling pings.
    last_now: Time,
}

impl<E: Endpoint> WsEndpoint<E> {
    /// The client side of `url` around `client` (a client configured with
    /// `with_websocket()`, whose TLS policy matches the URL's scheme:
    /// `wss://` needs TLS, which is the default). It pings an idle server
    /// every [`DEFAULT_CLIENT_PING`].
    ///
    /// # Errors
    /// If the upgrade request cannot be made from `url`.
    pub fn client(client: E, url: &WsUrl) -> Result<Self, BadUrl> {
        let mut ws = WsEndpoint::new(client, Upgrade::Client(url.clone()));
        ws.ping_every = Some(DEFAULT_CLIENT_PING);
        if !ws.waits_for_tls() {
            ws.start_upgrade(Upgrade::Client(url.clone()));
        }
        match ws.error.take() {
            Some(e) => Err(BadUrl(e)),
            None => Ok(ws),
        }
    }

    /// The server side around `server` (configured with
    /// `with_websocket()`): it answers a client's upgrade request that
    /// offers the `xmpp` subprotocol and refuses any other with HTTP 400.
    pub fn server(server: E) -> Self {
        let mut ws = WsEndpoint::new(server, Upgrade::Server);
        if !ws.waits_for_tls() {
            ws.start_upgrade(Upgrade::Server);
        }
        ws
    }

    fn new(inner: E, upgrade: Upgrade) -> Self {
        let is_server = matches!(upgrade, Upgrade::Server);
        WsEndpoint {
            inner,
            stage: Stage::AwaitTls(upgrade),
            tls: None,
            shutting_down: false,
            shut: false,
            error: None,
            is_server,
            ping_every: None,
            next_ping: None,
            last_now: Time::ZERO,
        }
    }

    /// Something went out: the next ping is due a whole interval later.
    fn schedule_ping(&mut self) {
        self.next_ping = self.ping_every.map(|every| self.last_now + every);
    }

    /// How often to ping an idle peer (`None`: never).
    pub fn set_ping_interval(&mut self, every: Option<Duration>) {
        self.ping_every = every;
        self.next_ping = None;
    }

    /// What went wrong with the WebSocket itself, if anything did.
    pub fn websocket_error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Whether the upgrade is done and messages flow.
    pub fn is_open(&self) -> bool {
        matches!(self.stage, Stage::Open(_))
    }

    /// The endpoint inside.
    pub fn get_ref(&self) -> &E {
        &self.inner
    }

    /// The endpoint inside, to give it commands.
    pub fn get_mut(&mut self) -> &mut E {
        &mut self.inner
    }

    /// Takes the endpoint back.
    pub fn into_inner(self) -> E {
        self.inner
    }

    fn waits_for_tls(&self) -> bool {
        self.inner.peek_transmit() == Some(Transmit::StartTls)
    }

    fn start_upgrade(&mut self, upgrade: Upgrade) {
        let result = match upgrade {
            Upgrade::Client(url) => {
                let mut request = match url.as_str().into_client_request() {
                    Ok(r) => r,
                    Err(e) => return self.fail_upgrade(Memory::default(), e.to_string()),
                };
                request.headers_mut().insert(
                    "Sec-WebSocket-Protocol",
                    HeaderValue::from_static(SUBPROTOCOL),
                );
                match tungstenite::client::client_with_config(
                    request,
                    Memory::default(),
                    Some(ws_config()),
                ) {
                    Err(HandshakeError::Interrupted(mid)) => Ok(Stage::Client(mid)),
                    Ok(_) => Err("the upgrade finished without an answer".to_owned()),
                    Err(HandshakeError::Failure(e)) => Err(e.to_string()),
                }
            }
            Upgrade::Server => match tungstenite::accept_hdr_with_config(
                Memory::default(),
                RequireXmpp,
                Some(ws_config()),
            ) {
                Err(HandshakeError::Interrupted(mid)) => Ok(Stage::Server(mid)),
                Ok(_) => Err("the upgrade finished without a request".to_owned()),
                Err(HandshakeError::Failure(e)) => Err(e.to_string()),
            },
        };
        match result {
            Ok(stage) => self.stage = stage,
            Err(e) => self.fail_upgrade(Memory::default(), e),
        }
    }

    fn fail_upgrade(&mut self, memory: Memory, error: String) {
        self.stage = Stage::Failed(memory);
        self.error = Some(error);
    }

    /// The WebSocket failed: the endpoint hears that its connection is
    /// gone.
    fn fail(&mut self, now: Time, memory: Memory, error: String) {
        self.fail_upgrade(memory, error);
        if !self.inner.is_closed() {
            self.inner.handle_eof(now);
        }
    }

    fn memory(&self) -> Option<&Memory> {
        match &self.stage {
            Stage::AwaitTls(_) => None,
            Stage::Client(mid) => Some(mid.get_ref().get_ref()),
            Stage::Server(mid) => Some(mid.get_ref().get_ref()),
            Stage::Open(ws) => Some(ws.get_ref()),
            Stage::Failed(m) => Some(m),
        }
    }

    fn memory_mut(&mut self) -> Option<&mut Memory> {
        match &mut self.stage {
            Stage::AwaitTls(_) => None,
            Stage::Client(mid) => Some(mid.get_mut().get_mut()),
            Stage::Server(mid) => Some(mid.get_mut().get_mut()),
            Stage::Open(ws) => Some(ws.get_mut()),
            Stage::Failed(m) => Some(m),
        }
    }

    fn has_unsent(&self) -> bool {
        self.memory().is_some_and(|m| !m.unsent().is_empty())
    }

    /// Moves the upgrade on with what arrived; once it is done, the
    /// endpoint learns the TLS facts and any frames that came along are
    /// read.
    fn continue_upgrade(&mut self, now: Time) {
        let stage = std::mem::replace(&mut self.stage, Stage::Failed(Memory::default()));
        let opened = match stage {
            Stage::Client(mid) => match mid.handshake() {
                Ok((ws, response)) => {
                    let agreed = response
                        .headers()
                        .get("Sec-WebSocket-Protocol")
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|v| v.trim() == SUBPROTOCOL);
                    if !agreed {
                        let memory = Memory::default();
                        return self.fail(
                            now,
                            memory,
                            "the server did not agree to the 'xmpp' subprotocol".to_owned(),
                        );
                    }
                    ws
                }
                Err(HandshakeError::Interrupted(mid)) => {
                    self.stage = Stage::Client(mid);
                    return;
                }
                Err(HandshakeError::Failure(e)) => {
                    return self.fail(now, Memory::default(), e.to_string());
                }
            },
            Stage::Server(mid) => match mid.handshake() {
                Ok(ws) => ws,
                Err(HandshakeError::Interrupted(mid)) => {
                    self.stage = Stage::Server(mid);
                    return;
                }
                Err(HandshakeError::Failure(e)) => {
                    // tungstenite wrote its HTTP refusal into memory it
                    // keeps; say why in ours.
                    let mut memory = Memory::default();
                    let _ = memory.write_all(
                        b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                    );
                    return self.fail(now, memory, e.to_string());
                }
            },
            other => {
                self.stage = other;
                return;
            }
        };
        self.stage = Stage::Open(Box::new(opened));
        self.schedule_ping();
        if let Some(tls) = self.tls.take() {
            let _ = self.inner.handle_tls_established(now, tls);
        }
        self.read_messages(now);
    }

    /// Hands every whole message to the endpoint; answers pings and the
    /// peer's close (tungstenite queues the answers).
    fn read_messages(&mut self, now: Time) {
        let mut peer_closed = false;
        loop {
            let Stage::Open(ws) = &mut self.stage else {
                return;
            };
            match ws.read() {
                Ok(Message::Text(text)) => {
                    if !self.inner.is_closed() {
                        let _ = self.inner.handle_input(now, text.as_bytes());
                    }
                }
                // RFC 7395 sends text frames; a binary one with the same
                // bytes is a harmless quirk.
                Ok(Message::Binary(data)) => {
                    if !self.inner.is_closed() {
                        let _ = self.inner.handle_input(now, &data);
                    }
                }
                Ok(Message::Close(_)) => peer_closed = true,
                Ok(_) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    peer_closed = true;
                    break;
                }
                Err(e) => {
                    let memory = std::mem::take(ws.get_mut());
                    return self.fail(now, memory, e.to_string());
                }
            }
        }
        if let Stage::Open(ws) = &mut self.stage {
            let _ = ws.flush();
        }
        if peer_closed && !self.inner.is_closed() {
            self.inner.handle_eof(now);
        }
    }

    /// Frames the endpoint's next message (or its shutdown) into memory.
    /// Returns whether anything changed.
    fn frame_next(&mut self) -> bool {
        let Stage::Open(ws) = &mut self.stage else {
            return false;
        };
        if self.shutting_down {
            return false;
        }
        match self.inner.poll_transmit() {
            None => false,
            Some(Transmit::Data(data)) => {
                let n = data.len();
                if self.is_server {
                    // A server's frames are not masked: the frame is its
                    // header and the message, written straight into the
                    // output (tungstenite would take an owned copy of
                    // the message first, and cost a third of the
                    // throughput; what it has queued is flushed already).
                    write_text_frame(&mut ws.get_mut().output, data);
                } else {
                    // The core writes UTF-8; a lossy copy never changes it.
                    let text = String::from_utf8_lossy(data).into_owned();
                    let _ = ws.send(Message::text(text));
                }
                self.inner.consume_transmit(n);
                true
            }
            Some(Transmit::StartTls) => {
                self.error = Some("the endpoint asked for TLS over an open WebSocket".into());
                self.shutting_down = true;
                let _ = ws.close(None);
                let _ = ws.flush();
                true
            }
            Some(Transmit::Shutdown) => {
                self.shutting_down = true;
                let _ = ws.close(None);
                let _ = ws.flush();
                true
            }
        }
    }

    fn discard_inner_output(&mut self) {
        while let Some(t) = self.inner.poll_transmit() {
            if let Transmit::Data(d) = t {
                let n = d.len();
                self.inner.consume_transmit(n);
            }
        }
    }
}

impl<E> Deref for WsEndpoint<E> {
    type Target = E;

    fn deref(&self) -> &E {
        &self.inner
    }
}

impl<E> DerefMut for WsEndpoint<E> {
    fn deref_mut(&mut self) -> &mut E {
        &mut self.inner
    }
}

impl<E: Endpoint> Endpoint for WsEndpoint<E> {
    type Event = E::Event;

    fn handle_input(&mut self, now: Time, data: &[u8]) -> Result<(), Closed> {
        self.last_now = now;
        let failed = matches!(self.stage, Stage::Failed(_));
        if let (Some(memory), false) = (self.memory_mut(), failed) {
            memory.input.extend_from_slice(data);
        }
        match self.stage {
            Stage::Client(_) | Stage::Server(_) => self.continue_upgrade(now),
            Stage::Open(_) => self.read_messages(now),
            Stage::AwaitTls(_) | Stage::Failed(_) => {}
        }
        Ok(())
    }

    fn handle_eof(&mut self, now: Time) {
        self.inner.handle_eof(now);
    }

    fn handle_timeout(&mut self, now: Time) {
        self.last_now = now;
        self.inner.handle_timeout(now);
        if let (Some(at), Stage::Open(ws)) = (self.next_ping, &mut self.stage) {
            if now >= at && !self.shutting_down {
                let _ = ws.send(Message::Ping(Vec::new().into()));
                self.schedule_ping();
            }
        }
    }

    fn handle_tls_established(&mut self, now: Time, tls: TlsInfo) -> Result<(), Closed> {
        self.last_now = now;
        match &self.stage {
            Stage::AwaitTls(upgrade) => {
                let upgrade = upgrade.clone();
                // The endpoint's StartTls was taken by the transport.
                self.tls = Some(tls);
                self.start_upgrade(upgrade);
                if let Some(error) = self.error.clone() {
                    self.fail(now, Memory::default(), error);
                }
                Ok(())
            }
            _ => self.inner.handle_tls_established(now, tls),
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        loop {
            if self.has_unsent() {
                return self.memory().map(|m| Transmit::Data(m.unsent()));
            }
            match &self.stage {
                Stage::AwaitTls(_) => {
                    return match self.inner.peek_transmit() {
                        Some(Transmit::StartTls) => self.inner.poll_transmit(),
                        _ => None,
                    };
                }
                Stage::Client(_) | Stage::Server(_) => return None,
                Stage::Failed(_) => {
                    self.discard_inner_output();
                    if self.shut {
                        return None;
                    }
                    self.shut = true;
                    return Some(Transmit::Shutdown);
                }
                Stage::Open(_) => {
                    if self.frame_next() {
                        // Anything sent keeps the connection alive.
                        self.schedule_ping();
                        continue;
                    }
                    if self.shutting_down && !self.shut {
                        self.shut = true;
                        return Some(Transmit::Shutdown);
                    }
                    return None;
                }
            }
        }
    }

    fn peek_transmit(&self) -> Option<Transmit<'_>> {
        if self.has_unsent() {
            return self.memory().map(|m| Transmit::Data(m.unsent()));
        }
        match &self.stage {
            Stage::AwaitTls(_) => match self.inner.peek_transmit() {
                Some(Transmit::StartTls) => Some(Transmit::StartTls),
                _ => None,
            },
            Stage::Failed(_) if !self.shut => Some(Transmit::Shutdown),
            Stage::Open(_) if self.shutting_down && !self.shut => Some(Transmit::Shutdown),
            // A message not framed yet: what `poll_transmit` will frame.
            Stage::Open(_) => self.inner.peek_transmit(),
            _ => None,
        }
    }

    fn consume_transmit(&mut self, n: usize) {
        if let Some(memory) = self.memory_mut() {
            memory.consume(n);
        }
    }

    fn poll_event(&mut self) -> Option<E::Event> {
        self.inner.poll_event()
    }

    fn poll_timeout(&self) -> Option<Time> {
        let inner = self.inner.poll_timeout();
        let ping = self
            .next_ping
            .filter(|_| !self.inner.is_closed() && !self.shutting_down);
        match (inner, ping) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn wants_read(&self) -> bool {
        self.inner.wants_read()
    }

    fn is_closed(&self) -> bool {
        self.inner.is_closed() && !self.has_unsent()
    }
}

impl<E> fmt::Debug for WsEndpoint<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsEndpoint")
            .field("open", &matches!(self.stage, Stage::Open(_)))
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

/// The server role over a TCP stream or over WebSocket: what a server
/// listening for both drives, one type for all its sessions. It
/// dereferences to the [`Server`](xmpp_proto::Server) inside.
// One per connection, living as long as it: the stream variant is kept
// inline (most connections), the WebSocket one boxed.
#[allow(clippy::large_enum_variant)]
pub enum ServerEndpoint {
    /// XMPP on a TCP stream (STARTTLS or direct TLS).
    Stream(xmpp_proto::Server),
    /// XMPP over WebSocket.
    WebSocket(Box<WsEndpoint<xmpp_proto::Server>>),
}

impl From<xmpp_proto::Server> for ServerEndpoint {
    /// A server configured with `with_websocket()` goes behind the
    /// WebSocket protocol; any other speaks on the stream.
    fn from(server: xmpp_proto::Server) -> Self {
        if server.is_websocket() {
            ServerEndpoint::WebSocket(Box::new(WsEndpoint::server(server)))
        } else {
            ServerEndpoint::Stream(server)
        }
    }
}

impl Deref for ServerEndpoint {
    type Target = xmpp_proto::Server;

    fn deref(&self) -> &xmpp_proto::Server {
        match self {
            ServerEndpoint::Stream(s) => s,
            ServerEndpoint::WebSocket(ws) => ws,
        }
    }
}

impl DerefMut for ServerEndpoint {
    fn deref_mut(&mut self) -> &mut xmpp_proto::Server {
        match self {
            ServerEndpoint::Stream(s) => s,
            ServerEndpoint::WebSocket(ws) => ws,
        }
    }
}

/// Calls the same method on whichever endpoint is inside.
macro_rules! either {
    ($self:expr, $e:ident => $call:expr) => {
        match $self {
            ServerEndpoint::Stream($e) => $call,
            ServerEndpoint::WebSocket($e) => $call,
        }
    };
}

impl Endpoint for ServerEndpoint {
    type Event = xmpp_proto::ServerEvent;

    fn handle_input(&mut self, now: Time, data: &[u8]) -> Result<(), Closed> {
        either!(self, e => e.handle_input(now, data))
    }

    fn handle_eof(&mut self, now: Time) {
        either!(self, e => e.handle_eof(now));
    }

    fn handle_timeout(&mut self, now: Time) {
        either!(self, e => e.handle_timeout(now));
    }

    fn handle_tls_established(&mut self, now: Time, tls: TlsInfo) -> Result<(), Closed> {
        either!(self, e => e.handle_tls_established(now, tls))
    }

    fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        either!(self, e => e.poll_transmit())
    }

    fn peek_transmit(&self) -> Option<Transmit<'_>> {
        either!(self, e => e.peek_transmit())
    }

    fn consume_transmit(&mut self, n: usize) {
        either!(self, e => e.consume_transmit(n));
    }

    fn poll_event(&mut self) -> Option<xmpp_proto::ServerEvent> {
        either!(self, e => e.poll_event())
    }

    fn poll_timeout(&self) -> Option<Time> {
        either!(self, e => e.poll_timeout())
    }

    fn wants_read(&self) -> bool {
        either!(self, e => e.wants_read())
    }

    fn is_closed(&self) -> bool {
        either!(self, e => e.is_closed())
    }
}

#[cfg(test)]
mod tests {
    use super::{dechunk, http_body};

    #[test]
    fn text_frames_have_the_length_forms_of_rfc_6455() {
        let mut out = Vec::new();
        super::write_text_frame(&mut out, b"hi");
        assert_eq!(out, b"\x81\x02hi");
        for (len, header) in [
            (126usize, vec![0x81, 126, 0, 126]),
            (70_000, vec![0x81, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]),
        ] {
            let mut out = Vec::new();
            super::write_text_frame(&mut out, &vec![b'x'; len]);
            assert_eq!(out[..header.len()], header[..]);
            assert_eq!(out.len(), header.len() + len);
        }
    }

    #[test]
    fn http_bodies_by_length_chunks_or_end() {
        let by_length = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef";
        assert_eq!(http_body(by_length).unwrap(), b"abc");
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        assert_eq!(http_body(chunked).unwrap(), b"abcde");
        let to_end = b"HTTP/1.0 200 OK\r\n\r\nall of it";
        assert_eq!(http_body(to_end).unwrap(), b"all of it");
        assert!(http_body(b"HTTP/1.1 404 Not Found\r\n\r\n").is_err());
        assert!(dechunk(b"5\r\nab").is_err());
    }
}
