//! The guide's ServiceMonitor: a server that checks a set of HTTP services on an
//! interval, and marks each healthy, degraded, or critical after `max_failures`
//! consecutive failures, with the time of its last check and its response time.
//!
//! Run it with `cargo run --example service_monitor` (`RUST_LOG=debug` shows every
//! check). It starts four local HTTP services (one healthy, one flapping between healthy
//! and failing, one that never answers, one that refuses connections), monitors them
//! under a supervisor, the root of an `Application`, prints the status table whenever a
//! status changes, and after about five seconds, or at ctrl-c or SIGTERM, stops the
//! application (the monitor's `terminate` runs before `main` returns) and the services.
//!
//! The monitor keeps its callbacks fast, as the guide advises: a check can take up to the
//! request timeout (5 s by default), so each runs in its own task, which reports back to
//! the monitor as an info message. Meanwhile the monitor keeps answering calls. A service
//! is never checked twice at once, and the result of a check whose service was removed
//! meanwhile is dropped.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::time::SystemTime;

use genserver_runtime::prelude::*;
use genserver_runtime::{Application, shutdown_signal};
use support::http::{HttpClient, HttpFailure};
use support::services::{LocalServices, refused_url};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

/// How a [`ServiceMonitor`] checks its services.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonitorConfig {
    /// Time between two rounds of checks (the guide's default: 30 s).
    pub check_interval: Duration,
    /// Consecutive failures after which a service is critical (the guide's default: 3;
    /// 0 or 1 make it critical at its first failure).
    pub max_failures: u32,
    /// How long a check waits for an answer (the guide's: 5 s).
    pub request_timeout: Duration,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            check_interval: Duration::from_secs(30),
            max_failures: 3,
            request_timeout: HttpClient::DEFAULT_TIMEOUT,
        }
    }
}

/// The status of a monitored service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServiceStatus {
    /// Not checked yet.
    Unknown,
    /// Its last check got a 200.
    Healthy,
    /// Its last checks failed, fewer than `max_failures` in a row.
    Degraded,
    /// Its last `max_failures` checks, or more, failed.
    Critical,
}

impl fmt::Display for ServiceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            ServiceStatus::Unknown => "unknown",
            ServiceStatus::Healthy => "healthy",
            ServiceStatus::Degraded => "degraded",
            ServiceStatus::Critical => "critical",
        })
    }
}

/// What the monitor knows about one service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceReport {
    /// The URL it checks.
    pub url: String,
    /// The status after the last check.
    pub status: ServiceStatus,
    /// Failed checks in a row; a success resets it to 0.
    pub consecutive_failures: u32,
    /// When the last check finished.
    pub last_check: Option<SystemTime>,
    /// How long the last check took to get its 200; `None` if it failed.
    pub response_time: Option<Duration>,
    /// Why the last check failed; `None` if it succeeded.
    pub last_failure: Option<HttpFailure>,
}

impl ServiceReport {
    /// Records the outcome of a check of the service `name`, and logs it: a success makes
    /// it healthy and resets its failure count; a failure makes it degraded, or critical
    /// once it has failed `max_failures` times in a row.
    fn record(
        &mut self,
        name: &str,
        outcome: Result<Duration, HttpFailure>,
        at: SystemTime,
        max_failures: u32,
    ) {
        let before = self.status;
        self.last_check = Some(at);
        match outcome {
            Ok(response_time) => {
                self.status = ServiceStatus::Healthy;
                self.consecutive_failures = 0;
                self.response_time = Some(response_time);
                self.last_failure = None;
                match before {
                    ServiceStatus::Degraded | ServiceStatus::Critical => {
                        tracing::info!("{name} recovered ({response_time:?})");
                    }
                    ServiceStatus::Unknown | ServiceStatus::Healthy => {
                        tracing::debug!("{name} is healthy ({response_time:?})");
                    }
                }
            }
            Err(failure) => {
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                let failures = self.consecutive_failures;
                self.status =
                    if failures >= max_failures { ServiceStatus::Critical } else { ServiceStatus::Degraded };
                self.response_time = None;
                // One alert when a service turns critical, not one every round after.
                match (before, self.status) {
                    (ServiceStatus::Critical, _) => {
                        tracing::debug!("{name} still critical ({failures} failures): {failure}");
                    }
                    (_, ServiceStatus::Critical) => {
                        tracing::error!("{name} is CRITICAL after {failures} failures in a row: {failure}");
                    }
                    _ => tracing::warn!("{name} check failed ({failures}/{max_failures}): {failure}"),
                }
                self.last_failure = Some(failure);
            }
        }
    }
}

