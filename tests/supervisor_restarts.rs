//! Supervisor restarts: the restart table (permanent, transient, temporary by exit
//! reason), the restart intensity and its period, failed restarts retried by a message
//! under each strategy and counted toward the intensity, and names that follow a
//! restarted server.
//!
//! Every wait is on an event (an exit, a reply); no test sleeps. A child's exit signal is
//! queued at the supervisor before `exited()` returns, so a call made after that is
//! answered once the supervisor has handled the exit.

use std::sync::Arc;

mod common;
use common::Log;
use common::supervision::{Worker, a_then, child, crash, exit_child, start_then_clear_log, worker};

use genserver_runtime::prelude::*;
use genserver_runtime::{ChildStartError, DynamicSupervisor};
use tokio::sync::mpsc;

/// What a supervisor does with a child that exited by itself.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Outcome {
    /// Started again, as a new server.
    Restarted,
    /// Not restarted; its spec stays, with no server.
    KeptNotRunning,
    /// Not restarted; its spec is dropped.
    Dropped,
}

#[tokio::test(start_paused = true)]
async fn the_restart_table_permanent_transient_temporary_by_normal_shutdown_crash() {
    use Outcome::{Dropped, KeptNotRunning, Restarted};
    let table = [
        (Restart::Permanent, ExitReason::Normal, Restarted),
        (Restart::Permanent, ExitReason::Shutdown, Restarted),
        (Restart::Permanent, ExitReason::shutdown_with("done"), Restarted),
        (Restart::Permanent, crash(), Restarted),
        (Restart::Transient, ExitReason::Normal, KeptNotRunning),
        (Restart::Transient, ExitReason::Shutdown, KeptNotRunning),
        (Restart::Transient, ExitReason::shutdown_with("done"), KeptNotRunning),
        (Restart::Transient, crash(), Restarted),
        (Restart::Temporary, ExitReason::Normal, Dropped),
        (Restart::Temporary, ExitReason::Shutdown, Dropped),
        (Restart::Temporary, ExitReason::shutdown_with("done"), Dropped),
        (Restart::Temporary, crash(), Dropped),
    ];
    for (restart, reason, outcome) in table {
        let case = format!("{restart:?} child exiting with {reason:?} is {outcome:?}");
        let log = Log::default();
        let supervisor =
            Supervisor::builder().child(worker("w", &log).restart(restart)).start().await.expect("started");
        let old = exit_child(&supervisor, "w", reason.clone()).await;
        let children = supervisor.which_children().await.expect("which_children");
        let exited = ["start w".to_string(), format!("terminate w ({reason})")];
        match outcome {
            Restarted => {
                assert_eq!(children.len(), 1, "{case}");
                let new = children[0].process.clone().expect(&case);
                assert_ne!(new.id(), old.id(), "{case}");
                assert!(new.is_alive(), "{case}");
                let restarted = ["start w".to_string(), format!("terminate w ({reason})"), "start w".into()];
                assert_eq!(log.take(), restarted, "{case}");
            }
            KeptNotRunning => {
                assert_eq!(children.len(), 1, "{case}");
                assert_eq!(children[0].process, None, "{case}: the spec stays, not running");
                assert_eq!(log.take(), exited, "{case}");
            }
            Dropped => {
                assert!(children.is_empty(), "{case}: a temporary child's spec is dropped");
                assert_eq!(log.take(), exited, "{case}");
            }
        }
        supervisor.stop(ExitReason::Shutdown, Duration::from_secs(10)).await.expect("supervisor stops");
    }
}

