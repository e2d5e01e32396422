//! Opening the TCP connection.

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};

/// The client-to-server port for STARTTLS (RFC 6120 §14.7).
pub const DEFAULT_PORT: u16 = 5222;

/// The usual port for direct TLS (XEP-0368); servers announce it by SRV,
/// 5223 is the common choice.
pub const DEFAULT_DIRECT_TLS_PORT: u16 = 5223;

/// Opens a TCP connection to an XMPP server: to `server` (`"host:port"`,
/// or `"host"` for port 5222) when given, else to `domain` on port 5222.
/// Every address the name resolves to is tried in turn.
///
/// DNS SRV lookups (RFC 6120 §3.2, XEP-0368) are not done: std has no SRV
/// resolver. Pass `server` when the domain's SRV records point elsewhere.
/// Nagle's algorithm is switched off, since XMPP sends many small stanzas
/// that should not wait.
///
/// ```no_run
/// let tcp = xmpp_transport_std::connect("example.com", None)?;
/// let tcp = xmpp_transport_std::connect("example.com", Some("xmpp.example.net:5223"))?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
/// If the name does not resolve ("cannot resolve ...") or no address
/// accepts the connection ("cannot connect to ...", with a hint when
/// nothing listens there); the message names the target.
pub fn connect(domain: &str, server: Option<&str>) -> io::Result<TcpStream> {
    let target = match server {
        Some(s) if has_port(s) => s.to_owned(),
        Some(host) => join(host, DEFAULT_PORT),
        None => join(domain, DEFAULT_PORT),
    };
    let addrs: Vec<SocketAddr> = target
        .to_socket_addrs()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot resolve {target}: {e}")))?
        .collect();
    let mut last = None;
    for addr in &addrs {
        match TcpStream::connect(addr) {
            Ok(tcp) => {
                tcp.set_nodelay(true)?;
                return Ok(tcp);
            }
            Err(e) => last = Some(e),
        }
    }
    let e = last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"));
    let hint = if e.kind() == io::ErrorKind::ConnectionRefused {
        " (nothing listens there: is the server running, on that port?)"
    } else {
        ""
    };
    Err(io::Error::new(
        e.kind(),
        format!("cannot connect to {target}: {e}{hint}"),
    ))
}

/// Whether `host:port` (or `[v6]:port`) carries a port.
fn has_port(s: &str) -> bool {
    match s.rsplit_once(':') {
        Some((host, port)) => {
            !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && (!host.contains(':') || host.ends_with(']'))
        }
        None => false,
    }
}

fn join(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_recognised() {
        assert!(has_port("localhost:5222"));
        assert!(has_port("[::1]:5222"));
        assert!(!has_port("localhost"));
        assert!(!has_port("::1"));
        assert!(!has_port("[::1]"));
        assert_eq!(join("::1", 5222), "[::1]:5222");
        assert_eq!(join("example.com", 5222), "example.com:5222");
    }
}
