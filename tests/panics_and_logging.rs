//! Panics and crash reports: a panicking handler stops only its own server, runs its
//! `terminate` with `ExitReason::Panic`, fails every waiting caller with that reason; an
//! abnormal exit logs one `tracing` error event in the server's span, a clean one none.
//!
//! Events are captured by the layer of `tests/common/capture.rs`, installed on the test's
//! thread. Capturing and other tests share this binary, so every test here first installs
//! a global subscriber that is interested in everything and discards it (see that module
//! for why).

mod common;
use common::capture::{Capture, keep_callsites_enabled};
use common::hold_in_handler;
use common::poll::poll_once;

use genserver_runtime::StopError;
use genserver_runtime::prelude::*;
use tokio::sync::{mpsc, oneshot};
use tracing::Level;

// ---- the server under test ----

/// What the server's terminate saw: the reason and the state's records.
type Terminated = (ExitReason, Vec<u32>);

/// How `Crasher::init` ends.
pub enum InitPlan {
    Ok,
    Panic,
    Stop(ExitReason),
    Ignore,
}

/// A server that panics on request, in any kind of handler.
pub struct Crasher {
    terminated: mpsc::UnboundedSender<Terminated>,
    records: Vec<u32>,
    panic_in_terminate: bool,
}

#[genserver]
impl Crasher {
    #[init]
    fn init(terminated: mpsc::UnboundedSender<Terminated>, plan: InitPlan) -> Init<Self> {
        match plan {
            InitPlan::Ok => Init::ok(Crasher { terminated, records: Vec::new(), panic_in_terminate: false }),
            InitPlan::Panic => panic!("init exploded"),
            InitPlan::Stop(reason) => Init::stop(reason),
            InitPlan::Ignore => Init::ignore(),
        }
    }

    #[call]
    fn echo(&self, n: u32) -> u32 {
        n
    }

    #[cast]
    fn record(&mut self, n: u32) {
        self.records.push(n);
    }

    #[call]
    fn explode(&mut self, message: String) -> u32 {
        self.records.push(99);
        panic!("{message}")
    }

    #[cast]
    fn explode_cast(&mut self, code: u32) {
        panic!("cast failed with code {code}")
    }

    #[call]
    fn panic_with_a_number(&self) -> u32 {
        std::panic::panic_any(42_u32)
    }

    #[info]
    fn fault(&mut self) {
        panic!("info failed")
    }

    #[cast]
    fn continue_into_a_panic(&mut self) -> NoReply<CrasherContinue> {
        NoReply::continue_with(CrasherContinue::Fail {})
    }

    #[handle_continue]
    fn fail(&mut self) {
        panic!("continue failed")
    }

    #[cast]
    fn idle_into_a_panic(&mut self, after: Duration) -> NoReply {
        NoReply::timeout(after)
    }

    #[timeout]
    fn on_idle(&mut self) {
        panic!("timeout failed")
    }

    #[call]
    fn panic_in_terminate(&mut self) {
        self.panic_in_terminate = true;
    }

    #[call]
    fn finish(&mut self, reason: ExitReason) -> Reply<u32> {
        Reply::stop(reason, 0)
    }

    /// Says it has started, then stays in the handler until `gate` opens.
    #[cast]
    async fn block(&mut self, entered: oneshot::Sender<()>, gate: oneshot::Receiver<()>) {
        let _ = entered.send(());
        let _ = gate.await;
    }

    #[terminate]
    fn terminate(&mut self, reason: &ExitReason) {
        let _ = self.terminated.send((reason.clone(), self.records.clone()));
        if self.panic_in_terminate {
            panic!("terminate failed");
        }
    }
}

async fn start_crasher() -> (CrasherRef, mpsc::UnboundedReceiver<Terminated>) {
    start_crasher_named(None).await
}

async fn start_crasher_named(name: Option<&str>) -> (CrasherRef, mpsc::UnboundedReceiver<Terminated>) {
    keep_callsites_enabled();
    let (terminated, reports) = mpsc::unbounded_channel();
    let builder = Crasher::builder();
    let builder = match name {
        Some(name) => builder.name(name),
        None => builder,
    };
    let crasher = builder.start((terminated, InitPlan::Ok)).await.expect("Crasher starts");
    (crasher, reports)
}

