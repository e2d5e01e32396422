use crate::muc::service::{RoomService, ServiceLimits};
use crate::stanza::Stanza;
use crate::xml::Element;

const USERS: [&str; 4] = [
    "juliet@example.com/balcony",
    "romeo@example.com/garden",
    "romeo@example.com/phone",
    "nurse@example.com/kitchen",
];
const ROOMS: [&str; 3] = ["tea", "war", "conference.example.com"];
const NICKS: [&str; 4] = ["juliet", "romeo", "nurse", "Juliet"];

/// The group chat service on operations taken from the data: joins
/// (with and without password and history), presence updates, nickname
/// changes, leaving, messages, subjects, private messages, invitations,
/// kicks, bans, membership, configuration, disco, and raw stanzas, from
/// four users of whom two are one account. After each operation the
/// service's invariants must hold, and everything it sends must come from
/// its domain and go to a user.
pub fn muc(data: &[u8]) {
    let limits = ServiceLimits {
        rooms: 2,
        occupants: 3,
        history: 3,
        history_bytes: 2048,
    };
    let mut service = RoomService::new("conference.example.com", [1; 16])
        .expect("valid")
        .with_limits(limits);
    let mut ops = data;
    let mut out = Vec::new();
    while let [op, param, rest @ ..] = ops {
        ops = rest;
        let from = USERS[usize::from(op >> 6)];
        let room = ROOMS[usize::from(param & 3) % ROOMS.len()];
        let room = if room.contains('.') {
            room.to_owned()
        } else {
            format!("{room}@conference.example.com")
        };
        let nick = NICKS[usize::from(param >> 2 & 3)];
        let xml = match op & 15 {
            0 => format!(
                "<presence to='{room}/{nick}'><x xmlns='http://jabber.org/protocol/muc'/></presence>"
            ),
            1 => format!(
                "<presence to='{room}/{nick}'><x xmlns='http://jabber.org/protocol/muc'><password>p{}</password><history maxstanzas='{}'/></x></presence>",
                param & 1,
                param >> 5
            ),
            2 => format!("<presence to='{room}/{nick}'><status>s</status></presence>"),
            3 => format!("<presence to='{room}/{nick}' type='unavailable'/>"),
            4 => format!(
                "<message to='{room}' type='groupchat' id='m{param}'><body>{}</body></message>",
                "x".repeat(usize::from(*param) * 4)
            ),
            5 => format!(
                "<message to='{room}' type='groupchat'><subject>s{param}</subject></message>"
            ),
            6 => format!("<message to='{room}/{nick}' type='chat'><body>pm</body></message>"),
            7 => format!(
                "<message to='{room}'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='{}'/></x></message>",
                USERS[usize::from(param >> 6)]
            ),
            8 => format!(
                "<iq type='set' id='k' to='{room}'><query xmlns='http://jabber.org/protocol/muc#admin'><item nick='{nick}' role='none'/></query></iq>"
            ),
            9 => {
                let affiliation = ["outcast", "member", "none", "owner"][usize::from(param >> 6)];
                let target = USERS[usize::from(param >> 4 & 3)]
                    .split('/')
                    .next()
                    .unwrap_or_default();
                format!(
                    "<iq type='set' id='b' to='{room}'><query xmlns='http://jabber.org/protocol/muc#admin'><item jid='{target}' affiliation='{affiliation}'/></query></iq>"
                )
            }
            10 => format!(
                "<iq type='set' id='c' to='{room}'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_membersonly'><value>{}</value></field><field var='muc#roomconfig_passwordprotectedroom'><value>{}</value></field><field var='muc#roomconfig_roomsecret'><value>p1</value></field></x></query></iq>",
                param & 1,
                param >> 1 & 1
            ),
            11 => {
                let node = if param & 1 == 0 { "info" } else { "items" };
                format!(
                    "<iq type='get' id='d' to='{room}'><query xmlns='http://jabber.org/protocol/disco#{node}'/></iq>"
                )
            }
            12 => format!(
                "<iq type='get' id='o' to='{room}'><query xmlns='http://jabber.org/protocol/muc#owner'/></iq>"
            ),
            13 => format!("<presence to='{room}/{nick}' type='error'/>"),
            _ => {
                // A raw stanza of the data's own.
                let take = usize::from(param % 64).min(ops.len());
                let (raw, rest) = ops.split_at(take);
                ops = rest;
                String::from_utf8_lossy(raw).into_owned()
            }
        };
        let Some(mut el) = Element::read_from(xml.as_bytes()) else {
            continue;
        };
        el.set_attr("from", from);
        let Ok(stanza) = Stanza::from_element(el) else {
            continue;
        };
        service.handle(&stanza, "2026-12-03T10:00:00Z", &mut out);
        service.check_invariants();
        for sent in out.drain(..) {
            let from = sent.attr("from").unwrap_or_default();
            let to = sent.attr("to").unwrap_or_default();
            assert!(
                from.ends_with("conference.example.com")
                    || from.contains("@conference.example.com"),
                "sent from outside the service: {from}"
            );
            assert!(
                USERS.contains(&to) || USERS.iter().any(|u| u.starts_with(to)),
                "sent to {to}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_operation_runs() {
        let mut data = Vec::new();
        for round in 0..4u8 {
            for op in 0..16u8 {
                data.extend_from_slice(&[op | (round << 6), op.wrapping_mul(37) ^ round]);
            }
        }
        super::muc(&data);
    }
}
