//! Polling a future once, for the examples' tests and (by `#[path]` from
//! `tests/common`) the integration tests: a call or a stop polled once has put its
//! request in the server's mailbox without waiting for the answer, so callers queued
//! this way arrive in a known order.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

/// Polls `future` once; `Some` if it already finished.
pub async fn poll_once<F: Future + Unpin>(future: &mut F) -> Option<F::Output> {
    std::future::poll_fn(|cx| {
        Poll::Ready(match Pin::new(&mut *future).poll(cx) {
            Poll::Ready(output) => Some(output),
            Poll::Pending => None,
        })
    })
    .await
}
