//! The MetricsCollector of the Elixir GenServer guide ("Asynchronous Casts"), written
//! with `#[genserver]`.
//!
//! Run it with `cargo run --example metrics_collector`. It starts the collector under a
//! name, as the guide does with `name: __MODULE__`; worker tasks find it by that name and
//! record how long their work took, without waiting (`record` is a cast). Then it reads
//! every metric's values (`get_metrics`, a call, as the guide's) and a summary of each
//! (`summaries`, an extra call the guide does not have).
//!
//! The collector keeps the last [`WINDOW`] values of each metric, newest first, as the
//! guide's `[value | existing] |> Enum.take(100)` does. Values that are not finite
//! numbers (NaN, infinities) are refused with a warning, as they would spoil every
//! summary.

use std::collections::{BTreeMap, HashMap, VecDeque};

use genserver_runtime::prelude::*;

/// How many values the collector keeps per metric.
pub const WINDOW: usize = 100;

/// The name the collector is registered under.
pub const NAME: &str = "metrics";

/// Collects named measurements, keeping the last [`WINDOW`] values of each, newest first.
#[derive(Default)]
pub struct MetricsCollector {
    metrics: HashMap<String, VecDeque<f64>>,
}

/// A summary of the values a metric holds (at most the last [`WINDOW`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricSummary {
    /// How many values are held.
    pub count: usize,
    /// The most recent value.
    pub last: f64,
    /// The smallest value held.
    pub min: f64,
    /// The largest value held.
    pub max: f64,
    /// The mean of the values held.
    pub mean: f64,
}

impl MetricSummary {
    /// Summarises `values`, newest first; `None` if there are none.
    fn of(values: &VecDeque<f64>) -> Option<MetricSummary> {
        let last = *values.front()?;
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        Some(MetricSummary { count: values.len(), last, min, max, mean })
    }
}

#[genserver]
impl MetricsCollector {
    /// Records `value` under `name` without waiting, in front of the metric's values;
    /// the oldest goes once it holds more than [`WINDOW`] (the guide's
    /// `[value | existing] |> Enum.take(100)`).
    #[cast]
    pub fn record(&mut self, name: String, value: f64) {
        if !value.is_finite() {
            tracing::warn!(metric = %name, value, "refused a value that is not a finite number");
            return;
        }
        let values = self.metrics.entry(name).or_default();
        values.push_front(value);
        values.truncate(WINDOW);
    }

    /// Every metric's values, newest first, by name: what the guide's `get_metrics`
    /// replies (its whole state).
    #[call]
    pub fn get_metrics(&self) -> BTreeMap<String, Vec<f64>> {
        self.metrics.iter().map(|(name, values)| (name.clone(), values.iter().copied().collect())).collect()
    }

    /// A summary of every metric, by name.
    #[call]
    pub fn summaries(&self) -> BTreeMap<String, MetricSummary> {
        self.metrics
            .iter()
            .filter_map(|(name, values)| Some((name.clone(), MetricSummary::of(values)?)))
            .collect()
    }

    /// The values held for `name`, newest first; empty if nothing was recorded.
    #[call]
    pub fn values(&self, name: String) -> Vec<f64> {
        self.metrics.get(&name).map(|values| values.iter().copied().collect()).unwrap_or_default()
    }
}

