//! Reaching a connection's endpoint from other threads: a reader thread
//! takes over the socket reads, so the connection's thread can wait for
//! socket bytes and commands at once.

use std::fmt;
use std::io::{self, Read};
use std::marker::PhantomData;
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread;
use std::time::Duration;

use xmpp_proto::time::Time;

/// How many read buffers are in flight between the reader thread and the
/// connection: the bound on what a fast peer can make us hold (4 × 16
/// KiB).
const BUFFERS: usize = 4;
const BUFFER_SIZE: usize = 16 * 1024;

/// How many messages (read buffers and commands) wait for a connection's
/// thread at most.
const CHANNEL: usize = 256;

/// How many bytes the commands waiting for one connection may carry
/// unless [`Connection::remote_with_budget`](crate::Connection::remote_with_budget)
/// says otherwise: 256 KiB, the core's own output bound.
pub const DEFAULT_COMMAND_BUDGET: usize = 256 * 1024;

/// Something another thread asks a connection's endpoint to do.
///
/// Any `FnOnce(&mut E, Time) + Send` closure is one. A typed command (the
/// `serve` helper's) can say how many bytes it carries, and should hand
/// back what it carries in its `Drop` if it never ran (the connection
/// ended with it still queued), so that nothing it carries is lost.
pub trait Command<E>: Send + 'static {
    /// Runs on the connection's thread with the current time.
    fn run(self, endpoint: &mut E, now: Time);

    /// The bytes it carries, counted against the connection's command
    /// budget (closures: none).
    fn weight(&self) -> usize {
        0
    }
}

impl<E, F: FnOnce(&mut E, Time) + Send + 'static> Command<E> for F {
    fn run(self, endpoint: &mut E, now: Time) {
        self(endpoint, now)
    }
}

/// The command type of [`Connection::remote`](crate::Connection::remote):
/// a closure.
pub type BoxedCommand<E> = Box<dyn FnOnce(&mut E, Time) + Send>;

/// What reaches the connection's thread.
pub(crate) enum Msg<C> {
    Bytes(Vec<u8>),
    Eof,
    Failed(io::Error),
    Command(C, usize),
}

/// A handle to give a [`Connection`](crate::Connection)'s endpoint
/// commands from any thread; see
/// [`Connection::remote`](crate::Connection::remote). Cheap to clone.
///
/// A command runs on the connection's thread, inside its `next_event`,
/// with the current time; what it queues is written at once. Commands
/// are bounded: at most 256 messages wait, and typed commands at most
/// their byte budget.
pub struct Remote<E, C = BoxedCommand<E>> {
    tx: SyncSender<Msg<C>>,
    pending: Arc<AtomicUsize>,
    budget: usize,
    endpoint: PhantomData<fn(&mut E)>,
}

/// Why [`Remote::try_send`] did not queue a command; it is handed back.
#[derive(Debug)]
pub enum SendRefused<C> {
    /// The connection is gone.
    Gone(C),
    /// Too many commands, or too many bytes in them, wait already.
    Full(C),
}

impl<C> SendRefused<C> {
    /// The command that was not queued.
    pub fn into_inner(self) -> C {
        match self {
            SendRefused::Gone(c) | SendRefused::Full(c) => c,
        }
    }
}

impl<E> Remote<E, BoxedCommand<E>> {
    /// Runs `f` on the endpoint, on the connection's thread, as soon as
    /// it is free. Waits while the connection's queue is full.
    ///
    /// # Errors
    /// [`Gone`] if the connection has been dropped.
    pub fn command(&self, f: impl FnOnce(&mut E, Time) + Send + 'static) -> Result<(), Gone> {
        self.tx.send(Msg::Command(Box::new(f), 0)).map_err(|_| Gone)
    }
}

