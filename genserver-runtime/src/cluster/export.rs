//! The serving side of remote calls and casts: the servers of this node that other nodes
//! can reach, and the delivery of their requests.
//!
//! A node answers every call to its servers with one Zenoh queryable on
//! `gs/<cluster>/call/<node>/*` and takes every cast with one subscriber on
//! `gs/<cluster>/cast/<node>/*`; the last chunk is the server's id. Both deliver from
//! Zenoh's callback, in the order the frames arrive: calls and casts from one node travel
//! at the same priority over the same link, so a node's requests to one server are
//! handled in the order it sent them (Erlang's per-sender order).
//!
//! A server is reachable once exported, which registering it under a global name does,
//! and stays so until it exits. A request that cannot be read is refused with a
//! [`Refusal`], logged and counted ([`Node::rejected_messages`](super::Node)), never
//! delivered half-read.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::runtime::Handle;
use zenoh::query::Query;

use super::keys::KeySpace;
use super::remote::{Incoming, PendingReply, Refusal, RemoteServer};
use super::wire::{Envelope, Kind};
use crate::mailbox::{Envelope as Delivery, SendError};
use crate::{ProcessRef, ServerRef};

/// A server other nodes can reach, without its type.
pub(crate) trait Exported: Send + Sync + 'static {
    /// Delivers a request read from the wire; answers `query` for a call.
    fn deliver(&self, envelope: Envelope, query: Option<Query>, exports: &Exports);

    /// The typed handle, as `Any`, for a client on this node.
    fn as_any(&self) -> &dyn Any;

    /// The server's process, for another node's monitor.
    fn process(&self) -> ProcessRef;
}

