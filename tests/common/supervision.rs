//! The child of the supervisor tests and the ways to make and reach one: a [`Worker`]
//! that logs its starts and terminates and exits when told, its [`worker`] spec, a spec
//! that fails to start, and the lookups and exits the tests drive a supervisor with.

use genserver_runtime::prelude::*;
use genserver_runtime::{ChildStartError, SupervisorBuilder};

use super::Log;

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
    pub fn exit_with(&mut self, reason: ExitReason) -> NoReply {
        NoReply::stop(reason)
    }

    /// Its name.
    #[call]
    pub fn label(&self) -> String {
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

/// The spec of a [`Worker`] whose id and name are `name`.
pub fn worker(name: &str, log: &Log) -> ChildSpec {
    let (name, log) = (name.to_string(), log.clone());
    ChildSpec::new(name.clone(), move || Worker::start_link(name.clone(), log.clone(), false))
}

/// A child `id` whose every start fails with "no database".
pub fn failing(id: &str) -> ChildSpec {
    ChildSpec::new(id, || async { Err::<WorkerRef, _>(ChildStartError::failed("no database")) })
}

/// The running child `id`, as a typed handle found by its process id.
pub async fn child(supervisor: &SupervisorRef, id: &str) -> Option<ProcessRef> {
    let children = supervisor.which_children().await.expect("which_children");
    children.into_iter().find(|child| &*child.id == id).and_then(|child| child.process)
}

/// Makes the child `id` exit with `reason` (its `terminate` runs) and returns it once it
/// has exited; the supervisor has the exit signal queued by then.
pub async fn exit_child(supervisor: &SupervisorRef, id: &str, reason: ExitReason) -> ProcessRef {
    let process = child(supervisor, id).await.expect("child running");
    process.stop(reason, Duration::from_secs(1)).await.expect("stopped with the reason asked");
    process
}

/// The error every crash in these tests exits with.
pub fn crash() -> ExitReason {
    ExitReason::error("crash")
}

/// A supervisor with the `strategy` and three workers, `a`, `b` and `c`, in that order.
pub fn three(log: &Log, strategy: Strategy) -> SupervisorBuilder {
    Supervisor::builder()
        .strategy(strategy)
        .child(worker("a", log))
        .child(worker("b", log))
        .child(worker("c", log))
}

/// Starts `builder`'s supervisor and clears the log of its children's starts, for a test
/// that asserts only what happens next.
pub async fn start_then_clear_log(builder: SupervisorBuilder, log: &Log) -> SupervisorRef {
    let supervisor = builder.start().await.expect("started");
    log.take();
    supervisor
}

/// A supervisor of the worker `a`, then `second`, that allows `restarts` restarts in 5 s.
pub fn a_then(second: ChildSpec, restarts: u32, log: &Log) -> SupervisorBuilder {
    Supervisor::builder().intensity(restarts, Duration::from_secs(5)).child(worker("a", log)).child(second)
}
