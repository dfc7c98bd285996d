//! `sys`: reading and replacing a server's state, suspending and resuming it, statistics,
//! status and trace, through typed and untyped handles, and where system requests fall
//! in the mailbox's order.
//!
//! Time is tokio's paused clock: a call that times out, an idle timeout and handler time
//! move only when the test lets them.

mod common;
use common::capture::{Capture, keep_callsites_enabled};

use genserver_runtime::prelude::*;
use genserver_runtime::sys::{self, RunState, SysError};
use genserver_runtime::{Builder, Supervisor};
use tokio::sync::mpsc;

/// A counter whose state is `Clone` and `Debug`.
#[derive(Clone, Debug)]
pub struct Counter {
    count: u64,
    timeouts: u32,
    terminated: Option<mpsc::UnboundedSender<ExitReason>>,
}

impl Counter {
    fn new() -> Self {
        Counter { count: 0, timeouts: 0, terminated: None }
    }
}

#[genserver(debug_state)]
impl Counter {
    #[cast]
    fn add(&mut self, by: u64) {
        self.count += by;
    }

    #[call]
    fn get(&self) -> u64 {
        self.count
    }

    /// Works for `millis` of (virtual) time before it answers.
    #[call]
    async fn work(&mut self, millis: u64) -> u64 {
        tokio::time::sleep(Duration::from_millis(millis)).await;
        self.count
    }

    /// Asks for an idle timeout of `millis`.
    #[call]
    fn idle_after(&mut self, millis: u64) -> Reply<()> {
        Reply::new(()).timeout(Duration::from_millis(millis))
    }

    #[timeout]
    fn on_timeout(&mut self) {
        self.timeouts += 1;
    }

    #[call]
    fn timeouts(&self) -> u32 {
        self.timeouts
    }

    /// A sys request to itself, which could never be answered.
    #[call]
    async fn ask_myself(&self, cx: &mut Context<Self>) -> Result<u64, SysError> {
        sys::get_state(cx.server_ref()).await.map(|state| state.count)
    }

    #[terminate]
    fn terminate(&mut self, reason: &ExitReason) {
        if let Some(terminated) = &self.terminated {
            let _ = terminated.send(reason.clone());
        }
    }
}

/// The scenario of OTP's `sys` suite: get_state, replace_state with a fun that fails,
/// suspend making calls time out while casts queue, resume, statistics.
#[tokio::test(start_paused = true)]
async fn otp_sys_scenario_state_suspend_resume_statistics() {
    let counter = Counter::start(Counter::new()).await.unwrap();
    let fresh = sys::enable_statistics(&counter).await.unwrap().expect("statistics are on");
    assert_eq!((fresh.messages_in, fresh.handler_time, fresh.mailbox_len), (0, Duration::ZERO, 0));

    counter.add(1);
    assert_eq!(sys::get_state(&counter).await.unwrap().count, 1);

    // A replace_state whose function panics keeps the state, and the server runs on.
    let failed = sys::replace_state(&counter, |_: &Counter| -> Counter { panic!("no new state") }).await;
    assert_eq!(failed, Err(SysError::CallbackPanicked("no new state".into())));
    assert_eq!(sys::get_state(&counter).await.unwrap().count, 1);
    assert!(counter.is_alive());
    sys::replace_state(&counter, |old: &Counter| Counter { count: old.count + 10, ..old.clone() })
        .await
        .unwrap();
    assert_eq!(counter.get().await, Ok(11));

    // Suspended: calls time out, casts queue, system requests are answered.
    sys::suspend(&counter).await.unwrap();
    let timed_out = counter.get().timeout(Duration::from_millis(50)).await;
    assert_eq!(timed_out, Err(CallError::Timeout(Duration::from_millis(50))));
    counter.add(5);
    assert_eq!(sys::get_state(&counter).await.unwrap().count, 11);
    let status = sys::get_status(&counter).await.unwrap();
    assert_eq!(status.run_state, RunState::Suspended);
    // The call that timed out and the cast wait in the mailbox.
    assert_eq!(status.mailbox_len, 2);

    // Resumed: the queued messages are handled in their order.
    sys::resume(&counter).await.unwrap();
    assert_eq!(counter.work(30).await, Ok(16));
    let statistics = sys::statistics(&counter).await.unwrap().expect("statistics are on");
    // add(1), get, the get that timed out, add(5), work(30).
    assert_eq!(statistics.messages_in, 5);
    assert_eq!(statistics.handler_time, Duration::from_millis(30));
    assert_eq!(statistics.mailbox_len, 0);
    // Seen at once while suspended: the timed-out get, the add, then a system request.
    assert_eq!(statistics.peak_mailbox_len, 3);
    assert!(statistics.since <= std::time::SystemTime::now());

    assert_eq!(sys::disable_statistics(&counter).await, Ok(None));
    assert_eq!(sys::statistics(&counter).await, Ok(None));
}

