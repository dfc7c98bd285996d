//! The calling side of remote calls and casts: [`Client`], a handle to a remote server
//! wherever it runs, which `#[genserver(remote)]` wraps in a typed client
//! (`ConfigServerClient`) with the same methods as the local handle.
//!
//! A client holds either the server's local handle, when the server runs on this node,
//! or a [`RemoteRef`] to it on another node. A remote call is a Zenoh query to
//! `gs/<cluster>/call/<node>/<id>` with the request in the [`wire`](super::wire)
//! envelope, answered by the server's node ([`export`](super::export)); a cast is a put
//! to `gs/<cluster>/cast/<node>/<id>`. Outcomes map onto [`CallError`] as for a local
//! call, plus two that only a network has:
//!
//! | what happens | the call returns |
//! |---|---|
//! | the server replies | `Ok(reply)` |
//! | no reply within the timeout (5 s by default); a late reply is dropped | [`CallError::Timeout`] |
//! | the node runs no such server (it exited, or never ran there) | [`CallError::NoServer`] |
//! | the server exits before replying | [`CallError::Exited`] with its reason |
//! | the server's bounded mailbox is full (the request was not queued) | [`CallError::Full`] |
//! | the server's node is down, or goes down during the call | [`CallError::NodeDown`] |
//! | the request or reply cannot be encoded or read (nodes of incompatible versions) | [`CallError::BadMessage`] |

use std::fmt;
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use zenoh::Wait;
use zenoh::qos::{CongestionControl, Priority};
use zenoh::query::{ConsolidationMode, QueryTarget};

use super::global::GlobalName;
use super::node::Node;
use super::remote::{Refusal, RemoteServer, Travels};
use super::wire::{EncodeError, Envelope, Kind};
use crate::{Call, CallError, CallFuture, DEFAULT_CALL_TIMEOUT, GenServer, ServerRef};

/// A handle to a server of type `S` on any node of the cluster, this one included: what
/// a typed client such as `ConfigServerClient` wraps. Cheap to clone.
///
/// It points at one server: if the server exits and another takes its global name, look
/// the name up again (OTP's `{:global, name}` looks it up on every call).
pub struct Client<S: RemoteServer> {
    target: Location<S>,
}

enum Location<S: RemoteServer> {
    /// With the name of its node, when known (a client made from a local handle does not
    /// know it).
    Local(S::Ref, Option<Arc<str>>),
    Remote(RemoteRef<S>),
}

/// Where a [`Client`]'s server runs: what a generated client method matches on.
pub enum Target<'a, S: RemoteServer> {
    /// On this node: the local handle.
    Local(&'a S::Ref),
    /// On another node.
    Remote(&'a RemoteRef<S>),
}

impl<S: RemoteServer> Client<S> {
    /// The client of the server registered under the global name `name`, found by
    /// asking the cluster ([`Node::whereis_global`]). [`CallError::NoServer`] if nobody
    /// holds the name (OTP: a call to an unregistered `{:global, name}` exits with
    /// `:noproc`).
    pub async fn global(node: &Node, name: &str) -> Result<Self, CallError> {
        let holder = node.whereis_global(name).await.ok_or(CallError::NoServer)?;
        Self::at(node, &holder)
    }

    /// The client of the server `holder` (a node and a server id there). On this node it
    /// is the server's local handle, which must have been made reachable (registered
    /// under a global name).
    pub fn at(node: &Node, holder: &GlobalName) -> Result<Self, CallError> {
        if holder.node != node.name() {
            return Ok(Client { target: Location::Remote(RemoteRef::new(node, holder)) });
        }
        let exported = node.inner().exports.get(holder.id).ok_or(CallError::NoServer)?;
        let server = exported.as_any().downcast_ref::<ServerRef<S>>().ok_or_else(|| {
            CallError::BadMessage(format!("server {holder} is not a {}", S::TYPE_TAG).into())
        })?;
        let local = Location::Local(server.clone().into(), Some(node.name().into()));
        Ok(Client { target: local })
    }

    /// The clients of the members of the process group `group` that are servers of type
    /// `S`, on every node, as this node sees them ([`Node::group_members_of`]).
    pub fn group(node: &Node, group: &str) -> Vec<Self> {
        let members = node.group_members_of::<S>(group);
        members.iter().filter_map(|member| Self::at(node, member).ok()).collect()
    }

    /// The client of a server of this node.
    pub fn local(server: S::Ref) -> Self {
        Client { target: Location::Local(server, None) }
    }

    /// Where the server runs.
    pub fn target(&self) -> Target<'_, S> {
        match &self.target {
            Location::Local(server, _) => Target::Local(server),
            Location::Remote(remote) => Target::Remote(remote),
        }
    }

    /// `true` when the server runs on this node.
    pub fn is_local(&self) -> bool {
        matches!(self.target, Location::Local(..))
    }

    /// Where the server runs: its node and its id there. For a client made from a local
    /// handle ([`Client::local`]), which knows no node, the node is empty.
    pub fn holder(&self) -> GlobalName {
        match &self.target {
            Location::Local(server, node) => GlobalName {
                node: node.as_deref().unwrap_or_default().to_owned(),
                id: std::ops::Deref::deref(server.as_ref()).id().as_u64(),
            },
            Location::Remote(remote) => remote.holder().clone(),
        }
    }
}

