//! Time inside a server: timers (`send_after`, `send_interval`, cancelling them), infos
//! from clients, the idle timeout, and continuations.
//!
//! Every test runs on the test kit's paused clock, which only moves when every task waits,
//! straight to the next timer, so each instant below is exact. What fired reaches a
//! probe, asserted with `assert_receive!` and `refute_receive!`.

mod common;
use common::hold_in_handler;
use common::poll::poll_once;

use std::future::IntoFuture;

use genserver_runtime::prelude::*;
use genserver_runtime::testing::{self, Probe};
use genserver_runtime::{assert_receive, refute_receive};
use tokio::sync::oneshot;
use tokio::time::Instant;

/// What fired, and when.
type Fired = (&'static str, Instant);

/// A server that sets timers and idle timeouts and reports each one that fires.
pub struct Clock {
    fired: Probe<Fired>,
    pokes: u32,
}

#[genserver]
impl Clock {
    #[init]
    fn init(fired: Probe<Fired>, idle: Option<Duration>) -> Init<Self> {
        let clock = Clock { fired, pokes: 0 };
        match idle {
            Some(after) => Init::ok(clock).timeout(after),
            None => Init::ok(clock),
        }
    }

    #[call]
    fn ring_after(&mut self, delay: Duration, cx: &mut Context<Self>) -> TimerRef {
        cx.send_after(delay, ClockInfo::Ring {})
    }

    #[call]
    fn tick_every(&mut self, period: Duration, cx: &mut Context<Self>) -> TimerRef {
        cx.send_interval(period, ClockInfo::Tick {})
    }

    /// Ticks every `period` through a closure that panics from its third tick on, as a
    /// bug in user code would.
    #[call]
    fn tick_twice_then_panic(&mut self, period: Duration, cx: &mut Context<Self>) -> TimerRef {
        let mut ticks = 0;
        cx.send_interval_with(period, move || {
            ticks += 1;
            assert!(ticks <= 2, "the closure of an interval panics");
            ClockInfo::Tick {}
        })
    }

    /// Sets an interval, then works for `work` (on the clock) before returning.
    #[call]
    async fn tick_every_then_work(
        &mut self,
        period: Duration,
        work: Duration,
        cx: &mut Context<Self>,
    ) -> TimerRef {
        let timer = cx.send_interval(period, ClockInfo::Tick {});
        // Moves the paused clock as a long computation would, before the timer task runs.
        tokio::time::advance(work).await;
        timer
    }

    /// Waits for the next message, expecting a long idle period: a hint only.
    #[cast]
    fn nap(&mut self) -> NoReply {
        NoReply::hibernate()
    }

    #[info]
    fn ring(&mut self) {
        self.report("ring");
    }

    #[info]
    fn tick(&mut self) {
        self.report("tick");
    }

    /// Replies, then times out after `after` unless a message comes.
    #[call]
    fn idle_after(&mut self, after: Duration) -> Reply<()> {
        Reply::new(()).timeout(after)
    }

    /// Times out after `after` unless a message comes.
    #[cast]
    fn idle_soon(&mut self, after: Duration) -> NoReply {
        NoReply::timeout(after)
    }

    #[cast]
    fn poke(&mut self) {
        self.pokes += 1;
    }

    #[call]
    fn pokes(&self) -> u32 {
        self.pokes
    }

    /// Says it has started, then stays in the handler until `gate` opens.
    #[cast]
    async fn block(&mut self, entered: oneshot::Sender<()>, gate: oneshot::Receiver<()>) {
        let _ = entered.send(());
        let _ = gate.await;
    }

    #[timeout]
    fn idle(&mut self) {
        self.report("timeout");
    }
}

impl Clock {
    fn report(&self, what: &'static str) {
        self.fired.send((what, Instant::now()));
    }
}

async fn start_clock(idle: Option<Duration>) -> (ClockRef, Probe<Fired>) {
    let reports = Probe::start().await;
    let clock = Clock::start(reports.clone(), idle).await.expect("Clock starts");
    (clock, reports)
}

/// Far past every deadline in these tests: how long to wait for what should not come.
const PAST_EVERY_DEADLINE: Duration = Duration::from_secs(3600);

// ---- send_after ----

#[testing::test]
async fn send_after_delivers_its_info_after_exactly_the_delay() {
    let (clock, reports) = start_clock(None).await;
    let start = Instant::now();
    let timer = clock.ring_after(Duration::from_millis(100)).await.expect("answers");
    assert_eq!(timer.remaining(), Some(Duration::from_millis(100)));
    let (what, at) = assert_receive!(reports, _, PAST_EVERY_DEADLINE);
    assert_eq!((what, at - start), ("ring", Duration::from_millis(100)));
    // A one-shot timer fires once.
    refute_receive!(reports, _, PAST_EVERY_DEADLINE);
}

#[testing::test]
async fn cancelling_a_timer_returns_the_exact_time_left_and_its_info_never_arrives() {
    let (clock, reports) = start_clock(None).await;
    let timer = clock.ring_after(Duration::from_millis(100)).await.expect("answers");
    tokio::time::advance(Duration::from_millis(30)).await;
    assert_eq!(timer.remaining(), Some(Duration::from_millis(70)));
    assert_eq!(timer.cancel(), Some(Duration::from_millis(70)));
    assert_eq!(timer.remaining(), None);
    assert_eq!(timer.cancel(), None, "a timer is cancelled once");
    // The cancelled timer never fired.
    refute_receive!(reports, _, PAST_EVERY_DEADLINE);
}

#[testing::test]
async fn cancelling_a_timer_after_it_fired_returns_none() {
    let (clock, reports) = start_clock(None).await;
    let timer = clock.ring_after(Duration::from_millis(100)).await.expect("answers");
    assert_receive!(reports, ("ring", _), PAST_EVERY_DEADLINE);
    assert_eq!(timer.remaining(), None);
    assert_eq!(timer.cancel(), None);
}

#[testing::test]
async fn send_interval_ticks_every_period_until_cancelled() {
    let (clock, reports) = start_clock(None).await;
    let start = Instant::now();
    let period = Duration::from_millis(250);
    let timer = clock.tick_every(period).await.expect("answers");
    for n in 1..=4 {
        let (what, at) = assert_receive!(reports, _, PAST_EVERY_DEADLINE);
        assert_eq!((what, at - start), ("tick", period * n));
    }
    tokio::time::advance(Duration::from_millis(100)).await;
    assert_eq!(timer.cancel(), Some(Duration::from_millis(150)), "the time left to the next tick");
    assert_eq!(timer.cancel(), None);
    // No tick after the cancel.
    refute_receive!(reports, _, PAST_EVERY_DEADLINE);
}

/// Keeps `clock` busy in a handler while `period` passes `ticks` times, so that as many
/// ticks of `timer` wait in its mailbox; then lets it go on after `then(timer)`.
async fn queue_ticks_while_busy(clock: &ClockRef, period: Duration, ticks: u32, then: impl FnOnce()) {
    let open = hold_in_handler(|entered, gate| clock.block(entered, gate)).await;
    tokio::time::sleep(period * ticks + period / 2).await;
    then();
    drop(open);
}

#[testing::test]
async fn cancelling_an_interval_drops_its_ticks_already_queued() {
    let period = Duration::from_millis(10);
    // Without a cancel, the three ticks queued while the server was busy are handled.
    let (busy, busy_reports) = start_clock(None).await;
    let kept = busy.tick_every(period).await.expect("answers");
    queue_ticks_while_busy(&busy, period, 3, || {}).await;
    busy.pokes().await.expect("the clock answers");
    // Three ticks were queued behind the busy handler.
    for _ in 0..3 {
        assert_receive!(busy_reports, ("tick", _), Duration::ZERO);
    }
    assert!(busy_reports.is_empty());
    assert!(kept.cancel().is_some());

    // With a cancel while they wait, none of them is handled, and none comes later.
    let (clock, reports) = start_clock(None).await;
    let timer = clock.tick_every(period).await.expect("answers");
    queue_ticks_while_busy(&clock, period, 3, || {
        assert_eq!(timer.cancel(), Some(period / 2), "cancelled while waiting for its fourth tick");
    })
    .await;
    // No tick of the cancelled interval was handled.
    refute_receive!(reports, _, PAST_EVERY_DEADLINE);
}

#[testing::test]
async fn send_interval_ticks_count_from_when_it_was_set() {
    let (clock, reports) = start_clock(None).await;
    let start = Instant::now();
    let period = Duration::from_millis(100);
    let timer = clock.tick_every_then_work(period, Duration::from_millis(30)).await.expect("answers");
    assert_eq!(timer.remaining(), Some(Duration::from_millis(70)));
    for n in 1..=3 {
        let (what, at) = assert_receive!(reports, _, PAST_EVERY_DEADLINE);
        assert_eq!((what, at - start), ("tick", period * n));
    }
}

#[testing::test]
async fn timer_too_far_for_the_clock_never_fires_and_can_be_cancelled() {
    let (clock, reports) = start_clock(None).await;
    let once = clock.ring_after(Duration::MAX).await.expect("answers");
    let every = clock.tick_every(Duration::MAX).await.expect("answers");
    refute_receive!(reports, _, PAST_EVERY_DEADLINE);
    assert!(once.cancel().is_some_and(|left| left > Duration::from_secs(86_400 * 365)));
    assert!(every.cancel().is_some_and(|left| left > Duration::from_secs(86_400 * 365)));
}

#[testing::test]
async fn timers_end_with_their_server() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let before = metrics.num_alive_tasks();
    let (clock, reports) = start_clock(None).await;
    let once = clock.ring_after(Duration::from_secs(10)).await.expect("answers");
    let every = clock.tick_every(Duration::from_secs(1)).await.expect("answers");
    assert_eq!(metrics.num_alive_tasks(), before + 4, "the probe, the server and its two timers");
    clock.stop(ExitReason::Normal, Duration::from_secs(1)).await.expect("stops");
    // As in OTP, a timer aimed at a server is cancelled when the server exits.
    assert_eq!(once.remaining(), None);
    assert_eq!(once.cancel(), None);
    assert_eq!(every.cancel(), None);
    // Everything that is ready runs before the paused clock moves on.
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(metrics.num_alive_tasks(), before + 1, "the timer tasks are gone; the probe is left");
    assert!(reports.is_empty());
}

