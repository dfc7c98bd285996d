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

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::task::AbortHandle;

use crate::mailbox::{Envelope, Queue, SendError};
use crate::{ExitReason, GenServer, ServerId, StopError, registry};

thread_local! {
    /// The server being polled on this thread, if any: lent by [`AsServer`] for each
    /// poll of a server's future.
    static CURRENT: Cell<Option<Weak<dyn Control>>> = const { Cell::new(None) };
}

pin_project_lite::pin_project! {
    /// A future that runs as a server: while it is polled, the calling-self checks and
    /// `start_link` see that server as the current one.
    ///
    /// What tokio's `task_local!` would do, in fewer bytes per server and less work per
    /// poll: the identity is moved into the thread-local for the poll and back after it.
    pub(crate) struct AsServer<F> {
        me: Option<Weak<dyn Control>>,
        #[pin]
        future: F,
    }
}

/// Runs `future` as the server whose process is `me`.
pub(crate) fn as_server<F: Future>(me: Weak<dyn Control>, future: F) -> AsServer<F> {
    AsServer { me: Some(me), future }
}

impl<F: Future> Future for AsServer<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let mut future = this.future;
        // The poll runs inside the thread-local's access, so that the identity is lent and
        // taken back through one lookup.
        let lent = CURRENT.try_with(|current| {
            let outer = current.replace(this.me.take());
            // Restored even if the poll panics, so that no other task inherits the identity.
            let _restore = Restore { current, me: &mut *this.me, outer };
            future.as_mut().poll(cx)
        });
        // Fails only while the thread is exiting: then the future runs without an identity.
        lent.unwrap_or_else(|_| future.poll(cx))
    }
}

/// Puts the outer identity back after a poll, and this server's back into its future.
struct Restore<'a> {
    current: &'a Cell<Option<Weak<dyn Control>>>,
    me: &'a mut Option<Weak<dyn Control>>,
    outer: Option<Weak<dyn Control>>,
}

impl Drop for Restore<'_> {
    #[inline]
    fn drop(&mut self) {
        *self.me = self.current.replace(self.outer.take());
    }
}

/// Reads the current server's identity without taking it; `R::default()` while the
/// thread is exiting.
fn with_current<R: Default>(read: impl FnOnce(Option<&Weak<dyn Control>>) -> R) -> R {
    CURRENT
        .try_with(|current| {
            let me = current.take();
            let result = read(me.as_ref());
            current.set(me);
            result
        })
        .unwrap_or_default()
}

/// `true` when this code runs in the task of the server whose process is `process`.
pub(crate) fn is_current(process: &Process) -> bool {
    with_current(|me| me.is_some_and(|me| Weak::ptr_eq(me, &process.control)))
}

/// The server whose task is running this code, if any.
pub(crate) fn current_server() -> Option<ServerId> {
    current_process().map(|process| process.process().id())
}

/// The process of the server whose task is running this code, if any.
pub(crate) fn current_process() -> Option<Arc<dyn Control>> {
    with_current(|me| me.and_then(Weak::upgrade))
}

/// One tie between this server and another party, kept in [`Process`]'s one list.
pub(crate) enum Tie {
    /// Someone monitors this server: gets a DOWN when it exits.
    Watcher(crate::monitor::Watcher),
    /// This server monitors another: the monitor is removed when this server exits.
    Watching(crate::monitor::Watching),
    /// A link with another server: each gets the other's exit signal.
    Link(crate::link::Link),
    /// This server traps exits: how an exit signal becomes its info message.
    Trap(crate::link::Trap),
    /// Runs as the server exits: removes a registry entry or a group membership, named
    /// by its token.
    Cleanup(u64, Box<dyn FnOnce() + Send>),
    /// The server is being killed: the reason its exit publishes once its task is
    /// dropped. Kept here rather than in a field because few servers are ever killed.
    Kill(ExitReason),
    /// A task waiting in [`Process::exited`], named by its token: woken last when the
    /// server exits. Kept here rather than in a `Notify` field (32 bytes in every server)
    /// because most servers are never waited for.
    ExitWaiter(u64, Waker),
}

