//! Process groups across the nodes of a cluster (OTP: `pg`): named sets of remote
//! servers, for finding them on every node, casting to all of them, and calling each.
//!
//! A membership is a liveliness token `gs/<cluster>/pg/<group>/<type>/<node>/<id>`
//! declared by the member's node: it goes when the server leaves, when it exits (an exit
//! cleanup undeclares it before the exit can be observed), when its node stops, and by
//! itself when its node dies. Every node follows every group's tokens, so
//! [`Node::group_members`] answers from memory, and converges as tokens come and go: like
//! `pg`, groups are eventually consistent, with no lock across the cluster.
//!
//! A cast to a group ([`Node::cast_group`]) travels once to each node that hosts members,
//! which hands it to each of its members (OTP's `pg` leaves that fan-out to the caller).
//!
//! Where it differs from `pg`: a server is in a group once however often it joins, and
//! members are remote servers (`#[genserver(remote)]`), so that every node can reach them;
//! each membership records its server's type, so that the members of one type are found
//! without calling them.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use zenoh::Wait;
use zenoh::liveliness::LivelinessToken;
use zenoh::qos::{CongestionControl, Priority};
use zenoh::sample::SampleKind;

use super::events::{Events, Listeners};
use super::export::Exports;
use super::global::GlobalName;
use super::keys::{InvalidName, KeySpace, NameKind, check_chunk};
use super::node::Node;
use super::remote::RemoteServer;
use super::wire::{Envelope, Kind};
use crate::{Process, ProcessRef, ServerRef};

/// A change in the cluster's process groups, as one node sees it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GroupEvent {
    /// `member` joined `group` (or was in it when the stream was opened).
    Joined {
        /// The group.
        group: String,
        /// The server that joined.
        member: GlobalName,
    },
    /// `member` left `group`: it left, exited, or its node went down.
    Left {
        /// The group.
        group: String,
        /// The server that left.
        member: GlobalName,
    },
}

/// Why a server did not join a group.
#[derive(Debug)]
#[non_exhaustive]
pub enum GroupError {
    /// The group's name cannot be one chunk of a Zenoh key.
    InvalidName(InvalidName),
    /// The server had exited: it joined nothing.
    NoServer,
    /// The node has stopped.
    NodeStopped,
    /// Zenoh failed to declare the membership.
    Zenoh(Box<dyn std::error::Error + Send + Sync>),
}

impl fmt::Display for GroupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupError::InvalidName(invalid) => invalid.fmt(f),
            GroupError::NoServer => f.write_str("no such server: it is not running"),
            GroupError::NodeStopped => f.write_str("the node has stopped"),
            GroupError::Zenoh(error) => write!(f, "zenoh failed while joining a group: {error}"),
        }
    }
}

impl std::error::Error for GroupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GroupError::InvalidName(invalid) => Some(invalid),
            GroupError::Zenoh(error) => Some(error.as_ref()),
            _ => None,
        }
    }
}

impl From<InvalidName> for GroupError {
    fn from(invalid: InvalidName) -> Self {
        GroupError::InvalidName(invalid)
    }
}

/// One membership as the tokens show it: the server's type tag and where it runs.
type Membership = (String, GlobalName);

/// A membership this node declared.
struct Joined {
    server: ProcessRef,
    type_tag: &'static str,
    /// Kept for its drop, which undeclares the membership: always outside the state's
    /// lock.
    _token: LivelinessToken,
    cleanup: u64,
}

struct GroupsState {
    /// Every live membership of every group, from the liveliness subscriber.
    live: HashMap<String, BTreeSet<Membership>>,
    /// The memberships of this node's servers, by group and server id.
    joined: HashMap<(String, u64), Joined>,
    listeners: Listeners<GroupEvent>,
    stopped: bool,
}

/// The process-groups part of a node, shared with its subscriber and with the exit
/// cleanups of its members.
///
/// This node is the authority on its own memberships: they are listed from its state as
/// soon as they are joined, whether or not Zenoh has reported their tokens back yet.
pub(crate) struct Groups {
    keys: KeySpace,
    own_node: String,
    state: Mutex<GroupsState>,
}

impl Groups {
    pub(crate) fn new(keys: KeySpace, own_node: String) -> Arc<Self> {
        let state = GroupsState {
            live: HashMap::new(),
            joined: HashMap::new(),
            listeners: Listeners::new(),
            stopped: false,
        };
        Arc::new(Groups { keys, own_node, state: Mutex::new(state) })
    }

