//! Supervisor reports: one `tracing` event per child exit the supervisor handles, with
//! the child's id, the reason and what the supervisor does about it; at error level for
//! an abnormal exit or any exit of a permanent child (as OTP), info otherwise.
//!
//! A file of its own with a single test: `tracing` caches per callsite whether anyone is
//! interested, so a capturing test must not share its binary with tests that run without
//! a subscriber (see `tests/common/capture.rs`). The subscriber is installed with
//! `set_default` on the test's thread, where the current-thread runtime runs every task.

use std::collections::BTreeMap;

mod common;
use common::Log;
use common::capture::Capture;
use common::supervision::{exit_child, worker};

use genserver_runtime::prelude::*;
use tracing::Level;

/// One report: its level and fields.
type Report = (Level, BTreeMap<String, String>);

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
    let (capture, _guard) = Capture::install();
    let log = Log::default();
    let supervisor = Supervisor::builder()
        .child(worker("permanent", &log))
        .child(worker("transient", &log).restart(Restart::Transient))
        .start()
        .await
        .expect("started");
    for (id, reason) in [
        ("permanent", ExitReason::error("crash")),
        ("permanent", ExitReason::Normal),
        ("transient", ExitReason::Normal),
    ] {
        exit_child(&supervisor, id, reason).await;
    }
    supervisor.count_children().await.expect("both exits handled");

    let mut seen: Vec<Report> = capture
        .events()
        .into_iter()
        .filter(|event| event.fields.get("message").is_some_and(|m| m.starts_with("supervisor report")))
        .map(|event| (event.level, event.fields.0))
        .collect();
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
