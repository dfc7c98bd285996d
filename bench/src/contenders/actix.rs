//! actix: `Actor` with `Context`, `#[derive(Message)]` messages with one `Handler` each,
//! `Addr::send` for calls and `Addr::do_send` for casts, `start()` with the default
//! mailbox. Runs on its own single-threaded `System`, as actix does.
//!
//! Stopping from outside and waiting for it takes a `Stop` message (its handler calls
//! `ctx.stop()`) and the `stopped` hook signalling a oneshot, so scenario D uses a
//! counter that carries that oneshot; every other scenario uses the plain counter.

use std::collections::HashMap;

use actix::prelude::*;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::harness::{Contender, CounterApi, KvApi};

pub struct Counter {
    count: u64,
}

impl Actor for Counter {
    type Context = Context<Self>;
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Add(u64);

#[derive(Message)]
#[rtype(result = "u64")]
pub struct Get;

impl Handler<Add> for Counter {
    type Result = ();

    fn handle(&mut self, Add(n): Add, _ctx: &mut Context<Self>) {
        self.count += n;
    }
}

impl Handler<Get> for Counter {
    type Result = u64;

    fn handle(&mut self, _: Get, _ctx: &mut Context<Self>) -> u64 {
        self.count
    }
}

/// Scenario D's counter: the same, plus a stop request and a signal once stopped.
pub struct StoppableCounter {
    count: u64,
    stopped: Option<oneshot::Sender<()>>,
}

impl Actor for StoppableCounter {
    type Context = Context<Self>;

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        if let Some(stopped) = self.stopped.take() {
            let _ = stopped.send(());
        }
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Stop;

impl Handler<Get> for StoppableCounter {
    type Result = u64;

    fn handle(&mut self, _: Get, _ctx: &mut Context<Self>) -> u64 {
        self.count
    }
}

impl Handler<Stop> for StoppableCounter {
    type Result = ();

    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

pub struct Kv {
    map: HashMap<u64, u64>,
}

impl Actor for Kv {
    type Context = Context<Self>;
}

#[derive(Message)]
#[rtype(result = "Option<u64>")]
pub struct KvGet(u64);

#[derive(Message)]
#[rtype(result = "()")]
pub struct KvSet(u64, u64);

impl Handler<KvGet> for Kv {
    type Result = Option<u64>;

    fn handle(&mut self, KvGet(key): KvGet, _ctx: &mut Context<Self>) -> Option<u64> {
        self.map.get(&key).copied()
    }
}

impl Handler<KvSet> for Kv {
    type Result = ();

    fn handle(&mut self, KvSet(key, value): KvSet, _ctx: &mut Context<Self>) {
        self.map.insert(key, value);
    }
}

impl CounterApi for Addr<Counter> {
    async fn add(&self, n: u64) {
        self.do_send(Add(n));
    }

    async fn get(&self) -> u64 {
        self.send(Get).await.expect("actix: send get")
    }
}

impl KvApi for Addr<Kv> {
    async fn get(&self, key: u64) -> Option<u64> {
        self.send(KvGet(key)).await.expect("actix: send get")
    }

    async fn set(&self, key: u64, value: u64) {
        self.do_send(KvSet(key, value));
    }
}

pub struct Actix;

impl Contender for Actix {
    type Counter = Addr<Counter>;
    type Kv = Addr<Kv>;

    async fn start_counter(count: u64) -> Addr<Counter> {
        Counter { count }.start()
    }

    async fn start_kv(map: HashMap<u64, u64>) -> Addr<Kv> {
        Kv { map }.start()
    }

    async fn lifecycle_once(count: u64) -> u64 {
        let (stopped, on_stopped) = oneshot::channel();
        let counter = StoppableCounter { count, stopped: Some(stopped) }.start();
        let reply = counter.send(Get).await.expect("actix: send get");
        counter.do_send(Stop);
        on_stopped.await.expect("actix: stopped");
        reply
    }

    /// Client tasks run on the System's thread, as actix's own `spawn` puts them.
    fn spawn<F>(future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        actix::spawn(future)
    }
}
