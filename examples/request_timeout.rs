//! The "Request with Timeout" pattern of the Elixir GenServer guide: a client function
//! whose caller chooses how long to wait (Elixir's `GenServer.call(server, msg, timeout)`).
//!
//! Run it with `cargo run --example request_timeout`. An inventory server answers stock
//! queries through a backend that has become slow. A caller with a short timeout gets
//! `CallError::Timeout` at its deadline, and then:
//! - the reply the server sends later is dropped: the caller's next call gets its own
//!   answer, never the stale one (a timed-out call leaves nothing behind);
//! - the server keeps serving, but a handler that waits inline keeps *every* caller
//!   waiting, so a health check times out too;
//! - the same query answered through a deferred reply (the slow part runs in its own task
//!   and answers through the caller's [`ReplyTo`]) leaves the server free for others.
//!
//! The backend's slowness stands for a slow database or service: a configurable latency
//! (`tokio::time::sleep`), so that the tests can run on tokio's paused clock and check
//! each deadline to the millisecond.

use std::collections::HashMap;

use genserver_runtime::prelude::*;

/// Stock levels, read through a backend that takes `latency` to answer.
pub struct Inventory {
    stock: HashMap<String, u32>,
    /// How long the backend takes to answer a query.
    latency: Duration,
    /// Queries answered so far, including those whose caller had given up.
    answered: u64,
}

#[genserver]
impl Inventory {
    #[init]
    fn init(stock: HashMap<String, u32>, latency: Duration) -> Init<Self> {
        Init::ok(Inventory { stock, latency, answered: 0 })
    }

    /// The stock of `item`, read inline: the server waits for the backend, and so does
    /// every caller behind this one.
    #[call]
    pub async fn stock(&mut self, item: String) -> Option<u32> {
        tokio::time::sleep(self.latency).await;
        self.answered += 1;
        self.stock.get(&item).copied()
    }

    /// The stock of `item`, read by a task of its own that answers the caller directly:
    /// the server is free for the next message at once.
    #[call]
    pub fn stock_deferred(&mut self, item: String, from: ReplyTo<Option<u32>>) -> NoReply {
        let (latency, level) = (self.latency, self.stock.get(&item).copied());
        tokio::spawn(async move {
            tokio::time::sleep(latency).await;
            from.reply(level);
        });
        NoReply::ok()
    }

    /// Changes the backend's latency.
    #[cast]
    pub fn set_latency(&mut self, latency: Duration) {
        self.latency = latency;
    }

    /// How many inline queries were answered, whether or not their caller still waited.
    #[call]
    pub fn answered(&self) -> u64 {
        self.answered
    }

    /// Answers at once when the server is free: a health check.
    #[call]
    pub fn ping(&self) -> &'static str {
        "pong"
    }
}

impl InventoryRef {
    /// The stock of `item`, waiting at most `timeout` (the guide's
    /// `get_data(server, timeout \\ 5000)`; the generated `stock(item)` alone waits the
    /// default 5 s).
    pub async fn stock_within(&self, item: &str, timeout: Duration) -> Result<Option<u32>, CallError> {
        self.stock(item.to_string()).timeout(timeout).await
    }
}

