//! A process's ties to other parties, and how its exit is announced to them.
//!
//! Monitors, links, the trap, registry and group cleanups, a pending kill and the tasks
//! waiting for the exit all live in one list per process ([`Tie`]), behind one lock. A tie
//! is either added before the exit and fired by it, or refused ([`Process::add_tie`]);
//! [`Process::finish`] takes the list once and fires every tie in order: cleanups first,
//! then DOWNs and exit signals, then the waiters.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::{Process, link, monitor};
use crate::panic::contain_panic;
use crate::{ExitReason, names};

/// One tie between this server and another party, kept in [`Process`]'s one list.
pub(crate) enum Tie {
    /// Someone monitors this server: gets a DOWN when it exits.
    Watcher(monitor::Watcher),
    /// This server monitors another: the monitor is removed when this server exits.
    Watching(monitor::Watching),
    /// A link with another server: each gets the other's exit signal.
    Link(link::Link),
    /// This server traps exits: how an exit signal becomes its info message.
    Trap(link::Trap),
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

/// A fresh token naming a [`Tie::Cleanup`] or a [`Tie::ExitWaiter`], so that its owner
/// can remove it again.
pub(crate) fn next_cleanup_token() -> u64 {
    static TOKENS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    TOKENS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl Process {
    /// Publishes the exit: frees the name, sets the reason, removes its registry entries
    /// and group memberships, sends the DOWNs of its monitors and the exit signals of its
    /// links, then wakes its waiters. Anyone who observes the exit therefore finds the
    /// name, entries and memberships gone, every reply the server sent has gone out
    /// before its DOWN, and an awaited `exited()` returns after the DOWNs went out.
    pub(crate) fn finish(&self, reason: ExitReason) {
        if let Some(name) = &self.name {
            names::unregister(name, self.id);
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
pub(super) struct ExitWait<'a> {
    process: &'a Process,
    /// Names this waiter's tie once it is registered.
    token: Option<u64>,
}

impl<'a> ExitWait<'a> {
    /// A wait for `process` to exit, not yet registered.
    pub(super) fn new(process: &'a Process) -> Self {
        ExitWait { process, token: None }
    }
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
