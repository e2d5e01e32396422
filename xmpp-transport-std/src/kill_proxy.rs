//! A loopback TCP proxy whose connections can all be cut at once: for
//! testing what survives a broken connection (stream management,
//! [`KeepOnline`](crate::KeepOnline)) against any server.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

/// The proxy. Connections to [`KillProxy::addr`] are relayed to the
/// upstream address until [`KillProxy::kill`] cuts them (both ends see a
/// reset-like close, as when a mobile link drops).
///
/// ```
/// use std::io::{Read, Write};
/// use std::net::{TcpListener, TcpStream};
/// use xmpp_transport_std::KillProxy;
///
/// let upstream = TcpListener::bind("127.0.0.1:0")?;
/// let proxy = KillProxy::start(upstream.local_addr()?)?;
/// let mut client = TcpStream::connect(proxy.addr())?;
/// let (mut server, _) = upstream.accept()?;
/// client.write_all(b"ping")?;
/// let mut got = [0u8; 4];
/// server.read_exact(&mut got)?;
/// assert_eq!(&got, b"ping");
/// assert!(proxy.kill());
/// assert_eq!(server.read(&mut got)?, 0, "cut");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct KillProxy {
    addr: SocketAddr,
    live: Arc<Mutex<Vec<TcpStream>>>,
}

impl KillProxy {
    /// Listens on a free loopback port and relays to `upstream`.
    ///
    /// # Errors
    /// If no loopback port can be bound.
    pub fn start(upstream: SocketAddr) -> io::Result<KillProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let live: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let kept = Arc::clone(&live);
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(upstream) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let _ = (client.set_nodelay(true), server.set_nodelay(true));
                let clones = (
                    client.try_clone(),
                    server.try_clone(),
                    client.try_clone(),
                    server.try_clone(),
                );
                let (Ok(c2), Ok(s2), Ok(c3), Ok(s3)) = clones else {
                    continue;
                };
                kept.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend([c3, s3]);
                relay(client, server);
                relay(s2, c2);
            }
        });
        Ok(KillProxy { addr, live })
    }

    /// Where to connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Cuts every connection through the proxy; returns whether there
    /// was one.
    pub fn kill(&self) -> bool {
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        let any = !live.is_empty();
        for s in live.drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
        any
    }
}

fn relay(mut from: TcpStream, mut to: TcpStream) {
    thread::spawn(move || {
        let mut buf = [0u8; 16384];
        while let Ok(n @ 1..) = from.read(&mut buf) {
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = from.shutdown(Shutdown::Both);
        let _ = to.shutdown(Shutdown::Both);
    });
}
