//! Tasks tied to their server (OTP: a `Task` started from a GenServer): work that runs
//! beside the server's loop, whose result comes back as a message, and which ends with
//! the server.
//!
//! [`Context::spawn_task`](crate::Context::spawn_task) runs a future in its own tokio task
//! and sends its result (or its panic) back as an info message, as
//! `Task.Supervisor.async_nolink` and a `handle_info` for its reply do;
//! [`Context::spawn_linked_task`](crate::Context::spawn_linked_task) is `Task.async`: a
//! panic in the task crashes the server; [`Context::spawn_reply`](crate::Context::spawn_reply)
//! answers a deferred call from the task. Every such task is aborted when its server
//! exits, before the exit can be observed, so no task outlives its server.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use tokio::task::AbortHandle;

use crate::mailbox::Envelope;
use crate::process::next_cleanup_token;
use crate::{ExitReason, GenServer, ServerRef};

/// A task tied to a server: aborted when the server exits, or by [`abort`](Self::abort).
/// Dropping it leaves the task running.
#[derive(Clone)]
pub struct TaskRef {
    abort: AbortHandle,
}

impl TaskRef {
    /// Stops the task at its next await point; its result, if it had none yet, is never
    /// sent.
    pub fn abort(&self) {
        self.abort.abort();
    }

    /// `true` once the task has finished, was aborted, or panicked.
    pub fn is_finished(&self) -> bool {
        self.abort.is_finished()
    }
}

impl fmt::Debug for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskRef")
            .field("id", &self.abort.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// A task of [`Context::spawn_task`](crate::Context::spawn_task) panicked; the text is the
/// panic message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskPanicked(pub Arc<str>);

impl fmt::Display for TaskPanicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the task panicked: {}", self.0)
    }
}

impl std::error::Error for TaskPanicked {}

/// Runs `task` beside `server`, and gives its result, or its panic's message, to
/// `deliver`, whose info message (if any) is queued to the server.
pub(crate) fn spawn_tied<S, F>(
    server: &ServerRef<S>,
    task: F,
    deliver: impl FnOnce(Result<F::Output, Arc<str>>) -> Option<S::Info> + Send + 'static,
) -> TaskRef
where
    S: GenServer,
    F: Future + Send + 'static,
    F::Output: Send,
{
    let token = next_cleanup_token();
    let me = server.clone();
    let join = tokio::spawn(async move {
        let outcome = crate::panic::catch_panic(task).await;
        // Done: the server's exit no longer needs to abort it.
        me.remove_cleanup(token);
        if let Some(info) = deliver(outcome) {
            // Waits for room in a bounded mailbox; dropped if the server has exited.
            let _ = me.mailbox().send(Envelope::Info(info)).await;
        }
    });
    let abort = join.abort_handle();
    let on_exit = abort.clone();
    if !server.add_cleanup(token, move |_: &ExitReason| on_exit.abort()) {
        // The server is exiting: the task must not outlive it.
        abort.abort();
    } else if join.is_finished() {
        // It finished before its cleanup was added, so its own removal found nothing.
        server.remove_cleanup(token);
    }
    TaskRef { abort }
}

/// What a linked task's panic does to its server: an exit signal with the panic as the
/// reason, which stops the server without its `terminate` (OTP: the task's crash
/// propagates over the link).
pub(crate) fn crash_server<S: GenServer>(server: &ServerRef<S>, message: Arc<str>) {
    tracing::error!(server = %server.id(), panic = %message, "a linked task panicked; its server stops");
    server.kill_with(ExitReason::Panic(message));
}
