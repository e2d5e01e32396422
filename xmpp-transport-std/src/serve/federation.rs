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
use crate::resolve::{Connected, PeerFinder};
use crate::s2s_tls::S2sTls;

/// The configuration of our link from our domain `local` to `domain`,
/// reached through `connected`: the server's own settings first
/// (`configure`), direct TLS where the peer was found through
/// `_xmpps-server`, then the link mode. Shared by [`Serve`](super::Serve)
/// and the mio server, which set links up alike.
///
/// ```no_run
/// use xmpp_proto::s2s::Federation;
/// use xmpp_proto::Server;
/// use xmpp_transport_std::resolve::PeerFinder;
/// use xmpp_transport_std::serve::link_config;
///
/// let peers = PeerFinder::new(None);
/// let connected = peers.connect("example.net")?;
/// let federation = Federation::new("a long random secret");
/// let config = link_config("example.com", "example.net", &connected, &federation, |c| c)?;
/// let link = Server::new(config, xmpp_transport_std::clock::now());
/// # let _ = link;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
/// If `local` or `domain` is not a domain.
pub fn link_config(
    local: &str,
    domain: &str,
    connected: &Connected,
    federation: &Federation,
    configure: impl FnOnce(ServerConfig) -> ServerConfig,
) -> io::Result<ServerConfig> {
    let invalid =
        |e: xmpp_proto::jid::JidError| io::Error::new(io::ErrorKind::InvalidInput, e.to_string());
    let mut config = configure(ServerConfig::new(local).map_err(invalid)?);
    if connected.candidate.security == Security::DirectTls {
        config = config.with_tls(ServerTlsPolicy::Direct);
    }
    config
        .for_remote_domain(domain, federation.clone())
        .map_err(invalid)
}

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
        let config = link_config(local, domain, &connected, &s2s.federation, |c| match &self
            .configure
        {
            Some(configure) => configure(c),
            None => c,
        })?;
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
