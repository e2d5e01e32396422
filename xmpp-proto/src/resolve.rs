//! Where to connect for a domain: the order of DNS SRV answers (RFC
//! 2782, RFC 6120 §3.2, XEP-0368), as pure code. The transports ask DNS
//! (`_xmpps-client._tcp.DOMAIN` for direct TLS, `_xmpp-client._tcp.DOMAIN`
//! for STARTTLS) and hand the answers here; what comes back is the list
//! of hosts and ports to try, in order, each with how to secure it.
//!
//! - Lower priority first; among equal priorities, direct TLS first
//!   (XEP-0368 §3), then by weight: a record is picked with a chance
//!   proportional to its weight, then the next among the rest (RFC 2782).
//! - A service whose only answer is the target `.` is decidedly not
//!   offered. Both so: no service at all ([`Plan::NoService`]).
//! - No records at all: the domain itself, on port 5222 with STARTTLS.
//!
//! ```
//! use xmpp_proto::resolve::{Plan, Security, SrvRecord, plan_client};
//!
//! let starttls = [SrvRecord::new(10, 0, 5222, "xmpp.example.net.")];
//! let direct = [SrvRecord::new(10, 0, 443, "tls.example.net.")];
//! let Plan::Candidates(order) = plan_client("example.com", &direct, &starttls, &mut [0; 2].iter().copied().cycle()) else {
//!     panic!()
//! };
//! assert_eq!((order[0].host.as_str(), order[0].port, order[0].security), ("tls.example.net", 443, Security::DirectTls));
//! assert_eq!((order[1].host.as_str(), order[1].port), ("xmpp.example.net", 5222));
//! ```

/// One SRV answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SrvRecord {
    /// Lower is tried first.
    pub priority: u16,
    /// Among equal priorities, the share of attempts.
    pub weight: u16,
    /// The port.
    pub port: u16,
    /// The host (a trailing dot is allowed); `.` means "no service".
    pub target: String,
}

impl SrvRecord {
    /// A record.
    pub fn new(priority: u16, weight: u16, port: u16, target: &str) -> Self {
        SrvRecord {
            priority,
            weight,
            port,
            target: target.to_owned(),
        }
    }

    /// Whether this is the "no service here" answer (target `.`).
    pub fn is_no_service(&self) -> bool {
        self.target == "." || self.target.is_empty()
    }
}

/// How a candidate is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (`_xmpps-client`).
    DirectTls,
    /// STARTTLS (`_xmpp-client`, or the fallback).
    StartTls,
}

/// A host and port to try.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The host name (no trailing dot), to resolve to addresses.
    pub host: String,
    /// The port.
    pub port: u16,
    /// How to secure the stream there.
    pub security: Security,
}

/// What to do for a domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Try these, in order.
    Candidates(Vec<Candidate>),
    /// The domain says it offers no such service (every SRV answer was
    /// `.`).
    NoService,
}

/// The order to try for `domain`, from the answers to
/// `_xmpps-client._tcp` (`direct`) and `_xmpp-client._tcp` (`starttls`).
/// `random` gives the bytes that pick among equal priorities by weight
/// (any iterator of bytes; the transports pass the operating system's).
pub fn plan_client(
    domain: &str,
    direct: &[SrvRecord],
    starttls: &[SrvRecord],
    random: &mut dyn Iterator<Item = u8>,
) -> Plan {
    plan(domain, CLIENT_PORT, direct, starttls, random)
}

/// The port of the fallback for clients (RFC 6120 §3.2.2).
pub const CLIENT_PORT: u16 = 5222;

/// The port of the fallback for servers (RFC 6120 §3.2.2).
pub const SERVER_PORT: u16 = 5269;

/// The order to try for a server-to-server connection to `domain`, from
/// the answers to `_xmpps-server._tcp` (`direct`) and
/// `_xmpp-server._tcp` (`starttls`): the same rules as for clients, with
/// port 5269 as the fallback.
///
/// ```
/// use xmpp_proto::resolve::{Plan, Security, SrvRecord, plan_server};
///
/// let Plan::Candidates(order) = plan_server("example.net", &[], &[], &mut std::iter::repeat(0)) else {
///     panic!()
/// };
/// assert_eq!((order[0].host.as_str(), order[0].port, order[0].security), ("example.net", 5269, Security::StartTls));
/// let starttls = [SrvRecord::new(0, 0, 0, ".")];
/// assert_eq!(plan_server("example.net", &[], &starttls, &mut std::iter::repeat(0)), Plan::NoService);
/// ```
pub fn plan_server(
    domain: &str,
    direct: &[SrvRecord],
    starttls: &[SrvRecord],
    random: &mut dyn Iterator<Item = u8>,
) -> Plan {
    plan(domain, SERVER_PORT, direct, starttls, random)
}

