//! Supervisors: a server that starts children, watches them and restarts them by a
//! strategy (OTP: `Supervisor`, `supervisor`).
//!
//! The supervisor is an ordinary server, implemented by hand in [`server`]: it traps
//! exits and links every child, so a child's exit arrives as an [`Exit`](crate::Exit)
//! info message, which it answers with the child spec's restart type and its
//! [`Strategy`]. This module holds the public face: [`Supervisor::builder`], the
//! [`SupervisorRef`] handle and its calls, and [`SupervisorError`]; [`spec`] holds the
//! child specs, [`dynamic`] the dynamic supervisor.

mod dynamic;
mod server;
mod spec;
mod typed_spec;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use dynamic::{DynamicSupervisor, DynamicSupervisorBuilder, DynamicSupervisorRef};
pub use server::{Supervisor, SupervisorInfo, SupervisorMsg};
pub use spec::{ChildSpec, ChildStartError, ChildType, Restart, Shutdown};
pub use typed_spec::{IntoChildSpec, TypedChildSpec};

use server::Request;

use crate::{CallError, Process, ProcessRef, ServerId, ServerRef, StartError};

/// Whether a supervisor's children are given at start, each known by its id, or added at
/// run time (a [`DynamicSupervisor`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Static,
    Dynamic { max_children: Option<usize> },
}

/// How a supervisor answers a child's exit (OTP: the `strategy` flag).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// Restart only the child that exited (the default).
    #[default]
    OneForOne,
    /// Stop the other children (in reverse start order), then restart them all in start
    /// order.
    OneForAll,
    /// Stop the children started after the one that exited (in reverse start order), then
    /// restart it and them in start order.
    RestForOne,
}

/// When a supervisor shuts itself down because its significant children exited (OTP:
/// the `auto_shutdown` flag; Elixir 1.14: `:auto_shutdown`).
///
/// Only an exit that a child makes by itself and that is not followed by a restart
/// counts: a transient significant child that exits normally or with a shutdown, a
/// temporary one that exits for any reason. A child stopped by the supervisor
/// (`terminate_child`, a sibling's restart, the supervisor's own shutdown) does not. The
/// supervisor then stops its other children and exits with
/// [`ExitReason::Shutdown`](crate::ExitReason::Shutdown).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AutoShutdown {
    /// Never (the default); no child may then be marked significant.
    #[default]
    Never,
    /// As soon as any significant child has exited.
    AnySignificant,
    /// Once every significant child has exited. A significant child whose restart failed
    /// and is to be tried again still counts as there (OTP counts only running children).
    AllSignificant,
}

/// Options for starting a [`Supervisor`]: strategy, restart intensity, automatic
/// shutdown, name, children.
///
/// ```
/// use genserver_runtime::prelude::*;
/// use genserver_runtime::{ChildSpec, Strategy, Supervisor};
///
/// pub struct Worker;
///
/// #[genserver]
/// impl Worker {
///     #[cast]
///     fn crash(&mut self) {
///         panic!("on purpose");
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let supervisor = Supervisor::builder()
///     .strategy(Strategy::OneForOne)
///     .intensity(3, Duration::from_secs(5))
///     .child(ChildSpec::new("worker", || Worker::builder().name("worker").start_link(Worker)))
///     .start()
///     .await?;
/// let first = Worker::whereis("worker").expect("started");
/// first.crash();
/// first.exited().await;
/// // The supervisor has restarted it by the time it answers a call.
/// assert_eq!(supervisor.count_children().await?.active, 1);
/// let second = Worker::whereis("worker").expect("restarted");
/// assert_ne!(first.id(), second.id());
/// supervisor.stop(ExitReason::Shutdown, Duration::from_secs(5)).await?;
/// assert!(!second.is_alive());
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until `start` is awaited"]
#[derive(Debug)]
pub struct SupervisorBuilder {
    strategy: Strategy,
    intensity: u32,
    period: Duration,
    auto_shutdown: AutoShutdown,
    name: Option<Arc<str>>,
    children: Vec<ChildSpec>,
    /// The server that starts the supervisor, set by `start`.
    parent: Option<ServerId>,
    /// Where `init` says why it failed.
    failure: Arc<Mutex<Option<SupervisorError>>>,
    /// Static, or dynamic with its maximum of children.
    kind: Kind,
}

