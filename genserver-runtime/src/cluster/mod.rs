//! Servers on several machines: nodes, node events and global names on Eclipse Zenoh
//! (feature `cluster`).
//!
//! A [`Node`] is this program's membership in a named cluster, over one Zenoh session:
//! no server to run for a handful of nodes (peers connect to each other, as distributed
//! Erlang's nodes do), or Zenoh routers (`zenohd`) for more. Presence rides on Zenoh's
//! liveliness tokens, which live exactly as long as their session: when a node stops or
//! its process dies, its tokens vanish, at once for a crash and after the lease for a
//! hang, and with them its membership and its global names.
//!
//! ```no_run
//! use genserver_runtime::cluster::{Node, NodeConfig, NodeEvent};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let node = Node::start(
//!     NodeConfig::new("shop")
//!         .name("billing-1")
//!         .listen("tcp/127.0.0.1:7448")
//!         .connect("tcp/127.0.0.1:7447"),
//! )
//! .await?;
//! let mut events = node.events();
//! while let Some(event) = events.next().await {
//!     match event {
//!         NodeEvent::Up(name) => println!("{name} is up; members: {:?}", node.nodes()),
//!         NodeEvent::Down(name) => println!("{name} is down"),
//!         _ => {}
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # From OTP
//!
//! | OTP / Elixir | here |
//! |---|---|
//! | `net_kernel:start([name])`, `--sname` | [`Node::start`] with [`NodeConfig::name`] |
//! | the cookie (which nodes may talk) | the cluster name: [`NodeConfig::new`] (isolation, not security) |
//! | `Node.connect(n)` | [`NodeConfig::connect`]; gossip connects the rest of the mesh |
//! | `node()`, `Node.list()` | [`Node::name`], [`Node::nodes`] (which also lists this node) |
//! | `net_kernel:monitor_nodes(true)` | [`Node::events`]: [`NodeEvent::Up`], [`NodeEvent::Down`] |
//! | `:global.register_name/2`, `name: {:global, n}` | [`Node::register_global`] |
//! | `:global.whereis_name/1` | [`Node::whereis_global`] |
//! | `:global.unregister_name/1` | [`Node::unregister_global`] |
//! | `:global`'s name conflict resolution | lowest `(stamp, node)` wins; [`NameConflict`] |
//! | `GenServer.call({:global, n}, m)`, `cast` | `S::global(&node, n)`, then the client's methods ([`Client`]) |
//! | `:pg.join/2`, `:pg.leave/2`, `:pg.get_members/1` | [`Node::join_group`], [`Node::leave_group`], [`Node::group_members`] |
//! | a send to every `:pg` member | [`Node::cast_group`]: one message per hosting node |
//! | `Process.monitor(pid)` of a remote pid, `{:DOWN, ..., :noconnection}` | [`Client::monitor`], [`Context::monitor_remote`](crate::Context::monitor_remote); [`ExitReason::NoConnection`](crate::ExitReason::NoConnection) |
//! | `:rpc.multicall`, `GenServer.multi_call` | [`multi_call`](crate::multi_call) over the group's clients |
//!
//! Where it differs:
//! - The cluster name only keeps clusters apart (every key is under `gs/<cluster>/`);
//!   it is no secret. Authentication comes with Zenoh's TLS or user/password settings.
//! - [`Node::events`] starts with an `Up` for each node already up; `monitor_nodes`
//!   reports only later changes.
//! - Global names are eventually consistent, without `:global`'s cluster-wide lock: see
//!   [`global`] for what that means and when to use a consensus store instead.
//! - Node ids are not pids: a global name's holder is a node name and a server id on
//!   that node ([`GlobalName`]). A `#[genserver(remote)]` server is called from another
//!   node through its generated client (`ConfigServer::global(&node, "config")`): see
//!   [`Client`] for what a remote call promises.
//!
//! # Runtime
//!
//! A node needs a **multi-thread** tokio runtime: Zenoh blocks a worker thread in places,
//! which a current-thread runtime cannot allow, and it panics there (zenoh issue #835).
//! [`Node::start`] checks, and returns [`NodeError::NeedsMultiThreadRuntime`] instead.
//!
//! # Keys
//!
//! | key | Zenoh primitive | meaning |
//! |---|---|---|
//! | `gs/<cluster>/node/<node>/<incarnation>` | liveliness token | the node is up |
//! | `gs/<cluster>/name/<name>/<node>/<id>/<stamp>` | liveliness token | a global name's claim |
//! | `gs/<cluster>/ask/<node>/**` | queryable | the node answers with the tokens it sees |
//! | `gs/<cluster>/call/<node>/*` | queryable | calls to the node's servers ([`Client`]) |
//! | `gs/<cluster>/cast/<node>/*` | subscriber | casts to the node's servers |
//! | `gs/<cluster>/pg/<group>/<type>/<node>/<id>` | liveliness token | a member of a process group ([`groups`]) |
//! | `gs/<cluster>/pgcast/<node>/<group>` | subscriber | a cast to the node's members of a group |
//! | `gs/<cluster>/watch/<node>/<id>/<watcher>/<ref>` | liveliness token | a monitor of a server of `node` ([`RemoteMonitor`]) |
//! | `gs/<cluster>/down/<watcher>/<ref>/<node>/<id>` | subscriber | the DOWN of one of `watcher`'s monitors |
//!
//! A Zenoh peer forwards nothing between other peers, so a node sees the tokens of the
//! nodes it is connected to; gossip connects every pair. Until it has, the questions that
//! guard names also go to the neighbours, which answer from what they see (`ask`).
//!
//! Messages between nodes travel in the versioned envelope of [`wire`].

mod ask;
mod client;
mod config;
mod events;
mod export;
pub mod global;
pub mod groups;
mod keys;
mod membership;
pub(crate) mod monitor;
mod node;
mod remote;
pub mod wire;

pub use client::{Client, ClientCall, ClientCallFuture, RemoteRef, Target};
pub use config::{Mode, NameConflict, NodeConfig};
pub use events::Events;
pub use global::{GlobalEvent, GlobalName, GlobalNameError};
pub use groups::{GroupError, GroupEvent};
pub use keys::{InvalidName, NameKind};
pub use membership::NodeEvent;
pub use monitor::{MonitorCounts, RemoteDown, RemoteMonitor};
pub use node::{Node, NodeError};
pub use remote::{Incoming, RemoteServer, Travels};
