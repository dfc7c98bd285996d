//! Monitors: being told once when a server exits, and why (OTP: `monitor/2`,
//! `demonitor/1` and the `'DOWN'` message).
//!
//! A monitor is one-way and stackable: each one gets its own [`MonitorRef`] and its own
//! [`Down`]. Any code holding a handle can monitor a server with
//! [`Process::monitor`], which returns a [`Monitor`] to await; a server monitors with
//! [`Context::monitor`], which delivers the DOWN as one of its info messages.
//!
//! The monitored server keeps its watchers in its [`Process`]'s list of ties and fires
//! them all, once, from `finish`: after its exit reason is set and after every reply it
//! sent, so a caller sees the reply before the DOWN. A monitor removed before that (a
//! demonitor, a dropped [`Monitor`], an exited watching server) takes its entry out of
//! the list, so nothing is left behind.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::Poll;

use tokio::sync::oneshot;

use super::{Control, MonitorRef, Tie};
use crate::mailbox::Envelope;
use crate::{Context, ExitReason, GenServer, Process, ServerId};

/// A monitored server exited (OTP: `{:DOWN, ref, :process, pid, reason}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Down {
    /// The monitor that fired.
    pub id: MonitorRef,
    /// The server that exited.
    pub server: ServerId,
    /// Why it exited; [`ExitReason::NoProc`] if it had already exited when the monitor
    /// was set up.
    pub reason: ExitReason,
}

/// A monitor set up by [`Process::monitor`]: a future that resolves to the [`Down`] of
/// the monitored server once it exits (at once if it already had, with
/// [`ExitReason::NoProc`]).
///
/// Dropping it, or calling [`demonitor`](Self::demonitor), removes the monitor.
#[must_use = "a monitor is removed when dropped; await it to learn of the exit"]
pub struct Monitor {
    id: MonitorRef,
    server: ServerId,
    target: Weak<dyn Control>,
    down: oneshot::Receiver<Down>,
    /// The DOWN has been returned: nothing is left to remove.
    done: bool,
}

impl Monitor {
    /// This monitor's reference; the [`Down`] carries the same.
    pub fn id(&self) -> MonitorRef {
        self.id
    }

    /// The monitored server.
    pub fn server(&self) -> ServerId {
        self.server
    }

    /// Removes the monitor (OTP: `demonitor(ref, [:flush])`): its DOWN is never delivered,
    /// even if the server exits at this moment. The same as dropping it.
    pub fn demonitor(self) {
        drop(self);
    }
}

impl Future for Monitor {
    type Output = Down;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Down> {
        let this = &mut *self;
        let down = match Pin::new(&mut this.down).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(down)) => down,
            // The server's state was dropped without publishing an exit (its task never
            // ran, the runtime shut down first): it is not there.
            Poll::Ready(Err(_)) => Down {
                id: this.id,
                server: this.server,
                reason: this
                    .target
                    .upgrade()
                    .and_then(|target| target.process().exit_reason())
                    .unwrap_or(ExitReason::NoProc),
            },
        };
        this.done = true;
        Poll::Ready(down)
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        if !self.done {
            drop(remove_watcher(&self.target, self.id));
        }
    }
}

impl fmt::Debug for Monitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Monitor").field("id", &self.id).field("server", &self.server).finish()
    }
}

/// A monitor in the monitored server's list: how to deliver its DOWN.
pub(crate) struct Watcher {
    id: MonitorRef,
    notify: Notify,
}

enum Notify {
    /// A [`Monitor`] awaits it.
    Task(oneshot::Sender<Down>),
    /// A server's [`Context::monitor`]: queues the DOWN as its info message.
    Server(Box<dyn FnOnce(Down) + Send>),
}

impl Watcher {
    /// Delivers the DOWN.
    pub(crate) fn fire(self, server: ServerId, reason: ExitReason) {
        let down = Down { id: self.id, server, reason };
        match self.notify {
            Notify::Task(sender) => {
                let _ = sender.send(down);
            }
            Notify::Server(deliver) => deliver(down),
        }
    }
}

/// A monitor in the watching server's list, so that it is removed when that server exits
/// and so that a DOWN is handled only while the monitor is in place.
pub(crate) struct Watching {
    id: MonitorRef,
    target: Weak<dyn Control>,
}

impl Watching {
    /// The monitor's reference.
    pub(crate) fn id(&self) -> MonitorRef {
        self.id
    }

    /// The monitored server, if it is still allocated.
    pub(crate) fn target(&self) -> Option<ServerId> {
        self.target.upgrade().map(|target| target.process().id())
    }

    /// Removes the monitor from the monitored server.
    pub(crate) fn cancel(self) {
        drop(remove_watcher(&self.target, self.id));
    }
}

fn remove_watcher(target: &Weak<dyn Control>, id: MonitorRef) -> Option<Tie> {
    let target = target.upgrade()?;
    target.process().remove_tie(|tie| matches!(tie, Tie::Watcher(watcher) if watcher.id == id))
}

