//! A running server seen without its type: [`Process`], what OTP calls a process.
//!
//! Every server has one `Process`, shared by all its handles: its id and name, whether
//! and why it exited, and the means to stop or kill it. Any handle dereferences to it, so
//! `handle.id()`, `handle.is_alive()`, `handle.stop(reason, timeout)` and `handle.kill()`
//! work on every client handle without naming the server's type.
//!
//! A server's shared allocation is a [`Shared<S>`]: its `Process` and its mailbox's
//! sending side. The process reaches the typed mailbox (to queue a stop) through the
//! [`Control`] trait object, so untyped code can stop any server.
//!
//! The process keeps one list of ties to other parties and announces its exit to all of
//! them ([`ties`]); the other submodules hold what a monitor and a link do ([`monitor`],
//! [`link`](mod@link)), the ids of servers and monitors ([`ids`]), and which server is
//! running on this thread ([`identity`]).

mod identity;
mod ids;
mod link;
mod monitor;
mod ties;

pub(crate) use identity::{as_server, current_process, current_server, is_current};
pub use ids::{MonitorRef, ServerId};
pub use link::Exit;
pub(crate) use link::link;
pub use monitor::{Down, Monitor};
pub(crate) use ties::{Tie, next_cleanup_token};

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::task::Poll;
use std::time::Duration;

use tokio::task::AbortHandle;

use crate::mailbox::{Envelope, Queue, SendError};
use crate::{ExitReason, GenServer, StopError};

/// What a server's handles share: the untyped [`Process`] and the typed mailbox.
pub(crate) struct Shared<S: GenServer> {
    pub(crate) process: Process,
    pub(crate) mailbox: Queue<S>,
}

impl<S: GenServer> Shared<S> {
    pub(crate) fn new(
        id: ServerId,
        name: Option<Arc<str>>,
        parent: Option<ServerId>,
        mailbox: Queue<S>,
    ) -> Arc<Self> {
        Arc::new_cyclic(|this: &Weak<Shared<S>>| {
            let control: Weak<dyn Control> = this.clone();
            Shared { process: Process::new(id, name, parent, control), mailbox }
        })
    }
}

/// What untyped code can ask of a server's typed side.
pub(crate) trait Control: Send + Sync + 'static {
    fn process(&self) -> &Process;

    /// The shared allocation as `Any`, to get the typed handle back.
    fn into_any(self: Arc<Self>) -> Arc<dyn std::any::Any + Send + Sync>;

    /// Queues a stop request behind the messages already in the mailbox, without waiting.
    fn try_send_stop(&self, reason: ExitReason) -> Result<(), SendError>;

    /// Queues a stop request behind the messages already in the mailbox, waiting for room
    /// in a bounded one.
    fn send_stop(
        &self,
        reason: ExitReason,
    ) -> Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + '_>>;

    /// Queues a system request ([`sys`](crate::sys)) past any bound; dropped once the
    /// mailbox is closed.
    fn push_system(&self, op: crate::sys::Op);

    /// The server's type, without module paths.
    fn server_type(&self) -> String;

    /// The mailbox's length and peak.
    fn mailbox_counts(&self) -> crate::mailbox::Counts;
}

impl<S: GenServer> Control for Shared<S> {
    fn process(&self) -> &Process {
        &self.process
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn std::any::Any + Send + Sync> {
        self
    }

    fn try_send_stop(&self, reason: ExitReason) -> Result<(), SendError> {
        self.mailbox.try_send(Envelope::Stop(reason))
    }

    fn send_stop(
        &self,
        reason: ExitReason,
    ) -> Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + '_>> {
        Box::pin(self.mailbox.send(Envelope::Stop(reason)))
    }

    fn push_system(&self, op: crate::sys::Op) {
        self.mailbox.push_signal(Envelope::System(Box::new(crate::sys::System::Op(op))));
    }

    fn server_type(&self) -> String {
        crate::type_name::short_type_name::<S>()
    }

    fn mailbox_counts(&self) -> crate::mailbox::Counts {
        self.mailbox.counts()
    }
}

/// A running server without its type (OTP: a process): its identity, whether and why it
/// exited, and the means to stop or kill it.
///
/// Every handle dereferences to its server's `Process`.
pub struct Process {
    id: ServerId,
    name: Option<Arc<str>>,
    /// The server that started it, if a server did (OTP: the parent).
    parent: Option<ServerId>,
    /// Why the server exited: set once its cleanups have run, so that a server seen
    /// exited has left its names, registry entries and groups.
    exit: OnceLock<ExitReason>,
    /// How far the exit is announced (see [`ties::Phase`]).
    phase: ties::Phase,
    task: OnceLock<AbortHandle>,
    /// Monitors, links, the trap, a pending kill's reason and the tasks waiting for the
    /// exit: empty, and unallocated, for most servers.
    ties: Mutex<Vec<Tie>>,
    control: Weak<dyn Control>,
}

