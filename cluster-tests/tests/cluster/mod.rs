//! A cluster of nodes inside one test process: [`TestCluster`], and what its tests use to
//! wait for the cluster without sleeping.
//!
//! Every node is a peer on 127.0.0.1 only, with multicast scouting off, so nothing leaves
//! the machine: node 0 listens on a free port, and each other node listens on its own
//! and connects to node 0; gossip completes the mesh. Every test gets its own cluster
//! name, so tests running side by side never see each other, and a short lease.
//!
//! Nodes need a multi-thread runtime: `#[tokio::test(flavor = "multi_thread",
//! worker_threads = 2)]`.
#![allow(dead_code)]

pub mod worker;

use std::collections::{BTreeSet, HashSet};
use std::future::IntoFuture;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use genserver_runtime::cluster::{Events, GlobalEvent, Node, NodeConfig, NodeError, NodeEvent};

/// The lease of every test node: a node that goes silent is down after about this long.
pub const LEASE: Duration = Duration::from_secs(1);

/// How long any one wait of a test may take before the test fails. Generous, as the
/// machine may be busy; a passing wait takes milliseconds to about two seconds.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Waits for `future` (or a call, which becomes one when awaited), failing the test if it
/// takes longer than [`DEADLINE`].
pub async fn within<F: IntoFuture>(what: &str, future: F) -> F::Output {
    match tokio::time::timeout(DEADLINE, future.into_future()).await {
        Ok(output) => output,
        Err(_) => panic!("timed out after {DEADLINE:?} waiting for {what}"),
    }
}

/// A cluster name no other test of this process uses, starting with `test`.
pub fn unique_cluster_name(test: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("{test}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A port on 127.0.0.1 that was free a moment ago and that no other node of this process
/// has been given. (The listener is dropped so that Zenoh can bind the port; another
/// program could take it meanwhile, which a test on a quiet machine does not meet.)
pub fn free_port() -> u16 {
    static GIVEN: LazyLock<Mutex<HashSet<u16>>> = LazyLock::new(Default::default);
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("bind a free port on 127.0.0.1")
            .port();
        if GIVEN.lock().expect("ports lock").insert(port) {
            return port;
        }
    }
}

/// The endpoint of `port` on 127.0.0.1.
pub fn endpoint(port: u16) -> String {
    format!("tcp/127.0.0.1:{port}")
}

/// The configuration of a test node of `cluster`: named `name`, listening on `listen`,
/// connecting to `connect` (the endpoint of another node), with the short lease.
pub fn node_config(cluster: &str, name: &str, listen: &str, connect: &[&str]) -> NodeConfig {
    let mut config = NodeConfig::new(cluster).name(name).listen(listen).lease(LEASE);
    for endpoint in connect {
        config = config.connect(*endpoint);
    }
    config
}

/// Starts a test node (see [`node_config`]) on a free port; returns it and where it
/// listens. A port taken between [`free_port`] and Zenoh's bind (by another program)
/// fails the open: the start is tried again on another port.
pub async fn start_node(cluster: &str, name: &str, connect: &[&str]) -> Result<(Node, String), NodeError> {
    start_node_with(cluster, name, connect, |config| config).await
}

/// Like [`start_node`], with the configuration passed through `configure` first.
pub async fn start_node_with(
    cluster: &str,
    name: &str,
    connect: &[&str],
    configure: impl Fn(NodeConfig) -> NodeConfig,
) -> Result<(Node, String), NodeError> {
    let mut attempts = 0;
    loop {
        let listen = endpoint(free_port());
        let start = Node::start(configure(node_config(cluster, name, &listen, connect)));
        match within(&format!("node {name} to start"), start).await {
            Err(NodeError::Open { source }) if attempts < 3 => {
                eprintln!("node {name} could not open on {listen} ({source}); trying another port");
                attempts += 1;
            }
            result => return result.map(|node| (node, listen)),
        }
    }
}

/// N nodes of one cluster, all up and all seeing each other.
pub struct TestCluster {
    /// The cluster's name, unique to the test.
    pub name: String,
    /// The nodes, named `n0`, `n1`, ...
    pub nodes: Vec<Node>,
    /// Where node 0 listens: the endpoint a node joining the cluster connects to.
    pub seed: String,
}

impl TestCluster {
    /// Starts `count` nodes of a new cluster and waits until each lists them all.
    pub async fn start(test: &str, count: usize) -> TestCluster {
        Self::start_named(unique_cluster_name(test), count).await
    }

    /// Starts `count` nodes of the cluster `name`, the first one connecting to
    /// `seed` if given, and waits until each of them lists every one of them.
    pub async fn start_named(name: String, count: usize) -> TestCluster {
        Self::start_joining(name, count, None).await
    }

    /// Like [`start_named`](Self::start_named), with node 0 connecting to `seed`
    /// (another cluster's node, for a test that shares one Zenoh network between
    /// clusters).
    pub async fn start_joining(name: String, count: usize, seed: Option<&str>) -> TestCluster {
        assert!(count > 0, "a cluster has at least one node");
        let seeds: Vec<&str> = seed.into_iter().collect();
        let (first, seed_endpoint) = start_node(&name, "n0", &seeds).await.expect("node n0 starts");
        let mut nodes = vec![first];
        for i in 1..count {
            let (node, _) =
                start_node(&name, &format!("n{i}"), &[&seed_endpoint]).await.expect("a node starts");
            nodes.push(node);
        }
        let cluster = TestCluster { name, nodes, seed: seed_endpoint };
        cluster.wait_until_all_see_all().await;
        cluster
    }

    /// The node `i`.
    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i]
    }

    /// The names of the nodes, in order.
    pub fn names(&self) -> Vec<String> {
        let names: BTreeSet<String> = self.nodes.iter().map(|node| node.name().to_owned()).collect();
        names.into_iter().collect()
    }

    /// Waits until every node lists exactly the cluster's nodes.
    pub async fn wait_until_all_see_all(&self) {
        let expected = self.names();
        for node in &self.nodes {
            let others: Vec<String> = expected.iter().filter(|name| *name != node.name()).cloned().collect();
            wait_for_up(node, &others).await;
            assert_eq!(node.nodes(), expected, "{} lists the cluster", node.name());
        }
    }

    /// Stops every node.
    pub async fn stop(self) {
        for node in self.nodes {
            node.stop().await.expect("a node stops");
        }
    }
}

