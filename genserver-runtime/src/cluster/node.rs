//! A node: this program's membership in a cluster, over one Zenoh session (OTP: a
//! distributed node, started with `net_kernel:start/2` or `--name`).
//!
//! [`Node::start`] opens the session, checks that no live node has the same name, and
//! declares the node's liveliness token; from then on every node of the cluster sees it
//! up, until [`Node::stop`] (or the program's death) makes it down. The node follows the
//! others' tokens to answer [`Node::nodes`] and feed [`Node::events`], and holds the
//! program's global names ([`global`](super::global)).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::runtime::{Handle, RuntimeFlavor};
use zenoh::Session;
use zenoh::liveliness::LivelinessToken;
use zenoh::sample::SampleKind;

use super::ask::{Knowledge, live_tokens};
use super::config::NodeConfig;
use super::events::Events;
use super::export::Exports;
use super::global::GlobalNames;
use super::groups::Groups;
use super::keys::{InvalidName, KeySpace, NameKind, check_chunk};
use super::membership::{Membership, NodeEvent};
use super::monitor::Monitors;

/// How long a question to the cluster (is this name taken? who holds that global name?)
/// waits for the nodes' answers ([`ask`](super::ask)). Nodes answer within a network
/// round trip; only a node that hangs, not yet dropped by its lease, makes a question
/// wait this long.
pub(crate) const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);

/// A running node of a cluster: cheap to clone, usable from any task. See the
/// [module docs](super) for what a node is and how it maps to OTP.
///
/// The node leaves the cluster on [`stop`](Self::stop), or when its last clone is
/// dropped.
#[derive(Clone)]
pub struct Node {
    inner: Arc<NodeInner>,
}

/// What a node's clones share.
pub(crate) struct NodeInner {
    pub(crate) name: String,
    cluster: String,
    /// The Zenoh session id: this run of the node, as opposed to another node of the same
    /// name before or after it.
    incarnation: String,
    membership: Arc<Mutex<Membership>>,
    pub(crate) keys: KeySpace,
    pub(crate) names: Arc<GlobalNames>,
    pub(crate) groups: Arc<Groups>,
    /// The servers of this node that other nodes can call.
    pub(crate) exports: Arc<Exports>,
    /// Remote monitors: this node's of other nodes' servers, and theirs of its own.
    pub(crate) monitors: Arc<Monitors>,
    /// `None` once stopped.
    token: Mutex<Option<LivelinessToken>>,
    stopped: AtomicBool,
    /// Dropped last (fields drop in order), after every token: closing the session when
    /// the last clone goes.
    pub(crate) session: Session,
}

impl Node {
    /// Starts a node: opens its Zenoh session, waits briefly for the connections of
    /// `config` (Zenoh's `scouting/delay`, 500 ms), refuses the start if a live node of
    /// the cluster has the same name, and declares this node up.
    ///
    /// Needs a **multi-thread** tokio runtime (`#[tokio::main]`, or
    /// `#[tokio::test(flavor = "multi_thread")]`): Zenoh blocks in places, which a
    /// current-thread runtime cannot allow (zenoh issue #835); on one, this returns
    /// [`NodeError::NeedsMultiThreadRuntime`] rather than panicking.
    ///
    /// The name check asks the nodes this one is connected to by then, which answer for
    /// themselves and for every node they see, so that a node that gossip has not yet
    /// connected to is asked through the others. It is not airtight:
    /// two nodes that start under the same name at the same moment can both pass it
    /// before either's token is out, a node on the far side of a partition is not asked,
    /// and a node that could not connect within the delay asks nobody. Distributed
    /// Erlang has a similar window (`epmd` only knows the names of its own host).
    pub async fn start(config: NodeConfig) -> Result<Node, NodeError> {
        let runtime = match Handle::try_current() {
            Ok(runtime) if runtime.runtime_flavor() != RuntimeFlavor::CurrentThread => runtime,
            _ => return Err(NodeError::NeedsMultiThreadRuntime),
        };
        check_chunk(NameKind::Cluster, &config.cluster)?;
        let name = config.node_name();
        check_chunk(NameKind::Node, &name)?;
        let zenoh_config = config.to_zenoh()?;
        let session = zenoh::open(zenoh_config).await.map_err(|source| NodeError::Open { source })?;
        match Self::join(&session, &config, name, runtime).await {
            Ok(node) => Ok(node),
            Err(error) => {
                let _ = session.close().await;
                Err(error)
            }
        }
    }

