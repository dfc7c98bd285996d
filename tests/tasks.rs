//! Tasks tied to their server: `cx.spawn_task` sends the task's result (or its panic)
//! back as an info message; `cx.spawn_linked_task` crashes the server when the task
//! panics; `cx.spawn_reply` answers a deferred call from the task while the server goes
//! on serving; and every such task is aborted when its server exits.
//!
//! The tasks wait on explicit gates (oneshot channels), never on time.

use std::sync::Arc;

use genserver_runtime::prelude::*;
use genserver_runtime::{TaskPanicked, TaskRef};
use tokio::sync::{mpsc, oneshot};

/// Says when it is dropped: a task holding one has ended, finished or aborted.
struct DropSignal(Option<oneshot::Sender<()>>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        if let Some(dropped) = self.0.take() {
            let _ = dropped.send(());
        }
    }
}

pub struct Boss {
    /// Every task result, in arrival order, sent on to the test.
    results: mpsc::UnboundedSender<Result<u32, TaskPanicked>>,
    last_task: Option<TaskRef>,
}

#[genserver]
impl Boss {
    /// Starts a task that waits for `gate`, then returns its value (or panics on `None`).
    #[cast]
    fn delegate(
        &mut self,
        gate: oneshot::Receiver<Option<u32>>,
        dropped: oneshot::Sender<()>,
        cx: &mut Context<Self>,
    ) {
        // Built outside the future, so that it signals even if the task never ran.
        let signal = DropSignal(Some(dropped));
        let task = cx.spawn_task(
            async move {
                let _signal = signal;
                match gate.await {
                    Ok(Some(value)) => value,
                    _ => panic!("no value"),
                }
            },
            |result| BossInfo::Done { result },
        );
        self.last_task = Some(task);
    }

    /// Like `delegate`, linked.
    #[cast]
    fn delegate_linked(&mut self, gate: oneshot::Receiver<Option<u32>>, cx: &mut Context<Self>) {
        cx.spawn_linked_task(
            async move {
                match gate.await {
                    Ok(Some(value)) => value,
                    _ => panic!("no value"),
                }
            },
            |value| BossInfo::Done { result: Ok(value) },
        );
    }

    /// Answers from a task once `gate` opens.
    #[call]
    fn slow_answer(
        &mut self,
        gate: oneshot::Receiver<Option<u32>>,
        from: ReplyTo<u32>,
        cx: &mut Context<Self>,
    ) -> NoReply {
        cx.spawn_reply(from, async move {
            match gate.await {
                Ok(Some(value)) => value,
                _ => panic!("no answer"),
            }
        });
        NoReply::ok()
    }

    #[call]
    fn ping(&self) -> &'static str {
        "pong"
    }

    #[call]
    fn abort_last(&mut self) -> bool {
        self.last_task.take().map(|task| task.abort()).is_some()
    }

    #[info]
    fn done(&mut self, result: Result<u32, TaskPanicked>) {
        let _ = self.results.send(result);
    }
}

async fn start_boss() -> (BossRef, mpsc::UnboundedReceiver<Result<u32, TaskPanicked>>) {
    let (results, received) = mpsc::unbounded_channel();
    let boss = Boss::start(Boss { results, last_task: None }).await.expect("starts");
    (boss, received)
}

#[tokio::test]
async fn a_tasks_result_comes_back_as_an_info_message() {
    let (boss, mut results) = start_boss().await;
    let (open, gate) = oneshot::channel();
    let (dropped, _) = oneshot::channel();
    boss.delegate(gate, dropped);
    assert_eq!(boss.ping().await, Ok("pong"), "the server serves while its task runs");
    open.send(Some(42)).expect("the task waits");
    assert_eq!(results.recv().await, Some(Ok(42)));
}

#[tokio::test]
async fn a_panicking_task_comes_back_as_task_panicked_and_the_server_goes_on() {
    let (boss, mut results) = start_boss().await;
    let (open, gate) = oneshot::channel();
    let (dropped, _) = oneshot::channel();
    boss.delegate(gate, dropped);
    open.send(None).expect("the task waits");
    assert_eq!(results.recv().await, Some(Err(TaskPanicked(Arc::from("no value")))));
    assert_eq!(boss.ping().await, Ok("pong"));
}

