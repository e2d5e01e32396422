//! The queue of bytes and connection actions for the transport.

use std::collections::VecDeque;

use crate::endpoint::Transmit;
use crate::xml::{Element, StreamHeader, WriteError, Writer};

/// What happens at a position of the output stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mark {
    StartTls,
    Shutdown,
}

impl Mark {
    fn transmit(self) -> Transmit<'static> {
        match self {
            Mark::StartTls => Transmit::StartTls,
            Mark::Shutdown => Transmit::Shutdown,
        }
    }
}

/// Serialized output plus the marks (`StartTls`, `Shutdown`) that sit at
/// byte positions in it: a mark is handed out only when every byte before
/// it has been consumed.
#[derive(Debug, Default)]
pub(crate) struct Output {
    writer: Writer,
    /// Bytes consumed by the transport so far.
    consumed: u64,
    /// Marks at absolute byte offsets, in order.
    marks: VecDeque<(u64, Mark)>,
    /// A shutdown is queued: nothing more may be written.
    finished: bool,
    /// Our `</stream:stream>` is written: RFC 6120 §4.4 forbids sending
    /// anything after it, even answers to what the peer still sends.
    stream_closed: bool,
    /// Copies of written bytes, for the trace hook, when tracing is on.
    trace: Option<Vec<Vec<u8>>>,
    /// WebSocket framing: the absolute offsets where messages end, so
    /// that each `Transmit::Data` is exactly one message.
    message_ends: Option<VecDeque<u64>>,
}

impl Output {
    pub(crate) fn new(trace: bool) -> Self {
        Output {
            trace: trace.then(Vec::new),
            ..Output::default()
        }
    }

    /// Output of XMPP over WebSocket (RFC 7395): every write is one
    /// message, handed out as one `Transmit::Data`.
    pub(crate) fn for_websocket(trace: bool) -> Self {
        Output {
            writer: Writer::for_websocket(),
            trace: trace.then(Vec::new),
            message_ends: Some(VecDeque::new()),
            ..Output::default()
        }
    }

    /// Bytes written but not yet consumed.
    pub(crate) fn pending(&self) -> usize {
        self.writer.len()
    }

    /// Whether everything queued (bytes and marks) has been handed out.
    pub(crate) fn is_drained(&self) -> bool {
        self.marks.is_empty() && self.writer.is_empty()
    }

    pub(crate) fn header(&mut self, header: &StreamHeader) -> Result<(), WriteError> {
        self.write(|w| w.write_header(header))
    }

    pub(crate) fn element(&mut self, el: &Element) -> Result<(), WriteError> {
        self.write(|w| w.write_element(el))
    }

    /// Writes bytes serialized before (a shared stanza).
    pub(crate) fn raw(&mut self, bytes: &[u8]) {
        let _ = self.write(|w| {
            w.write_raw(bytes);
            Ok(())
        });
    }

    pub(crate) fn keepalive(&mut self) {
        let _ = self.write(|w| {
            w.write_keepalive();
            Ok(())
        });
    }

    /// Writes our closing tag once; later writes (automatic answers to
    /// stanzas the peer sends before its own close) are dropped.
    pub(crate) fn close_stream(&mut self) {
        let _ = self.write(|w| {
            w.write_close();
            Ok(())
        });
        self.stream_closed = true;
    }

    /// Over WebSocket: our `<close/>` with `see-other-uri`; then, as
    /// after [`Output::close_stream`], nothing more is written.
    pub(crate) fn close_stream_redirect(&mut self, uri: &str) -> Result<(), WriteError> {
        self.write(|w| w.write_close_redirect(uri))?;
        self.stream_closed = true;
        Ok(())
    }

    /// Queues "start TLS here".
    pub(crate) fn start_tls(&mut self) {
        if !self.finished {
            self.marks.push_back((self.end(), Mark::StartTls));
        }
    }

    /// Queues "shut the connection down here"; later writes are dropped.
    pub(crate) fn shutdown(&mut self) {
        if !self.finished {
            self.marks.push_back((self.end(), Mark::Shutdown));
            self.finished = true;
        }
    }

    /// Outgoing trace chunks collected since the last call.
    pub(crate) fn take_trace(&mut self) -> Vec<Vec<u8>> {
        self.trace.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// The next transmit; a mark is taken.
    pub(crate) fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        if self.sendable() == 0 {
            return self.marks.pop_front().map(|(_, mark)| mark.transmit());
        }
        self.peek_transmit()
    }

