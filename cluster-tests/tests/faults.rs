//! Faults with real processes: a node in a child process of this test, killed with
//! SIGKILL, hung with SIGSTOP and resumed with SIGCONT, or restarted under its name,
//! watched from a node in the test process.
//!
//! The child is this test binary run again with [`CHILD_ARGS`] and [`CHILD`] set: it
//! starts a node, a `Worker` registered as `victim` and in the group `workers`, prints
//! `ready`, and runs until its standard input closes (so it never outlives the test).
//! Nodes run with the test cluster's one-second lease: a hung node is down about a
//! second after it stops answering.
//! Every wait is on a node event, a DOWN, a reply or a line of the child, under a
//! deadline; nothing sleeps.

mod cluster;

use std::future::IntoFuture;
use std::process::Stdio;

use cluster::worker::{Worker, WorkerClient};
use cluster::{endpoint, free_port, next_matching, node_config, start_node, unique_cluster_name, within};
use genserver_runtime::cluster::{GlobalEvent, GroupEvent, Node, NodeEvent};
use genserver_runtime::prelude::*;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

/// The environment variable that makes this binary a child node: `<cluster> <name> <seed>`.
const CHILD: &str = "GENSERVER_FAULTS_CHILD";

/// The arguments that make a copy of this test binary run [`child_node_process`] only.
const CHILD_ARGS: [&str; 4] = ["--ignored", "--exact", "child_node_process", "--nocapture"];

/// A node in a child process.
struct ChildNode {
    name: String,
    process: Child,
    /// Closed to make the child leave the cluster and exit.
    stdin: Option<ChildStdin>,
}

impl ChildNode {
    /// Starts the child node `name` of `cluster`, connecting to `seed`, and waits until it
    /// says it is ready.
    async fn start(cluster: &str, name: &str, seed: &str) -> ChildNode {
        let mut process = Command::new(std::env::current_exe().expect("this test binary"))
            .args(CHILD_ARGS)
            .env(CHILD, format!("{cluster} {name} {seed}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the child node's process starts");
        let stdout = process.stdout.take().expect("the child's stdout");
        let mut lines = BufReader::new(stdout).lines();
        within(&format!("{name} to be ready"), async {
            loop {
                match lines.next_line().await.expect("read the child's stdout") {
                    Some(line) if line == "ready" => return,
                    Some(_) => continue,
                    None => panic!("{name} exited before it was ready"),
                }
            }
        })
        .await;
        // The rest of its output is not read: drain it so that the child never blocks.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let stdin = process.stdin.take();
        ChildNode { name: name.to_owned(), process, stdin }
    }

    /// Sends `signal` (`KILL`, `STOP`, `CONT`) to the child's process.
    async fn signal(&self, signal: &str) {
        let pid = self.process.id().expect("the child is running").to_string();
        let status = Command::new("kill").arg(format!("-{signal}")).arg(&pid).status().await;
        assert!(status.expect("run kill").success(), "kill -{signal} {pid}");
    }

    /// Waits for the child to exit after a SIGKILL: it was killed by the signal.
    async fn wait_killed(mut self) {
        use std::os::unix::process::ExitStatusExt;
        let status = within("the killed child to exit", self.process.wait()).await.expect("wait");
        assert_eq!(status.signal(), Some(9), "{} was killed: {status}", self.name);
    }

    /// Closes the child's input, so that it stops its node and exits, and waits for it.
    async fn stop(mut self) {
        drop(self.stdin.take());
        let status = within("the child to exit", self.process.wait()).await.expect("wait");
        assert!(status.success(), "{} exited cleanly: {status}", self.name);
    }
}

/// The test's own node, `n0`, listening for the children, with its event streams open
/// before any child starts.
struct Watcher {
    cluster: String,
    node: Node,
    seed: String,
    nodes: genserver_runtime::cluster::Events<NodeEvent>,
    names: genserver_runtime::cluster::Events<GlobalEvent>,
    groups: genserver_runtime::cluster::Events<GroupEvent>,
}

impl Watcher {
    async fn start(test: &str) -> Watcher {
        let cluster = unique_cluster_name(test);
        let (node, seed) = start_node(&cluster, "n0", &[]).await.expect("n0 starts");
        let (nodes, names, groups) = (node.events(), node.global_events(), node.group_events());
        Watcher { cluster, node, seed, nodes, names, groups }
    }

    async fn child(&self, name: &str) -> ChildNode {
        ChildNode::start(&self.cluster, name, &self.seed).await
    }

    async fn wait_up(&mut self, name: &str) {
        let what = format!("{name} up");
        next_matching(&what, &mut self.nodes, |event| *event == NodeEvent::Up(name.into())).await;
    }

    async fn wait_down(&mut self, name: &str) {
        let what = format!("{name} down");
        next_matching(&what, &mut self.nodes, |event| *event == NodeEvent::Down(name.into())).await;
    }

