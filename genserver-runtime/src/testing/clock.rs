//! Virtual time for tests: the kit's runtime, whose clock is paused, and the waits that
//! let a test say "until everything is idle" or "until the next timer has fired"
//! instead of guessing durations.
//!
//! Every timer of the runtime is a tokio timer (`send_after`, `send_interval`, idle
//! timeouts, call, stop and init timeouts, a supervisor's intensity window), so on a
//! paused clock they are all virtual: when no task can run, tokio moves the clock
//! straight to the next timer. A test awaiting a 5 s call timeout or a 30 s `send_after`
//! therefore takes microseconds of real time.
//!
//! Knowing when the runtime is idle needs one hook: the kit's runtime calls
//! [`on_idle`] each time it is about to park, which happens exactly when no task can
//! run, and before a paused clock is moved. A task waiting in [`advance_until_idle`] or
//! [`advance_to_next_timer`] is woken from there, so its wait ends precisely at the
//! moment the runtime has nothing left to do. Waking it counts as work, so the runtime
//! does not park and the clock does not move further.
//!
//! The clock moving is not enough to say that a timer fired: tokio's timer wheel moves a
//! paused clock to the start of the next slot that holds a timer, which for a far timer
//! is a coarse slot (28.672 s on the way to 30 s) where the timer only moves down a level.
//! So the server tasks count their polls ([`counting_polls`], wrapped around each of them
//! under this feature), and [`advance_to_next_timer`] ends at the first idle moment after
//! the clock moved *and* a server ran.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

use tokio::time::Instant;

/// How far [`advance_to_next_timer`] looks for a timer before it gives up.
pub const TIMER_HORIZON: Duration = Duration::from_secs(86_400 * 365);

thread_local! {
    /// Set while this thread runs the kit's runtime ([`super::run`]).
    static ON_KIT_RUNTIME: Cell<bool> = const { Cell::new(false) };
    /// The tasks waiting for the runtime to be idle.
    static IDLE_WAITERS: RefCell<Vec<IdleWaiter>> = const { RefCell::new(Vec::new()) };
    /// How many times a server task of this thread has been polled.
    static SERVER_POLLS: Cell<u64> = const { Cell::new(0) };
}

/// A task waiting for the runtime to be idle; with `after` set, only once the clock is
/// past it and a server ran since the last idle moment.
struct IdleWaiter {
    after: Option<Instant>,
    /// The server polls counted at the last idle moment.
    polls_seen: u64,
    waker: Waker,
    woken: Rc<Cell<bool>>,
}

pin_project_lite::pin_project! {
    /// A server's task, counting its polls in [`SERVER_POLLS`].
    pub(crate) struct CountingPolls<F> {
        #[pin]
        task: F,
    }
}

/// Wraps a server's task so that its polls are counted.
pub(crate) fn counting_polls<F: Future>(task: F) -> CountingPolls<F> {
    CountingPolls { task }
}

impl<F: Future> Future for CountingPolls<F> {
    type Output = F::Output;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<F::Output> {
        SERVER_POLLS.with(|polls| polls.set(polls.get() + 1));
        self.project().task.poll(cx)
    }
}

/// The paused-clock runtime every kit test runs on: current-thread (a paused clock needs
/// one), every driver enabled, and [`on_idle`] called before each park.
pub(super) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .on_thread_park(on_idle)
        .build()
        .expect("the test kit builds a current-thread tokio runtime")
}

/// Marks this thread as running the kit's runtime until dropped.
pub(super) struct OnKitRuntime(());

impl OnKitRuntime {
    pub(super) fn enter() -> Self {
        ON_KIT_RUNTIME.with(|on| on.set(true));
        OnKitRuntime(())
    }
}

impl Drop for OnKitRuntime {
    fn drop(&mut self) {
        ON_KIT_RUNTIME.with(|on| on.set(false));
        IDLE_WAITERS.with(|waiters| waiters.borrow_mut().clear());
    }
}

/// The runtime is about to park: no task can run. Wakes the waiters whose condition
/// holds; a woken task is work, so the runtime then polls it instead of parking.
fn on_idle() {
    let now = Instant::now();
    let polls = SERVER_POLLS.with(Cell::get);
    IDLE_WAITERS.with(|waiters| {
        waiters.borrow_mut().retain_mut(|waiter| {
            if let Some(after) = waiter.after {
                let ran = std::mem::replace(&mut waiter.polls_seen, polls) != polls;
                if now <= after || !ran {
                    return true;
                }
            }
            waiter.woken.set(true);
            waiter.waker.wake_by_ref();
            false
        })
    });
}

