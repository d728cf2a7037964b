//! `/voice/…`: calls, call mutations (hangup, mute, dtmf, play), transfer, voice apps.

use std::collections::BTreeMap;

use http::Method;
use serde::Serialize;

use super::model::*;
use super::page::Page;
use super::{
    Error, Parts, RestConfig, TelerRequest, id_segment, json_body, parse_object,
    parse_object_or_default, parse_page, validate,
};

// ------------------------------------------------------------------------------- calls

/// `POST /voice/calls/initiate`: place an outbound call.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CreateCall {
    /// The caller id: one of your virtual numbers.
    pub from_number: String,
    /// The number to call.
    pub to_number: String,
    /// Where Teler asks what to do once answered.
    pub flow_url: String,
    /// Where call events go.
    pub status_callback_url: String,
    /// Record the call (default true).
    pub record: bool,
    /// An optional `Idempotency-Key`. The public SDKs send none here; with one, the
    /// request becomes safe to retry after it may have reached the server.
    #[serde(skip)]
    pub idempotency_key: Option<String>,
}

impl CreateCall {
    /// A call with `record: true`.
    pub fn new(
        from_number: impl Into<String>,
        to_number: impl Into<String>,
        flow_url: impl Into<String>,
        status_callback_url: impl Into<String>,
    ) -> Self {
        CreateCall {
            from_number: from_number.into(),
            to_number: to_number.into(),
            flow_url: flow_url.into(),
            status_callback_url: status_callback_url.into(),
            record: true,
            idempotency_key: None,
        }
    }

    /// Sets `record`.
    pub fn record(mut self, record: bool) -> Self {
        self.record = record;
        self
    }

    /// Sends this `Idempotency-Key` (1..=255 characters).
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }
}

impl TelerRequest for CreateCall {
    type Response = CreatedCall;

    fn to_http(&self, cfg: &RestConfig) -> Result<http::Request<Vec<u8>>, Error> {
        validate::required("from_number", &self.from_number)?;
        validate::required("to_number", &self.to_number)?;
        validate::required("flow_url", &self.flow_url)?;
        validate::required("status_callback_url", &self.status_callback_url)?;
        let mut p = Parts::new(Method::POST, "/voice/calls/initiate".into());
        p.json(&json_body(self)?)?;
        if self.idempotency_key.is_some() {
            p.idempotency(&self.idempotency_key)?;
        }
        p.build(cfg)
    }

    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<CreatedCall, Error> {
        parse_object(resp)
    }
}

/// `GET /voice/calls`: a page of calls.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ListCalls {
    /// Filter by state.
    pub state: Option<CallState>,
    /// Filter by caller.
    pub from_number: Option<String>,
    /// Filter by callee.
    pub to_number: Option<String>,
    /// Created after (RFC 3339).
    pub created_after: Option<String>,
    /// Created before (RFC 3339).
    pub created_before: Option<String>,
    /// Page size, 1..=100 (default 50).
    pub limit: Option<u32>,
    /// Start after this cursor.
    pub cursor_after: Option<String>,
    /// End before this cursor.
    pub cursor_before: Option<String>,
}

impl Default for ListCalls {
    fn default() -> Self {
        Self::new()
    }
}

impl ListCalls {
    /// No filters, `limit` 50.
    pub fn new() -> Self {
        ListCalls {
            state: None,
            from_number: None,
            to_number: None,
            created_after: None,
            created_before: None,
            limit: Some(50),
            cursor_after: None,
            cursor_before: None,
        }
    }
}
setters!(ListCalls {
    state: CallState,
    from_number: String,
    to_number: String,
    created_after: String,
    created_before: String
});
paged!(ListCalls => Call);

impl TelerRequest for ListCalls {
    type Response = Page<Call>;

    fn to_http(&self, cfg: &RestConfig) -> Result<http::Request<Vec<u8>>, Error> {
        validate::pagination(
            self.limit,
            self.cursor_after.as_deref(),
            self.cursor_before.as_deref(),
            100,
        )?;
        let mut p = Parts::new(Method::GET, "/voice/calls".into());
        p.q("state", self.state.as_ref())
            .q("from_number", self.from_number.as_ref())
            .q("to_number", self.to_number.as_ref())
            .q("created_after", self.created_after.as_ref())
            .q("created_before", self.created_before.as_ref())
            .q("limit", self.limit)
            .q("cursor_after", self.cursor_after.as_ref())
            .q("cursor_before", self.cursor_before.as_ref());
        p.build(cfg)
    }

    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<Page<Call>, Error> {
        parse_page(resp)
    }
}

