//! A scripted test double for `Endpoint`: a line-based toy protocol whose
//! every step the test decides (send a line, start TLS, shut down, set a
//! timer), so the transport is tested without the XMPP state machines.

#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;

use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use xmpp_proto::endpoint::{CloseReason, Closed};
use xmpp_proto::time::Time;
use xmpp_transport_std::clock;

use xmpp_proto::endpoint::{Endpoint, Transmit};
use xmpp_proto::tls::TlsInfo;
use xmpp_transport_std::{Connection, Error, Next};

/// What the double reports.
#[derive(Clone, Debug, PartialEq)]
pub enum Ev {
    /// A complete line (without the newline).
    Line(String),
    /// TLS is up.
    Tls(TlsInfo),
    /// The timer fired.
    Timeout,
    /// The peer closed.
    Eof,
}

enum Out {
    Data(Vec<u8>),
    StartTls,
    Shutdown,
}

/// The double. Answers the peer's close with its own, like XMPP does.
#[derive(Default)]
pub struct Peer {
    out: VecDeque<Out>,
    sent: usize,
    events: VecDeque<Ev>,
    partial: Vec<u8>,
    timer: Option<Time>,
    shutdown_queued: bool,
    shut_down: bool,
    input_after_close: bool,
}

impl Peer {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn send_line(&mut self, line: &str) {
        self.out
            .push_back(Out::Data(format!("{line}\n").into_bytes()));
    }

    pub fn send_bytes(&mut self, data: Vec<u8>) {
        self.out.push_back(Out::Data(data));
    }

    pub fn start_tls(&mut self) {
        self.out.push_back(Out::StartTls);
    }

    pub fn shutdown(&mut self) {
        if !self.shutdown_queued {
            self.shutdown_queued = true;
            self.out.push_back(Out::Shutdown);
        }
    }

    pub fn set_timer(&mut self, at: Instant) {
        self.timer = Some(clock::time(at));
    }

    /// Whether input arrived after the double had shut down (the
    /// transport should drop it).
    pub fn got_input_after_close(&self) -> bool {
        self.input_after_close
    }
}

impl Endpoint for Peer {
    type Event = Ev;

    fn handle_input(&mut self, _now: Time, data: &[u8]) -> Result<(), Closed> {
        if self.shut_down {
            self.input_after_close = true;
            return Err(Closed::new(CloseReason::Normal));
        }
        self.partial.extend_from_slice(data);
        while let Some(pos) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=pos).collect();
            let text = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
            self.events.push_back(Ev::Line(text));
        }
        Ok(())
    }

    fn handle_eof(&mut self, _now: Time) {
        self.events.push_back(Ev::Eof);
        self.shutdown();
    }

    fn handle_timeout(&mut self, now: Time) {
        if self.timer.is_some_and(|t| t <= now) {
            self.timer = None;
            self.events.push_back(Ev::Timeout);
        }
    }

    fn handle_tls_established(&mut self, _now: Time, tls: TlsInfo) -> Result<(), Closed> {
        self.events.push_back(Ev::Tls(tls));
        Ok(())
    }

    fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        match self.out.front()? {
            Out::Data(_) => {}
            Out::StartTls => {
                self.out.pop_front();
                return Some(Transmit::StartTls);
            }
            Out::Shutdown => {
                self.out.pop_front();
                self.shut_down = true;
                self.timer = None;
                return Some(Transmit::Shutdown);
            }
        }
        match self.out.front() {
            Some(Out::Data(d)) => Some(Transmit::Data(&d[self.sent..])),
            _ => None,
        }
    }

    fn peek_transmit(&self) -> Option<Transmit<'_>> {
        match self.out.front()? {
            Out::Data(d) => Some(Transmit::Data(&d[self.sent..])),
            Out::StartTls => Some(Transmit::StartTls),
            Out::Shutdown => Some(Transmit::Shutdown),
        }
    }

    fn consume_transmit(&mut self, n: usize) {
        self.sent += n;
        if let Some(Out::Data(d)) = self.out.front() {
            if self.sent >= d.len() {
                self.sent = 0;
                self.out.pop_front();
            }
        }
    }

    fn poll_event(&mut self) -> Option<Ev> {
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Time> {
        self.timer
    }

    fn is_closed(&self) -> bool {
        self.shut_down && self.events.is_empty()
    }
}

/// What one side saw: its events in order, and the transport error, if
/// any.
#[derive(Debug)]
pub struct Outcome {
    pub events: Vec<Ev>,
    pub error: Option<Error>,
}

impl Outcome {
    pub fn lines(&self) -> Vec<&str> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Ev::Line(l) => Some(l.as_str()),
                _ => None,
            })
            .collect()
    }

    pub fn tls(&self) -> Option<&TlsInfo> {
        self.events.iter().find_map(|e| match e {
            Ev::Tls(info) => Some(info),
            _ => None,
        })
    }
}

/// Drives `conn` to its end, letting `script` react to every event.
pub fn drive(conn: &mut Connection<Peer>, mut script: impl FnMut(&mut Peer, &Ev)) -> Outcome {
    // A watchdog against a script that never ends, not a speed check.
    let give_up = Instant::now() + Duration::from_secs(60);
    let mut events = Vec::new();
    let mut error = None;
    loop {
        match conn.next_event_until(give_up) {
            Ok(Next::Event(ev)) => {
                script(conn.endpoint_mut(), &ev);
                events.push(ev);
            }
            Ok(Next::Closed) => break,
            Ok(Next::Deadline) => panic!("the script hung; events so far: {events:?}"),
            Err(e) => {
                assert!(error.is_none(), "a second error: {e}");
                error = Some(e);
            }
        }
    }
    Outcome { events, error }
}

/// A connected loopback pair: (client side, server side).
pub fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let client = TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    (client, server)
}
