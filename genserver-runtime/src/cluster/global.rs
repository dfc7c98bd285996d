//! Global names: a server registered under a name that every node of the cluster can
//! look up (OTP: `:global`).
//!
//! A registration is a liveliness token `gs/<cluster>/name/<name>/<node>/<id>/<stamp>`
//! declared by the holder's node. It goes away when the server exits (an exit cleanup of
//! the server undeclares it, before the exit can be observed), when the name is
//! unregistered, when the node stops, and by itself when the node dies (its tokens die
//! with its Zenoh session, at once for a crash, after the lease for a hang).
//!
//! # Consistency, and where it differs from `:global`
//!
//! Zenoh has no consensus, so names are **eventually consistent**. A registration asks
//! the cluster whether the name is claimed and refuses it if so, but two nodes that
//! register one name at the same moment, or on two sides of a partition, can both
//! succeed. Every node watches all claims, and when it sees two live claims on one name
//! the lowest `(stamp, node)` wins, the same on every node: the stamp is the holder's
//! clock when it registered, so the first registration wins unless the clocks disagree by
//! more than the gap, and the node name breaks ties. The node that holds the losing claim
//! removes it and, by default, kills its server ([`NameConflict`]); until it has,
//! [`Node::whereis_global`] already answers with the winner everywhere. `:global` instead
//! takes a cluster-wide lock for each registration, so a race between connected nodes
//! cannot happen there, and it resolves partitions with a resolve function (by default
//! it kills one of the two at random).
//!
//! When a name must never have two holders, even for a moment or across a partition, use
//! a consensus store (etcd, or NATS JetStream KV with replicas) for it instead.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use zenoh::liveliness::LivelinessToken;
use zenoh::sample::SampleKind;

use super::ask::live_tokens;
use super::config::NameConflict;
use super::events::{Events, Listeners};
use super::export::Exports;
use super::keys::{Claim, InvalidName, KeySpace, NameKind, check_chunk};
use super::node::Node;
use super::remote::RemoteServer;
use crate::{ExitReason, ProcessRef, ServerRef};

/// Where a global name is held, or where any reachable server runs: the node and the
/// server's id there. Ordered by node, then id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub struct GlobalName {
    /// The name of the node that runs the server.
    pub node: String,
    /// The server's id on that node: the number of its [`ServerId`](crate::ServerId)
    /// ([`ServerId::as_u64`](crate::ServerId::as_u64)). Ids are unique per node, not
    /// across the cluster.
    pub id: u64,
}

impl GlobalName {
    fn of(claim: &Claim) -> Self {
        GlobalName { node: claim.node.clone(), id: claim.id }
    }
}

impl fmt::Display for GlobalName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>@{}", self.id, self.node)
    }
}

/// A change in the cluster's global names, as one node sees it.
///
/// Events are per claim: during a conflict a node sees both claims `Registered`, then the
/// loser's `Unregistered`. [`Node::whereis_global`] always answers with the winner.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GlobalEvent {
    /// A server was registered under `name` (or already was when the stream was opened).
    Registered {
        /// The global name.
        name: String,
        /// Who registered it.
        holder: GlobalName,
    },
    /// A claim on `name` went: its server exited, it was unregistered, or its node left.
    Unregistered {
        /// The global name.
        name: String,
        /// Who held that claim.
        holder: GlobalName,
    },
    /// A server of this node lost `name` in a conflict; its claim is being removed and,
    /// by default, the server killed ([`NameConflict`]). Only the losing node sees it.
    Lost {
        /// The global name.
        name: String,
        /// This node's server, which held the losing claim.
        loser: GlobalName,
        /// The claim that won.
        winner: GlobalName,
    },
}

