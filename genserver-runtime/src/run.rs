//! Starting a server and the task that runs it, from `init` to exit.
//!
//! A server is one tokio task running [`run`]: `init`, then the loop (a continuation
//! first if one is pending, otherwise the next mailbox entry or, after a timeout return,
//! the idle timeout), then `terminate`. Every handler runs under `catch_unwind`, so a
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
use crate::process::{CURRENT, Current, Shared};
use crate::registry::{self, Taken};
use crate::returns::{Action, InitAction};
use crate::{Context, ExitReason, Flow, GenServer, InitOutcome, Mailbox, ServerId, ServerRef, StartError};

/// Publishes a server's exit exactly once, even when its task is dropped mid-await.
struct ExitGuard<S: GenServer> {
    shared: Arc<Shared<S>>,
    mailbox: Receiver<S>,
    finished: bool,
}

impl<S: GenServer> ExitGuard<S> {
    fn finish(&mut self, reason: ExitReason) {
        self.finished = true;
        self.shared.process.finish(reason);
        self.mailbox.close_and_drain();
    }
}

impl<S: GenServer> Drop for ExitGuard<S> {
    fn drop(&mut self) {
        if !self.finished {
            let reason = self.shared.process.take_kill_reason();
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
        self.spawn(args).await.map(|(handle, _)| handle)
    }

    /// Starts the server; returns its handle and its shared part.
    async fn spawn(self, args: S::Args) -> Result<(S::Ref, Arc<Shared<S>>), StartError<S>> {
        let Builder { name, init_timeout, mailbox, via, .. } = self;
        let id = ServerId::next();
        let shared = Shared::new(id, name.clone(), Queue::new(mailbox));
        let rx = Receiver::new(shared.clone());
        let me = ServerRef { shared: shared.clone() };
        let handle = S::Ref::from(me.clone());
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
        let (ack, acked) = oneshot::channel();
        let control: std::sync::Weak<dyn crate::process::Control> = Arc::downgrade(&shared) as _;
        let server_task = CURRENT.scope(Current { id, control }, run::<S>(me, rx, args, ack));
        // Without a subscriber that wants the span, do not carry it in every task.
        let task = if span.is_disabled() {
            tokio::spawn(server_task)
        } else {
            tokio::spawn(server_task.instrument(span))
        };
        shared.process.set_task(task.abort_handle());
        let acked = match init_timeout {
            None => acked.await,
            Some(timeout) => match tokio::time::timeout(timeout, acked).await {
                Ok(acked) => acked,
                Err(_) => {
                    shared.process.kill();
                    let _ = task.await;
                    return Err(StartError::InitTimeout(timeout));
                }
            },
        };
        match acked {
            Ok(Ok(())) => Ok((handle, shared)),
            Ok(Err(InitFailure::Stopped(reason))) => Err(StartError::Stopped(reason)),
            Ok(Err(InitFailure::Ignored)) => Err(StartError::Ignored),
            Ok(Err(InitFailure::Panicked(message))) => Err(StartError::Panicked(message)),
            // The task was dropped during init: killed, or the runtime is shutting down.
            Err(_) => Err(StartError::Stopped(shared.process.exited().await)),
        }
    }

    /// Starts the server like [`start`](Self::start) and, when called from inside a
    /// server, links the new server with the caller once `init` has succeeded (OTP:
    /// `GenServer.start_link/3`; see [`Context::link`]). From a plain task there is no
    /// process to link to, and this is `start`.
    pub async fn start_link(self, args: S::Args) -> Result<S::Ref, StartError<S>> {
        let (handle, shared) = self.spawn(args).await?;
        if let Some(caller) = crate::process::current_process() {
            crate::link::link(caller.process(), &shared.process);
        }
        Ok(handle)
    }
}

/// The server task.
async fn run<S: GenServer>(
    me: ServerRef<S>,
    mailbox: Receiver<S>,
    args: S::Args,
    ack: oneshot::Sender<Result<(), InitFailure>>,
) {
    let mut guard = ExitGuard { shared: me.shared.clone(), mailbox, finished: false };
    let mut cx = Context::new(me);
    let failure = match catch_panic(async { S::init(args, &mut cx).await }).await {
        Ok(InitOutcome(InitAction::Ready(state, action))) => Ok((state, action)),
        Ok(InitOutcome(InitAction::Stop(reason))) => Err(InitFailure::Stopped(reason)),
        Ok(InitOutcome(InitAction::Ignore)) => Err(InitFailure::Ignored),
        Err(message) => Err(InitFailure::Panicked(message)),
    };
    let (mut state, action) = match failure {
        Ok(ready) => ready,
        Err(failure) => {
            // The start returns only once the server is gone (OTP 26+); no terminate.
            let reason = failure.exit_reason();
            if reason.is_abnormal() {
                crash_report(&reason, "init");
            }
            guard.finish(reason);
            let _ = ack.send(Err(failure));
            return;
        }
    };
    let _ = ack.send(Ok(()));

    let mut last_message = "init";
    let first = Flow { action, after_terminate: None };
    // One catch around the whole loop rather than one per handler: a panic ends the loop
    // wherever it happens, and costs nothing while no handler panics.
    let served = catch_panic(serve(&mut state, &mut cx, &mut guard.mailbox, first, &mut last_message)).await;
    let (reason, after_terminate) = served.unwrap_or_else(|message| (ExitReason::Panic(message), None));
    let reason = match catch_panic(async { state.terminate(&reason, &mut cx).await }).await {
        Ok(()) => reason,
        Err(message) => ExitReason::Panic(message),
    };
    if let Some(send_reply) = after_terminate {
        send_reply();
    }
    if reason.is_abnormal() {
        crash_report(&reason, last_message);
    }
    // Resources the state holds are released before anyone can observe the exit.
    drop(state);
    guard.finish(reason);
}

/// The loop: handles messages until a handler stops the server or a stop request
/// arrives. Returns the exit reason and the deferred reply of a `Reply::stop`.
async fn serve<S: GenServer>(
    state: &mut S,
    cx: &mut Context<S>,
    mailbox: &mut Receiver<S>,
    mut flow: Flow<S>,
    last_message: &mut &'static str,
) -> (ExitReason, Option<Box<dyn FnOnce() + Send>>) {
    loop {
        // The idle timeout being waited for, to wait again after a stale DOWN.
        let mut idle_timeout = None;
        let next = match flow.action {
            Action::Stop(reason) => return (reason, flow.after_terminate),
            Action::Continue(value) => {
                *last_message = "continue";
                flow = state.handle_continue(value, cx).await;
                continue;
            }
            // A batch already taken is handed out by the first poll, without locking.
            Action::Proceed | Action::Hibernate => mailbox.recv().await,
            Action::Timeout(after) => {
                idle_timeout = Some(after);
                let deadline = crate::timer::deadline_after(Instant::now(), after);
                // Boxed: a timer is large and most waits have none, so it stays out of
                // the task's own size. A message already queued wins over the timeout.
                let mut idle = Box::pin(tokio::time::sleep_until(deadline));
                let next = std::future::poll_fn(|cx| match mailbox.poll_recv(cx) {
                    Poll::Ready(next) => Poll::Ready(Some(next)),
                    Poll::Pending => idle.as_mut().poll(cx).map(|()| None),
                })
                .await;
                match next {
                    Some(next) => next,
                    None => {
                        *last_message = "timeout";
                        flow = state.handle_timeout(cx).await;
                        continue;
                    }
                }
            }
        };
        flow = match next {
            Some(Envelope::Msg(msg)) => {
                *last_message = S::message_name(&msg);
                state.handle(msg, cx).await
            }
            Some(Envelope::Info(info)) => {
                *last_message = S::info_name(&info);
                state.handle_info(info, cx).await
            }
            Some(Envelope::Down(monitor, info)) => {
                if cx.process().take_watching(monitor) {
                    *last_message = S::info_name(&info);
                    state.handle_info(info, cx).await
                } else {
                    // Demonitored after the DOWN was queued: as if it never came (the idle
                    // timeout, if any, starts over).
                    let action = idle_timeout.map_or(Action::Proceed, Action::Timeout);
                    Flow { action, after_terminate: None }
                }
            }
            Some(Envelope::Stop(reason)) => return (reason, None),
            // The mailbox is closed only once the server has exited.
            None => return (ExitReason::Normal, None),
        };
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

fn panic_message(payload: &(dyn Any + Send)) -> Arc<str> {
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
