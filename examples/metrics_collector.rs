//! The MetricsCollector of the Elixir GenServer guide ("Asynchronous Casts"), written
//! with `#[genserver]`.
//!
//! Run it with `cargo run --example metrics_collector`. It starts the collector under a
//! name, as the guide does with `name: __MODULE__`; worker tasks find it by that name and
//! record how long their work took, without waiting (`record` is a cast). Then it reads a
//! summary of each metric (a call) and the raw values of one.
//!
//! The collector keeps the last [`WINDOW`] values of each metric, as the guide's
//! `Enum.take(100)` does, oldest first. Values that are not finite numbers (NaN,
//! infinities) are refused with a warning, as they would spoil every summary.

use std::collections::{BTreeMap, HashMap, VecDeque};

use genserver_runtime::prelude::*;

/// How many values the collector keeps per metric.
pub const WINDOW: usize = 100;

/// The name the collector is registered under.
pub const NAME: &str = "metrics";

/// Collects named measurements, keeping the last [`WINDOW`] values of each.
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
    /// Summarises `values`; `None` if there are none.
    fn of(values: &VecDeque<f64>) -> Option<MetricSummary> {
        let last = *values.back()?;
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        Some(MetricSummary { count: values.len(), last, min, max, mean })
    }
}

#[genserver]
impl MetricsCollector {
    /// Records `value` under `name` without waiting; the oldest value of the metric goes
    /// once it holds more than [`WINDOW`].
    #[cast]
    pub fn record(&mut self, name: String, value: f64) {
        if !value.is_finite() {
            tracing::warn!(metric = %name, value, "refused a value that is not a finite number");
            return;
        }
        let values = self.metrics.entry(name).or_default();
        values.push_back(value);
        if values.len() > WINDOW {
            values.pop_front();
        }
    }

    /// A summary of every metric, by name.
    #[call]
    pub fn get_metrics(&self) -> BTreeMap<String, MetricSummary> {
        self.metrics
            .iter()
            .filter_map(|(name, values)| Some((name.clone(), MetricSummary::of(values)?)))
            .collect()
    }

    /// The values held for `name`, oldest first; empty if nothing was recorded.
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
    let summaries = metrics.get_metrics().await?;
    println!("{:<16} {:>5} {:>12} {:>12} {:>12} {:>12}", "metric", "count", "last", "min", "max", "mean");
    for (name, s) in summaries {
        println!(
            "{name:<16} {:>5} {:>12.1} {:>12.1} {:>12.1} {:>12.1}",
            s.count, s.last, s.min, s.max, s.mean
        );
    }
    let sizes = metrics.values("jobs.size".into()).await?;
    println!("jobs.size keeps {} of 240 values (window {WINDOW}), the oldest now {}", sizes.len(), sizes[0]);

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
    async fn record_keeps_only_the_last_hundred_values_of_a_metric() {
        let metrics = start().await;
        for value in 1..=150 {
            metrics.record("latency".into(), f64::from(value));
        }
        let expected: Vec<f64> = (51..=150).map(f64::from).collect();
        assert_eq!(metrics.values("latency".into()).await, Ok(expected));
        let summary = MetricSummary { count: 100, last: 150.0, min: 51.0, max: 150.0, mean: 100.5 };
        assert_eq!(metrics.get_metrics().await, Ok(BTreeMap::from([("latency".to_string(), summary)])));
    }

    #[tokio::test]
    async fn metrics_are_kept_apart_by_name() {
        let metrics = start().await;
        metrics.record("cpu".into(), 0.5);
        metrics.record("memory".into(), 2048.0);
        metrics.record("cpu".into(), 0.25);
        let all = metrics.get_metrics().await.expect("answers");
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
        assert_eq!(metrics.values("temp".into()).await, Ok(vec![20.0, 22.0]));
        let all = metrics.get_metrics().await.expect("answers");
        assert_eq!(
            all.keys().collect::<Vec<_>>(),
            ["temp"],
            "a metric with only refused values is not created"
        );
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
        for task in 0..8 {
            let expected: Vec<f64> = (0..10).map(f64::from).collect();
            assert_eq!(metrics.values(format!("task_{task}")).await, Ok(expected));
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
