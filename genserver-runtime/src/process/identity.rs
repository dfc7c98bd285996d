//! Which server is running on this thread: the identity lent to a server's future for
//! each poll.
//!
//! A call from a server to itself would wait forever for its own reply, and
//! `start_link` links the new server with the caller: both need to know whether the
//! code runs in a server, and which. [`as_server`] wraps a server's future so that each
//! poll lends it the server's identity through a thread-local, and takes it back after.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use super::{Control, Process};
use crate::ServerId;

thread_local! {
    /// The server being polled on this thread, if any: lent by [`AsServer`] for each
    /// poll of a server's future.
    static CURRENT: Cell<Option<Weak<dyn Control>>> = const { Cell::new(None) };
}

pin_project_lite::pin_project! {
    /// A future that runs as a server: while it is polled, the calling-self checks and
    /// `start_link` see that server as the current one.
    ///
    /// What tokio's `task_local!` would do, in fewer bytes per server and less work per
    /// poll: the identity is moved into the thread-local for the poll and back after it.
    pub(crate) struct AsServer<F> {
        me: Option<Weak<dyn Control>>,
        #[pin]
        future: F,
    }
}

/// Runs `future` as the server whose process is `me`.
pub(crate) fn as_server<F: Future>(me: Weak<dyn Control>, future: F) -> AsServer<F> {
    AsServer { me: Some(me), future }
}

impl<F: Future> Future for AsServer<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let mut future = this.future;
        // The poll runs inside the thread-local's access, so that the identity is lent and
        // taken back through one lookup.
        let lent = CURRENT.try_with(|current| {
            let outer = current.replace(this.me.take());
            // Restored even if the poll panics, so that no other task inherits the identity.
            let _restore = Restore { current, me: &mut *this.me, outer };
            future.as_mut().poll(cx)
        });
        // Fails only while the thread is exiting: then the future runs without an identity.
        lent.unwrap_or_else(|_| future.poll(cx))
    }
}

/// Puts the outer identity back after a poll, and this server's back into its future.
struct Restore<'a> {
    current: &'a Cell<Option<Weak<dyn Control>>>,
    me: &'a mut Option<Weak<dyn Control>>,
    outer: Option<Weak<dyn Control>>,
}

impl Drop for Restore<'_> {
    #[inline]
    fn drop(&mut self) {
        *self.me = self.current.replace(self.outer.take());
    }
}

/// Reads the current server's identity without taking it; `R::default()` while the
/// thread is exiting.
fn with_current<R: Default>(read: impl FnOnce(Option<&Weak<dyn Control>>) -> R) -> R {
    CURRENT
        .try_with(|current| {
            let me = current.take();
            let result = read(me.as_ref());
            current.set(me);
            result
        })
        .unwrap_or_default()
}

/// `true` when this code runs in the task of the server whose process is `process`.
pub(crate) fn is_current(process: &Process) -> bool {
    with_current(|me| me.is_some_and(|me| Weak::ptr_eq(me, &process.control)))
}

/// The server whose task is running this code, if any.
pub(crate) fn current_server() -> Option<ServerId> {
    current_process().map(|process| process.process().id())
}

/// The process of the server whose task is running this code, if any.
pub(crate) fn current_process() -> Option<Arc<dyn Control>> {
    with_current(|me| me.and_then(Weak::upgrade))
}
