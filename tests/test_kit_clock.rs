//! The test kit's virtual time: every timer of a server runs on the kit's paused clock,
//! and the kit's waits end exactly when the servers are idle or the next timer has fired.

use genserver_runtime::prelude::*;
use genserver_runtime::testing;
use tokio::time::Instant;

/// Schedules a report 30 s after it starts, and takes as long as asked to answer `slow`.
pub struct Reporter {
    reports: u32,
}

#[genserver]
impl Reporter {
    #[init]
    fn init(cx: &mut Context<Self>) -> Init<Self> {
        cx.send_after(Duration::from_secs(30), ReporterInfo::Report {});
        Init::ok(Reporter { reports: 0 })
    }

    #[info]
    fn report(&mut self) {
        self.reports += 1;
    }

    #[call]
    fn reports(&self) -> u32 {
        self.reports
    }

    /// Answers after `delay`.
    #[call]
    async fn slow(&self, delay: Duration) -> u32 {
        tokio::time::sleep(delay).await;
        self.reports
    }
}

/// Ticks every 10 s and goes idle for 7 s after each cast.
pub struct Ticker {
    ticks: u32,
    idle_timeouts: u32,
}

#[genserver]
impl Ticker {
    #[init]
    fn init(cx: &mut Context<Self>) -> Init<Self> {
        cx.send_interval(Duration::from_secs(10), TickerInfo::Tick {});
        Init::ok(Ticker { ticks: 0, idle_timeouts: 0 })
    }

    #[info]
    fn tick(&mut self) {
        self.ticks += 1;
    }

    #[cast]
    fn nudge(&mut self) -> NoReply {
        NoReply::timeout(Duration::from_secs(7))
    }

    #[timeout]
    fn idle(&mut self) {
        self.idle_timeouts += 1;
    }

    #[call]
    fn counts(&self) -> (u32, u32) {
        (self.ticks, self.idle_timeouts)
    }
}

/// The bar: a 30 s `send_after` and a 5 s call timeout, in virtual time. The
/// assertion is on the virtual clock; the real time it takes is what `cargo test` shows.
#[testing::test]
async fn a_thirty_second_send_after_and_a_five_second_call_timeout_pass_in_virtual_time() {
    let start = Instant::now();
    let reporter = testing::supervise(Reporter::start().await.unwrap());
    let timed_out = reporter.slow(Duration::from_secs(60)).await;
    assert_eq!(timed_out, Err(CallError::Timeout(Duration::from_secs(5))));
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    // The server is still in its 60 s `slow`; the report waits behind it.
    assert_eq!(testing::advance_to_next_timer().await, Some(Duration::from_secs(55)));
    assert_eq!(reporter.reports().await.unwrap(), 1);
    assert_eq!(start.elapsed(), Duration::from_secs(60));
}

#[testing::test]
async fn advance_to_next_timer_stops_at_each_server_timer_in_turn() {
    let ticker = testing::supervise(Ticker::start().await.unwrap());
    ticker.nudge();
    assert_eq!(testing::advance_to_next_timer().await, Some(Duration::from_secs(7)));
    assert_eq!(ticker.counts().await.unwrap(), (0, 1));
    assert_eq!(testing::advance_to_next_timer().await, Some(Duration::from_secs(3)));
    assert_eq!(ticker.counts().await.unwrap(), (1, 1));
    assert_eq!(testing::advance_to_next_timer().await, Some(Duration::from_secs(10)));
    assert_eq!(ticker.counts().await.unwrap(), (2, 1));
}

#[testing::test]
async fn advance_until_idle_lets_casts_be_handled_without_moving_the_clock() {
    let ticker = testing::supervise(Ticker::start().await.unwrap());
    let start = Instant::now();
    ticker.nudge();
    testing::advance_until_idle().await;
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(ticker.counts().await.unwrap(), (0, 0));
}

#[testing::test]
async fn advance_fires_every_timer_due_and_lets_the_servers_handle_them() {
    let ticker = testing::supervise(Ticker::start().await.unwrap());
    testing::advance(Duration::from_secs(35)).await;
    assert_eq!(ticker.counts().await.unwrap(), (3, 0));
}

#[testing::test]
async fn advance_to_next_timer_without_a_timer_gives_none_at_the_horizon() {
    let start = Instant::now();
    assert_eq!(testing::advance_to_next_timer().await, None);
    assert_eq!(start.elapsed(), testing::TIMER_HORIZON);
}

#[test]
#[should_panic(expected = "advance_until_idle needs the test kit's runtime")]
fn advance_until_idle_outside_the_kit_says_what_it_needs() {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
    runtime.block_on(testing::advance_until_idle());
}

#[test]
fn a_test_output_is_returned_by_run() {
    assert_eq!(testing::run(async { 7 }), 7);
}
