//! The clock of the std transports: the operating system's monotonic
//! clock (`std::time::Instant`) as the core's [`Time`], with one epoch per
//! process, so that every connection, timer and command of a program (and
//! of the mio transport, which uses this clock too) agree.

use std::sync::OnceLock;
use std::time::Instant;

use xmpp_proto::time::Time;

/// The process's epoch: the first time the clock was read.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// The current time, for the core's `now` arguments.
///
/// ```
/// use std::time::Duration;
/// let a = xmpp_transport_std::clock::now();
/// std::thread::sleep(Duration::from_millis(2));
/// assert!(xmpp_transport_std::clock::now() > a);
/// ```
pub fn now() -> Time {
    Time::from_instant(epoch(), Instant::now())
}

/// The core's `time` as an instant on the system clock (for socket
/// timeouts and sleeping).
pub fn instant(time: Time) -> Instant {
    time.to_instant(epoch())
}

/// An instant of the system clock as the core's time.
pub fn time(instant: Instant) -> Time {
    Time::from_instant(epoch(), instant)
}

/// The wall-clock time `at` as a XEP-0082 UTC date-time
/// (`YYYY-MM-DDThh:mm:ssZ`), for XEP-0203 delay stamps; times before 1970
/// read as 1970.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use xmpp_transport_std::clock::utc_stamp;
///
/// assert_eq!(utc_stamp(UNIX_EPOCH), "1970-01-01T00:00:00Z");
/// let at = UNIX_EPOCH + Duration::from_secs(1_031_699_305);
/// assert_eq!(utc_stamp(at), "2002-09-10T23:08:25Z");
/// assert_eq!(utc_stamp(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29T00:00:00Z");
/// ```
pub fn utc_stamp(at: std::time::SystemTime) -> String {
    let secs = at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_date(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01: counted in
/// 400-year eras of 146,097 days that start on 1 March, so that the leap
/// day falls at the end of each counted year.
fn civil_date(days: u64) -> (u64, u64, u64) {
    // 1970-01-01 is day 719,468 counted from 0000-03-01.
    let days = days + 719_468;
    let era = days / 146_097;
    let day_of_era = days % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}
