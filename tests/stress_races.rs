//! The races of a full bounded mailbox, run thousands of times on a multi-thread runtime
//! under an outer deadline, so that a hang fails the test: a sender waiting for room
//! while the server exits must end with a typed error, never wait forever, and a server
//! that exits must leave no waiting sender behind. (The races of an exit itself, and of a
//! deferred reply at a call's deadline, are `tests/exit_races.rs`.)
//!
//! CI runs 2,000 iterations per race; `GENSERVER_STRESS=full` runs 100,000.

mod common;
use common::stress::{size, within};

use genserver_runtime::prelude::*;
use genserver_runtime::{CastError, Mailbox, Overflow};

const DEADLINE: Duration = Duration::from_secs(600);

/// Handles casts, yielding in each so that its mailbox stays full under a flood, and
/// stops when told.
pub struct Busy;

#[genserver]
impl Busy {
    #[cast]
    async fn work(&mut self) {
        tokio::task::yield_now().await;
    }

    #[call]
    fn ping(&self) {}

    #[cast]
    fn quit(&mut self) -> NoReply {
        NoReply::stop(ExitReason::Normal)
    }
}

async fn busy(overflow: Overflow) -> BusyRef {
    Busy::builder().mailbox(Mailbox::Bounded(2)).overflow(overflow).start(Busy).await.expect("starts")
}

/// A task that casts to `server` until it has exited.
fn flood(server: &BusyRef) -> tokio::task::JoinHandle<()> {
    let server = server.clone();
    tokio::spawn(async move {
        while server.is_alive() {
            server.work();
            tokio::task::yield_now().await;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn senders_waiting_for_room_when_the_server_is_killed_all_end_with_no_server() {
    within(DEADLINE, async {
        for _ in 0..size(2_000, 100_000) {
            let server = busy(Overflow::DropNewest).await;
            let senders: Vec<_> = (0..4)
                .map(|_| {
                    let server = server.clone();
                    tokio::spawn(async move {
                        // Until the kill refuses one: each one before it got room.
                        loop {
                            match server.as_ref().cast_when_room(BusyMsg::Work {}).await {
                                Ok(()) => {}
                                Err(error) => break error,
                            }
                        }
                    })
                })
                .collect();
            tokio::task::yield_now().await;
            server.kill();
            for sender in senders {
                assert_eq!(sender.await.expect("a sender"), CastError::NoServer);
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn calls_waiting_for_room_when_the_server_stops_itself_end_with_a_typed_error() {
    within(DEADLINE, async {
        for _ in 0..size(2_000, 100_000) {
            let server = busy(Overflow::DropOldest).await;
            let flood = flood(&server);
            let caller = {
                let server = server.clone();
                tokio::spawn(async move {
                    loop {
                        match server.ping().await {
                            Ok(()) => {}
                            // Queued when the server stopped, or made once it had.
                            Err(CallError::Exited(ExitReason::Normal) | CallError::NoServer) => break,
                            Err(other) => panic!("a call ended with {other:?}"),
                        }
                    }
                })
            };
            tokio::task::yield_now().await;
            // A stop waits for room ahead of the flood; the quit it carries comes later.
            server.quit();
            server.stop(ExitReason::Normal, Duration::from_secs(60)).await.unwrap_or(());
            assert_eq!(server.exited().await, ExitReason::Normal);
            caller.await.expect("the caller");
            flood.await.expect("the flood");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_refuse_concurrent_calls_on_a_flooded_mailbox_are_answered_or_refused_at_once() {
    within(DEADLINE, async {
        let server = busy(Overflow::Refuse).await;
        let flood = flood(&server);
        let callers: Vec<_> = (0..4)
            .map(|_| {
                let server = server.clone();
                tokio::spawn(async move {
                    let (mut answered, mut refused) = (0u64, 0u64);
                    for _ in 0..size(2_000, 100_000) / 4 {
                        match server.ping().await {
                            Ok(()) => answered += 1,
                            Err(CallError::Full) => refused += 1,
                            Err(other) => panic!("a call ended with {other:?}"),
                        }
                    }
                    (answered, refused)
                })
            })
            .collect();
        let mut refused_calls = 0;
        for caller in callers {
            refused_calls += caller.await.expect("a caller").1;
        }
        // Every refusal of a call was counted among the refusals.
        assert!(server.as_ref().overflow_counts().refused >= refused_calls);
        server.kill();
        flood.await.expect("the flood");
    })
    .await;
}
