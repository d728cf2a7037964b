//! Small helpers: ids, timestamps, CPU time, the fd limit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A fresh id with Teler's prefix form, e.g. `cs_4f0c…` (20 hex digits, unique per process).
pub fn new_id(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let seed = splitmix(now_unix_ms() ^ (u64::from(std::process::id()) << 32));
    let v = splitmix(seed ^ n.wrapping_mul(0xD6E8_FEB8_6659_FD93));
    format!(
        "{prefix}_{:08x}{:012x}",
        (v >> 32) as u32,
        n & 0xFFFF_FFFF_FFFF
    )
}

/// A random-looking UUID (version 4 layout), e.g. for stream ids.
pub fn new_uuid() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let a = splitmix(now_unix_ms() ^ n.rotate_left(17) ^ u64::from(std::process::id()));
    let b = splitmix(a ^ n);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        (a >> 32) as u32,
        (a >> 16) & 0xFFFF,
        a & 0xFFF,
        0x8000 | ((b >> 48) & 0x3FFF),
        b & 0xFFFF_FFFF_FFFF
    )
}

/// Milliseconds since the Unix epoch.
pub fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Microseconds since the Unix epoch.
pub fn now_unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// The last millisecond RFC 3339 can write with a four-digit year (9999-12-31T23:59:59.999Z).
const MAX_RFC3339_MS: u64 = 253_402_300_799_999;

/// Formats Unix milliseconds as RFC 3339 UTC, e.g. `2026-11-25T20:17:06.123Z` (times past
/// the year 9999 as its last millisecond).
pub fn rfc3339(ms: u64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(ms.min(MAX_RFC3339_MS));
    humantime::format_rfc3339_millis(t).to_string()
}

/// Reads an RFC 3339 time (`YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`, `T` or a space between
/// date and time, either case) or a date (`YYYY-MM-DD`, midnight UTC) into Unix
/// milliseconds. `None` for anything else, a date that does not exist, or a time before 1970.
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let s = s.to_ascii_uppercase();
    if s.len() == 10 {
        return parse_rfc3339(&format!("{s}T00:00:00Z"));
    }
    // humantime reads UTC only: read the local time as UTC, then take the offset off.
    let (local, offset_s) = split_offset(&s)?;
    if local.ends_with('.') || local.contains(['Z', '+']) {
        return None; // `.` without digits, or a second zone
    }
    let t = humantime::parse_rfc3339_weak(&format!("{local}Z"))
        .ok()?
        .duration_since(UNIX_EPOCH)
        .ok()?;
    let secs = i64::try_from(t.as_secs()).ok()?.checked_sub(offset_s)?;
    u64::try_from(secs)
        .ok()?
        .checked_mul(1000)?
        .checked_add(u64::from(t.subsec_millis()))
}

/// Splits an RFC 3339 time's zone off: `Z` is 0, `±HH:MM` its offset east of UTC in seconds.
fn split_offset(s: &str) -> Option<(&str, i64)> {
    if let Some(local) = s.strip_suffix('Z') {
        return Some((local, 0));
    }
    let (local, zone) = s.split_at_checked(s.len().checked_sub(6)?)?;
    let sign = match zone.as_bytes()[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, m) = zone[1..].split_once(':')?;
    let two = |d: &str| {
        (d.len() == 2 && d.bytes().all(|c| c.is_ascii_digit()))
            .then(|| d.parse::<i64>().ok())
            .flatten()
    };
    let (h, m) = (two(h)?, two(m)?);
    (h <= 23 && m <= 59).then_some((local, sign * (h * 3600 + m * 60)))
}

/// This process's CPU time (user + system), from `getrusage(RUSAGE_SELF)`.
#[allow(unsafe_code)] // two libc calls, each with its SAFETY note
pub fn cpu_time() -> std::time::Duration {
    // SAFETY: getrusage writes into the struct we pass; a zeroed rusage is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer is always a defined call.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if rc != 0 {
        return std::time::Duration::ZERO;
    }
    let tv = |t: libc::timeval| {
        std::time::Duration::from_secs(t.tv_sec.max(0) as u64)
            + std::time::Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Raises the soft open-files limit to the hard limit (at most `want`); returns the soft
/// limit now in force.
#[allow(unsafe_code)] // getrlimit/setrlimit, with their SAFETY note
pub fn raise_fd_limit(want: u64) -> u64 {
    // SAFETY: getrlimit/setrlimit read and write the struct we pass.
    unsafe {
        let mut rl: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) != 0 {
            return 0;
        }
        let target = (want as libc::rlim_t).min(rl.rlim_max);
        if rl.rlim_cur < target {
            let new = libc::rlimit {
                rlim_cur: target,
                rlim_max: rl.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &new) == 0 {
                return target as u64;
            }
        }
        rl.rlim_cur as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_round_trip() {
        let ms = 1_795_638_226_123;
        let s = rfc3339(ms);
        assert_eq!(s, "2026-11-25T20:23:46.123Z");
        assert_eq!(parse_rfc3339(&s), Some(ms));
        assert_eq!(parse_rfc3339("2026-11-25T21:23:46.123+01:00"), Some(ms));
        assert_eq!(parse_rfc3339("2026-11-25"), Some(1_795_564_800_000));
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(parse_rfc3339("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2026-11-25T21:23:46+0é:0"), None);
        // Byte-identical to the hand-written formatter it replaced: zero-padded, always
        // three fraction digits, `Z`.
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_007), "2000-02-29T00:00:00.007Z");
        assert_eq!(rfc3339(u64::MAX), "9999-12-31T23:59:59.999Z");
        // Other spellings RFC 3339 allows; what it does not.
        assert_eq!(parse_rfc3339("2026-11-25t20:23:46.123z"), Some(ms));
        assert_eq!(parse_rfc3339("2026-11-25 20:23:46.123456Z"), Some(ms));
        assert_eq!(parse_rfc3339("2026-11-25T19:53:46.123-00:30"), Some(ms));
        assert_eq!(parse_rfc3339("2026-11-25T20:23:46Z"), Some(ms - 123));
        assert_eq!(
            parse_rfc3339("1970-01-01T00:30:00+01:00"),
            None,
            "before 1970"
        );
        assert_eq!(parse_rfc3339("2026-02-29"), None, "not a leap year");
        assert_eq!(parse_rfc3339("2026-11-25T20:23:46.Z"), None);
        assert_eq!(parse_rfc3339("2026-11-25T20:23:46"), None, "no zone");
        assert_eq!(parse_rfc3339("2026-11-25T20:23:46+01:00Z"), None);
        assert_eq!(parse_rfc3339("2026-11-25T20:23:46+24:00"), None);
        // Never panics, whatever the bytes (multi-byte characters at every position).
        let base = "2026-11-25T21:23:46.123+01:00";
        for cut in 0..=base.len() {
            for ins in ["é", "€", "𝄞", "", "Z", "."] {
                let mut t = base[..cut].to_owned();
                t.push_str(ins);
                t.push_str(&base[cut..]);
                let _ = parse_rfc3339(&t);
                let _ = parse_rfc3339(&t[..cut + ins.len()]);
            }
        }
    }

    #[test]
    fn ids_are_prefixed_and_unique() {
        let a = new_id("cs");
        let b = new_id("cs");
        assert!(a.starts_with("cs_") && a.len() == 23, "{a}");
        assert_ne!(a, b);
    }
}
