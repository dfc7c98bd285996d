//! Shutting a supervisor down: children stopped in reverse start order, each within its
//! shutdown (a timeout then a kill, brutal kill, infinity), a dynamic supervisor's in
//! parallel, on a stop or when the parent exits, and a child crashing meanwhile.
//!
//! Every wait is on an event (an exit, a reply); no test sleeps. A child's exit signal is
//! queued at the supervisor before `exited()` returns, so a call made after that is
//! answered once the supervisor has handled the exit.

mod common;
use common::Log;
use common::poll::poll_once;
use common::supervision::{Worker, child, crash, start_then_clear_log, three, worker};

use genserver_runtime::DynamicSupervisor;
use genserver_runtime::prelude::*;

/// A worker `name` whose `terminate` never returns, with 2 s to stop before it is killed.
fn stubborn(name: &str, log: &Log) -> ChildSpec {
    let (name, log) = (name.to_string(), log.clone());
    ChildSpec::new(name.clone(), move || Worker::start_link(name.clone(), log.clone(), true))
        .shutdown(Shutdown::Timeout(Duration::from_secs(2)))
}

#[tokio::test(start_paused = true)]
async fn stopping_the_supervisor_stops_children_in_reverse_start_order() {
    let log = Log::default();
    let supervisor = start_then_clear_log(three(&log, Strategy::OneForOne), &log).await;
    supervisor.stop(ExitReason::Shutdown, Duration::from_secs(10)).await.expect("stopped");
    assert_eq!(log.take(), ["terminate c (shutdown)", "terminate b (shutdown)", "terminate a (shutdown)"]);
}

#[tokio::test(start_paused = true)]
async fn a_child_that_ignores_shutdown_is_killed_after_its_timeout() {
    let log = Log::default();
    let stubborn = stubborn("stubborn", &log);
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
async fn a_dynamic_supervisor_stops_its_children_in_parallel() {
    let log = Log::default();
    let dynamic = DynamicSupervisor::builder().start().await.expect("started");
    for name in ["s1", "s2", "s3"] {
        dynamic.start_child(stubborn(name, &log)).await.expect("started");
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
async fn a_child_that_crashes_while_the_supervisor_shuts_down_is_not_restarted_and_nothing_hangs() {
    let log = Log::default();
    let stubborn = stubborn("c", &log);
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