#[tokio::test(start_paused = true)]
async fn more_restarts_than_the_intensity_stops_every_child_and_exits_with_shutdown() {
    let log = Log::default();
    let supervisor = a_then(worker("b", &log), 2, &log).start().await.expect("started");
    let monitor = supervisor.monitor();
    exit_child(&supervisor, "b", crash()).await;
    exit_child(&supervisor, "b", crash()).await;
    log.take();
    let a = child(&supervisor, "a").await.expect("a running");
    exit_child(&supervisor, "b", crash()).await;
    let down = monitor.await;
    assert_eq!(down.reason, ExitReason::Shutdown);
    assert_eq!(a.exit_reason(), Some(ExitReason::Shutdown));
    assert_eq!(log.take(), ["terminate b (error: crash)", "terminate a (shutdown)"]);
}

#[tokio::test(start_paused = true)]
async fn restarts_older_than_the_period_are_forgotten() {
    let log = Log::default();
    let supervisor = Supervisor::builder()
        .intensity(1, Duration::from_secs(5))
        .child(worker("a", &log))
        .start()
        .await
        .expect("started");
    exit_child(&supervisor, "a", crash()).await;
    tokio::time::advance(Duration::from_secs(6)).await;
    exit_child(&supervisor, "a", crash()).await;
    assert!(supervisor.is_alive());
    assert!(child(&supervisor, "a").await.is_some());
    exit_child(&supervisor, "a", crash()).await;
    assert_eq!(supervisor.exited().await, ExitReason::Shutdown);
}

#[tokio::test(start_paused = true)]
async fn every_failed_restart_counts_toward_the_intensity() {
    let log = Log::default();
    let starts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let flaky = {
        let (log, starts) = (log.clone(), starts.clone());
        ChildSpec::new("flaky", move || {
            let first = starts.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
            let log = log.clone();
            async move {
                if first {
                    Worker::start_link("flaky".into(), log, false).await.map_err(ChildStartError::from)
                } else {
                    Err(ChildStartError::failed("still broken"))
                }
            }
        })
    };
    let supervisor = start_then_clear_log(a_then(flaky, 3, &log), &log).await;
    exit_child(&supervisor, "flaky", crash()).await;
    // One restart for the crash, then three failed attempts: the fourth restart within
    // the period is one too many.
    assert_eq!(supervisor.exited().await, ExitReason::Shutdown);
    assert_eq!(starts.load(std::sync::atomic::Ordering::SeqCst), 4, "the first start and three attempts");
    assert_eq!(log.take(), ["terminate flaky (error: crash)", "terminate a (shutdown)"]);
}

/// A child `id` whose every start waits for the test's word: `true` starts it, `false`
/// fails the start (logged as `fail id`). The word for its first start is already given:
/// `true`.
fn gated(id: &'static str, log: &Log) -> (ChildSpec, mpsc::UnboundedSender<bool>) {
    let (open, gate) = mpsc::unbounded_channel::<bool>();
    open.send(true).expect("the gate is open");
    let gate = Arc::new(tokio::sync::Mutex::new(gate));
    let log = log.clone();
    let spec = ChildSpec::new(id, move || {
        let (gate, log) = (gate.clone(), log.clone());
        async move {
            if gate.lock().await.recv().await == Some(true) {
                Worker::start_link(id.into(), log, false).await.map_err(ChildStartError::from)
            } else {
                log.push(format!("fail {id}"));
                Err(ChildStartError::failed("not now"))
            }
        }
    });
    (spec, open)
}

/// The children once no restart is pending. A retry is queued behind the calls that came
/// before it, so this asks again until the retries are through.
async fn settled(supervisor: &SupervisorRef) -> Vec<genserver_runtime::ChildInfo> {
    for _ in 0..10 {
        let children = supervisor.which_children().await.expect("listed");
        if children.iter().all(|child| !child.restarting) {
            return children;
        }
    }
    panic!("still restarting after 10 calls");
}

