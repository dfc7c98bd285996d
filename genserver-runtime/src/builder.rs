//! Starting a server: [`Builder`], its options (a name, a Registry key, an init timeout,
//! the mailbox kind and its overflow policy), and `start` / `start_link`.
//!
//! A start makes the server's shared allocation, registers its name and Registry key
//! (before `init` runs, so a start under a taken name runs no `init`), and spawns the
//! task that runs it ([`server_loop`](crate::server_loop)). A synchronous `init` (see
//! [`GenServer::INIT_IS_READY`]) runs in the starting task instead, as the new server,
//! and only the loop is spawned; otherwise the start waits for the task's
//! acknowledgement that `init` finished, within the init timeout if one is set.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tracing::Instrument;

use crate::mailbox::Queue;
use crate::names;
use crate::process::{Shared, as_server};
use crate::server_loop::{ExitGuard, Running, init_server, run, serve_phase};
use crate::type_name::short_type_name;
use crate::{ExitReason, GenServer, Mailbox, Overflow, ServerId, ServerRef, StartError};

/// Options for starting a server: a name, an init timeout, the mailbox kind.
///
/// `#[genserver]` gives every server a `builder()`; `start` and `start_link` are
/// shorthands for a builder with no options.
///
/// ```
/// use genserver_runtime::prelude::*;
///
/// pub struct Greeter {
///     greeting: String,
/// }
///
/// #[genserver]
/// impl Greeter {
///     #[call]
///     fn greet(&self, name: String) -> String {
///         format!("{}, {name}!", self.greeting)
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let greeter = Greeter::builder()
///     .name("greeter")
///     .init_timeout(Duration::from_secs(1))
///     .mailbox(Mailbox::Bounded(64))
///     .start(Greeter { greeting: "Hello".into() })
///     .await?;
/// let found = Greeter::whereis("greeter").expect("registered");
/// assert_eq!(found.greet("Ada".into()).await?, "Hello, Ada!");
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until `start` is awaited"]
pub struct Builder<S: GenServer> {
    name: Option<Arc<str>>,
    init_timeout: Option<Duration>,
    mailbox: Mailbox,
    overflow: Overflow,
    /// Registers the server in a [`Registry`](crate::Registry) before `init` runs.
    via: Option<Via<S>>,
    _server: PhantomData<fn() -> S>,
}

type Via<S> = Box<dyn FnOnce(&ServerRef<S>) -> Result<(), crate::RegisterError> + Send>;

impl<S: GenServer> Default for Builder<S> {
    fn default() -> Self {
        Builder {
            name: None,
            init_timeout: None,
            mailbox: Mailbox::default(),
            overflow: Overflow::default(),
            via: None,
            _server: PhantomData,
        }
    }
}

impl<S: GenServer> std::fmt::Debug for Builder<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("server", &short_type_name::<S>())
            .field("name", &self.name)
            .field("init_timeout", &self.init_timeout)
            .field("mailbox", &self.mailbox)
            .field("overflow", &self.overflow)
            .field("via", &self.via.is_some())
            .finish()
    }
}

impl<S: GenServer> Builder<S> {
    /// A builder with no name, no init timeout and an unbounded mailbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the server under `name`; see [`whereis`](crate::whereis).
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Gives `init` at most this long; past it the server is killed and the start returns
    /// [`StartError::InitTimeout`]. By default `init` may take as long as it needs.
    pub fn init_timeout(mut self, timeout: Duration) -> Self {
        self.init_timeout = Some(timeout);
        self
    }

