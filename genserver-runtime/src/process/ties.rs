//! A process's ties to other parties, and how its exit is announced to them.
//!
//! Monitors, links, the trap, registry and group cleanups, a pending kill and the tasks
//! waiting for the exit all live in one list per process ([`Tie`]), behind one lock. A tie
//! is either added before the exit begins and fired by it, or refused
//! ([`Process::add_tie`]).
//!
//! [`Process::finish`] announces the exit in three steps, so that every observer of an
//! exit also sees its effects:
//! 1. the name and the cleanups (registry entries, group memberships) go, while the
//!    process still counts as alive but refuses new ties;
//! 2. the reason is set: from here `is_alive()` is false and calls fail at once;
//! 3. the DOWNs and exit signals are queued, and only then is the exit *announced*:
//!    `exited()` and `stop()` return, and the tasks waiting for the exit are woken.
//!
//! So whoever sees a server dead finds its entries gone, and whoever has awaited its exit
//! finds every DOWN and exit signal already queued.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll, Waker};

use super::{MonitorRef, Process, link, monitor};
use crate::panic::contain_panic;
use crate::{ExitReason, names};

/// One tie between this server and another party, kept in [`Process`]'s one list.
pub(crate) enum Tie {
    /// Someone monitors this server: gets a DOWN when it exits.
    Watcher(monitor::Watcher),
    /// This server monitors another: the monitor is removed when this server exits.
    Watching(monitor::Watching),
    /// This server monitors a server of another node: dropping the record removes the
    /// monitor.
    #[cfg(feature = "cluster")]
    Remote(crate::cluster::monitor::RemoteWatch),
    /// A link with another server: each gets the other's exit signal.
    Link(link::Link),
    /// This server traps exits: how an exit signal becomes its info message.
    Trap(link::Trap),
    /// Runs as the server exits: removes a registry entry or a group membership, named
    /// by its token.
    Cleanup(u64, Box<dyn FnOnce(&ExitReason) + Send>),
    /// A tick of the interval timer `.1` (its token), queued in this server's mailbox and
    /// named by `.0`: the tick is handled only while this record is here, so that
    /// cancelling the timer also drops its ticks already queued.
    Tick(MonitorRef, u64),
    /// The server is being killed: the reason its exit publishes once its task is
    /// dropped. Kept here rather than in a field because few servers are ever killed.
    Kill(ExitReason),
    /// A task waiting in [`Process::exited`], named by its token: woken last when the
    /// server exits. Kept here rather than in a `Notify` field (32 bytes in every server)
    /// because most servers are never waited for.
    ExitWaiter(u64, Waker),
}

/// Whom a server is tied to: [`Process::tie_summary`].
#[derive(Default)]
pub(crate) struct TieSummary {
    pub(crate) links: Vec<crate::ServerId>,
    pub(crate) monitors: Vec<crate::ServerId>,
    pub(crate) monitored_by: usize,
    pub(crate) trap_exits: bool,
}

