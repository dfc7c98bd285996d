//! Automatic shutdown: a supervisor with `AutoShutdown::AnySignificant` or
//! `AllSignificant` stops when its significant children exit by themselves, not when it
//! stops them itself; a significant child must be transient or temporary, under a
//! supervisor with an automatic shutdown.
//!
//! Every wait is on an event (an exit, a reply); no test sleeps. A child's exit signal is
//! queued at the supervisor before `exited()` returns, so a call made after that is
//! answered once the supervisor has handled the exit.

mod common;
use common::Log;
use common::supervision::{crash, exit_child, start_then_clear_log, worker};

use genserver_runtime::prelude::*;
use genserver_runtime::{AutoShutdown, ChildCounts, DynamicSupervisor};

/// A significant worker `name` with the `restart` type.
fn significant(name: &str, restart: Restart, log: &Log) -> ChildSpec {
    worker(name, log).restart(restart).significant(true)
}

/// Starts a supervisor with `strategy` that shuts down automatically as `auto` says, its
/// children the worker `a` and then `others`, and clears the log of their starts.
async fn start_a_and(
    auto: AutoShutdown,
    strategy: Strategy,
    others: [ChildSpec; 2],
    log: &Log,
) -> SupervisorRef {
    let builder = Supervisor::builder().strategy(strategy).auto_shutdown(auto).child(worker("a", log));
    start_then_clear_log(builder.children(others), log).await
}

#[tokio::test(start_paused = true)]
async fn any_significant_shuts_the_supervisor_down_when_a_significant_child_exits_by_itself() {
    let log = Log::default();
    let supervisor = start_a_and(
        AutoShutdown::AnySignificant,
        Strategy::OneForOne,
        [significant("s", Restart::Transient, &log), worker("b", &log)],
        &log,
    )
    .await;
    // A crash of a transient child is restarted, not an automatic shutdown.
    exit_child(&supervisor, "s", crash()).await;
    assert_eq!(supervisor.count_children().await.expect("counted").active, 3);
    // A normal exit is not restarted: the supervisor stops the others and exits.
    exit_child(&supervisor, "s", ExitReason::Normal).await;
    assert_eq!(supervisor.exited().await, ExitReason::Shutdown);
    assert_eq!(
        log.take(),
        [
            "terminate s (error: crash)",
            "start s",
            "terminate s (normal)",
            "terminate b (shutdown)",
            "terminate a (shutdown)"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn all_significant_shuts_the_supervisor_down_once_the_last_significant_child_exits() {
    let log = Log::default();
    let supervisor = start_a_and(
        AutoShutdown::AllSignificant,
        Strategy::OneForOne,
        [significant("s1", Restart::Temporary, &log), significant("s2", Restart::Temporary, &log)],
        &log,
    )
    .await;
    exit_child(&supervisor, "s1", crash()).await;
    assert_eq!(supervisor.count_children().await.expect("counted").active, 2, "s2 still runs");
    exit_child(&supervisor, "s2", ExitReason::Normal).await;
    assert_eq!(supervisor.exited().await, ExitReason::Shutdown);
    assert_eq!(
        log.take(),
        ["terminate s1 (error: crash)", "terminate s2 (normal)", "terminate a (shutdown)"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_significant_child_stopped_by_the_supervisor_does_not_shut_it_down() {
    let log = Log::default();
    let supervisor = start_a_and(
        AutoShutdown::AnySignificant,
        Strategy::OneForAll,
        [significant("s", Restart::Temporary, &log), significant("t", Restart::Transient, &log)],
        &log,
    )
    .await;
    // Stopped because a sibling crashed: a temporary child is dropped, no shutdown.
    exit_child(&supervisor, "a", crash()).await;
    // Stopped by terminate_child: no shutdown either.
    supervisor.terminate_child("t").await.expect("terminated");
    assert_eq!(
        supervisor.count_children().await.expect("counted"),
        ChildCounts { specs: 2, active: 1, supervisors: 0, workers: 2 }
    );
    assert_eq!(
        log.take(),
        [
            "terminate a (error: crash)",
            "terminate t (shutdown)",
            "terminate s (shutdown)",
            "start a",
            "start t",
            "terminate t (shutdown)"
        ]
    );
    assert!(supervisor.is_alive());
}

#[tokio::test(start_paused = true)]
async fn a_significant_child_must_be_transient_or_temporary_under_an_auto_shutdown() {
    let log = Log::default();
    let permanent = Supervisor::builder()
        .auto_shutdown(AutoShutdown::AnySignificant)
        .children([worker("a", &log), significant("p", Restart::Permanent, &log)])
        .start()
        .await;
    let invalid = |id: &str, reason| SupervisorError::InvalidChildSpec { id: id.into(), reason };
    assert_eq!(
        permanent.expect_err("refused"),
        invalid("p", "a significant child must be transient or temporary")
    );
    assert!(log.take().is_empty(), "the specs are checked before anything starts");

    let supervisor = Supervisor::builder().child(worker("a", &log)).start().await.expect("started");
    let never = "a significant child needs a supervisor with an automatic shutdown";
    assert_eq!(
        supervisor.start_child(significant("t", Restart::Transient, &log)).await,
        Err(invalid("t", never))
    );
    let dynamic = DynamicSupervisor::builder().start().await.expect("started");
    assert_eq!(
        dynamic.start_child(significant("t", Restart::Temporary, &log)).await,
        Err(invalid("t", never))
    );
    assert_eq!(log.take(), ["start a"]);
}
