//! [`Probe`]: a stand-in process that records what reaches it, for a test to assert on
//! (ExUnit: the test process's own mailbox, with `assert_receive`).
//!
//! A probe is a real server, so it stands wherever a server is expected: it can be
//! monitored and linked, it can be stopped or killed with any reason, and it can monitor
//! or link to the server under test itself. What it receives, in order, is kept in its
//! [`Inbox`]: the messages sent to it ([`Received::Message`]), the DOWNs of the servers
//! it monitors ([`Received::Down`]) and the exit signals of the servers it is linked to
//! ([`Received::Exit`]); it traps exits, so a linked crash is recorded, not followed.
//! The assertion macros ([`assert_receive!`](crate::assert_receive) and its siblings)
//! take matching entries out of the inbox.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use crate::{Down, Exit, MonitorRef, Process, ProcessRef, ServerRef};
use genserver_macros::{call, genserver, info, init};

/// One thing a [`Probe`] received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Received<M> {
    /// A message sent to the probe.
    Message(M),
    /// A server the probe monitors exited.
    Down(Down),
    /// A server the probe is linked to exited (the probe traps exits).
    Exit(Exit),
}

/// What a probe received and nobody has taken out yet, in arrival order, and the signal
/// that something new came.
pub(crate) struct Inbox<M> {
    entries: Mutex<VecDeque<Received<M>>>,
    arrived: Notify,
}

impl<M> Inbox<M> {
    fn push(&self, entry: Received<M>) {
        self.lock().push_back(entry);
        self.arrived.notify_waiters();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Received<M>>> {
        // Nothing panics while holding the lock; a poisoned one is still consistent.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes out the first entry `matches` accepts.
    fn take_first(&self, matches: &mut impl FnMut(&Received<M>) -> bool) -> Option<Received<M>> {
        let mut entries = self.lock();
        let position = entries.iter().position(&mut *matches)?;
        entries.remove(position)
    }
}

/// The probe's process: it puts everything it gets into the shared inbox.
pub(crate) struct ProbeServer<M: Send + 'static> {
    inbox: Arc<Inbox<M>>,
}

#[genserver(crate = crate, vis = pub(crate))]
impl<M: Send + 'static> ProbeServer<M> {
    #[init]
    fn init(inbox: Arc<Inbox<M>>, cx: &mut crate::Context<Self>) -> crate::Init<Self> {
        cx.trap_exits(|exit| ProbeServerInfo::Exited { exit });
        crate::Init::ok(ProbeServer { inbox })
    }

    #[info]
    fn message(&mut self, message: M) {
        self.inbox.push(Received::Message(message));
    }

    #[info]
    fn down(&mut self, down: Down) {
        self.inbox.push(Received::Down(down));
    }

    #[info]
    fn exited(&mut self, exit: Exit) {
        self.inbox.push(Received::Exit(exit));
    }

    #[call]
    fn watch(&mut self, target: ProcessRef, cx: &mut crate::Context<Self>) -> MonitorRef {
        cx.monitor(&target, |down| ProbeServerInfo::Down { down })
    }

    #[call]
    fn link_to(&mut self, target: ProcessRef, cx: &mut crate::Context<Self>) {
        cx.link(&target);
    }
}

/// A stand-in process that records the messages, DOWNs and exit signals it receives, for
/// [`assert_receive!`](crate::assert_receive), [`refute_receive!`](crate::refute_receive),
/// [`assert_down!`](crate::assert_down) and [`assert_exit!`](crate::assert_exit).
///
/// It dereferences to its [`Process`], so it can be monitored, linked, stopped and
/// killed like any server; give a server under test [`sender`](Self::sender) where it
/// expects a callback. Cheap to clone: clones share one inbox.
///
/// ```
/// use genserver_runtime::prelude::*;
/// use genserver_runtime::testing::{self, Probe};
/// use genserver_runtime::assert_receive;
///
/// /// Tells its subscriber of every new high score.
/// pub struct Scores {
///     best: u32,
///     notify: Box<dyn Fn(u32) + Send>,
/// }
///
/// #[genserver]
/// impl Scores {
///     #[cast]
///     fn record(&mut self, score: u32) {
///         if score > self.best {
///             self.best = score;
///             (self.notify)(score);
///         }
///     }
/// }
///
/// testing::run(async {
///     let probe = Probe::<u32>::start().await;
///     let scores = Scores::start(Scores { best: 0, notify: Box::new(probe.sender()) }).await.unwrap();
///     scores.record(10);
///     scores.record(3);
///     scores.record(12);
///     assert_eq!(assert_receive!(probe, 10), 10);
///     let best = assert_receive!(probe, score if *score > 10);
///     assert_eq!(best, 12);
/// });
/// ```
pub struct Probe<M: Send + 'static> {
    server: ProbeServerRef<M>,
    inbox: Arc<Inbox<M>>,
}