/// Adds `watcher` to `target`, or fires it at once with `NoProc` if `target` has exited.
fn watch(target: &Process, watcher: Watcher) {
    if let Err(Tie::Watcher(watcher)) = target.add_tie(Tie::Watcher(watcher), |_| false) {
        watcher.fire(target.id(), ExitReason::NoProc);
    }
}

impl Process {
    /// Monitors the server (OTP: `Process.monitor/1`): the returned [`Monitor`] resolves
    /// to its [`Down`] once it exits, with the exit reason. For a server that has already
    /// exited it resolves at once, with [`ExitReason::NoProc`]. A reply the server sent
    /// before exiting is always received before its DOWN.
    ///
    /// Any code holding a handle can monitor; a server that wants the DOWN as an info
    /// message uses [`Context::monitor`] instead.
    ///
    /// ```
    /// use genserver_runtime::prelude::*;
    ///
    /// pub struct Worker;
    ///
    /// #[genserver]
    /// impl Worker {
    ///     #[cast]
    ///     fn crash(&mut self) {
    ///         panic!("out of coffee");
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let worker = Worker::start(Worker).await?;
    /// let monitor = worker.monitor();
    /// worker.crash();
    /// let down = monitor.await;
    /// assert_eq!(down.server, worker.id());
    /// assert_eq!(down.reason, ExitReason::Panic("out of coffee".into()));
    /// # Ok(())
    /// # }
    /// ```
    pub fn monitor(&self) -> Monitor {
        let id = MonitorRef::next();
        let (sender, down) = oneshot::channel();
        watch(self, Watcher { id, notify: Notify::Task(sender) });
        Monitor { id, server: self.id(), target: self.control().clone(), down, done: false }
    }
}

impl<S: GenServer> Context<S> {
    /// Monitors `server` (OTP: `Process.monitor/1`): when it exits, this server receives
    /// `to_info(down)` as an info message. For a server that has already exited the DOWN,
    /// with [`ExitReason::NoProc`], is queued at once. The monitor ends with this server.
    ///
    /// ```
    /// use genserver_runtime::prelude::*;
    /// use genserver_runtime::Down;
    ///
    /// pub struct Worker;
    ///
    /// #[genserver]
    /// impl Worker {}
    ///
    /// pub struct Watchdog {
    ///     downs: Vec<Down>,
    /// }
    ///
    /// #[genserver]
    /// impl Watchdog {
    ///     #[init]
    ///     fn init(worker: WorkerRef, cx: &mut Context<Self>) -> Init<Self> {
    ///         cx.monitor(&worker, |down| WatchdogInfo::WorkerDown { down });
    ///         Init::ok(Watchdog { downs: Vec::new() })
    ///     }
    ///
    ///     #[info]
    ///     fn worker_down(&mut self, down: Down) {
    ///         self.downs.push(down);
    ///     }
    ///
    ///     #[call]
    ///     fn downs(&self) -> Vec<Down> {
    ///         self.downs.clone()
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let worker = Worker::start(Worker).await?;
    /// let watchdog = Watchdog::start(worker.clone()).await?;
    /// worker.stop(ExitReason::Shutdown, Duration::from_secs(1)).await?;
    /// let downs = watchdog.downs().await?;
    /// assert_eq!(downs.len(), 1);
    /// assert_eq!((downs[0].server, &downs[0].reason), (worker.id(), &ExitReason::Shutdown));
    /// # Ok(())
    /// # }
    /// ```
    pub fn monitor<F>(&self, server: &Process, to_info: F) -> MonitorRef
    where
        F: FnOnce(Down) -> S::Info + Send + 'static,
    {
        let id = MonitorRef::next();
        // Recorded first: the DOWN is handled only while this record is there.
        let watching = Tie::Watching(Watching { id, target: server.control().clone() });
        let _ = self.process().add_tie(watching, |_| false);
        let me = Arc::downgrade(self.server_ref().shared());
        let deliver = move |down| {
            if let Some(me) = me.upgrade() {
                me.mailbox.push_signal(Envelope::Down(id, to_info(down)));
            }
        };
        watch(server, Watcher { id, notify: Notify::Server(Box::new(deliver)) });
        id
    }

    /// Removes a monitor set up by [`monitor`](Self::monitor) (or, with the feature
    /// `cluster`, `monitor_remote`) (OTP: `demonitor(ref,
    /// [:flush])`): its DOWN is not handled, even if it is already queued. `false` if the
    /// monitor was no longer in place (its DOWN was handled, or it was removed before).
    pub fn demonitor(&self, monitor: MonitorRef) -> bool {
        let is_it = |tie: &Tie| match tie {
            Tie::Watching(watching) => watching.id == monitor,
            #[cfg(feature = "cluster")]
            Tie::Remote(remote) => remote.id() == monitor,
            _ => false,
        };
        match self.process().remove_tie(is_it) {
            Some(Tie::Watching(watching)) => watching.cancel(),
            // Dropping the record removes the monitor.
            Some(_) => {}
            None => return false,
        }
        true
    }
}

