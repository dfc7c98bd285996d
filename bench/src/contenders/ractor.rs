//! ractor: an `Actor` impl with a message enum and the state in `State`, `cast!` for casts
//! and `call!` for calls (no timeout, like the other libraries' defaults), `Actor::spawn`
//! (which returns once `pre_start` has run), and `stop` + awaiting the join handle.

use std::collections::HashMap;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, call, cast};

use crate::harness::{Contender, CounterApi, KvApi};

pub struct Counter;

pub enum CounterMsg {
    Add(u64),
    Get(RpcReplyPort<u64>),
}

impl Actor for Counter {
    type Msg = CounterMsg;
    type State = u64;
    type Arguments = u64;

    async fn pre_start(&self, _myself: ActorRef<Self::Msg>, count: u64) -> Result<u64, ActorProcessingErr> {
        Ok(count)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        count: &mut u64,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            CounterMsg::Add(n) => *count += n,
            CounterMsg::Get(reply) => {
                let _ = reply.send(*count);
            }
        }
        Ok(())
    }
}

pub struct Kv;

pub enum KvMsg {
    Get(u64, RpcReplyPort<Option<u64>>),
    Set(u64, u64),
}

impl Actor for Kv {
    type Msg = KvMsg;
    type State = HashMap<u64, u64>;
    type Arguments = HashMap<u64, u64>;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        map: HashMap<u64, u64>,
    ) -> Result<HashMap<u64, u64>, ActorProcessingErr> {
        Ok(map)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        map: &mut HashMap<u64, u64>,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            KvMsg::Get(key, reply) => {
                let _ = reply.send(map.get(&key).copied());
            }
            KvMsg::Set(key, value) => {
                map.insert(key, value);
            }
        }
        Ok(())
    }
}

impl CounterApi for ActorRef<CounterMsg> {
    async fn add(&self, n: u64) {
        if cast!(self, CounterMsg::Add(n)).is_err() {
            panic!("ractor: cast add");
        }
    }

    async fn get(&self) -> u64 {
        match call!(self, CounterMsg::Get) {
            Ok(count) => count,
            Err(_) => panic!("ractor: call get"),
        }
    }
}

impl KvApi for ActorRef<KvMsg> {
    async fn get(&self, key: u64) -> Option<u64> {
        match call!(self, KvMsg::Get, key) {
            Ok(value) => value,
            Err(_) => panic!("ractor: call get"),
        }
    }

    async fn set(&self, key: u64, value: u64) {
        if cast!(self, KvMsg::Set(key, value)).is_err() {
            panic!("ractor: cast set");
        }
    }
}

pub struct Ractor;

impl Contender for Ractor {
    type Counter = ActorRef<CounterMsg>;
    type Kv = ActorRef<KvMsg>;

    async fn start_counter(count: u64) -> ActorRef<CounterMsg> {
        let (actor, _join) = Actor::spawn(None, Counter, count).await.expect("ractor: spawn");
        actor
    }

    async fn start_kv(map: HashMap<u64, u64>) -> ActorRef<KvMsg> {
        let (actor, _join) = Actor::spawn(None, Kv, map).await.expect("ractor: spawn");
        actor
    }

    async fn lifecycle_once(count: u64) -> u64 {
        let (actor, join) = Actor::spawn(None, Counter, count).await.expect("ractor: spawn");
        let reply = match call!(actor, CounterMsg::Get) {
            Ok(count) => count,
            Err(_) => panic!("ractor: call get"),
        };
        actor.stop(None);
        join.await.expect("ractor: join");
        reply
    }
}
