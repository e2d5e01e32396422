//! Stream management on the stream core, the same for both roles: writing
//! a stanza through the acknowledgement queue, counting what arrives, and
//! answering `<r/>` and `<a/>`.

use super::{Role, TimerKind};
use crate::endpoint::{CloseReason, CommandError};
use crate::jid::FullJid;
use crate::sm::{Live, Nonza, SmSession};
use crate::stanza::WireStanza;
use crate::time::Time;
use crate::xml::{Element, ns};

/// A stanza that could not be written, with why.
pub(crate) type NotWritten = (CommandError, Element);

/// Writes a stanza, queueing it for acknowledgement when stream management
/// is on; every stanza either role sends goes through here. With stream
/// management the stanza is serialized once into shared bytes that both
/// the output and the queue take (the element is not kept). `internal`
/// marks stanzas the endpoint sends by itself (answers, receipts): if the
/// queue is full for one of those, the peer stopped acknowledging and the
/// connection is treated as dead (a resumable session stays resumable).
pub(crate) fn write_stanza<R: Role>(
    role: &mut R,
    now: Time,
    el: Element,
    internal: bool,
) -> Result<(), NotWritten> {
    let core = role.core_mut();
    let Some(sm) = &mut core.sm else {
        if let Err(e) = core.out.element(&el) {
            return Err((CommandError::InvalidStanza(e), el));
        }
        role.wrote_to_peer(now);
        return Ok(());
    };
    // Serialized once: the same bytes go out and into the queue.
    let wire = match WireStanza::from_element(&el) {
        Ok(wire) => wire,
        Err(e) => return Err((CommandError::InvalidStanza(e), el)),
    };
    if !sm.unacked.has_room_for(wire.len()) {
        if internal {
            core.out.close_stream();
            role.finish(CloseReason::PeerNotResponding);
            return Err((CommandError::Closed, el));
        }
        return Err((CommandError::QueueFull, el));
    }
    core.out.raw(wire.as_bytes());
    let timer = R::Timer::SM_REQUEST;
    sm.stanza_written(wire, now, &mut core.out, &mut core.timers, timer);
    role.wrote_to_peer(now);
    Ok(())
}

/// A stanza arrived from the peer: count it.
pub(crate) fn count_inbound<R: Role>(role: &mut R, el: &Element) {
    if let Some(sm) = &mut role.core_mut().sm {
        if el.ns() == ns::CLIENT {
            sm.handled.increment();
        }
    }
}

/// `<r/>`: tell the peer how many stanzas we handled.
pub(crate) fn answer_request<R: Role>(role: &mut R, now: Time) {
    let core = role.core_mut();
    if let Some(sm) = &core.sm {
        let h = sm.handled.value();
        let _ = core.out.element(&Nonza::Answer { h }.to_element());
        role.wrote_to_peer(now);
    }
}

/// `<a h/>`: the peer handled `h` of our stanzas. An `h` above what we
/// sent ends the stream (XEP-0198 §4).
pub(crate) fn acknowledged<R: Role>(role: &mut R, h: u32) {
    let Some(sm) = &mut role.core_mut().sm else {
        return;
    };
    if let Err(e) = sm.unacked.ack(h) {
        let error = e.stream_error();
        let reason = CloseReason::ProtocolViolation {
            condition: error.condition,
            text: e.to_string(),
        };
        role.fail_with(error, reason);
    }
}

/// The acknowledgement request timer fired: `<r/>` if the policy says so.
pub(crate) fn request_due<R: Role>(role: &mut R, now: Time) {
    let core = role.core_mut();
    if core
        .sm
        .as_mut()
        .is_some_and(|sm| sm.request_due(now, &mut core.out))
    {
        role.wrote_to_peer(now);
    }
}

/// Writes a stanza serialized before (a routed stanza shared with other
/// recipients), queueing the same bytes for acknowledgement.
pub(crate) fn write_wire<R: Role>(
    role: &mut R,
    now: Time,
    wire: WireStanza,
) -> Result<(), (CommandError, WireStanza)> {
    let core = role.core_mut();
    if let Some(sm) = &mut core.sm {
        if !sm.unacked.has_room_for(wire.len()) {
            return Err((CommandError::QueueFull, wire));
        }
        core.out.raw(wire.as_bytes());
        sm.stanza_written(
            wire,
            now,
            &mut core.out,
            &mut core.timers,
            R::Timer::SM_REQUEST,
        );
    } else {
        core.out.raw(wire.as_bytes());
    }
    role.wrote_to_peer(now);
    Ok(())
}

/// What stream management holds when a session ends.
pub(crate) enum Leftover {
    /// The connection broke under a resumable session: keep it to resume.
    Resumable(SmSession),
    /// The session is over for good: these stanzas were never
    /// acknowledged and must be bounced, stored or retried elsewhere.
    Undelivered(Vec<Element>),
}

/// Whether a session that ended for `reason` may be resumed: only a
/// connection that broke, never one that was closed or refused.
pub(crate) fn ended_broken(reason: &CloseReason) -> bool {
    matches!(
        reason,
        CloseReason::ConnectionLost | CloseReason::PeerNotResponding
    )
}

/// What to hand over of `live` when the session bound to `jid` ends for
/// `reason`; `None` when there is nothing.
pub(crate) fn leftover(
    mut live: Live,
    reason: &CloseReason,
    jid: Option<FullJid>,
) -> Option<Leftover> {
    match jid {
        Some(jid) if ended_broken(reason) && live.id.is_some() => {
            Some(Leftover::Resumable(live.into_session(jid)))
        }
        _ => {
            let stanzas = live.unacked.take_all_elements();
            (!stanzas.is_empty()).then_some(Leftover::Undelivered(stanzas))
        }
    }
}