#[cfg(test)]
mod tests {
    //! Nothing is left behind: every way a monitor or a link ends empties both lists.

    use std::future::Future;

    use super::*;
    use crate::{Flow, Init, IntoInit, NoContinue, ServerRef};

    /// A server with no handlers, implemented by hand (the macro's paths name the crate
    /// from outside).
    struct Bare;

    enum Signal {
        Down,
    }

    impl GenServer for Bare {
        type Args = ();
        /// A ping: answered once every earlier message has been handled.
        type Msg = oneshot::Sender<()>;
        type Info = Signal;
        type Continue = NoContinue;
        type Ref = ServerRef<Bare>;

        async fn init(_: (), _: &mut Context<Self>) -> crate::InitOutcome<Self> {
            Init::<Bare>::ok(Bare).into_init()
        }

        fn handle(
            &mut self,
            ping: oneshot::Sender<()>,
            _: &mut Context<Self>,
        ) -> impl Future<Output = Flow<Self>> + Send {
            let _ = ping.send(());
            async { Flow::proceed() }
        }

        async fn handle_info(&mut self, _: Signal, _: &mut Context<Self>) -> Flow<Self> {
            Flow::proceed()
        }

        async fn handle_continue(&mut self, value: NoContinue, _: &mut Context<Self>) -> Flow<Self> {
            match value {}
        }

        fn message_name(_: &oneshot::Sender<()>) -> &'static str {
            "ping"
        }

        fn info_name(_: &Signal) -> &'static str {
            "signal"
        }
    }

    async fn bare() -> ServerRef<Bare> {
        match crate::Builder::<Bare>::new().start(()).await {
            Ok(server) => server,
            Err(_) => panic!("Bare starts"),
        }
    }

    /// Returns once `server` has handled everything queued before.
    async fn sync(server: &ServerRef<Bare>) {
        let (ping, pong) = oneshot::channel();
        server.cast(ping);
        pong.await.expect("pong");
    }

    fn ties(server: &Process) -> usize {
        server.ties().len()
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_or_demonitored_monitor_leaves_no_entry() {
        let target = bare().await;
        let dropped = target.monitor();
        let removed = target.monitor();
        let kept = target.monitor();
        assert_eq!(ties(&target), 3);
        drop(dropped);
        removed.demonitor();
        assert_eq!(ties(&target), 1);
        drop(kept);
        assert_eq!(ties(&target), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_monitor_is_removed_by_demonitor_and_by_the_watchers_exit() {
        let target = bare().await;
        let watcher = bare().await;
        let cx = Context::new(watcher.clone());
        let id = cx.monitor(&target, |_| Signal::Down);
        assert_eq!((ties(&target), ties(&watcher)), (1, 1));
        assert!(cx.demonitor(id));
        assert_eq!((ties(&target), ties(&watcher)), (0, 0));

        cx.monitor(&target, |_| Signal::Down);
        watcher.kill();
        watcher.exited().await;
        assert_eq!((ties(&target), ties(&watcher)), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_fired_monitor_leaves_no_entry_on_either_side() {
        let target = bare().await;
        let watcher = bare().await;
        let cx = Context::new(watcher.clone());
        cx.monitor(&target, |_| Signal::Down);
        let monitor = target.monitor();
        target.stop(ExitReason::Normal, std::time::Duration::from_secs(1)).await.expect("stopped");
        assert_eq!(monitor.await.reason, ExitReason::Normal);
        // The watcher's record goes when it handles the DOWN.
        sync(&watcher).await;
        assert_eq!((ties(&target), ties(&watcher)), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn links_are_removed_by_unlink_and_by_the_partners_exit() {
        let a = bare().await;
        let b = bare().await;
        let cx = Context::new(a.clone());
        cx.link(&b);
        cx.link(&b);
        assert_eq!((ties(&a), ties(&b)), (1, 1), "linking twice makes one link");
        cx.unlink(&b);
        assert_eq!((ties(&a), ties(&b)), (0, 0));

        cx.link(&b);
        b.stop(ExitReason::Normal, std::time::Duration::from_secs(1)).await.expect("stopped");
        assert!(a.is_alive());
        assert_eq!((ties(&a), ties(&b)), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_for_the_exit_that_gives_up_leaves_no_entry() {
        let server = bare().await;
        for _ in 0..10 {
            let gave_up = tokio::time::timeout(std::time::Duration::from_millis(1), server.exited()).await;
            assert!(gave_up.is_err(), "still running");
        }
        assert_eq!(ties(&server), 0);
        let mut waiting = Box::pin(server.exited());
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
        assert_eq!(ties(&server), 1, "one waiter, however often it is polled");
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
        assert_eq!(ties(&server), 1);
        drop(waiting);
        assert_eq!(ties(&server), 0);
    }
}
