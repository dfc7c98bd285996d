//! A server's life: start (init and its failures), stop, kill, terminate, and the exit
//! reasons each way out leaves behind.
//!
//! The server under test writes what happens to it in a shared [`Log`], so a test can
//! see whether `init` and `terminate` ran, and in which order with the replies.

mod common;
use common::poll::poll_once;
use common::{Log, hold_in_handler};

use std::future::IntoFuture;

use genserver_runtime::prelude::*;
use genserver_runtime::{StopError, whereis_id};
use tokio::sync::oneshot;
use tokio::time::Instant;

/// Writes `entry` to the log when dropped.
struct OnDrop(Log, &'static str);

impl Drop for OnDrop {
    fn drop(&mut self) {
        self.0.push(self.1);
    }
}

/// What `Probe::init` does.
pub enum InitPlan {
    Ok,
    /// Waits this long (on the clock), then starts.
    Slow(Duration),
    /// Never finishes.
    Hang,
    /// Says it has started, then never finishes.
    SignalThenHang(oneshot::Sender<()>),
    Stop(ExitReason),
    Panic(&'static str),
    Ignore,
}

/// A server that logs its init and terminate, and can be told to stop in every way.
pub struct Probe {
    log: Log,
    notes: Vec<u32>,
    /// Set by `hold_terminate`: terminate says it started, then waits for the gate.
    terminate_hold: Option<(oneshot::Sender<()>, oneshot::Receiver<()>)>,
    panic_in_terminate: bool,
}

#[genserver]
impl Probe {
    #[init]
    async fn init(log: Log, plan: InitPlan) -> Init<Self> {
        log.push("init");
        let _dropped = OnDrop(log.clone(), "init future dropped");
        match plan {
            InitPlan::Ok => {}
            InitPlan::Slow(delay) => tokio::time::sleep(delay).await,
            InitPlan::Hang => std::future::pending().await,
            InitPlan::SignalThenHang(entered) => {
                let _ = entered.send(());
                std::future::pending().await
            }
            InitPlan::Stop(reason) => return Init::stop(reason),
            InitPlan::Panic(message) => panic!("{message}"),
            InitPlan::Ignore => return Init::ignore(),
        }
        log.push("init done");
        Init::ok(Probe {
            log: log.clone(),
            notes: Vec::new(),
            terminate_hold: None,
            panic_in_terminate: false,
        })
    }

    #[call]
    fn echo(&self, n: u32) -> u32 {
        n
    }

    #[cast]
    fn note(&mut self, n: u32) {
        self.notes.push(n);
    }

    /// Makes the next terminate say it started and wait for `gate`.
    #[call]
    fn hold_terminate(&mut self, entered: oneshot::Sender<()>, gate: oneshot::Receiver<()>) {
        self.terminate_hold = Some((entered, gate));
    }

    #[call]
    fn panic_in_terminate(&mut self) {
        self.panic_in_terminate = true;
    }

    /// Replies `value`, then stops with `reason` (`{:stop, reason, value, state}`).
    #[call]
    fn finish(&mut self, reason: ExitReason, value: u32) -> Reply<u32> {
        self.log.push("finish");
        Reply::stop(reason, value)
    }

    /// Stops with `reason` without replying (`{:stop, reason, state}` from a call).
    #[call]
    fn quit_without_reply(&mut self, reason: ExitReason, from: ReplyTo<u32>) -> NoReply {
        drop(from);
        NoReply::stop(reason)
    }

    /// Stops with `reason` (`{:stop, reason, state}` from a cast).
    #[cast]
    fn quit(&mut self, reason: ExitReason) -> NoReply {
        NoReply::stop(reason)
    }

    /// Tries to stop itself through its own handle.
    #[call]
    async fn stop_self(&self, cx: &mut Context<Self>) -> Result<(), StopError> {
        cx.me().stop(ExitReason::Normal, Duration::from_secs(1)).await
    }

    /// Says it has started, then stays in the handler until `gate` opens.
    #[cast]
    async fn block(&mut self, entered: oneshot::Sender<()>, gate: oneshot::Receiver<()>) {
        let _ = entered.send(());
        let _ = gate.await;
    }

    #[terminate]
    async fn terminate(&mut self, reason: &ExitReason) {
        self.log.push(format!("terminate: {reason} after notes {:?}", self.notes));
        if let Some((entered, gate)) = self.terminate_hold.take() {
            let _ = entered.send(());
            let _ = gate.await;
        }
        if self.panic_in_terminate {
            panic!("terminate failed");
        }
    }
}

async fn start_probe() -> (ProbeRef, Log) {
    let log = Log::default();
    let probe = Probe::start(log.clone(), InitPlan::Ok).await.expect("Probe starts");
    (probe, log)
}

/// Makes the next terminate wait: returns the signal that it started and its gate.
async fn hold_terminate(probe: &ProbeRef) -> (oneshot::Receiver<()>, oneshot::Sender<()>) {
    let (entered_tx, entered) = oneshot::channel();
    let (open, gate) = oneshot::channel();
    probe.hold_terminate(entered_tx, gate).await.expect("answers");
    (entered, open)
}

/// Keeps the server inside a handler until the returned sender is used or dropped.
async fn block(probe: &ProbeRef) -> oneshot::Sender<()> {
    hold_in_handler(|entered, gate| probe.block(entered, gate)).await
}

// ---- start ----

#[tokio::test(start_paused = true)]
async fn start_returns_only_after_init_has_finished() {
    let log = Log::default();
    let start = Instant::now();
    let probe = Probe::start(log.clone(), InitPlan::Slow(Duration::from_secs(3))).await.expect("starts");
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    assert_eq!(log.entries(), ["init", "init done", "init future dropped"]);
    assert!(probe.is_alive());
}

#[tokio::test(start_paused = true)]
async fn start_link_returns_only_after_init_has_finished() {
    let log = Log::default();
    let start = Instant::now();
    let probe = Probe::start_link(log.clone(), InitPlan::Slow(Duration::from_secs(1))).await.expect("starts");
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(log.entries(), ["init", "init done", "init future dropped"]);
    assert_eq!(probe.echo(1).await, Ok(1));
}

#[tokio::test(start_paused = true)]
async fn init_stop_fails_the_start_with_stopped_and_skips_terminate() {
    let log = Log::default();
    let reason = ExitReason::error("bad config");
    let started = Probe::builder()
        .name("lifecycle-init-stop")
        .start((log.clone(), InitPlan::Stop(reason.clone())))
        .await;
    assert!(matches!(started, Err(StartError::Stopped(ref why)) if *why == reason), "{started:?}");
    assert_eq!(log.entries(), ["init", "init future dropped"], "terminate did not run");
    assert_eq!(whereis_id("lifecycle-init-stop"), None, "the name is free");
}

#[tokio::test(start_paused = true)]
async fn init_panic_fails_the_start_with_panicked_and_its_message() {
    let log = Log::default();
    let started =
        Probe::builder().name("lifecycle-init-panic").start((log.clone(), InitPlan::Panic("no disk"))).await;
    assert!(
        matches!(started, Err(StartError::Panicked(ref message)) if &**message == "no disk"),
        "{started:?}"
    );
    assert_eq!(log.entries(), ["init", "init future dropped"], "terminate did not run");
    assert_eq!(whereis_id("lifecycle-init-panic"), None, "the name is free");
}

#[tokio::test(start_paused = true)]
async fn init_ignore_fails_the_start_with_ignored() {
    let log = Log::default();
    let started = Probe::builder().name("lifecycle-init-ignore").start((log.clone(), InitPlan::Ignore)).await;
    assert!(matches!(started, Err(StartError::Ignored)), "{started:?}");
    assert_eq!(log.entries(), ["init", "init future dropped"], "terminate did not run");
    assert_eq!(whereis_id("lifecycle-init-ignore"), None, "the name is free");
}

#[tokio::test(start_paused = true)]
async fn init_past_its_init_timeout_is_killed_and_leaves_nothing_behind() {
    let log = Log::default();
    let name = "lifecycle-init-timeout";
    let timeout = Duration::from_millis(500);
    let start = Instant::now();
    let started =
        Probe::builder().name(name).init_timeout(timeout).start((log.clone(), InitPlan::Hang)).await;
    assert!(matches!(started, Err(StartError::InitTimeout(after)) if after == timeout), "{started:?}");
    assert_eq!(start.elapsed(), timeout);
    // init was cancelled before the start returned, and terminate never ran.
    assert_eq!(log.entries(), ["init", "init future dropped"]);
    assert_eq!(whereis_id(name), None, "the name is free");
    let again = Probe::builder()
        .name(name)
        .start((Log::default(), InitPlan::Ok))
        .await
        .expect("the name is reusable");
    assert_eq!(again.echo(1).await, Ok(1));
}

#[tokio::test(start_paused = true)]
async fn init_within_its_init_timeout_starts() {
    let log = Log::default();
    let probe = Probe::builder()
        .init_timeout(Duration::from_secs(2))
        .start((log.clone(), InitPlan::Slow(Duration::from_secs(1))))
        .await
        .expect("starts in time");
    assert_eq!(probe.echo(3).await, Ok(3));
}

/// A server whose init returns `Result<Self, E>`.
pub struct Fallible;

#[genserver]
impl Fallible {
    #[init]
    fn init(fail_with: Option<String>) -> Result<Self, String> {
        match fail_with {
            Some(error) => Err(error),
            None => Ok(Fallible),
        }
    }

    #[call]
    fn ping(&self) -> &'static str {
        "pong"
    }
}

#[tokio::test(start_paused = true)]
async fn init_returning_err_fails_the_start_with_stopped_error() {
    let started = Fallible::start(Some("no such file".into())).await;
    assert!(
        matches!(started, Err(StartError::Stopped(ref why)) if *why == ExitReason::error("no such file")),
        "{started:?}"
    );
    let fine = Fallible::start(None).await.expect("Ok starts");
    assert_eq!(fine.ping().await, Ok("pong"));
}

// ---- stop ----

#[tokio::test(start_paused = true)]
async fn stop_runs_terminate_with_the_reason_and_returns_ok() {
    let reasons = [
        ExitReason::Normal,
        ExitReason::Shutdown,
        ExitReason::shutdown_with("maintenance"),
        ExitReason::error("lost the database"),
    ];
    for reason in reasons {
        let (probe, log) = start_probe().await;
        assert_eq!(probe.stop(reason.clone(), Duration::from_secs(1)).await, Ok(()));
        assert_eq!(
            log.entries().last().map(String::as_str),
            Some(&*format!("terminate: {reason} after notes []"))
        );
        assert_eq!(probe.exit_reason(), Some(reason.clone()));
        assert_eq!(probe.exited().await, reason);
        assert!(!probe.is_alive());
    }
}

#[tokio::test(start_paused = true)]
async fn stop_waits_behind_messages_queued_before_it() {
    let (probe, log) = start_probe().await;
    for n in 1..=3 {
        probe.note(n);
    }
    assert_eq!(probe.stop(ExitReason::Shutdown, Duration::from_secs(1)).await, Ok(()));
    assert_eq!(log.entries().last().map(String::as_str), Some("terminate: shutdown after notes [1, 2, 3]"));
}

#[tokio::test(start_paused = true)]
async fn stop_whose_terminate_panics_returns_exited_with_the_panic() {
    let (probe, _log) = start_probe().await;
    probe.panic_in_terminate().await.expect("answers");
    let panic = ExitReason::Panic("terminate failed".into());
    assert_eq!(
        probe.stop(ExitReason::Normal, Duration::from_secs(1)).await,
        Err(StopError::ExitedWith(panic.clone()))
    );
    assert_eq!(probe.exit_reason(), Some(panic));
}

#[tokio::test(start_paused = true)]
async fn stop_on_a_dead_server_returns_no_server_at_once() {
    let (probe, _log) = start_probe().await;
    probe.stop(ExitReason::Normal, Duration::from_secs(1)).await.expect("stops");
    let start = Instant::now();
    assert_eq!(probe.stop(ExitReason::Normal, Duration::from_secs(1)).await, Err(StopError::NoServer));
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn stop_that_times_out_in_terminate_returns_timeout_and_does_not_kill() {
    let (probe, log) = start_probe().await;
    let (entered, open) = hold_terminate(&probe).await;
    let start = Instant::now();
    let timeout = Duration::from_secs(1);
    assert_eq!(probe.stop(ExitReason::Shutdown, timeout).await, Err(StopError::Timeout(timeout)));
    assert_eq!(start.elapsed(), timeout);
    entered.await.expect("terminate started");
    assert!(probe.is_alive(), "the server was not killed: terminate is still running");
    open.send(()).expect("terminate waits for its gate");
    assert_eq!(probe.exited().await, ExitReason::Shutdown, "terminate finished; the reason is the stop's");
    assert_eq!(log.entries().last().map(String::as_str), Some("terminate: shutdown after notes []"));
}

#[tokio::test(start_paused = true)]
async fn stop_that_times_out_in_the_queue_leaves_the_server_running() {
    let (probe, log) = start_probe().await;
    let open = block(&probe).await;
    let timeout = Duration::from_secs(1);
    assert_eq!(probe.stop(ExitReason::Shutdown, timeout).await, Err(StopError::Timeout(timeout)));
    assert!(probe.is_alive());
    // The request stays queued, as OTP's system message does: the server stops once free.
    open.send(()).expect("the handler waits for its gate");
    assert_eq!(probe.exited().await, ExitReason::Shutdown);
    assert_eq!(log.entries().last().map(String::as_str), Some("terminate: shutdown after notes []"));
}

#[tokio::test(start_paused = true)]
async fn stop_with_a_timeout_too_large_for_the_clock_waits_for_the_exit() {
    let (probe, log) = start_probe().await;
    assert_eq!(probe.stop(ExitReason::Shutdown, Duration::MAX).await, Ok(()));
    assert_eq!(log.entries().last().map(String::as_str), Some("terminate: shutdown after notes []"));
}

#[tokio::test(start_paused = true)]
async fn init_timeout_too_large_for_the_clock_lets_init_finish() {
    let log = Log::default();
    let probe = Probe::builder()
        .init_timeout(Duration::MAX)
        .start((log.clone(), InitPlan::Slow(Duration::from_secs(1))))
        .await
        .expect("starts");
    assert_eq!(probe.echo(2).await, Ok(2));
}

#[tokio::test(start_paused = true)]
async fn stop_from_inside_the_server_returns_calling_self() {
    let (probe, _log) = start_probe().await;
    assert_eq!(probe.stop_self().await, Ok(Err(StopError::CallingSelf)));
    assert_eq!(probe.echo(1).await, Ok(1));
}

// ---- kill ----

#[tokio::test(start_paused = true)]
async fn kill_exits_with_killed_without_running_terminate() {
    let (probe, log) = start_probe().await;
    probe.kill();
    assert_eq!(probe.exited().await, ExitReason::Killed);
    assert_eq!(log.entries(), ["init", "init done", "init future dropped"]);
}

#[tokio::test(start_paused = true)]
async fn kill_interrupts_a_handler_at_its_await_and_fails_queued_calls() {
    let (probe, log) = start_probe().await;
    let _open = block(&probe).await;
    let mut queued = probe.echo(5).into_future();
    assert!(poll_once(&mut queued).await.is_none());
    probe.kill();
    assert_eq!(queued.await, Err(CallError::Exited(ExitReason::Killed)));
    assert_eq!(probe.exit_reason(), Some(ExitReason::Killed));
    assert!(!log.entries().iter().any(|entry| entry.starts_with("terminate")));
}

#[tokio::test(start_paused = true)]
async fn kill_during_a_slow_terminate_exits_with_killed() {
    let (probe, _log) = start_probe().await;
    let (entered, _open) = hold_terminate(&probe).await;
    let mut stop = std::pin::pin!(probe.stop(ExitReason::Normal, Duration::from_secs(10)));
    tokio::select! {
        biased;
        _ = &mut stop => panic!("terminate is held"),
        started = entered => started.expect("terminate started"),
    }
    probe.kill();
    assert_eq!(stop.await, Err(StopError::ExitedWith(ExitReason::Killed)));
}

#[tokio::test(start_paused = true)]
async fn kill_after_the_exit_keeps_the_first_reason() {
    let (probe, _log) = start_probe().await;
    probe.stop(ExitReason::Shutdown, Duration::from_secs(1)).await.expect("stops");
    probe.kill();
    assert_eq!(probe.exited().await, ExitReason::Shutdown);
}

// ---- stopping from a handler ----

#[tokio::test(start_paused = true)]
async fn reply_stop_runs_terminate_before_the_reply_is_sent() {
    let (probe, log) = start_probe().await;
    let (entered, open) = hold_terminate(&probe).await;
    let reason = ExitReason::shutdown_with("done");
    let mut finish = probe.finish(reason.clone(), 11).into_future();
    tokio::select! {
        biased;
        replied = &mut finish => panic!("replied before terminate ran: {replied:?}"),
        started = entered => started.expect("terminate started"),
    }
    // terminate is running and has not returned: no reply yet.
    assert!(poll_once(&mut finish).await.is_none(), "no reply while terminate runs");
    open.send(()).expect("terminate waits for its gate");
    assert_eq!(finish.await, Ok(11));
    assert_eq!(probe.exited().await, reason);
    let entries = log.entries();
    assert_eq!(&entries[entries.len() - 2..], ["finish", "terminate: shutdown: done after notes []"]);
}

/// The reply goes out just before the exit is published; a caller on another thread must
/// still see the reply, never the exit (OTP: the reply comes before the `'DOWN'`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_stop_reply_is_never_lost_to_the_exit_on_a_multi_threaded_runtime() {
    for n in 0..300 {
        let (probe, _log) = start_probe().await;
        assert_eq!(probe.finish(ExitReason::Normal, n).await, Ok(n));
        assert_eq!(probe.exited().await, ExitReason::Normal);
    }
}

#[tokio::test(start_paused = true)]
async fn reply_stop_with_an_abnormal_reason_still_replies() {
    let (probe, _log) = start_probe().await;
    let reason = ExitReason::error("fatal");
    assert_eq!(probe.finish(reason.clone(), 1).await, Ok(1));
    assert_eq!(probe.exited().await, reason);
}

#[tokio::test(start_paused = true)]
async fn noreply_stop_from_a_cast_runs_terminate_and_fails_later_calls() {
    let (probe, log) = start_probe().await;
    probe.note(4);
    probe.quit(ExitReason::shutdown_with("asked"));
    let mut queued = probe.echo(1).into_future();
    assert!(poll_once(&mut queued).await.is_none());
    assert_eq!(queued.await, Err(CallError::Exited(ExitReason::shutdown_with("asked"))));
    assert_eq!(log.entries().last().map(String::as_str), Some("terminate: shutdown: asked after notes [4]"));
    assert_eq!(probe.echo(1).await, Err(CallError::NoServer));
}

#[tokio::test(start_paused = true)]
async fn noreply_stop_from_a_call_fails_that_call_with_the_reason() {
    let (probe, _log) = start_probe().await;
    let reason = ExitReason::error("gave up");
    assert_eq!(probe.quit_without_reply(reason.clone()).await, Err(CallError::Exited(reason.clone())));
    assert_eq!(probe.exit_reason(), Some(reason));
}

// ---- exit reasons ----

#[tokio::test(start_paused = true)]
async fn every_way_out_leaves_its_exit_reason() {
    let (stopped, _) = start_probe().await;
    stopped.quit(ExitReason::Normal);
    assert_eq!(stopped.exited().await, ExitReason::Normal);

    let (shut_down, _) = start_probe().await;
    shut_down.quit(ExitReason::Shutdown);
    assert_eq!(shut_down.exited().await, ExitReason::Shutdown);

    let (detailed, _) = start_probe().await;
    detailed.quit(ExitReason::shutdown_with("rolling restart"));
    assert_eq!(detailed.exited().await, ExitReason::ShutdownWith("rolling restart".into()));

    let (killed, _) = start_probe().await;
    killed.kill();
    assert_eq!(killed.exited().await, ExitReason::Killed);

    let (errored, _) = start_probe().await;
    errored.quit(ExitReason::error("disk full"));
    let reason = errored.exited().await;
    assert_eq!(reason, ExitReason::error("disk full"));
    assert_eq!(reason.to_string(), "error: disk full");

    let (panicked, _) = start_probe().await;
    panicked.panic_in_terminate().await.expect("answers");
    panicked.quit(ExitReason::Normal);
    assert_eq!(panicked.exited().await, ExitReason::Panic("terminate failed".into()));
}

/// A server whose state holds a resource that logs when it is released.
pub struct Holder {
    _resource: OnDrop,
}

#[genserver]
impl Holder {
    #[cast]
    fn crash(&mut self) {
        panic!("holder crashed")
    }
}

/// Each way out releases the state's resources before the exit can be observed. Runs on
/// a multi-threaded runtime, where the server exits on another thread than the observer's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_is_dropped_before_the_exit_can_be_observed() {
    for round in 0..100 {
        let log = Log::default();
        let stopped =
            Holder::start(Holder { _resource: OnDrop(log.clone(), "stopped") }).await.expect("starts");
        stopped.stop(ExitReason::Normal, Duration::from_secs(5)).await.expect("stops");
        assert_eq!(log.entries(), ["stopped"], "round {round}");

        let killed =
            Holder::start(Holder { _resource: OnDrop(log.clone(), "killed") }).await.expect("starts");
        killed.kill();
        assert_eq!(killed.exited().await, ExitReason::Killed);
        assert_eq!(log.entries(), ["stopped", "killed"], "round {round}");

        let crashed =
            Holder::start(Holder { _resource: OnDrop(log.clone(), "crashed") }).await.expect("starts");
        crashed.crash();
        assert_eq!(crashed.exited().await, ExitReason::Panic("holder crashed".into()));
        assert_eq!(log.entries(), ["stopped", "killed", "crashed"], "round {round}");
    }
}