#[tokio::test(start_paused = true)]
async fn suspend_and_resume_are_idempotent() {
    let counter = Counter::start(Counter::new()).await.unwrap();
    sys::suspend(&counter).await.unwrap();
    sys::suspend(&counter).await.unwrap();
    counter.add(2);
    sys::resume(&counter).await.unwrap();
    sys::resume(&counter).await.unwrap();
    assert_eq!(counter.get().await, Ok(2));
    assert_eq!(sys::get_status(&counter).await.unwrap().run_state, RunState::Running);
}

#[tokio::test(start_paused = true)]
async fn a_system_request_is_handled_after_the_messages_queued_before_it() {
    let counter = Counter::start(Counter::new()).await.unwrap();
    counter.add(1);
    counter.add(2);
    let state = sys::get_state(&counter);
    counter.add(4); // sent after the request is made, but before it is awaited (sent)
    assert_eq!(state.await.unwrap().count, 7);
    counter.add(8);
    assert_eq!(sys::get_state(&counter).await.unwrap().count, 15);
}

#[tokio::test(start_paused = true)]
async fn a_system_request_waits_for_the_running_handler() {
    let counter = Counter::start(Counter::new()).await.unwrap();
    let work = tokio::spawn({
        let counter = counter.clone();
        async move { counter.work(100).await }
    });
    tokio::task::yield_now().await; // the server is now inside `work`
    let started = tokio::time::Instant::now();
    sys::get_state(&counter).await.unwrap();
    assert_eq!(started.elapsed(), Duration::from_millis(100));
    assert_eq!(work.await.unwrap(), Ok(0));
}

#[tokio::test(start_paused = true)]
async fn a_sys_request_times_out_behind_a_long_handler_and_is_answered_later() {
    let counter = Counter::start(Counter::new()).await.unwrap();
    let work = tokio::spawn({
        let counter = counter.clone();
        async move { counter.work(1_000).await }
    });
    tokio::task::yield_now().await;
    let late = sys::get_state(&counter).timeout(Duration::from_millis(10)).await;
    assert_eq!(late.map(|state| state.count), Err(SysError::Timeout(Duration::from_millis(10))));
    assert_eq!(work.await.unwrap(), Ok(0));
    // The timed-out request was handled and its answer dropped; the server is fine.
    assert_eq!(sys::get_state(&counter).await.unwrap().count, 0);
}

#[tokio::test(start_paused = true)]
async fn get_state_with_a_panicking_function_leaves_the_server_running() {
    let counter = Counter::start(Counter::new()).await.unwrap();
    counter.add(3);
    let failed = sys::get_state_with(&counter, |_: &Counter| -> u64 { panic!("cannot look") }).await;
    assert_eq!(failed, Err(SysError::CallbackPanicked("cannot look".into())));
    assert_eq!(sys::get_state_with(&counter, |state: &Counter| state.count * 2).await, Ok(6));
    assert_eq!(counter.get().await, Ok(3));
}

#[tokio::test(start_paused = true)]
async fn get_state_debug_renders_the_state() {
    let counter = Counter::start(Counter::new()).await.unwrap();
    counter.add(9);
    let rendered = sys::get_state_debug(&counter).await.unwrap();
    assert_eq!(rendered, format!("{:#?}", Counter { count: 9, ..Counter::new() }));
}