/// A service's status changed: what subscribers of [`ServiceMonitor::subscribe`] get.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusChange {
    /// The service's name.
    pub service: String,
    /// Its status before the check.
    pub from: ServiceStatus,
    /// Its status after the check.
    pub to: ServiceStatus,
}

/// What a request to the monitor can do wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MonitorError {
    /// No service has this name.
    ServiceNotFound(String),
    /// A service already has this name.
    AlreadyMonitored(String),
    /// This URL cannot be checked.
    InvalidUrl {
        /// The URL given.
        url: String,
        /// Why it cannot be checked.
        reason: String,
    },
    /// The configuration cannot work.
    InvalidConfig(&'static str),
    /// The HTTP client could not be built.
    HttpClient(String),
}

impl fmt::Display for MonitorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MonitorError::ServiceNotFound(name) => write!(f, "no service named {name:?}"),
            MonitorError::AlreadyMonitored(name) => {
                write!(f, "a service named {name:?} is already monitored")
            }
            MonitorError::InvalidUrl { url, reason } => write!(f, "cannot check {url:?}: {reason}"),
            MonitorError::InvalidConfig(why) => write!(f, "invalid configuration: {why}"),
            MonitorError::HttpClient(why) => write!(f, "cannot build the HTTP client: {why}"),
        }
    }
}

impl std::error::Error for MonitorError {}

/// Every service's report, by name.
pub type Statuses = BTreeMap<String, ServiceReport>;

/// A check under way, in its own task.
struct Check {
    /// Tells its result from that of an older check.
    id: u64,
    task: AbortHandle,
}

/// A monitored service.
struct Service {
    report: ServiceReport,
    check: Option<Check>,
}

/// A caller of [`ServiceMonitor::check_now`], waiting for checks to finish.
struct Waiter {
    checks: HashSet<u64>,
    reply_to: ReplyTo<Statuses>,
}

/// Checks HTTP services on an interval and tracks their health.
pub struct ServiceMonitor {
    config: MonitorConfig,
    client: HttpClient,
    services: BTreeMap<String, Service>,
    next_check_id: u64,
    waiters: Vec<Waiter>,
    subscribers: Vec<mpsc::UnboundedSender<StatusChange>>,
}

#[genserver]
impl ServiceMonitor {
    /// Starts with no services; the first round of checks comes one interval later.
    #[init]
    fn init(config: MonitorConfig, cx: &mut Context<Self>) -> Result<Self, MonitorError> {
        if config.check_interval.is_zero() {
            return Err(MonitorError::InvalidConfig("check_interval must be longer than zero"));
        }
        let client = HttpClient::new(config.request_timeout)
            .map_err(|error| MonitorError::HttpClient(error.to_string()))?;
        cx.send_after(config.check_interval, ServiceMonitorInfo::PerformCheck {});
        Ok(ServiceMonitor {
            config,
            client,
            services: BTreeMap::new(),
            next_check_id: 0,
            waiters: Vec::new(),
            subscribers: Vec::new(),
        })
    }

