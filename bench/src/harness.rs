//! The scenarios, written once against three small traits that every contender
//! implements with its own idiomatic code (see `contenders/`).
//!
//! Every scenario checks its result and panics if it is wrong; the driver reports a
//! panicking child as a failed measurement.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use crate::alloc_count;

/// A counter server's client: cast `add(n)`, call `get() -> u64`.
pub trait CounterApi: Clone + Send + Sync + 'static {
    /// The cast. Contenders whose cast is synchronous return a ready future.
    fn add(&self, n: u64) -> impl Future<Output = ()> + Send;
    /// The call.
    fn get(&self) -> impl Future<Output = u64> + Send;
}

/// A key-value server's client over a `HashMap<u64, u64>`: call `get`, cast `set`.
pub trait KvApi: Clone + Send + Sync + 'static {
    /// The call.
    fn get(&self, key: u64) -> impl Future<Output = Option<u64>> + Send;
    /// The cast.
    fn set(&self, key: u64, value: u64) -> impl Future<Output = ()> + Send;
}

/// One actor library (or the hand-written floor).
pub trait Contender: 'static {
    /// The counter's client handle (kept alive for as long as the server should live).
    type Counter: CounterApi;
    /// The key-value server's client handle.
    type Kv: KvApi;

    /// Starts a counter server holding `count`, the way the library's docs start one.
    fn start_counter(count: u64) -> impl Future<Output = Self::Counter> + Send;

    /// Starts a key-value server holding `map`.
    fn start_kv(map: HashMap<u64, u64>) -> impl Future<Output = Self::Kv> + Send;

    /// Scenario D's unit of work: start a counter holding `count` (including its init),
    /// make one call, stop it and wait until it has stopped. Returns the call's reply.
    fn lifecycle_once(count: u64) -> impl Future<Output = u64> + Send;

    /// Spawns a client task (a producer in B, a client in F).
    fn spawn<F>(future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        tokio::spawn(future)
    }
}

/// Which way a number should go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Higher,
    Lower,
}

/// What kind of number, for formatting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// Events per second.
    PerSec,
    /// Nanoseconds.
    Nanos,
    /// Bytes.
    Bytes,
    /// A plain count.
    Count,
    /// Seconds.
    Secs,
}

/// One number a measurement produced.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Metric {
    pub name: String,
    pub value: f64,
    pub unit: Unit,
    pub better: Better,
}

impl Metric {
    fn new(name: &str, value: f64, unit: Unit, better: Better) -> Self {
        Metric { name: name.to_string(), value, unit, better }
    }
}

/// What one measurement reports (printed as one JSON line by `bench run`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Outcome {
    pub metrics: Vec<Metric>,
    /// Free-form facts worth keeping (scenario G: why it stopped).
    #[serde(default)]
    pub note: Option<String>,
}

impl Outcome {
    fn of(metrics: Vec<Metric>) -> Self {
        Outcome { metrics, note: None }
    }
}

// A, B, C and F make one call before the clock starts, so that every contender's server
// has run its init and waits on its mailbox (kameo's and actix's start, and the floor's
// spawn, return before the server task has run at all).

/// Sizes of the scenarios.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    /// G: how many servers to aim for.
    pub scale_target: u64,
    /// G: stop before RSS would pass this many bytes.
    pub rss_limit: u64,
}

pub const A_CASTS: u64 = 1_000_000;
pub const B_PRODUCERS: u64 = 4;
pub const B_CASTS_EACH: u64 = 250_000;
pub const C_WARMUP: usize = 10_000;
pub const C_CALLS: usize = 200_000;
pub const D_SERVERS: u64 = 100_000;
pub const E_SERVERS: u64 = 100_000;
pub const F_KEYS: u64 = 1_000;
pub const F_CLIENTS: u64 = 8;
pub const F_OPS_EACH: u64 = 100_000;
pub const G_BATCH: u64 = 100_000;