/// `GET /voice/calls/{id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrieveCall {
    /// The call id.
    pub call_id: String,
}

impl RetrieveCall {
    /// For this call.
    pub fn new(call_id: impl Into<String>) -> Self {
        RetrieveCall {
            call_id: call_id.into(),
        }
    }
}

impl TelerRequest for RetrieveCall {
    type Response = Call;
    fn to_http(&self, cfg: &RestConfig) -> Result<http::Request<Vec<u8>>, Error> {
        let id = id_segment("call_id", &self.call_id)?;
        Parts::new(Method::GET, format!("/voice/calls/{id}")).build(cfg)
    }
    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<Call, Error> {
        parse_object(resp)
    }
}

/// `GET /voice/calls/{id}/legs`: a page of the call's legs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListCallLegs {
    /// The call id.
    pub call_id: String,
}

impl ListCallLegs {
    /// For this call.
    pub fn new(call_id: impl Into<String>) -> Self {
        ListCallLegs {
            call_id: call_id.into(),
        }
    }
}

impl TelerRequest for ListCallLegs {
    type Response = Page<CallLeg>;
    fn to_http(&self, cfg: &RestConfig) -> Result<http::Request<Vec<u8>>, Error> {
        let id = id_segment("call_id", &self.call_id)?;
        Parts::new(Method::GET, format!("/voice/calls/{id}/legs")).build(cfg)
    }
    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<Page<CallLeg>, Error> {
        parse_page(resp)
    }
}

// ---------------------------------------------------------------------------- mutations

macro_rules! mutation {
    ($ty:ident, $path:literal, $resp:ty) => {
        impl $ty {
            /// Sends this `Idempotency-Key` (1..=255 characters) instead of a fresh UUIDv4;
            /// reuse it to make a repeated call a no-op.
            pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
                self.idempotency_key = Some(key.into());
                self
            }
        }

        impl TelerRequest for $ty {
            type Response = $resp;

            fn to_http(&self, cfg: &RestConfig) -> Result<http::Request<Vec<u8>>, Error> {
                self.check()?;
                let id = id_segment("call_id", &self.call_id)?;
                let mut p = Parts::new(
                    Method::POST,
                    format!(concat!("/voice/calls/{}/", $path), id),
                );
                p.json(&json_body(self)?)?;
                p.idempotency(&self.idempotency_key)?;
                p.build(cfg)
            }

            fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<$resp, Error> {
                parse_object(resp)
            }

            fn idempotency_key_slot(&mut self) -> Option<&mut Option<String>> {
                Some(&mut self.idempotency_key)
            }
        }
    };
}

/// `POST /voice/calls/{id}/hangup`: end the call, or one leg.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Hangup {
    /// The call.
    #[serde(skip)]
    pub call_id: String,
    /// Only this leg.
    pub leg_id: Option<String>,
    /// Reason, `^[A-Z0-9_]+$`.
    pub reason: Option<String>,
    /// `Idempotency-Key` (a client generates one when unset).
    #[serde(skip)]
    pub idempotency_key: Option<String>,
}

impl Hangup {
    /// Hang up this call.
    pub fn new(call_id: impl Into<String>) -> Self {
        Hangup {
            call_id: call_id.into(),
            leg_id: None,
            reason: None,
            idempotency_key: None,
        }
    }
    fn check(&self) -> Result<(), Error> {
        if let Some(r) = &self.reason {
            validate::hangup_reason(r)?;
        }
        Ok(())
    }
}
setters!(Hangup {
    leg_id: String,
    reason: String
});
mutation!(Hangup, "hangup", MutationResult);

/// `POST /voice/calls/{id}/mute`: mute or unmute a leg.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Mute {
    /// The call.
    #[serde(skip)]
    pub call_id: String,
    /// The leg.
    pub leg_id: String,
    /// Mute (true) or unmute (false).
    pub on: bool,
    /// `Idempotency-Key` (a client generates one when unset).
    #[serde(skip)]
    pub idempotency_key: Option<String>,
}

impl Mute {
    /// Mute (`on: true`) or unmute a leg.
    pub fn new(call_id: impl Into<String>, leg_id: impl Into<String>, on: bool) -> Self {
        Mute {
            call_id: call_id.into(),
            leg_id: leg_id.into(),
            on,
            idempotency_key: None,
        }
    }
    fn check(&self) -> Result<(), Error> {
        Ok(validate::required("leg_id", &self.leg_id)?)
    }
}
mutation!(Mute, "mute", MutationResult);

