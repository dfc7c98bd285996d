//! Exercise 3 of the Elixir GenServer guide, "implement a GenServer that batches
//! requests": many callers insert events into SQLite; the server groups their requests
//! and writes each group in one transaction, then answers every caller with its own row
//! id.
//!
//! Run it with `cargo run --example request_batcher`. Twenty-five clients insert at once
//! (two full batches of ten, then a batch of five flushed by its deadline), then three
//! more arrive one by one; each client prints its row id, and the server its counts.
//!
//! How it works:
//! - `insert` is a call whose handler keeps the caller's [`ReplyTo`] with the request
//!   (OTP: `{:noreply, state}`, then `GenServer.reply/2`).
//! - A batch is flushed when it holds `max_batch` requests, or `max_wait` after its first
//!   request (a `cx.send_after` timer), whichever comes first. The timer message carries
//!   the batch's number, so a timer that fires for a batch already flushed is ignored.
//! - A writer task owns the SQLite connection and writes batches in order, each in one
//!   transaction on a blocking thread, so the server keeps taking requests meanwhile.
//!   A row that SQLite refuses (an empty event) fails for its caller only.
//! - A caller that gave up before its batch was flushed is left out of it: nobody would
//!   learn its row id. Once a batch is on its way its rows are written, and the reply to
//!   a caller that gives up then is dropped.
//! - Stopping the server flushes the requests it holds and waits for the writer, so every
//!   accepted request is answered.

mod support;

use std::path::{Path, PathBuf};

use genserver_runtime::prelude::*;
use rusqlite::Connection;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// When to flush a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// Flush as soon as a batch holds this many requests. At least 1.
    pub max_batch: usize,
    /// Flush a batch this long after its first request at the latest. More than zero.
    pub max_wait: Duration,
}

/// Why an insert failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertError {
    /// SQLite refused this row (the rest of its batch is written).
    Rejected(String),
    /// The batch's transaction failed: none of its rows were written.
    BatchFailed(String),
}

/// What an insert answers: the new row's id, or why there is none.
pub type InsertResult = Result<i64, InsertError>;

/// How many batches were flushed and why, and how many requests they carried.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// Batches flushed because they were full.
    pub flushed_full: u64,
    /// Batches flushed because their deadline passed.
    pub flushed_on_time: u64,
    /// Requests sent to the writer.
    pub requests_written: u64,
    /// Requests left out because their caller had given up.
    pub requests_abandoned: u64,
}

/// A request waiting in the current batch.
struct Pending {
    event: String,
    from: ReplyTo<InsertResult>,
}

/// Gathers inserts into batches and hands them to the writer task.
pub struct RequestBatcher {
    limits: BatchLimits,
    /// The batch being gathered.
    pending: Vec<Pending>,
    /// The number of the batch being gathered, for its deadline timer.
    batch: u64,
    /// The deadline timer of the batch being gathered.
    deadline: Option<TimerRef>,
    /// Where full batches go; `None` once the server is stopping.
    writer: Option<mpsc::UnboundedSender<Vec<Pending>>>,
    /// The writer task, awaited as the server stops.
    writer_task: Option<JoinHandle<()>>,
    stats: BatchStats,
}

#[genserver]
impl RequestBatcher {
    /// Opens the database at `path` (creating its `events` table) and starts the writer.
    #[init]
    async fn init(
        path: PathBuf,
        limits: BatchLimits,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        if limits.max_batch == 0 || limits.max_wait.is_zero() {
            return Err(
                format!("invalid limits {limits:?}: max_batch and max_wait must be above zero").into()
            );
        }
        let conn = tokio::task::spawn_blocking(move || open(&path)).await??;
        let (writer, batches) = mpsc::unbounded_channel();
        Ok(RequestBatcher {
            limits,
            pending: Vec::new(),
            batch: 0,
            deadline: None,
            writer: Some(writer),
            writer_task: Some(tokio::spawn(write_batches(conn, batches))),
            stats: BatchStats::default(),
        })
    }

    /// Inserts `event` as a new row and answers with its id once its batch is written.
    #[call]
    pub fn insert(&mut self, event: String, from: ReplyTo<InsertResult>, cx: &mut Context<Self>) -> NoReply {
        self.pending.push(Pending { event, from });
        if self.pending.len() == 1 {
            let due = RequestBatcherInfo::FlushDue { batch: self.batch };
            self.deadline = Some(cx.send_after(self.limits.max_wait, due));
        }
        if self.pending.len() >= self.limits.max_batch {
            self.flush();
            self.stats.flushed_full += 1;
        }
        NoReply::ok()
    }

