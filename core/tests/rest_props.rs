//! Property tests: no input makes the REST core panic; validation and parsing answer with
//! typed errors.

use proptest::prelude::*;
use teler_core::rest::recordings::GetRecording;
use teler_core::rest::retry::{parse_http_date, parse_retry_after};
use teler_core::rest::sip::CreateIpAcl;
use teler_core::rest::validate::canonical_network;
use teler_core::rest::voice::{Hangup, ListCalls, RetrieveCall};
use teler_core::rest::{IpAclEntry, RestConfig, TelerRequest};

fn cfg() -> RestConfig {
    RestConfig::new("k").unwrap()
}

fn resp(status: u16, body: Vec<u8>) -> http::Response<Vec<u8>> {
    http::Response::builder().status(status).body(body).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn parsers_never_panic(status in 100u16..600, body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = RetrieveCall::new("cs_1").parse(resp(status, body.clone()));
        let _ = ListCalls::new().parse(resp(status, body.clone()));
        let _ = GetRecording::new("rec_1").parse(resp(status, body));
    }

    #[test]
    fn json_shaped_bodies_never_panic(status in 200u16..600, msg in ".{0,40}", code in any::<i64>()) {
        let body = serde_json::json!({
            "message": msg, "code": code,
            "errors": [{"loc": [1, "x", null], "msg": msg}],
            "data": {"id": msg},
        });
        let r = RetrieveCall::new("cs_1").parse(resp(status, body.to_string().into_bytes()));
        if status >= 400 {
            let e = r.unwrap_err();
            prop_assert_eq!(e.status(), Some(status));
            prop_assert_eq!(e.api().unwrap().code.clone(), Some(code.to_string()));
        }
    }

    #[test]
    fn ids_and_text_never_break_request_building(id in ".{0,40}", reason in ".{0,20}", key in ".{0,300}") {
        let _ = RetrieveCall::new(id.clone()).to_http(&cfg());
        let _ = Hangup::new(id).reason(reason).idempotency_key(key).to_http(&cfg());
    }

    #[test]
    fn acl_validation_never_panics(addrs in proptest::collection::vec("[0-9a-f:./ ]{0,45}", 0..60), name in ".{0,80}") {
        let entries: Vec<IpAclEntry> = addrs.into_iter().map(IpAclEntry::new).collect();
        let _ = CreateIpAcl::new(name, entries).to_http(&cfg());
    }

    #[test]
    fn canonical_networks_are_idempotent(a in any::<[u8; 4]>(), p in 0u8..=32) {
        let s = format!("{}.{}.{}.{}/{p}", a[0], a[1], a[2], a[3]);
        let (net, prefix) = canonical_network(&s).unwrap();
        prop_assert_eq!(prefix, p);
        prop_assert_eq!(canonical_network(&format!("{net}/{p}")), Some((net, p)));
    }

    #[test]
    fn retry_after_never_panics(v in ".{0,40}") {
        let _ = parse_retry_after(&v, std::time::SystemTime::UNIX_EPOCH);
        let _ = parse_http_date(&v);
    }

    /// Well-formed dates with any year, day and time fields: never a panic or an overflow;
    /// dates outside 1970..=9999 are refused.
    #[test]
    fn well_formed_http_dates_never_panic(
        year in prop_oneof![any::<u64>(), 1960u64..10_100],
        day in 0u32..40,
        (h, m, s) in (0u64..30, 0u64..70, 0u64..70),
    ) {
        let v = format!("Sun, {day:02} Nov {year} {h:02}:{m:02}:{s:02} GMT");
        let parsed = parse_http_date(&v);
        if !(1970..=9999).contains(&year) {
            prop_assert_eq!(parsed, None);
        }
        let _ = parse_retry_after(&v, std::time::SystemTime::UNIX_EPOCH);
    }
}
