//! The overload policy of a bounded mailbox: what each [`Overflow`] does with the
//! fire-and-forget casts that find it full, the exact counts and the rate-limited warning
//! that report them, calls that fail with `CallError::Full` instead of hanging, and
//! `cast_when_room`, which waits for room and goes ahead of the casts that do not wait.
//! Every test holds the server inside a handler, so what is queued is known exactly.

mod common;
use common::capture::Capture;
use common::hold_in_handler;
use common::poll::poll_once;

use std::future::IntoFuture;

use genserver_runtime::prelude::*;
use genserver_runtime::{CastError, Mailbox, Overflow, OverflowCounts};
use tokio::sync::oneshot;
use tokio::time::Instant;

/// Writes down every number it is sent, in the order it handles them.
pub struct Journal {
    seen: Vec<u32>,
}

#[genserver]
impl Journal {
    #[cast]
    fn note(&mut self, n: u32) {
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

    /// Stays in the handler until `gate` opens.
    #[cast]
    async fn block(&mut self, entered: oneshot::Sender<()>, gate: oneshot::Receiver<()>) {
        let _ = entered.send(());
        let _ = gate.await;
    }
}

/// A journal with a mailbox of `capacity` under `overflow`, held inside a handler with
/// its mailbox empty until the returned sender is used or dropped.
async fn held_journal(capacity: usize, overflow: Overflow) -> (JournalRef, oneshot::Sender<()>) {
    let server = Journal::builder()
        .mailbox(Mailbox::Bounded(capacity))
        .overflow(overflow)
        .start(Journal { seen: Vec::new() })
        .await
        .expect("starts");
    let open = hold_in_handler(|entered, gate| server.block(entered, gate)).await;
    (server, open)
}

fn counts(dropped: u64, refused: u64) -> OverflowCounts {
    let mut counts = OverflowCounts::default();
    counts.dropped = dropped;
    counts.refused = refused;
    counts
}

#[tokio::test(start_paused = true)]
async fn drop_newest_drops_each_cast_that_finds_the_mailbox_full_and_counts_it() {
    let (server, open) = held_journal(2, Overflow::DropNewest).await;
    for n in 1..=5 {
        server.note(n);
    }
    assert_eq!(server.as_ref().overflow_counts(), counts(3, 0));
    open.send(()).expect("the handler waits for its gate");
    assert_eq!(server.seen().await, Ok(vec![1, 2]));
}

#[tokio::test(start_paused = true)]
async fn drop_newest_is_the_default_policy() {
    let server = Journal::builder().mailbox(Mailbox::Bounded(1)).start(Journal { seen: Vec::new() }).await;
    let server = server.expect("starts");
    let open = hold_in_handler(|entered, gate| server.block(entered, gate)).await;
    server.note(1);
    server.note(2);
    open.send(()).expect("the handler waits for its gate");
    assert_eq!(server.seen().await, Ok(vec![1]));
    assert_eq!(server.as_ref().overflow_counts(), counts(1, 0));
}

#[tokio::test(start_paused = true)]
async fn drop_oldest_keeps_the_newest_casts_in_send_order() {
    let (server, open) = held_journal(3, Overflow::DropOldest).await;
    for n in 1..=10 {
        server.note(n);
    }
    assert_eq!(server.as_ref().overflow_counts(), counts(7, 0));
    open.send(()).expect("the handler waits for its gate");
    assert_eq!(server.seen().await, Ok(vec![8, 9, 10]));
}

#[tokio::test(start_paused = true)]
async fn drop_oldest_drops_a_cast_queued_behind_a_call_and_never_the_call() {
    let (server, open) = held_journal(2, Overflow::DropOldest).await;
    let mut call = server.note_and_read(100).into_future();
    assert!(poll_once(&mut call).await.is_none(), "queued, waiting for its reply");
    server.note(1);
    server.note(2); // drops 1, the oldest cast; the call ahead of it stays
    server.note(3); // drops 2
    assert_eq!(server.as_ref().overflow_counts(), counts(2, 0));
    open.send(()).expect("the handler waits for its gate");
    assert_eq!(call.await, Ok(vec![100]));
    assert_eq!(server.seen().await, Ok(vec![100, 3]));
}

#[tokio::test(start_paused = true)]
async fn drop_oldest_drops_the_new_cast_when_only_calls_are_queued() {
    let (server, open) = held_journal(1, Overflow::DropOldest).await;
    let mut call = server.note_and_read(100).into_future();
    assert!(poll_once(&mut call).await.is_none(), "queued, waiting for its reply");
    server.note(1);
    assert_eq!(server.as_ref().overflow_counts(), counts(1, 0));
    open.send(()).expect("the handler waits for its gate");
    assert_eq!(call.await, Ok(vec![100]));
    assert_eq!(server.seen().await, Ok(vec![100]));
}

#[tokio::test(start_paused = true)]
async fn refuse_refuses_casts_and_fails_calls_at_once_with_full() {
    let (server, open) = held_journal(1, Overflow::Refuse).await;
    server.note(1);
    server.note(2);
    let start = Instant::now();
    assert_eq!(server.note_and_read(3).await, Err(CallError::Full));
    assert_eq!(start.elapsed(), Duration::ZERO, "the call did not wait for room");
    assert_eq!(server.as_ref().overflow_counts(), counts(0, 2));
    open.send(()).expect("the handler waits for its gate");
    // Refused until the server has taken the queued cast: a caller retries.
    let seen = loop {
        match server.seen().await {
            Err(CallError::Full) => tokio::task::yield_now().await,
            seen => break seen,
        }
    };
    assert_eq!(seen, Ok(vec![1]));
}

#[tokio::test(start_paused = true)]
async fn a_call_that_gets_no_room_within_its_timeout_fails_with_full_and_is_never_handled() {
    let (server, open) = held_journal(1, Overflow::DropNewest).await;
    server.note(1);
    let timeout = Duration::from_millis(50);
    let start = Instant::now();
    assert_eq!(server.note_and_read(2).timeout(timeout).await, Err(CallError::Full));
    assert_eq!(start.elapsed(), timeout);
    assert_eq!(server.as_ref().overflow_counts(), counts(0, 0), "a call is not a lost cast");
    open.send(()).expect("the handler waits for its gate");
    assert_eq!(server.seen().await, Ok(vec![1]));
}

#[tokio::test(start_paused = true)]
async fn try_cast_reports_full_and_is_not_counted_as_lost() {
    let (server, open) = held_journal(1, Overflow::DropOldest).await;
    assert_eq!(server.as_ref().try_cast(JournalMsg::Note { n: 1 }), Ok(()));
    assert_eq!(server.as_ref().try_cast(JournalMsg::Note { n: 2 }), Err(CastError::Full));
    assert_eq!(server.as_ref().overflow_counts(), counts(0, 0));
    open.send(()).expect("the handler waits for its gate");
    assert_eq!(server.seen().await, Ok(vec![1]));
}

#[tokio::test(start_paused = true)]
async fn cast_when_room_waits_for_room_and_loses_nothing() {
    let (server, open) = held_journal(1, Overflow::DropNewest).await;
    server.note(1);
    let mut waiting = std::pin::pin!(server.as_ref().cast_when_room(JournalMsg::Note { n: 2 }));
    assert!(poll_once(&mut waiting).await.is_none(), "waits for room");
    open.send(()).expect("the handler waits for its gate");
    assert_eq!(waiting.await, Ok(()));
    assert_eq!(server.seen().await, Ok(vec![1, 2]));
    assert_eq!(server.as_ref().overflow_counts(), counts(0, 0));
}

#[tokio::test(start_paused = true)]
async fn cast_when_room_goes_ahead_of_the_casts_that_do_not_wait() {
    let (server, open) = held_journal(1, Overflow::DropNewest).await;
    server.note(1);
    let mut waiting = std::pin::pin!(server.as_ref().cast_when_room(JournalMsg::Note { n: 2 }));
    assert!(poll_once(&mut waiting).await.is_none(), "waits for room");
    open.send(()).expect("the handler waits for its gate");
    // Fire-and-forget casts while it waits, and after the server made room: each one is
    // dropped, since the room that opens is the waiting sender's.
    let mut casts = 0;
    loop {
        server.note(100 + casts);
        casts += 1;
        if poll_once(&mut waiting).await.is_some() {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(server.seen().await, Ok(vec![1, 2]));
    assert_eq!(server.as_ref().overflow_counts(), counts(u64::from(casts), 0));
}

#[tokio::test(start_paused = true)]
async fn cast_when_room_never_waits_on_an_unbounded_mailbox() {
    let server = Journal::start(Journal { seen: Vec::new() }).await.expect("starts");
    let open = hold_in_handler(|entered, gate| server.block(entered, gate)).await;
    for n in 0..1_000 {
        let mut cast = std::pin::pin!(server.as_ref().cast_when_room(JournalMsg::Note { n }));
        assert_eq!(poll_once(&mut cast).await, Some(Ok(())));
    }
    open.send(()).expect("the handler waits for its gate");
    assert_eq!(server.seen().await, Ok((0..1_000).collect::<Vec<_>>()));
    assert_eq!(server.as_ref().overflow_counts(), counts(0, 0));
}

#[tokio::test(start_paused = true)]
async fn cast_when_room_fails_with_no_server_when_the_server_is_killed_while_it_waits() {
    let (server, _open) = held_journal(1, Overflow::DropNewest).await;
    server.note(1);
    let mut waiting = std::pin::pin!(server.as_ref().cast_when_room(JournalMsg::Note { n: 2 }));
    assert!(poll_once(&mut waiting).await.is_none(), "waits for room");
    server.kill();
    assert_eq!(waiting.await, Err(CastError::NoServer));
    assert_eq!(server.as_ref().cast_when_room(JournalMsg::Note { n: 3 }).await, Err(CastError::NoServer));
}

#[tokio::test(start_paused = true)]
async fn a_dropped_cast_when_room_gives_its_place_to_the_next_waiting_sender() {
    let (server, open) = held_journal(1, Overflow::DropNewest).await;
    server.note(1);
    let mut first = Box::pin(server.as_ref().cast_when_room(JournalMsg::Note { n: 2 }));
    let mut second = std::pin::pin!(server.as_ref().cast_when_room(JournalMsg::Note { n: 3 }));
    assert!(poll_once(&mut first).await.is_none(), "waits for room");
    assert!(poll_once(&mut second).await.is_none(), "waits for room");
    drop(first);
    open.send(()).expect("the handler waits for its gate");
    assert_eq!(second.await, Ok(()));
    assert_eq!(server.seen().await, Ok(vec![1, 3]));
}

#[tokio::test(start_paused = true)]
async fn overflow_warnings_come_at_most_once_a_second_with_the_count_since_the_last() {
    let (capture, _guard) = Capture::install();
    let (server, open) = held_journal(1, Overflow::DropNewest).await;
    server.note(0);
    for n in 1..=100 {
        server.note(n);
    }
    let warnings = capture.at(tracing::Level::WARN);
    assert_eq!(warnings.len(), 1, "the first drop warns, the next 99 within the second do not");
    assert_eq!(warnings[0].fields.get("lost"), Some("1"));
    tokio::time::advance(Duration::from_secs(1)).await;
    server.note(101);
    let warnings = capture.at(tracing::Level::WARN);
    assert_eq!(warnings.len(), 2);
    assert_eq!(warnings[1].fields.get("lost"), Some("100"));
    assert_eq!(warnings[1].fields.get("dropped"), Some("101"));
    assert_eq!(warnings[1].fields.get("server"), Some(server.id().to_string().as_str()));
    open.send(()).expect("the handler waits for its gate");
    assert_eq!(server.seen().await, Ok(vec![0]));
}
