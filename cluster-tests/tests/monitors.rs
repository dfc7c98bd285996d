//! Remote monitors between nodes of one test process: the DOWN carries the server's real
//! exit reason, `NoProc` for a server already gone, `NoConnection` for a node that went
//! down; a server gets it as an info message; a removed monitor leaves nothing behind on
//! either node; and a call pending when its server's node goes fails with `NodeDown`.
//!
//! Every wait is on a DOWN, a reply or a node's events, under a deadline; nothing sleeps.

mod cluster;

use std::future::IntoFuture;

use cluster::worker::{Worker, WorkerClient, WorkerRef};
use cluster::{TestCluster, next_matching, within};
use genserver_runtime::cluster::{Client, MonitorCounts, NodeEvent, RemoteDown};
use genserver_runtime::prelude::*;
use tokio::sync::mpsc;

/// A server that monitors a worker on another node and passes on each DOWN it
/// handles.
pub struct Watchdog {
    downs: mpsc::UnboundedSender<RemoteDown>,
}

#[genserver]
impl Watchdog {
    #[init]
    fn init(
        worker: WorkerClient,
        downs: mpsc::UnboundedSender<RemoteDown>,
        cx: &mut Context<Self>,
    ) -> Init<Self> {
        cx.monitor_remote(worker.client(), |down| WatchdogInfo::WorkerDown { down });
        Init::ok(Watchdog { downs })
    }

    #[info]
    fn worker_down(&mut self, down: RemoteDown) {
        let _ = self.downs.send(down);
    }
}

/// A two-node cluster with a worker registered as `worker` on node 1, and node 0's
/// client of it.
async fn worker_on_n1(test: &str) -> (TestCluster, WorkerRef, WorkerClient) {
    let cluster = TestCluster::start(test, 2).await;
    let worker = Worker::start().await.expect("the worker starts");
    cluster.node(1).register_global("worker", &worker).await.expect("worker registers");
    let client = within("the lookup", Worker::global(cluster.node(0), "worker")).await.expect("found");
    assert!(!client.client().is_local());
    (cluster, worker, client)
}

/// Waits until `node` keeps exactly `expected` remote monitors. The watched side's
/// count changes on Zenoh's callbacks, which signal nothing else: the loop yields to
/// them, under the deadline.
async fn wait_for_counts(what: &str, node: &genserver_runtime::cluster::Node, expected: MonitorCounts) {
    within(what, async {
        while node.remote_monitors() != expected {
            tokio::task::yield_now().await;
        }
    })
    .await;
}

