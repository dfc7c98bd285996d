//! The guide's PeriodicHealthChecker: a server that checks a list of URLs over real HTTP
//! every interval, rescheduling itself with `send_after`, and answers `get_status` with
//! the latest statuses (healthy, unhealthy or unreachable).
//!
//! Run it with `cargo run --example periodic_health_checker`. It starts local HTTP
//! services, checks them every second, turns one of them from healthy to failing between
//! two rounds, prints both rounds, and stops.
//!
//! Unlike the guide's version, a round runs in its own task and reports back as an info
//! message, so `get_status` answers at once even while requests wait for their timeout.
//! The next round is scheduled when a round ends, so two rounds never overlap.

mod support;

use std::collections::BTreeMap;
use std::error::Error;

use genserver_runtime::prelude::*;
use support::http::{Health, HttpClient, check_all};
use support::services::{LocalServices, refused_url};
use tokio::task::AbortHandle;

/// One finished round of checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Round {
    /// 1 for the first round, then 2, 3...
    pub number: u64,
    /// The health of each URL.
    pub statuses: BTreeMap<String, Health>,
}

/// A round under way, in its own task.
struct RunningRound {
    task: AbortHandle,
    /// The callers of `next_round` waiting for it.
    waiters: Vec<ReplyTo<Round>>,
}

/// Checks a list of URLs every interval and keeps their latest health.
pub struct PeriodicHealthChecker {
    urls: Vec<String>,
    interval: Duration,
    client: HttpClient,
    statuses: BTreeMap<String, Health>,
    rounds: u64,
    /// Callers of `next_round` waiting for the next round to start.
    waiting: Vec<ReplyTo<Round>>,
    running: Option<RunningRound>,
}

#[genserver]
impl PeriodicHealthChecker {
    /// Checks `urls` every `interval` (measured from the end of one round to the start of
    /// the next), each request giving up after `timeout` (the guide's:
    /// [`HttpClient::DEFAULT_TIMEOUT`]). The first round comes one interval after start.
    #[init]
    fn init(
        urls: Vec<String>,
        interval: Duration,
        timeout: Duration,
        cx: &mut Context<Self>,
    ) -> Result<Self, Box<dyn Error + Send + Sync>> {
        if interval.is_zero() {
            return Err("the interval must be longer than zero".into());
        }
        let client = HttpClient::new(timeout)?;
        cx.send_after(interval, PeriodicHealthCheckerInfo::PerformCheck {});
        Ok(PeriodicHealthChecker {
            urls,
            interval,
            client,
            statuses: BTreeMap::new(),
            rounds: 0,
            waiting: Vec::new(),
            running: None,
        })
    }

    /// The statuses of the last finished round (empty before the first).
    #[call]
    pub fn get_status(&self) -> BTreeMap<String, Health> {
        self.statuses.clone()
    }

    /// Replies with the next round that starts after this call, once it has finished.
    #[call]
    pub fn next_round(&mut self, reply_to: ReplyTo<Round>) -> NoReply {
        self.waiting.push(reply_to);
        NoReply::ok()
    }

    /// The interval has passed: starts a round in its own task.
    #[info]
    fn perform_check(&mut self, cx: &mut Context<Self>) {
        tracing::info!("performing health checks of {} URL(s)", self.urls.len());
        let (client, urls, checker) = (self.client.clone(), self.urls.clone(), cx.me());
        let task = tokio::spawn(async move {
            let statuses = check_all(&client, &urls).await;
            // Fails only if the checker has stopped, and then nobody needs the statuses.
            let _ = checker.send_info(PeriodicHealthCheckerInfo::RoundFinished { statuses });
        });
        let waiters = std::mem::take(&mut self.waiting);
        self.running = Some(RunningRound { task: task.abort_handle(), waiters });
    }

    /// A round has finished: keeps its statuses and schedules the next one.
    #[info]
    fn round_finished(&mut self, statuses: BTreeMap<String, Health>, cx: &mut Context<Self>) {
        self.rounds += 1;
        self.statuses = statuses;
        let round = Round { number: self.rounds, statuses: self.statuses.clone() };
        for waiter in self.running.take().map(|running| running.waiters).unwrap_or_default() {
            waiter.reply(round.clone());
        }
        cx.send_after(self.interval, PeriodicHealthCheckerInfo::PerformCheck {});
    }