    /// Waits until `victim` is registered on `node`, and returns its client.
    async fn victim_on(&mut self, node: &str) -> WorkerClient {
        let what = format!("victim registered on {node}");
        next_matching(&what, &mut self.names, |event| {
            matches!(event, GlobalEvent::Registered { name, holder } if name == "victim" && holder.node == node)
        })
        .await;
        let client = within("the lookup", Worker::global(&self.node, "victim")).await.expect("found");
        assert_eq!(client.client().holder().node, node);
        client
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_fires_its_monitors_fails_its_calls_and_loses_its_names() {
    let mut watcher = Watcher::start("a_killed_node").await;
    let child = watcher.child("c1").await;
    watcher.wait_up("c1").await;
    let client = watcher.victim_on("c1").await;
    next_matching("c1's worker in workers", &mut watcher.groups, |event| {
        matches!(event, GroupEvent::Joined { group, member } if group == "workers" && member.node == "c1")
    })
    .await;
    let monitor = client.client().monitor();
    let held = tokio::spawn(client.hold().no_timeout().into_future());
    // Calls from one node are handled in order: the held call has reached the worker.
    assert_eq!(within("echo", client.echo(1)).await, Ok(1));

    child.signal("KILL").await;
    watcher.wait_down("c1").await;
    let down = within("the DOWN", monitor).await;
    assert_eq!(down.reason, ExitReason::NoConnection);
    assert_eq!(within("the held call", held).await.expect("its task"), Err(CallError::NodeDown("c1".into())));
    // A call to a node known to be dead fails at once.
    assert_eq!(client.echo(2).await, Err(CallError::NodeDown("c1".into())));
    next_matching(
        "victim unregistered",
        &mut watcher.names,
        |event| matches!(event, GlobalEvent::Unregistered { name, .. } if name == "victim"),
    )
    .await;
    assert_eq!(watcher.node.whereis_global("victim").await, None);
    next_matching(
        "c1's worker left workers",
        &mut watcher.groups,
        |event| matches!(event, GroupEvent::Left { member, .. } if member.node == "c1"),
    )
    .await;
    assert!(watcher.node.group_members("workers").is_empty());
    assert_eq!(watcher.node.remote_monitors().watching, 0);
    child.wait_killed().await;
    watcher.node.stop().await.expect("n0 stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_node_is_down_at_its_lease_and_rejoins_when_it_resumes() {
    let mut watcher = Watcher::start("a_hung_node").await;
    let child = watcher.child("c1").await;
    watcher.wait_up("c1").await;
    let client = watcher.victim_on("c1").await;
    let monitor = client.client().monitor();
    let held = tokio::spawn(client.hold().no_timeout().into_future());
    assert_eq!(within("echo", client.echo(1)).await, Ok(1));

    child.signal("STOP").await;
    // No frame comes from a stopped process: only the lease can tell.
    watcher.wait_down("c1").await;
    assert_eq!(within("the DOWN", monitor).await.reason, ExitReason::NoConnection);
    assert_eq!(within("the held call", held).await.expect("its task"), Err(CallError::NodeDown("c1".into())));

    child.signal("CONT").await;
    watcher.wait_up("c1").await;
    // The same server, still running: its name and a new monitor work again.
    let again = watcher.victim_on("c1").await;
    assert_eq!(again.client().holder(), client.client().holder());
    let monitor = again.client().monitor();
    assert_eq!(within("echo after resuming", again.echo(3)).await, Ok(3));
    again.crash();
    assert_eq!(
        within("the new DOWN", monitor).await.reason,
        ExitReason::Panic("worker crashed on purpose".into())
    );
    child.stop().await;
    watcher.node.stop().await.expect("n0 stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_is_a_new_incarnation_whose_servers_can_be_monitored() {
    let mut watcher = Watcher::start("a_restarted_node").await;
    let first = watcher.child("c1").await;
    watcher.wait_up("c1").await;
    let old = watcher.victim_on("c1").await;
    let old_monitor = old.client().monitor();
    first.signal("KILL").await;
    watcher.wait_down("c1").await;
    assert_eq!(within("the old DOWN", old_monitor).await.reason, ExitReason::NoConnection);
    first.wait_killed().await;

    let second = watcher.child("c1").await;
    watcher.wait_up("c1").await;
    let new = watcher.victim_on("c1").await;
    let new_monitor = new.client().monitor();
    assert_eq!(within("echo on the new incarnation", new.echo(4)).await, Ok(4));
    new.crash();
    assert_eq!(
        within("the new DOWN", new_monitor).await.reason,
        ExitReason::Panic("worker crashed on purpose".into())
    );
    // The old monitor fired once and for all: nothing of it is left.
    assert_eq!(watcher.node.remote_monitors().watching, 0);
    second.stop().await;
    watcher.node.stop().await.expect("n0 stops");
}

/// Not a test of its own: the body of a child node's process, which the tests above start
/// with [`CHILD_ARGS`] and [`CHILD`] set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs only as a child process of the fault tests"]
async fn child_node_process() {
    let child = std::env::var(CHILD).expect("started as a child node");
    let mut parts = child.split(' ');
    let (cluster, name, seed) = match (parts.next(), parts.next(), parts.next()) {
        (Some(cluster), Some(name), Some(seed)) => (cluster, name, seed),
        _ => panic!("{CHILD} is `<cluster> <name> <seed>`, not {child:?}"),
    };
    let listen = endpoint(free_port());
    let node =
        Node::start(node_config(cluster, name, &listen, &[seed])).await.expect("the child node starts");
    let worker = Worker::start().await.expect("the worker starts");
    node.register_global("victim", &worker).await.expect("victim registers");
    node.join_group("workers", &worker).await.expect("the worker joins");
    println!("ready");
    // Runs until the test closes this process's input (or the process is killed).
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(_)) = stdin.next_line().await {}
    node.stop().await.expect("the child node stops");
}
