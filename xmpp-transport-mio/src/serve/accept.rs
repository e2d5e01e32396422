//! Accepting connections: a new `Server` endpoint per socket, configured
//! for the listener it came to, and its first log line.

use std::io;

use xmpp_proto::router::SessionId;
use xmpp_proto::server::{Server, ServerConfig};
use xmpp_transport_std::clock;
use xmpp_transport_std::websocket::ServerEndpoint;

use super::{Listener, MioServer, SessionLog};
use crate::ConnId;

impl MioServer {
    pub(super) fn accept(&mut self, index: usize) {
        loop {
            let Some((listener, kind)) = self.listeners.get(index) else {
                return;
            };
            let kind = *kind;
            let (socket, peer) = match listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // Out of descriptors, or the client already gone: the
                // edge stays armed for the next connection.
                Err(_) => return,
            };
            if self.driver.len() >= self.max_sessions || !self.admission.admit(peer.ip()) {
                self.stats.refused += 1;
                continue;
            }
            let _ = socket.set_nodelay(true);
            let Some(endpoint) = self.endpoint(kind) else {
                self.admission.release(peer.ip(), false);
                continue;
            };
            let tls = match (kind, &self.s2s) {
                (Listener::S2s, Some(s2s)) => s2s.server_tls(),
                _ => self.tls.clone(),
            };
            match self.driver.add_server(socket, endpoint, tls) {
                Ok(conn) => {
                    self.stats.accepted += 1;
                    self.addresses.insert(conn, (peer.ip(), false));
                    self.hub.set_address(SessionId(conn.as_u64()), peer.ip());
                    self.log(&SessionLog::Started {
                        session: SessionId(conn.as_u64()),
                        peer,
                        direct_tls: kind == Listener::DirectTls,
                    });
                }
                Err(_) => self.admission.release(peer.ip(), false),
            }
        }
    }

    /// A connection authenticated: it no longer counts against the
    /// unauthenticated caps.
    pub(super) fn authenticated(&mut self, conn: ConnId) {
        if let Some((ip, authenticated)) = self.addresses.get_mut(&conn) {
            if !std::mem::replace(authenticated, true) {
                self.admission.authenticated(*ip);
            }
        }
    }

    /// A connection ended: its address's counts go down.
    pub(super) fn forget_address(&mut self, conn: ConnId) {
        if let Some((ip, authenticated)) = self.addresses.remove(&conn) {
            self.admission.release(ip, authenticated);
        }
    }

    /// The sans-IO server for one new connection.
    fn endpoint(&self, kind: Listener) -> Option<ServerEndpoint> {
        // The router validated the domain already: this cannot fail.
        let mut config = ServerConfig::new(&self.domain).ok()?;
        if let Some(configure) = &self.configure {
            config = configure(config);
        }
        let mut config = kind.configure(config);
        if let (Listener::S2s, Some(s2s)) = (kind, &self.s2s) {
            config = s2s.receiving(config, self.hub.router().component_domains());
        }
        Some(Server::new(config, clock::now()).into())
    }

    pub(super) fn log(&mut self, entry: &SessionLog<'_>) {
        if let Some(log) = &mut self.log {
            log(entry);
        }
    }
}
