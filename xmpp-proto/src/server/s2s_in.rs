//! The receiving end of a server-to-server stream (a [`Server`] made with
//! `ServerConfig::for_federation`): a peer server connects, STARTTLS is
//! required, then it proves a domain by SASL EXTERNAL (its certificate
//! verifies for the domain, RFC 6120 §13.7.1.2 and XEP-0178) or by
//! dialback (XEP-0220: accepted at once where the certificate verifies,
//! XEP-0344, else checked with the domain's authoritative server when the
//! policy allows). More pairs may be proved on the same stream
//! (piggybacking, XEP-0220 §2.6). Its stanzas must come from a domain it
//! proved and go to the domain it proved it for; we answer `db:verify`
//! questions about our own keys at once.

use super::negotiate::ServerPhase;
use super::{Server, ServerEvent, ServerTimer};
use crate::jid::Jid;
use crate::negotiation::{
    DEFAULT_MAX_SASL_DATA, Requirement, SaslClientMessage, SaslServerMessage, StreamFeatures,
};
use crate::s2s::dialback::{Dialback, Verdict, key_matches};
use crate::s2s::{
    BIDI_FEATURE_NS, BIDI_NS, DIALBACK_FEATURE_NS, HARD_MAX_VERIFIES_PER_WINDOW,
    MAX_VERIFIES_PER_WINDOW, S2sAuth, S2sPolicy, VERIFY_WINDOW,
};
use crate::sasl::{FailureCondition, ServerOffer};
use crate::stanza::DefinedCondition;
use crate::stream::{Role, version_at_least_1};
use crate::stream_error::StreamErrorCondition;
use crate::time::Time;
use crate::xml::{Element, StreamHeader, ns};

impl Server {
    /// A peer server's header: `jabber:server`, version 1.0 (we need its
    /// STARTTLS), addressed to a domain we serve.
    pub(super) fn s2s_in_header(&mut self, header: &StreamHeader) {
        let to = header.to.as_deref().and_then(as_domain);
        let served = match (&to, self.federation()) {
            (Some(to), Some(f)) => f.serves(self.config.domain.as_str(), to),
            _ => false,
        };
        let peer = header.from.as_deref().and_then(as_domain);
        let declared = header
            .declarations
            .iter()
            .any(|(_, uri)| uri == ns::DIALBACK);
        let state = self.s2s();
        state.peer_speaks_dialback = declared;
        if served {
            state.local = to;
        }
        if peer.is_some() {
            state.peer = peer;
        }
        // Kept for raising the limits once a pair is proved by dialback
        // (no restart then).
        self.peer_header = Some(header.clone());
        // Our header goes first, even when we refuse theirs.
        self.ensure_header();
        if header.default_ns != ns::SERVER {
            self.fail(
                StreamErrorCondition::InvalidNamespace,
                "this port takes other servers (jabber:server)",
            );
        } else if !header.version.as_deref().is_some_and(version_at_least_1) {
            self.fail(
                StreamErrorCondition::UnsupportedVersion,
                "server-to-server streams here need version 1.0 (for STARTTLS)",
            );
        } else if !served {
            self.fail(
                StreamErrorCondition::HostUnknown,
                "this server does not serve that domain",
            );
        } else {
            self.s2s_in_features();
        }
    }

    /// The features of the current stage: STARTTLS alone before TLS;
    /// after it, EXTERNAL where the certificate verifies for the peer's
    /// domain and nothing is proved yet, and dialback.
    fn s2s_in_features(&mut self) {
        let mut features = StreamFeatures::default();
        let proved = self
            .s2s
            .as_deref()
            .is_some_and(|s| !s.authenticated.is_empty());
        if self.core.tls.is_none() {
            features.starttls = Some(Requirement::Required);
        } else {
            let certified = self.peer_certified();
            if certified && !proved {
                features.sasl = Some(ServerOffer::new(["EXTERNAL"]));
            }
            features.other.push(
                Element::builder("dialback", DIALBACK_FEATURE_NS)
                    .append(Element::builder("errors", DIALBACK_FEATURE_NS))
                    .build(),
            );
            if self.bidi_allowed() {
                features
                    .other
                    .push(Element::builder("bidi", BIDI_FEATURE_NS).build());
            }
        }
        let _ = self.core.out.element(&features.to_element());
        self.phase = if proved {
            ServerPhase::Online
        } else {
            ServerPhase::Unauthenticated
        };
        self.s2s_in_bidi_online();
    }

