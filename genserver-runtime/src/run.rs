//! Starting a server and the task that runs it, from `init` to exit.
//!
//! A server is one tokio task running [`run`]: `init`, then the loop (a continuation
//! first if one is pending, otherwise the next mailbox entry or, after a timeout return,
//! the idle timeout), then `terminate`. A synchronous `init` (see
//! [`GenServer::INIT_IS_READY`]) runs in the starting task instead, as the new server,
//! and the task runs only the loop. Every handler runs under `catch_unwind`, so a
//! panic stops only its server, with [`ExitReason::Panic`], after `terminate` has run.
//!
//! The exit is published by [`Process::finish`](crate::Process), then the mailbox is
//! closed and drained: a caller whose request was still queued sees its reply channel
//! close, reads the reason, and returns [`CallError::Exited`](crate::CallError); a caller
//! that comes later finds the reason set and returns `NoServer` at once. A killed task is
//! dropped wherever it was waiting; an [`ExitGuard`] publishes its exit from `Drop`.

use std::any::Any;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::Instrument;

use crate::mailbox::{Envelope, Queue, Receiver};
use crate::process::{Shared, as_server};
use crate::registry::{self, Taken};
use crate::returns::{Action, InitAction, Stop};
use crate::{Context, ExitReason, Flow, GenServer, InitOutcome, Mailbox, ServerId, ServerRef, StartError};

/// The server's own handle and the receiving end of its mailbox; publishes the server's
/// exit exactly once, even when its task is dropped mid-await.
struct ExitGuard<S: GenServer> {
    cx: Context<S>,
    mailbox: Receiver<S>,
}

impl<S: GenServer> ExitGuard<S> {
    fn shared(&self) -> &Shared<S> {
        &self.cx.me.shared
    }

    /// The next mailbox entry; `None` once the mailbox is closed.
    fn poll_recv(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Option<Envelope<S>>> {
        self.mailbox.poll_recv(&self.cx.me.shared.mailbox, cx)
    }

    fn finish(&mut self, reason: ExitReason) {
        self.shared().process.finish(reason);
        self.mailbox.close_and_drain(&self.cx.me.shared.mailbox);
    }
}

impl<S: GenServer> Drop for ExitGuard<S> {
    fn drop(&mut self) {
        // Only this guard publishes the exit, so a server still alive has not finished.
        if self.shared().process.is_alive() {
            let reason = self.shared().process.take_kill_reason();
            self.finish(reason.unwrap_or(ExitReason::Killed));
        }
    }
}

/// Why `init` did not produce a running server; becomes a [`StartError`].
enum InitFailure {
    Stopped(ExitReason),
    Ignored,
    Panicked(Arc<str>),
}

impl InitFailure {
    /// What the start returns.
    fn into_start_error<S: GenServer>(self) -> StartError<S> {
        match self {
            InitFailure::Stopped(reason) => StartError::Stopped(reason),
            InitFailure::Ignored => StartError::Ignored,
            InitFailure::Panicked(message) => StartError::Panicked(message),
        }
    }

    /// The server's exit reason: an ignore is a quiet normal exit.
    fn exit_reason(&self) -> ExitReason {
        match self {
            InitFailure::Stopped(reason) => reason.clone(),
            InitFailure::Ignored => ExitReason::Normal,
            InitFailure::Panicked(message) => ExitReason::Panic(message.clone()),
        }
    }
}

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
    /// [`StartError::KeyTaken`]. Call the server by key with
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

    /// Starts the server and returns its handle once `init` has finished (OTP:
    /// `GenServer.start/3`). If `init` continues, the continuation runs after this returns.
    pub async fn start(self, args: S::Args) -> Result<S::Ref, StartError<S>> {
        self.spawn(args).await.map(S::Ref::from)
    }

