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
//! moment the runtime has nothing left to do (or, for the second, has nothing left to do
//! after the clock moved once). Waking it counts as work, so the runtime does not park
//! and the clock does not move further.

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
}

/// A task waiting for the runtime to be idle: once the clock is past `after`, if set.
struct IdleWaiter {
    after: Option<Instant>,
    waker: Waker,
    woken: Rc<Cell<bool>>,
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
    IDLE_WAITERS.with(|waiters| {
        waiters.borrow_mut().retain(|waiter| {
            if waiter.after.is_some_and(|after| now <= after) {
                return true;
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
            let waiter = IdleWaiter { after, waker: cx.waker().clone(), woken: woken.clone() };
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

/// Moves the clock to the next pending timer, lets it fire, and returns once every server
/// has handled what followed and the runtime is idle again: how far the clock moved.
///
/// Timers due at the same instant fire together. `None` if no timer was pending within
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
    std::future::poll_fn(|cx| {
        // Polled once so that its timer exists; it only bounds the wait.
        let _ = sentinel.as_mut().poll(cx);
        moved.as_mut().poll(cx)
    })
    .await;
    let now = Instant::now();
    (now < horizon).then(|| now - start)
}

/// Moves the clock forward by `duration`, fires every timer due by then, and returns once
/// the runtime is idle again (tokio's `advance` followed by
/// [`advance_until_idle`]). Panics outside the kit's runtime ([`run`](super::run)).
pub async fn advance(duration: Duration) {
    require_kit_runtime("advance");
    tokio::time::advance(duration).await;
    idle(None).await;
}