impl<S: RemoteServer> Clone for Client<S> {
    fn clone(&self) -> Self {
        let target = match &self.target {
            Location::Local(server, node) => Location::Local(server.clone(), node.clone()),
            Location::Remote(remote) => Location::Remote(remote.clone()),
        };
        Client { target }
    }
}

impl<S: RemoteServer> fmt::Debug for Client<S>
where
    S::Ref: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            Location::Local(server, _) => server.fmt(f),
            Location::Remote(remote) => remote.fmt(f),
        }
    }
}

/// A server of type `S` on another node: sends it requests over Zenoh.
pub struct RemoteRef<S> {
    shared: Arc<RemoteShared>,
    _server: PhantomData<fn() -> S>,
}

/// What the clones of one [`RemoteRef`] share.
struct RemoteShared {
    node: Node,
    holder: GlobalName,
    call_key: String,
    cast_key: String,
}

impl<S> Clone for RemoteRef<S> {
    fn clone(&self) -> Self {
        RemoteRef { shared: self.shared.clone(), _server: PhantomData }
    }
}

impl<S> fmt::Debug for RemoteRef<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let server = crate::type_name::short_type_name::<S>();
        f.debug_struct(&server).field("at", &self.shared.holder).finish()
    }
}

impl<S: RemoteServer> RemoteRef<S> {
    fn new(node: &Node, holder: &GlobalName) -> Self {
        let keys = &node.inner().keys;
        let shared = RemoteShared {
            node: node.clone(),
            holder: holder.clone(),
            call_key: keys.call(&holder.node, holder.id),
            cast_key: keys.cast(&holder.node, holder.id),
        };
        RemoteRef { shared: Arc::new(shared), _server: PhantomData }
    }

    /// Where the server runs: its node and its id there.
    pub fn holder(&self) -> &GlobalName {
        &self.shared.holder
    }

    /// The node this handle calls from.
    pub(crate) fn node(&self) -> &Node {
        &self.shared.node
    }

    /// Starts a call with `request`: generated client methods use this; await the
    /// returned [`ClientCall`] for the reply.
    pub fn call<R: Travels>(&self, request: S::Request) -> ClientCall<S, R> {
        let envelope = Envelope::new(Kind::Call, S::TYPE_TAG, &request);
        let shared = self.shared.clone();
        ClientCall { inner: Pending::Remote { shared, envelope, timeout: Some(DEFAULT_CALL_TIMEOUT) } }
    }