impl Process {
    fn new(
        id: ServerId,
        name: Option<Arc<str>>,
        parent: Option<ServerId>,
        control: Weak<dyn Control>,
    ) -> Self {
        Process {
            id,
            name,
            parent,
            exit: OnceLock::new(),
            phase: ties::Phase::new(),
            task: OnceLock::new(),
            ties: Mutex::new(Vec::new()),
            control,
        }
    }

    /// The server's id.
    pub fn id(&self) -> ServerId {
        self.id
    }

    /// The name the server was started under, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The server that started this one (its supervisor, or the server that called
    /// `start_link` or `start`), if a server did (OTP: the parent).
    pub fn parent(&self) -> Option<ServerId> {
        self.parent
    }

    /// `true` until the server has exited. Once it is `false`, the server's name, registry
    /// entries and group memberships are gone.
    pub fn is_alive(&self) -> bool {
        self.exit.get().is_none()
    }

    /// Why the server exited, once it has.
    pub fn exit_reason(&self) -> Option<ExitReason> {
        self.exit.get().cloned()
    }

    /// Waits until the server has exited and returns why. Returns at once for a server
    /// that has already exited. When it returns, the exit's effects are all done: the
    /// name, registry entries and group memberships are gone, and every monitor's DOWN
    /// and every link's exit signal has been queued.
    pub async fn exited(&self) -> ExitReason {
        ties::ExitWait::new(self).await
    }

    /// Asks the server to stop with `reason` and waits up to `timeout` for it to exit
    /// (OTP: `GenServer.stop/3`). The request is queued behind earlier messages; the
    /// server's `terminate` runs. It returns once the exit's effects are done, as
    /// [`exited`](Self::exited) does. On timeout the server is left running, and stops
    /// once it reaches the request.
    pub async fn stop(&self, reason: ExitReason, timeout: Duration) -> Result<(), StopError> {
        if is_current(self) {
            return Err(StopError::CallingSelf);
        }
        let control = match self.control.upgrade() {
            Some(control) if self.is_alive() => control,
            _ => return Err(StopError::NoServer),
        };
        // Once the request is queued, or the mailbox closed while it waited for room (the
        // server exited meanwhile), the exit reason says how the stop went.
        let sent = control.try_send_stop(reason.clone());
        // A server with nothing queued stops within a few turns of the scheduler: look
        // for its exit at each of those turns, and only then register to be woken by it
        // and arm the deadline's timer, which cost more than a quick stop. (Unlike a call,
        // a stop that woke the server does not yield first: measured, its late wake-up
        // cost more than the turns it saves.)
        let quick = match sent {
            Err(SendError::Full) => None,
            _ => {
                crate::wait::ready_within_turns(std::pin::pin!(std::future::poll_fn(|_| {
                    self.announced_exit().map_or(Poll::Pending, Poll::Ready)
                })))
                .await
            }
        };
        let exit = match quick {
            Some(exit) => exit,
            // Boxed, so that the quick path's code stays small: see `stop_slowly`.
            None => match self.stop_slowly(control, &reason, sent, timeout).await {
                Some(exit) => exit,
                None => return Err(StopError::Timeout(timeout)),
            },
        };
        if exit == reason { Ok(()) } else { Err(StopError::ExitedWith(exit)) }
    }

