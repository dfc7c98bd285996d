//! Typed child specs: a [`ChildSpec`] that knows its server's type, so that starting it
//! with `start_child` gives back the server's client handle rather than an untyped
//! [`ProcessRef`].
//!
//! [`IntoChildSpec`] is what `start_child` and [`SupervisorBuilder::child`] take: a plain
//! [`ChildSpec`] (the handle is a `ProcessRef`) or a [`TypedChildSpec`] (the handle is
//! the server's own, such as `CounterRef`).
//!
//! [`SupervisorBuilder::child`]: super::SupervisorBuilder::child

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

use super::{ChildSpec, ChildStartError, Restart, Shutdown};
use crate::{GenServer, Process, ProcessRef};

/// A [`ChildSpec`] whose child is a server of type `S`: `start_child` with it returns
/// `S`'s client handle. Every generated `S::child_spec(args)` is one.
///
/// It dereferences to its [`ChildSpec`] for the getters, has the same setters, and
/// converts into a plain `ChildSpec` (`.into()`) where specs of several types go
/// together.
///
/// ```
/// use genserver_runtime::prelude::*;
/// use genserver_runtime::{DynamicSupervisor, TypedChildSpec};
///
/// #[derive(Clone)]
/// pub struct Session {
///     user: String,
/// }
///
/// #[genserver]
/// impl Session {
///     #[call]
///     fn user(&self) -> String {
///         self.user.clone()
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let sessions = DynamicSupervisor::builder().start().await?;
/// let spec: TypedChildSpec<Session> = Session::child_spec(Session { user: "ada".into() });
/// // A `SessionRef`, ready to be called.
/// let session = sessions.start_child(spec).await?.expect("running");
/// assert_eq!(session.user().await?, "ada");
/// # Ok(())
/// # }
/// ```
pub struct TypedChildSpec<S: GenServer> {
    spec: ChildSpec,
    _server: PhantomData<fn() -> S>,
}

impl<S: GenServer> TypedChildSpec<S>
where
    S::Ref: Deref<Target = Process>,
{
    /// A permanent worker child named `id`, started (and restarted) by calling `start`,
    /// whose future gives the server's handle; see [`ChildSpec::new`].
    pub fn new<F, Fut, E>(id: impl Into<Arc<str>>, start: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<S::Ref, E>> + Send + 'static,
        E: Into<ChildStartError>,
    {
        let spec = ChildSpec::new(id, move || {
            let started = start();
            async move { checked::<S>(started.await.map_err(Into::into)?.to_ref()) }
        });
        TypedChildSpec { spec, _server: PhantomData }
    }
}

/// The child's process, if it is the `S` its spec promised. A handle that dereferences to
/// another server's process (possible only with a hand-written `GenServer::Ref`) is a
/// failed start, and that server is killed, so that no child runs untracked.
fn checked<S: GenServer>(process: ProcessRef) -> Result<ProcessRef, ChildStartError> {
    if process.downcast::<S>().is_some() {
        return Ok(process);
    }
    process.kill();
    Err(ChildStartError::failed(format!(
        "the start function of a child spec for {} returned the handle of another server type",
        crate::type_name::short_type_name::<S>()
    )))
}

impl<S: GenServer> TypedChildSpec<S> {
    /// Sets the child's id; see [`ChildSpec::with_id`].
    pub fn with_id(self, id: impl Into<Arc<str>>) -> Self {
        self.map(|spec| spec.with_id(id))
    }

    /// Sets when the child is restarted; see [`ChildSpec::restart`].
    pub fn restart(self, restart: Restart) -> Self {
        self.map(|spec| spec.restart(restart))
    }

    /// Sets how the child is stopped; see [`ChildSpec::shutdown`].
    pub fn shutdown(self, shutdown: Shutdown) -> Self {
        self.map(|spec| spec.shutdown(shutdown))
    }

    /// Marks the child as a supervisor; see [`ChildSpec::supervisor`].
    pub fn supervisor(self) -> Self {
        self.map(ChildSpec::supervisor)
    }

    /// Marks the child as significant; see [`ChildSpec::significant`].
    pub fn significant(self, significant: bool) -> Self {
        self.map(|spec| spec.significant(significant))
    }

    /// The spec without its server's type.
    pub fn into_untyped(self) -> ChildSpec {
        self.spec
    }

    fn map(self, change: impl FnOnce(ChildSpec) -> ChildSpec) -> Self {
        TypedChildSpec { spec: change(self.spec), _server: PhantomData }
    }
}

impl<S: GenServer> Deref for TypedChildSpec<S> {
    type Target = ChildSpec;

    fn deref(&self) -> &ChildSpec {
        &self.spec
    }
}

impl<S: GenServer> Clone for TypedChildSpec<S> {
    fn clone(&self) -> Self {
        TypedChildSpec { spec: self.spec.clone(), _server: PhantomData }
    }
}

impl<S: GenServer> fmt::Debug for TypedChildSpec<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TypedChildSpec").field(&self.spec).finish()
    }
}

impl<S: GenServer> From<TypedChildSpec<S>> for ChildSpec {
    fn from(spec: TypedChildSpec<S>) -> ChildSpec {
        spec.spec
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::ChildSpec {}
    impl<S: crate::GenServer> Sealed for super::TypedChildSpec<S> {}
}

/// A child spec that a supervisor can start, and the handle its child is returned as:
/// a [`ChildSpec`] gives a [`ProcessRef`], a [`TypedChildSpec<S>`] gives `S::Ref`.
/// Implemented by those two only.
pub trait IntoChildSpec: sealed::Sealed {
    /// The handle `start_child` returns for the started child.
    type Handle;

    /// The untyped spec the supervisor keeps.
    fn into_child_spec(self) -> ChildSpec;

    /// The handle of a child started from this spec.
    #[doc(hidden)]
    fn handle(process: ProcessRef) -> Self::Handle;
}

impl IntoChildSpec for ChildSpec {
    type Handle = ProcessRef;

    fn into_child_spec(self) -> ChildSpec {
        self
    }

    fn handle(process: ProcessRef) -> ProcessRef {
        process
    }
}

impl<S: GenServer> IntoChildSpec for TypedChildSpec<S> {
    type Handle = S::Ref;

    fn into_child_spec(self) -> ChildSpec {
        self.spec
    }

    fn handle(process: ProcessRef) -> S::Ref {
        // Every start of a typed spec went through `checked`, so its child is an `S`.
        process.downcast::<S>().expect("a typed child spec starts only servers of its type")
    }
}
