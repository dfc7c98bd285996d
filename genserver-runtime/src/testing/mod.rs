//! The test kit (feature `test-kit`): what ExUnit gives an Elixir developer to test a
//! GenServer, for `#[genserver]` servers.
//!
//! | ExUnit | here |
//! |---|---|
//! | `test "..." do ... end` | [`#[testing::test]`](test) `async fn`, or [`run`] |
//! | a test's virtual clock (none in ExUnit: `Process.sleep`) | the kit's paused clock, [`advance_until_idle`], [`advance_to_next_timer`], [`advance`] |
//! | the test process's mailbox | a [`Probe`] |
//! | `assert_receive`, `refute_receive` | [`assert_receive!`](crate::assert_receive), [`refute_receive!`](crate::refute_receive) |
//! | `assert_receive {:DOWN, ^ref, _, ^pid, r}`, `{:EXIT, ^pid, r}` | [`assert_down!`](crate::assert_down), [`assert_exit!`](crate::assert_exit) |
//! | `start_supervised!` | [`supervise`] |
//! | `capture_log`, `@tag :capture_log` | [`logs`], printed when a test fails |
//! | `:sys.suspend`, `:sys.get_state`, `:sys.replace_state` | a [`Stepper`]: one message at a time, [`Stepper::state`], [`Stepper::state_mut`] |
//!
//! Each test of the kit runs on its own current-thread tokio runtime with a paused
//! clock: every timer of the runtime (`send_after`, `send_interval`, idle, call, stop and
//! init timeouts, a supervisor's intensity window) is virtual, so a test that waits for a
//! 30 s `send_after` or a 5 s call timeout takes microseconds. No helper of the kit
//! sleeps on real time. The guide chapter "Testing your servers" (`docs/testing.md`)
//! shows each piece beside its ExUnit form.
//!
//! The kit is a feature of this crate rather than a crate of its own so that it can never
//! be of another version than the runtime it tests, and so that its macros reach the
//! runtime through `$crate` like the rest of the crate: one dependency line,
//! `genserver-runtime = { version = "..", features = ["test-kit"] }` under
//! `[dev-dependencies]`. It turns on tokio's `test-util` (the paused clock) and pulls in
//! `tracing-subscriber` (the log capture), neither of which a program needs.

pub mod assertions;
mod capture;
mod clock;
mod probe;
mod step;
mod supervised;

use std::cell::RefCell;
use std::future::Future;

pub use assertions::DEFAULT_RECEIVE_TIMEOUT;
pub use capture::{CRASH_REPORT, Captured, Fields, Logs, keep_callsites_enabled};
pub(crate) use clock::counting_polls;
pub use clock::{TIMER_HORIZON, advance, advance_to_next_timer, advance_until_idle};
pub use probe::{Probe, Received};
pub use step::{Step, Stepper};
pub use supervised::{STOP_TIMEOUT, allow_crash, supervise};

/// Runs an `async fn` as a test on the kit's runtime: `#[testing::test] async fn name()`
/// is `#[test] fn name()` whose body runs through [`run`].
///
/// ```ignore
/// use genserver_runtime::prelude::*;
/// use genserver_runtime::testing;
///
/// pub struct Pinger;
///
/// #[genserver]
/// impl Pinger {
///     #[call]
///     fn ping(&self) -> &'static str {
///         "pong"
///     }
/// }
///
/// #[testing::test]
/// async fn pinger_answers_pong() {
///     let pinger = testing::supervise(Pinger::start(Pinger).await.unwrap());
///     assert_eq!(pinger.ping().await.unwrap(), "pong");
/// }
/// ```
///
/// (Not run here: a doctest is not built as a test, so its `#[test]` functions vanish;
/// the kit's own tests, in `tests/test_kit_*.rs`, use the attribute.)
pub use genserver_macros::test;

thread_local! {
    /// The log capture of the test running on this thread.
    static LOGS: RefCell<Option<Logs>> = const { RefCell::new(None) };
}

/// Runs `test` as one test of the kit and returns its output:
///
/// 1. on a fresh current-thread tokio runtime whose clock is paused, so every timer is
///    virtual and [`advance_until_idle`] / [`advance_to_next_timer`] work;
/// 2. with this test's `tracing` events captured ([`logs`]);
/// 3. then, whether `test` returned or panicked, stopping every server it
///    [`supervise`]d, the last first.
///
/// It panics, failing the test, if `test` panicked (with the same message) or if a
/// supervised server crashed (naming each one and its reason); in both cases it first
/// prints the captured events, as ExUnit's `@tag :capture_log` does.
///
/// ```
/// use genserver_runtime::testing;
/// use std::time::Duration;
///
/// let waited = testing::run(async {
///     let start = tokio::time::Instant::now();
///     tokio::time::sleep(Duration::from_secs(3600)).await; // virtual: no real wait
///     start.elapsed()
/// });
/// assert_eq!(waited, Duration::from_secs(3600));
/// ```
pub fn run<F: Future>(test: F) -> F::Output {
    let runtime = clock::runtime();
    let _on_kit_runtime = clock::OnKitRuntime::enter();
    let (logs, _capturing) = Logs::install();
    let _logs = CurrentLogs::enter(logs.clone());
    let _scope = supervised::Scope::enter();
    let (outcome, crashes) = runtime.block_on(async {
        let outcome = crate::panic::catch_panic(test).await;
        (outcome, supervised::stop_all().await)
    });
    let failure = match &outcome {
        Err(message) => Some(message.to_string()),
        Ok(_) if !crashes.is_empty() => {
            Some(format!("servers the test supervised crashed:\n  {}", crashes.join("\n  ")))
        }
        Ok(_) => None,
    };
    if let Some(failure) = failure {
        print_logs(&logs);
        std::panic::resume_unwind(Box::new(failure));
    }
    match outcome {
        Ok(output) => output,
        Err(_) => unreachable!("a panicked test failed above"),
    }
}

/// The `tracing` events of the test running on this thread so far (ExUnit:
/// `capture_log`). Panics outside [`run`].
///
/// ```
/// use genserver_runtime::prelude::*;
/// use genserver_runtime::testing;
///
/// pub struct Fragile;
///
/// #[genserver]
/// impl Fragile {
///     #[cast]
///     fn break_it(&mut self) {
///         panic!("snapped");
///     }
/// }
///
/// testing::run(async {
///     let fragile = Fragile::start(Fragile).await.unwrap();
///     fragile.break_it();
///     fragile.exited().await;
///     let reports = testing::logs().crash_reports();
///     assert_eq!(reports.len(), 1);
///     assert_eq!(reports[0].fields.get("reason"), Some("panicked: snapped"));
/// });
/// ```
pub fn logs() -> Logs {
    LOGS.with(|logs| logs.borrow().clone()).expect(
        "testing::logs needs the test kit's runtime: write the test as `#[genserver_runtime::testing::test] \
         async fn` or run its body with `genserver_runtime::testing::run`",
    )
}

/// Makes `logs` what [`logs`] returns on this thread until dropped.
struct CurrentLogs(());

impl CurrentLogs {
    fn enter(logs: Logs) -> Self {
        LOGS.with(|current| *current.borrow_mut() = Some(logs));
        CurrentLogs(())
    }
}

impl Drop for CurrentLogs {
    fn drop(&mut self) {
        LOGS.with(|current| *current.borrow_mut() = None);
    }
}

/// Prints a failed test's captured events, where the test harness shows them.
fn print_logs(logs: &Logs) {
    let events = logs.events();
    if events.is_empty() {
        return;
    }
    eprintln!("the test's captured events:");
    for event in events {
        eprintln!("  {event}");
    }
}