fn panic_reason(message: &str) -> ExitReason {
    ExitReason::Panic(message.into())
}

// ---- panics ----

#[tokio::test(start_paused = true)]
async fn panicking_handler_stops_only_its_own_server() {
    let (crasher, _) = start_crasher().await;
    let (bystander, _) = start_crasher().await;
    assert_eq!(crasher.explode("boom".into()).await, Err(CallError::Exited(panic_reason("boom"))));
    assert!(!crasher.is_alive());
    assert!(bystander.is_alive());
    assert_eq!(bystander.echo(5).await, Ok(5), "the other server keeps answering");
}

#[tokio::test(start_paused = true)]
async fn panicking_handler_runs_terminate_with_the_panic_reason_and_the_state_it_left() {
    let (crasher, mut terminated) = start_crasher().await;
    crasher.record(1);
    assert_eq!(crasher.explode("boom".into()).await, Err(CallError::Exited(panic_reason("boom"))));
    // OTP would pass the state from before the callback; a `&mut self` keeps the change.
    assert_eq!(terminated.recv().await, Some((panic_reason("boom"), vec![1, 99])));
    assert_eq!(crasher.exit_reason(), Some(panic_reason("boom")));
}

#[tokio::test(start_paused = true)]
async fn every_pending_and_later_caller_of_a_crashed_server_gets_the_reason_or_no_server() {
    let (crasher, _) = start_crasher().await;
    let open = hold_in_handler(|entered, gate| crasher.block(entered, gate)).await;
    crasher.explode_cast(7);
    // Three callers wait behind the crash, each in its own task.
    let callers: Vec<_> = (0..3)
        .map(|n| {
            let crasher = crasher.clone();
            tokio::spawn(async move { crasher.echo(n).no_timeout().await })
        })
        .collect();
    open.send(()).expect("the handler waits for its gate");
    let reason = panic_reason("cast failed with code 7");
    for caller in callers {
        let outcome = caller.await.expect("caller task");
        assert!(
            outcome == Err(CallError::Exited(reason.clone())) || outcome == Err(CallError::NoServer),
            "{outcome:?}"
        );
    }
    assert_eq!(crasher.echo(9).await, Err(CallError::NoServer));
    assert_eq!(crasher.exited().await, reason);
}

#[tokio::test(start_paused = true)]
async fn callers_queued_before_the_crash_get_the_panic_reason() {
    let (crasher, _) = start_crasher().await;
    let open = hold_in_handler(|entered, gate| crasher.block(entered, gate)).await;
    crasher.explode_cast(3);
    // Poll each call once: that queues it behind the crash without waiting for it.
    let mut queued: Vec<_> = (0..3).map(|n| Box::pin(crasher.echo(n).into_future())).collect();
    for call in &mut queued {
        assert!(poll_once(call).await.is_none());
    }
    open.send(()).expect("the handler waits for its gate");
    for call in queued {
        assert_eq!(call.await, Err(CallError::Exited(panic_reason("cast failed with code 3"))));
    }
}

#[tokio::test(start_paused = true)]
async fn panic_messages_are_kept_and_non_string_payloads_are_named() {
    let (formatted, _) = start_crasher().await;
    formatted.explode_cast(12);
    assert_eq!(formatted.exited().await, panic_reason("cast failed with code 12"));
    let (numbered, _) = start_crasher().await;
    assert_eq!(
        numbered.panic_with_a_number().await,
        Err(CallError::Exited(panic_reason("a panic with a non-string payload")))
    );
}