impl<M: Send + 'static> Clone for Probe<M> {
    fn clone(&self) -> Self {
        Probe { server: self.server.clone(), inbox: self.inbox.clone() }
    }
}

impl<M: Send + 'static> std::ops::Deref for Probe<M> {
    type Target = Process;

    fn deref(&self) -> &Process {
        &self.server
    }
}

impl<M: Send + 'static> fmt::Debug for Probe<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Probe").field("id", &self.id()).field("alive", &self.is_alive()).finish()
    }
}

impl<M: Send + 'static> Probe<M> {
    /// Starts a probe.
    pub async fn start() -> Self {
        let inbox = Arc::new(Inbox { entries: Mutex::new(VecDeque::new()), arrived: Notify::new() });
        let server = match ProbeServer::start(inbox.clone()).await {
            Ok(server) => server,
            Err(error) => unreachable!("a probe's init cannot fail: {error}"),
        };
        Probe { server, inbox }
    }

    /// Sends the probe `message`, as a server would: it is recorded in arrival order with
    /// everything else. Dropped once the probe has exited.
    pub fn send(&self, message: M) {
        let _ = self.server.as_ref().send_info(ProbeServerInfo::Message { message });
    }

    /// A callback that sends its argument to the probe: what to give a server that
    /// notifies a closure.
    pub fn sender(&self) -> impl Fn(M) + Clone + Send + Sync + 'static {
        let server: ServerRef<ProbeServer<M>> = self.server.as_ref().clone();
        move |message| {
            let _ = server.send_info(ProbeServerInfo::Message { message });
        }
    }

    /// Monitors `target` from the probe: its exit arrives as a [`Received::Down`]
    /// (assert it with [`assert_down!`](crate::assert_down)).
    pub async fn monitor(&self, target: &Process) -> MonitorRef {
        match self.server.watch(target.to_ref()).await {
            Ok(monitor) => monitor,
            Err(error) => panic!("the probe could not monitor {target:?}: {error}"),
        }
    }

    /// Links the probe with `target`. The probe traps exits: `target`'s exit arrives as
    /// a [`Received::Exit`] (assert it with [`assert_exit!`](crate::assert_exit)), and
    /// stopping or killing the probe sends `target` its exit signal.
    pub async fn link(&self, target: &Process) {
        if let Err(error) = self.server.link_to(target.to_ref()).await {
            panic!("the probe could not link to {target:?}: {error}");
        }
    }

    /// Waits up to `within` for an entry that `matches` accepts and takes it out of the
    /// inbox; the entries it passes over stay, in order. What the macros are built on.
    pub async fn receive_matching(
        &self,
        within: Duration,
        mut matches: impl FnMut(&Received<M>) -> bool,
    ) -> Option<Received<M>> {
        let wait = async {
            loop {
                // Registered before looking, so that an entry pushed in between wakes it.
                let arrived = self.inbox.arrived.notified();
                if let Some(found) = self.inbox.take_first(&mut matches) {
                    return found;
                }
                arrived.await;
            }
        };
        tokio::time::timeout(within, wait).await.ok()
    }

    /// How many entries wait in the inbox.
    pub fn len(&self) -> usize {
        self.inbox.lock().len()
    }

    /// `true` when nothing waits in the inbox.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<M: Send + fmt::Debug + 'static> Probe<M> {
    /// Every entry waiting in the inbox, in arrival order, as the failure messages of the
    /// assertion macros print them.
    pub fn pending(&self) -> Vec<String> {
        self.inbox.lock().iter().map(|entry| format!("{entry:?}")).collect()
    }
}
