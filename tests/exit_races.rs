//! The orderings an exit promises, run thousands of times on a multi-thread runtime so
//! that the races between a server's exit and its observers are really tried:
//! - whoever sees a server dead (`is_alive()` false) finds its Registry entries and group
//!   memberships gone;
//! - when `exited()` or `stop()` returns, every monitor's DOWN and every link's exit
//!   signal has been queued;
//! - a deferred reply that meets a call's deadline is either received by the caller or
//!   handed back to the replier, never lost.
//!
//! Every loop is bounded by its count and by an outer deadline, so a hang fails the test;
//! nothing sleeps to synchronise.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context as TaskContext, Waker};

use genserver_runtime::groups;
use genserver_runtime::prelude::*;
use genserver_runtime::{Keys, Registry};

const ITERATIONS: usize = 5_000;
const DEADLINE: Duration = Duration::from_secs(120);

/// A server that does nothing: only its exit matters here.
pub struct Idle;

#[genserver]
impl Idle {}

/// A server that traps exits and counts the exit signals its trap closure was given: the
/// closure runs as the signal is queued.
pub struct Trapper;

#[genserver]
impl Trapper {
    #[init]
    fn init(signals: Arc<AtomicUsize>, cx: &mut Context<Self>) -> Init<Self> {
        cx.trap_exits(move |exit| {
            signals.fetch_add(1, Ordering::SeqCst);
            TrapperInfo::Signal { exit }
        });
        Init::ok(Trapper)
    }

    /// Links this server with `target`.
    #[call]
    fn link_to(&mut self, target: ProcessRef, cx: &mut Context<Self>) {
        cx.link(&target);
    }

    #[info]
    fn signal(&mut self, exit: Exit) {
        let _ = exit;
    }
}

/// A server that keeps the `ReplyTo` of each `hold` call for `answer` to use later.
pub struct Holder {
    held: Option<ReplyTo<u64>>,
}

#[genserver]
impl Holder {
    /// A call answered later, by `answer`.
    #[call]
    fn hold(&mut self, from: ReplyTo<u64>) -> NoReply {
        self.held = Some(from);
        NoReply::ok()
    }

    /// The `ReplyTo` of the last `hold`, taken.
    #[call]
    fn take_held(&mut self) -> Option<ReplyTo<u64>> {
        self.held.take()
    }
}

/// Polls `future` once with a waker that does nothing: `true` if it is already done.
fn is_ready<F: Future + Unpin>(future: &mut F) -> bool {
    Pin::new(future).poll(&mut TaskContext::from_waker(Waker::noop())).is_ready()
}

/// An idle server registered under `key` in `registry` and a member of `group`.
async fn registered_idle(registry: &Registry<usize, ()>, key: usize, group: &str) -> IdleRef {
    let server = Idle::start(Idle).await.expect("started");
    registry.register(key, server.as_ref(), ()).expect("registered");
    assert!(groups::join(group, server.as_ref()));
    server
}

/// Whether `server` is still listed in `registry` under `key`, and among `group`'s members.
fn still_listed(registry: &Registry<usize, ()>, key: usize, group: &str, server: &Process) -> (bool, bool) {
    let entry = !registry.lookup(&key).is_empty();
    let member = groups::members(group).iter().any(|member| member.id() == server.id());
    (entry, member)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_seen_dead_has_left_its_registry_entries_and_groups() {
    let registry: Registry<usize, ()> = Registry::new(Keys::Unique);
    let stale = tokio::time::timeout(DEADLINE, async {
        let mut stale = Vec::new();
        for i in 0..ITERATIONS {
            let server = registered_idle(&registry, i, "exit-races-seen-dead").await;
            // An observer on another worker, looking at the moment the server turns dead.
            let observer = tokio::spawn({
                let (process, registry) = (server.to_ref(), registry.clone());
                async move {
                    while process.is_alive() {
                        tokio::task::yield_now().await;
                    }
                    still_listed(&registry, i, "exit-races-seen-dead", &process)
                }
            });
            server.kill();
            let (entry, member) = observer.await.expect("observer");
            if entry || member {
                stale.push((i, entry, member));
            }
        }
        stale
    })
    .await
    .expect("no hang");
    assert_eq!(stale, [], "(iteration, entry still listed, member still listed) after is_alive() was false");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stop_returns_with_the_entries_gone_and_the_down_queued() {
    let registry: Registry<usize, ()> = Registry::new(Keys::Unique);
    let stale = tokio::time::timeout(DEADLINE, async {
        let mut stale = Vec::new();
        for i in 0..ITERATIONS {
            let server = registered_idle(&registry, i, "exit-races-stop").await;
            let mut monitor = server.monitor();
            server.stop(ExitReason::Normal, Duration::from_secs(5)).await.expect("stopped");
            let (entry, member) = still_listed(&registry, i, "exit-races-stop", &server);
            let down_queued = is_ready(&mut monitor);
            if entry || member || !down_queued {
                stale.push((i, entry, member, down_queued));
            }
        }
        stale
    })
    .await
    .expect("no hang");
    assert_eq!(stale, [], "(iteration, entry listed, member listed, DOWN queued) after stop() returned");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exited_returns_with_every_down_and_exit_signal_queued() {
    let signals = Arc::new(AtomicUsize::new(0));
    let trapper = Trapper::start(signals.clone()).await.expect("started");
    let late = tokio::time::timeout(DEADLINE, async {
        let mut late = Vec::new();
        for i in 0..ITERATIONS {
            let server = Idle::start(Idle).await.expect("started");
            trapper.link_to(server.to_ref()).await.expect("linked");
            let mut monitor = server.monitor();
            let signals_before = signals.load(Ordering::SeqCst);
            // The kill comes from another worker, so the exit runs while this task waits.
            let killer = tokio::spawn({
                let process = server.to_ref();
                async move { process.kill() }
            });
            assert_eq!(server.exited().await, ExitReason::Killed);
            let down_queued = is_ready(&mut monitor);
            let signalled = signals.load(Ordering::SeqCst) == signals_before + 1;
            if !down_queued || !signalled {
                late.push((i, down_queued, signalled));
            }
            killer.await.expect("killer");
        }
        late
    })
    .await
    .expect("no hang");
    assert_eq!(late, [], "(iteration, DOWN queued, exit signal queued) after exited() returned");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deferred_reply_at_the_deadline_is_received_or_handed_back_never_lost() {
    let holder = Holder::start(Holder { held: None }).await.expect("started");
    let (mut received, mut handed_back) = (0, 0);
    tokio::time::timeout(DEADLINE, async {
        for i in 0..ITERATIONS as u64 {
            let call = tokio::spawn({
                let holder = holder.clone();
                async move { holder.hold().timeout(Duration::from_micros(50)).await }
            });
            // Wait until the call is held, then reply as its deadline comes.
            let from = loop {
                if let Some(from) = holder.take_held().await.expect("take") {
                    break from;
                }
                tokio::task::yield_now().await;
            };
            let replied = from.try_reply(i);
            match (call.await.expect("caller"), replied) {
                (Ok(value), Ok(())) => {
                    assert_eq!(value, i, "the caller got its own reply");
                    received += 1;
                }
                (Err(CallError::Timeout(_)), Err(value)) => {
                    assert_eq!(value, i, "the value came back whole");
                    handed_back += 1;
                }
                (outcome, replied) => {
                    panic!("iteration {i}: the call ended {outcome:?} while try_reply said {replied:?}")
                }
            }
        }
    })
    .await
    .expect("no hang");
    assert_eq!(received + handed_back, ITERATIONS, "every reply was received or handed back");
}
