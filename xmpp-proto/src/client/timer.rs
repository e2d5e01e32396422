//! The client's timers, one slot each in the stream core's table.

use crate::stream::TimerKind;

/// The client's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(unreachable_pub)] // named by the sealed `Role` trait
pub enum ClientTimer {
    /// Negotiation must finish by then.
    Negotiation,
    /// Our close was not answered.
    Close,
    /// Time for a whitespace keepalive.
    Keepalive,
    /// The server has been quiet: ping it.
    Ping,
    /// The ping (or `<r/>`) was not answered: the connection is dead.
    PingAnswer,
    /// The oldest IQ request times out.
    Iq,
    /// Stream management wants to ask for an acknowledgement.
    SmRequest,
}

impl TimerKind for ClientTimer {
    const ALL: &'static [Self] = &[
        ClientTimer::Negotiation,
        ClientTimer::Close,
        ClientTimer::Keepalive,
        ClientTimer::Ping,
        ClientTimer::PingAnswer,
        ClientTimer::Iq,
        ClientTimer::SmRequest,
    ];
    const SM_REQUEST: Self = ClientTimer::SmRequest;
}