fn per_sec(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

/// A: one producer casts `add(1)` a million times, then one call must read 1,000,000.
pub async fn a_one_producer<C: Contender>() -> Outcome {
    let counter = C::start_counter(0).await;
    assert_eq!(counter.get().await, 0, "A: the server is up");
    let start = Instant::now();
    for _ in 0..A_CASTS {
        counter.add(1).await;
    }
    let total = counter.get().await;
    let elapsed = start.elapsed();
    assert_eq!(total, A_CASTS, "A: the counter must have seen every cast");
    Outcome::of(vec![Metric::new("casts/s", per_sec(A_CASTS, elapsed), Unit::PerSec, Better::Higher)])
}

/// B: four producer tasks cast 250,000 `add(1)` each; then one call must read 1,000,000.
pub async fn b_four_producers<C: Contender>() -> Outcome {
    let counter = C::start_counter(0).await;
    assert_eq!(counter.get().await, 0, "B: the server is up");
    let start = Instant::now();
    let producers: Vec<_> = (0..B_PRODUCERS)
        .map(|_| {
            let counter = counter.clone();
            C::spawn(async move {
                for _ in 0..B_CASTS_EACH {
                    counter.add(1).await;
                }
            })
        })
        .collect();
    for producer in producers {
        producer.await.expect("B: a producer panicked");
    }
    let total = counter.get().await;
    let elapsed = start.elapsed();
    let casts = B_PRODUCERS * B_CASTS_EACH;
    assert_eq!(total, casts, "B: the counter must have seen every cast");
    Outcome::of(vec![Metric::new("casts/s", per_sec(casts, elapsed), Unit::PerSec, Better::Higher)])
}

/// C: sequential calls from one client, each timed; mean, p50 and p99.
pub async fn c_call_latency<C: Contender>() -> Outcome {
    const VALUE: u64 = 7;
    let counter = C::start_counter(0).await;
    counter.add(VALUE).await;
    for _ in 0..C_WARMUP {
        assert_eq!(counter.get().await, VALUE, "C: warm-up call");
    }
    let mut samples: Vec<u64> = Vec::with_capacity(C_CALLS);
    for _ in 0..C_CALLS {
        let start = Instant::now();
        let value = counter.get().await;
        let took = start.elapsed();
        samples.push(took.as_nanos() as u64);
        assert_eq!(value, VALUE, "C: call reply");
    }
    let mean = samples.iter().sum::<u64>() as f64 / samples.len() as f64;
    samples.sort_unstable();
    let quantile = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)] as f64;
    Outcome::of(vec![
        Metric::new("mean latency", mean, Unit::Nanos, Better::Lower),
        Metric::new("p50 latency", quantile(0.50), Unit::Nanos, Better::Lower),
        Metric::new("p99 latency", quantile(0.99), Unit::Nanos, Better::Lower),
    ])
}

/// D: 100,000 times, one after another: start + init + one call + stop and wait.
pub async fn d_lifecycle<C: Contender>() -> Outcome {
    let start = Instant::now();
    for i in 0..D_SERVERS {
        let reply = C::lifecycle_once(i).await;
        assert_eq!(reply, i, "D: the call must read the initial state");
    }
    let elapsed = start.elapsed();
    let per_server = elapsed.as_nanos() as f64 / D_SERVERS as f64;
    Outcome::of(vec![Metric::new("time per server", per_server, Unit::Nanos, Better::Lower)])
}

/// E: memory of 100,000 idle counter servers (each answered one call, then idles).
pub async fn e_idle_memory<C: Contender>() -> Outcome {
    let mut servers: Vec<C::Counter> = Vec::with_capacity(E_SERVERS as usize);
    alloc_count::enable();
    // Let the runtime settle so that its own lazy allocations are not counted.
    tokio::task::yield_now().await;
    let heap_before = alloc_count::live_bytes();
    let rss_before = rss_bytes();
    for i in 0..E_SERVERS {
        servers.push(C::start_counter(i).await);
    }
    for (i, server) in servers.iter().enumerate() {
        assert_eq!(server.get().await, i as u64, "E: each server answers with its own state");
    }
    let heap_after = alloc_count::live_bytes();
    let rss_after = rss_bytes();
    let heap = (heap_after - heap_before) as f64 / E_SERVERS as f64;
    let rss = (rss_after as f64 - rss_before as f64) / E_SERVERS as f64;
    std::hint::black_box(&servers);
    Outcome::of(vec![
        Metric::new("heap bytes per server", heap, Unit::Bytes, Better::Lower),
        Metric::new("RSS bytes per server", rss, Unit::Bytes, Better::Lower),
    ])
}

