//! The REST API of `docs/PROTOCOL.md`, section "Endpoints: calls", under `/api/v1`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use crate::model::{Call, CallState, Leg, MediaStats};
use crate::store::{Shared, Store};
use crate::util::{new_id, now_unix_ms, parse_rfc3339, rfc3339};

type St = State<Arc<Shared>>;

/// One field error: `{"loc":[…],"msg","type"}`.
#[derive(Debug, Clone)]
pub(crate) struct FieldError {
    loc: Vec<String>,
    msg: String,
}

/// An answer in Teler's error shape.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
    errors: Vec<FieldError>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            errors: Vec::new(),
        }
    }
    fn unprocessable(errors: Vec<FieldError>) -> Self {
        let message = errors
            .iter()
            .map(|e| format!("{}: {}", e.loc.join("."), e.msg))
            .collect::<Vec<_>>()
            .join("; ");
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message,
            errors,
        }
    }
    fn body(&self) -> Value {
        let (code, kind) = match self.status.as_u16() {
            401 => ("unauthorized", "authentication_error"),
            404 => ("not_found", "invalid_request_error"),
            405 => ("method_not_allowed", "invalid_request_error"),
            409 => ("conflict", "invalid_request_error"),
            413 => ("payload_too_large", "invalid_request_error"),
            414 => ("uri_too_long", "invalid_request_error"),
            422 => ("validation_error", "validation_error"),
            _ => ("error", "api_error"),
        };
        json!({
            "success": false,
            "message": self.message,
            "code": code,
            "type": kind,
            "errors": self.errors.iter().map(|e| json!({
                "loc": e.loc, "msg": e.msg, "type": "value_error"
            })).collect::<Vec<_>>(),
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

fn field(loc: &[&str], msg: impl Into<String>) -> FieldError {
    FieldError {
        loc: loc.iter().map(|s| (*s).to_owned()).collect(),
        msg: msg.into(),
    }
}

fn auth(sh: &Shared, headers: &HeaderMap) -> Result<(), ApiError> {
    match headers.get("x-api-key").map(|v| v.as_bytes()) {
        Some(k) if ct_eq(k, sh.cfg.api_key.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::new(StatusCode::UNAUTHORIZED, "Invalid API key")),
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Missing API key: send it in the x-api-key header",
        )),
    }
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The router: every route under `/api/v1`.
pub(crate) fn router(sh: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/v1/voice/calls/initiate", post(initiate))
        .route("/api/v1/voice/calls", get(list_calls))
        .route("/api/v1/voice/calls/{id}", get(get_call))
        .route("/api/v1/voice/calls/{id}/legs", get(list_legs))
        .route("/api/v1/voice/calls/{id}/{action}", post(mutate))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(limits))
        .with_state(sh)
}

/// The longest request target answered normally (Teler's own limit is not known; hyper
/// refuses targets over 64 KiB itself, with a bare 414, before any of this runs).
pub(crate) const MAX_URI_LEN: usize = 8 * 1024;

/// Size limits answered in Teler's error shape: a target over [`MAX_URI_LEN`] (414) and a
/// body over axum's limit (413, which axum itself answers in plain text).
async fn limits(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let target_len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if target_len > MAX_URI_LEN {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            format!("The request target is {target_len} bytes; the limit is {MAX_URI_LEN}"),
        )
        .into_response();
    }
    let resp = next.run(req).await;
    let json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if resp.status() == StatusCode::PAYLOAD_TOO_LARGE && !json {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The request body is larger than the limit of 2 MB",
        )
        .into_response();
    }
    resp
}

async fn not_found(State(sh): St, headers: HeaderMap, uri: Uri) -> Response {
    let path = uri.path();
    if path.starts_with("/api/v1")
        && let Err(e) = auth(&sh, &headers)
    {
        return e.into_response();
    }
    if path.len() > 1 && path.ends_with('/') {
        // Teler answers a trailing slash with a redirect.
        let mut to = path.trim_end_matches('/').to_owned();
        if let Some(q) = uri.query() {
            to.push('?');
            to.push_str(q);
        }
        return (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, to)]).into_response();
    }
    ApiError::new(StatusCode::NOT_FOUND, format!("No route for {path}")).into_response()
}

async fn method_not_allowed(uri: Uri) -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("Method not allowed on {}", uri.path()),
    )
    .into_response()
}

