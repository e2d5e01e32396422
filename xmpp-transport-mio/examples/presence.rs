//! An IM load generator on the mio driver, for any server: one account
//! with N contacts, all subscribed both ways, measured at two things a
//! server does for every real user: a login into N online contacts until
//! their N presences have arrived, and one presence change fanned out to
//! the N contacts.
//!
//! ```text
//! cargo run --release -p xmpp-transport-mio --example presence -- \
//!     --server 127.0.0.1:5222 --domain localhost --users user --password pw \
//!     --contacts 500 --ca ca.crt
//! ```

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Account, Flags, percentile_ms};
use xmpp_proto::client::{Client, ClientEvent};
use xmpp_proto::jid::BareJid;
use xmpp_proto::roster::Subscription;
use xmpp_proto::stanza::{Presence, PresenceType};
use xmpp_transport_mio::{ConnId, Driver, DriverConfig, DriverEvent};
use xmpp_transport_std::tls::ClientTls;

const HELP: &str = "\
presence: a login into N online contacts, and one presence fanned out to
them, on any XMPP server.

Usage: presence --server HOST:PORT --domain D --users PREFIX --password P
                [--contacts N] [--ca FILE] [options]

  --server HOST:PORT   where to connect
  --domain D           the XMPP domain (certificates are checked against it)
  --users PREFIX       PREFIX1@D is the measured account, PREFIX2 ..
                       PREFIX(N+1) its contacts; all must exist
  --password P         every account's password
  --contacts N         how many contacts (default 500)
  --rate R             contact logins per second (default 100)
  --logins L           measured logins (default 7)
  --updates U          measured presence changes (default 21)
  --ca FILE            trust the CA certificates in FILE (default: public roots)
  --direct-tls         TLS from the first byte (XEP-0368) instead of STARTTLS
  -h, --help           this text

First every contact is made subscribed both ways with the measured
account, through the protocol, so on any server (what is already there
is kept). Then, with every contact online:
- login: from connecting the measured account until the available
  presences of all N contacts have arrived (it asks for its roster and
  sends its initial presence as soon as it is bound, as clients do);
- fan-out: the measured account changes its status; from sending until
  all N contacts have received it; deliveries per second is N over that.
Prints medians and RESULT lines.";

/// Every phase gives up after this long.
const PHASE_LIMIT: Duration = Duration::from_secs(300);

/// The measured account is index 0 (PREFIX1); contacts are 1..=N.
const MEASURED: usize = 0;

/// A login being measured: when it connected, when it sent its initial
/// presence, which contacts' presence has arrived.
struct LoginProbe {
    connected: Instant,
    presence_sent: Option<Instant>,
    seen: Vec<bool>,
    count: usize,
    done: Option<Instant>,
}

/// A presence change being fanned out: its status text and who got it.
struct FanoutProbe {
    status: String,
    sent: Instant,
    seen: Vec<bool>,
    count: usize,
    done: Option<Instant>,
}

struct Farm<'a> {
    driver: Driver<Client>,
    account: Account<'a>,
    addr: SocketAddr,
    tls: Arc<ClientTls>,
    by_conn: HashMap<ConnId, usize>,
    conns: Vec<Option<ConnId>>,
    contacts: usize,
    /// Contacts with their roster fetched and initial presence sent.
    ready: usize,
    /// The measured account is bound and has its roster.
    measured_roster: bool,
    login: Option<LoginProbe>,
    fanout: Option<FanoutProbe>,
}

fn main() -> ExitCode {
    common::exit("presence", run())
}

