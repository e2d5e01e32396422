//! The initiating end of a server-to-server stream (a [`Server`] made
//! with `ServerConfig::for_remote_domain`): our link to a peer. We open
//! the stream, insist on STARTTLS, then prove our domain with SASL
//! EXTERNAL where the peer offers it (our certificate), else with
//! dialback (`db:result` with the XEP-0185 key of the peer's stream id).
//! Once TLS is up the link also carries our `db:verify` questions to the
//! peer as an authoritative server, and brings their answers back.

use super::config::S2sMode;
use super::negotiate::ServerPhase;
use super::s2s::MAX_WAITING_VERIFIES;
use super::{Server, ServerEvent, ServerTimer};
use crate::endpoint::{CloseReason, CommandError};
use crate::negotiation::{
    DEFAULT_MAX_SASL_DATA, SaslClientMessage, SaslServerMessage, StartTls, StreamFeatures,
};
use crate::s2s::dialback::{Dialback, Verdict, key};
use crate::s2s::{BIDI_FEATURE_NS, BIDI_NS, DIALBACK_FEATURE_NS, S2sAuth, S2sPolicy};
use crate::stream::{Role, version_at_least_1};
use crate::stream_error::StreamErrorCondition;
use crate::time::Time;
use crate::xml::{Element, StreamHeader, ns};

impl Server {
    /// The domain at the other end of our link.
    fn remote(&self) -> &str {
        match &self.config.s2s {
            Some(S2sMode::Initiating { remote, .. }) => remote,
            _ => "",
        }
    }

    /// Writes our header (at the start, after TLS, after SASL).
    pub(super) fn s2s_open(&mut self) {
        let header = self.s2s_stream_header(None);
        let _ = self.core.out.header(&header);
        self.header_sent = true;
        self.phase = ServerPhase::AwaitHeader;
    }

    /// The peer's header: `jabber:server`, version 1.0, with the id our
    /// dialback key hashes.
    pub(super) fn s2s_out_header(&mut self, header: &StreamHeader) {
        if header.default_ns != ns::SERVER {
            self.fail(
                StreamErrorCondition::InvalidNamespace,
                "the peer's stream is not a server stream",
            );
            return;
        }
        if !header.version.as_deref().is_some_and(version_at_least_1) {
            // Without version 1.0 there are no features, so no STARTTLS.
            self.fail(
                StreamErrorCondition::UnsupportedVersion,
                "the peer does not speak XMPP 1.0 (no STARTTLS)",
            );
            return;
        }
        let Some(id) = header.id.clone().filter(|id| !id.is_empty()) else {
            self.fail(
                StreamErrorCondition::InvalidXml,
                "the peer's stream header has no id",
            );
            return;
        };
        let declared = header
            .declarations
            .iter()
            .any(|(_, uri)| uri == ns::DIALBACK);
        let state = self.s2s();
        state.stream_id = Some(id);
        state.peer_speaks_dialback = declared;
        self.phase = ServerPhase::S2sFeatures;
    }

    /// What the peer sends while our link negotiates.
    pub(super) fn s2s_out_negotiation(&mut self, now: Time, el: Element) {
        let phase = std::mem::replace(&mut self.phase, ServerPhase::Closed);
        match phase {
            ServerPhase::S2sFeatures if el.is("features", ns::STREAM) => {
                self.s2s_out_features(now, &el)
            }
            ServerPhase::S2sProceed if el.is("proceed", ns::TLS) => {
                self.core.out.start_tls();
                self.phase = ServerPhase::AwaitTls;
            }
            ServerPhase::S2sProceed if el.is("failure", ns::TLS) => {
                self.core.out.close_stream();
                self.finish(CloseReason::TlsUnavailable);
            }
            ServerPhase::S2sExternal if el.ns() == ns::SASL => self.s2s_external_answer(now, &el),
            phase if el.ns() == ns::DIALBACK => {
                self.phase = phase;
                self.s2s_out_dialback(now, &el);
            }
            phase => {
                self.phase = phase;
                let text = format!("unexpected <{}/> while our link negotiates", el.name());
                self.fail(StreamErrorCondition::UnsupportedStanzaType, &text);
            }
        }
    }

