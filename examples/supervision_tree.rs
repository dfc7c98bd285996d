//! A small supervision tree that heals itself: a worker crashes on purpose, its
//! supervisor restarts it, and a client that calls it by name keeps being answered.
//!
//! Run it with `cargo run --example supervision_tree` (about 5 s). The tree:
//!
//! ```text
//! app (rest-for-one)
//! ├── config    settings for the others
//! ├── metrics   counts worker starts and jobs
//! └── workers   (a nested one-for-one supervisor)
//!     └── worker   does jobs; crashes on purpose 1.5 s after each of its first 3 starts
//! ```
//!
//! The runtime's crash reports and the supervisors' reports show in the log (printed by
//! `tracing-subscriber`); the servers' own lines start with `[tree]`, the client's with
//! `[client]`. The client calls the worker by its name every 400 ms, so after each crash
//! it reaches the new instance, while a handle to the crashed one gets an error. Once the
//! fourth instance has answered, the tree is shut down: children stop in reverse order,
//! and their `terminate` callbacks print.

use std::sync::{Arc, Mutex};

use genserver_runtime::prelude::*;
use tokio::time::Instant;

/// What the tree's servers did, in order: printed as it happens, and kept for the test.
#[derive(Clone, Default)]
pub struct Journal(Arc<Mutex<Vec<String>>>);

impl Journal {
    fn note(&self, line: String) {
        println!("[tree] {line}");
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    }

    /// Every line so far.
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The settings the config server hands out.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// How long after its start a worker crashes.
    pub crash_every: Duration,
    /// How many of the worker's starts end in a crash.
    pub crashes: u32,
}

/// Holds the settings, registered as `"config"`.
pub struct Config {
    settings: Settings,
    journal: Journal,
}

#[genserver]
impl Config {
    #[init]
    fn init(settings: Settings, journal: Journal) -> Init<Self> {
        journal.note(format!("config started with {settings:?}"));
        Init::ok(Config { settings, journal })
    }

    /// The current settings.
    #[call]
    pub fn settings(&self) -> Settings {
        self.settings
    }

    #[terminate]
    fn terminate(&mut self, reason: &ExitReason) {
        self.journal.note(format!("config terminate ({reason})"));
    }
}

/// What the metrics collector has seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsReport {
    /// When each worker instance started, counted from the collector's start.
    pub worker_starts: Vec<Duration>,
    /// Jobs done, by every instance together.
    pub jobs: u64,
}

/// Counts worker starts and jobs, registered as `"metrics"`.
pub struct Metrics {
    started: Instant,
    report: MetricsReport,
    journal: Journal,
}

#[genserver]
impl Metrics {
    #[init]
    fn init(journal: Journal) -> Init<Self> {
        journal.note("metrics started".into());
        let report = MetricsReport { worker_starts: Vec::new(), jobs: 0 };
        Init::ok(Metrics { started: Instant::now(), report, journal })
    }

    /// Records a worker start and returns its number: 1 for the first instance.
    #[call]
    pub fn worker_started(&mut self) -> u32 {
        self.report.worker_starts.push(self.started.elapsed());
        self.report.worker_starts.len() as u32
    }

    /// Records a job done.
    #[cast]
    pub fn job_done(&mut self) {
        self.report.jobs += 1;
    }

    /// Everything recorded so far.
    #[call]
    pub fn report(&self) -> MetricsReport {
        self.report.clone()
    }

    #[terminate]
    fn terminate(&mut self, reason: &ExitReason) {
        let MetricsReport { worker_starts, jobs } = &self.report;
        self.journal.note(format!(
            "metrics terminate ({reason}) after {} worker starts and {jobs} jobs",
            worker_starts.len()
        ));
    }
}

/// What the worker answers for a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Done {
    /// The job's number.
    pub job: u64,
    /// Which instance of the worker did it: 1 for the first.
    pub instance: u32,
}

