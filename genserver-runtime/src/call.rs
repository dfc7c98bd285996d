//! Calls: a request that waits for its reply.
//!
//! The caller builds the request around a [`ReplyTo`] (a one-shot channel) and awaits a
//! [`Call`]. The server answers through the `ReplyTo`, at once or later. A call ends with
//! the reply, or with a [`CallError`] that says why there is none: the timeout passed
//! (default 5 s, as in OTP), the server was not running, it exited before replying, or it
//! called itself. A reply that comes after the caller gave up is dropped: nothing waits
//! for it and nothing leaks.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::mailbox::{Envelope, SendError};
use crate::{CallError, GenServer, ServerRef};

/// How long a call waits for its reply unless told otherwise: 5 seconds, as in OTP.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a call's reply goes (OTP: the `from` of `handle_call`).
///
/// A call handler that takes a `ReplyTo<R>` argument and returns
/// [`NoReply`](crate::NoReply) answers later: store the `ReplyTo` and call
/// [`reply`](ReplyTo::reply) from any handler or task. Dropping it without replying leaves
/// the caller waiting until its timeout, as in OTP.
pub struct ReplyTo<R> {
    tx: oneshot::Sender<R>,
}

impl<R> ReplyTo<R> {
    pub(crate) fn channel() -> (ReplyTo<R>, oneshot::Receiver<R>) {
        let (tx, rx) = oneshot::channel();
        (ReplyTo { tx }, rx)
    }

    /// Sends the reply. Never fails: if the caller has given up, the reply is dropped.
    pub fn reply(self, value: R) {
        let _ = self.tx.send(value);
    }

    /// Sends the reply, or hands it back as `Err(value)` if the caller has given up (its
    /// call timed out or was dropped), for replies that must not be lost: a pooled
    /// connection then goes to the next caller. `Ok` means the reply reached the call's
    /// channel. A call that times out at that very moment still returns it, but a call
    /// future dropped at that moment drops it unread, so a value that must never be lost
    /// should also put itself back when dropped.
    pub fn try_reply(self, value: R) -> Result<(), R> {
        self.tx.send(value)
    }

    /// `true` while the caller is still waiting for this reply.
    pub fn is_waiting(&self) -> bool {
        !self.tx.is_closed()
    }
}

impl<R> fmt::Debug for ReplyTo<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyTo").field("waiting", &self.is_waiting()).finish()
    }
}

/// A call in the making: set a [`timeout`](Call::timeout), then `.await` it for the reply.
///
/// Nothing is sent until it is awaited. A call owns what it needs (a clone of the
/// server's handle, the message and its reply channel), so it borrows nothing: it can be
/// handed to `tokio::spawn`, a `JoinSet` or a `select!` that outlives the handle it came
/// from.
///
/// ```
/// use genserver_runtime::prelude::*;
///
/// pub struct Doubler;
///
/// #[genserver]
/// impl Doubler {
///     #[call]
///     fn double(&self, n: u64) -> u64 {
///         2 * n
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let doubler = Doubler::start(Doubler).await?;
/// let mut calls = tokio::task::JoinSet::new();
/// for n in 1..=3 {
///     // The call's future is 'static: no `async move` around a clone of the handle.
///     calls.spawn(doubler.double(n).timeout(Duration::from_secs(1)).into_future());
/// }
/// drop(doubler);
/// let mut answers = calls.join_all().await.into_iter().collect::<Result<Vec<_>, _>>()?;
/// answers.sort();
/// assert_eq!(answers, [2, 4, 6]);
/// # Ok(())
/// # }
/// ```
#[must_use = "a call does nothing until it is awaited"]
pub struct Call<S: GenServer, R> {
    server: ServerRef<S>,
    msg: S::Msg,
    pending: oneshot::Receiver<R>,
    timeout: Option<Duration>,
}