    fn state(&self) -> MutexGuard<'_, GroupsState> {
        // No code panics while holding the lock; a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A membership token appeared or vanished (Zenoh's callback: nothing here calls
    /// back into Zenoh).
    pub(crate) fn on_sample(&self, kind: SampleKind, key: &str) {
        let Some((group, tag, node, id)) = self.keys.parse_member(key) else { return };
        let member = GlobalName { node: node.to_owned(), id };
        let mut state = self.state();
        if state.stopped {
            return;
        }
        let membership = (tag.to_owned(), member.clone());
        let group = group.to_owned();
        match kind {
            SampleKind::Put => {
                if state.live.entry(group.clone()).or_default().insert(membership) {
                    state.listeners.send(GroupEvent::Joined { group, member });
                }
            }
            SampleKind::Delete => {
                let Some(members) = state.live.get_mut(&group) else { return };
                if members.remove(&membership) {
                    if members.is_empty() {
                        state.live.remove(&group);
                    }
                    state.listeners.send(GroupEvent::Left { group, member });
                }
            }
        }
    }

    /// The members of `group` of type `type_tag` (every type for `None`), in order.
    fn members(&self, group: &str, type_tag: Option<&str>) -> Vec<GlobalName> {
        let state = self.state();
        let wanted = |tag: &str| type_tag.is_none_or(|wanted| tag == wanted);
        let foreign = state
            .live
            .get(group)
            .into_iter()
            .flatten()
            .filter(|(tag, member)| member.node != self.own_node && wanted(tag));
        let own = state
            .joined
            .iter()
            .filter(|((joined_group, _), joined)| joined_group == group && wanted(joined.type_tag));
        let own = own.map(|((_, id), _)| GlobalName { node: self.own_node.clone(), id: *id });
        let unique: BTreeSet<GlobalName> = foreign.map(|(_, member)| member.clone()).chain(own).collect();
        unique.into_iter().collect()
    }

    fn leave(&self, group: &str, id: u64, cleanup: Option<u64>) -> bool {
        let joined = {
            let mut state = self.state();
            let key = (group.to_owned(), id);
            match state.joined.get(&key) {
                Some(joined) if cleanup.is_none_or(|cleanup| joined.cleanup == cleanup) => {
                    state.joined.remove(&key)
                }
                _ => None,
            }
        };
        let Some(joined) = joined else { return false };
        if cleanup.is_none() {
            joined.server.remove_cleanup(joined.cleanup);
        }
        drop(joined);
        true
    }

    /// A group cast arrived for this node's members of a group (Zenoh's callback): each
    /// member of the envelope's type gets it.
    pub(crate) fn deliver_cast(&self, exports: &Exports, key: &str, payload: &[u8]) {
        let Some(group) = self.keys.parse_group_cast(key) else { return };
        let envelope = match Envelope::from_bytes(payload) {
            Ok(envelope) if envelope.kind() == Kind::Cast => envelope,
            Ok(envelope) => {
                return exports.reject_unreadable(format!("a {:?} frame as a group cast", envelope.kind()));
            }
            Err(error) => return exports.reject_unreadable(error.to_string()),
        };
        let members: Vec<u64> = {
            let state = self.state();
            let of_group = state.joined.iter().filter(|((joined_group, _), joined)| {
                joined_group == group && joined.type_tag == envelope.type_tag()
            });
            of_group.map(|((_, id), _)| *id).collect()
        };
        for id in members {
            if let Some(server) = exports.get(id) {
                server.deliver(envelope.clone(), None, exports);
            }
        }
    }

    pub(crate) fn stop(&self) {
        let joined: Vec<Joined> = {
            let mut state = self.state();
            state.stopped = true;
            state.live.clear();
            state.listeners.close();
            state.joined.drain().map(|(_, joined)| joined).collect()
        };
        for joined in joined {
            joined.server.remove_cleanup(joined.cleanup);
        }
    }
}

