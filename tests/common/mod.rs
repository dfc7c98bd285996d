//! Helpers shared by the integration tests. Each test binary uses a part of them.
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;

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

/// Polls `future` once, so that a call or a stop puts its request in the mailbox without
/// waiting for the answer. `Some` if it already finished.
pub async fn poll_once<F: Future + Unpin>(future: &mut F) -> Option<F::Output> {
    std::future::poll_fn(|cx| {
        Poll::Ready(match Pin::new(&mut *future).poll(cx) {
            Poll::Ready(output) => Some(output),
            Poll::Pending => None,
        })
    })
    .await
}