fn plan(
    domain: &str,
    default_port: u16,
    direct: &[SrvRecord],
    starttls: &[SrvRecord],
    random: &mut dyn Iterator<Item = u8>,
) -> Plan {
    let only_dot =
        |records: &[SrvRecord]| !records.is_empty() && records.iter().all(SrvRecord::is_no_service);
    let (direct_off, starttls_off) = (only_dot(direct), only_dot(starttls));
    if direct_off && starttls_off {
        return Plan::NoService;
    }
    let mut tagged: Vec<(SrvRecord, Security)> = Vec::new();
    tagged.extend(
        direct
            .iter()
            .filter(|r| !r.is_no_service())
            .map(|r| (r.clone(), Security::DirectTls)),
    );
    tagged.extend(
        starttls
            .iter()
            .filter(|r| !r.is_no_service())
            .map(|r| (r.clone(), Security::StartTls)),
    );
    if tagged.is_empty() {
        if direct_off || starttls_off {
            // One service said no, the other said nothing.
            return if starttls_off {
                Plan::NoService
            } else {
                Plan::Candidates(vec![fallback(domain, default_port)])
            };
        }
        return Plan::Candidates(vec![fallback(domain, default_port)]);
    }
    // Priority, then direct TLS before STARTTLS; weights decide within.
    tagged.sort_by_key(|(r, s)| (r.priority, *s != Security::DirectTls));
    let mut order = Vec::with_capacity(tagged.len());
    let mut start = 0;
    while start < tagged.len() {
        let key = (tagged[start].0.priority, tagged[start].1);
        let end = tagged[start..]
            .iter()
            .position(|(r, s)| (r.priority, *s) != key)
            .map_or(tagged.len(), |n| start + n);
        let mut group: Vec<(SrvRecord, Security)> = tagged[start..end].to_vec();
        by_weight(&mut group, random, &mut order);
        start = end;
    }
    Plan::Candidates(order)
}

/// RFC 2782's selection within one priority: a random point in
/// `0..=total` of the weights; `0` takes a record of weight zero if there
/// is one (their small chance), anything else the record whose share of
/// the running sum holds it, so that shares follow the weights exactly.
fn by_weight(
    group: &mut Vec<(SrvRecord, Security)>,
    random: &mut dyn Iterator<Item = u8>,
    order: &mut Vec<Candidate>,
) {
    let mut draw = |below: u32| -> u32 {
        let bytes = [0u8; 4].map(|_| random.next().unwrap_or(0));
        u32::from_be_bytes(bytes) % below
    };
    while !group.is_empty() {
        let total: u32 = group.iter().map(|(r, _)| u32::from(r.weight)).sum();
        let zero = group.iter().position(|(r, _)| r.weight == 0);
        let pick = match (total, zero) {
            (0, _) => 0,
            (_, zero) => {
                let mut point = draw(total + 1);
                match (point, zero) {
                    (0, Some(z)) => z,
                    _ => {
                        if point == 0 {
                            point = 1 + draw(total);
                        }
                        let mut running = 0u32;
                        group
                            .iter()
                            .position(|(r, _)| {
                                running += u32::from(r.weight);
                                r.weight > 0 && running >= point
                            })
                            .unwrap_or(group.len() - 1)
                    }
                }
            }
        };
        let (record, security) = group.remove(pick);
        order.push(Candidate {
            host: record.target.trim_end_matches('.').to_owned(),
            port: record.port,
            security,
        });
    }
}

fn fallback(domain: &str, port: u16) -> Candidate {
    Candidate {
        host: domain.to_owned(),
        port,
        security: Security::StartTls,
    }
}

/// The `rel` of a WebSocket endpoint in host-meta (XEP-0156).
pub const WEBSOCKET_REL: &str = "urn:xmpp:alt-connections:websocket";

/// The XRD namespace of host-meta documents (RFC 6415).
const XRD_NS: &str = "http://docs.oasis-open.org/ns/xri/xrd-1.0";

