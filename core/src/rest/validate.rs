//! The client-side rules of `docs/PROTOCOL.md`, section "Client-side validation", checked
//! before anything is sent. Each failure is a [`ValidationError`] naming the parameter and
//! the rule.

use core::net::IpAddr;
use std::collections::HashMap;

use super::model::{IpAclEntry, WebhookApiVersion};
use super::{IDEMPOTENCY_KEY_MAX_LEN, ValidationError};

type R = Result<(), ValidationError>;

fn err(param: impl Into<String>, rule: impl Into<String>) -> R {
    Err(ValidationError::new(param, rule))
}

/// `limit` within `1..=max` and at most one of the two cursors.
pub fn pagination(
    limit: Option<u32>,
    cursor_after: Option<&str>,
    cursor_before: Option<&str>,
    max: u32,
) -> R {
    if let Some(l) = limit
        && !(1..=max).contains(&l)
    {
        return err("limit", format!("must be between 1 and {max}, got {l}"));
    }
    if cursor_after.is_some() && cursor_before.is_some() {
        return err(
            "cursor_after",
            "cursor_after and cursor_before are mutually exclusive",
        );
    }
    Ok(())
}

/// An `Idempotency-Key`: 1..=255 characters of visible ASCII.
pub fn idempotency_key(key: &str) -> R {
    let n = key.chars().count();
    if n == 0 {
        return err(
            "idempotency_key",
            "must not be empty (a UUID is recommended)",
        );
    }
    if n > IDEMPOTENCY_KEY_MAX_LEN {
        return err(
            "idempotency_key",
            format!("must be at most {IDEMPOTENCY_KEY_MAX_LEN} characters, got {n}"),
        );
    }
    if !key.bytes().all(|b| (0x21..0x7f).contains(&b)) {
        return err(
            "idempotency_key",
            "must be visible ASCII without spaces (it is an HTTP header value)",
        );
    }
    Ok(())
}

/// A required text: not empty or blank.
pub fn required(param: &str, v: &str) -> R {
    if v.trim().is_empty() {
        return err(param, "is required and must not be empty");
    }
    Ok(())
}

/// `webhook_api_version`: one of the dated versions the API accepts.
pub fn webhook_api_version(v: Option<&WebhookApiVersion>) -> R {
    match v {
        Some(WebhookApiVersion::Other(s)) => err(
            "webhook_api_version",
            format!(
                "must be one of {}, got {s:?}",
                WebhookApiVersion::KNOWN.join(", ")
            ),
        ),
        _ => Ok(()),
    }
}

/// A hangup `reason`: `^[A-Z0-9_]+$`.
pub fn hangup_reason(reason: &str) -> R {
    if reason.is_empty()
        || !reason
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    {
        return err(
            "reason",
            format!("must match ^[A-Z0-9_]+$ (e.g. NORMAL_CLEARING), got {reason:?}"),
        );
    }
    Ok(())
}

/// The largest IP ACL.
pub const MAX_ACL_ENTRIES: usize = 50;
/// The longest IP ACL name, after trimming.
pub const MAX_ACL_NAME: usize = 64;
/// The longest IP ACL entry description.
pub const MAX_ACL_DESCRIPTION: usize = 255;
/// The most inline addresses a trunk may authorise.
pub const MAX_TRUNK_ADDRESSES: usize = 5;
/// The shortest trunk credential password.
pub const MIN_PASSWORD_LEN: usize = 5;

/// An IP ACL name: 1..=64 characters after trimming.
pub fn acl_name(name: &str) -> R {
    let n = name.trim().chars().count();
    if n == 0 {
        return err("name", "must not be blank");
    }
    if n > MAX_ACL_NAME {
        return err(
            "name",
            format!("must be at most {MAX_ACL_NAME} characters after trimming, got {n}"),
        );
    }
    Ok(())
}

