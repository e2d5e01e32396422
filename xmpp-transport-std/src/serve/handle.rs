//! The handle of a running server: its addresses, a look at the hub, and
//! a clean stop.

use std::fmt;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;

use xmpp_proto::hub::Hub;
use xmpp_proto::router::Router;

use super::accept::reachable;
use super::pump::pump;
use super::{Shared, lock};
use crate::clock;

/// A running server; [`ServeHandle::shutdown`] (or dropping it) stops it.
pub struct ServeHandle {
    pub(super) addr: SocketAddr,
    pub(super) direct_addr: Option<SocketAddr>,
    pub(super) component_addr: Option<SocketAddr>,
    pub(super) component_tls_addr: Option<SocketAddr>,
    pub(super) websocket_addr: Option<SocketAddr>,
    pub(super) websocket_tls_addr: Option<SocketAddr>,
    pub(super) s2s_addr: Option<SocketAddr>,
    pub(super) shared: Arc<Shared>,
    pub(super) acceptors: Vec<JoinHandle<()>>,
    pub(super) reaper: Option<JoinHandle<()>>,
}

impl ServeHandle {
    /// Where the STARTTLS listener listens (with its real port when it was
    /// bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where the direct TLS listener listens, if there is one.
    pub fn direct_tls_addr(&self) -> Option<SocketAddr> {
        self.direct_addr
    }

    /// Where the component listener listens, if there is one.
    pub fn component_addr(&self) -> Option<SocketAddr> {
        self.component_addr
    }

    /// Where the component listener with TLS listens, if there is one.
    pub fn component_tls_addr(&self) -> Option<SocketAddr> {
        self.component_tls_addr
    }

    /// Where the plain WebSocket (`ws://`) listener listens, if there is
    /// one.
    pub fn websocket_addr(&self) -> Option<SocketAddr> {
        self.websocket_addr
    }

    /// Where the WebSocket listener with TLS (`wss://`) listens, if there
    /// is one.
    pub fn websocket_tls_addr(&self) -> Option<SocketAddr> {
        self.websocket_tls_addr
    }

    /// Where the server-to-server listener listens, if there is one.
    pub fn s2s_addr(&self) -> Option<SocketAddr> {
        self.s2s_addr
    }

    /// The XMPP domain served.
    pub fn domain(&self) -> &str {
        &self.shared.domain
    }

    /// Looks at the hub all sessions share (who is bound, detached
    /// sessions, counters); every event of every session waits while `f`
    /// runs, so keep it short.
    pub fn with_hub<R>(&self, f: impl FnOnce(&Hub) -> R) -> R {
        f(&lock(&self.shared.hub))
    }

    /// Looks at the router: who is bound where.
    pub fn with_router<R>(&self, f: impl FnOnce(&Router) -> R) -> R {
        f(lock(&self.shared.hub).router())
    }

    /// How many sessions are open (accepted and not yet ended).
    pub fn session_count(&self) -> usize {
        lock(&self.shared.sessions).len()
    }

    /// Stops the server: no new connections, every open session is
    /// closed with a `system-shutdown` stream error, and this returns
    /// once every thread has ended (each waits at most the connection's
    /// linger time for its client to close).
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if self.shared.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        // An accept() only returns for a connection: make one.
        for addr in [
            Some(self.addr),
            self.direct_addr,
            self.component_addr,
            self.component_tls_addr,
            self.websocket_addr,
            self.websocket_tls_addr,
            self.s2s_addr,
        ]
        .into_iter()
        .flatten()
        {
            let _ = TcpStream::connect(reachable(addr));
        }
        for acceptor in self.acceptors.drain(..) {
            let _ = acceptor.join();
        }
        lock(&self.shared.hub).shutdown();
        pump(&self.shared, None);
        let threads = std::mem::take(&mut *lock(&self.shared.threads));
        for thread in threads {
            let _ = thread.join();
        }
        self.shared.reaper.wake();
        if let Some(reaper) = self.reaper.take() {
            let _ = reaper.join();
        }
        // Nobody can resume now: what waited for detached sessions is
        // rerouted, stored or bounced like on expiry.
        let end_of_time = clock::now() + Duration::from_secs(u64::from(u32::MAX));
        lock(&self.shared.hub).handle_timeout(end_of_time);
        pump(&self.shared, None);
    }

    /// How many stream-managed sessions wait to be resumed.
    pub fn detached_count(&self) -> usize {
        lock(&self.shared.hub).detached().len()
    }
}

impl Drop for ServeHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

impl fmt::Debug for ServeHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeHandle")
            .field("addr", &self.addr)
            .field("direct_addr", &self.direct_addr)
            .field("domain", &self.shared.domain)
            .finish_non_exhaustive()
    }
}
