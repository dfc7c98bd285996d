//! `bench overload`: what each mailbox kind does under a flood, for genserver alone.
//!
//! Eight producer tasks cast as fast as they can, for a fixed time, to one server whose
//! cast handler takes 100 µs (it spins, then yields: a sleep would measure the timer). For each kind of
//! mailbox it prints one row: the casts the producers got through per second, the casts
//! the server handled, what the policy dropped or refused, the peak of the heap held
//! (sampled every millisecond by the counting allocator), and the time a call made at the
//! end of the flood took to be answered. The backlog is not drained: the process exits.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use genserver_runtime::prelude::*;
use genserver_runtime::{Mailbox, Overflow};

use crate::alloc_count;

const PRODUCERS: usize = 8;
const HANDLER_TIME: Duration = Duration::from_micros(100);

/// A server whose every cast takes [`HANDLER_TIME`].
pub struct Slow {
    handled: Arc<AtomicU64>,
}

#[genserver]
impl Slow {
    /// Busy for [`HANDLER_TIME`], then yields, as a handler that awaits would.
    #[cast]
    async fn put(&mut self, _payload: [u64; 4]) {
        let until = Instant::now() + HANDLER_TIME;
        while Instant::now() < until {
            std::hint::spin_loop();
        }
        self.handled.fetch_add(1, Ordering::Relaxed);
        tokio::task::yield_now().await;
    }

    #[call]
    fn ping(&self) {}
}

/// One row of the report: a mailbox kind, and how its producers send.
#[derive(Clone, Copy)]
struct Case {
    label: &'static str,
    mailbox: Mailbox,
    overflow: Overflow,
    wait_for_room: bool,
}

const CASES: [Case; 5] = [
    Case {
        label: "Unbounded (default)",
        mailbox: Mailbox::Unbounded,
        overflow: Overflow::DropNewest,
        wait_for_room: false,
    },
    Case {
        label: "Bounded(1024), DropNewest",
        mailbox: Mailbox::Bounded(1024),
        overflow: Overflow::DropNewest,
        wait_for_room: false,
    },
    Case {
        label: "Bounded(1024), DropOldest",
        mailbox: Mailbox::Bounded(1024),
        overflow: Overflow::DropOldest,
        wait_for_room: false,
    },
    Case {
        label: "Bounded(1024), Refuse",
        mailbox: Mailbox::Bounded(1024),
        overflow: Overflow::Refuse,
        wait_for_room: false,
    },
    Case {
        label: "Bounded(1024), cast_when_room",
        mailbox: Mailbox::Bounded(1024),
        overflow: Overflow::DropNewest,
        wait_for_room: true,
    },
];

/// Runs every case for `seconds` each, one after the other, and prints the table.
pub fn run(seconds: u64) {
    alloc_count::enable();
    let flood = Duration::from_secs(seconds);
    println!("| mailbox | casts made/s | handled/s | dropped | refused | peak heap | call during flood |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for case in CASES {
        // A runtime per case, so that no backlog of one case slows the next.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(measure(case, flood));
        // The unbounded case leaves a backlog of minutes: do not wait for it.
        runtime.shutdown_background();
    }
}

async fn measure(case: Case, flood: Duration) {
    let handled = Arc::new(AtomicU64::new(0));
    let server = Slow::builder()
        .mailbox(case.mailbox)
        .overflow(case.overflow)
        .start(Slow { handled: handled.clone() })
        .await
        .expect("starts");
    let (stop, sent) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let base = alloc_count::live_bytes();
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (stop, peak) = (stop.clone(), peak.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let held = (alloc_count::live_bytes() - base).max(0) as u64;
                peak.fetch_max(held, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let started = Instant::now();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|_| {
            let (server, stop, sent) = (server.clone(), stop.clone(), sent.clone());
            tokio::spawn(async move {
                let mut count = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..64 {
                        if case.wait_for_room {
                            let _ =
                                server.as_ref().cast_when_room(SlowMsg::Put { _payload: [count; 4] }).await;
                        } else {
                            server.put([count; 4]);
                        }
                        count += 1;
                    }
                    tokio::task::yield_now().await;
                }
                sent.fetch_add(count, Ordering::Relaxed);
            })
        })
        .collect();
    tokio::time::sleep(flood).await;
    // A call at the height of the flood, its default 5 s timeout.
    let asked = Instant::now();
    let call = server.ping().await;
    let call = match call {
        Ok(()) => format!("{:.1?}", asked.elapsed()),
        Err(error) => format!("{error:?} after {:.1?}", asked.elapsed()),
    };
    stop.store(true, Ordering::Relaxed);
    for producer in producers {
        producer.await.expect("a producer");
    }
    let elapsed = started.elapsed().as_secs_f64();
    sampler.join().expect("the sampler");
    let lost = server.as_ref().overflow_counts();
    println!(
        "| {} | {:.0} | {:.0} | {} | {} | {:.1} MiB | {} |",
        case.label,
        sent.load(Ordering::Relaxed) as f64 / elapsed,
        handled.load(Ordering::Relaxed) as f64 / elapsed,
        lost.dropped,
        lost.refused,
        peak.load(Ordering::Relaxed) as f64 / f64::from(1 << 20),
        call,
    );
    server.kill();
}