/// Why a global name was not registered.
#[derive(Debug)]
#[non_exhaustive]
pub enum GlobalNameError {
    /// The name cannot be one chunk of a Zenoh key.
    InvalidName(InvalidName),
    /// The name is already held (OTP: `{error, {already_registered, Pid}}` for a local
    /// name; `:global` answers `no`).
    AlreadyRegistered {
        /// The global name.
        name: String,
        /// Who holds it: the winning claim if there are several.
        holder: GlobalName,
    },
    /// The server had exited: nothing was registered.
    NoServer,
    /// The node has stopped.
    NodeStopped,
    /// Zenoh failed to look the name up or to declare the claim.
    Zenoh(Box<dyn std::error::Error + Send + Sync>),
}

impl fmt::Display for GlobalNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GlobalNameError::InvalidName(invalid) => invalid.fmt(f),
            GlobalNameError::AlreadyRegistered { name, holder } => {
                write!(f, "global name {name:?} is already registered by {holder}")
            }
            GlobalNameError::NoServer => f.write_str("no such server: it is not running"),
            GlobalNameError::NodeStopped => f.write_str("the node has stopped"),
            GlobalNameError::Zenoh(error) => {
                write!(f, "zenoh failed while registering a global name: {error}")
            }
        }
    }
}

impl std::error::Error for GlobalNameError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GlobalNameError::InvalidName(invalid) => Some(invalid),
            GlobalNameError::Zenoh(error) => Some(error.as_ref()),
            _ => None,
        }
    }
}

impl From<InvalidName> for GlobalNameError {
    fn from(invalid: InvalidName) -> Self {
        GlobalNameError::InvalidName(invalid)
    }
}

impl Node {
    /// Registers `server` under the global name `name`, for every node of the cluster to
    /// find and call (OTP: `:global.register_name/2`; Elixir: `name: {:global, name}`).
    /// The server must be a `#[genserver(remote)]` one; registering makes it reachable
    /// from the other nodes until it exits.
    ///
    /// Refused with [`GlobalNameError::AlreadyRegistered`] if a live claim on the name
    /// is known here or found by asking the cluster. The name is unregistered when the
    /// server exits, when [`unregister_global`](Self::unregister_global) is called, when
    /// this node stops, and when it dies. A server may hold several names. Names are
    /// eventually consistent: see the [module docs](self) for the conflicts a race or a
    /// partition can cause and how they are resolved.
    pub async fn register_global<S: RemoteServer>(
        &self,
        name: &str,
        server: &impl AsRef<ServerRef<S>>,
    ) -> Result<(), GlobalNameError> {
        let server = server.as_ref();
        check_chunk(NameKind::Global, name)?;
        let names = &self.inner().names;
        if !server.is_alive() {
            return Err(GlobalNameError::NoServer);
        }
        if let Some(holder) = names.known_holder(name)? {
            return Err(GlobalNameError::AlreadyRegistered { name: name.to_owned(), holder });
        }
        let claims = self.claims_in_cluster(name).await.map_err(GlobalNameError::Zenoh)?;
        if let Some(winner) = claims.first() {
            return Err(GlobalNameError::AlreadyRegistered {
                name: name.to_owned(),
                holder: GlobalName::of(winner),
            });
        }
        if !Exports::export(&self.inner().exports, server) {
            return Err(GlobalNameError::NoServer);
        }
        let claim = Claim { stamp: next_stamp(), node: self.name().to_owned(), id: server.id().as_u64() };
        let token = self
            .inner()
            .session
            .liveliness()
            .declare_token(names.keys.claim(name, &claim))
            .await
            .map_err(GlobalNameError::Zenoh)?;
        GlobalNames::hold(names, name, claim, server.to_ref(), token)
    }

    /// Removes this node's registration of `name`; `false` if this node holds no such
    /// name (OTP: `:global.unregister_name/1`, which only the holder's node should call
    /// here). The other nodes see it go within a network round trip.
    pub fn unregister_global(&self, name: &str) -> bool {
        self.inner().names.release(name, None)
    }