    /// Monitors `url` under `name`, from the next round of checks on.
    #[call]
    pub fn add_service(&mut self, name: String, url: String) -> Result<(), MonitorError> {
        if self.services.contains_key(&name) {
            return Err(MonitorError::AlreadyMonitored(name));
        }
        match reqwest::Url::parse(&url) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {}
            Ok(parsed) => {
                let reason = format!("{} is not an HTTP scheme", parsed.scheme());
                return Err(MonitorError::InvalidUrl { url, reason });
            }
            Err(error) => return Err(MonitorError::InvalidUrl { url, reason: error.to_string() }),
        }
        tracing::debug!("monitoring {name} at {url}");
        let report = ServiceReport {
            url,
            status: ServiceStatus::Unknown,
            consecutive_failures: 0,
            last_check: None,
            response_time: None,
            last_failure: None,
        };
        self.services.insert(name, Service { report, check: None });
        Ok(())
    }

    /// Stops monitoring `name`, cancelling its check if one is under way.
    #[call]
    pub fn remove_service(&mut self, name: String) -> Result<(), MonitorError> {
        let service =
            self.services.remove(&name).ok_or_else(|| MonitorError::ServiceNotFound(name.clone()))?;
        tracing::info!("stopped monitoring {name}");
        if let Some(check) = service.check {
            check.task.abort();
            self.settle(check.id);
        }
        Ok(())
    }

    /// Every service's report.
    #[call]
    pub fn get_status(&self) -> Statuses {
        self.statuses()
    }

    /// The report of the service `name`.
    #[call]
    pub fn get_service_status(&self, name: String) -> Result<ServiceReport, MonitorError> {
        match self.services.get(&name) {
            Some(service) => Ok(service.report.clone()),
            None => Err(MonitorError::ServiceNotFound(name)),
        }
    }

    /// Checks every service now, and replies with every report once those checks are
    /// done. A service whose check is already under way is not checked twice: the reply
    /// waits for that check instead. The monitor answers other calls meanwhile.
    ///
    /// The reply can take as long as the request timeout, which is also the default call
    /// timeout (5 s): give the call a longer one, `check_now().timeout(...)`.
    #[call]
    pub fn check_now(&mut self, reply_to: ReplyTo<Statuses>, cx: &mut Context<Self>) -> NoReply {
        let checks = self.check_all(cx);
        if checks.is_empty() {
            reply_to.reply(self.statuses());
        } else {
            self.waiters.push(Waiter { checks, reply_to });
        }
        NoReply::ok()
    }

    /// A channel that receives every status change from now on, to show it or raise an
    /// alert. It is unbounded: read it, or drop it to unsubscribe.
    #[call]
    pub fn subscribe(&mut self) -> mpsc::UnboundedReceiver<StatusChange> {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.subscribers.push(sender);
        receiver
    }

    /// The interval has passed: checks every service and schedules the next round.
    #[info]
    fn perform_check(&mut self, cx: &mut Context<Self>) {
        tracing::debug!("checking {} service(s)", self.services.len());
        self.check_all(cx);
        cx.send_after(self.config.check_interval, ServiceMonitorInfo::PerformCheck {});
    }

    /// The check `check_id` of the service `name` finished at `finished_at`.
    #[info]
    fn check_finished(
        &mut self,
        name: String,
        check_id: u64,
        outcome: Result<Duration, HttpFailure>,
        finished_at: SystemTime,
    ) {
        let Some(service) = self.services.get_mut(&name) else {
            tracing::debug!("dropped the result of a check of {name}, no longer monitored");
            return;
        };
        if service.check.as_ref().map(|check| check.id) != Some(check_id) {
            tracing::debug!("dropped the result of an earlier check of {name}");
            return;
        }
        service.check = None;
        let before = service.report.status;
        service.report.record(&name, outcome, finished_at, self.config.max_failures);
        let after = service.report.status;
        if after != before {
            let change = StatusChange { service: name, from: before, to: after };
            self.subscribers.retain(|subscriber| subscriber.send(change.clone()).is_ok());
        }
        self.settle(check_id);
    }

    /// Cancels the checks under way; callers of `check_now` still waiting get an error.
    #[terminate]
    fn terminate(&mut self, reason: &ExitReason) {
        let mut cancelled = 0;
        for service in self.services.values_mut() {
            if let Some(check) = service.check.take() {
                check.task.abort();
                cancelled += 1;
            }
        }
        tracing::info!(
            "service monitor stopping ({reason}): {} service(s), {cancelled} check(s) cancelled",
            self.services.len()
        );
    }
}

