//! The child API of supervisors: starting the children (failures, duplicate ids, a
//! panicking start function, generated specs and their ids), which_children,
//! count_children, start/terminate/restart/delete_child and their errors, and dynamic
//! supervisors (children started at run time, a maximum, the by-id calls refused).
//!
//! Every wait is on an event (an exit, a reply); no test sleeps. A child's exit signal is
//! queued at the supervisor before `exited()` returns, so a call made after that is
//! answered once the supervisor has handled the exit.

use std::sync::Arc;

mod common;
use common::Log;
use common::supervision::{Worker, WorkerRef, a_then, child, crash, exit_child, failing, worker};

use genserver_runtime::prelude::*;
use genserver_runtime::{ChildCounts, ChildStartError, ChildType, DynamicSupervisor, DynamicSupervisorRef};

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
    assert_eq!(error.to_string(), "failed to start child \"db\"");
    let cause = std::error::Error::source(&error).map(ToString::to_string);
    assert_eq!(cause.as_deref(), Some("no database"), "the reason is the error's source");
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
    let supervisor = a_then(panics_on_restart, 2, &log).start().await.expect("started");
    exit_child(&supervisor, "later", crash()).await;
    assert_eq!(supervisor.exited().await, ExitReason::Shutdown);
    assert_eq!(
        log.take(),
        ["start a", "start later", "terminate later (error: crash)", "terminate a (shutdown)"]
    );
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
