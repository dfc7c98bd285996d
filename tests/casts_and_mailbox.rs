//! Casts and the mailbox: one task per server handling one message at a time, FIFO per
//! sender, casts that never wait on the default unbounded mailbox and are dropped toward
//! a dead server, and the bounded mailbox (calls wait for room, `try_cast` says `Full`;
//! the overflow policies are in `overload.rs`).

mod common;
use common::hold_in_handler;
use common::poll::poll_once;

use std::future::IntoFuture;

use genserver_runtime::prelude::*;
use genserver_runtime::{CastError, Mailbox};
use tokio::sync::oneshot;
use tokio::time::Instant;

/// Writes down every number it is sent, in the order it handles them.
pub struct Journal {
    seen: Vec<u32>,
    count: u32,
}

#[genserver]
impl Journal {
    #[cast]
    fn note(&mut self, n: u32) {
        self.seen.push(n);
    }

    #[info]
    fn tick(&mut self, n: u32) {
        self.seen.push(n);
    }

    #[call]
    fn note_and_read(&mut self, n: u32) -> Vec<u32> {
        self.seen.push(n);
        self.seen.clone()
    }

    #[call]
    fn seen(&self) -> Vec<u32> {
        self.seen.clone()
    }

    /// Reads the count, yields to every other task, then writes it back plus one: two
    /// handlers running at once would lose increments.
    #[call]
    async fn increment_slowly(&mut self) -> u32 {
        let count = self.count;
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
        self.count = count + 1;
        self.count
    }

    /// Says it has started, then stays in the handler until `gate` opens.
    #[cast]
    async fn block(&mut self, entered: oneshot::Sender<()>, gate: oneshot::Receiver<()>) {
        let _ = entered.send(());
        let _ = gate.await;
    }
}

fn journal() -> Journal {
    Journal { seen: Vec::new(), count: 0 }
}