    /// Where the global name `name` is held, by asking the cluster (OTP:
    /// `:global.whereis_name/1`). The winning claim if a conflict is not resolved yet;
    /// `None` if nobody holds it, the name is invalid, the node has stopped, or the
    /// cluster could not be asked.
    pub async fn whereis_global(&self, name: &str) -> Option<GlobalName> {
        if check_chunk(NameKind::Global, name).is_err() || self.is_stopped() {
            return None;
        }
        let mut claims = match self.claims_in_cluster(name).await {
            Ok(claims) => claims,
            Err(error) => {
                tracing::debug!(%error, name, "global name lookup failed");
                BTreeSet::new()
            }
        };
        claims.extend(self.inner().names.held_claim(name));
        claims.first().map(GlobalName::of)
    }

    /// A stream of the cluster's global-name changes: first a `Registered` for every
    /// claim this node knows of, then each change as it sees it.
    pub fn global_events(&self) -> Events<GlobalEvent> {
        self.inner().names.events()
    }

    /// The live claims on `name` of the other nodes, as the cluster reports them, lowest
    /// (the winner) first.
    async fn claims_in_cluster(&self, name: &str) -> Result<BTreeSet<Claim>, zenoh::Error> {
        let keys = &self.inner().names.keys;
        let tokens = live_tokens(&self.inner().session, keys, &keys.claims_of(name)).await?;
        let claims = tokens.iter().filter_map(|token| keys.parse_claim(token));
        // This node's own claims come from its state, not from what others report.
        let foreign = claims.filter(|(claimed, claim)| claimed == name && claim.node != self.name());
        Ok(foreign.map(|(_, claim)| claim).collect())
    }
}

/// A fresh registration stamp: nanoseconds since the Unix epoch, strictly increasing in
/// this program even if the clock steps back.
fn next_stamp() -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_nanos() as u64);
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let stamp = now.max(last + 1);
        match LAST.compare_exchange_weak(last, stamp, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return stamp,
            Err(seen) => last = seen,
        }
    }
}

/// A name this node holds.
struct Held {
    claim: Claim,
    server: ProcessRef,
    /// Undeclared when dropped: always outside the state's lock, and never inside a Zenoh
    /// callback.
    token: LivelinessToken,
    /// Names the server's exit cleanup that releases the name.
    cleanup: u64,
}

/// Every claim this node sees, the names it holds, and the streams that follow them.
struct NamesState {
    /// The live claims on each name, from the liveliness subscriber.
    live: HashMap<String, BTreeSet<Claim>>,
    held: HashMap<String, Held>,
    listeners: Listeners<GlobalEvent>,
    stopped: bool,
}

/// The global names part of a node, shared with its liveliness subscriber and with the
/// exit cleanups of the servers it registered.
///
/// This node is the authority on its own claims: its registrations are decided under the
/// state's lock, so a claim of its own seen through Zenoh (possibly one released a moment
/// ago) never refuses a registration nor beats the name it holds.
pub(crate) struct GlobalNames {
    keys: KeySpace,
    own_node: String,
    policy: NameConflict,
    /// Where the work a conflict causes runs, away from Zenoh's callback thread.
    runtime: tokio::runtime::Handle,
    state: Mutex<NamesState>,
}

impl GlobalNames {
    pub(crate) fn new(
        keys: KeySpace,
        own_node: String,
        policy: NameConflict,
        runtime: tokio::runtime::Handle,
    ) -> Arc<Self> {
        Arc::new(GlobalNames {
            keys,
            own_node,
            policy,
            runtime,
            state: Mutex::new(NamesState {
                live: HashMap::new(),
                held: HashMap::new(),
                listeners: Listeners::new(),
                stopped: false,
            }),
        })
    }