#[tokio::test]
async fn a_task_is_aborted_when_its_server_exits() {
    let (boss, mut results) = start_boss().await;
    let (open, gate) = oneshot::channel();
    let (dropped, was_dropped) = oneshot::channel();
    boss.delegate(gate, dropped);
    assert_eq!(boss.ping().await, Ok("pong"), "the task is spawned");
    boss.stop(ExitReason::Normal, Duration::from_secs(5)).await.expect("stops");
    was_dropped.await.expect("the task ended with its server");
    assert!(open.send(Some(1)).is_err(), "the aborted task no longer waits for its gate");
    assert_eq!(results.try_recv().ok(), None, "no result was sent");
}

#[tokio::test]
async fn an_aborted_task_sends_no_result() {
    let (boss, mut results) = start_boss().await;
    let (open, gate) = oneshot::channel();
    let (dropped, was_dropped) = oneshot::channel();
    boss.delegate(gate, dropped);
    assert_eq!(boss.abort_last().await, Ok(true));
    was_dropped.await.expect("the task was dropped");
    assert!(open.send(Some(1)).is_err());
    assert_eq!(boss.ping().await, Ok("pong"), "the server runs on");
    assert!(results.try_recv().is_err(), "no result was sent");
}

#[tokio::test]
async fn a_panicking_linked_task_crashes_its_server() {
    let (boss, _results) = start_boss().await;
    let (open, gate) = oneshot::channel();
    boss.delegate_linked(gate);
    assert_eq!(boss.ping().await, Ok("pong"));
    open.send(None).expect("the task waits");
    assert_eq!(boss.exited().await, ExitReason::Panic(Arc::from("no value")));
}

#[tokio::test]
async fn a_linked_tasks_result_comes_back_as_an_info_message() {
    let (boss, mut results) = start_boss().await;
    let (open, gate) = oneshot::channel();
    boss.delegate_linked(gate);
    open.send(Some(9)).expect("the task waits");
    assert_eq!(results.recv().await, Some(Ok(9)));
    assert!(boss.is_alive());
}

#[tokio::test]
async fn spawn_reply_answers_the_deferred_call_while_the_server_serves_others() {
    let (boss, _results) = start_boss().await;
    let (open, gate) = oneshot::channel();
    let answer = tokio::spawn(boss.slow_answer(gate).into_future());
    assert_eq!(boss.ping().await, Ok("pong"), "the server is not blocked by the slow answer");
    open.send(Some(5)).expect("the task waits");
    assert_eq!(answer.await.expect("the caller ran"), Ok(5));
}

#[tokio::test]
async fn a_deferred_call_whose_server_exits_first_gets_the_exit_reason() {
    let (boss, _results) = start_boss().await;
    let (open, gate) = oneshot::channel();
    let answer = tokio::spawn(boss.slow_answer(gate).into_future());
    assert_eq!(boss.ping().await, Ok("pong"), "the call is being answered by its task");
    boss.stop(ExitReason::shutdown_with("closing"), Duration::from_secs(5)).await.expect("stops");
    assert_eq!(
        answer.await.expect("the caller ran"),
        Err(CallError::Exited(ExitReason::shutdown_with("closing")))
    );
    assert!(open.send(Some(1)).is_err(), "the reply task was aborted");
}

#[tokio::test]
async fn a_panicking_reply_task_crashes_its_server_and_the_caller_sees_the_panic() {
    let (boss, _results) = start_boss().await;
    let (open, gate) = oneshot::channel();
    let answer = tokio::spawn(boss.slow_answer(gate).into_future());
    assert_eq!(boss.ping().await, Ok("pong"));
    open.send(None).expect("the task waits");
    assert_eq!(
        answer.await.expect("the caller ran"),
        Err(CallError::Exited(ExitReason::Panic(Arc::from("no answer"))))
    );
}
