//! Timers: info messages a server sends itself later (OTP: `Process.send_after` and
//! `:timer.send_interval`).
//!
//! A timer is a small tokio task that waits, then queues the info message in the
//! server's mailbox like any other sender, so a timer message can be overtaken by
//! messages already queued. A timer ends with its server: once the mailbox closes, the
//! timer task stops without sending, and the timer counts as cancelled (OTP cancels a
//! timer when its target process dies). [`TimerRef::cancel`] says how much time was left,
//! or `None` if the timer had already fired, been cancelled or outlived its server; after
//! `None`, its message may already be in the mailbox or on its way there (as OTP's
//! `erlang:cancel_timer/1` says of `false`). After `Some`, no message of that timer is
//! handled: a one-shot timer's message is queued under a claim that `cancel` respects,
//! and each tick of an interval is queued with a record in the server's ties that
//! `cancel` removes, so that its ticks already in the mailbox are dropped when the server
//! reaches them. (OTP's `cancel_timer` leaves a message already delivered in the
//! mailbox; here a cancel also takes back what is queued.)

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::mailbox::Envelope;
use crate::process::{Control, Tie, next_cleanup_token};
use crate::{GenServer, MonitorRef, ServerRef};

/// Where a timer is in its life. The timer task claims each delivery before queueing a
/// message, and `cancel` takes the timer out of any state, so a `cancel` that finds the
/// timer waiting knows no message of it can follow.
struct TimerState(AtomicU8);

impl TimerState {
    /// Waiting for its deadline.
    const PENDING: u8 = 0;
    /// A one-shot timer that fired.
    const FIRED: u8 = 1;
    /// Cancelled.
    const CANCELLED: u8 = 2;
    /// An interval timer delivering a tick; back to `PENDING` once the tick is queued.
    const TICKING: u8 = 3;

    const fn new() -> Self {
        TimerState(AtomicU8::new(Self::PENDING))
    }

    fn claim(&self, from: u8, to: u8) -> bool {
        self.0.compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    /// Claims the right to deliver a one-shot timer's message; `false` if cancelled.
    fn fire(&self) -> bool {
        self.claim(Self::PENDING, Self::FIRED)
    }

    /// Claims the right to deliver an interval's tick; `false` if cancelled.
    fn begin_tick(&self) -> bool {
        self.claim(Self::PENDING, Self::TICKING)
    }

    /// Ends a tick begun by [`begin_tick`](Self::begin_tick); `false` if the timer was
    /// cancelled meanwhile, so no further tick may follow.
    fn end_tick(&self) -> bool {
        self.claim(Self::TICKING, Self::PENDING)
    }

    /// Cancels; `true` if the timer was waiting, so that none of its messages is on its way.
    fn cancel(&self) -> bool {
        self.0.swap(Self::CANCELLED, Ordering::AcqRel) == Self::PENDING
    }

    /// `true` while the timer will still fire (an interval counts while delivering a tick).
    fn is_scheduled(&self) -> bool {
        matches!(self.0.load(Ordering::Acquire), Self::PENDING | Self::TICKING)
    }
}

/// A running timer; cancel it with [`TimerRef::cancel`]. Dropping the `TimerRef` does not
/// cancel the timer.
#[derive(Clone)]
pub struct TimerRef {
    inner: Arc<TimerInner>,
}

impl std::fmt::Debug for TimerRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimerRef")
            .field("server", &self.inner.server.process().id())
            .field("remaining", &self.remaining())
            .finish()
    }
}

struct TimerInner {
    state: TimerState,
    /// When the timer fires next.
    deadline: Mutex<Instant>,
    task: OnceLock<AbortHandle>,
    /// Names the timer in the records of its ticks queued in the server's mailbox.
    token: u64,
    /// The server the timer is aimed at. Once it has exited the timer is void: asking the
    /// server's state rather than the timer task's makes this true as soon as the exit
    /// can be observed, not only once the timer task has run again.
    server: Arc<dyn Control>,
}

impl TimerRef {
    /// Cancels the timer and returns the time that was left before it would have fired
    /// (for an interval, before its next tick). `None` if it already fired (a one-shot
    /// timer), was already cancelled, or its server has exited (OTP:
    /// `Process.cancel_timer/1` returning `false`).
    pub fn cancel(&self) -> Option<Duration> {
        let was_waiting = self.inner.state.cancel();
        if let Some(task) = self.inner.task.get() {
            task.abort();
        }
        // The ticks already queued are dropped when the server reaches them.
        self.inner.server.process().remove_ticks(self.inner.token);
        // A tick being delivered is on its way to the mailbox: like a fired timer, `None`.
        if !was_waiting || self.server_exited() {
            return None;
        }
        let deadline = *self.inner.deadline.lock().unwrap_or_else(|e| e.into_inner());
        Some(deadline.saturating_duration_since(Instant::now()))
    }

