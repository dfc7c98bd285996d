//! Remote calls and casts between nodes of one cluster, through `#[genserver(remote)]`'s
//! client: replies, the order of a node's requests, timeouts and late replies, exits,
//! node death and unreadable requests.
//!
//! Every wait is on a reply, a node's events or a server's exit, under a deadline;
//! nothing sleeps.

mod cluster;

use std::collections::HashMap;
use std::future::IntoFuture;
use std::time::Duration;

use cluster::{TestCluster, next_matching, within};
use genserver_runtime::cluster::{Client, GlobalName, NodeEvent};
use genserver_runtime::prelude::*;

/// The guide's key-value server, which also says which node runs it, keeps a log of
/// pushed numbers, and can hold a reply back.
pub struct Store {
    node: String,
    values: HashMap<String, String>,
    log: Vec<u64>,
    held: Option<ReplyTo<u64>>,
    late_reply_refused: Option<bool>,
}

#[genserver(remote)]
impl Store {
    #[init]
    fn init(node: String) -> Init<Self> {
        Init::ok(Store {
            node,
            values: HashMap::new(),
            log: Vec::new(),
            held: None,
            late_reply_refused: None,
        })
    }

    /// The value of `key`.
    #[call]
    pub fn get(&self, key: String) -> Option<String> {
        self.values.get(&key).cloned()
    }

    /// Sets `key`, and says which node did.
    #[call]
    pub fn set(&mut self, key: String, value: String) -> String {
        self.values.insert(key, value);
        self.node.clone()
    }

    /// Appends `n` to the log.
    #[cast]
    pub fn push(&mut self, n: u64) {
        self.log.push(n);
    }

    /// The log so far.
    #[call]
    pub fn log(&self) -> Vec<u64> {
        self.log.clone()
    }

    /// Keeps the reply back until `release`.
    #[call]
    pub fn hold(&mut self, from: ReplyTo<u64>) -> NoReply {
        self.held = Some(from);
        NoReply::ok()
    }

    /// Answers the held call with `value`, noting whether its caller was gone.
    #[cast]
    pub fn release(&mut self, value: u64) {
        if let Some(held) = self.held.take() {
            self.late_reply_refused = Some(held.try_reply(value).is_err());
        }
    }

    /// Whether the last `release` found its caller gone.
    #[call]
    pub fn late_reply_refused(&self) -> Option<bool> {
        self.late_reply_refused
    }

    /// Panics while handling a call.
    #[call]
    pub fn crash(&self) -> u64 {
        panic!("store crashed on purpose")
    }
}

/// Another remote server, to address a `Store` as if it were one of these.
pub struct Other;

#[genserver(remote)]
impl Other {
    /// Never reached through a `Store`'s id.
    #[call]
    pub fn get(&self, key: String) -> Option<String> {
        Some(key)
    }
}