    /// How many batches were flushed, and why.
    #[call]
    pub fn stats(&self) -> BatchStats {
        self.stats
    }

    /// The deadline of batch `batch`: flushes it unless it was flushed already.
    #[info]
    fn flush_due(&mut self, batch: u64) {
        if batch == self.batch && !self.pending.is_empty() {
            self.flush();
            self.stats.flushed_on_time += 1;
        }
    }

    /// Flushes the requests held, then waits for the writer to answer every caller.
    #[terminate]
    async fn terminate(&mut self, _reason: &ExitReason) {
        self.flush();
        self.writer = None;
        if let Some(writer) = self.writer_task.take() {
            let _ = writer.await;
        }
    }
}

impl RequestBatcher {
    /// Sends the current batch to the writer, without the callers that gave up, and
    /// starts the next one.
    fn flush(&mut self) {
        if let Some(deadline) = self.deadline.take() {
            deadline.cancel();
        }
        self.batch += 1;
        let mut batch = std::mem::take(&mut self.pending);
        let before = batch.len();
        batch.retain(|pending| pending.from.is_waiting());
        self.stats.requests_abandoned += (before - batch.len()) as u64;
        self.stats.requests_written += batch.len() as u64;
        if let (false, Some(writer)) = (batch.is_empty(), &self.writer) {
            // The writer runs until this sender is dropped. Only if it died (its blocking
            // thread panicked) does the send fail: the callers then see their timeout.
            let _ = writer.send(batch);
        }
    }
}

/// Opens the database and creates the `events` table: an event is non-empty text.
fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, body TEXT NOT NULL CHECK (body <> ''))",
    )?;
    Ok(conn)
}

/// The writer task: writes each batch in one transaction on a blocking thread, in the
/// order they come, and answers each caller with its own result.
async fn write_batches(mut conn: Connection, mut batches: mpsc::UnboundedReceiver<Vec<Pending>>) {
    while let Some(batch) = batches.recv().await {
        let (events, callers): (Vec<String>, Vec<ReplyTo<InsertResult>>) =
            batch.into_iter().map(|pending| (pending.event, pending.from)).unzip();
        let written = tokio::task::spawn_blocking(move || {
            let results = insert_all(&mut conn, &events);
            (conn, results)
        })
        .await;
        let Ok((back, results)) = written else {
            // The blocking thread panicked and took the connection with it: the callers'
            // ReplyTos drop unanswered, and they see the server's exit or their timeout.
            tracing::error!("the batch writer lost its connection");
            return;
        };
        conn = back;
        for (from, result) in callers.into_iter().zip(results) {
            from.reply(result);
        }
    }
}