/// The WebSocket endpoints a host-meta document (XEP-0156, the XRD form
/// served at `https://DOMAIN/.well-known/host-meta`) announces, in
/// document order: only `wss://` ones, since a domain's WebSocket
/// endpoint found over HTTPS must not downgrade to plaintext. An empty
/// list if there is none or the document is not XRD.
///
/// ```
/// use xmpp_proto::resolve::websocket_endpoints;
///
/// let xrd = br#"<?xml version='1.0' encoding='utf-8'?>
/// <XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>
///   <Link rel="urn:xmpp:alt-connections:xbosh" href="https://example.com/http-bind"/>
///   <Link rel="urn:xmpp:alt-connections:websocket" href="wss://example.com/xmpp-websocket"/>
///   <Link rel="urn:xmpp:alt-connections:websocket" href="ws://example.com/insecure"/>
/// </XRD>"#;
/// assert_eq!(websocket_endpoints(xrd), ["wss://example.com/xmpp-websocket"]);
/// ```
pub fn websocket_endpoints(xrd: &[u8]) -> Vec<String> {
    let body = crate::xml::without_xml_declaration(xrd).trim_ascii_start();
    let Ok((root, _)) = crate::xml::read_one(body) else {
        return Vec::new();
    };
    if !root.is("XRD", XRD_NS) {
        return Vec::new();
    }
    root.children()
        .filter(|link| link.is("Link", XRD_NS) && link.attr("rel") == Some(WEBSOCKET_REL))
        .filter_map(|link| link.attr("href"))
        .filter(|href| href.starts_with("wss://"))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(plan: &Plan) -> Vec<(String, u16, Security)> {
        match plan {
            Plan::Candidates(c) => c
                .iter()
                .map(|c| (c.host.clone(), c.port, c.security))
                .collect(),
            Plan::NoService => Vec::new(),
        }
    }

    fn zeros() -> impl Iterator<Item = u8> {
        std::iter::repeat(0)
    }

    #[test]
    fn lower_priority_first_and_direct_tls_first_among_equals() {
        let direct = [
            SrvRecord::new(20, 0, 5223, "b.example.net."),
            SrvRecord::new(10, 0, 443, "a.example.net."),
        ];
        let starttls = [
            SrvRecord::new(10, 0, 5222, "c.example.net."),
            SrvRecord::new(5, 0, 5222, "d.example.net"),
        ];
        let plan = plan_client("example.com", &direct, &starttls, &mut zeros());
        assert_eq!(
            hosts(&plan),
            [
                ("d.example.net".into(), 5222, Security::StartTls),
                ("a.example.net".into(), 443, Security::DirectTls),
                ("c.example.net".into(), 5222, Security::StartTls),
                ("b.example.net".into(), 5223, Security::DirectTls),
            ]
        );
    }

    /// A repeatable stream of bytes (xorshift), for shares over many runs.
    fn bytes(seed: u64) -> impl Iterator<Item = u8> {
        let mut state = seed | 1;
        std::iter::from_fn(move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            Some(state as u8)
        })
    }

    /// How often each host comes first in 100,000 plans.
    fn first_shares(records: &[SrvRecord]) -> std::collections::HashMap<String, f64> {
        let mut random = bytes(42);
        let mut counts = std::collections::HashMap::new();
        for _ in 0..100_000 {
            let order = hosts(&plan_client("example.com", &[], records, &mut random));
            assert_eq!(order.len(), records.len(), "every record is tried");
            *counts.entry(order[0].0.clone()).or_insert(0.0) += 1.0;
        }
        counts.values_mut().for_each(|c| *c /= 100_000.0);
        counts
    }

    #[test]
    fn weights_share_the_first_place_in_proportion() {
        let shares = first_shares(&[
            SrvRecord::new(10, 1, 5222, "light."),
            SrvRecord::new(10, 3, 5222, "heavy."),
        ]);
        assert!((shares["heavy"] - 0.75).abs() < 0.01, "{shares:?}");
        assert!((shares["light"] - 0.25).abs() < 0.01, "{shares:?}");
    }

    #[test]
    fn zero_weights_get_their_small_chance() {
        // Weight 0 against 9: first one time in ten (a point of 0 in 0..=9).
        let shares = first_shares(&[
            SrvRecord::new(10, 9, 5222, "weighted."),
            SrvRecord::new(10, 0, 5222, "zero."),
        ]);
        assert!((shares["zero"] - 0.1).abs() < 0.01, "{shares:?}");
        // All zero: in the order given.
        let order = hosts(&plan_client(
            "example.com",
            &[],
            &[SrvRecord::new(1, 0, 1, "a."), SrvRecord::new(1, 0, 2, "b.")],
            &mut zeros(),
        ));
        assert_eq!((order[0].1, order[1].1), (1, 2));
    }

    #[test]
    fn a_dot_target_means_no_service() {
        let dot = [SrvRecord::new(0, 0, 0, ".")];
        assert_eq!(
            plan_client("example.com", &dot, &dot, &mut zeros()),
            Plan::NoService
        );
        // STARTTLS says no, direct TLS says nothing: no service.
        assert_eq!(
            plan_client("example.com", &[], &dot, &mut zeros()),
            Plan::NoService
        );
        // Direct TLS says no, STARTTLS is offered.
        let starttls = [SrvRecord::new(0, 0, 5222, "xmpp.example.com.")];
        assert_eq!(
            hosts(&plan_client("example.com", &dot, &starttls, &mut zeros())),
            [("xmpp.example.com".into(), 5222, Security::StartTls)]
        );
        // Direct TLS says no, STARTTLS says nothing: the fallback.
        assert_eq!(
            hosts(&plan_client("example.com", &dot, &[], &mut zeros())),
            [("example.com".into(), 5222, Security::StartTls)]
        );
    }

    #[test]
    fn no_records_fall_back_to_the_domain_on_5222() {
        assert_eq!(
            hosts(&plan_client("example.com", &[], &[], &mut zeros())),
            [("example.com".into(), 5222, Security::StartTls)]
        );
    }
}
