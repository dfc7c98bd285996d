//! Remote monitors: being told once when a server on another node exits, and why, or
//! that its node went down (OTP: `Process.monitor/1` on a remote pid, and the
//! `{:DOWN, ref, :process, pid, :noconnection}` a node's death delivers).
//!
//! A monitor is kept by both nodes, through Zenoh, with nothing to clean up by hand:
//! - The **watching node** declares a liveliness token
//!   `gs/<cluster>/watch/<node>/<id>/<watcher>/<ref>` for as long as the monitor is in
//!   place, and keeps the monitor in its table ([`Monitors`]) until it fires.
//! - The **watched node** follows the tokens addressed to it. For each, it monitors its
//!   own server locally, and when the server exits it puts the reason to
//!   `gs/<cluster>/down/<watcher>/<ref>/<node>/<id>`. A token for a server it does not
//!   run (exited, or never exported) is answered at once with `NoProc`. A token that
//!   vanishes (a demonitor, or the watching node's death) drops the local monitor.
//! - When the watched **node** goes down as the watching node sees it (it stopped, its
//!   process died, or it stayed silent past the lease), every monitor of a server there
//!   fires with [`ExitReason::NoConnection`]; so does every monitor of a node that stops.
//!
//! A monitor fires once: its entry leaves the table as it fires, and a DOWN for an entry
//! no longer there (a late one after `NoConnection`, or one from a node that never held
//! the server) is dropped. A monitor of a server on this node is a local monitor.
//!
//! What is weaker than a local monitor: the DOWN and the server's replies travel on
//! different Zenoh paths, so a reply sent just before an exit is not promised to arrive
//! before the DOWN; and a node restarted under the same name within the lease could take
//! a monitor of its predecessor's server with the same id (server ids restart on each
//! run), which only a node down within the lease rules out.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::Poll;

use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio::task::AbortHandle;
use zenoh::Wait;
use zenoh::liveliness::LivelinessToken;
use zenoh::sample::SampleKind;

use super::Client;
use super::global::GlobalName;
use super::keys::KeySpace;
use super::node::{Node, NodeInner};
use super::remote::{RemoteServer, WireExit};
use super::wire::{Envelope, Kind};
use crate::mailbox::Envelope as Delivery;
use crate::process::Tie;
use crate::{Context, ExitReason, GenServer, MonitorRef};

/// A monitored server, on any node, exited or became unreachable (OTP:
/// `{:DOWN, ref, :process, {name, node}, reason}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteDown {
    /// The monitor that fired.
    pub id: MonitorRef,
    /// The server: its node and its id there.
    pub server: GlobalName,
    /// Why: its exit reason; [`ExitReason::NoProc`] if it had already exited (or never
    /// ran there) when the monitor reached its node; [`ExitReason::NoConnection`] if its
    /// node went down, or this one stopped, before it exited.
    pub reason: ExitReason,
}

/// A monitor set up by [`Client::monitor`]: a future that resolves to the server's
/// [`RemoteDown`]. Dropping it, or calling [`demonitor`](Self::demonitor), removes the
/// monitor on both nodes.
#[must_use = "a monitor is removed when dropped; await it to learn of the exit"]
pub struct RemoteMonitor {
    id: MonitorRef,
    server: GlobalName,
    down: oneshot::Receiver<RemoteDown>,
    /// Removes the monitor when dropped; `None` for a monitor of a server of this node.
    watch: Option<RemoteWatch>,
    /// For a server of this node: the local monitor.
    local: Option<crate::Monitor>,
}

impl RemoteMonitor {
    /// This monitor's reference; the [`RemoteDown`] carries the same.
    pub fn id(&self) -> MonitorRef {
        self.id
    }

    /// The monitored server.
    pub fn server(&self) -> &GlobalName {
        &self.server
    }

    /// Removes the monitor: its DOWN is never delivered. The same as dropping it.
    pub fn demonitor(self) {
        drop(self);
    }
}

impl Future for RemoteMonitor {
    type Output = RemoteDown;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<RemoteDown> {
        let this = &mut *self;
        if let Some(local) = &mut this.local {
            return Pin::new(local).poll(cx).map(|down| RemoteDown {
                id: this.id,
                server: this.server.clone(),
                reason: down.reason,
            });
        }
        Pin::new(&mut this.down).poll(cx).map(|down| {
            this.watch = None;
            // The table is dropped with its node before firing: the node stopped.
            down.unwrap_or_else(|_| RemoteDown {
                id: this.id,
                server: this.server.clone(),
                reason: ExitReason::NoConnection,
            })
        })
    }
}

impl fmt::Debug for RemoteMonitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteMonitor").field("id", &self.id).field("server", &self.server).finish()
    }
}