    /// The peer's features: STARTTLS first; then EXTERNAL if offered,
    /// else dialback; after EXTERNAL's restart, nothing more to do.
    fn s2s_out_features(&mut self, now: Time, el: &Element) {
        let features = match StreamFeatures::from_element(el) {
            Ok(f) => f,
            Err(e) => {
                let text = e.to_string();
                self.fail(StreamErrorCondition::InvalidXml, &text);
                return;
            }
        };
        if self.core.tls.is_none() {
            if features.starttls.is_some() {
                let _ = self.core.out.element(&StartTls::Request.to_element());
                self.phase = ServerPhase::S2sProceed;
            } else {
                // RFC 6120 §13.7.1: never a server-to-server stream in
                // the clear.
                self.core.out.close_stream();
                self.finish(CloseReason::TlsUnavailable);
            }
            return;
        }
        let local = self.config.domain.as_str().to_owned();
        let remote = self.remote().to_owned();
        if self.s2s_pair_authenticated(&remote, &local) {
            self.s2s_ready();
            self.s2s_link_online(now);
            return;
        }
        let state = self.s2s.as_deref();
        let external_failed = state.is_some_and(|s| s.external_failed);
        let external = features
            .sasl
            .as_ref()
            .is_some_and(|offer| offer.mechanisms.iter().any(|m| m == "EXTERNAL"));
        let dialback = features
            .other
            .iter()
            .any(|f| f.is("dialback", DIALBACK_FEATURE_NS))
            || state.is_some_and(|s| s.peer_speaks_dialback);
        let bidi = features.other.iter().any(|f| f.is("bidi", BIDI_FEATURE_NS));
        self.s2s().peer_speaks_dialback = dialback;
        // The peer's stanzas on our link are taken as from `remote`: only
        // where its certificate says so, or where the policy trusts DNS
        // (we found it there) as dialback does.
        let trusted = self.federation().map(|f| f.policy) == Some(S2sPolicy::AllowDialback)
            || self
                .core
                .tls
                .as_ref()
                .is_some_and(|tls| tls.peer_certified_for(&remote));
        if bidi && trusted && self.bidi_allowed() && !self.is_bidi() {
            // XEP-0288 §2.2: before authentication, with no answer to
            // wait for; the peer may then send its stanzas for us here.
            let request = Element::builder("bidi", BIDI_NS).build();
            let _ = self.core.out.element(&request);
            self.s2s().bidi = true;
        }
        if external && !external_failed {
            // XEP-0178 §3: the authorization identity is our domain.
            let auth = SaslClientMessage::Auth {
                mechanism: "EXTERNAL".into(),
                initial: Some(local.into_bytes()),
            };
            // Nothing else goes out until the answer: a success restarts
            // the stream, and what followed `<auth/>` would land in the
            // new one.
            let _ = self.core.out.element(&auth.to_element());
            self.phase = ServerPhase::S2sExternal;
        } else if dialback {
            self.s2s_ready();
            self.s2s_send_result();
        } else {
            self.core.out.close_stream();
            self.finish(CloseReason::NotAccepted {
                text: "the peer offers neither SASL EXTERNAL nor dialback".into(),
            });
        }
    }

    /// TLS is up, the features are in and no SASL exchange is under way:
    /// the link can carry `db:verify` questions (said once, with those
    /// waiting sent).
    fn s2s_ready(&mut self) {
        if self.s2s().ready {
            return;
        }
        self.s2s().ready = true;
        let waiting: Vec<Dialback> = self.s2s().verifies.drain(..).collect();
        for request in &waiting {
            let _ = self.core.out.element(&request.to_element());
        }
        let remote = self.remote().to_owned();
        let local = self.config.domain.as_str().to_owned();
        self.core
            .events
            .push_back(ServerEvent::S2sReady { local, remote });
    }

    /// `db:result` with our key for the peer's stream id.
    fn s2s_send_result(&mut self) {
        let local = self.config.domain.as_str().to_owned();
        let remote = self.remote().to_owned();
        let stream_id = self
            .s2s
            .as_deref()
            .and_then(|s| s.stream_id.clone())
            .unwrap_or_default();
        let secret = self
            .federation()
            .map(|f| f.secret.clone())
            .unwrap_or_default();
        let key = key(&secret, &remote, &local, &stream_id);
        let request = Dialback::result_request(&local, &remote, &key);
        let _ = self.core.out.element(&request.to_element());
        self.phase = ServerPhase::S2sDialback;
    }

    /// The peer's answer to our EXTERNAL: success restarts the stream;
    /// failure falls back to dialback where the peer speaks it.
    fn s2s_external_answer(&mut self, _now: Time, el: &Element) {
        match SaslServerMessage::from_element(el, DEFAULT_MAX_SASL_DATA) {
            Ok(SaslServerMessage::Success(_)) => {
                let pair = (
                    self.remote().to_owned(),
                    self.config.domain.as_str().to_owned(),
                );
                self.s2s().authenticated.push(pair);
                self.core.reader.reset_with(self.config.limits.clone());
                self.s2s_open();
            }
            Ok(SaslServerMessage::Failure(_)) => {
                self.s2s().external_failed = true;
                // XEP-0178 §3: on failure, dialback on the same stream
                // (a peer that does not speak it ends here).
                if self.s2s.as_deref().is_some_and(|s| s.peer_speaks_dialback) {
                    self.s2s_ready();
                    self.s2s_send_result();
                } else {
                    self.core.out.close_stream();
                    self.finish(CloseReason::NotAccepted {
                        text: "the peer refused SASL EXTERNAL and does not speak dialback".into(),
                    });
                }
            }
            _ => self.fail(
                StreamErrorCondition::UnsupportedStanzaType,
                "a SASL challenge where EXTERNAL has none",
            ),
        }
    }