/// Waits until `node` has seen every node of `names` up, by its events.
pub async fn wait_for_up(node: &Node, names: &[String]) {
    let mut missing: BTreeSet<String> = names.iter().cloned().collect();
    let mut events = node.events();
    let what = format!("{} to see {names:?} up", node.name());
    within(&what, async {
        while !missing.is_empty() {
            match events.next().await {
                Some(NodeEvent::Up(name)) => {
                    missing.remove(&name);
                }
                Some(NodeEvent::Down(name)) => {
                    assert!(!names.contains(&name), "{name} went down while the cluster formed");
                }
                Some(other) => panic!("unexpected node event {other:?}"),
                None => panic!("{}'s events ended", node.name()),
            }
        }
    })
    .await;
}

/// Reads `events` until one matches, failing the test after the deadline or if the
/// stream ends; returns the matching event.
pub async fn next_matching<E: std::fmt::Debug>(
    what: &str,
    events: &mut Events<E>,
    matches: impl Fn(&E) -> bool,
) -> E {
    within(what, async {
        loop {
            match events.next().await {
                Some(event) if matches(&event) => return event,
                Some(_) => continue,
                None => panic!("the events ended while waiting for {what}"),
            }
        }
    })
    .await
}

/// Waits until `events` says `name` is registered, and returns the holder's node.
pub async fn wait_registered(events: &mut Events<GlobalEvent>, name: &str) -> String {
    let what = format!("{name} to be registered");
    match next_matching(
        &what,
        events,
        |event| matches!(event, GlobalEvent::Registered { name: n, .. } if n == name),
    )
    .await
    {
        GlobalEvent::Registered { holder, .. } => holder.node,
        other => unreachable!("matched {other:?}"),
    }
}

/// Waits until `events` says a claim on `name` went, and returns its holder's node.
pub async fn wait_unregistered(events: &mut Events<GlobalEvent>, name: &str) -> String {
    let what = format!("{name} to be unregistered");
    match next_matching(
        &what,
        events,
        |event| matches!(event, GlobalEvent::Unregistered { name: n, .. } if n == name),
    )
    .await
    {
        GlobalEvent::Unregistered { holder, .. } => holder.node,
        other => unreachable!("matched {other:?}"),
    }
}
