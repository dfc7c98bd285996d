//! The task that runs a server, from `init` to exit.
//!
//! A server is one tokio task running [`run`]: `init`, then the loop (a continuation
//! first if one is pending, otherwise the next mailbox entry or, after a timeout return,
//! the idle timeout), then `terminate`. When `init` ran in the starting task (see
//! [`Builder`](crate::Builder)), the task runs only [`serve_phase`]. Every handler runs
//! under [`catch_panic`], so a panic stops only its server, with [`ExitReason::Panic`],
//! after `terminate` has run.
//!
//! The exit is published by [`Process::finish`](crate::Process), then the mailbox is
//! closed and drained: a caller whose request was still queued sees its reply channel
//! close, reads the reason, and returns [`CallError::Exited`](crate::CallError); a caller
//! that comes later finds the reason set and returns `NoServer` at once. A killed task is
//! dropped wherever it was waiting; an [`ExitGuard`] publishes its exit from `Drop`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::Instrument;

use crate::mailbox::{Envelope, Receiver};
use crate::panic::catch_panic;
use crate::process::Shared;
use crate::returns::{Action, InitAction, Stop};
use crate::sys::{System, Watch};
use crate::{Context, ExitReason, Flow, GenServer, InitOutcome, ServerRef, StartError};

/// The server's own handle and the receiving end of its mailbox; publishes the server's
/// exit exactly once, even when its task is dropped mid-await.
pub(crate) struct ExitGuard<S: GenServer> {
    cx: Context<S>,
    mailbox: Receiver<S>,
}

impl<S: GenServer> ExitGuard<S> {
    /// The guard of a server about to start: its context, and a mailbox not yet read.
    pub(crate) fn new(me: ServerRef<S>) -> Self {
        ExitGuard { cx: Context::new(me), mailbox: Receiver::new() }
    }

    fn shared(&self) -> &Shared<S> {
        self.cx.server_ref().shared()
    }

