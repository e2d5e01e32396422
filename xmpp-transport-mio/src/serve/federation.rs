//! Federation on the mio server: a listener for peers' streams, and our
//! links to peers. Finding and connecting to a peer blocks (DNS, the TCP
//! handshake), so it runs on a short-lived thread; the connected socket
//! comes back to the loop, which registers it with the driver like any
//! connection and tells the hub.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use xmpp_proto::resolve::Security;
use xmpp_proto::router::SessionId;
use xmpp_proto::s2s::Federation;
use xmpp_proto::server::{Server, ServerConfig};
use xmpp_transport_std::clock;
use xmpp_transport_std::resolve::{Connected, PeerFinder, Resolver};
use xmpp_transport_std::s2s_tls::S2sTls;
use xmpp_transport_std::serve::{DEFAULT_LINK_QUEUE, Listener, link_config};

use super::{MioServer, SessionLog};

/// A connection attempt's outcome, from its thread: the link's local
/// and remote domains, and the connection.
type Attempt = (String, String, io::Result<Connected>);

/// What the server needs to federate.
pub(super) struct S2s {
    federation: Federation,
    tls: S2sTls,
    peers: Arc<PeerFinder>,
    done: Receiver<Attempt>,
    send_done: Sender<Attempt>,
    /// Attempts still running (the loop polls briefly meanwhile).
    running: usize,
}

impl S2s {
    /// The TLS of streams peers open to us.
    pub(super) fn server_tls(&self) -> Arc<xmpp_transport_std::ServerTls> {
        Arc::new(self.tls.server().clone())
    }

    /// `config` for a peer's stream to us, which may address our
    /// `services` (rooms, components) besides the main domain.
    pub(super) fn receiving<'a>(
        &self,
        config: ServerConfig,
        services: impl Iterator<Item = &'a str>,
    ) -> ServerConfig {
        let federation = services.fold(self.federation.clone(), Federation::serving);
        config.for_federation(federation)
    }

    pub(super) fn is_connecting(&self) -> bool {
        self.running > 0
    }
}

impl MioServer {
    /// Federates (see `xmpp_transport_std::serve::Serve::with_federation`):
    /// stanzas for other domains go out on links opened on demand, found
    /// through DNS SRV (the system's resolver) unless
    /// [`MioServer::with_s2s_route`] names the address; peers connect to
    /// [`MioServer::listen_s2s`].
    pub fn with_federation(mut self, federation: Federation, tls: S2sTls) -> Self {
        let (send_done, done) = channel();
        self.hub = self.hub.with_federation(DEFAULT_LINK_QUEUE);
        self.s2s = Some(S2s {
            federation,
            tls,
            peers: Arc::new(PeerFinder::new(Resolver::system().ok())),
            done,
            send_done,
            running: 0,
        });
        self
    }

    /// Finds `domain`'s server at `addr` instead of through DNS. Needs
    /// [`MioServer::with_federation`] first.
    pub fn with_s2s_route(mut self, domain: &str, addr: SocketAddr) -> Self {
        if let Some(s2s) = &mut self.s2s {
            if let Some(peers) = Arc::get_mut(&mut s2s.peers) {
                peers.add_route(domain, addr);
            }
        }
        self
    }

    /// Finds peers through `resolver` instead of the system's.
    pub fn with_s2s_resolver(mut self, resolver: Resolver) -> Self {
        if let Some(s2s) = &mut self.s2s {
            if let Some(peers) = Arc::get_mut(&mut s2s.peers) {
                peers.set_resolver(resolver);
            }
        }
        self
    }

    /// Takes peers' server-to-server streams on `listener` (STARTTLS
    /// required). Returns its address.
    ///
    /// # Errors
    /// Without [`MioServer::with_federation`], or as for
    /// [`MioServer::listen`].
    pub fn listen_s2s(&mut self, listener: std::net::TcpListener) -> io::Result<SocketAddr> {
        if self.s2s.is_none() {
            return Err(io::Error::other("federation is off: with_federation first"));
        }
        self.add_listener(listener, Listener::S2s)
    }

    /// The hub wants a link from our `local` domain to `domain`: connect
    /// on a thread of its own.
    pub(super) fn connect_remote(&mut self, local: String, domain: String) {
        let Some(s2s) = &mut self.s2s else {
            self.hub.remote_unreachable(clock::now(), &local, &domain);
            return;
        };
        let peers = Arc::clone(&s2s.peers);
        let send = s2s.send_done.clone();
        let (from, to) = (local.clone(), domain.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("xmpp-s2s-{domain}"))
            .spawn(move || {
                let attempt = peers.connect(&to);
                let _ = send.send((from, to, attempt));
            });
        match spawned {
            Ok(_) => s2s.running += 1,
            Err(_) => self.hub.remote_unreachable(clock::now(), &local, &domain),
        }
    }

    /// Registers the links whose connection is made, and tells the hub
    /// of those that could not be.
    pub(super) fn take_links(&mut self) {
        loop {
            let Some(s2s) = &mut self.s2s else {
                return;
            };
            let Ok((local, domain, attempt)) = s2s.done.try_recv() else {
                break;
            };
            s2s.running = s2s.running.saturating_sub(1);
            if self.start_link(&local, &domain, attempt).is_err() {
                self.hub.remote_unreachable(clock::now(), &local, &domain);
            }
        }
        self.pump();
    }

    fn start_link(
        &mut self,
        local: &str,
        domain: &str,
        attempt: io::Result<Connected>,
    ) -> io::Result<()> {
        let connected = attempt?;
        let s2s = self.s2s.as_ref().ok_or_else(|| io::Error::other("off"))?;
        let config = link_config(local, domain, &connected, &s2s.federation, |c| match &self
            .configure
        {
            Some(configure) => configure(c),
            None => c,
        })?;
        let tls = s2s.tls.for_link(domain, s2s.federation.policy())?;
        connected.socket.set_nonblocking(true)?;
        connected.socket.set_nodelay(true)?;
        let socket = mio::net::TcpStream::from_std(connected.socket);
        let endpoint = Server::new(config, clock::now()).into();
        let conn = self.driver.add_client(socket, endpoint, Arc::new(tls))?;
        let session = SessionId(conn.as_u64());
        self.hub.remote_connecting(session, local, domain);
        self.log(&SessionLog::Started {
            session,
            peer: connected.addr,
            direct_tls: connected.candidate.security == Security::DirectTls,
        });
        Ok(())
    }
}