#[tokio::test(start_paused = true)]
async fn panics_in_info_continue_and_timeout_handlers_stop_the_server_with_their_message() {
    let (info, mut terminated) = start_crasher().await;
    info.send_info(CrasherInfo::Fault {}).expect("queued");
    assert_eq!(info.exited().await, panic_reason("info failed"));
    assert_eq!(terminated.recv().await.map(|(reason, _)| reason), Some(panic_reason("info failed")));

    let (cont, mut terminated) = start_crasher().await;
    cont.continue_into_a_panic();
    assert_eq!(cont.exited().await, panic_reason("continue failed"));
    assert_eq!(terminated.recv().await.map(|(reason, _)| reason), Some(panic_reason("continue failed")));

    let (idle, mut terminated) = start_crasher().await;
    idle.idle_into_a_panic(Duration::from_millis(10));
    assert_eq!(idle.exited().await, panic_reason("timeout failed"));
    assert_eq!(terminated.recv().await.map(|(reason, _)| reason), Some(panic_reason("timeout failed")));
}

#[tokio::test(start_paused = true)]
async fn panic_in_terminate_after_a_handler_panic_becomes_the_exit_reason() {
    let (crasher, _) = start_crasher().await;
    crasher.panic_in_terminate().await.expect("answers");
    assert_eq!(
        crasher.explode("first".into()).await,
        Err(CallError::Exited(panic_reason("terminate failed")))
    );
}

#[tokio::test(start_paused = true)]
async fn stop_after_a_crash_returns_no_server() {
    let (crasher, _) = start_crasher().await;
    crasher.explode_cast(1);
    crasher.exited().await;
    assert_eq!(crasher.stop(ExitReason::Normal, Duration::from_secs(1)).await, Err(StopError::NoServer));
}

// ---- crash reports ----

#[tokio::test(start_paused = true)]
async fn crash_logs_one_error_with_reason_and_last_message_in_the_server_span() {
    let (capture, _guard) = Capture::install();
    let name = "logging-crash";
    let (crasher, _) = start_crasher_named(Some(name)).await;
    crasher.record(1);
    assert_eq!(crasher.explode("boom".into()).await, Err(CallError::Exited(panic_reason("boom"))));
    let errors = capture.errors();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let report = &errors[0];
    assert_eq!(report.fields.get("reason"), Some("panicked: boom"));
    assert_eq!(report.fields.get("last_message"), Some("explode"));
    assert_eq!(report.fields.get("message"), Some("server terminated abnormally"));
    let (span, fields) = report.spans.last().expect("the event is inside a span");
    assert_eq!(*span, "genserver");
    assert_eq!(fields.get("server"), Some("Crasher"));
    assert_eq!(fields.get("id"), Some(&*crasher.id().to_string()));
    assert_eq!(fields.get("name"), Some(name));
}

#[tokio::test(start_paused = true)]
async fn crash_report_names_the_kind_of_handler_that_was_running() {
    let (capture, _guard) = Capture::install();
    let (info, _) = start_crasher().await;
    info.send_info(CrasherInfo::Fault {}).expect("queued");
    info.exited().await;
    let (cont, _) = start_crasher().await;
    cont.continue_into_a_panic();
    cont.exited().await;
    let (idle, _) = start_crasher().await;
    idle.idle_into_a_panic(Duration::from_millis(10));
    idle.exited().await;
    let (cast, _) = start_crasher().await;
    cast.explode_cast(1);
    cast.exited().await;
    let reports: Vec<_> = capture
        .errors()
        .iter()
        .map(|event| {
            (event.fields.get("last_message").map(String::from), event.fields.get("reason").map(String::from))
        })
        .collect();
    let expected = [
        ("fault", "panicked: info failed"),
        ("continue", "panicked: continue failed"),
        ("timeout", "panicked: timeout failed"),
        ("explode_cast", "panicked: cast failed with code 1"),
    ];
    let expected: Vec<_> =
        expected.iter().map(|(last, reason)| (Some(last.to_string()), Some(reason.to_string()))).collect();
    assert_eq!(reports, expected);
}