#[testing::test]
async fn send_info_from_a_client_reaches_the_info_handler() {
    let (clock, reports) = start_clock(None).await;
    let start = Instant::now();
    clock.send_info(ClockInfo::Ring {}).expect("queued");
    assert_eq!(assert_receive!(reports, _), ("ring", start));
}

// ---- idle timeout ----

#[testing::test]
async fn idle_timeout_from_init_fires_the_timeout_handler() {
    let start = Instant::now();
    let (_clock, reports) = start_clock(Some(Duration::from_millis(300))).await;
    let (what, at) = assert_receive!(reports, _, PAST_EVERY_DEADLINE);
    assert_eq!((what, at - start), ("timeout", Duration::from_millis(300)));
}

#[testing::test]
async fn idle_timeout_from_a_reply_fires_the_timeout_handler() {
    let (clock, reports) = start_clock(None).await;
    let start = Instant::now();
    clock.idle_after(Duration::from_millis(200)).await.expect("answers");
    let (what, at) = assert_receive!(reports, _, PAST_EVERY_DEADLINE);
    assert_eq!((what, at - start), ("timeout", Duration::from_millis(200)));
    // An idle timeout fires once.
    refute_receive!(reports, _, PAST_EVERY_DEADLINE);
}

#[testing::test]
async fn idle_timeout_from_a_noreply_fires_the_timeout_handler() {
    let (clock, reports) = start_clock(None).await;
    let start = Instant::now();
    clock.idle_soon(Duration::from_millis(200));
    let (what, at) = assert_receive!(reports, _, PAST_EVERY_DEADLINE);
    assert_eq!((what, at - start), ("timeout", Duration::from_millis(200)));
}

