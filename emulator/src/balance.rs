//! Round-robin over several app instances: what a load balancer in front of a fleet does
//! ([`EmulatorBuilder::balance`](crate::EmulatorBuilder::balance)).
//!
//! Every request the emulator makes to the app (each flow request, each media socket, each
//! webhook delivery attempt, duplicates and retries included) takes the next address in
//! turn, one counter for the whole emulator: the URL's host and port are replaced by it, its
//! scheme, path and query are kept. So the copy of a webhook, or its retry, normally lands on
//! another instance than the first delivery, as behind a real balancer.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The addresses and the turn.
#[derive(Debug, Default)]
pub(crate) struct Balancer {
    backends: Vec<String>,
    next: AtomicUsize,
}

impl Balancer {
    /// Round-robin over `backends` (already checked with [`parse_backend`]); none: every URL
    /// is used as given.
    pub fn new(backends: Vec<String>) -> Balancer {
        Balancer {
            backends,
            next: AtomicUsize::new(0),
        }
    }

    /// The URL to request for `url`: `url` itself without backends, otherwise `url` sent to
    /// the next backend in turn.
    pub fn route(&self, url: &str) -> String {
        if self.backends.is_empty() {
            return url.to_owned();
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.backends.len();
        with_authority(url, &self.backends[i])
    }
}

/// `url` with its authority (`host[:port]`, and any `user@`) replaced by `authority`. A URL
/// without `scheme://` is returned as is (the request then fails on its own, naming it).
pub(crate) fn with_authority(url: &str, authority: &str) -> String {
    let Some(i) = url.find("://") else {
        return url.to_owned();
    };
    let (scheme, rest) = (&url[..i + 3], &url[i + 3..]);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    format!("{scheme}{authority}{}", &rest[end..])
}

/// One backend address as given (`HOST:PORT`, or `http://HOST:PORT` / `ws://HOST:PORT`
/// with an optional trailing `/`), as `HOST:PORT`; the error says what is wrong.
pub(crate) fn parse_backend(s: &str) -> Result<String, String> {
    let t = s.trim();
    let bare = t
        .strip_prefix("http://")
        .or_else(|| t.strip_prefix("ws://"))
        .unwrap_or(t);
    let bare = bare.strip_suffix('/').unwrap_or(bare);
    if t.starts_with("https://") || t.starts_with("wss://") {
        return Err(format!(
            "balance address {s:?}: the emulator speaks plain http:// and ws:// only"
        ));
    }
    if bare.is_empty()
        || bare.contains("://")
        || bare
            .chars()
            .any(|c| matches!(c, '/' | '?' | '#' | '@') || c.is_whitespace())
    {
        return Err(format!(
            "balance address {s:?}: expected HOST:PORT (e.g. 127.0.0.1:8081)"
        ));
    }
    crate::http::split_http_url(&format!("http://{bare}/"))
        .map_err(|e| format!("balance address {s:?}: {e}"))?;
    Ok(bare.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_each_address_in_turn_for_every_kind_of_request() {
        let b = Balancer::new(vec![
            "127.0.0.1:1".into(),
            "127.0.0.1:2".into(),
            "h:3".into(),
        ]);
        let got: Vec<String> = [
            "http://lb.example:8080/flow?teler_token=t",
            "ws://lb.example:8080/media-stream?teler_token=m",
            "http://lb.example:8080/webhook",
            "http://lb.example:8080/webhook",
            "http://other:9/x#f",
            "http://lb.example/",
            "ws://[::1]:7?q",
        ]
        .iter()
        .map(|u| b.route(u))
        .collect();
        assert_eq!(
            got,
            [
                "http://127.0.0.1:1/flow?teler_token=t",
                "ws://127.0.0.1:2/media-stream?teler_token=m",
                "http://h:3/webhook",
                // the copy of a webhook sent right after its first delivery: another address
                "http://127.0.0.1:1/webhook",
                "http://127.0.0.1:2/x#f",
                "http://h:3/",
                "ws://127.0.0.1:1?q",
            ]
        );
    }

    #[test]
    fn spreads_evenly_across_threads() {
        let b = std::sync::Arc::new(Balancer::new(vec![
            "a:1".into(),
            "b:2".into(),
            "c:3".into(),
        ]));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let b = b.clone();
                std::thread::spawn(move || {
                    (0..300)
                        .map(|_| b.route("http://x/"))
                        .collect::<Vec<String>>()
                })
            })
            .collect();
        let mut counts = std::collections::HashMap::new();
        for t in threads {
            for u in t.join().unwrap() {
                *counts.entry(u).or_insert(0) += 1;
            }
        }
        assert_eq!(counts.len(), 3);
        assert!(counts.values().all(|&n| n == 400), "{counts:?}");
    }

    #[test]
    fn without_addresses_urls_are_kept() {
        let b = Balancer::default();
        assert_eq!(b.route("http://app:1/flow?x"), "http://app:1/flow?x");
        assert_eq!(with_authority("not a url", "h:1"), "not a url");
    }

    #[test]
    fn addresses_are_checked() {
        for (given, want) in [
            ("127.0.0.1:8081", "127.0.0.1:8081"),
            (" http://127.0.0.1:8081/ ", "127.0.0.1:8081"),
            ("ws://host:9", "host:9"),
            ("[::1]:80", "[::1]:80"),
            ("host", "host"),
        ] {
            assert_eq!(parse_backend(given).as_deref(), Ok(want), "{given}");
        }
        for bad in [
            "",
            "https://h:1",
            "wss://h:1",
            "h:1/path",
            "h:99999",
            "user@h:1",
            "ftp://h:1",
            "h :1",
        ] {
            assert!(parse_backend(bad).is_err(), "{bad:?} accepted");
        }
        assert!(
            parse_backend("https://h:1")
                .unwrap_err()
                .contains("plain http")
        );
    }
}
