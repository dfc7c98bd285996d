//! The "Background Tasks" pattern of the Elixir GenServer guide: a handler starts slow
//! work in a task of its own (Elixir's `Task.start`) and returns at once; the result comes
//! back to the server later as an info message.
//!
//! Run it with `cargo run --example background_task`. A sales reporter summarises an
//! `orders` table in SQLite every 300 ms while a shop task keeps inserting orders; clients
//! read the latest report at any time and are answered at once, even while a new report
//! is being computed.
//!
//! How it works:
//! - Every tick of a timer (`cx.send_after`, set again by each tick as the guide's
//!   `schedule_next()` does), and every `refresh`, starts a run: a task started with
//!   `cx.spawn_task` reads the database on a blocking thread, and its result comes back
//!   to the server as `ReportDone { run, outcome }`. The server only starts the task and
//!   stores the result, so it stays free for calls meanwhile. The task is tied to the
//!   server: if the server exits, the task is aborted rather than left running.
//! - One run at a time: a refresh asked for while a run is going is folded into one more
//!   run after it, so requests never pile up.
//! - The run always reports back, even if the work fails or panics (`cx.spawn_task` sends
//!   a panic back as `Err(TaskPanicked)`, unlike a bare `Task.start`, whose crash the
//!   server would never hear of); a failed run keeps the previous report and records the
//!   error.
//! - [`SalesReporterRef::fresh_report`] answers, through a deferred reply, with the first
//!   report that *starts* after the call, so that it reflects every write made before.

mod support;

use std::path::{Path, PathBuf};

use genserver_runtime::prelude::*;
use rusqlite::{Connection, OpenFlags};
use tokio::time::Instant;

/// A summary of the `orders` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The run that computed it: 1 for the first.
    pub run: u64,
    /// How many orders there are.
    pub orders: i64,
    /// The total of every order, in cents.
    pub revenue_cents: i64,
    /// The product sold in the largest quantity, and that quantity.
    pub top_product: Option<(String, i64)>,
}

/// What a report run gives back.
pub type RunOutcome = Result<Report, String>;

/// How the reporter is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReporterStatus {
    /// Whether a run is going on now.
    pub running: bool,
    /// Runs finished, whether they succeeded or failed.
    pub runs_finished: u64,
    /// The error of the last run, if it failed.
    pub last_error: Option<String>,
}

/// A caller of `fresh_report`, waiting for the run numbered `run` (or a later one).
struct Waiter {
    run: u64,
    from: ReplyTo<RunOutcome>,
}

/// Summarises the orders of a SQLite database in the background, on a timer.
pub struct SalesReporter {
    db: PathBuf,
    /// Time between two ticks.
    every: Duration,
    latest: Option<Report>,
    /// Runs started so far; the number of the running one when `running`.
    started: u64,
    running: bool,
    /// A run was asked for while one was going: start one more after it.
    run_again: bool,
    runs_finished: u64,
    last_error: Option<String>,
    waiters: Vec<Waiter>,
}

#[genserver]
impl SalesReporter {
    /// Starts the first run at once, and one every `every`.
    #[init]
    fn init(db: PathBuf, every: Duration, cx: &mut Context<Self>) -> Init<Self> {
        let mut reporter = SalesReporter {
            db,
            every,
            latest: None,
            started: 0,
            running: false,
            run_again: false,
            runs_finished: 0,
            last_error: None,
            waiters: Vec::new(),
        };
        reporter.start_run(cx);
        cx.send_after(every, SalesReporterInfo::Tick {});
        Init::ok(reporter)
    }

    /// The latest report, at once; `None` until the first run has finished.
    #[call]
    pub fn latest(&self) -> Option<Report> {
        self.latest.clone()
    }

    /// The outcome of the first run that starts after this call (one starts now if none
    /// is running).
    #[call]
    pub fn fresh_report(&mut self, from: ReplyTo<RunOutcome>, cx: &mut Context<Self>) -> NoReply {
        self.waiters.push(Waiter { run: self.started + 1, from });
        self.request_run(cx);
        NoReply::ok()
    }

