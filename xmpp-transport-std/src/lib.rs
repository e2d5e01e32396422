//! A thin blocking transport for [`xmpp_proto`] over `std::net`, with
//! rustls for STARTTLS and direct TLS.
//!
//! One [`Connection`] drives one sans-IO endpoint (anything implementing
//! [`Endpoint`](xmpp_proto::endpoint::Endpoint): the client, or the server
//! role for an accepted socket) over one `TcpStream` on the calling
//! thread. It owns the clock ([`clock`]), writes what the endpoint
//! queues, runs the TLS handshake when the endpoint asks for it, sets the
//! socket's read timeout to the endpoint's next deadline so its timers
//! fire, and hands the endpoint's events to you.
//!
//! - [`connect`]: TCP to `host:port`, or the XMPP domain on port 5222. No
//!   DNS SRV lookups: std has no SRV resolver, so give the host when the
//!   domain's SRV records point elsewhere.
//! - [`tls`]: the client's trust anchors (the Mozilla roots, or a CA file)
//!   and [`ClientTls`]: certificates are always checked against the XMPP
//!   domain; there is no "accept anything" switch.
//! - [`ServerTls`]: the server's certificate chain and key from PEM files.
//! - [`serve`]: a small thread-per-connection server (accounts, routing,
//!   clean shutdown) built from the pieces above.
//! - `test_certs` (feature `test-certs`): a throw-away CA and server
//!   certificate for tests and demos.
//!
//! Connecting, logging in, sending a message and closing:
//!
//! ```no_run
//! use std::ops::ControlFlow;
//! use xmpp_proto::client::{Client, ClientConfig, ClientEvent};
//! use xmpp_proto::jid::Jid;
//! use xmpp_transport_std::{ClientTls, Connection, TrustAnchors, clock};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ClientConfig::new(Jid::new("alice@example.com")?, "secret");
//! let tls = ClientTls::new(&TrustAnchors::webpki_roots(), config.domain())?;
//! let tcp = xmpp_transport_std::connect(config.domain(), None)?;
//! let mut conn = Connection::new_client(tcp, Client::new(config, clock::now()), tls)?;
//!
//! conn.run(|_, event| match event {
//!     ClientEvent::Online { .. } => ControlFlow::Break(()),
//!     _ => ControlFlow::Continue(()),
//! })?;
//! conn.command(|client, now| client.send_message(now, "bob@example.com", "hello", false))??;
//! conn.command(|client, now| client.close(now))?;
//! while let Some(event) = conn.next_event()? {
//!     if let ClientEvent::Closed { reason } = event {
//!         println!("closed: {reason}");
//!     }
//! }
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

pub use xmpp_proto as proto;

/// The workspace README's examples are compiled and run as doctests here
/// (this crate sees both the core and the transport), so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

pub mod clock;
mod connect;
mod connection;
mod error;
mod keep_online;
mod kill_proxy;
mod reconnect;
mod remote;
pub mod resolve;
pub mod rooms;
pub mod s2s_tls;
pub mod serve;
mod server_tls;
mod session;
#[cfg(feature = "test-certs")]
pub mod test_certs;
pub mod tls;
pub mod tls_pump;
pub mod websocket;

pub use connect::{DEFAULT_DIRECT_TLS_PORT, DEFAULT_PORT, connect};
pub use connection::{Connection, DEFAULT_LINGER, DEFAULT_WRITE_TIMEOUT, Next};
pub use error::Error;
pub use keep_online::{KeepEvent, KeepOnline, MAX_WAITING, WaitingFull};
pub use kill_proxy::KillProxy;
pub use reconnect::Backoff;
pub use remote::{BoxedCommand, Command, DEFAULT_COMMAND_BUDGET, Gone, Remote, SendRefused};
pub use server_tls::ServerTls;
pub use session::{Abandoned, LoginOptions, Session, SessionError};
pub use tls::{ClientTls, TrustAnchors};
