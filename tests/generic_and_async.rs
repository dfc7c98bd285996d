//! Servers of every shape: a generic server, async handlers of every kind (init, call,
//! cast, info, continue, timeout, terminate), sync and async handlers side by side, and
//! a server that calls another from inside a handler.

use std::collections::HashMap;
use std::hash::Hash;

use genserver_runtime::prelude::*;
use genserver_runtime::whereis_id;
use tokio::sync::mpsc;
use tokio::time::Instant;

// ---- a generic server ----

/// A cache of numbers by any kind of key.
pub struct Cache<K> {
    entries: HashMap<K, u64>,
    hits: u64,
}

#[genserver]
impl<K: Hash + Eq + Clone + Send + 'static> Cache<K> {
    #[call]
    pub fn get(&mut self, key: K) -> Option<u64> {
        let found = self.entries.get(&key).copied();
        if found.is_some() {
            self.hits += 1;
        }
        found
    }

    #[cast]
    pub fn put(&mut self, key: K, value: u64) {
        self.entries.insert(key, value);
    }

    /// The keys, sorted by their value.
    #[call]
    pub fn keys_by_value(&self) -> Vec<K> {
        let mut entries: Vec<_> = self.entries.iter().collect();
        entries.sort_by_key(|(_, value)| **value);
        entries.into_iter().map(|(key, _)| key.clone()).collect()
    }

    #[call]
    pub fn hits(&self) -> u64 {
        self.hits
    }

    /// Forgets every entry after `after`.
    #[call]
    pub fn expire_after(&mut self, after: Duration, cx: &mut Context<Self>) -> TimerRef {
        cx.send_after(after, CacheInfo::Expire {})
    }

    #[info]
    pub fn expire(&mut self) {
        self.entries.clear();
    }
}

fn empty_cache<K>() -> Cache<K> {
    Cache { entries: HashMap::new(), hits: 0 }
}

#[tokio::test(start_paused = true)]
async fn generic_server_works_end_to_end_with_string_keys() {
    let cache = Cache::<String>::start(empty_cache()).await.expect("starts");
    cache.put("b".into(), 2);
    cache.put("a".into(), 1);
    assert_eq!(cache.get("a".into()).await, Ok(Some(1)));
    assert_eq!(cache.get("zzz".into()).await, Ok(None));
    assert_eq!(cache.keys_by_value().await, Ok(vec!["a".to_string(), "b".to_string()]));
    assert_eq!(cache.hits().await, Ok(1));
    let start = Instant::now();
    cache.expire_after(Duration::from_secs(60)).await.expect("answers");
    cache.send_info(CacheInfo::Expire {}).expect("queued");
    assert_eq!(cache.keys_by_value().await, Ok(vec![]));
    assert_eq!(start.elapsed(), Duration::ZERO);
    cache.stop(ExitReason::Normal, Duration::from_secs(1)).await.expect("stops");
}

#[tokio::test(start_paused = true)]
async fn generic_server_timer_delivers_its_info() {
    let cache = Cache::<(u8, u8)>::start(empty_cache()).await.expect("starts");
    cache.put((1, 2), 3);
    let timer = cache.expire_after(Duration::from_secs(60)).await.expect("answers");
    // The paused clock stops at the timer's deadline, lets it fire, then moves on.
    tokio::time::sleep(Duration::from_secs(61)).await;
    assert_eq!(timer.remaining(), None, "fired");
    assert_eq!(cache.get((1, 2)).await, Ok(None));
}

#[tokio::test(start_paused = true)]
async fn each_instantiation_of_a_generic_server_is_its_own_type_for_names() {
    let name = "generic-cache";
    let strings = Cache::<String>::builder().name(name).start(empty_cache()).await.expect("starts");
    assert_eq!(Cache::<String>::whereis(name).map(|found| found.id()), Some(strings.id()));
    assert!(Cache::<u32>::whereis(name).is_none());
    let numbers = Cache::<u32>::builder().name(name).start(empty_cache()).await;
    match numbers {
        Err(StartError::TakenByOtherType(holder)) => assert_eq!(holder.id(), strings.id()),
        other => panic!("expected TakenByOtherType, got {other:?}"),
    }
    assert_eq!(whereis_id(name), Some(strings.id()));
}

#[tokio::test(start_paused = true)]
async fn generic_server_is_named_by_its_short_type_name() {
    let cache = Cache::<String>::start(empty_cache()).await.expect("starts");
    let shown = format!("{cache:?}");
    assert_eq!(shown, format!("Cache<String> {{ id: {:?}, alive: true }}", cache.id()));
}

// ---- async handlers ----

/// What happened, and when.
type Event = (String, Instant);

/// A server whose every handler is async and waits on the clock before it acts.
pub struct Sleepy {
    events: mpsc::UnboundedSender<Event>,
    total: u64,
}

#[genserver]
impl Sleepy {
    #[init]
    async fn init(events: mpsc::UnboundedSender<Event>, cx: &mut Context<Self>) -> Result<Self, String> {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let _ = events.send(("init".into(), Instant::now()));
        // Casting to itself from init: handled once the server loop runs.
        cx.me().add(1);
        Ok(Sleepy { events, total: 0 })
    }

    #[call]
    async fn slow_total(&self, delay: Duration) -> u64 {
        tokio::time::sleep(delay).await;
        self.total
    }

