//! Monitors and links: DOWN messages with their reasons, demonitor, the reply-before-DOWN
//! order, exit signals along links by OTP's rules, trapping exits, and `start_link` from
//! inside a server.
//!
//! Every wait is on an event (a reply, an exit); no test sleeps.

mod common;
use common::Log;
use common::poll::poll_once;

use genserver_runtime::CastError;
use genserver_runtime::prelude::*;
use tokio::sync::oneshot;

/// A server that can watch, link with, trap and start others, and exit in every way.
pub struct Peer {
    name: &'static str,
    log: Log,
    downs: Vec<Down>,
    exits: Vec<Exit>,
}

#[genserver]
impl Peer {
    #[init]
    fn init(name: &'static str, log: Log) -> Init<Self> {
        Init::ok(Peer { name, log, downs: Vec::new(), exits: Vec::new() })
    }

    #[call]
    fn ping(&self) -> &'static str {
        self.name
    }

    /// Replies, then stops with `Normal` once `terminate` has run.
    #[call]
    fn reply_and_stop(&mut self) -> Reply<u32> {
        Reply::stop(ExitReason::Normal, 7)
    }

    /// Does nothing: a cast to fill a bounded mailbox.
    #[cast]
    fn note(&mut self) {}

    /// Says it has started, then keeps the server busy until `gate` opens.
    #[call]
    async fn wait_for(&mut self, started: oneshot::Sender<()>, gate: oneshot::Receiver<()>) {
        let _ = started.send(());
        let _ = gate.await;
    }

    #[cast]
    fn crash(&mut self) {
        panic!("boom");
    }

    #[cast]
    fn stop_with(&mut self, reason: ExitReason) -> NoReply {
        NoReply::stop(reason)
    }

    #[call]
    fn watch(&mut self, other: PeerRef, cx: &mut Context<Self>) -> MonitorRef {
        cx.monitor(&other, |down| PeerInfo::PeerDown { down })
    }

    #[call]
    fn unwatch(&mut self, monitor: MonitorRef, cx: &mut Context<Self>) -> bool {
        cx.demonitor(monitor)
    }

    /// Stops `other` while this server is busy, so that its DOWN is queued here, then
    /// removes the monitor before the DOWN is handled.
    #[call]
    async fn stop_then_unwatch(
        &mut self,
        other: PeerRef,
        monitor: MonitorRef,
        cx: &mut Context<Self>,
    ) -> bool {
        other.stop(ExitReason::Normal, Duration::from_secs(1)).await.expect("stopped");
        cx.demonitor(monitor)
    }

    /// Monitors `other`, calls its `reply_and_stop` and logs the reply; the DOWN is logged
    /// by `peer_down`.
    #[call]
    async fn watch_and_call_reply_and_stop(&mut self, other: PeerRef, cx: &mut Context<Self>) {
        cx.monitor(&other, |down| PeerInfo::PeerDown { down });
        let reply = other.reply_and_stop().await.expect("a reply");
        self.log.push(format!("{} got reply {reply}", self.name));
    }

    #[info]
    fn peer_down(&mut self, down: Down) {
        self.log.push(format!("{} got down {}", self.name, down.reason));
        self.downs.push(down);
    }

    #[call]
    fn downs(&self) -> Vec<Down> {
        self.downs.clone()
    }

    #[call]
    fn link_to(&mut self, other: PeerRef, cx: &mut Context<Self>) {
        cx.link(&other);
    }

    #[call]
    fn unlink_from(&mut self, other: PeerRef, cx: &mut Context<Self>) {
        cx.unlink(&other);
    }

    #[call]
    fn trap(&mut self, cx: &mut Context<Self>) -> bool {
        cx.trap_exits(|exit| PeerInfo::PeerExit { exit });
        cx.traps_exits()
    }

    /// Monitors `other` with a closure that panics, as a bug in user code would.
    #[call]
    fn watch_with_a_panicking_closure(&mut self, other: PeerRef, cx: &mut Context<Self>) {
        cx.monitor(&other, |_| panic!("a monitor closure that panics"));
    }

    /// Traps exits with a closure that panics, as a bug in user code would.
    #[call]
    fn trap_with_a_panicking_closure(&mut self, cx: &mut Context<Self>) {
        cx.trap_exits(|_| panic!("a trap closure that panics"));
    }

    #[info]
    fn peer_exit(&mut self, exit: Exit) {
        self.exits.push(exit);
    }

    #[call]
    fn exits(&self) -> Vec<Exit> {
        self.exits.clone()
    }

    /// Starts a `Peer` with `start_link` from inside this server.
    #[call]
    async fn start_linked(&mut self, name: &'static str) -> PeerRef {
        Peer::start_link(name, self.log.clone()).await.expect("started")
    }

    #[terminate]
    fn terminate(&mut self, reason: &ExitReason) {
        self.log.push(format!("{} terminate {reason}", self.name));
    }
}

