//! The guide's health checker, checking on demand: a server that holds a list of URLs
//! and their last statuses, and checks them all over real HTTP when asked.
//!
//! Run it with `cargo run --example health_checker`. It starts local HTTP services (one
//! answers 200, one 500, one never answers, and one port refuses connections), checks
//! them, prints each URL's status (healthy, unhealthy or unreachable), and stops.
//!
//! The check runs inside an `async` call handler: simple, but the server answers nothing
//! else until every URL has answered or timed out. `periodic_health_checker` and
//! `service_monitor` show how to keep the mailbox free while the requests run.

mod support;

use std::collections::BTreeMap;

use genserver_runtime::prelude::*;
use support::http::{Health, HttpClient, check_all};
use support::services::{LocalServices, refused_url};

/// A list of URLs and the health each had at the last check.
pub struct HealthChecker {
    urls: Vec<String>,
    client: HttpClient,
    statuses: BTreeMap<String, Health>,
}

#[genserver]
impl HealthChecker {
    /// Checks `urls`, each request giving up after `timeout` (the guide uses 5 s:
    /// [`HttpClient::DEFAULT_TIMEOUT`]).
    #[init]
    fn init(urls: Vec<String>, timeout: Duration) -> Result<Self, reqwest::Error> {
        Ok(HealthChecker { urls, client: HttpClient::new(timeout)?, statuses: BTreeMap::new() })
    }

    /// Checks every URL now, all at once, and replies with their statuses.
    #[call]
    pub async fn check(&mut self) -> BTreeMap<String, Health> {
        self.statuses = check_all(&self.client, &self.urls).await;
        self.statuses.clone()
    }

    /// The statuses of the last check (empty before the first).
    #[call]
    pub fn get_status(&self) -> BTreeMap<String, Health> {
        self.statuses.clone()
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let services = LocalServices::start().await?;
    let urls =
        vec![services.healthy_url(), services.failing_url(), services.hanging_url(), refused_url().await?];
    let timeout = Duration::from_secs(1);
    println!("Checking {} URLs, each request timing out after {timeout:?}:", urls.len());

    let checker = HealthChecker::start(urls, timeout).await?;
    println!("before the first check, get_status() = {:?}", checker.get_status().await?);
    for (url, health) in checker.check().await? {
        println!("  {url:<36} {health}");
    }
    println!("get_status() now has {} statuses", checker.get_status().await?.len());

    checker.stop(ExitReason::Normal, Duration::from_secs(1)).await?;
    services.shutdown().await?;
    println!("checker stopped, services shut down");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn checked(urls: Vec<String>, timeout: Duration) -> BTreeMap<String, Health> {
        let checker = HealthChecker::start(urls, timeout).await.expect("the checker starts");
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
        let checker = HealthChecker::start(urls, timeout).await.expect("the checker starts");
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
        let checker = HealthChecker::start(vec!["http://127.0.0.1:9/".into()], HttpClient::DEFAULT_TIMEOUT)
            .await
            .expect("the checker starts");
        assert_eq!(checker.get_status().await.expect("answers"), BTreeMap::new());
    }
}