/// `POST /voice/calls/{id}/dtmf`: send DTMF digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SendDtmf {
    /// The call.
    #[serde(skip)]
    pub call_id: String,
    /// The digits.
    pub digits: String,
    /// Only on this leg.
    pub leg_id: Option<String>,
    /// Tone length in ms.
    pub duration_ms: Option<u32>,
    /// `Idempotency-Key` (a client generates one when unset).
    #[serde(skip)]
    pub idempotency_key: Option<String>,
}

impl SendDtmf {
    /// Send `digits`.
    pub fn new(call_id: impl Into<String>, digits: impl Into<String>) -> Self {
        SendDtmf {
            call_id: call_id.into(),
            digits: digits.into(),
            leg_id: None,
            duration_ms: None,
            idempotency_key: None,
        }
    }
    fn check(&self) -> Result<(), Error> {
        Ok(validate::required("digits", &self.digits)?)
    }
}
setters!(SendDtmf {
    leg_id: String,
    duration_ms: u32
});
mutation!(SendDtmf, "dtmf", MutationResult);

/// `POST /voice/calls/{id}/play`: play a media file into the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Play {
    /// The call.
    #[serde(skip)]
    pub call_id: String,
    /// The audio file's URL.
    pub media_url: String,
    /// Only on this leg.
    pub leg_id: Option<String>,
    /// How many times to play it.
    #[serde(rename = "loop")]
    pub loop_count: Option<u32>,
    /// What a key press does: `stop` or `ignore`.
    pub on_dtmf: Option<OnDtmf>,
    /// `Idempotency-Key` (a client generates one when unset).
    #[serde(skip)]
    pub idempotency_key: Option<String>,
}

impl Play {
    /// Play `media_url`.
    pub fn new(call_id: impl Into<String>, media_url: impl Into<String>) -> Self {
        Play {
            call_id: call_id.into(),
            media_url: media_url.into(),
            leg_id: None,
            loop_count: None,
            on_dtmf: None,
            idempotency_key: None,
        }
    }
    fn check(&self) -> Result<(), Error> {
        validate::required("media_url", &self.media_url)?;
        if let Some(OnDtmf::Other(v)) = &self.on_dtmf {
            return Err(super::error::invalid(
                "on_dtmf",
                format!("must be \"stop\" or \"ignore\", got {v:?}"),
            ));
        }
        Ok(())
    }
}
setters!(Play {
    leg_id: String,
    loop_count: u32,
    on_dtmf: OnDtmf
});
mutation!(Play, "play", MutationResult);

/// Where a transfer goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[non_exhaustive]
pub enum TransferTarget {
    /// A phone number.
    Pstn {
        /// E.164 number.
        number: String,
        /// SIP headers to add.
        custom_headers: Option<BTreeMap<String, String>>,
    },
    /// A SIP URI.
    Sip {
        /// `sip:user@host`.
        uri: String,
        /// SIP headers to add.
        custom_headers: Option<BTreeMap<String, String>>,
    },
    /// An existing leg.
    Leg {
        /// The leg.
        leg_id: String,
        /// SIP headers to add.
        custom_headers: Option<BTreeMap<String, String>>,
    },
}

impl TransferTarget {
    /// A phone number.
    pub fn pstn(number: impl Into<String>) -> Self {
        TransferTarget::Pstn {
            number: number.into(),
            custom_headers: None,
        }
    }
    /// A SIP URI.
    pub fn sip(uri: impl Into<String>) -> Self {
        TransferTarget::Sip {
            uri: uri.into(),
            custom_headers: None,
        }
    }
    /// An existing leg.
    pub fn leg(leg_id: impl Into<String>) -> Self {
        TransferTarget::Leg {
            leg_id: leg_id.into(),
            custom_headers: None,
        }
    }
    /// Adds a custom SIP header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let (TransferTarget::Pstn { custom_headers, .. }
        | TransferTarget::Sip { custom_headers, .. }
        | TransferTarget::Leg { custom_headers, .. }) = &mut self;
        custom_headers
            .get_or_insert_with(BTreeMap::new)
            .insert(name.into(), value.into());
        self
    }
    fn check(&self) -> Result<(), Error> {
        let (param, v) = match self {
            TransferTarget::Pstn { number, .. } => ("target.number", number),
            TransferTarget::Sip { uri, .. } => ("target.uri", uri),
            TransferTarget::Leg { leg_id, .. } => ("target.leg_id", leg_id),
        };
        validate::required(param, v)?;
        if let TransferTarget::Sip { uri, .. } = self
            && !uri.starts_with("sip:")
            && !uri.starts_with("sips:")
        {
            return Err(super::error::invalid(
                "target.uri",
                format!("must be a SIP URI like sip:user@host, got {uri:?}"),
            ));
        }
        Ok(())
    }
}

