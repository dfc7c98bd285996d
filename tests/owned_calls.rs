//! A call owns what it needs: its future is `'static`, so it can be spawned, kept in a
//! `JoinSet` or raced in a `select!` after the handle it came from is gone, and it keeps
//! every behaviour of a call made in place (reply, timeout, the server's exit).
//!
//! The clock is paused: time moves only when every task waits, so timeouts are exact.

use std::future::IntoFuture;

use genserver_runtime::prelude::*;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

/// A server that answers at once or keeps its caller waiting.
pub struct Clerk {
    held: Vec<ReplyTo<u32>>,
}

#[genserver]
impl Clerk {
    #[call]
    fn echo(&self, n: u32) -> u32 {
        n
    }

    /// Keeps the caller waiting, and says so on `held`.
    #[call]
    fn hold(&mut self, held: oneshot::Sender<()>, from: ReplyTo<u32>) -> NoReply {
        self.held.push(from);
        let _ = held.send(());
        NoReply::ok()
    }

    /// Stops the server with `reason`, leaving every held caller unanswered.
    #[cast]
    fn quit(&mut self, reason: ExitReason) -> NoReply {
        NoReply::stop(reason)
    }
}

async fn start_clerk() -> ClerkRef {
    Clerk::start(Clerk { held: Vec::new() }).await.expect("Clerk starts")
}

/// Compiles only for a future that a spawned task may own.
fn assert_spawnable<F: Future + Send + 'static>(future: F) -> F {
    future
}

#[tokio::test(start_paused = true)]
async fn a_spawned_call_gets_its_reply_after_every_handle_is_dropped() {
    let clerk = start_clerk().await;
    let call = assert_spawnable(clerk.echo(41).into_future());
    drop(clerk);
    assert_eq!(tokio::spawn(call).await.expect("the task ran"), Ok(41));
}

#[tokio::test(start_paused = true)]
async fn calls_in_a_join_set_each_get_their_own_reply() {
    let clerk = start_clerk().await;
    let mut calls = JoinSet::new();
    for n in 0..5 {
        calls.spawn(clerk.echo(n).into_future());
    }
    drop(clerk);
    let mut answers: Vec<u32> =
        calls.join_all().await.into_iter().map(|answer| answer.expect("answered")).collect();
    answers.sort_unstable();
    assert_eq!(answers, [0, 1, 2, 3, 4]);
}

#[tokio::test(start_paused = true)]
async fn a_spawned_call_keeps_its_timeout() {
    let clerk = start_clerk().await;
    let (held, is_held) = oneshot::channel();
    let call = clerk.hold(held).timeout(Duration::from_millis(30)).into_future();
    let started = tokio::time::Instant::now();
    let waiting = tokio::spawn(call);
    is_held.await.expect("the clerk holds the call");
    assert_eq!(waiting.await.expect("the task ran"), Err(CallError::Timeout(Duration::from_millis(30))));
    assert_eq!(started.elapsed(), Duration::from_millis(30));
}

#[tokio::test(start_paused = true)]
async fn a_spawned_call_ends_with_the_exit_of_its_server() {
    let clerk = start_clerk().await;
    let (held, is_held) = oneshot::channel();
    let waiting = tokio::spawn(clerk.hold(held).no_timeout().into_future());
    is_held.await.expect("the clerk holds the call");
    clerk.quit(ExitReason::shutdown_with("closing"));
    drop(clerk);
    assert_eq!(
        waiting.await.expect("the task ran"),
        Err(CallError::Exited(ExitReason::shutdown_with("closing")))
    );
}

#[tokio::test(start_paused = true)]
async fn a_call_raced_in_select_after_its_handle_is_gone_still_answers() {
    let clerk = start_clerk().await;
    let mut call = clerk.echo(7).into_future();
    drop(clerk);
    let (_never, never_sent) = oneshot::channel::<()>();
    let answer = tokio::select! {
        answer = &mut call => answer,
        _ = never_sent => unreachable!("nothing is sent on this channel"),
    };
    assert_eq!(answer, Ok(7));
}