async fn peer(name: &'static str, log: &Log) -> PeerRef {
    Peer::start(name, log.clone()).await.expect("started")
}

#[tokio::test(start_paused = true)]
async fn down_carries_the_exit_reason_normal_shutdown_panic_and_killed() {
    let log = Log::default();
    let normal = peer("normal", &log).await;
    let shutdown = peer("shutdown", &log).await;
    let panicked = peer("panicked", &log).await;
    let killed = peer("killed", &log).await;
    let monitors = [normal.monitor(), shutdown.monitor(), panicked.monitor(), killed.monitor()];
    let ids: Vec<MonitorRef> = monitors.iter().map(Monitor::id).collect();

    normal.stop_with(ExitReason::Normal);
    shutdown.stop_with(ExitReason::Shutdown);
    panicked.crash();
    killed.kill();

    let [m_normal, m_shutdown, m_panicked, m_killed] = monitors;
    assert_eq!(m_normal.await, Down { id: ids[0], server: normal.id(), reason: ExitReason::Normal });
    assert_eq!(m_shutdown.await, Down { id: ids[1], server: shutdown.id(), reason: ExitReason::Shutdown });
    assert_eq!(
        m_panicked.await,
        Down { id: ids[2], server: panicked.id(), reason: ExitReason::Panic("boom".into()) }
    );
    assert_eq!(m_killed.await, Down { id: ids[3], server: killed.id(), reason: ExitReason::Killed });
}

#[tokio::test(start_paused = true)]
async fn every_monitor_of_a_server_fires_once_with_its_own_reference() {
    let log = Log::default();
    let server = peer("server", &log).await;
    let first = server.monitor();
    let second = server.monitor();
    let (first_id, second_id) = (first.id(), second.id());
    assert_ne!(first_id, second_id);
    server.crash();
    assert_eq!(
        first.await,
        Down { id: first_id, server: server.id(), reason: ExitReason::Panic("boom".into()) }
    );
    assert_eq!(
        second.await,
        Down { id: second_id, server: server.id(), reason: ExitReason::Panic("boom".into()) }
    );
}

#[tokio::test(start_paused = true)]
async fn monitoring_an_exited_server_gives_down_with_noproc_at_once() {
    let log = Log::default();
    let server = peer("server", &log).await;
    server.stop(ExitReason::Normal, Duration::from_secs(1)).await.expect("stopped");

    let mut monitor = server.monitor();
    let id = monitor.id();
    let down = poll_once(&mut monitor).await;
    assert_eq!(down, Some(Down { id, server: server.id(), reason: ExitReason::NoProc }));

    // Inside a server too: the DOWN is queued at once.
    let watcher = peer("watcher", &log).await;
    let id = watcher.watch(server.clone()).await.expect("watch");
    assert_eq!(
        watcher.downs().await.expect("downs"),
        vec![Down { id, server: server.id(), reason: ExitReason::NoProc }]
    );
}

#[tokio::test(start_paused = true)]
async fn demonitor_prevents_delivery_even_of_a_down_already_queued() {
    let log = Log::default();
    let watcher = peer("watcher", &log).await;

    // Removed before the exit.
    let first = peer("first", &log).await;
    let id = watcher.watch(first.clone()).await.expect("watch");
    assert!(watcher.unwatch(id).await.expect("unwatch"));
    assert!(!watcher.unwatch(id).await.expect("unwatch again"), "already removed");
    first.crash();
    assert_eq!(first.exited().await, ExitReason::Panic("boom".into()));

    // Removed after the exit put its DOWN in the watcher's mailbox.
    let second = peer("second", &log).await;
    let id = watcher.watch(second.clone()).await.expect("watch");
    assert!(watcher.stop_then_unwatch(second.clone(), id).await.expect("stop then unwatch"));
    assert!(!second.is_alive());

    assert_eq!(watcher.downs().await.expect("downs"), vec![]);
    assert!(!log.entries().iter().any(|entry| entry.contains("got down")));
}

#[tokio::test(start_paused = true)]
async fn demonitoring_one_task_monitor_leaves_the_others_of_the_server_in_place() {
    let log = Log::default();
    let server = peer("server", &log).await;
    let removed = server.monitor();
    let kept = server.monitor();
    let kept_id = kept.id();
    removed.demonitor();
    server.stop_with(ExitReason::Shutdown);
    assert_eq!(kept.await, Down { id: kept_id, server: server.id(), reason: ExitReason::Shutdown });
}