    /// The peer asks for a bidirectional stream (XEP-0288): once a pair
    /// is proved, our stanzas for the peer may travel on this stream. A
    /// request we did not invite (bidi is off here) is ignored: the peer
    /// then gets our stanzas on our own link, as without it.
    fn s2s_in_bidi(&mut self) {
        if self.bidi_allowed() {
            self.s2s().bidi = true;
            self.s2s_in_bidi_online();
        }
    }

    /// On a bidirectional stream that is online with a proved pair: the
    /// inverse of the first pair is ours to send on it (said once).
    fn s2s_in_bidi_online(&mut self) {
        if !matches!(self.phase, ServerPhase::Online) {
            return;
        }
        let Some(state) = self.s2s.as_deref_mut() else {
            return;
        };
        if !state.bidi || state.bidi_online {
            return;
        }
        let Some((peer, local)) = state.authenticated.first().cloned() else {
            return;
        };
        state.bidi_online = true;
        self.core.events.push_back(ServerEvent::S2sOnline {
            local,
            remote: peer,
        });
    }

    /// Whether the peer's certificate verifies for the domain its header
    /// named.
    fn peer_certified(&self) -> bool {
        let peer = self.s2s.as_deref().and_then(|s| s.peer.as_deref());
        match (peer, &self.core.tls) {
            (Some(peer), Some(tls)) => tls.peer_certified_for(peer),
            _ => false,
        }
    }

    /// What the peer sends before it proved any domain.
    pub(super) fn s2s_in_negotiation(&mut self, now: Time, el: Element) {
        if el.is("starttls", ns::TLS) {
            self.phase = ServerPhase::Unauthenticated;
            self.starttls();
        } else if self.core.tls.is_none() {
            self.fail(
                StreamErrorCondition::PolicyViolation,
                "nothing is accepted before STARTTLS",
            );
        } else if el.is("auth", ns::SASL) {
            self.s2s_external(&el);
        } else if el.is("bidi", BIDI_NS) {
            self.s2s_in_bidi();
        } else if el.ns() == ns::DIALBACK {
            self.s2s_in_dialback(now, &el);
        } else {
            self.unexpected(&el);
        }
    }

    /// SASL EXTERNAL: the authorization identity (or, for `=` or none,
    /// the header's `from`) must be a domain the certificate verifies for.
    fn s2s_external(&mut self, el: &Element) {
        let (mechanism, initial) = match SaslClientMessage::from_element(el, DEFAULT_MAX_SASL_DATA)
        {
            Ok(SaslClientMessage::Auth { mechanism, initial }) => (mechanism, initial),
            _ => (String::new(), None),
        };
        let claimed = match initial.as_deref() {
            None | Some(b"") => self.s2s.as_deref().and_then(|s| s.peer.clone()),
            Some(raw) => std::str::from_utf8(raw).ok().and_then(as_domain),
        };
        let local = self.s2s.as_deref().and_then(|s| s.local.clone());
        let certified = match (&claimed, &self.core.tls) {
            (Some(domain), Some(tls)) => tls.peer_certified_for(domain),
            _ => false,
        };
        let (Some(peer), Some(local), true, "EXTERNAL") =
            (claimed, local, certified, mechanism.as_str())
        else {
            let condition = if mechanism == "EXTERNAL" {
                FailureCondition::NotAuthorized
            } else {
                FailureCondition::InvalidMechanism
            };
            let failure = SaslServerMessage::failure(condition);
            let _ = self.core.out.element(&failure.to_element());
            self.auth_failures = self.auth_failures.saturating_add(1);
            if self.auth_failures >= self.config.max_auth_attempts {
                self.fail(
                    StreamErrorCondition::PolicyViolation,
                    "too many failed authentication attempts",
                );
            }
            return;
        };
        let success = SaslServerMessage::Success(None);
        let _ = self.core.out.element(&success.to_element());
        self.s2s_proved(peer, local, S2sAuth::External);
        // RFC 6120 §6.4.6: the stream restarts, now trusted.
        self.core.reader.reset_with(self.config.limits.clone());
        self.header_sent = false;
        self.phase = ServerPhase::AwaitHeader;
    }

    /// A dialback element from the peer: a claim (`db:result` with a
    /// key) or a question about one of our keys (`db:verify`).
    fn s2s_in_dialback(&mut self, now: Time, el: &Element) {
        let request = match Dialback::from_element(el.as_ref()) {
            Ok(request) if request.key.is_some() => request,
            Ok(_) => {
                self.fail(
                    StreamErrorCondition::UnsupportedStanzaType,
                    "a dialback answer on a stream we did not ask on",
                );
                return;
            }
            Err(e) => {
                let text = e.to_string();
                self.fail(StreamErrorCondition::InvalidXml, &text);
                return;
            }
        };
        if request.verify {
            if self.s2s_verify_allowed(now) {
                self.s2s_answer_verify(&request);
            }
        } else {
            self.s2s_claim(now, request);
        }
    }

