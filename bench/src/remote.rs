//! Remote calls and casts between two processes on 127.0.0.1: genserver's cluster client
//! against raw Zenoh doing the same work (a query answered by a queryable; puts counted
//! by a subscriber), in the same run, interleaved.
//!
//! ```sh
//! cd bench && cargo run --release --features cluster --bin remote -- --runs 5
//! ```
//!
//! The process re-executes itself as the serving process, which opens a raw Zenoh
//! session and a genserver node, each listening on its own port of 127.0.0.1. The
//! measuring process connects one of each and, per run:
//! - **call**: `--calls` sequential round trips of one `u64` (the server adds one),
//!   timed one by one: p50 and p99;
//! - **cast**: `--casts` casts of one `u64`, then one call that returns how many arrived
//!   (the order of one sender's messages makes it the count of all of them): casts per
//!   second, from the first cast to that reply.

use std::net::TcpListener;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use genserver_runtime::cluster::{Node, NodeConfig, NodeEvent};
use genserver_runtime::prelude::*;
use tokio::io::{AsyncBufReadExt, BufReader};
use zenoh::Wait;
use zenoh::qos::CongestionControl;

/// The variable that makes a process the serving side: the cluster's name.
const SERVE: &str = "GENSERVER_BENCH_REMOTE_SERVE";

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The server both sides measure: adds, counts casts.
pub struct Counter {
    casts: u64,
}

#[genserver(remote)]
impl Counter {
    /// `n + 1`.
    #[call]
    pub fn add_one(&self, n: u64) -> u64 {
        n + 1
    }

    /// Counts one cast; `n` is its payload, as the raw cast's.
    #[cast]
    pub fn bump(&mut self, n: u64) {
        let _ = n;
        self.casts += 1;
    }

    /// How many casts arrived.
    #[call]
    pub fn casts(&self) -> u64 {
        self.casts
    }
}

struct Options {
    runs: usize,
    calls: usize,
    casts: usize,
}

fn options() -> Result<Options, Error> {
    let mut options = Options { runs: 5, calls: 5_000, casts: 100_000 };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value: usize = args.next().ok_or(format!("{arg} needs a value"))?.parse()?;
        match arg.as_str() {
            "--runs" => options.runs = value,
            "--calls" => options.calls = value,
            "--casts" => options.casts = value,
            other => return Err(format!("unknown option {other}; use --runs, --calls, --casts").into()),
        }
    }
    Ok(options)
}

fn free_endpoint() -> Result<String, Error> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    Ok(format!("tcp/127.0.0.1:{port}"))
}

fn raw_config(listen: Option<&str>, connect: Option<&str>) -> Result<zenoh::Config, Error> {
    let mut config = zenoh::Config::default();
    let set = |config: &mut zenoh::Config, key: &str, value: String| {
        config.insert_json5(key, &value).map_err(|error| format!("{key}: {error}"))
    };
    set(&mut config, "scouting/multicast/enabled", "false".into())?;
    if let Some(listen) = listen {
        set(&mut config, "listen/endpoints", format!("[\"{listen}\"]"))?;
    }
    if let Some(connect) = connect {
        set(&mut config, "connect/endpoints", format!("[\"{connect}\"]"))?;
    }
    Ok(config)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    match std::env::var(SERVE) {
        Ok(cluster) => serve(&cluster).await,
        Err(_) => measure(options()?).await,
    }
}

/// The serving process: a raw queryable and subscriber, and a genserver node with a
/// global `Counter`; prints both endpoints, then runs until its stdin closes.
async fn serve(cluster: &str) -> Result<(), Error> {
    let (raw_endpoint, node_endpoint) = (free_endpoint()?, free_endpoint()?);
    let raw = zenoh::open(raw_config(Some(&raw_endpoint), None)?).await?;
    let casts = Arc::new(AtomicU64::new(0));
    raw.declare_queryable("bench/raw/call")
        .callback(|query| {
            let n = query.payload().map(|p| p.to_bytes()).and_then(|b| b.as_ref().try_into().ok());
            let n = u64::from_le_bytes(n.unwrap_or([0; 8]));
            let _ = query.reply(query.key_expr().clone(), (n + 1).to_le_bytes().to_vec()).wait();
        })
        .background()
        .await?;
    {
        let casts = casts.clone();
        raw.declare_subscriber("bench/raw/cast")
            .callback(move |_| {
                casts.fetch_add(1, Ordering::Relaxed);
            })
            .background()
            .await?;
    }
    raw.declare_queryable("bench/raw/count")
        .callback(move |query| {
            let count = casts.load(Ordering::Relaxed);
            let _ = query.reply(query.key_expr().clone(), count.to_le_bytes().to_vec()).wait();
        })
        .background()
        .await?;
    let node = Node::start(NodeConfig::new(cluster).name("server").listen(&node_endpoint)).await?;
    let counter = Counter::start(Counter { casts: 0 }).await?;
    node.register_global("counter", &counter).await?;
    println!("ready {raw_endpoint} {node_endpoint}");
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    while stdin.next_line().await?.is_some() {}
    node.stop().await?;
    Ok(())
}