#[tokio::test(start_paused = true)]
async fn a_failed_restart_is_retried_by_a_message_and_calls_are_served_in_between() {
    let log = Log::default();
    let (flaky, gate) = gated("flaky", &log);
    let supervisor =
        Supervisor::builder().child(worker("a", &log)).child(flaky).start().await.expect("started");
    assert_eq!(log.take(), ["start a", "start flaky"]);
    let old = exit_child(&supervisor, "flaky", crash()).await;

    // The first attempt fails; the calls queued meanwhile are answered before the retry.
    gate.send(false).expect("gate open");
    let (children, restarted, deleted) = tokio::join!(
        supervisor.which_children(),
        supervisor.restart_child("flaky"),
        supervisor.delete_child("flaky"),
    );
    let children = children.expect("listed");
    assert_eq!((&*children[1].id, &children[1].process, children[1].restarting), ("flaky", &None, true));
    assert_eq!(restarted, Err(SupervisorError::Restarting("flaky".into())));
    assert_eq!(deleted, Err(SupervisorError::Restarting("flaky".into())));

    // The retry, now waiting at the gate, fails once more, then the next one succeeds.
    gate.send(false).expect("gate open");
    gate.send(true).expect("gate open");
    let children = settled(&supervisor).await;
    let new = children[1].process.clone().expect("running again");
    assert_ne!(new.id(), old.id());
    assert_eq!(log.take(), ["terminate flaky (error: crash)", "fail flaky", "fail flaky", "start flaky"]);
    assert!(supervisor.is_alive());
}

#[tokio::test(start_paused = true)]
async fn terminate_child_cancels_the_retry_of_a_restarting_child() {
    let log = Log::default();
    let (flaky, gate) = gated("flaky", &log);
    let supervisor = Supervisor::builder().child(flaky).start().await.expect("started");
    exit_child(&supervisor, "flaky", crash()).await;
    gate.send(false).expect("gate open");
    let (terminated, children) =
        tokio::join!(supervisor.terminate_child("flaky"), supervisor.which_children());
    terminated.expect("terminated");
    let children = children.expect("listed");
    assert_eq!((&children[0].process, children[0].restarting), (&None, false));
    // The queued retry finds the child no longer restarting: no attempt is made (the gate
    // is never read again) and the spec can be deleted.
    supervisor.delete_child("flaky").await.expect("deleted");
    assert_eq!(log.take(), ["start flaky", "terminate flaky (error: crash)", "fail flaky"]);
    assert!(supervisor.is_alive());
}

/// Makes `b` crash, fails the gated child's next start and lets the one after succeed,
/// then waits until every child runs again.
async fn crash_b_then_fail_one_restart(supervisor: &SupervisorRef, gate: &mpsc::UnboundedSender<bool>) {
    exit_child(supervisor, "b", crash()).await;
    gate.send(false).expect("gate open");
    gate.send(true).expect("gate open");
    assert!(settled(supervisor).await.iter().all(|child| child.process.is_some()), "every child runs");
}

