//! Supervisors: the restart table, restart intensity, the three strategies, start
//! failures, shutdown order and timeouts, the child API and its errors, nesting, names
//! that follow restarts, retries of failed restarts, and automatic shutdown.
//!
//! Every wait is on an event (an exit, a reply); no test sleeps. A child's exit signal is
//! queued at the supervisor before `exited()` returns, so a call made after that is
//! answered once the supervisor has handled the exit.

use std::sync::Arc;

mod common;
use common::{Log, poll_once};

use genserver_runtime::prelude::*;
use genserver_runtime::{
    AutoShutdown, ChildCounts, ChildStartError, ChildType, DynamicSupervisor, DynamicSupervisorRef,
};
use tokio::sync::mpsc;

/// A child that logs its starts and terminates, and exits when told.
pub struct Worker {
    name: String,
    log: Log,
    /// Its `terminate` never returns.
    stubborn: bool,
}

#[genserver]
impl Worker {
    #[init]
    fn init(name: String, log: Log, stubborn: bool) -> Init<Self> {
        log.push(format!("start {name}"));
        Init::ok(Worker { name, log, stubborn })
    }

    /// Exits with `reason`.
    #[cast]
    fn exit_with(&mut self, reason: ExitReason) -> NoReply {
        NoReply::stop(reason)
    }

    /// Its name.
    #[call]
    fn label(&self) -> String {
        self.name.clone()
    }

    #[terminate]
    async fn terminate(&mut self, reason: &ExitReason) {
        self.log.push(format!("terminate {} ({reason})", self.name));
        if self.stubborn {
            std::future::pending::<()>().await;
        }
    }
}

fn worker(name: &str, log: &Log) -> ChildSpec {
    let (name, log) = (name.to_string(), log.clone());
    ChildSpec::new(name.clone(), move || Worker::start_link(name.clone(), log.clone(), false))
}

fn failing(id: &str) -> ChildSpec {
    ChildSpec::new(id, || async { Err::<WorkerRef, _>(ChildStartError::failed("no database")) })
}

/// The running child `id`, as a typed handle found by its process id.
async fn child(supervisor: &SupervisorRef, id: &str) -> Option<ProcessRef> {
    let children = supervisor.which_children().await.expect("which_children");
    children.into_iter().find(|child| &*child.id == id).and_then(|child| child.process)
}

/// Makes the child `id` exit with `reason` (its `terminate` runs) and returns it once it
/// has exited; the supervisor has the exit signal queued by then.
async fn exit_child(supervisor: &SupervisorRef, id: &str, reason: ExitReason) -> ProcessRef {
    let process = child(supervisor, id).await.expect("child running");
    process.stop(reason, Duration::from_secs(1)).await.expect("stopped with the reason asked");
    process
}

const CRASH: &str = "crash";

fn crash() -> ExitReason {
    ExitReason::error(CRASH)
}

fn three(log: &Log, strategy: Strategy) -> genserver_runtime::SupervisorBuilder {
    Supervisor::builder()
        .strategy(strategy)
        .child(worker("a", log))
        .child(worker("b", log))
        .child(worker("c", log))
}

#[tokio::test(start_paused = true)]
async fn the_restart_table_permanent_transient_temporary_by_normal_shutdown_crash() {
    // (restart type, exit reason, restarted?)
    let table = [
        (Restart::Permanent, ExitReason::Normal, true),
        (Restart::Permanent, ExitReason::Shutdown, true),
        (Restart::Permanent, ExitReason::shutdown_with("done"), true),
        (Restart::Permanent, crash(), true),
        (Restart::Transient, ExitReason::Normal, false),
        (Restart::Transient, ExitReason::Shutdown, false),
        (Restart::Transient, ExitReason::shutdown_with("done"), false),
        (Restart::Transient, crash(), true),
        (Restart::Temporary, ExitReason::Normal, false),
        (Restart::Temporary, ExitReason::Shutdown, false),
        (Restart::Temporary, ExitReason::shutdown_with("done"), false),
        (Restart::Temporary, crash(), false),
    ];
    for (restart, reason, restarted) in table {
        let log = Log::default();
        let supervisor =
            Supervisor::builder().child(worker("w", &log).restart(restart)).start().await.expect("started");
        let old = exit_child(&supervisor, "w", reason.clone()).await;
        let children = supervisor.which_children().await.expect("which_children");
        let case = format!("{restart:?} child exiting with {reason:?}");
        if restarted {
            assert_eq!(children.len(), 1, "{case}");
            let new = children[0].process.clone().expect(&case);
            assert_ne!(new.id(), old.id(), "{case}");
            assert!(new.is_alive(), "{case}");
            assert_eq!(
                log.take(),
                ["start w".to_string(), format!("terminate w ({reason})"), "start w".into()]
            );
        } else if restart == Restart::Temporary {
            assert!(children.is_empty(), "{case}: a temporary child's spec is dropped");
            assert_eq!(log.take(), ["start w".to_string(), format!("terminate w ({reason})")]);
        } else {
            assert_eq!(children.len(), 1, "{case}");
            assert_eq!(children[0].process, None, "{case}: the spec stays, not running");
        }
        supervisor.stop(ExitReason::Shutdown, Duration::from_secs(10)).await.expect("supervisor stops");
    }
}