/// Some real work to measure: sums the squares of `0..n`.
fn sum_of_squares(n: u64) -> u64 {
    (0..n).map(|i| i.wrapping_mul(i)).fold(0, u64::wrapping_add)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_target(false).init();
    MetricsCollector::builder().name(NAME).start(MetricsCollector::default()).await?;

    // Workers look the collector up by name and record without waiting for it.
    let workers: Vec<_> = (1..=4u64)
        .map(|worker| {
            tokio::spawn(async move {
                let metrics = MetricsCollector::whereis(NAME).expect("the collector is running");
                for round in 1..=60 {
                    let started = std::time::Instant::now();
                    std::hint::black_box(sum_of_squares(round * worker * 1_000));
                    let micros = started.elapsed().as_secs_f64() * 1e6;
                    metrics.record(format!("worker_{worker}.work_us"), micros);
                    metrics.record("jobs.size".into(), (round * worker * 1_000) as f64);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await?;
    }

    let metrics = MetricsCollector::whereis(NAME).expect("the collector is running");
    metrics.record("jobs.size".into(), f64::NAN);
    let all = metrics.get_metrics().await?;
    let sizes = &all["jobs.size"];
    println!(
        "jobs.size keeps {} of 240 values (window {WINDOW}), newest first: {} ... {}",
        sizes.len(),
        sizes[0],
        sizes[sizes.len() - 1]
    );
    let summaries = metrics.summaries().await?;
    println!("{:<16} {:>5} {:>12} {:>12} {:>12} {:>12}", "metric", "count", "last", "min", "max", "mean");
    for (name, s) in summaries {
        println!(
            "{name:<16} {:>5} {:>12.1} {:>12.1} {:>12.1} {:>12.1}",
            s.count, s.last, s.min, s.max, s.mean
        );
    }
    let work = metrics.values("worker_1.work_us".into()).await?;
    println!("worker_1.work_us, newest first: {:.1?}", &work[..work.len().min(5)]);

    metrics.stop(ExitReason::Normal, Duration::from_secs(1)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn start() -> MetricsCollectorRef {
        MetricsCollector::start(MetricsCollector::default()).await.expect("the collector starts")
    }

    #[tokio::test]
    async fn get_metrics_returns_every_metrics_values_newest_first() {
        let metrics = start().await;
        for value in [1.0, 2.0, 3.0] {
            metrics.record("latency".into(), value);
        }
        metrics.record("errors".into(), 7.0);
        let expected =
            BTreeMap::from([("errors".to_string(), vec![7.0]), ("latency".to_string(), vec![3.0, 2.0, 1.0])]);
        assert_eq!(metrics.get_metrics().await, Ok(expected));
    }

    #[tokio::test]
    async fn record_keeps_only_the_last_hundred_values_of_a_metric_newest_first() {
        let metrics = start().await;
        for value in 1..=150 {
            metrics.record("latency".into(), f64::from(value));
        }
        let all = metrics.get_metrics().await.expect("answers");
        let latency = &all["latency"];
        assert_eq!(latency.len(), 100);
        assert_eq!(latency[0], 150.0, "the newest value comes first");
        assert_eq!(latency[99], 51.0, "the last kept is the 51st recorded");
        let expected: Vec<f64> = (51..=150).rev().map(f64::from).collect();
        assert_eq!(latency, &expected);
        assert_eq!(metrics.values("latency".into()).await, Ok(expected));
        let summary = MetricSummary { count: 100, last: 150.0, min: 51.0, max: 150.0, mean: 100.5 };
        assert_eq!(metrics.summaries().await, Ok(BTreeMap::from([("latency".to_string(), summary)])));
    }

    #[tokio::test]
    async fn metrics_are_kept_apart_by_name() {
        let metrics = start().await;
        metrics.record("cpu".into(), 0.5);
        metrics.record("memory".into(), 2048.0);
        metrics.record("cpu".into(), 0.25);
        let expected =
            BTreeMap::from([("cpu".to_string(), vec![0.25, 0.5]), ("memory".to_string(), vec![2048.0])]);
        assert_eq!(metrics.get_metrics().await, Ok(expected));
        let all = metrics.summaries().await.expect("answers");
        assert_eq!(all.keys().collect::<Vec<_>>(), ["cpu", "memory"]);
        assert_eq!(all["cpu"], MetricSummary { count: 2, last: 0.25, min: 0.25, max: 0.5, mean: 0.375 });
        assert_eq!(
            all["memory"],
            MetricSummary { count: 1, last: 2048.0, min: 2048.0, max: 2048.0, mean: 2048.0 }
        );
    }

    #[tokio::test]
    async fn collector_with_nothing_recorded_reports_no_metrics() {
        let metrics = start().await;
        assert_eq!(metrics.get_metrics().await, Ok(BTreeMap::new()));
        assert_eq!(metrics.summaries().await, Ok(BTreeMap::new()));
        assert_eq!(metrics.values("missing".into()).await, Ok(Vec::new()));
    }

    #[tokio::test]
    async fn values_that_are_not_finite_are_refused_and_the_rest_kept() {
        let metrics = start().await;
        metrics.record("temp".into(), 20.0);
        metrics.record("temp".into(), f64::NAN);
        metrics.record("temp".into(), f64::INFINITY);
        metrics.record("never".into(), f64::NEG_INFINITY);
        metrics.record("temp".into(), 22.0);
        assert_eq!(
            metrics.get_metrics().await,
            Ok(BTreeMap::from([("temp".to_string(), vec![22.0, 20.0])])),
            "a metric with only refused values is not created"
        );
        let all = metrics.summaries().await.expect("answers");
        assert_eq!(all.keys().collect::<Vec<_>>(), ["temp"]);
        assert_eq!(all["temp"].mean, 21.0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn casts_from_many_tasks_all_arrive_each_in_its_senders_order() {
        let metrics = start().await;
        let tasks: Vec<_> = (0..8)
            .map(|task| {
                let metrics = metrics.clone();
                tokio::spawn(async move {
                    for n in 0..10 {
                        metrics.record(format!("task_{task}"), f64::from(n));
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("the task finishes");
        }
        // Every cast is in the mailbox before its task ends, so this call comes after them.
        let all = metrics.get_metrics().await.expect("answers");
        assert_eq!(all.len(), 8);
        let expected: Vec<f64> = (0..10).rev().map(f64::from).collect();
        for task in 0..8 {
            assert_eq!(all[&format!("task_{task}")], expected, "task_{task}, newest first");
        }
    }

    #[tokio::test]
    async fn collector_registered_under_its_name_is_found_by_it() {
        let started = MetricsCollector::builder()
            .name("metrics-test")
            .start(MetricsCollector::default())
            .await
            .expect("starts");
        let found = MetricsCollector::whereis("metrics-test").expect("registered");
        found.record("hits".into(), 1.0);
        assert_eq!(started.values("hits".into()).await, Ok(vec![1.0]));
    }
}