impl Supervisor {
    /// A builder for a one-for-one supervisor with Elixir's default intensity (3 restarts
    /// in 5 s), no name and no children.
    pub fn builder() -> SupervisorBuilder {
        SupervisorBuilder {
            strategy: Strategy::OneForOne,
            intensity: 3,
            period: Duration::from_secs(5),
            auto_shutdown: AutoShutdown::Never,
            name: None,
            children: Vec::new(),
            parent: None,
            failure: Arc::default(),
            kind: Kind::Static,
        }
    }
}

impl SupervisorBuilder {
    /// Sets the strategy (default [`Strategy::OneForOne`]).
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// Allows at most `max_restarts` restarts within `period` (OTP: `intensity` and
    /// `period`; Elixir: `max_restarts`, `max_seconds`). One more stops every child and
    /// the supervisor itself, with [`ExitReason::Shutdown`](crate::ExitReason::Shutdown).
    pub fn intensity(mut self, max_restarts: u32, period: Duration) -> Self {
        self.intensity = max_restarts;
        self.period = period;
        self
    }

    /// Sets when the supervisor shuts itself down because its significant children
    /// exited (default [`AutoShutdown::Never`]); see [`ChildSpec::significant`].
    pub fn auto_shutdown(mut self, auto_shutdown: AutoShutdown) -> Self {
        self.auto_shutdown = auto_shutdown;
        self
    }

    /// Registers the supervisor under `name` (see [`whereis`](crate::whereis)).
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Adds a child; children start in the order they are added.
    pub fn child(mut self, spec: impl IntoChildSpec) -> Self {
        self.children.push(spec.into_child_spec());
        self
    }

    /// Adds several children, in order.
    pub fn children(mut self, specs: impl IntoIterator<Item = ChildSpec>) -> Self {
        self.children.extend(specs);
        self
    }

    /// Starts the supervisor and its children, in order, and returns once all are running
    /// (OTP: `Supervisor.start_link/2`). Called from inside a server (another supervisor
    /// starting it as a child), it links the two, and that server is its parent: when the
    /// parent exits, for any reason, the supervisor stops its children and exits with the
    /// same reason.
    ///
    /// If a child fails to start, the children already started are stopped in reverse
    /// order and this returns [`SupervisorError::FailedToStartChild`] naming it.
    pub async fn start(self) -> Result<SupervisorRef, SupervisorError> {
        let failure = self.failure.clone();
        let mut builder = crate::Builder::<Supervisor>::new();
        if let Some(name) = &self.name {
            builder = builder.name(name.clone());
        }
        let args = SupervisorBuilder { parent: crate::process::current_server(), ..self };
        match builder.start_link(args).await {
            Ok(supervisor) => Ok(supervisor),
            Err(error) => {
                let detail = failure.lock().unwrap_or_else(|e| e.into_inner()).take();
                Err(detail.unwrap_or(SupervisorError::Start(Arc::new(error))))
            }
        }
    }
}

/// A handle to a running [`Supervisor`]: its calls, and (by dereference) its
/// [`Process`].
#[derive(Clone, PartialEq, Eq)]
pub struct SupervisorRef(ServerRef<Supervisor>);

impl From<ServerRef<Supervisor>> for SupervisorRef {
    fn from(server: ServerRef<Supervisor>) -> Self {
        SupervisorRef(server)
    }
}

impl std::ops::Deref for SupervisorRef {
    type Target = Process;

    fn deref(&self) -> &Process {
        &self.0
    }
}

impl fmt::Debug for SupervisorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// One child, as [`SupervisorRef::which_children`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ChildInfo {
    /// The child's id.
    pub id: Arc<str>,
    /// The running child, or `None` if it is not running (terminated, restarting, or it
    /// ignored its start).
    pub process: Option<ProcessRef>,
    /// Its restart failed and the supervisor will try again (OTP: `restarting` in place of
    /// the pid).
    pub restarting: bool,
    /// Worker or supervisor.
    pub child_type: ChildType,
    /// Its restart type.
    pub restart: Restart,
}

/// What [`SupervisorRef::count_children`] counts (OTP: `count_children/1`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChildCounts {
    /// Every child spec the supervisor holds, running or not.
    pub specs: usize,
    /// The children that are running.
    pub active: usize,
    /// The child specs of type [`ChildType::Supervisor`].
    pub supervisors: usize,
    /// The child specs of type [`ChildType::Worker`].
    pub workers: usize,
}

