//! Child specifications: what a supervisor needs to know to start, restart and stop one
//! child (OTP: the child spec map `%{id, start, restart, shutdown, type, significant}`).

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::{GenServer, Process, ProcessRef, StartError};

/// When a child that exited is restarted (OTP: the `restart` field of a child spec).
///
/// | Exit reason | `Permanent` | `Transient` | `Temporary` |
/// |---|---|---|---|
/// | `Normal` | restarted | not restarted | not restarted |
/// | `Shutdown`, `ShutdownWith` | restarted | not restarted | not restarted |
/// | anything else (`Killed`, `Panic`, `Error`, ...) | restarted | restarted | not restarted |
///
/// A temporary child is forgotten once it exits, or once it is stopped because a sibling
/// failed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(rename_all = "snake_case"))]
pub enum Restart {
    /// Always restarted (the default).
    #[default]
    Permanent,
    /// Restarted only after an abnormal exit.
    Transient,
    /// Never restarted.
    Temporary,
}

/// How a supervisor stops one child (OTP: the `shutdown` field of a child spec).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shutdown {
    /// Asks the child to stop with [`ExitReason::Shutdown`](crate::ExitReason::Shutdown)
    /// (its `terminate` runs) and kills it if it has not exited within the duration.
    Timeout(Duration),
    /// Kills the child at once: its `terminate` does not run.
    BrutalKill,
    /// Asks the child to stop and waits as long as it takes (the default for a supervisor
    /// child, which needs the time to stop its own children).
    Infinity,
}

impl Default for Shutdown {
    /// Five seconds, OTP's default for a worker.
    fn default() -> Self {
        Shutdown::Timeout(Duration::from_secs(5))
    }
}

/// Whether a child is a worker or a supervisor (OTP: the `type` field of a child spec).
/// It only shows in [`which_children`](crate::SupervisorRef::which_children) and
/// [`count_children`](crate::SupervisorRef::count_children).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(rename_all = "snake_case"))]
pub enum ChildType {
    /// An ordinary server (the default).
    #[default]
    Worker,
    /// A supervisor.
    Supervisor,
}

/// Why a child's start function did not give a running child.
#[derive(Clone, Debug)]
pub enum ChildStartError {
    /// The child's `init` returned [`Init::ignore`](crate::Init::ignore) (OTP: `:ignore`):
    /// the supervisor keeps its spec without a running child (a temporary child's spec is
    /// dropped).
    Ignored,
    /// The start failed with this error.
    Failed(Arc<dyn StdError + Send + Sync>),
}

impl ChildStartError {
    /// A failure from any error value or message.
    pub fn failed(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        ChildStartError::Failed(Arc::from(error.into()))
    }
}

impl fmt::Display for ChildStartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChildStartError::Ignored => f.write_str("the child ignored its start"),
            ChildStartError::Failed(error) => write!(f, "{error}"),
        }
    }
}

impl StdError for ChildStartError {
    /// The cause of the failure: a failed start shows its error's own message, so its
    /// source is that error's source.
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            ChildStartError::Ignored => None,
            ChildStartError::Failed(error) => error.source(),
        }
    }
}

impl<S: GenServer> From<StartError<S>> for ChildStartError {
    fn from(error: StartError<S>) -> Self {
        match error {
            StartError::Ignored => ChildStartError::Ignored,
            error => ChildStartError::failed(error),
        }
    }
}

impl From<super::SupervisorError> for ChildStartError {
    fn from(error: super::SupervisorError) -> Self {
        ChildStartError::failed(error)
    }
}

impl From<Box<dyn StdError + Send + Sync>> for ChildStartError {
    fn from(error: Box<dyn StdError + Send + Sync>) -> Self {
        ChildStartError::Failed(Arc::from(error))
    }
}

type StartFuture = Pin<Box<dyn Future<Output = Result<ProcessRef, ChildStartError>> + Send>>;