/// An action during a transfer (`dial_music`, `confirm_sound`, `on_failure`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "lowercase")]
#[non_exhaustive]
pub enum TransferAction {
    /// Play a file.
    Play {
        /// The file.
        media_url: String,
        /// Loop it.
        #[serde(rename = "loop")]
        loop_: Option<bool>,
    },
    /// Speak text.
    Say {
        /// The text.
        text: String,
        /// Voice.
        voice: Option<String>,
        /// Language.
        language: Option<String>,
        /// Loop it.
        #[serde(rename = "loop")]
        loop_: Option<bool>,
    },
    /// Hang up.
    Hangup {
        /// Reason, `^[A-Z0-9_]+$`.
        reason: Option<String>,
    },
}

impl TransferAction {
    /// Play a file once.
    pub fn play(media_url: impl Into<String>) -> Self {
        TransferAction::Play {
            media_url: media_url.into(),
            loop_: None,
        }
    }
    /// Speak text.
    pub fn say(text: impl Into<String>) -> Self {
        TransferAction::Say {
            text: text.into(),
            voice: None,
            language: None,
            loop_: None,
        }
    }
    /// Hang up.
    pub fn hangup() -> Self {
        TransferAction::Hangup { reason: None }
    }
    fn check(&self, field: &str) -> Result<(), Error> {
        match self {
            TransferAction::Play { media_url, .. } => {
                validate::required(&format!("{field}.media_url"), media_url)?
            }
            TransferAction::Say { text, .. } => validate::required(&format!("{field}.text"), text)?,
            TransferAction::Hangup { reason: Some(r) } => validate::hangup_reason(r)
                .map_err(|e| super::ValidationError::new(format!("{field}.reason"), e.rule))?,
            TransferAction::Hangup { reason: None } => {}
        }
        Ok(())
    }
}

/// `POST /voice/calls/{id}/transfer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Transfer {
    /// The call.
    #[serde(skip)]
    pub call_id: String,
    /// Where to.
    pub target: TransferTarget,
    /// Mode (default `cold`).
    pub mode: TransferMode,
    /// Ring timeout, seconds.
    pub timeout: Option<u32>,
    /// Record the new leg.
    pub record: Option<bool>,
    /// Ringback: `passthrough` or `suppress`.
    pub ringback: Option<String>,
    /// Played while dialling.
    pub dial_music: Option<TransferAction>,
    /// Played on connect.
    pub confirm_sound: Option<TransferAction>,
    /// Done on failure.
    pub on_failure: Option<TransferAction>,
    /// `Idempotency-Key` (a client generates one when unset).
    #[serde(skip)]
    pub idempotency_key: Option<String>,
}

impl Transfer {
    /// A cold transfer to `target`.
    pub fn new(call_id: impl Into<String>, target: TransferTarget) -> Self {
        Transfer {
            call_id: call_id.into(),
            target,
            mode: TransferMode::Cold,
            timeout: None,
            record: None,
            ringback: None,
            dial_music: None,
            confirm_sound: None,
            on_failure: None,
            idempotency_key: None,
        }
    }
    /// Sets the mode.
    pub fn mode(mut self, mode: impl Into<TransferMode>) -> Self {
        self.mode = mode.into();
        self
    }
    fn check(&self) -> Result<(), Error> {
        self.target.check()?;
        for (field, a) in [
            ("dial_music", &self.dial_music),
            ("confirm_sound", &self.confirm_sound),
            ("on_failure", &self.on_failure),
        ] {
            if let Some(a) = a {
                a.check(field)?;
            }
        }
        Ok(())
    }
}
setters!(Transfer {
    timeout: u32,
    record: bool,
    ringback: String,
    dial_music: TransferAction,
    confirm_sound: TransferAction,
    on_failure: TransferAction
});
mutation!(Transfer, "transfer", TransferResult);

// --------------------------------------------------------------------------------- apps