    /// The rest of a stop whose server did not exit within the quick path's turns: waits
    /// for room in a full bounded mailbox, then for the exit, within one deadline; `None`
    /// if the deadline passed. Boxed as a trait object, so that its timer and waiting code
    /// are not compiled into every stop's future: the quick stop runs through less code.
    fn stop_slowly<'a>(
        &'a self,
        control: Arc<dyn Control>,
        reason: &'a ExitReason,
        sent: Result<(), SendError>,
        timeout: Duration,
    ) -> Pin<Box<dyn Future<Output = Option<ExitReason>> + Send + 'a>> {
        Box::pin(async move {
            // One deadline for the rest of the stop, room and exit alike. It leaves out
            // the quick path's turns (a few microseconds), so a quick stop never reads
            // the clock.
            let deadline = crate::wait::deadline_after(tokio::time::Instant::now(), timeout);
            let stopped = async {
                if let Err(SendError::Full) = sent {
                    let _ = control.send_stop(reason.clone()).await;
                }
                self.exited().await
            };
            tokio::time::timeout_at(deadline, stopped).await.ok()
        })
    }

    /// Stops the server at once with [`ExitReason::Killed`]: its `terminate` does not run
    /// and queued messages are dropped (OTP: `Process.exit(pid, :kill)`). The server stops
    /// at its next await point; a handler that never awaits runs to its end first.
    /// The server cannot trap it; its monitors get a DOWN and its links an exit signal
    /// with `Killed`.
    pub fn kill(&self) {
        self.kill_with(ExitReason::Killed);
    }

    /// Stops the task at its next await point; it exits with `reason` and without
    /// running `terminate`.
    pub(crate) fn kill_with(&self, reason: ExitReason) {
        if self.exit.get().is_some() {
            return;
        }
        // The first kill's reason stays; refused only if the server has just exited.
        let _ = self.add_tie(Tie::Kill(reason), |tie| matches!(tie, Tie::Kill(_)));
        if let Some(task) = self.task.get() {
            task.abort();
        }
    }

    pub(crate) fn set_task(&self, task: AbortHandle) {
        let _ = self.task.set(task);
        // A kill that came before the task was known (during an `init` run by the
        // starting task) could not abort it: abort it now.
        if self.ties().iter().any(|tie| matches!(tie, Tie::Kill(_))) {
            if let Some(task) = self.task.get() {
                task.abort();
            }
        }
    }

    pub(crate) fn take_kill_reason(&self) -> Option<ExitReason> {
        match self.remove_tie(|tie| matches!(tie, Tie::Kill(_)))? {
            Tie::Kill(reason) => Some(reason),
            _ => unreachable!("only a kill tie matches"),
        }
    }

    pub(crate) fn control(&self) -> &Weak<dyn Control> {
        &self.control
    }
}

/// An owned, untyped handle to a running server: what a supervisor keeps of each child.
///
/// Get one from any handle with [`Process::to_ref`]; it dereferences to the [`Process`]
/// (`id`, `is_alive`, `exited`, `stop`, `kill`, `monitor`). Two are equal when they
/// designate the same server.
#[derive(Clone)]
pub struct ProcessRef(Arc<dyn Control>);

impl std::ops::Deref for ProcessRef {
    type Target = Process;

    fn deref(&self) -> &Process {
        self.0.process()
    }
}

impl PartialEq for ProcessRef {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id()
    }
}

impl Eq for ProcessRef {}

impl fmt::Debug for ProcessRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0.process(), f)
    }
}

/// Serialized as the server's id: a handle means nothing outside this program.
#[cfg(feature = "serde")]
impl serde::Serialize for ProcessRef {
    fn serialize<Ser: serde::Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        self.id().serialize(serializer)
    }
}

impl ProcessRef {
    /// The typed handle of this server, if it is an `S`.
    pub(crate) fn typed<S: GenServer>(&self) -> Option<crate::ServerRef<S>> {
        let shared = self.0.clone().into_any().downcast::<Shared<S>>().ok()?;
        Some(crate::ServerRef::from_shared(shared))
    }

    /// The server's typed client handle, if it is a server of type `S`; `None` if it is
    /// of another type. The way back from an untyped handle (a supervisor's child, a
    /// Registry entry) to one that can be called. Checked: it never guesses.
    ///
    /// ```
    /// use genserver_runtime::prelude::*;
    ///
    /// pub struct Counter(u64);
    ///
    /// #[genserver]
    /// impl Counter {
    ///     #[call]
    ///     fn get(&self) -> u64 {
    ///         self.0
    ///     }
    /// }
    ///
    /// pub struct Other;
    ///
    /// #[genserver]
    /// impl Other {}
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let untyped: ProcessRef = Counter::start(Counter(7)).await?.to_ref();
    /// assert!(untyped.downcast::<Other>().is_none());
    /// let counter: CounterRef = untyped.downcast::<Counter>().expect("a Counter");
    /// assert_eq!(counter.get().await?, 7);
    /// # Ok(())
    /// # }
    /// ```
    pub fn downcast<S: GenServer>(&self) -> Option<S::Ref> {
        self.typed::<S>().map(S::Ref::from)
    }
}

impl Process {
    /// An owned untyped handle to this server, which keeps nothing of its type.
    pub fn to_ref(&self) -> ProcessRef {
        // A `Process` lives inside its server's shared allocation, which is alive while
        // anyone borrows the `Process`.
        ProcessRef(self.control.upgrade().expect("a borrowed Process's allocation is alive"))
    }
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Process");
        out.field("id", &self.id);
        if let Some(name) = &self.name {
            out.field("name", name);
        }
        out.field("alive", &self.is_alive()).finish()
    }
}
