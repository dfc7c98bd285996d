//! Graceful shutdown: an `Application` runs its root supervision tree until a
//! `CancellationToken`, a signal or an explicit stop, then stops the children in reverse
//! start order, each `terminate` run within its shutdown timeout, and returns once the
//! tree has exited. Without it, dropping the tokio runtime ends every server as killed:
//! no `terminate` runs.
//!
//! The clock is paused where time matters: shutdown timeouts are exact.

mod common;
use common::Log;
use common::poll::poll_once;
use common::supervision::{Worker, worker};

use genserver_runtime::prelude::*;
use genserver_runtime::{Application, SupervisorBuilder};
use tokio_util::sync::CancellationToken;

/// A root with three workers, a, b and c, started in that order.
fn tree(log: &Log) -> SupervisorBuilder {
    Supervisor::builder().child(worker("a", log)).child(worker("b", log)).child(worker("c", log))
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_token_stops_the_tree_in_reverse_order_and_run_returns_shutdown() {
    let log = Log::default();
    let app = Application::start(tree(&log)).await.expect("starts");
    assert_eq!(log.take(), ["start a", "start b", "start c"]);
    let root = app.supervisor().clone();
    let token = CancellationToken::new();
    let running = tokio::spawn(app.run(token.clone().cancelled_owned()));
    token.cancel();
    assert_eq!(running.await.expect("run returned"), ExitReason::Shutdown);
    assert_eq!(log.take(), ["terminate c (shutdown)", "terminate b (shutdown)", "terminate a (shutdown)"]);
    assert!(!root.is_alive(), "the root has exited when run returns");
}

#[tokio::test(start_paused = true)]
async fn a_terminate_that_outlives_its_shutdown_timeout_is_killed_at_the_timeout() {
    let log = Log::default();
    let (stubborn_log, timeout) = (log.clone(), Duration::from_millis(300));
    let stubborn =
        ChildSpec::new("stubborn", move || Worker::start_link("stubborn".into(), stubborn_log.clone(), true))
            .shutdown(Shutdown::Timeout(timeout));
    let app = Application::start(Supervisor::builder().child(worker("a", &log)).child(stubborn))
        .await
        .expect("starts");
    log.take();
    let started = tokio::time::Instant::now();
    assert_eq!(app.stop().await, ExitReason::Shutdown);
    assert_eq!(started.elapsed(), timeout, "the stubborn child is killed at its timeout, not later");
    assert_eq!(log.take(), ["terminate stubborn (shutdown)", "terminate a (shutdown)"]);
}

#[tokio::test(start_paused = true)]
async fn run_returns_the_roots_reason_when_the_root_is_stopped_elsewhere() {
    let log = Log::default();
    let app = Application::start(tree(&log)).await.expect("starts");
    let root = app.supervisor().clone();
    let running = tokio::spawn(app.run(std::future::pending::<()>()));
    root.stop(ExitReason::shutdown_with("maintenance"), Duration::from_secs(5)).await.expect("stops");
    assert_eq!(running.await.expect("run returned"), ExitReason::shutdown_with("maintenance"));
    assert_eq!(
        log.take()[3..],
        ["terminate c (shutdown)", "terminate b (shutdown)", "terminate a (shutdown)"]
    );
}

#[tokio::test(start_paused = true)]
async fn run_returns_when_the_root_gives_up_after_too_many_restarts() {
    let log = Log::default();
    let app = Application::start(
        Supervisor::builder().intensity(0, Duration::from_secs(5)).child(worker("a", &log)),
    )
    .await
    .expect("starts");
    let root = app.supervisor().clone();
    let running = tokio::spawn(app.run(std::future::pending::<()>()));
    let child = root.which_children().await.expect("listed")[0].process.clone().expect("running");
    child.downcast::<Worker>().expect("a Worker").exit_with(ExitReason::error("crash"));
    assert_eq!(running.await.expect("run returned"), ExitReason::Shutdown);
}

#[tokio::test(start_paused = true)]
async fn a_stop_of_an_application_whose_root_has_exited_gives_the_roots_reason() {
    let log = Log::default();
    let app = Application::start(tree(&log)).await.expect("starts");
    app.supervisor().kill();
    assert_eq!(app.stop().await, ExitReason::Killed);
}

#[test]
fn dropping_the_runtime_ends_servers_without_running_terminate() {
    let log = Log::default();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let root = runtime.block_on(async { tree(&log).start().await.expect("starts") });
    assert_eq!(log.take(), ["start a", "start b", "start c"]);
    drop(runtime);
    assert_eq!(log.take(), Vec::<String>::new(), "no terminate ran");
    assert_eq!(root.exit_reason(), Some(ExitReason::Killed), "the root ended as killed");
}

#[test]
fn sigterm_stops_the_tree_in_order_and_run_until_signal_returns() {
    let log = Log::default();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let reason = runtime.block_on(async {
        let app = Application::start(tree(&log)).await.expect("starts");
        let mut running = std::pin::pin!(app.run_until_signal());
        // The first poll installs the listeners; from then on SIGTERM is caught.
        assert!(poll_once(&mut running).await.is_none(), "running until a signal");
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &std::process::id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        running.await
    });
    assert_eq!(reason.expect("the signals were listened for"), ExitReason::Shutdown);
    assert_eq!(
        log.take(),
        [
            "start a",
            "start b",
            "start c",
            "terminate c (shutdown)",
            "terminate b (shutdown)",
            "terminate a (shutdown)"
        ]
    );
}
