//! Server-to-server streams (RFC 6120 on `jabber:server`), the parts
//! both ends share: the state a [`Server`] made with
//! `ServerConfig::for_federation` or `for_remote_domain` keeps, our
//! header, what goes to the peer in our namespace, and the idle timer.
//! The receiving end is in `s2s_in`, the initiating one in `s2s_out`.

use std::collections::VecDeque;

use super::config::S2sMode;
use super::{Server, ServerTimer};
use crate::jid::JidRef;
use crate::s2s::Federation;
use crate::s2s::dialback::Dialback;
use crate::stanza::{InvalidStanza, Stanza};
use crate::stream::Role;
use crate::stream_error::StreamErrorCondition;
use crate::time::Time;
use crate::xml::{Element, StreamHeader, ns};

/// What a server-to-server stream remembers.
#[derive(Debug, Default)]
pub(super) struct S2sState {
    /// Receiving: the domain the peer named in its header's `from`.
    pub(super) peer: Option<String>,
    /// Receiving: our domain the peer addressed (its header's `to`).
    pub(super) local: Option<String>,
    /// The domain pairs (peer's, ours) proved on this stream.
    pub(super) authenticated: Vec<(String, String)>,
    /// Receiving: `db:result` claims waiting for the application's
    /// verdict, as (peer's, ours).
    pub(super) pending: Vec<(String, String)>,
    /// Initiating: the id the peer gave the current stream (dialback
    /// keys hash it).
    pub(super) stream_id: Option<String>,
    /// Initiating: `db:verify` requests waiting for the link to be
    /// encrypted.
    pub(super) verifies: VecDeque<Dialback>,
    /// Initiating: TLS and features are done; `db:verify` may go out.
    pub(super) ready: bool,
    /// Initiating: the peer refused SASL EXTERNAL; dialback is next.
    pub(super) external_failed: bool,
    /// The peer speaks dialback: its header declared the namespace
    /// (servers that predate the stream feature say so this way) or it
    /// offered the feature.
    pub(super) peer_speaks_dialback: bool,
    /// When a stanza last went either way, for the idle timer.
    pub(super) last_stanza: Time,
    /// Bidirectional (XEP-0288): receiving, the peer asked for it;
    /// initiating, we asked (the peer offered it).
    pub(super) bidi: bool,
    /// Receiving: `S2sOnline` was said for this bidirectional stream.
    pub(super) bidi_online: bool,
    /// Receiving: the `db:verify` questions of the current window, and
    /// when it started.
    pub(super) verifies_in_window: u32,
    pub(super) verify_window: Time,
}

/// How many `db:verify` requests may wait for a link to come up; more
/// are answered as errors at once by the hub's bookkeeping.
pub(super) const MAX_WAITING_VERIFIES: usize = 64;

impl Server {
    /// The server-to-server mode, if this is such a stream.
    pub(super) fn s2s_mode(&self) -> Option<&S2sMode> {
        self.config.s2s.as_ref()
    }

    /// The federation settings of a server-to-server stream.
    pub(super) fn federation(&self) -> Option<&Federation> {
        self.config.s2s.as_ref().map(S2sMode::federation)
    }

    /// Whether bidirectional streams are on in our settings.
    pub(super) fn bidi_allowed(&self) -> bool {
        self.federation().is_some_and(|f| f.bidi)
    }

    /// Whether this stream carries stanzas both ways (XEP-0288).
    pub(super) fn is_bidi(&self) -> bool {
        self.s2s.as_deref().is_some_and(|s| s.bidi)
    }

    /// Whether this is the initiating end (our link to a peer).
    pub(super) fn is_s2s_link(&self) -> bool {
        matches!(self.config.s2s, Some(S2sMode::Initiating { .. }))
    }

    /// The state of a server-to-server stream (created on first use).
    pub(super) fn s2s(&mut self) -> &mut S2sState {
        self.s2s.get_or_insert_with(Box::default)
    }