    /// Cancels the round under way, if any.
    #[terminate]
    fn terminate(&mut self, reason: &ExitReason) {
        if let Some(running) = self.running.take() {
            running.task.abort();
        }
        tracing::info!("health checker stopping ({reason}) after {} round(s)", self.rounds);
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    support::log_to_stdout();
    let services = LocalServices::start().await?;
    let urls = vec![services.healthy_url(), services.flapping_url(), refused_url().await?];
    let interval = Duration::from_secs(1);
    let checker = PeriodicHealthChecker::start(urls, interval, Duration::from_millis(500)).await?;
    println!("Checking 3 URLs every {interval:?}; get_status() = {:?}", checker.get_status().await?);

    for _ in 0..2 {
        let round = checker.next_round().no_timeout().await?;
        println!("Round {}:", round.number);
        for (url, health) in &round.statuses {
            println!("  {url:<36} {health}");
        }
        // Between two rounds, /flapping starts failing.
        services.flapping().set(false);
    }

    checker.stop(ExitReason::Normal, Duration::from_secs(1)).await?;
    services.shutdown().await?;
    println!("checker stopped, services shut down");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    async fn start(urls: Vec<String>, interval: Duration, timeout: Duration) -> PeriodicHealthCheckerRef {
        PeriodicHealthChecker::start(urls, interval, timeout).await.expect("the checker starts")
    }

    async fn next_round(checker: &PeriodicHealthCheckerRef) -> Round {
        checker.next_round().no_timeout().await.expect("next_round answers")
    }

    #[tokio::test(start_paused = true)]
    async fn rounds_start_one_interval_after_the_previous_round_ends() {
        let interval = Duration::from_secs(30);
        let started = Instant::now();
        let checker = start(Vec::new(), interval, HttpClient::DEFAULT_TIMEOUT).await;
        for number in 1..=3 {
            let round = next_round(&checker).await;
            assert_eq!((round.number, started.elapsed()), (number, interval * number as u32));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_hanging_url_holds_a_round_for_the_five_second_timeout_and_rounds_never_overlap() {
        let services = LocalServices::start().await.expect("services start");
        let hanging = services.hanging_url();
        let interval = Duration::from_secs(10);
        let started = Instant::now();
        let checker = start(vec![hanging.clone()], interval, HttpClient::DEFAULT_TIMEOUT).await;
        let timed_out = Health::Unreachable("timed out after 5s".into());
        for number in 1..=2 {
            let round = next_round(&checker).await;
            assert_eq!(
                round,
                Round { number, statuses: BTreeMap::from([(hanging.clone(), timed_out.clone())]) }
            );
            // Each round: an interval of waiting, then the 5 s timeout.
            assert_eq!(started.elapsed(), (interval + HttpClient::DEFAULT_TIMEOUT) * number as u32);
        }
    }

    #[tokio::test]
    async fn a_round_reports_each_url_healthy_unhealthy_or_unreachable() {
        let services = LocalServices::start().await.expect("services start");
        let refused = refused_url().await.expect("a free port");
        let urls =
            vec![services.healthy_url(), services.failing_url(), services.hanging_url(), refused.clone()];
        let checker = start(urls, Duration::from_millis(20), Duration::from_millis(300)).await;
        assert_eq!(checker.get_status().await.expect("answers"), BTreeMap::new(), "no round yet");
        let round = next_round(&checker).await;
        assert_eq!(round.statuses[&services.healthy_url()], Health::Healthy);
        assert_eq!(round.statuses[&services.failing_url()], Health::Unhealthy(500));
        assert_eq!(
            round.statuses[&services.hanging_url()],
            Health::Unreachable("timed out after 300ms".into())
        );
        assert!(
            matches!(&round.statuses[&refused], Health::Unreachable(reason) if reason.contains("refused"))
        );
        assert_eq!(round.statuses.len(), 4);
        // get_status has this round, or a later one with the same statuses.
        assert_eq!(checker.get_status().await.expect("answers"), round.statuses);
    }

    #[tokio::test]
    async fn next_round_reports_a_round_that_started_after_the_call() {
        let services = LocalServices::start().await.expect("services start");
        let url = services.flapping_url();
        let checker = start(vec![url.clone()], Duration::from_millis(10), Duration::from_secs(5)).await;
        for healthy in [true, false, true, false] {
            services.flapping().set(healthy);
            let round = next_round(&checker).await;
            let expected = if healthy { Health::Healthy } else { Health::Unhealthy(500) };
            assert_eq!(round.statuses[&url], expected, "round {}", round.number);
        }
    }

    #[tokio::test]
    async fn get_status_answers_at_once_while_a_round_waits_and_stop_cancels_the_round() {
        let services = LocalServices::start().await.expect("services start");
        let checker =
            start(vec![services.hanging_url()], Duration::from_millis(10), Duration::from_secs(60)).await;
        services.hanging_requests_reach(1).await;
        let statuses = checker.get_status().timeout(Duration::from_secs(1)).await.expect("answers at once");
        assert_eq!(statuses, BTreeMap::new());
        checker.stop(ExitReason::Shutdown, Duration::from_secs(1)).await.expect("stops at once");
        services.hanging_abandoned_reach(1).await;
    }

    #[tokio::test]
    async fn a_zero_interval_is_refused() {
        let start =
            PeriodicHealthChecker::start(Vec::new(), Duration::ZERO, HttpClient::DEFAULT_TIMEOUT).await;
        assert!(start.is_err());
    }
}
