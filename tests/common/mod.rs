//! Helpers shared by the integration tests.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

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