impl Node {
    /// Adds `server` to the process group `group`, for every node of the cluster to find
    /// (OTP: `pg:join/2`). The server must be a `#[genserver(remote)]` one; joining makes
    /// it reachable from the other nodes. Joining a group it is in changes nothing. The
    /// server leaves on [`leave_group`](Self::leave_group), when it exits, and when this
    /// node stops or dies.
    pub async fn join_group<S: RemoteServer>(
        &self,
        group: &str,
        server: &impl AsRef<ServerRef<S>>,
    ) -> Result<(), GroupError> {
        let server = server.as_ref();
        check_chunk(NameKind::Group, group)?;
        let (groups, id) = (&self.inner().groups, server.id().as_u64());
        if groups.state().stopped {
            return Err(GroupError::NodeStopped);
        }
        if groups.state().joined.contains_key(&(group.to_owned(), id)) {
            return Ok(());
        }
        if !Exports::export(&self.inner().exports, server) {
            return Err(GroupError::NoServer);
        }
        let key = groups.keys.member(group, S::TYPE_TAG, self.name(), id);
        let token = self.inner().session.liveliness().declare_token(key).await.map_err(GroupError::Zenoh)?;
        let mut state = groups.state();
        if state.stopped {
            return Err(GroupError::NodeStopped);
        }
        if state.joined.contains_key(&(group.to_owned(), id)) {
            // Joined meanwhile by another task: that token stands, this one goes.
            drop(state);
            drop(token);
            return Ok(());
        }
        let cleanup = crate::process::next_cleanup_token();
        let weak: Weak<Groups> = Arc::downgrade(groups);
        let left = group.to_owned();
        // Under the state's lock, as the cleanup takes it: an exit after this finds the
        // membership added below.
        let on_exit = move |_: &crate::ExitReason| {
            if let Some(groups) = weak.upgrade() {
                groups.leave(&left, id, Some(cleanup));
            }
        };
        if !server.add_cleanup(cleanup, on_exit) {
            drop(state);
            drop(token);
            return Err(GroupError::NoServer);
        }
        let joined = Joined { server: server.to_ref(), type_tag: S::TYPE_TAG, _token: token, cleanup };
        state.joined.insert((group.to_owned(), id), joined);
        Ok(())
    }

    /// Takes `server` out of `group` (OTP: `pg:leave/2`); `false` if this node holds no
    /// such membership. The server stays reachable until it exits.
    pub fn leave_group(&self, group: &str, server: &Process) -> bool {
        self.inner().groups.leave(group, server.id().as_u64(), None)
    }

    /// Every member of `group` on every node, as this node sees them, in order (OTP:
    /// `pg:get_members/1`). Read from the memberships it has seen, without asking the
    /// network: a server that joined on another node a moment ago may not be listed yet.
    pub fn group_members(&self, group: &str) -> Vec<GlobalName> {
        self.inner().groups.members(group, None)
    }

    /// The members of `group` that are servers of type `S`, on every node, in order.
    pub fn group_members_of<S: RemoteServer>(&self, group: &str) -> Vec<GlobalName> {
        self.inner().groups.members(group, Some(S::TYPE_TAG))
    }

    /// A stream of the groups' changes as this node sees them: first a `Joined` for every
    /// membership it knows, then each change.
    pub fn group_events(&self) -> Events<GroupEvent> {
        let mut state = self.inner().groups.state();
        let mut snapshot: Vec<(String, GlobalName)> = state
            .live
            .iter()
            .flat_map(|(group, members)| {
                members.iter().map(move |(_, member)| (group.clone(), member.clone()))
            })
            .collect();
        snapshot.sort();
        snapshot.dedup();
        let events = snapshot.into_iter().map(|(group, member)| GroupEvent::Joined { group, member });
        state.listeners.open(events)
    }

    /// Casts `request` to every member of `group` of type `S`: one message to each node
    /// that hosts members, which hands it to each of them. Members are those this node
    /// sees; as any cast, it is dropped toward a member that has gone.
    pub fn cast_group<S: RemoteServer>(&self, group: &str, request: S::Request) {
        let members = self.group_members_of::<S>(group);
        let hosts: BTreeSet<&str> = members.iter().map(|member| member.node.as_str()).collect();
        let bytes = match Envelope::new(Kind::Cast, S::TYPE_TAG, &request).and_then(|e| e.to_bytes()) {
            Ok(bytes) => bytes,
            Err(error) => return tracing::warn!(group, %error, "group cast dropped"),
        };
        for host in hosts {
            let key = self.inner().keys.group_cast(host, group);
            // As a cast: the same priority as calls, never dropped under congestion.
            let put = self.inner().session.put(key, bytes.clone());
            if let Err(error) =
                put.priority(Priority::DEFAULT).congestion_control(CongestionControl::Block).wait()
            {
                tracing::warn!(group, host, %error, "group cast dropped");
            }
        }
    }
}