    /// A sync handler beside the async ones.
    #[call]
    fn total(&self) -> u64 {
        self.total
    }

    #[cast]
    async fn add(&mut self, n: u64) {
        tokio::time::sleep(Duration::from_millis(10)).await;
        self.total += n;
    }

    #[cast]
    async fn add_then_continue(&mut self, n: u64) -> NoReply<SleepyContinue> {
        tokio::task::yield_now().await;
        NoReply::continue_with(SleepyContinue::Double { times: n })
    }

    #[handle_continue]
    async fn double(&mut self, times: u64) -> NoReply {
        for _ in 0..times {
            tokio::time::sleep(Duration::from_millis(1)).await;
            self.total *= 2;
        }
        self.record("continue");
        NoReply::timeout(Duration::from_secs(5))
    }

    #[timeout]
    async fn idle(&mut self) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        self.record("timeout");
    }

    #[info]
    async fn ping(&mut self, cx: &mut Context<Self>) {
        tokio::time::sleep(Duration::from_millis(1)).await;
        let _ = cx.id();
        self.record("ping");
    }

    #[terminate]
    async fn terminate(&mut self, reason: &ExitReason, cx: &mut Context<Self>) {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let _ = cx.id();
        self.record(&format!("terminate {reason} with total {}", self.total));
    }
}

impl Sleepy {
    fn record(&self, what: &str) {
        let _ = self.events.send((what.to_string(), Instant::now()));
    }
}

#[tokio::test(start_paused = true)]
async fn async_handlers_of_every_kind_run_in_order() {
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let start = Instant::now();
    let sleepy = Sleepy::start(events_tx).await.expect("starts");
    assert_eq!(start.elapsed(), Duration::from_secs(1), "start waits for the async init");
    assert_eq!(
        events.recv().await.map(|(what, at)| (what, at - start)),
        Some(("init".into(), Duration::from_secs(1)))
    );

    assert_eq!(sleepy.total().await, Ok(1), "the cast from init was handled");
    let before = Instant::now();
    assert_eq!(sleepy.slow_total(Duration::from_millis(300)).await, Ok(1));
    assert_eq!(before.elapsed(), Duration::from_millis(300));

    sleepy.add(2);
    sleepy.add_then_continue(2);
    sleepy.send_info(SleepyInfo::Ping {}).expect("queued");
    let continued = events.recv().await.expect("the continuation ran");
    assert_eq!(continued.0, "continue");
    assert_eq!(events.recv().await.map(|(what, _)| what), Some("ping".into()));
    assert_eq!(sleepy.total().await, Ok(12), "(1 + 2) * 2 * 2");

    // The continuation asked for an idle timeout, but the info came first: no timeout.
    sleepy.stop(ExitReason::Shutdown, Duration::from_secs(3)).await.expect("stops");
    let (what, at) = events.recv().await.expect("terminate ran");
    assert_eq!(what, "terminate shutdown with total 12");
    assert_eq!(Instant::now(), at, "stop returned once the async terminate finished");
}

#[tokio::test(start_paused = true)]
async fn async_continue_can_arm_an_idle_timeout_that_runs_an_async_timeout_handler() {
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let sleepy = Sleepy::start(events_tx).await.expect("starts");
    events.recv().await.expect("init");
    sleepy.add_then_continue(1);
    let (what, continued_at) = events.recv().await.expect("the continuation ran");
    assert_eq!(what, "continue");
    let (what, at) = events.recv().await.expect("the timeout ran");
    assert_eq!(what, "timeout");
    assert_eq!(at - continued_at, Duration::from_millis(5_500), "5 s idle, then 500 ms in the handler");
}

#[tokio::test(start_paused = true)]
async fn async_terminate_that_outlasts_the_stop_timeout_returns_timeout() {
    let (events_tx, _events) = mpsc::unbounded_channel();
    let sleepy = Sleepy::start(events_tx).await.expect("starts");
    let timeout = Duration::from_secs(1);
    assert_eq!(
        sleepy.stop(ExitReason::Normal, timeout).await,
        Err(genserver_runtime::StopError::Timeout(timeout))
    );
    assert_eq!(sleepy.exited().await, ExitReason::Normal, "terminate finishes later");
}

// ---- servers calling servers ----

/// Keeps a tally; the back end of `Front`.
pub struct Tally(u64);

#[genserver]
impl Tally {
    #[call]
    async fn add(&mut self, n: u64) -> u64 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        self.0 += n;
        self.0
    }
}

/// Forwards to a `Tally` from inside its handlers.
pub struct Front {
    tally: TallyRef,
}

#[genserver]
impl Front {
    #[call]
    async fn add_twice(&self, n: u64) -> Result<u64, CallError> {
        self.tally.add(n).await?;
        self.tally.add(n).await
    }
}

#[tokio::test(start_paused = true)]
async fn async_handler_can_call_another_server() {
    let tally = Tally::start(Tally(0)).await.expect("starts");
    let front = Front::start(Front { tally: tally.clone() }).await.expect("starts");
    let start = Instant::now();
    assert_eq!(front.add_twice(3).await, Ok(Ok(6)));
    assert_eq!(start.elapsed(), Duration::from_millis(10));
    assert_eq!(tally.add(0).await, Ok(6));
    tally.kill();
    tally.exited().await;
    assert_eq!(
        front.add_twice(1).await,
        Ok(Err(CallError::NoServer)),
        "the front end sees the back end gone"
    );
}