/// Does jobs, registered as `"worker"`; crashes on purpose a while after each of its
/// first few starts, as the config says.
pub struct Worker {
    instance: u32,
    metrics: MetricsRef,
    journal: Journal,
}

#[genserver]
impl Worker {
    #[init]
    async fn init(journal: Journal, cx: &mut Context<Self>) -> Init<Self> {
        let (Some(config), Some(metrics)) = (Config::whereis("config"), Metrics::whereis("metrics")) else {
            return Init::stop(ExitReason::error("config or metrics is not running"));
        };
        let (settings, instance) = match (config.settings().await, metrics.worker_started().await) {
            (Ok(settings), Ok(instance)) => (settings, instance),
            (Err(error), _) | (_, Err(error)) => return Init::stop(ExitReason::error(error)),
        };
        let plan = if instance <= settings.crashes {
            cx.send_after(settings.crash_every, WorkerInfo::Crash {});
            format!("will crash in {:?}", settings.crash_every)
        } else {
            "will not crash".to_string()
        };
        journal.note(format!("worker #{instance} started as server {}, {plan}", cx.id()));
        Init::ok(Worker { instance, metrics, journal })
    }

    /// Does job `job`.
    #[call]
    pub fn work(&mut self, job: u64) -> Done {
        self.metrics.job_done();
        Done { job, instance: self.instance }
    }

    /// The crash this example is about: an abnormal exit, so the runtime logs a crash
    /// report and the supervisor restarts the worker.
    #[info]
    fn crash(&mut self) -> NoReply {
        NoReply::stop(ExitReason::error(format!("worker #{} crashes on purpose", self.instance)))
    }

    #[terminate]
    fn terminate(&mut self, reason: &ExitReason) {
        self.journal.note(format!("worker #{} terminate ({reason})", self.instance));
    }
}

/// Starts the tree, its children in order: config, metrics, then the `workers`
/// supervisor with the worker.
pub async fn start_tree(settings: Settings, journal: Journal) -> Result<SupervisorRef, SupervisorError> {
    let config = {
        let journal = journal.clone();
        ChildSpec::new("config", move || {
            Config::builder().name("config").start_link((settings, journal.clone()))
        })
    };
    let metrics = {
        let journal = journal.clone();
        ChildSpec::new("metrics", move || Metrics::builder().name("metrics").start_link(journal.clone()))
    };
    let workers = ChildSpec::new("workers", move || {
        let journal = journal.clone();
        Supervisor::builder()
            .name("workers")
            .intensity(5, Duration::from_secs(10))
            .child(ChildSpec::new("worker", move || {
                Worker::builder().name("worker").start_link(journal.clone())
            }))
            .start()
    })
    .supervisor();
    // Rest-for-one: if config or metrics crashed, what was started after it (and may
    // hold a handle to it) would be restarted too.
    Supervisor::builder()
        .name("app")
        .strategy(Strategy::RestForOne)
        .children([config, metrics, workers])
        .start()
        .await
}

/// One new instance of the worker, as the client first reached it.
#[derive(Debug)]
pub struct Reached {
    /// Its number.
    pub instance: u32,
    /// Its server id.
    pub server: ServerId,
    /// What a call through the handle of the previous instance got, once this one
    /// answered: an error, since that instance has crashed.
    pub previous_handle: Option<Result<Done, CallError>>,
}