/// Parses `address` (a single IP or `ip/prefix`) into its canonical network: the address
/// with host bits cleared, and the prefix length. An IPv4-mapped IPv6 network
/// (`::ffff:a.b.c.d/p`) is the IPv4 network it maps (`a.b.c.d/(p-96)`); with a prefix below
/// /96 it is refused.
pub fn canonical_network(address: &str) -> Option<(IpAddr, u8)> {
    let s = address.trim();
    let (ip, prefix) = match s.split_once('/') {
        Some((ip, p)) => {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 3 {
                return None;
            }
            (ip.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?))
        }
        None => (s.parse::<IpAddr>().ok()?, None),
    };
    // An IPv4-mapped IPv6 network (`::ffff:a.b.c.d/p`, p >= 96) is the IPv4 network
    // `a.b.c.d/(p - 96)`: judged and compared as such. A mapped prefix below 96 spans more
    // than the mapped range and is refused.
    let (ip, prefix) = match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => match prefix {
                None => (IpAddr::V4(v4), None),
                Some(p) if (96..=128).contains(&p) => (IpAddr::V4(v4), Some(p - 96)),
                Some(_) => return None,
            },
            None => (ip, prefix),
        },
        v4 => (v4, prefix),
    };
    match ip {
        IpAddr::V4(v4) => {
            let p = prefix.unwrap_or(32);
            if p > 32 {
                return None;
            }
            let mask = if p == 0 { 0 } else { u32::MAX << (32 - p) };
            Some((IpAddr::V4((u32::from(v4) & mask).into()), p))
        }
        IpAddr::V6(v6) => {
            let p = prefix.unwrap_or(128);
            if p > 128 {
                return None;
            }
            let mask = if p == 0 { 0 } else { u128::MAX << (128 - p) };
            Some((IpAddr::V6((u128::from(v6) & mask).into()), p))
        }
    }
}

/// IP ACL entries: 1..=50 of them; each a valid IP or CIDR, IPv4 /24 or narrower, IPv6 /64
/// or narrower, not loopback or unspecified, no two the same network once canonicalised
/// (`203.0.113.7/24` == `203.0.113.0/24`), descriptions at most 255 characters.
pub fn acl_entries(entries: &[IpAclEntry]) -> R {
    if entries.is_empty() {
        return err("addresses", "provide at least one address or CIDR network");
    }
    if entries.len() > MAX_ACL_ENTRIES {
        return err(
            "addresses",
            format!(
                "an IP ACL holds at most {MAX_ACL_ENTRIES} entries, got {}",
                entries.len()
            ),
        );
    }
    let mut seen: HashMap<(IpAddr, u8), &str> = HashMap::new();
    for (i, e) in entries.iter().enumerate() {
        let param = format!("addresses[{i}].address");
        let Some((net, prefix)) = canonical_network(&e.address) else {
            let mapped = if e.address.to_ascii_lowercase().contains("::ffff:") {
                " (an IPv4-mapped IPv6 network needs a prefix of /96 or longer)"
            } else {
                ""
            };
            return err(
                param,
                format!(
                    "{:?} is not a valid IPv4/IPv6 address or CIDR network{mapped}",
                    e.address
                ),
            );
        };
        let min = if net.is_ipv4() { 24 } else { 64 };
        if prefix < min {
            return err(
                param,
                format!(
                    "{:?} covers too many addresses: use /{min} or narrower",
                    e.address
                ),
            );
        }
        if net.is_loopback() || net.is_unspecified() {
            return err(
                param,
                format!(
                    "{:?} is a loopback or unspecified address, not a usable SIP source",
                    e.address
                ),
            );
        }
        if let Some(first) = seen.insert((net, prefix), &e.address) {
            return err(
                param,
                format!(
                    "{:?} is the same network as {first:?} (duplicates are refused)",
                    e.address
                ),
            );
        }
        if let Some(d) = &e.description {
            let n = d.chars().count();
            if n > MAX_ACL_DESCRIPTION {
                return err(
                    format!("addresses[{i}].description"),
                    format!("must be at most {MAX_ACL_DESCRIPTION} characters, got {n}"),
                );
            }
        }
    }
    Ok(())
}

/// A trunk's inline addresses: at most 5, each a single IP (no CIDR).
pub fn trunk_addresses(addresses: &[super::sip::AuthAddress]) -> R {
    if addresses.len() > MAX_TRUNK_ADDRESSES {
        return err(
            "auth_addresses",
            format!(
                "at most {MAX_TRUNK_ADDRESSES} addresses are allowed, got {}",
                addresses.len()
            ),
        );
    }
    for (i, a) in addresses.iter().enumerate() {
        if a.address.trim().parse::<IpAddr>().is_err() {
            return err(
                format!("auth_addresses[{i}].address"),
                format!(
                    "{:?} is not a single IPv4/IPv6 address (for a network range, use an IP ACL)",
                    a.address
                ),
            );
        }
    }
    Ok(())
}