#[tokio::test(start_paused = true)]
async fn an_untyped_handle_suspends_resumes_and_reads_the_status() {
    let counter = Counter::builder().name("sys-untyped").start(Counter::new()).await.unwrap();
    let untyped: ProcessRef = counter.to_ref();
    sys::suspend(&untyped).await.unwrap();
    counter.add(1);
    let status = sys::get_status(&untyped).await.unwrap();
    assert_eq!(status.id, counter.id());
    assert_eq!(status.server_type, "Counter");
    assert_eq!(status.name.as_deref(), Some("sys-untyped"));
    assert_eq!(status.run_state, RunState::Suspended);
    assert_eq!(status.mailbox_len, 1);
    assert_eq!(status.state, Some(format!("{:?}", Counter::new())));
    assert_eq!(status.parent, None);
    sys::resume(&untyped).await.unwrap();
    assert_eq!(counter.get().await, Ok(1));
}

#[tokio::test(start_paused = true)]
async fn a_stop_is_handled_while_suspended_and_runs_terminate() {
    let (terminated, mut reasons) = mpsc::unbounded_channel();
    let counter = Counter::start(Counter { terminated: Some(terminated), ..Counter::new() }).await.unwrap();
    sys::suspend(&counter).await.unwrap();
    counter.add(1);
    counter.stop(ExitReason::Shutdown, Duration::from_secs(1)).await.unwrap();
    assert_eq!(reasons.recv().await, Some(ExitReason::Shutdown));
}

#[tokio::test(start_paused = true)]
async fn an_idle_timeout_does_not_fire_while_suspended_and_starts_over_on_resume() {
    let counter = Counter::start(Counter::new()).await.unwrap();
    counter.idle_after(100).await.unwrap();
    tokio::time::sleep(Duration::from_millis(60)).await;
    sys::suspend(&counter).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    sys::resume(&counter).await.unwrap();
    let resumed = tokio::time::Instant::now();
    // The state is read through sys, which leaves the idle timeout running afresh.
    tokio::time::sleep(Duration::from_millis(99)).await;
    assert_eq!(sys::get_state(&counter).await.unwrap().timeouts, 0);
    tokio::time::sleep(Duration::from_millis(101)).await;
    assert_eq!(sys::get_state(&counter).await.unwrap().timeouts, 1);
    assert_eq!(resumed.elapsed(), Duration::from_millis(200));
}

#[tokio::test(start_paused = true)]
async fn sys_toward_an_exited_server_returns_no_server() {
    let counter = Counter::start(Counter::new()).await.unwrap();
    counter.stop(ExitReason::Normal, Duration::from_secs(1)).await.unwrap();
    assert_eq!(sys::get_state(&counter).await.map(|state| state.count), Err(SysError::NoServer));
    assert_eq!(sys::suspend(&counter).await, Err(SysError::NoServer));
}

#[tokio::test(start_paused = true)]
async fn a_server_exiting_with_a_request_queued_returns_its_reason() {
    let counter = Counter::start(Counter::new()).await.unwrap();
    sys::suspend(&counter).await.unwrap();
    // Queued behind the stop, the request is dropped with the mailbox.
    let stop = counter.stop(ExitReason::Shutdown, Duration::from_secs(1));
    let (stopped, state) = tokio::join!(stop, sys::get_state(&counter).into_future());
    assert_eq!(stopped, Ok(()));
    assert_eq!(state.map(|state| state.count), Err(SysError::Exited(ExitReason::Shutdown)));
}

#[tokio::test(start_paused = true)]
async fn a_server_asking_itself_gets_calling_self() {
    let counter = Counter::start(Counter::new()).await.unwrap();
    assert_eq!(counter.ask_myself().await, Ok(Err(SysError::CallingSelf)));
}

#[tokio::test(start_paused = true)]
async fn get_status_names_the_supervisor_and_the_links() {
    let supervisor = Supervisor::builder().child(Counter::child_spec(Counter::new())).start().await.unwrap();
    let children = supervisor.which_children().await.unwrap();
    let child = children[0].process.clone().expect("the child runs");
    let status = sys::get_status(&child).await.unwrap();
    assert_eq!(status.parent, Some(supervisor.id()));
    assert_eq!(status.links, vec![supervisor.id()]);
    assert_eq!(status.monitors, Vec::new());
    assert!(!status.trap_exits);
    let supervisor_status = sys::get_status(&supervisor).await.unwrap();
    assert_eq!(supervisor_status.links, vec![child.id()]);
    assert!(supervisor_status.trap_exits);
}