    /// Registers the server under `key` with `value` in `registry` before its `init` runs
    /// (Elixir: `name: {:via, Registry, {registry, key, value}}`); the entry goes when it
    /// exits. If a unique key is held, `init` does not run and the start returns
    /// [`StartError::AlreadyStarted`] with the holder's handle, as for a name
    /// ([`StartError::TakenByOtherType`] if the holder is of another type). Call the server by key with
    /// [`Registry::whereis`](crate::Registry::whereis).
    pub fn via<K, V>(mut self, registry: &crate::Registry<K, V>, key: K, value: V) -> Self
    where
        K: Eq + std::hash::Hash + Clone + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        let registry = registry.clone();
        self.via = Some(Box::new(move |server| registry.register(key, server, value)));
        self
    }

    /// Chooses the mailbox kind (unbounded by default).
    pub fn mailbox(mut self, mailbox: Mailbox) -> Self {
        self.mailbox = mailbox;
        self
    }

    /// Chooses what a full bounded mailbox does with a fire-and-forget cast (by default
    /// [`Overflow::DropNewest`]); see [`Overflow`]. An unbounded mailbox is never full.
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.overflow = overflow;
        self
    }

    /// Starts the server and returns its handle once `init` has finished (OTP:
    /// `GenServer.start/3`). If `init` continues, the continuation runs after this returns.
    pub async fn start(self, args: S::Args) -> Result<S::Ref, StartError<S>> {
        self.spawn(args).await.map(S::Ref::from)
    }

    /// Starts the server; returns its handle.
    async fn spawn(self, args: S::Args) -> Result<ServerRef<S>, StartError<S>> {
        let Builder { name, init_timeout, mailbox, overflow, via, .. } = self;
        let id = ServerId::next();
        let parent = crate::process::current_server();
        let me =
            ServerRef::from_shared(Shared::new(id, name.clone(), parent, Queue::new(mailbox, overflow, id)));
        let handle = me.clone();
        if let Some(name) = &name {
            names::register::<S>(name, &me).map_err(StartError::already_started)?;
        }
        if let Some(via) = via {
            if let Err(error) = via(&me) {
                if let Some(name) = &name {
                    names::unregister(name, id);
                }
                return Err(match error {
                    crate::RegisterError::AlreadyRegistered(holder) => StartError::already_started(holder),
                    // Not before the task runs; said as the registry would.
                    crate::RegisterError::NoServer => StartError::Stopped(ExitReason::NoProc),
                });
            }
        }
        crate::process_list::enter(id, Arc::downgrade(me.shared()) as _);
        // Field values are computed only if a subscriber wants the span.
        let span = tracing::error_span!("genserver", server = %short_type_name::<S>(), id = %id, name = name.as_deref());
        let control: std::sync::Weak<dyn crate::process::Control> = Arc::downgrade(me.shared()) as _;
        let mut guard = ExitGuard::new(me);
        if S::INIT_IS_READY && init_timeout.is_none() {
            // `init` does its work when called: run it here, as the server (its identity
            // and its span), and spawn only the loop. The start saves a round trip
            // to the new task; no init timeout can pass while it runs without awaiting.
            let init = as_server(control.clone(), init_server(&mut guard, args));
            let initialized =
                if span.is_disabled() { init.await } else { init.instrument(span.clone()).await };
            return match initialized {
                Ok((state, action)) => {
                    let running = Running::after_init(state, guard, action);
                    let task = spawn_server(as_server(control, serve_phase(running)), span);
                    handle.set_task(task.abort_handle());
                    // This start did not wait for anything: count it against the task's
                    // cooperative budget, so that a loop of starts still yields now and
                    // then, to the servers it started and to other tasks.
                    tokio::task::consume_budget().await;
                    Ok(handle)
                }
                Err(failure) => Err(failure.into_start_error()),
            };
        }
        let (ack, acked) = oneshot::channel();
        let task = spawn_server(as_server(control, run::<S>(guard, args, ack)), span);
        handle.set_task(task.abort_handle());
        let acked = match init_timeout {
            None => acked.await,
            Some(timeout) => match tokio::time::timeout(timeout, acked).await {
                Ok(acked) => acked,
                Err(_) => {
                    handle.kill();
                    let _ = task.await;
                    return Err(StartError::InitTimeout(timeout));
                }
            },
        };
        match acked {
            Ok(Ok(())) => Ok(handle),
            Ok(Err(failure)) => Err(failure.into_start_error()),
            // The task was dropped during init: killed, or the runtime is shutting down.
            Err(_) => Err(StartError::Stopped(handle.exited().await)),
        }
    }

    /// Starts the server like [`start`](Self::start) and, when called from inside a
    /// server, links the new server with the caller once `init` has succeeded (OTP:
    /// `GenServer.start_link/3`; see [`Context::link`](crate::Context::link)). From a plain task there is no
    /// process to link to, and this is `start`.
    pub async fn start_link(self, args: S::Args) -> Result<S::Ref, StartError<S>> {
        let handle = self.spawn(args).await?;
        if let Some(caller) = crate::process::current_process() {
            crate::process::link(caller.process(), &handle);
        }
        Ok(S::Ref::from(handle))
    }
}

/// Spawns a server's task, in its span only if a subscriber wants the span: otherwise
/// the task does not carry it.
fn spawn_server<F>(task: F, span: tracing::Span) -> tokio::task::JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    // The test kit counts the servers' polls, to tell a timer that fired from the clock
    // merely moving (see `testing::advance_to_next_timer`).
    #[cfg(feature = "test-kit")]
    let task = crate::testing::counting_polls(task);
    if span.is_disabled() { tokio::spawn(task) } else { tokio::spawn(task.instrument(span)) }
}
