//! Leak loops: cycles that start and stop servers, time calls out, set and drop monitors,
//! and flood a bounded mailbox, with a counting allocator showing that the heap held does
//! not grow with the number of cycles. Each loop runs on a current_thread runtime on the
//! test's thread, which the allocator counts (see `common/counting_alloc.rs`), with
//! tokio's paused clock so that the timeouts take no real time.
//!
//! CI runs 2,000 cycles per loop; `GENSERVER_STRESS=full` runs 200,000.

mod common;
use common::hold_in_handler;
use common::stress::size;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{CountingAllocator, bytes_held};

use genserver_runtime::prelude::*;
use genserver_runtime::{Mailbox, Overflow};
use tokio::sync::oneshot;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// What the heap may grow by over a whole loop, whatever its length: the runtime's and
/// the allocator's own structures settling (a leak of one byte per cycle passes it at
/// CI's count already).
const SLACK: i64 = 1_024;

pub struct Worker {
    handled: u64,
}

#[genserver]
impl Worker {
    #[call]
    fn handled(&self) -> u64 {
        self.handled
    }

    #[cast]
    fn work(&mut self, _payload: Vec<u8>) {
        self.handled += 1;
    }

    /// Answers after `delay`.
    #[call]
    async fn slow(&mut self, delay: Duration) -> u64 {
        tokio::time::sleep(delay).await;
        self.handled
    }

    /// Stays in the handler until `gate` opens.
    #[cast]
    async fn block(&mut self, entered: oneshot::Sender<()>, gate: oneshot::Receiver<()>) {
        let _ = entered.send(());
        let _ = gate.await;
    }
}

/// Runs `cycle` the stress size's number of times after a warm-up of a tenth of it, on a
/// current_thread runtime with a paused clock; returns the heap growth over the measured
/// cycles.
fn heap_growth(mut cycle: impl AsyncFnMut(u64)) -> i64 {
    let cycles = size(2_000, 200_000);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    runtime.block_on(async {
        for n in 0..cycles / 10 {
            cycle(n).await;
        }
        let before = bytes_held();
        for n in 0..cycles {
            cycle(n).await;
        }
        bytes_held() - before
    })
}

fn worker() -> Worker {
    Worker { handled: 0 }
}

#[test]
fn starting_calling_and_stopping_named_servers_leaks_nothing() {
    let growth = heap_growth(async |_| {
        let server = Worker::builder().name("leak-loop").start(worker()).await.expect("starts");
        assert_eq!(server.handled().await, Ok(0));
        server.stop(ExitReason::Normal, Duration::from_secs(1)).await.expect("stops");
    });
    assert!(growth <= SLACK, "the heap grew by {growth} bytes");
}

#[test]
fn calls_that_time_out_leave_nothing_behind() {
    let growth = heap_growth({
        let mut server = None;
        async move |_| {
            if server.is_none() {
                server = Some(Worker::start(worker()).await.expect("starts"));
            }
            let server = server.as_ref().expect("started");
            let timeout = Duration::from_millis(1);
            let late = server.slow(Duration::from_millis(2)).timeout(timeout).await;
            assert_eq!(late, Err(CallError::Timeout(timeout)));
            // Queued behind the late one: answered once it is done and its reply dropped.
            assert_eq!(server.slow(Duration::ZERO).await, Ok(0));
        }
    });
    assert!(growth <= SLACK, "the heap grew by {growth} bytes");
}

#[test]
fn monitors_dropped_or_fired_leave_nothing_behind() {
    let growth = heap_growth({
        let mut watched = None;
        async move |_| {
            if watched.is_none() {
                watched = Some(Worker::start(worker()).await.expect("starts"));
            }
            // A monitor of a running server, dropped: demonitored.
            drop(watched.as_ref().expect("started").monitor());
            // A monitor that fires.
            let server = Worker::start(worker()).await.expect("starts");
            let down = server.monitor();
            server.stop(ExitReason::Normal, Duration::from_secs(1)).await.expect("stops");
            assert_eq!(down.await.reason, ExitReason::Normal);
        }
    });
    assert!(growth <= SLACK, "the heap grew by {growth} bytes");
}

#[test]
fn floods_of_a_full_mailbox_drop_without_leaking_under_every_policy() {
    for overflow in [Overflow::DropNewest, Overflow::DropOldest, Overflow::Refuse] {
        let growth = heap_growth({
            let mut server = None;
            async move |_| {
                if server.is_none() {
                    let builder = Worker::builder().mailbox(Mailbox::Bounded(8)).overflow(overflow);
                    server = Some(builder.start(worker()).await.expect("starts"));
                }
                let server = server.as_ref().expect("started");
                let open = hold_in_handler(|entered, gate| server.block(entered, gate)).await;
                for _ in 0..32 {
                    server.work(vec![0; 64]);
                }
                // One waiting cast that gives up, one that gets in.
                let mut given_up =
                    Box::pin(server.as_ref().cast_when_room(WorkerMsg::Work { _payload: vec![0; 64] }));
                assert!(common::poll::poll_once(&mut given_up).await.is_none(), "waits for room");
                drop(given_up);
                drop(open);
                server
                    .as_ref()
                    .cast_when_room(WorkerMsg::Work { _payload: vec![0; 64] })
                    .await
                    .expect("queued");
                // Refused while the mailbox is full under `Refuse`: retried, as a caller would.
                while let Err(error) = server.handled().await {
                    assert_eq!(error, CallError::Full);
                    tokio::task::yield_now().await;
                }
            }
        });
        assert!(growth <= SLACK, "under {overflow:?} the heap grew by {growth} bytes");
    }
}
