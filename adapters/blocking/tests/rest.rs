//! The blocking REST client against a real HTTP server on 127.0.0.1: the exact request of
//! every endpoint, answers, errors, redirects, retries, timeouts and keep-alive.

use teler_test_support::loopback;

use std::time::{Duration, Instant};

use loopback::{Recorded, Reply, Server, refused_base_url, with_deadline};
use serde_json::{Value, json};
use teler_blocking::rest::numbers::*;
use teler_blocking::rest::secrets::*;
use teler_blocking::rest::sip::*;
use teler_blocking::rest::voice::*;
use teler_blocking::rest::*;

const KEY: &str = "test-key-0123456789";

fn fast_retry() -> RetryPolicy {
    RetryPolicy::default()
        .max_attempts(3)
        .backoff(Duration::from_millis(1), Duration::from_millis(5))
}

fn client(server: &Server) -> Client {
    Client::builder(KEY)
        .base_url(server.base_url())
        .retry(fast_retry())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 36
        && b[8] == b'-'
        && b[13] == b'-'
        && b[18] == b'-'
        && b[23] == b'-'
        && b[14] == b'4'
        && matches!(b[19], b'8' | b'9' | b'a' | b'b')
        && s.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
}

fn assert_common_headers(r: &Recorded) {
    assert_eq!(r.header("x-api-key"), Some(KEY), "{r:?}");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("accept"), Some("application/json"));
    let ua = r.header("user-agent").unwrap();
    assert!(ua.starts_with("teler-rs/"), "{ua}");
}

type Call = Box<dyn Fn(&Client) -> Result<String, Error> + Send>;

struct Case {
    name: &'static str,
    call: Call,
    method: &'static str,
    target: &'static str,
    body: Option<Value>,
    /// `Some(key)`: the caller's key; `Some("")`: a generated UUIDv4; `None`: no header.
    idem: Option<&'static str>,
    reply: Reply,
}

fn case(
    name: &'static str,
    method: &'static str,
    target: &'static str,
    body: Option<Value>,
    idem: Option<&'static str>,
    reply: &str,
    call: impl Fn(&Client) -> Result<String, Error> + Send + 'static,
) -> Case {
    Case {
        name,
        call: Box::new(call),
        method,
        target,
        body,
        idem,
        reply: Reply::json(200, reply),
    }
}

fn d<T: std::fmt::Debug>(r: Result<T, Error>) -> Result<String, Error> {
    r.map(|v| format!("{v:?}"))
}