/// Awaits `call` and says how long it took.
async fn timed<T>(call: impl std::future::IntoFuture<Output = T>) -> (T, String) {
    let start = tokio::time::Instant::now();
    let value = call.await;
    (value, format!("{} ms", start.elapsed().as_millis()))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let stock = HashMap::from([("bolts".to_string(), 120), ("nuts".to_string(), 75)]);
    let inventory = Inventory::start(stock, Duration::from_millis(20)).await?;
    let (answer, took) = timed(inventory.stock_within("bolts", Duration::from_millis(100))).await;
    println!("stock(bolts) within 100 ms: {answer:?} after {took}");

    inventory.set_latency(Duration::from_millis(300));
    println!("the backend now takes 300 ms");
    let (answer, took) = timed(inventory.stock_within("bolts", Duration::from_millis(100))).await;
    println!("stock(bolts) within 100 ms: {answer:?} after {took}");
    let (answer, took) = timed(inventory.ping().timeout(Duration::from_millis(50))).await;
    println!("ping within 50 ms: {answer:?} after {took} (the server still waits on the backend)");
    let (answer, took) = timed(inventory.ping()).await;
    println!("ping: {answer:?} after {took}, once the abandoned query is done");
    println!(
        "inline queries answered: {:?} (one reply went to nobody and was dropped)",
        inventory.answered().await?
    );
    let (answer, took) = timed(inventory.stock_within("nuts", Duration::from_secs(1))).await;
    println!("stock(nuts) within 1 s: {answer:?} after {took} (its own answer, not the late one)");

    // The same query with a deferred reply: the server is free while the backend works.
    let ((deferred, deferred_took), (ping, ping_took)) = tokio::join!(
        timed(inventory.stock_deferred("nuts".into()).timeout(Duration::from_secs(1))),
        timed(inventory.ping().timeout(Duration::from_millis(50))),
    );
    println!(
        "deferred stock(nuts): {deferred:?} after {deferred_took}; ping meanwhile: {ping:?} after {ping_took}"
    );

    inventory.stop(ExitReason::Normal, Duration::from_secs(1)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::future::IntoFuture;

    use tokio::time::Instant;

    use super::*;

    const SLOW: Duration = Duration::from_secs(2);

    async fn start(latency: Duration) -> InventoryRef {
        let stock = HashMap::from([("bolts".to_string(), 120), ("nuts".to_string(), 75)]);
        Inventory::start(stock, latency).await.expect("starts")
    }

    #[tokio::test(start_paused = true)]
    async fn call_answered_within_its_timeout_gets_the_reply() {
        let inventory = start(Duration::from_millis(100)).await;
        let start = Instant::now();
        assert_eq!(inventory.stock_within("bolts", Duration::from_millis(250)).await, Ok(Some(120)));
        assert_eq!(start.elapsed(), Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn call_to_a_slow_server_times_out_at_exactly_its_deadline() {
        let inventory = start(SLOW).await;
        let start = Instant::now();
        let timeout = Duration::from_millis(500);
        assert_eq!(inventory.stock_within("bolts", timeout).await, Err(CallError::Timeout(timeout)));
        assert_eq!(start.elapsed(), timeout);
    }

    #[tokio::test(start_paused = true)]
    async fn call_without_a_timeout_of_its_own_gives_up_after_five_seconds() {
        let inventory = start(Duration::from_secs(6)).await;
        let start = Instant::now();
        assert_eq!(inventory.stock("bolts".into()).await, Err(CallError::Timeout(Duration::from_secs(5))));
        assert_eq!(start.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn late_reply_is_dropped_and_the_next_call_gets_its_own_answer() {
        let inventory = start(SLOW).await;
        let start = Instant::now();
        let timeout = Duration::from_millis(500);
        assert_eq!(inventory.stock_within("bolts", timeout).await, Err(CallError::Timeout(timeout)));
        // The server finishes the abandoned query at 2 s, then answers this one at 4 s.
        assert_eq!(inventory.stock_within("nuts", Duration::from_secs(5)).await, Ok(Some(75)));
        assert_eq!(start.elapsed(), SLOW * 2);
        assert_eq!(inventory.answered().await, Ok(2), "the abandoned query was answered too, to nobody");
        assert!(inventory.is_alive());
    }

    #[tokio::test(start_paused = true)]
    async fn while_a_handler_waits_inline_every_other_caller_waits_too() {
        let inventory = start(SLOW).await;
        let start = Instant::now();
        let mut slow = inventory.stock("bolts".into()).into_future();
        tokio::select! {
            biased;
            _ = &mut slow => panic!("the query takes 2 s"),
            ping = inventory.ping().timeout(Duration::from_millis(100)) => {
                assert_eq!(ping, Err(CallError::Timeout(Duration::from_millis(100))));
            }
        }
        assert_eq!(start.elapsed(), Duration::from_millis(100));
        assert_eq!(slow.await, Ok(Some(120)));
        assert_eq!(start.elapsed(), SLOW);
        assert_eq!(inventory.ping().timeout(Duration::from_millis(100)).await, Ok("pong"), "free again");
    }

    #[tokio::test(start_paused = true)]
    async fn deferred_reply_leaves_the_server_free_while_the_slow_part_runs() {
        let inventory = start(SLOW).await;
        let start = Instant::now();
        let mut slow = inventory.stock_deferred("nuts".into()).into_future();
        tokio::select! {
            biased;
            _ = &mut slow => panic!("the query takes 2 s"),
            ping = inventory.ping().timeout(Duration::from_millis(100)) => assert_eq!(ping, Ok("pong")),
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "answered at once");
        assert_eq!(slow.await, Ok(Some(75)));
        assert_eq!(start.elapsed(), SLOW);
    }

    #[tokio::test(start_paused = true)]
    async fn deferred_query_past_its_timeout_times_out_and_the_server_keeps_serving() {
        let inventory = start(SLOW).await;
        let start = Instant::now();
        let timeout = Duration::from_millis(300);
        assert_eq!(
            inventory.stock_deferred("nuts".into()).timeout(timeout).await,
            Err(CallError::Timeout(timeout))
        );
        assert_eq!(start.elapsed(), timeout);
        assert_eq!(inventory.ping().await, Ok("pong"));
        assert_eq!(start.elapsed(), timeout, "nothing in the server waited for the backend");
    }
}