/// Latencies as (p50, p99) in microseconds.
fn percentiles(mut latencies: Vec<Duration>) -> (f64, f64) {
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1e6;
    (at(0.50), at(0.99))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

async fn measure(options: Options) -> Result<(), Error> {
    let cluster = format!("bench-remote-{}", std::process::id());
    let mut server = tokio::process::Command::new(std::env::current_exe()?)
        .env(SERVE, &cluster)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(server.stdout.take().ok_or("no stdout")?).lines();
    let ready = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await??.ok_or("no ready line")?;
    let mut endpoints = ready.strip_prefix("ready ").ok_or("bad ready line")?.split(' ');
    let (raw_endpoint, node_endpoint) = (endpoints.next().ok_or("no raw")?, endpoints.next().ok_or("no node")?);

    let raw = zenoh::open(raw_config(None, Some(raw_endpoint))?).await?;
    let node = Node::start(NodeConfig::new(&cluster).name("client").connect(node_endpoint)).await?;
    let mut events = node.events();
    while events.next().await != Some(NodeEvent::Up("server".into())) {}
    let counter = Counter::global(&node, "counter").await?;

    let (mut raw_calls, mut gs_calls, mut raw_casts, mut gs_casts) = (vec![], vec![], vec![], vec![]);
    let mut sent_casts = 0u64;
    for run in 0..options.runs {
        // Calls: raw, then genserver.
        let mut latencies = Vec::with_capacity(options.calls);
        for i in 0..options.calls as u64 {
            let started = Instant::now();
            let replies = raw.get("bench/raw/call").payload(i.to_le_bytes().to_vec()).await?;
            let reply = replies.recv_async().await?;
            let bytes = reply.result().map_err(|_| "raw call refused")?.payload().to_bytes();
            assert_eq!(u64::from_le_bytes(bytes.as_ref().try_into()?), i + 1);
            latencies.push(started.elapsed());
        }
        raw_calls.push(percentiles(latencies));
        let mut latencies = Vec::with_capacity(options.calls);
        for i in 0..options.calls as u64 {
            let started = Instant::now();
            assert_eq!(counter.add_one(i).await?, i + 1);
            latencies.push(started.elapsed());
        }
        gs_calls.push(percentiles(latencies));

        // Casts: raw, then genserver; each ends with a call that counts them.
        let started = Instant::now();
        for i in 0..options.casts as u64 {
            raw.put("bench/raw/cast", i.to_le_bytes().to_vec()).congestion_control(CongestionControl::Block).await?;
        }
        let replies = raw.get("bench/raw/count").await?;
        let reply = replies.recv_async().await?;
        let count = u64::from_le_bytes(reply.result().map_err(|_| "count refused")?.payload().to_bytes().as_ref().try_into()?);
        sent_casts += options.casts as u64;
        assert_eq!(count, sent_casts, "every raw cast arrived, in order before the count");
        raw_casts.push(options.casts as f64 / started.elapsed().as_secs_f64());
        let started = Instant::now();
        for i in 0..options.casts as u64 {
            counter.bump(i + 1);
        }
        assert_eq!(counter.casts().no_timeout().await?, sent_casts, "every cast arrived before the count");
        gs_casts.push(options.casts as f64 / started.elapsed().as_secs_f64());
        eprintln!("run {} of {} done", run + 1, options.runs);
    }
    drop(server.stdin.take());
    let _ = tokio::time::timeout(Duration::from_secs(10), server.wait()).await;
    node.stop().await?;

    let p = |calls: &[(f64, f64)], pick: fn(&(f64, f64)) -> f64| median(calls.iter().map(pick).collect());
    let (raw50, raw99) = (p(&raw_calls, |c| c.0), p(&raw_calls, |c| c.1));
    let (gs50, gs99) = (p(&gs_calls, |c| c.0), p(&gs_calls, |c| c.1));
    let (raw_tp, gs_tp) = (median(raw_casts.clone()), median(gs_casts.clone()));
    println!("| remote, 2 processes on 127.0.0.1 (median of {} runs) | genserver | raw Zenoh | ratio |", options.runs);
    println!("|---|---|---|---|");
    println!("| call p50 ({} sequential calls) | {gs50:.1} µs | {raw50:.1} µs | {:.2}× |", options.calls, gs50 / raw50);
    println!("| call p99 | {gs99:.1} µs | {raw99:.1} µs | {:.2}× |", gs99 / raw99);
    println!(
        "| casts per second ({} casts, then a call) | {:.0} | {:.0} | {:.2}× |",
        options.casts,
        gs_tp,
        raw_tp,
        gs_tp / raw_tp
    );
    let spread = |values: &[f64]| {
        let (min, max) = values.iter().fold((f64::MAX, 0f64), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
        format!("{min:.0}–{max:.0}")
    };
    println!("\ncasts/s min–max: genserver {}, raw {}", spread(&gs_casts), spread(&raw_casts));
    Ok(())
}
