//! Dynamic supervisors: children added at run time (OTP: `DynamicSupervisor`).
//!
//! The same supervisor server in its dynamic mode: one-for-one only, no children at
//! start, children known by their [`ServerId`] rather than by the id of their spec, an
//! optional maximum of children, children forgotten once they exit for good, and every
//! child stopped in parallel when the supervisor stops.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::server::Request;
use super::{ChildCounts, ChildInfo, IntoChildSpec, Supervisor, SupervisorError, SupervisorRef};
use crate::{Process, ServerId};

/// A supervisor whose children are started at run time (OTP: `DynamicSupervisor`). Start
/// one with [`DynamicSupervisor::builder`].
///
/// ```
/// use genserver_runtime::prelude::*;
/// use genserver_runtime::{ChildSpec, DynamicSupervisor, SupervisorError};
///
/// pub struct Session;
///
/// #[genserver]
/// impl Session {}
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let sessions = DynamicSupervisor::builder().max_children(2).start().await?;
/// let spec = ChildSpec::new("session", || Session::start_link(Session));
/// let first = sessions.start_child(spec.clone()).await?.expect("running");
/// sessions.start_child(spec.clone()).await?;
/// assert_eq!(sessions.start_child(spec).await, Err(SupervisorError::MaxChildren));
/// sessions.terminate_child(first.id()).await?;
/// assert_eq!(sessions.count_children().await?.active, 1);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct DynamicSupervisor(());

/// Options for starting a dynamic supervisor: maximum of children, intensity, name.
#[must_use = "a builder does nothing until `start` is awaited"]
#[derive(Debug)]
pub struct DynamicSupervisorBuilder {
    inner: super::SupervisorBuilder,
    max_children: Option<usize>,
}

impl DynamicSupervisor {
    /// A builder with no maximum of children, Elixir's default intensity (3 restarts in
    /// 5 s) and no name.
    pub fn builder() -> DynamicSupervisorBuilder {
        DynamicSupervisorBuilder { inner: Supervisor::builder(), max_children: None }
    }
}

impl DynamicSupervisorBuilder {
    /// Allows at most `max` children at once (OTP: `max_children`); `start_child` beyond
    /// it returns [`SupervisorError::MaxChildren`].
    pub fn max_children(mut self, max: usize) -> Self {
        self.max_children = Some(max);
        self
    }

    /// Allows at most `max_restarts` restarts within `period`; see
    /// [`SupervisorBuilder::intensity`](super::SupervisorBuilder::intensity).
    pub fn intensity(mut self, max_restarts: u32, period: Duration) -> Self {
        self.inner = self.inner.intensity(max_restarts, period);
        self
    }

    /// Registers the supervisor under `name`; [`whereis`](crate::whereis) finds it as a
    /// [`Supervisor`], whose handle [`DynamicSupervisorRef::from`] turns back into this one.
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.inner = self.inner.name(name);
        self
    }

    /// Starts the supervisor, with no children (OTP: `DynamicSupervisor.start_link/1`).
    /// Called from inside a server, it links the two as
    /// [`SupervisorBuilder::start`](super::SupervisorBuilder::start) does.
    pub async fn start(self) -> Result<DynamicSupervisorRef, SupervisorError> {
        let mut inner = self.inner;
        inner.kind = super::Kind::Dynamic { max_children: self.max_children };
        inner.start().await.map(DynamicSupervisorRef)
    }
}

/// A handle to a running dynamic supervisor: its calls, and (by dereference) its
/// [`Process`].
#[derive(Clone, PartialEq, Eq)]
pub struct DynamicSupervisorRef(SupervisorRef);

impl From<SupervisorRef> for DynamicSupervisorRef {
    fn from(supervisor: SupervisorRef) -> Self {
        DynamicSupervisorRef(supervisor)
    }
}

impl std::ops::Deref for DynamicSupervisorRef {
    type Target = Process;

    fn deref(&self) -> &Process {
        &self.0
    }
}

impl fmt::Debug for DynamicSupervisorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl DynamicSupervisorRef {
    /// Starts a child (OTP: `DynamicSupervisor.start_child/2`). `Ok(None)` if it ignored
    /// its start; nothing is kept then. Several children may share a spec's id. The
    /// child comes back as a [`ProcessRef`](crate::ProcessRef) for a [`ChildSpec`](super::ChildSpec), and as
    /// its server's client handle for a [`TypedChildSpec`](super::TypedChildSpec) (every
    /// generated `S::child_spec(args)`), ready to be called.
    ///
    /// Errors: [`SupervisorError::MaxChildren`], [`SupervisorError::FailedToStartChild`].
    pub async fn start_child<C: IntoChildSpec>(&self, spec: C) -> Result<Option<C::Handle>, SupervisorError> {
        let spec = spec.into_child_spec();
        let started = self.0.request(|reply_to| Request::StartChild(spec, reply_to)).await??;
        Ok(started.map(C::handle))
    }

    /// Stops the child `server` by its shutdown spec and forgets it (OTP:
    /// `DynamicSupervisor.terminate_child/2`).
    ///
    /// Errors: [`SupervisorError::NoChild`].
    pub async fn terminate_child(&self, server: ServerId) -> Result<(), SupervisorError> {
        self.0.request(|reply_to| Request::TerminateProcess(server, reply_to)).await?
    }

    /// Every child, in start order (OTP: `which_children/1`).
    pub async fn which_children(&self) -> Result<Vec<ChildInfo>, SupervisorError> {
        self.0.which_children().await
    }

    /// How many children, and of which kind (OTP: `count_children/1`).
    pub async fn count_children(&self) -> Result<ChildCounts, SupervisorError> {
        self.0.count_children().await
    }
}
