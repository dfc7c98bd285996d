//! Process groups across nodes (Erlang's `pg`): members seen from every node, a group
//! cast reaching each member once, `multi_call` over a group, and members leaving on
//! leave, exit and node stop.
//!
//! Every wait is on a node's group events or a reply, under a deadline; nothing sleeps.

mod cluster;

use cluster::{TestCluster, next_matching, within};
use std::time::Duration;

use genserver_runtime::cluster::{Events, GlobalName, GroupEvent, Node};
use genserver_runtime::multi_call;
use genserver_runtime::prelude::*;

/// A group member that says where it runs and counts the bumps it got.
pub struct Worker {
    node: String,
    bumps: u64,
}

#[genserver(remote)]
impl Worker {
    #[init]
    fn init(node: String) -> Init<Self> {
        Init::ok(Worker { node, bumps: 0 })
    }

    /// Where the worker runs, and how many bumps it got.
    #[call]
    pub fn report(&self) -> (String, u64) {
        (self.node.clone(), self.bumps)
    }

    /// Counts one bump.
    #[cast]
    pub fn bump(&mut self) {
        self.bumps += 1;
    }
}

/// Starts a worker on `node` and has it join `workers`.
async fn worker_on(node: &Node) -> WorkerRef {
    let worker = Worker::start(node.name().to_owned()).await.expect("a worker starts");
    within("the join", node.join_group("workers", &worker)).await.expect("the worker joins");
    worker
}

/// Where `worker`, running on `node`, is listed as a member.
fn member(node: &Node, worker: &WorkerRef) -> GlobalName {
    node.group_members("workers")
        .into_iter()
        .find(|member| member.node == node.name() && member.id == worker.id().as_u64())
        .expect("a member is listed on its own node")
}

/// Waits until `events` has shown every one of `expected` join (or, with `joined` false,
/// leave), in any order.
async fn wait_for(events: &mut Events<GroupEvent>, joined: bool, expected: &[GlobalName]) {
    let mut missing: Vec<GlobalName> = expected.to_vec();
    while !missing.is_empty() {
        let event = next_matching("a group change", events, |event| {
            matches!(event, GroupEvent::Joined { group, .. } if joined && group == "workers")
                || matches!(event, GroupEvent::Left { group, .. } if !joined && group == "workers")
        })
        .await;
        if let GroupEvent::Joined { member, .. } | GroupEvent::Left { member, .. } = event {
            missing.retain(|wanted| *wanted != member);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_on_two_nodes_are_seen_and_called_from_a_third() {
    let cluster = TestCluster::start("members_are_seen_from_a_third", 3).await;
    let mut events = cluster.node(2).group_events();
    let (a, b) = (worker_on(cluster.node(0)).await, worker_on(cluster.node(1)).await);
    let expected = vec![member(cluster.node(0), &a), member(cluster.node(1), &b)];
    wait_for(&mut events, true, &expected).await;
    assert_eq!(cluster.node(2).group_members("workers"), expected);
    assert_eq!(cluster.node(2).group_members_of::<Worker>("workers"), expected);
    let members = Worker::group(cluster.node(2), "workers");
    let answers = within("the multi call", multi_call(members, Duration::from_secs(5), |w| w.report())).await;
    let answers: Vec<_> = answers.into_iter().map(|(_, answer)| answer).collect();
    assert_eq!(answers, vec![Ok(("n0".to_owned(), 0)), Ok(("n1".to_owned(), 0))]);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_cast_reaches_every_member_once() {
    let cluster = TestCluster::start("a_group_cast_reaches_every_member", 3).await;
    let mut events = cluster.node(2).group_events();
    let workers = [
        (0, worker_on(cluster.node(0)).await),
        (0, worker_on(cluster.node(0)).await),
        (1, worker_on(cluster.node(1)).await),
    ];
    let expected: Vec<GlobalName> =
        workers.iter().map(|(at, worker)| member(cluster.node(*at), worker)).collect();
    wait_for(&mut events, true, &expected).await;
    for _ in 0..3 {
        cluster.node(2).cast_group::<Worker>("workers", WorkerRequest::Bump {});
    }
    // The calls travel after the casts from the same node, so they see every bump.
    let members = Worker::group(cluster.node(2), "workers");
    let answers = within("the multi call", multi_call(members, Duration::from_secs(5), |w| w.report())).await;
    let bumps: Vec<u64> = answers.into_iter().map(|(_, answer)| answer.expect("a report").1).collect();
    assert_eq!(bumps, vec![3, 3, 3]);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_leave_on_leave_on_exit_and_with_their_node() {
    let cluster = TestCluster::start("members_leave", 3).await;
    let mut events = cluster.node(2).group_events();
    let (a, b, c) = (
        worker_on(cluster.node(0)).await,
        worker_on(cluster.node(1)).await,
        worker_on(cluster.node(1)).await,
    );
    let (ma, mb, mc) =
        (member(cluster.node(0), &a), member(cluster.node(1), &b), member(cluster.node(1), &c));
    wait_for(&mut events, true, &[ma.clone(), mb.clone(), mc.clone()]).await;

    assert!(cluster.node(1).leave_group("workers", &b));
    assert!(!cluster.node(1).leave_group("workers", &b), "left once");
    wait_for(&mut events, false, &[mb]).await;
    assert!(b.is_alive(), "leaving does not stop the server");

    c.stop(ExitReason::Normal, std::time::Duration::from_secs(5)).await.expect("c stops");
    wait_for(&mut events, false, &[mc]).await;

    cluster.node(0).stop().await.expect("n0 stops");
    wait_for(&mut events, false, &[ma]).await;
    assert_eq!(cluster.node(2).group_members("workers"), vec![]);
    cluster.stop().await;
}
