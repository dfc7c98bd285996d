//! What the stress tests (`tests/stress_*.rs`) share: their size, and the outer deadline
//! that turns a hang into a failure.
//!
//! `cargo test` runs them at a size CI affords (a few seconds in all); the full size, the
//! one the reliability work was checked at, is one command:
//!
//! ```text
//! GENSERVER_STRESS=full cargo test --release --test stress_soak --test stress_leaks \
//!     --test stress_overload --test stress_races -- --test-threads 1
//! ```

use std::future::Future;
use std::time::Duration;

/// `ci` normally, `full` when `GENSERVER_STRESS=full` is set.
pub fn size(ci: u64, full: u64) -> u64 {
    match std::env::var("GENSERVER_STRESS").as_deref() {
        Ok("full") => full,
        _ => ci,
    }
}

/// Runs `test` to its end, failing if it takes longer than `limit` of real time: a hang
/// fails the test instead of blocking CI. The limit is generous, never a measurement.
pub async fn within<F: Future>(limit: Duration, test: F) -> F::Output {
    match tokio::time::timeout(limit, test).await {
        Ok(output) => output,
        Err(_) => panic!("hung: not done within {limit:?}"),
    }
}

/// Keeps the panics the stress tests cause on purpose, those whose message starts with
/// `crash `, from printing one message (and a backtrace) each; the runtime still catches
/// them and reports them as exit reasons. Any other panic, a failed assertion, prints.
pub fn quiet_panics() {
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| {
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |panic| {
            let message = panic.payload().downcast_ref::<String>().map(String::as_str);
            if !message.is_some_and(|message| message.starts_with("crash ")) {
                report(panic);
            }
        }));
    });
}
