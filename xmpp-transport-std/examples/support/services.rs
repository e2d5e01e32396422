//! The services of the example servers besides client sessions:
//! `--component NAME:SECRET` and the group chat rooms on
//! `conference.DOMAIN`. (Shared by the examples of both transports; not
//! an example of its own.)

use std::time::SystemTime;

use xmpp_proto::hub::Hub;
use xmpp_proto::jid::BareJid;
use xmpp_proto::random::{OsRandom, RandomSource};
use xmpp_transport_std::clock;

/// The component domain and secret of one `--component` value: `NAME`
/// is a subdomain of `domain` (`echo` is `echo.DOMAIN`) or, with a dot
/// in it, a whole domain.
pub(crate) fn parse_component(domain: &str, spec: &str) -> Result<(String, String), String> {
    let (name, secret) = spec
        .split_once(':')
        .filter(|(name, secret)| !name.is_empty() && !secret.is_empty())
        .ok_or(format!("--component {spec:?}: expected NAME:SECRET"))?;
    let component = if name.contains('.') {
        name.to_owned()
    } else {
        format!("{name}.{domain}")
    };
    Ok((component, secret.to_owned()))
}

/// `hub` serving group chat rooms on `conference.DOMAIN`, with the
/// system's time of day for history stamps (unchanged, with a warning,
/// if that is no valid domain).
pub(crate) fn with_rooms(hub: Hub, domain: &str) -> Hub {
    let rooms = format!("conference.{domain}");
    if BareJid::new(&rooms).is_err() {
        eprintln!("no group chat: {rooms} is not a valid domain");
        return hub;
    }
    let mut secret = [0u8; 16];
    // Without randomness, occupant ids are still stable, only guessable.
    let _ = OsRandom.fill(&mut secret);
    hub.with_rooms(&rooms, secret)
        .expect("checked just above")
        .with_wall_clock(Box::new(|| clock::utc_stamp(SystemTime::now())))
}
