//! The one `tracing` capture layer of the tests: it keeps every event with its level,
//! its fields and the fields of the spans it happened in.
//!
//! [`Capture::install`] sets it as the default subscriber of the current thread only:
//! `#[tokio::test]` runs a current-thread runtime, so the servers' tasks run on the
//! test's thread and report to it.
//!
//! `tracing` caches, per callsite and for the whole process, whether anyone is interested
//! in it, computed by whichever thread reaches it first. A test thread with no subscriber
//! would cache "never" and blind the capturing tests running beside it, so a binary that
//! mixes capturing and other tests calls [`keep_callsites_enabled`] in every test
//! (`install` does it too).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, Once};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// The fields of an event or a span, rendered as text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fields(pub BTreeMap<String, String>);

impl Fields {
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
    pub level: Level,
    pub fields: Fields,
    pub spans: Vec<(&'static str, Fields)>,
}

/// The events captured so far, in the order they happened.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<Captured>>>);

/// Keeps every callsite enabled process-wide (see the module docs); the events of threads
/// without a capture go to a registry with no layers, which drops them.
pub fn keep_callsites_enabled() {
    static GLOBAL: Once = Once::new();
    GLOBAL.call_once(|| {
        tracing::subscriber::set_global_default(tracing_subscriber::registry())
            .expect("no other global subscriber in this test binary");
    });
}

impl Capture {
    /// Captures every event on this thread until the guard is dropped.
    pub fn install() -> (Capture, tracing::subscriber::DefaultGuard) {
        keep_callsites_enabled();
        let capture = Capture::default();
        let subscriber = tracing_subscriber::registry().with(capture.clone());
        (capture, tracing::subscriber::set_default(subscriber))
    }

    /// Every event captured so far.
    pub fn events(&self) -> Vec<Captured> {
        self.0.lock().expect("capture lock").clone()
    }

    /// The events at error level.
    pub fn errors(&self) -> Vec<Captured> {
        self.at(Level::ERROR)
    }

    /// The events at `level`.
    pub fn at(&self, level: Level) -> Vec<Captured> {
        self.0.lock().expect("capture lock").iter().filter(|event| event.level == level).cloned().collect()
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
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
        self.0.lock().expect("capture lock").push(Captured {
            level: *event.metadata().level(),
            fields,
            spans,
        });
    }
}