impl<E, C: Command<E>> Remote<E, C> {
    /// Queues a command without waiting.
    ///
    /// # Errors
    /// The command, back, if the connection is gone or its queue is full
    /// (in messages or in bytes).
    pub fn try_send(&self, command: C) -> Result<(), SendRefused<C>> {
        let weight = command.weight();
        let before = self.pending.fetch_add(weight, Ordering::SeqCst);
        if weight > 0 && before.saturating_add(weight) > self.budget {
            self.pending.fetch_sub(weight, Ordering::SeqCst);
            return Err(SendRefused::Full(command));
        }
        let Err(e) = self.tx.try_send(Msg::Command(command, weight)) else {
            return Ok(());
        };
        self.pending.fetch_sub(weight, Ordering::SeqCst);
        let (msg, gone) = match e {
            TrySendError::Full(msg) => (msg, false),
            TrySendError::Disconnected(msg) => (msg, true),
        };
        match (msg, gone) {
            (Msg::Command(c, _), true) => Err(SendRefused::Gone(c)),
            (Msg::Command(c, _), false) => Err(SendRefused::Full(c)),
            // Only a command was sent, so only a command comes back.
            _ => Ok(()),
        }
    }

    /// The bytes carried by commands waiting for the connection.
    pub fn pending_bytes(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }
}

impl<E, C> Clone for Remote<E, C> {
    fn clone(&self) -> Self {
        Remote {
            tx: self.tx.clone(),
            pending: Arc::clone(&self.pending),
            budget: self.budget,
            endpoint: PhantomData,
        }
    }
}

impl<E, C> fmt::Debug for Remote<E, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote")
            .field("pending_bytes", &self.pending.load(Ordering::SeqCst))
            .finish_non_exhaustive()
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
pub(crate) struct Inbox<C> {
    rx: Receiver<Msg<C>>,
    tx: SyncSender<Msg<C>>,
    free: mpsc::Sender<Vec<u8>>,
    socket: TcpStream,
    pending: Arc<AtomicUsize>,
    budget: usize,
}

impl<C: Send + 'static> Inbox<C> {
    /// Starts the reader thread on a clone of `socket`.
    pub(crate) fn start(socket: &TcpStream, budget: usize) -> io::Result<Self> {
        let reader = socket.try_clone()?;
        // The reader blocks until bytes come; timers are the connection's.
        reader.set_read_timeout(None)?;
        let (tx, rx) = mpsc::sync_channel(CHANNEL);
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
            pending: Arc::new(AtomicUsize::new(0)),
            budget,
        })
    }

    pub(crate) fn remote<E>(&self) -> Remote<E, C> {
        Remote {
            tx: self.tx.clone(),
            pending: Arc::clone(&self.pending),
            budget: self.budget,
            endpoint: PhantomData,
        }
    }

    /// The next message, waiting up to `timeout` (forever if `None`).
    pub(crate) fn recv(&self, timeout: Option<Duration>) -> Option<Msg<C>> {
        let msg = match timeout {
            // Disconnection cannot happen: we hold a sender ourselves.
            Some(t) => self.rx.recv_timeout(t).ok(),
            None => self.rx.recv().ok(),
        };
        if let Some(Msg::Command(_, weight)) = &msg {
            self.pending.fetch_sub(*weight, Ordering::SeqCst);
        }
        msg
    }

    /// Hands a read buffer back to the reader thread.
    pub(crate) fn recycle(&self, buf: Vec<u8>) {
        let _ = self.free.send(buf);
    }
}

impl<C> Drop for Inbox<C> {
    fn drop(&mut self) {
        // Wakes the reader thread out of its read, so it ends.
        let _ = self.socket.shutdown(Shutdown::Both);
        // Commands still queued are dropped here, on the connection's
        // thread, before the channel closes: a typed command gives what it
        // carries back in its own `Drop`.
        while self.rx.try_recv().is_ok() {}
    }
}

fn read_loop<C>(mut socket: TcpStream, to_conn: &SyncSender<Msg<C>>, free: &Receiver<Vec<u8>>) {
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
