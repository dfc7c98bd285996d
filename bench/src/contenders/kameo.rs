//! kameo: `#[derive(Actor)]` state, one `Message<M>` impl per message, `ask` for calls and
//! `tell` for casts, `spawn` with the default mailbox (bounded, 64 messages), and
//! `stop_gracefully` + `wait_for_shutdown` to stop.
//!
//! Requests are sent with `.send().await`, which is what awaiting the request does
//! (its `IntoFuture`) minus a boxed future per request.

use std::collections::HashMap;

use kameo::prelude::*;

use crate::harness::{Contender, CounterApi, KvApi};

#[derive(Actor)]
pub struct Counter {
    count: u64,
}

#[derive(Debug)]
pub struct Add(u64);

#[derive(Debug)]
pub struct Get;

impl Message<Add> for Counter {
    type Reply = ();

    async fn handle(&mut self, Add(n): Add, _ctx: &mut Context<Self, Self::Reply>) -> Self::Reply {
        self.count += n;
    }
}

impl Message<Get> for Counter {
    type Reply = u64;

    async fn handle(&mut self, _: Get, _ctx: &mut Context<Self, Self::Reply>) -> Self::Reply {
        self.count
    }
}

#[derive(Actor)]
pub struct Kv {
    map: HashMap<u64, u64>,
}

#[derive(Debug)]
pub struct KvGet(u64);

#[derive(Debug)]
pub struct KvSet(u64, u64);

impl Message<KvGet> for Kv {
    type Reply = Option<u64>;

    async fn handle(&mut self, KvGet(key): KvGet, _ctx: &mut Context<Self, Self::Reply>) -> Self::Reply {
        self.map.get(&key).copied()
    }
}

impl Message<KvSet> for Kv {
    type Reply = ();

    async fn handle(
        &mut self,
        KvSet(key, value): KvSet,
        _ctx: &mut Context<Self, Self::Reply>,
    ) -> Self::Reply {
        self.map.insert(key, value);
    }
}

impl CounterApi for ActorRef<Counter> {
    async fn add(&self, n: u64) {
        self.tell(Add(n)).send().await.expect("kameo: tell add");
    }

    async fn get(&self) -> u64 {
        self.ask(Get).send().await.expect("kameo: ask get")
    }
}

impl KvApi for ActorRef<Kv> {
    async fn get(&self, key: u64) -> Option<u64> {
        self.ask(KvGet(key)).send().await.expect("kameo: ask get")
    }

    async fn set(&self, key: u64, value: u64) {
        self.tell(KvSet(key, value)).send().await.expect("kameo: tell set");
    }
}

pub struct Kameo;

impl Contender for Kameo {
    type Counter = ActorRef<Counter>;
    type Kv = ActorRef<Kv>;

    async fn start_counter(count: u64) -> ActorRef<Counter> {
        Counter::spawn(Counter { count })
    }

    async fn start_kv(map: HashMap<u64, u64>) -> ActorRef<Kv> {
        Kv::spawn(Kv { map })
    }

    async fn lifecycle_once(count: u64) -> u64 {
        let counter = Counter::spawn(Counter { count });
        let reply = counter.ask(Get).send().await.expect("kameo: ask get");
        counter.stop_gracefully().await.expect("kameo: stop");
        counter.wait_for_shutdown().await;
        reply
    }
}
