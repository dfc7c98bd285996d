//! The guide's health checker: a server that holds a list of URLs and their last
//! statuses, and checks them all over real HTTP, on a schedule and when asked. As in the
//! guide, `init` schedules the first check one second after the start (`send_after`), and
//! each check schedules the next one `check_interval` later.
//!
//! Run it with `cargo run --example health_checker`. It starts local HTTP services (one
//! answers 200, one 500, one never answers, and one port refuses connections), lets the
//! first scheduled check run, prints each URL's status (healthy, unhealthy or
//! unreachable), checks again on demand, and stops.
//!
//! A check runs inside the handler (`async`): simple, but the server answers nothing else
//! until every URL has answered or timed out. `periodic_health_checker` and
//! `service_monitor` show how to keep the mailbox free while the requests run.

mod support;

use std::collections::BTreeMap;

use genserver_runtime::prelude::*;
use support::http::{Health, HttpClient, check_all};
use support::services::{LocalServices, refused_url};

/// When the first scheduled check runs after the start (the guide's `schedule_check`).
pub const FIRST_CHECK: Duration = Duration::from_secs(1);

/// A list of URLs and the health each had at the last check.
pub struct HealthChecker {
    urls: Vec<String>,
    client: HttpClient,
    statuses: BTreeMap<String, Health>,
    /// Time between two scheduled checks; `None` to check only when asked.
    check_interval: Option<Duration>,
    /// Checks done so far, scheduled or asked for.
    checks: u64,
}

#[genserver]
impl HealthChecker {
    /// Checks `urls`, each request giving up after `timeout` (the guide uses 5 s:
    /// [`HttpClient::DEFAULT_TIMEOUT`]): [`FIRST_CHECK`] after the start, then every
    /// `check_interval` (the guide's is 30 s); with `None`, only when asked.
    #[init]
    fn init(
        urls: Vec<String>,
        timeout: Duration,
        check_interval: Option<Duration>,
        cx: &mut Context<Self>,
    ) -> Result<Self, reqwest::Error> {
        let client = HttpClient::new(timeout)?;
        if check_interval.is_some() {
            cx.send_after(FIRST_CHECK, HealthCheckerInfo::PerformCheck {});
        }
        Ok(HealthChecker { urls, client, statuses: BTreeMap::new(), check_interval, checks: 0 })
    }

    /// Checks every URL now, all at once, and replies with their statuses.
    #[call]
    pub async fn check(&mut self) -> BTreeMap<String, Health> {
        self.check_every_url().await;
        self.statuses.clone()
    }

    /// The scheduled check: checks every URL, then schedules the next check.
    #[info]
    async fn perform_check(&mut self, cx: &mut Context<Self>) {
        self.check_every_url().await;
        if let Some(interval) = self.check_interval {
            cx.send_after(interval, HealthCheckerInfo::PerformCheck {});
        }
    }

    /// How many checks have run so far, scheduled or asked for.
    #[call]
    pub fn checks(&self) -> u64 {
        self.checks
    }

    /// The statuses of the last check (empty before the first).
    #[call]
    pub fn get_status(&self) -> BTreeMap<String, Health> {
        self.statuses.clone()
    }
}