#[tokio::test(start_paused = true)]
async fn a_reply_sent_before_an_exit_arrives_before_its_down() {
    let log = Log::default();

    // A task: the reply comes back, then the monitor has the DOWN.
    let server = peer("server", &log).await;
    let monitor = server.monitor();
    assert_eq!(server.reply_and_stop().await.expect("a reply, not an exit"), 7);
    let down = monitor.await;
    assert_eq!(down.reason, ExitReason::Normal);

    // A server: its handler logs the reply, then its info handler logs the DOWN.
    let watcher = peer("watcher", &log).await;
    let other = peer("other", &log).await;
    watcher.watch_and_call_reply_and_stop(other.clone()).await.expect("call");
    let downs = watcher.downs().await.expect("downs");
    assert_eq!(downs.len(), 1);
    assert_eq!(
        log.entries(),
        [
            "server terminate normal",
            "other terminate normal",
            "watcher got reply 7",
            "watcher got down normal",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn down_arrives_as_an_info_message_inside_a_server() {
    let log = Log::default();
    let watcher = peer("watcher", &log).await;
    let worker = peer("worker", &log).await;
    let id = watcher.watch(worker.clone()).await.expect("watch");
    worker.crash();
    assert_eq!(worker.exited().await, ExitReason::Panic("boom".into()));
    assert_eq!(
        watcher.downs().await.expect("downs"),
        vec![Down { id, server: worker.id(), reason: ExitReason::Panic("boom".into()) }]
    );
    assert!(watcher.is_alive(), "a monitor is not a link");
}

#[tokio::test(start_paused = true)]
async fn an_abnormal_exit_stops_the_linked_server_with_the_same_reason_without_terminate() {
    for reason in [ExitReason::error("disk full"), ExitReason::Shutdown, ExitReason::Panic("boom".into())] {
        let log = Log::default();
        let partner = peer("partner", &log).await;
        let failing = peer("failing", &log).await;
        partner.link_to(failing.clone()).await.expect("link");

        if reason == ExitReason::Panic("boom".into()) {
            failing.crash();
        } else {
            failing.stop_with(reason.clone());
        }
        assert_eq!(failing.exited().await, reason);
        assert_eq!(partner.exited().await, reason);
        assert_eq!(
            log.entries(),
            [format!("failing terminate {reason}")],
            "the partner's terminate did not run"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_normal_exit_leaves_the_linked_server_running() {
    let log = Log::default();
    let partner = peer("partner", &log).await;
    let finishing = peer("finishing", &log).await;
    partner.link_to(finishing.clone()).await.expect("link");

    finishing.stop_with(ExitReason::Normal);
    assert_eq!(finishing.exited().await, ExitReason::Normal);
    assert!(partner.is_alive());
    assert_eq!(partner.ping().await.expect("still answers"), "partner");
}

#[tokio::test(start_paused = true)]
async fn links_go_both_ways() {
    let log = Log::default();
    let partner = peer("partner", &log).await;
    let linker = peer("linker", &log).await;
    linker.link_to(partner.clone()).await.expect("link");

    linker.crash();
    assert_eq!(partner.exited().await, ExitReason::Panic("boom".into()));
}

#[tokio::test(start_paused = true)]
async fn trap_exits_turns_exit_signals_into_info_messages() {
    let log = Log::default();
    let trapper = peer("trapper", &log).await;
    assert!(trapper.trap().await.expect("trap"));
    let crashing = peer("crashing", &log).await;
    let finishing = peer("finishing", &log).await;
    trapper.link_to(crashing.clone()).await.expect("link");
    trapper.link_to(finishing.clone()).await.expect("link");

    crashing.crash();
    assert_eq!(crashing.exited().await, ExitReason::Panic("boom".into()));
    finishing.stop_with(ExitReason::Normal);
    assert_eq!(finishing.exited().await, ExitReason::Normal);

    assert_eq!(
        trapper.exits().await.expect("exits"),
        vec![
            Exit { server: crashing.id(), reason: ExitReason::Panic("boom".into()) },
            Exit { server: finishing.id(), reason: ExitReason::Normal },
        ]
    );
    assert!(trapper.is_alive());
}

#[tokio::test(start_paused = true)]
async fn a_kill_propagates_as_killed_and_cannot_be_trapped_by_its_target() {
    let log = Log::default();

    // A non-trapping partner dies with `Killed`, without terminate.
    let partner = peer("partner", &log).await;
    let victim = peer("victim", &log).await;
    partner.link_to(victim.clone()).await.expect("link");
    victim.kill();
    assert_eq!(victim.exited().await, ExitReason::Killed);
    assert_eq!(partner.exited().await, ExitReason::Killed);

    // A trapping partner receives it.
    let trapper = peer("trapper", &log).await;
    trapper.trap().await.expect("trap");
    let victim = peer("victim", &log).await;
    trapper.link_to(victim.clone()).await.expect("link");
    victim.kill();
    assert_eq!(victim.exited().await, ExitReason::Killed);
    assert_eq!(
        trapper.exits().await.expect("exits"),
        vec![Exit { server: victim.id(), reason: ExitReason::Killed }]
    );

    // A server that traps exits still dies when killed itself.
    trapper.kill();
    assert_eq!(trapper.exited().await, ExitReason::Killed);
    assert_eq!(log.entries(), Vec::<String>::new(), "no terminate ran");
}

#[tokio::test(start_paused = true)]
async fn start_link_from_inside_a_server_links_the_new_server_to_it() {
    let log = Log::default();
    let parent = peer("parent", &log).await;
    let child = parent.start_linked("child").await.expect("start child");
    assert_eq!(child.ping().await.expect("child runs"), "child");

    child.crash();
    assert_eq!(child.exited().await, ExitReason::Panic("boom".into()));
    assert_eq!(parent.exited().await, ExitReason::Panic("boom".into()));
    assert_eq!(log.entries(), ["child terminate panicked: boom"]);
}

#[tokio::test(start_paused = true)]
async fn the_parent_exiting_stops_a_child_started_with_start_link() {
    let log = Log::default();
    let parent = peer("parent", &log).await;
    let child = parent.start_linked("child").await.expect("start child");

    parent.stop_with(ExitReason::Shutdown);
    assert_eq!(parent.exited().await, ExitReason::Shutdown);
    assert_eq!(child.exited().await, ExitReason::Shutdown);
    assert_eq!(log.entries(), ["parent terminate shutdown"]);
}

#[tokio::test(start_paused = true)]
async fn start_link_from_a_plain_task_links_nothing() {
    let log = Log::default();
    let alone = Peer::start_link("alone", log.clone()).await.expect("started");
    let other = peer("other", &log).await;
    alone.crash();
    assert_eq!(alone.exited().await, ExitReason::Panic("boom".into()));
    assert_eq!(other.ping().await.expect("unaffected"), "other");
}

#[tokio::test(start_paused = true)]
async fn unlink_stops_propagation_both_ways() {
    let log = Log::default();
    let partner = peer("partner", &log).await;
    let first = peer("first", &log).await;
    let second = peer("second", &log).await;
    partner.link_to(first.clone()).await.expect("link");
    partner.link_to(second.clone()).await.expect("link");
    partner.unlink_from(first.clone()).await.expect("unlink");

    first.crash();
    assert_eq!(first.exited().await, ExitReason::Panic("boom".into()));
    assert_eq!(partner.ping().await.expect("still linked to second only"), "partner");

    // The other link is still in place.
    second.stop_with(ExitReason::Shutdown);
    assert_eq!(partner.exited().await, ExitReason::Shutdown);
}

#[tokio::test(start_paused = true)]
async fn linking_to_an_exited_server_sends_noproc() {
    let log = Log::default();
    let gone = peer("gone", &log).await;
    gone.stop(ExitReason::Normal, Duration::from_secs(1)).await.expect("stopped");

    // A trapping caller gets an exit message.
    let trapper = peer("trapper", &log).await;
    trapper.trap().await.expect("trap");
    trapper.link_to(gone.clone()).await.expect("link");
    assert_eq!(
        trapper.exits().await.expect("exits"),
        vec![Exit { server: gone.id(), reason: ExitReason::NoProc }]
    );
    assert!(trapper.is_alive());

    // A non-trapping caller stops with `NoProc`, without terminate.
    let caller = peer("caller", &log).await;
    let _ = caller.link_to(gone.clone()).await;
    assert_eq!(caller.exited().await, ExitReason::NoProc);
    assert_eq!(log.entries(), ["gone terminate normal"]);
}

/// Links and monitors set up while their target exits, on several threads: each one ends
/// with the target's reason or with `NoProc`, never with nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn links_and_monitors_racing_an_exit_always_fire() {
    let log = Log::default();
    let crash = ExitReason::Panic("boom".into());
    for _ in 0..200 {
        let partner = peer("partner", &log).await;
        let target = peer("target", &log).await;
        let link = tokio::spawn({
            let (partner, target) = (partner.clone(), target.clone());
            async move { partner.link_to(target).await }
        });
        let monitor = tokio::spawn({
            let target = target.clone();
            async move { target.monitor().await }
        });
        target.crash();
        let _ = link.await.expect("link task");
        let down = monitor.await.expect("monitor task");
        assert!(down.reason == crash || down.reason == ExitReason::NoProc, "{down:?}");
        let reason = partner.exited().await;
        assert!(reason == crash || reason == ExitReason::NoProc, "{reason:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn exit_signals_and_downs_reach_a_full_bounded_mailbox() {
    let log = Log::default();
    let trapper =
        Peer::builder().mailbox(Mailbox::Bounded(1)).start(("trapper", log.clone())).await.expect("started");
    trapper.trap().await.expect("trap");
    let linked = peer("linked", &log).await;
    let watched = peer("watched", &log).await;
    trapper.link_to(linked.clone()).await.expect("link");
    let monitor = trapper.watch(watched.clone()).await.expect("watch");

    // Busy, with its one slot taken.
    let (open, gate) = oneshot::channel();
    let (started, has_started) = oneshot::channel();
    let busy = tokio::spawn({
        let trapper = trapper.clone();
        async move { trapper.wait_for(started, gate).await }
    });
    has_started.await.expect("wait_for started");
    assert_eq!(trapper.as_ref().try_cast(PeerMsg::Note {}), Ok(()));
    assert_eq!(trapper.as_ref().try_cast(PeerMsg::Note {}), Err(CastError::Full));

    linked.crash();
    assert_eq!(linked.exited().await, ExitReason::Panic("boom".into()));
    watched.stop_with(ExitReason::Shutdown);
    assert_eq!(watched.exited().await, ExitReason::Shutdown);

    open.send(()).expect("open the gate");
    busy.await.expect("task").expect("wait_for");
    assert_eq!(
        trapper.exits().await.expect("exits"),
        vec![Exit { server: linked.id(), reason: ExitReason::Panic("boom".into()) }]
    );
    assert_eq!(
        trapper.downs().await.expect("downs"),
        vec![Down { id: monitor, server: watched.id(), reason: ExitReason::Shutdown }]
    );
}

/// Waits for `server`'s exit in a task of its own, which only a wake-up can finish.
async fn exit_waiter(server: &PeerRef) -> tokio::task::JoinHandle<ExitReason> {
    let waiter = tokio::spawn({
        let server = server.clone();
        async move { server.exited().await }
    });
    tokio::task::yield_now().await; // the waiter runs first, and waits for the exit
    waiter
}

/// What `task` gives, if it is woken within 5 s (of the paused clock).
async fn within_5s<T>(task: tokio::task::JoinHandle<T>) -> Option<T> {
    tokio::time::timeout(Duration::from_secs(5), task).await.ok().map(|joined| joined.expect("the task"))
}

#[tokio::test(start_paused = true)]
async fn a_monitor_closure_that_panics_does_not_cut_the_exit_announcement_short() {
    let log = Log::default();
    let watcher = peer("watcher", &log).await;
    let target = peer("target", &log).await;
    watcher.watch_with_a_panicking_closure(target.clone()).await.expect("watching");
    // Both made after the monitor whose closure panics, so announced after it.
    let down = tokio::spawn(target.monitor());
    let exited = exit_waiter(&target).await;
    target.stop_with(ExitReason::Shutdown);
    assert_eq!(within_5s(down).await.map(|down| down.reason), Some(ExitReason::Shutdown));
    assert_eq!(within_5s(exited).await, Some(ExitReason::Shutdown));
    assert_eq!(watcher.ping().await.expect("the watcher is unaffected"), "watcher");
}

#[tokio::test(start_paused = true)]
async fn a_trap_closure_that_panics_does_not_cut_the_exit_announcement_short() {
    let log = Log::default();
    let trapper = peer("trapper", &log).await;
    let target = peer("target", &log).await;
    trapper.trap_with_a_panicking_closure().await.expect("trapping");
    trapper.link_to(target.clone()).await.expect("linked");
    // Both made after the link, so announced after its exit signal.
    let down = tokio::spawn(target.monitor());
    let exited = exit_waiter(&target).await;
    target.stop_with(ExitReason::error("crash"));
    assert_eq!(within_5s(down).await.map(|down| down.reason), Some(ExitReason::error("crash")));
    assert_eq!(within_5s(exited).await, Some(ExitReason::error("crash")));
    // The trapping server lost that one exit message, and nothing else.
    assert_eq!(trapper.ping().await.expect("the trapping server is alive"), "trapper");
    assert_eq!(trapper.exits().await.expect("answers"), []);
}