/// The per-client operation sequence of F.
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// F: a key-value server with 1,000 keys; 8 clients × 100,000 ops, 80% get calls and
/// 20% set casts; each client ends with a check call. Every value of key `k` is
/// `k (mod 1000)`, so every reply can be checked.
pub async fn f_key_value<C: Contender>() -> Outcome {
    let map: HashMap<u64, u64> = (0..F_KEYS).map(|key| (key, key)).collect();
    let kv = C::start_kv(map).await;
    assert_eq!(kv.get(0).await, Some(0), "F: the server is up");
    let start = Instant::now();
    let clients: Vec<_> = (0..F_CLIENTS)
        .map(|client| {
            let kv = kv.clone();
            C::spawn(async move {
                let mut rng = XorShift::new(client + 1);
                let mut last_set = None;
                for op in 0..F_OPS_EACH {
                    let x = rng.next();
                    let key = x % F_KEYS;
                    if (x >> 32) % 10 < 2 {
                        kv.set(key, key + F_KEYS * (op + 1)).await;
                        last_set = Some(key);
                    } else {
                        let value = kv.get(key).await.expect("F: every key is present");
                        assert_eq!(value % F_KEYS, key, "F: value of key {key}");
                    }
                }
                // The check call: behind this client's casts in its server's mailbox.
                let key = last_set.expect("F: a client set at least one key");
                let value = kv.get(key).await.expect("F: a key that was set is present");
                assert_eq!(value % F_KEYS, key, "F: final check of key {key}");
            })
        })
        .collect();
    for client in clients {
        client.await.expect("F: a client panicked");
    }
    let elapsed = start.elapsed();
    for key in 0..F_KEYS {
        let value = kv.get(key).await.expect("F: every key is still present");
        assert_eq!(value % F_KEYS, key, "F: after the run, key {key}");
    }
    let ops = F_CLIENTS * F_OPS_EACH;
    Outcome::of(vec![Metric::new("ops/s", per_sec(ops, elapsed), Unit::PerSec, Better::Higher)])
}

/// G: start idle counters in batches of 100,000 until the target, or until the next
/// batch would take RSS past the limit or leave less than 1 GiB of memory available.
pub async fn g_scale<C: Contender>(params: Params) -> Outcome {
    let target = params.scale_target;
    let mut servers: Vec<C::Counter> = Vec::with_capacity(target as usize);
    let rss_before = rss_bytes();
    let start = Instant::now();
    let mut why = "reached the target".to_string();
    while (servers.len() as u64) < target {
        let batch = G_BATCH.min(target - servers.len() as u64);
        let first = servers.len() as u64;
        for i in first..first + batch {
            servers.push(C::start_counter(i).await);
        }
        let rss = rss_bytes();
        let per_server = rss.saturating_sub(rss_before) / servers.len() as u64;
        let next = G_BATCH.min(target.saturating_sub(servers.len() as u64));
        if next > 0 && rss + per_server * next > params.rss_limit {
            why = format!(
                "stopped: the next batch would take RSS past {:.1} GiB",
                params.rss_limit as f64 / GIB
            );
            break;
        }
        if next > 0 && mem_available_bytes().is_some_and(|avail| avail < per_server * next + (1 << 30)) {
            why = "stopped: the next batch would leave less than 1 GiB of memory available".to_string();
            break;
        }
    }
    let elapsed = start.elapsed();
    let alive = servers.len() as u64;
    let rss = rss_bytes().saturating_sub(rss_before);
    // Check a sample of 1,000 servers spread over all of them, and the last one.
    let step = (alive / 1000).max(1) as usize;
    for (i, server) in servers.iter().enumerate().step_by(step).chain(servers.iter().enumerate().last()) {
        assert_eq!(server.get().await, i as u64, "G: server {i} answers with its own state");
    }
    std::hint::black_box(&servers);
    Outcome {
        metrics: vec![
            Metric::new("servers alive", alive as f64, Unit::Count, Better::Higher),
            Metric::new("time to start", elapsed.as_secs_f64(), Unit::Secs, Better::Lower),
            Metric::new("starts/s", per_sec(alive, elapsed), Unit::PerSec, Better::Higher),
            Metric::new("RSS bytes per server", rss as f64 / alive as f64, Unit::Bytes, Better::Lower),
        ],
        note: Some(why),
    }
}

pub const GIB: f64 = (1u64 << 30) as f64;

/// Resident set size of this process, from `/proc/self/statm` (pages × page size).
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("statm resident");
    pages * page_size()
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 { size as u64 } else { 4096 }
}

/// `MemAvailable` from `/proc/meminfo`, in bytes.
pub fn mem_available_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// What `bench ops` repeats, for counting instructions per operation with callgrind
/// (`callgrind.sh`): no clock, only the work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// `count` casts `add(1)`, then one call that must read `count`.
    Cast,
    /// `count` sequential calls `get()`.
    Call,
    /// `count` times scenario D's unit: start, one call, stop and wait for the stop.
    Lifecycle,
}

/// Runs `count` operations of one kind.
pub async fn operations<C: Contender>(operation: Operation, count: u64) -> Outcome {
    match operation {
        Operation::Cast => {
            let counter = C::start_counter(0).await;
            for _ in 0..count {
                counter.add(1).await;
            }
            assert_eq!(counter.get().await, count, "ops: every cast counted");
        }
        Operation::Call => {
            let counter = C::start_counter(7).await;
            for _ in 0..count {
                assert_eq!(counter.get().await, 7, "ops: the call reads the state");
            }
        }
        Operation::Lifecycle => {
            for i in 0..count {
                assert_eq!(C::lifecycle_once(i).await, i, "ops: the call reads the initial state");
            }
        }
    }
    Outcome::of(Vec::new())
}