    /// The rest of [`start`](Self::start), on an open session.
    async fn join(
        session: &Session,
        config: &NodeConfig,
        name: String,
        runtime: Handle,
    ) -> Result<Node, NodeError> {
        let keys = KeySpace::new(&config.cluster);
        let incarnation = session.zid().to_string();
        let membership = Arc::new(Mutex::new(Membership::new(name.clone(), incarnation.clone())));
        let monitors = Monitors::new(keys.clone(), runtime.clone());
        // Followed before this node's own token exists, so that no member is missed.
        {
            let (membership, monitors, keys) = (membership.clone(), monitors.clone(), keys.clone());
            session
                .liveliness()
                .declare_subscriber(keys.all_nodes())
                .history(true)
                .callback(move |sample| {
                    let Some((node, incarnation)) = keys.parse_node(sample.key_expr().as_str()) else {
                        return;
                    };
                    let went_down = {
                        let mut membership = lock(&membership);
                        match sample.kind() {
                            SampleKind::Put => {
                                membership.token_up(node, incarnation);
                                false
                            }
                            SampleKind::Delete => membership.token_down(node, incarnation),
                        }
                    };
                    // Out of the membership's lock: the monitors' DOWNs run user code.
                    if went_down {
                        monitors.node_down(node);
                    }
                })
                .background()
                .await
                .map_err(NodeError::zenoh("subscribe to the cluster's nodes"))?;
        }
        if Self::name_is_live(session, &keys, &name, &incarnation).await? {
            return Err(NodeError::NameTaken { name });
        }
        // Served before this node is up, so that a node seen up can be called.
        let exports = Exports::new(keys.clone(), runtime.clone());
        {
            let exports = exports.clone();
            session
                .declare_queryable(keys.calls_to(&name))
                .callback(move |query| exports.on_call(query))
                .background()
                .await
                .map_err(NodeError::zenoh("answer calls to this node's servers"))?;
        }
        {
            let exports = exports.clone();
            session
                .declare_subscriber(keys.casts_to(&name))
                .callback(move |sample| {
                    exports.on_cast(sample.key_expr().as_str(), &sample.payload().to_bytes())
                })
                .background()
                .await
                .map_err(NodeError::zenoh("take casts to this node's servers"))?;
        }
        let token = session
            .liveliness()
            .declare_token(keys.node(&name, &incarnation))
            .await
            .map_err(NodeError::zenoh("declare the node's token"))?;
        let names = GlobalNames::new(keys.clone(), name.clone(), config.name_conflict, runtime.clone());
        {
            let names = names.clone();
            session
                .liveliness()
                .declare_subscriber(keys.all_claims())
                .history(true)
                .callback(move |sample| names.on_sample(sample.kind(), sample.key_expr().as_str()))
                .background()
                .await
                .map_err(NodeError::zenoh("subscribe to the cluster's global names"))?;
        }
        let groups = Groups::new(keys.clone(), name.clone());
        {
            let groups = groups.clone();
            session
                .liveliness()
                .declare_subscriber(keys.all_members())
                .history(true)
                .callback(move |sample| groups.on_sample(sample.kind(), sample.key_expr().as_str()))
                .background()
                .await
                .map_err(NodeError::zenoh("subscribe to the cluster's process groups"))?;
        }
        {
            let (groups, exports) = (groups.clone(), exports.clone());
            session
                .declare_subscriber(keys.group_casts_to(&name))
                .callback(move |sample| {
                    groups.deliver_cast(&exports, sample.key_expr().as_str(), &sample.payload().to_bytes())
                })
                .background()
                .await
                .map_err(NodeError::zenoh("take group casts to this node"))?;
        }
        // Answered once this node is up, so that it never reports itself before.
        let knowledge = Knowledge {
            own_name: name.clone(),
            keys: keys.clone(),
            membership: membership.clone(),
            names: names.clone(),
        };
        session
            .declare_queryable(keys.questions_to(&name))
            .callback(move |query| {
                let knowledge = knowledge.clone();
                runtime.spawn(async move { knowledge.answer(query).await });
            })
            .background()
            .await
            .map_err(NodeError::zenoh("answer the cluster's questions"))?;
        {
            let monitors = monitors.clone();
            session
                .declare_subscriber(keys.downs_to(&name))
                .callback(move |sample| {
                    monitors.on_down(sample.key_expr().as_str(), &sample.payload().to_bytes())
                })
                .background()
                .await
                .map_err(NodeError::zenoh("take the DOWNs of this node's monitors"))?;
        }
        let watches = keys.watches_of(&name);
        let inner = Arc::new(NodeInner {
            name,
            cluster: config.cluster.clone(),
            incarnation,
            membership,
            keys,
            names,
            groups,
            exports,
            monitors: monitors.clone(),
            token: Mutex::new(Some(token)),
            stopped: AtomicBool::new(false),
            session: session.clone(),
        });
        // Followed once the node exists, to watch its servers for other nodes: the
        // callback holds the node weakly, so that the session can close with it.
        let node = Arc::downgrade(&inner);
        session
            .liveliness()
            .declare_subscriber(watches)
            .history(true)
            .callback(move |sample| monitors.on_watch(&node, sample.kind(), sample.key_expr().as_str()))
            .background()
            .await
            .map_err(NodeError::zenoh("follow the monitors of this node's servers"))?;
        Ok(Node { inner })
    }

