//! The cast path allocates nothing once the mailbox has warmed up: the queue and the
//! server's batch trade their buffers, so steady traffic reuses them. An idle server
//! costs at most 576 bytes of heap. A counting allocator proves both; no test here
//! measures time.

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{CountingAllocator, allocations, bytes_held};

use genserver_runtime::prelude::*;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

pub struct Counter {
    total: u64,
}

#[genserver]
impl Counter {
    #[call]
    fn total(&self) -> u64 {
        self.total
    }

    #[cast]
    fn add(&mut self, by: u64) {
        self.total += by;
    }
}

const BURST: u64 = 10_000;

#[test]
fn casts_allocate_nothing_after_warm_up() {
    // One thread: the server and this test share it, so the count sees both sides.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let counter = Counter::start(Counter { total: 0 }).await.expect("starts");
        // Warm-up: two bursts as large as the measured one. The queue and the server's
        // batch trade buffers at each drain, so each of the two grows once.
        for round in 1..=2 {
            for _ in 0..BURST {
                counter.add(1);
            }
            assert_eq!(counter.total().await, Ok(round * BURST));
        }

        let before = allocations();
        for _ in 0..BURST {
            counter.add(1);
        }
        let during_casts = allocations() - before;
        assert_eq!(counter.total().await, Ok(3 * BURST));
        let handling = allocations() - before - during_casts;

        assert_eq!(during_casts, 0, "queueing {BURST} casts allocated");
        // The call that drains them allocates a little (its reply channel and, at most,
        // the boxed wait), but nothing per cast handled.
        assert!(handling < 10, "handling {BURST} casts and one call made {handling} allocations");
    });
}

#[test]
fn an_idle_server_holds_at_most_576_bytes_of_heap() {
    const SERVERS: usize = 1_000;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        // Warm-up: the runtime's own structures (its timer wheel, its queues) grow once.
        let warm = Counter::start(Counter { total: 0 }).await.expect("starts");
        assert_eq!(warm.total().await, Ok(0));
        let mut counters = Vec::with_capacity(SERVERS);

        let before = bytes_held();
        for _ in 0..SERVERS {
            counters.push(Counter::start(Counter { total: 0 }).await.expect("starts"));
        }
        // Each has handled a call, as a server that has done some work has.
        for counter in &counters {
            assert_eq!(counter.total().await, Ok(0));
        }
        let per_server = (bytes_held() - before) / SERVERS as i64;

        // The task (tokio's header and trailer around the server's future) and the shared
        // part (the process record and the mailbox). 495 bytes before `sys`, the overload
        // policy and the tasks of a server; 563 with them, in this package's build, which
        // has the test kit's poll counter in every server task (bench/NOTES.md).
        assert!(per_server <= 576, "an idle counter holds {per_server} bytes of heap");
    });
}

#[test]
fn a_call_answered_at_once_allocates_only_its_reply_channel() {
    const CALLS: u64 = 1_000;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let counter = Counter::start(Counter { total: 0 }).await.expect("starts");
        // Warm-up: the mailbox and the server's batch grow once.
        for _ in 0..CALLS {
            assert_eq!(counter.total().await, Ok(0));
        }

        let before = allocations();
        for _ in 0..CALLS {
            assert_eq!(counter.total().await, Ok(0));
        }
        let per_call = (allocations() - before) as f64 / CALLS as f64;

        // The call owns a clone of the handle (a reference count, no allocation); its
        // reply channel is the one allocation a call makes.
        assert_eq!(per_call, 1.0, "a call made {per_call} allocations");
    });
}
