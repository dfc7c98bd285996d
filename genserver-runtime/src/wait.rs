//! How a task waits on a server: a few turns of the scheduler before a timer, and
//! deadlines that saturate instead of overflowing.
//!
//! A call or a stop usually ends within microseconds: the server, woken by the request,
//! replies or exits while the waiting task is still on its worker. Arming a tokio timer
//! for the call's deadline costs more than such a call (a timer entry, a lock on the
//! timer wheel, a later cancel), so a waiting task first re-queues itself a few times
//! ([`Turns`], [`ready_within_turns`]) and arms the deadline's timer only if the server
//! has not answered by then. The deadline is taken when the timer is armed, so a call's
//! timeout is late by at most those few turns.
//!
//! What this relies on in tokio: a task that wakes itself from its own poll goes back to
//! its worker's queue (on a multi-thread runtime, to the next-task slot, which tokio runs
//! at most three times in a row before others), and a task woken by a request runs on
//! the waker's worker. Both are tokio's scheduling behaviour, not its documented API:
//! if it changes, waits stay correct (the deadline timer still bounds them) and only the
//! cost of a quick call moves. See `bench/NOTES.md` for the measurements behind the
//! number of turns.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use tokio::time::Instant;

/// How far away "never" is: a deadline past what the clock can represent is put this far
/// out instead (tokio does the same for its own far-off timers).
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// `start + after`, saturating at [`FAR_FUTURE`]: `Duration::MAX` as a timeout or a delay
/// means "no deadline", where plain `Instant + Duration` would panic on the overflow.
pub(crate) fn deadline_after(start: Instant, after: Duration) -> Instant {
    start.checked_add(after).unwrap_or_else(|| start + FAR_FUTURE)
}

/// How many times a task waiting on a server re-queues itself, giving the server turns
/// to act, before it arms a deadline's timer: a tokio timer costs more than a fast call
/// or stop. On a multi-thread runtime, tokio runs a task re-queued from its own poll up
/// to three times in a row before others; on a current-thread one the server, woken by
/// the request, runs within the first turn, and the reply ends the wait there. The same
/// count serves both, so a call need not ask which runtime it is on.
const TURNS_BEFORE_TIMER: usize = 4;

/// The turns a task waiting on a server may still take before it arms a deadline's timer.
///
/// A request that woke a parked server on a multi-thread runtime first yields instead:
/// tokio put the woken server in this worker's next-task slot, and a task that re-queues
/// itself would take that slot back and run first, up to three times, while the server
/// waits behind it. A yielded task waits until the worker has run what is queued (the
/// server among it) or has nothing left to run, so the wait stays bounded.
pub(crate) struct Turns {
    left: usize,
    yield_first: bool,
}

impl Turns {
    pub(crate) const fn new() -> Self {
        Turns { left: TURNS_BEFORE_TIMER, yield_first: false }
    }

    /// Records that the request this task waits on woke the server: on a multi-thread
    /// runtime the first turn is then a yield.
    pub(crate) fn woke_server(&mut self) {
        self.yield_first = on_multi_thread_runtime();
    }

    /// Whether the next turn is a yield, after which the task runs again only when woken.
    pub(crate) fn next_is_yield(&self) -> bool {
        self.yield_first
    }

    /// After a pending poll: re-queues the task and returns `true` while turns are left;
    /// `false` once it is time to arm the timer.
    pub(crate) fn requeue(&mut self, cx: &mut std::task::Context<'_>) -> bool {
        if std::mem::take(&mut self.yield_first) {
            // Polled once, `yield_now` asks the worker to wake this task later; that is
            // all it does.
            let _ = std::pin::pin!(tokio::task::yield_now()).poll(cx);
            return true;
        }
        if self.left == 0 {
            return false;
        }
        self.left -= 1;
        cx.waker().wake_by_ref();
        true
    }
}

/// `true` on a worker of a multi-thread runtime. Asked of tokio once per thread, because
/// asking clones its runtime handle: a thread that later runs a runtime of the other
/// flavor gets the first answer, which changes only how a wait spends its first turn. A
/// thread outside any runtime is asked again next time.
fn on_multi_thread_runtime() -> bool {
    thread_local! {
        static MULTI_THREAD: std::cell::Cell<Option<bool>> = const { std::cell::Cell::new(None) };
    }
    MULTI_THREAD.with(|cached| {
        if let Some(multi_thread) = cached.get() {
            return multi_thread;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return false };
        let multi_thread = runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread;
        cached.set(Some(multi_thread));
        multi_thread
    })
}

/// Polls `future`, taking [`Turns`] while it is pending: its output if it finished
/// within them.
pub(crate) async fn ready_within_turns<F: Future>(mut future: Pin<&mut F>) -> Option<F::Output> {
    let mut turns = Turns::new();
    std::future::poll_fn(|cx| match future.as_mut().poll(cx) {
        Poll::Ready(output) => Poll::Ready(Some(output)),
        Poll::Pending if turns.requeue(cx) => Poll::Pending,
        Poll::Pending => Poll::Ready(None),
    })
    .await
}