#[testing::test]
async fn any_message_before_the_deadline_cancels_the_idle_timeout() {
    // A cast, a call and an info each cancel it.
    for message in ["cast", "call", "info"] {
        let (clock, reports) = start_clock(None).await;
        clock.idle_soon(Duration::from_millis(200));
        tokio::time::advance(Duration::from_millis(199)).await;
        match message {
            "cast" => clock.poke(),
            "call" => assert_eq!(clock.pokes().await, Ok(0)),
            _ => clock.send_info(ClockInfo::Ring {}).expect("queued"),
        }
        // The timeout, cancelled, never fires.
        refute_receive!(reports, ("timeout", _), PAST_EVERY_DEADLINE);
    }
}

#[testing::test]
async fn idle_timeout_rearmed_by_a_later_message_counts_from_that_message() {
    let (clock, reports) = start_clock(None).await;
    let start = Instant::now();
    clock.idle_soon(Duration::from_millis(200));
    tokio::time::advance(Duration::from_millis(100)).await;
    clock.idle_soon(Duration::from_millis(200));
    let (what, at) = assert_receive!(reports, _, PAST_EVERY_DEADLINE);
    assert_eq!((what, at - start), ("timeout", Duration::from_millis(300)));
}

#[testing::test]
async fn idle_timeout_too_large_for_the_clock_never_fires() {
    let (clock, reports) = start_clock(None).await;
    clock.idle_soon(Duration::MAX);
    refute_receive!(reports, _, PAST_EVERY_DEADLINE);
    assert!(clock.is_alive());
}

#[testing::test]
async fn hibernate_is_a_hint_and_the_server_keeps_serving() {
    let (clock, _reports) = start_clock(None).await;
    clock.nap();
    clock.poke();
    assert_eq!(clock.pokes().await, Ok(1));
}

#[testing::test]
async fn zero_idle_timeout_loses_to_a_message_already_queued() {
    let (clock, reports) = start_clock(None).await;
    let open = hold_in_handler(|entered, gate| clock.block(entered, gate)).await;
    clock.idle_soon(Duration::ZERO);
    clock.poke();
    open.send(()).expect("the handler waits for its gate");
    assert_eq!(clock.pokes().await, Ok(1));
    // The queued poke cancelled the zero timeout.
    refute_receive!(reports, _, PAST_EVERY_DEADLINE);
}