impl HealthChecker {
    async fn check_every_url(&mut self) {
        self.statuses = check_all(&self.client, &self.urls).await;
        self.checks += 1;
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let services = LocalServices::start().await?;
    let urls =
        vec![services.healthy_url(), services.failing_url(), services.hanging_url(), refused_url().await?];
    let timeout = Duration::from_secs(1);
    println!("Checking {} URLs, each request timing out after {timeout:?}:", urls.len());

    let checker = HealthChecker::start(urls, timeout, Some(Duration::from_secs(30))).await?;
    println!("just started, get_status() = {:?}", checker.get_status().await?);
    // The first scheduled check starts one second after the start and takes up to the
    // request timeout; a call waits behind it in the mailbox.
    tokio::time::sleep(FIRST_CHECK + Duration::from_millis(100)).await;
    let statuses = checker.get_status().timeout(Duration::from_secs(5)).await?;
    println!("after the first scheduled check ({} check so far):", checker.checks().await?);
    for (url, health) in statuses {
        println!("  {url:<36} {health}");
    }
    let again = checker.check().await?;
    println!("checked again on demand: {} statuses, {} checks so far", again.len(), checker.checks().await?);

    checker.stop(ExitReason::Normal, Duration::from_secs(1)).await?;
    services.shutdown().await?;
    println!("checker stopped, services shut down");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn checked(urls: Vec<String>, timeout: Duration) -> BTreeMap<String, Health> {
        let checker = HealthChecker::start(urls, timeout, None).await.expect("the checker starts");
        let statuses = checker.check().await.expect("the check answers");
        assert_eq!(checker.get_status().await.expect("answers"), statuses, "get_status keeps the check");
        statuses
    }

    #[tokio::test]
    async fn a_200_is_healthy_and_a_500_is_unhealthy() {
        let services = LocalServices::start().await.expect("services start");
        let (ok, failing) = (services.healthy_url(), services.failing_url());
        let statuses = checked(vec![ok.clone(), failing.clone()], HttpClient::DEFAULT_TIMEOUT).await;
        assert_eq!(statuses, BTreeMap::from([(ok, Health::Healthy), (failing, Health::Unhealthy(500))]));
    }

    #[tokio::test]
    async fn a_refused_connection_is_unreachable() {
        let refused = refused_url().await.expect("a free port");
        let statuses = checked(vec![refused.clone()], HttpClient::DEFAULT_TIMEOUT).await;
        match &statuses[&refused] {
            Health::Unreachable(reason) => assert!(reason.contains("refused"), "{reason}"),
            other => panic!("expected unreachable, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_hanging_endpoint_is_unreachable_once_the_timeout_passes() {
        let services = LocalServices::start().await.expect("services start");
        let hanging = services.hanging_url();
        let timeout = Duration::from_millis(200);
        let started = std::time::Instant::now();
        let statuses = checked(vec![hanging.clone()], timeout).await;
        let elapsed = started.elapsed();
        assert_eq!(statuses[&hanging], Health::Unreachable("timed out after 200ms".into()));
        assert!(elapsed >= timeout && elapsed < Duration::from_secs(3), "took {elapsed:?}");
        assert_eq!(services.hanging_requests(), 1, "the request reached the endpoint");
    }

    #[tokio::test]
    async fn every_url_is_checked_at_once() {
        let services = LocalServices::start().await.expect("services start");
        // With a minute's timeout, checked one after the other, the second hanging URL
        // would be asked only after a minute: `hanging_requests_reach` would give up first.
        let timeout = Duration::from_secs(60);
        let urls = vec![services.url("/hanging"), services.url("/hanging?again"), services.healthy_url()];
        let checker = HealthChecker::start(urls, timeout, None).await.expect("the checker starts");
        let round = tokio::spawn({
            let checker = checker.clone();
            async move { checker.check().no_timeout().await }
        });
        services.hanging_requests_reach(2).await;
        assert_eq!(services.hanging_requests(), 2, "both hanging URLs are being checked at once");
        // Stopping the services answers the hanging requests and ends the round.
        services.shutdown().await.expect("services stop");
        let statuses = round.await.expect("the round's task").expect("the round answers");
        assert_eq!(statuses.len(), 3);
    }

    #[tokio::test]
    async fn a_malformed_url_is_unreachable_not_a_crash() {
        let statuses = checked(vec!["not a url".into()], HttpClient::DEFAULT_TIMEOUT).await;
        assert!(matches!(statuses["not a url"], Health::Unreachable(_)), "{statuses:?}");
    }

    #[tokio::test]
    async fn before_any_check_the_status_is_empty() {
        let checker =
            HealthChecker::start(vec!["http://127.0.0.1:9/".into()], HttpClient::DEFAULT_TIMEOUT, None)
                .await
                .expect("the checker starts");
        assert_eq!(checker.get_status().await.expect("answers"), BTreeMap::new());
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_check_comes_one_second_after_the_start_then_one_every_interval() {
        // No URLs, so no I/O: the paused clock moves only from timer to timer.
        let interval = Duration::from_secs(30);
        let checker = HealthChecker::start(Vec::new(), HttpClient::DEFAULT_TIMEOUT, Some(interval))
            .await
            .expect("starts");
        let start = tokio::time::Instant::now();
        let checks_at = |at: Duration| {
            let checker = checker.clone();
            async move {
                tokio::time::sleep_until(start + at).await;
                checker.checks().await.expect("answers")
            }
        };
        // Read a millisecond before and after each due time: at the very instant, the read
        // and the timer's message come in either order.
        let ms = Duration::from_millis(1);
        assert_eq!(checks_at(FIRST_CHECK - ms).await, 0);
        assert_eq!(checks_at(FIRST_CHECK + ms).await, 1);
        assert_eq!(checks_at(FIRST_CHECK + interval - ms).await, 1);
        assert_eq!(checks_at(FIRST_CHECK + interval + ms).await, 2);
        assert_eq!(checks_at(FIRST_CHECK + interval * 3 + ms).await, 4);
    }

    #[tokio::test(start_paused = true)]
    async fn without_an_interval_it_checks_only_when_asked() {
        let checker =
            HealthChecker::start(Vec::new(), HttpClient::DEFAULT_TIMEOUT, None).await.expect("starts");
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert_eq!(checker.checks().await.expect("answers"), 0);
        checker.check().await.expect("checks");
        assert_eq!(checker.checks().await.expect("answers"), 1);
    }
}