    /// Our header on a server-to-server stream: `jabber:server`, the
    /// dialback namespace declared (XEP-0220 §2.1.1: how a peer knows we
    /// speak it), `from` our domain.
    pub(super) fn s2s_stream_header(&self, id: Option<&str>) -> StreamHeader {
        let state = self.s2s.as_deref();
        let (from, to) = match &self.config.s2s {
            Some(S2sMode::Initiating { remote, .. }) => {
                (self.config.domain.as_str(), Some(remote.as_str()))
            }
            _ => (
                state
                    .and_then(|s| s.local.as_deref())
                    .unwrap_or(self.config.domain.as_str()),
                state.and_then(|s| s.peer.as_deref()),
            ),
        };
        let mut header = StreamHeader::new(ns::SERVER).from(from);
        if let Some(to) = to {
            header = header.to(to);
        }
        header
            .declarations
            .push(("db".to_owned(), ns::DIALBACK.to_owned()));
        if let Some(id) = id {
            header = header.id(id);
        }
        header
    }

    /// Whether the pair (peer's domain, ours) was proved on this stream.
    pub(super) fn s2s_pair_authenticated(&self, peer: &str, local: &str) -> bool {
        self.s2s
            .as_deref()
            .is_some_and(|s| s.authenticated.iter().any(|(p, l)| p == peer && l == local))
    }

    /// A stanza went either way: the link is not idle.
    pub(super) fn s2s_activity(&mut self, now: Time) {
        let Some(idle) = self.federation().and_then(|f| f.idle) else {
            return;
        };
        self.s2s().last_stanza = now;
        if self.core.timers.get(ServerTimer::Idle).is_none() {
            self.core.timers.set(ServerTimer::Idle, now + idle);
        }
    }

    /// The idle timer fired: close the link if nothing went either way
    /// since it was set, else wait from the last stanza. Like the probe,
    /// the deadline is not moved on every stanza.
    pub(super) fn s2s_idle(&mut self, now: Time) {
        let Some(idle) = self.federation().and_then(|f| f.idle) else {
            return;
        };
        let last = self.s2s.as_deref().map_or(now, |s| s.last_stanza);
        if now < last + idle {
            self.core.timers.set(ServerTimer::Idle, last + idle);
        } else {
            self.close(now);
        }
    }

    /// A server-to-server stanza's `from` and `to`, both required (RFC
    /// 6120 §8.1.1.2); without them the stream ends.
    pub(super) fn s2s_addresses<'e>(
        &mut self,
        el: &'e Element,
    ) -> Option<(JidRef<'e>, JidRef<'e>)> {
        let from = el.attr("from").and_then(|f| JidRef::parse(f).ok());
        let to = el.attr("to").and_then(|t| JidRef::parse(t).ok());
        if let (Some(from), Some(to)) = (from, to) {
            return Some((from, to));
        }
        self.fail(
            StreamErrorCondition::ImproperAddressing,
            "a server-to-server stanza names both 'from' and 'to' (RFC 6120 §8.1.1.2)",
        );
        None
    }

    /// A peer's stanza that passed the stream's address checks: renamed
    /// into `jabber:client` (what the router and sessions speak) and
    /// reported.
    pub(super) fn s2s_take_stanza(&mut self, now: Time, mut el: Element) {
        el.rename_ns(ns::SERVER, ns::CLIENT);
        match Stanza::from_element(el) {
            Ok(stanza) => {
                self.s2s_activity(now);
                self.core
                    .events
                    .push_back(super::ServerEvent::Stanza(stanza));
            }
            Err(e) if e.reason == InvalidStanza::NotAStanza => {
                let text = format!("<{}/> is not a stanza", e.element.name());
                self.fail(StreamErrorCondition::UnsupportedStanzaType, &text);
            }
            Err(e) => {
                // Nothing can be answered on this stream, and a stanza
                // the router cannot read has no sender to bounce to.
                let text = format!("invalid stanza: {:?}", e.reason);
                self.fail(StreamErrorCondition::BadFormat, &text);
            }
        }
    }
}