#[tokio::test(start_paused = true)]
async fn a_retried_one_for_all_restart_stops_and_starts_every_child_again() {
    let log = Log::default();
    let (c, gate) = gated("c", &log);
    let supervisor = start_then_clear_log(
        Supervisor::builder()
            .strategy(Strategy::OneForAll)
            .child(worker("a", &log))
            .child(worker("b", &log))
            .child(c),
        &log,
    )
    .await;
    crash_b_then_fail_one_restart(&supervisor, &gate).await;
    assert_eq!(
        log.take(),
        [
            "terminate b (error: crash)",
            "terminate c (shutdown)",
            "terminate a (shutdown)",
            "start a",
            "start b",
            "fail c",
            // The retry of c is a one-for-all restart again.
            "terminate b (shutdown)",
            "terminate a (shutdown)",
            "start a",
            "start b",
            "start c",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_retried_rest_for_one_restart_starts_the_child_and_those_after_it() {
    let log = Log::default();
    let (b, gate) = gated("b", &log);
    let supervisor = Supervisor::builder()
        .strategy(Strategy::RestForOne)
        .child(worker("a", &log))
        .child(b)
        .child(worker("c", &log))
        .start()
        .await
        .expect("started");
    let a = child(&supervisor, "a").await.expect("a running");
    log.take();
    crash_b_then_fail_one_restart(&supervisor, &gate).await;
    assert_eq!(
        log.take(),
        ["terminate b (error: crash)", "terminate c (shutdown)", "fail b", "start b", "start c"]
    );
    assert_eq!(child(&supervisor, "a").await, Some(a), "a is left alone");
}

#[tokio::test(start_paused = true)]
async fn a_child_that_never_starts_again_exhausts_the_intensity_through_its_retries() {
    let log = Log::default();
    let (flaky, gate) = gated("flaky", &log);
    let supervisor = start_then_clear_log(a_then(flaky, 2, &log), &log).await;
    exit_child(&supervisor, "flaky", crash()).await;
    // Restart 1 fails, its retry (restart 2) fails, the next retry is restart 3: too many.
    gate.send(false).expect("gate open");
    gate.send(false).expect("gate open");
    assert_eq!(supervisor.exited().await, ExitReason::Shutdown);
    assert_eq!(
        log.take(),
        ["terminate flaky (error: crash)", "fail flaky", "fail flaky", "terminate a (shutdown)"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_dynamic_supervisor_retries_a_failed_restart_and_counts_the_child_meanwhile() {
    let log = Log::default();
    let (flaky, gate) = gated("flaky", &log);
    let dynamic = DynamicSupervisor::builder().max_children(1).start().await.expect("started");
    let old = dynamic.start_child(flaky).await.expect("started").expect("running");
    old.stop(crash(), Duration::from_secs(1)).await.expect("crashed");
    gate.send(false).expect("gate open");
    let (children, refused) =
        tokio::join!(dynamic.which_children(), dynamic.start_child(worker("other", &log)));
    let children = children.expect("listed");
    assert_eq!((children.len(), &children[0].process, children[0].restarting), (1, &None, true));
    assert_eq!(refused, Err(SupervisorError::MaxChildren), "a restarting child still counts");
    gate.send(true).expect("gate open");
    let mut children = dynamic.which_children().await.expect("listed");
    for _ in 0..10 {
        if !children[0].restarting {
            break;
        }
        children = dynamic.which_children().await.expect("listed");
    }
    assert!(children[0].process.as_ref().is_some_and(|p| p.is_alive() && p.id() != old.id()));
    assert_eq!(log.take(), ["start flaky", "terminate flaky (error: crash)", "fail flaky", "start flaky"]);
}

#[tokio::test(start_paused = true)]
async fn a_client_by_name_reaches_the_restarted_server_and_an_old_handle_gets_no_server() {
    let log = Log::default();
    let spec = {
        let log = log.clone();
        ChildSpec::new("named", move || {
            Worker::builder().name("supervised-by-name").start_link(("named".into(), log.clone(), false))
        })
    };
    let supervisor = Supervisor::builder().child(spec).start().await.expect("started");
    let old = Worker::whereis("supervised-by-name").expect("registered");
    assert_eq!(old.label().await, Ok("named".to_string()));
    old.exit_with(crash());
    old.exited().await;
    supervisor.count_children().await.expect("the exit is handled");
    let new = Worker::whereis("supervised-by-name").expect("registered again");
    assert_ne!(new.id(), old.id());
    assert_eq!(new.label().await, Ok("named".to_string()));
    assert_eq!(old.label().await, Err(CallError::NoServer));

    // A call already queued when the instance crashes gets the crash, not a hang; the
    // name then leads to the next instance.
    new.exit_with(crash());
    assert_eq!(new.label().await, Err(CallError::Exited(crash())));
    supervisor.count_children().await.expect("the exit is handled");
    let third = Worker::whereis("supervised-by-name").expect("registered a third time");
    assert!(third.id() != new.id() && third.id() != old.id());
    assert_eq!(third.label().await, Ok("named".to_string()));
}