    fn state(&self) -> MutexGuard<'_, NamesState> {
        // No code panics while holding the lock; a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The holder of `name` as this node knows it (its own registration or a claim it
    /// has seen), without asking the cluster.
    fn known_holder(&self, name: &str) -> Result<Option<GlobalName>, GlobalNameError> {
        let state = self.state();
        if state.stopped {
            return Err(GlobalNameError::NodeStopped);
        }
        let held = state.held.get(name).map(|held| &held.claim);
        let seen = self.first_foreign_claim(&state, name);
        Ok(held.into_iter().chain(seen).min().map(GlobalName::of))
    }

    /// Every live claim this node knows of, its own (from its state) included: what it
    /// answers its neighbours' questions with.
    pub(crate) fn claims(&self) -> Vec<(String, Claim)> {
        let state = self.state();
        let held = state.held.iter().map(|(name, held)| (name.clone(), held.claim.clone()));
        let live = state.live.iter().flat_map(|(name, claims)| {
            claims.iter().filter(|claim| !self.is_own(claim)).map(move |claim| (name.clone(), claim.clone()))
        });
        let all: BTreeSet<(String, Claim)> = held.chain(live).collect();
        all.into_iter().collect()
    }

    /// The lowest live claim on `name` held by another node.
    fn first_foreign_claim<'s>(&self, state: &'s NamesState, name: &str) -> Option<&'s Claim> {
        state.live.get(name)?.iter().find(|claim| claim.node != self.own_node)
    }

    /// Whether `claim` is one of this node's, on which it is the authority.
    fn is_own(&self, claim: &Claim) -> bool {
        claim.node == self.own_node
    }

    fn held_claim(&self, name: &str) -> Option<Claim> {
        self.state().held.get(name).map(|held| held.claim.clone())
    }

    fn events(&self) -> Events<GlobalEvent> {
        let mut state = self.state();
        let mut claims: Vec<(&String, &Claim)> = state
            .live
            .iter()
            .flat_map(|(name, claims)| claims.iter().map(move |claim| (name, claim)))
            .collect();
        claims.sort();
        let snapshot: Vec<GlobalEvent> = claims
            .into_iter()
            .map(|(name, claim)| GlobalEvent::Registered {
                name: name.clone(),
                holder: GlobalName::of(claim),
            })
            .collect();
        state.listeners.open(snapshot)
    }

    /// Keeps the claim just declared as this node's registration of `name`, unless a
    /// claim that beats it appeared meanwhile, this node registered the name meanwhile,
    /// or the server exited; in those cases the token is undeclared.
    fn hold(
        this: &Arc<Self>,
        name: &str,
        claim: Claim,
        server: ProcessRef,
        token: LivelinessToken,
    ) -> Result<(), GlobalNameError> {
        let mut state = this.state();
        let refusal = if state.stopped {
            Some(GlobalNameError::NodeStopped)
        } else if let Some(held) = state.held.get(name) {
            Some(GlobalNameError::AlreadyRegistered {
                name: name.to_owned(),
                holder: GlobalName::of(&held.claim),
            })
        } else {
            this.first_foreign_claim(&state, name).filter(|winner| **winner < claim).map(|winner| {
                GlobalNameError::AlreadyRegistered { name: name.to_owned(), holder: GlobalName::of(winner) }
            })
        };
        if let Some(refusal) = refusal {
            drop(state);
            drop(token);
            return Err(refusal);
        }
        let cleanup = crate::process::next_cleanup_token();
        let names = Arc::downgrade(this);
        let released = name.to_owned();
        // Under the state's lock, as `release` takes it: an exit after this finds the
        // entry added below.
        let on_exit = move |_: &crate::ExitReason| release_on_exit(&names, &released, cleanup);
        if !server.add_cleanup(cleanup, on_exit) {
            drop(state);
            drop(token);
            return Err(GlobalNameError::NoServer);
        }
        state.held.insert(name.to_owned(), Held { claim, server, token, cleanup });
        Ok(())
    }

    /// Removes this node's registration of `name` (only the one whose exit cleanup is
    /// `cleanup`, if given); `true` if there was one.
    fn release(&self, name: &str, cleanup: Option<u64>) -> bool {
        let held = {
            let mut state = self.state();
            match state.held.get(name) {
                Some(held) if cleanup.is_none_or(|cleanup| held.cleanup == cleanup) => {
                    state.held.remove(name)
                }
                _ => None,
            }
        };
        let Some(held) = held else { return false };
        if cleanup.is_none() {
            // Not the exit: the server keeps running without the name.
            held.server.remove_cleanup(held.cleanup);
        }
        drop(held);
        true
    }

    /// A claim token appeared or vanished (the liveliness subscriber's callback, on a
    /// Zenoh thread: nothing here calls back into Zenoh).
    pub(crate) fn on_sample(&self, kind: SampleKind, key: &str) {
        let Some((name, claim)) = self.keys.parse_claim(key) else {
            tracing::debug!(key, "ignored a global-name token that is not a claim");
            return;
        };
        let mut state = self.state();
        if state.stopped {
            return;
        }
        match kind {
            SampleKind::Put => {
                if !state.live.entry(name.clone()).or_default().insert(claim.clone()) {
                    return;
                }
                let holder = GlobalName::of(&claim);
                state.listeners.send(GlobalEvent::Registered { name: name.clone(), holder });
                let loses =
                    !self.is_own(&claim) && state.held.get(&name).is_some_and(|held| claim < held.claim);
                if loses {
                    if let Some(held) = state.held.remove(&name) {
                        let (loser, winner) = (GlobalName::of(&held.claim), GlobalName::of(&claim));
                        state.listeners.send(GlobalEvent::Lost { name: name.clone(), loser, winner });
                        drop(state);
                        self.lose(name, held, claim);
                    }
                }
            }
            SampleKind::Delete => {
                let Some(claims) = state.live.get_mut(&name) else { return };
                if !claims.remove(&claim) {
                    return;
                }
                if claims.is_empty() {
                    state.live.remove(&name);
                }
                state.listeners.send(GlobalEvent::Unregistered { name, holder: GlobalName::of(&claim) });
            }
        }
    }

    /// Gives up `name`, lost to `winner`: undeclares this node's claim, then applies the
    /// conflict policy to its server. Runs as a task, away from Zenoh's callback.
    fn lose(&self, name: String, held: Held, winner: Claim) {
        let policy = self.policy;
        tracing::warn!(
            name,
            loser = %GlobalName::of(&held.claim),
            winner = %GlobalName::of(&winner),
            ?policy,
            "global name conflict lost"
        );
        self.runtime.spawn(async move {
            let Held { server, token, cleanup, .. } = held;
            server.remove_cleanup(cleanup);
            drop(token);
            if policy == NameConflict::KillLoser {
                let winner = GlobalName::of(&winner);
                server.kill_with(ExitReason::shutdown_with(format!(
                    "global name {name:?} lost to {winner} in a name conflict"
                )));
            }
        });
    }

    /// Forgets every claim, ends every stream and releases every name this node holds;
    /// their servers keep running.
    pub(crate) fn stop(&self) {
        let held: Vec<Held> = {
            let mut state = self.state();
            state.stopped = true;
            state.live.clear();
            state.listeners.close();
            state.held.drain().map(|(_, held)| held).collect()
        };
        for held in held {
            held.server.remove_cleanup(held.cleanup);
        }
    }
}

/// The exit cleanup of a registered server: releases the name, if the node is still there
/// and still holds it for this registration.
fn release_on_exit(names: &Weak<GlobalNames>, name: &str, cleanup: u64) {
    if let Some(names) = names.upgrade() {
        names.release(name, Some(cleanup));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_strictly_increase() {
        let stamps: Vec<u64> = (0..1000).map(|_| next_stamp()).collect();
        assert!(stamps.windows(2).all(|pair| pair[0] < pair[1]));
    }
}
