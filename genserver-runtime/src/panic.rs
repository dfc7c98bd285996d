//! Panics in user code: how the runtime catches them and says what they were.
//!
//! A handler's panic is caught around the server's loop ([`catch_panic`]) and becomes
//! the server's exit reason, [`ExitReason::Panic`](crate::ExitReason::Panic), with the
//! panic's message ([`panic_message`]). A closure the runtime calls while it announces an
//! exit or changes a registration (a monitor's, a trap's, a registry listener) runs under
//! [`contain_panic`], which logs the panic and lets the runtime finish its work.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

pin_project_lite::pin_project! {
    /// Polls a future, turning a panic inside it into `Err(panic message)`.
    ///
    /// A combinator rather than an `async fn`: an `async fn` taking the future by value
    /// would hold it twice in the server task's state.
    pub(crate) struct CatchPanic<F> {
        #[pin]
        future: F,
    }
}

/// Wraps `future` so that a panic inside it becomes `Err(panic message)`.
pub(crate) fn catch_panic<F: Future>(future: F) -> CatchPanic<F> {
    CatchPanic { future }
}

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, Arc<str>>;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let future = self.project().future;
        match std::panic::catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(panic_message(payload.as_ref()))),
        }
    }
}

/// The message a panic was raised with, or a placeholder for a payload that is not a
/// string.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> Arc<str> {
    if let Some(message) = payload.downcast_ref::<&str>() {
        Arc::from(*message)
    } else if let Some(message) = payload.downcast_ref::<String>() {
        Arc::from(message.as_str())
    } else {
        Arc::from("a panic with a non-string payload")
    }
}

/// Runs `f`, a closure of the user's that the runtime calls while a server's exit is
/// announced or a registration changes: a monitor's or a trap's closure, a registry
/// listener. A panic in it is logged and goes no further, dropping only what `f` was to
/// deliver: the exit must still be announced in full (its DOWNs, exit signals and
/// waiters), and a registration must complete.
pub(crate) fn contain_panic(what: &'static str, f: impl FnOnce()) {
    if let Err(payload) = std::panic::catch_unwind(AssertUnwindSafe(f)) {
        let message = panic_message(payload.as_ref());
        tracing::error!(panic = %message, "{what} panicked; what it was to deliver is dropped");
    }
}
