//! The account store's work, off the event loop: looking up stored keys
//! may be a database query and checking a PLAIN password runs PBKDF2
//! (milliseconds each), which on the loop's thread would stall every
//! session. A few worker threads answer the hub's login questions; while
//! answers are due the loop polls with a short timeout to collect them
//! (a mio `Poll` has room for one `Waker`, and that one is the
//! application's).

use std::cell::Cell;
use std::io;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};

use xmpp_proto::hub::HubEvent;
use xmpp_transport_std::serve::{AccountStore, LoginAnswer};

/// How many login questions may wait for a worker; past it a login is
/// refused (the server is overloaded) rather than queued without end.
const QUEUE: usize = 1024;

/// Worker threads answering login questions.
pub(super) struct LoginPool {
    jobs: Option<SyncSender<HubEvent>>,
    answers: Receiver<LoginAnswer>,
    workers: Vec<JoinHandle<()>>,
    /// Questions handed out and not yet answered.
    in_flight: Cell<usize>,
}

impl LoginPool {
    /// Starts `workers` threads answering from `store`.
    pub(super) fn new(store: Arc<dyn AccountStore>, workers: usize) -> io::Result<Self> {
        let (jobs, queue) = mpsc::sync_channel::<HubEvent>(QUEUE);
        let queue = Arc::new(Mutex::new(queue));
        let (answer, answers) = mpsc::channel();
        let mut threads = Vec::new();
        for n in 0..workers.max(1) {
            let (store, queue, answer) = (Arc::clone(&store), Arc::clone(&queue), answer.clone());
            threads.push(
                thread::Builder::new()
                    .name(format!("xmpp-login-{n}"))
                    .spawn(move || work(&*store, &queue, &answer))?,
            );
        }
        Ok(LoginPool {
            jobs: Some(jobs),
            answers,
            workers: threads,
            in_flight: Cell::new(0),
        })
    }

    /// Hands a login question to a worker; gives it back if the queue is
    /// full.
    pub(super) fn submit(&self, question: HubEvent) -> Result<(), HubEvent> {
        let Some(jobs) = &self.jobs else {
            return Err(question);
        };
        jobs.try_send(question).map_err(|e| match e {
            TrySendError::Full(q) | TrySendError::Disconnected(q) => q,
        })?;
        self.in_flight.set(self.in_flight.get() + 1);
        Ok(())
    }

    /// Whether answers are still due.
    pub(super) fn waiting(&self) -> bool {
        self.in_flight.get() > 0
    }

    /// The answers ready now.
    pub(super) fn answers(&self) -> Vec<LoginAnswer> {
        let ready: Vec<LoginAnswer> = self.answers.try_iter().collect();
        self.in_flight
            .set(self.in_flight.get().saturating_sub(ready.len()));
        ready
    }
}

impl Drop for LoginPool {
    fn drop(&mut self) {
        // Closing the queue ends every worker once it is idle.
        self.jobs = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

/// One worker: answers questions until the queue closes.
fn work(store: &dyn AccountStore, queue: &Mutex<Receiver<HubEvent>>, answer: &Sender<LoginAnswer>) {
    loop {
        let question = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(question) = question else {
            return;
        };
        if let Ok(reply) = LoginAnswer::from_store(store, question) {
            if answer.send(reply).is_err() {
                return;
            }
        }
    }
}
