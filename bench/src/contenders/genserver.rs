//! genserver: `#[genserver]` servers, started with the generated `start`, called and cast
//! through the generated client handles, stopped with `stop`.

use std::collections::HashMap;

use genserver_runtime::prelude::*;

use crate::harness::{Contender, CounterApi, KvApi};

/// The counter server.
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

/// The key-value server.
pub struct Kv {
    map: HashMap<u64, u64>,
}

#[genserver]
impl Kv {
    #[call]
    pub fn get(&self, key: u64) -> Option<u64> {
        self.map.get(&key).copied()
    }

    #[cast]
    pub fn set(&mut self, key: u64, value: u64) {
        self.map.insert(key, value);
    }
}

pub struct GenServerContender;

impl CounterApi for CounterRef {
    async fn add(&self, n: u64) {
        CounterRef::add(self, n);
    }

    async fn get(&self) -> u64 {
        CounterRef::get(self).await.expect("genserver: call get")
    }
}

impl KvApi for KvRef {
    async fn get(&self, key: u64) -> Option<u64> {
        KvRef::get(self, key).await.expect("genserver: call get")
    }

    async fn set(&self, key: u64, value: u64) {
        KvRef::set(self, key, value);
    }
}

impl Contender for GenServerContender {
    type Counter = CounterRef;
    type Kv = KvRef;

    async fn start_counter(count: u64) -> CounterRef {
        match Counter::start(Counter { count }).await {
            Ok(counter) => counter,
            Err(_) => panic!("genserver: start failed"),
        }
    }

    async fn start_kv(map: HashMap<u64, u64>) -> KvRef {
        match Kv::start(Kv { map }).await {
            Ok(kv) => kv,
            Err(_) => panic!("genserver: start failed"),
        }
    }

    async fn lifecycle_once(count: u64) -> u64 {
        let counter = Self::start_counter(count).await;
        let reply = counter.get().await.expect("genserver: call get");
        counter.stop(ExitReason::Normal, Duration::from_secs(5)).await.expect("genserver: stop");
        reply
    }
}