#[tokio::test(start_paused = true)]
async fn more_restarts_than_the_intensity_stops_every_child_and_exits_with_shutdown() {
    let log = Log::default();
    let supervisor = Supervisor::builder()
        .intensity(2, Duration::from_secs(5))
        .child(worker("a", &log))
        .child(worker("b", &log))
        .start()
        .await
        .expect("started");
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
async fn one_for_one_restarts_only_the_child_that_exited() {
    let log = Log::default();
    let supervisor = three(&log, Strategy::OneForOne).start().await.expect("started");
    assert_eq!(log.take(), ["start a", "start b", "start c"]);
    exit_child(&supervisor, "b", crash()).await;
    assert_eq!(supervisor.count_children().await.expect("counted").active, 3);
    assert_eq!(log.take(), ["terminate b (error: crash)", "start b"]);
}

#[tokio::test(start_paused = true)]
async fn one_for_all_stops_the_others_in_reverse_then_restarts_all_in_order() {
    let log = Log::default();
    let supervisor = three(&log, Strategy::OneForAll).start().await.expect("started");
    log.take();
    exit_child(&supervisor, "b", crash()).await;
    assert_eq!(supervisor.count_children().await.expect("counted").active, 3);
    assert_eq!(
        log.take(),
        [
            "terminate b (error: crash)",
            "terminate c (shutdown)",
            "terminate a (shutdown)",
            "start a",
            "start b",
            "start c"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn rest_for_one_restarts_the_child_and_those_started_after_it() {
    let log = Log::default();
    let supervisor = three(&log, Strategy::RestForOne).start().await.expect("started");
    log.take();
    exit_child(&supervisor, "b", crash()).await;
    assert_eq!(supervisor.count_children().await.expect("counted").active, 3);
    assert_eq!(log.take(), ["terminate b (error: crash)", "terminate c (shutdown)", "start b", "start c"]);
}

#[tokio::test(start_paused = true)]
async fn a_temporary_child_stopped_because_a_sibling_failed_is_not_restarted() {
    let log = Log::default();
    let supervisor = Supervisor::builder()
        .strategy(Strategy::OneForAll)
        .child(worker("a", &log))
        .child(worker("t", &log).restart(Restart::Temporary))
        .start()
        .await
        .expect("started");
    log.take();
    exit_child(&supervisor, "a", crash()).await;
    let ids: Vec<_> = supervisor.which_children().await.expect("listed").into_iter().map(|c| c.id).collect();
    assert_eq!(ids, [Arc::from("a")]);
    assert_eq!(log.take(), ["terminate a (error: crash)", "terminate t (shutdown)", "start a"]);
}

#[tokio::test(start_paused = true)]
async fn a_start_failure_stops_the_started_children_in_reverse_and_names_the_child() {
    let log = Log::default();
    let started = Supervisor::builder()
        .child(worker("a", &log))
        .child(worker("b", &log))
        .child(failing("db"))
        .child(worker("c", &log))
        .start()
        .await;
    let error = started.expect_err("the start fails");
    match &error {
        SupervisorError::FailedToStartChild { id, reason } => {
            assert_eq!(&**id, "db");
            assert_eq!(reason.to_string(), "no database");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(error.to_string(), "failed to start child \"db\": no database");
    assert_eq!(log.take(), ["start a", "start b", "terminate b (shutdown)", "terminate a (shutdown)"]);
}

#[tokio::test(start_paused = true)]
async fn duplicate_child_ids_are_refused_before_anything_starts() {
    let log = Log::default();
    let error = Supervisor::builder().child(worker("a", &log)).child(worker("a", &log)).start().await;
    assert_eq!(error.expect_err("refused"), SupervisorError::DuplicateChild("a".into()));
    assert!(log.take().is_empty());
}

#[tokio::test(start_paused = true)]
async fn stopping_the_supervisor_stops_children_in_reverse_start_order() {
    let log = Log::default();
    let supervisor = three(&log, Strategy::OneForOne).start().await.expect("started");
    log.take();
    supervisor.stop(ExitReason::Shutdown, Duration::from_secs(10)).await.expect("stopped");
    assert_eq!(log.take(), ["terminate c (shutdown)", "terminate b (shutdown)", "terminate a (shutdown)"]);
}

#[tokio::test(start_paused = true)]
async fn a_child_that_ignores_shutdown_is_killed_after_its_timeout() {
    let log = Log::default();
    let stubborn = {
        let log = log.clone();
        ChildSpec::new("stubborn", move || Worker::start_link("stubborn".into(), log.clone(), true))
            .shutdown(Shutdown::Timeout(Duration::from_secs(2)))
    };
    let supervisor =
        Supervisor::builder().child(worker("a", &log)).child(stubborn).start().await.expect("started");
    let process = child(&supervisor, "stubborn").await.expect("running");
    log.take();
    let before = tokio::time::Instant::now();
    supervisor.stop(ExitReason::Shutdown, Duration::from_secs(10)).await.expect("stopped");
    assert_eq!(before.elapsed(), Duration::from_secs(2));
    assert_eq!(process.exit_reason(), Some(ExitReason::Killed));
    assert_eq!(log.take(), ["terminate stubborn (shutdown)", "terminate a (shutdown)"]);
}

#[tokio::test(start_paused = true)]
async fn brutal_kill_stops_a_child_without_its_terminate() {
    let log = Log::default();
    let supervisor = Supervisor::builder()
        .child(worker("a", &log).shutdown(Shutdown::BrutalKill))
        .start()
        .await
        .expect("started");
    let process = child(&supervisor, "a").await.expect("running");
    log.take();
    supervisor.terminate_child("a").await.expect("terminated");
    assert_eq!(process.exit_reason(), Some(ExitReason::Killed));
    assert!(log.take().is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_child_api_and_its_errors() {
    let log = Log::default();
    let supervisor = Supervisor::builder().child(worker("a", &log)).start().await.expect("started");
    let a = child(&supervisor, "a").await.expect("running");

    let children = supervisor.which_children().await.expect("listed");
    assert_eq!(children.len(), 1);
    assert_eq!(
        (&*children[0].id, children[0].child_type, children[0].restart),
        ("a", ChildType::Worker, Restart::Permanent)
    );
    assert_eq!(
        supervisor.count_children().await.expect("counted"),
        ChildCounts { specs: 1, active: 1, supervisors: 0, workers: 1 }
    );

    // start_child
    assert_eq!(
        supervisor.start_child(worker("a", &log)).await,
        Err(SupervisorError::AlreadyStarted(a.clone()))
    );
    let b = supervisor.start_child(worker("b", &log)).await.expect("started").expect("running");
    assert!(b.is_alive());
    let failed = supervisor.start_child(failing("db")).await.expect_err("fails");
    assert!(matches!(&failed, SupervisorError::FailedToStartChild { id, .. } if &**id == "db"));
    assert_eq!(supervisor.count_children().await.expect("counted").specs, 2, "a failed start keeps no spec");

    // restart_child and delete_child refuse a running child
    assert_eq!(supervisor.restart_child("a").await, Err(SupervisorError::Running("a".into())));
    assert_eq!(supervisor.delete_child("a").await, Err(SupervisorError::Running("a".into())));

    // terminate_child keeps the spec
    supervisor.terminate_child("a").await.expect("terminated");
    assert_eq!(a.exit_reason(), Some(ExitReason::Shutdown));
    assert_eq!(child(&supervisor, "a").await, None);
    assert_eq!(
        supervisor.count_children().await.expect("counted"),
        ChildCounts { specs: 2, active: 1, supervisors: 0, workers: 2 }
    );
    assert_eq!(
        supervisor.start_child(worker("a", &log)).await,
        Err(SupervisorError::AlreadyPresent("a".into()))
    );
    let again = supervisor.restart_child("a").await.expect("restarted").expect("running");
    assert_ne!(again.id(), a.id());
    supervisor.terminate_child("a").await.expect("terminated");
    supervisor.delete_child("a").await.expect("deleted");

    // unknown ids
    assert_eq!(supervisor.terminate_child("a").await, Err(SupervisorError::NotFound("a".into())));
    assert_eq!(supervisor.restart_child("a").await, Err(SupervisorError::NotFound("a".into())));
    assert_eq!(supervisor.delete_child("a").await, Err(SupervisorError::NotFound("a".into())));

    // a temporary child's spec goes with terminate_child
    supervisor.start_child(worker("t", &log).restart(Restart::Temporary)).await.expect("started");
    supervisor.terminate_child("t").await.expect("terminated");
    assert_eq!(supervisor.delete_child("t").await, Err(SupervisorError::NotFound("t".into())));

    // a supervisor that has exited answers with an error
    supervisor.stop(ExitReason::Shutdown, Duration::from_secs(10)).await.expect("stopped");
    assert!(!b.is_alive());
    assert_eq!(supervisor.which_children().await, Err(SupervisorError::Call(CallError::NoServer)));
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
    let supervisor = Supervisor::builder()
        .intensity(3, Duration::from_secs(5))
        .child(worker("a", &log))
        .child(flaky)
        .start()
        .await
        .expect("started");
    log.take();
    exit_child(&supervisor, "flaky", crash()).await;
    // One restart for the crash, then three failed attempts: the fourth restart within
    // the period is one too many.
    assert_eq!(supervisor.exited().await, ExitReason::Shutdown);
    assert_eq!(starts.load(std::sync::atomic::Ordering::SeqCst), 4, "the first start and three attempts");
    assert_eq!(log.take(), ["terminate flaky (error: crash)", "terminate a (shutdown)"]);
}

#[tokio::test(start_paused = true)]
async fn the_generated_child_spec_starts_the_server_under_its_type_name() {
    let log = Log::default();
    let spec = Worker::child_spec(("generated".to_string(), log.clone(), false));
    assert_eq!(
        (spec.id(), spec.restart_type(), spec.shutdown_type()),
        ("Worker", Restart::Permanent, Shutdown::Timeout(Duration::from_secs(5)))
    );
    let supervisor =
        Supervisor::builder().child(spec.restart(Restart::Transient)).start().await.expect("started");
    assert_eq!(log.take(), ["start generated"]);
    exit_child(&supervisor, "Worker", crash()).await;
    assert_eq!(log.take(), ["terminate generated (error: crash)", "start generated"]);
    exit_child(&supervisor, "Worker", ExitReason::Normal).await;
    assert_eq!(child(&supervisor, "Worker").await, None, "transient: not restarted after a normal exit");
}

#[tokio::test(start_paused = true)]
async fn two_servers_of_one_type_run_side_by_side_once_their_generated_specs_get_their_own_ids() {
    let log = Log::default();
    let spec = |name: &str| Worker::child_spec((name.to_string(), log.clone(), false));
    let clash = Supervisor::builder().child(spec("first")).child(spec("second")).start().await;
    assert_eq!(clash.err(), Some(SupervisorError::DuplicateChild("Worker".into())));
    log.take();

    let supervisor = Supervisor::builder()
        .child(spec("first").with_id("worker_1"))
        .child(spec("second").with_id("worker_2"))
        .start()
        .await
        .expect("started");
    assert_eq!(log.take(), ["start first", "start second"]);
    let ids: Vec<_> = supervisor.which_children().await.expect("listed").into_iter().map(|c| c.id).collect();
    assert_eq!(ids, [Arc::from("worker_1"), Arc::from("worker_2")]);
    exit_child(&supervisor, "worker_2", crash()).await;
    assert_eq!(log.take(), ["terminate second (error: crash)", "start second"]);
}

/// A server that starts a supervisor from one of its handlers, so it is the parent.
pub struct Parent {
    log: Log,
}

#[genserver]
impl Parent {
    /// Starts a supervisor with one worker, linked to this server.
    #[call]
    async fn start_supervisor(&mut self) -> Option<SupervisorRef> {
        Supervisor::builder().child(worker("w", &self.log)).start().await.ok()
    }

    /// Exits with `reason`.
    #[cast]
    fn exit_with(&mut self, reason: ExitReason) -> NoReply {
        NoReply::stop(reason)
    }
}

#[tokio::test(start_paused = true)]
async fn a_supervisor_stops_its_children_and_exits_when_its_parent_exits_even_normally() {
    let log = Log::default();
    let parent = Parent::start(Parent { log: log.clone() }).await.expect("parent");
    let supervisor = parent.start_supervisor().await.expect("called").expect("supervisor started");
    assert_eq!(log.take(), ["start w"]);
    parent.exit_with(ExitReason::Normal);
    assert_eq!(supervisor.exited().await, ExitReason::Normal);
    assert_eq!(log.take(), ["terminate w (shutdown)"]);
}

#[tokio::test(start_paused = true)]
async fn a_dynamic_supervisor_starts_children_at_run_time_up_to_its_maximum() {
    let log = Log::default();
    let dynamic = DynamicSupervisor::builder().max_children(2).start().await.expect("started");
    let a = dynamic.start_child(worker("same id", &log)).await.expect("a").expect("running");
    let b = dynamic.start_child(worker("same id", &log)).await.expect("b").expect("running");
    assert_eq!(dynamic.start_child(worker("c", &log)).await, Err(SupervisorError::MaxChildren));
    assert_eq!(log.take(), ["start same id", "start same id"]);

    // A crashed child is restarted; a terminated one is forgotten.
    a.stop(crash(), Duration::from_secs(1)).await.expect("crashed");
    let children = dynamic.which_children().await.expect("listed");
    assert_eq!(children.len(), 2);
    assert!(children.iter().all(|child| child.process.as_ref().is_some_and(|p| p.is_alive())));
    assert_eq!(log.take(), ["terminate same id (error: crash)", "start same id"]);
    dynamic.terminate_child(b.id()).await.expect("terminated");
    assert_eq!(dynamic.terminate_child(b.id()).await, Err(SupervisorError::NoChild(b.id())));
    assert_eq!(
        dynamic.count_children().await.expect("counted"),
        ChildCounts { specs: 1, active: 1, supervisors: 0, workers: 1 }
    );
    assert_eq!(log.take(), ["terminate same id (shutdown)"]);

    // A transient child that exits normally is forgotten too.
    let t = dynamic
        .start_child(worker("t", &log).restart(Restart::Transient))
        .await
        .expect("t")
        .expect("running");
    t.stop(ExitReason::Normal, Duration::from_secs(1)).await.expect("stopped");
    assert_eq!(dynamic.count_children().await.expect("counted").specs, 1);
}

#[tokio::test(start_paused = true)]
async fn a_dynamic_supervisor_refuses_the_calls_that_name_a_child_by_id() {
    let log = Log::default();
    DynamicSupervisor::builder().name("dynamic by id").start().await.expect("started");
    // Found by name, a dynamic supervisor's handle is a plain `SupervisorRef`, which has
    // the by-id calls of a static supervisor.
    let supervisor = genserver_runtime::whereis::<Supervisor>("dynamic by id").expect("registered");
    let child = supervisor.start_child(worker("w", &log)).await.expect("started").expect("running");
    assert_eq!(supervisor.terminate_child("w").await, Err(SupervisorError::UnsupportedOnDynamic));
    assert_eq!(supervisor.restart_child("w").await, Err(SupervisorError::UnsupportedOnDynamic));
    assert_eq!(supervisor.delete_child("w").await, Err(SupervisorError::UnsupportedOnDynamic));
    assert!(child.is_alive(), "a refused call leaves the child alone");
    assert_eq!(log.take(), ["start w"]);
    let dynamic = DynamicSupervisorRef::from(supervisor);
    dynamic.terminate_child(child.id()).await.expect("stopped by its server id");
    assert_eq!(dynamic.count_children().await.expect("counted").specs, 0);
}

#[tokio::test(start_paused = true)]
async fn a_dynamic_supervisor_stops_its_children_in_parallel() {
    let log = Log::default();
    let dynamic = DynamicSupervisor::builder().start().await.expect("started");
    for name in ["s1", "s2", "s3"] {
        let log = log.clone();
        let spec = ChildSpec::new(name, move || Worker::start_link(name.into(), log.clone(), true))
            .shutdown(Shutdown::Timeout(Duration::from_secs(2)));
        dynamic.start_child(spec).await.expect("started");
    }
    log.take();
    let before = tokio::time::Instant::now();
    dynamic.stop(ExitReason::Shutdown, Duration::from_secs(60)).await.expect("stopped");
    // Three stubborn children, each killed after 2 s: 2 s in all, not 6.
    assert_eq!(before.elapsed(), Duration::from_secs(2));
    let mut entries = log.take();
    entries.sort();
    assert_eq!(entries, ["terminate s1 (shutdown)", "terminate s2 (shutdown)", "terminate s3 (shutdown)"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_for_all_keeps_its_order_on_a_multi_thread_runtime() {
    for _ in 0..20 {
        let log = Log::default();
        let supervisor = three(&log, Strategy::OneForAll).start().await.expect("started");
        log.take();
        exit_child(&supervisor, "c", crash()).await;
        assert_eq!(supervisor.count_children().await.expect("counted").active, 3);
        assert_eq!(
            log.take(),
            [
                "terminate c (error: crash)",
                "terminate b (shutdown)",
                "terminate a (shutdown)",
                "start a",
                "start b",
                "start c"
            ]
        );
        supervisor.stop(ExitReason::Shutdown, Duration::from_secs(10)).await.expect("stopped");
        assert_eq!(
            log.take(),
            ["terminate c (shutdown)", "terminate b (shutdown)", "terminate a (shutdown)"]
        );
    }
}

/// A child `id` whose every start waits for the test's word: `true` starts it, `false`
/// fails the start (logged as `fail id`).
fn gated(id: &'static str, log: &Log) -> (ChildSpec, mpsc::UnboundedSender<bool>) {
    let (open, gate) = mpsc::unbounded_channel::<bool>();
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
    gate.send(true).expect("gate open");
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
    gate.send(true).expect("gate open");
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

#[tokio::test(start_paused = true)]
async fn a_retried_one_for_all_restart_stops_and_starts_every_child_again() {
    let log = Log::default();
    let (c, gate) = gated("c", &log);
    gate.send(true).expect("gate open");
    let supervisor = Supervisor::builder()
        .strategy(Strategy::OneForAll)
        .child(worker("a", &log))
        .child(worker("b", &log))
        .child(c)
        .start()
        .await
        .expect("started");
    log.take();
    exit_child(&supervisor, "b", crash()).await;
    gate.send(false).expect("gate open");
    gate.send(true).expect("gate open");
    assert!(settled(&supervisor).await.iter().all(|child| child.process.is_some()));
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
    gate.send(true).expect("gate open");
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
    exit_child(&supervisor, "b", crash()).await;
    gate.send(false).expect("gate open");
    gate.send(true).expect("gate open");
    assert!(settled(&supervisor).await.iter().all(|child| child.process.is_some()));
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
    gate.send(true).expect("gate open");
    let supervisor = Supervisor::builder()
        .intensity(2, Duration::from_secs(5))
        .child(worker("a", &log))
        .child(flaky)
        .start()
        .await
        .expect("started");
    log.take();
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

fn significant(name: &str, restart: Restart, log: &Log) -> ChildSpec {
    worker(name, log).restart(restart).significant(true)
}

#[tokio::test(start_paused = true)]
async fn any_significant_shuts_the_supervisor_down_when_a_significant_child_exits_by_itself() {
    let log = Log::default();
    let supervisor = Supervisor::builder()
        .auto_shutdown(AutoShutdown::AnySignificant)
        .child(worker("a", &log))
        .child(significant("s", Restart::Transient, &log))
        .child(worker("b", &log))
        .start()
        .await
        .expect("started");
    log.take();
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
    let supervisor = Supervisor::builder()
        .auto_shutdown(AutoShutdown::AllSignificant)
        .child(worker("a", &log))
        .child(significant("s1", Restart::Temporary, &log))
        .child(significant("s2", Restart::Temporary, &log))
        .start()
        .await
        .expect("started");
    log.take();
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
    let supervisor = Supervisor::builder()
        .strategy(Strategy::OneForAll)
        .auto_shutdown(AutoShutdown::AnySignificant)
        .child(worker("a", &log))
        .child(significant("s", Restart::Temporary, &log))
        .child(significant("t", Restart::Transient, &log))
        .start()
        .await
        .expect("started");
    log.take();
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
        .child(worker("a", &log))
        .child(significant("p", Restart::Permanent, &log))
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

#[tokio::test(start_paused = true)]
async fn a_start_function_that_panics_is_a_start_error_not_a_supervisor_crash() {
    let log = Log::default();
    let panics_when_called =
        ChildSpec::new("boom", || -> std::future::Ready<Result<WorkerRef, ChildStartError>> {
            panic!("no config file")
        });
    let started = Supervisor::builder().child(worker("a", &log)).child(panics_when_called).start().await;
    match started.expect_err("the start fails") {
        SupervisorError::FailedToStartChild { id, reason } => {
            assert_eq!(
                (&*id, reason.to_string().as_str()),
                ("boom", "the start function panicked: no config file")
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(log.take(), ["start a", "terminate a (shutdown)"]);

    // A start whose future panics on a restart: each attempt is a failed restart, until
    // the intensity is exceeded and the supervisor exits with Shutdown, not a panic.
    let first = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let panics_on_restart = {
        let log = log.clone();
        ChildSpec::new("later", move || {
            let (first, log) = (first.swap(false, std::sync::atomic::Ordering::SeqCst), log.clone());
            async move {
                assert!(first, "the database is gone");
                Worker::start_link("later".into(), log, false).await
            }
        })
    };
    let supervisor = Supervisor::builder()
        .intensity(2, Duration::from_secs(5))
        .child(worker("a", &log))
        .child(panics_on_restart)
        .start()
        .await
        .expect("started");
    exit_child(&supervisor, "later", crash()).await;
    assert_eq!(supervisor.exited().await, ExitReason::Shutdown);
    assert_eq!(
        log.take(),
        ["start a", "start later", "terminate later (error: crash)", "terminate a (shutdown)"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_child_that_crashes_while_the_supervisor_shuts_down_is_not_restarted_and_nothing_hangs() {
    let log = Log::default();
    let stubborn = {
        let log = log.clone();
        ChildSpec::new("c", move || Worker::start_link("c".into(), log.clone(), true))
            .shutdown(Shutdown::Timeout(Duration::from_secs(2)))
    };
    let supervisor = Supervisor::builder()
        .child(worker("a", &log))
        .child(worker("b", &log))
        .child(stubborn)
        .start()
        .await
        .expect("started");
    let a = child(&supervisor, "a").await.expect("a running");
    log.take();
    // The stop request is queued first; a's crash, and its exit signal, come after it.
    let mut stopping = Box::pin(supervisor.stop(ExitReason::Shutdown, Duration::from_secs(10)));
    assert!(poll_once(&mut stopping).await.is_none());
    a.stop(crash(), Duration::from_secs(1)).await.expect("crashed");
    stopping.await.expect("the supervisor stops");
    assert_eq!(a.exit_reason(), Some(crash()));
    assert_eq!(
        log.take(),
        ["terminate a (error: crash)", "terminate c (shutdown)", "terminate b (shutdown)"]
    );
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

/// A child whose `terminate` takes `delay` before it logs.
pub struct SlowToStop {
    delay: Duration,
    log: Log,
}

#[genserver]
impl SlowToStop {
    #[terminate]
    async fn terminate(&mut self, reason: &ExitReason) {
        tokio::time::sleep(self.delay).await;
        self.log.push(format!("slow terminated ({reason})"));
    }
}

#[tokio::test(start_paused = true)]
async fn shutdown_infinity_waits_for_a_slow_terminate_without_killing() {
    let log = Log::default();
    let slow = {
        let log = log.clone();
        ChildSpec::new("slow", move || {
            SlowToStop::start_link(SlowToStop { delay: Duration::from_secs(30), log: log.clone() })
        })
        .shutdown(Shutdown::Infinity)
    };
    let supervisor = Supervisor::builder().child(slow).start().await.expect("started");
    let process = child(&supervisor, "slow").await.expect("running");
    let before = tokio::time::Instant::now();
    supervisor.stop(ExitReason::Shutdown, Duration::from_secs(60)).await.expect("stopped");
    assert_eq!(before.elapsed(), Duration::from_secs(30));
    assert_eq!(process.exit_reason(), Some(ExitReason::Shutdown));
    assert_eq!(log.take(), ["slow terminated (shutdown)"]);
}

#[tokio::test(start_paused = true)]
async fn a_dynamic_supervisor_retries_a_failed_restart_and_counts_the_child_meanwhile() {
    let log = Log::default();
    let (flaky, gate) = gated("flaky", &log);
    let dynamic = DynamicSupervisor::builder().max_children(1).start().await.expect("started");
    gate.send(true).expect("gate open");
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