/// How to start one child, and what to do when it exits (OTP: a child spec).
///
/// ```
/// use genserver_runtime::prelude::*;
/// use genserver_runtime::{ChildSpec, Restart, Shutdown};
///
/// pub struct Counter {
///     count: u64,
/// }
///
/// #[genserver]
/// impl Counter {
///     #[call]
///     fn next(&mut self) -> u64 {
///         self.count += 1;
///         self.count
///     }
/// }
///
/// let spec = ChildSpec::new("counter", || Counter::start_link(Counter { count: 0 }))
///     .restart(Restart::Transient)
///     .shutdown(Shutdown::Timeout(Duration::from_secs(1)));
/// assert_eq!(spec.id(), "counter");
/// ```
#[derive(Clone)]
pub struct ChildSpec {
    pub(crate) id: Arc<str>,
    pub(crate) start: Arc<dyn Fn() -> StartFuture + Send + Sync>,
    pub(crate) restart: Restart,
    pub(crate) shutdown: Shutdown,
    pub(crate) child_type: ChildType,
    pub(crate) significant: bool,
}

impl ChildSpec {
    /// A permanent worker child named `id`, stopped with a 5 s timeout, started (and
    /// restarted) by calling `start`.
    ///
    /// `start` returns a future that starts the child, such as a generated
    /// `Server::start_link(args)`: its handle can be any that dereferences to a
    /// [`Process`] (every generated client handle does), its error anything that converts
    /// into a [`ChildStartError`] (a [`StartError`] does). It runs inside the supervisor,
    /// so `start_link` links the child to it; the supervisor links it in any case. A panic
    /// in `start` or in its future counts as a failed start, as OTP catches the exceptions
    /// of a start function.
    pub fn new<F, Fut, H, E>(id: impl Into<Arc<str>>, start: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<H, E>> + Send + 'static,
        H: Deref<Target = Process>,
        E: Into<ChildStartError>,
    {
        let start = move || -> StartFuture {
            let started = start();
            Box::pin(async move {
                match started.await {
                    Ok(handle) => Ok(handle.to_ref()),
                    Err(error) => Err(error.into()),
                }
            })
        };
        ChildSpec {
            id: id.into(),
            start: Arc::new(start),
            restart: Restart::default(),
            shutdown: Shutdown::default(),
            child_type: ChildType::Worker,
            significant: false,
        }
    }

    /// Sets the child's id, for example to run two servers of one type under the same
    /// supervisor from their generated `child_spec` (Elixir: `Supervisor.child_spec/2`
    /// with `id:`).
    pub fn with_id(mut self, id: impl Into<Arc<str>>) -> Self {
        self.id = id.into();
        self
    }

    /// Sets when the child is restarted (default [`Restart::Permanent`]).
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// Sets how the child is stopped (default [`Shutdown::Timeout`] of 5 s).
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Marks the child as a supervisor, and gives it [`Shutdown::Infinity`] (OTP's default
    /// for a supervisor child); call [`shutdown`](Self::shutdown) after this to change it.
    pub fn supervisor(mut self) -> Self {
        self.child_type = ChildType::Supervisor;
        self.shutdown = Shutdown::Infinity;
        self
    }

    /// Marks the child as significant (default `false`): its exit can shut the
    /// supervisor down, by the supervisor's [`AutoShutdown`](crate::AutoShutdown) (OTP:
    /// `significant`). A significant child must be transient or temporary, and its
    /// supervisor must have an automatic shutdown; otherwise the supervisor refuses the
    /// spec with [`SupervisorError::InvalidChildSpec`](crate::SupervisorError::InvalidChildSpec).
    pub fn significant(mut self, significant: bool) -> Self {
        self.significant = significant;
        self
    }

    /// Whether the child is significant.
    pub fn is_significant(&self) -> bool {
        self.significant
    }

    /// The child's id, unique among its supervisor's children.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// When the child is restarted.
    pub fn restart_type(&self) -> Restart {
        self.restart
    }

    /// How the child is stopped.
    pub fn shutdown_type(&self) -> Shutdown {
        self.shutdown
    }

    /// Whether the child is a worker or a supervisor.
    pub fn child_type(&self) -> ChildType {
        self.child_type
    }

    /// Runs the start function. A panic in it, or in the future it returns, is a failed
    /// start, as OTP catches an exception raised by a child's start function: it must not
    /// take the supervisor down.
    pub(crate) fn start(&self) -> StartFuture {
        let start = self.start.clone();
        Box::pin(async move {
            match crate::panic::catch_panic(async move { start().await }).await {
                Ok(started) => started,
                Err(message) => {
                    Err(ChildStartError::failed(format!("the start function panicked: {message}")))
                }
            }
        })
    }
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("child_type", &self.child_type)
            .field("significant", &self.significant)
            .finish_non_exhaustive()
    }
}
