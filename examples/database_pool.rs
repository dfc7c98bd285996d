//! The DatabasePool of the Elixir GenServer guide ("Termination"), built for real on an
//! embedded SQLite database; it also answers the guide's exercise 4, "build a connection
//! pool GenServer".
//!
//! Run it with `cargo run --example database_pool`. It opens a pool of three connections
//! to a database file in a temporary folder, lets eight workers share them (the ones
//! beyond three wait in line and are served first come, first served), shows a caller
//! that gives up and a worker that panics without losing a connection, then stops the
//! pool: `terminate` closes every connection, and SQLite removes its write-ahead log,
//! which it only does once the last connection is closed.
//!
//! How it works:
//! - `init` opens N connections to one database file (WAL mode, so readers and a writer
//!   can work at once), on tokio's blocking threads: rusqlite's calls block.
//! - [`DatabasePoolRef::checkout`] is a call answered with a [`PooledConnection`]. When
//!   every connection is out, the handler keeps the caller's [`ReplyTo`] in a queue and
//!   answers it later, when a connection comes back (OTP: `{:noreply, state}`, then
//!   `GenServer.reply/2`).
//! - A [`PooledConnection`] checks its connection back in when dropped, so a forgetful
//!   user, an early return or a panicking task cannot leak it. A transaction left open is
//!   rolled back first.
//! - The server only hands connections out: queries run in the caller's task, through
//!   [`PooledConnection::run`], on a blocking thread.
//! - A caller that gave up (its call timed out, or its future was dropped) loses nothing:
//!   [`ReplyTo::try_reply`] hands the connection back, and it goes to the next caller in
//!   line or back to the pool.

mod support;

use std::collections::VecDeque;
use std::fmt;
use std::path::{Path, PathBuf};

use genserver_runtime::prelude::*;
use rusqlite::Connection;

/// A pool of SQLite connections to one database file.
pub struct DatabasePool {
    /// How many connections the pool opened.
    size: usize,
    /// The connections in the pool, ready to hand out.
    idle: Vec<Connection>,
    /// Callers waiting for a connection, oldest first.
    waiting: VecDeque<ReplyTo<PooledConnection>>,
}

/// How the pool is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections the pool opened.
    pub size: usize,
    /// Connections in the pool, ready to hand out.
    pub idle: usize,
    /// Connections checked out.
    pub in_use: usize,
    /// Callers waiting for a connection.
    pub waiting: usize,
}

/// Why the pool could not start.
#[derive(Debug)]
pub enum PoolError {
    /// A pool needs at least one connection.
    NoConnections,
    /// SQLite could not open a connection.
    Open(rusqlite::Error),
    /// Opening the connections panicked.
    OpenPanicked,
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolError::NoConnections => write!(f, "a pool needs at least one connection"),
            PoolError::Open(error) => write!(f, "cannot open a connection: {error}"),
            PoolError::OpenPanicked => write!(f, "opening the connections panicked"),
        }
    }
}

impl std::error::Error for PoolError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PoolError::Open(error) => Some(error),
            _ => None,
        }
    }
}

#[genserver]
impl DatabasePool {
    /// Opens `size` connections to the database file at `path`, creating it if needed.
    #[init]
    async fn init(path: PathBuf, size: usize) -> Result<Self, PoolError> {
        if size == 0 {
            return Err(PoolError::NoConnections);
        }
        let opened = tokio::task::spawn_blocking(move || {
            (0..size).map(|_| open_connection(&path)).collect::<rusqlite::Result<Vec<_>>>()
        })
        .await;
        let idle = opened.map_err(|_| PoolError::OpenPanicked)?.map_err(PoolError::Open)?;
        Ok(DatabasePool { size, idle, waiting: VecDeque::new() })
    }

    /// A connection of the pool, at once if one is free, otherwise as soon as one comes
    /// back, after the callers already waiting. It goes back to the pool when the
    /// [`PooledConnection`] is dropped. Set a timeout on the call to bound the wait.
    #[call]
    pub fn checkout(&mut self, from: ReplyTo<PooledConnection>, cx: &mut Context<Self>) -> NoReply {
        self.waiting.retain(ReplyTo::is_waiting);
        self.waiting.push_back(from);
        self.serve_waiting(cx);
        NoReply::ok()
    }

    /// Takes a connection back: sent by [`PooledConnection`] as it drops.
    #[cast]
    fn checkin(&mut self, conn: Connection, cx: &mut Context<Self>) {
        self.idle.push(conn);
        self.serve_waiting(cx);
    }