/// A cluster of `count` nodes with a `Store` registered as `store` on node 0.
async fn cluster_with_store(test: &str, count: usize) -> (TestCluster, StoreRef) {
    let cluster = TestCluster::start(test, count).await;
    let store = Store::start("n0".to_owned()).await.expect("the store starts");
    cluster.node(0).register_global("store", &store).await.expect("store registers");
    (cluster, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_call_gets_its_reply_from_the_holders_node() {
    let (cluster, _store) = cluster_with_store("a_remote_call_gets_its_reply", 3).await;
    for i in 1..3 {
        let client = within("the lookup", Store::global(cluster.node(i), "store")).await.expect("found");
        assert!(!client.client().is_local());
        let key = format!("from-n{i}");
        assert_eq!(within("set", client.set(key.clone(), "yes".into())).await, Ok("n0".to_owned()));
        assert_eq!(within("get", client.get(key)).await, Ok(Some("yes".to_owned())));
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_on_the_holders_node_uses_the_local_handle() {
    let (cluster, store) = cluster_with_store("a_client_on_the_holders_node", 1).await;
    let client = Store::global(cluster.node(0), "store").await.expect("found");
    assert!(client.client().is_local());
    client.push(7);
    assert_eq!(store.log().await, Ok(vec![7]));
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_and_casts_from_one_node_are_handled_in_the_order_sent() {
    let (cluster, _store) = cluster_with_store("calls_and_casts_in_order", 2).await;
    let client = Store::global(cluster.node(1), "store").await.expect("found");
    let mut expected = Vec::new();
    for round in 0..20u64 {
        for i in 0..50 {
            client.push(round * 50 + i);
            expected.push(round * 50 + i);
        }
        // Each call sees every cast sent before it, and none sent after.
        assert_eq!(within("the log", client.log()).await, Ok(expected.clone()), "round {round}");
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_call_with_no_reply_times_out_and_its_late_reply_is_dropped() {
    let (cluster, _store) = cluster_with_store("a_remote_call_times_out", 2).await;
    let client = Store::global(cluster.node(1), "store").await.expect("found");
    let timeout = Duration::from_millis(300);
    assert_eq!(
        within("the held call", client.hold().timeout(timeout)).await,
        Err(CallError::Timeout(timeout))
    );
    client.release(42);
    // The release ran before this call (one node's requests keep their order). Whether
    // the serving node still saw the caller waiting depends on the network's delay, so
    // only that it ran is certain.
    assert!(within("the check", client.late_reply_refused()).await.expect("a reply").is_some());
    // The next held call gets its own reply, 43, not the late 42: the query is sent
    // (on the first poll) before the release is.
    let next = client.hold();
    let (reply, ()) = within("the next held call", async {
        tokio::join!(next.into_future(), async { client.release(43) })
    })
    .await;
    assert_eq!(reply, Ok(43));
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_exits_during_a_remote_call_gives_its_reason_then_no_server() {
    let (cluster, store) = cluster_with_store("a_server_exits_during_a_call", 2).await;
    let client = Store::global(cluster.node(1), "store").await.expect("found");
    match within("the crashing call", client.crash()).await {
        Err(CallError::Exited(ExitReason::Panic(message))) => {
            assert!(message.contains("store crashed on purpose"), "{message}");
        }
        other => panic!("expected the panic as the exit reason, got {other:?}"),
    }
    within("the store's exit", store.exited()).await;
    assert_eq!(within("a call after the exit", client.log()).await, Err(CallError::NoServer));
    // A cast to a server that is gone is dropped, as in OTP.
    client.push(1);
    assert_eq!(
        within("the lookup", Store::global(cluster.node(1), "store")).await.err(),
        Some(CallError::NoServer)
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_to_a_stopped_node_is_node_down() {
    let (cluster, _store) = cluster_with_store("a_call_to_a_stopped_node", 2).await;
    let client = Store::global(cluster.node(1), "store").await.expect("found");
    assert_eq!(within("a call", client.log()).await, Ok(vec![]));
    let mut events = cluster.node(1).events();
    cluster.node(0).stop().await.expect("n0 stops");
    next_matching("n0 down", &mut events, |event| *event == NodeEvent::Down("n0".into())).await;
    assert_eq!(within("a call", client.log()).await, Err(CallError::NodeDown("n0".into())));
    client.push(1);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unregistered_global_name_is_no_server() {
    let cluster = TestCluster::start("an_unregistered_global_name", 2).await;
    assert_eq!(
        within("the lookup", Store::global(cluster.node(1), "nobody")).await.err(),
        Some(CallError::NoServer)
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_for_another_type_is_refused_and_counted_and_the_server_runs_on() {
    let (cluster, store) = cluster_with_store("a_request_for_another_type", 2).await;
    let holder: GlobalName = within("whereis", cluster.node(1).whereis_global("store")).await.expect("found");
    let wrong = Client::<Other>::at(cluster.node(1), &holder).expect("a remote client");
    let wrong = OtherClient::from(wrong);
    match within("the mistyped call", wrong.get("k".into())).await {
        Err(CallError::BadMessage(message)) => assert!(message.contains("Store"), "{message}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(cluster.node(0).rejected_messages(), 1);
    assert!(store.is_alive());
    let client = Store::global(cluster.node(1), "store").await.expect("found");
    assert_eq!(within("a call", client.get("k".into())).await, Ok(None));
    cluster.stop().await;
}
