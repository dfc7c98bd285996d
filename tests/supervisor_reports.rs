//! Supervisor reports: one `tracing` event per child exit the supervisor handles, with
//! the child's id, the reason and what the supervisor does about it; at error level for
//! an abnormal exit or any exit of a permanent child (as OTP), info otherwise.
//!
//! A file of its own with a single test: `tracing` caches per callsite whether anyone is
//! interested, so a capturing test must not share its binary with tests that run without
//! a subscriber (see `tests/panics_and_logging.rs`). The subscriber is installed with
//! `set_default` on the test's thread, where the current-thread runtime runs every task.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use genserver_runtime::prelude::*;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};

#[derive(Default)]
struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }
}

/// One report: its level and fields.
type Report = (Level, BTreeMap<String, String>);

/// The supervisor reports seen.
#[derive(Clone, Default)]
struct Reports(Arc<Mutex<Vec<Report>>>);

impl<S: Subscriber> Layer<S> for Reports {
    fn on_event(&self, event: &Event<'_>, _: LayerContext<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        if fields.0.get("message").is_some_and(|message| message.starts_with("supervisor report")) {
            self.0.lock().expect("reports lock").push((*event.metadata().level(), fields.0));
        }
    }
}

/// A child that exits when told.
pub struct Child;

#[genserver]
impl Child {
    /// Exits with `reason`.
    #[cast]
    fn exit_with(&mut self, reason: ExitReason) -> NoReply {
        NoReply::stop(reason)
    }
}

fn report(level: Level, child: &str, reason: &str, action: &str) -> Report {
    let fields = [
        ("message", "supervisor report: child_terminated"),
        ("supervisor", ""),
        ("child", child),
        ("reason", reason),
        ("action", action),
    ];
    (level, fields.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

#[tokio::test(start_paused = true)]
async fn each_child_exit_handled_logs_one_supervisor_report() {
    let reports = Reports::default();
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(reports.clone()));
    let supervisor = Supervisor::builder()
        .child(ChildSpec::new("permanent", || Child::start_link(Child)))
        .child(ChildSpec::new("transient", || Child::start_link(Child)).restart(Restart::Transient))
        .start()
        .await
        .expect("started");
    for (id, reason) in [
        ("permanent", ExitReason::error("crash")),
        ("permanent", ExitReason::Normal),
        ("transient", ExitReason::Normal),
    ] {
        let child = supervisor.which_children().await.expect("listed");
        let process = child.into_iter().find(|c| &*c.id == id).and_then(|c| c.process).expect("running");
        process.stop(reason, Duration::from_secs(1)).await.expect("stopped");
    }
    supervisor.count_children().await.expect("both exits handled");

    let mut seen = reports.0.lock().expect("reports lock").clone();
    let me = supervisor.id().to_string();
    for (_, fields) in &mut seen {
        assert_eq!(fields.insert("supervisor".into(), String::new()), Some(me.clone()));
    }
    assert_eq!(
        seen,
        [
            report(Level::ERROR, "permanent", "error: crash", "restarting"),
            // A permanent child should never exit: even a normal exit is an error (OTP).
            report(Level::ERROR, "permanent", "normal", "restarting"),
            report(Level::INFO, "transient", "normal", "not restarting"),
        ]
    );
}
