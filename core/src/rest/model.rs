//! The API's answers, typed. Every field but `id` is optional, unknown fields are ignored,
//! and known string values are enums that keep unknown values in `Other`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

string_enum! {
    /// A call's or leg's state (values seen in Teler's events; unconfirmed for REST).
    CallState {
        /// Placed, not yet ringing.
        Initiated => "initiated",
        /// Ringing.
        Ringing => "ringing",
        /// Answered and in progress.
        Answered => "answered",
        /// Ended normally.
        Completed => "completed",
        /// Ended without being answered or with an error.
        Failed => "failed",
    }
}

string_enum! {
    /// The direction of a call or leg.
    Direction {
        /// Into the account.
        Inbound => "inbound",
        /// Out of the account.
        Outbound => "outbound",
    }
}

string_enum! {
    /// A voice app's status.
    AppStatus {
        /// Takes calls.
        Active => "active",
        /// Does not take calls.
        Inactive => "inactive",
    }
}

string_enum! {
    /// The webhook payload version pinned on a voice app or trunk.
    WebhookApiVersion {
        /// The flat 2025 format.
        V2025_08_01 => "2025-08-01",
        /// The enveloped format, default for new apps and trunks.
        V2026_06_01 => "2026-06-01",
    }
}

#[allow(clippy::derivable_impls)] // the enum comes from a macro
impl Default for WebhookApiVersion {
    fn default() -> Self {
        WebhookApiVersion::V2026_06_01
    }
}

string_enum! {
    /// How a SIP trunk authenticates.
    AuthenticationType {
        /// Username and password.
        Credential => "credential",
        /// Source IP addresses (inline or an IP ACL).
        Ip => "IP",
    }
}

string_enum! {
    /// A SIP trunk's transport.
    SipTransport {
        /// TLS.
        Tls => "tls",
        /// TCP.
        Tcp => "tcp",
        /// UDP (credential authentication only).
        Udp => "udp",
    }
}

string_enum! {
    /// A webhook event's delivery status.
    DeliveryStatus {
        /// Not delivered yet.
        Pending => "pending",
        /// Delivered.
        Delivered => "delivered",
        /// Given up.
        FailedPermanent => "failed_permanent",
    }
}

string_enum! {
    /// What a `play` does when the caller presses a key.
    OnDtmf {
        /// Stop playing.
        Stop => "stop",
        /// Keep playing.
        Ignore => "ignore",
    }
}

string_enum! {
    /// A transfer's mode.
    TransferMode {
        /// Blind transfer.
        Cold => "cold",
    }
}

/// `POST /voice/calls/initiate`'s answer (the `data` object).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CreatedCall {
    /// The call id (`cs_…`).
    #[serde(default)]
    pub id: String,
    /// Caller number.
    pub from_number: Option<String>,
    /// Callee number.
    pub to_number: Option<String>,
    /// Status callback URL.
    pub status_callback_url: Option<String>,
    /// Whether the call is recorded.
    pub record: Option<bool>,
}

/// A call (`GET /voice/calls/{id}`, list items).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Call {
    /// The call id (`cs_…`).
    #[serde(default)]
    pub id: String,
    /// Account id.
    pub account_id: Option<String>,
    /// Voice app id.
    pub voice_app_id: Option<String>,
    /// State.
    pub state: Option<CallState>,
    /// Direction.
    pub direction: Option<Direction>,
    /// Caller number.
    pub from_number: Option<String>,
    /// Callee number.
    pub to_number: Option<String>,
    /// Free-form properties.
    pub properties: Option<Value>,
    /// Creation time (RFC 3339 text).
    pub created_at: Option<String>,
    /// Answer time.
    pub answered_at: Option<String>,
    /// End time.
    pub ended_at: Option<String>,
    /// End reason.
    pub reason: Option<String>,
    /// The legs, as sent (objects or ids).
    pub legs: Option<Vec<Value>>,
}

/// A call leg (`GET /voice/calls/{id}/legs` items).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CallLeg {
    /// Leg id (`cl_…`).
    #[serde(default)]
    pub id: String,
    /// The call this leg belongs to.
    pub call_session_id: Option<String>,
    /// Direction.
    pub direction: Option<Direction>,
    /// Role in the call.
    pub role: Option<String>,
    /// State.
    pub state: Option<CallState>,
    /// Caller number.
    pub from_number: Option<String>,
    /// Callee number.
    pub to_number: Option<String>,
    /// Parent leg id.
    pub parent_leg_id: Option<String>,
    /// Recordings, as sent.
    pub recordings: Option<Vec<Value>>,
    /// Creation time.
    pub created_at: Option<String>,
    /// Answer time.
    pub answered_at: Option<String>,
    /// End time.
    pub ended_at: Option<String>,
    /// End reason.
    pub reason: Option<String>,
    /// Who ended it.
    pub ended_by: Option<String>,
}