fn all_cases() -> Vec<Case> {
    let page = r#"{"data":[{"id":"x_1"}],"next_cursor":null,"has_more":false}"#;
    let obj = r#"{"data":{"id":"x_1","request_id":"rq_1","event_id":"evt_1","success":true}}"#;
    vec![
        case(
            "calls shortcut",
            "POST",
            "/api/v1/voice/calls/initiate",
            Some(
                json!({"from_number":"+911","to_number":"+912","flow_url":"https://f","status_callback_url":"https://s","record":true}),
            ),
            None,
            r#"{"message":"ok","data":{"id":"cs_1","record":true}}"#,
            |c| {
                d(c.calls()
                    .create("+911", "+912", "https://f", "https://s", true))
            },
        ),
        case(
            "voice.calls.create",
            "POST",
            "/api/v1/voice/calls/initiate",
            Some(
                json!({"from_number":"+911","to_number":"+912","flow_url":"https://f","status_callback_url":"https://s","record":false}),
            ),
            None,
            r#"{"data":{"id":"cs_1"}}"#,
            |c| {
                d(c.voice().calls().create(
                    CreateCall::new("+911", "+912", "https://f", "https://s").record(false),
                ))
            },
        ),
        case(
            "voice.calls.list",
            "GET",
            "/api/v1/voice/calls?state=answered&from_number=%2B911&created_after=2026-01-01T00%3A00%3A00Z&limit=2",
            None,
            None,
            page,
            |c| {
                d(c.voice().calls().list(
                    ListCalls::new()
                        .state(CallState::Answered)
                        .from_number("+911")
                        .created_after("2026-01-01T00:00:00Z")
                        .limit(2),
                ))
            },
        ),
        case(
            "voice.calls.retrieve",
            "GET",
            "/api/v1/voice/calls/cs_1",
            None,
            None,
            obj,
            |c| d(c.voice().calls().retrieve("cs_1")),
        ),
        case(
            "voice.calls.list_legs",
            "GET",
            "/api/v1/voice/calls/cs_1/legs",
            None,
            None,
            page,
            |c| d(c.voice().calls().list_legs("cs_1")),
        ),
        case(
            "mutations.hangup",
            "POST",
            "/api/v1/voice/calls/cs_1/hangup",
            Some(json!({"leg_id":"cl_1","reason":"NORMAL_CLEARING"})),
            Some(""),
            obj,
            |c| {
                d(c.voice()
                    .mutations()
                    .hangup(Hangup::new("cs_1").leg_id("cl_1").reason("NORMAL_CLEARING")))
            },
        ),
        case(
            "mutations.mute",
            "POST",
            "/api/v1/voice/calls/cs_1/mute",
            Some(json!({"leg_id":"cl_1","on":true})),
            Some(""),
            obj,
            |c| d(c.voice().mutations().mute(Mute::new("cs_1", "cl_1", true))),
        ),
        case(
            "mutations.dtmf",
            "POST",
            "/api/v1/voice/calls/cs_1/dtmf",
            Some(json!({"digits":"12#","duration_ms":250})),
            Some(""),
            obj,
            |c| {
                d(c.voice()
                    .mutations()
                    .dtmf(SendDtmf::new("cs_1", "12#").duration_ms(250u32)))
            },
        ),
        case(
            "mutations.play",
            "POST",
            "/api/v1/voice/calls/cs_1/play",
            Some(json!({"media_url":"https://m/a.wav","loop":2,"on_dtmf":"stop"})),
            Some("my-key-1"),
            obj,
            |c| {
                d(c.voice().mutations().play(
                    Play::new("cs_1", "https://m/a.wav")
                        .loop_count(2u32)
                        .on_dtmf(OnDtmf::Stop)
                        .idempotency_key("my-key-1"),
                ))
            },
        ),
        case(
            "operations.transfer",
            "POST",
            "/api/v1/voice/calls/cs_1/transfer",
            Some(
                json!({"target":{"kind":"pstn","number":"+913"},"mode":"cold","timeout":30,"on_failure":{"action":"play","media_url":"https://m/f.wav"}}),
            ),
            Some(""),
            r#"{"id":"op_1","call_id":"cs_1","status":"pending","mode":"cold","request_id":"rq"}"#,
            |c| {
                d(c.voice().operations().transfer(
                    Transfer::new("cs_1", TransferTarget::pstn("+913"))
                        .timeout(30u32)
                        .on_failure(TransferAction::play("https://m/f.wav")),
                ))
            },
        ),
        case(
            "apps.create",
            "POST",
            "/api/v1/voice/apps",
            Some(
                json!({"name":"A","flow_url":"https://f","webhook_url":"https://w","vn_ids":["vn_1"],"webhook_api_version":"2026-06-01"}),
            ),
            None,
            obj,
            |c| {
                d(c.voice()
                    .apps()
                    .create(CreateApp::new("A", "https://f", "https://w").vn_ids(["vn_1"])))
            },
        ),
        case(
            "apps.list",
            "GET",
            "/api/v1/voice/apps?status=active&status=inactive&limit=50",
            None,
            None,
            page,
            |c| {
                d(c.voice()
                    .apps()
                    .list(ListApps::new().status([AppStatus::Active, AppStatus::Inactive])))
            },
        ),
        case(
            "apps.retrieve",
            "GET",
            "/api/v1/voice/apps/va_1",
            None,
            None,
            obj,
            |c| d(c.voice().apps().retrieve("va_1")),
        ),
        case(
            "apps.update",
            "PATCH",
            "/api/v1/voice/apps/va_1",
            Some(json!({"status":"inactive","channel_limit":4})),
            None,
            obj,
            |c| {
                d(c.voice().apps().update(
                    UpdateApp::new("va_1")
                        .status(AppStatus::Inactive)
                        .channel_limit(4u32),
                ))
            },
        ),
        case(
            "apps.delete",
            "DELETE",
            "/api/v1/voice/apps/va_1",
            None,
            None,
            r#"{"success":true,"message":"deleted"}"#,
            |c| d(c.voice().apps().delete("va_1")),
        ),
        case(
            "apps.list_virtual_numbers",
            "GET",
            "/api/v1/voice/apps/va_1/virtual-numbers?location=IN&location=US&limit=50",
            None,
            None,
            page,
            |c| {
                d(c.voice().apps().list_virtual_numbers(
                    ListAppNumbers::new("va_1").location(["IN", "US"]).limit(50),
                ))
            },
        ),
        case(
            "virtual_numbers.list",
            "GET",
            "/api/v1/virtual-numbers?search=x&voice_app=va_1&voice_app=va_2&limit=10",
            None,
            None,
            page,
            |c| {
                d(c.virtual_numbers()
                    .list(ListNumbers::new().search("x").voice_app(["va_1", "va_2"])))
            },
        ),
        case(
            "virtual_numbers.assign",
            "POST",
            "/api/v1/virtual-numbers/assign",
            Some(json!({"vn_ids":["vn_1","vn_2"],"sip_trunk_id":"st_1"})),
            None,
            r#"{"success":true}"#,
            |c| {
                d(c.virtual_numbers().assign(AssignNumbers::to_sip_trunk(
                    NumberSelection::ids(["vn_1", "vn_2"]),
                    "st_1",
                )))
            },
        ),
        case(
            "virtual_numbers.unassign",
            "POST",
            "/api/v1/virtual-numbers/unassign?location=IN",
            Some(json!({"apply_to_all":true})),
            None,
            r#"{"success":true}"#,
            |c| {
                d(c.virtual_numbers()
                    .unassign(UnassignNumbers::new(NumberSelection::AllMatching(
                        NumberFilters::new().location(["IN"]),
                    ))))
            },
        ),
        case(
            "virtual_numbers.update",
            "PATCH",
            "/api/v1/virtual-numbers/vn_1",
            Some(json!({"name":"Sales"})),
            None,
            obj,
            |c| {
                d(c.virtual_numbers()
                    .update(UpdateNumber::new("vn_1").name("Sales")))
            },
        ),
        case(
            "sip.trunks.create",
            "POST",
            "/api/v1/sip/trunks",
            Some(
                json!({"name":"T","domain_name":"t.example","authentication_type":"IP","ip_acl_id":"acl_1","webhook_api_version":"2025-08-01"}),
            ),
            None,
            obj,
            |c| {
                d(c.sip().trunks().create(
                    CreateTrunk::with_ip_acl("T", "t.example", "acl_1")
                        .webhook_api_version("2025-08-01"),
                ))
            },
        ),
        case(
            "sip.trunks.list",
            "GET",
            "/api/v1/sip/trunks?search=t&status=active&limit=50",
            None,
            None,
            page,
            |c| {
                d(c.sip()
                    .trunks()
                    .list(ListTrunks::new().search("t").status(["active"])))
            },
        ),
        case(
            "sip.trunks.retrieve",
            "GET",
            "/api/v1/sip/trunks/st_1",
            None,
            None,
            obj,
            |c| d(c.sip().trunks().retrieve("st_1")),
        ),
        case(
            "sip.trunks.update",
            "PATCH",
            "/api/v1/sip/trunks/st_1",
            Some(
                json!({"authentication_type":"credential","auth_credential":{"username":"u","password":"12345"}}),
            ),
            None,
            obj,
            |c| {
                d(c.sip().trunks().update(
                    UpdateTrunk::new("st_1")
                        .authentication_type(AuthenticationType::Credential)
                        .auth_credential(AuthCredential::new("u", "12345")),
                ))
            },
        ),
        case(
            "sip.trunks.delete",
            "DELETE",
            "/api/v1/sip/trunks/st_1",
            None,
            None,
            r#"{"success":true}"#,
            |c| d(c.sip().trunks().delete("st_1")),
        ),
        case(
            "sip.trunks.list_virtual_numbers",
            "GET",
            "/api/v1/sip/trunks/st_1/virtual-numbers?limit=10",
            None,
            None,
            page,
            |c| {
                d(c.sip()
                    .trunks()
                    .list_virtual_numbers(ListTrunkNumbers::new("st_1")))
            },
        ),
        case(
            "sip.calls.list",
            "GET",
            "/api/v1/sip/calls?trunk_id=st_1&limit=50",
            None,
            None,
            page,
            |c| d(c.sip().calls().list(ListSipCalls::new().trunk_id("st_1"))),
        ),
        case(
            "sip.calls.retrieve",
            "GET",
            "/api/v1/sip/calls/cs_9",
            None,
            None,
            obj,
            |c| d(c.sip().calls().retrieve("cs_9")),
        ),
        case(
            "sip.ip_acls.create",
            "POST",
            "/api/v1/sip/ip-acls",
            Some(
                json!({"name":"office","addresses":[{"address":"203.0.113.0/24","description":"HQ"},{"address":"2001:db8::1"}]}),
            ),
            None,
            obj,
            |c| {
                d(c.sip().ip_acls().create(CreateIpAcl::new(
                    "office",
                    vec![
                        IpAclEntry::new("203.0.113.0/24").description("HQ"),
                        IpAclEntry::new("2001:db8::1"),
                    ],
                )))
            },
        ),
        case(
            "sip.ip_acls.list",
            "GET",
            "/api/v1/sip/ip-acls?limit=50",
            None,
            None,
            page,
            |c| d(c.sip().ip_acls().list(ListIpAcls::new())),
        ),
        case(
            "sip.ip_acls.retrieve",
            "GET",
            "/api/v1/sip/ip-acls/acl_1",
            None,
            None,
            obj,
            |c| d(c.sip().ip_acls().retrieve("acl_1")),
        ),
        case(
            "sip.ip_acls.update",
            "PATCH",
            "/api/v1/sip/ip-acls/acl_1",
            Some(json!({"addresses":[{"address":"198.51.100.7"}]})),
            None,
            obj,
            |c| {
                d(c.sip().ip_acls().update(
                    UpdateIpAcl::new("acl_1").addresses(vec![IpAclEntry::new("198.51.100.7")]),
                ))
            },
        ),
        case(
            "sip.ip_acls.delete",
            "DELETE",
            "/api/v1/sip/ip-acls/acl_1",
            None,
            None,
            r#"{"success":true}"#,
            |c| d(c.sip().ip_acls().delete("acl_1")),
        ),
        case(
            "secrets.create",
            "POST",
            "/api/v1/secrets",
            Some(json!({"name":"hooks"})),
            None,
            obj,
            |c| d(c.secrets().create(CreateSecret::new("hooks"))),
        ),
        case(
            "secrets.list",
            "GET",
            "/api/v1/secrets?search=h&limit=10",
            None,
            None,
            page,
            |c| d(c.secrets().list(ListSecrets::new().search("h"))),
        ),
        case(
            "secrets.retrieve",
            "GET",
            "/api/v1/secrets/sk_1",
            None,
            None,
            obj,
            |c| d(c.secrets().retrieve("sk_1")),
        ),
        case(
            "secrets.update",
            "PATCH",
            "/api/v1/secrets/sk_1",
            Some(json!({"rotate":true})),
            None,
            obj,
            |c| d(c.secrets().update(UpdateSecret::new("sk_1").rotate(true))),
        ),
        case(
            "secrets.delete",
            "DELETE",
            "/api/v1/secrets/sk_1",
            None,
            None,
            r#"{"success":true}"#,
            |c| d(c.secrets().delete("sk_1")),
        ),
        case(
            "events.list",
            "GET",
            "/api/v1/events?call_id=cs_1&type=call.completed&delivery_status=failed_permanent&limit=50",
            None,
            None,
            page,
            |c| {
                d(c.events().list(
                    teler_blocking::rest::events::ListEvents::new()
                        .call_id("cs_1")
                        .event_type("call.completed")
                        .delivery_status(DeliveryStatus::FailedPermanent),
                ))
            },
        ),
        case(
            "events.retrieve",
            "GET",
            "/api/v1/events/evt_1",
            None,
            None,
            obj,
            |c| d(c.events().retrieve("evt_1")),
        ),
        case(
            "events.redeliver",
            "POST",
            "/api/v1/events/evt_1/redeliver",
            None,
            None,
            r#"{"event_id":"evt_1","redelivered_at":"2026-01-01T00:00:00Z"}"#,
            |c| d(c.events().redeliver("evt_1")),
        ),
        Case {
            name: "recordings.retrieve",
            call: Box::new(|c| {
                d(c.recordings()
                    .retrieve(teler_blocking::rest::recordings::GetRecording::new("rec_1")))
            }),
            method: "GET",
            target: "/api/v1/recordings?recording_id=rec_1&expires_in=900",
            body: None,
            idem: None,
            reply: Reply::empty(307)
                .header("Location", "https://storage.example/rec_1.wav?sig=abc"),
        },
    ]
}