fn parse_body(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::unprocessable(vec![field(
            &["body"],
            "must be a JSON object",
        )])),
        Err(e) => Err(ApiError::unprocessable(vec![field(
            &["body"],
            format!("invalid JSON: {e}"),
        )])),
    }
}

fn req_str(m: &Map<String, Value>, key: &str, errs: &mut Vec<FieldError>) -> Option<String> {
    match m.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        None | Some(Value::Null) => {
            errs.push(field(&["body", key], "field required"));
            None
        }
        Some(_) => {
            errs.push(field(&["body", key], "must be a non-empty string"));
            None
        }
    }
}

fn opt_str(m: &Map<String, Value>, key: &str, errs: &mut Vec<FieldError>) -> Option<String> {
    match m.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errs.push(field(&["body", key], "must be a string"));
            None
        }
    }
}

fn check_http_url(key: &str, url: &str, errs: &mut Vec<FieldError>) {
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && !url
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control());
    if !ok {
        errs.push(field(
            &["body", key],
            format!("must be an http(s) URL, got {url:?}"),
        ));
    }
}

fn check_number(key: &str, n: &str, errs: &mut Vec<FieldError>) {
    if !teler_core::flow::is_e164(n) && !teler_core::flow::is_sip_uri(n) {
        errs.push(field(
            &["body", key],
            format!("must be an E.164 number like +14155550123, got {n:?}"),
        ));
    }
}

async fn initiate(State(sh): St, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    auth(&sh, &headers)?;
    let m = parse_body(&body)?;
    let mut errs = Vec::new();
    let from = req_str(&m, "from_number", &mut errs);
    let to = req_str(&m, "to_number", &mut errs);
    let flow_url = req_str(&m, "flow_url", &mut errs);
    let cb = opt_str(&m, "status_callback_url", &mut errs);
    let record = match m.get("record") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            errs.push(field(&["body", "record"], "must be a boolean"));
            true
        }
    };
    if let Some(f) = &from {
        check_number("from_number", f, &mut errs);
    }
    if let Some(t) = &to {
        check_number("to_number", t, &mut errs);
    }
    if let Some(u) = &flow_url {
        check_http_url("flow_url", u, &mut errs);
    }
    if let Some(u) = &cb {
        check_http_url("status_callback_url", u, &mut errs);
    }
    let (Some(from), Some(to), Some(flow_url), true) = (from, to, flow_url, errs.is_empty()) else {
        return Err(ApiError::unprocessable(errs));
    };
    let call = crate::runner::place(&sh, from, to, flow_url, cb, record);
    let answer = json!({
        "message": "Call initiated",
        "data": {
            "id": call.id,
            "from_number": call.from_number,
            "to_number": call.to_number,
            "status_callback_url": call.properties["status_callback_url"],
            "record": record,
        }
    });
    Ok((StatusCode::OK, axum::Json(answer)).into_response())
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Splits a query string into decoded pairs, keeping repeated keys.
fn query_pairs(q: Option<&str>) -> Vec<(String, String)> {
    let dec = |s: &str| -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push(h * 16 + l);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                },
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    q.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (dec(k), dec(v)),
            None => (dec(p), String::new()),
        })
        .collect()
}

struct Paging {
    limit: usize,
    after: Option<String>,
    before: Option<String>,
}

fn paging(q: &[(String, String)], errs: &mut Vec<FieldError>) -> Paging {
    let one = |k: &str| {
        q.iter()
            .rev()
            .find(|(qk, _)| qk == k)
            .map(|(_, v)| v.clone())
    };
    let limit = match one("limit") {
        None => 50,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => {
                errs.push(field(
                    &["query", "limit"],
                    format!("must be an integer from 1 to 100, got {v:?}"),
                ));
                50
            }
        },
    };
    let after = one("cursor_after");
    let before = one("cursor_before");
    if after.is_some() && before.is_some() {
        errs.push(field(
            &["query", "cursor_after"],
            "give cursor_after or cursor_before, not both",
        ));
    }
    Paging {
        limit,
        after,
        before,
    }
}

