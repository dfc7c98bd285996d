//! Which nodes are up: the node's view of its cluster, kept from the node tokens it sees
//! come and go, and the [`NodeEvent`]s that announce each change (OTP:
//! `net_kernel:monitor_nodes`).
//!
//! Every node declares a liveliness token `gs/<cluster>/node/<name>/<incarnation>` for as
//! long as its Zenoh session lives. A liveliness subscriber on every node's token feeds
//! [`Membership`]: a token that appears makes its node up, and a token that vanishes (the
//! node stopped, crashed, or stayed silent past the lease) makes it down. A node is up
//! while any incarnation of it is; two incarnations of one name at once only happen in
//! the race that [`Node::start`](super::Node::start) describes.

use std::collections::{BTreeMap, BTreeSet};

use tokio::sync::watch;

use super::events::{Events, Listeners};

/// A change in the cluster's membership, as one node sees it (OTP: the `{nodeup, Node}`
/// and `{nodedown, Node}` messages of `net_kernel:monitor_nodes`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NodeEvent {
    /// The node with this name joined the cluster (or was already in it when the stream
    /// was opened).
    Up(String),
    /// The node with this name left: it stopped, its process died, or it was silent for
    /// longer than the lease.
    Down(String),
}

/// The members a node sees, besides itself, and the streams that follow them.
pub(crate) struct Membership {
    /// This node's name: its own token is not an event, and it is always a member.
    own_name: String,
    own_incarnation: String,
    /// The other nodes that are up, each with its live incarnations.
    members: BTreeMap<String, BTreeSet<String>>,
    listeners: Listeners<NodeEvent>,
    /// How many nodes went down so far: what a pending call watches.
    downs: watch::Sender<u64>,
    stopped: bool,
}

impl Membership {
    pub(crate) fn new(own_name: String, own_incarnation: String) -> Self {
        Membership {
            own_name,
            own_incarnation,
            members: BTreeMap::new(),
            listeners: Listeners::new(),
            downs: watch::Sender::new(0),
            stopped: false,
        }
    }

    /// A node token appeared.
    pub(crate) fn token_up(&mut self, node: &str, incarnation: &str) {
        if self.stopped {
            return;
        }
        if node == self.own_name {
            // Our own token, or a second node under our name (the start race): neither
            // changes what this node reports.
            return;
        }
        let incarnations = self.members.entry(node.to_owned()).or_default();
        let was_down = incarnations.is_empty();
        incarnations.insert(incarnation.to_owned());
        if was_down {
            self.listeners.send(NodeEvent::Up(node.to_owned()));
        }
    }

    /// A node token vanished; `true` if that made the node down.
    pub(crate) fn token_down(&mut self, node: &str, incarnation: &str) -> bool {
        let Some(incarnations) = self.members.get_mut(node) else { return false };
        incarnations.remove(incarnation);
        if !incarnations.is_empty() {
            return false;
        }
        self.members.remove(node);
        self.listeners.send(NodeEvent::Down(node.to_owned()));
        self.downs.send_modify(|downs| *downs += 1);
        true
    }

    /// A receiver that changes at every node that goes down (and when this node stops),
    /// for a call to wait on; `None` if `node` is down already.
    pub(crate) fn watch_down(&self, node: &str) -> Option<watch::Receiver<u64>> {
        self.is_up(node).then(|| self.downs.subscribe())
    }

    /// Whether `node` is up as this node sees it (this node is, until it stops).
    pub(crate) fn is_up(&self, node: &str) -> bool {
        !self.stopped && (node == self.own_name || self.members.contains_key(node))
    }

    /// Every member's name, this node's included, in order; empty once stopped.
    pub(crate) fn names(&self) -> Vec<String> {
        if self.stopped {
            return Vec::new();
        }
        let mut names: Vec<String> = self.members.keys().cloned().collect();
        if let Err(at) = names.binary_search(&self.own_name) {
            names.insert(at, self.own_name.clone());
        }
        names
    }

    /// Every live node token as `(node, incarnation)`, this node's included; none once
    /// stopped.
    pub(crate) fn tokens(&self) -> Vec<(String, String)> {
        if self.stopped {
            return Vec::new();
        }
        let others = self.members.iter().flat_map(|(node, incarnations)| {
            incarnations.iter().map(move |incarnation| (node.clone(), incarnation.clone()))
        });
        std::iter::once((self.own_name.clone(), self.own_incarnation.clone())).chain(others).collect()
    }

    /// A stream that starts with an `Up` for every other member.
    pub(crate) fn events(&mut self) -> Events<NodeEvent> {
        let snapshot: Vec<NodeEvent> = self.members.keys().cloned().map(NodeEvent::Up).collect();
        self.listeners.open(snapshot)
    }

    /// Forgets every member and ends every stream.
    pub(crate) fn stop(&mut self) {
        self.stopped = true;
        self.members.clear();
        self.listeners.close();
        self.downs.send_modify(|downs| *downs += 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_is_up_while_any_incarnation_is() {
        let mut membership = Membership::new("me".into(), "0".into());
        let mut events = membership.events();
        membership.token_up("b", "1");
        membership.token_up("b", "2");
        membership.token_down("b", "1");
        assert_eq!(membership.names(), ["b", "me"]);
        assert_eq!(membership.tokens(), [("me".into(), "0".into()), ("b".into(), "2".into())]);
        membership.token_down("b", "2");
        assert_eq!(membership.names(), ["me"]);
        assert_eq!(events.try_next(), Some(NodeEvent::Up("b".into())));
        assert_eq!(events.try_next(), Some(NodeEvent::Down("b".into())));
        assert_eq!(events.try_next(), None);
    }

    #[test]
    fn own_tokens_are_no_events_and_a_late_stream_starts_with_the_members() {
        let mut membership = Membership::new("me".into(), "0".into());
        membership.token_up("me", "1");
        membership.token_up("a", "1");
        let mut events = membership.events();
        assert_eq!(events.try_next(), Some(NodeEvent::Up("a".into())));
        assert_eq!(events.try_next(), None);
        membership.stop();
        assert!(membership.names().is_empty());
    }
}
