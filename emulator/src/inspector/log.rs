//! What the inspector keeps about each call beyond the REST call object: state changes with
//! times, the flow exchanges, frames per second both ways, `clear`/`interrupt` marks and
//! the two legs' recordings. Every list is capped.

use std::collections::{HashMap, VecDeque};

use serde::Serialize;

use crate::util::{now_unix_ms, rfc3339};

/// Calls whose log is kept (the oldest are forgotten).
pub const MAX_LOGS: usize = 500;
/// Calls whose recordings are kept in memory (the oldest calls' are dropped).
pub const MAX_RECORDED_CALLS: usize = 16;
/// The longest recording kept per leg, in seconds (the rest is not recorded).
pub const MAX_RECORDING_SECS: usize = 600;
/// Seconds of per-second frame counts kept per call.
const MAX_SECONDS: usize = 7200;
/// Marks (`clear`, `interrupt`, stream starts and ends) kept per call.
const MAX_MARKS: usize = 500;
/// Flow exchanges kept per call.
const MAX_FLOWS: usize = 20;
/// The longest flow answer shown, in characters.
const MAX_ANSWER_CHARS: usize = 4000;

/// One state change.
#[derive(Debug, Clone, Serialize)]
pub struct StateChange {
    pub state: &'static str,
    pub at: String,
    /// Milliseconds since the call was placed.
    pub t_ms: u64,
}

/// One flow request and its answer.
#[derive(Debug, Clone, Serialize)]
pub struct FlowExchange {
    pub url: String,
    pub status: Option<u16>,
    /// The answer's body as text (capped).
    pub answer: String,
    pub error: Option<String>,
    pub t_ms: u64,
}

/// Something that happened on the media stream at a moment.
#[derive(Debug, Clone, Serialize)]
pub struct Mark {
    pub t_ms: u64,
    /// `start`, `clear`, `interrupt`, `stream_end`, `phone_dropped`.
    pub kind: &'static str,
    pub detail: String,
}

/// A frame's direction, for the per-second counts.
#[derive(Debug, Clone, Copy)]
pub enum Dir {
    /// Teler (the emulator) to the app: caller audio.
    ToApp,
    /// The app to Teler: `audio`, `clear`, `interrupt`.
    FromApp,
}

/// One leg's audio.
#[derive(Debug, Clone, Default)]
pub struct Leg {
    pub rate: u32,
    pub samples: Vec<i16>,
    pub truncated: bool,
}

impl Leg {
    fn append(&mut self, rate: u32, samples: &[i16]) {
        if self.rate == 0 {
            self.rate = rate;
        }
        if self.rate != rate {
            // A later stream at another rate: resample it to the first one's.
            let p = crate::wav::Pcm {
                sample_rate: rate,
                samples: samples.to_vec(),
            }
            .resampled(self.rate);
            return self.append(self.rate, &p.samples);
        }
        let room = (self.rate as usize * MAX_RECORDING_SECS).saturating_sub(self.samples.len());
        if samples.len() > room {
            self.truncated = true;
        }
        self.samples
            .extend_from_slice(&samples[..samples.len().min(room)]);
    }
}

/// The inspector's record of one call.
#[derive(Debug, Default, Serialize)]
pub struct CallLog {
    #[serde(skip)]
    t0_ms: u64,
    pub states: Vec<StateChange>,
    pub flows: Vec<FlowExchange>,
    /// Per second since the call was placed: `[frames to the app, frames from the app,
    /// clears, interrupts]`.
    pub seconds: Vec<[u32; 4]>,
    pub marks: Vec<Mark>,
    /// `caller` when the dev phone placed the call, `callee` when it answered it.
    pub phone: Option<&'static str>,
    #[serde(skip)]
    pub caller: Leg,
    #[serde(skip)]
    pub heard: Leg,
}

impl CallLog {
    fn t(&self) -> u64 {
        now_unix_ms().saturating_sub(self.t0_ms)
    }

    fn bucket(&mut self) -> &mut [u32; 4] {
        let s = (self.t() / 1000) as usize;
        let i = s.min(MAX_SECONDS - 1);
        if self.seconds.len() <= i {
            self.seconds.resize(i + 1, [0; 4]);
        }
        &mut self.seconds[i]
    }