/// One page of `items` (already in list order), with cursors made by `key`.
fn page<T: serde::Serialize>(
    items: &[T],
    key: impl Fn(&T) -> String,
    p: &Paging,
) -> Result<Value, ApiError> {
    let pos = |c: &str| {
        items.iter().position(|t| key(t) == c).ok_or_else(|| {
            ApiError::unprocessable(vec![field(
                &["query", "cursor"],
                format!("unknown cursor {c:?}"),
            )])
        })
    };
    let (start, end) = if let Some(c) = &p.after {
        let s = pos(c)? + 1;
        (s, (s + p.limit).min(items.len()))
    } else if let Some(c) = &p.before {
        let e = pos(c)?;
        (e.saturating_sub(p.limit), e)
    } else {
        (0, p.limit.min(items.len()))
    };
    let slice = &items[start..end];
    let has_more = end < items.len();
    let next = if has_more {
        slice.last().map(&key)
    } else {
        None
    };
    let prev = if start > 0 {
        slice.first().map(&key)
    } else {
        None
    };
    Ok(json!({
        "data": slice,
        "next_cursor": next,
        "previous_cursor": prev,
        "has_more": has_more,
    }))
}

fn cursor_of(c: &Call) -> String {
    format!("cur_{}", c.id)
}

async fn list_calls(
    State(sh): St,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    auth(&sh, &headers)?;
    let q = query_pairs(q.as_deref());
    let mut errs = Vec::new();
    let p = paging(&q, &mut errs);
    let states: Vec<&str> = q
        .iter()
        .filter(|(k, _)| k == "state" || k == "status")
        .map(|(_, v)| v.as_str())
        .collect();
    let one = |k: &str| {
        q.iter()
            .rev()
            .find(|(qk, _)| qk == k)
            .map(|(_, v)| v.as_str())
    };
    let mut time = |k: &str| -> Option<u64> {
        let v = one(k)?;
        let t = parse_rfc3339(v);
        if t.is_none() {
            errs.push(field(
                &["query", k],
                format!("must be an RFC 3339 time, got {v:?}"),
            ));
        }
        t
    };
    let after = time("created_after");
    let before = time("created_before");
    if !errs.is_empty() {
        return Err(ApiError::unprocessable(errs));
    }
    let from = one("from_number");
    let to = one("to_number");
    let calls: Vec<Call> = {
        let st = sh.store();
        st.order
            .iter()
            .rev()
            .filter_map(|id| st.calls.get(id))
            .map(|e| &e.call)
            .filter(|c| states.is_empty() || states.contains(&c.state.as_str()))
            .filter(|c| from.is_none_or(|f| c.from_number == f))
            .filter(|c| to.is_none_or(|t| c.to_number == t))
            .filter(|c| after.is_none_or(|a| c.created_ms > a))
            .filter(|c| before.is_none_or(|b| c.created_ms < b))
            .cloned()
            .collect()
    };
    Ok(axum::Json(page(&calls, cursor_of, &p)?).into_response())
}

fn find_call(sh: &Shared, id: &str) -> Result<Call, ApiError> {
    sh.with_call(id, |c| c.clone())
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("Call {id} not found")))
}

async fn get_call(
    State(sh): St,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    auth(&sh, &headers)?;
    Ok(axum::Json(json!({ "data": find_call(&sh, &id)? })).into_response())
}

async fn list_legs(
    State(sh): St,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    auth(&sh, &headers)?;
    let q = query_pairs(q.as_deref());
    let mut errs = Vec::new();
    let p = paging(&q, &mut errs);
    if !errs.is_empty() {
        return Err(ApiError::unprocessable(errs));
    }
    let legs: Vec<Leg> = find_call(&sh, &id)?.legs;
    Ok(axum::Json(page(&legs, |l: &Leg| format!("cur_{}", l.id), &p)?).into_response())
}

async fn mutate(
    State(sh): St,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    auth(&sh, &headers)?;
    if !matches!(action.as_str(), "hangup" | "play" | "dtmf" | "mute") {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("No route for /voice/calls/{id}/{action}"),
        ));
    }
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => match v.to_str() {
            Ok(k) if (1..=255).contains(&k.len()) => Some(format!("{id}/{action}/{k}")),
            _ => {
                return Err(ApiError::unprocessable(vec![field(
                    &["header", "Idempotency-Key"],
                    "must be 1 to 255 visible ASCII characters",
                )]));
            }
        },
    };
    // Check, run and remember under one lock: concurrent retries with the same key must
    // not both run (nothing below awaits, so the store's mutex is held throughout).
    let mut st = sh.store();
    if let Some(k) = &key
        && let Some((digest, status, answer)) = st.idem.get(k)
    {
        if *digest != crate::store::body_digest(&body) {
            return Err(ApiError::unprocessable(vec![field(
                &["header", "Idempotency-Key"],
                "this key was used with a different request body",
            )]));
        }
        let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::OK);
        return Ok((status, axum::Json(answer.clone())).into_response());
    }
    let (status, answer) = match do_mutate(sh.as_ref(), &mut st, &id, &action, &body) {
        Ok(v) => (StatusCode::OK, v),
        Err(e) if e.status == StatusCode::NOT_FOUND => return Err(e),
        Err(e) => (e.status, e.body()),
    };
    if let Some(k) = key {
        st.remember(k, &body, status.as_u16(), answer.clone());
    }
    drop(st);
    Ok((status, axum::Json(answer)).into_response())
}

