//! Reaching a connection's endpoint from other threads: a reader thread
//! takes over the socket reads, so the connection's thread can wait for
//! socket bytes and commands at once.

use std::fmt;
use std::io::{self, Read};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::Duration;

use xmpp_proto::time::Time;

/// How many read buffers are in flight between the reader thread and the
/// connection: the bound on what a fast peer can make us hold (4 × 16
/// KiB).
const BUFFERS: usize = 4;
const BUFFER_SIZE: usize = 16 * 1024;

/// A command for an endpoint, run on the connection's thread.
type Command<E> = Box<dyn FnOnce(&mut E, Time) + Send>;

/// What reaches the connection's thread.
pub(crate) enum Msg<E> {
    Bytes(Vec<u8>),
    Eof,
    Failed(io::Error),
    Command(Command<E>),
}

/// A handle to give a [`Connection`](crate::Connection)'s endpoint
/// commands from any thread; see
/// [`Connection::remote`](crate::Connection::remote). Cheap to clone.
///
/// A command runs on the connection's thread, inside its
/// `next_event`, with the current time; what it queues is written at
/// once. Commands are not bounded in number: the endpoint's own output
/// limits (for the client, `SendError::OutputFull`) are the back-pressure.
pub struct Remote<E> {
    tx: Sender<Msg<E>>,
}

impl<E> Remote<E> {
    /// Runs `f` on the endpoint, on the connection's thread, as soon as
    /// it is free.
    ///
    /// # Errors
    /// [`Gone`] if the connection has been dropped.
    pub fn command(&self, f: impl FnOnce(&mut E, Time) + Send + 'static) -> Result<(), Gone> {
        self.tx.send(Msg::Command(Box::new(f))).map_err(|_| Gone)
    }
}

impl<E> Clone for Remote<E> {
    fn clone(&self) -> Self {
        Remote {
            tx: self.tx.clone(),
        }
    }
}

impl<E> fmt::Debug for Remote<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote").finish_non_exhaustive()
    }
}

/// The connection a [`Remote`] points to has been dropped; the command
/// did not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gone;

impl fmt::Display for Gone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the connection is gone; the command did not run")
    }
}

impl std::error::Error for Gone {}

/// The connection's side: the channel and the reader thread's socket.
pub(crate) struct Inbox<E> {
    rx: Receiver<Msg<E>>,
    tx: Sender<Msg<E>>,
    free: Sender<Vec<u8>>,
    socket: TcpStream,
}

impl<E> Inbox<E> {
    /// Starts the reader thread on a clone of `socket`.
    pub(crate) fn start(socket: &TcpStream) -> io::Result<Self>
    where
        E: 'static,
    {
        let reader = socket.try_clone()?;
        // The reader blocks until bytes come; timers are the connection's.
        reader.set_read_timeout(None)?;
        let (tx, rx) = mpsc::channel();
        let (free, free_rx) = mpsc::channel();
        for _ in 0..BUFFERS {
            let _ = free.send(Vec::with_capacity(BUFFER_SIZE));
        }
        let to_conn = tx.clone();
        thread::Builder::new()
            .name("xmpp-reader".into())
            .spawn(move || read_loop(reader, &to_conn, &free_rx))?;
        Ok(Inbox {
            rx,
            tx,
            free,
            socket: socket.try_clone()?,
        })
    }

    pub(crate) fn remote(&self) -> Remote<E> {
        Remote {
            tx: self.tx.clone(),
        }
    }

    /// The next message, waiting up to `timeout` (forever if `None`).
    pub(crate) fn recv(&self, timeout: Option<Duration>) -> Option<Msg<E>> {
        match timeout {
            // Disconnection cannot happen: we hold a sender ourselves.
            Some(t) => self.rx.recv_timeout(t).ok(),
            None => self.rx.recv().ok(),
        }
    }

    /// Hands a read buffer back to the reader thread.
    pub(crate) fn recycle(&self, buf: Vec<u8>) {
        let _ = self.free.send(buf);
    }
}

impl<E> Drop for Inbox<E> {
    fn drop(&mut self) {
        // Wakes the reader thread out of its read, so it ends.
        let _ = self.socket.shutdown(Shutdown::Both);
    }
}

fn read_loop<E>(mut socket: TcpStream, to_conn: &Sender<Msg<E>>, free: &Receiver<Vec<u8>>) {
    // Waiting for a free buffer is the back-pressure on the peer.
    while let Ok(mut buf) = free.recv() {
        buf.resize(BUFFER_SIZE, 0);
        let msg = loop {
            match socket.read(&mut buf) {
                Ok(0) => break Msg::Eof,
                Ok(n) => {
                    buf.truncate(n);
                    break Msg::Bytes(buf);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Msg::Failed(e),
            }
        };
        let last = !matches!(msg, Msg::Bytes(_));
        if to_conn.send(msg).is_err() || last {
            return;
        }
    }
}