    /// Whether another incarnation of `name` is live, as this node and its neighbours
    /// see it.
    async fn name_is_live(
        session: &Session,
        keys: &KeySpace,
        name: &str,
        incarnation: &str,
    ) -> Result<bool, NodeError> {
        let tokens = live_tokens(session, keys, &keys.node_incarnations(name))
            .await
            .map_err(NodeError::zenoh("ask whether the node name is taken"))?;
        Ok(tokens
            .iter()
            .filter_map(|token| keys.parse_node(token))
            .any(|(node, other)| node == name && other != incarnation))
    }

    /// The node's name, unique in its cluster.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The name of the node's cluster.
    pub fn cluster(&self) -> &str {
        &self.inner.cluster
    }

    /// The names of the cluster's live nodes as this node sees them, this node included,
    /// in order (OTP: `[node() | nodes()]`). Read from what the node has seen of the
    /// others' tokens, without asking the network; empty once stopped.
    pub fn nodes(&self) -> Vec<String> {
        lock(&self.inner.membership).names()
    }

    /// A stream of the other nodes going up and down (OTP: `net_kernel:monitor_nodes`).
    /// It starts with an `Up` for every other node already up, so that
    /// no node is missed between [`nodes`](Self::nodes) and this call, and ends when this
    /// node stops.
    pub fn events(&self) -> Events<NodeEvent> {
        lock(&self.inner.membership).events()
    }

    /// Leaves the cluster: releases this node's global names (their servers keep
    /// running), withdraws its token, so that the other nodes see it down at once, and
    /// closes the Zenoh session. Every clone is stopped; stopping again does nothing.
    pub async fn stop(&self) -> Result<(), NodeError> {
        if self.inner.stopped.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        self.inner.withdraw();
        self.inner.session.close().await.map_err(NodeError::zenoh("close the Zenoh session"))
    }