// ---- continue ----

/// A server that records the order in which its handlers run.
pub struct Pipeline {
    log: Vec<String>,
    /// When set, the next continuation waits for it.
    gate: Option<oneshot::Receiver<()>>,
}

#[genserver]
impl Pipeline {
    #[init]
    fn init(
        continue_from_init: bool,
        gate: Option<oneshot::Receiver<()>>,
        cx: &mut Context<Self>,
    ) -> Init<Self, PipelineContinue> {
        cx.me().record("cast from init".into());
        let pipeline = Pipeline { log: vec!["init".into()], gate };
        if continue_from_init {
            Init::ok(pipeline).continue_with(PipelineContinue::Step { label: "from init".into() })
        } else {
            Init::ok(pipeline)
        }
    }

    #[cast]
    fn record(&mut self, entry: String) {
        self.log.push(entry);
    }

    #[call]
    fn log(&self) -> Vec<String> {
        self.log.clone()
    }

    /// Waits for `gate` (so that messages pile up behind it), then continues.
    #[cast]
    async fn then_continue(
        &mut self,
        label: String,
        entered: oneshot::Sender<()>,
        gate: oneshot::Receiver<()>,
    ) -> NoReply<PipelineContinue> {
        let _ = entered.send(());
        let _ = gate.await;
        NoReply::continue_with(PipelineContinue::Step { label })
    }

    #[call]
    fn reply_then_continue(&mut self, label: String) -> Reply<u32, PipelineContinue> {
        Reply::new(1).continue_with(PipelineContinue::Step { label })
    }

    #[handle_continue]
    async fn step(&mut self, label: String) {
        if let Some(gate) = self.gate.take() {
            let _ = gate.await;
        }
        self.log.push(format!("continue {label}"));
    }
}

#[testing::test]
async fn continue_from_init_runs_before_a_cast_init_sent_to_itself() {
    let pipeline = Pipeline::start(true, None).await.expect("starts");
    assert_eq!(
        pipeline.log().await,
        Ok(vec!["init".into(), "continue from init".into(), "cast from init".into()])
    );
}

#[testing::test]
async fn start_returns_before_the_continue_from_init_has_run() {
    let (open, gate) = oneshot::channel();
    // The continuation waits for the gate, which opens only after the start returned.
    let pipeline = Pipeline::start(true, Some(gate)).await.expect("starts");
    open.send(()).expect("the continuation waits for its gate");
    assert_eq!(
        pipeline.log().await,
        Ok(vec!["init".into(), "continue from init".into(), "cast from init".into()])
    );
}

#[testing::test]
async fn noreply_continue_runs_before_messages_queued_while_its_handler_ran() {
    let pipeline = Pipeline::start(false, None).await.expect("starts");
    let open = hold_in_handler(|entered, gate| pipeline.then_continue("x".into(), entered, gate)).await;
    pipeline.record("queued".into());
    open.send(()).expect("the handler waits for its gate");
    assert_eq!(
        pipeline.log().await,
        Ok(vec!["init".into(), "cast from init".into(), "continue x".into(), "queued".into()])
    );
}

#[testing::test]
async fn reply_continue_runs_after_the_reply_and_before_the_next_message() {
    let pipeline = Pipeline::start(false, None).await.expect("starts");
    let mut call = pipeline.reply_then_continue("y".into()).into_future();
    assert!(poll_once(&mut call).await.is_none(), "the call is queued");
    pipeline.record("queued after the call".into());
    assert_eq!(call.await, Ok(1));
    assert_eq!(
        pipeline.log().await,
        Ok(vec!["init".into(), "cast from init".into(), "continue y".into(), "queued after the call".into()])
    );
}

#[testing::test]
async fn an_interval_whose_closure_panics_ends_and_says_so() {
    let (clock, reports) = start_clock(None).await;
    let start = Instant::now();
    let timer = clock.tick_twice_then_panic(Duration::from_millis(100)).await.expect("set");
    assert_eq!(
        assert_receive!(reports, _, PAST_EVERY_DEADLINE),
        ("tick", start + Duration::from_millis(100))
    );
    assert_eq!(
        assert_receive!(reports, _, PAST_EVERY_DEADLINE),
        ("tick", start + Duration::from_millis(200))
    );
    // No tick after the panic.
    refute_receive!(reports, _, PAST_EVERY_DEADLINE);
    // The third tick's closure panicked in the timer task: the timer has ended, and the
    // server, unharmed, got no third tick.
    assert_eq!((timer.remaining(), timer.cancel()), (None, None));
}