impl<S: GenServer, R: Send + 'static> Call<S, R> {
    pub(crate) fn new(server: ServerRef<S>, msg: S::Msg, pending: oneshot::Receiver<R>) -> Self {
        Call { server, msg, pending, timeout: Some(DEFAULT_CALL_TIMEOUT) }
    }

    /// Waits at most `timeout` for the reply instead of the default 5 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Waits for the reply as long as it takes (OTP: `:infinity`). The call still ends at
    /// once if the server exits.
    pub fn no_timeout(mut self) -> Self {
        self.timeout = None;
        self
    }
}

/// The future of an awaited [`Call`].
///
/// The first poll checks the server and queues the request. Then the call waits for the
/// reply, re-queueing its task a few times before it arms the deadline's timer, because
/// a tokio timer costs more than a fast call. A late reply, a full bounded mailbox and a
/// dropped `ReplyTo` take a slower, boxed path that also watches the server's exit.
///
/// It owns the server's handle, so it is `'static`: spawn it, or keep it in a `JoinSet`.
#[must_use = "futures do nothing unless polled"]
pub struct CallFuture<S: GenServer, R> {
    server: ServerRef<S>,
    msg: Option<S::Msg>,
    pending: Option<oneshot::Receiver<R>>,
    timeout: Option<Duration>,
    turns: crate::wait::Turns,
    slow: Option<SlowPath<R>>,
}

/// The boxed rest of a call that has to wait on more than its reply channel; it owns a
/// clone of the server's handle.
type SlowPath<R> = Pin<Box<dyn Future<Output = Result<R, CallError>> + Send>>;

// No field is pinned in place: the slow path is pinned in its own box.
impl<S: GenServer, R> Unpin for CallFuture<S, R> {}

impl<S: GenServer, R: Send + 'static> Future for CallFuture<S, R> {
    type Output = Result<R, CallError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let process: &crate::Process = &this.server;
        let timeout = this.timeout;
        if let Some(msg) = this.msg.take() {
            if crate::process::is_current(process) {
                return Poll::Ready(Err(CallError::CallingSelf));
            }
            if !process.is_alive() {
                return Poll::Ready(Err(CallError::NoServer));
            }
            match this.server.mailbox().push(crate::observe::call_envelope(msg)) {
                Ok(true) => this.turns.woke_server(),
                Ok(false) => {}
                Err((SendError::Closed, _)) => return Poll::Ready(Err(exited_or_gone(process))),
                Err((SendError::Full, envelope)) => {
                    let pending = this.pending.take().expect("a call's reply channel");
                    this.slow =
                        Some(Box::pin(send_and_wait(this.server.clone(), envelope, pending, timeout)));
                }
            }
        }
        if let Some(slow) = &mut this.slow {
            return slow.as_mut().poll(cx);
        }
        let pending = this.pending.as_mut().expect("a call polled after it completed");
        // While the call re-queues itself, looking at the channel is enough: the task runs
        // again anyway. Only a yield, or no timeout, needs the reply to wake it.
        let received = if timeout.is_none() || this.turns.next_is_yield() {
            Pin::new(pending).poll(cx).map_err(drop)
        } else {
            match pending.try_recv() {
                Ok(reply) => Poll::Ready(Ok(reply)),
                Err(oneshot::error::TryRecvError::Empty) => Poll::Pending,
                Err(oneshot::error::TryRecvError::Closed) => Poll::Ready(Err(())),
            }
        };
        match received {
            Poll::Ready(Ok(reply)) => {
                this.pending = None;
                return Poll::Ready(Ok(reply));
            }
            // The ReplyTo was dropped unanswered (the receiver is now spent): the server
            // is exiting, or the handler dropped it. Wait for the exit until the deadline,
            // as OTP's monitor would.
            Poll::Ready(Err(_)) => {
                this.pending = None;
                let server = this.server.clone();
                this.slow = Some(Box::pin(exit_within(server, deadline_from_now(timeout), timeout)));
            }
            Poll::Pending => {
                if timeout.is_some() && this.turns.requeue(cx) {
                    return Poll::Pending;
                }
                // The deadline leaves out the turns above, a few microseconds.
                let pending = this.pending.take().expect("a call's reply channel");
                let deadline = deadline_from_now(timeout);
                let server = this.server.clone();
                this.slow = Some(Box::pin(wait_for_reply(server, pending, deadline, timeout)));
            }
        }
        this.slow.as_mut().expect("the slow path was just set").as_mut().poll(cx)
    }
}

