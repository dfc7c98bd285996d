//! Calls: replies, timeouts (default, per call, none), and every way a call can fail:
//! no server, the server exiting during the call, a server calling itself. Late replies
//! are dropped without harm.
//!
//! Every test but the last runs on a paused clock: time only moves when every task is
//! waiting, and then straight to the next timer, so durations are exact. The last runs
//! on a multi-thread runtime, where a call that wakes the server first yields to it.

mod common;
use common::poll::poll_once;

use std::future::IntoFuture;

use genserver_runtime::prelude::*;
use genserver_runtime::{CallFuture, DEFAULT_CALL_TIMEOUT};
use tokio::sync::oneshot;
use tokio::time::Instant;

/// A server that answers at once, later, never, or not at all.
pub struct Desk {
    /// A caller kept waiting by `hold`.
    held: Option<ReplyTo<u32>>,
}

#[genserver]
impl Desk {
    #[call]
    fn echo(&self, n: u32) -> u32 {
        n
    }

    /// Keeps the caller waiting: stores its reply channel without answering.
    #[call]
    fn hold(&mut self, from: ReplyTo<u32>) -> NoReply {
        self.held = Some(from);
        NoReply::ok()
    }

    /// Whether the held caller is still waiting; `None` if no caller is held.
    #[call]
    fn held_is_waiting(&self) -> Option<bool> {
        self.held.as_ref().map(ReplyTo::is_waiting)
    }

    /// Answers the held caller with `value`; `false` if no caller was held.
    #[call]
    fn release(&mut self, value: u32) -> bool {
        match self.held.take() {
            Some(from) => {
                from.reply(value);
                true
            }
            None => false,
        }
    }

    /// Drops the reply channel without answering.
    #[call]
    fn forget(&mut self, from: ReplyTo<u32>) -> NoReply {
        drop(from);
        NoReply::ok()
    }

    /// Answers from another task, `delay` later.
    #[call]
    fn answer_later(&mut self, delay: Duration, value: u32, from: ReplyTo<u32>) -> NoReply {
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            from.reply(value);
        });
        NoReply::ok()
    }

    /// Says it has started, then stays in the handler until `gate` opens.
    #[call]
    async fn block(&mut self, entered: oneshot::Sender<()>, gate: oneshot::Receiver<()>) -> u32 {
        let _ = entered.send(());
        let _ = gate.await;
        7
    }

    /// Calls this very server through its own handle.
    #[call]
    async fn call_self(&self, cx: &mut Context<Self>) -> Result<u32, CallError> {
        cx.me().echo(1).await
    }

    #[call]
    fn explode(&mut self, message: String) -> u32 {
        panic!("{message}")
    }

    /// Answers the held caller with `value` through `try_reply`: `None` if no caller was
    /// held, `Some(Err(value))` if the caller had given up.
    #[call]
    fn try_release(&mut self, value: u32) -> Option<Result<(), u32>> {
        self.held.take().map(|from| from.try_reply(value))
    }
}

async fn start_desk() -> DeskRef {
    Desk::start(Desk { held: None }).await.expect("Desk starts")
}

/// Starts `desk.block(..)` and returns once the server is inside the handler, with the
/// call in flight and the sender that lets the handler finish.
async fn enter_block(desk: &DeskRef) -> (CallFuture<Desk, u32>, oneshot::Sender<()>) {
    let (entered_tx, entered) = oneshot::channel();
    let (open, gate) = oneshot::channel();
    let mut call = desk.block(entered_tx, gate).into_future();
    assert!(poll_once(&mut call).await.is_none());
    // Drive the call while waiting for the handler to say it has started.
    tokio::select! {
        biased;
        _ = &mut call => panic!("block returned before its gate opened"),
        started = entered => started.expect("the handler signals that it entered"),
    }
    (call, open)
}

#[tokio::test(start_paused = true)]
async fn call_returns_the_handlers_value() {
    let desk = start_desk().await;
    assert_eq!(desk.echo(42).await, Ok(42));
}

