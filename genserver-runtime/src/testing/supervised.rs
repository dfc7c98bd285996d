//! Servers a test owns (ExUnit: `start_supervised!`): stopped when the test ends, even
//! when it fails, and reported if they crashed while it ran.
//!
//! [`supervise`] adds a server to the current test's list; [`run`](super::run) stops the
//! list at the end in reverse order, as a supervisor stops its children: each with
//! `Shutdown` and [`STOP_TIMEOUT`] of virtual time, then a kill. A server of the list that
//! exited abnormally before the end (a panic, an error, a kill), or whose `terminate`
//! failed as it stopped, fails the test with its reason, unless the test said it expected
//! that with [`allow_crash`]. The list lives in the test's thread, which runs the kit's
//! current-thread runtime.

use std::cell::RefCell;
use std::ops::Deref;
use std::time::Duration;

use crate::{ExitReason, Process, ProcessRef, StopError};

/// How long the end of a test waits for each supervised server to stop before killing it.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// One server the test owns.
struct Owned {
    process: ProcessRef,
    crash_allowed: bool,
}

thread_local! {
    /// The servers of the test running on this thread; `None` outside [`super::run`].
    static OWNED: RefCell<Option<Vec<Owned>>> = const { RefCell::new(None) };
}

/// The list of the test running on this thread, from [`super::run`]'s start to its end.
pub(super) struct Scope(());

impl Scope {
    pub(super) fn enter() -> Self {
        OWNED.with(|owned| *owned.borrow_mut() = Some(Vec::new()));
        Scope(())
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        OWNED.with(|owned| *owned.borrow_mut() = None);
    }
}

fn with_owned<T>(what: &str, f: impl FnOnce(&mut Vec<Owned>) -> T) -> T {
    OWNED.with(|owned| match owned.borrow_mut().as_mut() {
        Some(list) => f(list),
        None => panic!(
            "{what} needs the test kit's runtime: write the test as `#[genserver_runtime::testing::test] async fn` \
             or run its body with `genserver_runtime::testing::run`"
        ),
    })
}

/// Makes the running test own `server`, and gives it back: it is stopped when the test
/// ends, and fails the test if it crashed meanwhile (ExUnit: `start_supervised!`).
///
/// ```
/// use genserver_runtime::prelude::*;
/// use genserver_runtime::testing;
///
/// pub struct Store(Vec<String>);
///
/// #[genserver]
/// impl Store {
///     #[call]
///     fn put(&mut self, item: String) -> usize {
///         self.0.push(item);
///         self.0.len()
///     }
///
///     #[terminate]
///     fn terminate(&mut self, reason: &ExitReason) {
///         assert_eq!(reason, &ExitReason::Shutdown);
///     }
/// }
///
/// let store = testing::run(async {
///     let store = testing::supervise(Store::start(Store(Vec::new())).await.unwrap());
///     assert_eq!(store.put("apple".into()).await.unwrap(), 1);
///     store
/// });
/// // The test's end stopped it, with `Shutdown`.
/// assert_eq!(store.exit_reason(), Some(ExitReason::Shutdown));
/// ```
pub fn supervise<H: Deref<Target = Process>>(server: H) -> H {
    let process = server.to_ref();
    with_owned("supervise", |owned| owned.push(Owned { process, crash_allowed: false }));
    server
}

/// Says that `server`, which the test owns, may exit abnormally: the test's end still
/// stops it, and no longer fails because of its exit. For a test that crashes a server on
/// purpose.
pub fn allow_crash(server: &Process) {
    with_owned("allow_crash", |owned| {
        for entry in owned.iter_mut().filter(|entry| entry.process.id() == server.id()) {
            entry.crash_allowed = true;
        }
    });
}

/// Stops every server the test owns, the last one first, and returns one line per server
/// that crashed: before the end, or in its `terminate`.
pub(super) async fn stop_all() -> Vec<String> {
    let owned = with_owned("the end of a test", std::mem::take);
    let mut crashes = Vec::new();
    for Owned { process, crash_allowed } in owned.into_iter().rev() {
        let crash = match process.exit_reason() {
            Some(reason) => reason.is_abnormal().then(|| format!("exited with `{reason}` during the test")),
            None => stop(&process).await,
        };
        if let Some(crash) = crash.filter(|_| !crash_allowed) {
            crashes.push(format!("{}: {crash}", describe(&process)));
        }
    }
    crashes
}

/// Stops `process` with `Shutdown`, killing it after [`STOP_TIMEOUT`]; what went wrong,
/// if anything did.
async fn stop(process: &Process) -> Option<String> {
    match process.stop(ExitReason::Shutdown, STOP_TIMEOUT).await {
        Ok(()) => None,
        Err(StopError::Timeout(timeout)) => {
            process.kill();
            process.exited().await;
            Some(format!("did not stop within {timeout:?} at the end of the test, and was killed"))
        }
        // It exited meanwhile, on its own or from a linked exit.
        Err(StopError::NoServer) => match process.exited().await {
            reason if reason.is_abnormal() => Some(format!("exited with `{reason}` during the test")),
            _ => None,
        },
        Err(StopError::ExitedWith(reason)) if reason.is_abnormal() => {
            Some(format!("exited with `{reason}` as the test's end stopped it"))
        }
        Err(_) => None,
    }
}

fn describe(process: &Process) -> String {
    match process.name() {
        Some(name) => format!("server {} (\"{name}\")", process.id()),
        None => format!("server {}", process.id()),
    }
}