fn counts(watching: usize, watched: usize) -> MonitorCounts {
    let mut counts = MonitorCounts::default();
    counts.watching = watching;
    counts.watched = watched;
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_monitor_gets_the_servers_exit_reason() {
    let (cluster, worker, client) = worker_on_n1("a_remote_monitor_gets_the_exit_reason").await;
    let monitor = client.client().monitor();
    wait_for_counts("n1 to watch the worker", cluster.node(1), counts(0, 1)).await;
    client.crash();
    let down = within("the DOWN", monitor).await;
    assert_eq!(down.server, client.client().holder());
    assert_eq!(down.server.node, "n1");
    assert_eq!(down.server.id, worker.id().as_u64());
    assert_eq!(down.reason, ExitReason::Panic("worker crashed on purpose".into()));
    wait_for_counts("both nodes to forget the monitor", cluster.node(1), counts(0, 0)).await;
    assert_eq!(cluster.node(0).remote_monitors(), counts(0, 0));
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitor_of_a_server_already_gone_fires_with_noproc() {
    let (cluster, worker, client) = worker_on_n1("a_monitor_of_a_server_already_gone").await;
    worker.stop(ExitReason::Normal, Duration::from_secs(5)).await.expect("the worker stops");
    let down = within("the DOWN", client.client().monitor()).await;
    assert_eq!(down.reason, ExitReason::NoProc);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitors_fire_with_noconnection_when_the_servers_node_stops() {
    let (cluster, _worker, client) = worker_on_n1("monitors_fire_with_noconnection").await;
    let first = client.client().monitor();
    let second = client.client().monitor();
    assert_ne!(first.id(), second.id(), "each monitor has its own reference");
    let mut events = cluster.node(0).events();
    cluster.node(1).stop().await.expect("n1 stops");
    next_matching("n1 down", &mut events, |event| *event == NodeEvent::Down("n1".into())).await;
    for monitor in [first, second] {
        let id = monitor.id();
        let down = within("the DOWN", monitor).await;
        assert_eq!((down.id, down.reason), (id, ExitReason::NoConnection));
    }
    // A monitor set up on a node known to be down fires at once.
    let late = client.client().monitor();
    assert_eq!(within("the late DOWN", late).await.reason, ExitReason::NoConnection);
    assert_eq!(cluster.node(0).remote_monitors(), counts(0, 0));
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_receives_a_remote_down_as_an_info_message() {
    let (cluster, _worker, client) = worker_on_n1("a_server_receives_a_remote_down").await;
    let (sender, mut downs) = mpsc::unbounded_channel();
    let _watchdog = Watchdog::start(client.clone(), sender).await.expect("the watchdog starts");
    assert_eq!(cluster.node(0).remote_monitors(), counts(1, 0));
    wait_for_counts("n1 to watch the worker", cluster.node(1), counts(0, 1)).await;
    client.crash();
    let down = within("the watchdog's DOWN", downs.recv()).await.expect("a DOWN");
    assert_eq!(down.server, client.client().holder());
    assert_eq!(down.reason, ExitReason::Panic("worker crashed on purpose".into()));
    assert!(downs.try_recv().is_err(), "one DOWN per monitor");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_monitor_leaves_nothing_on_either_node() {
    let (cluster, _worker, client) = worker_on_n1("a_removed_monitor_leaves_nothing").await;
    let monitors: Vec<_> = (0..20).map(|_| client.client().monitor()).collect();
    assert_eq!(cluster.node(0).remote_monitors(), counts(20, 0));
    wait_for_counts("n1 to watch 20 times", cluster.node(1), counts(0, 20)).await;
    for monitor in monitors {
        monitor.demonitor();
    }
    assert_eq!(cluster.node(0).remote_monitors(), counts(0, 0));
    wait_for_counts("n1 to stop watching", cluster.node(1), counts(0, 0)).await;
    // The worker still answers, and its exit now reaches nobody.
    assert_eq!(within("echo", client.echo(5)).await, Ok(5));
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitor_of_a_server_on_this_node_is_a_local_one() {
    let cluster = TestCluster::start("a_monitor_on_this_node", 1).await;
    let worker = Worker::start().await.expect("the worker starts");
    cluster.node(0).register_global("worker", &worker).await.expect("registers");
    let client: Client<Worker> =
        Worker::global(cluster.node(0), "worker").await.expect("found").client().clone();
    assert!(client.is_local());
    let monitor = client.monitor();
    worker.crash();
    let down = within("the DOWN", monitor).await;
    assert_eq!(down.server.node, "n0");
    assert_eq!(down.reason, ExitReason::Panic("worker crashed on purpose".into()));
    assert_eq!(cluster.node(0).remote_monitors(), counts(0, 0));
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_pending_when_the_servers_node_stops_fails_with_node_down() {
    let (cluster, _worker, client) = worker_on_n1("a_call_pending_when_the_node_stops").await;
    let held = tokio::spawn(client.hold().no_timeout().into_future());
    // The call reached the worker once a later one from the same node is answered.
    assert_eq!(within("echo", client.echo(1)).await, Ok(1));
    cluster.node(1).stop().await.expect("n1 stops");
    let outcome = within("the held call", held).await.expect("the call's task");
    assert_eq!(outcome, Err(CallError::NodeDown("n1".into())));
    cluster.stop().await;
}