/// `POST /voice/apps`: create a voice app.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CreateApp {
    /// Name.
    pub name: String,
    /// Flow URL.
    pub flow_url: String,
    /// Webhook URL.
    pub webhook_url: String,
    /// Fallback URL.
    pub fallback_url: Option<String>,
    /// Numbers to assign.
    pub vn_ids: Option<Vec<String>>,
    /// Signing secret.
    pub secret_id: Option<String>,
    /// Webhook version (default `2026-06-01`).
    pub webhook_api_version: WebhookApiVersion,
    /// Channel limit.
    pub channel_limit: Option<u32>,
}

impl CreateApp {
    /// An app with the default webhook version.
    pub fn new(
        name: impl Into<String>,
        flow_url: impl Into<String>,
        webhook_url: impl Into<String>,
    ) -> Self {
        CreateApp {
            name: name.into(),
            flow_url: flow_url.into(),
            webhook_url: webhook_url.into(),
            fallback_url: None,
            vn_ids: None,
            secret_id: None,
            webhook_api_version: WebhookApiVersion::default(),
            channel_limit: None,
        }
    }
    /// Sets the webhook version.
    pub fn webhook_api_version(mut self, v: impl Into<WebhookApiVersion>) -> Self {
        self.webhook_api_version = v.into();
        self
    }
    /// Sets the numbers to assign.
    pub fn vn_ids<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
        self.vn_ids = Some(ids.into_iter().map(Into::into).collect());
        self
    }
}
setters!(CreateApp {
    fallback_url: String,
    secret_id: String,
    channel_limit: u32
});

impl TelerRequest for CreateApp {
    type Response = VoiceApp;
    fn to_http(&self, cfg: &RestConfig) -> Result<http::Request<Vec<u8>>, Error> {
        validate::required("name", &self.name)?;
        validate::required("flow_url", &self.flow_url)?;
        validate::required("webhook_url", &self.webhook_url)?;
        validate::webhook_api_version(Some(&self.webhook_api_version))?;
        let mut p = Parts::new(Method::POST, "/voice/apps".into());
        p.json(&json_body(self)?)?;
        p.build(cfg)
    }
    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<VoiceApp, Error> {
        parse_object(resp)
    }
}

/// `GET /voice/apps`: a page of voice apps.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ListApps {
    /// Text search.
    pub search: Option<String>,
    /// Status filter (repeated).
    pub status: Vec<AppStatus>,
    /// Page size, 1..=100 (default 50).
    pub limit: Option<u32>,
    /// Start after this cursor.
    pub cursor_after: Option<String>,
    /// End before this cursor.
    pub cursor_before: Option<String>,
}

impl Default for ListApps {
    fn default() -> Self {
        Self::new()
    }
}

impl ListApps {
    /// No filters, `limit` 50.
    pub fn new() -> Self {
        ListApps {
            search: None,
            status: Vec::new(),
            limit: Some(50),
            cursor_after: None,
            cursor_before: None,
        }
    }
}
setters!(ListApps { search: String });
list_setters!(ListApps { status: AppStatus });
paged!(ListApps => VoiceApp);

impl TelerRequest for ListApps {
    type Response = Page<VoiceApp>;
    fn to_http(&self, cfg: &RestConfig) -> Result<http::Request<Vec<u8>>, Error> {
        validate::pagination(
            self.limit,
            self.cursor_after.as_deref(),
            self.cursor_before.as_deref(),
            100,
        )?;
        let mut p = Parts::new(Method::GET, "/voice/apps".into());
        p.q("search", self.search.as_ref())
            .q_all("status", &self.status)
            .q("limit", self.limit)
            .q("cursor_after", self.cursor_after.as_ref())
            .q("cursor_before", self.cursor_before.as_ref());
        p.build(cfg)
    }
    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<Page<VoiceApp>, Error> {
        parse_page(resp)
    }
}

/// `GET /voice/apps/{id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrieveApp {
    /// The app.
    pub voice_app_id: String,
}

impl RetrieveApp {
    /// For this app.
    pub fn new(voice_app_id: impl Into<String>) -> Self {
        RetrieveApp {
            voice_app_id: voice_app_id.into(),
        }
    }
}

impl TelerRequest for RetrieveApp {
    type Response = VoiceApp;
    fn to_http(&self, cfg: &RestConfig) -> Result<http::Request<Vec<u8>>, Error> {
        let id = id_segment("voice_app_id", &self.voice_app_id)?;
        Parts::new(Method::GET, format!("/voice/apps/{id}")).build(cfg)
    }
    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<VoiceApp, Error> {
        parse_object(resp)
    }
}

