//! Helpers shared by the integration tests, included by each with `mod common;`: the
//! [`Log`] of what happened, [`poll::poll_once`], [`hold_in_handler`], [`failure_of`], the
//! `tracing` capture ([`capture`], the test kit's), the supervised worker of the supervisor
//! tests ([`supervision`]) and the size and deadline of the stress tests ([`stress`]).

// Every test binary compiles its own copy of this module and uses a part of it; what one
// binary leaves unused is not dead code for the others.
#![allow(dead_code)]

pub mod capture;
pub mod stress;
pub mod supervision;

// The examples' tests poll a call once the same way: one copy serves both.
#[path = "../../examples/support/poll.rs"]
pub mod poll;

use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

/// What happened to the servers of a test, in order; shared between the test and its
/// servers.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    pub fn push(&self, entry: impl Into<String>) {
        self.0.lock().expect("log lock").push(entry.into());
    }

    /// Everything logged so far.
    pub fn entries(&self) -> Vec<String> {
        self.0.lock().expect("log lock").clone()
    }

    /// Everything logged since the last `take`.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().expect("log lock"))
    }
}

/// Keeps a server inside a handler: `start` sends the request that enters it, given the
/// sender the handler signals on once it has entered and the gate it then waits for.
/// Returns once the handler has entered, with the sender that opens the gate (dropping
/// it opens it too).
pub async fn hold_in_handler(
    start: impl FnOnce(oneshot::Sender<()>, oneshot::Receiver<()>),
) -> oneshot::Sender<()> {
    let (entered_tx, entered) = oneshot::channel();
    let (open, gate) = oneshot::channel();
    start(entered_tx, gate);
    entered.await.expect("the handler signals that it entered");
    open
}

/// The message of the panic a kit test fails with: `test` run by
/// [`genserver_runtime::testing::run`], for the tests of the kit's failure messages.
pub fn failure_of(test: impl std::future::Future<Output = ()>) -> String {
    let run = std::panic::AssertUnwindSafe(|| genserver_runtime::testing::run(test));
    let payload = std::panic::catch_unwind(run).expect_err("the test fails");
    payload.downcast_ref::<String>().cloned().expect("a text message")
}