    /// How many connections are idle and in use, and how many callers wait.
    #[call]
    pub fn status(&self) -> PoolStatus {
        PoolStatus {
            size: self.size,
            idle: self.idle.len(),
            in_use: self.size.saturating_sub(self.idle.len()),
            waiting: self.waiting.iter().filter(|from| from.is_waiting()).count(),
        }
    }

    /// Closes every connection in the pool. Connections still checked out close when
    /// their [`PooledConnection`] drops, as the pool is no longer there to take them.
    /// Callers still waiting get [`CallError::Exited`].
    #[terminate]
    async fn terminate(&mut self, reason: &ExitReason) {
        let idle = std::mem::take(&mut self.idle);
        let checked_out = self.size.saturating_sub(idle.len());
        let closing = tokio::task::spawn_blocking(move || {
            idle.into_iter().map(Connection::close).filter(Result::is_ok).count()
        });
        let closed = closing.await.unwrap_or(0);
        println!(
            "[pool] terminate ({reason}): closed {closed} connection(s), {checked_out} still checked out"
        );
    }
}

impl DatabasePool {
    /// Gives idle connections to waiting callers, first come first served. A caller that
    /// gave up hands its connection back through `try_reply`, for the next one.
    fn serve_waiting(&mut self, cx: &Context<Self>) {
        while !self.idle.is_empty() {
            let Some(from) = self.waiting.pop_front() else { return };
            let conn = self.idle.pop().expect("checked just above");
            if let Err(unclaimed) = from.try_reply(PooledConnection::new(conn, cx.me())) {
                self.idle.push(unclaimed.into_connection());
            }
        }
    }
}

/// Opens one connection of the pool: write-ahead logging, so that readers do not wait for
/// a writer, and a busy timeout, so that writers wait for each other instead of failing.
fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    debug_assert_eq!(mode, "wal");
    Ok(conn)
}

/// A connection checked out of a [`DatabasePool`]; it goes back to the pool when dropped.
///
/// Run queries with [`run`](PooledConnection::run), which moves the connection to a
/// blocking thread for the duration of the work.
pub struct PooledConnection {
    /// `None` only while [`run`](PooledConnection::run) has lent the connection out, or
    /// once it went back to the pool.
    conn: Option<Connection>,
    pool: DatabasePoolRef,
}

impl PooledConnection {
    fn new(conn: Connection, pool: DatabasePoolRef) -> Self {
        PooledConnection { conn: Some(conn), pool }
    }

    /// Runs `work` with the connection on one of tokio's blocking threads and returns its
    /// result, so that SQLite's blocking calls never hold up the async tasks.
    ///
    /// If `work` panics the connection goes back to the pool (any open transaction
    /// rolled back) and the panic goes on in the caller.
    pub async fn run<T, F>(&mut self, work: F) -> T
    where
        F: FnOnce(&mut Connection) -> T + Send + 'static,
        T: Send + 'static,
    {
        // The connection travels with a guard of its own, so that a panic on the blocking
        // thread still checks it in.
        let mut lent = PooledConnection { conn: self.conn.take(), pool: self.pool.clone() };
        let outcome = tokio::task::spawn_blocking(move || {
            let conn =
                lent.conn.as_mut().expect("the connection went back to the pool when earlier work panicked");
            let value = work(conn);
            (lent, value)
        })
        .await;
        match outcome {
            Ok((mut lent, value)) => {
                self.conn = lent.conn.take();
                value
            }
            Err(error) => match error.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(_) => panic!("the runtime shut down while the work was running"),
            },
        }
    }

    /// Takes the connection out without checking it in.
    fn into_connection(mut self) -> Connection {
        self.conn.take().expect("a pooled connection holds its connection until dropped")
    }
}

impl Drop for PooledConnection {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if !conn.is_autocommit() {
                // Left inside a transaction (an early return or a panic): the next user
                // must not inherit it.
                let _ = conn.execute_batch("ROLLBACK");
            }
            self.pool.checkin(conn);
        }
    }
}

impl fmt::Debug for PooledConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledConnection").field("pool", &self.pool).finish_non_exhaustive()
    }
}