impl<S: RemoteServer> Exported for ServerRef<S> {
    fn deliver(&self, envelope: Envelope, query: Option<Query>, exports: &Exports) {
        if envelope.type_tag() != S::TYPE_TAG {
            let refusal = Refusal::WrongType {
                expected: envelope.type_tag().to_owned(),
                found: S::TYPE_TAG.to_owned(),
            };
            return exports.reject(query, refusal);
        }
        let request = match envelope.message::<S::Request>() {
            Ok(request) => request,
            Err(error) => return exports.reject(query, Refusal::BadRequest(error.to_string())),
        };
        let Incoming { msg, reply } = S::accept(request);
        let process = self.to_ref();
        let (Some(query), Some(reply)) = (query, reply) else {
            // A cast: as a local one, with the mailbox's overflow policy.
            return self.cast(msg);
        };
        match self.mailbox().try_send(Delivery::Msg(msg)) {
            Ok(()) => drop(exports.runtime.spawn(answer(process, query, reply, envelope.timeout()))),
            Err(SendError::Closed) => exports.refuse(Some(query), Refusal::NoServer),
            // Refused at once rather than waiting for room: the caller may retry.
            Err(SendError::Full) => exports.refuse(Some(query), Refusal::Full),
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn process(&self) -> ProcessRef {
        self.to_ref()
    }
}

/// Waits for the server's reply (or its exit, or the caller's deadline) and sends it.
async fn answer(process: ProcessRef, query: Query, reply: PendingReply, timeout: Option<Duration>) {
    let outcome = async {
        tokio::select! {
            biased;
            reply = reply => match reply {
                Some(Ok(bytes)) => Ok(bytes),
                Some(Err(error)) => Err(Refusal::BadReply(error.to_string())),
                // The ReplyTo was dropped unanswered: the server is exiting, or its
                // handler dropped it; the caller learns the exit, or times out.
                None => Err(Refusal::Exited((&process.exited().await).into())),
            },
            reason = process.exited() => Err(Refusal::Exited((&reason).into())),
        }
    };
    let outcome = match timeout {
        Some(timeout) => match tokio::time::timeout(timeout, outcome).await {
            Ok(outcome) => outcome,
            // The caller has given up: its query is closed, nothing to send.
            Err(_) => return,
        },
        None => outcome.await,
    };
    let sent = match outcome {
        Ok(bytes) => query.reply(query.key_expr().clone(), bytes).await,
        Err(refusal) => match refusal_bytes(&refusal) {
            Some(bytes) => query.reply_err(bytes).await,
            None => return,
        },
    };
    if let Err(error) = sent {
        tracing::debug!(%error, "could not send a remote call's reply");
    }
}

fn refusal_bytes(refusal: &Refusal) -> Option<Vec<u8>> {
    Envelope::new(Kind::Reply, Refusal::TAG, refusal).and_then(|envelope| envelope.to_bytes()).ok()
}

/// The servers of one node that other nodes can reach, and the count of requests it
/// refused as unreadable.
pub(crate) struct Exports {
    keys: KeySpace,
    runtime: Handle,
    servers: Mutex<HashMap<u64, Arc<dyn Exported>>>,
    rejected: AtomicU64,
}

impl Exports {
    pub(crate) fn new(keys: KeySpace, runtime: Handle) -> Arc<Self> {
        Arc::new(Exports { keys, runtime, servers: Mutex::new(HashMap::new()), rejected: AtomicU64::new(0) })
    }

    fn servers(&self) -> MutexGuard<'_, HashMap<u64, Arc<dyn Exported>>> {
        // No code panics while holding the lock; a poisoned lock is still consistent.
        self.servers.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Makes `server` reachable from other nodes until it exits; `false` if it has
    /// already exited. Exporting a server twice changes nothing.
    pub(crate) fn export<S: RemoteServer>(this: &Arc<Self>, server: &ServerRef<S>) -> bool {
        let id = server.id().as_u64();
        let mut servers = this.servers();
        if servers.contains_key(&id) {
            return true;
        }
        let exports: Weak<Exports> = Arc::downgrade(this);
        // Under the lock, so that an exit after this finds the entry added below.
        let added = server.add_cleanup(crate::process::next_cleanup_token(), move |_| {
            if let Some(exports) = exports.upgrade() {
                exports.servers().remove(&id);
            }
        });
        if added {
            servers.insert(id, Arc::new(server.clone()));
        }
        added
    }

    /// The exported server `id` of this node.
    pub(crate) fn get(&self, id: u64) -> Option<Arc<dyn Exported>> {
        self.servers().get(&id).cloned()
    }

    /// How many requests this node refused as unreadable.
    pub(crate) fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    /// Forgets every exported server: a stopped node serves nothing.
    pub(crate) fn stop(&self) {
        self.servers().clear();
    }

    /// A call arrived (Zenoh's callback): read in place from the query, then delivered
    /// with the query to answer, or refused.
    pub(crate) fn on_call(&self, query: Query) {
        let read = {
            let payload = query.payload().map(|payload| payload.to_bytes()).unwrap_or_default();
            self.read(query.key_expr().as_str(), &payload, Kind::Call)
        };
        self.deliver(read, Some(query));
    }

    /// A cast arrived (Zenoh's callback): delivered, or dropped and, if unreadable,
    /// counted.
    pub(crate) fn on_cast(&self, key: &str, payload: &[u8]) {
        self.deliver(self.read(key, payload, Kind::Cast), None);
    }

    /// The server id and envelope of a request of kind `expected`, or why it cannot be
    /// read.
    fn read(&self, key: &str, payload: &[u8], expected: Kind) -> Result<(u64, Envelope), Refusal> {
        let id = self
            .keys
            .parse_target(key)
            .ok_or_else(|| Refusal::BadRequest(format!("no server id in {key}")))?;
        let envelope =
            Envelope::from_bytes(payload).map_err(|error| Refusal::BadRequest(error.to_string()))?;
        if envelope.kind() != expected {
            let message = format!("a {:?} frame where a {expected:?} was expected", envelope.kind());
            return Err(Refusal::BadRequest(message));
        }
        Ok((id, envelope))
    }

    fn deliver(&self, read: Result<(u64, Envelope), Refusal>, query: Option<Query>) {
        match read {
            Ok((id, envelope)) => match self.get(id) {
                Some(server) => server.deliver(envelope, query, self),
                None => self.refuse(query, Refusal::NoServer),
            },
            Err(refusal) => self.reject(query, refusal),
        }
    }

    /// Counts and logs a frame that could not be read, which had no one to answer.
    pub(crate) fn reject_unreadable(&self, message: String) {
        self.reject(None, Refusal::BadRequest(message));
    }

    /// Refuses an unreadable request: logged and counted, and answered if it is a call.
    fn reject(&self, query: Option<Query>, refusal: Refusal) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(?refusal, "refused a request from another node");
        self.refuse(query, refusal);
    }

    /// Answers a call with a refusal; a cast is dropped, as OTP drops a send to nobody.
    fn refuse(&self, query: Option<Query>, refusal: Refusal) {
        let (Some(query), Some(bytes)) = (query, refusal_bytes(&refusal)) else { return };
        self.runtime.spawn(async move {
            if let Err(error) = query.reply_err(bytes).await {
                tracing::debug!(%error, "could not refuse a remote call");
            }
        });
    }
}