fn run() -> Result<(), String> {
    let flags = Flags::parse(HELP)?;
    let addr = common::resolve(flags.required("server")?)?;
    let account = Account::from_flags(&flags, "presence")?;
    let contacts: usize = flags.number("contacts", 500)?;
    let rate: f64 = flags.number("rate", 100.0)?;
    let logins: usize = flags.number("logins", 7)?;
    let updates: usize = flags.number("updates", 21)?;
    let tls = common::client_tls(flags.get("ca"), account.domain)?;
    if contacts == 0 || rate <= 0.0 || logins == 0 || updates == 0 {
        return Err("--contacts, --rate, --logins and --updates must be positive".into());
    }
    let mut farm = Farm {
        driver: Driver::new(DriverConfig::default()).map_err(|e| e.to_string())?,
        account,
        addr,
        tls,
        by_conn: HashMap::new(),
        conns: vec![None; contacts + 1],
        contacts,
        ready: 0,
        measured_roster: false,
        login: None,
        fanout: None,
    };

    let t0 = Instant::now();
    farm.contacts_online(rate)?;
    eprintln!(
        "presence: {contacts} contacts online after {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    farm.subscribe_all()?;
    eprintln!(
        "presence: every contact subscribed both ways after {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    let (mut totals, mut afters) = (Vec::new(), Vec::new());
    for round in 1..=logins {
        farm.log_out_measured()?;
        let (total, after) = farm.measure_login()?;
        eprintln!(
            "presence: login {round}: {contacts} presences {:.1} ms after connecting, {:.1} ms after the initial presence",
            total.as_secs_f64() * 1e3,
            after.as_secs_f64() * 1e3
        );
        totals.push(total);
        afters.push(after);
    }
    let mut fanouts = Vec::new();
    for round in 1..=updates {
        fanouts.push(farm.measure_fanout(round)?);
    }
    farm.close_all()?;

    totals.sort_unstable();
    afters.sort_unstable();
    fanouts.sort_unstable();
    let login_ms = percentile_ms(&totals, 50.0);
    let after_ms = percentile_ms(&afters, 50.0);
    let fanout_ms = percentile_ms(&fanouts, 50.0);
    let per_s = contacts as f64 / (fanout_ms / 1e3);
    println!(
        "login:   all {contacts} presences {login_ms:.1} ms after connecting ({after_ms:.1} ms after the initial presence; median of {logins})"
    );
    println!(
        "fan-out: one presence to {contacts} contacts in {fanout_ms:.2} ms (median of {updates}) = {per_s:.0} deliveries/s"
    );
    println!(
        "RESULT path=login-presence-{contacts} ms={login_ms:.1} ms_after_initial_presence={after_ms:.1}"
    );
    println!(
        "RESULT path=presence-fanout-{contacts} ms={fanout_ms:.2} deliveries_per_s={per_s:.0}"
    );
    Ok(())
}

impl Farm<'_> {
    fn bare(&self, i: usize) -> BareJid {
        let jid = format!("{}{}@{}", self.account.prefix, i + 1, self.account.domain);
        BareJid::new(&jid).expect("--users and --domain make valid JIDs")
    }

    /// The contact index of a bare JID, if it is one of ours.
    fn index_of(&self, jid: &str) -> Option<usize> {
        let bare = jid.split('/').next()?;
        let (local, domain) = bare.split_once('@')?;
        if domain != self.account.domain {
            return None;
        }
        let n: usize = local.strip_prefix(self.account.prefix)?.parse().ok()?;
        (1..=self.contacts + 1).contains(&n).then(|| n - 1)
    }

    fn connect(&mut self, i: usize) -> Result<(), String> {
        let conn = self
            .account
            .connect(&mut self.driver, i + 1, self.addr, &self.tls, |c| c)?;
        self.by_conn.insert(conn, i);
        self.conns[i] = Some(conn);
        Ok(())
    }

    fn command<R>(
        &mut self,
        i: usize,
        f: impl FnOnce(&mut Client, xmpp_proto::Time) -> R,
    ) -> Option<R> {
        self.driver.command(self.conns[i]?, f)
    }

    /// Runs the driver, handling every event, until `done` holds.
    fn run_until(&mut self, what: &str, done: impl Fn(&Self) -> bool) -> Result<(), String> {
        let deadline = Instant::now() + PHASE_LIMIT;
        while !done(self) {
            if Instant::now() > deadline {
                return Err(format!("{what}: not done after {PHASE_LIMIT:?}"));
            }
            self.driver
                .poll(Some(Duration::from_millis(10)))
                .map_err(|e| e.to_string())?;
            self.handle_events(what)?;
        }
        Ok(())
    }

    fn handle_events(&mut self, what: &str) -> Result<(), String> {
        while let Some(event) = self.driver.next_event() {
            match event {
                DriverEvent::Endpoint { conn, event } => {
                    if let Some(&i) = self.by_conn.get(&conn) {
                        self.handle(i, event);
                    }
                }
                DriverEvent::Closed { conn, error } => {
                    let Some(i) = self.by_conn.remove(&conn) else {
                        continue;
                    };
                    self.conns[i] = None;
                    if let Some(e) = error {
                        return Err(format!("{what}: account {}: {e}", i + 1));
                    }
                    if i != MEASURED {
                        return Err(format!("{what}: contact {} went away", i + 1));
                    }
                }
                DriverEvent::Source { .. } => {}
            }
        }
        Ok(())
    }

    fn handle(&mut self, i: usize, event: ClientEvent) {
        let now = Instant::now();
        match event {
            ClientEvent::Online { .. } => {
                let _ = self.command(i, |c, now| c.request_roster(now));
                if i == MEASURED {
                    // As clients do: presence right after the roster
                    // request, without waiting for its answer.
                    let _ = self.command(i, |c, now| {
                        c.send(now, Presence::builder(PresenceType::Available).build())
                    });
                    if let Some(login) = &mut self.login {
                        login.presence_sent = Some(now);
                    }
                }
            }
            ClientEvent::RosterReceived if i == MEASURED => self.measured_roster = true,
            ClientEvent::RosterReceived => {
                let _ = self.command(i, |c, now| {
                    c.send(now, Presence::builder(PresenceType::Available).build())
                });
                self.ready += 1;
            }
            ClientEvent::SubscriptionRequest { from, .. } => {
                let _ = self.command(i, |c, now| c.approve_subscription(now, &from));
                // A contact asks back until it sees the measured account.
                if i != MEASURED {
                    let sees = self.sees(i, &from);
                    if !sees {
                        let _ = self.command(i, |c, now| c.subscribe(now, &from));
                    }
                }
            }
            ClientEvent::Presence(presence) if presence.kind() == PresenceType::Available => {
                let Some(from) = presence.from().and_then(|f| self.index_of(f)) else {
                    return;
                };
                if i == MEASURED {
                    if let Some(login) = &mut self.login {
                        if from != MEASURED && !login.seen[from] {
                            login.seen[from] = true;
                            login.count += 1;
                            if login.count == self.contacts {
                                login.done = Some(now);
                            }
                        }
                    }
                } else if from == MEASURED {
                    if let Some(fanout) = &mut self.fanout {
                        if presence.status().as_deref() == Some(fanout.status.as_str())
                            && !fanout.seen[i]
                        {
                            fanout.seen[i] = true;
                            fanout.count += 1;
                            if fanout.count == self.contacts {
                                fanout.done = Some(now);
                            }
                        }
                    }
                }
            }
            ClientEvent::Closed { reason } if i != MEASURED => {
                eprintln!("presence: contact {}: closed: {reason}", i + 1);
            }
            _ => {}
        }
    }

    /// Whether account `i` has `jid` on its roster with a subscription
    /// to its presence (or asked for one).
    fn sees(&self, i: usize, jid: &BareJid) -> bool {
        let Some(client) = self.conns[i].and_then(|c| self.driver.endpoint(c)) else {
            return false;
        };
        client.roster().get(jid.as_str()).is_some_and(|item| {
            item.ask || matches!(item.subscription, Subscription::To | Subscription::Both)
        })
    }

    /// How many contacts the measured account has subscribed both ways.
    fn mutual(&self) -> usize {
        let Some(client) = self.conns[MEASURED].and_then(|c| self.driver.endpoint(c)) else {
            return 0;
        };
        client
            .roster()
            .items()
            .filter(|item| item.subscription == Subscription::Both)
            .filter(|item| {
                self.index_of(item.jid.as_str())
                    .is_some_and(|i| i != MEASURED)
            })
            .count()
    }

    /// Logs every contact in at `rate` per second and waits until each
    /// has its roster and has sent initial presence.
    fn contacts_online(&mut self, rate: f64) -> Result<(), String> {
        let start = Instant::now();
        let mut started = 0;
        while started < self.contacts {
            let due = ((start.elapsed().as_secs_f64() * rate) as usize + 1).min(self.contacts);
            while started < due {
                started += 1;
                self.connect(started)?;
            }
            self.driver
                .poll(Some(Duration::from_millis(5)))
                .map_err(|e| e.to_string())?;
            self.handle_events("contacts log in")?;
        }
        let n = self.contacts;
        self.run_until("contacts log in", |farm| farm.ready >= n)
    }

    /// Logs the measured account in and subscribes it both ways with
    /// every contact that is not yet.
    fn subscribe_all(&mut self) -> Result<(), String> {
        self.measured_roster = false;
        self.connect(MEASURED)?;
        self.run_until("subscribing", |farm| farm.measured_roster)?;
        for i in 1..=self.contacts {
            let contact = self.bare(i);
            if !self.sees(MEASURED, &contact) {
                let _ = self.command(MEASURED, |c, now| c.subscribe(now, &contact));
            }
        }
        let n = self.contacts;
        self.run_until("subscribing", |farm| farm.mutual() >= n)
    }

    fn log_out_measured(&mut self) -> Result<(), String> {
        if self.conns[MEASURED].is_some() {
            let _ = self.command(MEASURED, |c, now| c.close(now));
            self.run_until("logging out", |farm| farm.conns[MEASURED].is_none())?;
        }
        Ok(())
    }

    /// One login of the measured account: (connect to all presences,
    /// initial presence to all presences).
    fn measure_login(&mut self) -> Result<(Duration, Duration), String> {
        self.login = Some(LoginProbe {
            connected: Instant::now(),
            presence_sent: None,
            seen: vec![false; self.contacts + 1],
            count: 0,
            done: None,
        });
        self.connect(MEASURED)?;
        self.run_until("login", |farm| {
            farm.login.as_ref().is_some_and(|l| l.done.is_some())
        })?;
        let login = self.login.take().expect("measured");
        let done = login.done.expect("done");
        let sent = login.presence_sent.unwrap_or(login.connected);
        Ok((done - login.connected, done - sent))
    }

    /// One status change of the measured account, until every contact
    /// has it.
    fn measure_fanout(&mut self, round: usize) -> Result<Duration, String> {
        let status = format!("update {round}");
        let presence = Presence::builder(PresenceType::Available)
            .status(&status)
            .build();
        self.fanout = Some(FanoutProbe {
            status,
            sent: Instant::now(),
            seen: vec![false; self.contacts + 1],
            count: 0,
            done: None,
        });
        self.command(MEASURED, |c, now| c.send(now, presence))
            .ok_or("fan-out: the measured account is offline")?
            .map_err(|e| e.to_string())?;
        self.run_until("fan-out", |farm| {
            farm.fanout.as_ref().is_some_and(|f| f.done.is_some())
        })?;
        let fanout = self.fanout.take().expect("measured");
        Ok(fanout.done.expect("done") - fanout.sent)
    }

    fn close_all(&mut self) -> Result<(), String> {
        for i in 0..=self.contacts {
            let _ = self.command(i, |c, now| c.close(now));
        }
        let end = Instant::now() + Duration::from_secs(10);
        while !self.driver.is_empty() && Instant::now() < end {
            self.driver
                .poll(Some(Duration::from_millis(100)))
                .map_err(|e| e.to_string())?;
            while self.driver.next_event().is_some() {}
        }
        Ok(())
    }
}