    /// Counts a `db:verify` question against the peer's rate: past
    /// [`MAX_VERIFIES_PER_WINDOW`] in a [`VERIFY_WINDOW`], reading pauses
    /// (`wants_read`) until the window ends; past
    /// [`HARD_MAX_VERIFIES_PER_WINDOW`] (a transport that reads anyway),
    /// the stream ends with `policy-violation`. An authoritative server
    /// is asked once per stream a peer opens; a flood of questions is
    /// an attack on our CPU (each is an HMAC), not a peer's need.
    fn s2s_verify_allowed(&mut self, now: Time) -> bool {
        let state = self.s2s();
        if state.verifies_in_window == 0 || now >= state.verify_window + VERIFY_WINDOW {
            state.verify_window = now;
            state.verifies_in_window = 0;
        }
        state.verifies_in_window += 1;
        let (count, started) = (state.verifies_in_window, state.verify_window);
        if count > HARD_MAX_VERIFIES_PER_WINDOW {
            self.fail(
                StreamErrorCondition::PolicyViolation,
                "too many dialback questions",
            );
            return false;
        }
        if count >= MAX_VERIFIES_PER_WINDOW && !self.core.read_paused {
            self.core.read_paused = true;
            self.core
                .timers
                .set(ServerTimer::VerifyWindow, started + VERIFY_WINDOW);
        }
        true
    }

    /// The `db:verify` window is over: reading goes on.
    pub(super) fn s2s_verify_window_over(&mut self) {
        self.core.read_paused = false;
    }

    /// `db:verify`: we are the authoritative server for `to`; the key is
    /// ours if it hashes what the question says.
    fn s2s_answer_verify(&mut self, request: &Dialback) {
        let Some(federation) = self.federation() else {
            return;
        };
        let answer = if !federation.serves(self.config.domain.as_str(), &request.to) {
            request.refusal(DefinedCondition::ItemNotFound)
        } else {
            let id = request.id.as_deref().unwrap_or_default();
            let key = request.key.as_deref().unwrap_or_default();
            let valid = key_matches(&federation.secret, &request.from, &request.to, id, key);
            request.answer(if valid {
                Verdict::Valid
            } else {
                Verdict::Invalid
            })
        };
        let _ = self.core.out.element(&answer.to_element());
    }

    /// `db:result` with a key: the peer claims `from` for stanzas to
    /// `to`. Answered at once where the certificate verifies for `from`;
    /// otherwise asked (`DialbackRequest`) when the policy allows
    /// dialback, refused when it does not.
    fn s2s_claim(&mut self, _now: Time, request: Dialback) {
        let Some(federation) = self.federation() else {
            return;
        };
        let policy = federation.policy;
        let max = federation.max_domains;
        let served = federation.serves(self.config.domain.as_str(), &request.to);
        let from = as_domain(&request.from);
        let refusal = if !served {
            Some(DefinedCondition::ItemNotFound)
        } else if from.is_none() {
            Some(DefinedCondition::BadRequest)
        } else {
            None
        };
        if let Some(condition) = refusal {
            let _ = self
                .core
                .out
                .element(&request.refusal(condition).to_element());
            return;
        }
        let peer = from.unwrap_or_default();
        let local = request.to.clone();
        if self.s2s_pair_authenticated(&peer, &local) {
            let answer = request.answer(Verdict::Valid);
            let _ = self.core.out.element(&answer.to_element());
            return;
        }
        let state = self.s2s();
        if state.pending.iter().any(|(p, l)| *p == peer && *l == local) {
            // Asked already; the first answer covers this one.
            return;
        }
        if state.authenticated.len() + state.pending.len() >= max {
            let refusal = request.refusal(DefinedCondition::PolicyViolation);
            let _ = self.core.out.element(&refusal.to_element());
            return;
        }
        let certified = self
            .core
            .tls
            .as_ref()
            .is_some_and(|tls| tls.peer_certified_for(&peer));
        if certified {
            let answer = request.answer(Verdict::Valid);
            let _ = self.core.out.element(&answer.to_element());
            self.s2s_proved(peer, local, S2sAuth::DialbackWithCertificate);
            return;
        }
        if policy == S2sPolicy::RequireCertificate {
            let refusal = request.refusal(DefinedCondition::PolicyViolation);
            let _ = self.core.out.element(&refusal.to_element());
            return;
        }
        let stream_id = self.stream_id.clone().unwrap_or_default();
        self.s2s().pending.push((peer.clone(), local.clone()));
        self.core.events.push_back(ServerEvent::DialbackRequest {
            from: peer,
            to: local,
            key: request.key.unwrap_or_default(),
            stream_id,
        });
    }