    /// Asks for a run now, without waiting for it.
    #[cast]
    pub fn refresh(&mut self, cx: &mut Context<Self>) {
        self.request_run(cx);
    }

    /// Whether a run is going on, how many finished, and the last error.
    #[call]
    pub fn status(&self) -> ReporterStatus {
        ReporterStatus {
            running: self.running,
            runs_finished: self.runs_finished,
            last_error: self.last_error.clone(),
        }
    }

    /// The timer's tick: asks for a run and schedules the next tick (the guide's
    /// `schedule_next()`).
    #[info]
    fn tick(&mut self, cx: &mut Context<Self>) {
        self.request_run(cx);
        cx.send_after(self.every, SalesReporterInfo::Tick {});
    }

    /// A run's outcome, sent by its task.
    #[info]
    fn report_done(&mut self, run: u64, outcome: RunOutcome, cx: &mut Context<Self>) {
        self.running = false;
        self.runs_finished += 1;
        match &outcome {
            Ok(report) => {
                self.latest = Some(report.clone());
                self.last_error = None;
            }
            Err(error) => {
                tracing::warn!(run, %error, "report run failed; the previous report stays");
                self.last_error = Some(error.clone());
            }
        }
        let (answered, waiting) = std::mem::take(&mut self.waiters).into_iter().partition(|w| w.run <= run);
        self.waiters = waiting;
        for waiter in answered {
            waiter.from.reply(outcome.clone());
        }
        if std::mem::take(&mut self.run_again) {
            self.start_run(cx);
        }
    }
}

impl SalesReporter {
    /// Starts a run, or one more after the current one.
    fn request_run(&mut self, cx: &Context<Self>) {
        if self.running {
            self.run_again = true;
        } else {
            self.start_run(cx);
        }
    }

    /// Starts a run in a task tied to the server (Elixir's `Task.start`, ended with the
    /// server); its outcome comes back as a `ReportDone` info message, whatever happens to
    /// the work.
    fn start_run(&mut self, cx: &Context<Self>) {
        self.started += 1;
        self.running = true;
        let (run, db) = (self.started, self.db.clone());
        let work = async move {
            match tokio::task::spawn_blocking(move || summarise(&db, run)).await {
                Ok(Ok(report)) => Ok(report),
                Ok(Err(error)) => Err(error.to_string()),
                Err(_) => Err("the report run panicked".to_string()),
            }
        };
        cx.spawn_task(work, move |done| SalesReporterInfo::ReportDone {
            run,
            outcome: done.unwrap_or_else(|panicked| Err(panicked.to_string())),
        });
    }
}

/// The work itself: reads the totals with a read-only connection of its own.
fn summarise(db: &Path, run: u64) -> rusqlite::Result<Report> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let (orders, revenue_cents) =
        conn.query_row("SELECT count(*), coalesce(sum(quantity * price_cents), 0) FROM orders", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
    let mut top = conn.prepare(
        "SELECT product, sum(quantity) AS sold FROM orders GROUP BY product ORDER BY sold DESC, product LIMIT 1",
    )?;
    let top_product = top.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?.next().transpose()?;
    Ok(Report { run, orders, revenue_cents, top_product })
}

/// Creates the `orders` table.
fn create_orders(db: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(db)?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS orders (product TEXT NOT NULL, quantity INTEGER NOT NULL, price_cents INTEGER NOT NULL)",
    )?;
    Ok(conn)
}

