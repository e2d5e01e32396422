//! A group chat service as an external component: the core's
//! [`RoomService`] behind a [`Component`] connection, so that the rooms
//! our own server runs can be attached to any server (Prosody, ejabberd)
//! through its component port.

use std::ops::ControlFlow;
use std::time::SystemTime;

use xmpp_proto::CloseReason;
use xmpp_proto::component::{Component, ComponentEvent};
use xmpp_proto::muc::service::RoomService;
use xmpp_proto::stanza::Stanza;

use crate::clock;
use crate::connection::Connection;
use crate::error::Error;

/// Serves `service`'s rooms on `conn` (a component connection for the
/// service's domain) until the connection ends; returns why it ended.
/// Stanzas the server sends the component go to the service, and what
/// the service sends goes back through the component, stamped from the
/// room addresses. History carries the system's time of day.
///
/// ```no_run
/// use std::net::TcpStream;
/// use xmpp_proto::component::{Component, ComponentConfig, ComponentTls};
/// use xmpp_proto::muc::service::RoomService;
/// use xmpp_transport_std::{Connection, clock, rooms};
///
/// let config = ComponentConfig::new("rooms.example.com", "secret")?
///     .with_tls(ComponentTls::Plaintext);
/// let tcp = TcpStream::connect("127.0.0.1:5347")?;
/// let mut conn = Connection::new_plain(tcp, Component::new(config, clock::now()))?;
/// let mut service = RoomService::new("rooms.example.com", [0; 16])?;
/// let why = rooms::serve_rooms(&mut conn, &mut service)?;
/// println!("the server closed the component: {why}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// The transport's (socket, TLS).
pub fn serve_rooms(
    conn: &mut Connection<Component>,
    service: &mut RoomService,
) -> Result<CloseReason, Error> {
    let mut sent = Vec::new();
    let mut ended = None;
    conn.run(|component, event| {
        let stanza = match event {
            ComponentEvent::Message(m) => Stanza::Message(m),
            ComponentEvent::Presence(p) => Stanza::Presence(p),
            ComponentEvent::IqRequest(iq) | ComponentEvent::IqResponse { response: iq, .. } => {
                Stanza::Iq(iq)
            }
            ComponentEvent::Closed { reason } => {
                ended = Some(reason);
                return ControlFlow::Break(());
            }
            _ => return ControlFlow::Continue(()),
        };
        let stamp = clock::utc_stamp(SystemTime::now());
        service.handle(&stanza, &stamp, &mut sent);
        let now = clock::now();
        for el in sent.drain(..) {
            // A stanza the component refuses (its connection is full or
            // closing) is dropped: room traffic is not stored.
            let _ = component.send(now, el);
        }
        ControlFlow::Continue(())
    })?;
    Ok(ended.unwrap_or(CloseReason::Normal))
}