fn require_kit_runtime(what: &str) {
    assert!(
        ON_KIT_RUNTIME.with(Cell::get),
        "{what} needs the test kit's runtime: write the test as `#[genserver_runtime::testing::test] async fn` \
         or run its body with `genserver_runtime::testing::run`"
    );
}

/// Waits until the runtime is idle: `after` set, only once the clock has moved past it.
async fn idle(after: Option<Instant>) {
    let woken = Rc::new(Cell::new(false));
    let mut registered = false;
    std::future::poll_fn(|cx| {
        if woken.get() {
            return Poll::Ready(());
        }
        if !registered {
            registered = true;
            let polls_seen = SERVER_POLLS.with(Cell::get);
            let waiter = IdleWaiter { after, polls_seen, waker: cx.waker().clone(), woken: woken.clone() };
            IDLE_WAITERS.with(|waiters| waiters.borrow_mut().push(waiter));
        }
        Poll::Pending
    })
    .await
}

/// Lets every server handle everything it can without the clock moving, and returns once
/// no task can run: every mailbox is empty, or waits on a timer. The clock does not move.
///
/// Use it after a cast or a `send_info` to see its effects, where the test has no reply to
/// wait for. Panics outside the kit's runtime ([`run`](super::run)).
///
/// ```
/// use genserver_runtime::prelude::*;
/// use genserver_runtime::testing;
///
/// pub struct Counter(u32);
///
/// #[genserver]
/// impl Counter {
///     #[cast]
///     fn bump(&mut self) {
///         self.0 += 1;
///     }
///
///     #[call]
///     fn count(&self) -> u32 {
///         self.0
///     }
/// }
///
/// testing::run(async {
///     let counter = Counter::start(Counter(0)).await.unwrap();
///     counter.bump();
///     counter.bump();
///     let before = tokio::time::Instant::now();
///     testing::advance_until_idle().await;
///     assert_eq!(tokio::time::Instant::now(), before);
///     assert_eq!(counter.count().await.unwrap(), 2);
/// });
/// ```
pub async fn advance_until_idle() {
    require_kit_runtime("advance_until_idle");
    idle(None).await;
}

/// Moves the clock to the next timer that wakes a server (a `send_after` or
/// `send_interval` tick, an idle timeout, a call timeout in a server), lets it fire, and
/// returns once every server has handled what followed and the runtime is idle again:
/// how far the clock moved.
///
/// Timers due at the same instant fire together; a timer of a task that is not a server
/// fires on the way without ending the wait. `None` if no server woke within
/// [`TIMER_HORIZON`] (the clock has then moved that far). Panics outside the kit's
/// runtime ([`run`](super::run)).
///
/// ```
/// use genserver_runtime::prelude::*;
/// use genserver_runtime::testing;
///
/// pub struct Reminder {
///     fired: bool,
/// }
///
/// #[genserver]
/// impl Reminder {
///     #[init]
///     fn init(cx: &mut Context<Self>) -> Init<Self> {
///         cx.send_after(Duration::from_secs(30), ReminderInfo::Remind {});
///         Init::ok(Reminder { fired: false })
///     }
///
///     #[info]
///     fn remind(&mut self) {
///         self.fired = true;
///     }
///
///     #[call]
///     fn fired(&self) -> bool {
///         self.fired
///     }
/// }
///
/// testing::run(async {
///     let reminder = Reminder::start().await.unwrap();
///     assert!(!reminder.fired().await.unwrap());
///     assert_eq!(testing::advance_to_next_timer().await, Some(Duration::from_secs(30)));
///     assert!(reminder.fired().await.unwrap());
/// });
/// ```
pub async fn advance_to_next_timer() -> Option<Duration> {
    require_kit_runtime("advance_to_next_timer");
    idle(None).await;
    let start = Instant::now();
    let horizon = crate::wait::deadline_after(start, TIMER_HORIZON);
    // The horizon is a timer too, so that the clock always has somewhere to go.
    let sentinel = tokio::time::sleep_until(horizon);
    let moved = idle(Some(start));
    tokio::pin!(sentinel, moved);
    let fired = std::future::poll_fn(|cx| {
        if sentinel.as_mut().poll(cx).is_ready() {
            return Poll::Ready(false);
        }
        moved.as_mut().poll(cx).map(|()| true)
    })
    .await;
    fired.then(|| Instant::now() - start)
}

/// Moves the clock forward by `duration`, fires every timer due by then, and returns once
/// the runtime is idle again (tokio's `advance` followed by
/// [`advance_until_idle`]). Panics outside the kit's runtime ([`run`](super::run)).
pub async fn advance(duration: Duration) {
    require_kit_runtime("advance");
    tokio::time::advance(duration).await;
    idle(None).await;
}
