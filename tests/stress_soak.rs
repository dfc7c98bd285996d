//! The soak: many calls from concurrent clients to a supervised server whose handler
//! panics on one call in a hundred, on a multi-thread runtime. Every call must end with
//! its own reply or a typed error (no reply reaches the wrong caller, nothing hangs), a
//! crash must be reported by its own call and by the calls it caught, and the supervisor must restart the server
//! exactly once per crash and stay within its intensity.
//!
//! CI runs 20,000 calls; `GENSERVER_STRESS=full` runs 1,000,000 (see `common/stress.rs`).

mod common;
use common::stress::{quiet_panics, size, within};

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use genserver_runtime::prelude::*;

const NAME: &str = "stress-soak-worker";
const CLIENTS: u64 = 8;

/// Counts its starts and its panics, echoes every other call.
pub struct Echo {
    panics: Arc<AtomicU64>,
}

#[genserver]
impl Echo {
    #[init]
    fn init(starts: Arc<AtomicU64>, panics: Arc<AtomicU64>) -> Init<Self> {
        starts.fetch_add(1, Ordering::SeqCst);
        Init::ok(Echo { panics })
    }

    /// Returns `id`, or panics with it when told to.
    #[call]
    fn echo(&mut self, id: u64, panic: bool) -> u64 {
        if panic {
            self.panics.fetch_add(1, Ordering::SeqCst);
            panic!("crash {id}");
        }
        id
    }
}

/// Whether call `id` is one of the 1 % that panic.
fn panics(id: u64) -> bool {
    id % 100 == 37
}

/// What the calls of one client came back with.
#[derive(Default)]
struct Outcomes {
    replied: u64,
    /// Panicking calls that were handled, and so reported their own panic.
    crashed: u64,
    /// Calls caught in another call's crash: queued behind it (they report its panic), or
    /// made as the server exited.
    caught_in_crash: u64,
}

async fn client(first: u64, count: u64) -> Outcomes {
    let mut outcomes = Outcomes::default();
    for id in first..first + count {
        // Between a crash and its restart there is no server under the name: wait for it.
        let worker = loop {
            match Echo::whereis(NAME) {
                Some(worker) if worker.is_alive() => break worker,
                _ => tokio::task::yield_now().await,
            }
        };
        match worker.echo(id, panics(id)).await {
            Ok(reply) => {
                assert_eq!(reply, id, "a reply reached the wrong caller");
                assert!(!panics(id), "call {id} should have panicked");
                outcomes.replied += 1;
            }
            Err(CallError::Exited(ExitReason::Panic(message))) if *message == format!("crash {id}") => {
                assert!(panics(id), "call {id} should not have panicked");
                outcomes.crashed += 1;
            }
            // Another call's crash: the reason names a call that panics.
            Err(CallError::Exited(ExitReason::Panic(message))) => {
                let crashed: u64 =
                    message.strip_prefix("crash ").and_then(|id| id.parse().ok()).expect("a crash");
                assert!(panics(crashed) && crashed != id, "call {id} ended with the crash {message:?}");
                outcomes.caught_in_crash += 1;
            }
            Err(CallError::NoServer) => outcomes.caught_in_crash += 1,
            other => panic!("call {id} ended with {other:?}"),
        }
    }
    outcomes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_soak_with_one_percent_panics_accounts_for_every_call_and_restarts_once_per_crash() {
    quiet_panics();
    let calls = size(20_000, 1_000_000);
    let (starts, handled_panics) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let spec = {
        let (starts, panics) = (starts.clone(), handled_panics.clone());
        ChildSpec::new(NAME, move || Echo::builder().name(NAME).start_link((starts.clone(), panics.clone())))
    };
    // Room for every planned crash within the period: the soak must never exhaust it.
    let planned = calls / 100 + 1;
    let supervisor = Supervisor::builder()
        .intensity(u32::try_from(planned).expect("fits"), Duration::from_secs(3_600))
        .child(spec)
        .start()
        .await
        .expect("starts");
    let outcomes = within(Duration::from_secs(600), async {
        let per_client = calls / CLIENTS;
        let clients: Vec<_> =
            (0..CLIENTS).map(|n| tokio::spawn(client(n * per_client, per_client))).collect();
        let mut total = Outcomes::default();
        for client in clients {
            let outcomes = client.await.expect("a client task");
            total.replied += outcomes.replied;
            total.crashed += outcomes.crashed;
            total.caught_in_crash += outcomes.caught_in_crash;
        }
        total
    })
    .await;
    let sent = calls / CLIENTS * CLIENTS;
    assert_eq!(
        outcomes.replied + outcomes.crashed + outcomes.caught_in_crash,
        sent,
        "every call accounted for"
    );
    // Every crash came from a panicking call that was handled, and each one reported it.
    assert_eq!(outcomes.crashed, handled_panics.load(Ordering::SeqCst));
    assert!(outcomes.crashed > 0 && outcomes.replied > sent / 2, "the soak did its work");
    // Restarted exactly once per crash: one start, then one per panic, and still running.
    // Each crash's exit signal was queued at the supervisor before its caller saw the
    // crash, so this call is handled after the last restart.
    let counts = supervisor.count_children().await.expect("answers");
    assert_eq!(counts.active, 1);
    assert_eq!(starts.load(Ordering::SeqCst) - 1, handled_panics.load(Ordering::SeqCst));
    assert!(supervisor.is_alive(), "within its intensity, the supervisor runs on");
    supervisor.stop(ExitReason::Shutdown, Duration::from_secs(5)).await.expect("stops");
}
