//! Accepting connections: an acceptor thread per listener, and per
//! socket a `Server` endpoint, its connection and its session thread.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use xmpp_proto::jid::JidError;
use xmpp_proto::router::SessionId;
use xmpp_proto::server::{Server, ServerConfig, ServerTlsPolicy};

use super::pump::HubCommand;
use super::{Shared, lock, session};
use crate::clock;
use crate::connection::Connection;
use crate::websocket::ServerEndpoint;

/// What a server's listener takes (this crate's `Serve` and the mio
/// transport's server share it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Listener {
    /// Clients, STARTTLS required.
    StartTls,
    /// Clients, TLS from the first byte (XEP-0368).
    DirectTls,
    /// External components (XEP-0114), plaintext.
    Component,
    /// External components, TLS from the first byte.
    ComponentTls,
    /// Clients over WebSocket (RFC 7395), plain `ws://`: on loopback, or
    /// behind a proxy that terminates TLS.
    WebSocket,
    /// Clients over WebSocket with TLS (`wss://`).
    WebSocketTls,
    /// Other servers (server-to-server streams, STARTTLS required); the
    /// server adds its federation settings
    /// (`ServerConfig::for_federation`).
    S2s,
}

impl Listener {
    /// `config` as sessions accepted on this listener run it.
    pub fn configure(self, config: ServerConfig) -> ServerConfig {
        match self {
            Listener::StartTls => config.for_listener(false),
            Listener::DirectTls => config.for_listener(true),
            Listener::Component => config.with_tls(ServerTlsPolicy::Disabled).for_components(),
            Listener::ComponentTls => config.with_tls(ServerTlsPolicy::Direct).for_components(),
            Listener::WebSocket => config.with_websocket().with_tls(ServerTlsPolicy::Disabled),
            Listener::WebSocketTls => config.with_websocket().with_tls(ServerTlsPolicy::Direct),
            Listener::S2s => config.with_tls(ServerTlsPolicy::RequireStartTls),
        }
    }
}

impl Shared {
    /// The sans-IO server for one new connection.
    fn endpoint(&self, listener: Listener) -> Result<ServerEndpoint, JidError> {
        let mut config = ServerConfig::new(&self.domain)?;
        if let Some(configure) = &self.configure {
            config = configure(config);
        }
        let mut config = listener.configure(config);
        if let (Listener::S2s, Some(s2s)) = (listener, &self.s2s) {
            config = config.for_federation(s2s.federation.clone());
        }
        Ok(Server::new(config, clock::now()).into())
    }

    /// Sets up one accepted connection and starts its thread.
    fn accept(self: &Arc<Self>, tcp: TcpStream, listener: Listener) -> io::Result<()> {
        let peer = tcp.peer_addr()?;
        // Dropping the socket closes it: no room overall, or none left
        // for this address.
        if lock(&self.sessions).len() >= self.max_sessions || !self.admit(peer.ip()) {
            return Ok(());
        }
        let started = self.start_session(tcp, peer, listener);
        // A running session gives its slot back when it ends.
        if !matches!(started, Ok(true)) {
            self.release(peer.ip(), false);
        }
        started.map(|_| ())
    }

    /// Starts the thread of one admitted connection: `Ok(true)` once it
    /// runs, `Ok(false)` if the connection was dropped quietly.
    fn start_session(
        self: &Arc<Self>,
        tcp: TcpStream,
        peer: SocketAddr,
        listener: Listener,
    ) -> io::Result<bool> {
        tcp.set_nodelay(true)?;
        let endpoint = self
            .endpoint(listener)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let tls = match (listener, &self.s2s) {
            (Listener::S2s, Some(s2s)) => s2s.tls.server().clone(),
            _ => self.tls.clone(),
        };
        let conn = Connection::new_server(tcp, endpoint, tls)?;
        let Ok(mut conn) = conn.with_command_type::<HubCommand>() else {
            return Ok(false);
        };
        let remote = conn.remote()?;
        let id = SessionId(self.next_id.fetch_add(1, Ordering::Relaxed));
        // Registered before the thread runs, so a session is reachable
        // as soon as the hub can name it.
        lock(&self.sessions).insert(id, remote);
        lock(&self.hub).set_address(id, peer.ip());
        let shared = Arc::clone(self);
        let spawned = thread::Builder::new()
            .name(format!("xmpp-session-{}", id.0))
            .spawn(move || session::run(&shared, id, peer, Some(listener), conn));
        match spawned {
            Ok(thread) => {
                let mut threads = lock(&self.threads);
                threads.retain(|t| !t.is_finished());
                threads.push(thread);
                Ok(true)
            }
            Err(e) => {
                lock(&self.sessions).remove(&id);
                Err(e)
            }
        }
    }
}

pub(super) fn spawn_acceptor(
    shared: &Arc<Shared>,
    socket: TcpListener,
    listener: Listener,
) -> io::Result<JoinHandle<()>> {
    let shared = Arc::clone(shared);
    thread::Builder::new()
        .name("xmpp-accept".into())
        .spawn(move || {
            for tcp in socket.incoming() {
                if shared.stopping.load(Ordering::SeqCst) {
                    break;
                }
                // A failed accept or set-up concerns one client only
                // (it reset the connection, or we are out of threads):
                // drop it and go on.
                match tcp {
                    Ok(tcp) => {
                        let _ = shared.accept(tcp, listener);
                    }
                    // Out of file descriptors, say: give the system a
                    // moment rather than spin.
                    Err(_) => thread::sleep(Duration::from_millis(50)),
                }
            }
        })
}

/// The address to connect to for waking a listener bound to `addr` (an
/// unspecified address means any local one).
pub(super) fn reachable(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}
