//! Nodes of a cluster in one test process: membership and node events, node names,
//! global names and their conflicts, and the isolation of clusters from each other.
//!
//! Every wait is on a node's events, under a deadline; nothing sleeps.

mod cluster;

use cluster::{
    TestCluster, next_matching, start_node, start_node_with, unique_cluster_name, wait_registered,
    wait_unregistered, within,
};
use genserver_runtime::cluster::{
    Events, GlobalEvent, GlobalNameError, NameConflict, Node, NodeConfig, NodeError, NodeEvent,
};
use genserver_runtime::prelude::*;

/// A server that only needs to exist: something to register under a global name.
pub struct Holder;

#[genserver(remote)]
impl Holder {
    /// Proves the server answers.
    #[call]
    pub fn ping(&self) -> String {
        "pong".to_owned()
    }
}

async fn holder() -> HolderRef {
    Holder::start(Holder).await.expect("the holder starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_sees_every_other() {
    let cluster = TestCluster::start("every_node_sees_every_other", 3).await;
    for node in &cluster.nodes {
        assert_eq!(node.nodes(), ["n0", "n1", "n2"]);
        assert_eq!(node.cluster(), cluster.name);
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_a_taken_name_is_refused() {
    let cluster = TestCluster::start("a_node_with_a_taken_name_is_refused", 2).await;
    match start_node(&cluster.name, "n1", &[&cluster.seed]).await {
        Err(NodeError::NameTaken { name }) => assert_eq!(name, "n1"),
        other => panic!("expected NameTaken, got {other:?}"),
    }
    // The refused node never joined.
    assert_eq!(cluster.node(0).nodes(), ["n0", "n1"]);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_node_is_down_for_the_others() {
    let cluster = TestCluster::start("a_stopped_node_is_down_for_the_others", 3).await;
    let mut seen_by_0 = cluster.node(0).events();
    let mut seen_by_2 = cluster.node(2).events();
    cluster.node(1).stop().await.expect("n1 stops");
    let down = |event: &NodeEvent| matches!(event, NodeEvent::Down(name) if name == "n1");
    next_matching("n0 to see n1 down", &mut seen_by_0, down).await;
    next_matching("n2 to see n1 down", &mut seen_by_2, down).await;
    assert_eq!(cluster.node(0).nodes(), ["n0", "n2"]);
    assert_eq!(cluster.node(2).nodes(), ["n0", "n2"]);
    // A stopped node is in no cluster, and stopping it again does nothing.
    assert!(cluster.node(1).nodes().is_empty());
    assert!(cluster.node(1).stop().await.is_ok());
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_name_is_free_again_once_its_node_stopped() {
    let cluster = TestCluster::start("a_node_name_is_free_again_once_its_node_stopped", 2).await;
    let mut events = cluster.node(0).events();
    cluster.node(1).stop().await.expect("n1 stops");
    next_matching("n0 to see n1 down", &mut events, |e| matches!(e, NodeEvent::Down(n) if n == "n1")).await;
    let (again, _) = start_node(&cluster.name, "n1", &[&cluster.seed]).await.expect("n1 starts again");
    next_matching("n0 to see n1 up again", &mut events, |e| matches!(e, NodeEvent::Up(n) if n == "n1")).await;
    again.stop().await.expect("n1 stops");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_global_name_is_found_from_another_node() {
    let cluster = TestCluster::start("a_global_name_is_found_from_another_node", 2).await;
    let mut seen_by_1 = cluster.node(1).global_events();
    let server = holder().await;
    cluster.node(0).register_global("config", &server).await.expect("config registers");
    assert_eq!(wait_registered(&mut seen_by_1, "config").await, "n0");
    let found = cluster.node(1).whereis_global("config").await.expect("n1 finds config");
    assert_eq!((found.node.as_str(), found.id), ("n0", server.id().as_u64()));
    let local = cluster.node(0).whereis_global("config").await.expect("n0 finds config");
    assert_eq!(local, found);
    assert_eq!(cluster.node(1).whereis_global("nobody").await, None);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_global_name_is_refused() {
    let cluster = TestCluster::start("a_taken_global_name_is_refused", 2).await;
    let mut seen_by_1 = cluster.node(1).global_events();
    let first = holder().await;
    cluster.node(0).register_global("config", &first).await.expect("config registers");
    wait_registered(&mut seen_by_1, "config").await;

    let second = holder().await;
    match cluster.node(1).register_global("config", &second).await {
        Err(GlobalNameError::AlreadyRegistered { name, holder }) => {
            assert_eq!(
                (name.as_str(), holder.node.as_str(), holder.id),
                ("config", "n0", first.id().as_u64())
            );
        }
        other => panic!("expected AlreadyRegistered from n1, got {other:?}"),
    }
    match cluster.node(0).register_global("config", &second).await {
        Err(GlobalNameError::AlreadyRegistered { holder, .. }) => assert_eq!(holder.id, first.id().as_u64()),
        other => panic!("expected AlreadyRegistered from n0, got {other:?}"),
    }
    // The refused registrations left nothing behind, and the holder is still the first.
    let found = cluster.node(1).whereis_global("config").await.expect("config is held");
    assert_eq!(found.id, first.id().as_u64());
    assert!(second.is_alive());
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_global_name_goes_when_its_server_exits() {
    let cluster = TestCluster::start("a_global_name_goes_when_its_server_exits", 2).await;
    let mut seen_by_1 = cluster.node(1).global_events();
    let server = holder().await;
    cluster.node(0).register_global("config", &server).await.expect("config registers");
    wait_registered(&mut seen_by_1, "config").await;

    server.stop(ExitReason::Normal, Duration::from_secs(5)).await.expect("the holder stops");
    assert_eq!(wait_unregistered(&mut seen_by_1, "config").await, "n0");
    assert_eq!(cluster.node(1).whereis_global("config").await, None);
    assert_eq!(cluster.node(0).whereis_global("config").await, None);

    // The name is free: another server takes it.
    let next = holder().await;
    cluster.node(1).register_global("config", &next).await.expect("config registers again");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unregistered_global_name_goes_and_its_server_stays() {
    let cluster = TestCluster::start("an_unregistered_global_name_goes_and_its_server_stays", 2).await;
    let mut seen_by_1 = cluster.node(1).global_events();
    let server = holder().await;
    cluster.node(0).register_global("config", &server).await.expect("config registers");
    wait_registered(&mut seen_by_1, "config").await;

    assert!(cluster.node(0).unregister_global("config"));
    assert!(!cluster.node(0).unregister_global("config"));
    assert!(!cluster.node(1).unregister_global("config"), "only the holder's node unregisters");
    wait_unregistered(&mut seen_by_1, "config").await;
    assert_eq!(cluster.node(1).whereis_global("config").await, None);
    assert_eq!(server.ping().await.as_deref(), Ok("pong"));
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_node_releases_its_global_names() {
    let cluster = TestCluster::start("a_stopped_node_releases_its_global_names", 2).await;
    let mut seen_by_1 = cluster.node(1).global_events();
    let server = holder().await;
    cluster.node(0).register_global("config", &server).await.expect("config registers");
    wait_registered(&mut seen_by_1, "config").await;

    cluster.node(0).stop().await.expect("n0 stops");
    wait_unregistered(&mut seen_by_1, "config").await;
    assert_eq!(cluster.node(1).whereis_global("config").await, None);
    assert!(server.is_alive(), "a node's stop leaves its servers running");
    match cluster.node(0).register_global("other", &server).await {
        Err(GlobalNameError::NodeStopped) => {}
        other => panic!("expected NodeStopped, got {other:?}"),
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_and_exited_registrations_are_refused() {
    let cluster = TestCluster::start("invalid_and_exited_registrations_are_refused", 1).await;
    let server = holder().await;
    for bad in ["", "a/b", "*", "x y"] {
        match cluster.node(0).register_global(bad, &server).await {
            Err(GlobalNameError::InvalidName(invalid)) => assert_eq!(invalid.name, bad),
            other => panic!("expected InvalidName for {bad:?}, got {other:?}"),
        }
    }
    server.stop(ExitReason::Normal, Duration::from_secs(5)).await.expect("the holder stops");
    match cluster.node(0).register_global("late", &server).await {
        Err(GlobalNameError::NoServer) => {}
        other => panic!("expected NoServer, got {other:?}"),
    }
    assert_eq!(cluster.node(0).whereis_global("late").await, None);
    cluster.stop().await;
}

/// Two nodes of one cluster that do not know each other each register `config` (a
/// partition), then a third node connects to both and gossip joins them (the partition
/// heals). Returns the nodes (early, late, bridge), each side's server, and the events of
/// the early node, opened before the partition healed.
async fn heal_a_partition(
    test: &str,
    policy: NameConflict,
) -> (Vec<Node>, HolderRef, HolderRef, Events<GlobalEvent>) {
    let name = unique_cluster_name(test);
    let start = |node: &'static str, connect: Vec<String>| {
        let name = name.clone();
        async move {
            let connect: Vec<&str> = connect.iter().map(String::as_str).collect();
            let configure = |config: NodeConfig| config.on_name_conflict(policy);
            start_node_with(&name, node, &connect, configure).await.expect("a node starts")
        }
    };
    let (early, early_endpoint) = start("early", vec![]).await;
    let (late, late_endpoint) = start("late", vec![]).await;
    let (first, second) = (holder().await, holder().await);
    early.register_global("config", &first).await.expect("early registers config alone");
    late.register_global("config", &second).await.expect("late registers config alone");

    let mut seen_by_late = late.global_events();
    let seen_by_early = early.global_events();
    let (bridge, _) = start("bridge", vec![early_endpoint, late_endpoint]).await;
    let lost = next_matching(
        "late to lose config",
        &mut seen_by_late,
        |event| matches!(event, GlobalEvent::Lost { name, .. } if name == "config"),
    )
    .await;
    match lost {
        GlobalEvent::Lost { loser, winner, .. } => {
            assert_eq!((loser.node.as_str(), loser.id), ("late", second.id().as_u64()));
            assert_eq!((winner.node.as_str(), winner.id), ("early", first.id().as_u64()));
        }
        other => unreachable!("matched {other:?}"),
    }
    (vec![early, late, bridge], first, second, seen_by_early)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healed_partition_keeps_the_first_registration_and_kills_the_other() {
    let (nodes, first, second, mut seen_by_early) =
        heal_a_partition("a_healed_partition_keeps_the_first_registration", NameConflict::KillLoser).await;
    let reason = within("the losing server to exit", second.exited()).await;
    match &reason {
        ExitReason::ShutdownWith(detail) => {
            assert!(detail.contains("config") && detail.contains("early"), "{detail}")
        }
        other => panic!("expected a shutdown with the conflict, got {other:?}"),
    }
    assert!(first.is_alive());
    // The early node saw the losing claim come and go; every node finds the winner.
    let gone = |event: &GlobalEvent| matches!(event, GlobalEvent::Unregistered { name, holder } if name == "config" && holder.node == "late");
    next_matching("early to see the losing claim go", &mut seen_by_early, gone).await;
    for node in &nodes {
        let found = node.whereis_global("config").await.expect("config is held");
        assert_eq!(
            (found.node.as_str(), found.id),
            ("early", first.id().as_u64()),
            "as {} sees it",
            node.name()
        );
    }
    for node in nodes {
        node.stop().await.expect("a node stops");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_can_leave_the_loser_running_without_the_name() {
    let (nodes, first, second, _) =
        heal_a_partition("a_conflict_can_leave_the_loser_running", NameConflict::UnregisterLoser).await;
    // The loser's node no longer holds the name, and its server still answers.
    assert!(!nodes[1].unregister_global("config"));
    assert_eq!(second.ping().await.as_deref(), Ok("pong"));
    let found = nodes[1].whereis_global("config").await.expect("config is held");
    assert_eq!(found.id, first.id().as_u64());
    for node in nodes {
        node.stop().await.expect("a node stops");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clusters_with_different_names_do_not_see_each_other() {
    // Cluster b's first node connects to cluster a's: one Zenoh network, two clusters.
    let a = TestCluster::start("clusters_apart_a", 2).await;
    let b = TestCluster::start_joining(unique_cluster_name("clusters_apart_b"), 2, Some(&a.seed)).await;
    // Same node names in both: neither was refused, and each lists only its own.
    for node in a.nodes.iter().chain(&b.nodes) {
        assert_eq!(node.nodes(), ["n0", "n1"], "{node:?}");
    }
    // Same global name in both.
    let (in_a, in_b) = (holder().await, holder().await);
    let (mut seen_in_a, mut seen_in_b) = (a.node(1).global_events(), b.node(1).global_events());
    a.node(0).register_global("config", &in_a).await.expect("a registers config");
    b.node(0).register_global("config", &in_b).await.expect("b registers config");
    wait_registered(&mut seen_in_a, "config").await;
    wait_registered(&mut seen_in_b, "config").await;
    assert_eq!(b.node(1).whereis_global("config").await.map(|found| found.id), Some(in_b.id().as_u64()));
    assert_eq!(a.node(1).whereis_global("config").await.map(|found| found.id), Some(in_a.id().as_u64()));
    // A node that stops in one cluster is no event in the other.
    let mut seen_by_b = b.node(1).events();
    let mut seen_by_a = a.node(1).events();
    b.node(0).stop().await.expect("b's n0 stops");
    next_matching("b's n1 to see n0 down", &mut seen_by_b, |e| matches!(e, NodeEvent::Down(n) if n == "n0"))
        .await;
    assert_eq!(seen_by_a.try_next(), Some(NodeEvent::Up("n0".into())), "a's stream opens with its own n0");
    assert_eq!(seen_by_a.try_next(), None, "b's stop is no event in a");
    assert_eq!(a.node(1).nodes(), ["n0", "n1"]);
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_node_on_a_current_thread_runtime_is_refused() {
    match Node::start(NodeConfig::new("current-thread")).await {
        Err(NodeError::NeedsMultiThreadRuntime) => {}
        other => panic!("expected NeedsMultiThreadRuntime, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_registrations_of_one_name_on_one_node_leave_one_holder_alive() {
    let cluster = TestCluster::start("two_registrations_of_one_name_on_one_node", 2).await;
    let mut seen_by_0 = cluster.node(0).global_events();
    let (a, b) = (holder().await, holder().await);
    let node = cluster.node(0);
    let (for_a, for_b) = tokio::join!(node.register_global("config", &a), node.register_global("config", &b));
    let (winner, refused) = match (for_a, for_b) {
        (Ok(()), Err(GlobalNameError::AlreadyRegistered { .. })) => (a, b),
        (Err(GlobalNameError::AlreadyRegistered { .. }), Ok(())) => (b, a),
        other => panic!("expected one registration and one refusal, got {other:?}"),
    };
    // The refused registration may have declared its claim before it was refused. Its
    // node would have seen that claim before a later one (its own claims reach it in
    // order), and a claim of its own never beats the name it holds: up to a later
    // registration's event, no Lost.
    let marker = holder().await;
    node.register_global("marker", &marker).await.expect("marker registers");
    let is_marker =
        |event: &GlobalEvent| matches!(event, GlobalEvent::Registered { name, .. } if name == "marker");
    within("the marker to be seen", async {
        loop {
            match seen_by_0.next().await {
                Some(event) if is_marker(&event) => break,
                Some(GlobalEvent::Lost { name, loser, winner }) => {
                    panic!("{name}: {loser} lost to {winner}, a claim of its own node")
                }
                Some(_) => continue,
                None => panic!("n0's events ended"),
            }
        }
    })
    .await;
    assert!(winner.is_alive() && refused.is_alive());
    let found = cluster.node(1).whereis_global("config").await.expect("config is held");
    assert_eq!(found.id, winner.id().as_u64());
    cluster.stop().await;
}