    /// Sends `request` as a cast, without waiting. As OTP's cast, it is dropped if the
    /// server or its node is gone; a request that cannot be encoded is logged and dropped.
    pub fn cast(&self, request: S::Request) {
        let shared = &self.shared;
        let sent = Envelope::new(Kind::Cast, S::TYPE_TAG, &request)
            .and_then(|envelope| envelope.to_bytes())
            .map_err(|error| error.to_string())
            .and_then(|bytes| {
                // The same priority as calls, and never dropped under congestion, so that
                // calls and casts from this node reach the server in the order sent.
                let put = shared.node.inner().session.put(&shared.cast_key, bytes);
                put.priority(Priority::DEFAULT)
                    .congestion_control(CongestionControl::Block)
                    .wait()
                    .map_err(|error| error.to_string())
            });
        if let Err(error) = sent {
            tracing::warn!(server = %shared.holder, %error, "remote cast dropped");
        }
    }
}

/// A call to a [`Client`]'s server in the making: set a timeout, then `.await` it for the
/// reply. Nothing is sent until it is awaited. It owns what it needs, so it can be
/// spawned or kept after its client is dropped, as a local [`Call`].
#[must_use = "a call does nothing until it is awaited"]
pub struct ClientCall<S: GenServer, R> {
    inner: Pending<S, R>,
}

enum Pending<S: GenServer, R> {
    Local(Call<S, R>),
    Remote { shared: Arc<RemoteShared>, envelope: Result<Envelope, EncodeError>, timeout: Option<Duration> },
}

impl<S: GenServer, R: Send + 'static> From<Call<S, R>> for ClientCall<S, R> {
    fn from(call: Call<S, R>) -> Self {
        ClientCall { inner: Pending::Local(call) }
    }
}

impl<S: GenServer, R: Travels> crate::TimedCall for ClientCall<S, R> {
    fn with_timeout(self, timeout: Duration) -> Self {
        self.timeout(timeout)
    }
}

impl<S: GenServer, R: Send + 'static> ClientCall<S, R> {
    /// Waits at most `timeout` for the reply instead of the default 5 s.
    pub fn timeout(self, timeout: Duration) -> Self {
        self.with_timeout(Some(timeout))
    }

    /// Waits for the reply as long as it takes (OTP: `:infinity`). The call still ends
    /// at once when the server exits or its node goes down.
    pub fn no_timeout(self) -> Self {
        self.with_timeout(None)
    }

    fn with_timeout(self, timeout: Option<Duration>) -> Self {
        let inner = match self.inner {
            Pending::Local(call) => Pending::Local(match timeout {
                Some(timeout) => call.timeout(timeout),
                None => call.no_timeout(),
            }),
            Pending::Remote { shared, envelope, .. } => Pending::Remote { shared, envelope, timeout },
        };
        ClientCall { inner }
    }
}

impl<S: GenServer, R: Travels> IntoFuture for ClientCall<S, R> {
    type Output = Result<R, CallError>;
    type IntoFuture = ClientCallFuture<S, R>;

    fn into_future(self) -> Self::IntoFuture {
        match self.inner {
            Pending::Local(call) => ClientCallFuture::Local(call.into_future()),
            Pending::Remote { shared, envelope, timeout } => {
                ClientCallFuture::Remote(Box::pin(remote_call(shared, envelope, timeout)))
            }
        }
    }
}

/// The future of an awaited [`ClientCall`].
#[must_use = "futures do nothing unless polled"]
pub enum ClientCallFuture<S: GenServer, R> {
    #[doc(hidden)]
    Local(CallFuture<S, R>),
    #[doc(hidden)]
    Remote(Pin<Box<dyn Future<Output = Result<R, CallError>> + Send>>),
}

impl<S: GenServer, R: Send + 'static> Future for ClientCallFuture<S, R> {
    type Output = Result<R, CallError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            ClientCallFuture::Local(call) => Pin::new(call).poll(cx),
            ClientCallFuture::Remote(call) => call.as_mut().poll(cx),
        }
    }
}

/// How long a call without a timeout asks Zenoh to wait: a year, far beyond any reply,
/// and far from any overflow in Zenoh's deadline arithmetic.
const NO_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 3600);