#[tokio::test(start_paused = true)]
async fn kill_during_init_fails_the_start_with_stopped_killed_and_frees_the_name() {
    let name = "lifecycle-kill-in-init";
    let log = Log::default();
    let (entered_tx, entered) = oneshot::channel();
    let starting = tokio::spawn({
        let log = log.clone();
        async move { Probe::builder().name(name).start((log, InitPlan::SignalThenHang(entered_tx))).await }
    });
    entered.await.expect("init started");
    // The name is registered before init runs, so the half-started server can be found.
    Probe::whereis(name).expect("registered during init").kill();
    let started = starting.await.expect("start task");
    assert!(matches!(started, Err(StartError::Stopped(ExitReason::Killed))), "{started:?}");
    assert_eq!(whereis_id(name), None);
    assert_eq!(log.entries(), ["init", "init future dropped"], "terminate did not run");
}

/// A server whose synchronous `init` kills it, and says whether it was current in init.
pub struct KilledInInit {
    log: Log,
}

#[genserver]
impl KilledInInit {
    #[init]
    fn init(log: Log, cx: &mut Context<Self>) -> Self {
        // Casting to itself works during init; the cast is never handled.
        cx.me().ping();
        cx.me().kill();
        KilledInInit { log }
    }

    #[cast]
    fn ping(&mut self) {
        self.log.push("ping handled");
    }
}

