//! The capture of one test's `tracing` events (ExUnit: `capture_log`, `@tag
//! :capture_log`): crash reports, supervisor reports and anything the servers log, each
//! with its level, its fields and the fields of the spans it happened in.
//!
//! [`run`](super::run) installs a [`Logs`] for each test, reached with
//! [`logs`](super::logs), and prints what it holds when the test fails; [`Logs::install`]
//! installs one by hand under a plain `#[tokio::test]`.
//!
//! The capture is the default subscriber of the current thread only: a current-thread
//! runtime runs the servers' tasks on the test's thread, so they report to it, and tests
//! running beside it on other threads keep their own. `tracing` caches per callsite, for
//! the whole process, whether anyone is interested in it; a thread with no subscriber
//! would cache "never" and blind the captures beside it, so the first capture also sets
//! a global default that keeps every callsite enabled (a registry with no layers, which
//! drops what reaches it), unless the program has set one already.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, Once};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// The message of every crash report: a server exited abnormally.
pub const CRASH_REPORT: &str = "server terminated abnormally";

/// The fields of an event or a span, rendered as text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fields(pub BTreeMap<String, String>);

impl Fields {
    /// The field `name`, as text.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }
}

/// One captured event with the spans it happened in, outermost first.
#[derive(Clone, Debug)]
pub struct Captured {
    /// The event's level.
    pub level: Level,
    /// The event's fields; its text is the field `message`.
    pub fields: Fields,
    /// The spans the event happened in, outermost first: each one's name and fields (a
    /// server's span is `genserver`, with its `server` type, `id` and `name`).
    pub spans: Vec<(&'static str, Fields)>,
}

impl Captured {
    /// The event's text.
    pub fn message(&self) -> &str {
        self.fields.get("message").unwrap_or("")
    }

    /// The field `name` of the innermost span that has it.
    pub fn span_field(&self, name: &str) -> Option<&str> {
        self.spans.iter().rev().find_map(|(_, fields)| fields.get(name))
    }
}

impl fmt::Display for Captured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:>5} {}", self.level, self.message())?;
        for (name, value) in self.fields.0.iter().filter(|(name, _)| *name != "message") {
            write!(f, " {name}={value}")?;
        }
        for (span, fields) in &self.spans {
            write!(f, " in {span}")?;
            for (name, value) in &fields.0 {
                write!(f, " {name}={value}")?;
            }
        }
        Ok(())
    }
}

/// The events captured so far, in the order they happened. Cheap to clone: clones share
/// the events.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<Captured>>>);

impl fmt::Debug for Logs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.events()).finish()
    }
}

/// Keeps every callsite enabled process-wide (see the module docs). [`Logs::install`]
/// calls it; a test binary that mixes captured tests with tests that capture nothing, on
/// threads of their own, calls it in those too.
pub fn keep_callsites_enabled() {
    static GLOBAL: Once = Once::new();
    GLOBAL.call_once(|| {
        // A program that set its own global subscriber keeps it.
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
    });
}

impl Logs {
    /// Captures every event of this thread until the guard is dropped.
    pub fn install() -> (Logs, tracing::subscriber::DefaultGuard) {
        keep_callsites_enabled();
        let logs = Logs::default();
        let subscriber = tracing_subscriber::registry().with(logs.clone());
        (logs, tracing::subscriber::set_default(subscriber))
    }

    /// Every event captured so far.
    pub fn events(&self) -> Vec<Captured> {
        self.lock().clone()
    }

    /// The events at error level.
    pub fn errors(&self) -> Vec<Captured> {
        self.at(Level::ERROR)
    }

    /// The events at `level`.
    pub fn at(&self, level: Level) -> Vec<Captured> {
        self.matching(|event| event.level == level)
    }

    /// The crash reports: one per server that exited abnormally, with its `reason` and
    /// `last_message` fields, in the server's span.
    pub fn crash_reports(&self) -> Vec<Captured> {
        self.matching(|event| event.message() == CRASH_REPORT)
    }

    /// The supervisor reports: one per child exit, restart failure or shutdown, with the
    /// `supervisor` and `child` fields.
    pub fn supervisor_reports(&self) -> Vec<Captured> {
        self.matching(|event| event.message().starts_with("supervisor report"))
    }

    /// Forgets every event captured so far.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn matching(&self, keep: impl Fn(&Captured) -> bool) -> Vec<Captured> {
        self.lock().iter().filter(|event| keep(event)).cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Captured>> {
        // Nothing panics while holding the lock; a poisoned one is still consistent.
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Logs {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: LayerContext<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let spans = ctx
            .event_scope(event)
            .map(|scope| {
                scope
                    .from_root()
                    .map(|span| (span.name(), span.extensions().get::<Fields>().cloned().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        self.lock().push(Captured { level: *event.metadata().level(), fields, spans });
    }
}
