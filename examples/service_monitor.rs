//! The guide's ServiceMonitor: a server that checks a set of HTTP services on an
//! interval, and marks each healthy, degraded, or critical after `max_failures`
//! consecutive failures, with the time of its last check and its response time.
//!
//! Run it with `cargo run --example service_monitor` (`RUST_LOG=debug` shows every
//! check). It starts four local HTTP services (one healthy, one flapping between healthy
//! and failing, one that never answers, one that refuses connections), monitors them
//! under a supervisor, prints the status table whenever a status changes, and after about
//! five seconds stops the supervisor (the monitor's `terminate` runs) and the services.
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
use support::http::{HttpClient, HttpFailure};
use support::services::{LocalServices, refused_url};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::registry::LookupSpan;

/// How a [`ServiceMonitor`] checks its services.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonitorConfig {
    /// Time between two rounds of checks (the guide's default: 30 s).
    pub check_interval: Duration,
    /// Consecutive failures after which a service is critical (the guide's default: 3).
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
            MonitorError::AlreadyMonitored(name) => write!(f, "a service named {name:?} is already monitored"),
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
        let client =
            HttpClient::new(config.request_timeout).map_err(|error| MonitorError::HttpClient(error.to_string()))?;
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
        let service = self.services.remove(&name).ok_or_else(|| MonitorError::ServiceNotFound(name.clone()))?;
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

    /// A channel that receives every status change from now on.
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
        let max_failures = self.config.max_failures;
        let Some(service) = self.services.get_mut(&name) else {
            tracing::debug!("dropped the result of a check of {name}, no longer monitored");
            return;
        };
        if service.check.as_ref().map(|check| check.id) != Some(check_id) {
            tracing::debug!("dropped the result of an earlier check of {name}");
            return;
        }
        service.check = None;
        let report = &mut service.report;
        let before = report.status;
        report.last_check = Some(finished_at);
        match outcome {
            Ok(response_time) => {
                report.status = ServiceStatus::Healthy;
                report.consecutive_failures = 0;
                report.response_time = Some(response_time);
                report.last_failure = None;
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
                report.consecutive_failures = report.consecutive_failures.saturating_add(1);
                let failures = report.consecutive_failures;
                report.status =
                    if failures >= max_failures { ServiceStatus::Critical } else { ServiceStatus::Degraded };
                report.response_time = None;
                // One alert when a service turns critical, not one every round after.
                match (before, report.status) {
                    (ServiceStatus::Critical, _) => {
                        tracing::debug!("{name} still critical ({failures} failures): {failure}");
                    }
                    (_, ServiceStatus::Critical) => {
                        tracing::error!("{name} is CRITICAL after {failures} failures in a row: {failure}");
                    }
                    _ => tracing::warn!("{name} check failed ({failures}/{max_failures}): {failure}"),
                }
                report.last_failure = Some(failure);
            }
        }
        let after = report.status;
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
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).event_format(PlainLog).init();

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
        "\nMonitoring them every {:?} (request timeout {:?}, critical after {} failures in a row), under a supervisor.",
        config.check_interval, config.request_timeout, config.max_failures
    );
    let supervisor = Supervisor::builder()
        .child(ChildSpec::new("service_monitor", move || {
            ServiceMonitor::builder().name("service_monitor").start_link(config.clone())
        }))
        .start()
        .await?;
    let monitor = ServiceMonitor::whereis("service_monitor").ok_or("the supervisor starts the monitor")?;
    let mut changes = monitor.subscribe().await?;
    for (name, url, _) in watched {
        monitor.add_service(name.to_string(), url).await??;
    }
    let started = tokio::time::Instant::now();
    // Between two rounds of checks, so that each round sees one state.
    services.flap(Duration::from_millis(2250), Duration::from_secs(2));

    let end = tokio::time::sleep(DEMO_LENGTH);
    tokio::pin!(end);
    loop {
        tokio::select! {
            _ = &mut end => break,
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

    println!("\nStopping the supervisor, which stops the monitor:");
    supervisor.stop(ExitReason::Shutdown, Duration::from_secs(5)).await?;
    println!(
        "  monitor running: {}, registered: {}",
        monitor.is_alive(),
        ServiceMonitor::whereis("service_monitor").is_some()
    );
    services.shutdown().await?;
    println!("  HTTP services stopped. Done after {:.1} s.", started.elapsed().as_secs_f64());
    Ok(())
}

/// Prints a log event as `  log LEVEL: message`, leaving out the spans around it (the
/// server's type and id) to keep the demo's output short.
struct PlainLog;

impl<S, N> FormatEvent<S, N> for PlainLog
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, cx: &FmtContext<'_, S, N>, mut out: Writer<'_>, event: &tracing::Event<'_>) -> fmt::Result {
        write!(out, "  log {:>5}: ", event.metadata().level())?;
        cx.field_format().format_fields(out.by_ref(), event)?;
        writeln!(out)
    }
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
