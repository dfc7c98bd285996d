//! The floor: what a tokio engineer writes by hand without a library. One task per
//! server looping over an unbounded mpsc channel of an enum; calls carry a oneshot
//! sender for the reply; the server stops when every sender is dropped (the pattern of
//! Alice Ryhl's "Actors with Tokio").

use std::collections::HashMap;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::harness::{Contender, CounterApi, KvApi};

enum CounterMsg {
    Add(u64),
    Get(oneshot::Sender<u64>),
}

/// The counter's client handle.
#[derive(Clone)]
pub struct Counter {
    tx: mpsc::UnboundedSender<CounterMsg>,
}

impl Counter {
    fn start(mut count: u64) -> (Counter, JoinHandle<()>) {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            while let Some(msg) = rx.recv().await {
                match msg {
                    CounterMsg::Add(n) => count += n,
                    CounterMsg::Get(reply) => {
                        let _ = reply.send(count);
                    }
                }
            }
        });
        (Counter { tx }, task)
    }
}

enum KvMsg {
    Get(u64, oneshot::Sender<Option<u64>>),
    Set(u64, u64),
}

/// The key-value server's client handle.
#[derive(Clone)]
pub struct Kv {
    tx: mpsc::UnboundedSender<KvMsg>,
}

impl CounterApi for Counter {
    async fn add(&self, n: u64) {
        let _ = self.tx.send(CounterMsg::Add(n));
    }

    async fn get(&self) -> u64 {
        let (reply, rx) = oneshot::channel();
        self.tx.send(CounterMsg::Get(reply)).expect("floor: server gone");
        rx.await.expect("floor: no reply")
    }
}

impl KvApi for Kv {
    async fn get(&self, key: u64) -> Option<u64> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(KvMsg::Get(key, reply)).expect("floor: server gone");
        rx.await.expect("floor: no reply")
    }

    async fn set(&self, key: u64, value: u64) {
        let _ = self.tx.send(KvMsg::Set(key, value));
    }
}

pub struct Floor;

impl Contender for Floor {
    type Counter = Counter;
    type Kv = Kv;

    async fn start_counter(count: u64) -> Counter {
        Counter::start(count).0
    }

    async fn start_kv(mut map: HashMap<u64, u64>) -> Kv {
        let (tx, mut rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(msg) = rx.recv().await {
                match msg {
                    KvMsg::Get(key, reply) => {
                        let _ = reply.send(map.get(&key).copied());
                    }
                    KvMsg::Set(key, value) => {
                        map.insert(key, value);
                    }
                }
            }
        });
        Kv { tx }
    }

    async fn lifecycle_once(count: u64) -> u64 {
        let (counter, task) = Counter::start(count);
        let reply = counter.get().await;
        drop(counter); // the last sender: the loop ends once the mailbox is empty
        task.await.expect("floor: server task");
        reply
    }
}
