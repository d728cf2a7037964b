//! A test subscriber and a test metrics recorder, installed process-wide (so each adapter
//! runs its observe case in a test binary of its own): what the SDK logged and measured.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// One span as recorded: its name and every field value, as text.
#[derive(Debug, Clone, Default)]
pub struct SpanRecord {
    pub name: String,
    pub fields: BTreeMap<String, String>,
}

/// Everything captured: spans by id, and every event's fields as one line of text.
#[derive(Debug, Default)]
pub struct Captured {
    pub spans: Mutex<BTreeMap<u64, SpanRecord>>,
    pub lines: Mutex<Vec<String>>,
}

impl Captured {
    /// The spans named `name`.
    pub fn spans_named(&self, name: &str) -> Vec<SpanRecord> {
        let spans = self.spans.lock().unwrap();
        spans.values().filter(|s| s.name == name).cloned().collect()
    }

    /// Every event line and span field, joined (to look for what must never be printed).
    pub fn all_text(&self) -> String {
        let mut out = self.lines.lock().unwrap().join("\n");
        for s in self.spans.lock().unwrap().values() {
            out.push_str(&format!("\n{} {:?}", s.name, s.fields));
        }
        out
    }
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

struct Capture(Arc<Captured>);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut rec = SpanRecord {
            name: attrs.metadata().name().to_owned(),
            ..SpanRecord::default()
        };
        attrs.record(&mut Fields(&mut rec.fields));
        self.0.spans.lock().unwrap().insert(id.into_u64(), rec);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        if let Some(rec) = self.0.spans.lock().unwrap().get_mut(&id.into_u64()) {
            values.record(&mut Fields(&mut rec.fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let span = ctx
            .event_span(event)
            .map(|s| s.name().to_owned())
            .unwrap_or_default();
        let line = format!("{} [{span}] {fields:?}", event.metadata().level());
        self.0.lines.lock().unwrap().push(line);
    }
}

/// The process-wide capture and metrics snapshotter (installed on first use).
pub fn install() -> (Arc<Captured>, &'static Snapshotter) {
    static INSTALLED: OnceLock<(Arc<Captured>, Snapshotter)> = OnceLock::new();
    let (captured, snap) = INSTALLED.get_or_init(|| {
        let captured = Arc::new(Captured::default());
        let subscriber = tracing_subscriber::registry()
            .with(Capture(captured.clone()))
            .with(tracing_subscriber::filter::LevelFilter::TRACE);
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber per process");
        let recorder = DebuggingRecorder::new();
        let snap = recorder.snapshotter();
        recorder.install().expect("one recorder per process");
        (captured, snap)
    });
    (captured.clone(), snap)
}

/// One snapshot of every metric (histograms are drained by a snapshot: take one).
pub struct Metrics(Vec<(String, Labels, DebugValue)>);

/// A metric's labels, as (name, value) pairs.
type Labels = Vec<(String, String)>;

impl Metrics {
    /// Takes the snapshot.
    pub fn take(snap: &Snapshotter) -> Metrics {
        let all = snap
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| {
                let k = key.key();
                let labels = k
                    .labels()
                    .map(|l| (l.key().to_owned(), l.value().to_owned()))
                    .collect();
                (k.name().to_owned(), labels, value)
            });
        Metrics(all.collect())
    }

    /// A metric's value by name and exact labels: counters and gauges as `f64`, histograms
    /// as their sample count.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.0.iter().find_map(|(n, l, value)| {
            let same = l.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| l.iter().any(|(a, b)| a == k && b == v));
            (n == name && same).then(|| match value {
                DebugValue::Counter(c) => *c as f64,
                DebugValue::Gauge(g) => g.into_inner(),
                DebugValue::Histogram(h) => h.len() as f64,
            })
        })
    }
}
