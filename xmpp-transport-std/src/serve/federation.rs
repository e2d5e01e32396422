//! Federation for [`Serve`](super::Serve): our links to peers, each on a
//! thread of its own like an accepted session, found by a
//! [`PeerFinder`].

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread;

use xmpp_proto::resolve::Security;
use xmpp_proto::router::SessionId;
use xmpp_proto::s2s::Federation;
use xmpp_proto::server::{Server, ServerConfig, ServerTlsPolicy};

use super::pump::{HubCommand, pump};
use super::{Shared, lock, session};
use crate::clock;
use crate::connection::Connection;
use crate::resolve::PeerFinder;
use crate::s2s_tls::S2sTls;

/// What a federating server knows: its dialback secret and policy, its
/// TLS both ways, and how to find peers.
pub(super) struct S2s {
    pub(super) federation: Federation,
    pub(super) tls: S2sTls,
    pub(super) peers: PeerFinder,
}

impl Shared {
    /// The hub wants a link from our `local` domain to `domain`: connect
    /// on a thread of its own and run it as a session; tell the hub if it
    /// cannot be reached.
    pub(super) fn connect_remote(self: &Arc<Self>, local: String, domain: String) {
        let shared = Arc::clone(self);
        let (from, to) = (local.clone(), domain.clone());
        let spawned = thread::Builder::new()
            .name(format!("xmpp-s2s-{domain}"))
            .spawn(move || shared.run_link(from, to));
        match spawned {
            Ok(thread) => {
                let mut threads = lock(&self.threads);
                threads.retain(|t| !t.is_finished());
                threads.push(thread);
            }
            Err(_) => {
                // No thread, no link: what waits for it is bounced.
                lock(&self.hub).remote_unreachable(clock::now(), &local, &domain);
                pump(self, None);
            }
        }
    }

    fn run_link(self: Arc<Self>, local: String, domain: String) {
        match self.open_link(&local, &domain) {
            Ok((id, peer, conn)) => session::run(&self, id, peer, None, conn),
            Err(_) => {
                lock(&self.hub).remote_unreachable(clock::now(), &local, &domain);
                pump(&self, None);
            }
        }
    }

    /// Resolves and connects to `domain` and registers the link (from
    /// `local`) with the hub.
    fn open_link(
        self: &Arc<Self>,
        local: &str,
        domain: &str,
    ) -> io::Result<(
        SessionId,
        SocketAddr,
        Connection<super::ServerEndpoint, HubCommand>,
    )> {
        let s2s = self
            .s2s
            .as_ref()
            .ok_or_else(|| io::Error::other("federation is off"))?;
        if self.stopping.load(Ordering::SeqCst) {
            return Err(io::Error::other("shutting down"));
        }
        let connected = s2s.peers.connect(domain)?;
        connected.socket.set_nodelay(true)?;
        let mut config = ServerConfig::new(local)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        if let Some(configure) = &self.configure {
            config = configure(config);
        }
        if connected.candidate.security == Security::DirectTls {
            config = config.with_tls(ServerTlsPolicy::Direct);
        }
        let config = config
            .for_remote_domain(domain, s2s.federation.clone())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let endpoint = Server::new(config, clock::now()).into();
        let tls = s2s.tls.for_link(domain, s2s.federation.policy())?;
        let conn = Connection::new_client(connected.socket, endpoint, tls)?;
        let mut conn = conn
            .with_command_type::<HubCommand>()
            .map_err(|_| io::Error::other("the connection has commands queued"))?;
        let remote = conn.remote()?;
        let id = SessionId(self.next_id.fetch_add(1, Ordering::Relaxed));
        lock(&self.sessions).insert(id, remote);
        lock(&self.hub).remote_connecting(id, local, domain);
        Ok((id, connected.addr, conn))
    }
}
