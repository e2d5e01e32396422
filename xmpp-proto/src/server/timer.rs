//! The server's timers, one slot each in the stream core's table.

use crate::stream::TimerKind;

/// The server's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(unreachable_pub)] // named by the sealed `Role` trait
pub enum ServerTimer {
    /// Negotiation must finish by then.
    Negotiation,
    /// Our close was not answered.
    Close,
    /// Stream management wants to ask for an acknowledgement.
    SmRequest,
    /// Probe a bound client that has been silent.
    Probe,
    /// The probe's answer is late: the connection is dead.
    ProbeAnswer,
    /// A server-to-server stream may have carried nothing for too long.
    Idle,
    /// A peer's `db:verify` window ends: reading may go on.
    VerifyWindow,
}

impl TimerKind for ServerTimer {
    const ALL: &'static [Self] = &[
        ServerTimer::Negotiation,
        ServerTimer::Close,
        ServerTimer::SmRequest,
        ServerTimer::Probe,
        ServerTimer::ProbeAnswer,
        ServerTimer::Idle,
        ServerTimer::VerifyWindow,
    ];
    const SM_REQUEST: Self = ServerTimer::SmRequest;
}