/// Runs one mutation on `st` (the caller holds the store's lock).
fn do_mutate(
    sh: &Shared,
    st: &mut Store,
    id: &str,
    action: &str,
    body: &[u8],
) -> Result<Value, ApiError> {
    let Some(entry) = st.calls.get_mut(id) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("Call {id} not found"),
        ));
    };
    let call = &entry.call;
    let m = parse_body(body)?;
    let mut errs = Vec::new();
    let leg_id = opt_str(&m, "leg_id", &mut errs);
    if let Some(l) = &leg_id
        && !call.legs.iter().any(|x| &x.id == l)
    {
        errs.push(field(
            &["body", "leg_id"],
            format!("no leg {l:?} on call {id}"),
        ));
    }
    let mut playback_id = None;
    let note = match action {
        "hangup" => {
            let reason = opt_str(&m, "reason", &mut errs);
            if let Some(r) = &reason
                && (r.is_empty()
                    || !r
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'))
            {
                errs.push(field(
                    &["body", "reason"],
                    format!("must match ^[A-Z0-9_]+$, got {r:?}"),
                ));
            }
            format!("REST hangup reason={}", reason.as_deref().unwrap_or("-"))
        }
        "mute" => {
            if leg_id.is_none() && !m.contains_key("leg_id") {
                errs.push(field(&["body", "leg_id"], "field required"));
            }
            match m.get("on") {
                Some(Value::Bool(on)) => {
                    format!("REST mute leg={} on={on}", leg_id.as_deref().unwrap_or("-"))
                }
                None => {
                    errs.push(field(&["body", "on"], "field required"));
                    String::new()
                }
                Some(_) => {
                    errs.push(field(&["body", "on"], "must be a boolean"));
                    String::new()
                }
            }
        }
        "dtmf" => {
            let digits = req_str(&m, "digits", &mut errs).unwrap_or_default();
            if !digits.is_empty()
                && !digits
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b"*#ABCDabcdwW".contains(&b))
            {
                errs.push(field(
                    &["body", "digits"],
                    format!("only 0-9 * # A-D w are allowed, got {digits:?}"),
                ));
            }
            match m.get("duration_ms") {
                None | Some(Value::Null) => {}
                Some(v) if v.as_u64().is_some_and(|d| (1..=10_000).contains(&d)) => {}
                Some(_) => errs.push(field(
                    &["body", "duration_ms"],
                    "must be an integer from 1 to 10000",
                )),
            }
            format!("REST dtmf digits={digits}")
        }
        _ => {
            let url = req_str(&m, "media_url", &mut errs).unwrap_or_default();
            if !url.is_empty() {
                check_http_url("media_url", &url, &mut errs);
            }
            match m.get("loop") {
                None | Some(Value::Null) => {}
                Some(v) if v.as_u64().is_some() => {}
                Some(_) => errs.push(field(&["body", "loop"], "must be a non-negative integer")),
            }
            match m.get("on_dtmf").map(|v| v.as_str()) {
                None | Some(Some("stop" | "ignore")) => {}
                _ => errs.push(field(
                    &["body", "on_dtmf"],
                    "must be \"stop\" or \"ignore\"",
                )),
            }
            let pb = new_id("pb");
            let n = format!("REST play {url} playback_id={pb}");
            playback_id = Some(pb);
            n
        }
    };
    if !errs.is_empty() {
        return Err(ApiError::unprocessable(errs));
    }
    if call.state.is_final() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("Call {id} has already ended"),
        ));
    }
    sh.log(id, &note);
    entry.call.push_note(note);
    if action == "hangup" {
        let reason = m
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or("HANGUP_API")
            .to_owned();
        entry.hangup.send_replace(Some(reason));
    }
    let mut answer = json!({ "request_id": new_id("op") });
    if let Some(pb) = playback_id {
        answer["playback_id"] = json!(pb);
    }
    Ok(answer)
}