    /// The time left before the timer fires next; `None` once it has fired for good or was
    /// cancelled, or once its server has exited (OTP: `Process.read_timer/1`).
    pub fn remaining(&self) -> Option<Duration> {
        if !self.inner.state.is_scheduled() || self.server_exited() {
            return None;
        }
        let deadline = *self.inner.deadline.lock().unwrap_or_else(|e| e.into_inner());
        Some(deadline.saturating_duration_since(Instant::now()))
    }

    fn new(deadline: Instant, server: Arc<dyn Control>) -> Self {
        TimerRef {
            inner: Arc::new(TimerInner {
                state: TimerState::new(),
                deadline: Mutex::new(deadline),
                task: OnceLock::new(),
                token: next_cleanup_token(),
                server,
            }),
        }
    }

    fn server_exited(&self) -> bool {
        !self.inner.server.process().is_alive()
    }

    fn set_next_deadline(&self, deadline: Instant) {
        *self.inner.deadline.lock().unwrap_or_else(|e| e.into_inner()) = deadline;
    }
}

/// Queues `info` in `server`'s mailbox after `delay`.
pub(crate) fn send_after<S: GenServer>(server: &ServerRef<S>, delay: Duration, info: S::Info) -> TimerRef {
    let server = server.clone();
    let deadline = crate::wait::deadline_after(Instant::now(), delay);
    let timer = TimerRef::new(deadline, server.shared().clone());
    let handle = timer.clone();
    let task = tokio::spawn(async move {
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => {
                if handle.inner.state.fire() {
                    let _ = server.mailbox().send(Envelope::Info(info)).await;
                }
            }
            _ = server.exited() => {}
        }
    });
    let _ = timer.inner.task.set(task.abort_handle());
    timer
}

/// Queues `make()` in `server`'s mailbox every `period`, first after one period.
pub(crate) fn send_interval<S, F>(server: &ServerRef<S>, period: Duration, mut make: F) -> TimerRef
where
    S: GenServer,
    F: FnMut() -> S::Info + Send + 'static,
{
    let server = server.clone();
    let period = period.max(Duration::from_nanos(1));
    // The ticks count from now, when the interval is set, not from when its task first runs.
    let mut next = crate::wait::deadline_after(Instant::now(), period);
    let timer = TimerRef::new(next, server.shared().clone());
    let handle = timer.clone();
    let task = tokio::spawn(async move {
        // However the task ends, the interval has ended with it, including when `make`,
        // the user's closure, panics in the middle of a tick.
        let _ended = EndsWithTask(handle.clone());
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(next) => {}
                _ = server.exited() => return,
            }
            if !handle.inner.state.begin_tick() {
                return;
            }
            next = crate::wait::deadline_after(next, period);
            handle.set_next_deadline(next);
            let info = make();
            // The tick's record first: the server handles the tick only while it is there.
            let tick = MonitorRef::next();
            if server.add_tie(Tie::Tick(tick, handle.inner.token), |_| false).is_err() {
                return;
            }
            let queued = server.mailbox().send(Envelope::Down(tick, info)).await.is_ok();
            if !handle.inner.state.end_tick() || !queued {
                return;
            }
        }
    });
    let _ = timer.inner.task.set(task.abort_handle());
    timer
}

/// Marks an interval timer as ended when its task ends, so that it no longer counts as
/// set (`remaining` gives `None`) once no tick can follow.
struct EndsWithTask(TimerRef);

impl Drop for EndsWithTask {
    fn drop(&mut self) {
        self.0.inner.state.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::TimerState;

    #[test]
    fn a_cancel_that_finds_the_timer_waiting_stops_every_later_delivery() {
        let state = TimerState::new();
        assert!(state.cancel(), "a waiting timer: nothing is on its way");
        assert!(!state.fire(), "a cancelled one-shot timer never fires");
        assert!(!state.begin_tick(), "a cancelled interval never ticks");
        assert!(!state.is_scheduled());
    }

    #[test]
    fn a_cancel_during_a_tick_says_the_tick_is_on_its_way_and_ends_the_interval() {
        let state = TimerState::new();
        assert!(state.begin_tick());
        assert!(state.is_scheduled(), "an interval delivering a tick still counts as set");
        assert!(!state.cancel(), "the tick being delivered may still arrive");
        assert!(!state.end_tick(), "the interval stops after the tick in flight");
        assert!(!state.begin_tick());
    }

    #[test]
    fn an_interval_between_ticks_is_waiting_again() {
        let state = TimerState::new();
        assert!(state.begin_tick() && state.end_tick());
        assert!(state.begin_tick() && state.end_tick());
        assert!(state.cancel());
    }

    #[test]
    fn a_one_shot_timer_that_fired_cannot_be_cancelled() {
        let state = TimerState::new();
        assert!(state.fire());
        assert!(!state.is_scheduled());
        assert!(!state.cancel());
    }
}