#[tokio::test(start_paused = true)]
async fn unanswered_call_times_out_after_exactly_five_seconds_by_default() {
    assert_eq!(DEFAULT_CALL_TIMEOUT, Duration::from_secs(5));
    let desk = start_desk().await;
    let start = Instant::now();
    assert_eq!(desk.hold().await, Err(CallError::Timeout(Duration::from_secs(5))));
    assert_eq!(start.elapsed(), Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn per_call_timeout_replaces_the_default() {
    let desk = start_desk().await;
    let start = Instant::now();
    let timeout = Duration::from_millis(250);
    assert_eq!(desk.hold().timeout(timeout).await, Err(CallError::Timeout(timeout)));
    assert_eq!(start.elapsed(), timeout);
    // A longer timeout than the default is honoured too.
    let start = Instant::now();
    let timeout = Duration::from_secs(60);
    assert_eq!(desk.hold().timeout(timeout).await, Err(CallError::Timeout(timeout)));
    assert_eq!(start.elapsed(), timeout);
}

#[tokio::test(start_paused = true)]
async fn call_with_no_timeout_waits_an_hour_for_a_late_reply() {
    let desk = start_desk().await;
    let mut call = desk.hold().no_timeout().into_future();
    assert!(poll_once(&mut call).await.is_none());
    tokio::time::sleep(Duration::from_secs(3600)).await;
    // A call with a deadline would now be ready with a timeout error.
    assert!(poll_once(&mut call).await.is_none(), "still waiting after an hour");
    assert_eq!(desk.release(9).await, Ok(true));
    assert_eq!(call.await, Ok(9));
}

#[tokio::test(start_paused = true)]
async fn call_timeout_too_large_for_the_clock_waits_like_no_timeout() {
    let desk = start_desk().await;
    let mut call = desk.hold().timeout(Duration::MAX).into_future();
    assert!(poll_once(&mut call).await.is_none());
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert!(poll_once(&mut call).await.is_none(), "still waiting after an hour");
    assert_eq!(desk.release(9).await, Ok(true));
    assert_eq!(call.await, Ok(9));
}

#[tokio::test(start_paused = true)]
async fn deferred_reply_from_another_task_reaches_the_caller() {
    let desk = start_desk().await;
    let start = Instant::now();
    assert_eq!(desk.answer_later(Duration::from_secs(2), 5).await, Ok(5));
    assert_eq!(start.elapsed(), Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn handler_that_drops_its_reply_to_leaves_the_caller_waiting_until_its_timeout() {
    let desk = start_desk().await;
    let start = Instant::now();
    let timeout = Duration::from_secs(1);
    assert_eq!(desk.forget().timeout(timeout).await, Err(CallError::Timeout(timeout)));
    assert_eq!(start.elapsed(), timeout);
    assert_eq!(desk.echo(1).await, Ok(1), "the server is still running");
}

#[tokio::test(start_paused = true)]
async fn call_to_stopped_server_returns_no_server_at_once() {
    let desk = start_desk().await;
    desk.stop(ExitReason::Normal, Duration::from_secs(1)).await.expect("stops");
    let start = Instant::now();
    assert_eq!(desk.echo(1).await, Err(CallError::NoServer));
    assert_eq!(desk.echo(1).no_timeout().await, Err(CallError::NoServer));
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn call_to_killed_server_returns_no_server_at_once() {
    let desk = start_desk().await;
    desk.kill();
    assert_eq!(desk.exited().await, ExitReason::Killed);
    let start = Instant::now();
    assert_eq!(desk.echo(1).no_timeout().await, Err(CallError::NoServer));
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn call_in_progress_when_another_client_kills_the_server_returns_exited_killed() {
    let desk = start_desk().await;
    let (call, _open) = enter_block(&desk).await;
    let other_client = desk.clone();
    other_client.kill();
    let start = Instant::now();
    assert_eq!(call.await, Err(CallError::Exited(ExitReason::Killed)));
    assert_eq!(start.elapsed(), Duration::ZERO, "the caller learns of the kill at once");
}

#[tokio::test(start_paused = true)]
async fn call_with_no_timeout_returns_exited_when_the_server_is_killed() {
    let desk = start_desk().await;
    let mut held = desk.hold().no_timeout().into_future();
    assert!(poll_once(&mut held).await.is_none());
    desk.kill();
    assert_eq!(held.await, Err(CallError::Exited(ExitReason::Killed)));
}

#[tokio::test(start_paused = true)]
async fn call_queued_behind_a_stop_returns_exited_with_the_stop_reason() {
    let desk = start_desk().await;
    let (in_progress, open) = enter_block(&desk).await;
    let reason = ExitReason::shutdown_with("maintenance");
    let other_client = desk.clone();
    let mut stop = std::pin::pin!(other_client.stop(reason.clone(), Duration::from_secs(1)));
    assert!(poll_once(&mut stop).await.is_none(), "the stop is queued");
    let mut queued = desk.echo(3).into_future();
    assert!(poll_once(&mut queued).await.is_none(), "the call is queued behind the stop");
    open.send(()).expect("the handler waits for its gate");
    assert_eq!(in_progress.await, Ok(7), "the call in progress finishes first");
    assert_eq!(stop.await, Ok(()));
    assert_eq!(queued.await, Err(CallError::Exited(reason)));
}

#[tokio::test(start_paused = true)]
async fn deferred_call_still_unanswered_when_the_server_stops_returns_exited() {
    let desk = start_desk().await;
    let mut held = desk.hold().no_timeout().into_future();
    assert!(poll_once(&mut held).await.is_none());
    desk.stop(ExitReason::Shutdown, Duration::from_secs(1)).await.expect("stops");
    assert_eq!(held.await, Err(CallError::Exited(ExitReason::Shutdown)));
}

#[tokio::test(start_paused = true)]
async fn call_answered_by_another_task_returns_exited_at_once_when_the_server_dies_first() {
    let desk = start_desk().await;
    // The handler hands the reply channel to a task that answers in ten seconds.
    let mut call = desk.answer_later(Duration::from_secs(10), 5).no_timeout().into_future();
    assert!(poll_once(&mut call).await.is_none());
    assert_eq!(desk.echo(1).await, Ok(1), "answer_later has been handled");
    desk.kill();
    let start = Instant::now();
    // As in OTP, the caller learns of the exit at once rather than waiting on the task.
    assert_eq!(call.await, Err(CallError::Exited(ExitReason::Killed)));
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn call_whose_handler_panics_returns_exited_with_the_panic_message() {
    let desk = start_desk().await;
    assert_eq!(desk.explode("boom".into()).await, Err(CallError::Exited(ExitReason::Panic("boom".into()))));
    assert_eq!(desk.echo(1).await, Err(CallError::NoServer));
}

#[tokio::test(start_paused = true)]
async fn server_calling_itself_gets_calling_self_and_keeps_running() {
    let desk = start_desk().await;
    let start = Instant::now();
    assert_eq!(desk.call_self().await, Ok(Err(CallError::CallingSelf)));
    assert_eq!(start.elapsed(), Duration::ZERO, "no deadlock until a timeout");
    assert_eq!(desk.echo(2).await, Ok(2));
}

#[tokio::test(start_paused = true)]
async fn reply_to_is_waiting_while_its_caller_waits() {
    let desk = start_desk().await;
    let mut held = desk.hold().into_future();
    assert!(poll_once(&mut held).await.is_none());
    assert_eq!(desk.held_is_waiting().await, Ok(Some(true)));
    assert_eq!(desk.release(4).await, Ok(true));
    assert_eq!(held.await, Ok(4));
}

#[tokio::test(start_paused = true)]
async fn reply_after_the_caller_timed_out_is_dropped_and_the_server_keeps_working() {
    let desk = start_desk().await;
    let timeout = Duration::from_secs(1);
    assert_eq!(desk.hold().timeout(timeout).await, Err(CallError::Timeout(timeout)));
    assert_eq!(desk.held_is_waiting().await, Ok(Some(false)), "nobody waits for the reply any more");
    assert_eq!(desk.release(5).await, Ok(true), "replying to a caller that left does not panic");
    assert_eq!(desk.echo(6).await, Ok(6));
}

#[tokio::test(start_paused = true)]
async fn reply_to_stops_waiting_when_the_caller_drops_its_call() {
    let desk = start_desk().await;
    let mut held = desk.hold().into_future();
    assert!(poll_once(&mut held).await.is_none());
    drop(held);
    assert_eq!(desk.held_is_waiting().await, Ok(Some(false)));
    assert_eq!(desk.release(5).await, Ok(true));
}

#[tokio::test(start_paused = true)]
async fn try_reply_reaches_a_waiting_caller() {
    let desk = start_desk().await;
    let mut held = desk.hold().into_future();
    assert!(poll_once(&mut held).await.is_none());
    assert_eq!(desk.try_release(8).await, Ok(Some(Ok(()))));
    assert_eq!(held.await, Ok(8));
}

#[tokio::test(start_paused = true)]
async fn try_reply_hands_the_value_back_when_the_caller_timed_out() {
    let desk = start_desk().await;
    let timeout = Duration::from_secs(1);
    assert_eq!(desk.hold().timeout(timeout).await, Err(CallError::Timeout(timeout)));
    assert_eq!(desk.try_release(8).await, Ok(Some(Err(8))));
}

#[tokio::test(start_paused = true)]
async fn try_reply_hands_the_value_back_when_the_caller_dropped_its_call() {
    let desk = start_desk().await;
    let mut held = desk.hold().into_future();
    assert!(poll_once(&mut held).await.is_none());
    drop(held);
    assert_eq!(desk.try_release(8).await, Ok(Some(Err(8))));
}

#[tokio::test(start_paused = true)]
async fn call_that_timed_out_in_the_queue_is_still_handled_later_and_its_reply_dropped() {
    let desk = start_desk().await;
    let (in_progress, open) = enter_block(&desk).await;
    let timeout = Duration::from_millis(100);
    // The server is busy: this call waits in the mailbox until it gives up.
    let start = Instant::now();
    let mut in_progress = in_progress;
    tokio::select! {
        _ = &mut in_progress => panic!("the gate is still closed"),
        late = desk.hold().timeout(timeout) => assert_eq!(late, Err(CallError::Timeout(timeout))),
    }
    assert_eq!(start.elapsed(), timeout);
    open.send(()).expect("the handler waits for its gate");
    assert_eq!(in_progress.await, Ok(7));
    // The abandoned `hold` was still handled, after the block; its caller is gone.
    assert_eq!(desk.held_is_waiting().await, Ok(Some(false)));
}

#[tokio::test(start_paused = true)]
async fn concurrent_callers_each_get_their_own_reply() {
    let desk = start_desk().await;
    let callers: Vec<_> = (0..100)
        .map(|n| {
            let desk = desk.clone();
            tokio::spawn(async move { desk.echo(n).await })
        })
        .collect();
    for (n, caller) in (0..100).zip(callers) {
        assert_eq!(caller.await.expect("caller task"), Ok(n));
    }
}

/// On a multi-thread runtime a call that woke the parked server yields to it, instead of
/// re-queueing itself ahead of it: every reply still arrives, and a call the server never
/// answers still ends at its timeout, not before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_multi_thread_runtime_calls_that_wake_the_server_are_answered_and_still_time_out() {
    // The client runs in a task, on a worker: the test's own body runs outside them.
    let client = tokio::spawn(async {
        let desk = start_desk().await;
        for n in 0..1_000 {
            assert_eq!(desk.echo(n).await, Ok(n));
        }
        let timeout = Duration::from_millis(50);
        let start = std::time::Instant::now();
        assert_eq!(desk.hold().timeout(timeout).await, Err(CallError::Timeout(timeout)));
        assert!(start.elapsed() >= timeout, "the call gave up after {:?}", start.elapsed());
        // The held caller is gone: its reply comes back.
        assert_eq!(desk.try_release(9).await, Ok(Some(Err(9))));
    });
    client.await.expect("the client's assertions hold");
}
