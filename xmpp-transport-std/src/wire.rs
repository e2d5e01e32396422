//! The byte level of a connection: the socket, and rustls on top of it
//! once the endpoint asked for TLS. Knows nothing about XMPP.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use xmpp_proto::tls::TlsInfo;

use crate::error::Error;
use crate::server_tls::ServerTls;
use crate::tls::{ClientTls, tls_info};

/// How big one plaintext read is.
const READ_CHUNK: usize = 16 * 1024;

/// Which side of the TLS handshake we play, with its settings.
pub(crate) enum Role {
    Client(ClientTls),
    Server(ServerTls),
    /// No TLS settings: asking for TLS is an error.
    Plain,
}

/// What a read produced, handed to the endpoint one at a time.
pub(crate) enum Input<'a> {
    Data(&'a [u8]),
    TlsEstablished(TlsInfo),
    Eof,
}

pub(crate) struct Wire {
    socket: TcpStream,
    role: Role,
    tls: Option<Tls>,
    buf: Box<[u8]>,
    /// Plaintext bytes in `buf` not yet handed out (plain mode only).
    buffered: usize,
    /// The handshake finished; not yet reported.
    established: bool,
    /// The peer closed (TCP FIN or TLS close_notify); not yet reported.
    eof_pending: bool,
    read_closed: bool,
    write_closed: bool,
    /// The endpoint asked to shut down during the handshake.
    shutdown_after_handshake: bool,
}

struct Tls {
    conn: rustls::Connection,
    handshaking: bool,
}

impl Wire {
    pub(crate) fn new(socket: TcpStream, role: Role) -> Self {
        Wire {
            socket,
            role,
            tls: None,
            buf: vec![0; READ_CHUNK].into_boxed_slice(),
            buffered: 0,
            established: false,
            eof_pending: false,
            read_closed: false,
            write_closed: false,
            shutdown_after_handshake: false,
        }
    }

    pub(crate) fn socket(&self) -> &TcpStream {
        &self.socket
    }

    pub(crate) fn into_socket(self) -> TcpStream {
        self.socket
    }