impl<S: RemoteServer> Client<S> {
    /// Monitors the server wherever it runs (OTP: `Process.monitor/1`): the returned
    /// [`RemoteMonitor`] resolves to its [`RemoteDown`] once it exits, with its exit
    /// reason; at once with `NoProc` if it has already exited, and with `NoConnection`
    /// when its node goes down first (at once if it is down already). A server of this
    /// node is monitored locally.
    pub fn monitor(&self) -> RemoteMonitor {
        let server = self.holder();
        let (sender, down) = oneshot::channel();
        let (id, watch, local) = match self.target() {
            super::Target::Local(local) => {
                let monitor = local.as_ref().monitor();
                (monitor.id(), None, Some(monitor))
            }
            super::Target::Remote(remote) => {
                let id = MonitorRef::next();
                (id, Some(watch(remote.node(), &server, id, Notify::Task(sender))), None)
            }
        };
        RemoteMonitor { id, server, down, watch, local }
    }
}

impl<S: GenServer> Context<S> {
    /// Monitors the server of `client`, wherever it runs: when it exits or its node goes
    /// down, this server receives `to_info(down)` as an info message (see
    /// [`Client::monitor`] for the reasons). The monitor ends with this server, or with
    /// [`demonitor`](Self::demonitor).
    pub fn monitor_remote<T, F>(&self, client: &Client<T>, to_info: F) -> MonitorRef
    where
        T: RemoteServer,
        F: FnOnce(RemoteDown) -> S::Info + Send + 'static,
    {
        let server = client.holder();
        let remote = match client.target() {
            super::Target::Local(local) => {
                return self.monitor(local.as_ref(), move |down| {
                    to_info(RemoteDown { id: down.id, server, reason: down.reason })
                });
            }
            super::Target::Remote(remote) => remote,
        };
        let id = MonitorRef::next();
        let me = Arc::downgrade(self.server_ref().shared());
        let deliver = move |down: RemoteDown| {
            if let Some(me) = me.upgrade() {
                let id = down.id;
                me.mailbox.push_signal(Delivery::Down(id, to_info(down)));
            }
        };
        // Recorded first: the DOWN is handled only while this record is there, and the
        // record removes the monitor when this server exits.
        let record = RemoteWatch { id, monitors: Arc::downgrade(&remote.node().inner().monitors) };
        if let Err(Tie::Remote(record)) = self.process().add_tie(Tie::Remote(record), |_| false) {
            // This server is exiting: nothing to watch for.
            record.disarm();
            return id;
        }
        watch(remote.node(), &server, id, Notify::Server(Box::new(deliver))).disarm();
        id
    }
}

/// Sets up the monitor `id` of `server` on another node.
fn watch(node: &Node, server: &GlobalName, id: MonitorRef, notify: Notify) -> RemoteWatch {
    let inner = node.inner();
    let monitors = &inner.monitors;
    let key = monitors.keys.watch(&server.node, server.id, node.name(), id.as_u64());
    let token = inner.session.liveliness().declare_token(key).wait().ok();
    monitors.table().watching.insert(id, Watching { server: server.clone(), notify, token });
    if !node.is_up(&server.node) {
        monitors.fire(id, ExitReason::NoConnection);
    }
    RemoteWatch { id, monitors: Arc::downgrade(monitors) }
}

/// How a fired monitor delivers its DOWN.
enum Notify {
    /// A [`RemoteMonitor`] awaits it.
    Task(oneshot::Sender<RemoteDown>),
    /// A server's [`Context::monitor_remote`]: queues it as an info message.
    Server(Box<dyn FnOnce(RemoteDown) + Send>),
}

/// A monitor this node has set up on a server of another node.
struct Watching {
    server: GlobalName,
    notify: Notify,
    /// Withdrawn when the monitor fires or is removed, which tells the watched node.
    token: Option<LivelinessToken>,
}

/// The record of a remote monitor in its owner: a [`RemoteMonitor`], or the ties of the
/// server that set it up. Dropping it removes the monitor, if it has not fired.
pub(crate) struct RemoteWatch {
    id: MonitorRef,
    monitors: Weak<Monitors>,
}

impl RemoteWatch {
    /// The monitor's reference.
    pub(crate) fn id(&self) -> MonitorRef {
        self.id
    }

    /// Forgets the record without removing the monitor.
    fn disarm(mut self) {
        self.monitors = Weak::new();
    }
}

impl Drop for RemoteWatch {
    fn drop(&mut self) {
        if let Some(monitors) = self.monitors.upgrade() {
            let removed = monitors.table().watching.remove(&self.id);
            drop(removed);
        }
    }
}

/// One node's remote monitors: those it set up on other nodes' servers, and those other
/// nodes set up on its own.
pub(crate) struct Monitors {
    keys: KeySpace,
    runtime: Handle,
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    /// By monitor reference.
    watching: HashMap<MonitorRef, Watching>,
    /// Monitors of this node's servers, by the watcher's token: the task that waits for
    /// the server's exit.
    served: HashMap<String, AbortHandle>,
    stopped: bool,
}