#[tokio::test(start_paused = true)]
async fn clean_exits_log_no_error() {
    let (capture, _guard) = Capture::install();
    for reason in [ExitReason::Normal, ExitReason::Shutdown, ExitReason::shutdown_with("bye")] {
        let (stopped, _) = start_crasher().await;
        stopped.stop(reason.clone(), Duration::from_secs(1)).await.expect("stops");
        let (finished, _) = start_crasher().await;
        assert_eq!(finished.finish(reason.clone()).await, Ok(0));
        assert_eq!(finished.exited().await, reason);
    }
    let (ignored, _) = mpsc::unbounded_channel();
    assert!(matches!(Crasher::start(ignored, InitPlan::Ignore).await, Err(StartError::Ignored)));
    let (stopped_in_init, _) = mpsc::unbounded_channel();
    let started = Crasher::start(stopped_in_init, InitPlan::Stop(ExitReason::Shutdown)).await;
    assert!(matches!(started, Err(StartError::Stopped(ExitReason::Shutdown))));
    assert_eq!(capture.errors().len(), 0, "{:#?}", capture.errors());
}

#[tokio::test(start_paused = true)]
async fn error_exits_log_one_error_each() {
    let (capture, _guard) = Capture::install();
    let (stopped, _) = start_crasher().await;
    let reason = ExitReason::error("disk full");
    stopped.stop(reason.clone(), Duration::from_secs(1)).await.expect("stops");
    let (finished, _) = start_crasher().await;
    assert_eq!(finished.finish(ExitReason::error("fatal")).await, Ok(0));
    finished.exited().await;
    let reports: Vec<_> =
        capture.errors().iter().map(|event| event.fields.get("reason").map(String::from)).collect();
    assert_eq!(reports, [Some("error: disk full".to_string()), Some("error: fatal".to_string())]);
    assert_eq!(capture.errors()[1].fields.get("last_message"), Some("finish"));
}

#[tokio::test(start_paused = true)]
async fn panic_in_terminate_logs_one_error_with_its_message() {
    let (capture, _guard) = Capture::install();
    let (crasher, _) = start_crasher().await;
    crasher.panic_in_terminate().await.expect("answers");
    let stopped = crasher.stop(ExitReason::Normal, Duration::from_secs(1)).await;
    assert_eq!(stopped, Err(StopError::ExitedWith(panic_reason("terminate failed"))));
    let errors = capture.errors();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].fields.get("reason"), Some("panicked: terminate failed"));
}

#[tokio::test(start_paused = true)]
async fn failed_init_logs_an_error_with_last_message_init() {
    let (capture, _guard) = Capture::install();
    let (terminated, _) = mpsc::unbounded_channel();
    let started = Crasher::builder().name("logging-init").start((terminated.clone(), InitPlan::Panic)).await;
    assert!(matches!(started, Err(StartError::Panicked(ref message)) if &**message == "init exploded"));
    let started = Crasher::start(terminated, InitPlan::Stop(ExitReason::error("no config"))).await;
    assert!(matches!(started, Err(StartError::Stopped(_))));
    let errors = capture.errors();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_eq!(errors[0].fields.get("reason"), Some("panicked: init exploded"));
    assert_eq!(errors[0].fields.get("last_message"), Some("init"));
    assert_eq!(errors[0].spans.last().and_then(|(_, fields)| fields.get("name")), Some("logging-init"));
    assert_eq!(errors[1].fields.get("reason"), Some("error: no config"));
    assert_eq!(errors[1].fields.get("last_message"), Some("init"));
}

#[tokio::test(start_paused = true)]
async fn killed_server_logs_nothing_as_it_runs_no_more_code() {
    let (capture, _guard) = Capture::install();
    let (crasher, _) = start_crasher().await;
    crasher.kill();
    assert_eq!(crasher.exited().await, ExitReason::Killed);
    assert_eq!(capture.errors().len(), 0, "{:#?}", capture.errors());
}

#[tokio::test(start_paused = true)]
async fn cast_dropped_on_a_full_bounded_mailbox_logs_a_warning() {
    let (capture, _guard) = Capture::install();
    let (terminated, _) = mpsc::unbounded_channel();
    let crasher = Crasher::builder()
        .mailbox(genserver_runtime::Mailbox::Bounded(1))
        .start((terminated, InitPlan::Ok))
        .await
        .expect("starts");
    let _open = hold_in_handler(|entered, gate| crasher.block(entered, gate)).await;
    crasher.record(1);
    crasher.record(2);
    let warnings = capture.at(Level::WARN);
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert_eq!(warnings[0].fields.get("server"), Some(&*crasher.id().to_string()));
}