/// One remote call: the query, and what its replies (or their absence) mean.
async fn remote_call<R: Travels>(
    shared: Arc<RemoteShared>,
    envelope: Result<Envelope, EncodeError>,
    timeout: Option<Duration>,
) -> Result<R, CallError> {
    let bytes = envelope
        .map(|envelope| envelope.with_timeout(timeout))
        .and_then(|envelope| envelope.to_bytes())
        .map_err(|error| CallError::BadMessage(error.to_string().into()))?;
    let shared = &*shared;
    let node = &shared.node;
    let target = &shared.holder.node;
    let node_down = || CallError::NodeDown(target.as_str().into());
    let Some(mut downs) = node.watch_down(target) else {
        return Err(node_down());
    };
    // Ends when the node goes down as this node sees it: a call to a node known dead
    // fails at once, not at its timeout.
    let went_down = async { while downs.changed().await.is_ok() && node.is_up(target) {} };
    let wait = timeout.unwrap_or(NO_TIMEOUT);
    // `None` when every attempt ended without a reply.
    let asked = async {
        // A query that ends with no reply while the node is up met Zenoh's races between
        // a new link and the queryable's declaration (zenoh issues #2767, #2516): asked
        // again once, within the same deadline.
        for _attempt in 0..2 {
            let replies = node
                .inner()
                .session
                .get(&shared.call_key)
                .payload(bytes.clone())
                .target(QueryTarget::BestMatching)
                .consolidation(ConsolidationMode::None)
                .priority(Priority::DEFAULT)
                .congestion_control(CongestionControl::Block)
                // The deadline is ours (below); Zenoh's only frees the query after it.
                .timeout(wait + QUERY_GRACE)
                .await;
            let replies = match replies {
                Ok(replies) => replies,
                Err(error) => {
                    return Some(Err(CallError::BadMessage(
                        format!("zenoh refused the query: {error}").into(),
                    )));
                }
            };
            if let Ok(reply) = replies.recv_async().await {
                return Some(match reply.result() {
                    Ok(sample) => decode_reply(&sample.payload().to_bytes()),
                    Err(refusal) => Err(decode_refusal(&refusal.payload().to_bytes())),
                });
            }
            if !node.is_up(target) {
                return Some(Err(node_down()));
            }
        }
        None
    };
    let outcome = async {
        tokio::pin!(went_down);
        let asked = tokio::select! {
            biased;
            () = &mut went_down => return Err(node_down()),
            asked = asked => asked,
        };
        match asked {
            Some(outcome) => outcome,
            // No reply at all: a link that closes (its node died) ends its queries a
            // moment before the node's tokens go, so wait that moment for the node down.
            None => match tokio::time::timeout(NODE_DOWN_GRACE, went_down).await {
                Ok(()) => Err(node_down()),
                Err(_) => Err(CallError::NoServer),
            },
        }
    };
    match tokio::time::timeout(wait, outcome).await {
        Ok(outcome) => outcome,
        // Dropping the query drops a late reply with it.
        Err(_) => Err(CallError::Timeout(timeout.unwrap_or(Duration::MAX))),
    }
}

/// How long a call that got no reply at all waits for its node to be seen down before
/// it says [`CallError::NoServer`]: Zenoh ends the queries of a closing link just before
/// it withdraws the tokens of the node behind it.
const NODE_DOWN_GRACE: Duration = Duration::from_millis(500);

/// How much longer than the caller Zenoh keeps a query open, so that the caller's own
/// deadline always decides a timeout.
const QUERY_GRACE: Duration = Duration::from_millis(100);

fn decode_reply<R: Travels>(bytes: &[u8]) -> Result<R, CallError> {
    let bad = |error: &dyn fmt::Display| CallError::BadMessage(format!("unreadable reply: {error}").into());
    let envelope = Envelope::from_bytes(bytes).map_err(|error| bad(&error))?;
    R::from_envelope(&envelope).map_err(|error| bad(&error))
}

fn decode_refusal(bytes: &[u8]) -> CallError {
    let refusal = Envelope::from_bytes(bytes).and_then(|envelope| envelope.message::<Refusal>());
    match refusal {
        Ok(refusal) => refusal.into_call_error(),
        Err(error) => CallError::BadMessage(format!("unreadable refusal: {error}").into()),
    }
}