/// Inserts `events` in one transaction; one result per event, in order.
fn insert_all(conn: &mut Connection, events: &[String]) -> Vec<InsertResult> {
    let failed =
        |error: rusqlite::Error| vec![Err(InsertError::BatchFailed(error.to_string())); events.len()];
    let tx = match conn.transaction() {
        Ok(tx) => tx,
        Err(error) => return failed(error),
    };
    let results: Vec<InsertResult> = events
        .iter()
        .map(|event| {
            // A refused row aborts its own statement only; the transaction goes on.
            tx.execute("INSERT INTO events (body) VALUES (?1)", [event])
                .map(|_| tx.last_insert_rowid())
                .map_err(|error| InsertError::Rejected(error.to_string()))
        })
        .collect();
    match tx.commit() {
        Ok(()) => results,
        Err(error) => failed(error),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let dir = support::temp_dir::TempDir::new("request-batcher")?;
    let limits = BatchLimits { max_batch: 10, max_wait: Duration::from_millis(50) };
    let batcher = RequestBatcher::start(dir.join("events.db"), limits).await?;
    println!(
        "batches of {} requests, or {:?} after a batch's first request",
        limits.max_batch, limits.max_wait
    );

    let start = tokio::time::Instant::now();
    let clients: Vec<_> = (1..=25)
        .map(|client| {
            let batcher = batcher.clone();
            tokio::spawn(async move {
                let id = batcher.insert(format!("event from client {client}")).await;
                (client, id, start.elapsed())
            })
        })
        .collect();
    for client in clients {
        let (client, id, after) = client.await?;
        println!("client {client:>2}: {:?} after {} ms", id?, after.as_millis());
    }

    for client in 26..=28 {
        let sent = start.elapsed();
        let id = batcher.insert(format!("event from client {client}")).await?;
        println!("client {client:>2}: {id:?}, {} ms after it asked", (start.elapsed() - sent).as_millis());
    }
    let refused = batcher.insert(String::new()).await?;
    println!("an empty event: {refused:?}");

    println!("{:?}", batcher.stats().await?);
    batcher.stop(ExitReason::Normal, Duration::from_secs(5)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::future::IntoFuture;

    use tokio::time::Instant;

    use super::support::poll::poll_once;
    use super::support::temp_dir::TempDir;
    use super::*;

    const LIMITS: BatchLimits = BatchLimits { max_batch: 3, max_wait: Duration::from_millis(100) };

    async fn start(limits: BatchLimits) -> (RequestBatcherRef, TempDir, PathBuf) {
        let dir = TempDir::new("request-batcher-test").expect("a temporary folder");
        let db = dir.join("events.db");
        let batcher = RequestBatcher::start(db.clone(), limits).await.expect("starts");
        (batcher, dir, db)
    }

    /// Every event written, by row id.
    fn rows(db: &Path) -> Vec<(i64, String)> {
        let conn = Connection::open(db).expect("opens");
        let mut select = conn.prepare("SELECT id, body FROM events ORDER BY id").expect("select");
        select
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .expect("rows")
            .map(Result::unwrap)
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn full_batch_is_written_at_once_and_each_caller_gets_its_own_row_id() {
        let (batcher, _dir, db) = start(LIMITS).await;
        let start = Instant::now();
        let mut a = batcher.insert("a".into()).into_future();
        let mut b = batcher.insert("b".into()).into_future();
        let mut c = batcher.insert("c".into()).into_future();
        for call in [&mut a, &mut b, &mut c] {
            assert!(poll_once(call).await.is_none());
        }
        assert_eq!((a.await, b.await, c.await), (Ok(Ok(1)), Ok(Ok(2)), Ok(Ok(3))));
        assert_eq!(start.elapsed(), Duration::ZERO, "no wait for the deadline");
        assert_eq!(rows(&db), [(1, "a".into()), (2, "b".into()), (3, "c".into())]);
        let stats = batcher.stats().await.expect("stats");
        assert_eq!((stats.flushed_full, stats.flushed_on_time, stats.requests_written), (1, 0, 3));
    }

    #[tokio::test(start_paused = true)]
    async fn partial_batch_is_written_exactly_max_wait_after_its_first_request() {
        let (batcher, _dir, db) = start(LIMITS).await;
        let start = Instant::now();
        let mut first = batcher.insert("first".into()).into_future();
        assert!(poll_once(&mut first).await.is_none());
        batcher.stats().await.expect("a round trip: the server has taken the first request");
        tokio::time::advance(Duration::from_millis(40)).await;
        let second = batcher.insert("second".into());
        let (first, second) = tokio::join!(first, second);
        assert_eq!((first, second), (Ok(Ok(1)), Ok(Ok(2))));
        assert_eq!(start.elapsed(), LIMITS.max_wait, "counted from the first request, not the last");
        assert_eq!(rows(&db).len(), 2);
        let stats = batcher.stats().await.expect("stats");
        assert_eq!((stats.flushed_full, stats.flushed_on_time), (0, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn deadline_of_a_batch_flushed_full_does_not_cut_the_next_batch_short() {
        let (batcher, _dir, _db) = start(LIMITS).await;
        let start = Instant::now();
        let full = ["1", "2", "3"].map(|event| batcher.insert(event.into()));
        let [one, two, three] = full;
        assert_eq!(tokio::join!(one, two, three), (Ok(Ok(1)), Ok(Ok(2)), Ok(Ok(3))));
        tokio::time::advance(Duration::from_millis(60)).await;
        // This batch starts at 60 ms: its deadline is 160 ms, not the 100 ms of the first.
        assert_eq!(batcher.insert("4".into()).await, Ok(Ok(4)));
        assert_eq!(start.elapsed(), Duration::from_millis(160));
    }

    #[tokio::test(start_paused = true)]
    async fn callers_are_answered_in_order_across_batches() {
        let (batcher, _dir, db) = start(LIMITS).await;
        let start = Instant::now();
        let mut calls: Vec<_> = (0..7).map(|n| batcher.insert(format!("event {n}")).into_future()).collect();
        for call in &mut calls {
            assert!(poll_once(call).await.is_none());
        }
        let mut answered = Vec::new();
        for call in calls {
            answered.push((call.await, start.elapsed()));
        }
        let at_once = Duration::ZERO;
        let expected: Vec<_> =
            (1..=7).map(|id| (Ok(Ok(id)), if id <= 6 { at_once } else { LIMITS.max_wait })).collect();
        assert_eq!(answered, expected, "two full batches at once, the seventh at its deadline");
        let bodies: Vec<_> = rows(&db).into_iter().map(|(_, body)| body).collect();
        assert_eq!(bodies, (0..7).map(|n| format!("event {n}")).collect::<Vec<_>>());
        let stats = batcher.stats().await.expect("stats");
        assert_eq!((stats.flushed_full, stats.flushed_on_time, stats.requests_written), (2, 1, 7));
    }

    #[tokio::test(start_paused = true)]
    async fn refused_row_fails_for_its_caller_only() {
        let (batcher, _dir, db) = start(LIMITS).await;
        let (a, empty, c) = tokio::join!(
            batcher.insert("a".into()),
            batcher.insert(String::new()),
            batcher.insert("c".into())
        );
        assert_eq!(a, Ok(Ok(1)));
        assert!(
            matches!(&empty, Ok(Err(InsertError::Rejected(why))) if why.starts_with("CHECK constraint failed"))
        );
        assert_eq!(c, Ok(Ok(2)));
        assert_eq!(rows(&db), [(1, "a".into()), (2, "c".into())]);
    }

    #[tokio::test(start_paused = true)]
    async fn caller_that_gave_up_before_the_flush_is_left_out_of_the_batch() {
        let limits = BatchLimits { max_batch: 10, max_wait: Duration::from_millis(100) };
        let (batcher, _dir, db) = start(limits).await;
        let start = Instant::now();
        let mut kept = batcher.insert("kept".into()).into_future();
        assert!(poll_once(&mut kept).await.is_none());
        let timeout = Duration::from_millis(50);
        assert_eq!(
            batcher.insert("abandoned".into()).timeout(timeout).await,
            Err(CallError::Timeout(timeout))
        );
        assert_eq!(start.elapsed(), timeout);
        let (kept, also_kept) = tokio::join!(kept, batcher.insert("also kept".into()));
        assert_eq!((kept, also_kept), (Ok(Ok(1)), Ok(Ok(2))));
        assert_eq!(start.elapsed(), limits.max_wait);
        assert_eq!(rows(&db), [(1, "kept".into()), (2, "also kept".into())]);
        let stats = batcher.stats().await.expect("stats");
        assert_eq!((stats.requests_written, stats.requests_abandoned), (2, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn stop_writes_the_requests_held_and_answers_their_callers() {
        let limits = BatchLimits { max_batch: 10, max_wait: Duration::from_secs(60) };
        let (batcher, _dir, db) = start(limits).await;
        let start = Instant::now();
        let mut a = batcher.insert("a".into()).into_future();
        let mut b = batcher.insert("b".into()).into_future();
        assert!(poll_once(&mut a).await.is_none());
        assert!(poll_once(&mut b).await.is_none());
        batcher.stop(ExitReason::Shutdown, Duration::from_secs(5)).await.expect("stops");
        assert_eq!((a.await, b.await), (Ok(Ok(1)), Ok(Ok(2))));
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert_eq!(rows(&db).len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn limits_that_never_flush_refuse_to_start() {
        let dir = TempDir::new("request-batcher-test").expect("a temporary folder");
        for limits in
            [BatchLimits { max_batch: 0, ..LIMITS }, BatchLimits { max_wait: Duration::ZERO, ..LIMITS }]
        {
            let started = RequestBatcher::start(dir.join("events.db"), limits).await;
            assert!(matches!(started, Err(StartError::Stopped(ExitReason::Error(_)))), "{limits:?}");
        }
    }
}