/// A new call record in state `initiated`.
pub(crate) fn new_call(
    sh: &Shared,
    from: String,
    to: String,
    flow_url: String,
    cb: Option<String>,
    record: bool,
) -> Call {
    let now = now_unix_ms();
    let id = new_id("cs");
    let created_at = rfc3339(now);
    let leg = Leg {
        id: new_id("cl"),
        call_session_id: id.clone(),
        direction: "outbound".into(),
        role: "callee".into(),
        state: CallState::Initiated,
        from_number: from.clone(),
        to_number: to.clone(),
        parent_leg_id: None,
        recordings: Vec::new(),
        created_at: created_at.clone(),
        answered_at: None,
        ended_at: None,
        reason: None,
        ended_by: None,
    };
    Call {
        id,
        account_id: sh.cfg.account_id.clone(),
        voice_app_id: sh.cfg.voice_app_id.clone(),
        state: CallState::Initiated,
        direction: "outbound".into(),
        from_number: from,
        to_number: to,
        properties: json!({
            "flow_url": flow_url,
            "status_callback_url": cb,
            "record": record,
        }),
        created_at,
        answered_at: None,
        ended_at: None,
        reason: None,
        legs: vec![leg],
        errors: Vec::new(),
        notes: Vec::new(),
        media: MediaStats::default(),
        webhooks: Vec::new(),
        created_ms: now,
        seq: 0,
        suppressed_errors: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding_keeps_repeats() {
        let q = query_pairs(Some("state=a&state=b&to_number=%2B1415&x"));
        assert_eq!(q[0], ("state".into(), "a".into()));
        assert_eq!(q[1], ("state".into(), "b".into()));
        assert_eq!(q[2], ("to_number".into(), "+1415".into()));
        assert_eq!(q[3], ("x".into(), String::new()));
        assert_eq!(query_pairs(Some("a=%4")), vec![("a".into(), "%4".into())]);
        assert_eq!(query_pairs(Some("a=%é%")), vec![("a".into(), "%é%".into())]);
    }

    /// Retries with one Idempotency-Key that arrive together: exactly one runs, every one
    /// gets its answer. The store is held while they start, so they all queue on it.
    ///
    /// The outcome is right whatever the interleaving (run once, same answers); what is
    /// timed is only how concurrent the run is. The threads report when they are about to
    /// call `mutate`, so the lock is not released before every thread exists (the slow part
    /// on a busy machine); the pause after that covers the few steps from there to the lock.
    #[test]
    fn concurrent_retries_with_one_key_run_once() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let emu = rt
            .block_on(crate::Emulator::builder().log(false).start("127.0.0.1:0"))
            .unwrap();
        let sh = emu.shared.clone();
        let c = new_call(
            &sh,
            "+14155550100".into(),
            "+14155550101".into(),
            "http://127.0.0.1:9/flow".into(),
            None,
            false,
        );
        let (_hangup, id) = sh.store().insert(c);
        const N: usize = 8;
        let held = sh.store();
        let ready = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let threads: Vec<_> = (0..N)
            .map(|_| {
                let (sh, id, ready) = (sh.clone(), id.clone(), ready.clone());
                // A body that takes a while to read (unknown fields are ignored).
                let body = Bytes::from(format!(
                    r#"{{"media_url":"https://x/a.wav","pad":"{}"}}"#,
                    "x".repeat(1 << 20)
                ));
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .build()
                        .unwrap();
                    let mut h = HeaderMap::new();
                    h.insert("x-api-key", "test-key".parse().unwrap());
                    h.insert("idempotency-key", "same-key".parse().unwrap());
                    rt.block_on(async move {
                        ready.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let r = mutate(State(sh), h, Path((id, "play".into())), body)
                            .await
                            .unwrap();
                        assert_eq!(r.status(), StatusCode::OK);
                        let b = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
                        serde_json::from_slice::<Value>(&b).unwrap()
                    })
                })
            })
            .collect();
        // (A thread that failed before getting there ends the wait: its join reports it.)
        while ready.load(std::sync::atomic::Ordering::SeqCst) < N
            && !threads.iter().any(|t| t.is_finished())
        {
            std::thread::yield_now();
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        drop(held);
        let answers: Vec<Value> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
        let notes = sh.with_call(&id, |c| c.notes.clone()).unwrap();
        let ran = notes.iter().filter(|n| n.starts_with("REST play ")).count();
        assert_eq!(ran, 1, "the mutation ran {ran} times: {notes:?}");
    }
}