impl Monitors {
    pub(crate) fn new(keys: KeySpace, runtime: Handle) -> Arc<Self> {
        Arc::new(Monitors { keys, runtime, table: Mutex::new(Table::default()) })
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        // No code panics while holding the lock; a poisoned lock is still consistent.
        self.table.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Fires the monitor `id` with `reason`, if it is still in place.
    fn fire(&self, id: MonitorRef, reason: ExitReason) {
        let Some(watching) = self.table().watching.remove(&id) else { return };
        deliver(id, watching, reason);
    }

    /// The node `node` went down: every monitor of a server there fires with
    /// `NoConnection`.
    pub(crate) fn node_down(&self, node: &str) {
        let fired: Vec<(MonitorRef, Watching)> = {
            let mut table = self.table();
            let ids: Vec<MonitorRef> =
                table.watching.iter().filter(|(_, w)| w.server.node == node).map(|(id, _)| *id).collect();
            ids.into_iter().filter_map(|id| table.watching.remove(&id).map(|w| (id, w))).collect()
        };
        for (id, watching) in fired {
            deliver(id, watching, ExitReason::NoConnection);
        }
    }

    /// This node stops: its own monitors fire with `NoConnection`, and it stops watching
    /// its servers for others.
    pub(crate) fn stop(&self) {
        let (watching, served) = {
            let mut table = self.table();
            table.stopped = true;
            (std::mem::take(&mut table.watching), std::mem::take(&mut table.served))
        };
        for task in served.into_values() {
            task.abort();
        }
        for (id, watching) in watching {
            deliver(id, watching, ExitReason::NoConnection);
        }
    }

    /// A DOWN for a monitor of this node arrived (Zenoh's callback).
    pub(crate) fn on_down(&self, key: &str, payload: &[u8]) {
        let Some((id, server)) = self.keys.parse_down(key) else { return };
        let Some(id) = MonitorRef::from_u64(id) else { return };
        let reason = Envelope::from_bytes(payload).and_then(|envelope| envelope.message::<WireExit>());
        let Ok(reason) = reason else {
            tracing::warn!(key, "dropped an unreadable DOWN");
            return;
        };
        let watching = {
            let mut table = self.table();
            // Only from the node that holds the server: anyone else's is dropped.
            match table.watching.get(&id) {
                Some(watching) if watching.server == server => table.watching.remove(&id),
                _ => None,
            }
        };
        if let Some(watching) = watching {
            deliver(id, watching, reason.into());
        }
    }

    /// A watch token addressed to this node came or went (Zenoh's callback): starts or
    /// stops watching the server for the other node.
    pub(crate) fn on_watch(self: &Arc<Self>, node: &Weak<NodeInner>, kind: SampleKind, key: &str) {
        let Some((id, watcher, monitor)) = self.keys.parse_watch(key) else { return };
        let mut table = self.table();
        if kind == SampleKind::Delete {
            if let Some(task) = table.served.remove(key) {
                task.abort();
            }
            return;
        }
        if table.stopped || table.served.contains_key(key) {
            return;
        }
        let Some(inner) = node.upgrade() else { return };
        let down_key = self.keys.down(watcher, monitor, &inner.name, id);
        let process = inner.exports.get(id).map(|server| server.process());
        let (monitors, token, node) = (Arc::downgrade(self), key.to_owned(), node.clone());
        let task = self.runtime.spawn(async move {
            let reason = match process {
                Some(process) => process.monitor().await.reason,
                None => ExitReason::NoProc,
            };
            if let Some(monitors) = monitors.upgrade() {
                monitors.table().served.remove(&token);
            }
            let Some(inner) = node.upgrade() else { return };
            let bytes = Envelope::new(Kind::System, DOWN_TAG, &WireExit::from(&reason))
                .and_then(|envelope| envelope.to_bytes());
            let sent = match bytes {
                Ok(bytes) => inner.session.put(down_key, bytes).await.map_err(|error| error.to_string()),
                Err(error) => Err(error.to_string()),
            };
            if let Err(error) = sent {
                tracing::debug!(%error, "could not send a DOWN to the watching node");
            }
        });
        table.served.insert(key.to_owned(), task.abort_handle());
    }
}

/// The type tag a DOWN travels under.
const DOWN_TAG: &str = "genserver::Down";

fn deliver(id: MonitorRef, watching: Watching, reason: ExitReason) {
    let Watching { server, notify, token } = watching;
    drop(token);
    let down = RemoteDown { id, server, reason };
    match notify {
        Notify::Task(sender) => {
            let _ = sender.send(down);
        }
        Notify::Server(deliver) => deliver(down),
    }
}

/// How many remote monitors a node keeps in place: [`Node::remote_monitors`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MonitorCounts {
    /// Monitors this node set up on servers of other nodes, not yet fired or removed.
    pub watching: usize,
    /// Monitors other nodes set up on this node's servers, which it keeps watching.
    pub watched: usize,
}

impl Node {
    /// How many remote monitors this node keeps in place, both ways: each fired or
    /// removed monitor leaves both counts, so a steady workload keeps them steady.
    pub fn remote_monitors(&self) -> MonitorCounts {
        let table = self.inner().monitors.table();
        MonitorCounts { watching: table.watching.len(), watched: table.served.len() }
    }
}