    /// Starts the server; returns its handle.
    async fn spawn(self, args: S::Args) -> Result<ServerRef<S>, StartError<S>> {
        let Builder { name, init_timeout, mailbox, via, .. } = self;
        let id = ServerId::next();
        let me = ServerRef { shared: Shared::new(id, name.clone(), Queue::new(mailbox)) };
        let handle = me.clone();
        if let Some(name) = &name {
            registry::register::<S>(name, &me).map_err(|taken| match taken {
                Taken::BySameType(holder) => StartError::AlreadyStarted(holder),
                Taken::ByOtherType(holder) => StartError::NameTaken { name: name.clone(), holder },
            })?;
        }
        if let Some(via) = via {
            if let Err(error) = via(&me) {
                if let Some(name) = &name {
                    registry::unregister(name, id);
                }
                return Err(match error {
                    crate::RegisterError::AlreadyRegistered(holder) => StartError::KeyTaken(holder),
                    // Not before the task runs; said as the registry would.
                    crate::RegisterError::NoServer => StartError::Stopped(ExitReason::NoProc),
                });
            }
        }
        // Field values are computed only if a subscriber wants the span.
        let span = tracing::error_span!("genserver", server = %short_type_name::<S>(), id = %id, name = name.as_deref());
        let control: std::sync::Weak<dyn crate::process::Control> = Arc::downgrade(&me.shared) as _;
        let mut guard = ExitGuard { cx: Context::new(me), mailbox: Receiver::new() };
        if S::INIT_IS_READY && init_timeout.is_none() {
            // `init` does its work when called: run it here, as the server (its identity
            // and its span), and spawn only the loop. The start saves a round trip
            // to the new task; no init timeout can pass while it runs without awaiting.
            let init = as_server(control.clone(), init_server(&mut guard, args));
            let initialized =
                if span.is_disabled() { init.await } else { init.instrument(span.clone()).await };
            return match initialized {
                Ok((state, action)) => {
                    let running = Running { state, guard, action, last_message: "init" };
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
    /// `GenServer.start_link/3`; see [`Context::link`]). From a plain task there is no
    /// process to link to, and this is `start`.
    pub async fn start_link(self, args: S::Args) -> Result<S::Ref, StartError<S>> {
        let handle = self.spawn(args).await?;
        if let Some(caller) = crate::process::current_process() {
            crate::link::link(caller.process(), &handle);
        }
        Ok(S::Ref::from(handle))
    }
}

/// The server task: `init`, then the loop and `terminate`.
///
/// Two phases rather than one `async fn`, so that the init phase's state (the arguments,
/// the acknowledgement, the init future) shares its bytes with the long-lived serving
/// phase instead of staying in the task for the server's whole life.
fn run<S: GenServer>(
    guard: ExitGuard<S>,
    args: S::Args,
    ack: oneshot::Sender<Result<(), InitFailure>>,
) -> impl Future<Output = ()> + Send {
    Phases::Init { init: init_phase(guard, args, ack), serve: serve_phase::<S> }
}

/// Spawns a server's task, in its span only if a subscriber wants the span: otherwise
/// the task does not carry it.
fn spawn_server<F>(task: F, span: tracing::Span) -> tokio::task::JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    if span.is_disabled() { tokio::spawn(task) } else { tokio::spawn(task.instrument(span)) }
}

/// Runs `init`, as the server (the caller lends it its identity and span): the state
/// and first action of the running server, or why there is none. A failed `init` is
/// reported if abnormal, and the server has exited, without `terminate`, by the time
/// this returns, so that the start returns only once the server is gone (OTP 26+).
async fn init_server<S: GenServer>(
    guard: &mut ExitGuard<S>,
    args: S::Args,
) -> Result<(S, Action<S::Continue>), InitFailure> {
    let failure = match catch_panic(async { S::init(args, &mut guard.cx).await }).await {
        Ok(InitOutcome(InitAction::Ready(state, action))) => return Ok((state, action)),
        Ok(InitOutcome(InitAction::Stop(reason))) => InitFailure::Stopped(reason),
        Ok(InitOutcome(InitAction::Ignore)) => InitFailure::Ignored,
        Err(message) => InitFailure::Panicked(message),
    };
    let reason = failure.exit_reason();
    if reason.is_abnormal() {
        crash_report(&reason, "init");
    }
    guard.finish(reason);
    Err(failure)
}

pin_project_lite::pin_project! {
    /// A first future whose output, if any, starts a second one.
    #[project = PhasesProjection]
    #[project_replace = PhasesReplaced]
    enum Phases<I, F, T> {
        Init { #[pin] init: I, serve: F },
        Serve { #[pin] serve: T },
        Done,
    }
}

impl<I, F, T, R> Future for Phases<I, F, T>
where
    I: Future<Output = Option<R>>,
    F: FnOnce(R) -> T,
    T: Future<Output = ()>,
{
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        loop {
            match self.as_mut().project() {
                PhasesProjection::Init { init, .. } => {
                    let ready = std::task::ready!(init.poll(cx));
                    let PhasesReplaced::Init { serve, .. } = self.as_mut().project_replace(Phases::Done)
                    else {
                        unreachable!("the init phase was running");
                    };
                    match ready {
                        Some(running) => self.set(Phases::Serve { serve: serve(running) }),
                        None => return Poll::Ready(()),
                    }
                }
                PhasesProjection::Serve { serve } => {
                    std::task::ready!(serve.poll(cx));
                    self.set(Phases::Done);
                    return Poll::Ready(());
                }
                PhasesProjection::Done => return Poll::Ready(()),
            }
        }
    }
}

/// What a server owns once `init` has succeeded.
struct Running<S: GenServer> {
    state: S,
    guard: ExitGuard<S>,
    /// What to do next: set by `init` and then by each handler.
    action: Action<S::Continue>,
    /// The name of the message being handled, for the crash report.
    last_message: &'static str,
}

/// Runs `init` and acknowledges the start; the server's state if it is to run.
async fn init_phase<S: GenServer>(
    mut guard: ExitGuard<S>,
    args: S::Args,
    ack: oneshot::Sender<Result<(), InitFailure>>,
) -> Option<Running<S>> {
    match init_server(&mut guard, args).await {
        Ok((state, action)) => {
            let _ = ack.send(Ok(()));
            Some(Running { state, guard, action, last_message: "init" })
        }
        Err(failure) => {
            let _ = ack.send(Err(failure));
            None
        }
    }
}

/// The loop, then `terminate` and the exit.
#[allow(clippy::manual_async_fn)] // see the comment inside
fn serve_phase<S: GenServer>(mut running: Running<S>) -> impl Future<Output = ()> + Send {
    // An `async` block rather than an `async fn`: an `async fn` would keep its argument
    // twice in the task, as the argument and as the moved-in local.
    async move {
        // One catch around the whole loop rather than one per handler: a panic ends the loop
        // wherever it happens, and costs nothing while no handler panics.
        // Handlers run their body when called (the macro returns a ready future), so the
        // call itself must happen inside the catch: hence the `async` blocks.
        let stop = catch_panic(serve(&mut running))
            .await
            .unwrap_or_else(|message| Stop::new(ExitReason::Panic(message)));
        let terminated = catch_panic(async {
            // The whole of `running` borrowed once rather than two of its fields.
            let running = &mut running;
            running.state.terminate(&stop.reason, &mut running.guard.cx).await
        })
        .await;
        let Stop { reason, after_terminate } = *stop;
        let reason = match terminated {
            Ok(()) => reason,
            Err(message) => ExitReason::Panic(message),
        };
        if let Some(send_reply) = after_terminate {
            send_reply();
        }
        if reason.is_abnormal() {
            crash_report(&reason, running.last_message);
        }
        let Running { state, mut guard, .. } = running;
        // Resources the state holds are released before anyone can observe the exit.
        drop(state);
        guard.finish(reason);
    }
}

/// A handler to run, with what it is given.
enum Handle<S: GenServer> {
    Msg(S::Msg),
    Info(S::Info),
    Continue(S::Continue),
    Timeout,
}

/// The loop: handles messages until a handler stops the server or a stop request
/// arrives. Returns the stop: its reason, and the deferred reply of a `Reply::stop`.
///
/// Everything it keeps between messages lives in `running`; across an await it holds
/// only the wait for the next entry or the handler being run, because each step is
/// decided by a plain function that takes its input whole. (A `match` that moved a
/// message out of a local would keep that local in the task for the server's life.)
#[allow(clippy::manual_async_fn)] // an `async fn` would keep `running` twice
fn serve<S: GenServer>(running: &mut Running<S>) -> impl Future<Output = Box<Stop>> + Send + '_ {
    async move {
        loop {
            let handle = match running.next().await {
                Ok(Some(handle)) => handle,
                // A DOWN dropped by a demonitor: as if it never came (an idle timeout
                // starts over).
                Ok(None) => continue,
                Err(stop) => return stop,
            };
            let flow = running.handle(handle).await;
            running.action = flow.action;
        }
    }
}

impl<S: GenServer> Running<S> {
    /// What to handle next, as the last action says: its continuation, or the next
    /// mailbox entry, or its idle timeout.
    fn next(&mut self) -> Next<'_, S> {
        Next { running: self, timer: None }
    }

    /// A continuation to run or a stop the last action asked for, taking it; `None` when
    /// the loop is to wait for the next entry.
    fn continue_or_stop(&mut self) -> Option<Result<Handle<S>, Box<Stop>>> {
        if let Action::Proceed | Action::Hibernate | Action::Timeout(_) = self.action {
            return None;
        }
        match std::mem::replace(&mut self.action, Action::Proceed) {
            Action::Continue(value) => Some(Ok(Handle::Continue(value))),
            Action::Stop(stop) => Some(Err(stop)),
            _ => unreachable!("waiting actions return above"),
        }
    }

    /// What a wait for the next entry brought: the handler to run, `Ok(None)` for an
    /// entry to skip, or the stop. The action is left as it is: the handler's return
    /// replaces it, and a skipped entry keeps it (an idle timeout starts over).
    fn take(&mut self, received: Received<S>) -> Result<Option<Handle<S>>, Box<Stop>> {
        let entry = match received {
            Received::Entry(entry) => entry,
            Received::IdleTimeout => return Ok(Some(Handle::Timeout)),
        };
        let handle = match entry {
            Some(Envelope::Msg(msg)) => Handle::Msg(msg),
            Some(Envelope::Info(info)) => Handle::Info(info),
            Some(Envelope::Down(monitor, info)) => {
                if !self.guard.cx.process().take_watching(monitor) {
                    // Demonitored after the DOWN was queued.
                    return Ok(None);
                }
                Handle::Info(info)
            }
            Some(Envelope::Stop(reason)) => return Err(Stop::new(reason)),
            // The mailbox is closed only once the server has exited.
            None => return Err(Stop::new(ExitReason::Normal)),
        };
        Ok(Some(handle))
    }

    /// Starts the handler for `handle`, noting its name for the crash report.
    fn handle(
        &mut self,
        handle: Handle<S>,
    ) -> Handler<
        impl Future<Output = Flow<S>> + Send + '_,
        impl Future<Output = Flow<S>> + Send + '_,
        impl Future<Output = Flow<S>> + Send + '_,
        impl Future<Output = Flow<S>> + Send + '_,
    > {
        let Running { state, guard, last_message, .. } = self;
        let cx = &mut guard.cx;
        match handle {
            Handle::Msg(msg) => {
                *last_message = S::message_name(&msg);
                Handler::Msg { future: state.handle(msg, cx) }
            }
            Handle::Info(info) => {
                *last_message = S::info_name(&info);
                Handler::Info { future: state.handle_info(info, cx) }
            }
            Handle::Continue(value) => {
                *last_message = "continue";
                Handler::Continue { future: state.handle_continue(value, cx) }
            }
            Handle::Timeout => {
                *last_message = "timeout";
                Handler::Timeout { future: state.handle_timeout(cx) }
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of whichever handler runs: one await point in the loop for all four.
    #[project = HandlerProjection]
    enum Handler<M, I, C, T> {
        Msg { #[pin] future: M },
        Info { #[pin] future: I },
        Continue { #[pin] future: C },
        Timeout { #[pin] future: T },
    }
}

impl<M, I, C, T, O> Future for Handler<M, I, C, T>
where
    M: Future<Output = O>,
    I: Future<Output = O>,
    C: Future<Output = O>,
    T: Future<Output = O>,
{
    type Output = O;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<O> {
        match self.project() {
            HandlerProjection::Msg { future } => future.poll(cx),
            HandlerProjection::Info { future } => future.poll(cx),
            HandlerProjection::Continue { future } => future.poll(cx),
            HandlerProjection::Timeout { future } => future.poll(cx),
        }
    }
}

/// What a wait for the next mailbox entry ends with.
enum Received<S: GenServer> {
    /// The next entry; `None` once the mailbox is closed.
    Entry(Option<Envelope<S>>),
    /// The idle timeout passed first.
    IdleTimeout,
}

/// The future of [`Running::next`]: the handler to run next, `Ok(None)` for an entry to
/// skip, or the stop. A mailbox entry already queued wins over the idle timeout.
///
/// Written out rather than `async`, so that the loop keeps only these few words while it
/// waits.
struct Next<'a, S: GenServer> {
    running: &'a mut Running<S>,
    /// The idle timeout's timer, if the last action set one: boxed, and made only when
    /// the first poll finds the mailbox empty (the wait starts then), because a timer is
    /// large and most waits have none.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S: GenServer> Future for Next<'_, S> {
    type Output = Result<Option<Handle<S>>, Box<Stop>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Some(next) = this.running.continue_or_stop() {
            return Poll::Ready(next.map(Some));
        }
        // A batch already taken is handed out without locking.
        let received = match this.running.guard.poll_recv(cx) {
            Poll::Ready(entry) => Received::Entry(entry),
            Poll::Pending => {
                let timer = match (&mut this.timer, &this.running.action) {
                    (Some(timer), _) => timer,
                    (timer, Action::Timeout(after)) => {
                        let deadline = crate::timer::deadline_after(Instant::now(), *after);
                        timer.insert(Box::pin(tokio::time::sleep_until(deadline)))
                    }
                    (None, _) => return Poll::Pending,
                };
                std::task::ready!(timer.as_mut().poll(cx));
                Received::IdleTimeout
            }
        };
        Poll::Ready(this.running.take(received))
    }
}

/// OTP's crash report: one error event for an abnormal exit.
fn crash_report(reason: &ExitReason, last_message: &str) {
    tracing::error!(reason = %reason, last_message, "server terminated abnormally");
}

pin_project_lite::pin_project! {
    /// Polls a future, turning a panic inside it into `Err(panic message)`.
    ///
    /// A combinator rather than an `async fn`: an `async fn` taking the future by value
    /// would hold it twice in the server task's state.
    pub(crate) struct CatchPanic<F> {
        #[pin]
        future: F,
    }
}

/// Wraps `future` so that a panic inside it becomes `Err(panic message)`.
pub(crate) fn catch_panic<F: Future>(future: F) -> CatchPanic<F> {
    CatchPanic { future }
}

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, Arc<str>>;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let future = self.project().future;
        match std::panic::catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(panic_message(payload.as_ref()))),
        }
    }
}

pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> Arc<str> {
    if let Some(message) = payload.downcast_ref::<&str>() {
        Arc::from(*message)
    } else if let Some(message) = payload.downcast_ref::<String>() {
        Arc::from(message.as_str())
    } else {
        Arc::from("a panic with a non-string payload")
    }
}

/// `my_crate::server::Cache<alloc::string::String>` → `Cache<String>`: every path in the
/// type name keeps only its last segment, the type parameters' paths included.
pub(crate) fn short_type_name<S>() -> String {
    let full = std::any::type_name::<S>();
    let mut short = String::with_capacity(full.len());
    let mut rest = full;
    while !rest.is_empty() {
        let path_end =
            rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(rest.len());
        let (path, after) = rest.split_at(path_end);
        short.push_str(path.rsplit("::").next().unwrap_or(path));
        // The delimiter after the path (`<`, `>`, `,`, a space, ...) is kept as it is.
        let mut after = after.chars();
        if let Some(delimiter) = after.next() {
            short.push(delimiter);
        }
        rest = after.as_str();
    }
    short
}

#[cfg(test)]
mod tests {
    use super::short_type_name;

    mod server {
        pub(super) struct Cache<K, V>(K, V);
    }

    #[test]
    fn short_type_names_drop_every_module_path() {
        assert_eq!(short_type_name::<u32>(), "u32");
        assert_eq!(
            short_type_name::<server::Cache<String, (u8, Vec<String>)>>(),
            "Cache<String, (u8, Vec<String>)>"
        );
        assert_eq!(short_type_name::<server::Cache<&'static str, [u8; 4]>>(), "Cache<&str, [u8; 4]>");
    }
}
