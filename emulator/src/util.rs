//! Small helpers: ids, timestamps, CPU time, the fd limit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

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

/// Days since 1970-01-01 -> (year, month, day) (Howard Hinnant's civil_from_days).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats Unix milliseconds as RFC 3339 UTC, e.g. `2026-11-25T20:17:06.123Z`.
pub fn rfc3339(ms: u64) -> String {
    let secs = (ms / 1000) as i64;
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        s / 3600,
        (s / 60) % 60,
        s % 60,
        ms % 1000
    )
}

/// Reads an RFC 3339 time (`YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`) or a date
/// (`YYYY-MM-DD`, midnight UTC) into Unix milliseconds.
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(i64::from(y), mo, d);
    if b.len() == 10 {
        return u64::try_from(days * 86_400_000).ok();
    }
    if b.len() < 20 || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac_ms = 0u64;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let digits = &s[start..i.min(start + 3)];
        frac_ms = digits.parse::<u64>().ok()? * 10u64.pow(3 - digits.len() as u32);
    }
    let offset_s: i64 = match &s[i..] {
        "Z" | "z" => 0,
        tz if tz.len() == 6
            && (tz.starts_with('+') || tz.starts_with('-'))
            && tz.as_bytes()[3] == b':' =>
        {
            let oh = i64::from(num(i + 1..i + 3)?);
            let om = i64::from(num(i + 4..i + 6)?);
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            sign * (oh * 3600 + om * 60)
        }
        _ => return None,
    };
    let secs = days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(sec) - offset_s;
    u64::try_from(secs).ok().map(|s| s * 1000 + frac_ms)
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
