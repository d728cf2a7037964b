/// The REST tests every async client passes. Invoked as
/// `teler_test_support::async_rest_cases!();` by `tests/rest.rs` of teler-tokio and
/// teler-smol after their imports (the adapter crate as `teler`, `std::future::Future`,
/// `loopback::refused_base_url`), `KEY`, `RUNTIME` and `run` (which drives a test body on
/// that crate's runtime under a deadline).
#[macro_export]
macro_rules! async_rest_cases {
    () => {

        fn client(server: &Server) -> AsyncClient {
            AsyncClient::builder(KEY)
                .base_url(server.base_url())
                .retry(
                    RetryPolicy::default()
                        .max_attempts(3)
                        .backoff(Duration::from_millis(1), Duration::from_millis(5)),
                )
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap()
        }

        #[test]
        fn representative_endpoints_send_the_exact_request() {
            run(30, || async {
                let server = Server::start();
                let c = client(&server);

                server.push(Reply::json(
                    201,
                    r#"{"message":"ok","data":{"id":"cs_1","record":true}}"#,
                ));
                let call = c
                    .calls()
                    .create("+911", "+912", "https://f", "https://s", true)
                    .await
                    .unwrap();
                assert_eq!(call.id, "cs_1");
                let r = server.only();
                assert_eq!(
                    (r.method.as_str(), r.target.as_str()),
                    ("POST", "/api/v1/voice/calls/initiate")
                );
                assert_eq!(
                    r.json(),
                    json!({"from_number":"+911","to_number":"+912","flow_url":"https://f","status_callback_url":"https://s","record":true})
                );
                assert_eq!(r.header("x-api-key"), Some(KEY));
                assert_eq!(r.header("content-type"), Some("application/json"));
                assert_eq!(r.header("accept"), Some("application/json"));
                assert!(r.header("user-agent").unwrap().starts_with("teler-rs/"));
                assert_eq!(r.header("idempotency-key"), None);

                server.clear();
                server.push(Reply::json(200, r#"{"data":[],"has_more":false}"#));
                c.voice()
                    .apps()
                    .list(ListApps::new().status([AppStatus::Active, AppStatus::Inactive]))
                    .await
                    .unwrap();
                assert_eq!(
                    server.only().target,
                    "/api/v1/voice/apps?status=active&status=inactive&limit=50"
                );

                server.clear();
                server.push(Reply::json(
                    200,
                    r#"{"request_id":"rq_1","playback_id":"pb_1"}"#,
                ));
                let m = c
                    .voice()
                    .mutations()
                    .play(Play::new("cs_1", "https://m/a.wav").on_dtmf(OnDtmf::Ignore))
                    .await
                    .unwrap();
                assert_eq!(m.playback_id.as_deref(), Some("pb_1"));
                let r = server.only();
                assert_eq!(
                    (r.method.as_str(), r.target.as_str()),
                    ("POST", "/api/v1/voice/calls/cs_1/play")
                );
                assert_eq!(
                    r.json(),
                    json!({"media_url":"https://m/a.wav","on_dtmf":"ignore"})
                );
                assert_eq!(r.header("idempotency-key").map(str::len), Some(36));

                server.clear();
                server.push(Reply::json(
                    200,
                    r#"{"data":{"id":"op_1","status":"pending"}}"#,
                ));
                c.voice()
                    .operations()
                    .transfer(Transfer::new("cs_1", TransferTarget::leg("cl_2")).idempotency_key("t-1"))
                    .await
                    .unwrap();
                let r = server.only();
                assert_eq!(
                    r.json(),
                    json!({"target":{"kind":"leg","leg_id":"cl_2"},"mode":"cold"})
                );
                assert_eq!(r.header("idempotency-key"), Some("t-1"));

                server.clear();
                server.push(Reply::json(
                    200,
                    r#"{"data":{"id":"st_1","transport":"udp","authentication_type":"credential"}}"#,
                ));
                let t = c
                    .sip()
                    .trunks()
                    .update(
                        UpdateTrunk::new("st_1")
                            .authentication_type(AuthenticationType::Credential)
                            .auth_credential(AuthCredential::new("u", "12345")),
                    )
                    .await
                    .unwrap();
                assert_eq!(t.transport, Some(SipTransport::Udp));
                let r = server.only();
                assert_eq!(
                    (r.method.as_str(), r.target.as_str()),
                    ("PATCH", "/api/v1/sip/trunks/st_1")
                );

                server.clear();
                server.push(Reply::json(200, r#"{"success":true}"#));
                c.sip().ip_acls().delete("acl_1").await.unwrap();
                let r = server.only();
                assert_eq!(
                    (r.method.as_str(), r.target.as_str()),
                    ("DELETE", "/api/v1/sip/ip-acls/acl_1")
                );

                server.clear();
                server.push(Reply::json(
                    202,
                    r#"{"event_id":"evt_1","redelivered_at":"t"}"#,
                ));
                assert_eq!(
                    c.events().redeliver("evt_1").await.unwrap().event_id,
                    "evt_1"
                );
                let r = server.only();
                assert_eq!(
                    (r.method.as_str(), r.target.as_str()),
                    ("POST", "/api/v1/events/evt_1/redeliver")
                );

                server.clear();
                server.push(Reply::json(200, r#"{"success":true}"#));
                c.virtual_numbers()
                    .assign(teler::rest::numbers::AssignNumbers::to_voice_app(
                        teler::rest::numbers::NumberSelection::ids(["vn_1"]),
                        "va_1",
                    ))
                    .await
                    .unwrap();
                assert_eq!(
                    server.only().json(),
                    json!({"vn_ids":["vn_1"],"voice_app_id":"va_1"})
                );

                server.clear();
                server.push(Reply::json(
                    200,
                    r#"{"id":"sk_1","secret_value":"whsec_x"}"#,
                ));
                let s = c
                    .secrets()
                    .update(teler::rest::secrets::UpdateSecret::new("sk_1").rotate(true))
                    .await
                    .unwrap();
                assert_eq!(s.secret_value.as_deref(), Some("whsec_x"));
                assert_eq!(server.only().json(), json!({"rotate":true}));
            });
        }

        #[test]
        fn every_error_status_has_its_kind() {
            run(30, || async {
                let server = Server::start();
                let c = AsyncClient::builder(KEY)
                    .base_url(server.base_url())
                    .retry(RetryPolicy::none())
                    .build()
                    .unwrap();
                let body =
                    r#"{"message":"Nope","code":7,"errors":[{"loc":["query","limit"],"msg":"too big"}]}"#;
                for status in [400u16, 401, 403, 404, 409, 410, 422, 429, 500, 501, 503] {
                    server.push(Reply::json(status, body));
                    let e = c.voice().calls().retrieve("cs_1").await.unwrap_err();
                    let ok = match status {
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
                    assert!(ok, "{status}: {e:?}");
                    let api = e.api().unwrap();
                    assert_eq!(
                        (api.status, api.message.as_str(), api.code.as_deref()),
                        (status, "Nope", Some("7"))
                    );
                    assert_eq!(api.errors[0].loc, ["query", "limit"]);
                }
            });
        }

        #[test]
        fn recordings_redirect_and_streamed_download() {
            run(30, || async {
                let server = Server::start();
                let c = client(&server);
                let loc = format!("{}/storage/a", server.origin());
                server.push(Reply::empty(307).header("Location", &loc));
                let rec = c
                    .recordings()
                    .retrieve(GetRecording::new("rec_1"))
                    .await
                    .unwrap();
                assert_eq!(rec.url, loc);
                assert_eq!(
                    server.requests().len(),
                    1,
                    "the redirect must not be followed"
                );

                let file: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
                server
                    .push(Reply::empty(302).header("Location", &format!("{}/storage/b", server.origin())));
                server.push(Reply::bytes(200, file.clone()));
                let mut out: Vec<u8> = Vec::new();
                let n = c.download_recording(&rec, &mut out).await.unwrap();
                assert_eq!(n, file.len() as u64);
                assert_eq!(out, file);
                let reqs = server.requests();
                assert_eq!(reqs.len(), 3);
                assert_eq!(
                    (reqs[1].target.as_str(), reqs[2].target.as_str()),
                    ("/storage/a", "/storage/b")
                );
                assert!(reqs[1].header("x-api-key").is_none() && reqs[2].header("x-api-key").is_none());
            });
        }

        #[test]
        fn retries_429_after_retry_after_and_503_with_the_same_key() {
            run(30, || async {
                let server = Server::start();
                let c = client(&server);
                server.push(Reply::json(429, "{}").header("Retry-After", "1"));
                server.push(Reply::json(200, r#"{"id":"cs_1"}"#));
                let t = Instant::now();
                c.voice().calls().retrieve("cs_1").await.unwrap();
                assert!(
                    t.elapsed() >= Duration::from_millis(950),
                    "{:?}",
                    t.elapsed()
                );
                assert_eq!(server.requests().len(), 2);

                server.clear();
                server.push(Reply::json(503, "{}"));
                server.push(Reply::json(200, r#"{"request_id":"rq_1"}"#));
                c.voice()
                    .mutations()
                    .mute(Mute::new("cs_1", "cl_1", true))
                    .await
                    .unwrap();
                let reqs = server.requests();
                assert_eq!(reqs.len(), 2);
                assert!(reqs[0].header("idempotency-key").is_some());
                assert_eq!(
                    reqs[0].header("idempotency-key"),
                    reqs[1].header("idempotency-key")
                );

                server.clear();
                server.push(Reply::json(503, "{}"));
                let e = c
                    .calls()
                    .create("+1", "+2", "https://f", "https://s", true)
                    .await
                    .unwrap_err();
                assert_eq!(e.status(), Some(503));
                assert_eq!(
                    server.requests().len(),
                    1,
                    "a create without a key is never replayed"
                );
            });
        }

        #[test]
        fn timeouts_and_refused_connections_are_typed() {
            run(30, || async {
                let server = Server::start();
                let c = AsyncClient::builder(KEY)
                    .base_url(server.base_url())
                    .timeout(Duration::from_millis(300))
                    .retry(RetryPolicy::none())
                    .build()
                    .unwrap();
                // The answer would come after 6 s: ending well before it is the timeout's doing,
                // with room for a slow, busy machine.
                server.push(Reply::json(200, "{}").delayed(Duration::from_secs(6)));
                let t = Instant::now();
                let e = c.voice().calls().retrieve("cs_1").await.unwrap_err();
                assert!(matches!(e, Error::Timeout(_)), "{e:?}");
                assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());

                let c = AsyncClient::builder(KEY)
                    .base_url(refused_base_url())
                    .retry(RetryPolicy::none())
                    .build()
                    .unwrap();
                match c.voice().calls().retrieve("cs_1").await.unwrap_err() {
                    Error::Network(t) => assert_eq!(t.kind, TransportErrorKind::Connect, "{t:?}"),
                    other => panic!("{other:?}"),
                }
            });
        }

        #[test]
        fn keep_alive_reuses_one_connection_for_100_requests() {
            run(30, || async {
                let server = Server::start();
                let c = client(&server);
                server.set_default(Reply::json(200, r#"{"id":"cs_1"}"#));
                let t = Instant::now();
                for _ in 0..100 {
                    c.voice().calls().retrieve("cs_1").await.unwrap();
                }
                eprintln!("{RUNTIME}: 100 sequential requests in {:?}", t.elapsed());
                assert_eq!(server.requests().len(), 100);
                assert_eq!(server.connections(), 1);
            });
        }

        #[test]
        fn paginate_is_a_stream_that_stops() {
            run(30, || async {
                let server = Server::start();
                let c = client(&server);
                server.push(Reply::json(
                    200,
                    r#"{"data":[{"id":"a"},{"id":"b"}],"next_cursor":"c1","has_more":true}"#,
                ));
                server.push(Reply::json(
                    200,
                    r#"{"data":[{"id":"c"}],"next_cursor":"c1","has_more":true}"#,
                ));
                let mut items: Vec<_> = c.paginate(ListSipCalls::new().limit(2)).collect().await;
                // The repeated cursor ends the walk with a typed error after the good items.
                assert!(matches!(items.pop(), Some(Err(Error::Pagination(_)))));
                let ids: Vec<String> = items.into_iter().map(|r| r.unwrap().id).collect();
                assert_eq!(ids, ["a", "b", "c"]);
                let targets: Vec<String> = server.requests().into_iter().map(|r| r.target).collect();
                assert_eq!(
                    targets,
                    [
                        "/api/v1/sip/calls?limit=2",
                        "/api/v1/sip/calls?limit=2&cursor_after=c1"
                    ]
                );
            });
        }

        #[test]
        fn invalid_input_sends_nothing_and_key_is_required() {
            run(30, || async {
                assert!(matches!(AsyncClient::new(""), Err(Error::Config(_))));
                let server = Server::start();
                let c = client(&server);
                let e = c
                    .voice()
                    .apps()
                    .list_virtual_numbers(ListAppNumbers::new("va_1").limit(51))
                    .await
                    .unwrap_err();
                assert!(
                    matches!(&e, Error::Validation(v) if v.param == "limit"),
                    "{e:?}"
                );
                let e = c
                    .sip()
                    .trunks()
                    .create(
                        CreateTrunk::with_addresses("t", "d", vec![AuthAddress::new("n", "10.0.0.1")])
                            .transport(SipTransport::Udp),
                    )
                    .await
                    .unwrap_err();
                assert!(
                    matches!(&e, Error::Validation(v) if v.param == "transport"),
                    "{e:?}"
                );
                assert!(server.requests().is_empty());
                assert!(!format!("{c:?}").contains(KEY));
            });
        }

        #[test]
        fn client_futures_and_streams_are_send() {
            fn assert_send<T: Send>(_: &T) {}
            let c = AsyncClient::new(KEY).unwrap();
            let f = c.voice().calls().retrieve("cs_1");
            assert_send(&f);
            let f = c.calls().create("+1", "+2", "https://f", "https://s", true);
            assert_send(&f);
            let s = c.paginate(ListCalls::new());
            assert_send(&s);
            let mut out: Vec<u8> = Vec::new();
            let rec_url = GetRecording::new("rec_1");
            let f = c.recordings().retrieve(rec_url);
            assert_send(&f);
            let rec = RecordingUrlStub::get();
            let f = c.download_recording(&rec, &mut out);
            assert_send(&f);
        }

        /// A `RecordingUrl` comes only from a parsed answer; build one through the core parser.
        struct RecordingUrlStub;
        impl RecordingUrlStub {
            fn get() -> RecordingUrl {
                let resp = http::Response::builder()
                    .status(302)
                    .header("location", "http://127.0.0.1:9/x")
                    .body(Vec::new())
                    .unwrap();
                GetRecording::new("rec_1").parse(resp).unwrap()
            }
        }

        #[test]
        fn a_stalled_or_silent_download_ends_with_a_timeout() {
            run(30, || async {
                let server = Server::start();
                let c = AsyncClient::builder(KEY)
                    .base_url(server.base_url())
                    .retry(RetryPolicy::none())
                    .timeout(Duration::from_millis(400))
                    .build()
                    .unwrap();
                server.push(Reply::empty(307).header("Location", &format!("{}/s/a", server.origin())));
                let rec = c
                    .recordings()
                    .retrieve(GetRecording::new("rec_1"))
                    .await
                    .unwrap();
                // The file's head and 3 of its 100 bytes, then nothing (the connection stays open).
                server.push(Reply::raw(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc",
                ));
                let mut out: Vec<u8> = Vec::new();
                let t = Instant::now();
                let e = c.download_recording(&rec, &mut out).await.unwrap_err();
                assert!(matches!(e, Error::Timeout(_)), "{e:?}");
                assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
                // A storage host that answers only after 6 s.
                server.push(Reply::bytes(200, b"RIFF".to_vec()).delayed(Duration::from_secs(6)));
                let t = Instant::now();
                let e = c
                    .download_recording(&rec, &mut Vec::new())
                    .await
                    .unwrap_err();
                assert!(matches!(e, Error::Timeout(_)), "{e:?}");
                assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
            });
        }

        /// A vendor's pre-socket request goes through the client's transport with the vendor's key
        /// only (neither the Teler key nor the client's extra headers), and its failures come back
        /// as typed errors: the vendor's, the body limit's, the network's.
        #[test]
        fn vendor_requests_carry_the_vendor_key_only_and_fail_typed() {
            use teler::agents::{sarvam, ultravox};
            run(30, || async {
                let server = Server::start();
                let c = AsyncClient::builder(KEY)
                    .base_url(server.base_url())
                    .header("X-Teler-Extra", "teler-only")
                    .retry(
                        RetryPolicy::default().backoff(Duration::from_millis(1), Duration::from_millis(5)),
                    )
                    .timeout(Duration::from_secs(5))
                    .max_response_size(1024)
                    .build()
                    .unwrap();
                let no_teler_secrets = |r: &$crate::loopback::Recorded| {
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
                // Spawnable: the future is Send.
                fn send_future<F: Future + Send>(f: F) -> F {
                    f
                }
                assert_eq!(
                    send_future(c.vendor(create())).await.unwrap(),
                    "wss://voice.example/c1"
                );
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
                let url = c.vendor(signed()).await.unwrap();
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
                let e = c.vendor(signed()).await.unwrap_err();
                assert!(matches!(e, Error::Forbidden(_)), "{e:?}");
                assert!(e.to_string().contains("Invalid API key."), "{e}");
                server.push(Reply::json(503, r#"{"message":"busy"}"#));
                let e = c.vendor(create()).await.unwrap_err();
                assert_eq!(e.status(), Some(503), "{e:?}");
                assert_eq!(server.requests().len(), 2, "the POST went once");
                // An answer without the socket URL; one over the client's body limit.
                server.push(Reply::json(200, r#"{"reference_id":"r"}"#));
                assert!(matches!(
                    c.vendor(signed()).await,
                    Err(Error::Decode { .. })
                ));
                server.push(Reply::json(
                    200,
                    &format!(r#"{{"url":"wss://x/{}"}}"#, "a".repeat(4096)),
                ));
                assert!(matches!(c.vendor(signed()).await, Err(Error::TooLarge(_))));
                // A value the request cannot send: nothing goes out.
                let before = server.requests().len();
                let bad = sarvam::Config {
                    app_id: String::new(),
                    ..app.clone()
                };
                let e = c
                    .vendor(sarvam::SignedUrl::new("k", &bad).unwrap())
                    .await
                    .unwrap_err();
                assert!(matches!(e, Error::Validation(_)), "{e:?}");
                assert_eq!(server.requests().len(), before);
                // No server: a network error.
                let gone = sarvam::SignedUrl::new("k", &app)
                    .unwrap()
                    .base_url(refused_base_url());
                assert!(matches!(c.vendor(gone).await, Err(Error::Network(_))));
            });
        }
    };
}