/// A fresh token naming a [`Tie::Cleanup`] or a [`Tie::ExitWaiter`], so that its owner
/// can remove it again.
pub(crate) fn next_cleanup_token() -> u64 {
    static TOKENS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    TOKENS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// How far a process's exit has gone: running, exiting (ties refused, effects under way),
/// or announced (every effect done); and whether a task started waiting for the exit
/// while it was under way, so that announcing it takes the ties' lock only then.
pub(crate) struct Phase(AtomicU8);

impl Phase {
    const RUNNING: u8 = 0;
    const EXITING: u8 = 1;
    const ANNOUNCED: u8 = 2;
    /// Added to `EXITING`: a waiter joined the list after `finish` had taken it.
    const LATE_WAITER: u8 = 4;

    pub(crate) const fn new() -> Self {
        Phase(AtomicU8::new(Self::RUNNING))
    }

    fn is_running(&self) -> bool {
        self.0.load(Ordering::Acquire) == Self::RUNNING
    }

    fn is_announced(&self) -> bool {
        self.0.load(Ordering::Acquire) & Self::ANNOUNCED != 0
    }

    /// Starts the exit; called under the ties' lock, which orders it with every tie added.
    fn begin_exit(&self) {
        self.0.store(Self::EXITING, Ordering::Release);
    }

    /// Records, under the ties' lock, a waiter about to join the list of an exiting
    /// process; `false` if the exit was announced meanwhile (then it must not wait).
    fn note_late_waiter(&self) -> bool {
        self.0.fetch_or(Self::LATE_WAITER, Ordering::AcqRel) & Self::ANNOUNCED == 0
    }

    /// Announces the exit; `true` if a late waiter joined the list, which must be woken.
    fn announce(&self) -> bool {
        self.0.swap(Self::ANNOUNCED, Ordering::AcqRel) & Self::LATE_WAITER != 0
    }
}

impl Process {
    /// The exit reason once the exit is announced: every cleanup run, every DOWN and exit
    /// signal queued.
    pub(crate) fn announced_exit(&self) -> Option<ExitReason> {
        if self.phase.is_announced() { self.exit.get().cloned() } else { None }
    }

    /// Publishes the exit, in the steps of the module doc: frees the name and removes the
    /// registry entries and group memberships, sets the reason, sends the DOWNs of its
    /// monitors and the exit signals of its links, then announces the exit and wakes its
    /// waiters. Anyone who sees the server exited therefore finds the name, entries and
    /// memberships gone; every reply the server sent has gone out before its DOWN; and an
    /// awaited `exited()` or `stop()` returns after the DOWNs and signals went out.
    pub(crate) fn finish(&self, reason: ExitReason) {
        let mut ties = {
            let mut ties = self.ties();
            if !self.phase.is_running() {
                return;
            }
            // From here no tie can be added (see `add_tie`), so this list is the last one
            // but for the tasks that start waiting meanwhile (see `ExitWait`).
            self.phase.begin_exit();
            std::mem::take(&mut *ties)
        };
        if let Some(name) = &self.name {
            names::unregister(name, self.id);
        }
        // The cleanups first, whenever they were added: a monitor or a link made before a
        // registration must not announce the exit while the entry is still there. Then
        // the DOWNs and exit signals; last, the tasks waiting for the exit, which find
        // them sent. A stable sort keeps each group in the order it came.
        ties.sort_by_key(|tie| match tie {
            Tie::Cleanup(..) => 0,
            Tie::ExitWaiter(..) => 2,
            _ => 1,
        });
        let signals = ties.iter().position(|tie| !matches!(tie, Tie::Cleanup(..))).unwrap_or(ties.len());
        for tie in ties.drain(..signals) {
            if let Tie::Cleanup(_, cleanup) = tie {
                cleanup(&reason);
            }
        }
        let reason = self.exit.get_or_init(|| reason);
        let waiters = ties.iter().position(|tie| matches!(tie, Tie::ExitWaiter(..))).unwrap_or(ties.len());
        for tie in ties.drain(..waiters) {
            match tie {
                Tie::Watcher(watcher) => {
                    contain_panic("a monitor's closure", || watcher.fire(self.id, reason.clone()));
                }
                Tie::Watching(watching) => watching.cancel(),
                #[cfg(feature = "cluster")]
                Tie::Remote(remote) => drop(remote),
                Tie::Link(link) => contain_panic("a trap_exits closure", || link.signal(self.id, reason)),
                Tie::Cleanup(..) | Tie::Trap(_) | Tie::Tick(..) | Tie::Kill(_) | Tie::ExitWaiter(..) => {}
            }
        }
        // A task that started waiting meanwhile has either found the exit announced or
        // marked itself late before joining the list under its lock: take that list then.
        let late_waiters = if self.phase.announce() { std::mem::take(&mut *self.ties()) } else { Vec::new() };
        for tie in ties.into_iter().chain(late_waiters) {
            if let Tie::ExitWaiter(_, waiter) = tie {
                waiter.wake();
            }
        }
    }

    /// Whom this server is tied to, for `sys::get_status` and the process list.
    pub(crate) fn tie_summary(&self) -> TieSummary {
        let mut summary = TieSummary::default();
        for tie in self.ties().iter() {
            match tie {
                Tie::Link(link) => summary.links.push(link.server()),
                Tie::Watching(watching) => summary.monitors.extend(watching.target()),
                Tie::Watcher(_) => summary.monitored_by += 1,
                Tie::Trap(_) => summary.trap_exits = true,
                #[cfg(feature = "cluster")]
                Tie::Remote(_) => {}
                Tie::Cleanup(..) | Tie::Tick(..) | Tie::Kill(_) | Tie::ExitWaiter(..) => {}
            }
        }
        summary
    }

    pub(crate) fn ties(&self) -> std::sync::MutexGuard<'_, Vec<Tie>> {
        // No code panics while holding the lock; a poisoned lock is still consistent.
        self.ties.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `tie` unless an equal one (`same`) is there already, or gives it back if the
    /// server's exit has begun. The check is made under the lock that `finish` takes to
    /// begin the exit, so a tie is either added before the exit and fired by it, or
    /// refused.
    pub(crate) fn add_tie(&self, tie: Tie, same: impl Fn(&Tie) -> bool) -> Result<(), Tie> {
        let mut ties = self.ties();
        if !self.phase.is_running() {
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
    pub(crate) fn add_cleanup(&self, token: u64, cleanup: impl FnOnce(&ExitReason) + Send + 'static) -> bool {
        self.add_tie(Tie::Cleanup(token, Box::new(cleanup)), |_| false).is_ok()
    }

    /// Removes the cleanup `token`, which will not run.
    pub(crate) fn remove_cleanup(&self, token: u64) {
        drop(self.remove_tie(|tie| matches!(tie, Tie::Cleanup(tie_token, _) if *tie_token == token)));
    }

    /// Takes out the record of a DOWN or a tick queued in this server's mailbox as `id`;
    /// `false` if it was removed meanwhile (a demonitor, a cancelled timer), and then the
    /// entry is dropped unhandled.
    pub(crate) fn take_queued(&self, id: MonitorRef) -> bool {
        let queued = |tie: &Tie| match tie {
            Tie::Watching(watching) => watching.id() == id,
            #[cfg(feature = "cluster")]
            Tie::Remote(remote) => remote.id() == id,
            Tie::Tick(tick, _) => *tick == id,
            _ => false,
        };
        self.remove_tie(queued).is_some()
    }

    /// Removes the records of every queued tick of the interval timer `timer`.
    pub(crate) fn remove_ticks(&self, timer: u64) {
        self.ties().retain(|tie| !matches!(tie, Tie::Tick(_, of) if *of == timer));
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
        if let Some(reason) = self.process.announced_exit() {
            return Poll::Ready(reason);
        }
        let mut ties = self.process.ties();
        // A waiter in the list `finish` took at the start of the exit is woken with it;
        // one that joins later marks itself late, or finds the exit announced.
        if !self.process.phase.is_running() && !self.process.phase.note_late_waiter() {
            if let Some(reason) = self.process.announced_exit() {
                return Poll::Ready(reason);
            }
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
        // Once the exit is announced, `finish` has taken the list with this waiter.
        if let Some(token) = self.token.filter(|_| !self.process.phase.is_announced()) {
            let removed =
                self.process.remove_tie(|tie| matches!(tie, Tie::ExitWaiter(waiter, _) if *waiter == token));
            drop(removed);
        }
    }
}