    /// Whether the TLS handshake has completed.
    pub(crate) fn is_encrypted(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| !t.handshaking)
    }

    /// Whether nothing more will be read (the peer closed, or we gave up).
    pub(crate) fn is_read_closed(&self) -> bool {
        self.read_closed
    }

    pub(crate) fn is_write_closed(&self) -> bool {
        self.write_closed
    }

    /// Stops reading: the peer is not closing in time, or we failed.
    pub(crate) fn stop_reading(&mut self) {
        self.read_closed = true;
        self.buffered = 0;
        self.eof_pending = false;
    }

    /// Writes what it can of `data` and returns how much was taken. Zero
    /// means "not now": TLS is still handshaking and its buffer is full.
    pub(crate) fn write(&mut self, data: &[u8]) -> Result<usize, Error> {
        if self.write_closed {
            // Nobody will read it; the endpoint still wants it consumed.
            return Ok(data.len());
        }
        match &mut self.tls {
            None => loop {
                match self.socket.write(data) {
                    Ok(0) if !data.is_empty() => {
                        return Err(io::Error::from(io::ErrorKind::WriteZero).into());
                    }
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(write_error(e)),
                }
            },
            Some(tls) => {
                // rustls buffers up to its limit (64 KiB by default), also
                // while the handshake is still running.
                let n = tls.conn.writer().write(data)?;
                self.flush_tls()?;
                Ok(n)
            }
        }
    }

    /// Starts the TLS handshake: from now on every byte read goes to
    /// rustls, never to the endpoint as plaintext.
    pub(crate) fn start_tls(&mut self) -> Result<(), Error> {
        if self.tls.is_some() {
            return Err(Error::Endpoint("asked for TLS on a connection that has it"));
        }
        let conn = match &self.role {
            Role::Client(c) => rustls::Connection::Client(c.connect()?),
            Role::Server(s) => rustls::Connection::Server(s.accept()?),
            Role::Plain => {
                return Err(Error::Endpoint(
                    "asked for TLS on a connection made without TLS settings",
                ));
            }
        };
        self.tls = Some(Tls {
            conn,
            handshaking: true,
        });
        self.flush_tls()
    }

    /// Sends TLS `close_notify` (if TLS is on) and shuts the socket down
    /// for writing. Best effort: the peer may be gone already.
    ///
    /// During the handshake this waits for its end: the bytes queued
    /// before the shutdown can only go out encrypted.
    pub(crate) fn shutdown(&mut self) {
        if self.write_closed {
            return;
        }
        if self.tls.as_ref().is_some_and(|t| t.handshaking) {
            self.shutdown_after_handshake = true;
            return;
        }
        if let Some(tls) = &mut self.tls {
            tls.conn.send_close_notify();
            let _ = self.flush_tls();
        }
        let _ = self.socket.shutdown(Shutdown::Write);
        self.write_closed = true;
    }

    /// Drops the connection at once, both ways.
    pub(crate) fn abort(&mut self) {
        let _ = self.socket.shutdown(Shutdown::Both);
        self.write_closed = true;
        self.stop_reading();
    }

    /// One read from the socket, waiting up to `timeout` (forever if
    /// `None`). What it produced is then taken with [`Wire::next_input`].
    pub(crate) fn receive(&mut self, timeout: Option<Duration>) -> Result<(), Error> {
        if self.read_closed {
            return Ok(());
        }
        // A zero timeout means "block forever" to std; never ask for it.
        let timeout = timeout.map(|t| t.max(Duration::from_millis(1)));
        self.socket.set_read_timeout(timeout)?;
        self.receive_from(None)
    }

    /// Takes bytes another thread read from the socket, as many as fit;
    /// call again (after [`Wire::next_input`]) until `data` is empty.
    pub(crate) fn receive_bytes(&mut self, data: &mut &[u8]) -> Result<(), Error> {
        if self.read_closed || data.is_empty() {
            return Ok(());
        }
        self.receive_from(Some(data))
    }

    /// The socket was closed by the peer (seen by another thread).
    pub(crate) fn tcp_closed(&mut self) {
        if !self.read_closed {
            self.peer_closed();
        }
    }

    /// Reads once from `bytes`, or from the socket if `None`.
    fn receive_from(&mut self, bytes: Option<&mut &[u8]>) -> Result<(), Error> {
        let source: &mut dyn Read = match bytes {
            Some(bytes) => bytes,
            None => &mut self.socket,
        };
        let Some(tls) = &mut self.tls else {
            match source.read(&mut self.buf) {
                Ok(0) => self.peer_closed(),
                Ok(n) => self.buffered = n,
                Err(e) if is_retry(&e) => {}
                Err(e) => return Err(e.into()),
            }
            return Ok(());
        };
        let tcp_eof = match tls.conn.read_tls(source) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) if is_retry(&e) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let state = match tls.conn.process_new_packets() {
            Ok(state) => state,
            Err(e) => {
                // Tell the peer why (an alert) before giving up.
                let _ = tls.conn.write_tls(&mut self.socket);
                return Err(Error::Tls(e));
            }
        };
        if tls.handshaking && !tls.conn.is_handshaking() {
            tls.handshaking = false;
            self.established = true;
        }
        // TCP closed without close_notify is reported as a close too:
        // XMPP ends streams in XML, so a truncation cannot go unnoticed.
        if state.peer_has_closed() || tcp_eof {
            self.peer_closed();
        }
        // Handshake replies, session tickets, key updates.
        self.flush_tls()?;
        if self.shutdown_after_handshake && self.is_encrypted() {
            self.shutdown();
        }
        Ok(())
    }

    /// The next thing the last [`Wire::receive`] produced, in order: the
    /// end of the handshake, plaintext, the peer's close.
    pub(crate) fn next_input(&mut self) -> Option<Input<'_>> {
        if self.established {
            self.established = false;
            return self
                .tls
                .as_ref()
                .map(|t| Input::TlsEstablished(self.info(t)));
        }
        if self.buffered > 0 {
            let n = std::mem::take(&mut self.buffered);
            return self.buf.get(..n).map(Input::Data);
        }
        if let Some(tls) = &mut self.tls {
            match tls.conn.reader().read(&mut self.buf) {
                Ok(n) if n > 0 => return self.buf.get(..n).map(Input::Data),
                _ => {}
            }
        }
        if self.eof_pending {
            self.eof_pending = false;
            return Some(Input::Eof);
        }
        None
    }

    fn info(&self, tls: &Tls) -> TlsInfo {
        match (&tls.conn, &self.role) {
            (rustls::Connection::Server(conn), Role::Server(settings)) => {
                tls_info(conn, Some(settings.leaf()))
            }
            (rustls::Connection::Server(conn), _) => tls_info(conn, None),
            (rustls::Connection::Client(conn), _) => tls_info(conn, None),
        }
    }

    fn peer_closed(&mut self) {
        self.read_closed = true;
        self.eof_pending = true;
    }

    fn flush_tls(&mut self) -> Result<(), Error> {
        let Some(tls) = &mut self.tls else {
            return Ok(());
        };
        if self.write_closed {
            return Ok(());
        }
        while tls.conn.wants_write() {
            match tls.conn.write_tls(&mut self.socket) {
                Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero).into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(write_error(e)),
            }
        }
        Ok(())
    }
}

/// A read that timed out or was interrupted: nothing happened.
fn is_retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// A write timeout means the peer stopped reading; say so.
fn write_error(e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Io(io::Error::new(
            io::ErrorKind::TimedOut,
            "the peer stopped reading (write timeout)",
        )),
        _ => Error::Io(e),
    }
}