/// A call to a full bounded mailbox: wait for room within the deadline, then for the reply.
async fn send_and_wait<S: GenServer, R>(
    server: ServerRef<S>,
    envelope: Envelope<S>,
    pending: oneshot::Receiver<R>,
    timeout: Option<Duration>,
) -> Result<R, CallError> {
    let deadline = deadline_from_now(timeout);
    match within(deadline, server.mailbox().send(envelope)).await {
        None | Some(Err(SendError::Full)) => Err(CallError::Full),
        Some(Err(SendError::Closed)) => Err(exited_or_gone(&server)),
        Some(Ok(())) => wait_for_reply(server, pending, deadline, timeout).await,
    }
}

/// Waits for the server to exit, until the deadline.
async fn exit_within<S: GenServer, R>(
    server: ServerRef<S>,
    deadline: Option<Instant>,
    timeout: Option<Duration>,
) -> Result<R, CallError> {
    match within(deadline, server.exited()).await {
        Some(reason) => Err(CallError::Exited(reason)),
        None => Err(timed_out(timeout)),
    }
}

/// When the caller stops waiting: the timeout from now, or never.
fn deadline_from_now(timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|timeout| crate::wait::deadline_after(Instant::now(), timeout))
}

fn timed_out(timeout: Option<Duration>) -> CallError {
    CallError::Timeout(timeout.unwrap_or(Duration::MAX))
}

/// A mailbox that refused a request closed after the server was seen running: it exited
/// meanwhile, and its reason is set before its mailbox closes.
fn exited_or_gone(process: &crate::Process) -> CallError {
    process.exit_reason().map_or(CallError::NoServer, CallError::Exited)
}

/// Waits for the reply or the server's exit, whichever comes first, as OTP's monitor
/// does: a `ReplyTo` handed to another task must not keep the caller waiting on a dead
/// server.
async fn wait_for_reply<S: GenServer, R>(
    server: ServerRef<S>,
    mut pending: oneshot::Receiver<R>,
    deadline: Option<Instant>,
    timeout: Option<Duration>,
) -> Result<R, CallError> {
    let process: &crate::Process = &server;
    let answer = within(deadline, async {
        tokio::select! {
            biased;
            reply = &mut pending => match reply {
                Ok(reply) => Ok(reply),
                // The ReplyTo was dropped unanswered: the server is exiting, or the
                // handler dropped it. Wait for the exit until the deadline.
                Err(_) => Err(CallError::Exited(process.exited().await)),
            },
            reason = process.exited() => Err(CallError::Exited(reason)),
        }
    })
    .await;
    // The channel is closed before its last look, so that a deferred reply sent from now
    // on is refused (`ReplyTo::try_reply` hands the value back) rather than lost.
    match answer {
        // A reply sent before the exit still counts: the reply comes before the DOWN.
        Some(Err(CallError::Exited(reason))) => {
            pending.close();
            pending.try_recv().map_err(|_| CallError::Exited(reason))
        }
        Some(answer) => answer,
        // A reply that raced in at the deadline still counts (OTP's final `after 0`).
        None => {
            pending.close();
            pending.try_recv().map_err(|_| timed_out(timeout))
        }
    }
}

/// Runs `future` until `deadline`; `None` if the deadline came first.
async fn within<F: Future>(deadline: Option<Instant>, future: F) -> Option<F::Output> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, future).await.ok(),
        None => Some(future.await),
    }
}

impl<S: GenServer, R: Send + 'static> IntoFuture for Call<S, R> {
    type Output = Result<R, CallError>;
    type IntoFuture = CallFuture<S, R>;

    fn into_future(self) -> Self::IntoFuture {
        let Call { server, msg, pending, timeout } = self;
        CallFuture {
            server,
            msg: Some(msg),
            pending: Some(pending),
            timeout,
            turns: crate::wait::Turns::new(),
            slow: None,
        }
    }
}