    /// The recordings' lengths, for the page.
    pub fn recording_summary(&self) -> serde_json::Value {
        let ms = |l: &Leg| {
            if l.rate == 0 {
                0
            } else {
                l.samples.len() as u64 * 1000 / u64::from(l.rate)
            }
        };
        serde_json::json!({
            "caller_ms": ms(&self.caller),
            "heard_ms": ms(&self.heard),
            "truncated": self.caller.truncated || self.heard.truncated,
        })
    }
}

/// Every call's log, the newest [`MAX_LOGS`].
#[derive(Debug, Default)]
pub struct Logs {
    map: HashMap<String, CallLog>,
    order: VecDeque<String>,
    recorded: VecDeque<String>,
}

impl Logs {
    /// The log of `id`, made on first use.
    pub fn entry(&mut self, id: &str) -> &mut CallLog {
        if !self.map.contains_key(id) {
            self.order.push_back(id.to_owned());
            while self.order.len() > MAX_LOGS {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
                }
            }
            self.map.insert(
                id.to_owned(),
                CallLog {
                    t0_ms: now_unix_ms(),
                    ..CallLog::default()
                },
            );
        }
        self.map.entry(id.to_owned()).or_default()
    }

    pub fn get(&self, id: &str) -> Option<&CallLog> {
        self.map.get(id)
    }

    pub fn state(&mut self, id: &str, state: &'static str) {
        let l = self.entry(id);
        let t_ms = l.t();
        l.states.push(StateChange {
            state,
            at: rfc3339(now_unix_ms()),
            t_ms,
        });
    }

    pub fn flow(
        &mut self,
        id: &str,
        url: &str,
        status: Option<u16>,
        answer: &str,
        error: Option<String>,
    ) {
        let l = self.entry(id);
        if l.flows.len() < MAX_FLOWS {
            let t_ms = l.t();
            l.flows.push(FlowExchange {
                url: url.to_owned(),
                status,
                answer: answer.chars().take(MAX_ANSWER_CHARS).collect(),
                error,
                t_ms,
            });
        }
    }

    pub fn frame(&mut self, id: &str, dir: Dir) {
        let b = self.entry(id).bucket();
        match dir {
            Dir::ToApp => b[0] += 1,
            Dir::FromApp => b[1] += 1,
        }
    }

    pub fn mark(&mut self, id: &str, kind: &'static str, detail: String) {
        let l = self.entry(id);
        match kind {
            "clear" => l.bucket()[2] += 1,
            "interrupt" => l.bucket()[3] += 1,
            _ => {}
        }
        if l.marks.len() < MAX_MARKS {
            let t_ms = l.t();
            l.marks.push(Mark { t_ms, kind, detail });
        }
    }

    /// Adds a stream's audio to the call's two legs; only the newest
    /// [`MAX_RECORDED_CALLS`] calls keep theirs.
    pub fn record(&mut self, id: &str, caller: (u32, &[i16]), heard: (u32, &[i16])) {
        let l = self.entry(id);
        l.caller.append(caller.0, caller.1);
        l.heard.append(heard.0, heard.1);
        if !self.recorded.iter().any(|r| r == id) {
            self.recorded.push_back(id.to_owned());
        }
        while self.recorded.len() > MAX_RECORDED_CALLS {
            if let Some(old) = self.recorded.pop_front()
                && let Some(l) = self.map.get_mut(&old)
            {
                l.caller = Leg::default();
                l.heard = Leg::default();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_and_recordings_are_bounded() {
        let mut logs = Logs::default();
        for i in 0..(MAX_LOGS + 10) {
            logs.state(&format!("c{i}"), "initiated");
        }
        assert!(logs.get("c0").is_none());
        assert!(logs.get(&format!("c{}", MAX_LOGS + 9)).is_some());
        for i in 0..(MAX_RECORDED_CALLS + 2) {
            logs.record(&format!("r{i}"), (8000, &[1; 80]), (8000, &[2; 80]));
        }
        assert!(logs.get("r0").unwrap().caller.samples.is_empty());
        assert_eq!(logs.get("r17").unwrap().heard.samples.len(), 80);
        let mut leg = Leg::default();
        leg.append(8000, &vec![0; 8000 * MAX_RECORDING_SECS + 5]);
        assert!(leg.truncated);
        assert_eq!(leg.samples.len(), 8000 * MAX_RECORDING_SECS);
        // A second stream at 16 kHz is resampled to the first one's rate.
        let mut leg = Leg::default();
        leg.append(8000, &[0; 8]);
        leg.append(16000, &[0; 16]);
        assert_eq!(leg.samples.len(), 16);
    }
}