    /// A dialback answer on our link: to our `db:result` (the link's
    /// fate) or to a `db:verify` we relayed (for the hub).
    fn s2s_out_dialback(&mut self, now: Time, el: &Element) {
        let answer = match Dialback::from_element(el.as_ref()) {
            Ok(answer) if answer.verdict.is_some() => answer,
            Ok(_) => {
                self.fail(
                    StreamErrorCondition::UnsupportedStanzaType,
                    "a dialback request on our own link",
                );
                return;
            }
            Err(e) => {
                let text = e.to_string();
                self.fail(StreamErrorCondition::InvalidXml, &text);
                return;
            }
        };
        if answer.verify {
            self.core
                .events
                .push_back(ServerEvent::DialbackVerified(answer));
            return;
        }
        let ours = answer.to == self.config.domain.as_str() && answer.from == self.remote();
        if !ours || !matches!(self.phase, ServerPhase::S2sDialback) {
            self.fail(
                StreamErrorCondition::InvalidXml,
                "a dialback result we did not ask for",
            );
            return;
        }
        if answer.verdict == Some(Verdict::Valid) {
            let pair = (answer.from, answer.to);
            self.s2s().authenticated.push(pair);
            self.s2s_link_online(now);
        } else {
            let why = match answer.error {
                Some(condition) => format!("dialback refused: {}", condition.as_str()),
                None => "dialback key found invalid".to_owned(),
            };
            self.core.out.close_stream();
            self.finish(CloseReason::NotAccepted { text: why });
        }
    }

    /// Our domain is accepted: stanzas may go out; on a bidirectional
    /// link, the peer's may come in (from its domain to ours).
    fn s2s_link_online(&mut self, now: Time) {
        self.phase = ServerPhase::Online;
        self.core.timers.clear(ServerTimer::Negotiation);
        self.s2s_activity(now);
        let remote = self.remote().to_owned();
        let local = self.config.domain.as_str().to_owned();
        self.core.events.push_back(ServerEvent::S2sOnline {
            local: local.clone(),
            remote: remote.clone(),
        });
        if self.is_bidi() {
            self.core.events.push_back(ServerEvent::S2sAuthenticated {
                domain: remote,
                local,
                method: S2sAuth::OurLink,
            });
        }
    }

    /// What comes on our link once it is online: dialback answers, and on
    /// a bidirectional link the peer's stanzas from its domain to ours
    /// (XEP-0288 §2.2: the inverse of the pair we proved).
    pub(super) fn s2s_out_stanza(&mut self, now: Time, el: Element) {
        if el.ns() == ns::DIALBACK {
            self.s2s_out_dialback(now, &el);
            return;
        }
        if !self.is_bidi() || el.ns() != ns::SERVER {
            let text = format!(
                "<{}/> on our link: the peer sends stanzas on its own",
                el.name()
            );
            self.fail(StreamErrorCondition::UnsupportedStanzaType, &text);
            return;
        }
        let Some((from, to)) = self.s2s_addresses(&el) else {
            return;
        };
        if from.domainpart() != self.remote() {
            self.fail(
                StreamErrorCondition::InvalidFrom,
                "a stanza on our link from another domain than the peer's",
            );
            return;
        }
        if to.domainpart() != self.config.domain.as_str() {
            self.fail(
                StreamErrorCondition::HostUnknown,
                "a stanza on our link to another domain than the one it speaks for",
            );
            return;
        }
        self.s2s_take_stanza(now, el);
    }

    /// Asks the peer, as the authoritative server of `request.to`,
    /// whether a key it gave us is its own (a `db:verify` for a
    /// [`ServerEvent::DialbackRequest`] on another stream); the answer
    /// comes back as [`ServerEvent::DialbackVerified`]. Sent once TLS is
    /// up; until then it waits, with at most 64 others.
    ///
    /// # Errors
    /// [`CommandError::Closed`] if the link ended,
    /// [`CommandError::NotOnline`] if this is not our link to
    /// `request.to`, [`CommandError::QueueFull`] if too many wait.
    pub fn verify_dialback(&mut self, _now: Time, request: Dialback) -> Result<(), CommandError> {
        if self.core.closed.is_some() || matches!(self.phase, ServerPhase::Closing) {
            return Err(CommandError::Closed);
        }
        if !self.is_s2s_link() || request.to != self.remote() || !request.verify {
            return Err(CommandError::NotOnline);
        }
        if self.s2s().ready {
            let _ = self.core.out.element(&request.to_element());
            self.flush_trace();
            return Ok(());
        }
        let waiting = &mut self.s2s().verifies;
        if waiting.len() >= MAX_WAITING_VERIFIES {
            return Err(CommandError::QueueFull);
        }
        waiting.push_back(request);
        Ok(())
    }
}
