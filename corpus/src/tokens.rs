//! Opaque tokens found in real traffic: ids, hashes, base64 blobs and
//! XEP-0082 timestamps. None of them needs XML escaping.

use std::fmt::Write as _;

use crate::rng::Rng;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const HEX: &[u8] = b"0123456789abcdef";
const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `len` characters of `[A-Za-z0-9]`.
pub(crate) fn alnum(rng: &mut Rng, len: usize) -> String {
    from_alphabet(rng, ALNUM, len)
}

/// `len` lowercase hex digits (e.g. 40 for a SHA-1 such as an avatar id).
pub(crate) fn hex(rng: &mut Rng, len: usize) -> String {
    from_alphabet(rng, HEX, len)
}

fn from_alphabet(rng: &mut Rng, alphabet: &[u8], len: usize) -> String {
    (0..len).map(|_| char::from(rng.pick(alphabet))).collect()
}

/// Standard padded base64 of `n` random bytes.
pub(crate) fn base64(rng: &mut Rng, n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rng.fill(&mut bytes);
    let mut out = String::with_capacity(n.div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let v = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(B64[(v >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A random (version 4) UUID in its canonical lowercase form.
pub(crate) fn uuid(rng: &mut Rng) -> String {
    let mut b = [0u8; 16];
    rng.fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        let _ = write!(s, "{byte:02x}");
    }
    s
}

/// A stanza id as different clients and servers make them: a UUID, or a
/// short or medium random string.
pub(crate) fn stanza_id(rng: &mut Rng) -> String {
    match rng.below(3) {
        0 => uuid(rng),
        1 => alnum(rng, 10),
        _ => alnum(rng, 16),
    }
}

/// An XEP-0082 DateTime in UTC for `unix` seconds, with milliseconds half
/// of the time (servers disagree about them).
pub(crate) fn stamp(rng: &mut Rng, unix: u64) -> String {
    let days = unix / 86_400;
    let secs = unix % 86_400;
    let (y, m, d) = civil_from_days(days);
    let mut s = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    if rng.chance(500) {
        let _ = write!(s, ".{:03}", rng.below(1000));
    }
    s.push('Z');
    s
}

/// Gregorian (year, month, day) of a day count since 1970-01-01, using the
/// 400-year era decomposition (eras start on 0000-03-01 so that the leap
/// day falls at the end of the year).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        // 1735000000 is 2024-12-24T00:26:40Z.
        assert_eq!(civil_from_days(1_735_000_000 / 86_400), (2024, 12, 24));
    }

    #[test]
    fn stamp_shape() {
        let mut r = Rng::new(1);
        for _ in 0..20 {
            let s = stamp(&mut r, 1_735_000_000);
            assert!(s.starts_with("2024-12-24T00:26:40"), "{s}");
            assert!(s.ends_with('Z'));
            assert!(s.len() == 20 || s.len() == 24, "{s}");
        }
    }

    #[test]
    fn base64_lengths_and_padding() {
        let mut r = Rng::new(1);
        assert_eq!(base64(&mut r, 20).len(), 28);
        assert!(base64(&mut r, 20).ends_with('='));
        assert!(!base64(&mut r, 12).ends_with('='));
        assert!(base64(&mut r, 13).ends_with("=="));
    }

    #[test]
    fn uuid_shape() {
        let mut r = Rng::new(1);
        let u = uuid(&mut r);
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
    }
}
