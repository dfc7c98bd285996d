//! Supervisor strategies: after a child exits, one_for_one restarts it alone,
//! one_for_all stops the others in reverse and restarts all in order, rest_for_one
//! restarts it and those started after it; children stopped by a strategy, siblings
//! crashing during a restart, and nested supervisors escalating to their parent.
//!
//! Every wait is on an event (an exit, a reply); no test sleeps. A child's exit signal is
//! queued at the supervisor before `exited()` returns, so a call made after that is
//! answered once the supervisor has handled the exit.

use std::sync::Arc;

mod common;
use common::Log;
use common::supervision::{child, crash, exit_child, start_then_clear_log, three, worker};

use genserver_runtime::ChildCounts;
use genserver_runtime::prelude::*;

/// Starts `a`, `b` and `c` under `strategy`, makes `crashed` crash, and checks that the
/// three run again, that the log from the crash on is exactly `expected`, and that a stop
/// then stops them in reverse start order.
async fn crash_one_of_three(strategy: Strategy, crashed: &str, expected: &[&str]) {
    let log = Log::default();
    let supervisor = three(&log, strategy).start().await.expect("started");
    assert_eq!(log.take(), ["start a", "start b", "start c"], "{strategy:?}");
    exit_child(&supervisor, crashed, crash()).await;
    assert_eq!(supervisor.count_children().await.expect("counted").active, 3, "{strategy:?}");
    assert_eq!(log.take(), expected, "{strategy:?} after {crashed} crashed");
    supervisor.stop(ExitReason::Shutdown, Duration::from_secs(10)).await.expect("stopped");
    let stopped = ["terminate c (shutdown)", "terminate b (shutdown)", "terminate a (shutdown)"];
    assert_eq!(log.take(), stopped, "{strategy:?}: stopped in reverse start order");
}

#[tokio::test(start_paused = true)]
async fn one_for_one_restarts_only_the_child_that_exited() {
    crash_one_of_three(Strategy::OneForOne, "b", &["terminate b (error: crash)", "start b"]).await;
}

#[tokio::test(start_paused = true)]
async fn one_for_all_stops_the_others_in_reverse_then_restarts_all_in_order() {
    let expected = [
        "terminate b (error: crash)",
        "terminate c (shutdown)",
        "terminate a (shutdown)",
        "start a",
        "start b",
        "start c",
    ];
    crash_one_of_three(Strategy::OneForAll, "b", &expected).await;
}

#[tokio::test(start_paused = true)]
async fn rest_for_one_restarts_the_child_and_those_started_after_it() {
    let expected = ["terminate b (error: crash)", "terminate c (shutdown)", "start b", "start c"];
    crash_one_of_three(Strategy::RestForOne, "b", &expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_for_all_keeps_its_order_on_a_multi_thread_runtime() {
    let expected = [
        "terminate c (error: crash)",
        "terminate b (shutdown)",
        "terminate a (shutdown)",
        "start a",
        "start b",
        "start c",
    ];
    for _ in 0..20 {
        crash_one_of_three(Strategy::OneForAll, "c", &expected).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_temporary_child_stopped_because_a_sibling_failed_is_not_restarted() {
    let log = Log::default();
    let supervisor = start_then_clear_log(
        Supervisor::builder()
            .strategy(Strategy::OneForAll)
            .children([worker("a", &log), worker("t", &log).restart(Restart::Temporary)]),
        &log,
    )
    .await;
    exit_child(&supervisor, "a", crash()).await;
    let ids: Vec<_> = supervisor.which_children().await.expect("listed").into_iter().map(|c| c.id).collect();
    assert_eq!(ids, [Arc::from("a")]);
    assert_eq!(log.take(), ["terminate a (error: crash)", "terminate t (shutdown)", "start a"]);
}

#[tokio::test(start_paused = true)]
async fn a_sibling_that_crashes_during_a_one_for_all_restart_costs_no_second_restart() {
    let log = Log::default();
    // With an intensity of 1, a second restart would stop the supervisor.
    let supervisor =
        three(&log, Strategy::OneForAll).intensity(1, Duration::from_secs(5)).start().await.expect("started");
    let (a, b) = (child(&supervisor, "a").await.expect("a"), child(&supervisor, "b").await.expect("b"));
    log.take();
    // Both crash before the supervisor runs: it handles b's exit by stopping the others
    // (a is already gone) and starting all three; a's exit signal then names a server
    // that is no longer a child.
    b.kill();
    a.kill();
    b.exited().await;
    a.exited().await;
    let children = supervisor.which_children().await.expect("listed");
    assert!(children.iter().all(|child| child.process.as_ref().is_some_and(|p| p.is_alive())));
    assert_ne!(children[0].process.as_ref().map(|p| p.id()), Some(a.id()));
    assert_eq!(log.take(), ["terminate c (shutdown)", "start a", "start b", "start c"]);
    assert!(supervisor.is_alive());
}

fn inner_supervisor(log: &Log) -> ChildSpec {
    let log = log.clone();
    ChildSpec::new("inner", move || {
        Supervisor::builder()
            .name("nested-inner")
            .intensity(1, Duration::from_secs(5))
            .child(worker("w", &log))
            .start()
    })
    .supervisor()
}

#[tokio::test(start_paused = true)]
async fn nested_supervisors_restart_their_own_children_and_escalate() {
    let log = Log::default();
    let top = Supervisor::builder()
        .child(inner_supervisor(&log))
        .child(worker("x", &log))
        .start()
        .await
        .expect("top");
    assert_eq!(
        top.count_children().await.expect("counted"),
        ChildCounts { specs: 2, active: 2, supervisors: 1, workers: 1 }
    );
    let inner_process = child(&top, "inner").await.expect("inner running");
    assert_eq!(log.take(), ["start w", "start x"]);

    // The inner supervisor restarts its own worker once...
    let w = {
        let inner = genserver_runtime::whereis::<Supervisor>("nested-inner").expect("registered");
        exit_child(&inner, "w", crash()).await;
        assert_eq!(log.take(), ["terminate w (error: crash)", "start w"]);
        child(&inner, "w").await.expect("w restarted")
    };
    // ...and the second crash exceeds its intensity: it exits with Shutdown and the top
    // supervisor restarts it, with a new worker.
    w.stop(crash(), Duration::from_secs(1)).await.expect("crashed");
    assert_eq!(inner_process.exited().await, ExitReason::Shutdown);
    let new_inner = child(&top, "inner").await.expect("inner restarted");
    assert_ne!(new_inner.id(), inner_process.id());
    assert_eq!(log.take(), ["terminate w (error: crash)", "start w"]);

    top.stop(ExitReason::Shutdown, Duration::from_secs(10)).await.expect("stopped");
    assert_eq!(log.take(), ["terminate x (shutdown)", "terminate w (shutdown)"]);
    assert!(!new_inner.is_alive());
}