/// `PATCH /voice/apps/{id}`: change some fields of a voice app.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct UpdateApp {
    /// The app.
    #[serde(skip)]
    pub voice_app_id: String,
    /// Name.
    pub name: Option<String>,
    /// Flow URL.
    pub flow_url: Option<String>,
    /// Webhook URL.
    pub webhook_url: Option<String>,
    /// Fallback URL.
    pub fallback_url: Option<String>,
    /// Status.
    pub status: Option<AppStatus>,
    /// Channel limit.
    pub channel_limit: Option<u32>,
    /// Signing secret.
    pub secret_id: Option<String>,
    /// Webhook version.
    pub webhook_api_version: Option<WebhookApiVersion>,
}

impl UpdateApp {
    /// Changes nothing until fields are set.
    pub fn new(voice_app_id: impl Into<String>) -> Self {
        UpdateApp {
            voice_app_id: voice_app_id.into(),
            name: None,
            flow_url: None,
            webhook_url: None,
            fallback_url: None,
            status: None,
            channel_limit: None,
            secret_id: None,
            webhook_api_version: None,
        }
    }
}
setters!(UpdateApp {
    name: String,
    flow_url: String,
    webhook_url: String,
    fallback_url: String,
    status: AppStatus,
    channel_limit: u32,
    secret_id: String,
    webhook_api_version: WebhookApiVersion
});

impl TelerRequest for UpdateApp {
    type Response = VoiceApp;
    fn to_http(&self, cfg: &RestConfig) -> Result<http::Request<Vec<u8>>, Error> {
        let id = id_segment("voice_app_id", &self.voice_app_id)?;
        validate::webhook_api_version(self.webhook_api_version.as_ref())?;
        let mut p = Parts::new(Method::PATCH, format!("/voice/apps/{id}"));
        p.json(&json_body(self)?)?;
        p.build(cfg)
    }
    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<VoiceApp, Error> {
        parse_object(resp)
    }
}

/// `DELETE /voice/apps/{id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteApp {
    /// The app.
    pub voice_app_id: String,
}

impl DeleteApp {
    /// For this app.
    pub fn new(voice_app_id: impl Into<String>) -> Self {
        DeleteApp {
            voice_app_id: voice_app_id.into(),
        }
    }
}

impl TelerRequest for DeleteApp {
    type Response = ActionResult;
    fn to_http(&self, cfg: &RestConfig) -> Result<http::Request<Vec<u8>>, Error> {
        let id = id_segment("voice_app_id", &self.voice_app_id)?;
        Parts::new(Method::DELETE, format!("/voice/apps/{id}")).build(cfg)
    }
    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<ActionResult, Error> {
        parse_object_or_default(resp)
    }
}

/// `GET /voice/apps/{id}/virtual-numbers`: a page of the app's numbers.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ListAppNumbers {
    /// The app.
    pub voice_app_id: String,
    /// Text search.
    pub search: Option<String>,
    /// Location filter (repeated).
    pub location: Vec<String>,
    /// Page size, 1..=50 (default 10).
    pub limit: Option<u32>,
    /// Start after this cursor.
    pub cursor_after: Option<String>,
    /// End before this cursor.
    pub cursor_before: Option<String>,
}

impl ListAppNumbers {
    /// No filters, `limit` 10.
    pub fn new(voice_app_id: impl Into<String>) -> Self {
        ListAppNumbers {
            voice_app_id: voice_app_id.into(),
            search: None,
            location: Vec::new(),
            limit: Some(10),
            cursor_after: None,
            cursor_before: None,
        }
    }
}
setters!(ListAppNumbers { search: String });
list_setters!(ListAppNumbers { location: String });
paged!(ListAppNumbers => VirtualNumber);

impl TelerRequest for ListAppNumbers {
    type Response = Page<VirtualNumber>;
    fn to_http(&self, cfg: &RestConfig) -> Result<http::Request<Vec<u8>>, Error> {
        let id = id_segment("voice_app_id", &self.voice_app_id)?;
        validate::pagination(
            self.limit,
            self.cursor_after.as_deref(),
            self.cursor_before.as_deref(),
            50,
        )?;
        let mut p = Parts::new(Method::GET, format!("/voice/apps/{id}/virtual-numbers"));
        p.q("search", self.search.as_ref())
            .q_all("location", &self.location)
            .q("limit", self.limit)
            .q("cursor_after", self.cursor_after.as_ref())
            .q("cursor_before", self.cursor_before.as_ref());
        p.build(cfg)
    }
    fn parse(&self, resp: http::Response<Vec<u8>>) -> Result<Page<VirtualNumber>, Error> {
        parse_page(resp)
    }
}