/// Inserts an order.
fn insert_order(conn: &Connection, product: &str, quantity: i64, price_cents: i64) -> rusqlite::Result<()> {
    conn.execute("INSERT INTO orders VALUES (?1, ?2, ?3)", (product, quantity, price_cents)).map(|_| ())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let dir = support::temp_dir::TempDir::new("background-task")?;
    let db = dir.join("shop.db");
    let products = [("tea", 450), ("coffee", 700), ("cake", 350)];
    {
        let conn = create_orders(&db)?;
        conn.execute_batch("BEGIN")?;
        for n in 0..20_000i64 {
            let (product, price) = products[(n % 3) as usize];
            insert_order(&conn, product, n % 4 + 1, price)?;
        }
        conn.execute_batch("COMMIT")?;
    }
    println!("20000 orders in {}", db.display());

    let reporter = SalesReporter::start(db.clone(), Duration::from_millis(300)).await?;

    // The shop keeps selling coffee for a second, on a blocking thread of its own.
    let shop = tokio::task::spawn_blocking({
        let db = db.clone();
        move || -> rusqlite::Result<()> {
            let conn = Connection::open(&db)?;
            conn.busy_timeout(Duration::from_secs(5))?;
            let until = std::time::Instant::now() + Duration::from_secs(1);
            while std::time::Instant::now() < until {
                insert_order(&conn, "coffee", 5, 700)?;
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(())
        }
    });

    let start = Instant::now();
    let mut seen = 0;
    while !shop.is_finished() {
        let asked = Instant::now();
        let latest = reporter.latest().await?;
        let took = asked.elapsed();
        if let Some(report) = latest.filter(|report| report.run != seen) {
            seen = report.run;
            println!(
                "{:>5} ms  report #{}: {} orders, {:.2} revenue, top {:?} (latest() answered in {} µs)",
                start.elapsed().as_millis(),
                report.run,
                report.orders,
                report.revenue_cents as f64 / 100.0,
                report.top_product,
                took.as_micros()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shop.await??;

    let fresh = reporter.fresh_report().await??;
    println!("fresh report after the shop closed: #{} with {} orders", fresh.run, fresh.orders);
    println!("{:?}", reporter.status().await?);
    reporter.stop(ExitReason::Normal, Duration::from_secs(5)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::future::IntoFuture;

    use tokio::time::sleep_until;

    use super::support::poll::poll_once;
    use super::support::temp_dir::TempDir;
    use super::*;

    /// A database with three orders: 2 tea at 4.50, 1 coffee at 7.00, 1 tea at 4.50.
    fn shop() -> (TempDir, PathBuf, Connection) {
        let dir = TempDir::new("background-task-test").expect("a temporary folder");
        let db = dir.join("shop.db");
        let conn = create_orders(&db).expect("the table");
        insert_order(&conn, "tea", 2, 450).expect("insert");
        insert_order(&conn, "coffee", 1, 700).expect("insert");
        insert_order(&conn, "tea", 1, 450).expect("insert");
        (dir, db, conn)
    }

    const HOURLY: Duration = Duration::from_secs(3600);

    #[tokio::test]
    async fn first_report_is_computed_in_the_background_after_start() {
        let (_dir, db, _conn) = shop();
        let reporter = SalesReporter::start(db, HOURLY).await.expect("starts");
        let report = reporter.fresh_report().await.expect("answers").expect("the run succeeds");
        // Run 1 starts in init; if it was still going, the fresh report is run 2.
        let expected =
            Report { run: report.run, orders: 3, revenue_cents: 2050, top_product: Some(("tea".into(), 3)) };
        assert_eq!(report, expected);
        assert!(report.run == 1 || report.run == 2, "{report:?}");
        assert_eq!(reporter.latest().await, Ok(Some(expected)));
        let status = reporter.status().await.expect("status");
        assert_eq!((status.running, status.runs_finished), (false, report.run));
    }

    #[tokio::test]
    async fn server_answers_calls_while_a_run_waits_on_the_database() {
        let (_dir, db, conn) = shop();
        let reporter = SalesReporter::start(db, HOURLY).await.expect("starts");
        let first = reporter.fresh_report().await.expect("answers").expect("succeeds");

        // Lock the database: the next run cannot read until the lock goes.
        conn.execute_batch("BEGIN EXCLUSIVE").expect("lock");
        reporter.refresh();
        let status = reporter.status().await.expect("answered while the run is blocked");
        assert!(status.running);
        assert_eq!(status.runs_finished, first.run);
        assert_eq!(reporter.latest().await, Ok(Some(first)), "the previous report, at once");

        insert_order(&conn, "cake", 10, 350).expect("insert");
        conn.execute_batch("COMMIT").expect("unlock");
        let fresh = reporter.fresh_report().await.expect("answers").expect("succeeds");
        assert_eq!((fresh.orders, fresh.top_product), (4, Some(("cake".to_string(), 10))));
    }

    #[tokio::test]
    async fn refreshes_asked_during_a_run_are_folded_into_one_more_run() {
        let (_dir, db, conn) = shop();
        let reporter = SalesReporter::start(db, HOURLY).await.expect("starts");
        let first = reporter.fresh_report().await.expect("answers").expect("succeeds");

        conn.execute_batch("BEGIN EXCLUSIVE").expect("lock");
        for _ in 0..5 {
            reporter.refresh();
        }
        let mut fresh = reporter.fresh_report().into_future();
        assert!(poll_once(&mut fresh).await.is_none());
        assert_eq!(reporter.status().await.map(|status| status.running), Ok(true));
        conn.execute_batch("COMMIT").expect("unlock");
        // The first refresh started a run, blocked by the lock; the other four and the
        // fresh_report are folded into one more run after it.
        assert_eq!(fresh.await.expect("answers").map(|report| report.run), Ok(first.run + 2));
        let status = reporter.status().await.expect("status");
        assert_eq!((status.running, status.runs_finished), (false, first.run + 2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_starts_on_every_tick_of_the_timer() {
        let (_dir, db, conn) = shop();
        let start = Instant::now();
        let every = Duration::from_secs(60);
        let reporter = SalesReporter::start(db, every).await.expect("starts");
        sleep_until(start + Duration::from_secs(1)).await;
        assert_eq!(reporter.latest().await.map(|r| r.map(|r| (r.run, r.orders))), Ok(Some((1, 3))));

        insert_order(&conn, "cake", 1, 350).expect("insert");
        sleep_until(start + Duration::from_secs(59)).await;
        assert_eq!(reporter.latest().await.map(|r| r.map(|r| (r.run, r.orders))), Ok(Some((1, 3))));
        sleep_until(start + Duration::from_secs(61)).await;
        assert_eq!(reporter.latest().await.map(|r| r.map(|r| (r.run, r.orders))), Ok(Some((2, 4))));
        sleep_until(start + Duration::from_secs(121)).await;
        assert_eq!(reporter.status().await.map(|status| status.runs_finished), Ok(3));
    }

    #[tokio::test]
    async fn failed_run_keeps_the_previous_report_and_records_the_error() {
        let (_dir, db, conn) = shop();
        let reporter = SalesReporter::start(db, HOURLY).await.expect("starts");
        let first = reporter.fresh_report().await.expect("answers").expect("succeeds");

        conn.execute_batch("ALTER TABLE orders RENAME TO archived_orders").expect("rename");
        let failed = reporter.fresh_report().await.expect("answers");
        assert_eq!(failed, Err("no such table: orders".to_string()));
        assert_eq!(reporter.latest().await, Ok(Some(first.clone())));
        let status = reporter.status().await.expect("status");
        assert_eq!((status.running, status.last_error.as_deref()), (false, Some("no such table: orders")));

        conn.execute_batch("ALTER TABLE archived_orders RENAME TO orders").expect("rename back");
        assert_eq!(reporter.fresh_report().await.expect("answers").map(|r| r.run), Ok(first.run + 2));
        assert_eq!(reporter.status().await.map(|status| status.last_error), Ok(None));
    }

    #[tokio::test]
    async fn missing_database_fails_each_run_without_stopping_the_server() {
        let dir = TempDir::new("background-task-test").expect("a temporary folder");
        let reporter = SalesReporter::start(dir.join("missing.db"), HOURLY).await.expect("starts");
        let failed = reporter.fresh_report().await.expect("answers");
        assert!(
            matches!(&failed, Err(error) if error.starts_with("unable to open database file")),
            "{failed:?}"
        );
        assert_eq!(reporter.latest().await, Ok(None));
        assert!(reporter.is_alive());
    }
}