/// Calls the worker by its name every `every`, until `instances` different instances
/// have answered, and returns them in order.
pub async fn client(instances: usize, every: Duration) -> Vec<Reached> {
    let mut reached: Vec<Reached> = Vec::new();
    let mut previous: Option<WorkerRef> = None;
    for job in 1.. {
        match Worker::whereis("worker") {
            None => println!("[client] job {job}: no worker registered right now"),
            Some(worker) => match worker.work(job).await {
                Ok(done) if reached.last().is_none_or(|last| last.server != worker.id()) => {
                    let previous_handle = match &previous {
                        Some(old) => Some(old.work(job).await),
                        None => None,
                    };
                    println!(
                        "[client] job {job}: done by worker #{} (server {}); the previous handle got {:?}",
                        done.instance,
                        worker.id(),
                        previous_handle
                    );
                    reached.push(Reached { instance: done.instance, server: worker.id(), previous_handle });
                    previous = Some(worker);
                    if reached.len() == instances {
                        break;
                    }
                }
                Ok(done) => println!("[client] job {job}: done by worker #{}", done.instance),
                Err(error) => println!("[client] job {job}: {error}"),
            },
        }
        tokio::time::sleep(every).await;
    }
    reached
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let colors = std::io::IsTerminal::is_terminal(&std::io::stdout());
    tracing_subscriber::fmt().with_target(false).with_ansi(colors).init();
    let settings = Settings { crash_every: Duration::from_millis(1500), crashes: 3 };
    let app = start_tree(settings, Journal::default()).await?;
    for child in app.which_children().await? {
        println!("app child {:?}: {:?}", child.id, child.process.map(|process| process.id()));
    }

    let reached = client(settings.crashes as usize + 1, Duration::from_millis(400)).await;
    println!("the client reached {} worker instances by name", reached.len());
    let metrics = Metrics::whereis("metrics").ok_or("metrics is not running")?;
    println!("metrics: {:?}", metrics.report().await?);

    println!("shutting the tree down");
    app.stop(ExitReason::Shutdown, Duration::from_secs(5)).await?;
    println!(
        "done: app running = {}, worker registered = {}",
        app.is_alive(),
        Worker::whereis("worker").is_some()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_worker_is_restarted_after_each_crash_the_name_follows_and_the_tree_stops_in_order() {
        let settings = Settings { crash_every: Duration::from_millis(1500), crashes: 3 };
        let journal = Journal::default();
        let app = start_tree(settings, journal.clone()).await.expect("tree started");
        let reached = client(4, Duration::from_millis(400)).await;

        // Four instances, each a new server, reached by name in order; the handle of
        // each crashed instance answers with an error.
        let instances: Vec<u32> = reached.iter().map(|r| r.instance).collect();
        assert_eq!(instances, [1, 2, 3, 4]);
        let mut servers: Vec<ServerId> = reached.iter().map(|r| r.server).collect();
        servers.dedup();
        assert_eq!(servers.len(), 4);
        assert!(reached[0].previous_handle.is_none());
        for later in &reached[1..] {
            assert_eq!(later.previous_handle, Some(Err(CallError::NoServer)));
        }

        // Restarted at once after each crash, 1.5 s apart.
        let metrics = Metrics::whereis("metrics").expect("metrics running");
        let starts = metrics.report().await.expect("report").worker_starts;
        let ms = |n| Duration::from_millis(n);
        assert_eq!(starts, [ms(0), ms(1500), ms(3000), ms(4500)]);

        // The name and the nested supervisor both designate the last instance.
        assert_eq!(Worker::whereis("worker").map(|w| w.id()), Some(reached[3].server));
        let workers = genserver_runtime::whereis::<Supervisor>("workers").expect("workers running");
        let children = workers.which_children().await.expect("listed");
        assert_eq!(children[0].process.as_ref().map(|p| p.id()), Some(reached[3].server));

        app.stop(ExitReason::Shutdown, Duration::from_secs(5)).await.expect("stopped");
        let terminates: Vec<String> =
            journal.lines().into_iter().filter(|line| line.contains("terminate")).collect();
        assert_eq!(
            terminates,
            [
                "worker #1 terminate (error: worker #1 crashes on purpose)",
                "worker #2 terminate (error: worker #2 crashes on purpose)",
                "worker #3 terminate (error: worker #3 crashes on purpose)",
                "worker #4 terminate (shutdown)",
                "metrics terminate (shutdown) after 4 worker starts and 13 jobs",
                "config terminate (shutdown)",
            ]
        );
        assert!(Worker::whereis("worker").is_none() && Config::whereis("config").is_none());
    }
}
