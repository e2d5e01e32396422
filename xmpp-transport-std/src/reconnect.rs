//! Retrying a connection with exponential backoff: the simple reconnect
//! policy for applications that have none of their own (XEP-0198
//! resumption needs a new connection soon after the old one broke).

use std::thread;
use std::time::Duration;

/// Exponential backoff: wait `initial`, then twice as long after each
/// failure, at most `max` between attempts, for at most `attempts`
/// attempts (default 8).
///
/// ```
/// use std::time::Duration;
/// use xmpp_transport_std::Backoff;
///
/// let backoff = Backoff::new(Duration::from_millis(1), Duration::from_millis(4));
/// let mut tries = 0;
/// let result: Result<u32, &str> = backoff.retry(|attempt| {
///     tries += 1;
///     if attempt < 2 { Err("refused") } else { Ok(attempt) }
/// });
/// assert_eq!(result, Ok(2));
/// assert_eq!(tries, 3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    attempts: u32,
}

impl Backoff {
    /// Waits from `initial` up to `max` between attempts, 8 attempts.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max: max.max(initial),
            attempts: 8,
        }
    }

    /// How many attempts in all (at least 1).
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// The wait before attempt `n` (attempt 0 goes at once).
    pub fn delay(&self, n: u32) -> Duration {
        if n == 0 {
            return Duration::ZERO;
        }
        let factor = 1u32.checked_shl(n - 1).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// Calls `attempt` (with the attempt number, from 0) until it
    /// succeeds or the attempts run out, sleeping between tries.
    ///
    /// # Errors
    /// The last attempt's error.
    pub fn retry<T, E>(&self, mut attempt: impl FnMut(u32) -> Result<T, E>) -> Result<T, E> {
        let mut n = 0;
        loop {
            thread::sleep(self.delay(n));
            match attempt(n) {
                Ok(t) => return Ok(t),
                Err(e) if n + 1 >= self.attempts => return Err(e),
                Err(_) => n += 1,
            }
        }
    }
}

impl Default for Backoff {
    /// 100 ms doubling up to 10 s.
    fn default() -> Self {
        Backoff::new(Duration::from_millis(100), Duration::from_secs(10))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let d: Vec<u128> = (0..7).map(|n| b.delay(n).as_millis()).collect();
        assert_eq!(d, [0, 100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.delay(200), Duration::from_secs(1));
    }

    #[test]
    fn gives_up_with_the_last_error() {
        let b = Backoff::new(Duration::ZERO, Duration::ZERO).with_attempts(3);
        let mut seen = Vec::new();
        let r: Result<(), u32> = b.retry(|n| {
            seen.push(n);
            Err(n)
        });
        assert_eq!(r, Err(2));
        assert_eq!(seen, [0, 1, 2]);
    }
}
