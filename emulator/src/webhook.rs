//! Lifecycle webhooks: the two body shapes of `docs/PROTOCOL.md`, section "Webhooks", and
//! their signature.
//!
//! Delivery (in `runner`): one POST at a time per call, in the order the events happen;
//! a delivery that fails (no answer, or an answer other than 2xx) is retried with the same
//! body (same event `id`, a fresh signature) after a doubling backoff, up to a bounded
//! number of attempts, while later events go ahead, so a retried event arrives after
//! events that happened later, as `docs/PROTOCOL.md` says Teler's may ("retried and may arrive
//! out of order or twice: dedupe by id"). Optionally every event is delivered twice.

use serde_json::{Map, Value, json};

use crate::util::{new_id, now_unix_ms, rfc3339};

/// The webhook API version a voice app is pinned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum WebhookVersion {
    /// `2025-08-01`: the flat shape `{"event","account_id","call_app_id","data"}`.
    V2025_08_01,
    /// `2026-06-01` (Teler's default for new apps): the envelope
    /// `{"id","type","api_version","occurred_at",…,"data"}`.
    #[default]
    V2026_06_01,
}

impl WebhookVersion {
    /// The version string, e.g. `2026-06-01`.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookVersion::V2025_08_01 => "2025-08-01",
            WebhookVersion::V2026_06_01 => "2026-06-01",
        }
    }
}

impl std::str::FromStr for WebhookVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "2025-08-01" => Ok(WebhookVersion::V2025_08_01),
            "2026-06-01" => Ok(WebhookVersion::V2026_06_01),
            other => Err(format!(
                "unknown webhook version {other:?} (2025-08-01 or 2026-06-01)"
            )),
        }
    }
}

/// Who a call's events are about.
#[derive(Debug, Clone)]
pub(crate) struct EventSubject {
    pub call_id: String,
    pub leg_id: String,
    pub account_id: String,
    pub voice_app_id: String,
    pub from: String,
    pub to: String,
}

/// The JSON body of one event, and its event id (`evt_…`, 2026-06-01 only).
pub(crate) fn event_body(
    version: WebhookVersion,
    event_type: &str,
    s: &EventSubject,
    extra: Map<String, Value>,
) -> (String, Option<String>) {
    let mut data = Map::new();
    if version == WebhookVersion::V2025_08_01 {
        data.insert("call_id".into(), json!(s.call_id));
    }
    data.insert("from".into(), json!(s.from));
    data.insert("to".into(), json!(s.to));
    data.extend(extra);
    let id = (version == WebhookVersion::V2026_06_01).then(|| new_id("evt"));
    let v = match version {
        WebhookVersion::V2025_08_01 => json!({
            "event": event_type,
            "account_id": s.account_id,
            "call_app_id": s.voice_app_id,
            "data": data,
        }),
        WebhookVersion::V2026_06_01 => json!({
            "id": id,
            "type": event_type,
            "api_version": version.as_str(),
            "occurred_at": rfc3339(now_unix_ms()),
            "account_id": s.account_id,
            "voice_app_id": s.voice_app_id,
            "sip_trunk_id": null,
            "call_id": s.call_id,
            "leg_id": s.leg_id,
            "data": data,
        }),
    };
    (v.to_string(), id)
}

/// The signature headers for `body` sent at `timestamp` (Unix seconds): HMAC-SHA256 keyed
/// with the secret over `"{timestamp}.{body}"`, hex digest (`docs/PROTOCOL.md`, section
/// "Webhook signatures"), computed
/// by teler-core's [`WebhookSecret::sign`](teler_core::webhook::WebhookSecret::sign), the
/// same code a receiver verifies with. An empty secret signs nothing.
pub fn signature_headers(secret: &str, timestamp: u64, body: &[u8]) -> Vec<(&'static str, String)> {
    use teler_core::webhook::{SignatureEncoding, WebhookSecret};
    match WebhookSecret::new(secret) {
        Ok(s) => s
            .sign(timestamp, body)
            .headers(SignatureEncoding::Hex)
            .to_vec(),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_hmac_vector() {
        // Computed independently: printf '1.{}' | openssl dgst -sha256 -hmac whsec_x
        let h = signature_headers("whsec_x", 1, b"{}");
        assert_eq!(h[1], ("X-Teler-Timestamp", "1".to_string()));
        assert_eq!(h[0].0, "X-Teler-Signature");
        assert_eq!(
            h[0].1,
            "36ee2f7498f0c1777d1312b2a7361947fe5ad31223be30d0c62421f4ca753401"
        );
    }

    #[test]
    fn empty_secret_signs_nothing() {
        assert!(signature_headers("", 1, b"{}").is_empty());
    }

    #[test]
    fn shapes() {
        let s = EventSubject {
            call_id: "cs_1".into(),
            leg_id: "cl_1".into(),
            account_id: "acc_1".into(),
            voice_app_id: "va_1".into(),
            from: "+1".into(),
            to: "+2".into(),
        };
        let (flat, no_id) = event_body(WebhookVersion::V2025_08_01, "call.ringing", &s, Map::new());
        assert_eq!(no_id, None);
        let flat: Value = serde_json::from_str(&flat).unwrap();
        assert_eq!(flat["event"], "call.ringing");
        assert_eq!(flat["data"]["call_id"], "cs_1");
        let (env, id) = event_body(WebhookVersion::V2026_06_01, "call.answered", &s, Map::new());
        let env: Value = serde_json::from_str(&env).unwrap();
        assert_eq!(env["id"].as_str(), id.as_deref());
        assert_eq!(env["type"], "call.answered");
        assert_eq!(env["api_version"], "2026-06-01");
        assert!(env["id"].as_str().unwrap().starts_with("evt_"));
        assert_eq!(env["call_id"], "cs_1");
    }
}