    /// How many requests from other nodes this node refused as unreadable: frames that
    /// are not envelopes, of another protocol version, for a server of another type, or
    /// whose message does not decode. Each is also logged as a warning.
    pub fn rejected_messages(&self) -> u64 {
        self.inner.exports.rejected()
    }

    /// Whether the node `name` is up as this node sees it.
    pub(crate) fn is_up(&self, name: &str) -> bool {
        lock(&self.inner.membership).is_up(name)
    }

    /// A receiver that changes whenever a node goes down, to wait on while `name` is up;
    /// `None` if it is down already.
    pub(crate) fn watch_down(&self, name: &str) -> Option<tokio::sync::watch::Receiver<u64>> {
        lock(&self.inner.membership).watch_down(name)
    }

    pub(crate) fn inner(&self) -> &NodeInner {
        &self.inner
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.inner.stopped.load(Ordering::SeqCst)
    }
}

impl NodeInner {
    /// Everything a stop does before the session closes.
    fn withdraw(&self) {
        self.names.stop();
        self.groups.stop();
        self.exports.stop();
        lock(&self.membership).stop();
        self.monitors.stop();
        drop(lock(&self.token).take());
    }
}

impl Drop for NodeInner {
    fn drop(&mut self) {
        // The tokens go before the session closes (after this, as the field drops).
        self.withdraw();
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("name", &self.inner.name)
            .field("cluster", &self.inner.cluster)
            .field("incarnation", &self.inner.incarnation)
            .field("stopped", &self.is_stopped())
            .finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // No code panics while holding these locks; a poisoned one is still consistent.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Why a node did not start or stop.
#[derive(Debug)]
#[non_exhaustive]
pub enum NodeError {
    /// [`Node::start`] was called outside a multi-thread tokio runtime: on a
    /// current-thread one, where Zenoh would panic (zenoh issue #835), or on none.
    NeedsMultiThreadRuntime,
    /// The cluster's or the node's name cannot be one chunk of a Zenoh key.
    InvalidName(InvalidName),
    /// Zenoh refused a setting of the configuration (for example a malformed endpoint).
    InvalidConfig {
        /// The Zenoh configuration key, such as `connect/endpoints`.
        key: &'static str,
        /// The value given to it, as JSON.
        value: String,
        /// What Zenoh said.
        message: String,
    },
    /// The Zenoh session could not be opened: most often an endpoint to listen on is
    /// taken or not an address of this machine, or (in client mode) no router answered.
    Open {
        /// Zenoh's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A live node of the cluster already has this name.
    NameTaken {
        /// The name asked for.
        name: String,
    },
    /// A Zenoh operation failed.
    Zenoh {
        /// What the node was doing, such as "open the Zenoh session".
        action: &'static str,
        /// Zenoh's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl NodeError {
    fn zenoh(action: &'static str) -> impl FnOnce(zenoh::Error) -> NodeError {
        move |source| NodeError::Zenoh { action, source }
    }
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeError::NeedsMultiThreadRuntime => f.write_str(
                "a cluster node needs a multi-thread tokio runtime (Zenoh panics on a current-thread one)",
            ),
            NodeError::InvalidName(invalid) => invalid.fmt(f),
            NodeError::InvalidConfig { key, value, message } => {
                write!(f, "invalid node configuration {key} = {value}: {message}")
            }
            NodeError::Open { source } => write!(f, "failed to open the Zenoh session: {source}"),
            NodeError::NameTaken { name } => {
                write!(f, "a live node of the cluster is already named {name:?}")
            }
            NodeError::Zenoh { action, source } => write!(f, "failed to {action}: {source}"),
        }
    }
}

impl std::error::Error for NodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            NodeError::InvalidName(invalid) => Some(invalid),
            NodeError::Open { source } | NodeError::Zenoh { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

impl From<InvalidName> for NodeError {
    fn from(invalid: InvalidName) -> Self {
        NodeError::InvalidName(invalid)
    }
}