/// The answer to hangup, mute, dtmf and play.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MutationResult {
    /// The request id.
    #[serde(default)]
    pub request_id: String,
    /// The playback id (`pb_…`), for play.
    pub playback_id: Option<String>,
}

/// The answer to a transfer.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TransferResult {
    /// Operation id (`op_…`).
    #[serde(default)]
    pub id: String,
    /// The call.
    pub call_id: Option<String>,
    /// Operation status.
    pub status: Option<String>,
    /// The new leg.
    pub target_leg_id: Option<String>,
    /// Mode.
    pub mode: Option<TransferMode>,
    /// Request id.
    pub request_id: Option<String>,
}

/// A voice app.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VoiceApp {
    /// Id (`va_…`).
    #[serde(default)]
    pub id: String,
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
    pub channel_limit: Option<i64>,
    /// Number of assigned virtual numbers.
    pub vn_count: Option<i64>,
    /// Signing secret id.
    pub secret_id: Option<String>,
    /// Signing secret name.
    pub secret_name: Option<String>,
    /// Webhook version.
    pub webhook_api_version: Option<WebhookApiVersion>,
    /// Account id.
    pub account_id: Option<String>,
    /// Code.
    pub code: Option<String>,
}

/// `{success, message}`: the answer to deletes, assign and unassign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ActionResult {
    /// Whether it worked (an empty 2xx body reads as `true`).
    #[serde(default = "yes")]
    pub success: bool,
    /// The API's message.
    pub message: Option<String>,
}

fn yes() -> bool {
    true
}

impl Default for ActionResult {
    fn default() -> Self {
        ActionResult {
            success: true,
            message: None,
        }
    }
}

/// `{id, name}`: a reference to a voice app or trunk.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NamedRef {
    /// Id.
    #[serde(default)]
    pub id: String,
    /// Name.
    pub name: Option<String>,
}

/// A virtual number.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VirtualNumber {
    /// Id (`vn_…`).
    #[serde(default)]
    pub id: String,
    /// Account id.
    pub account_id: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// The number.
    pub number: Option<String>,
    /// Location, as sent.
    pub location: Option<Value>,
    /// Assigned voice app.
    pub voice_app: Option<NamedRef>,
    /// Assigned SIP trunk.
    pub sip_trunk: Option<NamedRef>,
}

/// A SIP trunk.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SipTrunk {
    /// Id (`st_…`).
    #[serde(default)]
    pub id: String,
    /// Name.
    pub name: Option<String>,
    /// Domain name.
    pub domain_name: Option<String>,
    /// Account id.
    pub account_id: Option<String>,
    /// Channel limit.
    pub channel_limit: Option<i64>,
    /// Calls-per-second limit.
    pub cps_limit: Option<i64>,
    /// Recording on.
    pub recording_enabled: Option<bool>,
    /// Transport.
    pub transport: Option<SipTransport>,
    /// Active.
    pub is_active: Option<bool>,
    /// Authentication type.
    pub authentication_type: Option<AuthenticationType>,
    /// Inline authorised addresses, as sent.
    pub auth_ip_addresses: Option<Vec<Value>>,
    /// Credential usernames, as sent.
    pub auth_credential_usernames: Option<Vec<Value>>,
    /// IP ACL id.
    pub ip_acl_id: Option<String>,
    /// IP ACL name.
    pub ip_acl_name: Option<String>,
    /// Inbound SIP route, as sent.
    pub sip_route: Option<Value>,
    /// Webhook URL.
    pub webhook_url: Option<String>,
    /// Webhook version.
    pub webhook_api_version: Option<WebhookApiVersion>,
    /// Creation time.
    pub created_at: Option<String>,
    /// Update time.
    pub updated_at: Option<String>,
    /// Signing secret id.
    pub secret_id: Option<String>,
    /// Signing secret name.
    pub secret_name: Option<String>,
    /// Code.
    pub code: Option<String>,
}

