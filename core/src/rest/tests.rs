//! Unit tests of the REST core: builders, parsers, validation, retry, pagination.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

use super::numbers::*;
use super::retry::*;
use super::sip::*;
use super::voice::*;
use super::*;

fn cfg() -> RestConfig {
    RestConfig::new("secret-key-123").unwrap()
}

fn resp(status: u16, body: &str) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(status)
        .body(body.as_bytes().to_vec())
        .unwrap()
}

fn body_json(r: &http::Request<Vec<u8>>) -> serde_json::Value {
    serde_json::from_slice(r.body()).unwrap()
}

fn rule_of<T: std::fmt::Debug>(r: Result<T, Error>) -> (String, String) {
    match r {
        Err(Error::Validation(v)) => (v.param, v.rule),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn create_call_request_is_exact() {
    let r = CreateCall::new("+1", "+2", "https://f", "https://s")
        .record(false)
        .to_http(&cfg())
        .unwrap();
    assert_eq!(r.method(), "POST");
    assert_eq!(r.uri(), "https://api.frejun.ai/api/v1/voice/calls/initiate");
    let h = r.headers();
    assert_eq!(h["x-api-key"], "secret-key-123");
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(h["accept"], "application/json");
    assert_eq!(h["user-agent"], USER_AGENT);
    assert!(USER_AGENT.starts_with("teler-rs/"));
    assert!(!h.contains_key("idempotency-key"));
    assert_eq!(
        body_json(&r),
        json!({"from_number":"+1","to_number":"+2","flow_url":"https://f","status_callback_url":"https://s","record":false})
    );
    // The key header is marked sensitive, so http's own Debug hides it.
    assert!(!format!("{r:?}").contains("secret-key-123"));
}

#[test]
fn list_query_repeats_array_keys_and_drops_unset() {
    let r = ListApps::new()
        .status([AppStatus::Active, AppStatus::Inactive])
        .search("a b&c")
        .limit(5)
        .to_http(&cfg())
        .unwrap();
    assert_eq!(
        r.uri(),
        "https://api.frejun.ai/api/v1/voice/apps?search=a%20b%26c&status=active&status=inactive&limit=5"
    );
    assert!(r.body().is_empty());
}

#[test]
fn body_omits_unset_fields_at_any_depth() {
    let r = Transfer::new("cs_1", TransferTarget::pstn("+15550001"))
        .on_failure(TransferAction::hangup())
        .idempotency_key("k1")
        .to_http(&cfg())
        .unwrap();
    assert_eq!(
        body_json(&r),
        json!({"target":{"kind":"pstn","number":"+15550001"},"mode":"cold","on_failure":{"action":"hangup"}})
    );
    assert_eq!(r.headers()["idempotency-key"], "k1");
    assert_eq!(r.uri().path(), "/api/v1/voice/calls/cs_1/transfer");
}

#[test]
fn mutations_need_a_key_and_clients_fill_it() {
    let (param, _) = rule_of(Hangup::new("cs_1").to_http(&cfg()));
    assert_eq!(param, "idempotency_key");
    let mut h = Hangup::new("cs_1");
    ensure_idempotency_key(&mut h, || "fresh".into());
    ensure_idempotency_key(&mut h, || "other".into());
    assert_eq!(h.idempotency_key.as_deref(), Some("fresh"));
    let r = h.to_http(&cfg()).unwrap();
    assert_eq!(r.headers()["idempotency-key"], "fresh");
    assert_eq!(body_json(&r), json!({}));
    // Non-mutations have no slot.
    let mut l = ListCalls::new();
    ensure_idempotency_key(&mut l, || unreachable!());
}

#[test]
fn idempotency_key_bounds() {
    let long = "k".repeat(255);
    assert!(
        Mute::new("cs", "cl", true)
            .idempotency_key(long)
            .to_http(&cfg())
            .is_ok()
    );
    let (p, rule) = rule_of(
        Mute::new("cs", "cl", true)
            .idempotency_key("k".repeat(256))
            .to_http(&cfg()),
    );
    assert_eq!(p, "idempotency_key");
    assert!(rule.contains("255"), "{rule}");
    let (p, _) = rule_of(
        Mute::new("cs", "cl", true)
            .idempotency_key("")
            .to_http(&cfg()),
    );
    assert_eq!(p, "idempotency_key");
}

#[test]
fn uuid_v4_shape() {
    let u = uuid_v4([0xff; 16]);
    assert_eq!(u, "ffffffff-ffff-4fff-bfff-ffffffffffff");
    let u = uuid_v4([0; 16]);
    assert_eq!(u, "00000000-0000-4000-8000-000000000000");
}

#[test]
fn config_rules() {
    assert!(matches!(RestConfig::new(""), Err(Error::Config(_))));
    assert!(matches!(RestConfig::new("  "), Err(Error::Config(_))));
    let c = cfg().with_base_url("http://127.0.0.1:9/api/v1/").unwrap();
    assert_eq!(c.base_url(), "http://127.0.0.1:9/api/v1");
    assert!(cfg().with_base_url("ftp://x").is_err());
    assert!(cfg().with_base_url("not a url").is_err());
    // Extra headers override defaults; x-api-key cannot be overridden.
    let c = cfg()
        .with_header("User-Agent", "mine/1")
        .unwrap()
        .with_header("x-api-key", "stolen")
        .unwrap();
    let r = RetrieveCall::new("cs_1").to_http(&c).unwrap();
    assert_eq!(r.headers()["user-agent"], "mine/1");
    assert_eq!(r.headers()["x-api-key"], "secret-key-123");
    // The key never shows in Debug.
    assert!(!format!("{c:?}").contains("secret-key-123"));
    assert!(
        !format!("{c:?}").contains("mine/1"),
        "extra header values are redacted too"
    );
    assert!(!format!("{:?}", c.api_key()).contains("secret"));
    assert_eq!(c.api_key().to_string(), "<redacted>");
}

#[test]
fn ids_are_encoded_and_checked() {
    let r = RetrieveCall::new("a/b?c").to_http(&cfg()).unwrap();
    assert_eq!(r.uri().path(), "/api/v1/voice/calls/a%2Fb%3Fc");
    assert_eq!(rule_of(RetrieveCall::new("").to_http(&cfg())).0, "call_id");
    assert_eq!(
        rule_of(RetrieveCall::new("..").to_http(&cfg())).0,
        "call_id"
    );
}

#[test]
fn every_status_maps_to_its_kind() {
    let body = r#"{"success":false,"message":"nope","code":"E1","type":"invalid","errors":[{"loc":["body","addresses",0],"msg":"bad","type":"value_error"}]}"#;
    type IsKind = fn(&Error) -> bool;
    let cases: &[(u16, IsKind)] = &[
        (400, |e| matches!(e, Error::BadRequest(_))),
        (401, |e| matches!(e, Error::Unauthorized(_))),
        (403, |e| matches!(e, Error::Forbidden(_))),
        (404, |e| matches!(e, Error::NotFound(_))),
        (409, |e| matches!(e, Error::Conflict(_))),
        (410, |e| matches!(e, Error::Gone(_))),
        (422, |e| matches!(e, Error::Unprocessable(_))),
        (429, |e| matches!(e, Error::RateLimited(_))),
        (500, |e| matches!(e, Error::InternalServer(_))),
        (501, |e| matches!(e, Error::NotImplemented(_))),
        (418, |e| matches!(e, Error::Api(_))),
        (503, |e| matches!(e, Error::Api(_))),
    ];
    for (status, is_kind) in cases {
        let e = RetrieveCall::new("cs_1")
            .parse(resp(*status, body))
            .unwrap_err();
        assert!(is_kind(&e), "{status}: {e:?}");
        let api = e.api().unwrap();
        assert_eq!(api.status, *status);
        assert_eq!(e.status(), Some(*status));
        assert_eq!(api.message, "nope");
        assert_eq!(api.code.as_deref(), Some("E1"));
        assert_eq!(api.error_type.as_deref(), Some("invalid"));
        assert_eq!(api.errors[0].loc, ["body", "addresses", "0"]);
        assert_eq!(api.errors[0].msg, "bad");
        assert_eq!(api.body, body.as_bytes());
        assert!(e.to_string().contains("nope"), "{e}");
    }
}

#[test]
fn error_bodies_that_are_not_json_still_map() {
    let e = RetrieveCall::new("cs_1")
        .parse(resp(502, "<html>bad gateway</html>"))
        .unwrap_err();
    let api = e.api().unwrap();
    assert_eq!(api.message, "Request failed with status 502.");
    assert_eq!(api.body, b"<html>bad gateway</html>");
    let r = http::Response::builder()
        .status(429)
        .header("retry-after", "7")
        .body(b"{}".to_vec())
        .unwrap();
    let e = RetrieveCall::new("cs_1").parse(r).unwrap_err();
    assert_eq!(e.api().unwrap().retry_after, Some(Duration::from_secs(7)));
}

#[test]
fn objects_bare_or_enveloped_unknown_fields_ignored() {
    let bare = r#"{"id":"cs_1","state":"answered","direction":"inbound","brand_new":1}"#;
    let wrapped = r#"{"data":{"id":"cs_1","state":"answered","direction":"inbound"},"extra":true}"#;
    for b in [bare, wrapped] {
        let c = RetrieveCall::new("cs_1").parse(resp(200, b)).unwrap();
        assert_eq!(c.id, "cs_1");
        assert_eq!(c.state, Some(CallState::Answered));
        assert_eq!(c.direction, Some(Direction::Inbound));
    }
    let c = RetrieveCall::new("cs_1")
        .parse(resp(200, r#"{"id":"cs_1","state":"teleporting"}"#))
        .unwrap();
    assert_eq!(c.state, Some(CallState::Other("teleporting".into())));
    let e = RetrieveCall::new("cs_1")
        .parse(resp(200, "not json"))
        .unwrap_err();
    assert!(matches!(e, Error::Decode { status: 200, .. }), "{e:?}");
    let e = RetrieveCall::new("cs_1")
        .parse(resp(200, r#"{"id":5}"#))
        .unwrap_err();
    assert!(matches!(e, Error::Decode { .. }), "{e:?}");
}

#[test]
fn pages_parse() {
    let p = ListCalls::new()
        .parse(resp(
            200,
            r#"{"data":[{"id":"cs_1"},{"id":"cs_2"}],"next_cursor":"c2","previous_cursor":null,"has_more":true}"#,
        ))
        .unwrap();
    assert_eq!(p.data.len(), 2);
    assert_eq!(p.next_cursor.as_deref(), Some("c2"));
    assert!(p.has_more);
    let p = ListCalls::new()
        .parse(resp(200, r#"[{"id":"cs_9"}]"#))
        .unwrap();
    assert_eq!(p.data[0].id, "cs_9");
    assert!(!p.has_more);
}

#[test]
fn deletes_accept_empty_bodies() {
    let r = DeleteTrunk::new("st_1").parse(resp(204, "")).unwrap();
    assert!(r.success);
    let r = DeleteTrunk::new("st_1")
        .parse(resp(200, r#"{"success":false,"message":"m"}"#))
        .unwrap();
    assert!(!r.success);
    assert_eq!(r.message.as_deref(), Some("m"));
}

#[test]
fn recordings_location_or_json() {
    let req = super::recordings::GetRecording::new("rec_1");
    let http_req = req.to_http(&cfg()).unwrap();
    assert_eq!(
        http_req.uri(),
        "https://api.frejun.ai/api/v1/recordings?recording_id=rec_1&expires_in=900"
    );
    for status in [302, 307] {
        let r = http::Response::builder()
            .status(status)
            .header("location", "https://s3.example/x?sig=1")
            .body(Vec::new())
            .unwrap();
        let u = req.parse(r).unwrap();
        assert_eq!(u.url, "https://s3.example/x?sig=1");
        assert_eq!(u.expires_in, 900);
    }
    let u = req
        .parse(resp(
            200,
            r#"{"data":{"url":"https://s/y","expires_in":60}}"#,
        ))
        .unwrap();
    assert_eq!((u.url.as_str(), u.expires_in), ("https://s/y", 60));
    let u = req.parse(resp(200, r#"{"url":"https://s/z"}"#)).unwrap();
    assert_eq!((u.url.as_str(), u.expires_in), ("https://s/z", 900));
    assert!(matches!(
        req.parse(resp(200, "{}")),
        Err(Error::Decode { .. })
    ));
    assert!(matches!(
        req.parse(resp(404, "{}")),
        Err(Error::NotFound(_))
    ));
    assert_eq!(
        rule_of(super::recordings::GetRecording::new("").to_http(&cfg())).0,
        "recording_id"
    );
}

#[test]
fn pagination_rules() {
    assert!(ListCalls::new().limit(100).to_http(&cfg()).is_ok());
    assert!(ListCalls::new().limit(1).to_http(&cfg()).is_ok());
    assert_eq!(
        rule_of(ListCalls::new().limit(0).to_http(&cfg())).0,
        "limit"
    );
    assert_eq!(
        rule_of(ListCalls::new().limit(101).to_http(&cfg())).0,
        "limit"
    );
    assert!(
        ListAppNumbers::new("va_1")
            .limit(50)
            .to_http(&cfg())
            .is_ok()
    );
    let (p, rule) = rule_of(ListAppNumbers::new("va_1").limit(51).to_http(&cfg()));
    assert_eq!(p, "limit");
    assert!(rule.contains("50"), "{rule}");
    let (p, _) = rule_of(
        ListCalls::new()
            .cursor_after("a")
            .cursor_before("b")
            .to_http(&cfg()),
    );
    assert_eq!(p, "cursor_after");
}

fn entries(addrs: &[&str]) -> Vec<IpAclEntry> {
    addrs.iter().map(|a| IpAclEntry::new(*a)).collect()
}

#[test]
fn ip_acl_rules() {
    let ok = |a: &[&str]| CreateIpAcl::new("office", entries(a)).to_http(&cfg());
    assert!(ok(&["203.0.113.0/24", "198.51.100.7/32", "2001:db8::/64"]).is_ok());
    let cases: &[(&[&str], &str)] = &[
        (&[], "at least one"),
        (&["203.0.113.0/23"], "/24"),
        (&["2001:db8::/63"], "/64"),
        (&["127.0.0.1"], "loopback"),
        (&["::1"], "loopback"),
        (&["::ffff:127.0.0.1"], "loopback"),
        (&["::ffff:0.0.0.0/128"], "unspecified"),
        (&["::ffff:128.0.0.0/97"], "/24"),
        (&["::ffff:1.2.3.0/80"], "not a valid"),
        (&["1.2.3.0/24", "::ffff:1.2.3.9/120"], "same network"),
        (&["0.0.0.0/32"], "unspecified"),
        (&["::"], "unspecified"),
        (&["203.0.113.7/24", "203.0.113.0/24"], "same network"),
        (&["not-an-ip"], "not a valid"),
        (&["10.0.0.0/33"], "not a valid"),
        (&["10.0.0.1/"], "not a valid"),
    ];
    for (a, needle) in cases {
        let (_, rule) = rule_of(ok(a));
        assert!(rule.contains(needle), "{a:?}: {rule}");
    }
    let fifty: Vec<String> = (0..50).map(|i| format!("198.51.100.{i}")).collect();
    let refs: Vec<&str> = fifty.iter().map(String::as_str).collect();
    assert!(ok(&refs).is_ok());
    let mut fifty_one = refs.clone();
    fifty_one.push("198.51.100.200");
    assert!(rule_of(ok(&fifty_one)).1.contains("50"));
    // Names: 1..=64 after trim.
    assert_eq!(
        rule_of(CreateIpAcl::new("   ", entries(&["198.51.100.1"])).to_http(&cfg())).0,
        "name"
    );
    assert!(
        CreateIpAcl::new(
            format!("  {}  ", "n".repeat(64)),
            entries(&["198.51.100.1"])
        )
        .to_http(&cfg())
        .is_ok()
    );
    assert_eq!(
        rule_of(CreateIpAcl::new("n".repeat(65), entries(&["198.51.100.1"])).to_http(&cfg())).0,
        "name"
    );
    // Descriptions <= 255.
    let e = vec![IpAclEntry::new("198.51.100.1").description("d".repeat(256))];
    assert_eq!(
        rule_of(CreateIpAcl::new("x", e).to_http(&cfg())).0,
        "addresses[0].description"
    );
    // Update validates only what is set.
    assert!(
        UpdateIpAcl::new("acl_1")
            .name("new")
            .to_http(&cfg())
            .is_ok()
    );
    assert!(
        UpdateIpAcl::new("acl_1")
            .addresses(entries(&["127.0.0.1"]))
            .to_http(&cfg())
            .is_err()
    );
}

#[test]
fn canonical_networks() {
    use super::validate::canonical_network;
    assert_eq!(
        canonical_network("203.0.113.7/24"),
        canonical_network("203.0.113.0/24")
    );
    assert_eq!(
        canonical_network("2001:db8::1/64"),
        canonical_network("2001:db8::/64")
    );
    assert_ne!(
        canonical_network("203.0.113.7"),
        canonical_network("203.0.113.0/24")
    );
    assert_eq!(canonical_network(" 198.51.100.1 ").unwrap().1, 32);
}

#[test]
fn trunk_auth_pairing() {
    let cred = || AuthCredential::new("user", "secret1");
    let addr = || vec![AuthAddress::new("pbx", "198.51.100.7")];
    let ok = |t: CreateTrunk| t.to_http(&cfg());
    assert!(
        ok(CreateTrunk::with_credential("t", "d.example", cred()).transport(SipTransport::Udp))
            .is_ok()
    );
    assert!(ok(CreateTrunk::with_addresses("t", "d.example", addr())).is_ok());
    assert!(ok(CreateTrunk::with_ip_acl("t", "d.example", "acl_1")).is_ok());
    let cases: Vec<(CreateTrunk, &str)> = vec![
        (
            CreateTrunk::base("t", "d", AuthenticationType::Credential),
            "auth_credential",
        ),
        (
            CreateTrunk::with_credential("t", "d", cred()).auth_addresses(addr()),
            "auth_addresses",
        ),
        (
            CreateTrunk::with_credential("t", "d", cred()).ip_acl_id("acl"),
            "ip_acl_id",
        ),
        (
            CreateTrunk::base("t", "d", AuthenticationType::Ip),
            "auth_addresses",
        ),
        (
            CreateTrunk::with_addresses("t", "d", addr()).ip_acl_id("acl"),
            "ip_acl_id",
        ),
        (
            CreateTrunk::with_addresses("t", "d", addr()).transport(SipTransport::Udp),
            "transport",
        ),
        (
            CreateTrunk::with_credential("t", "d", AuthCredential::new("u", "1234")),
            "auth_credential.password",
        ),
        (
            CreateTrunk::base("t", "d", AuthenticationType::Other("token".into())),
            "authentication_type",
        ),
        (
            CreateTrunk::with_addresses("t", "d", vec![AuthAddress::new("n", "198.51.100.0/24")]),
            "auth_addresses[0].address",
        ),
        (
            CreateTrunk::with_addresses(
                "t",
                "d",
                (0..6)
                    .map(|i| AuthAddress::new("n", format!("198.51.100.{i}")))
                    .collect(),
            ),
            "auth_addresses",
        ),
        (
            CreateTrunk::with_ip_acl("t", "d", "acl").webhook_api_version("2024-01-01"),
            "webhook_api_version",
        ),
    ];
    for (t, param) in cases {
        assert_eq!(rule_of(ok(t)).0, param);
    }
    // The password stays out of Debug.
    assert!(!format!("{:?}", cred()).contains("secret1"));
    // Update: auth fields need the type.
    assert_eq!(
        rule_of(UpdateTrunk::new("st_1").ip_acl_id("acl").to_http(&cfg())).0,
        "authentication_type"
    );
    assert!(
        UpdateTrunk::new("st_1")
            .name("n")
            .transport(SipTransport::Udp)
            .to_http(&cfg())
            .is_ok()
    );
    assert!(
        UpdateTrunk::new("st_1")
            .authentication_type(AuthenticationType::Ip)
            .ip_acl_id("acl")
            .to_http(&cfg())
            .is_ok()
    );
}

#[test]
fn trunk_body_shape() {
    let r = CreateTrunk::with_credential("t", "d.example", AuthCredential::new("u", "p4ssw"))
        .transport(SipTransport::Tls)
        .to_http(&cfg())
        .unwrap();
    assert_eq!(
        body_json(&r),
        json!({"name":"t","domain_name":"d.example","authentication_type":"credential","transport":"tls",
               "auth_credential":{"username":"u","password":"p4ssw"},"webhook_api_version":"2026-06-01"})
    );
}

#[test]
fn number_assignment_rules() {
    let sel = || NumberSelection::ids(["vn_1", "vn_2"]);
    let r = AssignNumbers::to_voice_app(sel(), "va_1")
        .to_http(&cfg())
        .unwrap();
    assert_eq!(
        body_json(&r),
        json!({"vn_ids":["vn_1","vn_2"],"voice_app_id":"va_1"})
    );
    let mut both = AssignNumbers::to_voice_app(sel(), "va_1");
    both.sip_trunk_id = Some("st_1".into());
    assert_eq!(rule_of(both.to_http(&cfg())).0, "voice_app_id");
    let mut neither = AssignNumbers::to_voice_app(sel(), "va_1");
    neither.voice_app_id = None;
    assert_eq!(rule_of(neither.to_http(&cfg())).0, "voice_app_id");
    assert_eq!(
        rule_of(UnassignNumbers::new(NumberSelection::Ids(vec![])).to_http(&cfg())).0,
        "vn_ids"
    );
    let f = NumberFilters::new().location(["IN", "US"]);
    let r = UnassignNumbers::new(NumberSelection::AllMatching(f))
        .to_http(&cfg())
        .unwrap();
    assert_eq!(r.uri().query(), Some("location=IN&location=US"));
    assert_eq!(body_json(&r), json!({"apply_to_all":true}));
}

#[test]
fn mutation_rules() {
    let k = |h: Hangup| h.idempotency_key("k").to_http(&cfg());
    assert!(k(Hangup::new("cs").reason("NORMAL_CLEARING_2")).is_ok());
    for bad in ["normal", "A-B", "", "A B"] {
        assert_eq!(rule_of(k(Hangup::new("cs").reason(bad))).0, "reason");
    }
    let p = |p: Play| p.idempotency_key("k").to_http(&cfg());
    assert!(p(Play::new("cs", "https://m").on_dtmf(OnDtmf::Stop)).is_ok());
    assert_eq!(
        rule_of(p(Play::new("cs", "https://m").on_dtmf("skip"))).0,
        "on_dtmf"
    );
    let r = p(Play::new("cs", "https://m")
        .loop_count(3u32)
        .on_dtmf("ignore"))
    .unwrap();
    assert_eq!(
        body_json(&r),
        json!({"media_url":"https://m","loop":3,"on_dtmf":"ignore"})
    );
    assert_eq!(rule_of(p(Play::new("cs", ""))).0, "media_url");
    let d = SendDtmf::new("cs", "").idempotency_key("k").to_http(&cfg());
    assert_eq!(rule_of(d).0, "digits");
    let t = |t: Transfer| t.idempotency_key("k").to_http(&cfg());
    assert_eq!(
        rule_of(t(Transfer::new("cs", TransferTarget::pstn("")))).0,
        "target.number"
    );
    assert_eq!(
        rule_of(t(Transfer::new("cs", TransferTarget::sip("user@host")))).0,
        "target.uri"
    );
    assert_eq!(
        rule_of(t(Transfer::new("cs", TransferTarget::leg(" ")))).0,
        "target.leg_id"
    );
    assert_eq!(
        rule_of(t(
            Transfer::new("cs", TransferTarget::leg("cl_1")).on_failure(TransferAction::play(""))
        ))
        .0,
        "on_failure.media_url"
    );
    let r = t(
        Transfer::new("cs", TransferTarget::sip("sip:a@b").header("X-Id", "1"))
            .dial_music(TransferAction::say("hold on")),
    )
    .unwrap();
    assert_eq!(
        body_json(&r),
        json!({"target":{"kind":"sip","uri":"sip:a@b","custom_headers":{"X-Id":"1"}},"mode":"cold",
               "dial_music":{"action":"say","text":"hold on"}})
    );
    assert_eq!(
        rule_of(
            CreateApp::new("a", "f", "w")
                .webhook_api_version("2020-01-01")
                .to_http(&cfg())
        )
        .0,
        "webhook_api_version"
    );
    assert!(
        CreateApp::new("a", "f", "w")
            .webhook_api_version("2025-08-01")
            .to_http(&cfg())
            .is_ok()
    );
}

// ---------------------------------------------------------------------------- retry

fn hm(retry_after: Option<&str>) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    if let Some(v) = retry_after {
        h.insert("retry-after", v.parse().unwrap());
    }
    h
}

#[test]
fn retry_statuses_and_backoff() {
    let policy = RetryPolicy::default().max_attempts(5);
    let h = hm(None);
    for status in [429, 502, 503, 504] {
        let mut s = RetryState::new(policy.clone(), true);
        let d = s.on_outcome(
            Duration::ZERO,
            UNIX_EPOCH,
            0.999_999,
            Outcome::Status {
                status,
                headers: &h,
            },
        );
        assert!(
            matches!(d, RetryDecision::RetryAfter(w) if w > Duration::from_millis(199)),
            "{status}"
        );
    }
    for status in [200, 400, 401, 404, 409, 501] {
        let mut s = RetryState::new(policy.clone(), true);
        assert_eq!(
            s.on_outcome(
                Duration::ZERO,
                UNIX_EPOCH,
                0.5,
                Outcome::Status {
                    status,
                    headers: &h
                }
            ),
            RetryDecision::Stop,
            "{status}"
        );
    }
    // Exponential with full jitter, capped.
    let p = RetryPolicy::default().backoff(Duration::from_millis(100), Duration::from_millis(500));
    assert_eq!(p.backoff_delay(1, 1.0), Duration::from_millis(100));
    assert_eq!(p.backoff_delay(2, 1.0), Duration::from_millis(200));
    assert_eq!(p.backoff_delay(3, 1.0), Duration::from_millis(400));
    assert_eq!(p.backoff_delay(4, 1.0), Duration::from_millis(500));
    assert_eq!(p.backoff_delay(40, 0.5), Duration::from_millis(250));
    assert_eq!(p.backoff_delay(2, 0.0), Duration::ZERO);
    assert_eq!(p.backoff_delay(2, f64::NAN), Duration::ZERO);
    let huge = RetryPolicy::default().backoff(Duration::MAX, Duration::MAX);
    assert!(huge.backoff_delay(64, 0.999) <= Duration::MAX);
    assert!(jitter_from_bits(u64::MAX) < 1.0);
    assert_eq!(jitter_from_bits(0), 0.0);
}

#[test]
fn retry_budget_attempts_and_time() {
    let h = hm(None);
    let st = Outcome::Status {
        status: 503,
        headers: &h,
    };
    let mut s = RetryState::new(RetryPolicy::default().max_attempts(3), true);
    assert!(matches!(
        s.on_outcome(Duration::ZERO, UNIX_EPOCH, 0.5, st),
        RetryDecision::RetryAfter(_)
    ));
    assert!(matches!(
        s.on_outcome(Duration::ZERO, UNIX_EPOCH, 0.5, st),
        RetryDecision::RetryAfter(_)
    ));
    assert_eq!(
        s.on_outcome(Duration::ZERO, UNIX_EPOCH, 0.5, st),
        RetryDecision::Stop
    );
    assert_eq!(s.attempts(), 3);
    let mut s = RetryState::new(
        RetryPolicy::default().max_elapsed(Duration::from_secs(1)),
        true,
    );
    assert_eq!(
        s.on_outcome(Duration::from_millis(990), UNIX_EPOCH, 0.5, st),
        RetryDecision::Stop
    );
    let mut s = RetryState::new(RetryPolicy::none(), true);
    assert_eq!(
        s.on_outcome(Duration::ZERO, UNIX_EPOCH, 0.5, st),
        RetryDecision::Stop
    );
}

#[test]
fn retry_after_seconds_and_dates() {
    let now = UNIX_EPOCH + Duration::from_secs(1_445_412_470); // 2015-10-21 07:27:50 UTC
    assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
    assert_eq!(
        parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
        Some(Duration::from_secs(10))
    );
    assert_eq!(
        parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
        Some(Duration::ZERO)
    );
    assert_eq!(parse_retry_after("soon", now), None);
    assert_eq!(
        parse_retry_after("Wed, 32 Oct 2015 07:28:00 GMT", now),
        None
    );
    assert_eq!(
        parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
        Some(UNIX_EPOCH + Duration::from_secs(784_111_777))
    );
    assert_eq!(
        parse_http_date("Thu, 29 Feb 2024 00:00:00 GMT"),
        Some(UNIX_EPOCH + Duration::from_secs(1_709_164_800))
    );
    let h = hm(Some("Wed, 21 Oct 2015 07:28:00 GMT"));
    let mut s = RetryState::new(RetryPolicy::default(), true);
    assert_eq!(
        s.on_outcome(
            Duration::ZERO,
            now,
            0.0,
            Outcome::Status {
                status: 429,
                headers: &h
            }
        ),
        RetryDecision::RetryAfter(Duration::from_secs(10))
    );
    let h = hm(Some("2"));
    let mut s = RetryState::new(RetryPolicy::default(), true);
    assert_eq!(
        s.on_outcome(
            Duration::ZERO,
            now,
            0.9,
            Outcome::Status {
                status: 503,
                headers: &h
            }
        ),
        RetryDecision::RetryAfter(Duration::from_secs(2))
    );
    // Longer than max_retry_after: give up rather than wait.
    let h = hm(Some("3600"));
    let mut s = RetryState::new(RetryPolicy::default(), true);
    assert_eq!(
        s.on_outcome(
            Duration::ZERO,
            now,
            0.9,
            Outcome::Status {
                status: 429,
                headers: &h
            }
        ),
        RetryDecision::Stop
    );
}

#[test]
fn non_idempotent_requests_only_retry_when_never_sent() {
    let h = hm(None);
    let connect = TransportError::new(TransportErrorKind::Connect, "refused");
    let timeout = TransportError::new(TransportErrorKind::Timeout, "slow");
    let io = TransportError::new(TransportErrorKind::Io, "reset");
    let decide = |safe: bool, o: Outcome<'_>| {
        RetryState::new(RetryPolicy::default(), safe).on_outcome(
            Duration::ZERO,
            SystemTime::UNIX_EPOCH,
            0.5,
            o,
        )
    };
    assert!(matches!(
        decide(false, Outcome::Transport(&connect)),
        RetryDecision::RetryAfter(_)
    ));
    assert_eq!(
        decide(false, Outcome::Transport(&timeout)),
        RetryDecision::Stop
    );
    assert_eq!(decide(false, Outcome::Transport(&io)), RetryDecision::Stop);
    assert_eq!(
        decide(
            false,
            Outcome::Status {
                status: 503,
                headers: &h
            }
        ),
        RetryDecision::Stop
    );
    assert!(matches!(
        decide(true, Outcome::Transport(&timeout)),
        RetryDecision::RetryAfter(_)
    ));
    assert!(matches!(
        decide(true, Outcome::Transport(&io)),
        RetryDecision::RetryAfter(_)
    ));
    // Replay safety comes from the method or the key.
    let c = cfg();
    assert!(!is_replay_safe(
        &CreateCall::new("a", "b", "c", "d").to_http(&c).unwrap()
    ));
    assert!(is_replay_safe(
        &CreateCall::new("a", "b", "c", "d")
            .idempotency_key("k")
            .to_http(&c)
            .unwrap()
    ));
    assert!(is_replay_safe(
        &Hangup::new("cs").idempotency_key("k").to_http(&c).unwrap()
    ));
    assert!(is_replay_safe(&ListCalls::new().to_http(&c).unwrap()));
    assert!(is_replay_safe(&DeleteTrunk::new("st").to_http(&c).unwrap()));
    assert!(!is_replay_safe(
        &super::secrets::UpdateSecret::new("sk")
            .rotate(true)
            .to_http(&c)
            .unwrap()
    ));
}

#[test]
fn clone_request_is_identical() {
    let r = Hangup::new("cs")
        .idempotency_key("k")
        .to_http(&cfg())
        .unwrap();
    let c = clone_request(&r);
    assert_eq!(c.method(), r.method());
    assert_eq!(c.uri(), r.uri());
    assert_eq!(c.headers(), r.headers());
    assert_eq!(c.body(), r.body());
}

// ----------------------------------------------------------------------- pagination

fn page(next: Option<&str>, has_more: bool) -> Page<Call> {
    Page {
        data: vec![Call::default()],
        next_cursor: next.map(String::from),
        previous_cursor: None,
        has_more,
    }
}

#[test]
fn paginator_walks_and_stops() {
    let mut p = Paginator::new(ListCalls::new().limit(2));
    let r1 = p.next_request().unwrap();
    assert_eq!(r1.cursor_after, None);
    p.handle_page(&r1, &page(Some("c1"), true)).unwrap();
    let r2 = p.next_request().unwrap();
    assert_eq!(r2.cursor_after.as_deref(), Some("c1"));
    assert_eq!(r2.limit, Some(2));
    p.handle_page(&r2, &page(Some("c2"), false)).unwrap();
    assert!(p.is_done());
    assert!(p.next_request().is_none());
}

#[test]
fn paginator_stops_on_missing_or_stuck_cursor() {
    let mut p = Paginator::new(ListCalls::new());
    let r = p.next_request().unwrap();
    p.handle_page(&r, &page(None, true)).unwrap();
    assert!(p.next_request().is_none());

    let mut p = Paginator::new(ListCalls::new());
    let r = p.next_request().unwrap();
    p.handle_page(&r, &page(Some(""), true)).unwrap();
    assert!(p.next_request().is_none());

    // A cursor that does not advance (same as the one just used, or any seen before): the
    // walk ends with a typed error, not silently.
    let mut p = Paginator::new(ListCalls::new().cursor_after("c0"));
    let r = p.next_request().unwrap();
    let e = p.handle_page(&r, &page(Some("c0"), true)).unwrap_err();
    assert!(
        matches!(e, Error::Pagination(ref m) if m.contains("c0")),
        "{e:?}"
    );
    assert!(p.next_request().is_none());
    let mut p = Paginator::new(ListCalls::new());
    let r = p.next_request().unwrap();
    p.handle_page(&r, &page(Some("a"), true)).unwrap();
    let r = p.next_request().unwrap();
    p.handle_page(&r, &page(Some("b"), true)).unwrap();
    let r = p.next_request().unwrap();
    assert!(matches!(
        p.handle_page(&r, &page(Some("a"), true)),
        Err(Error::Pagination(_))
    ));
    assert!(p.next_request().is_none());
}

#[test]
fn a_500_is_retried_only_when_replay_safe_and_allowed() {
    let h = http::HeaderMap::new();
    let decide = |policy: RetryPolicy, replay_safe: bool| {
        RetryState::new(policy, replay_safe).on_outcome(
            Duration::ZERO,
            UNIX_EPOCH,
            0.5,
            Outcome::Status {
                status: 500,
                headers: &h,
            },
        )
    };
    assert!(matches!(
        decide(RetryPolicy::default(), true),
        RetryDecision::RetryAfter(_)
    ));
    assert_eq!(decide(RetryPolicy::default(), false), RetryDecision::Stop);
    assert_eq!(
        decide(RetryPolicy::default().retry_500(false), true),
        RetryDecision::Stop
    );
}

#[test]
fn an_answer_over_the_size_limit_is_never_retried() {
    let e = TransportError::new(TransportErrorKind::TooLarge, "over 1 MiB");
    let mut s = RetryState::new(RetryPolicy::default(), true);
    assert_eq!(
        s.on_outcome(Duration::ZERO, UNIX_EPOCH, 0.5, Outcome::Transport(&e)),
        RetryDecision::Stop
    );
    assert!(matches!(Error::from_transport(e), Error::TooLarge(_)));
}

#[test]
fn secret_debug_hides_value() {
    let s: Secret = serde_json::from_str(r#"{"id":"sk_1","secret_value":"whsec_abc"}"#).unwrap();
    assert_eq!(s.secret_value.as_deref(), Some("whsec_abc"));
    assert!(!format!("{s:?}").contains("whsec_abc"));
}