/// Runs `f`, a closure of the user's that the runtime calls while a server's exit is
/// announced or a registration changes: a monitor's or a trap's closure, a registry
/// listener. A panic in it is logged and goes no further, dropping only what `f` was to
/// deliver: the exit must still be announced in full (its DOWNs, exit signals and
/// waiters), and a registration must complete.
pub(crate) fn contain_panic(what: &'static str, f: impl FnOnce()) {
    if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        let message = crate::run::panic_message(payload.as_ref());
        tracing::error!(panic = %message, "{what} panicked; what it was to deliver is dropped");
    }
}

/// A fresh token naming a [`Tie::Cleanup`] or a [`Tie::ExitWaiter`], so that its owner
/// can remove it again.
pub(crate) fn next_cleanup_token() -> u64 {
    static TOKENS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    TOKENS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// What a server's handles share: the untyped [`Process`] and the typed mailbox.
pub(crate) struct Shared<S: GenServer> {
    pub(crate) process: Process,
    pub(crate) mailbox: Queue<S>,
}

impl<S: GenServer> Shared<S> {
    pub(crate) fn new(id: ServerId, name: Option<Arc<str>>, mailbox: Queue<S>) -> Arc<Self> {
        Arc::new_cyclic(|this: &Weak<Shared<S>>| {
            let control: Weak<dyn Control> = this.clone();
            Shared { process: Process::new(id, name, control), mailbox }
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
}

/// A running server without its type (OTP: a process): its identity, whether and why it
/// exited, and the means to stop or kill it.
///
/// Every handle dereferences to its server's `Process`.
pub struct Process {
    id: ServerId,
    name: Option<Arc<str>>,
    exit: OnceLock<ExitReason>,
    task: OnceLock<AbortHandle>,
    /// Monitors, links, the trap, a pending kill's reason and the tasks waiting for the
    /// exit: empty, and unallocated, for most servers.
    ties: Mutex<Vec<Tie>>,
    control: Weak<dyn Control>,
}

impl Process {
    fn new(id: ServerId, name: Option<Arc<str>>, control: Weak<dyn Control>) -> Self {
        Process {
            id,
            name,
            exit: OnceLock::new(),
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

    /// `true` until the server has exited.
    pub fn is_alive(&self) -> bool {
        self.exit.get().is_none()
    }

    /// Why the server exited, once it has.
    pub fn exit_reason(&self) -> Option<ExitReason> {
        self.exit.get().cloned()
    }

    /// Waits until the server has exited and returns why. Returns at once for a server
    /// that has already exited.
    pub async fn exited(&self) -> ExitReason {
        ExitWait { process: self, token: None }.await
    }

    /// Asks the server to stop with `reason` and waits up to `timeout` for it to exit
    /// (OTP: `GenServer.stop/3`). The request is queued behind earlier messages; the
    /// server's `terminate` runs. On timeout the server is left running, and stops once
    /// it reaches the request.
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
                crate::timer::ready_within_turns(std::pin::pin!(std::future::poll_fn(|_| {
                    self.exit.get().map_or(Poll::Pending, |exit| Poll::Ready(exit.clone()))
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
            let deadline = crate::timer::deadline_after(tokio::time::Instant::now(), timeout);
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

    /// Publishes the exit: frees the name, sets the reason, removes its registry entries
    /// and group memberships, sends the DOWNs of its monitors and the exit signals of its
    /// links, then wakes its waiters. Anyone who observes the exit therefore finds the
    /// name, entries and memberships gone, every reply the server sent has gone out
    /// before its DOWN, and an awaited `exited()` returns after the DOWNs went out.
    pub(crate) fn finish(&self, reason: ExitReason) {
        if let Some(name) = &self.name {
            registry::unregister(name, self.id);
        }
        if self.exit.set(reason).is_ok() {
            // Once the reason is set no tie can be added (see `add_tie`), so this list is
            // the last one.
            let mut ties = std::mem::take(&mut *self.ties());
            // The cleanups first, whenever they were added: a monitor or a link made
            // before a registration must not announce the exit while the entry is still
            // there. Then the DOWNs and exit signals; last, the tasks waiting for the exit,
            // which find them sent. A stable sort keeps each group in the order it came.
            ties.sort_by_key(|tie| match tie {
                Tie::Cleanup(..) => 0,
                Tie::ExitWaiter(..) => 2,
                _ => 1,
            });
            let reason = self.exit.get().expect("just set");
            for tie in ties {
                match tie {
                    Tie::Cleanup(_, cleanup) => cleanup(),
                    Tie::Watcher(watcher) => {
                        contain_panic("a monitor's closure", || watcher.fire(self.id, reason.clone()));
                    }
                    Tie::Watching(watching) => watching.cancel(),
                    Tie::Link(link) => contain_panic("a trap_exits closure", || link.signal(self.id, reason)),
                    Tie::ExitWaiter(_, waiter) => waiter.wake(),
                    Tie::Trap(_) | Tie::Kill(_) => {}
                }
            }
        }
    }

    pub(crate) fn control(&self) -> &Weak<dyn Control> {
        &self.control
    }

    pub(crate) fn ties(&self) -> std::sync::MutexGuard<'_, Vec<Tie>> {
        // No code panics while holding the lock; a poisoned lock is still consistent.
        self.ties.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `tie` unless an equal one (`same`) is there already, or gives it back if the
    /// server has exited. The check is made under the lock that `finish` takes after
    /// setting the reason, so a tie is either added before the exit and fired by it, or
    /// refused.
    pub(crate) fn add_tie(&self, tie: Tie, same: impl Fn(&Tie) -> bool) -> Result<(), Tie> {
        let mut ties = self.ties();
        if self.exit.get().is_some() {
            return Err(tie);
        }
        if !ties.iter().any(same) {
            ties.push(tie);
        }
        Ok(())
    }

    /// Runs `cleanup` as the server exits, before the exit is announced (removing a
    /// registry entry or a group membership). `token` names it for
    /// [`remove_cleanup`](Self::remove_cleanup). `false`, with `cleanup` dropped unrun, if
    /// the server has exited.
    pub(crate) fn add_cleanup(&self, token: u64, cleanup: impl FnOnce() + Send + 'static) -> bool {
        self.add_tie(Tie::Cleanup(token, Box::new(cleanup)), |_| false).is_ok()
    }

    /// Removes the cleanup `token`, which will not run.
    pub(crate) fn remove_cleanup(&self, token: u64) {
        drop(self.remove_tie(|tie| matches!(tie, Tie::Cleanup(tie_token, _) if *tie_token == token)));
    }

    /// Removes and returns the first tie that matches. It is dropped by the caller, after
    /// the lock is released.
    pub(crate) fn remove_tie(&self, matches: impl Fn(&Tie) -> bool) -> Option<Tie> {
        let mut ties = self.ties();
        let position = ties.iter().position(matches)?;
        Some(ties.swap_remove(position))
    }
}

/// The future of [`Process::exited`]: while it waits, its waker is a tie of the process,
/// which `finish` wakes; dropped early, it removes that tie.
struct ExitWait<'a> {
    process: &'a Process,
    /// Names this waiter's tie once it is registered.
    token: Option<u64>,
}

impl Future for ExitWait<'_> {
    type Output = ExitReason;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<ExitReason> {
        if let Some(reason) = self.process.exit.get() {
            return Poll::Ready(reason.clone());
        }
        let mut ties = self.process.ties();
        // `finish` sets the reason before it takes the list under this lock: a reason
        // still unset here means this waiter is in the list that `finish` will wake.
        if let Some(reason) = self.process.exit.get() {
            return Poll::Ready(reason.clone());
        }
        let registered = self.token.and_then(|token| {
            ties.iter_mut().find_map(|tie| match tie {
                Tie::ExitWaiter(waiter, waker) if *waiter == token => Some(waker),
                _ => None,
            })
        });
        match registered {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            Some(waker) => *waker = cx.waker().clone(),
            None => {
                let token = next_cleanup_token();
                ties.push(Tie::ExitWaiter(token, cx.waker().clone()));
                drop(ties);
                self.token = Some(token);
            }
        }
        Poll::Pending
    }
}

impl Drop for ExitWait<'_> {
    fn drop(&mut self) {
        // After the exit, `finish` has taken (or is taking) the list with this waiter.
        if let Some(token) = self.token.filter(|_| self.process.is_alive()) {
            let removed =
                self.process.remove_tie(|tie| matches!(tie, Tie::ExitWaiter(waiter, _) if *waiter == token));
            drop(removed);
        }
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

impl ProcessRef {
    /// The typed handle of this server, if it is an `S`.
    pub(crate) fn typed<S: GenServer>(&self) -> Option<crate::ServerRef<S>> {
        let shared = self.0.clone().into_any().downcast::<Shared<S>>().ok()?;
        Some(crate::ServerRef { shared })
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