#[tokio::test(start_paused = true)]
async fn a_server_without_debug_state_keeps_its_state_out_of_the_status() {
    pub struct Secret;
    #[genserver]
    impl Secret {
        #[call]
        fn ping(&self) {}
    }
    let secret = Builder::<Secret>::new().start(Secret).await.unwrap();
    assert_eq!(sys::get_status(&secret).await.unwrap().state, None);
}

#[tokio::test(start_paused = true)]
async fn trace_logs_each_message_with_its_handler_and_outcome() {
    let (capture, _guard) = Capture::install();
    let counter = Counter::start(Counter::new()).await.unwrap();
    sys::trace(&counter, true).await.unwrap();
    counter.add(1);
    counter.get().await.unwrap();
    sys::trace(&counter, false).await.unwrap();
    counter.add(1);
    counter.get().await.unwrap();
    let traced: Vec<_> = capture
        .events()
        .into_iter()
        .filter(|event| event.fields.get("message") == Some("message handled"))
        .map(|event| {
            (event.fields.get("handler").map(str::to_owned), event.fields.get("outcome").map(str::to_owned))
        })
        .collect();
    let expected = |handler: &str| (Some(handler.to_owned()), Some("ok".to_owned()));
    assert_eq!(traced, vec![expected("add"), expected("get")]);
    assert!(!sys::get_status(&counter).await.unwrap().trace);
}

#[tokio::test(start_paused = true)]
async fn statistics_are_off_until_enabled() {
    keep_callsites_enabled();
    let counter = Counter::start(Counter::new()).await.unwrap();
    counter.add(1);
    assert_eq!(sys::statistics(&counter).await, Ok(None));
    assert_eq!(sys::get_status(&counter).await.unwrap().statistics, None);
}

/// A server that shows its state and messages in crash reports.
#[derive(Debug)]
pub struct Bomb {
    armed: bool,
}

#[genserver(debug_state, debug_messages)]
impl Bomb {
    #[cast]
    fn explode(&mut self, code: u32) {
        self.armed = true;
        tracing::info!(code, "exploding");
        panic!("boom {code}");
    }
}

#[tokio::test]
async fn a_crash_report_carries_the_last_message_and_the_state_when_the_server_shows_them() {
    let (capture, _guard) = Capture::install();
    let bomb = Bomb::start(Bomb { armed: false }).await.unwrap();
    bomb.explode(7);
    assert_eq!(bomb.exited().await, ExitReason::Panic("boom 7".into()));
    let errors = capture.errors();
    assert_eq!(errors.len(), 1, "one crash report: {errors:?}");
    let report = &errors[0].fields;
    assert_eq!(report.get("last_message"), Some("explode"));
    assert_eq!(report.get("message"), Some("server terminated abnormally"));
    assert_eq!(report.get("last_message_debug"), Some("Explode { code: 7 }"));
    assert_eq!(report.get("state"), Some("Bomb { armed: true }"));
}

#[tokio::test]
async fn each_message_is_handled_in_a_span_of_its_own_inside_the_server_span() {
    let (capture, _guard) = Capture::install();
    let bomb = Bomb::start(Bomb { armed: false }).await.unwrap();
    bomb.explode(3);
    bomb.exited().await;
    let inside = capture
        .events()
        .into_iter()
        .find(|event| event.fields.get("message") == Some("exploding"))
        .expect("the handler's event");
    let spans: Vec<&str> = inside.spans.iter().map(|(name, _)| *name).collect();
    assert_eq!(spans, vec!["genserver", "message"]);
    let message = &inside.spans[1].1;
    assert_eq!(message.get("handler"), Some("explode"));
    assert_eq!(message.get("id"), Some(bomb.id().to_string().as_str()));
    assert_eq!(message.get("message_debug"), Some("Explode { code: 3 }"));
}

#[tokio::test]
async fn a_server_that_does_not_show_them_keeps_message_and_state_out_of_its_crash_report() {
    pub struct Quiet;
    #[genserver]
    impl Quiet {
        #[cast]
        fn fail(&mut self) {
            panic!("quiet failure");
        }
    }
    let (capture, _guard) = Capture::install();
    let quiet = Quiet::start(Quiet).await.unwrap();
    quiet.fail();
    quiet.exited().await;
    let errors = capture.errors();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].fields.get("last_message"), Some("fail"));
    assert_eq!((errors[0].fields.get("last_message_debug"), errors[0].fields.get("state")), (None, None));
}