    /// The next mailbox entry; `None` once the mailbox is closed.
    fn poll_recv(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Option<Envelope<S>>> {
        self.mailbox.poll_recv(self.cx.server_ref().mailbox(), cx)
    }

    /// The next system request or stop, for a suspended server.
    fn poll_system(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Option<Envelope<S>>> {
        self.mailbox.poll_system(self.cx.server_ref().mailbox(), cx)
    }

    fn finish(&mut self, reason: ExitReason) {
        self.shared().process.finish(reason);
        crate::process_list::remove(self.shared().process.id());
        self.mailbox.close_and_drain(self.cx.server_ref().mailbox());
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
pub(crate) enum InitFailure {
    Stopped(ExitReason),
    Ignored,
    Panicked(Arc<str>),
}

impl InitFailure {
    /// What the start returns.
    pub(crate) fn into_start_error<S: GenServer>(self) -> StartError<S> {
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

/// The server task: `init`, then the loop and `terminate`.
///
/// Two phases rather than one `async fn`, so that the init phase's state (the arguments,
/// the acknowledgement, the init future) shares its bytes with the long-lived serving
/// phase instead of staying in the task for the server's whole life.
pub(crate) fn run<S: GenServer>(
    guard: ExitGuard<S>,
    args: S::Args,
    ack: oneshot::Sender<Result<(), InitFailure>>,
) -> impl Future<Output = ()> + Send {
    Phases::Init { init: init_phase(guard, args, ack), serve: serve_phase::<S> }
}

/// Runs `init`, as the server (the caller lends it its identity and span): the state
/// and first action of the running server, or why there is none. A failed `init` is
/// reported if abnormal, and the server has exited, without `terminate`, by the time
/// this returns, so that the start returns only once the server is gone (OTP 26+).
pub(crate) async fn init_server<S: GenServer>(
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
        crash_report(&reason, "init", None, None);
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
pub(crate) struct Running<S: GenServer> {
    state: S,
    guard: ExitGuard<S>,
    /// What to do next: set by `init` and then by each handler.
    action: Action<S::Continue>,
    /// The name of the message being handled, for the crash report.
    last_message: &'static str,
    /// What `sys` and tracing keep: `None` until one of them needs it.
    watch: Option<Box<Watch>>,
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
            Some(Running::after_init(state, guard, action))
        }
        Err(failure) => {
            let _ = ack.send(Err(failure));
            None
        }
    }
}

/// The loop, then `terminate` and the exit.
#[allow(clippy::manual_async_fn)] // see the comment inside
pub(crate) fn serve_phase<S: GenServer>(mut running: Running<S>) -> impl Future<Output = ()> + Send {
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
            let last_rendered = running.watch.as_mut().and_then(|watch| watch.last_message.take());
            crash_report(&reason, running.last_message, last_rendered, running.state.format_state());
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
    /// Not a handler: a `sys::suspend` was just handled, so the server now handles only
    /// system requests until a resume.
    Suspended,
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
                // A DOWN dropped by a demonitor, or a system request: as if it never came
                // (an idle timeout starts over).
                Ok(None) => continue,
                Err(stop) => return stop,
            };
            let flow = running.handle(handle).await;
            running.action = flow.action;
        }
    }
}

impl<S: GenServer> Running<S> {
    /// The server `init` made, about to take its first action.
    pub(crate) fn after_init(state: S, guard: ExitGuard<S>, action: Action<S::Continue>) -> Self {
        Running { state, guard, action, last_message: "init", watch: None }
    }

    fn is_suspended(&self) -> bool {
        self.watch.as_ref().is_some_and(|watch| watch.suspended)
    }

    /// Whether a message is handled through [`handle_observed`](Self::handle_observed):
    /// when `sys` watches the server, it renders its messages, or a subscriber may want
    /// the span of each message.
    fn is_observed(&self) -> bool {
        self.watch.is_some() | S::FORMATS_MESSAGES | tracing::level_enabled!(tracing::Level::DEBUG)
    }

    /// Handles only system requests and stops, until a `resume`; then the server goes on
    /// with the action it had (an idle timeout starts over), or stops.
    async fn while_suspended(&mut self) -> Flow<S> {
        while self.is_suspended() {
            let entry = std::future::poll_fn(|cx| self.guard.poll_system(cx)).await;
            // Only system requests and stops come: each is handled, or stops the server.
            if let Err(stop) = self.take(Received::Entry(entry)) {
                return Flow { action: Action::Stop(stop) };
            }
        }
        Flow { action: std::mem::replace(&mut self.action, Action::Proceed) }
    }

    /// Handles a system request in place; for a call that carries its caller's span, the
    /// call to handle.
    #[inline(never)]
    #[allow(clippy::boxed_local)] // taken as the mailbox holds it, unboxed only here
    fn system(&mut self, system: Box<System<S>>) -> Option<Handle<S>> {
        match *system {
            System::Traced { msg, caller } => {
                self.watch.get_or_insert_with(Box::default).caller = Some(caller);
                return Some(Handle::Msg(msg));
            }
            System::State(run) => run(&mut self.state),
            System::Op(op) => {
                crate::sys::handle_op(op, &self.state, self.guard.cx.server_ref(), &mut self.watch)
            }
        }
        self.is_suspended().then_some(Handle::Suspended)
    }

    /// [`handle`](Self::handle) in a span of its own, timed for the statistics, traced if
    /// `sys::trace` is on, with the message rendered first if the server shows its
    /// messages.
    #[allow(clippy::manual_async_fn)] // an `async fn` would keep `self` twice
    fn handle_observed(&mut self, handle: Handle<S>) -> impl Future<Output = Flow<S>> + Send + '_ {
        async move {
            let handler = handler_name::<S>(&handle);
            let rendered = match &handle {
                Handle::Msg(msg) if S::FORMATS_MESSAGES => S::format_message(msg),
                _ => None,
            };
            self.last_message = handler;
            let Running { state, guard, watch, .. } = self;
            let watch = watch.get_or_insert_with(Box::default);
            let caller = watch.caller.take();
            let me = guard.cx.server_ref();
            let span = crate::observe::message_span::<S>(me, handler, rendered.as_deref(), caller.as_ref());
            if S::FORMATS_MESSAGES {
                watch.last_message = rendered;
            }
            let timed = !span.is_disabled() || watch.trace || watch.statistics.is_some();
            let started = timed.then(Instant::now);
            let panic_outcome = crate::observe::OutcomeOnPanic::new(&span);
            let flow = dispatch(state, &mut guard.cx, handle).instrument(span.clone()).await;
            panic_outcome.disarm();
            let elapsed = started.map(|started| started.elapsed()).unwrap_or_default();
            let outcome = crate::observe::outcome_of(&flow.action);
            crate::observe::record_outcome(&span, outcome, elapsed);
            if let Some(watch) = &mut self.watch {
                if watch.trace {
                    crate::observe::trace_event(guard.cx.server_ref(), handler, outcome, elapsed);
                }
                if let Some(statistics) = &mut watch.statistics {
                    statistics.messages_in += 1;
                    statistics.handler_time += elapsed;
                }
            }
            flow
        }
    }

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
            Some(Envelope::Msg(msg) | Envelope::Cast(msg)) => Handle::Msg(msg),
            Some(Envelope::Info(info)) => Handle::Info(info),
            Some(Envelope::Down(monitor, info)) => {
                if !self.guard.cx.process().take_queued(monitor) {
                    // Demonitored, or the timer cancelled, after it was queued.
                    return Ok(None);
                }
                Handle::Info(info)
            }
            Some(Envelope::Stop(reason)) => return Err(Stop::new(reason)),
            Some(Envelope::System(system)) => match self.system(system) {
                Some(handle) => handle,
                None => return Ok(None),
            },
            // The mailbox is closed only once the server has exited.
            None => return Err(Stop::new(ExitReason::Normal)),
        };
        Ok(Some(handle))
    }

    /// Starts the handler for `handle`, noting its name for the crash report. A server
    /// that is observed (see [`is_observed`](Self::is_observed)) or suspended runs a
    /// boxed future instead, so that the server's task does not grow by its state.
    #[allow(clippy::type_complexity)] // the four handlers' futures, as the trait names them
    fn handle(
        &mut self,
        handle: Handle<S>,
    ) -> Handler<
        '_,
        impl Future<Output = Flow<S>> + Send + '_,
        impl Future<Output = Flow<S>> + Send + '_,
        impl Future<Output = Flow<S>> + Send + '_,
        impl Future<Output = Flow<S>> + Send + '_,
        Flow<S>,
    > {
        if let Handle::Suspended = handle {
            return Handler::Boxed { future: Box::pin(self.while_suspended()) };
        }
        if self.is_observed() {
            return Handler::Boxed { future: Box::pin(self.handle_observed(handle)) };
        }
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
            Handle::Suspended => unreachable!("a suspended server runs `while_suspended`"),
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of whichever handler runs: one await point in the loop for all four,
    /// and for the boxed paths of an observed or suspended server.
    #[project = HandlerProjection]
    enum Handler<'a, M, I, C, T, O> {
        Msg { #[pin] future: M },
        Info { #[pin] future: I },
        Continue { #[pin] future: C },
        Timeout { #[pin] future: T },
        Boxed { future: Pin<Box<dyn Future<Output = O> + Send + 'a>> },
    }
}

impl<M, I, C, T, O> Future for Handler<'_, M, I, C, T, O>
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
            HandlerProjection::Boxed { future } => future.as_mut().poll(cx),
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
                        let deadline = crate::wait::deadline_after(Instant::now(), *after);
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

/// Runs the handler for `handle`: the observed path's dispatch.
async fn dispatch<S: GenServer>(state: &mut S, cx: &mut Context<S>, handle: Handle<S>) -> Flow<S> {
    match handle {
        Handle::Msg(msg) => state.handle(msg, cx).await,
        Handle::Info(info) => state.handle_info(info, cx).await,
        Handle::Continue(value) => state.handle_continue(value, cx).await,
        Handle::Timeout => state.handle_timeout(cx).await,
        Handle::Suspended => unreachable!("a suspended server runs `while_suspended`"),
    }
}

/// The name of the handler that `handle` runs.
fn handler_name<S: GenServer>(handle: &Handle<S>) -> &'static str {
    match handle {
        Handle::Msg(msg) => S::message_name(msg),
        Handle::Info(info) => S::info_name(info),
        Handle::Continue(_) => "continue",
        Handle::Timeout => "timeout",
        Handle::Suspended => "suspended",
    }
}

/// OTP's crash report: one error event for an abnormal exit, with the last message and
/// the state when the server shows them (`#[genserver(debug_messages)]`,
/// `#[genserver(debug_state)]`).
fn crash_report(reason: &ExitReason, last_message: &str, rendered: Option<String>, state: Option<String>) {
    tracing::error!(
        reason = %reason,
        last_message,
        last_message_debug = rendered.as_deref(),
        state = state.as_deref(),
        "server terminated abnormally"
    );
}
