//! How a node joins its cluster: [`NodeConfig`], turned into a Zenoh configuration when
//! the node starts.
//!
//! The defaults suit a small cluster of peers that know one address of each other:
//! peer mode, multicast scouting **off** (nothing is sent to the LAN unless asked for),
//! gossip **on** (a node that connects to one member learns the others' addresses from it
//! and connects to them, so the mesh completes itself), and Zenoh's own lease (10 s).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::NodeError;

/// How a node takes part in the Zenoh network.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mode {
    /// A member of the peer mesh: it connects to the other nodes directly, as distributed
    /// Erlang does. No server is needed. Suits a handful of nodes.
    #[default]
    Peer,
    /// A client of Zenoh routers (`zenohd`): it connects only to the routers given with
    /// [`NodeConfig::connect`], which route between nodes. For larger or multi-site
    /// clusters.
    Client,
}

/// What the node that loses a global-name conflict does with the server that held it.
///
/// A conflict is two live registrations of one name, after a race between two nodes or a
/// partition that healed; the lowest `(stamp, node)` wins, as in `:global`. Either way the
/// loser's registration is removed and its node hears of it as a
/// [`GlobalEvent::Lost`](super::GlobalEvent::Lost).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameConflict {
    /// Kill the losing server, with [`ExitReason::ShutdownWith`](crate::ExitReason) saying
    /// which name it lost to whom (`:global`'s default resolver kills the loser too).
    #[default]
    KillLoser,
    /// Leave the losing server running, without the name.
    UnregisterLoser,
}

/// The configuration of a [`Node`](super::Node), built with chained setters.
///
/// ```
/// use genserver_runtime::cluster::NodeConfig;
/// use std::time::Duration;
///
/// let config = NodeConfig::new("shop")
///     .name("billing-1")
///     .listen("tcp/127.0.0.1:7447")
///     .connect("tcp/127.0.0.1:7448")
///     .lease(Duration::from_secs(3));
/// # let _ = config;
/// ```
#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub(crate) cluster: String,
    pub(crate) name: Option<String>,
    pub(crate) mode: Mode,
    pub(crate) listen: Vec<String>,
    pub(crate) connect: Vec<String>,
    pub(crate) multicast_scouting: bool,
    pub(crate) gossip: bool,
    pub(crate) lease: Option<Duration>,
    pub(crate) name_conflict: NameConflict,
}

impl NodeConfig {
    /// A configuration for a node of the cluster `cluster`. Nodes only see nodes and names
    /// of their own cluster, even on a shared network: every key lives under
    /// `gs/<cluster>/`. The name must be one chunk of a Zenoh key (no `/`, `*`, `$`, `?`,
    /// `#`, no whitespace); [`Node::start`](super::Node::start) checks it.
    pub fn new(cluster: impl Into<String>) -> Self {
        NodeConfig {
            cluster: cluster.into(),
            name: None,
            mode: Mode::Peer,
            listen: Vec::new(),
            connect: Vec::new(),
            multicast_scouting: false,
            gossip: true,
            lease: None,
            name_conflict: NameConflict::KillLoser,
        }
    }

    /// The node's name, unique in the cluster (a node started under a name that is live
    /// is refused). By default, `node-<pid>-<time>`, unique enough for one machine.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Peer (the default) or client of routers.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Adds an endpoint to listen on, as Zenoh writes it: `tcp/127.0.0.1:7447`,
    /// `tcp/[::1]:7447`. Port 0 asks the system for a free port. Without any, a peer
    /// listens on a free port of every interface.
    pub fn listen(mut self, endpoint: impl Into<String>) -> Self {
        self.listen.push(endpoint.into());
        self
    }

    /// Adds an endpoint to connect to: another node (peer mode) or a router (client
    /// mode). A peer keeps trying in the background until the endpoint answers; start
    /// waits for it a short while (Zenoh's `scouting/delay`, 500 ms) before it checks that
    /// its name is free.
    pub fn connect(mut self, endpoint: impl Into<String>) -> Self {
        self.connect.push(endpoint.into());
        self
    }

    /// Whether the node finds others by UDP multicast on the local network. Off by
    /// default, so that a node never reaches anything it was not pointed at.
    pub fn multicast_scouting(mut self, enabled: bool) -> Self {
        self.multicast_scouting = enabled;
        self
    }

    /// Whether peers tell each other about the peers they know, so that a node that
    /// connects to one member connects to all. On by default.
    pub fn gossip(mut self, enabled: bool) -> Self {
        self.gossip = enabled;
        self
    }

    /// How long a silent connection is trusted before the peer behind it is taken for
    /// dead (Zenoh's `transport/link/tx/lease`; 10 s by default). A node that crashes is
    /// seen down at once, as its connections close; one that hangs or is cut off is seen
    /// down after the lease. Shorter detects faster but gives up sooner on a slow link:
    /// 3 to 5 s suits production, about 1 s suits tests.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = Some(lease);
        self
    }

    /// What this node does with its server when it loses a global-name conflict; see
    /// [`NameConflict`]. By default it kills it.
    pub fn on_name_conflict(mut self, policy: NameConflict) -> Self {
        self.name_conflict = policy;
        self
    }

    /// The name to start under: the one set, or a fresh default.
    pub(crate) fn node_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
            format!("node-{}-{nanos:x}", std::process::id())
        })
    }

    /// The Zenoh configuration for this node.
    pub(crate) fn to_zenoh(&self) -> Result<zenoh::Config, NodeError> {
        let mut config = zenoh::Config::default();
        let mode = match self.mode {
            Mode::Peer => "peer",
            Mode::Client => "client",
        };
        let lease_ms = self.lease.map(|lease| lease.as_millis().max(1).to_string());
        let settings = [
            ("mode", Some(json_string(mode))),
            ("listen/endpoints", Some(json_strings(&self.listen))),
            ("connect/endpoints", Some(json_strings(&self.connect))),
            ("scouting/multicast/enabled", Some(self.multicast_scouting.to_string())),
            ("scouting/gossip/enabled", Some(self.gossip.to_string())),
            ("transport/link/tx/lease", lease_ms),
        ];
        for (key, value) in settings {
            if let Some(value) = value {
                config.insert_json5(key, &value).map_err(|error| NodeError::InvalidConfig {
                    key,
                    value: value.clone(),
                    message: error.to_string(),
                })?;
            }
        }
        Ok(config)
    }
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `items` as a JSON array of strings.
fn json_strings(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|item| json_string(item)).collect();
    format!("[{}]", items.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(json_strings(&["x".into(), "y".into()]), r#"["x","y"]"#);
        assert_eq!(json_strings(&[]), "[]");
    }

    #[test]
    fn a_default_config_builds() {
        assert!(NodeConfig::new("c").to_zenoh().is_ok());
        let config = NodeConfig::new("c")
            .listen("tcp/127.0.0.1:0")
            .connect("tcp/127.0.0.1:7447")
            .lease(Duration::from_millis(800))
            .mode(Mode::Client);
        assert!(config.to_zenoh().is_ok());
    }

    #[test]
    fn a_bad_endpoint_is_a_config_error() {
        match NodeConfig::new("c").connect("not an endpoint").to_zenoh() {
            Err(NodeError::InvalidConfig { key, .. }) => assert_eq!(key, "connect/endpoints"),
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn a_node_without_a_name_gets_one() {
        let name = NodeConfig::new("c").node_name();
        assert!(name.starts_with("node-"), "{name}");
        assert_eq!(NodeConfig::new("c").name("n1").node_name(), "n1");
    }
}