/// Keeps the server inside a handler until the returned sender is used or dropped; the
/// mailbox is empty when this returns.
async fn block(server: &JournalRef) -> oneshot::Sender<()> {
    hold_in_handler(|entered, gate| server.block(entered, gate)).await
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_casts_then_a_call_are_handled_in_send_order() {
    let server = Journal::start(journal()).await.expect("starts");
    for n in 0..10_000 {
        server.note(n);
    }
    let seen = server.seen().await.expect("answers");
    assert_eq!(seen, (0..10_000).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn casts_never_wait_for_a_busy_server_on_the_unbounded_mailbox() {
    let server = Journal::start(journal()).await.expect("starts");
    let open = block(&server).await;
    let start = Instant::now();
    for n in 0..10_000 {
        server.note(n);
    }
    for n in 10_000..10_010 {
        assert_eq!(server.as_ref().try_cast(JournalMsg::Note { n }), Ok(()));
    }
    assert_eq!(start.elapsed(), Duration::ZERO);
    open.send(()).expect("the handler waits for its gate");
    assert_eq!(server.seen().await.expect("answers"), (0..10_010).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn casts_infos_and_calls_from_one_sender_are_handled_in_send_order() {
    let server = Journal::start(journal()).await.expect("starts");
    server.note(1);
    server.send_info(JournalInfo::Tick { n: 2 }).expect("queued");
    server.note(3);
    server.send_info(JournalInfo::Tick { n: 4 }).expect("queued");
    assert_eq!(server.note_and_read(5).await, Ok(vec![1, 2, 3, 4, 5]));
}

#[tokio::test(start_paused = true)]
async fn casts_sent_while_the_server_handles_a_taken_batch_come_after_that_batch() {
    let server = Journal::start(journal()).await.expect("starts");
    let open_first = block(&server).await;
    // Queued while the server is busy: a second blocking handler, then 2 and 3.
    let (entered_tx, entered) = oneshot::channel();
    let (open_second, gate) = oneshot::channel();
    server.block(entered_tx, gate);
    server.note(2);
    server.note(3);
    open_first.send(()).expect("the first handler waits for its gate");
    // The server has taken all three and is inside the second handler, 2 and 3 still
    // to handle: 4 and 5 are queued behind them.
    entered.await.expect("the second handler signals that it entered");
    server.note(4);
    server.note(5);
    open_second.send(()).expect("the second handler waits for its gate");
    assert_eq!(server.seen().await, Ok(vec![2, 3, 4, 5]));
}

#[tokio::test(start_paused = true)]
async fn each_sender_keeps_its_own_order_among_concurrent_senders() {
    let server = Journal::start(journal()).await.expect("starts");
    let senders: Vec<_> = (0..4u32)
        .map(|sender| {
            let server = server.clone();
            tokio::spawn(async move {
                for n in 0..1_000 {
                    server.note(sender * 1_000 + n);
                    if n % 100 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.expect("sender task");
    }
    let seen = server.seen().await.expect("answers");
    assert_eq!(seen.len(), 4_000);
    for sender in 0..4 {
        let from_sender: Vec<_> = seen.iter().copied().filter(|n| n / 1_000 == sender).collect();
        assert_eq!(from_sender, (sender * 1_000..(sender + 1) * 1_000).collect::<Vec<_>>());
    }
}

#[tokio::test(start_paused = true)]
async fn handlers_never_overlap_even_when_they_await() {
    let server = Journal::start(journal()).await.expect("starts");
    let callers: Vec<_> = (0..50)
        .map(|_| {
            let server = server.clone();
            tokio::spawn(async move { server.increment_slowly().await })
        })
        .collect();
    let mut replies = Vec::new();
    for caller in callers {
        replies.push(caller.await.expect("caller task").expect("answers"));
    }
    replies.sort_unstable();
    assert_eq!(replies, (1..=50).collect::<Vec<_>>(), "no increment was lost");
}

#[tokio::test(start_paused = true)]
async fn each_server_is_exactly_one_task() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let before = metrics.num_alive_tasks();
    let servers = [
        Journal::start(journal()).await.expect("starts"),
        Journal::start(journal()).await.expect("starts"),
        Journal::start(journal()).await.expect("starts"),
    ];
    assert_eq!(metrics.num_alive_tasks(), before + 3);
    for server in &servers {
        server.stop(ExitReason::Normal, Duration::from_secs(1)).await.expect("stops");
    }
    assert_eq!(metrics.num_alive_tasks(), before, "a stopped server leaves no task behind");
}

#[tokio::test(start_paused = true)]
async fn cast_to_a_stopped_server_is_silently_dropped() {
    let server = Journal::start(journal()).await.expect("starts");
    server.stop(ExitReason::Normal, Duration::from_secs(1)).await.expect("stops");
    // No panic, no error, no wait: as OTP's cast to a dead process.
    let start = Instant::now();
    server.note(1);
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert!(!server.is_alive());
}

#[tokio::test(start_paused = true)]
async fn try_cast_and_send_info_to_a_dead_server_return_no_server() {
    let server = Journal::start(journal()).await.expect("starts");
    server.kill();
    assert_eq!(server.exited().await, ExitReason::Killed);
    assert_eq!(server.as_ref().try_cast(JournalMsg::Note { n: 1 }), Err(CastError::NoServer));
    assert_eq!(server.send_info(JournalInfo::Tick { n: 1 }), Err(CastError::NoServer));
}

#[tokio::test(start_paused = true)]
async fn try_cast_on_a_full_bounded_mailbox_returns_full() {
    let server = Journal::builder().mailbox(Mailbox::Bounded(2)).start(journal()).await.expect("starts");
    let open = block(&server).await;
    assert_eq!(server.as_ref().try_cast(JournalMsg::Note { n: 1 }), Ok(()));
    assert_eq!(server.as_ref().try_cast(JournalMsg::Note { n: 2 }), Ok(()));
    assert_eq!(server.as_ref().try_cast(JournalMsg::Note { n: 3 }), Err(CastError::Full));
    assert_eq!(server.send_info(JournalInfo::Tick { n: 4 }), Err(CastError::Full));
    open.send(()).expect("the handler waits for its gate");
    assert_eq!(server.seen().await, Ok(vec![1, 2]));
}

#[tokio::test(start_paused = true)]
async fn cast_on_a_full_bounded_mailbox_is_dropped() {
    let server = Journal::builder().mailbox(Mailbox::Bounded(1)).start(journal()).await.expect("starts");
    let open = block(&server).await;
    server.note(1);
    server.note(2); // The mailbox holds one message: this one is dropped.
    open.send(()).expect("the handler waits for its gate");
    assert_eq!(server.seen().await, Ok(vec![1]));
}

#[tokio::test(start_paused = true)]
async fn call_waits_for_room_in_a_bounded_mailbox_and_fails_with_full_at_its_timeout() {
    let server = Journal::builder().mailbox(Mailbox::Bounded(1)).start(journal()).await.expect("starts");
    let open = block(&server).await;
    server.note(1);
    // No room: the call waits for it, and gives up at its timeout, never queued.
    let start = Instant::now();
    let timeout = Duration::from_millis(100);
    assert_eq!(server.note_and_read(2).timeout(timeout).await, Err(CallError::Full));
    assert_eq!(start.elapsed(), timeout);
    // This one is still waiting for room when the server frees some.
    let mut waiting = server.note_and_read(3).into_future();
    assert!(poll_once(&mut waiting).await.is_none());
    open.send(()).expect("the handler waits for its gate");
    assert_eq!(waiting.await, Ok(vec![1, 3]), "the call that timed out was never queued");
}

#[tokio::test(start_paused = true)]
async fn call_waiting_for_room_returns_exited_when_the_server_is_killed() {
    let server = Journal::builder().mailbox(Mailbox::Bounded(1)).start(journal()).await.expect("starts");
    let _open = block(&server).await;
    server.note(1);
    let mut waiting = server.note_and_read(2).into_future();
    assert!(poll_once(&mut waiting).await.is_none(), "waiting for room");
    server.kill();
    // The server was running when the call was made: it exited during the call.
    assert_eq!(waiting.await, Err(CallError::Exited(ExitReason::Killed)));
}

#[tokio::test(start_paused = true)]
async fn stop_waiting_for_room_reports_the_exit_of_a_server_killed_meanwhile() {
    let server = Journal::builder().mailbox(Mailbox::Bounded(1)).start(journal()).await.expect("starts");
    let _open = block(&server).await;
    server.note(1);
    let mut stop = std::pin::pin!(server.stop(ExitReason::Normal, Duration::from_secs(1)));
    assert!(poll_once(&mut stop).await.is_none(), "waiting for room");
    server.kill();
    assert_eq!(stop.await, Err(genserver_runtime::StopError::ExitedWith(ExitReason::Killed)));
}

#[tokio::test(start_paused = true)]
async fn stop_waits_for_room_in_a_bounded_mailbox() {
    let server = Journal::builder().mailbox(Mailbox::Bounded(1)).start(journal()).await.expect("starts");
    let open = block(&server).await;
    server.note(1);
    let mut stop = std::pin::pin!(server.stop(ExitReason::Normal, Duration::from_secs(1)));
    assert!(poll_once(&mut stop).await.is_none());
    open.send(()).expect("the handler waits for its gate");
    assert_eq!(stop.await, Ok(()));
    assert_eq!(server.exit_reason(), Some(ExitReason::Normal));
}