impl ServiceMonitor {
    /// Starts a check of every service that has none under way; returns the ids of the
    /// checks that every service is now waiting for.
    fn check_all(&mut self, cx: &Context<Self>) -> HashSet<u64> {
        let mut checks = HashSet::new();
        for (name, service) in &mut self.services {
            let check = service.check.get_or_insert_with(|| {
                let id = self.next_check_id;
                self.next_check_id += 1;
                let (client, url, name, monitor) =
                    (self.client.clone(), service.report.url.clone(), name.clone(), cx.me());
                let task = tokio::spawn(async move {
                    let outcome = client.check(&url).await;
                    let finished_at = SystemTime::now();
                    // Fails only if the monitor has stopped, and then nobody needs the result.
                    let _ = monitor.send_info(ServiceMonitorInfo::CheckFinished {
                        name,
                        check_id: id,
                        outcome,
                        finished_at,
                    });
                });
                Check { id, task: task.abort_handle() }
            });
            checks.insert(check.id);
        }
        checks
    }

    /// The check `check_id` is over: answers the callers of `check_now` that waited only
    /// for it.
    fn settle(&mut self, check_id: u64) {
        for mut waiter in std::mem::take(&mut self.waiters) {
            waiter.checks.remove(&check_id);
            if waiter.checks.is_empty() {
                waiter.reply_to.reply(self.statuses());
            } else {
                self.waiters.push(waiter);
            }
        }
    }

    /// Every service's report.
    fn statuses(&self) -> Statuses {
        self.services.iter().map(|(name, service)| (name.clone(), service.report.clone())).collect()
    }
}

/// How long the demo watches the services before it shuts everything down.
const DEMO_LENGTH: Duration = Duration::from_millis(5200);

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    support::log_to_stdout();

    let services = LocalServices::start().await?;
    let watched = [
        ("api", services.healthy_url(), "answers 200"),
        ("payments", services.flapping_url(), "flaps: fails from 2.25 s to 4.25 s"),
        ("search", services.hanging_url(), "never answers"),
        ("legacy", refused_url().await?, "refuses connections"),
    ];
    println!("Local HTTP services:");
    for (name, url, behaviour) in &watched {
        println!("  {name:<9} {url:<32} {behaviour}");
    }

    let config = MonitorConfig {
        check_interval: Duration::from_millis(500),
        max_failures: 3,
        // Not a multiple of the interval, so that a timeout never ties with a round.
        request_timeout: Duration::from_millis(800),
    };
    println!(
        "\nA ServiceMonitor (a #[genserver] under a Supervisor) checks them every {:?}, with a {:?}\n\
         request timeout; a service is critical after {} failures in a row. Each check runs in its\n\
         own task and reports back as a message; a table prints whenever a status changes.\n",
        config.check_interval, config.request_timeout, config.max_failures
    );
    // The root of the program's supervision tree: it stops in order before `main` returns.
    let app = Application::start(Supervisor::builder().child(ChildSpec::new("service_monitor", move || {
        ServiceMonitor::builder().name("service_monitor").start_link(config.clone())
    })))
    .await?;
    let monitor = ServiceMonitor::whereis("service_monitor").ok_or("the supervisor starts the monitor")?;
    let mut changes = monitor.subscribe().await?;
    // The services live in the monitor's state: were it to crash, the supervisor would
    // restart it with none.
    for (name, url, _) in watched {
        monitor.add_service(name.to_string(), url).await??;
    }
    let started = tokio::time::Instant::now();
    // Between two rounds of checks, so that each round sees one state.
    services.flap(Duration::from_millis(2250), Duration::from_secs(2));

    let end = tokio::time::sleep(DEMO_LENGTH);
    let signal = shutdown_signal();
    tokio::pin!(end, signal);
    loop {
        tokio::select! {
            _ = &mut end => break,
            listened = &mut signal => {
                listened?;
                println!("\nSignal received.");
                break;
            }
            Some(change) = changes.recv() => {
                let mut batch = vec![change];
                // The changes of one round arrive a few milliseconds apart: show them together.
                while let Ok(Some(change)) = tokio::time::timeout(Duration::from_millis(100), changes.recv()).await {
                    batch.push(change);
                }
                print_table(started.elapsed(), &batch, &monitor.get_status().await?);
            }
        }
    }

    println!("\nStopping the application: its supervisor stops the monitor, whose terminate runs:");
    let reason = app.stop().await;
    println!(
        "  application stopped ({reason}); monitor running: {}, registered: {}",
        monitor.is_alive(),
        ServiceMonitor::whereis("service_monitor").is_some()
    );
    services.shutdown().await?;
    println!("  HTTP services stopped. Done after {:.1} s.", started.elapsed().as_secs_f64());
    Ok(())
}