impl SupervisorRef {
    pub(in crate::supervisor) async fn request<R: Send + 'static>(
        &self,
        make: impl FnOnce(crate::ReplyTo<R>) -> Request,
    ) -> Result<R, SupervisorError> {
        self.0
            .call(|reply_to| SupervisorMsg(make(reply_to)))
            .no_timeout()
            .await
            .map_err(SupervisorError::Call)
    }

    /// Every child in start order (OTP: `which_children/1`).
    pub async fn which_children(&self) -> Result<Vec<ChildInfo>, SupervisorError> {
        self.request(Request::WhichChildren).await
    }

    /// How many children, and of which kind (OTP: `count_children/1`).
    pub async fn count_children(&self) -> Result<ChildCounts, SupervisorError> {
        self.request(Request::CountChildren).await
    }

    /// Adds a child at the end and starts it (OTP: `start_child/2`). `Ok(None)` if it
    /// ignored its start (its spec is kept, unless temporary). The child comes back as a
    /// [`ProcessRef`] for a [`ChildSpec`], and as its server's client handle for a
    /// [`TypedChildSpec`] (every generated `S::child_spec(args)`).
    ///
    /// Errors: [`SupervisorError::AlreadyStarted`] if a running child has the id,
    /// [`SupervisorError::AlreadyPresent`] if a stopped one does,
    /// [`SupervisorError::InvalidChildSpec`] if the spec breaks a rule,
    /// [`SupervisorError::FailedToStartChild`] if the start fails (the spec is not kept).
    pub async fn start_child<C: IntoChildSpec>(&self, spec: C) -> Result<Option<C::Handle>, SupervisorError> {
        let spec = spec.into_child_spec();
        let started = self.request(|reply_to| Request::StartChild(spec, reply_to)).await??;
        Ok(started.map(C::handle))
    }

    /// Stops the child `id` by its [`Shutdown`] and keeps its spec, so that
    /// [`restart_child`](Self::restart_child) can start it again; a temporary child's spec
    /// is dropped (OTP: `terminate_child/2`). Stopping a child that is not running is fine;
    /// for a restarting child it cancels the next attempt.
    ///
    /// Errors: [`SupervisorError::NotFound`].
    pub async fn terminate_child(&self, id: &str) -> Result<(), SupervisorError> {
        let id: Arc<str> = id.into();
        self.request(|reply_to| Request::TerminateChild(id, reply_to)).await?
    }

    /// Starts again the child `id`, which must not be running (OTP: `restart_child/2`).
    /// `Ok(None)` if it ignored its start.
    ///
    /// Errors: [`SupervisorError::NotFound`], [`SupervisorError::Running`],
    /// [`SupervisorError::Restarting`], [`SupervisorError::FailedToStartChild`].
    pub async fn restart_child(&self, id: &str) -> Result<Option<ProcessRef>, SupervisorError> {
        let id: Arc<str> = id.into();
        self.request(|reply_to| Request::RestartChild(id, reply_to)).await?
    }

    /// Forgets the spec of the child `id`, which must not be running (OTP:
    /// `delete_child/2`).
    ///
    /// Errors: [`SupervisorError::NotFound`], [`SupervisorError::Running`],
    /// [`SupervisorError::Restarting`].
    pub async fn delete_child(&self, id: &str) -> Result<(), SupervisorError> {
        let id: Arc<str> = id.into();
        self.request(|reply_to| Request::DeleteChild(id, reply_to)).await?
    }
}