#[test]
fn every_endpoint_sends_the_exact_request() {
    with_deadline(60, || {
        let server = Server::start();
        let c = client(&server);
        let cases = all_cases();
        assert_eq!(cases.len(), 42);
        for case in cases {
            server.clear();
            server.push(case.reply.clone());
            let out = (case.call)(&c);
            assert!(out.is_ok(), "{}: {out:?}", case.name);
            let r = server.only();
            assert_eq!(r.method, case.method, "{}", case.name);
            assert_eq!(r.target, case.target, "{}", case.name);
            assert_common_headers(&r);
            match &case.body {
                Some(b) => assert_eq!(&r.json(), b, "{}", case.name),
                None => assert!(r.body.is_empty(), "{}: {:?}", case.name, r.body),
            }
            match case.idem {
                None => assert_eq!(r.header("idempotency-key"), None, "{}", case.name),
                Some("") => {
                    let k = r.header("idempotency-key").expect(case.name);
                    assert!(is_uuid_v4(k), "{}: {k}", case.name);
                }
                Some(k) => assert_eq!(r.header("idempotency-key"), Some(k), "{}", case.name),
            }
        }
    });
}

#[test]
fn answers_are_typed_bare_or_enveloped() {
    with_deadline(20, || {
        let server = Server::start();
        let c = client(&server);
        server.push(Reply::json(200, r#"{"id":"cs_1","state":"completed","direction":"outbound","legs":[],"unknown":{"x":1}}"#));
        server.push(Reply::json(
            200,
            r#"{"data":{"id":"cs_2","state":"ringing"}}"#,
        ));
        let a = c.voice().calls().retrieve("cs_1").unwrap();
        assert_eq!(
            (a.id.as_str(), a.state, a.direction),
            (
                "cs_1",
                Some(CallState::Completed),
                Some(Direction::Outbound)
            )
        );
        let b = c.voice().calls().retrieve("cs_2").unwrap();
        assert_eq!((b.id.as_str(), b.state), ("cs_2", Some(CallState::Ringing)));
        server.push(Reply::json(201, r#"{"message":"Call initiated","data":{"id":"cs_3","from_number":"+1","to_number":"+2","status_callback_url":"https://s","record":true}}"#));
        let created = c
            .calls()
            .create("+1", "+2", "https://f", "https://s", true)
            .unwrap();
        assert_eq!(created.id, "cs_3");
        assert_eq!(created.record, Some(true));
        server.push(Reply::json(200, r#"{"data":[{"id":"vn_1","number":"+91","voice_app":{"id":"va_1","name":"A"}}],"next_cursor":"n","previous_cursor":"p","has_more":true}"#));
        let p = c.virtual_numbers().list(ListNumbers::new()).unwrap();
        assert_eq!(p.data[0].voice_app.as_ref().unwrap().id, "va_1");
        assert_eq!(
            (
                p.next_cursor.as_deref(),
                p.previous_cursor.as_deref(),
                p.has_more
            ),
            (Some("n"), Some("p"), true)
        );
        server.push(Reply::json(200, "not json"));
        assert!(matches!(
            c.voice().calls().retrieve("cs_1"),
            Err(Error::Decode { status: 200, .. })
        ));
        server.push(Reply::empty(204));
        assert!(c.secrets().delete("sk_1").unwrap().success);
    });
}

#[test]
fn every_error_status_has_its_kind() {
    with_deadline(30, || {
        let server = Server::start();
        let c = Client::builder(KEY)
            .base_url(server.base_url())
            .retry(RetryPolicy::none())
            .build()
            .unwrap();
        let body = r#"{"success":false,"message":"Nope","code":"bad_thing","type":"validation","errors":[{"loc":["body","to_number"],"msg":"invalid","type":"value_error"}]}"#;
        for status in [
            400u16, 401, 403, 404, 409, 410, 422, 429, 500, 501, 502, 503, 504, 418,
        ] {
            server.push(Reply::json(status, body));
            let e = c.voice().calls().retrieve("cs_1").unwrap_err();
            let kind_ok = match status {
                400 => matches!(e, Error::BadRequest(_)),
                401 => matches!(e, Error::Unauthorized(_)),
                403 => matches!(e, Error::Forbidden(_)),
                404 => matches!(e, Error::NotFound(_)),
                409 => matches!(e, Error::Conflict(_)),
                410 => matches!(e, Error::Gone(_)),
                422 => matches!(e, Error::Unprocessable(_)),
                429 => matches!(e, Error::RateLimited(_)),
                500 => matches!(e, Error::InternalServer(_)),
                501 => matches!(e, Error::NotImplemented(_)),
                _ => matches!(e, Error::Api(_)),
            };
            assert!(kind_ok, "{status}: {e:?}");
            let api = e.api().unwrap();
            assert_eq!(api.status, status);
            assert_eq!(api.message, "Nope");
            assert_eq!(api.code.as_deref(), Some("bad_thing"));
            assert_eq!(api.error_type.as_deref(), Some("validation"));
            assert_eq!(api.errors[0].loc, ["body", "to_number"]);
            assert_eq!(api.body, body.as_bytes());
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains(KEY), "{shown}");
        }
        assert_eq!(
            server.requests().len(),
            14,
            "RetryPolicy::none() sends once"
        );
    });
}

#[test]
fn recordings_redirect_is_read_not_followed_and_download_streams() {
    with_deadline(20, || {
        let server = Server::start();
        let c = client(&server);
        let file: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        for status in [302u16, 307] {
            server.clear();
            let loc = format!("{}/storage/rec_1.wav?sig=abc", server.origin());
            server.push(Reply::empty(status).header("Location", &loc));
            let url = c
                .recordings()
                .retrieve(
                    teler_blocking::rest::recordings::GetRecording::new("rec_1").expires_in(60),
                )
                .unwrap();
            assert_eq!(url.url, loc);
            assert_eq!(url.expires_in, 60);
            assert_eq!(
                server.requests().len(),
                1,
                "the redirect must not be followed"
            );
        }
        server.push(Reply::json(
            200,
            r#"{"data":{"url":"https://s/x","expires_in":30}}"#,
        ));
        let url = c
            .recordings()
            .retrieve(teler_blocking::rest::recordings::GetRecording::new("rec_1"))
            .unwrap();
        assert_eq!((url.url.as_str(), url.expires_in), ("https://s/x", 30));

        // Download: one redirect hop on the storage side, then the file; no API key leaks.
        server.clear();
        let first = format!("{}/storage/a", server.origin());
        server.push(Reply::empty(307).header("Location", &first));
        let rec = c
            .recordings()
            .retrieve(teler_blocking::rest::recordings::GetRecording::new("rec_2"))
            .unwrap();
        server
            .push(Reply::empty(302).header("Location", &format!("{}/storage/b", server.origin())));
        server.push(Reply::bytes(200, file.clone()));
        let mut out = Vec::new();
        let n = c.download_recording(&rec, &mut out).unwrap();
        assert_eq!(n, file.len() as u64);
        assert_eq!(out, file);
        let reqs = server.requests();
        assert_eq!(reqs.len(), 3);
        assert_eq!(reqs[1].target, "/storage/a");
        assert_eq!(reqs[2].target, "/storage/b");
        assert!(reqs[1].header("x-api-key").is_none() && reqs[2].header("x-api-key").is_none());

        server.push(Reply::json(403, "<Error>expired</Error>"));
        let e = c.download_recording(&rec, &mut Vec::new()).unwrap_err();
        assert!(matches!(e, Error::Forbidden(_)), "{e:?}");
    });
}

#[test]
fn rate_limit_honours_retry_after_seconds_and_dates() {
    with_deadline(20, || {
        let server = Server::start();
        let c = client(&server);
        server.push(Reply::json(429, "{}").header("Retry-After", "1"));
        server.push(Reply::json(200, r#"{"id":"cs_1"}"#));
        let t = Instant::now();
        assert_eq!(c.voice().calls().retrieve("cs_1").unwrap().id, "cs_1");
        let waited = t.elapsed();
        assert!(waited >= Duration::from_millis(950), "{waited:?}");
        assert!(waited < Duration::from_secs(3), "{waited:?}");
        assert_eq!(server.requests().len(), 2);

        server.clear();
        server.push(Reply::json(429, "{}").header("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"));
        server.push(Reply::json(200, r#"{"id":"cs_1"}"#));
        let t = Instant::now();
        c.voice().calls().retrieve("cs_1").unwrap();
        assert!(
            t.elapsed() < Duration::from_millis(900),
            "a past date means no wait"
        );
        assert_eq!(server.requests().len(), 2);

        // Out of attempts: the 429 comes back typed, with its Retry-After.
        server.clear();
        server
            .set_default(Reply::json(429, r#"{"message":"slow down"}"#).header("Retry-After", "0"));
        let e = c.voice().calls().retrieve("cs_1").unwrap_err();
        assert!(
            matches!(&e, Error::RateLimited(a) if a.retry_after == Some(Duration::ZERO)),
            "{e:?}"
        );
        assert_eq!(server.requests().len(), 3);
    });
}

#[test]
fn mutation_retries_reuse_the_idempotency_key() {
    with_deadline(20, || {
        let server = Server::start();
        let c = client(&server);
        server.push(Reply::json(503, "{}"));
        server.push(Reply::json(502, "{}"));
        server.push(Reply::json(200, r#"{"request_id":"rq_1"}"#));
        let r = c.voice().mutations().hangup(Hangup::new("cs_1")).unwrap();
        assert_eq!(r.request_id, "rq_1");
        let reqs = server.requests();
        assert_eq!(reqs.len(), 3);
        let k = reqs[0].header("idempotency-key").unwrap();
        assert!(is_uuid_v4(k));
        assert!(
            reqs.iter()
                .all(|r| r.header("idempotency-key") == Some(k) && r.body == reqs[0].body)
        );
        // A fresh call gets a fresh key.
        server.clear();
        server.push(Reply::json(200, r#"{"request_id":"rq_2"}"#));
        c.voice().mutations().hangup(Hangup::new("cs_1")).unwrap();
        assert_ne!(server.only().header("idempotency-key"), Some(k));
    });
}

#[test]
fn non_idempotent_requests_are_not_replayed() {
    with_deadline(20, || {
        let server = Server::start();
        let c = client(&server);
        server.push(Reply::json(503, r#"{"message":"busy"}"#));
        let e = c
            .calls()
            .create("+1", "+2", "https://f", "https://s", true)
            .unwrap_err();
        assert_eq!(e.status(), Some(503));
        assert_eq!(server.requests().len(), 1);
        // The connection broke after sending: may have reached the server, so no replay.
        server.clear();
        server.push(Reply::hang_up());
        let e = c
            .calls()
            .create("+1", "+2", "https://f", "https://s", true)
            .unwrap_err();
        assert!(matches!(e, Error::Network(_)), "{e:?}");
        assert_eq!(server.requests().len(), 1);
        // With a caller key, the same request is safe to replay.
        server.clear();
        server.push(Reply::json(503, "{}"));
        server.push(Reply::json(200, r#"{"data":{"id":"cs_1"}}"#));
        let ok = c
            .voice()
            .calls()
            .create(
                CreateCall::new("+1", "+2", "https://f", "https://s").idempotency_key("create-1"),
            )
            .unwrap();
        assert_eq!(ok.id, "cs_1");
        let reqs = server.requests();
        assert_eq!(reqs.len(), 2);
        assert!(
            reqs.iter()
                .all(|r| r.header("idempotency-key") == Some("create-1"))
        );
    });
}

#[test]
fn broken_connection_on_a_get_is_retried() {
    with_deadline(20, || {
        let server = Server::start();
        let c = client(&server);
        server.push(Reply::hang_up());
        server.push(Reply::json(200, r#"{"id":"cs_1"}"#));
        assert_eq!(c.voice().calls().retrieve("cs_1").unwrap().id, "cs_1");
        assert_eq!(server.requests().len(), 2);
    });
}

#[test]
fn timeouts_and_refused_connections_are_typed() {
    with_deadline(20, || {
        let server = Server::start();
        let c = Client::builder(KEY)
            .base_url(server.base_url())
            .timeout(Duration::from_millis(300))
            .retry(RetryPolicy::none())
            .build()
            .unwrap();
        // The answer would come after 6 s: ending well before it is the timeout's doing, with
        // room for a slow, busy machine.
        server.push(Reply::json(200, "{}").delayed(Duration::from_secs(6)));
        let t = Instant::now();
        let e = c.voice().calls().retrieve("cs_1").unwrap_err();
        assert!(matches!(e, Error::Timeout(_)), "{e:?}");
        assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());

        // A recording's storage host that does not answer: the download ends too.
        server.push(Reply::empty(307).header("Location", &format!("{}/s/a", server.origin())));
        let rec = c
            .recordings()
            .retrieve(teler_blocking::rest::recordings::GetRecording::new("rec_1"))
            .unwrap();
        server.push(Reply::bytes(200, b"RIFF".to_vec()).delayed(Duration::from_secs(6)));
        let t = Instant::now();
        let e = c.download_recording(&rec, &mut Vec::new()).unwrap_err();
        assert!(matches!(e, Error::Timeout(_)), "{e:?}");
        assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());

        let c = Client::builder(KEY)
            .base_url(refused_base_url())
            .retry(fast_retry())
            .build()
            .unwrap();
        let e = c.voice().calls().retrieve("cs_1").unwrap_err();
        match e {
            Error::Network(t) => assert_eq!(t.kind, TransportErrorKind::Connect, "{t:?}"),
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn keep_alive_reuses_one_connection_for_100_requests() {
    with_deadline(30, || {
        let server = Server::start();
        let c = client(&server);
        server.set_default(Reply::json(200, r#"{"id":"cs_1"}"#));
        let t = Instant::now();
        for _ in 0..100 {
            c.voice().calls().retrieve("cs_1").unwrap();
        }
        eprintln!("blocking: 100 sequential requests in {:?}", t.elapsed());
        assert_eq!(server.requests().len(), 100);
        assert_eq!(
            server.connections(),
            1,
            "every request should ride one pooled connection"
        );
    });
}

#[test]
fn paginate_walks_cursors_and_stops() {
    with_deadline(20, || {
        let server = Server::start();
        let c = client(&server);
        server.push(Reply::json(
            200,
            r#"{"data":[{"id":"cs_1"},{"id":"cs_2"}],"next_cursor":"c1","has_more":true}"#,
        ));
        server.push(Reply::json(
            200,
            r#"{"data":[{"id":"cs_3"}],"next_cursor":"c2","has_more":true}"#,
        ));
        server.push(Reply::json(
            200,
            r#"{"data":[{"id":"cs_4"}],"next_cursor":null,"has_more":false}"#,
        ));
        let ids: Vec<String> = c
            .paginate(ListCalls::new().limit(2))
            .map(|r| r.unwrap().id)
            .collect();
        assert_eq!(ids, ["cs_1", "cs_2", "cs_3", "cs_4"]);
        let targets: Vec<String> = server.requests().into_iter().map(|r| r.target).collect();
        assert_eq!(
            targets,
            [
                "/api/v1/voice/calls?limit=2",
                "/api/v1/voice/calls?limit=2&cursor_after=c1",
                "/api/v1/voice/calls?limit=2&cursor_after=c2",
            ]
        );
        // A cursor that does not advance ends the walk.
        server.clear();
        server.set_default(Reply::json(
            200,
            r#"{"data":[{"id":"cs_1"}],"next_cursor":"same","has_more":true}"#,
        ));
        let all: Vec<_> = c.paginate(ListCalls::new()).collect();
        assert_eq!(all.len(), 3, "two pages' items, then the error");
        assert!(matches!(all[2], Err(Error::Pagination(_))), "{:?}", all[2]);
        assert_eq!(server.requests().len(), 2);
        // An error is yielded once, then the walk ends.
        server.clear();
        server.set_default(Reply::json(404, "{}"));
        let all: Vec<_> = c.paginate(ListCalls::new()).collect();
        assert_eq!(all.len(), 1);
        assert!(matches!(all[0], Err(Error::NotFound(_))));
    });
}

#[test]
fn invalid_input_sends_nothing() {
    with_deadline(20, || {
        let server = Server::start();
        let c = client(&server);
        let e = c
            .voice()
            .calls()
            .list(ListCalls::new().limit(0))
            .unwrap_err();
        assert!(
            matches!(&e, Error::Validation(v) if v.param == "limit"),
            "{e:?}"
        );
        let e = c
            .sip()
            .ip_acls()
            .create(CreateIpAcl::new("x", vec![IpAclEntry::new("10.0.0.0/8")]))
            .unwrap_err();
        assert!(
            matches!(&e, Error::Validation(v) if v.param == "addresses[0].address"),
            "{e:?}"
        );
        let e = c
            .voice()
            .mutations()
            .hangup(Hangup::new("cs_1").reason("bye"))
            .unwrap_err();
        assert!(e.to_string().contains("reason"), "{e}");
        let e = c
            .voice()
            .mutations()
            .play(Play::new("cs_1", "https://m").idempotency_key("x".repeat(256)))
            .unwrap_err();
        assert!(
            matches!(&e, Error::Validation(v) if v.param == "idempotency_key"),
            "{e:?}"
        );
        assert!(server.requests().is_empty());
    });
}

#[test]
fn settings_key_headers_and_redaction() {
    with_deadline(20, || {
        assert!(matches!(Client::new(""), Err(Error::Config(_))));
        assert!(matches!(
            Client::builder(KEY).base_url("nope").build(),
            Err(Error::Config(_))
        ));
        let server = Server::start();
        let c = Client::builder(KEY)
            .base_url(format!("{}/", server.base_url()))
            .header("X-Trace", "t-1")
            .header("User-Agent", "my-app/2")
            .header("x-api-key", "not-this-one")
            .build()
            .unwrap();
        server.push(Reply::json(200, r#"{"id":"cs_1"}"#));
        c.voice().calls().retrieve("cs_1").unwrap();
        let r = server.only();
        assert_eq!(r.target, "/api/v1/voice/calls/cs_1");
        assert_eq!(r.header("x-trace"), Some("t-1"));
        assert_eq!(r.header("user-agent"), Some("my-app/2"));
        assert_eq!(r.header("x-api-key"), Some(KEY));
        assert!(!format!("{c:?}").contains(KEY));
    });
}

/// A user's own transport: counts exchanges and delegates the bytes to ureq.
struct Counting {
    inner: UreqTransport,
    sent: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Transport for Counting {
    fn send(&self, req: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, TransportError> {
        self.sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.send(req)
    }
}

#[test]
fn a_custom_transport_carries_requests_and_buffered_downloads() {
    with_deadline(20, || {
        let server = Server::start();
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let c = Client::builder(KEY)
            .base_url(server.base_url())
            .retry(fast_retry())
            .transport(Counting {
                inner: UreqTransport::new(Duration::from_secs(5)),
                sent: sent.clone(),
            })
            .build()
            .unwrap();
        server.push(Reply::json(503, "{}"));
        server.push(Reply::json(200, r#"{"id":"cs_1"}"#));
        assert_eq!(c.voice().calls().retrieve("cs_1").unwrap().id, "cs_1");
        assert_eq!(sent.load(std::sync::atomic::Ordering::SeqCst), 2);
        // The trait's default download: follows the redirect itself, buffers, writes.
        server.push(Reply::empty(307).header("Location", &format!("{}/s/a", server.origin())));
        let rec = c
            .recordings()
            .retrieve(teler_blocking::rest::recordings::GetRecording::new("rec_1"))
            .unwrap();
        server.push(Reply::empty(302).header("Location", &format!("{}/s/b", server.origin())));
        server.push(Reply::bytes(200, b"RIFF....WAVE".to_vec()));
        let mut out = Vec::new();
        assert_eq!(c.download_recording(&rec, &mut out).unwrap(), 12);
        assert_eq!(out, b"RIFF....WAVE");
        assert_eq!(sent.load(std::sync::atomic::Ordering::SeqCst), 5);
    });
}

#[test]
fn a_builder_never_prints_the_key_or_header_values() {
    let b = Client::builder("sk-s3cret-key").header("X-Extra", "s3cret-header");
    let text = format!("{b:?}");
    assert!(!text.contains("s3cret"), "{text}");
    assert!(text.contains("X-Extra"), "header names are shown: {text}");
}

/// A vendor's pre-socket request goes through the client's transport with the vendor's key
/// only (neither the Teler key nor the client's extra headers), and its failures come back
/// as typed errors: the vendor's, the body limit's, the network's.
#[test]
fn vendor_requests_carry_the_vendor_key_only_and_fail_typed() {
    use teler_blocking::agents::{sarvam, ultravox};
    with_deadline(30, || {
        let server = Server::start();
        let c = Client::builder(KEY)
            .base_url(server.base_url())
            .header("X-Teler-Extra", "teler-only")
            .retry(fast_retry())
            .timeout(Duration::from_secs(5))
            .max_response_size(1024)
            .build()
            .unwrap();
        let no_teler_secrets = |r: &Recorded| {
            assert!(
                r.headers
                    .iter()
                    .all(|(n, v)| v != KEY && n != "x-teler-extra"),
                "{r:?}"
            );
        };

        // Ultravox: POST, the vendor's key in X-API-Key, the joinUrl back.
        server.push(Reply::json(
            201,
            r#"{"callId":"c1","joinUrl":"wss://voice.example/c1"}"#,
        ));
        let create = || {
            ultravox::CreateCall::new("uv-key", &ultravox::Config::default())
                .unwrap()
                .base_url(server.base_url())
        };
        assert_eq!(c.vendor(create()).unwrap(), "wss://voice.example/c1");
        let r = server.only();
        assert_eq!((r.method.as_str(), r.path()), ("POST", "/api/v1/calls"));
        assert_eq!(r.header("x-api-key"), Some("uv-key"));
        assert_eq!(
            r.json()["medium"]["serverWebSocket"]["inputSampleRate"],
            8000
        );
        no_teler_secrets(&r);

        // Sarvam: GET, the signed URL back with the socket's query; a 503 is retried (GET).
        server.clear();
        server.push(Reply::json(503, "{}"));
        server.push(Reply::json(
            200,
            r#"{"url":"wss://rt.example/s?sig=x","reference_id":"r"}"#,
        ));
        let app = sarvam::Config {
            org_id: "o".into(),
            workspace_id: "w".into(),
            app_id: "a".into(),
            ..sarvam::Config::default()
        };
        let signed = || {
            sarvam::SignedUrl::new("sk-sarvam", &app)
                .unwrap()
                .base_url(server.base_url())
                .user("+919800000000", sarvam::UserIdentifierType::PhoneNumber)
        };
        let url = c.vendor(signed()).unwrap();
        assert!(
            url.starts_with("wss://rt.example/s?sig=x&interaction_type=call&user_identifier=%2B919800000000&user_identifier_type=phone_number"),
            "{url}"
        );
        let reqs = server.requests();
        assert_eq!(reqs.len(), 2, "retried once");
        for r in &reqs {
            assert_eq!(r.method, "GET");
            assert_eq!(
                r.target,
                "/api/v1/orgs/o/workspaces/w/apps/a/url?interaction_type=call"
            );
            assert_eq!(r.header("x-api-key"), Some("sk-sarvam"));
            no_teler_secrets(r);
        }

        // The vendor's refusal, typed, with its text; a POST is not resent on a 503.
        server.clear();
        server.push(Reply::json(403, r#"{"detail":"Invalid API key."}"#));
        let e = c.vendor(signed()).unwrap_err();
        assert!(matches!(e, Error::Forbidden(_)), "{e:?}");
        assert!(e.to_string().contains("Invalid API key."), "{e}");
        server.push(Reply::json(503, r#"{"message":"busy"}"#));
        let e = c.vendor(create()).unwrap_err();
        assert_eq!(e.status(), Some(503), "{e:?}");
        assert_eq!(server.requests().len(), 2, "the POST went once");
        // An answer without the socket URL; one over the client's body limit.
        server.push(Reply::json(200, r#"{"reference_id":"r"}"#));
        assert!(matches!(c.vendor(signed()), Err(Error::Decode { .. })));
        server.push(Reply::json(
            200,
            &format!(r#"{{"url":"wss://x/{}"}}"#, "a".repeat(4096)),
        ));
        assert!(matches!(c.vendor(signed()), Err(Error::TooLarge(_))));
        // A value the request cannot send: nothing goes out.
        let before = server.requests().len();
        let bad = sarvam::Config {
            app_id: String::new(),
            ..app.clone()
        };
        let e = c
            .vendor(sarvam::SignedUrl::new("k", &bad).unwrap())
            .unwrap_err();
        assert!(matches!(e, Error::Validation(_)), "{e:?}");
        assert_eq!(server.requests().len(), before);
        // No server: a network error.
        let gone = sarvam::SignedUrl::new("k", &app)
            .unwrap()
            .base_url(refused_base_url());
        assert!(matches!(c.vendor(gone), Err(Error::Network(_))));
    });
}