/// Prints what changed at `elapsed`, then every service's status.
fn print_table(elapsed: Duration, changes: &[StatusChange], statuses: &Statuses) {
    let changes: Vec<String> =
        changes.iter().map(|change| format!("{} {} -> {}", change.service, change.from, change.to)).collect();
    println!("\n[{:>4.1} s] {}", elapsed.as_secs_f64(), changes.join(", "));
    println!("  {:<9} {:<9} {:<9} {:<9} LAST FAILURE", "SERVICE", "STATUS", "FAILURES", "RESPONSE");
    for (name, report) in statuses {
        let response = match report.response_time {
            Some(time) => format!("{:.1} ms", time.as_secs_f64() * 1000.0),
            None => "-".into(),
        };
        let failure = report.last_failure.as_ref().map_or_else(|| "-".into(), ToString::to_string);
        let failures = report.consecutive_failures;
        println!("  {name:<9} {:<9} {failures:<9} {response:<9} {failure}", report.status);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A configuration where only `check_now` checks: the interval never passes in a test.
    fn on_demand(request_timeout: Duration) -> MonitorConfig {
        MonitorConfig { check_interval: Duration::from_secs(3600), max_failures: 3, request_timeout }
    }

    async fn monitor(config: MonitorConfig, services: &[(&str, String)]) -> ServiceMonitorRef {
        let monitor = ServiceMonitor::start(config).await.expect("the monitor starts");
        for (name, url) in services {
            monitor.add_service(name.to_string(), url.clone()).await.expect("answers").expect("added");
        }
        monitor
    }

    /// Starts a `check_now` in a task of its own and returns once the hanging endpoint
    /// has its request, so the check is under way.
    async fn check_until_it_hangs(
        monitor: &ServiceMonitorRef,
        services: &LocalServices,
    ) -> tokio::task::JoinHandle<Result<Statuses, CallError>> {
        let checking = tokio::spawn({
            let monitor = monitor.clone();
            async move { monitor.check_now().no_timeout().await }
        });
        services.hanging_requests_reach(1).await;
        checking
    }

    /// Checks now, and returns the report of `name` from the reply.
    async fn check(monitor: &ServiceMonitorRef, name: &str) -> ServiceReport {
        let statuses = monitor.check_now().await.expect("check_now answers");
        statuses.get(name).cloned().expect("the service is in the reply")
    }

    /// The status and failure count of a report.
    fn state(report: &ServiceReport) -> (ServiceStatus, u32) {
        (report.status, report.consecutive_failures)
    }

    #[tokio::test]
    async fn a_new_service_is_unknown_until_its_first_check() {
        let services = LocalServices::start().await.expect("services start");
        let monitor =
            monitor(on_demand(HttpClient::DEFAULT_TIMEOUT), &[("api", services.healthy_url())]).await;
        let report = monitor.get_service_status("api".into()).await.expect("answers").expect("known");
        assert_eq!(
            report,
            ServiceReport {
                url: services.healthy_url(),
                status: ServiceStatus::Unknown,
                consecutive_failures: 0,
                last_check: None,
                response_time: None,
                last_failure: None,
            }
        );
    }

    #[tokio::test]
    async fn a_200_makes_a_service_healthy_with_its_check_time_and_response_time() {
        let services = LocalServices::start().await.expect("services start");
        let monitor =
            monitor(on_demand(HttpClient::DEFAULT_TIMEOUT), &[("api", services.healthy_url())]).await;
        let before = SystemTime::now();
        let report = check(&monitor, "api").await;
        let after = SystemTime::now();
        assert_eq!(state(&report), (ServiceStatus::Healthy, 0));
        assert_eq!(report.last_failure, None);
        let checked = report.last_check.expect("a check time");
        assert!(before <= checked && checked <= after, "checked at {checked:?}");
        let response_time = report.response_time.expect("a response time");
        assert!(response_time <= after.duration_since(before).expect("time goes forward"));
        assert_eq!(monitor.get_service_status("api".into()).await.expect("answers"), Ok(report));
    }

    #[tokio::test]
    async fn failures_make_a_service_degraded_then_critical_at_max_failures() {
        let services = LocalServices::start().await.expect("services start");
        let monitor =
            monitor(on_demand(HttpClient::DEFAULT_TIMEOUT), &[("api", services.failing_url())]).await;
        let mut seen = Vec::new();
        for _ in 0..4 {
            let report = check(&monitor, "api").await;
            assert_eq!(report.last_failure, Some(HttpFailure::BadStatus(500)));
            assert_eq!(report.response_time, None);
            assert!(report.last_check.is_some());
            seen.push(state(&report));
        }
        assert_eq!(
            seen,
            [
                (ServiceStatus::Degraded, 1),
                (ServiceStatus::Degraded, 2),
                (ServiceStatus::Critical, 3),
                (ServiceStatus::Critical, 4),
            ]
        );
    }

    #[tokio::test]
    async fn a_success_resets_the_failure_count() {
        let services = LocalServices::start().await.expect("services start");
        let monitor =
            monitor(on_demand(HttpClient::DEFAULT_TIMEOUT), &[("pay", services.flapping_url())]).await;
        let switch = services.flapping();
        let mut seen = Vec::new();
        // Two failures, a success, then three failures: critical only at the third in a row.
        for healthy in [false, false, true, false, false, false, true] {
            switch.set(healthy);
            seen.push(state(&check(&monitor, "pay").await));
        }
        assert_eq!(
            seen,
            [
                (ServiceStatus::Degraded, 1),
                (ServiceStatus::Degraded, 2),
                (ServiceStatus::Healthy, 0),
                (ServiceStatus::Degraded, 1),
                (ServiceStatus::Degraded, 2),
                (ServiceStatus::Critical, 3),
                (ServiceStatus::Healthy, 0),
            ]
        );
        let report = monitor.get_service_status("pay".into()).await.expect("answers").expect("known");
        assert_eq!(report.last_failure, None, "a success clears the last failure");
        assert!(report.response_time.is_some());
    }

    #[tokio::test]
    async fn subscribers_get_each_status_change_once() {
        let services = LocalServices::start().await.expect("services start");
        let monitor =
            monitor(on_demand(HttpClient::DEFAULT_TIMEOUT), &[("pay", services.flapping_url())]).await;
        let mut changes = monitor.subscribe().await.expect("answers");
        for healthy in [true, true, false, false, false, false, true] {
            services.flapping().set(healthy);
            check(&monitor, "pay").await;
        }
        let mut received = Vec::new();
        while let Ok(change) = changes.try_recv() {
            received.push((change.from, change.to));
        }
        use ServiceStatus::*;
        assert_eq!(
            received,
            [(Unknown, Healthy), (Healthy, Degraded), (Degraded, Critical), (Critical, Healthy)]
        );
        assert!(received.iter().all(|(from, to)| from != to));
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_failure_that_says_unreachable() {
        let refused = refused_url().await.expect("a free port");
        let monitor = monitor(on_demand(HttpClient::DEFAULT_TIMEOUT), &[("old", refused)]).await;
        let report = check(&monitor, "old").await;
        assert_eq!(state(&report), (ServiceStatus::Degraded, 1));
        match report.last_failure {
            Some(HttpFailure::Unreachable(reason)) => assert!(reason.contains("refused"), "{reason}"),
            other => panic!("expected unreachable, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_hanging_service_fails_with_a_timeout_after_the_request_timeout() {
        let services = LocalServices::start().await.expect("services start");
        let timeout = Duration::from_millis(200);
        let monitor = monitor(on_demand(timeout), &[("slow", services.hanging_url())]).await;
        let started = std::time::Instant::now();
        let report = check(&monitor, "slow").await;
        let elapsed = started.elapsed();
        assert_eq!(state(&report), (ServiceStatus::Degraded, 1));
        assert_eq!(report.last_failure, Some(HttpFailure::TimedOut(timeout)));
        assert!(elapsed >= timeout && elapsed < Duration::from_secs(3), "took {elapsed:?}");
    }

    #[tokio::test]
    async fn the_monitor_answers_calls_while_a_check_hangs() {
        let services = LocalServices::start().await.expect("services start");
        let monitor = monitor(on_demand(Duration::from_secs(60)), &[("slow", services.hanging_url())]).await;
        let checking = check_until_it_hangs(&monitor, &services).await;
        // The check hangs for a minute; the monitor answers at once anyway.
        let statuses = monitor.get_status().timeout(Duration::from_secs(1)).await.expect("answers at once");
        assert_eq!(statuses["slow"].status, ServiceStatus::Unknown);
        monitor.add_service("api".into(), services.healthy_url()).await.expect("answers").expect("added");
        assert!(!checking.is_finished());
        checking.abort();
    }

    #[tokio::test]
    async fn a_service_is_never_checked_twice_at_once() {
        let services = LocalServices::start().await.expect("services start");
        let timeout = Duration::from_millis(300);
        let monitor = monitor(on_demand(timeout), &[("slow", services.hanging_url())]).await;
        let (first, second) = tokio::join!(monitor.check_now(), monitor.check_now());
        let (first, second) = (first.expect("answers"), second.expect("answers"));
        assert_eq!(first, second, "both waited for the same check");
        assert_eq!(state(&first["slow"]), (ServiceStatus::Degraded, 1), "one failure, not two");
        assert_eq!(services.hanging_requests(), 1);
    }

    #[tokio::test]
    async fn removing_a_service_during_its_check_cancels_the_check_and_answers_the_waiters() {
        let services = LocalServices::start().await.expect("services start");
        let monitor = monitor(
            on_demand(Duration::from_secs(60)),
            &[("slow", services.hanging_url()), ("api", services.healthy_url())],
        )
        .await;
        let checking = check_until_it_hangs(&monitor, &services).await;
        assert_eq!(monitor.remove_service("slow".into()).await.expect("answers"), Ok(()));
        // The round no longer waits for the removed service.
        let statuses = checking.await.expect("the task ran").expect("check_now answers");
        assert_eq!(statuses.keys().collect::<Vec<_>>(), ["api"]);
        assert_eq!(statuses["api"].status, ServiceStatus::Healthy);
        // The check's request was cancelled: the hanging endpoint saw its client leave.
        services.hanging_abandoned_reach(1).await;
        assert_eq!(
            monitor.get_service_status("slow".into()).await.expect("answers"),
            Err(MonitorError::ServiceNotFound("slow".into()))
        );
    }

    #[tokio::test]
    async fn a_result_for_a_removed_or_replaced_service_is_dropped() {
        let services = LocalServices::start().await.expect("services start");
        let monitor =
            monitor(on_demand(HttpClient::DEFAULT_TIMEOUT), &[("svc", services.failing_url())]).await;
        check(&monitor, "svc").await; // check 0: degraded
        let late = |name: &str, check_id| ServiceMonitorInfo::CheckFinished {
            name: name.into(),
            check_id,
            outcome: Ok(Duration::from_millis(1)),
            finished_at: SystemTime::now(),
        };
        // A result the monitor is not waiting for changes nothing...
        monitor.send_info(late("svc", 0)).expect("sent");
        let degraded = monitor.get_service_status("svc".into()).await.expect("answers").expect("known");
        assert_eq!(state(&degraded), (ServiceStatus::Degraded, 1));
        // ...nor does one for a service that is gone, or that was added again since.
        monitor.send_info(late("gone", 1)).expect("sent");
        monitor.remove_service("svc".into()).await.expect("answers").expect("removed");
        monitor.add_service("svc".into(), services.failing_url()).await.expect("answers").expect("added");
        monitor.send_info(late("svc", 0)).expect("sent");
        let statuses = monitor.get_status().await.expect("answers");
        assert_eq!(statuses.keys().collect::<Vec<_>>(), ["svc"]);
        assert_eq!(state(&statuses["svc"]), (ServiceStatus::Unknown, 0));
    }

    #[tokio::test]
    async fn checks_run_every_interval_without_being_asked() {
        let services = LocalServices::start().await.expect("services start");
        let interval = Duration::from_millis(50);
        let config = MonitorConfig { check_interval: interval, ..on_demand(HttpClient::DEFAULT_TIMEOUT) };
        let started = std::time::Instant::now();
        let monitor = monitor(config, &[("api", services.failing_url())]).await;
        let mut changes = monitor.subscribe().await.expect("answers");
        let mut seen = Vec::new();
        while seen.last() != Some(&ServiceStatus::Critical) {
            let change = tokio::time::timeout(Duration::from_secs(10), changes.recv())
                .await
                .expect("a change within 10 s")
                .expect("the monitor runs");
            seen.push(change.to);
        }
        assert_eq!(seen, [ServiceStatus::Degraded, ServiceStatus::Critical]);
        assert!(started.elapsed() >= interval * 3, "three rounds, one interval apart");
    }

    #[tokio::test]
    async fn stopping_the_monitor_cancels_its_checks() {
        let services = LocalServices::start().await.expect("services start");
        let monitor = monitor(on_demand(Duration::from_secs(60)), &[("slow", services.hanging_url())]).await;
        let checking = check_until_it_hangs(&monitor, &services).await;
        monitor.stop(ExitReason::Shutdown, Duration::from_secs(1)).await.expect("stops at once");
        services.hanging_abandoned_reach(1).await;
        let waiter = checking.await.expect("the task ran");
        assert!(waiter.is_err(), "the waiting caller is told: {waiter:?}");
    }

    #[tokio::test]
    async fn bad_requests_get_typed_errors() {
        let services = LocalServices::start().await.expect("services start");
        let monitor =
            monitor(on_demand(HttpClient::DEFAULT_TIMEOUT), &[("api", services.healthy_url())]).await;
        let add = |name: &str, url: &str| monitor.add_service(name.into(), url.into());
        assert_eq!(
            add("api", "http://127.0.0.1:1/").await.expect("answers"),
            Err(MonitorError::AlreadyMonitored("api".into()))
        );
        assert!(matches!(
            add("x", "not a url").await.expect("answers"),
            Err(MonitorError::InvalidUrl { .. })
        ));
        assert!(matches!(
            add("x", "ftp://127.0.0.1/").await.expect("answers"),
            Err(MonitorError::InvalidUrl { .. })
        ));
        assert_eq!(
            monitor.remove_service("x".into()).await.expect("answers"),
            Err(MonitorError::ServiceNotFound("x".into()))
        );
        assert_eq!(
            monitor.get_service_status("x".into()).await.expect("answers"),
            Err(MonitorError::ServiceNotFound("x".into()))
        );
        assert_eq!(monitor.get_status().await.expect("answers").len(), 1, "nothing was added");
        let zero = MonitorConfig { check_interval: Duration::ZERO, ..MonitorConfig::default() };
        assert!(ServiceMonitor::start(zero).await.is_err(), "a zero interval is refused");
    }
}
