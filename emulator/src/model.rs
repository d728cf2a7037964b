//! What the emulator shows of a call (`GET /voice/calls/{id}`), as typed values.

use serde::Serialize;
use serde_json::Value;

/// Where a call is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CallState {
    /// Accepted by `POST /voice/calls/initiate`.
    Initiated,
    /// The callee's phone rings.
    Ringing,
    /// Answered: the flow runs.
    InProgress,
    /// Ended normally (timer, hangup, the app closing its socket, a `hangup` action).
    Completed,
    /// Ended by an error: the flow URL failed or answered an invalid action, the `ws_url`
    /// refused, … (`reason` and `errors` say which); or canceled by a REST hangup while
    /// ringing (`reason` `canceled: …`). Reported as `call.failed` in 2026-06-01.
    Failed,
}

impl CallState {
    /// The wire string, e.g. `in_progress`.
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Initiated => "initiated",
            CallState::Ringing => "ringing",
            CallState::InProgress => "in_progress",
            CallState::Completed => "completed",
            CallState::Failed => "failed",
        }
    }

    /// True once the call has ended.
    pub fn is_final(self) -> bool {
        matches!(self, CallState::Completed | CallState::Failed)
    }
}

/// One leg of a call (`GET /voice/calls/{id}/legs`). The emulator places one leg per call.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Leg {
    /// `cl_…`.
    pub id: String,
    /// The call (`cs_…`).
    pub call_session_id: String,
    /// `outbound`.
    pub direction: String,
    /// `callee` (the number dialled).
    pub role: String,
    /// Same values as the call's state.
    pub state: CallState,
    /// Calling number.
    pub from_number: String,
    /// Called number.
    pub to_number: String,
    /// Always null here (one leg).
    pub parent_leg_id: Option<String>,
    /// Always empty (the emulator records nothing for download).
    pub recordings: Vec<Value>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, once answered.
    pub answered_at: Option<String>,
    /// RFC 3339, once ended.
    pub ended_at: Option<String>,
    /// Why it ended.
    pub reason: Option<String>,
    /// `api`, `app`, `flow`, `timer` or `system`.
    pub ended_by: Option<String>,
}

/// The media stream's counters (an emulator extension of the call object).
#[derive(Debug, Clone, Default, Serialize)]
#[non_exhaustive]
pub struct MediaStats {
    /// The stream's id as sent in `start`.
    pub stream_id: Option<String>,
    /// The `call_id` sent in `start`: a UUID unlike the REST id by default, or the REST id
    /// (see [`SocketCallId`](crate::SocketCallId)).
    pub socket_call_id: Option<String>,
    /// Where the stream went: the flow's `ws_url` (with
    /// [`balance`](crate::EmulatorBuilder::balance), its path and query at the address whose
    /// turn it was; the log line `stream … open to` names it).
    pub ws_url: Option<String>,
    /// Inbound sample rate in Hz.
    pub sample_rate: Option<u32>,
    /// Milliseconds of audio per inbound frame.
    pub chunk_size_ms: Option<u32>,
    /// Frames sent to the app (`start` and `audio`).
    pub frames_sent: u64,
    /// Text frames received from the app.
    pub frames_received: u64,
    /// `audio` chunks queued for playback.
    pub audio_chunks: u64,
    /// `clear` messages.
    pub clears: u64,
    /// `interrupt` messages.
    pub interrupts: u64,
    /// Frames refused (see `errors`).
    pub bad_frames: u64,
    /// Milliseconds of app audio played to the caller.
    pub played_ms: u64,
    /// Milliseconds of app audio dropped by `clear`/`interrupt` or left unplayed at the end.
    pub dropped_ms: u64,
    /// The caller-side recording of what the app played (8 kHz PCM16 WAV), if an output
    /// directory is set.
    pub output_wav: Option<String>,
    /// When the stream ended, in microseconds since the Unix epoch: when the app's close (or
    /// the end of its socket) was read, or when the emulator closed it (the call's end, a
    /// REST hangup). For measuring how soon an app ends a stream it was asked to.
    pub ended_unix_us: Option<u64>,
}

/// One webhook delivery attempt (an emulator extension of the call object). Retries and
/// duplicates are attempts of their own, in the order they were made.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookDelivery {
    /// The event type, e.g. `call.answered`.
    pub event: String,
    /// The event's `id` (`evt_…`; 2026-06-01 only), the same on every attempt.
    pub event_id: Option<String>,
    /// 1 for the first attempt, 2 for the first retry, …
    pub attempt: u32,
    /// True for the deliberate second delivery of
    /// [`webhook_duplicates`](crate::EmulatorBuilder::webhook_duplicates).
    pub duplicate: bool,
    /// Where this attempt was POSTed: the call's `status_callback_url`, or with
    /// [`balance`](crate::EmulatorBuilder::balance) that URL sent to the address whose turn
    /// it was.
    pub url: String,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<u16>,
    /// Why delivery failed, if it did.
    pub error: Option<String>,
}

/// A call as `GET /voice/calls/{id}` shows it: Teler's fields plus the emulator's
/// `errors`, `notes`, `media` and `webhooks`.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Call {
    /// `cs_…`.
    pub id: String,
    /// `acc_…`.
    pub account_id: String,
    /// `va_…`.
    pub voice_app_id: String,
    /// See [`CallState`].
    pub state: CallState,
    /// `outbound` (calls placed over REST).
    pub direction: String,
    /// Calling number.
    pub from_number: String,
    /// Called number.
    pub to_number: String,
    /// `flow_url`, `status_callback_url`, `record` as given to initiate.
    pub properties: Value,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, once answered.
    pub answered_at: Option<String>,
    /// RFC 3339, once ended.
    pub ended_at: Option<String>,
    /// Why it ended, e.g. `call_duration_elapsed`, `hangup_api`, `stream_closed_by_app`,
    /// `flow_error`, `ws_connect_failed`, `canceled: hangup_api`: the detail behind the
    /// `call.failed` webhook's coarser `reason`.
    pub reason: Option<String>,
    /// The legs (one).
    pub legs: Vec<Leg>,
    /// Every error seen, in order (at most 100; the rest are counted in the last entry).
    pub errors: Vec<String>,
    /// Actions taken: flow actions, REST play/dtmf/mute/hangup.
    pub notes: Vec<String>,
    /// Media counters.
    pub media: MediaStats,
    /// Webhook delivery attempts in the order made (at most 500).
    pub webhooks: Vec<WebhookDelivery>,
    #[serde(skip)]
    pub(crate) created_ms: u64,
    #[serde(skip)]
    pub(crate) seq: u64,
    #[serde(skip)]
    pub(crate) suppressed_errors: u64,
}

/// The most errors kept per call.
pub const MAX_ERRORS: usize = 100;

impl Call {
    pub(crate) fn push_error(&mut self, e: String) {
        if self.errors.len() < MAX_ERRORS - 1 {
            self.errors.push(e);
        } else {
            self.suppressed_errors += 1;
            let line = format!("… and {} more errors", self.suppressed_errors);
            if self.errors.len() == MAX_ERRORS {
                self.errors.pop();
            }
            self.errors.push(line);
        }
    }

    pub(crate) fn push_note(&mut self, n: String) {
        if self.notes.len() < 1000 {
            self.notes.push(n);
        }
    }
}
