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

/// How many times a call re-queues its task, giving the server turns to answer, before
/// arming its deadline's timer: a tokio timer costs more than a fast call. On a
/// current-thread runtime the server, woken by the send, runs within one turn; on a
/// multi-thread one, tokio runs a task re-queued from its own poll up to three times in
/// a row before others. The deadline itself is fixed when the call is sent.
fn turns_before_timer() -> usize {
    match tokio::runtime::Handle::try_current().map(|runtime| runtime.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::CurrentThread) => 1,
        _ => 4,
    }
}

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
/// Nothing is sent until it is awaited.
#[must_use = "a call does nothing until it is awaited"]
pub struct Call<'a, S: GenServer, R> {
    server: &'a ServerRef<S>,
    msg: S::Msg,
    pending: oneshot::Receiver<R>,
    timeout: Option<Duration>,
}

impl<'a, S: GenServer, R: Send + 'static> Call<'a, S, R> {
    pub(crate) fn new(server: &'a ServerRef<S>, msg: S::Msg, pending: oneshot::Receiver<R>) -> Self {
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

    async fn run(self) -> Result<R, CallError> {
        let Call { server, msg, mut pending, timeout } = self;
        let process: &crate::Process = server;
        if crate::process::current_server() == Some(process.id()) {
            return Err(CallError::CallingSelf);
        }
        if !process.is_alive() {
            return Err(CallError::NoServer);
        }
        let timed_out = || CallError::Timeout(timeout.unwrap_or(Duration::MAX));
        let deadline_from_now =
            || timeout.map(|timeout| crate::timer::deadline_after(Instant::now(), timeout));
        // The deadline is read from the clock only when something has to wait for it: a
        // full bounded mailbox, or a reply that is not there after the first turns. It
        // then leaves out those turns, a few microseconds.
        let mut deadline = None;
        match server.mailbox().try_push(Envelope::Msg(msg)) {
            Ok(()) => {}
            // The server was running when the call was made (checked above) and exited
            // since: its reason is set before its mailbox closes.
            Err((SendError::Closed, _)) => {
                return Err(process.exit_reason().map_or(CallError::NoServer, CallError::Exited));
            }
            Err((SendError::Full, msg)) => {
                deadline = deadline_from_now();
                match within(deadline, server.mailbox().send(msg)).await {
                    None => return Err(timed_out()),
                    Some(Err(_)) => {
                        return Err(process.exit_reason().map_or(CallError::NoServer, CallError::Exited));
                    }
                    Some(Ok(())) => {}
                }
            }
        }
        if timeout.is_some() {
            // Re-queue this task a few times instead of arming the timer: the server runs
            // meanwhile (tokio runs a task woken from its own poll after at most three
            // others), and the reply, once sent, wakes this task anyway.
            let turns_allowed = turns_before_timer();
            let mut turns = 0;
            let early = std::future::poll_fn(|cx| match Pin::new(&mut pending).poll(cx) {
                Poll::Ready(reply) => Poll::Ready(Some(reply)),
                Poll::Pending if turns < turns_allowed => {
                    turns += 1;
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
                Poll::Pending => Poll::Ready(None),
            })
            .await;
            match early {
                Some(Ok(reply)) => return Ok(reply),
                // The ReplyTo was dropped unanswered (the receiver is now spent): the
                // server is exiting, or the handler dropped it. Wait for the exit until
                // the deadline, as OTP's monitor would.
                Some(Err(_)) => {
                    return match within(deadline.or_else(deadline_from_now), process.exited()).await {
                        Some(reason) => Err(CallError::Exited(reason)),
                        None => Err(CallError::Timeout(timeout.unwrap_or(Duration::MAX))),
                    };
                }
                None => {}
            }
        }
        // Boxed: the slow path is large and most calls never take it.
        let deadline = deadline.or_else(deadline_from_now);
        Box::pin(wait_for_reply(process, pending, deadline, timeout)).await
    }
}

/// Waits for the reply or the server's exit, whichever comes first, as OTP's monitor
/// does: a `ReplyTo` handed to another task must not keep the caller waiting on a dead
/// server.
async fn wait_for_reply<R>(
    process: &crate::Process,
    mut pending: oneshot::Receiver<R>,
    deadline: Option<Instant>,
    timeout: Option<Duration>,
) -> Result<R, CallError> {
    let timed_out = || CallError::Timeout(timeout.unwrap_or(Duration::MAX));
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
    match answer {
        // A reply sent before the exit still counts: the reply comes before the DOWN.
        Some(Err(CallError::Exited(reason))) => pending.try_recv().map_err(|_| CallError::Exited(reason)),
        Some(answer) => answer,
        // A reply that raced in at the deadline still counts (OTP's final `after 0`).
        None => pending.try_recv().map_err(|_| timed_out()),
    }
}

/// Runs `future` until `deadline`; `None` if the deadline came first.
async fn within<F: Future>(deadline: Option<Instant>, future: F) -> Option<F::Output> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, future).await.ok(),
        None => Some(future.await),
    }
}

impl<'a, S: GenServer, R: Send + 'static> IntoFuture for Call<'a, S, R> {
    type Output = Result<R, CallError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}
