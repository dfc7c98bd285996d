//! Runs N operations of one kind on a current-thread runtime, for counting instructions
//! with callgrind, which is repeatable where wall time on these machines is not.
//! `callgrind.sh` runs it twice (N and 3N) and divides the difference by 2N, so start-up
//! and tear-down cancel out.
//!
//! `instructions <genserver|floor> <cast|call|lifecycle> <N>`:
//! - cast: N casts `add(1)` queued, then one call that must read N;
//! - call: N sequential calls `get()`;
//! - lifecycle: N times start a counter (with its init), one call, stop it and wait for
//!   the stop (scenario D's unit of work).

use genserver_runtime::prelude::*;
use tokio::sync::{mpsc, oneshot};

/// The counter, as a genserver.
pub struct Counter {
    count: u64,
}

#[genserver]
impl Counter {
    #[call]
    pub fn get(&self) -> u64 {
        self.count
    }

    #[cast]
    pub fn add(&mut self, n: u64) {
        self.count += n;
    }
}

/// The counter, as the hand-written loop (the floor).
enum FloorMsg {
    Add(u64),
    Get(oneshot::Sender<u64>),
}

fn start_floor(mut count: u64) -> (mpsc::UnboundedSender<FloorMsg>, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            match msg {
                FloorMsg::Add(n) => count += n,
                FloorMsg::Get(reply) => {
                    let _ = reply.send(count);
                }
            }
        }
    });
    (tx, task)
}

async fn floor_get(tx: &mpsc::UnboundedSender<FloorMsg>) -> u64 {
    let (reply, rx) = oneshot::channel();
    tx.send(FloorMsg::Get(reply)).expect("the floor runs");
    rx.await.expect("the floor replies")
}

async fn genserver(operation: &str, n: u64) {
    match operation {
        "cast" => {
            let counter = Counter::start(Counter { count: 0 }).await.expect("starts");
            for _ in 0..n {
                counter.add(1);
            }
            assert_eq!(counter.get().await.expect("replies"), n);
        }
        "call" => {
            let counter = Counter::start(Counter { count: 7 }).await.expect("starts");
            for _ in 0..n {
                assert_eq!(counter.get().await.expect("replies"), 7);
            }
        }
        "lifecycle" => {
            for i in 0..n {
                let counter = Counter::start(Counter { count: i }).await.expect("starts");
                assert_eq!(counter.get().await.expect("replies"), i);
                counter.stop(ExitReason::Normal, Duration::from_secs(5)).await.expect("stops");
            }
        }
        other => panic!("unknown operation {other}"),
    }
}

async fn floor(operation: &str, n: u64) {
    match operation {
        "cast" => {
            let (tx, _task) = start_floor(0);
            for _ in 0..n {
                let _ = tx.send(FloorMsg::Add(1));
            }
            assert_eq!(floor_get(&tx).await, n);
        }
        "call" => {
            let (tx, _task) = start_floor(7);
            for _ in 0..n {
                assert_eq!(floor_get(&tx).await, 7);
            }
        }
        "lifecycle" => {
            for i in 0..n {
                let (tx, task) = start_floor(i);
                assert_eq!(floor_get(&tx).await, i);
                drop(tx); // the floor's stop: its loop ends with the last sender
                task.await.expect("the floor's task");
            }
        }
        other => panic!("unknown operation {other}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [contender, operation, n] = args.as_slice() else {
        eprintln!("usage: instructions <genserver|floor> <cast|call|lifecycle> <N>");
        std::process::exit(2);
    };
    let n: u64 = n.parse().expect("N is a number");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async {
        match contender.as_str() {
            "genserver" => genserver(operation, n).await,
            "floor" => floor(operation, n).await,
            other => panic!("unknown contender {other}"),
        }
    });
}