    /// The next transmit, without taking anything.
    pub(crate) fn peek_transmit(&self) -> Option<Transmit<'_>> {
        let n = self.sendable();
        if n > 0 {
            return self.writer.buffer().get(..n).map(Transmit::Data);
        }
        self.marks.front().map(|(_, mark)| mark.transmit())
    }

    /// `n` bytes of the last data were written. Never passes a mark: a
    /// transport that reports more than it was handed cannot skip one.
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.sendable());
        self.writer.consume(n);
        self.consumed += n as u64;
        if let Some(ends) = &mut self.message_ends {
            while ends.front().is_some_and(|&end| end <= self.consumed) {
                ends.pop_front();
            }
        }
    }

    /// Bytes that can go out before the next mark (and, over WebSocket,
    /// before the end of the current message).
    fn sendable(&self) -> usize {
        let until =
            |at: u64| usize::try_from(at.saturating_sub(self.consumed)).unwrap_or(usize::MAX);
        let mut n = self.writer.len();
        if let Some((at, _)) = self.marks.front() {
            n = n.min(until(*at));
        }
        if let Some(end) = self.message_ends.as_ref().and_then(|ends| ends.front()) {
            n = n.min(until(*end));
        }
        n
    }

    fn end(&self) -> u64 {
        self.consumed + self.writer.len() as u64
    }

    fn write(
        &mut self,
        f: impl FnOnce(&mut Writer) -> Result<(), WriteError>,
    ) -> Result<(), WriteError> {
        if self.finished || self.stream_closed {
            return Ok(());
        }
        let before = self.writer.len();
        f(&mut self.writer)?;
        if self.writer.len() > before {
            let end = self.end();
            if let Some(ends) = &mut self.message_ends {
                ends.push_back(end);
            }
        }
        if let Some(trace) = &mut self.trace {
            if let Some(new) = self.writer.buffer().get(before..) {
                trace.push(new.to_vec());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::ns;

    #[test]
    fn marks_wait_for_the_bytes_before_them() {
        let mut out = Output::new(false);
        out.header(&StreamHeader::new(ns::CLIENT).to("example.org"))
            .unwrap();
        let header_len = out.pending();
        out.start_tls();
        out.keepalive();
        out.shutdown();
        out.keepalive(); // dropped: after shutdown

        let Some(Transmit::Data(d)) = out.poll_transmit() else {
            panic!()
        };
        assert_eq!(d.len(), header_len);
        out.consume(3);
        let Some(Transmit::Data(d)) = out.poll_transmit() else {
            panic!()
        };
        assert_eq!(d.len(), header_len - 3);
        out.consume(header_len - 3);
        assert_eq!(out.poll_transmit(), Some(Transmit::StartTls));
        assert_eq!(out.poll_transmit(), Some(Transmit::Data(b" ")));
        out.consume(1);
        assert_eq!(out.poll_transmit(), Some(Transmit::Shutdown));
        assert_eq!(out.poll_transmit(), None);
    }

    #[test]
    fn consuming_too_much_never_skips_a_mark() {
        let mut out = Output::new(false);
        out.keepalive();
        out.start_tls();
        out.keepalive();
        assert_eq!(out.peek_transmit(), Some(Transmit::Data(b" ")));
        out.consume(10);
        assert_eq!(out.peek_transmit(), Some(Transmit::StartTls));
        assert_eq!(out.peek_transmit(), Some(Transmit::StartTls));
        assert_eq!(out.poll_transmit(), Some(Transmit::StartTls));
        assert_eq!(out.poll_transmit(), Some(Transmit::Data(b" ")));
    }

    #[test]
    fn over_websocket_each_write_is_one_transmit() {
        let mut out = Output::for_websocket(false);
        out.header(&StreamHeader::new(ns::CLIENT).to("example.org"))
            .unwrap();
        out.keepalive(); // nothing over WebSocket
        out.element(&Element::builder("r", ns::SM).build()).unwrap();
        out.close_stream();
        out.shutdown();
        let Some(Transmit::Data(open)) = out.poll_transmit() else {
            panic!()
        };
        assert!(open.starts_with(b"<open ") && open.ends_with(b"/>"));
        let n = open.len();
        out.consume(n);
        assert_eq!(
            out.poll_transmit(),
            Some(Transmit::Data(b"<r xmlns='urn:xmpp:sm:3'/>".as_slice()))
        );
        out.consume(26);
        assert_eq!(
            out.poll_transmit(),
            Some(Transmit::Data(
                b"<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>".as_slice()
            ))
        );
        out.consume(52);
        assert_eq!(out.poll_transmit(), Some(Transmit::Shutdown));
    }

    #[test]
    fn over_websocket_a_shared_stanza_gets_its_namespace() {
        let mut out = Output::for_websocket(false);
        out.header(&StreamHeader::new(ns::CLIENT)).unwrap();
        let n = out.pending();
        out.consume(n);
        out.raw(b"<message to='a@b'><body>x</body></message>");
        out.raw(b"<iq xmlns='urn:other' id='1'/>");
        out.raw(b"<presence/>");
        let mut got = Vec::new();
        while let Some(Transmit::Data(d)) = out.poll_transmit() {
            got.push(String::from_utf8(d.to_vec()).unwrap());
            let n = d.len();
            out.consume(n);
        }
        assert_eq!(
            got,
            [
                "<message xmlns='jabber:client' to='a@b'><body>x</body></message>",
                "<iq xmlns='urn:other' id='1'/>",
                "<presence xmlns='jabber:client'/>",
            ]
        );
    }

    #[test]
    fn nothing_follows_the_closing_tag() {
        let mut out = Output::new(false);
        out.close_stream();
        let closed = out.pending();
        out.keepalive();
        out.close_stream();
        assert_eq!(out.pending(), closed);
        assert_eq!(
            out.poll_transmit(),
            Some(Transmit::Data(b"</stream:stream>"))
        );
    }
}