/// The write-ahead log SQLite keeps next to the database while connections are open.
fn wal_file(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// The text of a panic.
fn panic_message(info: &std::panic::PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    payload
        .downcast_ref::<&str>()
        .map(|text| text.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(not text)".to_string())
}

/// What the demo's steps can fail with.
type DemoError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), DemoError> {
    let dir = support::temp_dir::TempDir::new("database-pool")?;
    let db = dir.join("app.db");
    let pool = DatabasePool::start(db.clone(), 3).await?;
    println!("started a pool of 3 connections to {}", db.display());
    println!("status: {:?}", pool.status().await?);

    let mut setup = pool.checkout().await?;
    setup.run(|conn| conn.execute_batch("CREATE TABLE jobs (worker INTEGER, rows INTEGER)")).await?;
    drop(setup);

    // Eight workers, three connections, all held by main for now: the workers wait in
    // line, then share the connections as they come back.
    let held = [pool.checkout().await?, pool.checkout().await?, pool.checkout().await?];
    let workers: Vec<_> = (1..=8)
        .map(|worker| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut conn = pool.checkout().await?;
                println!("[worker {worker}] got a connection");
                let rows = conn
                    .run(move |conn| -> rusqlite::Result<i64> {
                        let tx = conn.transaction()?;
                        tx.execute("INSERT INTO jobs VALUES (?1, ?2)", (worker, worker * 100))?;
                        let total = tx.query_row("SELECT count(*) FROM jobs", [], |row| row.get(0))?;
                        tx.commit()?;
                        Ok(total)
                    })
                    .await?;
                println!("[worker {worker}] inserted its row; {rows} row(s) in the table");
                Ok::<_, DemoError>(())
            })
        })
        .collect();
    while pool.status().await?.waiting < 8 {
        tokio::task::yield_now().await;
    }
    println!("status with every worker in line: {:?}", pool.status().await?);
    drop(held);
    for worker in workers {
        worker.await??;
    }
    println!("status after the workers: {:?}", pool.status().await?);

    // Every connection out: a caller with a short timeout gives up; nothing is lost.
    let held = [pool.checkout().await?, pool.checkout().await?, pool.checkout().await?];
    let gave_up = pool.checkout().timeout(Duration::from_millis(20)).await;
    println!("checkout with a 20 ms timeout while all are out: {:?}", gave_up.map(|_| ()));
    drop(held);
    println!("status after the three came back: {:?}", pool.status().await?);

    // A task that panics while holding a connection: the connection still comes back.
    // (One line for the expected panic instead of the default report.)
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| println!("[worker] panicked: {}", panic_message(info))));
    let panicking = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut conn = pool.checkout().await.expect("a free connection");
            conn.run(|_| panic!("a bug in the worker")).await
        })
    };
    println!("the panicking task ended with a panic: {}", panicking.await.is_err());
    std::panic::set_hook(default_hook);
    println!("status after the panic: {:?}", pool.status().await?);

    println!("write-ahead log present while the pool runs: {}", wal_file(&db).exists());
    pool.stop(ExitReason::Normal, Duration::from_secs(5)).await?;
    println!("write-ahead log present after the pool stopped: {}", wal_file(&db).exists());
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::future::IntoFuture;

    use tokio::time::Instant;

    use super::support::poll::poll_once;
    use super::support::temp_dir::TempDir;
    use super::*;

    /// A pool of `size` connections to a fresh database with a `notes` table.
    async fn start_pool(size: usize) -> (DatabasePoolRef, TempDir, PathBuf) {
        let dir = TempDir::new("database-pool-test").expect("a temporary folder");
        let db = dir.join("test.db");
        let pool = DatabasePool::start(db.clone(), size).await.expect("the pool starts");
        let mut conn = pool.checkout().await.expect("a connection");
        conn.run(|conn| conn.execute_batch("CREATE TABLE notes (body TEXT NOT NULL)")).await.expect("table");
        (pool, dir, db)
    }

    fn status(size: usize, idle: usize, waiting: usize) -> PoolStatus {
        PoolStatus { size, idle, in_use: size - idle, waiting }
    }

    async fn count_notes(conn: &mut PooledConnection) -> i64 {
        conn.run(|conn| conn.query_row("SELECT count(*) FROM notes", [], |row| row.get(0)))
            .await
            .expect("count")
    }

    #[tokio::test]
    async fn connections_of_the_pool_share_one_database() {
        let (pool, _dir, _db) = start_pool(3).await;
        assert_eq!(pool.status().await, Ok(status(3, 3, 0)));
        let mut a = pool.checkout().await.expect("first");
        let mut b = pool.checkout().await.expect("second");
        let mut c = pool.checkout().await.expect("third");
        assert_eq!(pool.status().await, Ok(status(3, 0, 0)));
        a.run(|conn| conn.execute("INSERT INTO notes VALUES ('from a')", [])).await.expect("insert");
        assert_eq!(count_notes(&mut b).await, 1);
        assert_eq!(count_notes(&mut c).await, 1);
        drop((a, b, c));
        assert_eq!(pool.status().await, Ok(status(3, 3, 0)));
    }

    #[tokio::test]
    async fn callers_beyond_the_pool_size_wait_and_are_served_in_arrival_order() {
        let (pool, _dir, _db) = start_pool(1).await;
        let first = pool.checkout().await.expect("the only connection");
        let mut second = pool.checkout().into_future();
        let mut third = pool.checkout().into_future();
        let mut fourth = pool.checkout().into_future();
        for waiter in [&mut second, &mut third, &mut fourth] {
            assert!(poll_once(waiter).await.is_none(), "no connection free");
        }
        assert_eq!(pool.status().await, Ok(status(1, 0, 3)));

        drop(first);
        let second = second.await.expect("second in line is served first");
        assert!(poll_once(&mut third).await.is_none());
        assert!(poll_once(&mut fourth).await.is_none());
        assert_eq!(pool.status().await, Ok(status(1, 0, 2)));

        drop(second);
        let third = third.await.expect("third in line is served next");
        assert!(poll_once(&mut fourth).await.is_none());
        drop(third);
        let fourth = fourth.await.expect("then the fourth");
        drop(fourth);
        assert_eq!(pool.status().await, Ok(status(1, 1, 0)));
    }

    #[tokio::test(start_paused = true)]
    async fn caller_that_times_out_in_line_loses_no_connection() {
        let (pool, _dir, _db) = start_pool(1).await;
        let held = pool.checkout().await.expect("the only connection");
        let start = Instant::now();
        let timeout = Duration::from_millis(100);
        let gave_up = pool.checkout().timeout(timeout).await;
        assert!(matches!(gave_up, Err(CallError::Timeout(t)) if t == timeout));
        assert_eq!(start.elapsed(), timeout);
        // The caller that gave up is still in line: the connection comes to it first, its
        // reply fails, and the connection goes back to the pool.
        drop(held);
        assert_eq!(pool.status().await, Ok(status(1, 1, 0)));
        let again = pool.checkout().timeout(Duration::from_millis(1)).await;
        assert!(again.is_ok(), "the connection is free again");
    }

    #[tokio::test(start_paused = true)]
    async fn connection_skips_a_caller_that_gave_up_and_goes_to_the_next_in_line() {
        let (pool, _dir, _db) = start_pool(1).await;
        let held = pool.checkout().await.expect("the only connection");
        let mut gives_up = pool.checkout().into_future();
        let mut waits = pool.checkout().into_future();
        assert!(poll_once(&mut gives_up).await.is_none());
        assert!(poll_once(&mut waits).await.is_none());
        drop(gives_up);
        drop(held);
        let served = waits.await;
        assert!(served.is_ok(), "the caller still waiting gets the connection");
        assert_eq!(pool.status().await, Ok(status(1, 0, 0)));
        drop(served);
        assert_eq!(pool.status().await, Ok(status(1, 1, 0)));
    }

    #[tokio::test]
    async fn connection_of_a_task_that_panics_goes_back_to_the_pool() {
        let (pool, _dir, _db) = start_pool(1).await;
        let task = {
            let pool = pool.clone();
            tokio::spawn(async move {
                let _conn = pool.checkout().await.expect("a connection");
                panic!("the task fails while holding its connection");
            })
        };
        assert!(task.await.expect_err("the task panicked").is_panic());
        assert_eq!(pool.status().await, Ok(status(1, 1, 0)));
    }

    #[tokio::test]
    async fn work_that_panics_returns_the_connection_and_rolls_back_its_transaction() {
        let (pool, _dir, _db) = start_pool(1).await;
        let task = {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut conn = pool.checkout().await.expect("a connection");
                conn.run(|conn| {
                    conn.execute_batch("BEGIN; INSERT INTO notes VALUES ('half done');").expect("insert");
                    panic!("the query code has a bug");
                })
                .await
            })
        };
        let panic = task.await.expect_err("the panic reaches the caller's task").into_panic();
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"the query code has a bug"));
        assert_eq!(pool.status().await, Ok(status(1, 1, 0)));
        let mut conn = pool.checkout().await.expect("the connection is back");
        assert_eq!(count_notes(&mut conn).await, 0, "the half-done insert was rolled back");
        assert!(conn.run(|conn| conn.is_autocommit()).await, "no transaction left open");
    }

    #[tokio::test]
    async fn transaction_left_open_is_rolled_back_on_checkin() {
        let (pool, _dir, _db) = start_pool(1).await;
        let mut conn = pool.checkout().await.expect("a connection");
        conn.run(|conn| conn.execute_batch("BEGIN; INSERT INTO notes VALUES ('forgotten');"))
            .await
            .expect("insert");
        drop(conn);
        let mut conn = pool.checkout().await.expect("the same connection");
        assert_eq!(count_notes(&mut conn).await, 0);
    }

    #[tokio::test]
    async fn many_tasks_share_a_small_pool_and_every_row_is_written() {
        let (pool, _dir, _db) = start_pool(3).await;
        let tasks: Vec<_> = (0..24)
            .map(|n| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    let mut conn = pool.checkout().await.expect("a connection");
                    conn.run(move |conn| conn.execute("INSERT INTO notes VALUES (?1)", [format!("note {n}")]))
                        .await
                        .expect("insert")
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.expect("the task finishes"), 1);
        }
        let mut conn = pool.checkout().await.expect("a connection");
        assert_eq!(count_notes(&mut conn).await, 24);
        drop(conn);
        assert_eq!(pool.status().await, Ok(status(3, 3, 0)));
    }

    #[tokio::test]
    async fn terminate_closes_every_connection_and_sqlite_removes_its_log() {
        let (pool, _dir, db) = start_pool(4).await;
        let mut conn = pool.checkout().await.expect("a connection");
        conn.run(|conn| conn.execute("INSERT INTO notes VALUES ('kept')", [])).await.expect("insert");
        drop(conn);
        assert!(wal_file(&db).exists(), "SQLite keeps a log while connections are open");
        pool.stop(ExitReason::Normal, Duration::from_secs(5)).await.expect("the pool stops");
        // SQLite folds the log into the database and deletes it when its last connection
        // closes: proof that none is left open.
        assert!(!wal_file(&db).exists());
        let reopened = Connection::open(&db).expect("the database opens");
        let notes: i64 =
            reopened.query_row("SELECT count(*) FROM notes", [], |row| row.get(0)).expect("count");
        assert_eq!(notes, 1);
    }

    #[tokio::test]
    async fn connection_checked_out_when_the_pool_stops_closes_as_its_guard_drops() {
        let (pool, _dir, db) = start_pool(2).await;
        let conn = pool.checkout().await.expect("a connection");
        pool.stop(ExitReason::Normal, Duration::from_secs(5)).await.expect("the pool stops");
        assert!(wal_file(&db).exists(), "one connection is still open");
        assert!(matches!(pool.checkout().await, Err(CallError::NoServer)));
        drop(conn);
        assert!(!wal_file(&db).exists(), "the last connection closed");
    }

    #[tokio::test(start_paused = true)]
    async fn callers_waiting_when_the_pool_stops_get_exited() {
        let (pool, _dir, _db) = start_pool(1).await;
        let _held = pool.checkout().await.expect("the only connection");
        let mut waiting = pool.checkout().into_future();
        assert!(poll_once(&mut waiting).await.is_none());
        pool.stop(ExitReason::Shutdown, Duration::from_secs(5)).await.expect("the pool stops");
        assert!(matches!(waiting.await, Err(CallError::Exited(ExitReason::Shutdown))));
    }

    #[tokio::test]
    async fn pool_of_zero_connections_refuses_to_start() {
        let dir = TempDir::new("database-pool-test").expect("a temporary folder");
        let started = DatabasePool::start(dir.join("test.db"), 0).await;
        let Err(StartError::Stopped(reason)) = started else { panic!("the start must fail") };
        assert_eq!(reason.to_string(), "error: a pool needs at least one connection");
    }

    #[tokio::test]
    async fn database_that_cannot_be_opened_fails_the_start() {
        let dir = TempDir::new("database-pool-test").expect("a temporary folder");
        let started = DatabasePool::start(dir.join("missing-folder").join("test.db"), 2).await;
        let Err(StartError::Stopped(reason)) = started else { panic!("the start must fail") };
        assert!(reason.to_string().starts_with("error: cannot open a connection"), "{reason}");
    }
}