    /// Answers a [`ServerEvent::DialbackRequest`] with the verdict of the
    /// authoritative server (or the reason none came), as a `db:result`
    /// answer from our domain (`answer.from`) to the peer's
    /// (`answer.to`): `valid` proves the pair; anything else refuses it,
    /// and the peer may try again.
    ///
    /// # Errors
    /// [`CommandError::NotAsked`](crate::endpoint::CommandError::NotAsked)
    /// if no claim of that pair waits for an answer.
    pub fn dialback_verdict(
        &mut self,
        _now: Time,
        answer: &Dialback,
    ) -> Result<(), crate::endpoint::CommandError> {
        let (peer, local) = (answer.to.as_str(), answer.from.as_str());
        let Some(state) = self.s2s.as_deref_mut() else {
            return Err(crate::endpoint::CommandError::NotAsked);
        };
        let Some(at) = state
            .pending
            .iter()
            .position(|(p, l)| p == peer && l == local)
        else {
            return Err(crate::endpoint::CommandError::NotAsked);
        };
        let (peer, local) = state.pending.swap_remove(at);
        if self.core.closed.is_some() {
            return Ok(());
        }
        let answer = Dialback {
            verify: false,
            id: None,
            key: None,
            ..answer.clone()
        };
        let _ = self.core.out.element(&answer.to_element());
        if answer.verdict == Some(Verdict::Valid) {
            self.s2s_proved(peer, local, S2sAuth::Dialback);
        }
        self.flush_trace();
        Ok(())
    }

    /// The peer proved `peer` for stanzas to `local`.
    fn s2s_proved(&mut self, peer: String, local: String, method: S2sAuth) {
        let first = self
            .s2s
            .as_deref()
            .is_none_or(|s| s.authenticated.is_empty());
        self.s2s().authenticated.push((peer.clone(), local.clone()));
        if first {
            self.core.timers.clear(ServerTimer::Negotiation);
            if matches!(self.phase, ServerPhase::Unauthenticated) {
                self.phase = ServerPhase::Online;
            }
            // Trusted now: full-size stanzas. After EXTERNAL the restart
            // raises the limits instead.
            if method != S2sAuth::External {
                if let Some(header) = self.peer_header.take() {
                    self.core
                        .reader
                        .continue_with(self.config.limits.clone(), &header);
                }
            }
        }
        self.core.events.push_back(ServerEvent::S2sAuthenticated {
            domain: peer,
            local,
            method,
        });
        self.s2s_in_bidi_online();
    }

    /// A top-level element once a pair is proved: more dialback, or a
    /// stanza from a proved domain to the domain it was proved for.
    pub(super) fn s2s_in_stanza(&mut self, now: Time, el: Element) {
        if el.ns() == ns::DIALBACK {
            self.s2s_in_dialback(now, &el);
            return;
        }
        if el.is("bidi", BIDI_NS) {
            self.s2s_in_bidi();
            return;
        }
        if el.ns() != ns::SERVER {
            let text = format!("<{}/> in {:?} is not a server stanza", el.name(), el.ns());
            self.fail(StreamErrorCondition::UnsupportedStanzaType, &text);
            return;
        }
        let Some((from, to)) = self.s2s_addresses(&el) else {
            return;
        };
        if !self.s2s_pair_authenticated(from.domainpart(), to.domainpart()) {
            let served = self
                .federation()
                .is_some_and(|f| f.serves(self.config.domain.as_str(), to.domainpart()));
            let (condition, text) = if served {
                (
                    StreamErrorCondition::InvalidFrom,
                    "a stanza from a domain this stream did not prove",
                )
            } else {
                (
                    StreamErrorCondition::HostUnknown,
                    "a stanza to a domain this server does not serve",
                )
            };
            self.fail(condition, text);
            return;
        }
        self.s2s_take_stanza(now, el);
    }
}

/// `text` as a prepared domain, if it is one (no local or resource part).
pub(super) fn as_domain(text: &str) -> Option<String> {
    Jid::new(text)
        .ok()
        .filter(|j| j.localpart().is_none() && j.resourcepart().is_none())
        .map(|j| j.domainpart().to_owned())
}