#[tokio::test(start_paused = true)]
async fn a_kill_from_a_synchronous_init_stops_the_server_before_its_first_message() {
    let log = Log::default();
    let server = KilledInInit::start(log.clone()).await.expect("init itself succeeded");
    let exited = tokio::time::timeout(Duration::from_secs(5), server.exited()).await;
    assert_eq!(exited, Ok(ExitReason::Killed));
    assert_eq!(log.entries(), Vec::<String>::new(), "the cast queued in init was not handled");
}

#[tokio::test(start_paused = true)]
async fn every_task_waiting_for_the_exit_gets_the_reason_even_after_others_gave_up() {
    let probe = Probe::start(Log::default(), InitPlan::Ok).await.expect("starts");
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let probe = probe.clone();
            tokio::spawn(async move { probe.exited().await })
        })
        .collect();
    // Waiters that give up before the exit, polled once or many times.
    for _ in 0..100 {
        let gave_up = tokio::time::timeout(Duration::from_millis(1), probe.exited()).await;
        assert!(gave_up.is_err(), "the server is still running");
    }
    let mut dropped_after_one_poll = Box::pin(probe.exited());
    assert!(poll_once(&mut dropped_after_one_poll).await.is_none());
    drop(dropped_after_one_poll);
    probe.stop(ExitReason::Shutdown, Duration::from_secs(1)).await.expect("stops");
    for waiter in waiters {
        assert_eq!(waiter.await.expect("waiter task"), ExitReason::Shutdown);
    }
    assert_eq!(probe.exited().await, ExitReason::Shutdown, "at once after the exit");
}

#[tokio::test(start_paused = true)]
async fn dropping_every_handle_does_not_stop_the_server() {
    let log = Log::default();
    let name = "lifecycle-no-handles";
    let probe = Probe::builder().name(name).start((log.clone(), InitPlan::Ok)).await.expect("starts");
    let id = probe.id();
    drop(probe);
    let found = Probe::whereis(name).expect("still registered");
    assert_eq!(found.id(), id);
    assert_eq!(found.echo(8).await, Ok(8));
}
