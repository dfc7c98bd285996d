//! Exercise 2 of the Elixir GenServer guide, "create a rate limiter GenServer": a token
//! bucket per client, refilled by a timer.
//!
//! Run it with `cargo run --example rate_limiter`. Two clients send requests at
//! different paces through a limiter that allows bursts of 3 and refills 1 token every
//! 200 ms; each decision is printed with its time.
//!
//! Each client (a key: a user, an IP address, an API token) has a bucket of at most
//! `capacity` tokens; a request takes one, or is denied when the bucket is empty, with
//! the time left until the next refill. `init` starts a timer (`cx.send_interval`, OTP's
//! `:timer.send_interval`) whose tick adds `refill` tokens to every bucket. A bucket that
//! is full again is forgotten (a missing bucket counts as full), so clients that went
//! quiet cost no memory.

use std::collections::HashMap;

use genserver_runtime::prelude::*;

/// Token buckets, one per client, refilled on a timer.
pub struct RateLimiter {
    /// The most tokens a bucket holds: the largest burst allowed.
    capacity: u32,
    /// Tokens added to each bucket at every tick.
    refill: u32,
    /// Tokens left per client; a client with no entry has a full bucket.
    buckets: HashMap<String, u32>,
    /// The refill timer, to say when the next tokens come.
    ticks: TimerRef,
}

/// The answer to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The request may go ahead; `remaining` tokens are left in the client's bucket.
    Allowed {
        /// Tokens left after this request.
        remaining: u32,
    },
    /// The client's bucket is empty; tokens come back in `retry_after`.
    Denied {
        /// Time until the next refill.
        retry_after: Duration,
    },
}

/// The limits of a [`RateLimiter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most tokens a bucket holds: the largest burst allowed. At least 1.
    pub capacity: u32,
    /// Tokens added to each bucket per period. At least 1.
    pub refill: u32,
    /// How often buckets are refilled. More than zero.
    pub period: Duration,
}

#[genserver]
impl RateLimiter {
    /// Starts with every bucket full and the refill timer running; refuses limits that
    /// would allow nothing or refill never.
    #[init]
    fn init(limits: Limits, cx: &mut Context<Self>) -> Init<Self> {
        if limits.capacity == 0 || limits.refill == 0 || limits.period.is_zero() {
            let problem =
                format!("invalid limits {limits:?}: capacity, refill and period must be above zero");
            return Init::stop(ExitReason::error(problem));
        }
        let ticks = cx.send_interval(limits.period, RateLimiterInfo::Refill {});
        Init::ok(RateLimiter {
            capacity: limits.capacity,
            refill: limits.refill,
            buckets: HashMap::new(),
            ticks,
        })
    }

    /// Takes a token from `client`'s bucket if there is one.
    #[call]
    pub fn check(&mut self, client: String) -> Decision {
        let tokens = self.buckets.entry(client).or_insert(self.capacity);
        match tokens.checked_sub(1) {
            Some(left) => {
                *tokens = left;
                Decision::Allowed { remaining: left }
            }
            None => Decision::Denied { retry_after: self.ticks.remaining().unwrap_or_default() },
        }
    }

    /// The tokens left in `client`'s bucket.
    #[call]
    pub fn tokens(&self, client: String) -> u32 {
        self.buckets.get(&client).copied().unwrap_or(self.capacity)
    }

    /// How many clients have a bucket that is not full.
    #[call]
    pub fn tracked_clients(&self) -> usize {
        self.buckets.len()
    }