/// One entry of an IP ACL.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IpAclEntry {
    /// A single IP or a CIDR network.
    pub address: String,
    /// Optional description (at most 255 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl IpAclEntry {
    /// An entry without description.
    pub fn new(address: impl Into<String>) -> Self {
        IpAclEntry {
            address: address.into(),
            description: None,
        }
    }

    /// Adds a description.
    pub fn description(mut self, d: impl Into<String>) -> Self {
        self.description = Some(d.into());
        self
    }
}

/// An IP access control list.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IpAcl {
    /// Id.
    #[serde(default)]
    pub id: String,
    /// Name.
    pub name: Option<String>,
    /// Entries (detail answers).
    pub addresses: Option<Vec<IpAclEntry>>,
    /// Entry count (list answers).
    pub address_count: Option<i64>,
    /// Trunks using it.
    pub trunk_count: Option<i64>,
    /// Creation time.
    pub created_at: Option<String>,
    /// Update time.
    pub updated_at: Option<String>,
}

/// A SIP call.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SipCall {
    /// Id.
    #[serde(default)]
    pub id: String,
    /// Account id.
    pub account_id: Option<String>,
    /// Trunk id.
    pub sip_trunk_id: Option<String>,
    /// State.
    pub state: Option<CallState>,
    /// Direction.
    pub direction: Option<Direction>,
    /// Caller.
    pub from_number: Option<String>,
    /// Callee.
    pub to_number: Option<String>,
    /// Creation time.
    pub created_at: Option<String>,
    /// Answer time.
    pub answered_at: Option<String>,
    /// End time.
    pub ended_at: Option<String>,
    /// Duration.
    pub duration_seconds: Option<i64>,
    /// End reason.
    pub reason: Option<String>,
    /// Who ended it.
    pub ended_by: Option<String>,
    /// Recordings, as sent.
    pub recordings: Option<Vec<Value>>,
}

/// A webhook signing secret. Its `Debug` hides `secret_value`.
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Secret {
    /// Id (`sk_…`).
    #[serde(default)]
    pub id: String,
    /// Name.
    pub name: Option<String>,
    /// The secret (`whsec_…`): sensitive.
    pub secret_value: Option<String>,
    /// Last rotation.
    pub rotated_at: Option<String>,
    /// Creation time.
    pub created_at: Option<String>,
    /// Whether it should be rotated.
    pub needs_rotation: Option<bool>,
    /// Trunks using it, as sent.
    pub sip_trunks: Option<Vec<Value>>,
    /// Voice apps using it, as sent.
    pub voice_apps: Option<Vec<Value>>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("id", &self.id)
            .field("name", &self.name)
            .field(
                "secret_value",
                &self.secret_value.as_ref().map(|_| "<redacted>"),
            )
            .field("rotated_at", &self.rotated_at)
            .field("created_at", &self.created_at)
            .field("needs_rotation", &self.needs_rotation)
            .finish_non_exhaustive()
    }
}

/// A webhook event as stored by Teler.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Event {
    /// Id (`evt_…`).
    #[serde(default)]
    pub id: String,
    /// Account id.
    pub account_id: Option<String>,
    /// Call id.
    pub call_id: Option<String>,
    /// Trunk id.
    pub sip_trunk_id: Option<String>,
    /// Leg id.
    pub leg_id: Option<String>,
    /// Event type, e.g. `call.completed`.
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    /// Payload version.
    pub api_version: Option<String>,
    /// When it happened.
    pub occurred_at: Option<String>,
    /// The payload.
    pub payload: Option<Value>,
    /// Delivery status.
    pub delivery_status: Option<DeliveryStatus>,
    /// Delivery attempts.
    pub attempt_count: Option<i64>,
    /// Last attempt time.
    pub last_attempt_at: Option<String>,
    /// Last HTTP status.
    pub last_status_code: Option<i64>,
    /// Last error.
    pub last_error: Option<String>,
    /// Delivery time.
    pub delivered_at: Option<String>,
    /// Creation time.
    pub created_at: Option<String>,
}

/// `POST /events/{id}/redeliver`'s answer.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Redelivery {
    /// The event.
    #[serde(default)]
    pub event_id: String,
    /// When it was queued.
    pub redelivered_at: Option<String>,
}

/// A recording's short-lived signed download URL.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordingUrl {
    /// The signed URL.
    pub url: String,
    /// The recording.
    pub recording_id: String,
    /// Seconds the URL stays valid.
    pub expires_in: u64,
}