/// What went wrong starting a supervisor or with one of its calls (OTP: the `{:error, _}`
/// results of the `Supervisor` functions).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum SupervisorError {
    /// A child did not start (OTP: `{:shutdown, {:failed_to_start_child, id, reason}}` at
    /// start, `{:error, reason}` from `start_child` and `restart_child`). At the
    /// supervisor's start, the children started before it have been stopped.
    FailedToStartChild {
        /// The child's id.
        id: Arc<str>,
        /// Why it did not start.
        reason: ChildStartError,
    },
    /// Two children of the builder have the same id (OTP: `duplicate_child_name`).
    DuplicateChild(Arc<str>),
    /// No child has this id (OTP: `:not_found`).
    NotFound(Arc<str>),
    /// The child is running, so it cannot be restarted or deleted (OTP: `:running`).
    Running(Arc<str>),
    /// The child's restart failed and the supervisor will try again, so it cannot be
    /// restarted or deleted meanwhile (OTP: `:restarting`).
    Restarting(Arc<str>),
    /// A child spec breaks a rule (OTP: `{:invalid_child_spec, _}`, `:bad_combination`):
    /// a significant child that is permanent, or under a supervisor without an automatic
    /// shutdown.
    InvalidChildSpec {
        /// The child's id.
        id: Arc<str>,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// `start_child` with the id of a running child, here (OTP: `{:already_started, pid}`).
    AlreadyStarted(ProcessRef),
    /// `start_child` with the id of a child that is not running (OTP: `:already_present`).
    AlreadyPresent(Arc<str>),
    /// The supervisor server itself did not start (its name is taken, for example).
    Start(Arc<StartError<Supervisor>>),
    /// The call to the supervisor failed: it is not running, or exited meanwhile.
    Call(CallError),
    /// A dynamic supervisor already has its maximum number of children (OTP:
    /// `:max_children`).
    MaxChildren,
    /// No child of a dynamic supervisor is this server (OTP: `:not_found`).
    NoChild(ServerId),
    /// `terminate_child`, `restart_child` or `delete_child` by id on a dynamic supervisor,
    /// whose children have no ids of their own (OTP: `:simple_one_for_one`); stop one of
    /// its children with `DynamicSupervisorRef::terminate_child` and its server id.
    UnsupportedOnDynamic,
}

impl PartialEq for SupervisorError {
    fn eq(&self, other: &Self) -> bool {
        use SupervisorError::*;
        match (self, other) {
            (FailedToStartChild { id: a, reason: r }, FailedToStartChild { id: b, reason: s }) => {
                a == b && r.to_string() == s.to_string()
            }
            (DuplicateChild(a), DuplicateChild(b))
            | (NotFound(a), NotFound(b))
            | (Running(a), Running(b))
            | (Restarting(a), Restarting(b))
            | (AlreadyPresent(a), AlreadyPresent(b)) => a == b,
            (AlreadyStarted(a), AlreadyStarted(b)) => a == b,
            (Start(a), Start(b)) => a.to_string() == b.to_string(),
            (Call(a), Call(b)) => a == b,
            (InvalidChildSpec { id: a, reason: r }, InvalidChildSpec { id: b, reason: s }) => {
                a == b && r == s
            }
            (MaxChildren, MaxChildren) | (UnsupportedOnDynamic, UnsupportedOnDynamic) => true,
            (NoChild(a), NoChild(b)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Display for SupervisorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SupervisorError::FailedToStartChild { id, .. } => write!(f, "failed to start child {id:?}"),
            SupervisorError::DuplicateChild(id) => write!(f, "two children have the id {id:?}"),
            SupervisorError::NotFound(id) => write!(f, "no child has the id {id:?}"),
            SupervisorError::Running(id) => write!(f, "child {id:?} is running"),
            SupervisorError::Restarting(id) => write!(f, "child {id:?} is restarting"),
            SupervisorError::InvalidChildSpec { id, reason } => {
                write!(f, "invalid child spec {id:?}: {reason}")
            }
            SupervisorError::AlreadyStarted(process) => {
                write!(f, "a child with this id is already running ({})", process.id())
            }
            SupervisorError::AlreadyPresent(id) => {
                write!(f, "a child with the id {id:?} is already present")
            }
            SupervisorError::Start(_) => f.write_str("the supervisor did not start"),
            SupervisorError::Call(_) => f.write_str("supervisor call failed"),
            SupervisorError::MaxChildren => f.write_str("the dynamic supervisor has its maximum of children"),
            SupervisorError::NoChild(server) => {
                write!(f, "server {server} is not a child of this supervisor")
            }
            SupervisorError::UnsupportedOnDynamic => {
                f.write_str("a dynamic supervisor's children have no ids: address a child by its server id")
            }
        }
    }
}

impl std::error::Error for SupervisorError {
    /// Why a child or the supervisor did not start, or why a call to it failed.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SupervisorError::FailedToStartChild { reason, .. } => Some(reason),
            SupervisorError::Start(error) => Some(&**error),
            SupervisorError::Call(error) => Some(error),
            _ => None,
        }
    }
}