    /// The timer's tick: refills every bucket and forgets those that are full again.
    #[info]
    fn refill(&mut self) {
        let (refill, capacity) = (self.refill, self.capacity);
        self.buckets.retain(|_, tokens| {
            *tokens = tokens.saturating_add(refill).min(capacity);
            *tokens < capacity
        });
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let limits = Limits { capacity: 3, refill: 1, period: Duration::from_millis(200) };
    let limiter = RateLimiter::start(limits).await?;
    println!("limits: bursts of {}, {} token every {:?}", limits.capacity, limits.refill, limits.period);

    let start = tokio::time::Instant::now();
    let clients = [("eager", Duration::from_millis(50)), ("steady", Duration::from_millis(250))];
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|(client, pace)| {
            let limiter = limiter.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(pace);
                for _ in 0..(1000 / pace.as_millis()) {
                    every.tick().await;
                    let decision = limiter.check(client.to_string()).await.expect("the limiter answers");
                    let decision = match decision {
                        Decision::Allowed { remaining } => format!("allowed, {remaining} token(s) left"),
                        Decision::Denied { retry_after } => {
                            format!("denied, next refill in {} ms", retry_after.as_millis())
                        }
                    };
                    println!("{:>5} ms  {client:<6}  {decision}", start.elapsed().as_millis());
                }
            })
        })
        .collect();
    for task in tasks {
        task.await?;
    }
    limiter.stop(ExitReason::Normal, Duration::from_secs(1)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use tokio::time::{Instant, sleep_until};

    use super::*;

    /// Bursts of 5, 2 tokens back every second.
    const LIMITS: Limits = Limits { capacity: 5, refill: 2, period: Duration::from_secs(1) };

    fn allowed(remaining: u32) -> Decision {
        Decision::Allowed { remaining }
    }

    fn denied(retry_after_ms: u64) -> Decision {
        Decision::Denied { retry_after: Duration::from_millis(retry_after_ms) }
    }

    async fn checks(limiter: &RateLimiterRef, client: &str, times: usize) -> Vec<Decision> {
        let mut decisions = Vec::new();
        for _ in 0..times {
            decisions.push(limiter.check(client.into()).await.expect("the limiter answers"));
        }
        decisions
    }

    #[tokio::test(start_paused = true)]
    async fn burst_up_to_capacity_is_allowed_then_denied_until_the_next_refill() {
        let start = Instant::now();
        let limiter = RateLimiter::start(LIMITS).await.expect("starts");
        let decisions = checks(&limiter, "ada", 7).await;
        assert_eq!(
            decisions,
            [allowed(4), allowed(3), allowed(2), allowed(1), allowed(0), denied(1000), denied(1000)]
        );

        // First tick at 1 s: two tokens back. At 1.5 s two requests pass, the third waits
        // for the tick at 2 s.
        sleep_until(start + Duration::from_millis(1500)).await;
        assert_eq!(checks(&limiter, "ada", 3).await, [allowed(1), allowed(0), denied(500)]);

        // Ticks at 2 s and 3 s bring 4 tokens.
        sleep_until(start + Duration::from_millis(3250)).await;
        assert_eq!(limiter.tokens("ada".into()).await, Ok(4));
        assert_eq!(
            checks(&limiter, "ada", 5).await,
            [allowed(3), allowed(2), allowed(1), allowed(0), denied(750)]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn bucket_never_refills_past_its_capacity() {
        let start = Instant::now();
        let limiter = RateLimiter::start(LIMITS).await.expect("starts");
        checks(&limiter, "ada", 1).await;
        sleep_until(start + Duration::from_secs(60) + Duration::from_millis(1)).await;
        assert_eq!(limiter.tokens("ada".into()).await, Ok(5));
        let decisions = checks(&limiter, "ada", 6).await;
        assert_eq!(decisions.iter().filter(|d| matches!(d, Decision::Allowed { .. })).count(), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn each_client_has_its_own_bucket() {
        let limiter = RateLimiter::start(LIMITS).await.expect("starts");
        assert_eq!(checks(&limiter, "ada", 6).await.last(), Some(&denied(1000)));
        assert_eq!(checks(&limiter, "grace", 1).await, [allowed(4)]);
        assert_eq!(limiter.tokens("ada".into()).await, Ok(0));
        assert_eq!(limiter.tokens("nobody".into()).await, Ok(5));
    }

    #[tokio::test(start_paused = true)]
    async fn buckets_that_are_full_again_are_forgotten() {
        let start = Instant::now();
        let limiter = RateLimiter::start(LIMITS).await.expect("starts");
        checks(&limiter, "ada", 5).await;
        checks(&limiter, "grace", 1).await;
        assert_eq!(limiter.tracked_clients().await, Ok(2));
        // At 1 s grace is full again (4 + 2, capped at 5); ada has 2.
        sleep_until(start + Duration::from_millis(1001)).await;
        assert_eq!(limiter.tracked_clients().await, Ok(1));
        // At 3 s ada is full too (2 + 2 + 2, capped at 5).
        sleep_until(start + Duration::from_millis(3001)).await;
        assert_eq!(limiter.tracked_clients().await, Ok(0));
        assert_eq!(limiter.tokens("ada".into()).await, Ok(5));
    }

    #[tokio::test(start_paused = true)]
    async fn limits_that_allow_nothing_refuse_to_start() {
        for limits in [
            Limits { capacity: 0, ..LIMITS },
            Limits { refill: 0, ..LIMITS },
            Limits { period: Duration::ZERO, ..LIMITS },
        ] {
            let started = RateLimiter::start(limits).await;
            assert!(matches!(started, Err(StartError::Stopped(ExitReason::Error(_)))), "{limits:?}");
        }
    }
}
